"""Helpers shared by tests (importable because pytest puts tests/ on the path)."""

import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from il6fit.data import read_table

SUBJECTS_HEADER = "USUBJID,STUDYID,SITEID,TRT01P,AGE,SEX,BMI"
MEASUREMENTS_HEADER = "USUBJID,PARAMCD,AVAL,AVALC,AVALU,AVISITN"


def read_pair(subjects: str, measurements: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a subjects and a measurements file."""
    return read_table(subjects), read_table(measurements)


ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


#: A family written in one module, registered with one line (helpers.workflow_copy).
TOY = ROOT / "tests/workflow/toy_crp.py"

#: The config of the tiny run the workflow tests share (tests/workflow/conftest.py: ``run``).
TINY = {
    "seed": 7,
    "title": "tiny run",
    "name": "tiny",
    # the smallest run that takes every rule of `make run` (import_tongji: its own test), each
    # model structure compiled once: il6_crp and treatment_response on the trial, a contributed
    # family on the controls with a variant compared with it by LOO. Every family's own fit on
    # a run of its own: tests/slow/test_workflow_models.py
    "datasets": {
        "trial": {
            "simulate": {"scenario": "ra_tcz_trial", "n_subjects": 60, "n_sites": 3},
            "models": ["il6_crp", "treatment_response"],
        },
        "controls": {
            "simulate": {"scenario": "healthy", "n_subjects": 40, "n_sites": 2},
            "models": ["toy_crp"],
        },
    },
    "models": ["il6_crp"],
    "sampler": {
        "chains": 2,
        "draws": 200,
        "tune": 200,
        "models": {
            "treatment_response": {"target_accept": 0.85},
            "toy_crp": {"target_accept": 0.9},
            "toy_flat": {"tune": 150},
        },
    },
    "diagnostics": {"thresholds": {"ess_bulk_min": 50, "ess_tail_min": 50}},
    "variants": {
        # the toy with its slope held near 0 by its prior: a null model to compare with
        "toy_flat": {
            "model": "toy_crp",
            "options": {"priors": {"b": {"dist": "Normal", "mu": 0.0, "sigma": 0.01}}},
        },
    },
    "comparisons": {"slope": {"dataset": "controls", "models": ["toy_crp", "toy_flat"]}},
}

#: The calibration section of the calibration run the calibration tests share
#: (tests/workflow/test_calibrate.py: ``calibrated``).
CALIBRATION = {
    "replicates": 4,
    "batch_size": 2,
    # the contributed toy family (one module, compiled in seconds): the rules, not a model, are
    # under test; `make calibrate` calibrates the shipped families
    "models": ["toy_crp"],
    "sampler": {"draws": 200, "tune": 200, "n_ranks": 19},
    "designs": {"toy_crp": {"scenario": "healthy", "n_subjects": 40}},
}
#: The config of that run (``snakemake calibrate``).
CALIBRATION_RUN = {
    "seed": 11,
    "datasets": {"trial": {"simulate": {"scenario": "ra_tcz_trial", "n_subjects": 30}}},
    "models": ["il6_crp"],
    "calibration": CALIBRATION,
}


def seed_catalogue(folder: Path) -> None:
    """Give a workflow copy the project's cached catalogue of the registry, if there is one.

    The cache (``.snakemake/il6fit``, :func:`il6fit.catalogue.cached`) is keyed by the package's
    source: a copy running the same package reads it instead of importing every family again
    (what ``make test``'s ``snakemake --lint`` left; a different package is described anew).
    """
    cache = ROOT / ".snakemake" / "il6fit"
    if cache.is_dir():
        shutil.copytree(cache, folder / ".snakemake" / "il6fit", dirs_exist_ok=True)


def workflow_copy(folder: Path, config: dict, *, families: tuple[Path, ...] = ()) -> Path:
    """Copy the workflow into ``folder`` with ``config`` as its config; return the folder.

    With ``families`` (model family modules), the package is copied too, to ``folder/site``,
    each module is put in its ``il6fit/models/`` and registered with one line in
    ``FAMILY_MODULES``; :func:`snakemake` then runs on that copy.
    """
    shutil.copy(ROOT / "Snakefile", folder)
    shutil.copytree(ROOT / "workflow", folder / "workflow")
    shutil.copytree(ROOT / "profiles" / "default", folder / "profiles" / "default")
    (folder / "config").mkdir()
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    if not families:
        seed_catalogue(folder)  # the same package: its registry is described already
    else:
        package = folder / "site" / "il6fit"
        shutil.copytree(ROOT / "il6fit", package, ignore=shutil.ignore_patterns("__pycache__"))
        registry = package / "models" / "__init__.py"
        text = registry.read_text()
        for module in families:
            shutil.copy(module, package / "models" / module.name)
            text = text.replace("\n)\n", f'\n    "{module.stem}",\n)\n', 1)
        registry.write_text(text)
    return folder


class SnakemakeRun:
    """Snakemake started in ``folder`` on two cores, in the background until :meth:`wait`.

    With ``niceness`` (``nice -n``), it and its jobs take only the CPU that nothing else wants.
    Its output goes to temporary files: a pipe nobody reads while it runs could fill up and
    stall it. It runs in a process group of its own, so :meth:`stop` ends its jobs with it; not
    in a session of its own, where Linux's autogroup scheduling would make its niceness moot.
    """

    def __init__(self, folder: Path, *args: str, niceness: int = 0):
        site = folder / "site"
        env = {**os.environ, "PYTHONPATH": str(site)} if site.exists() else None
        nice = ["nice", "-n", str(niceness)] if niceness else []
        self.output = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(
            [*nice, SNAKEMAKE, "--cores", "2", *args],
            cwd=folder,
            env=env,
            stdout=self.output[0],
            stderr=self.output[1],
            process_group=0,
        )

    def wait(self, *, check: bool = True) -> subprocess.CompletedProcess:
        """Wait for the run to end; fail the test with its output if it failed."""
        try:
            # the tiny run: about 2 min alone on 2 cores, more on a loaded machine
            code = self.process.wait(timeout=1800)
            for stream in self.output:
                stream.seek(0)
            stdout, stderr = (stream.read() for stream in self.output)
        finally:
            self.stop()
        if check and code != 0:
            raise AssertionError(f"snakemake failed:\n{stdout}\n{stderr}")
        return subprocess.CompletedProcess(self.process.args, code, stdout, stderr)

    def stop(self) -> None:
        """End the run and its jobs if it is still running (a timeout, a session cut short)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait()
        for stream in self.output:
            stream.close()


def snakemake(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run snakemake in ``folder`` on two cores; fail the test with its output if it fails.

    The workflow's default profile gives each fit one thread, so two fits compile at once.
    """
    return SnakemakeRun(folder, *args).wait(check=check)


def prior_posterior(model, settings, seed: int, **_):
    """A stand-in for :func:`il6fit.sampling.sample_posterior` that runs no MCMC.

    Draws from the model's prior (as :func:`pymc.testing.mock_sample` does), shaped as
    ``settings.chains`` chains of ``settings.draws`` draws, with the groups and attributes a
    NUTS fit has: ``posterior``, ``sample_stats`` (no divergence, no saturated tree, E-BFMI
    near 2; ``compile_time`` and ``sampling_time`` 0), ``observed_data`` and, when the model
    has data, ``constant_data``. Compiled with FAST_COMPILE (no numba); same seed, same draws.
    """
    import warnings

    import numpy as np
    import pymc as pm
    import pytensor
    import xarray as xr

    chains, draws = settings.chains, settings.draws
    names = [v.name for v in model.free_RVs + model.deterministics]
    with pytensor.config.change_flags(mode="FAST_COMPILE"), warnings.catch_warnings():
        # stand-in draws: that potentials are ignored does not matter
        warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
        prior = pm.sample_prior_predictive(
            draws=chains * draws, model=model, random_seed=seed, var_names=names
        )
    flat = prior["prior"].to_dataset().isel(chain=0, drop=True)
    posterior = xr.Dataset(
        {
            name: (("chain", "draw", *v.dims[1:]), v.values.reshape(chains, draws, *v.shape[1:]))
            for name, v in flat.data_vars.items()
        },
        coords={"chain": np.arange(chains), "draw": np.arange(draws)}
        | {k: c for k, c in flat.coords.items() if k != "draw"},
    )
    rng = np.random.default_rng(seed)
    shape = (chains, draws)
    stats = xr.Dataset(
        {
            "diverging": (("chain", "draw"), np.zeros(shape, dtype=bool)),
            "maxdepth_reached": (("chain", "draw"), np.zeros(shape, dtype=bool)),
            "energy": (("chain", "draw"), rng.normal(size=shape)),
            "step_size": (("chain", "draw"), np.full(shape, 0.5)),
            "depth": (("chain", "draw"), np.full(shape, 3)),
        },
        coords={"chain": np.arange(chains), "draw": np.arange(draws)},
        attrs={"compile_time": 0.0, "sampling_time": 0.0},
    )
    groups = {"posterior": posterior, "sample_stats": stats}
    for group in ("observed_data", "constant_data"):
        if group in prior.children:
            groups[group] = prior[group].to_dataset()
    return xr.DataTree.from_dict(groups)


def fast_fits(monkeypatch) -> None:
    """Fit without MCMC or numba: prior draws stand in for NUTS, PyTensor compiles FAST_COMPILE.

    What :func:`il6fit.sampling.sample` adds to the draws (log-likelihood, log-prior, predictive
    and prior draws) is computed for real, with functions compiled by PyTensor's Python linker;
    nothing is compiled with numba. Undone with ``monkeypatch``.
    """
    import pytensor

    import il6fit.sampling

    monkeypatch.setattr(il6fit.sampling, "sample_posterior", prior_posterior)
    monkeypatch.setattr(pytensor.config, "mode", "FAST_COMPILE")


#: Eight schools (Rubin 1981): effects and their standard errors.
SCHOOLS = pd.DataFrame(
    {
        "y": [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0],
        "se": [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0],
    }
)


def build_centred(table, priors, options):
    """Eight schools, centred: the funnel between tau and theta defeats NUTS."""
    import numpy as np
    import pymc as pm

    with pm.Model(coords={"school": np.arange(len(table)), "obs": np.arange(len(table))}) as m:
        mu = priors["mu"].create("mu")
        tau = priors["tau"].create("tau")
        theta = pm.Normal("theta", mu, tau, dims="school")
        pm.Normal("y", theta, table["se"].to_numpy(), observed=table["y"].to_numpy(), dims="obs")
    return m


def eight_schools(build=build_centred, priors=None):
    """The eight schools as a model family (centred unless ``build`` says otherwise)."""
    from il6fit.models import ModelFamily, ParameterInfo, Prior
    from il6fit.models.family import NoOptions

    return ModelFamily(
        name="eight_schools",
        title="eight schools",
        options=NoOptions,
        requires=lambda options: (),
        parameters={
            "mu": ParameterInfo("mean effect", "points"),
            "tau": ParameterInfo("between-school SD", "points"),
        },
        default_priors=priors
        or {
            "mu": Prior("Normal", {"mu": 0.0, "sigma": 5.0}),
            "tau": Prior("HalfNormal", {"sigma": 5.0}),
        },
        analysis_table=lambda subjects, measurements, options: SCHOOLS,
        builder=build,
        equations="y_j ~ N(theta_j, se_j); theta_j ~ N(mu, tau)",
    )


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_view(page: Path) -> dict:
    """Open a report in headless Chromium, every collapsible section opened, and report on it.

    Returns
    -------
    dict
        ``images`` (whether each image loaded), ``text`` (the page's visible text),
        ``first`` (the first section's id, heading and whether it holds a table), ``maths``
        (MathML elements) and ``unrendered_maths`` (those the browser laid out with no width).
    """
    probe = page.with_name("probe.html")
    script = (
        "<script>window.addEventListener('load', () => {"
        "document.querySelectorAll('details').forEach(d => { d.open = true; });"
        "const s = document.querySelector('section');"
        "const maths = Array.from(document.querySelectorAll('math'));"
        "const r = {images: Array.from(document.images).map(i => i.complete && i.naturalWidth > 0),"
        " text: document.body.innerText,"
        " first: {section: s.id, heading: s.querySelector('h2').innerText,"
        "         table: s.querySelector('table') !== null},"
        " maths: maths.length,"
        " unrendered_maths: maths.filter(m => m.getBoundingClientRect().width === 0).length};"
        "const p = document.createElement('pre'); p.id = 'probe';"
        "p.textContent = JSON.stringify(r); document.body.appendChild(p); });"
        "</script></body>"
    )
    probe.write_text(page.read_text().replace("</body>", script))
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000",
         "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    probe.unlink()
    return json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)[1]))

"""Sampling, seeds and saving: turn a built model into a reproducible posterior on disk."""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import nutpie
import pandas as pd
import pymc as pm
import pytensor
import xarray as xr
from pymc.backends.arviz import patch_nutpie_idata

from il6fit.errors import SpecError
from il6fit.models import ModelFamily, get_model, missing_parameters, resolve_priors
from il6fit.provenance import canonical_json, package_versions

log = logging.getLogger(__name__)

BACKENDS = ("nutpie", "pymc")


@dataclass(frozen=True)
class SamplerSettings:
    """How to run NUTS.

    Attributes
    ----------
    backend : {"nutpie", "pymc"}
        ``nutpie`` (compiled with numba; the default and fastest here) or PyMC's own sampler.
    chains, draws, tune : int
        Number of chains, kept draws per chain and tuning steps per chain.
    target_accept : float
        Target acceptance rate of the step-size adaptation.
    max_treedepth : int
        Maximum tree depth.
    prior_draws : int
        Draws from the prior and prior predictive distribution kept for the prior predictive
        check (0 for none).
    cores : int
        Chains sampled in parallel (set to the job's threads).
    """

    backend: str = "nutpie"
    chains: int = 2
    draws: int = 1000
    tune: int = 1000
    target_accept: float = 0.9
    max_treedepth: int = 10
    prior_draws: int = 500
    cores: int = 1

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise SpecError(
                f"unknown sampler backend '{self.backend}'; choose one of {', '.join(BACKENDS)}."
            )


@dataclass(frozen=True)
class StorePolicy:
    """Which groups a saved fit keeps (``prior`` covers the prior predictive too)."""

    log_likelihood: bool = True
    posterior_predictive: bool = True
    observed_data: bool = True
    prior: bool = True


def sample(model: pm.Model, settings: SamplerSettings, seed: int) -> xr.DataTree:
    """Sample a model's posterior with NUTS; add log-likelihood, prior and posterior predictive.

    Parameters
    ----------
    model : pymc.Model
        The model.
    settings : SamplerSettings
        Sampler options.
    seed : int
        Random seed; the same seed, data and versions give identical draws.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats``, ``log_likelihood``, ``posterior_predictive``,
        ``observed_data``, ``constant_data`` and, unless ``settings.prior_draws`` is 0,
        ``prior`` and ``prior_predictive``. Predictive draws of a censored variable are
        censored at the same limits as the data.
    """
    total = settings.chains * (settings.tune + settings.draws)
    log.info(
        "sampling with %s: %d chains x (%d tuning + %d draws) = %d iterations, %d in parallel",
        settings.backend,
        settings.chains,
        settings.tune,
        settings.draws,
        total,
        settings.cores,
    )
    with model:
        tree = sample_posterior(model, settings, seed)
        sampled = time.perf_counter()
        log.info(
            "compiled in %.1f s, sampled in %.1f s",
            tree["sample_stats"].attrs["compile_time"],
            tree["sample_stats"].attrs["sampling_time"],
        )
        pm.compute_log_likelihood(tree, model=model, progressbar=False)
        with warnings.catch_warnings():
            # Potentials only renormalise latent predictors; observed variables are drawn
            # given the posterior draws, which already reflect them.
            warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
            # numba has no truncated-normal sampler (latent censored predictors): object mode
            warnings.filterwarnings("ignore", "Numba will use object mode", UserWarning)
            pm.sample_posterior_predictive(
                tree,
                model=model,
                random_seed=seed + 1,
                extend_inferencedata=True,
                progressbar=False,
            )
            if settings.prior_draws:
                # the prior of a latent censored predictor is drawn without its potential:
                # truncated at the limit rather than renormalised, which a prior check tolerates
                prior = pm.sample_prior_predictive(draws=settings.prior_draws, random_seed=seed + 2)
                for group in ("prior", "prior_predictive"):
                    tree[group] = prior[group]
    log.info("log-likelihood and posterior predictive in %.1f s", time.perf_counter() - sampled)
    return tree


def sample_posterior(model: pm.Model, settings: SamplerSettings, seed: int) -> xr.DataTree:
    """Draw from a model's posterior with NUTS, timing compilation and sampling apart.

    Parameters
    ----------
    model : pymc.Model
        The model.
    settings : SamplerSettings
        Sampler options.
    seed : int
        Random seed.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats``, ``observed_data`` and ``constant_data``;
        ``sample_stats`` attributes ``compile_time`` and ``sampling_time`` (seconds, tuning
        included in sampling).
    """
    start = time.perf_counter()
    with model:
        if settings.backend == "nutpie":
            return _sample_nutpie(model, settings, seed)
        tree = pm.sample(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=settings.cores,
            random_seed=seed,
            nuts_sampler=settings.backend,
            nuts={
                "target_accept": settings.target_accept,
                "max_treedepth": settings.max_treedepth,
            },
            progressbar=False,
            compute_convergence_checks=False,
        )
        stats = tree["sample_stats"]
        stats.attrs["compile_time"] = time.perf_counter() - start - stats.attrs["sampling_time"]
    return tree


def _sample_nutpie(model: pm.Model, settings: SamplerSettings, seed: int) -> xr.DataTree:
    """Compile and sample with nutpie as ``pm.sample`` does, timing the two apart.

    The times go to the ``sample_stats`` attributes ``compile_time`` and ``sampling_time``
    (seconds; sampling includes tuning).
    """
    start = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model, backend="numba")
    compiled_at = time.perf_counter()
    tree = nutpie.sample(
        compiled,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=settings.cores,
        seed=seed,
        target_accept=settings.target_accept,
        maxdepth=settings.max_treedepth,
        progress_bar=False,
    )
    sampling_time = time.perf_counter() - compiled_at
    patch_nutpie_idata(tree, model, sampling_time=sampling_time)
    tree["sample_stats"].attrs["compile_time"] = compiled_at - start
    tree["sample_stats"].attrs["sampling_time"] = sampling_time
    return tree


def fit_model(
    family: ModelFamily,
    subjects: pd.DataFrame,
    measurements: pd.DataFrame,
    *,
    options: Mapping,
    settings: SamplerSettings,
    seed: int,
    warm_up: bool = True,
) -> tuple[xr.DataTree, pd.DataFrame]:
    """Fit a model family to a prepared dataset.

    Parameters
    ----------
    family : ModelFamily
        The model.
    subjects, measurements : pandas.DataFrame
        A prepared dataset.
    options : mapping
        The model's config options: ``priors`` (overrides) and the options of its
        ``analysis_table``.
    settings : SamplerSettings
        Sampler options.
    seed : int
        The job's seed.
    warm_up : bool
        Fill the compile cache in a separate process first (see :func:`warm_compile_cache`);
        needed for bit-identical reruns.

    Returns
    -------
    tree : xarray.DataTree
        The fit.
    table : pandas.DataFrame
        The analysis table the model was fitted to.

    Raises
    ------
    SpecError
        If the dataset lacks a parameter the model needs, or the options are invalid.
    """
    missing = missing_parameters(family, measurements)
    if missing:
        raise SpecError(
            f"model {family.name} needs {', '.join(family.requires)}; the dataset has no "
            f"{', '.join(missing)}. Remove the model from `models` or supply those results."
        )
    priors = resolve_priors(family.default_priors, options.get("priors"), family.name)
    table = family.table(subjects, measurements, options)
    log.info("%s: %d rows in the analysis table", family.name, len(table))
    build_kwargs = family.build_kwargs(options)
    if warm_up:
        warm_compile_cache(family, table, priors, settings, build_kwargs)
    return sample(family.build(table, priors, **build_kwargs), settings, seed), table


def warm_compile_cache(
    family: ModelFamily,
    table: pd.DataFrame,
    priors: Mapping,
    settings: SamplerSettings,
    build_kwargs: Mapping | None = None,
) -> None:
    """Compile every function a fit needs into the compile cache, in a fresh process.

    Numba code loaded from the cache can differ in the last bit of a log-density from the same
    code freshly compiled in the running process, and NUTS turns one bit into different draws.
    Filling the cache first, in another process, means every fit runs on cached code, so the
    same inputs and seed give the same posterior whether the cache was empty or not. A marker in
    the cache, keyed by model, data, priors, backend and package versions, skips the warm-up
    when it has already been done.

    Parameters
    ----------
    family : ModelFamily
        The model.
    table : pandas.DataFrame
        Its analysis table.
    priors : mapping
        Resolved priors.
    settings : SamplerSettings
        Sampler options (the backend matters; draw counts do not).
    build_kwargs : mapping, optional
        The model's build options.
    """
    payload = pickle.dumps(
        (family.name, table, dict(priors), dict(build_kwargs or {}), settings.backend)
    )
    versions = canonical_json(package_versions()).encode()
    marker = (
        Path(pytensor.config.base_compiledir)
        / "il6fit-warm"
        / hashlib.sha256(payload + versions).hexdigest()
    )
    if marker.exists():
        log.info("compile cache already warm for this model and data")
        return
    start = time.perf_counter()
    # a plain child interpreter: multiprocessing's spawn would re-run the caller's main script
    done = subprocess.run(
        [sys.executable, "-c", "from il6fit.inference import _warm; _warm()"],
        input=payload,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"compile warm-up of {family.name} failed:\n{done.stderr.decode(errors='replace')}"
        )
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    log.info("compile cache warm in %.1f s", time.perf_counter() - start)


def _warm() -> None:
    """Entry point of the warm-up process: what to build, pickled, on stdin."""
    model_name, table, priors, build_kwargs, backend = pickle.loads(sys.stdin.buffer.read())
    tiny = SamplerSettings(backend=backend, chains=1, draws=10, tune=10, cores=1)
    logging.getLogger(__name__).setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample(get_model(model_name).build(table, priors, **build_kwargs), tiny, seed=0)


def annotate(
    tree: xr.DataTree,
    *,
    model: str,
    dataset: str,
    seed: int,
    settings: SamplerSettings,
    config: Mapping,
    inputs: Mapping[str, str],
) -> xr.DataTree:
    """Record provenance in a fit's root attributes.

    Parameters
    ----------
    tree : xarray.DataTree
        The fit.
    model, dataset : str
        Names from the config.
    seed : int
        The job's seed.
    settings : SamplerSettings
        Sampler options used.
    config : mapping
        The whole run config.
    inputs : mapping of str to str
        Input file to SHA-256.

    Returns
    -------
    xarray.DataTree
        The same tree, with attributes ``il6fit_*`` set (structured values as JSON text).
    """
    tree.attrs.update(
        {
            "il6fit_model": model,
            "il6fit_dataset": dataset,
            "il6fit_seed": int(seed),
            "il6fit_sampler": canonical_json(asdict(settings)),
            "il6fit_config": canonical_json(dict(config)),
            "il6fit_versions": canonical_json(package_versions()),
            "il6fit_input_hashes": canonical_json(dict(inputs)),
        }
    )
    return tree


def save(tree: xr.DataTree, path: str | Path, policy: StorePolicy = StorePolicy()) -> None:
    """Write a fit to NetCDF, keeping the groups the policy asks for.

    Parameters
    ----------
    tree : xarray.DataTree
        The fit.
    path : str or Path
        Output ``.nc`` file.
    policy : StorePolicy
        Which optional groups to keep.
    """
    keep = {
        "log_likelihood": policy.log_likelihood,
        "posterior_predictive": policy.posterior_predictive,
        "observed_data": policy.observed_data,
        "prior": policy.prior,
        "prior_predictive": policy.prior,
    }
    children = {
        name: node.to_dataset() for name, node in tree.children.items() if keep.get(name, True)
    }
    out = xr.DataTree.from_dict({"/": tree.to_dataset(), **children})
    out.attrs = dict(tree.attrs)
    out.to_netcdf(path, engine="netcdf4")


def load(path: str | Path) -> xr.DataTree:
    """Read a fit written by :func:`save`, fully into memory.

    Parameters
    ----------
    path : str or Path
        The ``.nc`` file.

    Returns
    -------
    xarray.DataTree
    """
    with xr.open_datatree(path, engine="netcdf4") as tree:
        return tree.load()


def rows_used(tree: xr.DataTree, family: ModelFamily) -> int:
    """Count the analysis-table rows a fit used: the length of its outcome's first dimension.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit with ``observed_data``.
    family : ModelFamily
        Its model family.

    Returns
    -------
    int

    Raises
    ------
    SpecError
        If the fit holds none of the family's outcomes.
    """
    for name in family.observed:
        if name in tree["observed_data"].data_vars:
            return int(tree["observed_data"][name].shape[0])
    raise SpecError(f"the fit holds no outcome of {family.name} ({', '.join(family.observed)}).")


def fit_metadata(tree: xr.DataTree) -> dict:
    """Return a fit's provenance attributes with JSON values decoded.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit written by :func:`save`.

    Returns
    -------
    dict
        Attribute name (without the ``il6fit_`` prefix) to value.
    """
    out = {}
    for key, value in tree.attrs.items():
        if key.startswith("il6fit_"):
            name = key.removeprefix("il6fit_")
            out[name] = json.loads(value) if isinstance(value, str) and value[:1] in "{[" else value
    return out

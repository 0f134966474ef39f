"""Sampling, seeds and saving: turn a built model into a reproducible posterior on disk."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import pickle
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
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

#: Ways of fitting: ``nuts`` (the default; exact up to Monte Carlo error) or ``advi`` (PyMC's
#: mean-field ADVI, an approximate preview for large data; never passes the diagnostics gate).
METHODS = ("nuts", "advi")


@dataclass(frozen=True)
class SamplerSettings:
    """How to run NUTS (or the approximate preview).

    Attributes
    ----------
    method : {"nuts", "advi"}
        ``nuts``, or ``advi`` for a fast approximate preview: mean-field ADVI
        (``advi_iterations`` steps), then ``chains * draws`` draws from the approximation in
        one chain. A preview's means can be off by several posterior SDs
        (``benchmarks/RESULTS.md``); it is marked as such and never passes the diagnostics
        gate.
    advi_iterations : int
        Optimisation steps of the preview.
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

    method: str = "nuts"
    advi_iterations: int = 30000
    backend: str = "nutpie"
    chains: int = 2
    draws: int = 1000
    tune: int = 1000
    target_accept: float = 0.9
    max_treedepth: int = 10
    prior_draws: int = 500
    cores: int = 1

    def __post_init__(self):
        if self.method not in METHODS:
            raise SpecError(
                f"unknown sampler method '{self.method}'; choose one of {', '.join(METHODS)}."
            )
        if self.backend not in BACKENDS:
            raise SpecError(
                f"unknown sampler backend '{self.backend}'; choose one of {', '.join(BACKENDS)}."
            )


@dataclass(frozen=True)
class Escalation:
    """How a fit that fails the gate is refitted under the ``escalate`` policy.

    Each further attempt multiplies the tuning steps by ``tune_factor`` and halves the distance
    of the target acceptance rate to 1 (0.95, 0.975, 0.9875, ...), capped at
    ``target_accept_max``: smaller steps and longer adaptation are what a posterior with
    difficult geometry needs.

    Attributes
    ----------
    max_attempts : int
        Fits in all, the first included.
    tune_factor : float
        Factor on the tuning steps per attempt.
    target_accept_max : float
        Highest target acceptance rate used.
    """

    max_attempts: int = 3
    tune_factor: float = 2.0
    target_accept_max: float = 0.995

    def __post_init__(self):
        if self.max_attempts < 1 or self.tune_factor < 1 or not 0 < self.target_accept_max < 1:
            raise SpecError(
                "diagnostics.escalation needs max_attempts >= 1, tune_factor >= 1 and "
                f"0 < target_accept_max < 1; got {self}."
            )

    def next_settings(self, settings: SamplerSettings) -> SamplerSettings:
        """Return the settings of the attempt after one made with ``settings``.

        Parameters
        ----------
        settings : SamplerSettings
            The settings of the failed attempt.

        Returns
        -------
        SamplerSettings

        Examples
        --------
        >>> s = Escalation().next_settings(SamplerSettings(tune=1000, target_accept=0.95))
        >>> s.tune, s.target_accept
        (2000, 0.975)
        """
        accept = min(self.target_accept_max, 1 - (1 - settings.target_accept) / 2)
        return replace(
            settings,
            tune=math.ceil(settings.tune * self.tune_factor),
            target_accept=round(max(accept, settings.target_accept), 6),
        )


@dataclass(frozen=True)
class StorePolicy:
    """Which groups a saved fit keeps (``prior`` covers the prior predictive too)."""

    log_likelihood: bool = True
    log_prior: bool = True
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
        Groups ``posterior``, ``sample_stats``, ``log_likelihood``, ``log_prior``,
        ``posterior_predictive``, ``observed_data``, ``constant_data`` and, unless
        ``settings.prior_draws`` is 0, ``prior`` and ``prior_predictive``. Predictive draws of a
        censored variable are censored at the same limits as the data.
    """
    if settings.method == "advi":
        log.info(
            "APPROXIMATE PREVIEW: mean-field ADVI, %d steps, then %d draws; not for inference",
            settings.advi_iterations,
            settings.chains * settings.draws,
        )
    else:
        log.info(
            "sampling with %s: %d chains x (%d tuning + %d draws) = %d iterations, %d in parallel",
            settings.backend,
            settings.chains,
            settings.tune,
            settings.draws,
            settings.chains * (settings.tune + settings.draws),
            settings.cores,
        )
    with model:
        tree = sample_posterior(model, settings, seed)
        sampled = time.perf_counter()
        stats = tree["sample_stats"].attrs
        if is_preview(tree):
            log.info("preview compiled, optimised and drawn in %.1f s", stats["sampling_time"])
        else:
            log.info(
                "compiled in %.1f s, sampled in %.1f s",
                stats["compile_time"],
                stats["sampling_time"],
            )
        pm.compute_log_likelihood(tree, model=model, progressbar=False)
        pm.stats.compute_log_prior(tree, model=model, progressbar=False)
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
    log.info(
        "log-likelihood, log-prior, prior and posterior predictive in %.1f s",
        time.perf_counter() - sampled,
    )
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
        included in sampling). A preview (``settings.method == "advi"``) has the root
        attribute ``il6fit_method`` set to ``"advi"`` (see :func:`is_preview`) and
        ``sample_stats`` holding only the loss (negative ELBO) per optimisation step.
    """
    start = time.perf_counter()
    with model:
        if settings.method == "advi":
            return _fit_advi(model, settings, seed)
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


def is_preview(tree: xr.DataTree) -> bool:
    """Whether a fit is an approximate preview (ADVI) rather than NUTS draws."""
    return tree.attrs.get("il6fit_method", "nuts") != "nuts"


def _fit_advi(model: pm.Model, settings: SamplerSettings, seed: int) -> xr.DataTree:
    """Mean-field ADVI and draws from its approximation, logging progress every tenth."""
    every = max(settings.advi_iterations // 10, 1)

    def progress(_approx, losses, i):
        if i % every == 0:
            log.info("ADVI step %d of %d: loss %.1f", i, settings.advi_iterations, losses[-1])

    start = time.perf_counter()
    approx = pm.fit(
        n=settings.advi_iterations,
        method="advi",
        random_seed=seed,
        progressbar=False,
        callbacks=[progress],
    )
    fitted = time.perf_counter()
    tree = approx.sample(settings.chains * settings.draws, random_seed=seed + 3)
    tree["sample_stats"] = xr.DataTree(
        xr.Dataset({"loss": ("step", np.asarray(approx.hist, dtype=float))})
    )
    tree["sample_stats"].attrs["compile_time"] = 0.0  # not separable from the optimisation
    tree["sample_stats"].attrs["sampling_time"] = time.perf_counter() - start
    tree["sample_stats"].attrs["optimisation_time"] = fitted - start
    tree.attrs["il6fit_method"] = "advi"
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
    judge: Callable[[xr.DataTree], list[str]] | None = None,
    escalation: Escalation | None = None,
) -> tuple[xr.DataTree, pd.DataFrame]:
    """Fit a model family to a prepared dataset, refitting with more tuning if asked.

    With ``judge`` and ``escalation`` given, a fit the judge finds failing is refitted with the
    escalated settings (:meth:`Escalation.next_settings`) until it passes or
    ``escalation.max_attempts`` fits were made; the last fit is returned. Every attempt (its
    sampler settings, whether it passed and why not) is recorded in the root attribute
    ``il6fit_attempts`` (JSON text).

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
        needed for bit-identical reruns. NUTS only, like escalation: a preview
        (``settings.method == "advi"``) is fitted once.
    judge : callable, optional
        ``tree -> list of failed checks`` (empty when it passes), e.g.
        :func:`il6fit.diagnostics.sampler_failures` bound to a family and thresholds.
    escalation : Escalation, optional
        How to refit; without it (or without ``judge``) the model is fitted once.

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
    if warm_up and settings.method == "nuts":
        warm_compile_cache(family, table, priors, settings, build_kwargs)
    model = family.build(table, priors, **build_kwargs)
    if judge is None or escalation is None or settings.method != "nuts":
        return sample(model, settings, seed), table
    tree, attempts = sample_until_sound(model, settings, seed, judge=judge, escalation=escalation)
    tree.attrs["il6fit_attempts"] = canonical_json(attempts)
    return tree, table


def sample_until_sound(
    model: pm.Model,
    settings: SamplerSettings,
    seed: int,
    *,
    judge: Callable[[xr.DataTree], list[str]],
    escalation: Escalation,
) -> tuple[xr.DataTree, list[dict]]:
    """Sample, judge, and resample with escalated settings until the fit passes.

    Parameters
    ----------
    model : pymc.Model
        The model.
    settings : SamplerSettings
        Settings of the first attempt.
    seed : int
        Seed of every attempt (the settings differ, so the draws do too).
    judge : callable
        ``tree -> list of failed checks``.
    escalation : Escalation
        How settings change between attempts and how many attempts are made.

    Returns
    -------
    tree : xarray.DataTree
        The last attempt's fit: the first that passed, or the last allowed.
    attempts : list of dict
        Per attempt: ``attempt`` (from 1), ``tune``, ``draws``, ``target_accept``, ``passed``,
        ``failures`` (descriptions of the failed checks).
    """
    attempts = []
    for attempt in range(1, escalation.max_attempts + 1):
        tree = sample(model, settings, seed)
        failures = judge(tree)
        attempts.append(
            {
                "attempt": attempt,
                "tune": settings.tune,
                "draws": settings.draws,
                "target_accept": settings.target_accept,
                "passed": not failures,
                "failures": failures,
            }
        )
        if not failures:
            log.info("attempt %d passed every sampler check", attempt)
            break
        log.warning("attempt %d failed: %s", attempt, "; ".join(failures))
        if attempt < escalation.max_attempts:
            settings = escalation.next_settings(settings)
            log.warning(
                "refitting with %d tuning steps and target acceptance %.4g",
                settings.tune,
                settings.target_accept,
            )
    else:
        log.warning("still failing after %d attempts: marked as failed", escalation.max_attempts)
    return tree, attempts


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
        The same tree, with attributes ``il6fit_*`` set (structured values as JSON text);
        ``il6fit_sampler`` holds the settings of the last attempt when the fit was escalated.
    """
    attempts = json.loads(tree.attrs.get("il6fit_attempts", "[]"))
    if attempts:
        last = attempts[-1]
        settings = replace(settings, tune=last["tune"], target_accept=last["target_accept"])
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
        "log_prior": policy.log_prior,
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

"""Leave-one-patient-out: the log-likelihood per patient and PSIS-LOO on it.

A prediction for a new patient is what a clinical model is for, so the unit left out is the
patient: all of their visits and outcomes together. A fit stores its pointwise log-likelihood
once per patient (:func:`per_patient`, variable :data:`VARIABLE`, dim :data:`UNIT`): the
observation terms of each patient summed, or, for a family whose latent values are integrated
out (:class:`il6fit.models.family.Marginal`), the exact marginal term of the patient.
:func:`patient_loo` is PSIS-LOO on it, with its reliability judged by the Pareto k of each
patient (Vehtari et al. 2024: above ``min(1 - 1/log10(S), 0.7)`` the estimate is unreliable).
"""

from __future__ import annotations

import functools
import json
import logging
import warnings
from dataclasses import dataclass, replace

import arviz_stats as azs
import numpy as np
import pandas as pd
import xarray as xr

from il6fit.errors import SpecError

log = logging.getLogger(__name__)

#: The variable of a fit's ``log_likelihood`` group, and its dim (patient identifiers).
VARIABLE, UNIT = "per_patient", "patient"


def per_patient(log_likelihood: xr.Dataset, table: pd.DataFrame) -> xr.Dataset:
    """Sum a fit's pointwise log-likelihood over each patient's observations and outcomes.

    Parameters
    ----------
    log_likelihood : xarray.Dataset
        One variable per observed variable, dims (chain, draw, row dim, ...): the row dim's
        coordinate is either row positions in ``table`` (integers) or patient identifiers.
    table : pandas.DataFrame
        The analysis table: patients are its ``USUBJID`` (each row one unit without it).

    Returns
    -------
    xarray.Dataset
        Variable :data:`VARIABLE` with dims (chain, draw, :data:`UNIT`), patients sorted.
    """
    unit_of, patients = _units(table)
    total = None
    for values in log_likelihood.data_vars.values():
        row_dim, *inner = (d for d in values.dims if d not in ("chain", "draw"))
        values = values.sum(inner) if inner else values
        rows = values[row_dim].values
        ids = _patients_of(rows, unit_of)
        summed = (
            values.assign_coords({row_dim: ids})
            .groupby(row_dim)
            .sum()
            .rename({row_dim: UNIT})
            .reindex({UNIT: patients}, fill_value=0.0)
        )
        total = summed if total is None else total + summed
    return xr.Dataset({VARIABLE: total.transpose("chain", "draw", UNIT)})


def _units(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's patient and the patients, sorted (without ``USUBJID``, each row is one)."""
    unit_of = table["USUBJID"].to_numpy() if "USUBJID" in table else np.arange(len(table))
    return unit_of, np.unique(unit_of)


def _patients_of(rows: np.ndarray, unit_of: np.ndarray) -> np.ndarray:
    """Patients of a row dim's coordinate: row positions (integers) or patient identifiers."""
    return unit_of[rows.astype(int)] if rows.dtype.kind in "iu" else rows


def k_limit(n_draws: int) -> float:
    """Pareto k above which a PSIS estimate is unreliable for ``n_draws`` draws.

    Parameters
    ----------
    n_draws : int
        Posterior draws.

    Returns
    -------
    float
        ``min(1 - 1 / log10(n_draws), 0.7)``.
    """
    return float(min(1 - 1 / np.log10(n_draws), 0.7))


@dataclass(frozen=True)
class PatientLoo:
    """PSIS-LOO of a fit, one term per patient.

    Attributes
    ----------
    elpd : ELPDData
        From arviz-stats (pointwise).
    method : str
        How the estimate was made (``psis``).
    limit : float
        The Pareto k limit applied.
    """

    elpd: object
    method: str
    limit: float

    @property
    def pareto_k(self) -> np.ndarray:
        """Pareto k of each patient (0 where the estimate needed no importance sampling)."""
        if self.elpd.pareto_k is None:  # K-fold: every patient held out by a refit
            return np.zeros(self.elpd.elpd_i.size)
        return np.asarray(self.elpd.pareto_k).ravel()

    @property
    def unreliable(self) -> int:
        """Patients whose estimate is unreliable (k above the limit)."""
        return int((self.pareto_k > self.limit).sum())

    @property
    def unreliable_patients(self) -> list[str]:
        """Identifiers of the patients whose estimate is unreliable."""
        ids = self.elpd.elpd_i[UNIT].values
        return [str(i) for i in ids[self.pareto_k > self.limit]]

    @property
    def worst(self) -> str:
        """The patient with the largest k."""
        return str(self.elpd.elpd_i[UNIT].values[int(np.nanargmax(self.pareto_k))])


#: Fallbacks where PSIS is unreliable, in the order they may be configured.
FALLBACKS = ("moment_match", "refit", "kfold")


@dataclass(frozen=True)
class LooSettings:
    """What is done for patients whose PSIS estimate is unreliable (config ``diagnostics.loo``).

    Attributes
    ----------
    fallbacks : tuple of str
        Tried in this order while some patient's Pareto k stays above the limit:
        ``moment_match`` (``arviz_stats.loo_moment_match``, no refit) and ``refit`` (exact
        leave-one-patient-out refits of those patients, ``arviz_stats.reloo``) and ``kfold``
        (grouped K-fold cross-validation: ``folds`` refits, each without a fold of patients,
        ``arviz_stats.loo_kfold``; for every patient, when too many are unreliable to refit
        one at a time).
    max_refits : int
        Most patients refitted one at a time for one fit; with more unreliable than that, the
        refits are not made (each costs a fit).
    folds : int
        Folds of the K-fold fallback (patients in sorted order, dealt out in turn).
    """

    fallbacks: tuple[str, ...] = FALLBACKS
    max_refits: int = 10
    folds: int = 10

    def __post_init__(self):
        unknown = set(self.fallbacks) - set(FALLBACKS)
        if unknown or self.max_refits < 0 or self.folds < 2:
            raise SpecError(
                f"diagnostics.loo: fallbacks are chosen from {', '.join(FALLBACKS)}, "
                "max_refits is at least 0 and folds at least 2; got "
                f"{list(self.fallbacks)}, {self.max_refits}, {self.folds}."
            )
        object.__setattr__(self, "fallbacks", tuple(self.fallbacks))


#: Every fallback, at most 10 single refits, 10 folds: the config's defaults.
DEFAULT_LOO = LooSettings()


def patient_loo(
    tree: xr.DataTree, limit: float | None = None, settings: LooSettings = DEFAULT_LOO
) -> PatientLoo:
    """PSIS-LOO of a fit with one log-likelihood term per patient, with its fallbacks.

    Where some patient's Pareto k is above the limit and the fit says what made it (a fit
    written by :func:`il6fit.inference.fit_model`), the fallbacks of ``settings`` are tried in
    order on the patients still above it:

    - ``moment_match``: the posterior draws are moved by affine transformations towards the
      leave-one-patient-out posterior and reweighted (``arviz_stats.loo_moment_match``,
      Paananen et al. 2021), the model rebuilt from the fit to evaluate its densities;
    - ``refit``: the model is refitted without the patient, with the fit's sampler settings
      and seed, and the patient's log-likelihood averaged over the refit's draws
      (``arviz_stats.reloo``, exact), for at most ``settings.max_refits`` patients;
    - ``kfold``: grouped K-fold cross-validation, every patient's estimate from a refit
      without their fold (``arviz_stats.loo_kfold``, ``settings.folds`` refits).

    Refits need a patient's terms to depend only on parameters that a refit without them also
    has: a model without per-patient latent values (the marginal families); for others they
    are skipped, saying so.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit whose ``log_likelihood`` group holds :data:`VARIABLE`.
    limit : float, optional
        Pareto k limit; :func:`k_limit` of the fit's draws if not given (the smaller).
    settings : LooSettings
        The fallbacks.

    Returns
    -------
    PatientLoo
        ``method`` names what was done, e.g. ``psis + moment matching + 2 exact refits``, and
        a fallback that did not finish, in brackets.
    """
    post = tree["posterior"]
    default = k_limit(post.sizes["chain"] * post.sizes["draw"])
    limit = default if limit is None else min(limit, default)
    with warnings.catch_warnings():
        # high k is reported with the fit, not warned about
        warnings.simplefilter("ignore", UserWarning)
        elpd = azs.loo(tree, pointwise=True, var_name=VARIABLE)
    out = PatientLoo(elpd, "psis", limit)
    if not {"il6fit_family", "il6fit_options"} <= set(tree.attrs):
        return out
    # the model is rebuilt (and its functions compiled) once, for whichever fallbacks run
    rebuilt = functools.cache(lambda: _Rebuilt(tree))
    for fallback in settings.fallbacks:
        if not out.unreliable:
            break
        out = _STEPS[fallback](tree, out, settings, rebuilt)
    return out


def _moment_matched(tree, out: PatientLoo, settings: LooSettings, rebuilt) -> PatientLoo:
    log.info("PSIS-LOO unreliable for %d patients: moment matching", out.unreliable)
    try:
        rebuilt = rebuilt()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            matched = azs.loo_moment_match(
                tree, out.elpd, log_prob_upars_fn=rebuilt.log_prob,
                log_lik_i_upars_fn=rebuilt.log_lik_i, upars=rebuilt.upars(tree),
                var_name=VARIABLE, k_threshold=out.limit,
            )  # fmt: skip
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as error:
        log.warning("moment matching did not finish (%s): PSIS estimates kept", error)
        return replace(out, method=f"{out.method} (moment matching did not finish)")
    return replace(out, elpd=matched, method=f"{out.method} + moment matching")


def _refitted(tree, out: PatientLoo, settings: LooSettings, rebuilt) -> PatientLoo:
    if out.unreliable > settings.max_refits:
        log.warning(
            "%d patients would need exact refits, more than diagnostics.loo.max_refits (%d): "
            "not refitted", out.unreliable, settings.max_refits,
        )  # fmt: skip
        return replace(out, method=f"{out.method} ({out.unreliable} refits needed, not made)")
    log.info("PSIS-LOO unreliable for %d patients: exact refits", out.unreliable)
    try:
        wrapper = _PatientRefits(tree, rebuilt())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            refitted = azs.reloo(
                wrapper, out.elpd, var_name=VARIABLE, k_threshold=out.limit, pointwise=True
            )
    except _NotRefittable as reason:
        log.warning("exact refits not made: %s", reason)
        return replace(out, method=f"{out.method} (exact refits not possible: {reason})")
    return replace(out, elpd=refitted, method=f"{out.method} + {out.unreliable} exact refits")


def _kfolded(tree, out: PatientLoo, settings: LooSettings, rebuilt) -> PatientLoo:
    log.info(
        "PSIS-LOO unreliable for %d patients: %d-fold cross-validation by patient",
        out.unreliable, settings.folds,
    )  # fmt: skip
    try:
        wrapper = _PatientRefits(tree, rebuilt())
        n = wrapper.rebuilt.patients.size
        folds = min(settings.folds, n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            kfold = azs.loo_kfold(
                tree, wrapper, var_name=VARIABLE, folds=np.arange(n) % folds + 1, pointwise=True
            )
    except _NotRefittable as reason:
        log.warning("K-fold cross-validation not made: %s", reason)
        return replace(out, method=f"{out.method} (K-fold not possible: {reason})")
    return replace(out, elpd=kfold, method=f"{out.method} -> {folds}-fold by patient")


#: Each fallback: ``(tree, loo so far, settings, rebuilt model) -> loo``.
_STEPS = {"moment_match": _moment_matched, "refit": _refitted, "kfold": _kfolded}


class _NotRefittable(Exception):
    """A patient's log-likelihood cannot be evaluated at a refit's draws."""


class _Rebuilt:
    """A fit's model, rebuilt from the fit.

    Its log density and each patient's log-likelihood as functions of unconstrained draws.
    """

    def __init__(self, tree: xr.DataTree):
        # arviz-stats' own PyMC helpers (pinned version): one observed variable, no potentials;
        # a patient's terms span several variables and potentials, summed here
        import pytensor
        from arviz_stats.loo.pymc_helper import _get_batched_func

        from il6fit.sampling import POST_MODE
        from il6fit.storage import fitted_inputs

        family, options, table = fitted_inputs(tree)
        priors = family.priors(json.loads(tree.attrs["il6fit_options"])["priors"])
        self.family, self.options, self.priors, self.table = family, options, priors, table
        self.model = model = family.build(table, priors, options)
        self.start = dict(model.initial_point())
        self.value_vars = list(model.value_vars)
        self.n_params = sum(int(np.prod(v.shape)) for v in self.start.values())
        names = [rv.name for rv in model.observed_RVs]
        terms = [model.logp(vars=[rv], sum=False)[0] for rv in model.observed_RVs]
        if family.marginal is not None:
            kept = [n for n in family.marginal.potentials if n in model.named_vars]
            names += kept
            terms += model.replace_rvs_by_values([model[n] for n in kept])
        with pytensor.config.change_flags(mode=POST_MODE):
            self.likelihood = _get_batched_func(self.value_vars, terms, self.start)
        self.unit_of, self.patients = _units(table)
        self.owners = [
            np.searchsorted(
                self.patients,
                _patients_of(
                    np.asarray(model.coords[model.named_vars_to_dims[name][0]]), self.unit_of
                ),
            )
            for name in names
        ]

    @functools.cached_property
    def log_density(self):
        """The log density (Jacobian included), batched over unconstrained draws."""
        import pytensor
        from arviz_stats.loo.pymc_helper import _get_batched_func

        from il6fit.sampling import POST_MODE

        with pytensor.config.change_flags(mode=POST_MODE):
            return _get_batched_func(
                self.value_vars, [self.model.logp(jacobian=True, sum=True)], self.start
            )

    def upars(self, tree: xr.DataTree) -> xr.DataArray:
        """Return the draws of ``tree``, unconstrained as this model's value variables."""
        from arviz_stats.loo.loo_moment_match_helper import _get_upars_da

        return _get_upars_da(tree, self.model, self.start, self.value_vars)[0]

    def _flat(self, draws):
        draws = draws.transpose("chain", "draw", ...)
        return draws, np.asarray(draws.values).reshape(-1, self.n_params)

    @staticmethod
    def _as_draws(draws, values):
        return xr.DataArray(
            np.asarray(values).reshape(draws.sizes["chain"], draws.sizes["draw"]),
            dims=("chain", "draw"),
            coords={"chain": draws["chain"], "draw": draws["draw"]},
        )

    def log_prob(self, draws: xr.DataArray) -> xr.DataArray:
        """Log density (Jacobian included) at unconstrained draws."""
        draws, q = self._flat(draws)
        return self._as_draws(draws, self.log_density(q)[0])

    def log_lik(self, draws: xr.DataArray, positions) -> xr.DataArray:
        """Log-likelihood of the patients at ``positions`` (among the sorted patients).

        Returns dims (chain, draw, :data:`UNIT`).
        """
        draws, q = self._flat(draws)
        positions = np.atleast_1d(positions)
        total = np.zeros((q.shape[0], positions.size))
        for values, owner in zip(self.likelihood(q), self.owners, strict=True):
            values = np.asarray(values).reshape(q.shape[0], owner.size, -1).sum(axis=2)
            total += np.stack([values[:, owner == i].sum(axis=1) for i in positions], axis=1)
        return xr.DataArray(
            total.reshape(draws.sizes["chain"], draws.sizes["draw"], positions.size),
            dims=("chain", "draw", UNIT),
            coords={"chain": draws["chain"], "draw": draws["draw"], UNIT: self.patients[positions]},
        )

    def log_lik_i(self, draws: xr.DataArray, i: int) -> xr.DataArray:
        """Log-likelihood of patient ``i`` (position among the sorted patients) at draws."""
        return self.log_lik(draws, i).isel({UNIT: 0}, drop=True)


class _PatientRefits(azs.SamplingWrapper):
    """Exact leave-one-patient-out refits of a fit, for ``arviz_stats.reloo``."""

    def __init__(self, tree: xr.DataTree, rebuilt: _Rebuilt):
        from il6fit.sampling import SamplerSettings

        self.rebuilt = rebuilt
        sampler = json.loads(tree.attrs.get("il6fit_sampler", "{}"))
        self.settings = SamplerSettings(**sampler)
        self.seed = int(tree.attrs.get("il6fit_seed", 0))
        super().__init__(model=self.rebuilt.model, idata_orig=tree)

    def sel_observations(self, idx):
        """Return the analysis table without the patients at ``idx`` (positions), and ``idx``."""
        held_out = self.rebuilt.patients[np.atleast_1d(idx)]
        table = self.rebuilt.table
        return table[~np.isin(self.rebuilt.unit_of, held_out)].reset_index(drop=True), idx

    def sample(self, modified_observed_data):
        """Fit the model to the table without the patient."""
        from il6fit.sampling import sample_posterior

        r = self.rebuilt
        model = r.family.build(modified_observed_data, r.priors, r.options)
        shapes = {name: np.shape(value) for name, value in model.initial_point().items()}
        if shapes != {name: np.shape(value) for name, value in r.start.items()}:
            raise _NotRefittable(
                f"{r.family.name} has parameters of patients, sites or arms that a refit "
                "without those patients does not estimate"
            )
        return sample_posterior(model, self.settings, self.seed)

    def get_inference_data(self, fitted_model):
        """Return the refit itself (already a DataTree)."""
        return fitted_model

    def log_likelihood__i(self, excluded_obs, idata__i):
        """Return the left-out patients' log-likelihood at each draw of the refit."""
        return self.rebuilt.log_lik(self.rebuilt.upars(idata__i), excluded_obs)

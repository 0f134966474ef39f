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

import json
import logging
import warnings
from dataclasses import dataclass, replace

import arviz_stats as azs
import numpy as np
import pandas as pd
import xarray as xr

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
        """Pareto k of each patient."""
        return np.asarray(self.elpd.pareto_k).ravel()

    @property
    def unreliable(self) -> int:
        """Patients whose estimate is unreliable (k above the limit)."""
        return int((self.pareto_k > self.limit).sum())

    @property
    def unreliable_patients(self) -> list[str]:
        """Identifiers of the patients whose estimate is unreliable."""
        ids = self.elpd.pareto_k[UNIT].values
        return [str(i) for i in ids[self.pareto_k > self.limit]]

    @property
    def worst(self) -> str:
        """The patient with the largest k."""
        return str(self.elpd.pareto_k[UNIT].values[int(np.nanargmax(self.pareto_k))])


def patient_loo(
    tree: xr.DataTree, limit: float | None = None, *, moment_match: bool = True
) -> PatientLoo:
    """PSIS-LOO of a fit with one log-likelihood term per patient, with its fallback.

    Where some patient's Pareto k is above the limit and the fit says what made it (a fit
    written by :func:`il6fit.inference.fit_model`), those patients' estimates are redone by
    moment matching (``arviz_stats.loo_moment_match``, Paananen et al. 2021): the posterior
    draws are moved by affine transformations towards the leave-one-patient-out posterior
    and reweighted, with the model rebuilt from the fit to evaluate its densities.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit whose ``log_likelihood`` group holds :data:`VARIABLE`.
    limit : float, optional
        Pareto k limit; :func:`k_limit` of the fit's draws if not given (the smaller).
    moment_match : bool
        Use the fallback where PSIS is unreliable.

    Returns
    -------
    PatientLoo
        ``method`` is ``psis`` or ``psis + moment matching``.
    """
    post = tree["posterior"]
    default = k_limit(post.sizes["chain"] * post.sizes["draw"])
    limit = default if limit is None else min(limit, default)
    with warnings.catch_warnings():
        # high k is reported with the fit, not warned about
        warnings.simplefilter("ignore", UserWarning)
        elpd = azs.loo(tree, pointwise=True, var_name=VARIABLE)
    out = PatientLoo(elpd, "psis", limit)
    rebuildable = {"il6fit_family", "il6fit_options"} <= set(tree.attrs)
    if not (moment_match and out.unreliable and rebuildable):
        return out
    log.info("PSIS-LOO unreliable for %d patients: moment matching", out.unreliable)
    try:
        log_prob, log_lik_i, upars = _moment_match_inputs(tree)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            matched = azs.loo_moment_match(
                tree, elpd, log_prob_upars_fn=log_prob, log_lik_i_upars_fn=log_lik_i,
                upars=upars, var_name=VARIABLE, k_threshold=limit,
            )  # fmt: skip
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as error:
        log.warning("moment matching did not finish (%s): PSIS estimates kept", error)
        return replace(out, method="psis (moment matching did not finish)")
    return replace(out, elpd=matched, method="psis + moment matching")


def _moment_match_inputs(tree: xr.DataTree):
    """Build the log density and per-patient log-likelihood at unconstrained draws."""
    # arviz-stats' own PyMC helpers (pinned version): one observed variable, no potentials;
    # a patient's terms span several variables and potentials, summed here
    from arviz_stats.loo.loo_moment_match_helper import _get_upars_da
    from arviz_stats.loo.pymc_helper import _get_batched_func

    from il6fit.storage import fitted_inputs

    family, options, table = fitted_inputs(tree)
    priors = family.priors(json.loads(tree.attrs["il6fit_options"])["priors"])
    model = family.build(table, priors, options)
    start = dict(model.initial_point())
    value_vars = list(model.value_vars)
    upars, n_params = _get_upars_da(tree, model, start, value_vars)
    log_density = _get_batched_func(value_vars, [model.logp(jacobian=True, sum=True)], start)
    names = [rv.name for rv in model.observed_RVs]
    terms = [model.logp(vars=[rv], sum=False)[0] for rv in model.observed_RVs]
    if family.marginal is not None:
        kept = [n for n in family.marginal.potentials if n in model.named_vars]
        names += kept
        terms += model.replace_rvs_by_values([model[n] for n in kept])
    likelihood = _get_batched_func(value_vars, terms, start)
    unit_of, patients = _units(table)
    owners = [
        np.searchsorted(
            patients,
            _patients_of(np.asarray(model.coords[model.named_vars_to_dims[name][0]]), unit_of),
        )
        for name in names
    ]

    def flat(draws):
        draws = draws.transpose("chain", "draw", ...)
        return draws, np.asarray(draws.values).reshape(-1, n_params)

    def as_draws(draws, values):
        return xr.DataArray(
            np.asarray(values).reshape(draws.sizes["chain"], draws.sizes["draw"]),
            dims=("chain", "draw"),
            coords={"chain": draws["chain"], "draw": draws["draw"]},
        )

    def log_prob(draws):
        draws, q = flat(draws)
        return as_draws(draws, log_density(q)[0])

    def log_lik_i(draws, i):
        draws, q = flat(draws)
        total = 0.0
        for values, owner in zip(likelihood(q), owners, strict=True):
            values = np.asarray(values).reshape(q.shape[0], owner.size, -1).sum(axis=2)
            total = total + values[:, owner == i].sum(axis=1)
        return as_draws(draws, total)

    return log_prob, log_lik_i, upars

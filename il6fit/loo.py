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

import warnings
from dataclasses import dataclass

import arviz_stats as azs
import numpy as np
import pandas as pd
import xarray as xr

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
    # a table without patients (a toy model of groups, say): each row is its own unit
    unit_of = table["USUBJID"].to_numpy() if "USUBJID" in table else np.arange(len(table))
    patients = np.unique(unit_of)
    total = None
    for values in log_likelihood.data_vars.values():
        row_dim, *inner = (d for d in values.dims if d not in ("chain", "draw"))
        values = values.sum(inner) if inner else values
        rows = values[row_dim].values
        ids = unit_of[rows.astype(int)] if rows.dtype.kind in "iu" else rows
        summed = (
            values.assign_coords({row_dim: ids})
            .groupby(row_dim)
            .sum()
            .rename({row_dim: UNIT})
            .reindex({UNIT: patients}, fill_value=0.0)
        )
        total = summed if total is None else total + summed
    return xr.Dataset({VARIABLE: total.transpose("chain", "draw", UNIT)})


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


def patient_loo(tree: xr.DataTree, limit: float | None = None) -> PatientLoo:
    """PSIS-LOO of a fit with one log-likelihood term per patient.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit whose ``log_likelihood`` group holds :data:`VARIABLE`.
    limit : float, optional
        Pareto k limit; :func:`k_limit` of the fit's draws if not given (the smaller).

    Returns
    -------
    PatientLoo
    """
    post = tree["posterior"]
    default = k_limit(post.sizes["chain"] * post.sizes["draw"])
    limit = default if limit is None else min(limit, default)
    with warnings.catch_warnings():
        # high k is reported with the fit, not warned about
        warnings.simplefilter("ignore", UserWarning)
        elpd = azs.loo(tree, pointwise=True, var_name=VARIABLE)
    return PatientLoo(elpd, "psis", limit)

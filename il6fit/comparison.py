"""Model comparison by leave-one-patient-out PSIS-LOO: elpd, differences, stacking weights."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping

import arviz_stats as azs
import numpy as np
import pandas as pd
import xarray as xr

from il6fit.errors import SpecError
from il6fit.loo import DEFAULT_LOO, VARIABLE, LooSettings, patient_loo

log = logging.getLogger(__name__)

#: Columns of a comparison table, in order.
COMPARISON_COLUMNS = (
    "model",
    "rank",
    "elpd",
    "se",
    "p_loo",
    "elpd_diff",
    "dse",
    "weight",
    "max_pareto_k",
    "high_pareto_k",
    "elpd_reliable",
    "loo_method",
    "n_observations",
)


def compare_fits(
    trees: Mapping[str, xr.DataTree],
    *,
    good_k: float = 0.7,
    loo: LooSettings = DEFAULT_LOO,
) -> pd.DataFrame:
    """Compare fits of one dataset by leave-one-patient-out PSIS-LOO, best first.

    The fits must have been made to the same patients and outcomes (the same analysis table
    values): LOO compares predictions of the same data, never of different subsets.

    Parameters
    ----------
    trees : mapping of str to xarray.DataTree
        Fits by model name, at least two, each with a log-likelihood per patient
        (:func:`il6fit.loo.per_patient`).
    good_k : float
        Pareto k above which a patient's LOO estimate is counted as unreliable (capped at
        :func:`il6fit.loo.k_limit` of the draws).
    loo : LooSettings
        Fallbacks where PSIS is unreliable for some patient.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARISON_COLUMNS`: ``elpd`` and its ``se``, ``p_loo`` (effective
        number of parameters), ``elpd_diff`` from the best model and its ``dse``, stacking
        ``weight``, the largest Pareto k, how many patients exceed the limit and whether the
        model's elpd is reliable (none does), and how the
        estimate was made (:attr:`il6fit.loo.PatientLoo.method`).

    Raises
    ------
    SpecError
        With fewer than two fits, a fit without a log-likelihood per patient, or fits of
        different data.
    """
    if len(trees) < 2:
        raise SpecError(f"a comparison needs at least two fits; got {list(trees)}.")
    names = list(trees)
    for name, tree in trees.items():
        if "log_likelihood" not in tree.children or VARIABLE not in tree["log_likelihood"]:
            raise SpecError(
                f"fit {name} has no log-likelihood per patient to compare: set "
                "`store.log_likelihood: true` and refit."
            )
    reference = trees[names[0]]["observed_data"].to_dataset()
    for name in names[1:]:
        other = trees[name]["observed_data"].to_dataset()
        if not reference.equals(other):
            raise SpecError(
                f"fits {names[0]} and {name} were made to different observations (the model "
                "options change the analysis table): LOO cannot compare them."
            )
    loos = {name: patient_loo(tree, good_k, loo) for name, tree in trees.items()}
    with warnings.catch_warnings():
        # high Pareto k is reported in the table rather than warned about
        warnings.simplefilter("ignore", UserWarning)
        table = azs.compare(
            {name: loo.elpd for name, loo in loos.items()}, method="stacking", round_to="none"
        )
    table.index.name = "model"
    table = table.reset_index().rename(columns={"p": "p_loo"})
    table["max_pareto_k"] = table["model"].map(lambda m: float(np.nanmax(loos[m].pareto_k)))
    table["high_pareto_k"] = table["model"].map(lambda m: loos[m].unreliable)
    table["elpd_reliable"] = table["high_pareto_k"] == 0
    table["loo_method"] = table["model"].map(lambda m: loos[m].method)
    table["n_observations"] = int(next(iter(loos.values())).pareto_k.size)
    return table[list(COMPARISON_COLUMNS)]

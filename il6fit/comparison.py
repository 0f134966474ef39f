"""Model comparison by PSIS-LOO: expected log predictive density, differences, stacking weights."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping

import arviz_stats as azs
import numpy as np
import pandas as pd
import xarray as xr

from il6fit.errors import SpecError

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
    "observed",
    "n_observations",
)


def comparison_variable(trees: Mapping[str, xr.DataTree], var_name: str | None = None) -> str:
    """Pick the observed variable the fits are compared on.

    Parameters
    ----------
    trees : mapping of str to xarray.DataTree
        Fits by name, each with a ``log_likelihood`` group.
    var_name : str, optional
        The variable asked for; by default the one observed variable the fits share.

    Returns
    -------
    str

    Raises
    ------
    SpecError
        If a fit has no log-likelihood, or the choice is missing or ambiguous.
    """
    shared = None
    for name, tree in trees.items():
        if "log_likelihood" not in tree.children:
            raise SpecError(
                f"fit {name} has no log-likelihood to compare: set `store.log_likelihood: true`."
            )
        found = set(tree["log_likelihood"].data_vars)
        shared = found if shared is None else shared & found
    if var_name is not None:
        if var_name not in shared:
            raise SpecError(
                f"observed variable '{var_name}' is not in every compared fit; they share "
                f"{sorted(shared)}."
            )
        return var_name
    if len(shared) != 1:
        raise SpecError(
            f"the compared fits share the observed variables {sorted(shared)}: name the one to "
            "compare on with `observed:` in the comparison."
        )
    return next(iter(shared))


def compare_fits(
    trees: Mapping[str, xr.DataTree], *, var_name: str | None = None, good_k: float = 0.7
) -> pd.DataFrame:
    """Compare fits of one dataset by PSIS-LOO, best first.

    The fits must have been made to the same observations (same values in the same order):
    LOO compares predictions of the same data, never of different subsets.

    Parameters
    ----------
    trees : mapping of str to xarray.DataTree
        Fits by model name, at least two.
    var_name : str, optional
        Observed variable compared; see :func:`comparison_variable`.
    good_k : float
        Pareto k above which an observation's LOO estimate is counted as unreliable.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARISON_COLUMNS`: ``elpd`` and its ``se``, ``p_loo`` (effective
        number of parameters), ``elpd_diff`` from the best model and its ``dse``, stacking
        ``weight``, the largest Pareto k and how many exceed ``good_k``.

    Raises
    ------
    SpecError
        With fewer than two fits, or fits of different observations.
    """
    if len(trees) < 2:
        raise SpecError(f"a comparison needs at least two fits; got {list(trees)}.")
    var_name = comparison_variable(trees, var_name)
    names = list(trees)
    reference = trees[names[0]]["observed_data"][var_name].values
    for name in names[1:]:
        other = trees[name]["observed_data"][var_name].values
        if other.shape != reference.shape or not np.array_equal(other, reference):
            raise SpecError(
                f"fits {names[0]} and {name} were made to different observations of {var_name} "
                "(the model options change the analysis table): LOO cannot compare them."
            )
    with warnings.catch_warnings():
        # high Pareto k is reported in the table rather than warned about
        warnings.simplefilter("ignore", UserWarning)
        loos = {
            name: azs.loo(tree, pointwise=True, var_name=var_name) for name, tree in trees.items()
        }
        table = azs.compare(
            {name: tree for name, tree in trees.items()},
            method="stacking",
            var_name=var_name,
            round_to="none",
        )
    table.index.name = "model"
    table = table.reset_index().rename(columns={"p": "p_loo"})
    table["max_pareto_k"] = table["model"].map(lambda m: float(loos[m].pareto_k.max()))
    table["high_pareto_k"] = table["model"].map(lambda m: int((loos[m].pareto_k > good_k).sum()))
    table["observed"] = var_name
    table["n_observations"] = int(reference.size)
    return table[list(COMPARISON_COLUMNS)]

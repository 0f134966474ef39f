r"""A toy family, as a contributor would write one: ln CRP on ln IL-6, censoring ignored.

.. math::

    \ln \mathrm{CRP}_i \sim \mathrm{Normal}(a + b (\ln \mathrm{IL6}_i - \ln 20), s)

The workflow tests copy this module into ``il6fit/models/`` and add its name to
``FAMILY_MODULES``, and nothing else, to show that one module and one line make a family the
config accepts, the workflow fits, draws, calibrates and reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from il6fit.models.family import (
    Calibration,
    FigureSpec,
    ModelFamily,
    ObservedInfo,
    ParameterInfo,
    option,
)
from il6fit.models.priors import Prior


@dataclass(frozen=True)
class Options:
    """Options of the toy model."""

    visit: float = option(0, "Visit (AVISITN) whose IL-6/CRP pairs are used.")


def analysis_table(subjects: pd.DataFrame, measurements: pd.DataFrame, options: Options):
    """IL-6 and CRP of each subject at the visit."""
    rows = measurements[measurements["AVISITN"] == options.visit]
    wide = rows.pivot_table(index="USUBJID", columns="PARAMCD", values="AVAL", aggfunc="first")
    return wide[["IL6", "CRP"]].dropna().reset_index().rename(columns=str.lower)


def build(table: pd.DataFrame, priors, options: Options) -> pm.Model:
    """The toy model."""
    with pm.Model(coords={"obs": np.arange(len(table))}) as model:
        x = pm.Data("log_il6", np.log(table["il6"].to_numpy(float)) - np.log(20), dims="obs")
        y = pm.Data("log_crp_observed", np.log(table["crp"].to_numpy(float)), dims="obs")
        a, b, s = (priors[name].create(name) for name in ("a", "b", "s"))
        pm.Normal("log_crp", a + b * x, s, observed=y, dims="obs")
    return model


def estimands(tree: xr.DataTree, table: pd.DataFrame, options: Options, seed: int):
    """Median CRP at IL-6 20 pg/mL."""
    return xr.Dataset({"crp_at_20": np.exp(tree["posterior"]["a"])})


def scatter(fig) -> plt.Figure:
    """CRP against IL-6."""
    figure, ax = plt.subplots()
    ax.scatter(fig.table["il6"], fig.table["crp"], s=8)
    ax.set(xscale="log", yscale="log", xlabel="IL-6 (pg/mL)", ylabel="CRP (mg/L)")
    return figure


FAMILY = ModelFamily(
    name="toy_crp",
    title="Toy: ln CRP on ln IL-6",
    equations=__doc__,
    options=Options,
    requires=lambda options: ("IL6", "CRP"),
    parameters={
        "a": ParameterInfo("ln CRP at IL-6 20 pg/mL", "ln(mg/L)"),
        "b": ParameterInfo("log-log slope", "ln(mg/L) per ln(pg/mL)"),
        "s": ParameterInfo("residual SD", "ln(mg/L)"),
    },
    default_priors={
        "a": Prior("Normal", {"mu": 1.0, "sigma": 2.0}),
        "b": Prior("Normal", {"mu": 0.5, "sigma": 0.5}),
        "s": Prior("HalfNormal", {"sigma": 1.0}),
    },
    analysis_table=analysis_table,
    builder=build,
    estimands=estimands,
    estimand_parameters={"crp_at_20": ParameterInfo("median CRP at IL-6 20 pg/mL", "mg/L")},
    figures={"scatter": FigureSpec(scatter, "toy scatter of CRP against IL-6")},
    observed={"log_crp": ObservedInfo("CRP (mg/L)", log=True)},
    with_observed=lambda table, values: table.assign(crp=np.exp(values["log_crp"])),
    calibration=Calibration(design={"scenario": "healthy", "n_subjects": 30}),
)

r"""Simulation-based calibration: do the posteriors' intervals hold the truth as often as claimed.

For replicate :math:`r` of a model (Talts et al. 2018, *Validating Bayesian inference
algorithms with simulation-based calibration*):

1. draw parameters :math:`\theta^{(r)}` from the prior and data :math:`y^{(r)}` from the model
   given them, on a fixed design (a simulated trial's arms, visits, covariates);
2. fit the model to :math:`y^{(r)}` and thin the posterior to :math:`L` draws;
3. record the rank of each true value among them, :math:`\#\{l : \theta_l < \theta^{(r)}\}`.

If the posterior is right, each rank is uniform on :math:`0, \dots, L`. The ECDF of the ranks,
evaluated on their grid (the share of ranks below :math:`k`, against :math:`k / (L + 1)`), must
stay within simultaneous 95 % bands around the uniform CDF (Säilynoja, Bürkner and Vehtari
2022); interval coverage at 50 / 80 / 90 / 95 % and the mean rank's distance from
:math:`L / 2` are tabulated as well.

Biomarker predictors (IL-6 everywhere, CRP where it is a predictor) are the design's data,
measured without censoring, rather than draws, so their population models are not assessed; the
outcomes, including CRP in ``il6_crp``, are drawn, and CRP there is censored at the scenario's
assay limits. A censored *predictor* cannot be part of the check at a reasonable cost: which
results are censored decides which values are latent parameters, so it would change the model's
structure from one replicate to the next and force a compilation per replicate. It is checked
instead by the censored-predictor and recovery tests (``docs/models.md``).

Each replicate's seed derives from (seed, model, replicate), and every replicate of a model runs
the same compiled code (the outcomes are model data), so a replicate gives the same ranks
whichever batch or order it runs in.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from il6fit.data import as_read, prepare
from il6fit.diagnostics import Thresholds, judge
from il6fit.errors import SpecError
from il6fit.models import ModelFamily, Prior, get_model
from il6fit.models.censored import BIOMARKER_PARAMETERS
from il6fit.ranks import LEVELS
from il6fit.sampling import CompiledModel, SamplerSettings, sample_posterior
from il6fit.simulate import scenario, simulate_cohort

log = logging.getLogger(__name__)

#: Columns of a replicate table.
REPLICATE_COLUMNS = (
    "model", "replicate", "quantity", "kind", "truth", "rank", "n_ranks",
    *(f"in_{round(level * 100)}" for level in LEVELS),
    "gate_passed", "failed_checks",
)  # fmt: skip


def design(model: str, spec: Mapping, seed: int, options: Mapping | None = None) -> pd.DataFrame:
    """Build the fixed design of a model's calibration: an analysis table of simulated data.

    Parameters
    ----------
    model : str
        Model name.
    spec : mapping
        ``scenario`` plus :class:`il6fit.simulate.Scenario` fields (``n_subjects``, ...).
    seed : int
        Seed of the simulated dataset.
    options : mapping, optional
        The family's options (``priors`` ignored), its defaults where not given.

    Returns
    -------
    pandas.DataFrame
        The model's analysis table; biomarkers are marked measured, and the family's
        ``calibration.prepare_design`` applied (e.g. assay limits for censoring the drawn
        values).
    """
    family = get_model(model)
    spec = dict(spec)
    chosen = scenario(spec.pop("scenario"), **spec)
    subjects, measurements, _ = simulate_cohort(chosen, seed=seed)
    data = prepare(
        as_read(subjects), as_read(measurements),
        subjects_file="simulated", measurements_file="simulated",
    )  # fmt: skip
    typed = family.make_options({k: v for k, v in dict(options or {}).items() if k != "priors"})
    table = family.table(data.subjects, data.measurements, typed)
    for column in [c for c in table.columns if c.lower().endswith("_cens")]:
        table[column] = 0
    if family.calibration is not None and family.calibration.prepare_design is not None:
        table = family.calibration.prepare_design(table, chosen)
    return table


def assessed(family: ModelFamily, model: pm.Model) -> list[str]:
    """List the parameters whose calibration is assessed: the family's, present in the model.

    Biomarker population parameters are left out (the biomarkers are design data), and so are
    those the family's calibration names in ``not_assessed``.

    Parameters
    ----------
    family : ModelFamily
        The model family.
    model : pymc.Model
        A model it built.

    Returns
    -------
    list of str
    """
    skip = {*BIOMARKER_PARAMETERS, *(family.calibration.not_assessed if family.calibration else ())}
    return [p for p in family.parameters if p in model.named_vars and p not in skip]


class Calibrator:
    """Runs calibration replicates of one model, compiling its sampler once where it can.

    Parameters
    ----------
    model : str
        Model name.
    design_table : pandas.DataFrame
        From :func:`design`.
    settings : SamplerSettings, optional
        Sampler settings of every replicate's fit (one core, nutpie).
    n_ranks : int
        Posterior draws kept (evenly thinned) for the rank: ranks run from 0 to ``n_ranks``.
    thresholds : Thresholds, optional
        The diagnostics gate applied to each replicate's fit.
    fit_priors : mapping of str to Prior, optional
        Priors of the fit, when they should differ from those the data are drawn with (to
        check that a miscalibrated model is caught).
    options : mapping, optional
        The family's options (its defaults where not given) and ``priors`` (overrides of its
        default priors), for data and fits alike: what a run's config gives the model.
    """

    def __init__(
        self,
        model: str,
        design_table: pd.DataFrame,
        settings: SamplerSettings | None = None,
        thresholds: Thresholds | None = None,
        fit_priors: Mapping[str, Prior] | None = None,
        *,
        n_ranks: int,
        options: Mapping | None = None,
    ):
        self.family = get_model(model)
        if self.family.calibration is None:
            raise SpecError(f"model {model} declares no calibration.")
        self.design = design_table
        self.settings = replace(
            settings or SamplerSettings(), cores=1, backend="nutpie", method="nuts"
        )
        self.n_ranks = n_ranks
        self.thresholds = thresholds or Thresholds()
        options = dict(options or {})
        self.priors = self.family.priors(options.pop("priors", None))
        self.fit_priors = {**self.priors, **dict(fit_priors or {})}
        self.options = self.family.make_options(options)
        self.generator = self.family.generative(design_table, self.priors, self.options)
        self.names = assessed(self.family, self.generator)
        # what the gate judges: the family's parameters this model has (an option can add some)
        self.judged = [p for p in self.family.parameters if p in self.generator.named_vars]
        self._compiled = CompiledModel()

    def replicate(self, replicate: int, seed: int) -> pd.DataFrame:
        """Run one replicate.

        Parameters
        ----------
        replicate : int
            Its number.
        seed : int
            Its seed (derive it from the run seed, model and replicate).

        Returns
        -------
        pandas.DataFrame
            Columns :data:`REPLICATE_COLUMNS`, one row per assessed parameter element and
            estimand.
        """
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
            warnings.filterwarnings("ignore", "Numba will use object mode", UserWarning)
            prior = pm.sample_prior_predictive(draws=1, model=self.generator, random_seed=seed)
        outcomes = {
            name: prior["prior_predictive"][name].values[0, 0]
            for name in self.family.observed
            if name in prior["prior_predictive"] and name not in self.family.calibration.design_data
        }
        data = self.family.with_observed(self.design, outcomes)
        # outcomes (and censoring limits) are model data and the design fixes the model's
        # structure, so one compiled model serves every replicate: only its data change
        model = self.family.build(data, self.fit_priors, self.options)
        tree = sample_posterior(model, self.settings, seed + 1, reuse=self._compiled)
        if self._needs_latent(tree):
            tree = self.family.complete(tree, seed + 2)
        truth = prior["prior"]
        rows = self._ranks(tree, truth, "parameter", self.names)
        if self.family.calibration.estimands:
            posterior = self._estimands(tree["posterior"], data)
            true_values = self._estimands(truth, data)
            rows += self._ranks(
                xr.DataTree.from_dict({"posterior": posterior}), true_values, "estimand",
                self.family.calibration.estimands,
            )  # fmt: skip
        _, _, failed = judge(tree, self.family.parameters, self.thresholds)
        out = pd.DataFrame(rows)
        out.insert(0, "model", self.family.name)
        out.insert(1, "replicate", replicate)
        out["gate_passed"] = not failed
        out["failed_checks"] = "; ".join(failed)
        # the time goes to the log only: results must not depend on how busy the machine was
        log.info(
            "%s replicate %d: %.1f s, gate %s", self.family.name, replicate,
            time.perf_counter() - start, "passed" if not failed else "FAILED: " + "; ".join(failed),
        )  # fmt: skip
        return out[list(REPLICATE_COLUMNS)]

    def _needs_latent(self, tree: xr.DataTree) -> bool:
        """Whether the gate or the ranks read a value the fit integrated out.

        Drawing a marginal family's subject effects back
        (:meth:`il6fit.models.ModelFamily.complete`) is skipped where nothing ranked or judged
        is one of them and the family ranks no estimands: the results are the same without it
        (for ``exposure_response`` it was a tenth of a replicate's time).
        """
        if self.family.calibration.estimands:
            return True
        sampled = tree["posterior"].data_vars
        return any(name not in sampled for name in (*self.names, *self.judged))

    def _estimands(self, posterior: xr.Dataset, data: pd.DataFrame) -> xr.Dataset:
        """Estimand draws of a posterior (or of the true parameters as a one-draw posterior)."""
        dims = self.generator.named_vars_to_dims
        constant = xr.Dataset(
            {
                var.name: (dims.get(var.name, ()), var.get_value())
                for var in self.generator.data_vars
            }
        )
        tree = xr.DataTree.from_dict({"posterior": posterior, "constant_data": constant})
        return self.family.estimand_draws(tree, data, seed=0)

    def _ranks(self, tree, truth, kind: str, names: Sequence[str]) -> list[dict]:
        """Rank of each true value among evenly thinned posterior draws, and coverage."""
        posterior = tree["posterior"] if isinstance(tree, xr.DataTree) else tree
        rows = []
        for name in names:
            draws = posterior[name].stack(sample=("chain", "draw")).transpose("sample", ...)
            true = truth[name].isel(chain=0, draw=0)
            values = draws.values.reshape(draws.shape[0], -1)
            target = np.broadcast_to(true.values, draws.shape[1:]).reshape(-1)
            keep = np.linspace(0, values.shape[0] - 1, self.n_ranks).round().astype(int)
            labels = _element_labels(name, draws.isel(sample=0))
            for j, label in enumerate(labels):
                row = {
                    "quantity": label, "kind": kind, "truth": float(target[j]),
                    "rank": int((values[keep, j] < target[j]).sum()),
                    "n_ranks": self.n_ranks,
                }  # fmt: skip
                for level in LEVELS:
                    low, high = np.quantile(values[:, j], [(1 - level) / 2, (1 + level) / 2])
                    row[f"in_{round(level * 100)}"] = bool(low <= target[j] <= high)
                rows.append(row)
        return rows


def _element_labels(name: str, example: xr.DataArray) -> list[str]:
    """``name`` for a scalar, ``name[a]`` (``name[a,b]``) for each element otherwise."""
    if example.ndim == 0:
        return [name]
    stacked = example.stack(element=example.dims) if example.ndim > 1 else example
    index = stacked.indexes[stacked.dims[0]]
    return [f"{name}[{','.join(map(str, v)) if isinstance(v, tuple) else v}]" for v in index]

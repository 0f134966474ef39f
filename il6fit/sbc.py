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
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from scipy.stats import binom

from il6fit.data import as_read, prepare
from il6fit.diagnostics import Thresholds, check, failed_checks, summarise
from il6fit.models import ModelFamily, Prior, get_model
from il6fit.models.censored import BIOMARKER_PARAMETERS
from il6fit.simulate import scenario, simulate_cohort

log = logging.getLogger(__name__)

#: Interval probabilities whose coverage is tabulated.
LEVELS = (0.5, 0.8, 0.9, 0.95)

#: Estimands checked besides the parameters (those that are functions of the parameters alone).
ESTIMANDS = {
    "treatment_response": ("change", "effect"),
    "eular_response": ("p_good", "p_none", "p_good_difference"),
}

#: il6_crp's IL-6 population parameters (design data there too).
IL6_POPULATION = ("mu_il6", "sigma_il6")

#: Observed variables kept from the design rather than drawn: the biomarkers are predictors, and
#: a drawn IL-6 would not be the one the drawn CRP was generated from.
DESIGN_DATA = ("log_il6",)

#: Simulations behind each simultaneous ECDF band.
BAND_SIMULATIONS = 10_000

#: Columns of a replicate table.
REPLICATE_COLUMNS = (
    "model", "replicate", "quantity", "kind", "truth", "rank", "n_ranks",
    *(f"in_{round(level * 100)}" for level in LEVELS),
    "gate_passed", "failed_checks",
)  # fmt: skip


@dataclass(frozen=True)
class SBCSettings:
    """How each replicate is fitted.

    Attributes
    ----------
    chains, draws, tune : int
        NUTS chains, kept draws and tuning steps per chain.
    target_accept : float
        Target acceptance rate.
    n_ranks : int
        Posterior draws kept (evenly thinned) for the rank: ranks run from 0 to ``n_ranks``.
    """

    chains: int = 2
    draws: int = 1000
    tune: int = 500
    target_accept: float = 0.95
    n_ranks: int = 99


def design(model: str, spec: Mapping, seed: int) -> pd.DataFrame:
    """Build the fixed design of a model's calibration: an analysis table of simulated data.

    Parameters
    ----------
    model : str
        Model name.
    spec : mapping
        ``scenario`` plus :class:`il6fit.simulate.Scenario` fields (``n_subjects``, ...).
    seed : int
        Seed of the simulated dataset.

    Returns
    -------
    pandas.DataFrame
        The model's analysis table; biomarkers are marked measured, and for ``il6_crp`` the
        scenario's assay limits are added as columns for censoring the drawn values.
    """
    spec = dict(spec)
    chosen = scenario(spec.pop("scenario"), **spec)
    subjects, measurements, _ = simulate_cohort(chosen, seed=seed)
    data = prepare(
        as_read(subjects), as_read(measurements),
        subjects_file="simulated", measurements_file="simulated",
    )  # fmt: skip
    table = get_model(model).table(data.subjects, data.measurements, {})
    for column in [c for c in table.columns if c.lower().endswith("_cens")]:
        table[column] = 0
    if model == "il6_crp":
        # CRP is censored at the scenario's limits; IL-6 is not (see the module docstring)
        table = table.assign(
            il6_lloq=0.0, il6_uloq=np.inf, crp_lloq=chosen.crp_lloq, crp_uloq=chosen.crp_uloq
        )
    return table


def assessed(family: ModelFamily, model: pm.Model) -> list[str]:
    """List the parameters whose calibration is assessed: the family's, present in the model.

    Biomarker population parameters are left out: the biomarkers are design data.

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
    return [
        p
        for p in family.parameters
        if p in model.named_vars and p not in BIOMARKER_PARAMETERS and p not in IL6_POPULATION
    ]


class Calibrator:
    """Runs calibration replicates of one model, compiling its sampler once where it can.

    Parameters
    ----------
    model : str
        Model name.
    design_table : pandas.DataFrame
        From :func:`design`.
    settings : SBCSettings, optional
        Sampler settings.
    thresholds : Thresholds, optional
        The diagnostics gate applied to each replicate's fit.
    fit_priors : mapping of str to Prior, optional
        Priors of the fit, when they should differ from those the data are drawn with (to
        check that a miscalibrated model is caught).
    """

    def __init__(
        self,
        model: str,
        design_table: pd.DataFrame,
        settings: SBCSettings | None = None,
        thresholds: Thresholds | None = None,
        fit_priors: Mapping[str, Prior] | None = None,
    ):
        self.family = get_model(model)
        self.design = design_table
        self.settings = settings or SBCSettings()
        self.thresholds = thresholds or Thresholds()
        self.priors = dict(self.family.default_priors)
        self.fit_priors = {**self.priors, **dict(fit_priors or {})}
        self.generator = self.family.build(design_table, self.priors)
        self.names = assessed(self.family, self.generator)
        self._compiled = None

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
        import nutpie

        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
            warnings.filterwarnings("ignore", "Numba will use object mode", UserWarning)
            prior = pm.sample_prior_predictive(draws=1, model=self.generator, random_seed=seed)
        outcomes = {
            name: prior["prior_predictive"][name].values[0, 0]
            for name in self.family.observed
            if name in prior["prior_predictive"] and name not in DESIGN_DATA
        }
        data = self.family.with_observed(self.design, outcomes)
        # outcomes (and censoring limits) are model data and the design fixes the model's
        # structure, so one compiled model serves every replicate: only its data change
        model = self.family.build(data, self.fit_priors)
        if self._compiled is None:
            self._compiled = nutpie.compile_pymc_model(model)
        compiled = self._compiled.with_data(**{v.name: v.get_value() for v in model.data_vars})
        s = self.settings
        tree = nutpie.sample(
            compiled, chains=s.chains, draws=s.draws, tune=s.tune, cores=1, seed=seed + 1,
            target_accept=s.target_accept, progress_bar=False,
        )  # fmt: skip
        truth = prior["prior"]
        rows = self._ranks(tree, truth, "parameter", self.names)
        if self.family.name in ESTIMANDS:
            posterior = self._estimands(tree["posterior"], data)
            true_values = self._estimands(truth, data)
            rows += self._ranks(
                xr.DataTree.from_dict({"posterior": posterior}), true_values, "estimand",
                ESTIMANDS[self.family.name],
            )  # fmt: skip
        summary = summarise(tree, self.family.parameters, ci_kind="eti", ci_prob=0.9)
        checks = check(tree, summary, self.thresholds)
        failed = failed_checks(checks)
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
        return self.family.estimands(tree, data, seed=0)

    def _ranks(self, tree, truth, kind: str, names: Sequence[str]) -> list[dict]:
        """Rank of each true value among evenly thinned posterior draws, and coverage."""
        posterior = tree["posterior"] if isinstance(tree, xr.DataTree) else tree
        rows = []
        for name in names:
            draws = posterior[name].stack(sample=("chain", "draw")).transpose("sample", ...)
            true = truth[name].isel(chain=0, draw=0)
            values = draws.values.reshape(draws.shape[0], -1)
            target = np.broadcast_to(true.values, draws.shape[1:]).reshape(-1)
            keep = np.linspace(0, values.shape[0] - 1, self.settings.n_ranks).round().astype(int)
            labels = _element_labels(name, draws.isel(sample=0))
            for j, label in enumerate(labels):
                row = {
                    "quantity": label, "kind": kind, "truth": float(target[j]),
                    "rank": int((values[keep, j] < target[j]).sum()),
                    "n_ranks": self.settings.n_ranks,
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


def band_level(band_prob: float, n_quantities: int) -> float:
    """Level of each quantity's ECDF band so that all bands hold together with ``band_prob``.

    A model has many quantities; with a 95 % band each, one of ten well-calibrated quantities
    would leave its band about 40 % of the time. Bonferroni's correction makes the verdict
    simultaneous over the ECDF points (the bands' own construction) and over the quantities.

    Parameters
    ----------
    band_prob : float
        Probability that every ECDF of a calibrated model stays within its band.
    n_quantities : int
        Number of quantities judged together.

    Returns
    -------
    float

    Examples
    --------
    >>> round(band_level(0.95, 10), 4)
    0.995
    """
    return 1 - (1 - band_prob) / max(n_quantities, 1)


def summarise_ranks(replicates: pd.DataFrame, *, band_prob: float = 0.95) -> pd.DataFrame:
    """Coverage and the ECDF verdict of every quantity over a model's replicates.

    Parameters
    ----------
    replicates : pandas.DataFrame
        Replicate tables (:data:`REPLICATE_COLUMNS`) of one model, concatenated.
    band_prob : float
        Probability that a calibrated model keeps every quantity's rank ECDF within its band
        (each band at :func:`band_level`).

    Returns
    -------
    pandas.DataFrame
        One row per quantity: ``quantity``, ``kind``, ``replicates``, ``coverage_50`` ...
        ``coverage_95`` (shares of replicates whose interval held the truth), ``mean_rank_z``
        (the mean rank's distance from its expectation in standard errors: the sign says
        whether the posterior sits above, negative, or below, positive, the truth),
        ``max_ecdf_gap`` (largest distance of the ECDF outside its band, 0 when inside) and
        ``within_band``. The verdict depends on the ranks alone, not on their order.
    """
    rows = []
    groups = replicates.groupby(["quantity", "kind"], sort=False)
    level = band_level(band_prob, groups.ngroups)
    for (quantity, kind), group in groups:
        _, ecdf, lower, upper = rank_ecdf(group, level)
        gap = float(np.maximum(lower - ecdf, ecdf - upper).clip(min=0).max())
        row = {"quantity": quantity, "kind": kind, "replicates": len(group)}
        for level_ in LEVELS:
            row[f"coverage_{round(level_ * 100)}"] = float(
                group[f"in_{round(level_ * 100)}"].mean()
            )
        row |= {"mean_rank_z": mean_rank_z(group), "max_ecdf_gap": gap, "within_band": gap == 0}
        rows.append(row)
    return pd.DataFrame(rows)


def mean_rank_z(group: pd.DataFrame) -> float:
    r"""Distance of the mean rank from its expectation under calibration, in standard errors.

    Ranks uniform on :math:`0, \dots, L` have mean :math:`L / 2` and variance
    :math:`((L + 1)^2 - 1) / 12`.

    Parameters
    ----------
    group : pandas.DataFrame
        Replicate rows of one quantity.

    Returns
    -------
    float

    Examples
    --------
    >>> round(mean_rank_z(pd.DataFrame({"rank": [0, 99], "n_ranks": 99})), 6)
    0.0
    """
    n_ranks = int(group["n_ranks"].iloc[0])
    se = np.sqrt(((n_ranks + 1) ** 2 - 1) / 12 / len(group))
    return float((group["rank"].mean() - n_ranks / 2) / se)


def rank_ecdf(group: pd.DataFrame, level: float, seed: int = 0):
    r"""ECDF of one quantity's ranks on the rank grid, with its simultaneous band.

    Ranks take the values :math:`0, \dots, L`, so their ECDF is evaluated where it is
    exact, at :math:`z_k = k / (L + 1)`, :math:`k = 1, \dots, L`, as the share of ranks below
    :math:`k`; calibrated, it is :math:`z_k` in expectation (Säilynoja, Bürkner and Vehtari
    2022, with :math:`K = L + 1` evaluation points). No jitter enters, so identical ranks
    give identical verdicts whatever their order.

    Parameters
    ----------
    group : pandas.DataFrame
        Replicate rows of one quantity (``rank``, ``n_ranks``).
    level : float
        Probability that the whole ECDF of a calibrated quantity stays within the band.
    seed : int
        Seed of the band simulation.

    Returns
    -------
    x, ecdf, lower, upper : numpy.ndarray
        Evaluation points with 0 and 1 added at the ends, the ECDF and the band there.
    """
    n_ranks = int(group["n_ranks"].iloc[0])
    ranks = np.sort(group["rank"].to_numpy())
    lower, upper = _rank_band(len(ranks), n_ranks, level, seed)
    grid = np.arange(1, n_ranks + 1)
    ecdf = np.searchsorted(ranks, grid, side="left") / len(ranks)
    return tuple(
        np.concatenate(([0.0], values, [1.0]))
        for values in (grid / (n_ranks + 1), ecdf, lower, upper)
    )


@lru_cache(maxsize=256)
def _rank_band(n: int, n_ranks: int, level: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Simultaneous band of a rank ECDF, which depends only on the replicates, grid and level.

    The statistic is the smallest tail probability of the ECDF's counts over the grid,
    :math:`T = \min_k \min(P(X_k \le c_k), P(X_k \ge c_k))` with
    :math:`X_k \sim \mathrm{Binomial}(n, z_k)`; its null distribution is simulated from
    uniform ranks, and an ECDF is outside when :math:`T` falls below the null's
    :math:`1 - \text{level}` quantile. Ties of this discrete statistic are counted inside,
    so the band errs wide.
    """
    grid = np.arange(1, n_ranks + 1) / (n_ranks + 1)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n_ranks + 1, 1 / (n_ranks + 1)), size=BAND_SIMULATIONS)
    below = counts.cumsum(axis=1)[:, :-1]  # ranks below k, k = 1..L
    tails = np.minimum(binom.cdf(below, n, grid), binom.sf(below - 1, n, grid))
    threshold = np.quantile(tails.min(axis=1), 1 - level, method="lower")
    c = np.arange(n + 1)[:, None]
    lower = np.argmax(binom.cdf(c, n, grid) >= threshold, axis=0)
    upper = n - np.argmax((binom.sf(c - 1, n, grid) >= threshold)[::-1], axis=0)
    lower, upper = lower / n, upper / n
    lower.setflags(write=False)
    upper.setflags(write=False)
    return lower, upper

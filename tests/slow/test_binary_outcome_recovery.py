"""The binary outcome model recovers death on censored IL-6 from a generator of its own (slow).

The generator here is independent of :mod:`il6fit.simulate`: one cohort design of 300 patients
(age, sex, IL-6 measured on an assay with limits 5 and 1,000 pg/mL, so about 15 % of IL-6 is
below its LLOQ and 2 % above its ULOQ) and, in each of 40 trials, new true IL-6 values for the
censored patients (the population truncated at the limit) and new outcomes from a logistic
model in the true IL-6, age and sex. The design's censoring pattern is fixed, so every trial's
fit runs the same compiled model. The 90 % intervals of the log odds ratios and the intercept
must cover the truth as often as 90 % intervals do: the count of covering trials within the
central 99.9 % of Binomial(40, 0.9); at most 2 fits may fail the gate. The numbers of the run
are printed (``pytest -s``), with the maximum-likelihood slope that takes the limits as values
beside (``docs/binary-outcome.md``).
"""

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from scipy.stats import binom, truncnorm

from il6fit.diagnostics import Thresholds, judge
from il6fit.models import get_model
from il6fit.sampling import CompiledModel, SamplerSettings, sample_posterior

pytestmark = pytest.mark.slow

N_PATIENTS = 300
N_TRIALS = 40
PROB = 0.9
LLOQ, ULOQ = 5.0, 1000.0
MU, SIGMA = np.log(25.0), 1.6  # ln IL-6 population (pg/mL), COVID-like (domain-facts §1b, §7)
TRUTH = {"alpha": -2.0, "beta_il6": 1.0, "beta_age": 0.8, "beta_male": 0.4}


def cohort(rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """The fixed design as an analysis table (outcome empty) and the true ln IL-6."""
    x = rng.normal(MU, SIGMA, N_PATIENTS)
    reported = np.clip(np.exp(x), LLOQ, ULOQ)
    table = pd.DataFrame(
        {
            "USUBJID": [f"P{i:03d}" for i in range(N_PATIENTS)],
            "site": "ONE:1",
            "outcome": 0,
            "IL6": reported,
            "IL6_cens": np.where(np.exp(x) < LLOQ, -1, np.where(np.exp(x) > ULOQ, 1, 0)),
            "AGE": np.clip(rng.normal(60, 14, N_PATIENTS), 18, 95).round(),
            "male": (rng.uniform(size=N_PATIENTS) < 0.55).astype(float),
        }
    )
    return table, x


def trial(table: pd.DataFrame, x: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """New true IL-6 beyond the limits and new outcomes from the true logistic model."""
    x = x.copy()
    for side, bound in ((-1, np.log(LLOQ)), (1, np.log(ULOQ))):
        rows = table["IL6_cens"].to_numpy() == side
        low, high = (-np.inf, bound) if side < 0 else (bound, np.inf)
        x[rows] = truncnorm.rvs(
            (low - MU) / SIGMA, (high - MU) / SIGMA, MU, SIGMA, size=rows.sum(), random_state=rng
        )
    eta = (
        TRUTH["alpha"]
        + TRUTH["beta_il6"] * (x - np.log(20.0))
        + TRUTH["beta_age"] * (table["AGE"].to_numpy() - 50) / 10
        + TRUTH["beta_male"] * table["male"].to_numpy()
    )
    return table.assign(outcome=(rng.uniform(size=x.size) < expit(eta)).astype(int))


def naive_slope(table: pd.DataFrame) -> float:
    """Maximum-likelihood log odds ratio per ln IL-6 with the limits taken as values."""
    X = np.column_stack(
        [
            np.ones(len(table)),
            np.log(table["IL6"].to_numpy()) - np.log(20.0),
            (table["AGE"].to_numpy() - 50) / 10,
            table["male"].to_numpy(),
        ]
    )
    y = table["outcome"].to_numpy()

    def nll(b):
        eta = X @ b
        return -(y * log_expit(eta) + (1 - y) * log_expit(-eta)).sum()

    return float(minimize(nll, np.zeros(X.shape[1]), method="BFGS").x[1])


def test_death_on_censored_il6_is_recovered_with_calibrated_intervals():
    family = get_model("binary_outcome")
    rng = np.random.default_rng(2026)
    design, x = cohort(rng)
    below, above = (design["IL6_cens"] == -1).mean(), (design["IL6_cens"] == 1).mean()
    assert 0.1 < below < 0.25
    settings = SamplerSettings(chains=2, draws=1000, tune=1000, cores=1)
    thresholds = Thresholds()
    reuse = CompiledModel()
    covered = {name: 0 for name in TRUTH}
    z = {name: [] for name in TRUTH}
    failures, events, naive, censored = 0, [], [], []
    for k in range(N_TRIALS):
        table = trial(design, x, rng)
        events.append(table["outcome"].mean())
        naive.append(naive_slope(table))
        tree = sample_posterior(family.build(table), settings, 100 + k, reuse=reuse)
        _, _, failed = judge(tree, family.parameters, thresholds)
        failures += bool(failed)
        for name, truth in TRUTH.items():
            draws = tree["posterior"][name].values.ravel()
            low, high = np.quantile(draws, [(1 - PROB) / 2, (1 + PROB) / 2])
            covered[name] += bool(low <= truth <= high)
            z[name].append((draws.mean() - truth) / draws.std())
        censored.append(float(tree["posterior"]["beta_il6"].mean()))
    low, high = binom.ppf(0.0005, N_TRIALS, PROB), binom.isf(0.0005, N_TRIALS, PROB)
    print(
        f"\n{N_TRIALS} trials of {N_PATIENTS}: IL-6 below LLOQ {below:.1%}, above ULOQ "
        f"{above:.1%}, deaths {np.mean(events):.1%}; allowed covering count {low:.0f}-{high:.0f}"
    )
    for name in TRUTH:
        print(
            f"{name}: truth {TRUTH[name]}, covered {covered[name]}/{N_TRIALS}, "
            f"mean z {np.mean(z[name]):+.2f}, sd z {np.std(z[name], ddof=1):.2f}"
        )
    print(
        f"beta_il6 averaged over trials: censoring-aware posterior mean {np.mean(censored):.3f}, "
        f"limits-as-values MLE {np.mean(naive):.3f} (truth {TRUTH['beta_il6']})"
    )
    print(f"gate failures {failures}/{N_TRIALS}")
    assert failures <= 2
    for name in TRUTH:
        assert low <= covered[name] <= high, (name, covered[name])

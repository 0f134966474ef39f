"""Exposure-response on trials il6fit did not make: regimen effects against the population truth
of an independent generator (slow; `make test-slow`).

Twenty trials from ``tests/independent_exposure.py`` (its own one-compartment PK with
Michaelis-Menten elimination, a Hill coefficient of 1 against the model's fixed 0.64, Imax and
the background DMARD effect varying between patients, EC50 depending on baseline IL-6,
Student-t noise, 8 % of visits missed, trough samples with 20 % error and a limit of 0.1
µg/mL), 50 patients per arm (placebo, 4 and 8 mg/kg IV every 4 weeks). The model's 90 %
intervals of the week-24 effects of the studied regimens against placebo must cover the
population truth (by Monte Carlo) as 90 % intervals do: at most 10 misses of 40 (expected 4;
P(more than 10) < 0.002), and the gate may fail at most 2 fits. The predictions of the
subcutaneous regimens, which no trial studied, are printed beside with their bias and coverage
(``pytest -s``), not asserted: they extrapolate through a dose-response whose shape is not the
generator's. Fits: 4 chains x (500 + 500) at the model's `target_accept` (with 2 chains of
500 draws R-hat exceeded 1.01 in 2 of 7 trials), subject effects not drawn back (the estimands
are functions of the globals).
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from independent_exposure import REGIMENS, population_change, trial
from scipy.stats import binom

from il6fit.data import as_read, prepare
from il6fit.diagnostics import Thresholds, judge
from il6fit.models import get_model
from il6fit.sampling import SamplerSettings, sample_posterior
from il6fit.settings import sampler_settings

pytestmark = pytest.mark.slow

N_TRIALS = 20
N_PER_ARM = 50
PROB = 0.9
STUDIED = ["4 mg/kg IV every 4 weeks", "8 mg/kg IV every 4 weeks"]
CONFIG = yaml.safe_load((Path(__file__).parents[2] / "config" / "config.yaml").read_text())


def fit(seed: int) -> dict:
    """Fit one trial; return each effect's posterior mean and 90 % interval, and the gate."""
    family = get_model("exposure_response")
    options = family.make_options({})
    subjects, measurements = trial(N_PER_ARM, seed=2000 + seed)
    data = prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )
    table = family.table(data.subjects, data.measurements, options)
    settings = replace(
        SamplerSettings(**sampler_settings(CONFIG, "exposure_response")),
        chains=4, draws=500, tune=500, cores=2,
    )  # fmt: skip
    tree = sample_posterior(family.build(table, None, options), settings, seed)
    thresholds = Thresholds(**CONFIG["diagnostics"]["thresholds"])
    _, _, failures = judge(tree, family.parameters, thresholds)
    effect = family.estimand_draws(tree, table, options, seed=seed + 1)["effect"]
    draws = effect.stack(sample=("chain", "draw")).transpose("active_regimen", "sample")
    return {
        "labels": [str(r) for r in draws["active_regimen"].values],
        "mean": draws.values.mean(axis=1),
        "interval": np.quantile(draws.values, [(1 - PROB) / 2, (1 + PROB) / 2], axis=1).T,
        "failed": "; ".join(failures),
    }


def test_studied_regimen_effects_cover_the_population_truth_of_an_independent_generator():
    change = population_change(24)
    fits = [fit(k) for k in range(N_TRIALS)]
    labels = fits[0]["labels"]
    truth = np.array([change[label] - change["placebo"] for label in labels])
    means = np.array([f["mean"] for f in fits])
    intervals = np.array([f["interval"] for f in fits])
    covered = ((intervals[:, :, 0] <= truth) & (truth <= intervals[:, :, 1])).sum(axis=0)
    for i, label in enumerate(labels):
        print(
            f"\n{label}: truth {truth[i]:.3f}, bias {means[:, i].mean() - truth[i]:+.3f} "
            f"(se {means[:, i].std() / np.sqrt(N_TRIALS):.3f}), {PROB:.0%} intervals covered in "
            f"{covered[i]} of {N_TRIALS}"
        )
    print(f"gate failed in {sum(bool(f['failed']) for f in fits)}: "
          f"{[f['failed'] for f in fits if f['failed']]}")  # fmt: skip
    studied = [labels.index(label) for label in STUDIED]
    misses = int(N_TRIALS * len(studied) - covered[studied].sum())
    assert binom.sf(10, N_TRIALS * len(studied), 1 - PROB) < 0.002
    assert misses <= 10, covered
    assert sum(bool(f["failed"]) for f in fits) <= 2
    assert set(REGIMENS) - {"placebo"} == set(labels)

"""Exposure-response on the simulator's trials: its population values over repeated trials (slow).

The simulator (il6fit.simulate) draws each patient's PK (Frey 2010, with between-patient
variability the model does not know patient by patient) and PD (Levi 2013, with variability
of Imax, by sex too, and of the DMARD effect, and baseline IL-6 covariates the model does not
have), and reports measured concentrations with Frey's residual error. The model's population
values are summaries of those patients: EC50 their median potency, Imax their mean, kout their
median rate, the baseline their mean DAS28-ESR as measured; each is computed here by Monte Carlo
over 20,000 simulated patients. Over 8 trials of 300 patients, a correct posterior misses a value
with its 90 % interval 10 % of the time: of 32 checks at most 8 misses (expected 3.2;
P(more) < 0.01) and no value missed in more than 3 of 8 trials (P < 0.01 each).

It failed until 2026-12-02 (Imax missed in 4 of 8 trials, always above): the simulator drew
joint counts around the square of their share of the activity, so the measured DAS28 sat
0.2-0.35 below the latent activity in treated patients and the drug's effect on it looked
larger than on the activity the simulator's Imax acts on. With components whose DAS28 averages
the activity it passes (docs/exposure-response.md).
"""

import time

import numpy as np
import pandas as pd
import pytest

from il6fit.data import as_read, prepare
from il6fit.data.scores import das28_esr
from il6fit.models import exposure_response as er
from il6fit.sampling import SamplerSettings, sample_posterior
from il6fit.simulate import scenario, simulate_cohort

pytestmark = pytest.mark.slow

TRIALS, PATIENTS = 8, 300
# the default config's sampler settings for the model (`sampler.models.exposure_response`)
SETTINGS = SamplerSettings(chains=2, draws=500, tune=500, target_accept=0.8, cores=2)


def population_truth() -> dict[str, float]:
    """The model's population values for the simulator's patients, by Monte Carlo."""
    _, measurements, truth = simulate_cohort(scenario("ra_tcz_trial", n_subjects=20_000), seed=99)
    latent = truth["subjects"]
    week0 = measurements[measurements["AVISITN"] == 0]
    wide = week0.pivot(index="USUBJID", columns="PARAMCD", values="AVAL").apply(pd.to_numeric)
    baseline = das28_esr(wide["TJC28"], wide["SJC28"], wide["ESR"], wide["PTGA"])
    return {
        "ec50": float(np.median(latent["ec50"])),
        "imax": float(np.mean(latent["emax"])),
        "kout": float(np.median(latent["kout"])),
        "mu_base": float(np.nanmean(baseline)),
    }


def test_90_percent_intervals_cover_the_simulators_population_values_at_the_binomial_rate():
    truth = population_truth()
    misses = dict.fromkeys(truth, 0)
    print(truth, flush=True)
    for seed in range(1, TRIALS + 1):
        subjects, measurements, _ = simulate_cohort(
            scenario("ra_tcz_trial", n_subjects=PATIENTS), seed=seed
        )
        data = prepare(
            as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
        )
        table = er.analysis_table(data.subjects, data.measurements, er.Options())
        model = er.build(table, dict(er.DEFAULT_PRIORS), er.Options())
        start = time.perf_counter()
        tree = sample_posterior(model, SETTINGS, seed + 100)
        row = [f"| {seed}"]
        for name in (*truth, "omega_kout"):
            draws = tree["posterior"][name].values
            low, high = np.quantile(draws, [0.05, 0.95])
            missed = name in truth and not low <= truth[name] <= high
            if missed:  # only a population value can be missed
                misses[name] += 1
            cell = f"{draws.mean():.3g} [{low:.3g}, {high:.3g}]"
            row.append(f"**{cell}**" if missed else cell)
        # the docs' table row (pytest -s shows it)
        print(" | ".join([*row, f"{(time.perf_counter() - start) / 60:.0f} |"]), flush=True)
    assert sum(misses.values()) <= 8, (misses, truth)
    assert max(misses.values()) <= 3, (misses, truth)

"""BMI missing at random in the IL-6 -> CRP model: modelled, the slopes still covered (slow).

Trials from a generator written here, not il6fit's simulator: BMI log-normal, IL-6 rising with
BMI, CRP log-linear in IL-6, BMI and sex with site effects, IL-6 below a 3 pg/mL limit for about
7 % of subjects, no AGE column at all. BMI is then deleted at random given what is observed (the
more often for men and for high reported IL-6, 30 % overall): missing at random. Each trial goes
through the intake (`prepare`, covariates `[bmi, male]`) and is fitted at the default config's
settings with the missing values modelled (`prepare.missing: model`). The 90 % intervals of the
IL-6 and BMI slopes must cover the population truth (least squares on two million subjects of
the generator, no missing values) as often as 90 % intervals do: the count of covering trials
within the central 99.9 % of Binomial(N, 0.9); the gate may fail at most 2 fits. Complete-case
fits of the same trials (BMI's rows dropped) are recorded beside (``pytest -s``).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.special import expit
from scipy.stats import binom

from il6fit.data import as_read, prepare
from il6fit.diagnostics import Thresholds, judge
from il6fit.models import get_model
from il6fit.sampling import SamplerSettings, sample_posterior
from il6fit.settings import sampler_settings

pytestmark = pytest.mark.slow

N_TRIALS = 30
N_SUBJECTS = 300
PROB = 0.9
CONFIG = yaml.safe_load((Path(__file__).parents[2] / "config" / "config.yaml").read_text())
OPTIONS = {"covariates": ["bmi", "male"]}
USES = {
    "BMI": "model_options.il6_crp.covariates: bmi",
    "SEX": "model_options.il6_crp.covariates: male",
}
SLOPES = ("beta_il6", "beta_bmi")


def population(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Subjects of the generator: sex, BMI, true IL-6 and CRP (no site effect, no limits)."""
    male = rng.uniform(size=n) < 0.25
    bmi = np.clip(np.exp(rng.normal(np.log(27.5), 0.18, n)), 15, 60)
    log_il6 = 2.6 + 0.05 * (bmi - 27) + rng.normal(0, 1.0, n)
    log_crp = (
        1.9 + 0.7 * (log_il6 - np.log(20)) + 0.03 * (bmi - 27) + 0.2 * male
        + rng.standard_t(30, n) * 0.8
    )  # fmt: skip
    return pd.DataFrame({"male": male, "BMI": bmi, "log_il6": log_il6, "log_crp": log_crp})


def truth() -> dict[str, float]:
    """Least-squares slopes of ln CRP on ln IL-6 and BMI (per 5 kg/m²) in the population."""
    pop = population(2_000_000, np.random.default_rng(0))
    design = np.column_stack(
        [np.ones(len(pop)), pop["log_il6"], (pop["BMI"] - 27) / 5, pop["male"]]
    )
    coef = np.linalg.lstsq(design, pop["log_crp"].to_numpy(), rcond=None)[0]
    return {"beta_il6": coef[1], "beta_bmi": coef[2]}


def trial(seed: int, missing: float = 0.30) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One trial's subjects (no AGE column) and measurements, BMI missing at random."""
    rng = np.random.default_rng(seed)
    pop = population(N_SUBJECTS, rng)
    sites = rng.integers(0, 6, N_SUBJECTS)
    shift = rng.normal(0, 0.3, 6)
    log_crp = pop["log_crp"].to_numpy() + shift[sites]
    il6 = np.exp(pop["log_il6"].to_numpy())
    below = il6 < 3.0
    # missing at random: more often for men and for high reported IL-6
    reported = np.log(np.where(below, 3.0, il6))
    logit = np.log(missing / (1 - missing)) + 0.8 * (pop["male"] - 0.25) + 0.5 * (reported - 2.6)
    gone = rng.uniform(size=N_SUBJECTS) < expit(logit)
    ids = [f"P{seed}-{i:03d}" for i in range(N_SUBJECTS)]
    subjects = pd.DataFrame(
        {
            "USUBJID": ids,
            "STUDYID": "INDEP",
            "SITEID": [f"{s + 1:02d}" for s in sites],
            "TRT01P": "cohort",
            "SEX": np.where(pop["male"], "M", "F"),
            "BMI": np.where(gone, "", np.round(pop["BMI"], 1).astype(str)),
        }
    )
    il6_text = np.where(below, "<3", np.round(il6, 2).astype(str))
    measurements = pd.DataFrame(
        {
            "USUBJID": np.repeat(ids, 2),
            "PARAMCD": ["IL6", "CRP"] * N_SUBJECTS,
            "AVAL": np.column_stack([np.where(below, "", il6_text), np.round(np.exp(log_crp), 3)])
            .ravel()
            .astype(str),
            "AVALC": np.column_stack([il6_text, np.round(np.exp(log_crp), 3)]).ravel().astype(str),
            "AVALU": ["pg/mL", "mg/L"] * N_SUBJECTS,
            "AVISITN": "0",
        }
    )
    return subjects, measurements


def fit(data, seed: int) -> dict:
    """Fit il6_crp to a prepared trial; the slopes' means, 90 % intervals and the gate."""
    family = get_model("il6_crp")
    options = family.make_options(OPTIONS)
    table = family.table(data.subjects, data.measurements, options)
    settings = SamplerSettings(**sampler_settings(CONFIG, "il6_crp"), cores=2)
    # no compiled model is reused: which rows lack BMI is the model's structure
    tree = sample_posterior(family.build(table, None, options), settings, seed)
    tree = family.complete(tree, seed + 1)
    _, _, failures = judge(
        tree, family.parameters, Thresholds(**CONFIG["diagnostics"]["thresholds"])
    )
    post = tree["posterior"]
    tail = (1 - PROB) / 2
    return {
        name: (float(post[name].mean()), *np.quantile(post[name].values, [tail, 1 - tail]))
        for name in SLOPES
    } | {
        "failed": "; ".join(failures),
        "rows": len(table),
        "missing": int(table["BMI"].isna().sum()),
    }


def prepared(seed: int, missing: float, how: str):
    subjects, measurements = trial(seed, missing)
    return prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m",
        subject_columns=USES, missing=how,
    )  # fmt: skip


def test_a_dataset_without_age_and_with_bmi_missing_fits_with_its_bmi_term():
    data = prepared(7, 0.08, "model")
    result = fit(data, seed=1)
    print(result)
    assert 0.04 < result["missing"] / result["rows"] < 0.12
    assert result["rows"] == N_SUBJECTS
    assert not result["failed"]
    assert result["beta_bmi"][1] < truth()["beta_bmi"] < result["beta_bmi"][2]


def test_slopes_are_covered_with_bmi_missing_at_random():
    true = truth()
    results = {"model": [], "drop": []}
    for k in range(N_TRIALS):
        for how in results:
            results[how].append(fit(prepared(2000 + k, 0.30, how), seed=10 * k))
    low, high = binom.ppf([0.0005, 0.9995], N_TRIALS, PROB)
    for how, fits in results.items():
        for name in SLOPES:
            means = np.array([f[name][0] for f in fits])
            covered = sum(f[name][1] <= true[name] <= f[name][2] for f in fits)
            print(
                f"{how} {name}: truth {true[name]:.4f}, bias {means.mean() - true[name]:+.4f} "
                f"(se {means.std(ddof=1) / np.sqrt(len(fits)):.4f}), covered {covered}/{N_TRIALS} "
                f"(allowance {low:.0f}-{high:.0f}), gate failures "
                f"{sum(bool(f['failed']) for f in fits)}, missing "
                f"{np.mean([f['missing'] / N_SUBJECTS for f in fits]):.3f}"
            )
    for name in SLOPES:
        covered = sum(f[name][1] <= true[name] <= f[name][2] for f in results["model"])
        assert low <= covered <= high, name
    assert sum(bool(f["failed"]) for f in results["model"]) <= 2

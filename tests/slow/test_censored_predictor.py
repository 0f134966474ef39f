"""IL-6 below its assay limit as a censored predictor beats substituting the limit (slow)."""

import pytest

from il6fit.data import as_read, prepare
from il6fit.diagnostics import summarise
from il6fit.inference import fit_model
from il6fit.models import get_model
from il6fit.sampling import SamplerSettings
from il6fit.simulate import scenario, simulate_cohort

pytestmark = pytest.mark.slow


def test_censored_il6_recovers_the_slope_that_substitution_misses():
    # healthy-like cohort with IL-6 median 1 pg/mL: about 70 % below the 1.5 pg/mL LLOQ
    spec = scenario("healthy", n_subjects=600, il6_median=1.0, crp_median=0.8, crp_lloq=0.05)
    subjects, measurements, _ = simulate_cohort(spec, seed=21)
    data = prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )
    below = data.measurements.query("PARAMCD == 'IL6'")["CENS"].eq(-1).mean()
    assert 0.6 < below < 0.8
    family = get_model("il6_crp")
    settings = SamplerSettings(chains=2, draws=1000, tune=1000, cores=2)
    options = {"visits": [0]}
    censored, _ = fit_model(
        family, data.subjects, data.measurements, options=options, settings=settings, seed=5
    )
    # substitution: the limit taken as if it had been measured
    substituted = data.measurements.assign(CENS=0)
    naive, _ = fit_model(family, data.subjects, substituted, options=options, settings=settings,
                         seed=5)  # fmt: skip
    slope = {
        name: summarise(tree, family.parameters, ci_kind="eti", ci_prob=0.9)
        .set_index("parameter")
        .loc["beta_il6"]
        for name, tree in (("censored", censored), ("substituted", naive))
    }
    truth = spec.crp_il6_slope
    print({k: (round(v["mean"], 3), round(v["ci_lower"], 3), round(v["ci_upper"], 3))
           for k, v in slope.items()}, "truth", truth, "below LLOQ", round(below, 3))  # fmt: skip
    assert slope["censored"]["ci_lower"] <= truth <= slope["censored"]["ci_upper"]
    assert not slope["substituted"]["ci_lower"] <= truth <= slope["substituted"]["ci_upper"]

"""A deliberately bad fit (centred eight schools, tiny tuning) is caught: `stop` and `escalate`."""

from functools import partial

import numpy as np
import pandas as pd
import pymc as pm
import pytest

from il6fit import escalation
from il6fit.diagnostics import Thresholds, gate, sampler_failures
from il6fit.errors import FitFailedError
from il6fit.escalation import Escalation
from il6fit.inference import fit_model
from il6fit.models import ModelFamily, ParameterInfo, Prior
from il6fit.models.family import NoOptions
from il6fit.report import FitSection, build_report
from il6fit.sampling import SamplerSettings
from il6fit.storage import fit_metadata

SCHOOLS = pd.DataFrame(
    {
        "y": [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0],
        "se": [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0],
    }
)
# tiny tuning and a low target acceptance: the centred funnel is not explored
BAD = SamplerSettings(chains=2, draws=200, tune=20, target_accept=0.8, cores=2)


def build_centred(table, priors, options):
    """Eight schools, centred: the funnel between tau and theta defeats NUTS."""
    with pm.Model(coords={"school": np.arange(len(table)), "obs": np.arange(len(table))}) as m:
        mu = priors["mu"].create("mu")
        tau = priors["tau"].create("tau")
        theta = pm.Normal("theta", mu, tau, dims="school")
        pm.Normal("y", theta, table["se"].to_numpy(), observed=table["y"].to_numpy(), dims="obs")
    return m


def family(build=build_centred, priors=None) -> ModelFamily:
    return ModelFamily(
        name="eight_schools",
        title="eight schools",
        options=NoOptions,
        requires=lambda options: (),
        parameters={
            "mu": ParameterInfo("mean effect", "points"),
            "tau": ParameterInfo("between-school SD", "points"),
        },
        default_priors=priors
        or {
            "mu": Prior("Normal", {"mu": 0.0, "sigma": 5.0}),
            "tau": Prior("HalfNormal", {"sigma": 5.0}),
        },
        analysis_table=lambda subjects, measurements, options: SCHOOLS,
        builder=build,
        equations="y_j ~ N(theta_j, se_j); theta_j ~ N(mu, tau)",
    )


def fit(fam, settings=BAD, **kwargs):
    empty = pd.DataFrame({"PARAMCD": []})
    return fit_model(
        fam, empty, empty, options={}, settings=settings, seed=3, warm_up=False, **kwargs
    )[0]


def judge_with(fam):
    return partial(sampler_failures, family=fam, thresholds=Thresholds())


@pytest.fixture(scope="module")
def bad_fit():
    return fit(family())


def test_stop_policy_fails_naming_the_fit_and_the_failing_checks(bad_fit):
    with pytest.raises(FitFailedError, match=r"eight_schools on schools failed .*tau\)"):
        gate(bad_fit, family(), fit_name="eight_schools on schools", thresholds=Thresholds(),
             on_failure="stop", ci_kind="eti", ci_prob=0.9)  # fmt: skip


def test_escalate_refits_with_more_tuning_records_every_attempt_and_marks_a_lasting_failure():
    fam = family()
    tree = fit(fam, judge=judge_with(fam), escalation=Escalation(max_attempts=2))
    attempts = fit_metadata(tree)["attempts"]
    assert [a["attempt"] for a in attempts] == [1, 2]
    assert [a["tune"] for a in attempts] == [20, 40]
    assert [a["target_accept"] for a in attempts] == [0.8, 0.9]
    assert not any(a["passed"] for a in attempts)
    assert all(any("tau" in f for f in a["failures"]) for a in attempts)
    summary, checks = gate(tree, fam, fit_name="eight_schools on schools", thresholds=Thresholds(),
                           on_failure="escalate", ci_kind="eti", ci_prob=0.9)  # fmt: skip
    assert not checks["passed"].all()
    section = FitSection(model="eight_schools", dataset="schools", title="", equations="",
                         priors={}, summary=summary, checks=checks,
                         metadata=fit_metadata(tree), rows_used=8)  # fmt: skip
    html = build_report(title="t", datasets=[], fits=[section], config={}, versions={})
    assert "still failing after 2 attempts: marked FAILED" in html
    assert "Fits that FAILED the diagnostics gate" in html


def test_escalation_ends_at_the_first_attempt_that_passes(bad_fit, monkeypatch):
    used = []

    def sample(model, settings, seed, **drawing):  # the sampler is not under test: reuse a fit
        used.append((settings.tune, settings.target_accept))
        return bad_fit.copy()

    monkeypatch.setattr(escalation, "sample", sample)
    verdicts = iter([["min bulk ESS 10 (limit >= 400; tau)"], []])
    tree, attempts = escalation.sample_until_sound(
        None, BAD, 3, judge=lambda tree: next(verdicts),
        escalation=Escalation(max_attempts=4, tune_factor=3, target_accept_max=0.85),
    )  # fmt: skip
    assert used == [(20, 0.8), (60, 0.85)]
    assert [(a["tune"], a["passed"]) for a in attempts] == [(20, False), (60, True)]
    assert attempts[0]["failures"] == ["min bulk ESS 10 (limit >= 400; tau)"]
    assert tree.identical(bad_fit)

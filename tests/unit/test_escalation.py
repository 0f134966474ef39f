"""A fit that fails the sampler checks is caught: `stop` and `escalate`, without MCMC.

Prior draws stand in for NUTS (``helpers.prior_posterior``); the bad fit's between-school SD
``tau`` is sorted within each chain, the trace of a sampler that crawled through the funnel of
the centred eight schools instead of exploring it: R-hat and ESS fail, naming tau. The same
checks against a real NUTS fit of the funnel: ``tests/slow/test_funnel.py``.
"""

from functools import partial

import numpy as np
import pandas as pd
import pytest
from helpers import SCHOOLS, build_centred, fast_fits, prior_posterior
from helpers import eight_schools as family

import il6fit.sampling
from il6fit import escalation
from il6fit.diagnostics import Thresholds, gate, sampler_failures
from il6fit.errors import FitFailedError
from il6fit.escalation import Escalation
from il6fit.inference import fit_model
from il6fit.report import FitSection, build_report
from il6fit.sampling import SamplerSettings
from il6fit.storage import fit_metadata

# tiny tuning and a low target acceptance: what a real sampler would not survive in the funnel
BAD = SamplerSettings(chains=2, draws=200, tune=20, target_accept=0.8, cores=2, prior_draws=50)


class StuckSampler:
    """Stand-in for ``sample_posterior``: prior draws with tau sorted within each chain.

    Records the settings of every call.
    """

    def __init__(self):
        self.calls = []

    def __call__(self, model, settings, seed, **kwargs):
        self.calls.append(settings)
        tree = prior_posterior(model, settings, seed)
        tau = tree["posterior"]["tau"]
        tree["posterior"]["tau"] = tau.copy(data=np.sort(tau.values, axis=1))
        return tree


@pytest.fixture
def stuck(monkeypatch):
    """Fits without MCMC whose tau did not mix; the sampler's calls in ``stuck.calls``."""
    fast_fits(monkeypatch)
    sampler = StuckSampler()
    monkeypatch.setattr(il6fit.sampling, "sample_posterior", sampler)
    return sampler


def fit(fam, settings=BAD, **kwargs):
    empty = pd.DataFrame({"PARAMCD": []})
    return fit_model(fam, empty, empty, options={}, settings=settings, seed=3, **kwargs)[0]


def judge_with(fam):
    return partial(sampler_failures, family=fam, thresholds=Thresholds())


def test_stop_policy_fails_naming_the_fit_and_the_failing_checks(stuck):
    bad_fit = fit(family())
    assert [s.tune for s in stuck.calls] == [20]  # sampled once: no judge, no escalation
    with pytest.raises(FitFailedError, match=r"eight_schools on schools failed .*tau\)") as error:
        gate(bad_fit, family(), fit_name="eight_schools on schools", thresholds=Thresholds(),
             on_failure="stop", ci_kind="eti", ci_prob=0.9)  # fmt: skip
    assert "max R-hat" in str(error.value) and "min bulk ESS" in str(error.value)


def test_escalate_refits_with_more_tuning_records_every_attempt_and_marks_a_lasting_failure(
    stuck,
):
    fam = family()
    tree = fit(fam, judge=judge_with(fam), escalation=Escalation(max_attempts=2))
    # the sampler was given the escalated settings, and each attempt records them
    assert [(s.tune, s.target_accept) for s in stuck.calls] == [(20, 0.8), (40, 0.9)]
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
    assert "1 FAILED the diagnostics gate" in html


def test_a_fit_that_passes_its_first_check_is_not_refitted(monkeypatch):
    fast_fits(monkeypatch)
    fam = family()
    judged = []
    tree = fit(fam, judge=lambda t: judged.append(t) or [], escalation=Escalation(max_attempts=3))
    assert len(judged) == 1
    (attempt,) = fit_metadata(tree)["attempts"]
    assert (attempt["attempt"], attempt["tune"], attempt["passed"]) == (1, 20, True)
    assert attempt["failures"] == []


def test_escalation_ends_at_the_first_attempt_that_passes(monkeypatch):
    stand_in = prior_posterior(build_centred(SCHOOLS, family().default_priors, None), BAD, 3)
    used = []

    def sample(model, settings, seed, **drawing):  # the sampler is not under test
        used.append((settings.tune, settings.target_accept))
        return stand_in.copy()

    monkeypatch.setattr(escalation, "sample", sample)
    verdicts = iter([["min bulk ESS 10 (limit >= 400; tau)"], []])
    tree, attempts = escalation.sample_until_sound(
        None, BAD, 3, judge=lambda tree: next(verdicts),
        escalation=Escalation(max_attempts=4, tune_factor=3, target_accept_max=0.85),
    )  # fmt: skip
    assert used == [(20, 0.8), (60, 0.85)]
    assert [(a["tune"], a["passed"]) for a in attempts] == [(20, False), (60, True)]
    assert attempts[0]["failures"] == ["min bulk ESS 10 (limit >= 400; tau)"]
    assert tree.identical(stand_in)

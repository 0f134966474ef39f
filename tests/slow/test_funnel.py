"""A real NUTS fit that fails is caught: the centred eight schools with tiny tuning (slow).

The unit tests (tests/unit/test_escalation.py) check `stop` and `escalate` on stand-in draws;
here the failure is the sampler's own, in the funnel between tau and theta.
"""

from functools import partial

import pandas as pd
import pytest
from helpers import eight_schools

from il6fit.diagnostics import Thresholds, gate, sampler_failures
from il6fit.errors import FitFailedError
from il6fit.escalation import Escalation
from il6fit.inference import fit_model
from il6fit.sampling import SamplerSettings
from il6fit.storage import fit_metadata

pytestmark = pytest.mark.slow

# tiny tuning and a low target acceptance: the centred funnel is not explored
BAD = SamplerSettings(chains=2, draws=200, tune=20, target_accept=0.8, cores=2)
FAMILY = eight_schools()


def fit(**kwargs):
    empty = pd.DataFrame({"PARAMCD": []})
    return fit_model(FAMILY, empty, empty, options={}, settings=BAD, seed=3, **kwargs)[0]


def test_nuts_in_the_funnel_fails_the_gate_naming_tau():
    with pytest.raises(FitFailedError, match=r"eight_schools on schools failed .*tau\)"):
        gate(fit(), FAMILY, fit_name="eight_schools on schools", thresholds=Thresholds(),
             on_failure="stop", ci_kind="eti", ci_prob=0.9)  # fmt: skip


def test_doubling_the_tiny_tuning_once_does_not_rescue_the_funnel():
    judge = partial(sampler_failures, family=FAMILY, thresholds=Thresholds())
    tree = fit(judge=judge, escalation=Escalation(max_attempts=2))
    attempts = fit_metadata(tree)["attempts"]
    assert [(a["tune"], a["target_accept"]) for a in attempts] == [(20, 0.8), (40, 0.9)]
    assert not any(a["passed"] for a in attempts)
    assert all(any("tau" in f for f in a["failures"]) for a in attempts)

"""nutpie through Python callbacks and through its compiled callbacks draw the same bits (slow).

Both routes run the same PyTensor numba functions of the log density, gradient and draws; only
the way nutpie calls them differs, so a fit job may take either without changing a result.
"""

import numpy as np
import pytest

from il6fit.data import as_read, prepare
from il6fit.models import get_model
from il6fit.sampling import CompiledModel, SamplerSettings, sample_posterior
from il6fit.simulate import scenario, simulate_cohort

pytestmark = pytest.mark.slow

SETTINGS = SamplerSettings(chains=2, draws=300, tune=300, cores=1)


def test_both_routes_draw_bit_identical_posteriors():
    subjects, measurements, _ = simulate_cohort(scenario("ra_tcz_trial", n_subjects=60), seed=3)
    data = prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )
    family = get_model("treatment_response")
    model = family.build(family.table(data.subjects, data.measurements))
    through_python = sample_posterior(model, SETTINGS, seed=11)["posterior"]
    compiled = sample_posterior(model, SETTINGS, seed=11, reuse=CompiledModel())["posterior"]
    assert sorted(through_python.data_vars) == sorted(compiled.data_vars)
    for name in through_python.data_vars:
        np.testing.assert_array_equal(through_python[name].values, compiled[name].values, name)

import math

import numpy as np
import pytest

from il6fit.data.scores import das28_crp, das28_esr, eular_response


def test_das28_crp_matches_the_published_formula():
    expected = 0.56 * 3 + 0.28 * 2 + 0.36 * math.log(24 + 1) + 0.014 * 70 + 0.96
    assert das28_crp(9, 4, 24.0, 70) == pytest.approx(expected)


def test_das28_crp_minimum_is_0_96():
    assert das28_crp(0, 0, 0.0, 0) == pytest.approx(0.96)


def test_das28_esr_matches_the_published_formula():
    expected = 0.56 * 4 + 0.28 * 3 + 0.70 * math.log(49) + 0.014 * 62
    assert das28_esr(16, 9, 49.0, 62) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("baseline", "current", "response"),
    [
        (6.0, 3.0, "good"),  # improvement 3.0, final <= 3.2
        (6.0, 4.0, "moderate"),  # > 1.2, final in (3.2, 5.1]
        (7.0, 5.5, "moderate"),  # > 1.2, final > 5.1
        (4.0, 3.2, "moderate"),  # (0.6, 1.2], final <= 3.2
        (5.5, 4.6, "moderate"),  # (0.6, 1.2], final <= 5.1
        (6.2, 5.3, "none"),  # (0.6, 1.2], final > 5.1
        (3.5, 3.0, "none"),  # <= 0.6
        (4.4, 3.2, "moderate"),  # exactly 1.2 is not > 1.2
    ],
)
def test_eular_response_follows_the_eular_table(baseline, current, response):
    assert eular_response([baseline], [current])[0] == response


def test_eular_response_is_empty_where_a_score_is_missing():
    assert eular_response([np.nan, 6.0], [3.0, np.nan]).tolist() == ["", ""]

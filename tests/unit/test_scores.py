import math

import numpy as np
import pytest

from il6fit.data.scores import (
    EULAR_CATEGORIES,
    das28_crp,
    das28_esr,
    eular_possible,
    eular_response,
    eular_response_bounded,
    remission_bounded,
)


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


def test_bounded_eular_of_exact_scores_is_the_eular_table():
    rng = np.random.default_rng(0)
    base, current = (np.round(rng.uniform(1.0, 8.0, 5000), 1) for _ in range(2))
    np.testing.assert_array_equal(
        eular_response_bounded(base, base, current, current), eular_response(base, current)
    )


def test_the_possible_categories_are_those_met_anywhere_in_the_bounds():
    rng = np.random.default_rng(1)
    for _ in range(300):
        b0, c0 = np.round(rng.uniform(1.0, 8.0, 2), 2)
        b1, c1 = b0 + np.round(rng.uniform(0, 1.5), 2), c0 + np.round(rng.uniform(0, 1.5), 2)
        # a fine grid that also holds every threshold crossing of the box's edges
        grid_b = np.union1d(np.linspace(b0, b1, 151), [b0, b1])
        grid_c = np.union1d(np.linspace(c0, c1, 151), [c for c in (3.2, 5.1) if c0 <= c <= c1])
        b, c = (g.ravel() for g in np.meshgrid(grid_b, grid_c))
        met = set(eular_response(b, c))
        possible = eular_possible([b0], [b1], [c0], [c1])[0]
        assert {n for n, p in zip(EULAR_CATEGORIES, possible, strict=True) if p} == met


@pytest.mark.parametrize(
    ("bounds", "category"),
    [
        ((6.0, 6.0, 1.8, 2.3), "good"),  # improvement > 3.7 and current <= 3.2 throughout
        ((6.0, 6.0, 2.78, 3.28), ""),  # current may be above 3.2: good or moderate
        ((4.0, 4.6, 3.9, 3.9), ""),  # improvement 0.1-0.7: none or moderate
        ((-np.inf, 6.0, 2.0, 2.0), ""),  # a baseline open below: any improvement up to 4
        ((-np.inf, 2.0, 2.0, 2.0), "none"),  # ... but never one above 0
        ((6.0, 6.0, 5.5, np.inf), "none"),  # improvement <= 0.5 whatever the current score
        ((np.nan, 6.0, 3.0, 3.0), ""),
    ],
)
def test_bounded_eular_is_given_only_where_the_bounds_decide_it(bounds, category):
    assert eular_response_bounded(*([b] for b in bounds))[0] == category


def test_bounded_remission_needs_every_possible_score_on_one_side():
    assert remission_bounded([1.8, 2.5, 2.6, np.nan], [2.3, 2.7, 3.0, np.nan]).tolist() == [
        "Y",
        "",
        "N",
        "",
    ]

"""Summaries of recovery studies repeated at a fixed truth."""

from math import comb

import numpy as np
import pandas as pd
import pytest

from il6fit.validation import repeated_recovery_summary


def trials(covered, z, parameter="b", truth=0.5):
    return pd.DataFrame(
        {
            "seed": np.arange(len(z)),
            "parameter": parameter,
            "truth": truth,
            "covered": covered,
            "z": z,
        }
    )


def binomial_cdf(k, n, p):
    return sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def test_the_range_is_the_central_95_percent_of_covering_trials():
    # the range depends on the number of trials alone
    row = repeated_recovery_summary(trials([True] * 50, np.zeros(50))).iloc[0]
    low, high = row["covered_low"], row["covered_high"]
    # at most 2.5 % of the probability below the range and above it, and the range is the
    # narrowest such: one step in from either end leaves more than 2.5 % outside
    assert binomial_cdf(low - 1, 50, 0.9) <= 0.025 < binomial_cdf(low, 50, 0.9)
    assert 1 - binomial_cdf(high, 50, 0.9) <= 0.025 < 1 - binomial_cdf(high - 1, 50, 0.9)
    assert (low, high) == (41, 49)


def test_coverage_z_and_their_spread_from_known_trials():
    covered = [True] * 35 + [False] * 15
    z = np.r_[np.full(35, 0.5), np.full(15, 2.5)]
    row = repeated_recovery_summary(trials(covered, z)).iloc[0]
    assert row["trials"] == 50 and row["covered"] == 35
    assert row["coverage"] == pytest.approx(0.7)
    assert not row["in_range"]  # 35 of 50 is far below what 90 % intervals give
    assert row["mean_z"] == pytest.approx((35 * 0.5 + 15 * 2.5) / 50)
    assert row["sd_z"] == pytest.approx(np.std(z, ddof=1))
    assert row["se_mean_z"] == pytest.approx(np.std(z, ddof=1) / np.sqrt(50))
    assert row["within_2sd"] == pytest.approx(0.7)
    assert row["max_abs_z"] == pytest.approx(2.5)


def test_parameters_keep_their_order_and_their_own_rows():
    rows = pd.concat(
        [
            trials([True, True], [0.1, -0.1], parameter="z_second", truth=2.0),
            trials([False, True], [2.2, 0.2], parameter="a_first", truth=1.0),
        ]
    )
    summary = repeated_recovery_summary(rows)
    assert summary["parameter"].tolist() == ["z_second", "a_first"]
    assert summary["truth"].tolist() == [2.0, 1.0]
    assert summary["covered"].tolist() == [2, 1]
    assert summary["mean_z"].tolist() == pytest.approx([0.0, 1.2])

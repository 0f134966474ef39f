"""Simulation-based calibration: the verdict from known ranks (no fits; the check with teeth,
60 small fits: tests/slow/test_sbc_fits.py)."""

import numpy as np
import pandas as pd
import pytest

from il6fit.ranks import band_level, mean_rank_z, rank_ecdf, summarise_ranks


def ranks_table(ranks, quantity="theta", n_ranks=49):
    return pd.DataFrame(
        {"model": "m", "replicate": range(len(ranks)), "quantity": quantity, "kind": "parameter",
         "rank": ranks, "n_ranks": n_ranks, "in_50": True, "in_80": True, "in_90": True,
         "in_95": True, "gate_passed": True}
    )  # fmt: skip


def test_uniform_ranks_pass_and_piled_up_ranks_fail():
    rng = np.random.default_rng(1)
    uniform = ranks_table(rng.integers(0, 50, size=200))
    assert summarise_ranks(uniform)["within_band"].all()
    # a posterior too narrow puts the truth in the tails: ranks pile up at 0 and 49
    tails = ranks_table(np.where(rng.uniform(size=200) < 0.5, 0, 49))
    verdict = summarise_ranks(tails).iloc[0]
    assert not verdict["within_band"]
    assert verdict["max_ecdf_gap"] > 0.3


def test_a_calibrated_quantity_leaves_its_band_as_often_as_the_band_allows():
    # uniform ranks, 30 replicates: arviz-stats' jittered PIT band left them 6.1-6.3 % of the
    # time at 95 %; the rank-grid band must hold to 5 % within simulation error (se 0.34 %)
    rng = np.random.default_rng(11)
    outside = 0
    for _ in range(4000):
        _, ecdf, lower, upper = rank_ecdf(ranks_table(rng.integers(0, 50, size=30)), 0.95)
        outside += ((ecdf < lower) | (ecdf > upper)).any()
    assert 0.035 < outside / 4000 <= 0.055


def test_the_verdict_depends_on_the_ranks_alone():
    rng = np.random.default_rng(4)
    ranks = rng.integers(0, 50, size=120)
    ranks[:12] = 0  # a borderline excess of low ranks
    first = ranks_table(ranks, quantity="beta")
    same = ranks_table(rng.permutation(ranks), quantity="odds_ratio")
    verdicts = summarise_ranks(pd.concat([first, same])).set_index("quantity")
    columns = ["max_ecdf_gap", "within_band", "mean_rank_z"]
    assert verdicts.loc["beta", columns].tolist() == verdicts.loc["odds_ratio", columns].tolist()


def test_a_shifted_posterior_is_caught_and_its_direction_shown():
    rng = np.random.default_rng(5)
    # truth above most draws: ranks from 10 to 49 instead of 0 to 49
    shifted = ranks_table(rng.integers(10, 50, size=300))
    verdict = summarise_ranks(shifted).iloc[0]
    assert not verdict["within_band"]
    assert verdict["mean_rank_z"] > 5
    # mean rank 24.5 exactly: z 0
    assert mean_rank_z(ranks_table([0, 49, 24, 25])) == pytest.approx(0.0)


def test_coverage_is_the_share_of_replicates_inside_each_interval():
    table = ranks_table([10, 20, 30, 40])
    table["in_50"] = [True, False, False, True]
    row = summarise_ranks(table).iloc[0]
    assert row["coverage_50"] == 0.5
    assert row["coverage_95"] == 1.0
    assert row["replicates"] == 4


def test_bands_widen_with_the_number_of_quantities():
    assert band_level(0.95, 1) == pytest.approx(0.95)
    assert band_level(0.95, 20) == pytest.approx(0.9975)


def test_a_replicate_draws_integrated_out_values_back_only_when_the_gate_reads_them():
    import types

    import xarray as xr

    from il6fit.data import as_read, prepare
    from il6fit.models import get_model
    from il6fit.sbc import Calibrator
    from il6fit.simulate import scenario, simulate_cohort

    family = get_model("exposure_response")
    subjects, measurements, _ = simulate_cohort(scenario("ra_tcz_trial", n_subjects=6), seed=1)
    data = prepare(
        as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
    )
    options = family.make_options({})
    table = family.table(data.subjects, data.measurements, options)
    generator = family.generative(table, family.priors(None), options)
    judged = [p for p in family.parameters if p in generator.named_vars]
    # a parameter only an option adds (IL-6 on EC50) is neither sampled nor judged here
    assert "il6_ec50" in family.parameters and "il6_ec50" not in judged
    posterior = xr.Dataset({name: (("chain", "draw"), np.zeros((1, 4))) for name in judged})
    assert not family.calibration.estimands
    calibrator = types.SimpleNamespace(names=judged, judged=judged, family=family)
    tree = xr.DataTree.from_dict({"posterior": posterior})
    assert not Calibrator._needs_latent(calibrator, tree)
    first = judged[0]
    tree = xr.DataTree.from_dict({"posterior": posterior.drop_vars(first)})
    assert Calibrator._needs_latent(calibrator, tree)

"""Known-answer tests for salesgan_utils.stats: intervals over seeds and paired comparisons."""
import numpy as np
import pytest
from scipy import stats

from salesgan_utils import stats as ev


@pytest.mark.parametrize("values, expected", [
    ([1.0, 2.0, 3.0], (2.0, 2.0 - 4.302653 / np.sqrt(3), 2.0 + 4.302653 / np.sqrt(3))),  # t(0.975, 2) = 4.302653
    ([5.0, 5.0], (5.0, 5.0, 5.0)),
])
def test_mean_ci_is_a_t_interval(values, expected):
    assert ev.mean_ci(values) == pytest.approx(expected, rel=1e-6)


def test_mean_ci_of_one_value_has_no_interval():
    mean, low, high = ev.mean_ci([4.0])
    assert mean == 4.0 and np.isnan(low) and np.isnan(high)


@pytest.mark.parametrize("horizon, statistic", [
    # d = [1, 2, 3, 4]: mean 2.5, gamma0 = 1.25, gamma1 = 0.3125
    (1, 2.5 / np.sqrt(1.25 / 4) * np.sqrt(3 / 4)),                  # HLN factor sqrt((n+1-2)/n)
    (2, 2.5 / np.sqrt((1.25 + 2 * 0.3125) / 4) * np.sqrt(1.5 / 4)),  # sqrt((n+1-4+2/n)/n)
])
def test_diebold_mariano_hand_values(horizon, statistic):
    loss_b = np.array([3.0, 1.0, 4.0, 1.0])
    got, p_value = ev.diebold_mariano(loss_b + np.array([1.0, 2.0, 3.0, 4.0]), loss_b, horizon=horizon)
    assert got == pytest.approx(statistic)
    assert p_value == pytest.approx(2 * stats.t.sf(statistic, df=3))


def test_diebold_mariano_identical_errors_give_p_one_and_a_shift_a_small_p():
    errors = np.random.default_rng(0).gamma(2.0, 1.0, size=200)
    assert ev.diebold_mariano(errors, errors) == (0.0, 1.0)
    noise = np.random.default_rng(1).normal(0, 0.3, size=200)
    statistic, p_value = ev.diebold_mariano(errors + 1.0 + noise, errors)
    assert statistic > 0 and p_value < 1e-10
    assert ev.diebold_mariano(errors, errors + 1.0 + noise)[0] < 0


def test_paired_bootstrap_of_a_constant_shift_is_exact():
    b = np.full(50, 2.0) + np.arange(50) % 3
    out = ev.paired_bootstrap(b + 1.0, b, n_boot=300, seed=0)
    assert (out["diff"], out["diff_low"], out["diff_high"]) == pytest.approx((1.0, 1.0, 1.0))
    assert out["pct"] == pytest.approx(100.0 / b.mean())
    same = ev.paired_bootstrap(b, b, n_boot=300, seed=0)
    assert (same["diff"], same["diff_low"], same["diff_high"], same["pct"]) == (0.0, 0.0, 0.0, 0.0)


def test_paired_bootstrap_is_seeded_and_clusters_widen_the_interval():
    # within each of 4 groups the differential is constant (+2, -1, +1, -2): windows of a group are not independent
    groups = np.repeat(np.arange(4), 25)
    a = np.repeat([2.0, -1.0, 1.0, -2.0], 25) + 10.0
    b = np.full(100, 10.0)
    iid = ev.paired_bootstrap(a, b, n_boot=500, seed=3)
    clustered = ev.paired_bootstrap(a, b, groups=groups, n_boot=500, seed=3)
    assert iid == ev.paired_bootstrap(a, b, n_boot=500, seed=3)
    assert clustered["diff_high"] - clustered["diff_low"] > 2 * (iid["diff_high"] - iid["diff_low"])


def test_paired_comparison_merges_dm_and_bootstrap():
    a, b = np.array([2.0, 3.0, 4.0, 5.0]), np.array([1.0, 1.0, 1.0, 1.0])
    out = ev.paired_comparison(a, b, n_boot=100)
    assert out["diff"] == pytest.approx(2.5) and out["pct"] == pytest.approx(250.0)
    assert (out["dm_stat"], out["dm_p"]) == pytest.approx(ev.diebold_mariano(a, b))


def test_paired_comparison_tests_entities_not_overlapping_windows():
    from salesgan_utils.stats import paired_comparison

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(6), 200)  # 6 entities x 200 overlapping windows each
    shift = np.repeat(rng.normal(0, 1, 6), 200)  # each entity's own (random-sign) difference
    reference = rng.random(1200)
    clustered = paired_comparison(reference + shift, reference, groups=groups, n_boot=200)
    windows = paired_comparison(reference + shift, reference, n_boot=200)
    assert clustered["dm_n"] == 6 and windows["dm_n"] == 1200
    # 1200 windows look like overwhelming evidence; 6 entities with mixed signs are not
    assert windows["dm_p"] < 1e-6 < clustered["dm_p"]

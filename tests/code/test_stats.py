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


def _seed_runs(rng, n_seeds: int, effect_pct: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed scores of two training procedures on the same test set: a shared seed-level component (same real
    windows, same initialisation) plus each procedure's own training noise; the candidate is `effect_pct` worse."""
    shared = rng.normal(0.0, 0.05, n_seeds)
    reference = 1.0 + shared + rng.normal(0.0, 0.03, n_seeds)
    candidate = (1.0 + shared + rng.normal(0.0, 0.03, n_seeds)) * (1.0 + effect_pct / 100.0)
    return candidate, reference


def test_seed_paired_test_p_values_are_uniform_when_variants_differ_only_by_seed():
    rng = np.random.default_rng(0)
    p_values = np.array([ev.seed_paired_test(*_seed_runs(rng, 5))["p"] for _ in range(2000)])
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    assert 0.035 < np.mean(p_values < 0.05) < 0.065


def test_seed_paired_test_detects_a_planted_effect_and_its_interval_covers_it():
    rng = np.random.default_rng(1)
    runs = [ev.seed_paired_test(*_seed_runs(rng, 5, effect_pct=10.0)) for _ in range(200)]
    assert np.mean([r["p"] < 0.05 for r in runs]) > 0.9
    assert np.mean([r["pct_low"] <= 10.0 <= r["pct_high"] for r in runs]) > 0.9
    assert all(r["n_seeds"] == 5 for r in runs)


def test_seed_paired_test_hand_values_and_edge_cases():
    out = ev.seed_paired_test([1.1, 1.2, 1.0], [1.0, 1.0, 1.0])   # changes +10, +20, 0 %
    assert out["pct"] == pytest.approx(10.0) and out["diff"] == pytest.approx(0.1)
    half = 4.302653 * 10.0 / np.sqrt(3)                              # t(0.975, 2) * sd / sqrt(n)
    assert (out["pct_low"], out["pct_high"]) == pytest.approx((10.0 - half, 10.0 + half), rel=1e-6)
    assert out["p"] == pytest.approx(stats.ttest_1samp([10.0, 20.0, 0.0], 0.0).pvalue)
    assert ev.seed_paired_test([2.0, 3.0], [2.0, 3.0])["p"] == 1.0
    assert np.isnan(ev.seed_paired_test([2.0], [1.0])["p"])
    with pytest.raises(ValueError, match="one per seed"):
        ev.seed_paired_test([1.0, 2.0], [1.0])


def test_hierarchical_bootstrap_of_identical_variants_is_zero_and_a_planted_change_is_found():
    rng = np.random.default_rng(2)
    reference = rng.gamma(2.0, 0.3, size=(5, 40))
    weights = rng.random(40)
    same = ev.hierarchical_bootstrap(reference, reference, weights, n_boot=300)
    assert (same["pct"], same["pct_low"], same["pct_high"]) == (0.0, 0.0, 0.0)
    worse = ev.hierarchical_bootstrap(reference * 1.2, reference, weights, n_boot=300)
    assert worse["pct"] == pytest.approx(20.0) and worse["pct_low"] == pytest.approx(20.0)
    noisy = ev.hierarchical_bootstrap(reference * rng.normal(1.2, 0.1, reference.shape), reference, weights,
                                      n_boot=500, seed=3)
    assert 0 < noisy["pct_low"] < 20.0 < noisy["pct_high"]


def test_hierarchical_bootstrap_is_seeded_and_wider_with_seed_spread():
    rng = np.random.default_rng(4)
    reference = rng.gamma(2.0, 0.3, size=(5, 40))
    entity_effect = rng.normal(1.0, 0.05, 40)
    steady = reference * entity_effect                                      # same change on every seed
    seed_spread = reference * entity_effect * rng.normal(1.0, 0.2, (5, 1))  # seeds disagree
    a = ev.hierarchical_bootstrap(steady, reference, n_boot=400, seed=5)
    assert a == ev.hierarchical_bootstrap(steady, reference, n_boot=400, seed=5)
    b = ev.hierarchical_bootstrap(seed_spread, reference, n_boot=400, seed=5)
    assert b["pct_high"] - b["pct_low"] > 2 * (a["pct_high"] - a["pct_low"])


def test_daily_dm_test_uses_h_minus_one_lags():
    rng = np.random.default_rng(6)
    a, b = rng.gamma(2.0, 1.0, 60), rng.gamma(2.0, 1.0, 60)
    out = ev.daily_dm_test(a, b, horizon=7)
    assert (out["dm_stat"], out["dm_p"]) == pytest.approx(ev.diebold_mariano(a, b, horizon=7))
    assert out["dm_days"] == 60


def test_blocked_paired_test_hand_values():
    # folds {1, 3} and {5, 7}: mean 4; each s^2 = 2 over S = 2 seeds: variance (1 + 1) / 4 = 0.5;
    # Welch-Satterthwaite df = 0.5^2 / (2 * 0.25^2 / 1) = 2
    out = ev.blocked_paired_test({0: [1.0, 3.0], 1: [5.0, 7.0]})
    half = stats.t.ppf(0.975, 2) * np.sqrt(0.5)
    assert out["pct"] == 4.0 and out["df"] == pytest.approx(2.0) and out["n_pairs"] == 4
    assert (out["pct_low"], out["pct_high"]) == pytest.approx((4.0 - half, 4.0 + half))
    assert out["p"] == pytest.approx(2 * stats.t.sf(4.0 / np.sqrt(0.5), 2))
    assert out["per_fold"][1][0] == 6.0 and out["across"][0] == 4.0
    # each fold weighs the same whatever its seed count
    assert ev.blocked_paired_test({0: [0.0, 0.0, 0.0, 3.0], 1: [9.0, 9.0]})["pct"] == pytest.approx(4.875)


def test_blocked_paired_test_edge_cases():
    one_seed = ev.blocked_paired_test({0: [2.0], 1: [1.0, 3.0]})
    assert one_seed["pct"] == 2.0 and np.isnan(one_seed["p"])
    flat = ev.blocked_paired_test({0: [0.0, 0.0], 1: [0.0, 0.0]})
    assert flat["p"] == 1.0
    with pytest.raises(ValueError, match="no finite change"):
        ev.blocked_paired_test({0: [np.nan]})


def test_blocked_paired_test_p_values_are_near_uniform_without_an_effect():
    rng = np.random.default_rng(0)
    spreads = (0.5, 1.0, 2.0)  # folds differ in seed noise; no fold has an effect
    p = np.array([ev.blocked_paired_test({f: rng.normal(0.0, s, 3) for f, s in enumerate(spreads)})["p"]
                  for _ in range(2000)])
    assert 0.025 <= (p < 0.05).mean() <= 0.075
    planted = [ev.blocked_paired_test({f: rng.normal(-3.0, 1.0, 3) for f in range(3)})["p"] for _ in range(200)]
    assert np.mean(np.array(planted) < 0.05) > 0.9


def test_holm_hand_values():
    # sorted 0.01, 0.03, 0.04 -> 3 x 0.01, 2 x 0.03, max(0.06, 1 x 0.04)
    np.testing.assert_allclose(ev.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(ev.holm([0.5, np.nan, 0.9]), [1.0, np.nan, 1.0])


def test_rank_agreement():
    assert ev.rank_agreement([1, 2, 3, 4], [10, 20, 30, 40])["spearman"] == pytest.approx(1.0)
    assert ev.rank_agreement([1, 2, 3, 4], [4, 3, 2, 1])["spearman"] == pytest.approx(-1.0)
    assert np.isnan(ev.rank_agreement([1, 2], [1, 2])["spearman"])

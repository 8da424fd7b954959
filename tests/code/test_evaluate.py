"""Known-answer tests for salesgan_utils.evaluate: every expected value below is computed by hand."""
import numpy as np
import pytest
from scipy import stats

from salesgan_utils import evaluate as ev
from salesgan_utils.windows import random_windowset

FORECAST = np.array([[1.0, 2.0], [0.0, 0.0]])
OBSERVED = np.array([[0.0, 0.0], [1.0, 3.0]])
# abs errors [1, 2], [1, 3] -> window MAE [1.5, 2]; squared [1, 4], [1, 9] -> window MSE [2.5, 5]


@pytest.mark.parametrize("metric, args, expected", [
    (ev.mae, (), 1.75),
    (ev.rmse, (), np.sqrt(3.75)),
    (ev.mase, (np.array([0.5, 4.0]),), (3.0 + 0.5) / 2),            # 1.5/0.5, 2/4
    (ev.rmsse, (np.array([2.5, 20.0]),), (1.0 + 0.5) / 2),          # sqrt(2.5/2.5), sqrt(5/20)
    (ev.mase, (np.array([0.0, 4.0]),), 0.5),                        # a zero scale drops the window
])
def test_point_metrics_on_hand_values(metric, args, expected):
    assert metric(FORECAST, OBSERVED, *args) == pytest.approx(expected)


def test_window_errors_and_point_metrics_dict():
    np.testing.assert_allclose(ev.window_abs_error(FORECAST, OBSERVED), [1.5, 2.0])
    np.testing.assert_allclose(ev.window_sq_error(FORECAST, OBSERVED), [2.5, 5.0])
    out = ev.point_metrics(FORECAST, OBSERVED, np.array([0.5, 4.0]), np.array([2.5, 20.0]))
    assert out == pytest.approx({"mae": 1.75, "rmse": np.sqrt(3.75), "mase": 1.75, "rmsse": 0.75})


def test_point_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="must both be"):
        ev.mae(FORECAST, OBSERVED[:1])


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


@pytest.mark.parametrize("k", [1, 4])
def test_crps_of_a_point_mass_is_the_absolute_error(k):
    observed = np.array([[0.0, 3.0, 1.0], [2.0, 2.0, 0.0]])
    point = np.array([[1.0, 1.0, 1.0], [0.0, 5.0, 0.0]])
    samples = np.repeat(point[:, None, :], k, axis=1)
    assert ev.crps_samples(samples, observed) == pytest.approx(np.abs(point - observed).mean())


def test_crps_two_samples_hand_value():
    # E|X - 1| = 1, E|X - X'| = (0 + 2 + 2 + 0) / 4 = 1 -> 1 - 0.5
    assert ev.crps_samples(np.array([[[0.0], [2.0]]]), np.array([[1.0]])) == pytest.approx(0.5)


@pytest.mark.parametrize("level, observed, expected", [
    (0.5, [2.0, 3.0, 7.5, 8.0], 0.5),   # interval [2.5, 7.5] of samples 0..10
    (0.9, [0.0, 0.5, 9.5, 10.0], 0.5),  # interval [0.5, 9.5]
])
def test_interval_coverage_hand_values(level, observed, expected):
    samples = np.tile(np.arange(11.0)[None, :, None], (4, 1, 1))
    assert ev.interval_coverage(samples, np.array(observed)[:, None], level) == pytest.approx(expected)


def test_interval_coverage_includes_ends_for_zero_samples():
    assert ev.interval_coverage(np.zeros((3, 5, 2)), np.zeros((3, 2)), 0.5) == 1.0


def test_diversity_ratio_known_answers():
    # s^2 = 2, m = 1, (m - 3)^2 = 4 -> sqrt(3/2 * 2 / 4)
    assert ev.diversity_ratio(np.array([[[0.0], [2.0]]]), np.array([[3.0]])) == pytest.approx(np.sqrt(0.75))
    collapsed = np.repeat(np.random.default_rng(0).random((20, 1, 7)), 5, axis=1)
    assert ev.diversity_ratio(collapsed, np.random.default_rng(1).random((20, 7))) == pytest.approx(0.0, abs=1e-12)
    # real = one more draw from the samples' distribution -> about 1
    draws = np.random.default_rng(2).normal(size=(4000, 6, 7))
    assert ev.diversity_ratio(draws[:, :5], draws[:, 5]) == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize("real, synthetic, expected", [
    ([0.0, 0.0, 1.0], [0.0, 1.0, 1.0], 1.0 / 3.0),
    ([[1.0, 2.0], [3.0, 4.0]], [[3.5, 4.5], [5.5, 6.5]], 2.5),
])
def test_wasserstein_marginal_hand_values(real, synthetic, expected):
    assert ev.wasserstein_marginal(np.array(real), np.array(synthetic)) == pytest.approx(expected)


@pytest.mark.parametrize("synthetic, expected", [
    ([0.2, 0.6, 3.0, 0.4], 0.0),   # two of four under 0.5 units, as in real
    ([1.0, 1.0, 1.0, 0.0], -0.25),
])
def test_zero_share_difference(synthetic, expected):
    assert ev.zero_share_difference(np.array([0.0, 0.0, 1.0, 2.0]), np.array(synthetic)) == pytest.approx(expected)


def test_autocorrelation_hand_values():
    alternating = np.array([[1.0, 0, 1, 0, 1, 0, 1], [0.0, 1, 0, 1, 0, 1, 0]])
    np.testing.assert_allclose(ev.autocorrelation(alternating, [1, 2, 3]), [-1.0, 1.0, -1.0])
    ramp = np.arange(7.0)[None, :]
    np.testing.assert_allclose(ev.autocorrelation(ramp, [1, 6][:1]), [1.0])
    assert np.isnan(ev.autocorrelation(np.ones((2, 7)), [1])[0])


def test_cross_correlation_pairs_straddle_the_origin():
    history = np.array([[9.0, 0.0, 1.0], [9.0, 2.0, 0.0], [9.0, 1.0, 2.0]])
    target = np.array([[2.0, 5.0], [0.0, 5.0], [4.0, 5.0]])
    # lag 1: history[:, -1] = [1, 0, 2] vs target[:, 0] = [2, 0, 4] -> +1
    # lag 2: pairs (history[:, 1], target[:, 0]) and (history[:, 2], target[:, 1]):
    #   a = [0, 2, 1, 1, 0, 2], b = [2, 0, 4, 5, 5, 5]
    a, b = np.array([0, 2, 1, 1, 0, 2.0]), np.array([2, 0, 4, 5, 5, 5.0])
    np.testing.assert_allclose(ev.cross_correlation(history, target, [1, 2]), [1.0, np.corrcoef(a, b)[0, 1]])


def test_sequence_stat_ks_known_answers():
    real = np.array([[0.0, 0, 0, 1], [0.0, 2, 0, 0], [0.0, 0, 0, 0]])
    assert ev.sequence_stat_ks(real, real) == {"ks_mean": 0.0, "ks_std": 0.0, "ks_max": 0.0, "ks_zero_count": 0.0}
    out = ev.sequence_stat_ks(real, real + 5.0)
    assert out["ks_mean"] == 1.0 and out["ks_zero_count"] == 1.0 and out["ks_std"] == 0.0


@pytest.fixture(scope="module")
def windows():
    return random_windowset(160, seed=0)


def test_discriminative_score_real_vs_itself_is_zero(windows):
    score = ev.discriminative_score(windows.target, windows.target, real_history=windows.history,
                                    synthetic_history=windows.history, seed=0, epochs=5)
    assert score == pytest.approx(0.0, abs=0.02)


def test_discriminative_score_real_vs_shuffled_noise_is_about_half(windows):
    noise = np.random.default_rng(1).permutation(np.random.default_rng(2).random(windows.target.size))
    noise = noise.reshape(windows.target.shape)
    kwargs = dict(real_history=windows.history, synthetic_history=windows.history, seed=0, epochs=20)
    score = ev.discriminative_score(windows.target, noise, **kwargs)
    assert score >= 0.4
    assert score == ev.discriminative_score(windows.target, noise, **kwargs)  # seeded


def test_predictive_score_tstr_equals_trtr_for_real_and_exceeds_it_for_a_bad_generator(windows):
    test = random_windowset(48, seed=5)
    kwargs = dict(real_history=windows.history, synthetic_history=windows.history, test_history=test.history,
                  test_target=test.target, seed=0, epochs=8)
    same = ev.predictive_score(windows.target, windows.target.copy(), **kwargs)
    assert same["tstr_mae"] == same["trtr_mae"] and same["tstr_minus_trtr"] == 0.0
    bad = ev.predictive_score(windows.target, np.ones_like(windows.target), **kwargs)
    assert bad["tstr_mae"] > bad["trtr_mae"] + 0.2


def test_sample_quality_report_of_perfect_copies(windows):
    subset = windows.subset(np.arange(64))
    test = random_windowset(32, seed=7)
    samples = np.repeat(subset.target[:, None, :], 3, axis=1)
    report = ev.sample_quality_report(subset, samples, test_windows=test,
                                      test_samples_scaled=np.repeat(test.target[:, None, :], 3, axis=1),
                                      baseline_test_samples_scaled=np.zeros((32, 3, 7)), classifier_epochs=3,
                                      forecaster_epochs=3)
    for key in ("wasserstein_units", "zero_share_difference", "ks_mean", "ks_std", "ks_max", "ks_zero_count",
                "acf_mean_abs_diff", "xcf_mean_abs_diff", "crps_generator",
                "tstr_minus_trtr"):
        assert report[key] == pytest.approx(0.0, abs=1e-12), key
    assert report["discriminative_score"] == pytest.approx(0.0, abs=0.04)
    assert np.isnan(report["diversity_ratio"])  # no spread and no error: 0 / 0, undefined by design
    assert report["coverage50_generator"] == report["coverage90_generator"] == 1.0
    observed = test.to_units(test.target)
    assert report["crps_baseline"] == pytest.approx(np.abs(observed).mean())
    assert report["acf_real_lag1"] == pytest.approx(report["acf_synthetic_lag1"])


def test_paired_comparison_tests_entities_not_overlapping_windows():
    from salesgan_utils.evaluate import paired_comparison

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(6), 200)  # 6 entities x 200 overlapping windows each
    shift = np.repeat(rng.normal(0, 1, 6), 200)  # each entity's own (random-sign) difference
    reference = rng.random(1200)
    clustered = paired_comparison(reference + shift, reference, groups=groups, n_boot=200)
    windows = paired_comparison(reference + shift, reference, n_boot=200)
    assert clustered["dm_n"] == 6 and windows["dm_n"] == 1200
    # 1200 windows look like overwhelming evidence; 6 entities with mixed signs are not
    assert windows["dm_p"] < 1e-6 < clustered["dm_p"]

"""Known-answer tests for salesgan_utils.metrics: every expected value below is computed by hand."""
import numpy as np
import pytest

from salesgan_utils import metrics as ev

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

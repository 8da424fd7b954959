"""Known-answer tests for salesgan_utils.metrics: every expected value below is computed by hand."""
import numpy as np
import pandas as pd
import pytest

from salesgan_utils import metrics as ev

# Two series. Train: a = [0, 2, 0, 2] (one-step naive squared errors 4, 4, 4 -> scale 4);
#                    b = [1, 1, 4]    (0, 9 -> scale 4.5).
TRAIN = pd.DataFrame({"unique_id": ["a"] * 4 + ["b"] * 3,
                      "ds": list(pd.date_range("2020-01-01", periods=4)) + list(pd.date_range("2020-01-02", periods=3)),
                      "y": [0.0, 2.0, 0.0, 2.0, 1.0, 1.0, 4.0]})
# Evaluation rows: two origins of a share a date (overlapping windows): every row counts once.
EVAL = pd.DataFrame({"unique_id": ["a", "a", "a", "b", "b"],
                     "ds": pd.to_datetime(["2020-01-05", "2020-01-06", "2020-01-06", "2020-01-05", "2020-01-06"]),
                     "y": [1.0, 0.0, 0.0, 3.0, 0.0],
                     "f": [0.0, 2.0, 0.0, 0.0, 3.0]})
# a: squared errors 1, 4, 0 -> MSE 5/3 -> RMSSE sqrt(5/12); b: 9, 9 -> MSE 9 -> RMSSE sqrt(2)


def test_rmsse_per_series_pools_rows_then_roots_with_the_one_step_naive_scale():
    out = ev.rmsse_per_series(EVAL, ["f"], TRAIN)
    assert out.loc["a", "f"] == pytest.approx(np.sqrt(5 / 12))
    assert out.loc["b", "f"] == pytest.approx(np.sqrt(2.0))
    np.testing.assert_allclose(ev.naive_scale(TRAIN).sort_index(), [4.0, 4.5])


def test_wrmsse_weights_and_renormalises_over_present_series():
    per_series = ev.rmsse_per_series(EVAL, ["f"], TRAIN)
    weights = pd.Series({"a": 4.0, "b": 6.0, "absent": 10.0})
    expected = (4 * np.sqrt(5 / 12) + 6 * np.sqrt(2.0)) / 10
    assert ev.wrmsse(per_series, weights)["f"] == pytest.approx(expected)


def test_perfect_forecast_scores_zero_and_the_in_sample_naive_scores_one():
    perfect = EVAL.assign(f=EVAL["y"])
    assert ev.wrmsse(ev.rmsse_per_series(perfect, ["f"], TRAIN), pd.Series({"a": 1.0, "b": 3.0}))["f"] == 0.0
    # the one-step naive forecast of the train period itself: MSE = the scale for every series, RMSSE = 1
    naive = TRAIN.assign(f=TRAIN.groupby("unique_id")["y"].shift(1)).dropna()
    per_series = ev.rmsse_per_series(naive, ["f"], TRAIN)
    np.testing.assert_allclose(per_series["f"], 1.0)
    assert ev.wrmsse(per_series, pd.Series({"a": 0.3, "b": 0.7}))["f"] == pytest.approx(1.0)


def test_constant_train_series_is_dropped_not_infinite():
    train = pd.concat([TRAIN, pd.DataFrame({"unique_id": ["c"] * 3, "ds": pd.date_range("2020-01-01", periods=3),
                                            "y": [2.0, 2.0, 2.0]})])
    rows = pd.concat([EVAL, pd.DataFrame({"unique_id": ["c"], "ds": pd.to_datetime(["2020-01-05"]), "y": [1.0],
                                          "f": [0.0]})])
    assert list(ev.rmsse_per_series(rows, ["f"], train).index) == ["a", "b"]


def test_pooled_errors_on_hand_values():
    out = ev.pooled_errors(EVAL.assign(g=EVAL["y"]), ["f", "g"])
    # abs errors 1, 2, 0, 3, 3 -> 9/5; squared 1, 4, 0, 9, 9 -> sqrt(23/5); bias (5 - 4) / 5
    assert out.loc["f"].to_dict() == pytest.approx({"mae": 1.8, "rmse": np.sqrt(23 / 5), "bias": 0.2})
    assert out.loc["g"].to_dict() == pytest.approx({"mae": 0.0, "rmse": 0.0, "bias": 0.0})


def test_array_mae_and_shape_check():
    assert ev.mae(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]])) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="differ in shape"):
        ev.mae(np.zeros((2, 2)), np.zeros((1, 2)))


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


# ---- fair CRPS, randomised PIT, conditional checks (issue 11) ------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 5])
def test_fair_crps_of_a_point_mass_is_the_absolute_error(k):
    observed = np.array([[0.0, 3.0, 1.0], [2.0, 2.0, 0.0]])
    point = np.array([[1.0, 1.0, 1.0], [0.0, 5.0, 0.0]])
    samples = np.repeat(point[:, None, :], k, axis=1)
    assert ev.crps_fair(samples, observed) == pytest.approx(np.abs(point - observed).mean())
    np.testing.assert_allclose(ev.crps_fair_windows(samples, observed), np.abs(point - observed).mean(axis=1))


def test_fair_crps_two_samples_hand_value():
    # E|X - 1| = 1; fair spread sum_{i!=j}|xi - xj| / (K(K-1)) = (2 + 2) / 2 = 2 -> 1 - 0.5 * 2 = 0 (biased: 0.5)
    assert ev.crps_fair(np.array([[[0.0], [2.0]]]), np.array([[1.0]])) == pytest.approx(0.0)


def test_fair_crps_is_unbiased_for_draws_from_the_true_distribution_and_the_k2_form_is_not():
    # CRPS of N(0, 1) at y: y(2Φ(y) - 1) + 2φ(y) - 1/√π; at y = 0 it is 2φ(0) - 1/√π = 0.2337
    from scipy import stats

    rng = np.random.default_rng(0)
    y = np.array([0.0, 1.0, -2.0])
    exact = np.mean(y * (2 * stats.norm.cdf(y) - 1) + 2 * stats.norm.pdf(y) - 1 / np.sqrt(np.pi))
    samples = rng.standard_normal((20_000, 4, 3))  # K = 4 draws per forecast, 20,000 independent forecasts
    observed = np.tile(y, (20_000, 1))
    assert ev.crps_fair(samples, observed) == pytest.approx(exact, abs=0.01)
    # the K^2 form under-counts the spread by (K-1)/K: expected bias 0.5 * E|X-X'| / K = 0.5 * (2/√π) / 4 = 0.141
    assert ev.crps_samples(samples, observed) - exact == pytest.approx(0.141, abs=0.01)


def test_randomized_pit_of_a_calibrated_count_sampler_is_uniform():
    rng = np.random.default_rng(1)
    lam = rng.uniform(0.05, 3.0, size=(4_000, 1, 7))
    samples = rng.poisson(np.broadcast_to(lam, (4_000, 200, 7))).astype(float)
    observed = rng.poisson(lam[:, 0, :]).astype(float)
    pit = ev.randomized_pit(samples, observed, seed=0)
    assert ev.pit_max_deviation(pit) < 0.01
    assert ev.pit_coverage(pit, 0.5) == pytest.approx(0.5, abs=0.01)
    assert ev.pit_coverage(pit, 0.9) == pytest.approx(0.9, abs=0.01)
    scores = ev.probabilistic_scores(samples, observed)
    assert scores["coverage90"] == pytest.approx(0.9, abs=0.01) and scores["k_samples"] == 200
    # the same draws shifted up by one unit are biased: the PIT piles up in the low deciles
    assert ev.pit_max_deviation(ev.randomized_pit(samples + 1, observed)) > 0.1


def test_randomized_pit_hand_values():
    samples = np.array([[[0.0], [0.0], [1.0], [2.0]]])  # F(0-) = 0, F(0) = 0.5; F(1-) = 0.5, F(1) = 0.75
    assert 0.0 <= ev.randomized_pit(samples, np.array([[0.0]]))[0, 0] <= 0.5
    assert 0.5 <= ev.randomized_pit(samples, np.array([[1.0]]))[0, 0] <= 0.75
    assert ev.randomized_pit(samples, np.array([[5.0]]))[0, 0] == 1.0
    assert ev.pit_max_deviation(np.linspace(0.05, 0.95, 10)) == pytest.approx(0.0)
    assert ev.pit_max_deviation(np.zeros(10)) == pytest.approx(0.9)


def test_integer_share_and_conditional_means_hand_values():
    assert ev.integer_share(np.array([0.0, 1.0, 2.5, 3.0000001])) == 0.75
    history = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 4.0]] * 4)  # levels 0, 1, 2
    real = np.tile(np.array([[0.0, 1.0], [1.0, 1.0], [3.0, 5.0]]), (4, 1))
    synthetic = np.repeat(real[:, None, :], 3, axis=1) * 2
    out = ev.conditional_means(history, real, synthetic)
    assert out["cond_mean_zero_history_real"] == 0.5 and out["cond_mean_zero_history_synthetic"] == 1.0
    assert out["cond_mean_top_decile_real"] == 4.0 and out["cond_mean_top_decile_synthetic"] == 8.0
    assert out["n_zero_history"] == 4 and out["n_top_decile"] == 4

"""Each baseline on a hand-made series against its hand-computed forecast."""
import numpy as np
import pytest

from salesgan_utils import baselines as bl

# eight days of sales: demand sizes [1, 3, 2, 4] at days 0, 2, 5, 7
SERIES = np.array([[1.0, 0.0, 3.0, 0.0, 0.0, 2.0, 0.0, 4.0]])

# Croston by hand (SES with alpha 0.1, level starts at the first value):
#   sizes 1, 3, 2, 4          -> 1, 1.2, 1.28, 1.552
#   intervals 1, 2, 3, 2      -> 1, 1.1, 1.29, 1.361
#   SBA = 0.95 * 1.552 / 1.361
# TSB: demand probability 1,0,1,0,0,1,0,1 -> 1, .9, .91, .819, .7371, .76339, .687051, .7183459; x size 1.552
CROSTON_SBA = 0.95 * 1.552 / 1.361
TSB = 0.7183459 * 1.552


@pytest.mark.parametrize("forecaster, kwargs, expected", [
    (bl.zero_forecast, {}, [0.0] * 7),
    (bl.naive_forecast, {}, [4.0] * 7),
    (bl.seasonal_naive_forecast, {}, [0.0, 3.0, 0.0, 0.0, 2.0, 0.0, 4.0]),
    (bl.seasonal_naive_forecast, {"horizon": 9}, [0.0, 3.0, 0.0, 0.0, 2.0, 0.0, 4.0, 0.0, 3.0]),
    (bl.seasonal_naive_forecast, {"horizon": 3, "period": 2}, [0.0, 4.0, 0.0]),
    (bl.moving_average_forecast, {"window": 3}, [2.0] * 7),           # (2 + 0 + 4) / 3
    (bl.moving_average_forecast, {"window": 100}, [10.0 / 8] * 7),     # capped at the whole history
    (bl.croston_sba_forecast, {}, [CROSTON_SBA] * 7),
    (bl.tsb_forecast, {}, [TSB] * 7),
    (bl.tsb_forecast, {"alpha_p": 0.5, "alpha_d": 0.5},                # p: 1,.5,.75,.375,.1875,.59375,.296875,.6484375
     [0.6484375 * 3.0] * 7),                                           # size: 1, 2, 2, 3
])
def test_baseline_on_hand_series(forecaster, kwargs, expected):
    np.testing.assert_allclose(forecaster(SERIES, **kwargs), [expected], rtol=1e-6)


@pytest.mark.parametrize("forecaster", [bl.adida_forecast, bl.imapa_forecast])
def test_aggregation_methods_keep_a_constant_demand(forecaster):
    np.testing.assert_allclose(forecaster(np.full((2, 30), 2.0), horizon=5), np.full((2, 5), 2.0), rtol=1e-6)


@pytest.mark.parametrize("forecaster", [bl.croston_sba_forecast, bl.tsb_forecast, bl.adida_forecast,
                                        bl.imapa_forecast])
def test_intermittent_methods_give_zero_without_demand_and_keep_row_order(forecaster):
    other = np.array([[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 5.0]])
    rows = np.concatenate([SERIES, np.zeros((1, 8)), SERIES, other])
    out = forecaster(rows)
    np.testing.assert_array_equal(out[1], 0.0)
    np.testing.assert_allclose(out[0], forecaster(SERIES)[0])
    np.testing.assert_allclose(out[2], out[0])
    np.testing.assert_allclose(out[3], forecaster(other)[0])


def test_all_point_baselines_match_the_single_functions():
    out = bl.all_point_baselines(SERIES, horizon=7, ma_window=3)
    assert list(out) == list(bl.POINT_BASELINES)
    np.testing.assert_allclose(out["moving_average"], [[2.0] * 7])
    np.testing.assert_allclose(out["croston_sba"], [[CROSTON_SBA] * 7], rtol=1e-6)


def test_seasonal_naive_needs_a_full_season():
    with pytest.raises(ValueError, match="shorter than 7"):
        bl.seasonal_naive_forecast(np.zeros((2, 5)))


def test_block_resample_sampler_draws_whole_aligned_blocks():
    history = np.arange(14.0)[None, :]          # blocks back from the origin: 7..13 and 0..6
    samples = bl.block_resample_sampler(history, horizon=7, k=40, seed=0)
    assert samples.shape == (1, 40, 7)
    starts = samples[0, :, 0]
    assert set(starts) == {0.0, 7.0}
    np.testing.assert_array_equal(samples[0], starts[:, None] + np.arange(7.0))


def test_block_resample_sampler_keeps_weekdays_and_concatenates_blocks():
    history = np.tile(np.arange(30.0), (3, 1))  # 4 blocks start at days 23, 16, 9, 2: days 0 and 1 are never used
    samples = bl.block_resample_sampler(history, horizon=9, k=25, seed=1)
    assert samples.shape == (3, 25, 9) and samples.min() >= 2.0
    # value v sits at target day i only if v and day 30 + i share a weekday
    assert np.all((samples - np.arange(9.0) - 30.0) % 7 == 0)
    np.testing.assert_array_equal(samples[:, :, :7] - samples[:, :, :1], np.broadcast_to(np.arange(7.0), (3, 25, 7)))
    np.testing.assert_array_equal(samples, bl.block_resample_sampler(history, horizon=9, k=25, seed=1))
    assert not np.array_equal(samples, bl.block_resample_sampler(history, horizon=9, k=25, seed=2))


@pytest.mark.parametrize("forecaster, model", [
    (bl.croston_sba_forecast, ("CrostonSBA", {})),
    (bl.tsb_forecast, ("TSB", {"alpha_d": 0.1, "alpha_p": 0.1})),
])
def test_forecasting_distinct_histories_once_equals_statsforecast_row_by_row(forecaster, model):
    from statsforecast import models

    rng = np.random.default_rng(0)
    rows = rng.poisson(1.0, (40, 30)) * (rng.random((40, 30)) > 0.7)
    rows[:10] = 0                     # all-zero histories, as most Olist ones are
    rows[10:15] = rows[15:20]         # duplicates
    rows = rows.astype(np.float64)
    name, kwargs = model
    reference = getattr(models, name)(**kwargs)
    expected = np.stack([reference.forecast(y=row, h=7)["mean"] for row in rows])
    np.testing.assert_array_equal(forecaster(rows), expected)


def test_zero_sampler_is_a_point_mass_at_zero():
    out = bl.zero_sampler(np.ones((3, 30)), 7, k=4)
    assert out.shape == (3, 4, 7) and not out.any()


def test_count_model_sampler_matches_each_history_moments_and_is_whole_units():
    rng = np.random.default_rng(0)
    poisson_history = rng.poisson(2.0, size=(1, 300)).astype(float)
    bursty = np.zeros((1, 300))
    bursty[0, ::10] = 10.0  # mean 1, variance 9: over-dispersed -> negative binomial
    history = np.concatenate([poisson_history, bursty, np.zeros((1, 300))])
    out = bl.count_model_sampler(history, 7, k=4000, seed=0)
    assert out.shape == (3, 4000, 7)
    assert np.all(out == np.round(out)) and out.min() >= 0
    np.testing.assert_allclose(out.mean(axis=(1, 2))[:2], history.mean(axis=1)[:2], rtol=0.05)
    assert out[1].var() == pytest.approx(history[1].var(ddof=1), rel=0.15)
    assert not out[2].any()  # all-zero history: zero point mass
    np.testing.assert_array_equal(out, bl.count_model_sampler(history, 7, k=4000, seed=0))


def test_history_analog_sampler_returns_the_targets_of_the_nearest_histories():
    # pool histories (relative scale h / (1 + mean)): a flat 0, a flat 1, a flat 10 and a late spike
    pool_history = np.array([[0.0] * 4, [1.0] * 4, [10.0] * 4, [0.0, 0.0, 0.0, 8.0]])
    pool_target = np.array([[0.0, 0.0], [1.0, 2.0], [10.0, 11.0], [5.0, 0.0]])
    # [0, 0, 0, 7] is [0, 0, 0, 2.55] relative: the spike (2.67 on its last day) at 0.01, the flat 1 (0.5 a day)
    # at 0.75 + 2.05^2 = 4.93, the flat 0 at 2.55^2 = 6.48
    history = np.array([[0.0, 0.0, 0.0, 7.0],
                        [2.0, 2.0, 2.0, 2.0]])   # relative 2/3: nearest flat 1 (1/2), then flat 10 (10/11)
    out = bl.history_analog_sampler(history, pool_history, pool_target, k=2)
    np.testing.assert_array_equal(out[0], [[5.0, 0.0], [1.0, 2.0]])
    np.testing.assert_array_equal(out[1], [[1.0, 2.0], [10.0, 11.0]])


def test_history_analog_sampler_never_draws_a_windows_own_target():
    pool_history = np.array([[0.0, 1.0], [0.0, 1.0], [3.0, 3.0]])
    pool_target = np.array([[1.0], [2.0], [3.0]])
    out = bl.history_analog_sampler(pool_history, pool_history, pool_target, k=1, exclude=np.arange(3))
    np.testing.assert_array_equal(out[:, 0, 0], [2.0, 1.0, 1.0])  # 0 <-> 1 are twins; 2's nearest is 0 (tie: first)
    with pytest.raises(ValueError, match="k = 3"):
        bl.history_analog_sampler(pool_history, pool_history, pool_target, k=3, exclude=np.arange(3))


def test_history_analog_sampler_on_a_large_pool_matches_a_full_stable_sort():
    rng = np.random.default_rng(0)
    pool_history = rng.poisson(0.3, size=(600, 6)).astype(float)  # many exact ties
    pool_target = np.arange(600, dtype=float)[:, None]             # the target names its pool index
    history = rng.poisson(0.3, size=(50, 6)).astype(float)
    got = bl.history_analog_sampler(history, pool_history, pool_target, k=4)[:, :, 0].astype(int)

    def rel(x):
        return x / (1 + x.mean(axis=1, keepdims=True))

    distance = ((rel(history)[:, None, :] - rel(pool_history)[None, :, :]) ** 2).sum(axis=2)
    expected = np.argsort(np.round(distance, 9), axis=1, kind="stable")[:, :4]
    np.testing.assert_array_equal(got, expected)

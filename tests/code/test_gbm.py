"""The global LightGBM forecaster: features by hand, features that only read what is known at the origin, and
a seeded fit that forecasts whole windows in units."""
from __future__ import annotations

import numpy as np
import pytest

from salesgan_utils import gbm
from salesgan_utils.windows import random_windowset


def _one_window(history_units):
    ws = random_windowset(n=1, seed=0)
    ws.scale_min[:], ws.scale_range[:] = 0.0, 1.0
    ws.history = np.asarray(history_units, dtype=np.float32)[None, :]
    return ws


def test_features_by_hand():
    history = np.zeros(30)
    history[-3], history[-1] = 3.0, 5.0
    ws = _one_window(history)
    table = dict(zip(gbm.feature_names(ws), gbm.features(ws)[0]))
    assert table["lag_1"] == 5.0 and table["lag_3"] == 3.0 and table["lag_2"] == 0.0
    assert table["mean_7"] == pytest.approx(8.0 / 7) and table["zero_share_7"] == pytest.approx(5.0 / 7)
    assert table["days_since_sale"] == 0.0 and table["history_max"] == 5.0 and table["step"] == 1.0
    silent = dict(zip(gbm.feature_names(ws), gbm.features(_one_window(np.zeros(30)))[0]))
    assert silent["days_since_sale"] == 30.0
    steps = gbm.features(ws)[:, gbm.feature_names(ws).index("step")]
    np.testing.assert_array_equal(steps, np.arange(1, ws.horizon + 1))


def test_features_use_only_what_is_known_at_the_origin():
    ws = random_windowset(n=40, seed=1)
    before = gbm.features(ws)
    changed = ws.subset(np.arange(len(ws)))
    changed.target = np.random.default_rng(0).random(changed.target.shape).astype(np.float32) * 9
    np.testing.assert_array_equal(before, gbm.features(changed))  # the targets never enter a feature
    np.testing.assert_array_equal(gbm.targets(changed), changed.to_units(changed.target).reshape(-1))
    later = ws.subset(np.arange(len(ws)))
    later.history = later.history.copy()
    later.history[:, -1] += 1.0  # the origin day itself is known at the origin and must matter
    assert not np.array_equal(before, gbm.features(later))


def test_fit_is_seeded_and_forecasts_units():
    train, val = random_windowset(n=300, seed=2), random_windowset(n=80, seed=3)
    params = gbm.GRID[0]
    first = gbm.fit_gbm(train, val, seed=0, params=params)
    again = gbm.fit_gbm(train, val, seed=0, params=params)
    forecast = first.predict(val)
    assert forecast.shape == (len(val), val.horizon) and (forecast >= 0).all()
    np.testing.assert_array_equal(forecast, again.predict(val))
    assert 1 <= first.best_iteration <= gbm.MAX_ROUNDS
    assert gbm.config_label(params) == "tweedie leaves=7 min_leaf=20"


def test_forecast_fit_forecasts_every_split():
    train, val, test = random_windowset(n=200, seed=4), random_windowset(n=50, seed=5), random_windowset(n=20, seed=6)
    out = gbm.forecast_fit(train, val, {"val": val, "test": test}, seed=1, params=gbm.GRID[3])
    assert out["forecasts"]["test"].shape == (20, test.horizon) and out["best_iteration"] >= 1

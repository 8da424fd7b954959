"""A global LightGBM forecaster, the way M5's winners forecast intermittent sales: a Tweedie objective on
lag, rolling and calendar features, one model for every entity, direct multi-step (the step is a feature).

Each window gives H rows, one per target step h = 1..H; every feature of a row is known at the window's origin:
the history (lags 1-14, rolling means and zero shares over 7/14/30 days, days since the last sale, the history
maximum, all in units), the calendar of target day h, the review features at the origin, and h itself. The target
never enters a feature (`features` reads `history`, `calendar` and `reviews` only; a test changes the targets and
checks that the features stay equal). Forecasts are in units, never negative.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .windows import WindowSet

MODEL = "lightgbm"  # its model name in stage 04's forecast table
LAGS = tuple(range(1, 15))
ROLLING_DAYS = (7, 14, 30)
# The hyperparameter grid chosen from on validation (docs/analysis_plan.md, section 5); the rest is fixed.
GRID = tuple({"num_leaves": leaves, "min_data_in_leaf": leaf_data} for leaves in (7, 31) for leaf_data in (20, 100))
FIXED = {"objective": "tweedie", "tweedie_variance_power": 1.5, "learning_rate": 0.05, "feature_fraction": 0.9,
         "bagging_fraction": 0.9, "bagging_freq": 1, "verbosity": -1, "num_threads": 1, "deterministic": True,
         "force_col_wise": True}
MAX_ROUNDS, EARLY_STOPPING = 400, 30


def feature_names(windows: WindowSet) -> list[str]:
    """Names of the columns of `features`, in order."""
    names = [f"lag_{k}" for k in LAGS if k <= windows.history_days]
    for days in ROLLING_DAYS:
        names += [f"mean_{days}", f"zero_share_{days}"]
    names += ["days_since_sale", "history_max", "step"]
    return names + [f"target_{n}" for n in windows.calendar_names] + list(windows.review_names)


def features(windows: WindowSet) -> np.ndarray:
    """(N * H, F) float32 features, row i * H + (h - 1) for window i and step h (names: `feature_names`).

    Args:
        windows: any windows (the history is read in units through their train-period scaling).

    Returns:
        The feature matrix; reads `history`, `calendar` and `reviews` only.
    """
    n, length, horizon = len(windows), windows.history_days, windows.horizon
    history = windows.to_units(windows.history)
    per_window = [history[:, length - k] for k in LAGS if k <= length]
    for days in ROLLING_DAYS:
        recent = history[:, -min(days, length):]
        per_window += [recent.mean(axis=1), (recent < 0.5).mean(axis=1)]
    sold = history >= 0.5
    last_sale = np.where(sold.any(axis=1), length - 1 - np.argmax(sold[:, ::-1], axis=1), -1)
    per_window += [np.where(last_sale >= 0, length - 1 - last_sale, length).astype(np.float64), history.max(axis=1)]
    window_block = np.repeat(np.stack(per_window, axis=1), horizon, axis=0)
    step = np.tile(np.arange(1, horizon + 1, dtype=np.float64), n)[:, None]
    calendar = windows.calendar.reshape(n * horizon, -1)
    reviews = np.repeat(windows.reviews, horizon, axis=0)
    return np.concatenate([window_block, step, calendar, reviews], axis=1).astype(np.float32)


def targets(windows: WindowSet) -> np.ndarray:
    """(N * H,) the target in units, aligned with `features` rows."""
    return windows.to_units(windows.target).reshape(-1)


def config_label(params: dict) -> str:
    """A grid point as a config string, e.g. "tweedie leaves=7 min_leaf=20"."""
    return f"tweedie leaves={params['num_leaves']} min_leaf={params['min_data_in_leaf']}"


@dataclass
class FittedGBM:
    """A trained LightGBM booster, its parameters and the best iteration on the early-stopping windows."""

    booster: object
    params: dict
    best_iteration: int
    names: list = field(default_factory=list)

    def predict(self, windows: WindowSet) -> np.ndarray:
        """(N, H) forecasts in units (>= 0)."""
        raw = self.booster.predict(features(windows), num_iteration=self.best_iteration or None)
        return np.maximum(np.asarray(raw, dtype=np.float64), 0.0).reshape(len(windows), windows.horizon)


def fit_gbm(train: WindowSet, val_stop: WindowSet, *, seed: int, params: dict) -> FittedGBM:
    """Fit one LightGBM on `train`'s windows, early-stopped on `val_stop`'s (Tweedie deviance).

    Args:
        train: the fit's real windows.
        val_stop: the windows early stopping reads.
        seed: LightGBM's seed (bagging, feature sampling).
        params: a grid point (`GRID`), merged over `FIXED`.

    Returns:
        FittedGBM.
    """
    import lightgbm as lgb

    settings = {**FIXED, **params, "seed": int(seed)}
    names = feature_names(train)
    # lightgbm refuses a min_data_in_leaf that no split of a small set can satisfy gracefully: cap it at the rows
    settings["min_data_in_leaf"] = int(min(settings["min_data_in_leaf"], max(1, len(train) * train.horizon // 4)))
    data = lgb.Dataset(features(train), targets(train), feature_name=names, free_raw_data=True)
    valid = lgb.Dataset(features(val_stop), targets(val_stop), reference=data)
    booster = lgb.train(settings, data, num_boost_round=MAX_ROUNDS, valid_sets=[valid],
                        callbacks=[lgb.early_stopping(EARLY_STOPPING, verbose=False)])
    return FittedGBM(booster=booster, params=dict(params), best_iteration=int(booster.best_iteration or 0),
                     names=names)


def forecast_fit(train: WindowSet, val_stop: WindowSet, splits: dict, *, seed: int, params: dict) -> dict:
    """Fit one LightGBM and forecast every split: {"forecasts": {split: (N, H) units}, "best_iteration",
    "fit_seconds"}, the shape of one LSTM fit's result in stage 04."""
    import time

    started = time.perf_counter()
    fitted = fit_gbm(train, val_stop, seed=seed, params=params)
    return {"forecasts": {name: fitted.predict(windows) for name, windows in splits.items()},
            "best_iteration": fitted.best_iteration, "fit_seconds": time.perf_counter() - started}


@dataclass(frozen=True)
class GbmJob:
    """One LightGBM fit of stage 04 (phase D), an `executor` job: its real windows (indices into train), seed and
    grid point."""

    n_real: int
    seed: int
    keep: np.ndarray
    params: dict


def fit_job(context, job: GbmJob) -> dict:
    """Fit one LightGBM on the job's real windows of `context.train`, early-stopped on the validation subset a user
    with that many windows holds out (`study.validation_subset`), and forecast `context.val` and `context.test`
    (one LightGBM thread: the same result in any process)."""
    from .study import validation_subset

    stop = context.val.subset(validation_subset(len(context.val), len(context.train), job.n_real, job.seed))
    return forecast_fit(context.train.subset(job.keep), stop, {"val": context.val, "test": context.test},
                        seed=job.seed, params=job.params)

"""Forecast windows: 30 days of history -> 7 target days, as arrays every later stage shares.

A window is keyed by its entity and its *forecast origin* (the last history day). Everything a model may see
at the origin (history, the calendar of the target days, reviews created on or before the origin) travels with
the window; the target is what it must predict. Values are scaled per entity with train-period statistics
(`scaled = (units - scale_min) / scale_range`); `WindowSet.to_units` inverts that exactly.

Windows are cut with `numpy.lib.stride_tricks.sliding_window_view` over the dense entity x day arrays of the
panel: no Python loop over entities or windows.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import CALENDAR_NAMES, REVIEW_NAMES, review_features_at, scaled_from_units, units_from_scaled

HISTORY_DAYS = 30
HORIZON_DAYS = 7


@dataclass
class WindowSet:
    """N windows of one split, all arrays aligned on the first axis.

    Attributes:
        history: (N, L) float32, scaled units of the L history days (the last one is the forecast origin).
        target: (N, H) float32, scaled units of the H days after the origin.
        calendar: (N, H, C) float32, calendar features of the target days (names in `calendar_names`).
        reviews: (N, R) float32, review features known at the origin (names in `review_names`); the last
            column is the availability flag (0 where the dataset has no reviews table).
        entity: (N,) int32, index into `entity_ids`.
        origin: (N,) datetime64[D], forecast origin (last history day).
        scale_min: (N,) float64, the entity's train-period minimum (units).
        scale_range: (N,) float64, the entity's train-period max - min (units; 1 where that is 0).
        naive_mae: (N,) float64, the entity's in-sample seasonal-naive MAE on train (MASE denominator, units).
        naive_mse: (N,) float64, the entity's in-sample seasonal-naive MSE on train (RMSSE denominator, units^2).
        demand_class: (N,) int8, Syntetos-Boylan class of the entity on train (index into DEMAND_CLASSES).
        entity_ids: names of the entities.
        calendar_names: names of the C calendar features.
        review_names: names of the R review features.
    """

    history: np.ndarray
    target: np.ndarray
    calendar: np.ndarray
    reviews: np.ndarray
    entity: np.ndarray
    origin: np.ndarray
    scale_min: np.ndarray
    scale_range: np.ndarray
    naive_mae: np.ndarray
    naive_mse: np.ndarray
    demand_class: np.ndarray
    entity_ids: list = field(default_factory=list)
    calendar_names: list = field(default_factory=list)
    review_names: list = field(default_factory=list)

    _ARRAYS = ("history", "target", "calendar", "reviews", "entity", "origin", "scale_min", "scale_range",
               "naive_mae", "naive_mse", "demand_class")
    _NAMES = ("entity_ids", "calendar_names", "review_names")

    def __len__(self) -> int:
        return int(self.history.shape[0])

    @property
    def history_days(self) -> int:
        return int(self.history.shape[1])

    @property
    def horizon(self) -> int:
        return int(self.target.shape[1])

    def to_units(self, scaled: np.ndarray) -> np.ndarray:
        """Invert the per-entity scaling for an array whose first axis is aligned with the windows.

        Args:
            scaled: (N, ...) scaled values, e.g. targets (N, H) or samples (N, K, H).

        Returns:
            float64 array of the same shape in original units.
        """
        if np.shape(scaled)[0] != len(self):
            raise ValueError(f"to_units: got {np.shape(scaled)[0]} rows for {len(self)} windows")
        return units_from_scaled(scaled, self.scale_min, self.scale_range)

    def subset(self, index) -> WindowSet:
        """The windows selected by a boolean mask or integer index (names are shared)."""
        kwargs = {name: getattr(self, name)[index] for name in self._ARRAYS}
        kwargs.update({name: list(getattr(self, name)) for name in self._NAMES})
        return WindowSet(**kwargs)

    def keys(self):
        """A DataFrame of (entity_id, origin) for each window, in window order."""
        import pandas as pd

        return pd.DataFrame({"entity_id": np.asarray(self.entity_ids, dtype=object)[self.entity],
                             "origin": self.origin.astype("datetime64[ns]")})

    def save(self, path: str | Path) -> None:
        """Write the windows to one `.npz` (names as JSON inside), atomically."""
        from .paths import atomic_path

        arrays = {name: getattr(self, name) for name in self._ARRAYS}
        arrays["origin"] = self.origin.astype("datetime64[D]").astype(np.int64)
        arrays["names_json"] = np.array(json.dumps({n: list(getattr(self, n)) for n in self._NAMES}))
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> WindowSet:
        """Read windows written by `save`."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"windows file {path} is missing: run stage 01 (notebooks/01_eda_preprocess) first")
        with np.load(path, allow_pickle=False) as data:
            kwargs = {name: data[name] for name in cls._ARRAYS}
            names = json.loads(str(data["names_json"]))
        kwargs["origin"] = kwargs["origin"].astype("datetime64[D]")
        kwargs.update(names)
        return cls(**kwargs)


def random_windowset(n: int = 64, seed: int = 0, n_entities: int = 4, history_days: int = HISTORY_DAYS,
                     horizon: int = HORIZON_DAYS, zero_share: float = 0.6) -> WindowSet:
    """A small seeded WindowSet of intermittent counts with a weekly pattern, for tests and benchmarks.

    Values are scaled counts in [0, 1]; entity scales are integers so `to_units` gives whole units.
    """
    rng = np.random.default_rng(seed)
    total = history_days + horizon
    start = rng.integers(0, 7, size=n)
    day = start[:, None] + np.arange(total)[None, :]
    weekly = 1.0 + 0.5 * np.sin(2 * np.pi * day / 7.0)
    entity = rng.integers(0, n_entities, size=n).astype(np.int32)
    rate = (0.5 + entity)[:, None] * weekly
    counts = rng.poisson(rate) * (rng.random((n, total)) > zero_share)
    scale_range = np.maximum(counts.max(axis=1), 1).astype(np.float64)
    scaled = (counts / scale_range[:, None]).astype(np.float32)
    dow = (day[:, history_days:] % 7).astype(int)
    calendar = np.zeros((n, horizon, len(CALENDAR_NAMES)), dtype=np.float32)
    np.put_along_axis(calendar, dow[..., None], 1.0, axis=2)
    calendar[..., 7] = dow >= 5
    reviews = np.stack([rng.uniform(0.2, 1.0, n), np.log1p(rng.integers(0, 20, n)), np.ones(n)], axis=1)
    origin = np.datetime64("2017-06-01") + rng.integers(0, 200, size=n).astype("timedelta64[D]")
    return WindowSet(history=scaled[:, :history_days], target=scaled[:, history_days:], calendar=calendar,
                     reviews=reviews.astype(np.float32), entity=entity, origin=origin.astype("datetime64[D]"),
                     scale_min=np.zeros(n), scale_range=scale_range, naive_mae=np.ones(n), naive_mse=np.ones(n),
                     demand_class=(entity % 4).astype(np.int8), entity_ids=[f"e{i}" for i in range(n_entities)],
                     calendar_names=list(CALENDAR_NAMES), review_names=list(REVIEW_NAMES))


SPLITS = ("train", "val", "test")


def window_origins(panel, split: str, history_days: int = HISTORY_DAYS, horizon: int = HORIZON_DAYS,
                   stride: int = 1) -> np.ndarray:
    """Day indices of the forecast origins of one split (the same for every entity; validity is per entity).

    Train windows have history and target inside train. Val and test windows have their whole target inside their
    split and start at its first day (origin = the day before it); their history may reach back into earlier
    splits, since that history is known at forecast time.
    """
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is not one of {SPLITS}")
    if history_days < 1 or horizon < 1 or stride < 1:
        raise ValueError(f"history_days={history_days}, horizon={horizon}, stride={stride} must all be >= 1")
    bounds = {"train": (0, panel.train_end), "val": (panel.train_end, panel.val_end),
              "test": (panel.val_end, len(panel.dates))}
    lo, hi = bounds[split]
    first_origin = lo + history_days - 1 if split == "train" else lo - 1
    last_origin = hi - 1 - horizon
    first_origin = max(first_origin, history_days - 1)
    return np.arange(first_origin, last_origin + 1, stride)


def make_windows(panel, split: str, history_days: int = HISTORY_DAYS, horizon: int = HORIZON_DAYS,
                 stride: int = 1) -> WindowSet:
    """Cut the windows of one split from the panel with sliding-window views (no loop over entities).

    A window is valid for an entity when its whole history lies on or after the entity's first sale (the
    entity did not exist before). Window order: by entity, then origin.

    Args:
        panel: a `salesgan_utils.data.Panel`.
        split: "train", "val" or "test".
        history_days, horizon, stride: window geometry; stride steps the origins.

    Returns:
        WindowSet of the split (possibly empty).
    """
    origins = window_origins(panel, split, history_days, horizon, stride)
    scaled = scaled_from_units(panel.units, panel.scale_min, panel.scale_range).astype(np.float32)
    if len(origins) == 0:
        valid = np.zeros((panel.n_entities, 0), dtype=bool)
    else:
        valid = (origins[None, :] - history_days + 1) >= panel.first_day[:, None]
    ent, pos = np.nonzero(valid)
    orig = origins[pos] if len(origins) else np.zeros(0, dtype=np.int64)
    # Each array is one gather from a view: no per-entity loop and no intermediate copies.
    history = np.lib.stride_tricks.sliding_window_view(scaled, history_days, axis=1)[ent, orig - history_days + 1]
    target = np.lib.stride_tricks.sliding_window_view(scaled, horizon, axis=1)[ent, orig + 1] if len(ent) else \
        np.zeros((0, horizon), dtype=np.float32)
    # The calendar depends on the origin only: cut it once per origin, then copy whole (H, C) rows per window.
    # Gathering with an (N, H) day index instead took 4x as long (0.6 s for 3.1M train windows; bench/RESULTS.md).
    per_origin = panel.calendar[(origins + 1)[:, None] + np.arange(horizon)[None, :]] if len(origins) else \
        np.zeros((0, horizon, panel.calendar.shape[1]), dtype=np.float32)
    calendar = np.take(per_origin, pos, axis=0)
    return WindowSet(
        history=history, target=target, calendar=calendar, reviews=_reviews_at(panel, ent, orig),
        entity=ent.astype(np.int32), origin=panel.dates[orig], scale_min=panel.scale_min[ent],
        scale_range=panel.scale_range[ent], naive_mae=panel.naive_mae[ent], naive_mse=panel.naive_mse[ent],
        demand_class=panel.demand_class[ent], entity_ids=[str(e) for e in panel.entity_ids],
        calendar_names=list(panel.calendar_names), review_names=list(REVIEW_NAMES))


def _reviews_at(panel, ent: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """(N, 3) review features at each window's origin, from reviews created on or before that day only."""
    return review_features_at(panel.review_count[ent, origin], panel.review_score_sum[ent, origin],
                              panel.reviews_available)


def subsample(ws: WindowSet, max_windows: int, seed: int) -> WindowSet:
    """At most `max_windows` windows drawn without replacement (seeded), in their original order; 0 = all."""
    if not max_windows or max_windows >= len(ws):
        return ws
    keep = np.sort(np.random.default_rng(seed).choice(len(ws), size=max_windows, replace=False))
    return ws.subset(keep)

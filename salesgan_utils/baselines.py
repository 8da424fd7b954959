"""Baseline forecasters: point forecasts from the history alone, and a block-resampling sampler.

Every point baseline maps histories (N, L) to forecasts (N, H) and is deterministic. Pass histories in units:
the zero forecast means "no sales", and Croston/TSB separate demand sizes from zero days, both of which only hold
on the unscaled counts (a scaled zero is not a zero sale when the entity's train minimum is above 0).

Intermittent-demand methods come from statsforecast (`CrostonSBA`, `TSB`, `ADIDA`, `IMAPA`), the maintained
implementations, called once per distinct history through each model's `forecast(y, h)`. Measured (bench/RESULTS.md,
10k / 100k distinct 30-day histories): CrostonSBA 0.4 / 3.6 s, TSB 0.16 / 1.5 s, against 4-10 s for one LSTM epoch
over 10k windows, so a vectorised re-implementation would save nothing that matters and would be a second
implementation to keep equal. Identical histories (on Olist, mostly all-zero ones) are forecast once.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

SEASON = 7


def _history(history: np.ndarray) -> np.ndarray:
    history = np.asarray(history, dtype=np.float64)
    if history.ndim != 2 or history.shape[1] == 0:
        raise ValueError(f"baselines: history must be (N, L) with L >= 1, got {history.shape}")
    return history


def zero_forecast(history: np.ndarray, horizon: int = 7) -> np.ndarray:
    """Always zero: the hard baseline on intermittent demand, where most target days are 0.

    Args:
        history: (N, L) histories in units (only N is used).
        horizon: H.

    Returns:
        (N, H) zeros.
    """
    return np.zeros((_history(history).shape[0], horizon))


def naive_forecast(history: np.ndarray, horizon: int = 7) -> np.ndarray:
    """Last observed value repeated.

    Args:
        history: (N, L) histories.
        horizon: H.

    Returns:
        (N, H) forecasts.
    """
    history = _history(history)
    return np.repeat(history[:, -1:], horizon, axis=1)


def seasonal_naive_forecast(history: np.ndarray, horizon: int = 7, period: int = SEASON) -> np.ndarray:
    """Value one period earlier: forecast day h (0-based) is history[L - period + (h mod period)].

    Args:
        history: (N, L) histories, L >= period.
        horizon: H.
        period: season length in days.

    Returns:
        (N, H) forecasts; beyond one period the last season repeats.
    """
    history = _history(history)
    if history.shape[1] < period:
        raise ValueError(f"seasonal_naive_forecast: history of {history.shape[1]} days is shorter than {period}")
    last_season = history[:, -period:]
    return last_season[:, np.arange(horizon) % period]


def moving_average_forecast(history: np.ndarray, horizon: int = 7, window: int = 7) -> np.ndarray:
    """Mean of the last `window` days repeated.

    Args:
        history: (N, L) histories.
        horizon: H.
        window: days averaged (capped at L).

    Returns:
        (N, H) forecasts.
    """
    history = _history(history)
    mean = history[:, -min(window, history.shape[1]):].mean(axis=1, keepdims=True)
    return np.repeat(mean, horizon, axis=1)


def _per_distinct_history(history: np.ndarray, horizon: int, forecast_one: Callable[[np.ndarray], np.ndarray]
                          ) -> np.ndarray:
    if len(history) == 0:
        return np.zeros((0, horizon))
    # Rows as raw bytes: np.unique over one void column is ~10x faster than np.unique(axis=0) on 100k rows.
    history = np.ascontiguousarray(history)
    rows = history.view(np.dtype((np.void, history.dtype.itemsize * history.shape[1]))).ravel()
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    forecasts = np.stack([forecast_one(history[index]) for index in first])
    return forecasts[np.ravel(inverse)]


def _statsforecast_mean(model, history: np.ndarray, horizon: int) -> np.ndarray:
    """The mean forecast of a statsforecast model, fitted once per distinct history: (N, H)."""
    return _per_distinct_history(_history(history), horizon, lambda y: model.forecast(y=y, h=horizon)["mean"])


def croston_sba_forecast(history: np.ndarray, horizon: int = 7) -> np.ndarray:
    """Croston's method with the Syntetos-Boylan bias correction (statsforecast `CrostonSBA`).

    Demand sizes and inter-demand intervals are each smoothed by SES with alpha = 0.1; the forecast is
    0.95 * size / interval, flat over the horizon. A history without demand gives 0.

    Args:
        history: (N, L) non-negative histories in units.
        horizon: H.

    Returns:
        (N, H) forecasts.
    """
    from statsforecast.models import CrostonSBA

    model = CrostonSBA()
    return _statsforecast_mean(model, history, horizon)


def tsb_forecast(history: np.ndarray, horizon: int = 7, alpha_d: float = 0.1, alpha_p: float = 0.1) -> np.ndarray:
    """Teunter-Syntetos-Babai method (statsforecast `TSB`): smoothed demand probability x smoothed demand size.

    Unlike Croston, the probability is updated on every day, so a product that stopped selling decays to 0.

    Args:
        history: (N, L) non-negative histories in units.
        horizon: H.
        alpha_d: smoothing of the demand size.
        alpha_p: smoothing of the demand probability.

    Returns:
        (N, H) forecasts.
    """
    from statsforecast.models import TSB

    model = TSB(alpha_d=alpha_d, alpha_p=alpha_p)
    return _statsforecast_mean(model, history, horizon)


def adida_forecast(history: np.ndarray, horizon: int = 7) -> np.ndarray:
    """ADIDA (statsforecast `ADIDA`): the history summed over blocks of the mean inter-demand interval, smoothed
    by SES, and spread back evenly over the days; a history without demand gives 0.

    Args:
        history: (N, L) non-negative histories in units.
        horizon: H.

    Returns:
        (N, H) forecasts.
    """
    from statsforecast.models import ADIDA

    model = ADIDA()
    return _statsforecast_mean(model, history, horizon)


def imapa_forecast(history: np.ndarray, horizon: int = 7) -> np.ndarray:
    """IMAPA (statsforecast `IMAPA`): the mean of ADIDA-style forecasts over every aggregation level from 1 day to
    the mean inter-demand interval; a history without demand gives 0.

    Args:
        history: (N, L) non-negative histories in units.
        horizon: H.

    Returns:
        (N, H) forecasts.
    """
    from statsforecast.models import IMAPA

    model = IMAPA()
    return _statsforecast_mean(model, history, horizon)


POINT_BASELINES: dict[str, Callable[..., np.ndarray]] = {
    "zero": zero_forecast,
    "naive": naive_forecast,
    "seasonal_naive": seasonal_naive_forecast,
    "moving_average": moving_average_forecast,
    "croston_sba": croston_sba_forecast,
    "tsb": tsb_forecast,
    "adida": adida_forecast,
    "imapa": imapa_forecast,
}


def all_point_baselines(history: np.ndarray, horizon: int = 7, ma_window: int = 7, alpha_d: float = 0.1,
                        alpha_p: float = 0.1) -> dict[str, np.ndarray]:
    """Every point baseline on the same histories.

    Args:
        history: (N, L) histories in units.
        horizon: H.
        ma_window: days of the moving average.
        alpha_d: TSB size smoothing.
        alpha_p: TSB probability smoothing.

    Returns:
        {name: (N, H) forecast} in POINT_BASELINES order.
    """
    return {"zero": zero_forecast(history, horizon),
            "naive": naive_forecast(history, horizon),
            "seasonal_naive": seasonal_naive_forecast(history, horizon),
            "moving_average": moving_average_forecast(history, horizon, window=ma_window),
            "croston_sba": croston_sba_forecast(history, horizon),
            "tsb": tsb_forecast(history, horizon, alpha_d=alpha_d, alpha_p=alpha_p),
            "adida": adida_forecast(history, horizon),
            "imapa": imapa_forecast(history, horizon)}


def block_resample_sampler(history: np.ndarray, horizon: int, k: int, seed: int, block: int = SEASON
                           ) -> np.ndarray:
    """K sample paths per window, each made of the window's own past `block`-day blocks drawn with replacement.

    Blocks are cut backwards from the forecast origin (history[L-7:L], history[L-14:L-7], ...), so day i of every
    block falls on the same weekday as target day i when block = 7: the weekly pattern survives resampling. A
    horizon longer than one block concatenates independently drawn blocks. Works on scaled values or units alike.

    Args:
        history: (N, L) histories, L >= block.
        horizon: H.
        k: samples per window.
        seed: seed of the draws.
        block: block length in days.

    Returns:
        (N, K, H) samples.
    """
    history = _history(history)
    n, length = history.shape
    n_blocks = length // block
    if n_blocks == 0:
        raise ValueError(f"block_resample_sampler: history of {length} days holds no {block}-day block")
    # blocks[n, j] is the j-th block counted back from the origin, shape (N, n_blocks, block)
    starts = length - block * (np.arange(n_blocks) + 1)
    blocks = history[:, starts[:, None] + np.arange(block)[None, :]]
    per_path = -(-horizon // block)
    choice = np.random.default_rng(seed).integers(0, n_blocks, size=(n, k, per_path))
    paths = blocks[np.arange(n)[:, None, None], choice]  # (N, K, per_path, block)
    return paths.reshape(n, k, per_path * block)[:, :, :horizon]


# ---- probabilistic baselines (K sample paths per window, in units) -----------------------------------------------
def zero_sampler(history: np.ndarray, horizon: int, k: int = 1) -> np.ndarray:
    """The zero point mass as K identical all-zero paths (its fair CRPS is the mean observed value).

    Args:
        history: (N, L) histories (only N is used).
        horizon: H.
        k: samples per window.

    Returns:
        (N, K, H) zeros.
    """
    return np.zeros((_history(history).shape[0], k, horizon))


def count_model_sampler(history: np.ndarray, horizon: int, k: int, seed: int) -> np.ndarray:
    """K paths per window from a count distribution fitted to that window's own history (method of moments).

    Each window's L days are treated as i.i.d. counts: with mean m and unbiased variance v, a negative binomial
    (gamma-Poisson mixture, size r = m² / (v − m)) when the history is over-dispersed (v > m), else a Poisson(m).
    All-zero histories give the zero point mass. Vectorised over windows: one gamma and one Poisson draw per value.
    Pass histories in units (counts).

    Args:
        history: (N, L) histories in units.
        horizon: H.
        k: samples per window.
        seed: seed of the draws.

    Returns:
        (N, K, H) float64 whole-unit samples.
    """
    history = _history(history)
    mean = history.mean(axis=1)
    var = history.var(axis=1, ddof=1) if history.shape[1] > 1 else mean.copy()
    over = var > mean + 1e-12
    rng = np.random.default_rng(seed)
    shape = (history.shape[0], k, horizon)
    rate = np.broadcast_to(mean[:, None, None], shape).copy()
    if over.any():
        size = mean[over] ** 2 / (var[over] - mean[over])
        # gamma(shape = r, scale = m / r) has mean m; Poisson over it is NB(r, m)
        size_b = np.broadcast_to(size[:, None, None], (int(over.sum()), k, horizon))
        rate[over] = rng.gamma(size_b, (mean[over] / size)[:, None, None])
    return rng.poisson(rate).astype(np.float64)


def history_analog_sampler(history: np.ndarray, pool_history: np.ndarray, pool_target: np.ndarray, k: int,
                           exclude: np.ndarray | None = None, chunk: int = 2048) -> np.ndarray:
    """The copy control: for each window, the real targets of the `k` pool windows with the nearest histories.

    Distance is Euclidean between histories divided by (1 + their own mean), so a product selling 10 a day and one
    selling 1 a day with the same shape are neighbours (the scaling the generator reads, too); ties go to the
    lower pool index. A generator that does not beat these samples has learned nothing a lookup in the same pool
    (the windows the generator was trained on) cannot do.

    Args:
        history: (N, L) histories in units of the windows to sample for.
        pool_history: (P, L) histories in units of the pool.
        pool_target: (P, H) the pool's real targets in units.
        k: neighbours (samples) per window, at most P (P - 1 with `exclude`).
        exclude: (N,) pool index of each window itself (-1: none), so that a window never draws its own target
            when it is in the pool; None: nothing is excluded.
        chunk: windows per distance block (memory: chunk x P floats).

    Returns:
        (N, K, H) float64 samples: real pool targets, nearest first.
    """
    history, pool = _history(history), _history(pool_history)
    pool_target = np.asarray(pool_target, dtype=np.float64)
    if pool.shape[1] != history.shape[1] or len(pool_target) != len(pool):
        raise ValueError(f"history_analog_sampler: pool histories {pool.shape} and targets {pool_target.shape} "
                         f"must match the windows' history length {history.shape[1]} and each other")
    if len(pool) > 900_000:  # `_nearest`'s integer keys (distance micro-units x pool size) must fit in int64
        raise ValueError(f"history_analog_sampler: a pool of {len(pool)} windows exceeds 900,000; subsample it")
    limit = len(pool) - (exclude is not None)
    if not 1 <= k <= limit:
        raise ValueError(f"history_analog_sampler: k = {k} must lie in [1, {limit}] for a pool of {len(pool)}")

    def relative(x):
        return x / (1.0 + x.mean(axis=1, keepdims=True))

    a, b = relative(history), relative(pool)
    chunk = max(1, min(chunk, 2 ** 24 // max(1, len(pool))))  # at most ~128 MB of distances at once
    b_squares = (b * b).sum(axis=1)
    out = np.empty((len(history), k, pool_target.shape[1]))
    for start in range(0, len(history), chunk):
        block = a[start:start + chunk]
        distance = (block * block).sum(axis=1)[:, None] - 2.0 * block @ b.T + b_squares[None, :]
        distance = np.maximum(distance, 0.0)  # `_nearest` rounds: float noise must not break ties
        if exclude is not None:
            own = np.asarray(exclude)[start:start + chunk]
            rows = np.flatnonzero(own >= 0)
            distance[rows, own[rows]] = np.inf
        out[start:start + chunk] = pool_target[_nearest(distance, k)]
    return out


def _nearest(distance: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k smallest distances per row, nearest first, ties to the lower index.

    Distances become integer keys (micro-units, capped at 1e7) times the pool size plus the column index, so one
    argpartition finds exactly the k smallest (ties by index) without a full sort of every row.
    """
    n = distance.shape[1]
    key = np.round(np.minimum(distance, 1e7) * 1e6).astype(np.int64) * n + np.arange(n, dtype=np.int64)[None, :]
    part = np.argpartition(key, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (len(key), 1))
    order = np.argsort(np.take_along_axis(key, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)

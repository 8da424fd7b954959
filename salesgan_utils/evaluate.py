"""Evaluation metrics as pure functions `(real, synthetic_or_forecast, ...) -> float | dict`.

Three families live here:

* point-forecast errors on (N, H) arrays (MAE, RMSE, MASE, RMSSE and their per-window vectors), the t-interval
  over seeds, and paired comparisons of two forecasts on the same windows (Diebold-Mariano with the
  Harvey-Leybourne-Newbold correction, and a seeded paired bootstrap);
* probabilistic-forecast scores on (N, K, H) samples (CRPS, interval coverage, spread-skill diversity);
* synthetic-data quality (TimeGAN's discriminative and predictive scores, marginal Wasserstein distance, zero
  share, autocorrelation, per-sequence statistics compared by Kolmogorov-Smirnov) and `sample_quality_report`,
  which gathers them into one JSON-ready dict.

Settings are arguments; nothing here reads files or global state, and every random step takes a seed. The two
learned scores import torch lazily, so the point metrics stay importable without it. This module imports nothing
from the rest of the package (`sample_quality_report` accepts any object with WindowSet's attributes).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from scipy import stats

DEFAULT_LAGS = (1, 2, 3, 4, 5, 6)


# ----------------------------------------------------------------------------------------------------------------
# Point forecasts
# ----------------------------------------------------------------------------------------------------------------
def _pair(forecast: np.ndarray, observed: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    forecast = np.asarray(forecast, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64)
    if forecast.shape != observed.shape or forecast.ndim != 2:
        raise ValueError(f"{name}: forecast {forecast.shape} and observed {observed.shape} must both be (N, H)")
    return forecast, observed


def _scale(scale: np.ndarray, n: int, name: str) -> np.ndarray:
    scale = np.asarray(scale, dtype=np.float64).reshape(-1)
    if scale.shape[0] != n:
        raise ValueError(f"{name}: got {scale.shape[0]} scales for {n} windows")
    # An entity whose train series never changed week over week has a zero seasonal-naive error: its scaled error
    # is undefined, so the window drops out of the mean instead of turning it into inf.
    return np.where(scale > 0, scale, np.nan)


def window_abs_error(forecast: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Mean absolute error of each window over its H steps.

    Args:
        forecast: (N, H) point forecasts.
        observed: (N, H) observations in the same units.

    Returns:
        (N,) float64 per-window MAE, the loss vector for paired tests.
    """
    forecast, observed = _pair(forecast, observed, "window_abs_error")
    return np.abs(forecast - observed).mean(axis=1)


def window_sq_error(forecast: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Mean squared error of each window over its H steps.

    Args:
        forecast: (N, H) point forecasts.
        observed: (N, H) observations in the same units.

    Returns:
        (N,) float64 per-window MSE.
    """
    forecast, observed = _pair(forecast, observed, "window_sq_error")
    return ((forecast - observed) ** 2).mean(axis=1)


def mae(forecast: np.ndarray, observed: np.ndarray) -> float:
    """Mean absolute error over all windows and steps.

    Args:
        forecast: (N, H) point forecasts.
        observed: (N, H) observations.

    Returns:
        The MAE.
    """
    return float(window_abs_error(forecast, observed).mean())


def rmse(forecast: np.ndarray, observed: np.ndarray) -> float:
    """Root mean squared error over all windows and steps (one pooled mean, then the root).

    Args:
        forecast: (N, H) point forecasts.
        observed: (N, H) observations.

    Returns:
        The RMSE.
    """
    return float(np.sqrt(window_sq_error(forecast, observed).mean()))


def window_mase(forecast: np.ndarray, observed: np.ndarray, naive_mae: np.ndarray) -> np.ndarray:
    """Per-window MASE: the window's MAE divided by its entity's in-sample seasonal-naive MAE.

    Args:
        forecast: (N, H) point forecasts in units.
        observed: (N, H) observations in units.
        naive_mae: (N,) in-sample (train) seasonal-naive MAE of each window's entity, units
            (`WindowSet.naive_mae`).

    Returns:
        (N,) float64; NaN where the scale is 0.
    """
    forecast, observed = _pair(forecast, observed, "window_mase")
    return window_abs_error(forecast, observed) / _scale(naive_mae, len(forecast), "window_mase")


def window_rmsse(forecast: np.ndarray, observed: np.ndarray, naive_mse: np.ndarray) -> np.ndarray:
    """Per-window RMSSE: sqrt of the window's MSE divided by its entity's in-sample seasonal-naive MSE (M5's form).

    Args:
        forecast: (N, H) point forecasts in units.
        observed: (N, H) observations in units.
        naive_mse: (N,) in-sample (train) seasonal-naive MSE of each window's entity, units^2
            (`WindowSet.naive_mse`).

    Returns:
        (N,) float64; NaN where the scale is 0.
    """
    forecast, observed = _pair(forecast, observed, "window_rmsse")
    return np.sqrt(window_sq_error(forecast, observed) / _scale(naive_mse, len(forecast), "window_rmsse"))


def mase(forecast: np.ndarray, observed: np.ndarray, naive_mae: np.ndarray) -> float:
    """Mean absolute scaled error: the mean over windows of `window_mase` (windows with a zero scale skipped).

    Args:
        forecast: (N, H) point forecasts in units.
        observed: (N, H) observations in units.
        naive_mae: (N,) seasonal-naive in-sample MAE per window (units).

    Returns:
        The MASE (NaN if no window has a positive scale).
    """
    values = window_mase(forecast, observed, naive_mae)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def rmsse(forecast: np.ndarray, observed: np.ndarray, naive_mse: np.ndarray) -> float:
    """Root mean squared scaled error: the mean over windows of `window_rmsse` (zero scales skipped).

    Args:
        forecast: (N, H) point forecasts in units.
        observed: (N, H) observations in units.
        naive_mse: (N,) seasonal-naive in-sample MSE per window (units^2).

    Returns:
        The RMSSE (NaN if no window has a positive scale).
    """
    values = window_rmsse(forecast, observed, naive_mse)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def point_metrics(forecast: np.ndarray, observed: np.ndarray, naive_mae: np.ndarray | None = None,
                  naive_mse: np.ndarray | None = None) -> dict:
    """MAE and RMSE, plus MASE and RMSSE when their scales are given.

    Args:
        forecast: (N, H) point forecasts.
        observed: (N, H) observations.
        naive_mae: optional (N,) MASE denominators.
        naive_mse: optional (N,) RMSSE denominators.

    Returns:
        {"mae", "rmse"[, "mase"][, "rmsse"]} as floats.
    """
    out = {"mae": mae(forecast, observed), "rmse": rmse(forecast, observed)}
    if naive_mae is not None:
        out["mase"] = mase(forecast, observed, naive_mae)
    if naive_mse is not None:
        out["rmsse"] = rmsse(forecast, observed, naive_mse)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Intervals over seeds and paired comparisons
# ----------------------------------------------------------------------------------------------------------------
def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of a few values (one per seed).

    Args:
        values: the per-seed values; NaNs are dropped.
        level: coverage of the interval.

    Returns:
        (mean, low, high); low and high are NaN with fewer than two values.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if values.size < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2.0, df=values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
    return mean, float(mean - half), float(mean + half)


def diebold_mariano(loss_a: np.ndarray, loss_b: np.ndarray, horizon: int = 1) -> tuple[float, float]:
    """Diebold-Mariano test of equal expected loss, with the Harvey-Leybourne-Newbold (1997) correction.

    The loss differential d = loss_a - loss_b has long-run variance gamma_0 + 2 sum_{k<horizon} gamma_k; the
    statistic is scaled by sqrt((n + 1 - 2h + h(h-1)/n) / n) and compared with Student t on n - 1 degrees of
    freedom, as HLN recommend for small samples. Here d is per window: with horizon=1 the windows are treated as
    independent, which overlapping windows of one entity are not, so the p-value can be optimistic (the entity
    bootstrap of `paired_bootstrap` is the conservative companion).

    Args:
        loss_a: (n,) per-window losses of forecast A (e.g. `window_abs_error`).
        loss_b: (n,) per-window losses of forecast B on the same windows.
        horizon: h, the number of autocovariance lags (h - 1) in the variance and in the HLN factor.

    Returns:
        (statistic, two-sided p-value); a negative statistic means A has the smaller loss. Identical losses give
        (0.0, 1.0); a constant non-zero differential gives (+-inf, 0.0).
    """
    d = np.asarray(loss_a, dtype=np.float64) - np.asarray(loss_b, dtype=np.float64)
    d = d[np.isfinite(d)]
    n = d.size
    if n < 2:
        raise ValueError(f"diebold_mariano: need at least 2 paired losses, got {n}")
    mean = d.mean()
    centred = d - mean
    gamma0 = centred @ centred / n
    if gamma0 <= 1e-300:  # a constant differential: no sampling variation to test against
        return (0.0, 1.0) if abs(mean) <= 1e-300 else (float(np.sign(mean) * np.inf), 0.0)
    variance = gamma0 + sum(2.0 * (centred[k:] @ centred[:-k]) / n for k in range(1, horizon))
    if variance <= 0.0:
        # negative autocovariances can make the truncated long-run variance non-positive; fall back to gamma_0
        variance = gamma0
    statistic = mean / np.sqrt(variance / n)
    statistic *= np.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    p_value = 2.0 * stats.t.sf(abs(statistic), df=n - 1)
    return float(statistic), float(p_value)


def paired_bootstrap(values_a: np.ndarray, values_b: np.ndarray, *, groups: np.ndarray | None = None,
                     n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """Paired bootstrap of the mean difference mean(A) - mean(B) and of the relative change in %.

    Both forecasts are resampled with the same draws, so the pairing survives. With `groups` (e.g. the entity of
    each window) whole groups are resampled, which respects the correlation between a product's overlapping
    windows; without it, windows are resampled one by one.

    Args:
        values_a: (n,) per-window errors of A.
        values_b: (n,) per-window errors of B on the same windows.
        groups: optional (n,) group label per window for a cluster bootstrap.
        n_boot: number of bootstrap replicates.
        level: coverage of the percentile intervals.
        seed: seed of the resampling.

    Returns:
        {"diff", "diff_low", "diff_high", "pct", "pct_low", "pct_high"} where pct = 100 (mean A / mean B - 1).
    """
    a = np.asarray(values_a, dtype=np.float64)
    b = np.asarray(values_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired_bootstrap: shapes {a.shape} and {b.shape} must be equal and 1-D")
    labels = np.arange(a.size) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    n_groups = int(labels.max()) + 1
    # Per-group sums and counts make one replicate a gather + sum, whatever the group sizes.
    sum_a = np.bincount(labels, weights=a, minlength=n_groups)
    sum_b = np.bincount(labels, weights=b, minlength=n_groups)
    count = np.bincount(labels, minlength=n_groups).astype(np.float64)
    rng = np.random.default_rng(seed)
    mean_a, mean_b = np.empty(n_boot), np.empty(n_boot)
    chunk = max(1, 2_000_000 // n_groups)  # bounds the (chunk, groups) index array to a few MB
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        draw = rng.integers(0, n_groups, size=(stop - start, n_groups))
        total = count[draw].sum(axis=1)
        mean_a[start:stop] = sum_a[draw].sum(axis=1) / total
        mean_b[start:stop] = sum_b[draw].sum(axis=1) / total
    tail = 100.0 * (1.0 - level) / 2.0
    diff = mean_a - mean_b
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = 100.0 * (mean_a / mean_b - 1.0)
        point_pct = 100.0 * (a.mean() / b.mean() - 1.0)
    low, high = np.percentile(diff, [tail, 100.0 - tail])
    pct_low, pct_high = np.nanpercentile(pct, [tail, 100.0 - tail]) if np.isfinite(pct).any() else (np.nan,) * 2
    return {"diff": float(a.mean() - b.mean()), "diff_low": float(low), "diff_high": float(high),
            "pct": float(point_pct), "pct_low": float(pct_low), "pct_high": float(pct_high)}


def paired_comparison(errors_a: np.ndarray, errors_b: np.ndarray, *, groups: np.ndarray | None = None,
                      n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """Diebold-Mariano test and paired bootstrap of two forecasts' per-window errors, in one dict.

    Args:
        errors_a: (n,) per-window errors of the candidate (e.g. MAE in units, averaged over seeds).
        errors_b: (n,) per-window errors of the reference on the same windows.
        groups: optional (n,) cluster labels (the entity of each window) for the bootstrap and the DM test.
        n_boot: bootstrap replicates.
        level: interval coverage.
        seed: bootstrap seed.

    Returns:
        `paired_bootstrap`'s keys plus "dm_stat" and "dm_p" (and "dm_n", the number of units the test saw).
    """
    errors_a, errors_b = np.asarray(errors_a, dtype=np.float64), np.asarray(errors_b, dtype=np.float64)
    unit_a, unit_b = errors_a, errors_b
    if groups is not None:
        # Windows of one entity overlap (stride 1) and share its demand, so their loss differentials are far from
        # independent: a window-level test reported p-values like 1e-200 for a few percent. The test runs on
        # per-entity mean differentials instead (n = entities), the unit that is roughly independent.
        codes = np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
        counts = np.bincount(codes)
        unit_a, unit_b = np.bincount(codes, errors_a) / counts, np.bincount(codes, errors_b) / counts
    statistic, p_value = diebold_mariano(unit_a, unit_b)
    out = paired_bootstrap(errors_a, errors_b, groups=groups, n_boot=n_boot, level=level, seed=seed)
    out.update(dm_stat=statistic, dm_p=p_value, dm_n=int(unit_a.size))
    return out


# ----------------------------------------------------------------------------------------------------------------
# Probabilistic forecasts (K samples per window)
# ----------------------------------------------------------------------------------------------------------------
def crps_samples(samples: np.ndarray, observed: np.ndarray) -> float:
    """Mean sample-based CRPS (energy form) of K forecast samples against the observations.

    CRPS(F, y) = E|X - y| - 1/2 E|X - X'| with X, X' drawn from the K samples; for a point mass (K = 1, or all
    samples equal) it equals the absolute error.

    Args:
        samples: (N, K, H) forecast samples.
        observed: (N, H) observations, same units.

    Returns:
        CRPS averaged over windows and steps.
    """
    samples = np.asarray(samples, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64)
    if samples.ndim != 3 or observed.shape != (samples.shape[0], samples.shape[2]):
        raise ValueError(f"crps_samples: samples {samples.shape} must be (N, K, H) and observed (N, H)")
    accuracy = np.abs(samples - observed[:, None, :]).mean(axis=1)
    # E|X - X'| from sorted samples in O(K log K): sum_i (2i - K + 1) x_(i) * 2 / K^2
    k = samples.shape[1]
    ordered = np.sort(samples, axis=1)
    weights = (2 * np.arange(k) - k + 1).reshape(1, k, 1)
    spread = 2.0 * (weights * ordered).sum(axis=1) / (k * k)
    return float((accuracy - 0.5 * spread).mean())


def _samples_pair(samples: np.ndarray, observed: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    samples = np.asarray(samples, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64)
    if samples.ndim != 3 or observed.shape != (samples.shape[0], samples.shape[2]):
        raise ValueError(f"{name}: samples {samples.shape} must be (N, K, H) and observed (N, H)")
    return samples, observed


def interval_coverage(samples: np.ndarray, observed: np.ndarray, level: float) -> float:
    """Share of observations inside the central `level` interval of the samples (ends included).

    The interval runs from the (1 - level)/2 to the (1 + level)/2 empirical quantile (numpy's linear
    interpolation) of each window-step's K samples. Ends are inclusive because zero-inflated samples often put
    both ends at 0, and an observed 0 is then inside.

    Args:
        samples: (N, K, H) forecast samples.
        observed: (N, H) observations.
        level: nominal coverage, e.g. 0.5 or 0.9.

    Returns:
        Empirical coverage in [0, 1]; a calibrated forecaster gives about `level`.
    """
    samples, observed = _samples_pair(samples, observed, "interval_coverage")
    low, high = np.quantile(samples, [0.5 - level / 2.0, 0.5 + level / 2.0], axis=1)
    return float(((observed >= low) & (observed <= high)).mean())


def diversity_ratio(samples: np.ndarray, observed: np.ndarray) -> float:
    """Within-condition spread of K samples relative to the real spread around them (spread-skill ratio).

    Definition: with s^2 the unbiased variance of the K samples of one window-step, m their mean and y the real
    value,

        ratio = sqrt( (K + 1) / K * mean(s^2) / mean((m - y)^2) ).

    If the real value behaves like one more draw from the same conditional distribution, E[(m - y)^2] =
    sigma^2 (K + 1) / K and E[s^2] = sigma^2, so the ratio is about 1. Mode collapse (samples nearly identical for a
    condition) drives it to 0; samples more dispersed than the real uncertainty push it above 1. The real spread is
    measured around the samples' own mean because one real target per condition has no within-condition spread of
    its own.

    Args:
        samples: (N, K, H) samples, K >= 2.
        observed: (N, H) real targets of the same conditions.

    Returns:
        The ratio (inf if the sample means hit every real value exactly while the samples differ).
    """
    samples, observed = _samples_pair(samples, observed, "diversity_ratio")
    k = samples.shape[1]
    if k < 2:
        raise ValueError("diversity_ratio: need K >= 2 samples per condition")
    spread = samples.var(axis=1, ddof=1).mean()
    error = ((samples.mean(axis=1) - observed) ** 2).mean()
    if error == 0.0:
        return float("inf") if spread > 0 else float("nan")
    return float(np.sqrt((k + 1) / k * spread / error))


# ----------------------------------------------------------------------------------------------------------------
# Distribution and temporal structure of synthetic sequences
# ----------------------------------------------------------------------------------------------------------------
def wasserstein_marginal(real: np.ndarray, synthetic: np.ndarray) -> float:
    """1-Wasserstein distance between the pooled value distributions of real and synthetic sequences.

    Args:
        real: real values of any shape (pass units so the distance reads in units).
        synthetic: synthetic values of any shape, same units.

    Returns:
        The distance (scipy.stats.wasserstein_distance on the flattened arrays).
    """
    return float(stats.wasserstein_distance(np.ravel(real).astype(np.float64),
                                            np.ravel(synthetic).astype(np.float64)))


def zero_share(values: np.ndarray, zero_threshold: float = 0.5) -> float:
    """Share of values below `zero_threshold` (in units, a value under 0.5 rounds to a zero-sale day).

    Args:
        values: values of any shape, in units.
        zero_threshold: values strictly below it count as zero.

    Returns:
        The share in [0, 1].
    """
    return float((np.asarray(values, dtype=np.float64) < zero_threshold).mean())


def zero_share_difference(real: np.ndarray, synthetic: np.ndarray, zero_threshold: float = 0.5) -> float:
    """Zero share of synthetic minus zero share of real (negative: the generator under-produces zero days).

    A generator emits continuous values, so "zero" means below `zero_threshold` units for both.

    Args:
        real: real values in units.
        synthetic: synthetic values in units.
        zero_threshold: see `zero_share`.

    Returns:
        The signed difference in [-1, 1].
    """
    return zero_share(synthetic, zero_threshold) - zero_share(real, zero_threshold)


def _pooled_correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / denominator) if denominator > 0 else float("nan")


def autocorrelation(x: np.ndarray, lags: Iterable[int] = DEFAULT_LAGS) -> np.ndarray:
    """Autocorrelation within sequences, pooled over all sequences.

    For lag k it is the Pearson correlation of all pairs (x[n, t], x[n, t + k]) of all sequences n. Pooling
    (instead of one ACF per 7-day sequence, averaged) keeps the estimate usable for short, mostly-zero sequences.

    Args:
        x: (N, T) sequences, T > max(lags).
        lags: the lags.

    Returns:
        (len(lags),) float64; NaN for a lag whose pairs have no variance.
    """
    x = np.asarray(x, dtype=np.float64)
    lags = list(lags)
    if x.ndim != 2 or max(lags) >= x.shape[1]:
        raise ValueError(f"autocorrelation: x {x.shape} must be (N, T) with T > {max(lags)}")
    return np.array([_pooled_correlation(x[:, :-k], x[:, k:]) for k in lags])


def cross_correlation(history: np.ndarray, target: np.ndarray, lags: Iterable[int] = DEFAULT_LAGS) -> np.ndarray:
    """Correlation across the history -> target boundary, pooled over sequences.

    For lag k it is the Pearson correlation of all pairs (history[n, L - k + j], target[n, j]) for j < k: the
    pairs k days apart that straddle the forecast origin, i.e. how the generated target continues the real tail.

    Args:
        history: (N, L) histories.
        target: (N, H) targets (real or synthetic) of the same windows.
        lags: lags, each at most min(L, H).

    Returns:
        (len(lags),) float64.
    """
    history = np.asarray(history, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    lags = list(lags)
    if history.shape[0] != target.shape[0] or max(lags) > min(history.shape[1], target.shape[1]):
        raise ValueError(f"cross_correlation: history {history.shape} / target {target.shape} too short for lags")
    length = history.shape[1]
    return np.array([_pooled_correlation(history[:, length - k:], target[:, :k]) for k in lags])


SEQUENCE_STATS = ("mean", "std", "max", "zero_count")


def sequence_stats(x: np.ndarray, zero_threshold: float = 0.5) -> dict:
    """Per-sequence mean, standard deviation, maximum and number of zero days.

    Args:
        x: (N, T) sequences in units.
        zero_threshold: see `zero_share`.

    Returns:
        {name: (N,) array} for the names in SEQUENCE_STATS.
    """
    x = np.asarray(x, dtype=np.float64)
    return {"mean": x.mean(axis=1), "std": x.std(axis=1), "max": x.max(axis=1),
            "zero_count": (x < zero_threshold).sum(axis=1).astype(np.float64)}


def sequence_stat_ks(real: np.ndarray, synthetic: np.ndarray, zero_threshold: float = 0.5) -> dict:
    """Two-sample Kolmogorov-Smirnov statistic between real and synthetic per-sequence statistics (SDMetrics style).

    Args:
        real: (N, T) real sequences in units.
        synthetic: (M, T) synthetic sequences in units.
        zero_threshold: see `zero_share`.

    Returns:
        {"ks_mean", "ks_std", "ks_max", "ks_zero_count"}: each the KS statistic in [0, 1] (0 = same distribution).
    """
    real_stats = sequence_stats(real, zero_threshold)
    synthetic_stats = sequence_stats(synthetic, zero_threshold)
    return {f"ks_{name}": float(stats.ks_2samp(real_stats[name], synthetic_stats[name]).statistic)
            for name in SEQUENCE_STATS}


# ----------------------------------------------------------------------------------------------------------------
# Learned scores (TimeGAN): a post-hoc classifier and a post-hoc forecaster
# ----------------------------------------------------------------------------------------------------------------
def _sequences(history: np.ndarray | None, target: np.ndarray) -> np.ndarray:
    target = np.asarray(target, dtype=np.float32)
    if history is None:
        return target
    return np.concatenate([np.asarray(history, dtype=np.float32), target], axis=1)


def _train_gru(inputs: np.ndarray, outputs: np.ndarray, *, loss: str, seed: int, hidden: int, epochs: int,
               batch_size: int, lr: float):
    """Train a 1-layer GRU + linear head on (N, T) inputs; returns a predict function (N, T) -> (N, D).

    Seeded and run inside `torch.random.fork_rng`, so the caller's global torch RNG is untouched and two calls
    with the same data and seed give bit-identical models on CPU.
    """
    import torch
    from torch import nn

    class _Net(nn.Module):
        def __init__(self, out_dim: int):
            super().__init__()
            self.gru = nn.GRU(1, hidden, batch_first=True)
            self.head = nn.Linear(hidden, out_dim)

        def forward(self, x):
            _, last = self.gru(x.unsqueeze(-1))
            return self.head(last[-1])

    x = torch.as_tensor(np.asarray(inputs, dtype=np.float32))
    y = torch.as_tensor(np.asarray(outputs, dtype=np.float32))
    criterion = nn.BCEWithLogitsLoss() if loss == "bce" else nn.MSELoss()
    # A 16-unit GRU gains nothing from intra-op threads, and on a shared CPU two threads ran it 5-10x slower than
    # one (bench/RESULTS.md); the caller's thread setting is restored afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = _Net(y.shape[1])
            optimiser = torch.optim.Adam(net.parameters(), lr=lr)
            order = torch.Generator().manual_seed(seed)
            for _ in range(epochs):
                for index in torch.randperm(len(x), generator=order).split(batch_size):
                    optimiser.zero_grad()
                    criterion(net(x[index]), y[index]).backward()
                    optimiser.step()
    finally:
        torch.set_num_threads(threads)
    net.eval()

    def predict(data: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.as_tensor(np.asarray(data, dtype=np.float32))).numpy()

    return predict


def discriminative_score(real: np.ndarray, synthetic: np.ndarray, *, real_history: np.ndarray | None = None,
                         synthetic_history: np.ndarray | None = None, test_fraction: float = 0.3, seed: int = 0,
                         hidden: int = 16, epochs: int = 30, batch_size: int = 64, lr: float = 1e-2) -> float:
    """TimeGAN's discriminative score: |held-out accuracy - 0.5| of a post-hoc GRU telling real from synthetic.

    Each sequence is its history followed by its target (when histories are given), so the classifier also sees
    whether a generated target fits its condition. The larger set is subsampled to the smaller (seeded) so chance
    accuracy is 0.5. When both sets have the same size they share one train/held-out permutation, so a window and
    its synthetic counterpart land on the same side: real scored against itself then gives exactly 0.

    Args:
        real: (N, H) real targets (scaled values are fine; the classifier is scale-free enough on [0, 1]).
        synthetic: (M, H) synthetic targets.
        real_history: optional (N, L) histories of the real targets.
        synthetic_history: optional (M, L) histories of the synthetic targets (for a conditional generator, the
            same real histories).
        test_fraction: held-out share of each set.
        seed: seed of the split, subsampling, initialisation and batch order.
        hidden: GRU width.
        epochs: training epochs.
        batch_size: mini-batch size.
        lr: Adam learning rate.

    Returns:
        Score in [0, 0.5]: 0 = indistinguishable, 0.5 = perfectly separable.
    """
    real_seq = _sequences(real_history, real)
    synthetic_seq = _sequences(synthetic_history, synthetic)
    if real_seq.shape[1] != synthetic_seq.shape[1]:
        raise ValueError(f"discriminative_score: sequence lengths differ ({real_seq.shape} vs {synthetic_seq.shape})")
    rng = np.random.default_rng(seed)
    n = min(len(real_seq), len(synthetic_seq))
    if len(real_seq) > n:
        real_seq = real_seq[np.sort(rng.choice(len(real_seq), n, replace=False))]
    if len(synthetic_seq) > n:
        synthetic_seq = synthetic_seq[np.sort(rng.choice(len(synthetic_seq), n, replace=False))]
    permutation = rng.permutation(n)
    n_test = max(1, int(round(test_fraction * n)))
    test, train = permutation[:n_test], permutation[n_test:]
    inputs = np.concatenate([real_seq[train], synthetic_seq[train]])
    labels = np.concatenate([np.zeros(len(train)), np.ones(len(train))])[:, None]
    predict = _train_gru(inputs, labels, loss="bce", seed=seed, hidden=hidden, epochs=epochs,
                         batch_size=batch_size, lr=lr)
    logits = predict(np.concatenate([real_seq[test], synthetic_seq[test]]))[:, 0]
    truth = np.concatenate([np.zeros(n_test), np.ones(n_test)])
    accuracy = float(((logits > 0) == truth).mean())
    return abs(accuracy - 0.5)


def predictive_score(real: np.ndarray, synthetic: np.ndarray, *, real_history: np.ndarray,
                     synthetic_history: np.ndarray, test_history: np.ndarray, test_target: np.ndarray,
                     seed: int = 0, hidden: int = 16, epochs: int = 20, batch_size: int = 64,
                     lr: float = 1e-2) -> dict:
    """Train-on-synthetic-test-on-real (TSTR) beside train-on-real-test-on-real (TRTR) MAE of a small GRU forecaster.

    The same forecaster (history -> H target days) is trained twice with the same seed, once on the synthetic
    pairs and once on the real ones, and both are scored on held-out real windows. With synthetic = real the two
    runs are identical, so TSTR = TRTR exactly.

    Args:
        real: (N, H) real train targets.
        synthetic: (M, H) synthetic targets.
        real_history: (N, L) histories of `real`.
        synthetic_history: (M, L) histories of `synthetic` (the conditions they were generated from).
        test_history: (T, L) histories of held-out real windows (val or test, never the train windows).
        test_target: (T, H) their real targets.
        seed: seed of initialisation and batch order, shared by both runs.
        hidden: GRU width.
        epochs: training epochs (fixed, no early stopping, so both runs get the same budget).
        batch_size: mini-batch size.
        lr: Adam learning rate.

    Returns:
        {"tstr_mae", "trtr_mae", "tstr_minus_trtr"} in the units of the inputs.
    """
    settings = dict(loss="mse", seed=seed, hidden=hidden, epochs=epochs, batch_size=batch_size, lr=lr)
    scores = {}
    for name, history, target in (("tstr_mae", synthetic_history, synthetic), ("trtr_mae", real_history, real)):
        predict = _train_gru(history, target, **settings)
        scores[name] = mae(predict(test_history), test_target)
    scores["tstr_minus_trtr"] = scores["tstr_mae"] - scores["trtr_mae"]
    return scores


# ----------------------------------------------------------------------------------------------------------------
# Everything at once, for notebook 03's JSON
# ----------------------------------------------------------------------------------------------------------------
def sample_quality_report(windows, samples_scaled: np.ndarray, *, test_windows=None,
                          test_samples_scaled: np.ndarray | None = None,
                          baseline_test_samples_scaled: np.ndarray | None = None, seed: int = 0,
                          max_windows: int = 2000, zero_threshold: float = 0.5,
                          lags: Iterable[int] = DEFAULT_LAGS, classifier_epochs: int = 30,
                          forecaster_epochs: int = 20) -> dict:
    """Every sample-quality metric of issue 5 as one flat, JSON-ready dict.

    Distribution metrics (Wasserstein, zero share, KS, autocorrelation, diversity) compare all K samples of the
    train conditions with the real train targets, in units. The learned scores use the first sample of each
    condition and at most `max_windows` windows (seeded subsample) to stay fast on CPU; the predictive score and
    the forecast scores (CRPS, 50%/90% coverage) need the held-out `test_windows`.

    Args:
        windows: the conditioning windows (a WindowSet, or anything with `history`, `target`, `to_units`).
        samples_scaled: (N, K, H) scaled samples for `windows`.
        test_windows: optional held-out windows (val/test) for TSTR/TRTR and the forecast scores.
        test_samples_scaled: optional (T, K, H) generator samples for `test_windows`.
        baseline_test_samples_scaled: optional (T, K', H) samples of a simple sampler (e.g.
            `baselines.block_resample_sampler`) for the same windows, scored beside the generator.
        seed: seed of subsampling and of the learned scores.
        max_windows: cap on windows for the learned scores.
        zero_threshold: units below which a value counts as a zero day.
        lags: autocorrelation lags.
        classifier_epochs: epochs of the discriminative classifier.
        forecaster_epochs: epochs of the predictive-score forecaster.

    Returns:
        dict of floats; autocorrelations appear as `acf_real_lag{k}`, `acf_synthetic_lag{k}`,
        `xcf_real_lag{k}`, `xcf_synthetic_lag{k}` plus their mean absolute differences.
    """
    samples_scaled = np.asarray(samples_scaled, dtype=np.float64)
    n, k, horizon = samples_scaled.shape
    lags = list(lags)
    real_units = windows.to_units(windows.target)
    history_units = windows.to_units(windows.history)
    samples_units = windows.to_units(samples_scaled)
    flat_units = samples_units.reshape(n * k, horizon)
    report = {"n_windows": int(n), "k_samples": int(k),
              "wasserstein_units": wasserstein_marginal(real_units, samples_units),
              "zero_share_real": zero_share(real_units, zero_threshold),
              "zero_share_synthetic": zero_share(samples_units, zero_threshold),
              "zero_share_difference": zero_share_difference(real_units, samples_units, zero_threshold)}
    report.update(sequence_stat_ks(real_units, flat_units, zero_threshold))
    curves = {"acf_real": autocorrelation(real_units, lags), "acf_synthetic": autocorrelation(flat_units, lags),
              "xcf_real": cross_correlation(history_units, real_units, lags),
              "xcf_synthetic": cross_correlation(np.repeat(history_units, k, axis=0), flat_units, lags)}
    for name, values in curves.items():
        report.update({f"{name}_lag{lag}": float(v) for lag, v in zip(lags, values)})
    report["acf_mean_abs_diff"] = float(np.nanmean(np.abs(curves["acf_real"] - curves["acf_synthetic"])))
    report["xcf_mean_abs_diff"] = float(np.nanmean(np.abs(curves["xcf_real"] - curves["xcf_synthetic"])))
    report["diversity_ratio"] = diversity_ratio(samples_units, real_units) if k >= 2 else float("nan")

    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(n, min(n, max_windows), replace=False))
    history, real, synthetic = windows.history[pick], windows.target[pick], samples_scaled[pick, 0]
    report["discriminative_score"] = discriminative_score(
        real, synthetic, real_history=history, synthetic_history=history, seed=seed, epochs=classifier_epochs)
    if test_windows is not None:
        test_pick = np.sort(rng.choice(len(test_windows), min(len(test_windows), max_windows), replace=False))
        report.update(predictive_score(
            real, synthetic, real_history=history, synthetic_history=history,
            test_history=test_windows.history[test_pick], test_target=test_windows.target[test_pick],
            seed=seed, epochs=forecaster_epochs))
        observed = test_windows.to_units(test_windows.target)
        for name, scored in (("generator", test_samples_scaled), ("baseline", baseline_test_samples_scaled)):
            if scored is None:
                continue
            scored_units = test_windows.to_units(scored)
            report[f"crps_{name}"] = crps_samples(scored_units, observed)
            report[f"coverage50_{name}"] = interval_coverage(scored_units, observed, 0.5)
            report[f"coverage90_{name}"] = interval_coverage(scored_units, observed, 0.9)
    return report


QUALITY_ROWS = (  # (key, what it measures, ideal value)
    ("discriminative_score", "|accuracy - 0.5| of a post-hoc GRU telling real from synthetic", "0"),
    ("tstr_mae", "predictive score: MAE (scaled) of a GRU trained on synthetic, tested on real", "= TRTR"),
    ("trtr_mae", "the same GRU trained on real, tested on real", "reference"),
    ("wasserstein_units", "1-Wasserstein distance of daily values (units)", "0"),
    ("zero_share_real", "share of zero days, real targets", "reference"),
    ("zero_share_synthetic", "share of zero days, synthetic targets", "= real"),
    ("acf_mean_abs_diff", "mean |ACF real - ACF synthetic|, lags 1-6 within the 7 days", "0"),
    ("xcf_mean_abs_diff", "mean |cross-corr. real - synthetic|, history -> target", "0"),
    ("diversity_ratio", "spread-skill ratio of the K samples (0 = mode collapse)", "1"),
    ("crps_generator", "CRPS of the generator's K samples on test (units/day)", "lower"),
    ("crps_baseline", "CRPS of block-resampling the window's own history (units/day)", "lower"),
    ("coverage50_generator", "share of test values inside the generator's 50% interval", "0.5"),
    ("coverage90_generator", "share of test values inside the generator's 90% interval", "0.9"),
    ("coverage50_baseline", "the same for the block-resampling sampler, 50%", "0.5"),
    ("coverage90_baseline", "the same for the block-resampling sampler, 90%", "0.9"),
)


def quality_table(quality: dict, digits: int = 4) -> "pd.DataFrame":
    """The headline sample-quality metrics with what each measures and its ideal value; KS statistics appended."""
    import pandas as pd

    rows = [(key, round(float(quality[key]), digits), meaning, ideal) for key, meaning, ideal in QUALITY_ROWS
            if key in quality]
    rows += [(key, round(float(value), digits), "two-sample KS statistic of a per-sequence statistic", "0")
             for key, value in quality.items() if key.startswith("ks_") and value is not None]
    return pd.DataFrame(rows, columns=["metric", "value", "what it measures", "ideal"]).set_index("metric")

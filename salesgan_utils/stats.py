"""Statistics over seeds and paired comparisons of two forecasts: t-intervals, Diebold-Mariano, paired bootstrap.

Used by the benchmark (stage 04). Pure functions of arrays; every random step takes a seed.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats

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

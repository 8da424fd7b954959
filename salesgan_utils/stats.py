"""Statistics over seeds and paired comparisons of two forecasters: t-intervals, seed-paired tests, a seed x entity
bootstrap and the Diebold-Mariano test.

Used by the benchmark (stage 04) and the backtest study (folds x seeds). Pure functions of arrays; every random
step takes a seed.
"""
from __future__ import annotations

from collections.abc import Sequence

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
    freedom, as HLN recommend for small samples. The benchmark feeds it one cross-entity differential per forecast
    origin (`daily_dm_test`, h = 7): overlapping windows of one entity never count as independent observations.

    Args:
        loss_a: (n,) losses of forecast A (e.g. one per forecast origin).
        loss_b: (n,) losses of forecast B on the same units.
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


def seed_paired_test(candidate: Sequence[float], reference: Sequence[float], level: float = 0.95) -> dict:
    """Paired t-test and t-interval of the per-seed relative change of a score, candidate vs reference.

    Each seed trains both models on the same real windows from the same initialisation seed, so seed s gives one
    paired change d_s = 100 (candidate_s / reference_s - 1). The test is a one-sample t-test of mean(d) = 0 on the
    n_seeds changes: its unit is the training run, so the p-value carries training randomness, and adding windows
    of the same entities cannot shrink it. With few seeds it has little power; that is the honest price.

    Args:
        candidate: (S,) the candidate's score per seed (e.g. test WRMSSE).
        reference: (S,) the reference's score for the same seeds, same order.
        level: coverage of the interval.

    Returns:
        {"pct", "pct_low", "pct_high", "p", "n_seeds", "diff"}: mean relative change in %, its t-interval, the
        two-sided p-value (NaN with fewer than 2 seeds; 1.0 when every change is 0), and the mean absolute change.
    """
    a = np.asarray(candidate, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"seed_paired_test: shapes {a.shape} and {b.shape} must be equal and 1-D (one per seed)")
    change = 100.0 * (a / b - 1.0)
    mean, low, high = mean_ci(change, level)
    out = {"pct": mean, "pct_low": low, "pct_high": high, "n_seeds": int(a.size), "diff": float(np.mean(a - b))}
    if a.size < 2:
        out["p"] = float("nan")
    elif np.allclose(change, change[0]):
        out["p"] = 1.0 if abs(change[0]) < 1e-12 else 0.0  # no spread: the t statistic is 0/0 or inf
    else:
        out["p"] = float(stats.ttest_1samp(change, 0.0).pvalue)
    return out


def hierarchical_bootstrap(candidate: np.ndarray, reference: np.ndarray, weights: np.ndarray | None = None, *,
                           n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """Two-level paired bootstrap over seeds and entities of the relative change of a weighted mean score.

    The statistic is 100 (sum_s sum_e w_e C[s, e] / sum_s sum_e w_e R[s, e] - 1), e.g. the change in WRMSSE from
    per-entity RMSSE. Each replicate draws seeds with replacement (training randomness) and, independently,
    entities with replacement (which products happen to be in the panel), and uses the same draws for candidate
    and reference, so the pairing survives. Windows never are the unit: an entity's overlapping windows stay
    together inside its RMSSE.

    Args:
        candidate: (S, E) per-seed, per-entity scores of the candidate.
        reference: (S, E) the reference's, same seeds and entities.
        weights: (E,) entity weights (None: equal).
        n_boot: replicates.
        level: coverage of the percentile interval.
        seed: seed of the resampling.

    Returns:
        {"pct", "pct_low", "pct_high"}.
    """
    c = np.asarray(candidate, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if c.shape != r.shape or c.ndim != 2:
        raise ValueError(f"hierarchical_bootstrap: shapes {c.shape} and {r.shape} must be equal (seeds, entities)")
    n_seeds, n_entities = c.shape
    w = np.ones(n_entities) if weights is None else np.asarray(weights, dtype=np.float64)
    rng = np.random.default_rng(seed)
    # multiplicities of each seed / entity in a replicate: resampling with replacement as counts
    seed_counts = rng.multinomial(n_seeds, np.full(n_seeds, 1.0 / n_seeds), size=n_boot)
    entity_counts = rng.multinomial(n_entities, np.full(n_entities, 1.0 / n_entities), size=n_boot) * w
    top = np.einsum("bs,se,be->b", seed_counts, c, entity_counts)
    bottom = np.einsum("bs,se,be->b", seed_counts, r, entity_counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = 100.0 * (top / bottom - 1.0)
    point = 100.0 * ((c * w).sum() / (r * w).sum() - 1.0)
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.nanpercentile(pct, [tail, 100.0 - tail]) if np.isfinite(pct).any() else (np.nan, np.nan)
    return {"pct": float(point), "pct_low": float(low), "pct_high": float(high)}


def daily_dm_test(loss_a: np.ndarray, loss_b: np.ndarray, horizon: int = 7) -> dict:
    """Diebold-Mariano test on a daily series of cross-entity loss differentials.

    Args:
        loss_a: (T,) candidate's loss per forecast origin (day), summed or averaged over entities and steps.
        loss_b: (T,) reference's loss per origin.
        horizon: the forecast horizon h: forecasts from origins fewer than h days apart share target days, so the
            differential is autocorrelated up to lag h - 1; `diebold_mariano` takes those lags into the variance.

    Returns:
        {"dm_stat", "dm_p", "dm_days"}.
    """
    statistic, p_value = diebold_mariano(loss_a, loss_b, horizon=horizon)
    return {"dm_stat": statistic, "dm_p": p_value, "dm_days": int(np.size(loss_a))}


# ----------------------------------------------------------------------------------------------------------------
# Folds x seeds: the backtest study's inference
# ----------------------------------------------------------------------------------------------------------------
def blocked_paired_test(changes: dict, level: float = 0.95) -> dict:
    """Mean paired change over folds (blocks) and seeds (replicates within a fold), its t-interval and t-test.

    The estimate is the mean over the F folds of each fold's seed mean (every fold weighs the same, whatever its
    seed count); its variance sum_f s_f^2 / (S_f F^2) uses the seed spread within each fold only, with
    Welch-Satterthwaite degrees of freedom: inference about these F periods, with training randomness (LSTM and
    generator seeds) as the noise. Fold-to-fold differences are not noise here; `across` gives the interval over
    the F fold means (F - 1 degrees of freedom), which asks whether the change holds across periods.

    Args:
        changes: {fold: (S_f,) per-seed paired changes (e.g. % change of test WRMSSE vs the reference)}; a fold
            needs >= 2 seeds to carry a variance.
        level: coverage of the intervals.

    Returns:
        {"pct", "pct_low", "pct_high", "p", "df", "n_folds", "n_pairs", "per_fold": {fold: (mean, low, high)},
        "across": (mean, low, high)}; NaN interval and p where no fold has 2 seeds.
    """
    folds = {f: np.asarray(v, dtype=np.float64)[np.isfinite(np.asarray(v, dtype=np.float64))]
             for f, v in changes.items()}
    folds = {f: v for f, v in folds.items() if v.size}
    if not folds:
        raise ValueError("blocked_paired_test: no finite change in any fold")
    n_folds = len(folds)
    means = np.array([v.mean() for v in folds.values()])
    estimate = float(means.mean())
    out = {"pct": estimate, "n_folds": n_folds, "n_pairs": int(sum(v.size for v in folds.values())),
           "per_fold": {f: mean_ci(v, level) for f, v in folds.items()}, "across": mean_ci(means, level)}
    if any(v.size < 2 for v in folds.values()):
        return {**out, "pct_low": float("nan"), "pct_high": float("nan"), "p": float("nan"), "df": float("nan")}
    parts = np.array([v.var(ddof=1) / (v.size * n_folds ** 2) for v in folds.values()])
    sizes = np.array([v.size for v in folds.values()])
    variance = float(parts.sum())
    if variance <= 1e-300:  # every seed agrees within every fold
        p_value = 1.0 if abs(estimate) < 1e-12 else 0.0
        return {**out, "pct_low": estimate, "pct_high": estimate, "p": p_value, "df": float("inf")}
    df = float(variance ** 2 / np.sum(parts ** 2 / (sizes - 1)))
    half = float(stats.t.ppf(0.5 + level / 2.0, df) * np.sqrt(variance))
    p_value = float(2.0 * stats.t.sf(abs(estimate) / np.sqrt(variance), df))
    return {**out, "pct_low": estimate - half, "pct_high": estimate + half, "p": p_value, "df": df}


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), in the input order; NaNs stay NaN and do not count.

    Args:
        p_values: the raw p-values of one family of comparisons.

    Returns:
        (m,) adjusted p-values, capped at 1.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m = order.size
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        out[index] = running
    return out


def rank_agreement(validation: Sequence[float], test: Sequence[float]) -> dict:
    """Spearman rank correlation of the same models' validation and test scores: can the test period tell the
    models apart the way validation does?

    Args:
        validation: (M,) one score per model on validation.
        test: (M,) the same models' scores on test, same order.

    Returns:
        {"spearman", "p", "n_models"}; NaN with fewer than 3 models.
    """
    a, b = np.asarray(validation, dtype=np.float64), np.asarray(test, dtype=np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3:
        return {"spearman": float("nan"), "p": float("nan"), "n_models": int(keep.sum())}
    result = stats.spearmanr(a[keep], b[keep])
    return {"spearman": float(result.statistic), "p": float(result.pvalue), "n_models": int(keep.sum())}

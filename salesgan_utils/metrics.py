"""Forecast and synthetic-data metrics as pure functions `(forecast_or_synthetic, observed_or_real, ...) -> float`.

Three families live here:

* point-forecast scores on long frames (M5 RMSSE per series and WRMSSE, pooled MAE/RMSE/bias), computed by
  `utilsforecast.losses`;
* probabilistic-forecast scores on (N, K, H) samples (fair and biased CRPS, randomised PIT for counts, interval
  coverage, spread-skill diversity, conditional means, integer share);
* distribution and temporal structure of synthetic sequences (marginal Wasserstein distance, zero share,
  autocorrelation, per-sequence statistics compared by Kolmogorov-Smirnov).

Settings are arguments; nothing here reads files or global state. Statistical tests over seeds live in `stats`;
learned scores (TimeGAN's discriminative and predictive scores) and the stage-03 table in `quality`. This module
imports nothing from the rest of the package.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

DEFAULT_LAGS = (1, 2, 3, 4, 5, 6)

# ----------------------------------------------------------------------------------------------------------------
# Point forecasts: M5 scores on long frames, through the maintained `utilsforecast.losses`
# ----------------------------------------------------------------------------------------------------------------
# Long frames follow utilsforecast: one row per series x forecast date (`unique_id`, `ds`, `y`) and one column per
# model. Rows of overlapping forecast origins may repeat a date; every row counts once in the series' mean.
def rmsse_per_series(df: pd.DataFrame, models: Sequence[str], train_df: pd.DataFrame, *,
                     id_col: str = "unique_id", time_col: str = "ds", target_col: str = "y") -> pd.DataFrame:
    """RMSSE of each series as in the M5 competition, by `utilsforecast.losses.rmsse` with seasonality 1.

    RMSSE_i = sqrt( mean over series i's forecast rows of (y - f)^2 / mean over its train period of
    (y_t - y_{t-1})^2 ): the squared errors of all its forecast origins and steps are pooled *before* the root, and
    the denominator is the in-sample one-step naive error over the series' training period (M5: from its first
    sale; pass `train_df` from the first sale on).

    Args:
        df: long evaluation frame with id, time, target and one column per model (units).
        models: the forecast columns.
        train_df: long training frame (id, time, target), sorted by time within each series, consecutive days.
        id_col, time_col, target_col: column names.

    Returns:
        DataFrame indexed by series id, one column per model; series whose denominator is 0 (a constant training
        series) are dropped, since their scaled error is undefined.
    """
    from utilsforecast import losses

    train = train_df[[id_col, time_col, target_col]].sort_values([id_col, time_col], kind="stable")
    out = losses.rmsse(df[[id_col, time_col, target_col, *models]], models=list(models), seasonality=1,
                       train_df=train, id_col=id_col, target_col=target_col, time_col=time_col)
    out = out.set_index(id_col)[list(models)]
    return out[np.isfinite(out.to_numpy(dtype=np.float64)).all(axis=1)]


def wrmsse(per_series: pd.DataFrame, weights: pd.Series) -> pd.Series:
    """Weighted RMSSE (M5): sum_i w_i RMSSE_i with the weights renormalised over the series present.

    Args:
        per_series: `rmsse_per_series` output (series x models).
        weights: non-negative weight per series id (e.g. train-period units); missing ids weigh 0.

    Returns:
        One WRMSSE per model column.
    """
    w = weights.reindex(per_series.index).fillna(0.0).to_numpy(dtype=np.float64)
    if w.sum() <= 0:
        return pd.Series(np.nan, index=per_series.columns)
    return pd.Series(w @ per_series.to_numpy(dtype=np.float64) / w.sum(), index=per_series.columns)


def pooled_errors(df: pd.DataFrame, models: Sequence[str], *, target_col: str = "y") -> pd.DataFrame:
    """MAE, RMSE and bias (mean forecast - mean actual) over all rows, by `utilsforecast.losses` on one pool.

    Args:
        df: long frame with the target and one column per model, in units.
        models: the forecast columns.
        target_col: the target column.

    Returns:
        DataFrame indexed by model with columns mae, rmse, bias.
    """
    from utilsforecast import losses

    pool = df[[target_col, *models]].assign(_pool=0)
    out = {}
    for name, loss in (("mae", losses.mae), ("rmse", losses.rmse), ("bias", losses.bias)):
        out[name] = loss(pool, models=list(models), id_col="_pool", target_col=target_col).iloc[0][list(models)]
    return pd.DataFrame(out).astype(np.float64)


def mae(forecast: np.ndarray, observed: np.ndarray) -> float:
    """Mean absolute error of two same-shape arrays (stage 03's TSTR/TRTR scores on scaled window arrays; forecast
    scores of stage 04 go through the long-frame functions above).

    Args:
        forecast: predictions, any shape.
        observed: observations, the same shape.

    Returns:
        The MAE.
    """
    forecast, observed = np.asarray(forecast, dtype=np.float64), np.asarray(observed, dtype=np.float64)
    if forecast.shape != observed.shape:
        raise ValueError(f"mae: forecast {forecast.shape} and observed {observed.shape} differ in shape")
    return float(np.abs(forecast - observed).mean())


def naive_scale(train_df: pd.DataFrame, *, id_col: str = "unique_id", time_col: str = "ds",
                target_col: str = "y") -> pd.Series:
    """The RMSSE denominator of each series: in-sample one-step naive MSE over its training rows (utilsforecast).

    Args:
        train_df: long training frame, consecutive days per series.
        id_col, time_col, target_col: column names.

    Returns:
        Series indexed by id.
    """
    from utilsforecast import losses

    train = train_df[[id_col, time_col, target_col]].sort_values([id_col, time_col], kind="stable")
    train = train.assign(naive=train.groupby(id_col, sort=False)[target_col].shift(1)).dropna(subset=["naive"])
    return losses.mse(train, models=["naive"], id_col=id_col, target_col=target_col).set_index(id_col)["naive"]


# ----------------------------------------------------------------------------------------------------------------
# Probabilistic forecasts (K samples per window)
# ----------------------------------------------------------------------------------------------------------------
def crps_samples(samples: np.ndarray, observed: np.ndarray) -> float:
    """Mean sample-based CRPS (energy form, the biased K² estimator) of K samples against the observations.

    CRPS(F, y) = E|X - y| - 1/2 E|X - X'| with X, X' drawn from the K samples *with replacement*; for a point mass
    (K = 1, or all samples equal) it equals the absolute error. Dividing the spread by K² under-counts it, so at
    small K this favours over-dispersed samplers; the fair estimator is `crps_fair`. Kept because the stage-03
    keys `crps_generator`/`crps_baseline` and the GAN's original validation metric were defined with it.

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


def crps_fair_windows(samples: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Fair (unbiased) sample CRPS of each window, averaged over its H steps.

    CRPS_fair = 1/K Σ|x_i − y| − 1/(2K(K−1)) Σ_{i≠j}|x_i − x_j| (Ferro 2014; Zamo & Naveau 2018). Dividing the
    spread term by K(K−1) instead of K² makes the score an unbiased estimate of the CRPS of the distribution the K
    draws come from, so a K-sample forecaster is not rewarded for being over-dispersed at small K. K = 1 is a point
    mass: its spread term is 0 and the score is the absolute error.

    Args:
        samples: (N, K, H) forecast samples.
        observed: (N, H) observations, same units.

    Returns:
        (N,) float64 per-window fair CRPS (the loss vector for paired tests).
    """
    samples, observed = _samples_pair(samples, observed, "crps_fair_windows")
    k = samples.shape[1]
    accuracy = np.abs(samples - observed[:, None, :]).mean(axis=1)
    if k == 1:
        return accuracy.mean(axis=1)
    # Σ_{i≠j}|x_i − x_j| from sorted samples in O(K log K): 2 Σ_i (2i − K + 1) x_(i)
    ordered = np.sort(samples, axis=1)
    weights = (2 * np.arange(k) - k + 1).reshape(1, k, 1)
    spread = 2.0 * (weights * ordered).sum(axis=1) / (k * (k - 1))
    return (accuracy - 0.5 * spread).mean(axis=1)


def crps_fair(samples: np.ndarray, observed: np.ndarray) -> float:
    """Mean fair sample CRPS over windows and steps (see `crps_fair_windows`).

    Args:
        samples: (N, K, H) forecast samples.
        observed: (N, H) observations, same units.

    Returns:
        The mean fair CRPS.
    """
    return float(crps_fair_windows(samples, observed).mean())


def randomized_pit(samples: np.ndarray, observed: np.ndarray, seed: int = 0) -> np.ndarray:
    """Randomised probability integral transform of each observation under its K samples (for counts).

    PIT = F(y−) + U·(F(y) − F(y−)) with F the empirical CDF of the K samples and U ~ Uniform(0, 1) (Czado,
    Gneiting & Held 2009). For a count forecast most mass sits on a few integers, and the plain PIT F(y) is then
    not uniform even for a perfect forecaster; the randomised one is. For continuous samples it reduces to F(y).

    Args:
        samples: (N, K, H) forecast samples.
        observed: (N, H) observations.
        seed: seed of U.

    Returns:
        (N, H) PIT values in [0, 1]; uniform for a calibrated forecaster.
    """
    samples, observed = _samples_pair(samples, observed, "randomized_pit")
    below = (samples < observed[:, None, :]).mean(axis=1)
    at = (samples == observed[:, None, :]).mean(axis=1)
    return below + np.random.default_rng(seed).random(observed.shape) * at


def pit_max_deviation(pit: np.ndarray, bins: int = 10) -> float:
    """Largest absolute deviation of a PIT histogram's bin shares from 1/bins (0 = perfectly flat).

    Args:
        pit: PIT values of any shape, in [0, 1].
        bins: equal-width bins (10 = deciles).

    Returns:
        max_b |share_b − 1/bins|.
    """
    counts, _ = np.histogram(np.ravel(pit), bins=bins, range=(0.0, 1.0))
    return float(np.abs(counts / max(1, counts.sum()) - 1.0 / bins).max())


def pit_coverage(pit: np.ndarray, level: float) -> float:
    """Share of PIT values inside the central `level` interval [(1 − level)/2, (1 + level)/2].

    On the randomised PIT this is the coverage of the central prediction interval with the ties at its ends split
    at random, so a calibrated count forecaster covers `level` in expectation (an interval with inclusive ends
    over-covers on discrete data: 0-to-0 "covers" every observed zero).

    Args:
        pit: PIT values (see `randomized_pit`).
        level: nominal coverage, e.g. 0.5 or 0.9.

    Returns:
        Empirical coverage in [0, 1].
    """
    pit = np.ravel(pit)
    return float(((pit >= 0.5 - level / 2.0) & (pit <= 0.5 + level / 2.0)).mean())


def probabilistic_scores(samples: np.ndarray, observed: np.ndarray, seed: int = 0) -> dict:
    """Fair CRPS, randomised-PIT coverage at 50%/90% and the PIT histogram's max decile deviation.

    Args:
        samples: (N, K, H) forecast samples in units.
        observed: (N, H) observations in units.
        seed: seed of the PIT randomisation.

    Returns:
        {"crps_fair", "coverage50", "coverage90", "pit_max_deviation", "n_windows", "k_samples"}.
    """
    pit = randomized_pit(samples, observed, seed=seed)
    return {"crps_fair": crps_fair(samples, observed), "coverage50": pit_coverage(pit, 0.5),
            "coverage90": pit_coverage(pit, 0.9), "pit_max_deviation": pit_max_deviation(pit),
            "n_windows": int(np.shape(samples)[0]), "k_samples": int(np.shape(samples)[1])}


def integer_share(values: np.ndarray, tolerance: float = 1e-6) -> float:
    """Share of values within `tolerance` of a whole number (sales are whole units).

    Args:
        values: values of any shape, in units.
        tolerance: absolute distance to the nearest integer that still counts as whole (float32 round-off).

    Returns:
        The share in [0, 1].
    """
    values = np.asarray(values, dtype=np.float64)
    return float((np.abs(values - np.round(values)) <= tolerance).mean())


def conditional_means(history: np.ndarray, real: np.ndarray, synthetic: np.ndarray, top_quantile: float = 0.9
                      ) -> dict:
    """Mean real vs synthetic target on windows whose history is all zero, and on the top history-level decile.

    A conditional generator must follow its condition: a product with no sales in 30 days should mostly get
    none, a best seller should keep selling. The top decile is taken over windows by the mean of their history.

    Args:
        history: (N, L) histories in units.
        real: (N, H) real targets in units.
        synthetic: (N, K, H) synthetic targets in units for the same windows.
        top_quantile: windows with history mean at or above this quantile form the top group (0.9 = decile).

    Returns:
        {"cond_mean_zero_history_real", "cond_mean_zero_history_synthetic", "cond_mean_top_decile_real",
        "cond_mean_top_decile_synthetic", "n_zero_history", "n_top_decile"}; NaN where a group is empty.
    """
    history = np.asarray(history, dtype=np.float64)
    level = history.mean(axis=1)
    groups = {"zero_history": level == 0, "top_decile": level >= np.quantile(level, top_quantile)}
    out = {}
    for name, mask in groups.items():
        any_ = bool(mask.any())
        out[f"cond_mean_{name}_real"] = float(np.asarray(real)[mask].mean()) if any_ else float("nan")
        out[f"cond_mean_{name}_synthetic"] = float(np.asarray(synthetic)[mask].mean()) if any_ else float("nan")
        out[f"n_{name}"] = int(mask.sum())
    return out


# ----------------------------------------------------------------------------------------------------------------
# Distribution and temporal structure of synthetic sequences
# ----------------------------------------------------------------------------------------------------------------
def gan_validation_scores(history: np.ndarray, target: np.ndarray, samples: np.ndarray) -> dict:
    """Stage 02's validation scores of K samples per validation window, all in units/day.

    `val_crps` is the fair CRPS (it selects the kept checkpoint); `val_cond_gap` the absolute gap between the
    synthetic and real mean target on windows whose history is all zero, plus the same gap on the top
    history-level decile (a generator that ignores its condition can score a small CRPS on the many all-zero
    windows yet put sales where there were none); `val_score = val_crps + val_cond_gap`. The gaps and `val_score`
    are diagnostics: they move with the demand shift between periods.

    Args:
        history: (N, L) histories in units.
        target: (N, H) real targets in units.
        samples: (N, K, H) samples in units.

    Returns:
        {"val_crps", "val_cond_gap", "val_score"} as floats.
    """
    cond = conditional_means(history, target, samples)
    gap = sum(abs(cond[f"cond_mean_{g}_synthetic"] - cond[f"cond_mean_{g}_real"])
              for g in ("zero_history", "top_decile") if cond[f"n_{g}"] > 0)
    crps = crps_fair(samples, target)
    return {"val_crps": crps, "val_cond_gap": float(gap), "val_score": crps + float(gap)}


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

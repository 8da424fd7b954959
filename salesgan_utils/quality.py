"""Synthetic-sample quality: TimeGAN's learned scores and the stage-03 report.

* `discriminative_score` and `predictive_score` (TimeGAN): a post-hoc GRU classifier and forecaster;
* `sample_quality_report` gathers every metric of `metrics` and the learned scores into one JSON-ready dict;
* `quality_table` is notebook 03's and the report's table of the headline numbers;
* `baseline_samples` and `forecast_scores`: the generator as a probabilistic forecaster beside five probabilistic
  baselines (block sampler, zero point mass, per-window count model, history analog, likelihood-trained NB LSTM),
  by fair CRPS, randomised-PIT coverage and PIT flatness.

The learned scores import torch lazily, so `metrics` and `stats` stay importable without it. Nothing here reads
files (`sample_quality_report` accepts any object with WindowSet's attributes).
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .metrics import (
    DEFAULT_LAGS,
    autocorrelation,
    conditional_means,
    cross_correlation,
    crps_samples,
    diversity_ratio,
    integer_share,
    interval_coverage,
    mae,
    probabilistic_scores,
    sequence_stat_ks,
    wasserstein_marginal,
    zero_share,
    zero_share_difference,
)

# Artifact name of stage 03's metrics (notebook 03 writes it; the report reads it).
QUALITY_FILE = "quality_metrics.json"
# Stage 03's forecast-score table: one row per split x subset x method (`forecast_scores`).
FORECAST_FILE = "probabilistic_scores.csv"

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
                          forecaster_epochs: int = 20, classifier_seeds: int = 5,
                          forecast_table: pd.DataFrame | None = None, samples_units: np.ndarray | None = None,
                          generator_steps: int | None = None) -> dict:
    """Every sample-quality metric as one flat, JSON-ready dict.

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
        classifier_seeds: the discriminative score is averaged over this many classifier seeds (seed, seed + 1,
            ...), each with its own train/held-out split and initialisation (TimeGAN repeats its metrics too);
            `discriminative_score` is the mean and `discriminative_score_sd` the standard deviation.
        forecast_table: `forecast_scores` of the generator and the probabilistic baselines (K >= 100 samples per
            window); its validation rows give `crps_fair_<method>`, and the generator's `coverage50_generator`,
            `coverage90_generator` (randomised PIT) and `pit_max_deviation`.
        samples_units: the samples in units when already known (whole units for a count-valued generator: the
            float32 scaled values would lose their last bits through `to_units`); from `samples_scaled` if None.
        generator_steps: training steps of the generator (reported as `generator_steps`).

    Returns:
        dict of floats; autocorrelations appear as `acf_real_lag{k}`, `acf_synthetic_lag{k}`,
        `xcf_real_lag{k}`, `xcf_synthetic_lag{k}` plus their mean absolute differences.
    """
    samples_scaled = np.asarray(samples_scaled, dtype=np.float64)
    n, k, horizon = samples_scaled.shape
    lags = list(lags)
    real_units = windows.to_units(windows.target)
    history_units = windows.to_units(windows.history)
    samples_units = (windows.to_units(samples_scaled) if samples_units is None
                     else np.asarray(samples_units, dtype=np.float64))
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
    conditional = conditional_means(history_units, real_units, samples_units)
    report.update({key: value for key, value in conditional.items() if key.startswith("cond_mean_")})
    report["integer_share_synthetic"] = integer_share(samples_units)
    if generator_steps is not None:
        report["generator_steps"] = int(generator_steps)

    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(n, min(n, max_windows), replace=False))
    history, real, synthetic = windows.history[pick], windows.target[pick], samples_scaled[pick, 0]
    scores = [discriminative_score(real, synthetic, real_history=history, synthetic_history=history, seed=seed + i,
                                   epochs=classifier_epochs) for i in range(max(1, classifier_seeds))]
    report["discriminative_score"] = float(np.mean(scores))
    report["discriminative_score_sd"] = float(np.std(scores, ddof=1)) if len(scores) > 1 else float("nan")
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
    if forecast_table is not None:
        val = forecast_table[(forecast_table["split"] == "val") & (forecast_table["subset"] == "all")]
        val = val.set_index("method")
        for method in val.index:
            report[f"crps_fair_{method}"] = float(val.loc[method, "crps_fair"])
        if "generator" in val.index:  # K >= 100, randomised PIT: replaces the K-sample interval coverage above
            for key in ("coverage50", "coverage90"):
                report[f"{key}_generator"] = float(val.loc["generator", key])
            report["pit_max_deviation"] = float(val.loc["generator", "pit_max_deviation"])
    return report


# ----------------------------------------------------------------------------------------------------------------
# The generator as a probabilistic forecaster, beside five probabilistic baselines
# ----------------------------------------------------------------------------------------------------------------
PROBABILISTIC_BASELINES = ("block_sampler", "zero", "count_baseline", "history_analog", "likelihood_lstm")


def baseline_samples(train, val, windows_by_split: dict, *, k: int, seed: int, likelihood_seeds=(0, 1, 2),
                     **likelihood_settings) -> dict:
    """K sample paths in units from the five probabilistic baselines, for each split's windows.

    `block_sampler`: the window's own past 7-day blocks resampled; `zero`: the zero point mass (one path: a point
    mass needs no more); `count_baseline`: a Poisson / negative binomial fitted to the window's own 30-day history;
    `history_analog`: the real targets of the K train windows with the nearest histories (the copy control: a
    lookup in the pool the generator learned from); `likelihood_lstm`: the DeepAR-style NB LSTM trained by maximum
    likelihood on `train` (early stopping on `val`), one model per seed in `likelihood_seeds`, K/len(seeds) paths
    from each.

    Args:
        train, val: windows to fit the likelihood LSTM on.
        windows_by_split: {split: WindowSet} to sample for (e.g. val and test).
        k: paths per window.
        seed: seed of the draws.
        likelihood_seeds: training seeds of the likelihood LSTM.
        **likelihood_settings: `likelihood.fit_likelihood_lstm` settings (hidden, layers, epochs, ...).

    Returns:
        {split: {method: (N, K, H) float32 units}}, methods in `PROBABILISTIC_BASELINES` order.
    """
    from . import baselines, likelihood

    fitted = likelihood.fit_ensemble(train, val, seeds=likelihood_seeds, **likelihood_settings)
    pool_history, pool_target = train.to_units(train.history), train.to_units(train.target)
    out = {}
    for split, ws in windows_by_split.items():
        history = ws.to_units(ws.history)
        out[split] = {
            "block_sampler": baselines.block_resample_sampler(history, ws.horizon, k, seed=seed),
            "zero": baselines.zero_sampler(history, ws.horizon, k=1),
            "count_baseline": baselines.count_model_sampler(history, ws.horizon, k, seed=seed),
            "history_analog": baselines.history_analog_sampler(history, pool_history, pool_target,
                                                               k=min(k, len(train))),
            "likelihood_lstm": likelihood.sample_ensemble(fitted, ws, k, seed=seed),
        }
        out[split] = {name: samples.astype(np.float32) for name, samples in out[split].items()}
    return out


def forecast_scores(windows_by_split: dict, samples_by_split: dict, seed: int = 0) -> pd.DataFrame:
    """Fair CRPS, randomised-PIT coverage and PIT flatness of every method on every split, all windows and active.

    "active" windows have at least one sale in their history: on the others a zero forecast is nearly always
    right and the scores mostly measure how many such windows a split holds.

    Args:
        windows_by_split: {split: WindowSet}.
        samples_by_split: {split: {method: (N, K, H) samples in units}}.
        seed: seed of the PIT randomisation.

    Returns:
        DataFrame with split, subset ("all"/"active"), method, crps_fair, coverage50, coverage90,
        pit_max_deviation, n_windows, k_samples.
    """
    rows = []
    for split, ws in windows_by_split.items():
        observed = ws.to_units(ws.target)
        active = ws.to_units(ws.history).max(axis=1) > 0
        for method, samples in samples_by_split[split].items():
            for subset, mask in (("all", slice(None)), ("active", active)):
                scores = probabilistic_scores(np.asarray(samples)[mask], observed[mask], seed=seed)
                rows.append({"split": split, "subset": subset, "method": method, **scores})
    return pd.DataFrame(rows)


QUALITY_ROWS = (  # (key, what it measures, ideal value)
    ("discriminative_score", "|accuracy - 0.5| of a post-hoc GRU telling real from synthetic (mean of seeds)",
     "0"),
    ("tstr_mae", "predictive score: MAE (scaled) of a GRU trained on synthetic, tested on real", "= TRTR"),
    ("trtr_mae", "the same GRU trained on real, tested on real", "reference"),
    ("wasserstein_units", "1-Wasserstein distance of daily values (units)", "0"),
    ("zero_share_real", "share of zero days, real targets", "reference"),
    ("zero_share_synthetic", "share of zero days, synthetic targets", "= real"),
    ("acf_mean_abs_diff", "mean |ACF real - ACF synthetic|, lags 1-6 within the 7 days", "0"),
    ("xcf_mean_abs_diff", "mean |cross-corr. real - synthetic|, history -> target", "0"),
    ("diversity_ratio", "spread-skill ratio of the K samples (0 = mode collapse)", "1"),
    ("crps_generator", "CRPS (biased K^2 form) of the generator's K samples on test (units/day)", "lower"),
    ("crps_baseline", "CRPS (K^2 form) of block-resampling the window's own history, test (units/day)", "lower"),
    ("coverage50_generator", "generator's 50% interval coverage (randomised PIT, K >= 100, validation)", "0.5"),
    ("coverage90_generator", "generator's 90% interval coverage (randomised PIT, K >= 100, validation)", "0.9"),
    ("coverage50_baseline", "the same for the block-resampling sampler, 50%", "0.5"),
    ("coverage90_baseline", "the same for the block-resampling sampler, 90%", "0.9"),
    ("discriminative_score_sd", "sd of the discriminative score over its classifier seeds", "small"),
    ("crps_fair_generator", "fair CRPS of the generator's K >= 100 samples on validation (units/day)", "lower"),
    ("crps_fair_block_sampler", "fair CRPS, block-resampling the window's own history (validation)", "lower"),
    ("crps_fair_zero", "fair CRPS of the zero point mass (validation)", "lower"),
    ("crps_fair_count_baseline", "fair CRPS, Poisson/NB fitted to the window's own history (validation)", "lower"),
    ("crps_fair_likelihood_lstm", "fair CRPS, NB LSTM trained by maximum likelihood (validation)", "lower"),
    ("pit_max_deviation", "largest |decile share - 0.1| of the generator's randomised PIT (validation)", "0"),
    ("cond_mean_zero_history_real", "mean real target (units/day), train windows with an all-zero history",
     "reference"),
    ("cond_mean_zero_history_synthetic", "the same for the synthetic targets", "= real"),
    ("cond_mean_top_decile_real", "mean real target (units/day), top decile of train windows by history level",
     "reference"),
    ("cond_mean_top_decile_synthetic", "the same for the synthetic targets", "= real"),
    ("integer_share_synthetic", "share of synthetic values that are whole units", "1"),
    ("generator_steps", "generator updates of the checkpoint used", "info"),
)


def quality_table(quality: dict, digits: int = 4) -> pd.DataFrame:
    """The headline sample-quality metrics with what each measures and its ideal value; KS statistics appended."""
    import pandas as pd

    rows = [(key, round(float(quality[key]), digits), meaning, ideal) for key, meaning, ideal in QUALITY_ROWS
            if key in quality]
    rows += [(key, round(float(value), digits), "two-sample KS statistic of a per-sequence statistic", "0")
             for key, value in quality.items() if key.startswith("ks_") and value is not None]
    return pd.DataFrame(rows, columns=["metric", "value", "what it measures", "ideal"]).set_index("metric")

"""Stage 04's protocol: does adding synthetic windows to the LSTM's training data lower its test error?

`run_benchmark` fits the LSTM forecaster on real train windows only, on real + GAN-synthetic windows and on real +
simply-augmented windows at each synthetic:real ratio, over several seeds, and scores every fit and every
deterministic baseline on the same test windows: MAE/RMSE/MASE/RMSSE in units (through `WindowSet.to_units`) and
MAE/RMSE on scaled values; mean and t-interval over seeds; for each candidate a paired comparison with the
real-only LSTM on the same windows (Diebold-Mariano and an entity-cluster bootstrap of the MAE difference); and
MAE per demand class. `verdict` states the outcome in one sentence computed from these numbers.

Protocol choices, each for honesty rather than convenience:
* synthetic and augmented windows are built only from the train windows the real-only model also sees;
* model selection is on validation: early stopping restores each fit's best-validation weights, and the verdict
  picks the GAN ratio and the best simple augmentation by mean validation loss, never by test error;
* within one seed every variant starts from the same initialisation seed and the same real windows, so the
  variants differ only in the added windows.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from . import metrics, stats
from .augment import augment, mix, synthetic_windows_from_samples
from .baselines import all_point_baselines
from .forecaster import fit_forecaster
from .paths import atomic_path, write_text_atomic
from .data import DEMAND_CLASSES, scaled_from_units
from .windows import WindowSet

# Artifact names of stage 04 (this module writes them; readers import these names).
RESULTS_FILE, BY_SEED_FILE, PAIRED_FILE = "results.csv", "results_by_seed.csv", "paired_tests.csv"
BY_CLASS_FILE, SUMMARY_FILE, WINDOW_ERRORS_FILE = "results_by_class.csv", "summary.json", "window_errors.npz"

REFERENCE = "lstm_real"
UNIT_METRICS = ("mae", "rmse", "mase", "rmsse")
SCALED_METRICS = ("mae_scaled", "rmse_scaled")
METRICS = UNIT_METRICS + SCALED_METRICS


def variant_name(augmentation: str, ratio: float = 0.0) -> str:
    """Model name of an LSTM variant: "lstm_real", "lstm_features" or e.g. "lstm_gan_r0.5"."""
    if augmentation in ("real", "features"):
        return f"lstm_{augmentation}"
    return f"lstm_{augmentation}_r{ratio:g}"


@dataclass
class BenchmarkResult:
    """Everything `run_benchmark` measured.

    Attributes:
        by_seed: one row per model and seed (baselines: seed NaN) with the test metrics and fit details.
        summary: one row per model: mean and CI (`<metric>_low`, `<metric>_high`) over seeds, sorted by MAE.
        paired: one row per candidate compared with the real-only LSTM on the same test windows.
        by_class: test MAE (units) per model and demand class, mean and CI over seeds.
        window_errors: {model: (n_seeds, N_test) per-window MAE in units}, the input of the paired tests.
        settings: the arguments of the run.
    """

    by_seed: pd.DataFrame
    summary: pd.DataFrame
    paired: pd.DataFrame
    by_class: pd.DataFrame
    window_errors: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def verdict(self) -> str:
        """The one-sentence outcome (see `verdict`)."""
        return verdict(self)

    def save(self, folder: str | Path) -> dict[str, Path]:
        """Write results.csv (summary), results_by_seed.csv, paired_tests.csv, results_by_class.csv, summary.json
        and window_errors.npz ({model: (n_seeds, N_test) per-window MAE in units}).

        Each file is written atomically, so a killed run never leaves half a table.

        Args:
            folder: the stage folder (created if missing).

        Returns:
            {file name: path}.
        """
        folder = Path(folder)
        tables = {RESULTS_FILE: self.summary, BY_SEED_FILE: self.by_seed,
                  PAIRED_FILE: self.paired, BY_CLASS_FILE: self.by_class}
        written = {name: write_text_atomic(folder / name, table.to_csv(index=False)) for name, table in tables.items()}
        summary = {"verdict": self.verdict(), "reference": REFERENCE, "settings": self.settings,
                   "results": self.summary.to_dict(orient="records"),
                   "paired_tests": self.paired.to_dict(orient="records")}
        text = json.dumps(_json_safe(summary), indent=2, allow_nan=False) + "\n"
        written[SUMMARY_FILE] = write_text_atomic(folder / SUMMARY_FILE, text)
        # the per-window errors behind the paired tests, so they can be recomputed without refitting anything
        with atomic_path(folder / WINDOW_ERRORS_FILE) as tmp:
            with open(tmp, "wb") as handle:
                np.savez_compressed(handle, **{name: np.asarray(v) for name, v in self.window_errors.items()})
        written[WINDOW_ERRORS_FILE] = folder / WINDOW_ERRORS_FILE
        return written


def _json_safe(value):
    """NaN/inf -> None and numpy scalars -> Python, so summary.json is strict JSON."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _scores(forecast_units: np.ndarray, windows: WindowSet, observed_units: np.ndarray) -> tuple[dict, np.ndarray]:
    """Test metrics of one forecast and its per-window MAE in units."""
    forecast_scaled = scaled_from_units(forecast_units, windows.scale_min, windows.scale_range)
    row = metrics.point_metrics(forecast_units, observed_units, windows.naive_mae, windows.naive_mse)
    row["mae_scaled"] = metrics.mae(forecast_scaled, windows.target)
    row["rmse_scaled"] = metrics.rmse(forecast_scaled, windows.target)
    return row, metrics.window_abs_error(forecast_units, observed_units)


def run_benchmark(train: WindowSet, val: WindowSet, test: WindowSet, gan_samples_scaled: np.ndarray | None = None,
                  *, ratios: Sequence[float] = (0.5, 1, 5), seeds: Sequence[int] = (0, 1),
                  augmentations: Sequence[str] = ("jitter", "scaling", "block_bootstrap"),
                  augment_settings: dict | None = None, include_features_variant: bool = False,
                  hidden: int = 128, layers: int = 2, epochs: int = 50, patience: int = 5, batch_size: int = 128,
                  lr: float = 1e-3, max_train_windows: int | None = None, ma_window: int = 7,
                  clip_at_zero: bool = True, n_boot: int = 2000, level: float = 0.95,
                  num_threads: int | None = None, log: Callable[[str], None] | None = print) -> BenchmarkResult:
    """Run the augmentation benchmark.

    Args:
        train: real train windows (the only source of synthetic/augmented windows).
        val: validation windows for early stopping and variant selection.
        test: test windows, scored by every model.
        gan_samples_scaled: (len(train), K, H) scaled generator samples conditioned on the train windows, or None
            to skip the GAN variants.
        ratios: synthetic:real ratios of the augmented variants.
        seeds: seeds of the learned models (each seed: init, batch order, subsampling, augmentation noise).
        augmentations: simple augmentations, keys of `augment.AUGMENTATIONS`.
        augment_settings: {augmentation: {setting: value}}, e.g. {"jitter": {"sigma": 0.03}}.
        include_features_variant: also fit the real-only LSTM that sees calendar + reviews.
        hidden: LSTM width.
        layers: LSTM layers.
        epochs: maximum epochs per fit.
        patience: early-stopping patience.
        batch_size: mini-batch size.
        lr: Adam learning rate.
        max_train_windows: cap on real train windows per seed (seeded subset shared by that seed's variants;
            synthetic windows then come from the same subset's conditions).
        ma_window: moving-average window of that baseline.
        clip_at_zero: clip LSTM forecasts at 0 units (sales are non-negative; baselines never go below 0).
        n_boot: bootstrap replicates of the paired comparisons.
        level: confidence level of all intervals.
        num_threads: torch CPU threads during the run (restored afterwards); None keeps torch's setting. On a
            shared, oversubscribed host one thread was 4-10x faster per epoch than two (bench/RESULTS.md).
        log: called with one progress line per fit; None for silence.

    Returns:
        The BenchmarkResult.
    """
    previous_threads = torch.get_num_threads()
    if num_threads:
        torch.set_num_threads(num_threads)
    try:
        return _run(train, val, test, gan_samples_scaled, ratios=ratios, seeds=seeds, augmentations=augmentations,
                    augment_settings=augment_settings, include_features_variant=include_features_variant,
                    fit_settings=dict(hidden=hidden, layers=layers, epochs=epochs, patience=patience,
                                      batch_size=batch_size, lr=lr),
                    max_train_windows=max_train_windows, ma_window=ma_window, clip_at_zero=clip_at_zero,
                    n_boot=n_boot, level=level, log=log)
    finally:
        torch.set_num_threads(previous_threads)


def _run(train, val, test, gan_samples_scaled, *, ratios, seeds, augmentations, augment_settings,
         include_features_variant, fit_settings, max_train_windows, ma_window, clip_at_zero, n_boot, level, log):
    """The body of `run_benchmark` (same arguments, fit settings gathered in one dict)."""
    say = log or (lambda message: None)
    if gan_samples_scaled is not None:
        gan_samples_scaled = np.asarray(gan_samples_scaled)
        if gan_samples_scaled.ndim != 3 or gan_samples_scaled.shape[0] != len(train):
            raise ValueError(f"run_benchmark: gan_samples_scaled {gan_samples_scaled.shape} must be "
                             f"({len(train)}, K, H), one row per train window (train conditions only)")
    augment_settings = augment_settings or {}
    observed = test.to_units(test.target)
    rows, errors = [], {}

    for name, forecast in all_point_baselines(test.to_units(test.history), test.horizon, ma_window).items():
        row, window_error = _scores(forecast, test, observed)
        rows.append({"model": name, "family": "baseline", "augmentation": "none", "ratio": 0.0, "seed": np.nan,
                     **row})
        errors[name] = window_error[None, :]

    plan = [("real", 0.0)] + ([("features", 0.0)] if include_features_variant else [])
    plan += [("gan", r) for r in ratios if gan_samples_scaled is not None]
    plan += [(a, r) for a in augmentations for r in ratios]
    total, done = len(seeds) * len(plan), 0
    for seed in seeds:
        rng = np.random.default_rng(seed)
        keep = np.arange(len(train))
        if max_train_windows is not None and len(train) > max_train_windows:
            keep = np.sort(rng.choice(len(train), max_train_windows, replace=False))
        real = train.subset(keep)
        for position, (kind, ratio) in enumerate(plan):
            model = variant_name(kind, ratio)
            if kind in ("real", "features"):
                train_set = real
            else:
                if kind == "gan":
                    pool = synthetic_windows_from_samples(real, gan_samples_scaled[keep])
                else:
                    # enough perturbed copies that `mix` can draw without replacement
                    pool = augment(real, kind, copies=max(1, math.ceil(ratio)), seed=seed * 1000 + position,
                                   **augment_settings.get(kind, {}))
                train_set = mix(real, pool, ratio, seed=seed * 1000 + position)
            started = time.perf_counter()
            fitted = fit_forecaster(train_set, val, seed=seed, use_features=kind == "features", **fit_settings)
            forecast = test.to_units(fitted.predict(test))
            if clip_at_zero:
                forecast = np.maximum(forecast, 0.0)
            row, window_error = _scores(forecast, test, observed)
            seconds = time.perf_counter() - started
            rows.append({"model": model, "family": "lstm", "augmentation": kind, "ratio": float(ratio),
                         "seed": seed, **row, "n_train_real": len(real),
                         "n_train_synthetic": len(train_set) - len(real), "best_epoch": fitted.best_epoch,
                         "best_val_loss": fitted.best_val_loss, "fit_seconds": seconds})
            errors.setdefault(model, []).append(window_error)
            done += 1
            say(f"[benchmark] fit {done}/{total} seed {seed} {model}: {len(real)} real + "
                f"{len(train_set) - len(real)} synthetic windows, best epoch {fitted.best_epoch}, "
                f"val MSE {fitted.best_val_loss:.5f}, test MAE {row['mae']:.4f} units ({seconds:.1f}s)")
    errors = {name: np.asarray(np.stack(values) if isinstance(values, list) else values)
              for name, values in errors.items()}
    by_seed = pd.DataFrame(rows)
    settings = dict(ratios=list(ratios), seeds=list(seeds), augmentations=list(augmentations),
                    augment_settings=augment_settings, include_features_variant=include_features_variant,
                    max_train_windows=max_train_windows, ma_window=ma_window, clip_at_zero=clip_at_zero,
                    n_boot=n_boot, level=level, gan=gan_samples_scaled is not None,
                    gan_k=None if gan_samples_scaled is None else int(gan_samples_scaled.shape[1]),
                    n_train=len(train), n_val=len(val), n_test=len(test), num_threads=torch.get_num_threads(),
                    **fit_settings)
    return BenchmarkResult(by_seed=by_seed, summary=summarise(by_seed, level),
                           paired=paired_tests(errors, test.entity, n_boot=n_boot, level=level),
                           by_class=class_table(errors, test.demand_class, level),
                           window_errors=errors, settings=settings)


def summarise(by_seed: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean and t-interval over seeds of every metric, one row per model, sorted by test MAE.

    Args:
        by_seed: `BenchmarkResult.by_seed`.
        level: interval coverage.

    Returns:
        Columns model, family, augmentation, ratio, n_seeds, then `<metric>`, `<metric>_low`, `<metric>_high`
        for each metric, mean best_val_loss (NaN for baselines), and mae_vs_real_pct.
    """
    out = []
    for model, group in by_seed.groupby("model", sort=False):
        first = group.iloc[0]
        row = {"model": model, "family": first["family"], "augmentation": first["augmentation"],
               "ratio": first["ratio"], "n_seeds": len(group)}
        for metric in METRICS:
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = stats.mean_ci(group[metric], level)
        values = group["best_val_loss"] if "best_val_loss" in group else pd.Series(dtype=float)
        row["val_loss"] = float(values.mean()) if values.notna().any() else np.nan
        out.append(row)
    table = pd.DataFrame(out)
    reference = table.loc[table["model"] == REFERENCE, "mae"]
    table["mae_vs_real_pct"] = 100.0 * (table["mae"] / reference.iloc[0] - 1.0) if len(reference) else np.nan
    return table.sort_values("mae", kind="stable").reset_index(drop=True)


def paired_tests(window_errors: dict, groups: np.ndarray, *, n_boot: int = 2000, level: float = 0.95,
                 seed: int = 0) -> pd.DataFrame:
    """Each model against the real-only LSTM on the same test windows.

    Per-window MAE (units) is averaged over seeds first, so a variant's seed noise does not masquerade as a
    window effect; a DM test on per-entity mean differentials and an entity-cluster bootstrap then compare them.

    Args:
        window_errors: {model: (n_seeds, N) per-window MAE}; must hold REFERENCE.
        groups: (N,) entity of each test window, the bootstrap's clusters.
        n_boot: bootstrap replicates.
        level: interval coverage.
        seed: bootstrap seed.

    Returns:
        One row per candidate: candidate, reference, mae_candidate, mae_reference, diff (candidate - reference,
        units), diff_low, diff_high, pct, pct_low, pct_high, dm_stat, dm_p, n_windows. Empty without REFERENCE.
    """
    columns = ["candidate", "reference", "mae_candidate", "mae_reference", "diff", "diff_low", "diff_high", "pct",
               "pct_low", "pct_high", "dm_stat", "dm_p", "dm_n", "n_windows"]
    if REFERENCE not in window_errors:
        return pd.DataFrame(columns=columns)
    reference = np.asarray(window_errors[REFERENCE]).mean(axis=0)
    rows = []
    for name, values in window_errors.items():
        if name == REFERENCE:
            continue
        candidate = np.asarray(values).mean(axis=0)
        result = stats.paired_comparison(candidate, reference, groups=groups, n_boot=n_boot, level=level,
                                            seed=seed)
        rows.append({"candidate": name, "reference": REFERENCE, "mae_candidate": float(candidate.mean()),
                     "mae_reference": float(reference.mean()), **result, "n_windows": int(candidate.size)})
    return pd.DataFrame(rows, columns=columns)


def class_table(window_errors: dict, demand_class: np.ndarray, level: float = 0.95) -> pd.DataFrame:
    """Test MAE (units) per model and demand class, mean and t-interval over seeds.

    Args:
        window_errors: {model: (n_seeds, N) per-window MAE in units}.
        demand_class: (N,) class index of each test window (0 smooth, 1 erratic, 2 intermittent, 3 lumpy).
        level: interval coverage.

    Returns:
        Columns model, demand_class, class_name, n_windows, mae, mae_low, mae_high.
    """
    demand_class = np.asarray(demand_class)
    rows = []
    for name, values in window_errors.items():
        values = np.asarray(values)
        for index in np.unique(demand_class):
            mask = demand_class == index
            mean, low, high = stats.mean_ci(values[:, mask].mean(axis=1), level)
            label = DEMAND_CLASSES[index] if 0 <= index < len(DEMAND_CLASSES) else str(index)
            rows.append({"model": name, "demand_class": int(index), "class_name": label,
                         "n_windows": int(mask.sum()), "mae": mean, "mae_low": low, "mae_high": high})
    return pd.DataFrame(rows, columns=["model", "demand_class", "class_name", "n_windows", "mae", "mae_low",
                                       "mae_high"])


def _pick_by_validation(summary: pd.DataFrame, mask: pd.Series) -> pd.Series | None:
    candidates = summary[mask]
    if candidates.empty:
        return None
    return candidates.sort_values(["val_loss", "model"], kind="stable").iloc[0]


def _change(paired: pd.DataFrame, model: str) -> str:
    row = paired.loc[paired["candidate"] == model].iloc[0]
    return (f"{row['pct']:+.1f}% [{row['pct_low']:+.1f}%, {row['pct_high']:+.1f}%] versus real-only "
            f"(DM p={row['dm_p']:.2g})")


def verdict(result: BenchmarkResult) -> str:
    """One sentence on the outcome, computed from the numbers.

    The GAN ratio and the best simple augmentation are the ones with the lowest mean validation loss (selection on
    validation, not test); their test MAE change versus the real-only LSTM comes with the bootstrap CI and the DM
    p-value. The best baseline is the one with the lowest test MAE.

    Args:
        result: a BenchmarkResult.

    Returns:
        The verdict text.
    """
    summary, paired = result.summary, result.paired
    parts = []
    if REFERENCE not in set(summary["model"]):
        return "No real-only LSTM was fitted, so no augmentation can be judged."
    gan = _pick_by_validation(summary, summary["augmentation"] == "gan")
    if gan is None:
        parts.append("No GAN samples were given, so GAN augmentation was not measured")
    else:
        parts.append(f"GAN augmentation at ratio {gan['ratio']:g} (chosen on validation) changed test MAE by "
                     f"{_change(paired, gan['model'])}")
    simple = _pick_by_validation(summary, ~summary["augmentation"].isin(["none", "real", "features", "gan"]))
    if simple is not None:
        parts.append(f"the best simple augmentation ({simple['augmentation']}, ratio {simple['ratio']:g}) by "
                     f"{_change(paired, simple['model'])}")
    baselines = summary[summary["family"] == "baseline"]
    real_mae = float(summary.loc[summary["model"] == REFERENCE, "mae"].iloc[0])
    if not baselines.empty:
        best = baselines.iloc[0]  # summary is sorted by test MAE
        relation = "below" if best["mae"] < real_mae else "above"
        parts.append(f"the best baseline is {best['model']} with test MAE {best['mae']:.3f} units, {relation} the "
                     f"real-only LSTM's {real_mae:.3f}")
    return "; ".join(parts) + "."


def settings_from_params(settings: dict) -> dict:
    """`run_benchmark` keyword arguments from notebook 04's parameters (seeds are seed, seed + 1, ...)."""
    first = int(settings["seed"])
    return {"ratios": tuple(float(r) for r in settings["ratios"]),
            "seeds": tuple(range(first, first + int(settings["n_seeds"]))),
            "augmentations": tuple(settings["augmentations"]), "hidden": int(settings["forecaster_hidden"]),
            "layers": int(settings["forecaster_layers"]), "epochs": int(settings["forecaster_epochs"]),
            "patience": int(settings["forecaster_patience"]), "batch_size": int(settings["forecaster_batch_size"]),
            "lr": float(settings["lr_forecaster"]), "max_train_windows": int(settings["max_train_windows"]) or None}


def results_table(summary: pd.DataFrame, metrics: Sequence[str] = UNIT_METRICS, digits: int = 3) -> pd.DataFrame:
    """The summary as a readable table: `mean [low, high]` per metric, ★ on the best model of each metric.

    Args:
        summary: `BenchmarkResult.summary` (or results.csv read back).
        metrics: metric columns to show (lower is better for all of them).
        digits: decimals.

    Returns:
        DataFrame indexed by model, sorted by the first metric.
    """
    table = summary.sort_values(metrics[0]).reset_index(drop=True)
    shown = pd.DataFrame({"model": table["model"], "family": table["family"], "seeds": table["n_seeds"]})
    for metric in metrics:
        best = table[metric].min()
        cells = []
        for _, row in table.iterrows():
            text = f"{row[metric]:.{digits}f}"
            if np.isfinite(row.get(f"{metric}_low", np.nan)):
                text += f" [{row[f'{metric}_low']:.{digits}f}, {row[f'{metric}_high']:.{digits}f}]"
            cells.append(("★ " if row[metric] == best else "") + text)
        shown[metric.upper()] = cells
    if "mae_vs_real_pct" in table:
        shown["MAE vs real-only"] = [f"{v:+.1f}%" if np.isfinite(v) else "" for v in table["mae_vs_real_pct"]]
    return shown.set_index("model")


def results_markdown(stage_folder: str | Path, metrics: Sequence[str] = UNIT_METRICS) -> str:
    """Markdown of a saved stage-04 folder: the verdict, the results table, the paired tests and the class table.

    Used for docs/results.md: `python -m salesgan_utils.benchmark markdown outputs/<run>/04_augmentation_benchmark`.
    """
    import json

    folder = Path(stage_folder)
    summary = json.loads((folder / SUMMARY_FILE).read_text())
    table = results_table(pd.read_csv(folder / RESULTS_FILE), metrics)
    paired = pd.read_csv(folder / PAIRED_FILE)
    by_class = pd.read_csv(folder / BY_CLASS_FILE)
    paired_rows = pd.DataFrame({
        "candidate": paired["candidate"],
        "test MAE (units)": paired["mae_candidate"].map("{:.4f}".format),
        "change vs real-only": [f"{p:+.1f}% [{lo:+.1f}%, {hi:+.1f}%]" for p, lo, hi in
                                zip(paired["pct"], paired["pct_low"], paired["pct_high"])],
        "DM p": paired["dm_p"].map("{:.2g}".format), "entities": paired.get("dm_n", paired["n_windows"])})
    classes = by_class.pivot_table(index="model", columns="class_name", values="mae").round(4)
    counts = by_class.drop_duplicates("class_name").set_index("class_name")["n_windows"]
    classes.columns = [f"{c} (n={counts.get(c, 0)})" for c in classes.columns]
    return "\n\n".join([
        f"**Verdict (computed):** {summary['verdict']}",
        "Test windows, mean [95% CI over seeds]; MAE and RMSE in units per day, MASE and RMSSE scale-free; "
        "★ = best per column.\n\n" + table.to_markdown(),
        "Paired comparisons with the real-only LSTM on the same test windows (per-window MAE averaged over seeds; "
        "CI: bootstrap over entities; DM: Diebold-Mariano with the HLN correction on per-entity mean loss differentials):\n\n"
        + paired_rows.to_markdown(index=False),
        "Test MAE (units) by Syntetos-Boylan demand class of the entity (train period):\n\n" + classes.to_markdown(),
    ]) + "\n"


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3 or sys.argv[1] != "markdown":
        sys.exit("usage: python -m salesgan_utils.benchmark markdown outputs/<run>/04_augmentation_benchmark")
    print(results_markdown(sys.argv[2]))

"""Figures for the notebooks and the report: each function returns a matplotlib Figure with labelled axes and units.

Functions take plain arrays/DataFrames (no file reading) so the report can redraw them from saved artifacts.
"""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns

from .answer import model_name

SPLIT_COLOURS = {"train": "#4c72b0", "val": "#dd8452", "test": "#55a868"}
sns.set_theme(style="whitegrid", context="notebook")


def _figure(width=9.0, height=3.6, ncols=1):
    fig, axes = plt.subplots(1, ncols, figsize=(width, height), constrained_layout=True)
    return fig, axes


def units_over_time(panel) -> plt.Figure:
    """Total units per day with the train/val/test periods shaded."""
    fig, ax = _figure()
    dates = pd.to_datetime(panel.dates)
    total = panel.units.sum(axis=0)
    ax.plot(dates, total, lw=0.8, color="black")
    ax.plot(dates, pd.Series(total).rolling(7, min_periods=1).mean(), lw=1.6, color="crimson", label="7-day mean")
    bounds = [0, panel.train_end, panel.val_end, len(dates)]
    for (split, colour), lo, hi in zip(SPLIT_COLOURS.items(), bounds[:-1], bounds[1:]):
        ax.axvspan(dates[lo], dates[hi - 1], color=colour, alpha=0.12, label=split)
    ax.set(xlabel="purchase date", ylabel="units sold per day (all kept entities)",
           title="Daily units over time, by split")
    ax.legend(loc="upper left", ncols=4, fontsize=8)
    return fig


def top_categories(category_units: pd.Series, n: int = 15) -> plt.Figure:
    """Horizontal bar chart of the categories with most units."""
    fig, ax = _figure(height=4.2)
    top = category_units.sort_values(ascending=False).head(n)[::-1]
    ax.barh(top.index.astype(str), top.values, color="#4c72b0")
    ax.set(xlabel="units sold (whole timeline)", ylabel="category", title=f"Top {len(top)} categories by units")
    return fig


def zero_share_hist(panel) -> plt.Figure:
    """Histogram of each entity's share of zero-sale days (from its first sale on)."""
    from .data import entity_zero_share

    share = entity_zero_share(panel)
    fig, ax = _figure()
    ax.hist(share, bins=np.linspace(0, 1, 41), color="#55a868")
    ax.set(xlabel="share of days with zero units", ylabel="entities", title="Intermittency: zero-sale days per entity")
    return fig


def demand_classes(panel) -> plt.Figure:
    """Syntetos-Boylan scatter: ADI vs CV^2 of non-zero demand on train, with the class cut-offs."""
    from .data import ADI_CUTOFF, CV2_CUTOFF, DEMAND_CLASSES, demand_stats

    adi, cv2 = demand_stats(panel.units[:, : panel.train_end], np.minimum(panel.first_day, panel.train_end))
    # an entity without train demand has infinite ADI: draw it at the right edge of the log axis
    adi = np.where(np.isfinite(adi), adi, panel.train_end)
    fig, axes = _figure(ncols=2, width=10)
    names = np.asarray(DEMAND_CLASSES)[panel.demand_class]
    sns.scatterplot(x=adi, y=cv2, hue=names, hue_order=list(DEMAND_CLASSES), s=12, ax=axes[0], linewidth=0)
    axes[0].axvline(ADI_CUTOFF, color="grey", ls="--")
    axes[0].axhline(CV2_CUTOFF, color="grey", ls="--")
    axes[0].set(xscale="log", xlabel="ADI (days per demand day, log)", ylabel="CV² of non-zero demand sizes",
                title="Demand classes (train period)")
    axes[0].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # minor log labels overlap
    counts = pd.Series(names).value_counts().reindex(DEMAND_CLASSES, fill_value=0)
    axes[1].bar(counts.index, counts.values, color="#8172b3")
    axes[1].set(xlabel="demand class", ylabel="entities", title="Entities per class")
    return fig


def review_scores(scores: pd.Series) -> plt.Figure:
    """Distribution of review scores (1-5)."""
    fig, ax = _figure(height=3.2)
    counts = scores.value_counts().reindex([1, 2, 3, 4, 5], fill_value=0)
    ax.bar(counts.index.astype(str), 100 * counts.values / max(1, counts.sum()), color="#c44e52")
    ax.set(xlabel="review score (stars)", ylabel="share of reviews (%)", title="Review score distribution")
    return fig


def gan_training_curves(history: pd.DataFrame) -> plt.Figure:
    """Per-epoch critic loss, gradient penalty, Wasserstein estimate, generator loss and validation CRPS."""
    fig, axes = _figure(ncols=3, width=13, height=3.6)
    for column, label in (("d_loss", "critic loss"), ("g_loss", "generator loss")):
        if column in history:
            axes[0].plot(history["epoch"], history[column], marker="o", ms=3, label=label)
    axes[0].set(xlabel="epoch", ylabel="loss (critic score units)", title="Losses")
    axes[0].legend(fontsize=8)
    for column, label in (("wasserstein", "Wasserstein estimate"), ("gp", "gradient penalty")):
        if column in history:
            axes[1].plot(history["epoch"], history[column], marker="o", ms=3, label=label)
    axes[1].set(xlabel="epoch", ylabel="critic score units", title="Wasserstein estimate and GP")
    axes[1].legend(fontsize=8)
    if "val_crps" in history:
        valid = history.dropna(subset=["val_crps"])
        axes[2].plot(valid["epoch"], valid["val_crps"], marker="o", ms=3, color="crimson")
        if len(valid):
            best = valid.loc[valid["val_crps"].idxmin()]
            axes[2].scatter([best["epoch"]], [best["val_crps"]], s=90, facecolors="none", edgecolors="black",
                            label=f"best (epoch {int(best['epoch'])})")
            axes[2].legend(fontsize=8)
    axes[2].set(xlabel="epoch", ylabel="CRPS (units per day)", title="Validation sample quality (lower is better)")
    return fig


def _pick_examples(windows, n_examples: int, seed: int) -> np.ndarray:
    """Windows to show: preferably ones whose target has sales, chosen with a seeded generator."""
    rng = np.random.default_rng(seed)
    busy = np.flatnonzero(windows.target.sum(axis=1) > 0)
    pool = busy if len(busy) >= n_examples else np.arange(len(windows))
    return np.sort(rng.choice(pool, size=min(n_examples, len(pool)), replace=False))


def sample_fans(windows, samples_units: np.ndarray, n_examples: int = 6, seed: int = 0) -> plt.Figure:
    """History, real target and the fan (5-95% band, median, individual samples) of generated targets (units)."""
    chosen = _pick_examples(windows, n_examples, seed)
    ncols = 3
    nrows = int(np.ceil(len(chosen) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(13, 3.0 * nrows), constrained_layout=True, squeeze=False)
    history = windows.to_units(windows.history)
    target = windows.to_units(windows.target)
    L, H = windows.history_days, windows.horizon
    for ax, i in zip(axes.flat, chosen):
        samples = np.asarray(samples_units[i], dtype=float)
        ax.plot(np.arange(-L + 1, 1), history[i], color="black", lw=1, label="history")
        steps = np.arange(1, H + 1)
        ax.fill_between(steps, np.percentile(samples, 5, axis=0), np.percentile(samples, 95, axis=0),
                        color="#4c72b0", alpha=0.25, label="synthetic 5-95%")
        for k in range(min(len(samples), 10)):
            ax.plot(steps, samples[k], color="#4c72b0", lw=0.5, alpha=0.5)
        ax.plot(steps, np.median(samples, axis=0), color="#4c72b0", lw=1.5, label="synthetic median")
        ax.plot(steps, target[i], color="crimson", marker="o", ms=3, lw=1.5, label="real target")
        ax.axvline(0.5, color="grey", ls=":")
        ax.set(title=f"{windows.entity_ids[windows.entity[i]][:12]} @ {windows.origin[i]}",
               xlabel="day relative to forecast origin", ylabel="units")
    for ax in list(axes.flat)[len(chosen):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="upper left")
    return fig


def value_histograms(windows, samples_units: np.ndarray) -> plt.Figure:
    """Daily values of real targets vs synthetic targets (units), as shares, with the zero share marked."""
    real = windows.to_units(windows.target).ravel()
    synthetic = np.asarray(samples_units, dtype=float).ravel()
    top = max(1.0, float(np.percentile(np.concatenate([real, synthetic]), 99.5)))
    bins = np.linspace(0, top, 30)
    fig, axes = _figure(ncols=2, width=11)
    axes[0].hist([real, synthetic], bins=bins, density=True, label=["real", "synthetic"],
                 color=["crimson", "#4c72b0"])
    axes[0].set(xlabel="units per day", ylabel="density", yscale="log", title="Daily target values (99.5% range)")
    axes[0].legend()
    shares = [(real <= 0.5).mean(), (synthetic <= 0.5).mean()]
    axes[1].bar(["real", "synthetic"], [100 * s for s in shares], color=["crimson", "#4c72b0"])
    axes[1].set(ylabel="share of days (%)", title="Days with (rounded) zero units")
    return fig


def pca_embedding(windows, samples_scaled: np.ndarray, seed: int = 0, max_points: int = 2000) -> plt.Figure:
    """2-D PCA of real vs synthetic 7-day target sequences (scaled), fitted on the real ones."""
    rng = np.random.default_rng(seed)
    real = windows.target.astype(float)
    synthetic = np.asarray(samples_scaled, dtype=float)[:, 0, :]
    take = rng.choice(len(real), size=min(max_points, len(real)), replace=False)
    real, synthetic = real[take], synthetic[take]
    centre = real.mean(axis=0)
    _, _, vt = np.linalg.svd(real - centre, full_matrices=False)
    fig, ax = _figure(width=6, height=5)
    for values, label, colour in ((real, "real", "crimson"), (synthetic, "synthetic", "#4c72b0")):
        xy = (values - centre) @ vt[:2].T
        ax.scatter(xy[:, 0], xy[:, 1], s=6, alpha=0.4, label=label, color=colour)
    ax.set(xlabel="PC 1 (of real targets)", ylabel="PC 2", title="PCA of 7-day target sequences")
    ax.legend()
    return fig


def save(fig: plt.Figure, folder, name: str):
    """Save `fig` as `<folder>/figures/<name>.png` (atomically) for the report, and return the path."""
    from pathlib import Path

    from .paths import atomic_path

    path = Path(folder) / "figures" / f"{name}.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return path


def acf_comparison(quality: dict) -> plt.Figure:
    """Autocorrelation within the 7 target days and cross-correlation history -> target, real vs synthetic."""
    fig, axes = _figure(ncols=2, width=11)
    for ax, prefix, title in ((axes[0], "acf", "Autocorrelation within the 7-day targets"),
                              (axes[1], "xcf", "Correlation of history (lag back) with target")):
        for kind, colour in (("real", "crimson"), ("synthetic", "#4c72b0")):
            keys = sorted((int(k.rsplit("lag", 1)[1]), k) for k in quality if k.startswith(f"{prefix}_{kind}_lag"))
            if keys:
                ax.plot([lag for lag, _ in keys], [quality[k] for _, k in keys], marker="o", color=colour,
                        label=kind)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set(xlabel="lag (days)", ylabel="correlation", title=title)
        ax.legend()
    return fig


def wrmsse_change_by_size(by_size: pd.DataFrame, subset: str = "active") -> plt.Figure:
    """Change in test WRMSSE versus real-only (%, mean and 95% CI over seeds) against the real training windows.

    One line per augmentation arm (each at its validation-chosen ratio: the GAN, the fair GAN and the history
    analogs where they ran, the validation-chosen simple augmentation); 0 is the real-only LSTM trained on the
    same windows and seeds; below 0 the augmentation helped.
    """
    fig, ax = _figure(width=8, height=4.2)
    part = by_size[(by_size["subset"] == subset) & (by_size["arm"] != "real")]
    colours = {"gan": "#c44e52", "simple": "#4c72b0", "gan_fair": "#dd8452", "analog": "#55a868",
               "analog_fit": "#8172b3"}
    sizes = sorted(by_size["n_real"].unique())
    arms = sorted(part["arm"].unique())
    offsets = np.linspace(-0.03, 0.03, len(arms)) if len(arms) > 1 else [0.0]
    for offset, (arm, group) in zip(offsets, part.groupby("arm", sort=True)):
        group = group.sort_values("n_real")
        x = group["n_real"].to_numpy(float) * (1.0 + offset)  # side by side on the log axis
        err = np.vstack([group["pct"] - group["pct_low"], group["pct_high"] - group["pct"]])
        label = model_name(group["model"].iloc[0])
        ax.errorbar(x, group["pct"], yerr=np.nan_to_num(err), marker="o", capsize=4, lw=2,
                    color=colours.get(arm), label=label)
    ax.axhline(0, color="black", lw=1, label=model_name("lstm_real"))
    ax.set_xscale("log")
    ax.set_xticks(sizes)
    ax.set_xticklabels([f"{int(n):,}" for n in sizes])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set(xlabel="real training windows", ylabel="change in test WRMSSE vs real only (%)",
           title=f"Change in WRMSSE vs real training windows\n({subset} test windows; mean and 95% CI over seeds)")
    ax.legend(fontsize=8, loc="best")
    return fig


def study_changes(study: dict) -> plt.Figure:
    """The backtest's headline comparisons as a forest plot, one panel per size: each fold's change in test WRMSSE
    (%, mean and 95% t-interval over its seeds; hollow = a fold that failed the gate, left out of the pool) and
    the pooled estimate over the gated folds (black, interval with folds as blocks)."""
    from .answer import COMPARISON_NAMES

    rows = study.get("comparisons") or []
    sizes = sorted({int(r["n_real"]) for r in rows})
    names = [name for name in COMPARISON_NAMES if any(r["comparison"] == name for r in rows)]
    fig, axes = _figure(width=9.0, height=0.55 * len(names) + 1.6, ncols=max(1, len(sizes)))
    axes = np.atleast_1d(axes)
    folds = sorted({int(f) for r in rows for f in (r.get("per_fold") or {})})
    palette = dict(zip(folds, ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")))
    for ax, size in zip(axes, sizes):
        for y, name in enumerate(reversed(names)):
            row = next((r for r in rows if r["comparison"] == name and int(r["n_real"]) == size), None)
            if row is None:
                continue
            per_fold = {int(f): v for f, v in (row.get("per_fold") or {}).items()}  # JSON keys are strings
            for k, fold in enumerate(folds):
                values = per_fold.get(fold)
                if not values or values[0] is None:
                    continue
                mean, low, high = (np.nan if v is None else float(v) for v in values)
                gated = fold in {int(f) for f in row.get("gated_folds") or []}
                ax.errorbar([mean], [y + 0.18 + 0.12 * k], xerr=np.nan_to_num([[mean - low], [high - mean]]),
                            fmt="o", ms=4, capsize=2, color=palette[fold], mfc=palette[fold] if gated else "white",
                            label=f"fold {fold}" if y == 0 else None)
            if row.get("pct") is not None and np.isfinite(float(row["pct"])):
                ax.errorbar([row["pct"]], [y - 0.15], xerr=[[row["pct"] - row["pct_low"]],
                                                            [row["pct_high"] - row["pct"]]],
                            fmt="D", ms=6, capsize=3, color="black", label="pooled (gated folds)" if y == 0 else None)
        ax.axvline(0, color="grey", lw=1)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels([COMPARISON_NAMES[n] for n in reversed(names)] if ax is axes[0] else [], fontsize=8)
        ax.set(xlabel="change in test WRMSSE (%)", title=f"{size:,} real windows")
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[-1].legend(handles, labels, fontsize=7, loc="best")
    fig.suptitle("Backtest: each fold (mean, 95% CI over seeds; hollow = failed the gate) and the pool",
                 fontsize=10)
    return fig

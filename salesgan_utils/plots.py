"""Figures for the notebooks and the report: each function returns a matplotlib Figure with labelled axes and units.

Functions take plain arrays/DataFrames (no file reading) so the report can redraw them from saved artifacts.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

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
    valid = np.arange(len(panel.dates))[None, :] >= panel.first_day[:, None]
    share = 1 - ((panel.units > 0) & valid).sum(axis=1) / valid.sum(axis=1)
    fig, ax = _figure()
    ax.hist(share, bins=np.linspace(0, 1, 41), color="#55a868")
    ax.set(xlabel="share of days with zero units", ylabel="entities", title="Intermittency: zero-sale days per entity")
    return fig


def demand_classes(panel) -> plt.Figure:
    """Syntetos-Boylan scatter: ADI vs CV^2 of non-zero demand on train, with the class cut-offs."""
    from .data import ADI_CUTOFF, CV2_CUTOFF, DEMAND_CLASSES

    train = panel.units[:, : panel.train_end].astype(float)
    valid = np.arange(panel.train_end)[None, :] >= panel.first_day[:, None]
    nonzero = (train > 0) & valid
    n_demand = np.maximum(nonzero.sum(axis=1), 1)
    adi = valid.sum(axis=1) / n_demand
    mean = train.sum(axis=1) / n_demand
    cv2 = np.maximum((train ** 2).sum(axis=1) / n_demand - mean ** 2, 0) / np.maximum(mean, 1e-12) ** 2
    fig, axes = _figure(ncols=2, width=10)
    names = np.asarray(DEMAND_CLASSES)[panel.demand_class]
    sns.scatterplot(x=adi, y=cv2, hue=names, hue_order=list(DEMAND_CLASSES), s=12, ax=axes[0], linewidth=0)
    axes[0].axvline(ADI_CUTOFF, color="grey", ls="--")
    axes[0].axhline(CV2_CUTOFF, color="grey", ls="--")
    axes[0].set(xscale="log", xlabel="ADI (days per demand day, log)", ylabel="CV² of non-zero demand sizes",
                title="Demand classes (train period)")
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

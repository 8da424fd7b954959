"""Stage 04's scores, tables and verdict, all computed from the long table of forecasts (`forecasts.parquet`).

* long frames: the keys of each window (`window_keys`: entity, origin, active at the origin), the train series and
  the series weights;
* M5 scoring: RMSSE per series (entity) over all its forecast rows with the in-sample one-step naive MSE over the
  entity's train period as denominator, by `utilsforecast.losses.rmsse`; WRMSSE weights the series by train-period
  units (or revenue); MAE, RMSE and bias in units beside (`score_forecasts`);
* the stage's tables from the scores (`tables_from_forecasts`) with seed-aware intervals and tests (`stats`);
* the plain-words verdict and the tables shown in notebook 04 and the report.

`benchmark` runs the fits and writes the artifacts; this module only reads frames, so every number of stage 04 can
be recomputed from `forecasts.parquet` without refitting anything.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import metrics, stats
from .data import DEMAND_CLASSES
from .windows import WindowSet

# Artifact names of stage 04 (stage 04 writes them; `benchmark` writes, readers import these names).
FORECASTS_FILE = "forecasts.parquet"
RESULTS_FILE, BY_SEED_FILE, PAIRED_FILE = "results.csv", "results_by_seed.csv", "paired_tests.csv"
BY_CLASS_FILE, SUMMARY_FILE = "results_by_class.csv", "summary.json"
BY_SIZE_FILE, SELECTION_FILE, FITS_FILE = "results_by_size.csv", "selection.csv", "fits.csv"

REFERENCE = "lstm_real"
SUBSETS = ("active", "all")
HEADLINE = "active"
BASELINE_SEED = -1
ARMS = ("real", "gan", "simple")
FIT_COLUMNS = ["model", "config", "seed", "n_real"]
KEY_COLUMNS = ["entity_id", "origin", "step"]


def variant_name(augmentation: str, ratio: float = 0.0) -> str:
    """Model name of an LSTM variant: "lstm_real" or e.g. "lstm_gan_r0.5", "lstm_jitter_r1"."""
    if augmentation == "real":
        return REFERENCE
    return f"lstm_{augmentation}_r{ratio:g}"


def config_label(loss: str, lr: float) -> str:
    """The training configuration of an LSTM fit, e.g. "poisson lr=0.003"."""
    return f"{loss} lr={lr:g}"


def window_keys(windows: WindowSet, active_days: int = 30) -> pd.DataFrame:
    """One row per window x step: entity_id, origin, step (1..H), date, actual (units), active.

    `active` is known at the origin: the entity sold at least one unit in the `active_days` days up to and
    including the origin (the last days of the window's history).
    """
    n, h = len(windows), windows.horizon
    ids = np.asarray(windows.entity_ids, dtype=object)[windows.entity]
    origin = windows.origin.astype("datetime64[D]").astype("datetime64[ns]")
    days = min(int(active_days), windows.history_days)
    recent = windows.to_units(windows.history[:, -days:]).sum(axis=1) > 0.5  # whole units: 0.5 absorbs float noise
    step = np.tile(np.arange(1, h + 1, dtype=np.int16), n)
    frame = pd.DataFrame({"entity_id": np.repeat(ids, h), "origin": np.repeat(origin, h), "step": step})
    frame["date"] = frame["origin"] + pd.to_timedelta(frame["step"].astype(np.int64), unit="D")
    frame["actual"] = windows.to_units(windows.target).reshape(-1).astype(np.float32)
    frame["active"] = np.repeat(recent, h)
    return frame


def train_series(panel_frame: pd.DataFrame) -> pd.DataFrame:
    """The train period of each entity as a utilsforecast frame (unique_id, ds, y = units, revenue), from its first
    sale on (stage 01's `panel.parquet` starts each entity at its first sale)."""
    train = panel_frame[panel_frame["split"] == "train"]
    out = pd.DataFrame({"unique_id": train["entity_id"].astype(str).to_numpy(), "ds": train["date"].to_numpy(),
                        "y": train["units"].to_numpy(np.float64)})
    if "revenue" in train:
        out["revenue"] = train["revenue"].to_numpy(np.float64)
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def entity_weights(train_df: pd.DataFrame, by: str = "units") -> pd.Series:
    """WRMSSE weight of each entity: its share of train-period units ("units") or revenue ("revenue")."""
    column = {"units": "y", "revenue": "revenue"}.get(by)
    if column is None or column not in train_df:
        raise ValueError(f"entity_weights: weights by {by!r} need column {column!r}; use 'units' or 'revenue'")
    totals = train_df.groupby("unique_id")[column].sum()
    return totals / totals.sum()


def _fit_ids(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """A code per row naming its fit, and one row of FIT_COLUMNS per code, indexed by the fit's id string
    ("model|config|seed|n_real"); string ids are built per fit, not per row (10M rows)."""
    codes = frame.groupby(FIT_COLUMNS, sort=False, dropna=False, observed=True).ngroup().to_numpy()
    first = np.unique(codes, return_index=True)[1]
    meta = frame.iloc[first][FIT_COLUMNS].reset_index(drop=True)
    meta.index = [_fit_id(*row) for row in meta.itertuples(index=False)]
    return codes, meta


def _fit_id(model: str, config: str, seed: int, n_real: int) -> str:
    config = "" if config is None or (isinstance(config, float) and np.isnan(config)) else config
    return f"{model}|{config}|{int(seed)}|{int(n_real)}"


def _wide(part: pd.DataFrame, codes: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows of one split as (keys, forecasts (n_keys, n_fits) float64), fit j = code j.

    Every fit forecasts the same windows, so sorting by (fit, entity, origin, step) makes one rectangular block per
    fit: a reshape instead of a pivot (12M rows: seconds and no MultiIndex). A table where the fits do not share
    their keys is refused.
    """
    entity = pd.factorize(part["entity_id"], sort=True)[0]
    origin = part["origin"].to_numpy().astype("datetime64[ns]").astype(np.int64)
    step = part["step"].to_numpy(np.int64)
    order = np.lexsort((step, origin, entity, codes))
    n_fits = int(codes.max()) + 1
    if len(order) % n_fits:
        raise ValueError("score_forecasts: the fits of one split do not forecast the same windows")
    n_keys = len(order) // n_fits
    block = order.reshape(n_fits, n_keys)
    for name, values in (("entity", entity), ("origin", origin), ("step", step)):
        if not (values[block] == values[block[0]][None, :]).all():
            raise ValueError(f"score_forecasts: the fits of one split disagree on their windows ({name})")
    keys = part.iloc[block[0]][["entity_id", "origin", "step", "date", "actual", "active"]].reset_index(drop=True)
    return keys, part["forecast"].to_numpy(np.float64)[block].T


@dataclass
class Scores:
    """What `score_forecasts` computed.

    Attributes:
        table: one row per fit x split x subset: model, config, seed, n_real, split, subset, wrmsse, mae, rmse,
            bias, n_series, n_rows.
        per_series: {(split, subset): DataFrame of RMSSE, entity x fit id ("model|config|seed|n_real")}.
        daily_loss: {(split, subset): DataFrame of weighted squared scaled error summed per origin, origin x fit id}.
    """

    table: pd.DataFrame
    per_series: dict
    daily_loss: dict


def score_forecasts(forecasts: pd.DataFrame, train_df: pd.DataFrame, weights: pd.Series,
                    subsets: Sequence[str] = SUBSETS) -> Scores:
    """Score every fit in a long forecast table: WRMSSE (utilsforecast RMSSE per series), MAE, RMSE and bias.

    Args:
        forecasts: long table with FIT_COLUMNS, split, entity_id, origin, step, date, forecast, actual, active.
        train_df: `train_series` output (denominators).
        weights: `entity_weights` output.
        subsets: "active" and/or "all".

    Returns:
        Scores.
    """
    rows, per_series, daily = [], {}, {}
    scale = metrics.naive_scale(train_df)
    for split, part in forecasts.groupby("split", sort=True, observed=True):
        codes, meta = _fit_ids(part)
        keys, wide = _wide(part, codes)
        fits = list(meta.index)
        for subset in subsets:
            mask = keys["active"].to_numpy(bool) if subset == "active" else np.ones(len(keys), bool)
            if not mask.any():
                continue
            frame = pd.DataFrame({"unique_id": keys["entity_id"].astype(str).to_numpy()[mask],
                                  "ds": keys["date"].to_numpy()[mask],
                                  "y": keys["actual"].to_numpy(np.float64)[mask]})
            values = wide[mask]
            frame = pd.concat([frame, pd.DataFrame(values, columns=fits)], axis=1)
            series = metrics.rmsse_per_series(frame, fits, train_df)
            weighted = metrics.wrmsse(series, weights)
            pooled = metrics.pooled_errors(frame, fits)
            per_series[(split, subset)] = series
            # per-origin loss for the DM test: weighted squared error over the entity's RMSSE denominator
            entity_factor = (weights.reindex(frame["unique_id"]).fillna(0.0)
                             / scale.reindex(frame["unique_id"])).to_numpy(np.float64)
            loss = (values - frame["y"].to_numpy()[:, None]) ** 2 * np.nan_to_num(entity_factor)[:, None]
            origins = keys["origin"].to_numpy()[mask]
            daily[(split, subset)] = pd.DataFrame(loss, columns=fits).groupby(origins).sum()
            n_rows = len(frame)
            for fit in fits:
                rows.append({**meta.loc[fit].to_dict(), "split": split, "subset": subset,
                             "wrmsse": float(weighted[fit]), "mae": float(pooled.loc[fit, "mae"]),
                             "rmse": float(pooled.loc[fit, "rmse"]), "bias": float(pooled.loc[fit, "bias"]),
                             "n_series": int(series[fit].notna().sum()), "n_rows": n_rows})
    return Scores(table=pd.DataFrame(rows), per_series=per_series, daily_loss=daily)


def regime(keys: dict[str, pd.DataFrame], train_df: pd.DataFrame) -> dict:
    """The demand regime a reader needs beside the scores.

    Args:
        keys: {"val": window_keys(val), "test": window_keys(test)}.
        train_df: `train_series` output.

    Returns:
        Mean units per entity-day in train (from each entity's first sale), val and test (target days, each day
        once: step-1 rows), the change train -> test in %, and per split the share of all-zero target windows among
        all and active windows and the share of active windows.
    """
    out = {"mean_units_per_day": {"train": float(train_df["y"].mean())}}
    for split, frame in keys.items():
        first = frame[frame["step"] == 1]
        out["mean_units_per_day"][split] = float(first["actual"].mean())
        zero = frame.groupby(KEY_COLUMNS[:2], sort=False, observed=True).agg(total=("actual", "sum"),
                                                                            active=("active", "first"))
        out[split] = {"windows": int(len(zero)), "active_share": float(zero["active"].mean()),
                      "zero_target_share_all": float((zero["total"] < 0.5).mean()),
                      "zero_target_share_active": float((zero.loc[zero["active"], "total"] < 0.5).mean())
                      if zero["active"].any() else float("nan"),
                      "entities": int(frame["entity_id"].nunique()),
                      "entities_with_no_sale": int((frame.groupby("entity_id", observed=True)["actual"].sum()
                                                    < 0.5).sum())}
    means = out["mean_units_per_day"]
    out["demand_change_train_to_test_pct"] = 100.0 * (means.get("test", np.nan) / means["train"] - 1.0)
    return out


def _ci(values: pd.Series, level: float) -> dict:
    mean, low, high = stats.mean_ci(values, level)
    return {"mean": mean, "low": low, "high": high}


def tables_from_forecasts(forecasts: pd.DataFrame, train_df: pd.DataFrame, weights: pd.Series, choices: dict,
                          settings: dict, *, level: float = 0.95, n_boot: int = 2000,
                          demand_class: pd.Series | None = None, gan_seen: dict | None = None
                          ) -> tuple[dict, dict]:
    """Every stage-04 table and the summary, from the long forecast table alone (plus denominators and weights).

    Args:
        forecasts: the long forecast table.
        train_df: `train_series` output.
        weights: `entity_weights` output.
        choices: {"config", "loss", "lr", "arms": {arm: {"augmentation", "ratio", "model"}}} from validation.
        settings: run settings (recorded in the summary).
        level: confidence level.
        n_boot: bootstrap replicates.
        demand_class: class index per entity id (for results_by_class), or None.
        gan_seen: `_gan_overlap` output, or None.

    Returns:
        ({file name: DataFrame}, summary dict).
    """
    scores = score_forecasts(forecasts, train_df, weights)
    table = scores.table
    results = _results_table(table, level)
    selection, real_val, beats = _selection_table(table, choices, settings)
    paired = _paired_table(scores, weights, choices, settings, level, n_boot)
    by_size = _by_size_table(table, paired, choices, settings, level)
    tables = {BY_SEED_FILE: table, RESULTS_FILE: results, SELECTION_FILE: selection, PAIRED_FILE: paired,
              BY_SIZE_FILE: by_size}
    if demand_class is not None:
        tables[BY_CLASS_FILE] = _by_class_table(scores, weights, choices, settings, demand_class)
    zero = forecasts[forecasts["model"] == "zero"]
    keys = {split: zero[zero["split"] == split] for split in ("val", "test")}
    summary = {
        "reference": REFERENCE,
        "entity_level": settings.get("entity_level", "product"),
        "headline": {"metric": "WRMSSE", "split": "test", "subset": HEADLINE,
                     "subset_rule": f"entity sold >= 1 unit in the {settings['active_days']} days up to the origin",
                     "weights": f"train-period {settings['weights_by']} per entity",
                     "denominator": "in-sample one-step naive MSE over the entity's train period (from first sale)",
                     "inference": "per-seed paired change vs real-only: t-interval and t-test over seeds; seed x "
                                  "entity bootstrap interval; DM on the daily cross-entity loss differential, h = 7"},
        "regime": regime(keys, train_df),
        "validation_choices": {**choices, "real_only_val_wrmsse": real_val, "real_only_beats_on_val": beats,
                               "grid": selection.to_dict(orient="records")},
        "gan_training": gan_seen or {},
        "regimes": _regimes(by_size, settings["scarcity_sizes"], settings),
        "baselines_test": {subset: results[(results["subset"] == subset) & (results["n_real"] == 0)]
                           .set_index("model")[["wrmsse", "mae", "rmse", "bias"]].to_dict(orient="index")
                           for subset in SUBSETS},
        "settings": settings,
    }
    summary["verdict"] = verdict(summary)
    return tables, summary


def arms_at(choices: dict, n_real: int) -> dict:
    """The arms chosen on validation at one size: `choices["arms_by_size"][n_real]` (the fair GAN's and the
    history analogs' ratios are chosen per size) or, for a size without its own entry, `choices["arms"]`."""
    by_size = choices.get("arms_by_size") or {}
    return by_size.get(int(n_real)) or by_size.get(str(int(n_real))) or choices["arms"]


def _results_table(table: pd.DataFrame, level: float) -> pd.DataFrame:
    """results.csv: every model x config x size x subset on test, mean and t-interval over seeds."""
    rows = []
    for (model, cfg, n_real, subset), group in table[table["split"] == "test"].groupby(
            ["model", "config", "n_real", "subset"], sort=True):
        row = {"model": model, "config": cfg, "n_real": int(n_real), "subset": subset, "n_seeds": len(group)}
        for metric in ("wrmsse", "mae", "rmse", "bias"):
            ci = _ci(group[metric], level)
            row.update({metric: ci["mean"], f"{metric}_low": ci["low"], f"{metric}_high": ci["high"]})
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["subset", "n_real", "wrmsse"], kind="stable").reset_index(drop=True)


def _selection_table(table: pd.DataFrame, choices: dict, settings: dict) -> tuple[pd.DataFrame, float, dict]:
    """selection.csv (mean validation WRMSSE of every candidate at the reference size, tuning seeds), the chosen
    real-only LSTM's validation WRMSSE, and whether it beats seasonal naive and moving average there."""
    val = table[(table["split"] == "val") & (table["subset"] == HEADLINE)]
    config = choices["config"]
    chosen_models = {arm["model"] for arm in choices["arms"].values()}
    keep = val["n_real"].isin([settings["reference_size"], 0]) & val["seed"].isin(
        list(settings["tune_seeds"]) + [BASELINE_SEED])
    selection = (val[keep].groupby(["model", "config", "n_real"]).agg(val_wrmsse=("wrmsse", "mean"),
                                                                      n_seeds=("seed", "size"))
                 .reset_index().sort_values("val_wrmsse", kind="stable").reset_index(drop=True))
    selection["chosen"] = [m in chosen_models and c == config for m, c in zip(selection["model"],
                                                                               selection["config"])]
    real_val = float(selection.loc[(selection["model"] == REFERENCE) & (selection["config"] == config),
                                   "val_wrmsse"].iloc[0])
    baselines = selection[selection["n_real"] == 0].set_index("model")["val_wrmsse"]
    beats = {name: bool(real_val < float(baselines[name])) for name in ("seasonal_naive", "moving_average")
             if name in baselines.index}
    return selection, real_val, beats


def _paired_table(scores: Scores, weights: pd.Series, choices: dict, settings: dict, level: float,
                  n_boot: int) -> pd.DataFrame:
    """paired_tests.csv: each chosen arm and each baseline against real-only, per size and window subset."""
    table, config = scores.table, choices["config"]
    baselines = sorted(table.loc[table["seed"] == BASELINE_SEED, "model"].unique())
    rows = []
    for subset in SUBSETS:
        if ("test", subset) not in scores.per_series:
            continue
        test = table[(table["split"] == "test") & (table["subset"] == subset)].set_index(
            ["model", "config", "seed", "n_real"])["wrmsse"]
        series = scores.per_series[("test", subset)]
        daily = scores.daily_loss[("test", subset)]
        w = weights.reindex(series.index).fillna(0.0).to_numpy()
        for n_real in settings["scarcity_sizes"]:
            seeds = sorted(s for (m, c, s, n) in test.index if m == REFERENCE and c == config and n == n_real)
            if not seeds:
                continue
            ref_ids = [_fit_id(REFERENCE, config, s, n_real) for s in seeds]
            reference = np.array([test[(REFERENCE, config, s, n_real)] for s in seeds])
            candidates = [(arm, spec["model"]) for arm, spec in arms_at(choices, n_real).items() if arm != "real"]
            for arm, model in candidates + [("baseline", name) for name in baselines]:
                if arm == "baseline":
                    ids = [_fit_id(model, "", BASELINE_SEED, 0)] * len(seeds)
                    keys = [(model, "", BASELINE_SEED, 0)] * len(seeds)
                else:
                    ids = [_fit_id(model, config, s, n_real) for s in seeds]
                    keys = [(model, config, s, n_real) for s in seeds]
                if any(k not in test.index for k in keys):
                    continue
                candidate = np.array([test[k] for k in keys])
                paired = stats.seed_paired_test(candidate, reference, level)
                boot = stats.hierarchical_bootstrap(series[ids].to_numpy().T, series[ref_ids].to_numpy().T, w,
                                                    n_boot=n_boot, level=level, seed=0)
                dm = stats.daily_dm_test(daily[ids].mean(axis=1).to_numpy(),
                                         daily[ref_ids].mean(axis=1).to_numpy(), horizon=7)
                rows.append({"subset": subset, "n_real": int(n_real), "arm": arm, "candidate": model,
                             "reference": REFERENCE, "config": config if arm != "baseline" else "",
                             "wrmsse_candidate": float(candidate.mean()), "wrmsse_reference": float(reference.mean()),
                             "pct": paired["pct"], "pct_low": paired["pct_low"], "pct_high": paired["pct_high"],
                             "p_seed": paired["p"], "n_seeds": paired["n_seeds"], "boot_pct_low": boot["pct_low"],
                             "boot_pct_high": boot["pct_high"], **dm})
    return pd.DataFrame(rows)


def _by_size_table(table: pd.DataFrame, paired: pd.DataFrame, choices: dict, settings: dict,
                   level: float) -> pd.DataFrame:
    """results_by_size.csv: the scarcity sweep, per subset x size x arm, with the change vs real-only."""
    rows = []
    test = table[table["split"] == "test"]
    for subset in SUBSETS:
        for n_real in settings["scarcity_sizes"]:
            for arm, spec in arms_at(choices, n_real).items():
                group = test[(test["subset"] == subset) & (test["model"] == spec["model"])
                             & (test["config"] == choices["config"]) & (test["n_real"] == n_real)]
                if group.empty:
                    continue
                ci = _ci(group["wrmsse"], level)
                row = {"subset": subset, "n_real": int(n_real), "arm": arm, "model": spec["model"],
                       "n_seeds": len(group), "wrmsse": ci["mean"], "wrmsse_low": ci["low"],
                       "wrmsse_high": ci["high"], "mae": float(group["mae"].mean()),
                       "rmse": float(group["rmse"].mean()), "bias": float(group["bias"].mean()),
                       "pct": 0.0 if arm == "real" else np.nan}
                match = paired[(paired["subset"] == subset) & (paired["n_real"] == n_real)
                               & (paired["candidate"] == spec["model"])] if len(paired) else paired
                if arm != "real" and len(match):
                    row.update({k: match.iloc[0][k] for k in ("pct", "pct_low", "pct_high", "p_seed",
                                                              "boot_pct_low", "boot_pct_high", "dm_p")})
                rows.append(row)
    return pd.DataFrame(rows)


def _by_class_table(scores: Scores, weights: pd.Series, choices: dict, settings: dict,
                    demand_class: pd.Series) -> pd.DataFrame:
    """results_by_class.csv: test WRMSSE (active windows) per Syntetos-Boylan class of the entity, for the chosen
    arms at the reference size (mean over seeds) and the baselines."""
    if ("test", HEADLINE) not in scores.per_series:
        return pd.DataFrame()
    series = scores.per_series[("test", HEADLINE)]
    classes = demand_class.reindex(series.index)
    wanted = {(spec["model"], choices["config"]) for spec in choices["arms"].values()}
    rows = []
    for fit in series.columns:
        model, cfg, seed, n_real = fit.split("|")
        if int(seed) != BASELINE_SEED and not ((model, cfg) in wanted and int(n_real) == settings["reference_size"]):
            continue
        for index in sorted(classes.dropna().unique()):
            members = series.index[classes == index]
            rows.append({"model": model, "seed": int(seed), "demand_class": int(index),
                         "class_name": DEMAND_CLASSES[int(index)], "entities": len(members),
                         "wrmsse": float(metrics.wrmsse(series.loc[members, [fit]], weights)[fit])})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    return (out.groupby(["model", "demand_class", "class_name", "entities"], as_index=False)
            .agg(wrmsse=("wrmsse", "mean"), n_seeds=("seed", "size")))


def _regimes(by_size: pd.DataFrame, sizes, settings) -> list[dict]:
    out = []
    for n_real in sizes:
        entry = {"n_real": int(n_real), "label": "all" if n_real == settings["n_train"] else str(n_real),
                 "entity_level": settings.get("entity_level", "product")}
        for subset in SUBSETS:
            part = by_size[(by_size["subset"] == subset) & (by_size["n_real"] == n_real)] if len(by_size) else by_size
            entry[subset] = {row["arm"]: {k: row.get(k) for k in ("model", "n_seeds", "wrmsse", "wrmsse_low",
                                                                   "wrmsse_high", "mae", "rmse", "bias", "pct",
                                                                   "pct_low", "pct_high", "p_seed", "boot_pct_low",
                                                                   "boot_pct_high", "dm_p")}
                             for _, row in part.iterrows()}
        out.append(entry)
    return out


def _change_text(arm: dict) -> str:
    low, high, p_value = arm.get("pct_low"), arm.get("pct_high"), arm.get("p_seed")
    if low is None or high is None or p_value is None:  # one seed: no interval, no test
        return f"{arm['pct']:+.1f}% (one seed: no interval)"
    return f"{arm['pct']:+.1f}% [{low:+.1f}%, {high:+.1f}%] (p = {p_value:.2g} over {arm['n_seeds']} seeds)"


def _judgement(arm: dict) -> str:
    """"better" / "worse" when the seed interval of the change excludes 0, else "no measurable change"."""
    low, high = arm.get("pct_low"), arm.get("pct_high")
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return "not testable (one seed)"
    if high < 0:
        return "better"
    if low > 0:
        return "worse"
    return "no measurable change"


def _scored_regimes(summary: dict):
    """(regime entry, its headline-subset results) for every regime of summary.json with a real-only fit."""
    for entry in summary["regimes"]:
        head = entry.get(HEADLINE, {})
        if "real" in head:
            yield entry, head


def verdict(summary: dict) -> str:
    """Plain-words outcome from the summary: per data size, the validation-chosen GAN ratio and simple augmentation
    against real-only on the headline test WRMSSE (seed-paired interval), and whether the tuned real-only LSTM beat
    seasonal naive and moving average on validation."""
    choices = summary["validation_choices"]
    arms = choices["arms"]
    labels = {"gan": "GAN samples", "simple": "the simple augmentation"}
    per_arm = {arm: [] for arm in ("gan", "simple")}
    sentences = []
    for entry, head in _scored_regimes(summary):
        bits = []
        for arm in ("gan", "simple"):
            if arm in head and head[arm].get("pct") is not None and np.isfinite(head[arm]["pct"]):
                per_arm[arm].append((entry["label"], _judgement(head[arm])))
                bits.append(f"{labels[arm]} {_change_text(head[arm])}, {_judgement(head[arm])}")
        sentences.append("; ".join([f"{entry['label']} real windows: real-only {head['real']['wrmsse']:.3f}", *bits]))
    opening = []
    for arm in ("gan", "simple"):
        if arm not in arms or not per_arm[arm]:
            continue
        spec = arms[arm]
        name = "GAN augmentation" if arm == "gan" else f"{spec['augmentation']} augmentation"
        helped = [label for label, word in per_arm[arm] if word == "better"]
        hurt = [label for label, word in per_arm[arm] if word == "worse"]
        text = f"{name} (ratio {spec['ratio']:g}, chosen on validation) lowered test WRMSSE "
        text += f"at {', '.join(helped)} real windows" if helped else "at no data size tried"
        if hurt:
            text += f" and raised it at {', '.join(hurt)} real windows"
        opening.append(text)
    if "gan" not in arms:
        opening.insert(0, "No GAN samples were given, so GAN augmentation was not measured")
    beats = choices.get("real_only_beats_on_val", {})
    beaten = [name for name, ok in beats.items() if not ok]
    tuned = (f"the real-only LSTM ({choices['config']}, chosen on validation) "
             + ("beat seasonal naive and moving average on validation WRMSSE" if beats and not beaten else
                f"did not beat {' or '.join(beaten)} on validation WRMSSE" if beaten else "had no baseline to beat"))
    return ("; ".join(opening + [tuned]) + ". Change in test WRMSSE versus real-only on active windows ("
            + summary["headline"]["subset_rule"] + "), 95% interval over seeds: " + " | ".join(sentences) + ".")


def _fmt_ci(mean, low, high, digits=3) -> str:
    if mean is None or not np.isfinite(mean):
        return ""
    if low is None or not np.isfinite(low):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def headline_table(results: pd.DataFrame, n_real: int, subset: str = HEADLINE) -> pd.DataFrame:
    """Test WRMSSE [CI over seeds] with MAE, RMSE and bias beside: baselines and the LSTMs fitted on n_real windows."""
    part = results[(results["subset"] == subset) & results["n_real"].isin([0, n_real])]
    part = part.sort_values("wrmsse", kind="stable")
    return pd.DataFrame({
        "model": part["model"], "config": part["config"].fillna(""), "seeds": part["n_seeds"],
        "WRMSSE": [_fmt_ci(m, lo, hi) for m, lo, hi in zip(part["wrmsse"], part["wrmsse_low"], part["wrmsse_high"])],
        "MAE": part["mae"].map("{:.3f}".format), "RMSE": part["rmse"].map("{:.3f}".format),
        "bias": part["bias"].map("{:+.3f}".format)}).set_index("model")


def by_size_table(by_size: pd.DataFrame, subset: str = HEADLINE) -> pd.DataFrame:
    """The scarcity sweep, readable: WRMSSE per arm and size, change vs real-only with its seed CI and p-value."""
    part = by_size[by_size["subset"] == subset]
    rows = []
    for _, r in part.iterrows():
        change = "" if r["arm"] == "real" else (f"{r['pct']:+.1f}% [{r['pct_low']:+.1f}, {r['pct_high']:+.1f}]"
                                                 if np.isfinite(r.get("pct", np.nan)) else "")
        rows.append({"real windows": int(r["n_real"]), "arm": r["arm"], "model": r["model"], "seeds": r["n_seeds"],
                     "WRMSSE": _fmt_ci(r["wrmsse"], r["wrmsse_low"], r["wrmsse_high"]),
                     "MAE": f"{r['mae']:.3f}", "RMSE": f"{r['rmse']:.3f}",
                     "change vs real-only [95% CI over seeds]": change,
                     "p (seeds)": "" if r["arm"] == "real" else f"{r.get('p_seed', np.nan):.2g}",
                     "seed×entity bootstrap CI": "" if r["arm"] == "real" else
                     f"[{r.get('boot_pct_low', np.nan):+.1f}, {r.get('boot_pct_high', np.nan):+.1f}]",
                     "DM p (daily, h=7)": "" if r["arm"] == "real" else f"{r.get('dm_p', np.nan):.2g}"})
    return pd.DataFrame(rows)


def answer_markdown(summary: dict) -> str:
    """The report's "Answer" and README's "Result so far": the verdict and the scarcity headline from summary.json."""
    reg = summary["regime"]
    means = reg["mean_units_per_day"]
    lines = [f"**{summary['verdict']}**", "",
             f"Regime: {summary['entity_level']} level; mean units per entity-day {means['train']:.3f} in train, "
             f"{means.get('val', float('nan')):.3f} in validation, {means.get('test', float('nan')):.3f} in test "
             f"({reg['demand_change_train_to_test_pct']:+.0f}% train → test); "
             f"{100 * reg['test']['zero_target_share_all']:.0f}% of all test windows and "
             f"{100 * reg['test']['zero_target_share_active']:.0f}% of active ones have all-zero targets; "
             f"{100 * reg['test']['active_share']:.0f}% of test windows are active.", "",
             "| real windows | real-only WRMSSE | GAN: change [95% CI], p | simple: change [95% CI], p |",
             "|---:|---:|:---|:---|"]
    for entry, head in _scored_regimes(summary):
        cells = []
        for arm in ("gan", "simple"):
            a = head.get(arm)
            cells.append(_change_text(a) if a and a.get("pct") is not None else "–")
        lines.append(f"| {entry['label']} | {head['real']['wrmsse']:.3f} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)

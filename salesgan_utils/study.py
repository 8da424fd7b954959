"""The backtest study's design and analysis (docs/analysis_plan.md): which real windows each fit and each fair
generator gets, the level-matched control, the gate, the fold x seed comparisons and the two-part verdict.

Pure functions of arrays and of stage 04's long forecast tables (one per fold), so the verdict can be recomputed
from the saved `forecasts.parquet` files without refitting anything:

* `fit_windows`: the nested seeded subset of a fold's train windows that a fit on n real windows uses (a seed's
  250 lie inside its 1,000); the one owner, read by the benchmark and by the fair generators' member specs.
* `validation_subset`: the validation windows a user with n real windows would hold out (in proportion, with a
  floor), read by early stopping, the fair generator's checkpoint and the level factor.
* `level_matched`: the real-only LSTM's forecasts times the factor b that minimises WRMSSE on that fit's
  validation subset, as new forecast rows (model `LEVEL_MODEL`): a gain that a level shift explains is no gain.
* `gate`, `compare`, `verdict`: the real-only LSTM must beat zero and TSB beyond seed noise on validation; each
  headline comparison pools (fold, seed) pairs with folds as blocks (`stats.blocked_paired_test`), Holm over the
  family; the verdict answers (a) GAN vs real-only beyond the controls and (b) the augmented LSTM vs the best
  real-only forecaster.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import metrics, stats
from .scoring import BASELINE_SEED, HEADLINE, REFERENCE

LEVEL_MODEL = "lstm_real_level"
LEVEL_GRID = tuple(np.round(np.arange(0.5, 1.5001, 0.05), 2))
VALIDATION_FLOOR = 200
GATE_BASELINES = ("zero", "tsb")
# headline comparisons per size: (name, candidate arm, reference arm); "best_real" is chosen per fold on validation
COMPARISONS = (("gan_vs_real", "gan_fair", "real"), ("gan_vs_level", "gan_fair", "level"),
               ("gan_vs_analog", "gan_fair", "analog_fit"), ("gan_vs_simple", "gan_fair", "simple"),
               ("gan_vs_best_real", "gan_fair", "best_real"), ("catalogue_gan_vs_analog", "gan", "analog"))
REAL_ONLY = ("lstm_real", LEVEL_MODEL, "lightgbm", "imapa", "adida", "tsb", "croston_sba", "zero",
             "moving_average", "naive", "seasonal_naive")


# ------------------------------------------------------------------------------------------------ design
def fit_windows(n_train: int, seed: int, n_real: int) -> np.ndarray:
    """Sorted indices into a fold's train windows of seed `seed`'s fit on `n_real` real windows: the first
    n_real of one seeded permutation, so sizes are nested within a seed."""
    permutation = np.random.default_rng([int(seed), 12]).permutation(int(n_train))
    return np.sort(permutation[:min(int(n_real), int(n_train))])


def validation_subset(n_val: int, n_train: int, n_real: int, seed: int, floor: int = VALIDATION_FLOOR
                      ) -> np.ndarray:
    """Sorted indices into the validation windows that a user with `n_real` real windows holds out: in proportion
    to the fold's validation / train windows, at least `floor` (early stopping on fewer is decided by a handful of
    sales), at most all; seeded by (seed, n_real), so a fit and its fair generator read the same ones."""
    size = min(int(n_val), max(int(floor), int(round(n_real * n_val / max(1, n_train)))))
    chosen = np.random.default_rng([int(seed), int(n_real), 7]).choice(int(n_val), size=size, replace=False)
    return np.sort(chosen)


@dataclass(frozen=True)
class FairMember:
    """One fair generator: trained only on its fit's real windows with its fit's seed.

    Attributes:
        fold, n_real, seed: the fit it belongs to.
        window_index: indices into the fold's train windows (`fit_windows`): exactly the fit's real windows.
        val_index: indices into the fold's validation windows (`validation_subset`): its checkpoint choice.
        steps: the generator step budget.
    """

    fold: int
    n_real: int
    seed: int
    window_index: np.ndarray
    val_index: np.ndarray
    steps: int

    @property
    def name(self) -> str:
        return f"fold{self.fold}_n{self.n_real}_seed{self.seed}"


def fair_members(n_train: int, n_val: int, sizes: Sequence[int], seeds: Sequence[int], steps: int,
                 fold: int = 0) -> list[FairMember]:
    """The fair generators of one fold: one per (size, seed) of the fits that use GAN samples."""
    return [FairMember(fold, int(n), int(s), fit_windows(n_train, s, n), validation_subset(n_val, n_train, n, s),
                       int(steps)) for n in sizes for s in seeds]


def ensemble_specs(members: Sequence[FairMember], batch_size: int, val_every: int = 0, patience: int = 0) -> list:
    """The fair generators as `gan.ensemble.MemberSpec`s (train windows, seed, step budget, validation windows,
    name): one batched training of every member (`train.train_ensemble`).

    Args:
        members: `fair_members` output.
        batch_size: the GAN's batch size (each member needs at least that many windows).
        val_every: validate each member every this many steps (0: at its epoch ends).
        patience: stop a member after this many validations in a row without a lower validation CRPS (0: train
            the whole budget); its checkpoint stays the lowest validation CRPS so far.

    Returns:
        [MemberSpec], one per member, same order.
    """
    from .gan.ensemble import MemberSpec

    specs = []
    for member in members:
        batches = len(member.window_index) // int(batch_size)
        if batches < 1:
            raise ValueError(f"ensemble_specs: {member.name} has {len(member.window_index)} windows, fewer than "
                             f"the GAN's batch_size {batch_size}; use a smaller batch_size for small n")
        specs.append(MemberSpec(windows=member.window_index, seed=member.seed,
                                max_epochs=-(-member.steps // batches), max_steps=member.steps,
                                val_windows=member.val_index, name=member.name, val_every=int(val_every),
                                patience=int(patience)))
    return specs


# ------------------------------------------------------------------------------------------------ controls
def level_factor(frame: pd.DataFrame, train_df: pd.DataFrame, weights: pd.Series,
                 grid: Sequence[float] = LEVEL_GRID) -> tuple[float, pd.Series]:
    """The factor b in `grid` that minimises WRMSSE of b x forecast on `frame`; ties go to the b nearest 1.

    Args:
        frame: long rows (entity_id, date, actual, forecast) of one fit on its validation subset.
        train_df: `scoring.train_series` output (RMSSE denominators).
        weights: `scoring.entity_weights` output.
        grid: candidate factors.

    Returns:
        (b, WRMSSE per factor).
    """
    names = [f"b{b:g}" for b in grid]
    wide = pd.DataFrame({"unique_id": frame["entity_id"].astype(str).to_numpy(), "ds": frame["date"].to_numpy(),
                         "y": frame["actual"].to_numpy(np.float64)})
    forecast = frame["forecast"].to_numpy(np.float64)
    wide = pd.concat([wide, pd.DataFrame(np.outer(forecast, grid), columns=names)], axis=1)
    scores = metrics.wrmsse(metrics.rmsse_per_series(wide, names, train_df), weights)
    scores.index = list(grid)
    order = sorted(grid, key=lambda b: (round(float(scores[b]), 12), abs(b - 1.0)))
    return float(order[0]), scores


def level_matched(forecasts: pd.DataFrame, val_keys: Callable[[int, int], pd.DataFrame], train_df: pd.DataFrame,
                  weights: pd.Series, config: str, grid: Sequence[float] = LEVEL_GRID
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The level-matched real-only control: every real-only LSTM fit of `config` times its own validation factor.

    Args:
        forecasts: one fold's long forecast table.
        val_keys: (seed, n_real) -> the (entity_id, origin) of that fit's validation subset.
        train_df, weights: RMSSE denominators and WRMSSE weights.
        config: the chosen real-only config (only its fits get a control).
        grid: candidate factors.

    Returns:
        (new forecast rows of model `LEVEL_MODEL`, one row per fit: seed, n_real, factor, val_wrmsse_at_1).
    """
    fits = forecasts[(forecasts["model"] == REFERENCE) & (forecasts["config"] == config)]
    rows, factors = [], []
    for (seed, n_real), part in fits.groupby(["seed", "n_real"], sort=True, observed=True):
        keys = val_keys(int(seed), int(n_real))
        val = part[part["split"] == "val"].merge(keys, on=["entity_id", "origin"], how="inner")
        b, scores = level_factor(val, train_df, weights, grid)
        out = part.copy()
        out["model"] = LEVEL_MODEL
        out["forecast"] = (out["forecast"].to_numpy(np.float64) * b).astype(np.float32)
        rows.append(out)
        factors.append({"seed": int(seed), "n_real": int(n_real), "factor": b,
                        "val_windows": int(val[["entity_id", "origin"]].drop_duplicates().shape[0]),
                        "val_wrmsse_at_1": float(scores.get(1.0, np.nan)), "val_wrmsse": float(scores[b])})
    new = pd.concat(rows, ignore_index=True) if rows else forecasts.iloc[:0].copy()
    if len(new):
        new["model"] = new["model"].astype(str)
    return new, pd.DataFrame(factors)


# ------------------------------------------------------------------------------------------------ analysis
def _scores(table: pd.DataFrame, model: str, config: str, n_real: int, split: str, subset: str = HEADLINE
            ) -> pd.Series:
    """WRMSSE per seed of one model (a baseline: its single score, under seed BASELINE_SEED)."""
    part = table[(table["split"] == split) & (table["subset"] == subset) & (table["model"] == model)]
    fitted = part[(part["config"].fillna("") == config) & (part["n_real"] == n_real)]
    if len(fitted):
        return fitted.set_index("seed")["wrmsse"].astype(float).sort_index()
    return part[part["seed"] == BASELINE_SEED].set_index("seed")["wrmsse"].astype(float)


def paired_changes(table: pd.DataFrame, candidate: str, reference: str, config: str, n_real: int,
                   split: str = "test", subset: str = HEADLINE) -> np.ndarray:
    """Per-seed % change of WRMSSE, candidate vs reference, on one fold's score table (`scoring.Scores.table`);
    a baseline on either side (one score) pairs with every seed of the other."""
    a = _scores(table, candidate, config, n_real, split, subset)
    b = _scores(table, reference, config, n_real, split, subset)
    if a.empty or b.empty:
        return np.zeros(0)
    if BASELINE_SEED in a.index:
        a = pd.Series(float(a.iloc[0]), index=b.index)
    if BASELINE_SEED in b.index:
        b = pd.Series(float(b.iloc[0]), index=a.index)
    seeds = a.index.intersection(b.index)
    return (100.0 * (a[seeds] / b[seeds] - 1.0)).to_numpy(np.float64)


def gate(table: pd.DataFrame, config: str, n_real: int, level: float = 0.95) -> dict:
    """Whether the real-only LSTM beats zero and TSB beyond seed noise on validation (the seed t-interval of its %
    change lies below 0 for both), and the same comparison on test for the record."""
    out = {"passed": True}
    for baseline in GATE_BASELINES:
        for split in ("val", "test"):
            change = paired_changes(table, REFERENCE, baseline, config, n_real, split)
            mean, low, high = stats.mean_ci(change, level) if change.size else (np.nan, np.nan, np.nan)
            out[f"{baseline}_{split}"] = {"pct": mean, "pct_low": low, "pct_high": high}
        upper = out[f"{baseline}_val"]["pct_high"]
        out["passed"] = bool(out["passed"] and np.isfinite(upper) and upper < 0)
    return out


def best_real_only(table: pd.DataFrame, config: str, n_real: int, gbm_config: str = "",
                   models: Sequence[str] = REAL_ONLY) -> str:
    """The real-only forecaster with the lowest mean validation WRMSSE (headline subset) at `n_real` in one fold."""
    scores = {}
    for model in models:
        values = _scores(table, model, gbm_config if model == "lightgbm" else config, n_real, "val")
        if len(values):
            scores[model] = float(values.mean())
    if not scores:
        raise ValueError(f"best_real_only: no real-only forecaster scored on validation at n_real = {n_real}")
    return min(scores, key=lambda m: (scores[m], m))


def compare(tables: dict, choices: dict, sizes: Sequence[int], level: float = 0.95) -> pd.DataFrame:
    """Every headline comparison (`COMPARISONS`) at every size over the folds that pass the gate, with Holm.

    Args:
        tables: {fold: score table of that fold (`scoring.Scores.table`, including `LEVEL_MODEL` rows)}.
        choices: {fold: {"config": the real-only LSTM's config, "gbm_config": LightGBM's chosen config,
            "arms": {n_real: {arm: model}}}} from that fold's validation.
        sizes: the sizes n (real windows) of the study.
        level: confidence level.

    Returns:
        One row per comparison x size: name, n_real, candidate/reference models per fold, gated folds, the blocked
        estimate, interval, p, Holm-adjusted p (over the whole table), the across-fold interval, the estimate
        over every fold (gated or not) and each fold's own seed interval (`per_fold`: {fold: [mean, low, high]}).
    """
    rows = []
    for n_real in sizes:
        gates = {f: gate(tables[f], choices[f]["config"], n_real, level)["passed"] for f in tables}
        for name, cand_arm, ref_arm in COMPARISONS:
            changes, changes_all, models = {}, {}, {}
            for fold, table in tables.items():
                spec = choices[fold]
                arms = spec["arms"].get(n_real, {})
                reference = (best_real_only(table, spec["config"], n_real, _gbm_config(spec, n_real))
                             if ref_arm == "best_real" else arms.get(ref_arm))
                candidate = arms.get(cand_arm)
                if not candidate or not reference:
                    continue
                config = spec["config"]
                change = paired_changes(table, candidate, reference, config, n_real) if reference != "lightgbm" \
                    else _versus_gbm(table, candidate, config, _gbm_config(spec, n_real), n_real)
                if change.size:
                    models[fold] = f"{candidate} vs {reference}"
                    changes_all[fold] = change
                    if gates[fold]:
                        changes[fold] = change
            row = {"comparison": name, "n_real": int(n_real), "models": models,
                   "gated_folds": sorted(changes), "folds_run": sorted(changes_all)}
            if len(changes) >= 2:
                test = stats.blocked_paired_test(changes, level)
                row.update({k: test[k] for k in ("pct", "pct_low", "pct_high", "p", "df", "n_pairs")})
                row["across_low"], row["across_high"] = test["across"][1], test["across"][2]
            if changes_all:
                every = stats.blocked_paired_test(changes_all, level)
                row["pct_all_folds"] = every["pct"]
                # every fold that ran, gated or not: (mean, low, high) of its seed t-interval
                row["per_fold"] = {f: [float(v) for v in every["per_fold"][f]] for f in changes_all}
            rows.append(row)
    out = pd.DataFrame(rows)
    if "p" not in out:
        out["p"] = np.nan
    out["p_holm"] = stats.holm(out["p"].to_numpy(np.float64))
    return out


def _gbm_config(spec: dict, n_real: int) -> str:
    """LightGBM's chosen config at `n_real` (stage 04 records one per size; "" when it did not run)."""
    value = spec.get("gbm_config", "")
    return str(value.get(n_real, value.get(str(n_real), ""))) if isinstance(value, dict) else str(value)


def _versus_gbm(table: pd.DataFrame, candidate: str, config: str, gbm_config: str, n_real: int) -> np.ndarray:
    """Per-seed % change of an LSTM variant against LightGBM fitted on the same seed's windows."""
    a = _scores(table, candidate, config, n_real, "test")
    b = _scores(table, "lightgbm", gbm_config, n_real, "test")
    seeds = a.index.intersection(b.index)
    return (100.0 * (a[seeds] / b[seeds] - 1.0)).to_numpy(np.float64)


def _better(row: pd.Series | dict | None, alpha: float = 0.05) -> bool:
    return row is not None and np.isfinite(row.get("p_holm", np.nan)) and row["p_holm"] < alpha and row["pct"] < 0


def _worse(row, alpha: float = 0.05) -> bool:
    return row is not None and np.isfinite(row.get("p_holm", np.nan)) and row["p_holm"] < alpha and row["pct"] > 0


def _change_text(row) -> str:
    if row is None or not np.isfinite(row.get("pct", np.nan)):
        return "not measured"
    return (f"{row['pct']:+.1f}% [{row['pct_low']:+.1f}%, {row['pct_high']:+.1f}%] (Holm p = {row['p_holm']:.2g}, "
            f"{row['n_pairs']} fold x seed pairs)")


def verdict(comparisons: pd.DataFrame, n_real: int, alpha: float = 0.05) -> dict:
    """The two-part verdict at one size, in plain words (docs/analysis_plan.md, section 7).

    Returns:
        {"a": answer to "does GAN augmentation lower the LSTM's error versus real-only, beyond the history analog
        and the best simple augmentation?", "b": answer to "does the augmented LSTM beat the best real-only
        forecaster?", "catalogue": the catalogue-wide generator's sentence, "a_word", "b_word"}.
    """
    part = comparisons[comparisons["n_real"] == n_real].set_index("comparison")

    def row(name):
        return part.loc[name].to_dict() if name in part.index and np.isfinite(part.loc[name].get("pct", np.nan)) \
            else None

    real, level_, analog, simple = (row(n) for n in ("gan_vs_real", "gan_vs_level", "gan_vs_analog",
                                                     "gan_vs_simple"))
    folds = len(part.loc["gan_vs_real", "gated_folds"]) if "gan_vs_real" in part.index else 0
    head = f"At {n_real} real windows, over {folds} folds that pass the gate"
    if real is None:
        a_word = "not measurable"
        a = (f"{head}: not measurable (fewer than 2 folds where the real-only LSTM beats zero and TSB beyond seed "
             f"noise on validation, or no fair-GAN fit).")
    else:
        controls = {"level-matched real-only": level_, "the history analog": analog,
                    "the best simple augmentation": simple}
        missed = [label for label, r in controls.items() if not _better(r, alpha)]
        if _better(real, alpha):
            a_word = "yes" if not missed else "partly"
        else:
            a_word = "no, it raised the error" if _worse(real, alpha) else "no measurable change"
        a = (f"{head}, fair GAN augmentation changed the LSTM's test WRMSSE by {_change_text(real)} versus real-only, "
             + "; ".join(f"{_change_text(r)} versus {label}" for label, r in controls.items())
             + f": {a_word}" + (f" (not beyond {', '.join(missed)})" if a_word == "partly" else "") + ".")
    best = row("gan_vs_best_real")
    best_models = sorted({m.split(" vs ")[1] for m in (part.loc["gan_vs_best_real", "models"] or {}).values()}) \
        if "gan_vs_best_real" in part.index and isinstance(part.loc["gan_vs_best_real", "models"], dict) else []
    named = " / ".join(best_models) or "the best real-only forecaster"
    if best is None:
        b_word, b = "not measurable", f"At {n_real} real windows: not measurable against {named}."
    else:
        b_word = "yes" if _better(best, alpha) else f"no, {named} is better" if _worse(best, alpha) else \
            f"not distinguishable from {named}"
        b = (f"At {n_real} real windows, the fair-GAN LSTM versus the best real-only forecaster on validation "
             f"({named}): {_change_text(best)}: {b_word}.")
    catalogue = row("catalogue_gan_vs_analog")
    ungated = part.loc["catalogue_gan_vs_analog"].get("pct_all_folds") if "catalogue_gan_vs_analog" in part.index \
        else None
    if catalogue is not None:
        cat = (f"A generator trained on all train windows of each fold (more data than the forecaster) changed the "
               f"LSTM's test WRMSSE by {_change_text(catalogue)} versus its history analog (same pool).")
    elif ungated is not None and np.isfinite(ungated):
        cat = (f"The catalogue-wide generator (trained on all train windows of each fold) versus its history analog: "
               f"not measurable (fewer than 2 folds pass the gate); over every fold, ungated and descriptive only: "
               f"{ungated:+.1f}%.")
    else:
        cat = "The catalogue-wide generator was not compared with its history analog."
    return {"a": a, "b": b, "catalogue": cat, "a_word": a_word, "b_word": b_word}


# ------------------------------------------------------------------------------------------------ folds on disk
def rank_agreement_of(table: pd.DataFrame, n_real: int, subset: str = HEADLINE) -> dict:
    """Validation -> test rank agreement (Spearman) over every model x config fitted at `n_real` (mean over seeds)
    and every baseline, in one fold: does this test period rank the forecasters the way validation does?"""
    part = table[(table["subset"] == subset) & table["n_real"].isin([0, n_real])]
    means = part.groupby(["model", "config", "split"], dropna=False)["wrmsse"].mean().unstack("split")
    means = means.dropna(subset=[c for c in ("val", "test") if c in means])
    if not {"val", "test"} <= set(means.columns):
        return {"spearman": float("nan"), "p": float("nan"), "n_models": 0}
    return stats.rank_agreement(means["val"].to_numpy(), means["test"].to_numpy())


def summarize_folds(folds: dict, level: float = 0.95) -> dict:
    """The study's summary from each fold's saved stage-01 and stage-04 folders (nothing is refitted).

    Adds the level-matched control to each fold's forecasts (factor chosen on each fit's validation subset), scores
    every fold, applies the gate, pools the headline comparisons over (fold, seed) pairs and writes the verdict.

    Args:
        folds: {fold index: (stage-01 folder of the fold, stage-04 folder of the fold)}.
        level: confidence level.

    Returns:
        summary dict: folds (dates, regime, gate and rank agreement per size, level factors, choices), comparisons
        (records), verdict per size, and the rules applied.
    """
    import json
    from pathlib import Path

    from . import preprocess, scoring

    tables, choices, per_fold = {}, {}, {}
    sizes = None
    for fold, (data_dir, bench_dir) in sorted(folds.items()):
        data_dir, bench_dir = Path(data_dir), Path(bench_dir)
        summary = json.loads((bench_dir / scoring.SUMMARY_FILE).read_text())
        forecasts = pd.read_parquet(bench_dir / scoring.FORECASTS_FILE)
        train_df = scoring.train_series(pd.read_parquet(data_dir / preprocess.PANEL_FILE))
        weights = scoring.entity_weights(train_df, summary["settings"]["weights_by"])
        val = preprocess.load_windows(data_dir, "val")
        n_train = int(summary["settings"]["n_train"])
        val_keys, n_val = val.keys(), len(val)

        def keys_of(seed, n_real, val_keys=val_keys, n_val=n_val, n_train=n_train):
            return val_keys.iloc[validation_subset(n_val, n_train, n_real, seed)]

        config = summary["validation_choices"]["config"]
        level_rows, factors = level_matched(forecasts, keys_of, train_df, weights, config)
        combined = pd.concat([forecasts.astype({c: str for c in ("model", "config", "split", "entity_id")}),
                              level_rows.astype({c: str for c in ("model", "config", "split", "entity_id")})],
                             ignore_index=True)
        table = scoring.score_forecasts(combined, train_df, weights).table
        fold_sizes = [int(n) for n in summary["settings"]["scarcity_sizes"]]
        sizes = fold_sizes if sizes is None else [n for n in sizes if n in fold_sizes]
        chosen = summary["validation_choices"]
        # each size's arms (the fair GAN's and the analogs' ratios are chosen per size); older runs: one set
        arms = {n: {arm: spec["model"] for arm, spec in scoring.arms_at(chosen, n).items()} | {
            "level": LEVEL_MODEL} for n in fold_sizes}
        choices[fold] = {"config": config, "gbm_config": chosen.get("gbm_config", ""), "arms": arms}
        tables[fold] = table
        per_fold[fold] = {"split_dates": json.loads((data_dir / preprocess.METADATA_FILE).read_text())
                          .get("split_dates"), "regime": summary.get("regime"),
                          "gan_training": summary.get("gan_training", {}), "choices": choices[fold],
                          "fair_generators": summary.get("fair_generators", []),
                          "level_factors": factors.to_dict(orient="records"),
                          "gate": {n: gate(table, config, n, level) for n in fold_sizes},
                          "rank_agreement": {n: rank_agreement_of(table, n) for n in fold_sizes}}
    comparisons = compare(tables, choices, sizes or [], level)
    return {"folds": per_fold, "sizes": sizes, "comparisons": comparisons.to_dict(orient="records"),
            "verdict": {n: verdict(comparisons, n) for n in sizes or []},
            "rules": "docs/analysis_plan.md: folds as blocks, seeds within; Holm over the comparisons listed; the "
                     "gate on validation; level factor on each fit's validation subset"}


STUDY_FILE = "study_summary.json"
STUDY_FIGURE = "study_changes"  # figures/<name>.png beside it: the report's headline figure when there is a study


def _plain(value):
    """numpy scalars/arrays -> Python, NaN/inf -> None, keys -> str: strict JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def source_files(folds: dict, folder) -> dict:
    """What `summarize_folds` read, per fold: {path relative to `folder`: sha256} (the study's provenance: a fold
    rerun since changes a hash, and `stale_sources` says so)."""
    import os
    from pathlib import Path

    from . import preprocess, provenance, scoring

    sources = {}
    for fold, (data_dir, bench_dir) in sorted(folds.items()):
        files = [Path(bench_dir) / scoring.SUMMARY_FILE, Path(bench_dir) / scoring.FORECASTS_FILE,
                 Path(data_dir) / preprocess.PANEL_FILE, Path(data_dir) / preprocess.METADATA_FILE,
                 Path(data_dir) / preprocess.windows_file("val")]
        sources[str(fold)] = {os.path.relpath(path, folder): provenance.file_hash(path) for path in files}
    return sources


def stale_sources(summary: dict, folder) -> list[str]:
    """The input files of a `study_summary.json` in `folder` that changed or vanished since it was written, as
    "fold k: path" (empty: it is current; a summary from before the sources were recorded: nothing to check)."""
    from pathlib import Path

    from . import provenance

    stale = []
    for fold, files in (summary.get("sources") or {}).items():
        for name, digest in files.items():
            path = Path(folder) / name
            if not path.is_file() or provenance.file_hash(path) != digest:
                stale.append(f"fold {fold}: {name}")
    return stale


# the rows of docs/results.md's per-fold test table: (label, arm of `arms_by_size` or baseline model)
TABLE_ROWS = (("IMAPA", "imapa"), ("ADIDA", "adida"), ("TSB", "tsb"), ("zero forecast", "zero"),
              ("LightGBM (Tweedie, chosen on validation)", "lightgbm"), ("LSTM real only", "real"),
              ("LSTM + fair GAN", "gan_fair"), ("LSTM + catalogue GAN", "gan"),
              ("LSTM + history analog (own windows)", "analog_fit"),
              ("LSTM + history analog (all train)", "analog"), ("LSTM + best simple augmentation", "simple"))


def forecaster_table(bench_folders: Sequence, n_real: int, subset: str = HEADLINE) -> pd.DataFrame:
    """Test WRMSSE of each forecaster per fold (mean over seeds, `subset` windows) at `n_real` real windows, from
    each fold's stage-04 `results.csv` and the arms its validation chose (`summary.json`); augmented rows name
    their chosen ratio. Columns: forecaster, then "fold k" in the order given (fold k = the k-th folder)."""
    import json
    from pathlib import Path

    columns = {}
    for index, folder in enumerate(bench_folders):
        folder = Path(folder)
        results = pd.read_csv(folder / "results.csv")
        choices = json.loads((folder / "summary.json").read_text(encoding="utf-8"))["validation_choices"]
        arms = choices["arms_by_size"][str(n_real)]
        gbm = choices.get("gbm_config", {}).get(str(n_real), "")
        column = {}
        for label, key in TABLE_ROWS:
            arm = arms.get(key)
            model = arm["model"] if arm else key
            rows = results[(results["model"] == model) & (results["subset"] == subset)]
            if arm or key == "lightgbm":
                rows = rows[rows["n_real"] == n_real]
                config = gbm if key == "lightgbm" else choices["config"]
                if config and (rows["config"] == config).any():
                    rows = rows[rows["config"] == config]
            if len(rows) != 1:
                continue
            text = f"{float(rows['wrmsse'].iloc[0]):.4f}"
            if arm and key == "simple":  # the row names every other arm; the simple one is a choice of kind
                text += f" ({arm['augmentation'].replace('_', ' ')} ×{arm['ratio']:g})"
            elif arm and key != "real":
                text += f" (×{arm['ratio']:g})"
            column[label] = text
        columns[f"fold {index}"] = column
    table = pd.DataFrame(columns).reindex([label for label, _ in TABLE_ROWS]).dropna(how="all")
    return table.fillna("–").rename_axis("forecaster").reset_index()


def summarize_run(run_path, fold_runs: Sequence = ()) -> dict:
    """`summarize_folds` over a run's folds and write `study_summary.json` into its stage-04 folder.

    The folds are stage 01's (`folds.json`). Fold k's stage 04 is `fold_k/` of the run's stage-04 folder (fold 0:
    the folder itself), or, for k >= 1, the stage-04 folder of `fold_runs[k - 1]`: a run of stages 02-05 on that
    fold (`--from 02 --set data_stage_dir=<run>/01_eda_preprocess/fold_k`). Folds whose stage 04 has not run are
    listed as missing."""
    import json
    from pathlib import Path

    from . import backtest, paths

    run_path = Path(run_path)
    data_stage, bench_stage = paths.stage_dir(run_path, 1), paths.stage_dir(run_path, 4)
    folds, missing = {}, []
    for entry in backtest.load_folds(data_stage):
        index = int(entry["fold"])
        bench = backtest.fold_folder(bench_stage, index)
        if index and not (bench / "summary.json").is_file() and index <= len(fold_runs):
            bench = paths.stage_dir(Path(fold_runs[index - 1]), 4)
        if (bench / "summary.json").is_file():
            folds[index] = (backtest.fold_folder(data_stage, index), bench)
        else:
            missing.append(index)
    if not folds:
        raise FileNotFoundError(f"no fold of {run_path} has a stage-04 summary.json: run stage 04 first")
    summary = _plain({**summarize_folds(folds), "folds_missing": missing,
                      "sources": source_files(folds, bench_stage)})
    paths.write_text_atomic(bench_stage / STUDY_FILE, json.dumps(summary, indent=2, allow_nan=False) + "\n")
    from . import plots

    figure = plots.study_changes(summary)
    plots.save(figure, bench_stage, STUDY_FIGURE)
    plots.plt.close(figure)
    return summary


if __name__ == "__main__":
    import sys

    if len(sys.argv) >= 4 and sys.argv[1] == "table":
        print(forecaster_table(sys.argv[3:], int(sys.argv[2])).to_markdown(index=False))
        sys.exit(0)
    if len(sys.argv) < 2:
        sys.exit("usage: python -m salesgan_utils.study outputs/<run> [outputs/<run of fold 1> ...]   (writes "
                 "<run>/04_augmentation_benchmark/study_summary.json)\n"
                 "       python -m salesgan_utils.study table N_REAL <fold 0 stage-04 folder> [<fold 1's> ...]")
    result = summarize_run(sys.argv[1], sys.argv[2:])
    for size, words in result["verdict"].items():
        print(f"{size} real windows:\n  (a) {words['a']}\n  (b) {words['b']}\n  {words['catalogue']}")

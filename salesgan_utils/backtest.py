"""The rolling-origin backtest: several train / validation / test splits of one dataset, each a complete stage-01
split, so that a forecaster's skill is measured on more than one test period.

* **Folds** (`data.fold_split`): fold 0 is the split by fractions; fold k moves every boundary back by
  k x `backtest_spacing_days` days and keeps the validation and test lengths. A fold's panel ends on its test end:
  later days do not exist for it, so nothing after its test period can change it, and nothing after its
  validation end can change its entities, scaling or train/validation windows.
* **Entities per fold**: the top entities by their units in the last `selection_days` days of that fold's train
  period (recent sales at the fold's train end; `data.build_panel`).
* **Artifacts**: fold 0 is stage 01's usual folder (`panel.parquet`, `metadata.json`, `windows_*.npz`); fold k >= 1
  the same files in `fold_k/` under it (`fold_folder`), so a later stage runs on a fold by pointing its
  `data_stage_dir` there; `folds.json` lists every fold with its dates and its regime (`fold_regime`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import preprocess, scoring
from .data import Panel
from .olist import OlistTables
from .paths import DataSource, write_json_atomic
from .windows import WindowSet

BACKTEST_KEYS = ("backtest_folds", "backtest_spacing_days")
FOLDS_FILE = "folds.json"


@dataclass
class Fold:
    """One fold of the backtest: its index, panel and windows of the three splits."""

    index: int
    panel: Panel
    windows: dict[str, WindowSet]

    def dates(self) -> dict:
        return self.panel.split_dates()


def fold_folder(stage_path: str | Path, index: int) -> Path:
    """Where fold `index`'s stage-01 artifacts live: fold 0 in the stage folder itself, fold k in `fold_k/`."""
    return Path(stage_path) if int(index) == 0 else Path(stage_path) / f"fold_{int(index)}"


def build_folds(tables: OlistTables, settings: dict, first: tuple[Panel, dict] | None = None) -> list[Fold]:
    """Every fold of the backtest from stage 01's parameters.

    Args:
        tables: the loaded tables.
        settings: stage-01 parameters (`preprocess.BUILD_KEYS`, `BACKTEST_KEYS`).
        first: fold 0's (panel, windows) when already built (stage 01 builds it first), else None.

    Returns:
        [Fold] in fold order (0 = the latest test period).
    """
    n_folds = int(settings.get("backtest_folds", 1))
    spacing = int(settings.get("backtest_spacing_days", 0))
    repair = ("repair_warn_share", "repair_error_share")
    build = {key: settings[key] for key in preprocess.BUILD_KEYS if key in settings and key not in repair}
    build["rule"] = preprocess.repair_rule(settings)
    folds = []
    for index in range(max(1, n_folds)):
        if index == 0 and first is not None:
            panel, sets = first
        else:
            panel, sets = preprocess.build_split(tables, **build, fold=index, fold_spacing_days=spacing)
        folds.append(Fold(index, panel, sets))
    return folds


def fold_regime(fold: Fold, active_days: int = 30) -> dict:
    """The demand regime of one fold (`scoring.regime`): demand per split, its change train -> test, the shares of
    all-zero target windows and of active windows, entities with no sale."""
    keys = {split: scoring.window_keys(fold.windows[split], active_days) for split in ("val", "test")}
    return scoring.regime(keys, scoring.train_series(fold.panel.to_frame()))


def regime_table(folds: list[Fold], active_days: int = 30) -> pd.DataFrame:
    """One row per fold: its dates, entities, windows and regime, for notebook 01 and the report."""
    rows = []
    for fold in folds:
        dates, reg = fold.dates(), fold_regime(fold, active_days)
        means = reg["mean_units_per_day"]
        rows.append({"fold": fold.index, "train": f"{dates['train_start']} .. {dates['train_end']}",
                     "val": f"{dates['val_start']} .. {dates['val_end']}",
                     "test": f"{dates['test_start']} .. {dates['test_end']}", "entities": fold.panel.n_entities,
                     **{f"windows_{split}": len(fold.windows[split]) for split in ("train", "val", "test")},
                     "units_per_day_train": round(means["train"], 4), "units_per_day_val": round(means["val"], 4),
                     "units_per_day_test": round(means["test"], 4),
                     "demand_change_pct": round(reg["demand_change_train_to_test_pct"], 1),
                     "test_zero_target_share_active": round(reg["test"]["zero_target_share_active"], 3),
                     "test_active_share": round(reg["test"]["active_share"], 3),
                     "test_entities_with_no_sale": reg["test"]["entities_with_no_sale"]})
    return pd.DataFrame(rows)


def save_folds(out_dir: str | Path, source: DataSource, folds: list[Fold], parameters: dict,
               active_days: int = 30) -> list[Path]:
    """Write folds k >= 1 into `fold_k/` (fold 0 is written by `preprocess.save` into the stage folder itself) and
    `folds.json` (every fold's dates, entities and regime)."""
    out_dir = Path(out_dir)
    written = []
    for fold in folds[1:]:
        written += preprocess.save(fold_folder(out_dir, fold.index), source, fold.panel, fold.windows,
                                   {**parameters, "fold": fold.index})
    listing = {"folds": [{"fold": f.index, "folder": str(fold_folder(Path("."), f.index)), **f.dates(),
                          "entities": [str(e) for e in f.panel.entity_ids], "regime": fold_regime(f, active_days)}
                         for f in folds],
               "spacing_days": int(parameters.get("backtest_spacing_days", 0)),
               "selection_days": int(parameters.get("selection_days", 0))}
    written.append(write_json_atomic(out_dir / FOLDS_FILE, listing))
    return written


def load_folds(stage_path: str | Path) -> list[dict]:
    """The fold list of a stage-01 folder (`folds.json`); a folder written before folds existed is one fold."""
    path = Path(stage_path) / FOLDS_FILE
    if not path.is_file():
        return [{"fold": 0, "folder": "."}]
    return json.loads(path.read_text())["folds"]

"""Stage 01 as functions: choose the data, build the panel and windows, save and reload the stage's artifacts.

Artifacts in `outputs/<run>/01_eda_preprocess/`: `panel.parquet` (long panel), `metadata.json` (data source, data
report, split dates, scaling statistics, window counts, parameters), `windows_{train,val,test}.npz`.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import data, demo, olist, windows
from .paths import DataSource, atomic_path, discover_data, require_artifact, write_json_atomic
from .repairs import REPAIR_ERROR_SHARE, REPAIR_WARN_SHARE, RepairRule

if TYPE_CHECKING:
    import pandas as pd

BUILD_KEYS = ("entity", "train_fraction", "val_fraction", "test_fraction", "min_train_units", "top_n", "history_days",
              "horizon", "stride", "selection_days", "repair_warn_share", "repair_error_share")
# Artifact names of stage 01 (this module writes them; readers import these names).
PANEL_FILE, METADATA_FILE = "panel.parquet", "metadata.json"


def windows_file(split: str) -> str:
    """File name of one split's windows inside the stage-01 folder."""
    return f"windows_{split}.npz"


def resolve_data(data_dir: str, run_path: Path, demo_n_products: int = 300, demo_seed: int = 0) -> DataSource:
    """The data source by the documented discovery order; demo tables are generated into `run/demo_data/`."""
    source = discover_data(data_dir or None)
    if source.is_demo:
        folder = Path(run_path) / "demo_data"
        demo.write_demo_tables(folder, n_products=demo_n_products, seed=demo_seed)
        source = DataSource(folder, "demo", source.reason)
    return source


def repair_rule(settings: dict) -> RepairRule:
    """The repair rule of stage-01 parameters (`repair_warn_share`, `repair_error_share`; defaults where absent)."""
    return RepairRule(float(settings.get("repair_warn_share", REPAIR_WARN_SHARE)),
                      float(settings.get("repair_error_share", REPAIR_ERROR_SHARE)))


def load_tables(source: DataSource, rule: RepairRule | None = None) -> olist.OlistTables:
    """Read and validate the tables of `source` by the repair `rule` (demo tables always have reviews: no warning
    about them)."""
    with warnings.catch_warnings():
        if source.is_demo:
            warnings.simplefilter("ignore")
        return olist.load_tables(source.folder, rule)


def build(source: DataSource, *, entity: str, train_fraction: float, val_fraction: float, test_fraction: float,
          min_train_units: int, top_n: int, history_days: int, horizon: int, stride: int, selection_days: int = 0,
          repair_warn_share: float = REPAIR_WARN_SHARE, repair_error_share: float = REPAIR_ERROR_SHARE):
    """Load, validate and build the panel and the windows of the three splits (fold 0: the split by fractions).

    `repair_warn_share` and `repair_error_share` are the shares of a table's rows above which a drop or repair is
    a loud warning, and a drop an error (`repairs.RepairRule`).

    Returns:
        (tables, panel, {split: WindowSet})
    """
    rule = RepairRule(repair_warn_share, repair_error_share)
    tables = load_tables(source, rule)
    panel, sets = build_split(tables, entity=entity, train_fraction=train_fraction, val_fraction=val_fraction,
                              test_fraction=test_fraction, min_train_units=min_train_units, top_n=top_n,
                              history_days=history_days, horizon=horizon, stride=stride,
                              selection_days=selection_days, rule=rule)
    return tables, panel, sets


def build_split(tables: olist.OlistTables, *, entity: str, train_fraction: float, val_fraction: float,
                test_fraction: float, min_train_units: int, top_n: int, history_days: int, horizon: int,
                stride: int, selection_days: int = 0, fold: int = 0, fold_spacing_days: int = 0,
                rule: RepairRule | None = None):
    """The panel and the windows of one rolling-origin fold (`data.fold_split`; fold 0 = the split by fractions).

    Returns:
        (panel, {split: WindowSet})
    """
    panel = data.build_panel(tables, entity=entity, train_fraction=train_fraction, val_fraction=val_fraction,
                             test_fraction=test_fraction, min_train_units=min_train_units, top_n=top_n,
                             fold=fold, fold_spacing_days=fold_spacing_days, selection_days=selection_days,
                             rule=rule)
    n_days = len(panel.dates)
    if history_days + horizon > n_days:
        # Checked here, at the start of the pipeline: a window longer than the data would otherwise fail in numpy,
        # or in a later stage after hours of work.
        raise data.DataError(
            f"parameter history_days = {history_days} plus horizon = {horizon} is {history_days + horizon} days, "
            f"longer than the data: the panel has {n_days} days ({panel.split_dates()['train_start']} .. "
            f"{panel.split_dates()['test_end']}). Use a shorter history_days/horizon, or more data.")
    sets = {split: windows.make_windows(panel, split, history_days, horizon, stride) for split in windows.SPLITS}
    empty = [split for split, ws in sets.items() if len(ws) == 0]
    if empty:
        raise data.DataError(
            f"no {'/'.join(empty)} windows: each needs {history_days} history days after an entity's first sale "
            f"and {horizon} target days inside the split, and the panel has {len(panel.dates)} days "
            f"(split at {panel.split_dates()}). Use more data, a shorter history_days/horizon, or other fractions.")
    return panel, sets


def save(out_dir: Path, source: DataSource, panel, sets: dict, parameters: dict) -> list[Path]:
    """Write the stage-01 artifacts atomically and return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with atomic_path(out_dir / PANEL_FILE) as tmp:
        panel.to_frame().to_parquet(tmp, index=False)
    written.append(out_dir / PANEL_FILE)
    for split, ws in sets.items():
        ws.save(out_dir / windows_file(split))
        written.append(out_dir / windows_file(split))
    metadata = {
        "data_source": {"kind": source.kind, "folder": str(source.folder), "reason": source.reason},
        # which file of each table was read (path, bytes, sha256): a stale copy shows up as another hash
        "data_files": panel.report.get("files_read", {}),
        "is_demo": source.is_demo,
        "entity": panel.entity,
        "n_entities": panel.n_entities,
        "reviews_available": bool(panel.reviews_available),
        "split_dates": panel.split_dates(),
        "windows": {split: len(ws) for split, ws in sets.items()},
        "data_report": panel.report,
        "scaling": panel.scaling_table().to_dict(orient="list"),
        "parameters": parameters,
    }
    written.append(write_json_atomic(out_dir / METADATA_FILE, metadata))
    return written


def load_metadata(stage_path: Path) -> dict:
    path = require_artifact(Path(stage_path) / METADATA_FILE, 1)
    return json.loads(path.read_text())


def load_windows(stage_path: Path, split: str) -> windows.WindowSet:
    return windows.WindowSet.load(require_artifact(Path(stage_path) / windows_file(split), 1))


def window_summary(sets: dict) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for split, ws in sets.items():
        rows.append({"split": split, "windows": len(ws), "entities": int(len(np.unique(ws.entity))),
                     "first_origin": str(ws.origin.min()) if len(ws) else "",
                     "last_origin": str(ws.origin.max()) if len(ws) else "",
                     "target_zero_share": round(float((ws.target == 0).mean()), 4) if len(ws) else float("nan")})
    return pd.DataFrame(rows)

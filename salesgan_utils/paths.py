"""Where things are: the project root, run and stage folders, the run folder's own files (stage parameters, stage
times, the report), Kaggle detection, Olist data discovery, atomic writes.

Everything resolves from one root (env `SALESGAN_ROOT`, default the repository) and nothing is created at
import time. Data discovery order (first hit wins, and the reason is reported):

1. an explicit `data_dir` (an error if it lacks the Olist tables: never a silent fallback to demo data);
2. env `SALESGAN_DATA_DIR` (same rule);
3. any folder under the Kaggle input root (env `SALESGAN_KAGGLE_ROOT`, default `/kaggle/input`), searched
   recursively, holding `olist_orders_dataset.csv` or `.csv.gz`;
4. `<root>/data/raw/` when it holds the orders table;
5. otherwise demo data, generated into `outputs/<run>/demo_data/` by the caller.

Ambiguity is an error listing the candidates, never a silent pick: two folders holding the orders table under the
chosen folder (or the Kaggle input root), or one table present as both `.csv` and `.csv.gz`. Searches follow
symbolic links to folders (each real folder once, so a link loop ends). Demo data are never chosen while a near
miss lies where the data were looked for (`near_misses`: an archive, a folder or broken link named like a table,
a table under another suffix): that is an error saying what was found.

The value `"demo"` for `data_dir` (or `SALESGAN_DATA_DIR`, or `run_all.sh --data demo`) asks for demo data
explicitly, whatever lies on the machine: tests and nbval references use it so that they do not change with the
data a machine happens to hold.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import provenance, sniff

ORDERS_FILE = "olist_orders_dataset"
TABLE_SUFFIXES = (".csv", ".csv.gz")
DEMO = "demo"  # data_dir value that forces demo data
STAGES = {
    1: "01_eda_preprocess",
    2: "02_train_gan",
    3: "03_generate_samples",
    4: "04_augmentation_benchmark",
    5: "05_report",
}
STAGES_BY_NAME = {name: number for number, name in STAGES.items()}
# The earlier stages' folders each stage reads: {stage: {its parameter naming the folder: that stage}}; an empty
# parameter means that stage's folder in the same run. Stage 05 reads whatever the run holds.
STAGE_INPUTS = {1: {}, 2: {"data_stage_dir": 1}, 3: {"data_stage_dir": 1, "gan_stage_dir": 2},
                4: {"data_stage_dir": 1, "samples_stage_dir": 3}, 5: {}}
# The run folder's own files, beside the stage folders: outputs/<run>/params/NN_name.yaml (the parameters each
# stage ran with), stage_times.json (wall time and status per stage) and the exported report.
PARAMS_FOLDER = "params"
STAGE_TIMES_FILE = "stage_times.json"
REPORT_FILE = "report.html"


def project_root() -> Path:
    """The repository root, or env `SALESGAN_ROOT`."""
    env = os.environ.get("SALESGAN_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parent.parent


def kaggle_input_root() -> Path:
    return Path(os.environ.get("SALESGAN_KAGGLE_ROOT", "/kaggle/input"))


def is_kaggle() -> bool:
    """True inside a Kaggle kernel (interactive or batch), or when a test simulates one."""
    return bool(os.environ.get("KAGGLE_KERNEL_RUN_TYPE")) or Path("/kaggle/input").is_dir()


def outputs_root() -> Path:
    """Folder that holds one subfolder per run: env `SALESGAN_OUTPUTS`, `/kaggle/working/outputs` on Kaggle,
    else `<root>/outputs`."""
    env = os.environ.get("SALESGAN_OUTPUTS")
    if env:
        return Path(env)
    if is_kaggle():
        return Path(os.environ.get("SALESGAN_KAGGLE_WORKING", "/kaggle/working")) / "outputs"
    return project_root() / "outputs"


def run_dir(run: str, outputs: str | Path | None = None) -> Path:
    """`outputs/<run>/` (not created)."""
    if not run or "/" in run or run in (".", ".."):
        raise ValueError(f"run name {run!r} is not a plain folder name: pass --run NAME with letters, digits, - or _")
    return (Path(outputs) if outputs else outputs_root()) / run


# A stage's outputs are replaced only when the stage succeeds. Under the pipeline (env STAGE_PARTIAL_ENV set) a
# stage writes into `NN_name.partial/`, a copy of its previous `NN_name/` (so that a resumed training finds its
# last.ckpt), and the pipeline swaps it in with `publish_stage` after success; a killed, failed or disk-full stage
# leaves `NN_name/` as it was. A published folder carries COMPLETE_MARKER (`provenance`: its files' sizes and content
# hashes, and the records of the earlier stages it read), written last; readers of an earlier stage's folder check
# it and its chain (`check_stage_complete`).
STAGE_PARTIAL_ENV = "SALESGAN_STAGE_PARTIAL"
PARTIAL_SUFFIX, PREVIOUS_SUFFIX = ".partial", ".previous"
COMPLETE_MARKER = provenance.RECORD_FILE


class IncompleteStageError(FileNotFoundError):
    """An earlier stage's folder that no successful run of that stage finished (one line naming the fix)."""


class BatchStageError(FileExistsError):
    """A notebook run by hand about to rewrite a stage that a batch run (run_all.sh) finished (one line)."""


# Who finished a stage, in its completion record: the pipeline (run_all.sh) or a notebook run by hand. A record
# without the key is a batch run's (notebooks run by hand wrote none before).
BY_BATCH, BY_HAND = "run_all", "hand"


def stage_dir(run_path: str | Path, stage: int, create: bool = False) -> Path:
    """`outputs/<run>/NN_name/` for stage NN; created only when asked.

    With `create` (the folder a stage writes into): under the pipeline, the stage's `NN_name.partial/` (see
    STAGE_PARTIAL_ENV); run by hand, `NN_name/` itself, whose completion marker is removed first (the folder is
    being rewritten, so it is no longer the output of a finished run). Run by hand, a stage that a batch run
    finished is never rewritten: that is a BatchStageError naming the two ways out.
    """
    path = Path(run_path) / STAGES[stage]
    if create:
        if os.environ.get(STAGE_PARTIAL_ENV):
            partial = _partial_stage_dir(path)
            provenance.start_writing(partial, STAGES[stage])  # its record names the earlier stages read
            return partial
        _recover_previous(path)
        if finished_by(path) == BY_BATCH:
            run = Path(run_path).name
            raise BatchStageError(
                f"{path} holds stage {stage:02d} as a batch run (bash run_all.sh) finished it; a notebook run by hand "
                f"does not overwrite it. Give this notebook its own run: set run = \"{run}-notebook\" in the "
                f"parameters cell, or rerun the stage in batch: bash run_all.sh --only {stage:02d} --run {run}")
        path.mkdir(parents=True, exist_ok=True)
        (path / COMPLETE_MARKER).unlink(missing_ok=True)
        provenance.start_writing(path, STAGES[stage])  # run by hand, its record names the earlier stages too
    return path


def finished_by(folder: str | Path) -> str | None:
    """BY_BATCH or BY_HAND when `folder` holds a completion record, else None."""
    marker = Path(folder) / COMPLETE_MARKER
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("by", BY_BATCH)
    except (OSError, ValueError, AttributeError):
        return BY_BATCH  # an unreadable record is treated as a batch run's: never silently overwritten


def write_completion_record(folder: str | Path, stage: int, by: str = BY_BATCH) -> Path:
    """Write stage NN's completion record in `folder` (`provenance.build_record`: its files' hashes and the earlier
    stages it read, plus who finished it), last of all: the one record a batch stage (`publish_stage`) and a
    notebook run by hand (`finish_stage`) write."""
    folder = Path(folder)
    record = {**provenance.build_record(folder, STAGES[stage]), "by": by}
    written = write_json_atomic(folder / COMPLETE_MARKER, record)
    (folder / provenance.INPUTS_FILE).unlink(missing_ok=True)
    return written


def write_stage_params(run_path: str | Path, stage: int, values: dict) -> Path:
    """`outputs/<run>/params/NN_name.yaml`: the parameters stage NN ran with (batch or by hand)."""
    import yaml

    return write_text_atomic(stage_params_file(run_path, stage), yaml.safe_dump(dict(values), sort_keys=False))


def finish_stage(run_path: str | Path, stage: int, settings: dict) -> Path | None:
    """A notebook's last step: run by hand, record stage NN as finished the way a batch run does (its parameters
    file, then the completion record), so that `bash run_all.sh --from NN+1` can continue from it.

    Returns:
        The stage folder, or None under the pipeline (which publishes the stage itself after success).
    """
    if os.environ.get(STAGE_PARTIAL_ENV):
        return None
    folder = stage_dir(run_path, stage)
    write_stage_params(run_path, stage, settings)
    write_completion_record(folder, stage, by=BY_HAND)
    return folder


def _recover_previous(final: Path) -> None:
    """Undo a swap killed between its two renames: `NN_name/` missing and `NN_name.previous/` whole."""
    previous = final.with_name(final.name + PREVIOUS_SUFFIX)
    if not final.exists() and previous.is_dir():
        os.replace(previous, final)


def _partial_stage_dir(final: Path) -> Path:
    """`NN_name.partial/`: a killed attempt's, kept as it was (as `NN_name/` was before this rule), else a fresh
    copy of `NN_name/` (or an empty folder), built under a temporary name so that a half copy is never used."""
    _recover_previous(final)
    partial = final.with_name(final.name + PARTIAL_SUFFIX)
    if partial.is_dir():
        return partial
    building = final.with_name(final.name + PARTIAL_SUFFIX + ".tmp")
    shutil.rmtree(building, ignore_errors=True)
    try:
        if final.is_dir():
            shutil.copytree(final, building, symlinks=True)
            (building / COMPLETE_MARKER).unlink(missing_ok=True)
            (building / provenance.INPUTS_FILE).unlink(missing_ok=True)
        else:
            building.mkdir(parents=True)
        os.replace(building, partial)
    except OSError as error:
        shutil.rmtree(building, ignore_errors=True)
        raise OSError(error.errno, f"could not prepare {partial} (a working copy of {final.name}; the previous "
                                   f"outputs stay untouched): {error.strerror or error}. Free space on "
                                   f"{final.parent} (or set SALESGAN_OUTPUTS to another disk) and rerun the stage."
                      ) from error
    return partial


def publish_stage(run_path: str | Path, stage: int) -> Path | None:
    """After stage NN succeeded: mark `NN_name.partial/` complete and swap it in for `NN_name/`.

    Returns:
        The published folder, or None when the stage wrote no partial folder (run by hand, or it writes none).
    """
    final = Path(run_path) / STAGES[stage]
    partial = final.with_name(final.name + PARTIAL_SUFFIX)
    if not partial.is_dir():
        return None
    write_completion_record(partial, stage, by=BY_BATCH)
    previous = final.with_name(final.name + PREVIOUS_SUFFIX)
    _recover_previous(final)
    shutil.rmtree(previous, ignore_errors=True)
    if final.exists():
        os.replace(final, previous)
    os.replace(partial, final)
    shutil.rmtree(previous, ignore_errors=True)
    return final


def check_stage_complete(folder: str | Path, stage: int) -> Path:
    """Return `folder` (stage NN's outputs) when a finished run of that stage wrote it, and nothing changed since.

    A folder with the completion marker must still hold every file it lists, at its size and content hash, and each
    earlier stage it read must still carry the record it read (`provenance.verify`, up the chain); the read is
    logged for the record of the stage being written. A folder without the marker is refused under the pipeline (a
    killed or failed stage, or one rewritten by hand since); run by hand it is accepted, since notebooks run by hand
    write no marker.

    Raises:
        IncompleteStageError: one line naming the folder and the command that rebuilds it.
    """
    folder = Path(folder)
    _recover_previous(folder)
    fix = f"Rerun that stage: bash run_all.sh --only {stage:02d} (same --profile and --run)."
    if not folder.is_dir():
        return folder  # the missing artifact is reported by its reader (require_artifact), naming the stage
    if not (folder / COMPLETE_MARKER).is_file() and (folder.parent / COMPLETE_MARKER).is_file():
        # a fold folder of a finished stage (stage 01's fold_k/): the parent's record lists its files too
        check_stage_complete(folder.parent, stage)
        return folder
    try:
        identity = provenance.verify(folder, STAGES[stage])
    except provenance.StageRecordError as error:
        raise IncompleteStageError(str(error)) from None
    if identity is None and os.environ.get(STAGE_PARTIAL_ENV):
        raise IncompleteStageError(f"{folder} was not written by a finished stage {stage:02d} ({STAGES[stage]}) "
                                   f"run: it has no {COMPLETE_MARKER} (the stage was killed or failed, or "
                                   f"it was rewritten by hand). {fix}")
    provenance.note_read(STAGES[stage], folder, identity)
    return folder


def stage_finished(folder: str | Path, stage: int) -> bool:
    """True when a finished run of stage NN wrote `folder`: its completion record is there and still true."""
    folder = Path(folder)
    if not (folder / COMPLETE_MARKER).is_file():
        return False
    try:
        check_stage_complete(folder, stage)
    except IncompleteStageError:
        return False
    return True


def stage_params_file(run_path: str | Path, stage: int) -> Path:
    """`outputs/<run>/params/NN_name.yaml`: the parameters stage NN last ran with (written when it succeeded)."""
    return Path(run_path) / PARAMS_FOLDER / f"{STAGES[stage]}.yaml"


def read_stage_times(run_path: str | Path) -> dict[str, dict]:
    """`outputs/<run>/stage_times.json` as {stage name: {"seconds", "status", "finished"}}; {} when absent."""
    path = Path(run_path) / STAGE_TIMES_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def record_stage_time(run_path: str | Path, stage: str, seconds: float, status: str = "ok") -> Path:
    """Add or replace one stage's wall time in `stage_times.json` (other stages' entries are kept, so a
    `--only NN` rerun updates just its own line).

    Args:
        run_path: `outputs/<run>/`.
        stage: stage name, e.g. "02_train_gan".
        seconds: wall time of the stage (for the pipeline: the papermill call, kernel start included).
        status: "ok" or "failed".

    Returns:
        The path of `stage_times.json`.
    """
    from datetime import datetime, timezone

    times = read_stage_times(run_path)
    times[stage] = {"seconds": round(float(seconds), 1), "status": status,
                    "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return write_json_atomic(Path(run_path) / STAGE_TIMES_FILE, dict(sorted(times.items())))


def stage_folders(settings: dict, stage: int, **inputs: int) -> tuple[Path, list[Path], Path]:
    """A stage notebook's folders: the run folder, the earlier stages' folders it reads, and its own (created).

    Args:
        settings: the notebook's settings (`run`, `outputs_dir` and the input parameters named in `inputs`).
        stage: this stage's number.
        **inputs: parameter name -> the stage whose folder it points at, e.g. `data_stage_dir=1`; an empty
            parameter means that stage's folder in this run. Default: the stage's `STAGE_INPUTS`.

    Returns:
        (run folder, [input stage folders in the order given], this stage's folder).
    """
    inputs = inputs or STAGE_INPUTS[stage]
    run_path = run_dir(settings["run"], settings["outputs_dir"] or None)
    provenance.begin_stage()
    found = [check_stage_complete(Path(settings[key]) if settings.get(key) else stage_dir(run_path, number), number)
             for key, number in inputs.items()]
    return run_path, found, stage_dir(run_path, stage, create=True)


def require_artifact(path: str | Path, stage: int) -> Path:
    """Return `path` if it exists, else raise an error naming the stage that should have written it."""
    path = Path(path)
    for folder in path.parents:  # the artifact's stage folder must be the output of a finished run
        if folder.name == STAGES[stage]:
            check_stage_complete(folder, stage)
            break
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: it is written by stage {stage:02d} ({STAGES[stage]}). "
            f"Run that stage first: bash run_all.sh --only {stage:02d} (same --profile and --run).")
    return path


class DataError(ValueError):
    """Input data that the pipeline cannot use; the message names the file/column and the fix (one line)."""


def table_path(folder: str | Path, name: str) -> Path | None:
    """The `.csv` or `.csv.gz` file of table `name` in `folder`, or None.

    Raises:
        DataError: both files exist (which copy is current cannot be known: a stale half copy beside the full
            download once lost 57% of the items, so the user chooses by removing one), or the name is taken by a
            folder, a broken link or another non-file (`sniff.link_problem`), which is not "missing".
    """
    found = []
    for candidate in (Path(folder) / f"{name}{suffix}" for suffix in TABLE_SUFFIXES):
        if not os.path.lexists(candidate):
            continue
        problem = sniff.link_problem(candidate)
        if problem:
            raise DataError(problem + ".")
        found.append(candidate)
    if len(found) > 1:
        listed = ", ".join(f"{p.name} ({p.stat().st_size:,} bytes)" for p in found)
        raise DataError(f"table {name} is in {folder} twice: {listed}; which one is current is unknown. Keep one "
                        f"of them (delete or move the other out of the folder) and rerun.")
    return found[0] if found else None


OLIST_STEMS = ("olist_", "product_category_name_translation")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz", ".7z", ".rar", ".bz2", ".xz")


def near_misses(folder: str | Path, name: str | None = None, recursive: bool = False) -> list[str]:
    """What under `folder` looks like Olist data but is not the table looked for: an archive, a broken link, a
    folder named like a table, a table under another suffix or case (`OLIST_ORDERS_DATASET.CSV`, `.csv.zip`), or
    (looking for any table) another Olist table without the orders table beside it.

    Args:
        folder: where to look.
        name: one table's stem (that table's near misses only); None for any sign of Olist data.
        recursive: look in subfolders too (symbolic links followed, each folder once).

    Returns:
        Descriptions such as `'…/archive.zip (an archive: unpack it)'`, sorted.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stems = (name.lower(),) if name else OLIST_STEMS
    entries = walk_files(folder, include_dirs=True) if recursive else sorted(folder.iterdir())
    found = []
    for path in entries:
        lower = path.name.lower()
        olist_like = lower.startswith(stems)
        if path.is_symlink() and not path.exists():
            found.append(f"{path} (a broken link to {os.readlink(path)})")
        elif path.is_dir():
            if olist_like:
                found.append(f"{path} (a folder named like a table)")
        elif lower.endswith(ARCHIVE_SUFFIXES) and (olist_like or name is None):
            found.append(f"{path} (an archive: unpack it)")
        elif olist_like and not (name and path.name in {name + suffix for suffix in TABLE_SUFFIXES}):
            proper = path.name.endswith(TABLE_SUFFIXES) and path.name.startswith(OLIST_STEMS)
            found.append(f"{path} (an Olist table, but no {ORDERS_FILE} beside it)" if proper and name is None
                         else f"{path} (named like a table, but not {name or 'NAME'}.csv or .csv.gz)")
    return sorted(found)


def walk_files(root: str | Path, include_dirs: bool = False) -> list[Path]:
    """Every entry under `root`, following symbolic links to folders (Kaggle's input folders are often links),
    each real folder visited once: a link loop ends instead of recursing forever."""
    root = Path(root)
    seen: set[tuple[int, int]] = set()
    found: list[Path] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            info = folder.stat()
        except OSError:
            continue
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir():
                stack.append(entry)
                if include_dirs:
                    found.append(entry)
            else:
                found.append(entry)
    return found


@dataclass(frozen=True)
class DataSource:
    """The chosen data: a folder of Olist tables, or demo data to be generated there."""

    folder: Path | None
    kind: str  # "olist" or "demo"
    reason: str

    @property
    def is_demo(self) -> bool:
        return self.kind == "demo"


def _find_orders_folder(root: Path) -> Path | None:
    """The one folder under `root` (itself included, searched recursively, symbolic links followed) that holds the
    orders table.

    Raises:
        DataError: several folders do (the alphabetically first is not a choice anyone made), or none does while a
            near miss is there (an archive, a folder or a broken link named like a table): demo data would hide it.
    """
    if not root.is_dir():
        return None
    entries = walk_files(root)
    hits = sorted({p.parent for p in entries if p.name in {ORDERS_FILE + suffix for suffix in TABLE_SUFFIXES}})
    if len(hits) > 1:
        raise DataError(f"{root} holds {len(hits)} Olist datasets (folders with {ORDERS_FILE}.csv[.gz]): "
                        f"{', '.join(str(h) for h in hits)}. Pass the one to use: --data FOLDER (data_dir).")
    if hits:
        table_path(hits[0], ORDERS_FILE)  # a broken link or a folder under the orders table's name is named here
        return hits[0]
    missed = near_misses(root, recursive=True)
    if missed:
        shown = "; ".join(missed[:5]) + (f"; and {len(missed) - 5} more" if len(missed) > 5 else "")
        raise DataError(f"{root} holds no readable {ORDERS_FILE}.csv or .csv.gz, but Olist data may be there: "
                        f"{shown}. Unpack or fix it (or pass --data demo for generated demo data).")
    return None


def discover_data(data_dir: str | Path | None = None) -> DataSource:
    """Choose the data source by the documented order (see module docstring).

    Args:
        data_dir: an explicit folder (parameter `data_dir`, or `--data`); empty string or None means "discover".

    Returns:
        DataSource with the folder and the reason it was chosen.

    Raises:
        FileNotFoundError: an explicit folder (argument or `SALESGAN_DATA_DIR`) lacks the Olist orders table.
        DataError: the chosen folder holds several datasets, or one table as both `.csv` and `.csv.gz`.
    """
    for explicit, origin in ((data_dir, "the data_dir parameter"), (os.environ.get("SALESGAN_DATA_DIR"),
                                                                    "env SALESGAN_DATA_DIR")):
        if explicit and str(explicit) == DEMO:
            return DataSource(None, "demo", f"demo data requested ({origin} = {DEMO!r}): using generated DEMO data")
        if explicit:
            folder = Path(explicit).expanduser()
            if folder.is_symlink() and not folder.exists():
                raise FileNotFoundError(f"data folder {folder} (from {origin}) is a symbolic link to "
                                        f"{os.readlink(folder)}, which does not exist: fix the link or pass the "
                                        f"folder itself.")
            if not folder.is_dir():
                raise FileNotFoundError(
                    f"data folder {folder} (from {origin}) does not exist. Pass the folder that holds the Olist "
                    f"CSVs (olist_orders_dataset.csv[.gz] ...), or omit it to use demo data.")
            found = _find_orders_folder(folder)
            if found is None:
                raise FileNotFoundError(
                    f"data folder {folder} (from {origin}) holds no {ORDERS_FILE}.csv or .csv.gz, searched "
                    f"recursively. Point it at the unzipped Kaggle dataset olistbr/brazilian-ecommerce, or omit it "
                    f"to use demo data.")
            return DataSource(found, "olist", f"{origin} = {folder}")
    kaggle = _find_orders_folder(kaggle_input_root())
    if kaggle is not None:
        return DataSource(kaggle, "olist", f"found {ORDERS_FILE} under the Kaggle input root {kaggle_input_root()}")
    raw = project_root() / "data" / "raw"
    if table_path(raw, ORDERS_FILE):
        return DataSource(raw, "olist", f"found {ORDERS_FILE} in {raw}")
    missed = near_misses(raw, recursive=True) if raw.is_dir() else []
    if missed:
        raise DataError(f"{raw} holds no readable {ORDERS_FILE}.csv or .csv.gz, but Olist data may be there: "
                        f"{'; '.join(missed[:5])}. Unpack or fix it (or pass --data demo for generated demo data).")
    return DataSource(None, "demo", "no Olist tables found (data_dir, SALESGAN_DATA_DIR, Kaggle input, data/raw): "
                                    "using generated DEMO data")


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; on success rename it over `path` (atomic on one filesystem).

    A stage killed mid-write leaves only a `.tmp` file that no reader opens, never a half-written artifact.
    A write error (a full disk, say) is re-raised naming the file, and the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600 files; artifacts get the usual 0666 & ~umask like any other file
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise OSError(error.errno, f"could not write {path}: {error.strerror or error}. Free space on "
                                   f"{path.parent} (or set SALESGAN_OUTPUTS to another disk) and rerun the stage."
                      ) from error
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | Path, obj) -> Path:
    import json

    return write_text_atomic(path, json.dumps(obj, indent=2, default=str, sort_keys=False) + "\n")

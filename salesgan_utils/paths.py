"""Where things are: the project root, run folders, Kaggle detection, Olist data discovery, atomic writes.

Everything resolves from one root (env `SALESGAN_ROOT`, default the repository) and nothing is created at
import time. Data discovery order (first hit wins, and the reason is reported):

1. an explicit `data_dir` (an error if it lacks the Olist tables: never a silent fallback to demo data);
2. env `SALESGAN_DATA_DIR` (same rule);
3. any folder under the Kaggle input root (env `SALESGAN_KAGGLE_ROOT`, default `/kaggle/input`), searched
   recursively, holding `olist_orders_dataset.csv` or `.csv.gz`;
4. `<root>/data/raw/` when it holds the orders table;
5. otherwise demo data, generated into `outputs/<run>/demo_data/` by the caller.

Ambiguity is an error listing the candidates, never a silent pick: two folders holding the orders table under the
chosen folder (or the Kaggle input root), or one table present as both `.csv` and `.csv.gz`.

The value `"demo"` for `data_dir` (or `SALESGAN_DATA_DIR`, or `run_all.sh --data demo`) asks for demo data
explicitly, whatever lies on the machine: tests and nbval references use it so that they do not change with the
data a machine happens to hold.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

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


def stage_dir(run_path: str | Path, stage: int, create: bool = False) -> Path:
    """`outputs/<run>/NN_name/` for stage NN; created only when asked."""
    path = Path(run_path) / STAGES[stage]
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def stage_folders(settings: dict, stage: int, **inputs: int) -> tuple[Path, list[Path], Path]:
    """A stage notebook's folders: the run folder, the earlier stages' folders it reads, and its own (created).

    Args:
        settings: the notebook's settings (`run`, `outputs_dir` and the input parameters named in `inputs`).
        stage: this stage's number.
        **inputs: parameter name -> the stage whose folder it points at, e.g. `data_stage_dir=1`; an empty
            parameter means that stage's folder in this run.

    Returns:
        (run folder, [input stage folders in the order given], this stage's folder).
    """
    run_path = run_dir(settings["run"], settings["outputs_dir"] or None)
    found = [Path(settings[key]) if settings.get(key) else stage_dir(run_path, number)
             for key, number in inputs.items()]
    return run_path, found, stage_dir(run_path, stage, create=True)


def require_artifact(path: str | Path, stage: int) -> Path:
    """Return `path` if it exists, else raise an error naming the stage that should have written it."""
    path = Path(path)
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
        DataError: both files exist. Which copy is current cannot be known (a stale half copy beside the full
            download once lost 57% of the items), so the user chooses by removing one.
    """
    found = [Path(folder) / f"{name}{suffix}" for suffix in TABLE_SUFFIXES]
    found = [candidate for candidate in found if candidate.is_file()]
    if len(found) > 1:
        listed = ", ".join(f"{p.name} ({p.stat().st_size:,} bytes)" for p in found)
        raise DataError(f"table {name} is in {folder} twice: {listed}; which one is current is unknown. Keep one "
                        f"of them (delete or move the other out of the folder) and rerun.")
    return found[0] if found else None


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
    """The one folder under `root` (itself included, searched recursively) that holds the orders table.

    Raises:
        DataError: several folders do: the alphabetically first is not a choice anyone made.
    """
    if not root.is_dir():
        return None
    hits = sorted({p.parent for suffix in TABLE_SUFFIXES for p in root.rglob(ORDERS_FILE + suffix)})
    if len(hits) > 1:
        raise DataError(f"{root} holds {len(hits)} Olist datasets (folders with {ORDERS_FILE}.csv[.gz]): "
                        f"{', '.join(str(h) for h in hits)}. Pass the one to use: --data FOLDER (data_dir).")
    return hits[0] if hits else None


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

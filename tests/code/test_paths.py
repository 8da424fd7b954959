"""Tests of salesgan_utils.paths: data discovery order, Kaggle simulation, run folders, atomic writes, stage times."""
from __future__ import annotations

import errno
import gzip
import json
import os
from pathlib import Path

import pytest

from salesgan_utils import paths

REAL_OLIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "olist"
ORDERS = paths.ORDERS_FILE


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No discovery source from the machine leaks in: empty Kaggle root and project root, no env overrides."""
    for var in ("SALESGAN_DATA_DIR", "SALESGAN_OUTPUTS", "KAGGLE_KERNEL_RUN_TYPE", "SALESGAN_KAGGLE_WORKING"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SALESGAN_KAGGLE_ROOT", str(tmp_path / "kaggle_input"))
    monkeypatch.setenv("SALESGAN_ROOT", str(tmp_path / "repo"))
    if Path("/kaggle/input").is_dir():
        pytest.skip("a real /kaggle/input exists: is_kaggle() is true regardless of the simulation")
    return tmp_path


def tables(folder: Path, suffix: str = ".csv") -> Path:
    """A folder with an orders table (header only is enough for discovery)."""
    folder.mkdir(parents=True, exist_ok=True)
    header = "order_id,customer_id,order_status,order_purchase_timestamp\n"
    if suffix == ".csv.gz":
        with gzip.open(folder / f"{ORDERS}.csv.gz", "wt") as handle:
            handle.write(header)
    else:
        (folder / f"{ORDERS}.csv").write_text(header)
    return folder


# -------------------------------------------------------------------------------------------- discovery order
def test_order_explicit_then_env_then_kaggle_then_raw_then_demo(tmp_path: Path, monkeypatch) -> None:
    explicit = tables(tmp_path / "explicit")
    env = tables(tmp_path / "env")
    kaggle = tables(tmp_path / "kaggle_input" / "brazilian-ecommerce")
    raw = tables(tmp_path / "repo" / "data" / "raw")
    monkeypatch.setenv("SALESGAN_DATA_DIR", str(env))

    source = paths.discover_data(explicit)
    assert (source.folder, source.kind) == (explicit, "olist") and "data_dir" in source.reason
    source = paths.discover_data("")
    assert source.folder == env and "SALESGAN_DATA_DIR" in source.reason
    monkeypatch.delenv("SALESGAN_DATA_DIR")
    source = paths.discover_data(None)
    assert source.folder == kaggle and "Kaggle" in source.reason
    (kaggle / f"{ORDERS}.csv").unlink()
    source = paths.discover_data()
    assert source.folder == raw and str(raw) in source.reason
    (raw / f"{ORDERS}.csv").unlink()
    source = paths.discover_data()
    assert source.is_demo and source.folder is None and "DEMO" in source.reason


@pytest.mark.parametrize("layout", ["brazilian-ecommerce", "datasets/olistbr/brazilian-ecommerce",
                                    "brazilian-ecommerce/nested/deeper"])
def test_kaggle_root_is_searched_recursively(layout: str, tmp_path: Path) -> None:
    folder = tables(tmp_path / "kaggle_input" / layout)
    assert paths.discover_data().folder == folder


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_csv_and_csv_gz_are_both_found(suffix: str, tmp_path: Path) -> None:
    folder = tables(tmp_path / "d", suffix)
    assert paths.discover_data(folder).folder == folder
    assert paths.table_path(folder, ORDERS).name == f"{ORDERS}{suffix}"
    assert paths.discover_data().is_demo  # not under any discovery root


@pytest.mark.parametrize("use_env", [False, True])
def test_an_explicit_folder_without_tables_is_an_error_naming_it(use_env: bool, tmp_path: Path,
                                                                  monkeypatch) -> None:
    empty = tmp_path / "my_export"
    empty.mkdir()
    (empty / "orders.csv").write_text("x\n")  # wrong name: not the Olist table
    tables(tmp_path / "repo" / "data" / "raw")  # a later source exists: it must not be used silently
    if use_env:
        monkeypatch.setenv("SALESGAN_DATA_DIR", str(empty))
    with pytest.raises(FileNotFoundError) as error:
        paths.discover_data(None if use_env else empty)
    assert str(empty) in str(error.value) and ORDERS in str(error.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        paths.discover_data(tmp_path / "no_such_folder")


def test_demo_can_be_requested_explicitly(tmp_path: Path) -> None:
    tables(tmp_path / "kaggle_input" / "olist")
    source = paths.discover_data(paths.DEMO)
    assert source.is_demo and "requested" in source.reason


# --------------------------------------------------------------------------------------------- Kaggle simulation
def test_simulated_kaggle_uses_working_outputs_and_finds_data(tmp_path: Path, monkeypatch) -> None:
    assert not paths.is_kaggle()
    assert paths.outputs_root() == tmp_path / "repo" / "outputs"
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    monkeypatch.setenv("SALESGAN_KAGGLE_WORKING", str(tmp_path / "working"))
    folder = tables(tmp_path / "kaggle_input" / "datasets" / "olistbr" / "brazilian-ecommerce")
    assert paths.is_kaggle()
    assert paths.outputs_root() == tmp_path / "working" / "outputs"
    assert paths.run_dir("kaggle") == tmp_path / "working" / "outputs" / "kaggle"
    assert paths.discover_data().folder == folder
    monkeypatch.setenv("SALESGAN_OUTPUTS", str(tmp_path / "elsewhere"))  # the explicit env wins everywhere
    assert paths.outputs_root() == tmp_path / "elsewhere"


def test_real_tables_under_the_kaggle_datasets_layout_are_found(tmp_path: Path) -> None:
    if not (REAL_OLIST / f"{ORDERS}.csv.gz").is_file() and not (REAL_OLIST / f"{ORDERS}.csv").is_file():
        pytest.skip(f"the real Olist tables are not in {REAL_OLIST}")
    target = tmp_path / "kaggle_input" / "datasets" / "olistbr" / "brazilian-ecommerce"
    target.mkdir(parents=True)
    for table in REAL_OLIST.glob("*.csv*"):
        (target / table.name).symlink_to(table)
    source = paths.discover_data()
    assert source.folder == target and source.kind == "olist"
    assert paths.table_path(source.folder, ORDERS) is not None


# ------------------------------------------------------------------------------------------------- run folders
def test_run_and_stage_folders_are_created_only_when_asked(tmp_path: Path) -> None:
    run = paths.run_dir("r1", tmp_path / "out")
    assert run == tmp_path / "out" / "r1" and not run.exists()
    assert not paths.stage_dir(run, 2).exists()
    assert paths.stage_dir(run, 2, create=True).is_dir()
    for bad in ("", "a/b", "..", "."):
        with pytest.raises(ValueError, match="plain folder name"):
            paths.run_dir(bad)


def test_require_artifact_names_the_stage_to_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"stage 01 \(01_eda_preprocess\).*--only 01"):
        paths.require_artifact(tmp_path / "panel.parquet", 1)
    (tmp_path / "panel.parquet").write_text("x")
    assert paths.require_artifact(tmp_path / "panel.parquet", 1).is_file()


# ----------------------------------------------------------------------------------------------- atomic writes
def test_atomic_path_keeps_the_old_file_when_the_writer_raises(tmp_path: Path) -> None:
    target = paths.write_text_atomic(tmp_path / "panel.json", "old")
    with pytest.raises(RuntimeError):
        with paths.atomic_path(target) as tmp:
            Path(tmp).write_text("half-writ")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["panel.json"]  # no temp file left


def test_a_full_disk_is_an_error_naming_the_file(tmp_path: Path) -> None:
    target = paths.write_text_atomic(tmp_path / "out" / "windows_train.npz", "old")
    with pytest.raises(OSError) as error:
        with paths.atomic_path(target) as tmp:
            Path(tmp).write_text("partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert error.value.errno == errno.ENOSPC
    assert str(target) in str(error.value) and "SALESGAN_OUTPUTS" in str(error.value)
    assert target.read_text() == "old" and [p.name for p in target.parent.iterdir()] == ["windows_train.npz"]


def test_atomic_json_and_text_replace_the_file(tmp_path: Path) -> None:
    path = paths.write_json_atomic(tmp_path / "a" / "m.json", {"x": 1})
    assert path.read_text() == '{\n  "x": 1\n}\n'
    paths.write_text_atomic(path, "new")
    assert path.read_text() == "new"


def test_atomic_path_gives_files_the_usual_permissions(tmp_path):
    import os
    import stat

    from salesgan_utils.paths import write_text_atomic

    umask = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "artifact.json", "{}")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0600: others can read the results


# ------------------------------------------------------------------------------ outputs replaced only on success
def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _good_stage(run: Path, monkeypatch) -> dict[str, bytes]:
    """A finished stage 02 published by the pipeline: a checkpoint and a history."""
    monkeypatch.setenv(paths.STAGE_PARTIAL_ENV, "1")
    out = paths.stage_dir(run, 2, create=True)
    (out / "checkpoints").mkdir()
    (out / "checkpoints" / "best.ckpt").write_bytes(b"good weights")
    (out / "training_history.csv").write_text("epoch,score\n0,1.0\n")
    assert paths.publish_stage(run, 2) == run / "02_train_gan"
    return _tree(run / "02_train_gan")


def test_a_stage_under_the_pipeline_writes_a_copy_and_publishes_it_only_on_success(tmp_path: Path,
                                                                                  monkeypatch) -> None:
    run = tmp_path / "run"
    before = _good_stage(run, monkeypatch)
    assert paths.COMPLETE_MARKER in before
    out = paths.stage_dir(run, 2, create=True)  # a rerun: a working copy of the previous result
    assert out == run / "02_train_gan.partial"
    assert _tree(out) == {k: v for k, v in before.items() if k != paths.COMPLETE_MARKER}
    (out / "checkpoints" / "best.ckpt").write_bytes(b"epoch-0 weights of a killed rerun")
    (out / "training_history.csv").unlink()
    assert _tree(run / "02_train_gan") == before  # killed here: the previous result is whole
    assert paths.check_stage_complete(run / "02_train_gan", 2) == run / "02_train_gan"
    # the next attempt continues in the killed one's folder (a resumed training finds its last.ckpt there)
    assert paths.stage_dir(run, 2, create=True) == out and (out / "checkpoints" / "best.ckpt").read_bytes().startswith(
        b"epoch-0")
    (out / "training_history.csv").write_text("epoch,score\n0,0.5\n")
    paths.publish_stage(run, 2)
    assert (run / "02_train_gan" / "checkpoints" / "best.ckpt").read_bytes() == b"epoch-0 weights of a killed rerun"
    assert sorted(p.name for p in run.iterdir()) == ["02_train_gan"]  # no partial or previous folder left


def test_a_disk_full_while_preparing_the_copy_keeps_the_previous_result(tmp_path: Path, monkeypatch) -> None:
    run = tmp_path / "run"
    before = _good_stage(run, monkeypatch)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(paths.shutil, "copytree", full)
    with pytest.raises(OSError, match=r"could not prepare .*02_train_gan.partial.*previous outputs stay untouched"
                                      r".*SALESGAN_OUTPUTS"):
        paths.stage_dir(run, 2, create=True)
    assert _tree(run / "02_train_gan") == before and sorted(p.name for p in run.iterdir()) == ["02_train_gan"]


def test_a_swap_killed_between_its_renames_is_undone(tmp_path: Path, monkeypatch) -> None:
    run = tmp_path / "run"
    before = _good_stage(run, monkeypatch)
    (run / "02_train_gan").rename(run / "02_train_gan.previous")  # killed after the first rename
    assert paths.check_stage_complete(run / "02_train_gan", 2) == run / "02_train_gan"
    assert _tree(run / "02_train_gan") == before


def test_a_stage_folder_without_the_marker_is_refused_under_the_pipeline_only(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "run" / "02_train_gan"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "best.ckpt").write_bytes(b"epoch 0")
    assert paths.require_artifact(folder / "checkpoints" / "best.ckpt", 2)  # by hand: no marker is written
    monkeypatch.setenv(paths.STAGE_PARTIAL_ENV, "1")
    with pytest.raises(paths.IncompleteStageError, match="not written by a finished stage 02.*--only 02"):
        paths.require_artifact(folder / "checkpoints" / "best.ckpt", 2)


def test_a_published_folder_that_lost_a_file_is_refused(tmp_path: Path, monkeypatch) -> None:
    run = tmp_path / "run"
    _good_stage(run, monkeypatch)
    monkeypatch.delenv(paths.STAGE_PARTIAL_ENV)
    (run / "02_train_gan" / "training_history.csv").write_text("epoch\n")  # truncated by hand
    with pytest.raises(paths.IncompleteStageError,
                       match="changed since stage 02 finished: training_history.csv.*--from 02"):
        paths.stage_folders({"run": "run", "outputs_dir": str(tmp_path), "gan_stage_dir": ""}, 3, gan_stage_dir=2)


# ----------------------------------------------------------------------------------------------- stage times
def test_stage_times_record_merges_stages(tmp_path: Path) -> None:
    paths.record_stage_time(tmp_path, "02_train_gan", 12.34)
    paths.record_stage_time(tmp_path, "01_eda_preprocess", 5, "ok")
    paths.record_stage_time(tmp_path, "02_train_gan", 20.0, "failed")
    times = paths.read_stage_times(tmp_path)
    assert list(times) == ["01_eda_preprocess", "02_train_gan"]
    assert times["02_train_gan"]["seconds"] == 20.0 and times["02_train_gan"]["status"] == "failed"
    assert json.loads((tmp_path / "stage_times.json").read_text())["01_eda_preprocess"]["seconds"] == 5.0
    assert paths.read_stage_times(tmp_path / "absent") == {}


def test_stage_params_file_is_in_the_run_folders_params_folder(tmp_path: Path) -> None:
    assert paths.stage_params_file(tmp_path, 2) == tmp_path / "params" / "02_train_gan.yaml"


def test_a_fold_folder_of_a_finished_stage_is_checked_through_the_stage_record(tmp_path: Path,
                                                                                monkeypatch) -> None:
    run = tmp_path / "run"
    monkeypatch.setenv(paths.STAGE_PARTIAL_ENV, "1")
    out = paths.stage_dir(run, 1, create=True)
    (out / "fold_1").mkdir(parents=True)
    (out / "fold_1" / "windows_val.npz").write_bytes(b"fold one")
    paths.publish_stage(run, 1)
    fold = run / "01_eda_preprocess" / "fold_1"
    assert paths.check_stage_complete(fold, 1) == fold
    (fold / "windows_val.npz").write_bytes(b"changed by hand")
    with pytest.raises(paths.IncompleteStageError, match="fold_1/windows_val.npz is not the file"):
        paths.check_stage_complete(fold, 1)


def _batch_finished(run_path: Path, stage: int) -> Path:
    partial = run_path / (paths.STAGES[stage] + paths.PARTIAL_SUFFIX)
    partial.mkdir(parents=True)
    (partial / "a.txt").write_text("batch")
    return paths.publish_stage(run_path, stage)


def test_a_stage_run_by_hand_writes_the_record_a_batch_stage_writes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(paths.STAGE_PARTIAL_ENV, raising=False)
    run = tmp_path / "smoke"
    folder = paths.stage_dir(run, 1, create=True)
    (folder / "panel.parquet").write_text("x")
    assert paths.finish_stage(run, 1, {"seed": 3, "run": "smoke"}) == folder
    record = json.loads((folder / paths.COMPLETE_MARKER).read_text())
    assert record["stage"] == "01_eda_preprocess" and record["by"] == "hand" and list(record["files"]) == [
        "panel.parquet"]
    assert paths.stage_params_file(run, 1).read_text() == "seed: 3\nrun: smoke\n"
    assert paths.stage_finished(folder, 1) and paths.finished_by(folder) == paths.BY_HAND
    batch = json.loads((_batch_finished(run, 2) / paths.COMPLETE_MARKER).read_text())
    assert set(batch) == set(record) and batch["by"] == "run_all"


def test_under_the_pipeline_finish_stage_leaves_the_record_to_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(paths.STAGE_PARTIAL_ENV, "1")
    assert paths.finish_stage(tmp_path, 1, {"seed": 0}) is None
    assert not list(tmp_path.rglob("*"))


def test_a_stage_run_by_hand_never_overwrites_a_batch_stage(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(paths.STAGE_PARTIAL_ENV, raising=False)
    run = tmp_path / "smoke"
    folder = _batch_finished(run, 1)
    with pytest.raises(paths.BatchStageError, match='set run = "smoke-notebook".*--only 01 --run smoke') as error:
        paths.stage_dir(run, 1, create=True)
    assert "\n" not in str(error.value) and paths.stage_finished(folder, 1)  # untouched
    paths.stage_dir(run, 2, create=True)
    paths.finish_stage(run, 2, {})  # a stage 02 finished by hand ...
    assert paths.stage_dir(run, 2, create=True) == run / "02_train_gan"  # ... may be rewritten by hand in place
    assert not (run / paths.STAGES[2] / paths.COMPLETE_MARKER).exists()  # and is no longer finished meanwhile

"""Tests of salesgan_utils.provenance through paths: completion records hold content hashes and the records read;
a changed or stale stage folder is refused naming the stage to rerun."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from salesgan_utils import paths, provenance, report


def stage(run: Path, number: int, files: dict[str, bytes], reads: tuple[int, ...] = ()) -> Path:
    """Stage `number` run under the pipeline: it reads the stages `reads` of `run`, writes `files`, is published."""
    settings = {"run": run.name, "outputs_dir": str(run.parent), **{f"in_{n}": "" for n in reads}}
    _, _, out = paths.stage_folders(settings, number, **{f"in_{n}": n for n in reads})
    for name, content in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(content)
    return paths.publish_stage(run, number)


@pytest.fixture
def run(tmp_path: Path, monkeypatch) -> Path:
    """Stages 01 and 02 of one run, 02 built from 01, as the pipeline leaves them."""
    monkeypatch.setenv(paths.STAGE_PARTIAL_ENV, "1")
    run = tmp_path / "outputs" / "trial"
    stage(run, 1, {"windows_train.npz": b"windows of the tables", "metadata.json": b"{}"})
    stage(run, 2, {"checkpoints/best.ckpt": b"weights"}, reads=(1,))
    return run


def test_the_record_holds_content_hashes_and_the_record_it_read(run: Path) -> None:
    import hashlib

    first = json.loads((run / "01_eda_preprocess" / paths.COMPLETE_MARKER).read_text())
    assert first["files"]["windows_train.npz"] == {
        "bytes": 21, "sha256": hashlib.sha256(b"windows of the tables").hexdigest()}
    second = json.loads((run / "02_train_gan" / paths.COMPLETE_MARKER).read_text())
    assert second["inputs"] == {"01_eda_preprocess": {"folder": str((run / "01_eda_preprocess").resolve()),
                                                      "record": provenance.record_identity(first)}}
    assert not (run / "02_train_gan" / provenance.INPUTS_FILE).exists(), "the read log is folded into the record"


def test_a_same_size_edit_is_refused_naming_the_stage_to_rerun(run: Path) -> None:
    (run / "01_eda_preprocess" / "windows_train.npz").write_bytes(b"windows of the TABLES")  # same size
    with pytest.raises(paths.IncompleteStageError, match=r"01_eda_preprocess changed since stage 01 finished: "
                                                          r"windows_train.npz.*--from 01"):
        paths.check_stage_complete(run / "01_eda_preprocess", 1)
    with pytest.raises(paths.IncompleteStageError, match="--from 01"):  # and through any later stage
        paths.check_stage_complete(run / "02_train_gan", 2)


def test_a_stage_built_from_an_earlier_run_of_its_input_is_stale(run: Path) -> None:
    stage(run, 1, {"windows_train.npz": b"windows of OTHER data", "metadata.json": b"{}"})  # --only 01 again
    paths.check_stage_complete(run / "01_eda_preprocess", 1)  # the new stage 01 itself is fine
    with pytest.raises(paths.IncompleteStageError, match=r"02_train_gan is stale: it was built from .*"
                                                          r"01_eda_preprocess, which was rerun.*--from 02"):
        paths.check_stage_complete(run / "02_train_gan", 2)


def test_a_rerun_that_reads_the_new_input_is_fresh_again(run: Path) -> None:
    stage(run, 1, {"windows_train.npz": b"windows of OTHER data", "metadata.json": b"{}"})
    stage(run, 2, {"checkpoints/best.ckpt": b"new weights"}, reads=(1,))
    assert paths.check_stage_complete(run / "02_train_gan", 2) == run / "02_train_gan"


def test_the_report_refuses_an_edited_stage_folder(run: Path) -> None:
    stage(run, 4, {"summary.json": b'{"verdict": "helps"}'}, reads=(1,))
    report.gather(run)  # a consistent run gathers
    (run / "04_augmentation_benchmark" / "summary.json").write_bytes(b'{"verdict": "hurts"}')
    with pytest.raises(paths.IncompleteStageError, match="04_augmentation_benchmark changed.*summary.json.*--from 04"):
        report.gather(run)


def test_an_unchanged_file_is_hashed_once_per_process(run: Path, monkeypatch) -> None:
    calls = []
    original = provenance.sniff.sha256_file
    monkeypatch.setattr(provenance.sniff, "sha256_file", lambda path: calls.append(path) or original(path))
    provenance._hash_cache.clear()
    for _ in range(3):
        paths.check_stage_complete(run / "02_train_gan", 2)
    assert len(calls) == 3  # best.ckpt, and stage 01's two files: each once


def test_a_record_of_sizes_only_is_still_read(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "run" / "01_eda_preprocess"
    folder.mkdir(parents=True)
    (folder / "panel.parquet").write_bytes(b"12345")
    (folder / paths.COMPLETE_MARKER).write_text(json.dumps({"stage": "01_eda_preprocess",
                                                            "files": {"panel.parquet": 5}}))
    monkeypatch.setenv(paths.STAGE_PARTIAL_ENV, "1")
    assert paths.check_stage_complete(folder, 1) == folder
    (folder / "panel.parquet").write_bytes(b"1234")
    with pytest.raises(paths.IncompleteStageError, match="panel.parquet.*--from 01"):
        paths.check_stage_complete(folder, 1)

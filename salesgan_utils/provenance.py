"""Completion records: what a finished stage wrote (content hashes) and which upstream records it read.

A stage folder published by the pipeline holds `RECORD_FILE`, written last: `{"stage", "files": {name: {"bytes",
"sha256"}}, "inputs": {stage name: {"folder", "record"}}}`. A record's identity (`record_identity`) is the sha256 of
its canonical content, so it changes whenever any listed file or any input changes. `verify` proves a folder before
it is read: every listed file still has its size and hash, every input folder still carries the record identity
that was read when this stage ran (else this stage is stale: an upstream stage was rerun since), and so on up the
chain. A refusal is one line naming the stage to rerun (`--from NN`).

Reads are logged (`note_read`): under the pipeline the stage being written keeps them in `INPUTS_FILE` inside its
working folder, and `build_record` folds them into its record. Hashes are streamed (`sniff.sha256_file`) and
cached per file (path, size, mtime, inode) within a process, so a stage that checks a folder several times hashes
it once.

Only the standard library and `sniff`: `paths` builds on this module and keeps the folder names.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from . import sniff

RECORD_FILE = ".stage_complete.json"
INPUTS_FILE = ".stage_inputs.json"
_NOT_CONTENT = {RECORD_FILE, INPUTS_FILE}

_hash_cache: dict[tuple, str] = {}
_reads: dict[str, dict] = {}  # stage name -> {"folder", "record"} read by this process
_writing: list[tuple[Path, str]] = []  # (working folder, stage name) this process writes (under the pipeline)


class StageRecordError(FileNotFoundError):
    """A stage folder that is not what its completion record says (changed, damaged or stale); one line naming the
    stage to rerun."""


def file_hash(path: Path) -> str:
    """sha256 of a file, cached by (path, size, mtime_ns, inode): an unchanged file is hashed once per process."""
    info = path.stat()
    key = (str(path), info.st_size, info.st_mtime_ns, info.st_ino)
    if key not in _hash_cache:
        _hash_cache[key] = sniff.sha256_file(path)
    return _hash_cache[key]


def content_files(folder: Path) -> dict[str, dict]:
    """{relative name: {"bytes", "sha256"}} of every file under `folder` but the record and the read log."""
    return {str(p.relative_to(folder)): {"bytes": p.stat().st_size, "sha256": file_hash(p)}
            for p in sorted(Path(folder).rglob("*"))
            if p.is_file() and p.name not in _NOT_CONTENT and not p.name.startswith(f".{INPUTS_FILE}")}


def record_identity(record: dict) -> str:
    """The sha256 of a record's canonical content (stage, files, inputs)."""
    canonical = json.dumps({k: record.get(k) for k in ("stage", "files", "inputs")}, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def read_record(folder: Path) -> dict | None:
    """The folder's completion record, None when it has none.

    Raises:
        StageRecordError: the record exists but is not readable JSON.
    """
    path = Path(folder) / RECORD_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        record["files"]  # noqa: B018  (a record without its file list is not one)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StageRecordError(f"{path} is unreadable ({type(error).__name__})") from None
    return record


def build_record(folder: Path, stage_name: str) -> dict:
    """The record of a finished stage's working folder: its files' hashes and the inputs its kernel read."""
    inputs = {}
    log = Path(folder) / INPUTS_FILE
    if log.is_file():
        try:
            inputs = json.loads(log.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            inputs = {}
    return {"stage": stage_name, "files": content_files(folder), "inputs": inputs}


def _rerun(stage_name: str) -> str:
    return f"Rerun from that stage: bash run_all.sh --from {stage_name[:2]} (same --profile and --run)."


def verify(folder: Path, stage_name: str, _seen: set | None = None) -> str | None:
    """Prove a published folder: inputs first (the earliest broken stage is the one to rerun), then its files,
    then that each input still carries the record this stage read.

    Returns:
        The record identity, or None when the folder has no record (the caller decides what that means).

    Raises:
        StageRecordError: one line naming the folder, what changed and `--from NN`.
    """
    folder = Path(folder)
    seen = set() if _seen is None else _seen
    record = read_record(folder)
    if record is None:
        return None
    listed = record["files"]
    inputs = record.get("inputs") or {}
    for name, read in sorted(inputs.items()):
        upstream = Path(read.get("folder", ""))
        if str(upstream) not in seen:
            seen.add(str(upstream))
            current = verify(upstream, name, seen) if upstream.is_dir() else None
        else:
            current = record_identity(read_record(upstream) or {})
        if current != read.get("record"):
            why = "has no completion record now" if current is None else "was rerun or changed since"
            raise StageRecordError(f"{folder} is stale: it was built from {upstream}, which {why}. "
                                   f"{_rerun(stage_name)}")
    for name, entry in listed.items():
        path = folder / name
        if isinstance(entry, int):  # a record written before content hashes: sizes only
            entry = {"bytes": entry}
        if not path.is_file():
            raise StageRecordError(f"{folder} lost {name} since stage {stage_name[:2]} finished. "
                                   f"{_rerun(stage_name)}")
        if path.stat().st_size != entry["bytes"] or ("sha256" in entry and file_hash(path) != entry["sha256"]):
            raise StageRecordError(f"{folder} changed since stage {stage_name[:2]} finished: {name} is not the file "
                                   f"that stage wrote (its content hash differs). {_rerun(stage_name)}")
    return record_identity(record)


def note_read(stage_name: str, folder: Path, identity: str | None) -> None:
    """Log that this process read `folder` (stage `stage_name`, record `identity`); under the pipeline the log is
    kept in the working folder of the stage being written, for its record."""
    if identity is None:
        return
    _reads[stage_name] = {"folder": str(Path(folder).resolve()), "record": identity}
    _save_reads()


def begin_stage() -> None:
    """A stage starts in this process: forget earlier reads (a kernel runs one stage; a test process many)."""
    _reads.clear()
    _writing.clear()


def start_writing(folder: Path, stage_name: str) -> None:
    """This process writes stage `stage_name` into the working folder `folder`: its record will list the earlier
    stages' reads logged so far and from now on."""
    _writing[:] = [(Path(folder), stage_name)]
    _save_reads()


def _save_reads() -> None:
    if not _writing:
        return
    folder, writer = _writing[0]
    if not folder.is_dir():  # published (renamed) since: that stage is done
        return
    earlier = {name: read for name, read in _reads.items() if name[:2] < writer[:2]}
    if not earlier:
        return
    path = folder / INPUTS_FILE
    tmp = path.with_name(f".{INPUTS_FILE}.tmp")
    tmp.write_text(json.dumps(earlier, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)

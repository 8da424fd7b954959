"""Tests of salesgan_utils.sniff: a file judged by its bytes, and streaming hashes."""
from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from salesgan_utils import sniff

CSV = b"order_id,order_status\no1,delivered\n"


@pytest.mark.parametrize("name, content, says", [
    ("t.csv", CSV, None),
    ("t.csv.gz", gzip.compress(CSV), None),
    ("t.csv", gzip.compress(CSV), "gzip-compressed but named .csv"),
    ("t.csv.gz", CSV, "is not gzip-compressed"),
    ("t.csv", b"PK\x03\x04rest", "zip archive"),
])
def test_the_first_bytes_say_what_a_file_is(name: str, content: bytes, says, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    problem = sniff.describe_file(path)
    assert (problem is None) if says is None else (says in problem and str(path) in problem)


@pytest.mark.parametrize("name, content, says", [
    ("t.csv", CSV, None),
    ("t.csv.gz", gzip.compress(CSV), "gzip-compressed twice"),
    ("t.csv", CSV.decode().encode("utf-16-le"), "UTF-16"),
    ("t.csv", CSV + b"\0" * 10, "10 NUL byte(s) (the first at byte 35"),
])
def test_the_content_says_what_a_file_holds(name: str, content: bytes, says, tmp_path: Path) -> None:
    problem = sniff.describe_content(tmp_path / name, content)
    assert (problem is None) if says is None else says in problem


def test_folders_and_broken_links_are_named(tmp_path: Path) -> None:
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "link.csv").symlink_to(tmp_path / "gone.csv")
    assert "is a folder" in sniff.link_problem(tmp_path / "folder.csv")
    assert "gone.csv, which does not exist" in sniff.link_problem(tmp_path / "link.csv")


def test_sha256_streams_in_blocks(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sniff, "BLOCK", 7)
    (tmp_path / "f").write_bytes(CSV * 3)
    assert sniff.sha256_file(tmp_path / "f") == hashlib.sha256(CSV * 3).hexdigest()

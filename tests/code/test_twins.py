"""Notebook twins (salesgan_utils.twins): the .ipynb is regenerated from its percent .py, never the other way,
and an .ipynb edited after its source is reported rather than overwritten."""
from __future__ import annotations

import os
import time
from pathlib import Path

import jupytext
import nbformat
import pytest

from salesgan_utils import twins
from salesgan_utils.console import PipelineError


# ------------------------------------------------------------------------------------------- notebook twins
def _twins(folder: Path, py_source: str, ipynb_source: str | None, ipynb_newer: bool) -> tuple[Path, Path]:
    py, ipynb = folder / "01_eda_preprocess.py", folder / "01_eda_preprocess.ipynb"
    py.write_text(py_source)
    if ipynb_source is not None:
        jupytext.write(jupytext.reads(ipynb_source, fmt="py:percent"), ipynb)
        now = time.time()
        os.utime(py, (now - 100, now - 100) if ipynb_newer else (now, now))
        os.utime(ipynb, (now, now) if ipynb_newer else (now - 100, now - 100))
    return py, ipynb


CELLS = "# %%\nx = 1\n"
EDITED = "# %%\nx = 2\n"


@pytest.mark.parametrize("ipynb_source, ipynb_newer, state", [
    (CELLS, True, "in sync"), (CELLS, False, "in sync"), (None, False, "stale"),
    (EDITED, False, "stale"), (EDITED, True, "conflict")])
def test_twin_state(tmp_path: Path, ipynb_source, ipynb_newer: bool, state: str) -> None:
    assert twins.twin_state(*_twins(tmp_path, CELLS, ipynb_source, ipynb_newer)) == state


def test_a_stale_twin_is_regenerated_from_its_py(tmp_path: Path) -> None:
    py, ipynb = _twins(tmp_path, CELLS, EDITED, ipynb_newer=False)
    assert twins.sync_notebooks(tmp_path) == [py]
    assert [c.source for c in nbformat.read(ipynb, as_version=4).cells] == ["x = 1"]
    assert twins.sync_notebooks(tmp_path) == []


def test_an_ipynb_edited_after_its_py_is_reported_not_overwritten(tmp_path: Path) -> None:
    _, ipynb = _twins(tmp_path, CELLS, EDITED, ipynb_newer=True)
    before = ipynb.read_bytes()
    with pytest.raises(PipelineError, match="was edited after.*--to py:percent.*--to ipynb --update") as error:
        twins.sync_notebooks(tmp_path)
    assert "\n" not in str(error.value)
    assert ipynb.read_bytes() == before

"""One rule for Jupyter and batch: a notebook run by hand writes to its profile's run folder and records itself as
finished the way a batch stage does, so a batch run continues from it (`--from 02`); a batch run's stage is never
overwritten by a notebook run by hand. Stage 01 by hand (nbclient), then stages 02-05 in batch: minutes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest

from salesgan_utils import params, paths, pipeline

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run_by_hand(name: str, **edits: str) -> nbformat.NotebookNode:
    """Execute notebooks/<name>.ipynb as a person would in Jupyter: its defaults, with `edits` typed into the
    parameters cell (e.g. profile="smoke")."""
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for key, value in edits.items():
        cell.source += f"\n{key} = {value!r}"
    client = nbclient.NotebookClient(nb, kernel_name=pipeline.KERNEL, timeout=900,
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    return nb


def stage_files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_stage_run_by_hand_is_continued_in_batch_and_a_batch_stage_is_not_overwritten(tmp_path, monkeypatch):
    for var in (params.PIPELINE_ENV, paths.STAGE_PARTIAL_ENV, "SALESGAN_ROOT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SALESGAN_OUTPUTS", str(tmp_path))
    monkeypatch.setenv("SALESGAN_DATA_DIR", paths.DEMO)  # the kernel inherits it: demo data, whatever is on disk
    run_by_hand(paths.STAGES[1], profile="smoke")
    run = tmp_path / "smoke"  # the profile's name, as in batch
    stage01 = run / paths.STAGES[1]
    assert paths.finished_by(stage01) == paths.BY_HAND and paths.stage_finished(stage01, 1)
    assert paths.stage_params_file(run, 1).is_file()
    before = stage_files(stage01)

    result = subprocess.run([sys.executable, "-m", "salesgan_utils.pipeline", "--profile", "smoke", "--from", "02",
                             "--no-setup"], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True,
                            timeout=1500)
    assert result.returncode == 0, result.stderr[-4000:]
    assert stage_files(stage01) == before, "the batch run rewrote the stage run by hand"
    times = json.loads((run / paths.STAGE_TIMES_FILE).read_text())
    assert all(times[name]["status"] == "ok" for name in paths.STAGES.values() if name != paths.STAGES[1])
    lines = result.stdout.strip().splitlines()
    assert len(lines) + len(result.stderr.strip().splitlines()) <= 60, result.stdout
    assert "With " in "\n".join(lines[-6:]) and "total time:" in lines[-2] and lines[-1].endswith("report.html")

    with pytest.raises(nbclient.exceptions.CellExecutionError, match="does not overwrite it"):
        run_by_hand(paths.STAGES[2], profile="smoke")
    assert paths.finished_by(run / paths.STAGES[2]) == paths.BY_BATCH

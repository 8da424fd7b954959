"""End to end: run_all.sh runs the five notebooks, writes the report, and fails a stage loudly and harmlessly."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from salesgan_utils.paths import STAGES as STAGE_NAMES

STAGES = tuple(STAGE_NAMES.values())
ROOT = Path(__file__).resolve().parents[2]


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time (ns)."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_the_smoke_suite_writes_every_executed_notebook_and_the_report(smoke_run: Path) -> None:
    for name in STAGES:
        executed = smoke_run / f"{name}.ipynb"
        assert executed.is_file(), f"{executed} missing"
        assert (smoke_run / name).is_dir(), f"stage folder {smoke_run / name} missing"
    html = (smoke_run / "report.html").read_text(encoding="utf-8")
    assert "<table" in html and 'src="data:image/png;base64,' in html
    times = json.loads((smoke_run / "stage_times.json").read_text())
    assert set(times) == set(STAGES) and all(t["status"] == "ok" for t in times.values())
    assert (smoke_run / "params" / "02_train_gan.yaml").is_file()
    assert json.loads((smoke_run / "05_report" / "reproducibility.json").read_text())["git commit"]


@pytest.mark.slow
def test_a_failing_stage_is_named_with_its_notebook_and_harms_no_other_run(smoke_run: Path, run_all,
                                                                          outputs_root: Path) -> None:
    before = snapshot(smoke_run)
    bogus = "ci-no-such-upstream"
    result = run_all("--profile", "smoke", "--run", bogus, "--only", "03")
    executed = outputs_root / bogus / "03_generate_samples.ipynb"
    assert result.returncode != 0
    assert "STAGE FAILED: 03_generate_samples" in result.stderr
    assert str(executed) in result.stderr and executed.is_file()
    assert snapshot(smoke_run) == before, f"run {smoke_run.name} was modified by a failing run of another name"
    times = json.loads((outputs_root / bogus / "stage_times.json").read_text())
    assert times["03_generate_samples"]["status"] == "failed"


def test_help_lists_the_options(run_all) -> None:
    result = run_all("--help", timeout=60)
    assert result.returncode == 0
    for option in ("--profile", "--data", "--run", "--from", "--only", "--setup", "--test"):
        assert option in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--bogus"], "unknown option '--bogus'"),
    (["--profile", "nope"], "available profiles are: full kaggle quick smoke"),
    (["--only", "07"], "unknown stage '07'"),
    (["--from", "02", "--only", "03"], "not both"),
    (["--data", "/no/such/folder"], "is not a folder"),
])
def test_bad_command_lines_fail_fast_with_a_reason(args: list[str], message: str, run_all) -> None:
    result = run_all(*args, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_bad_override_fails_before_any_stage_runs(run_all, outputs_root: Path) -> None:
    if not all((ROOT / "notebooks" / f"{n}.py").is_file() for n in STAGES):
        pytest.skip("notebooks/ does not hold the five notebooks yet")
    result = run_all("--profile", "smoke", "--run", "ci-bad-set", "--set", "horizon=0", timeout=120)
    assert result.returncode != 0
    assert "`horizon`" in result.stderr and "at least 1" in result.stderr
    assert not (outputs_root / "ci-bad-set" / "01_eda_preprocess.ipynb").exists()

"""What a run prints (salesgan_utils.console): durations, progress lines with ETA, the failure report."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from salesgan_utils import console


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (42.4, "42s"), (59.6, "1m 00s"), (185, "3m 05s"),
                                           (3720, "1h 02m")])
def test_duration(seconds: float, text: str) -> None:
    assert console.duration(seconds) == text


def test_progress_line_eta_is_the_mean_step_time_times_the_steps_left() -> None:
    assert console.progress_line("LSTM fit", 3, 12, 60) == "LSTM fit 3 of 12 · 1m 00s elapsed · ETA 3m 00s"
    assert console.progress_line("GAN step", 0, 10, 5) == "GAN step 0 of 10 · 5s elapsed"  # nothing to go on
    assert console.progress_line("GAN step", 10, 10, 50) == "GAN step 10 of 10 · 50s elapsed"


def test_progress_prints_the_first_the_due_and_the_last_step_only() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = console.Progress("fit", 4, every_s=10, clock=lambda: now[0], out=out)
    now[0] = 2
    assert progress.step() == "fit 1 of 4 · 2s elapsed · ETA 6s"
    now[0] = 5
    assert progress.step() is None  # 3 s after the last line
    now[0] = 13
    assert progress.step() == "fit 3 of 4 · 13s elapsed · ETA 4s"
    now[0] = 14
    assert progress.step() == "fit 4 of 4 · 14s elapsed"  # the last step always prints
    printed = out.getvalue().splitlines()
    assert all(line.startswith(console.PROGRESS_PREFIX) for line in printed)  # the pipeline shows these lines
    assert [line.removeprefix(console.PROGRESS_PREFIX) for line in printed] == [
        "fit 1 of 4 · 2s elapsed · ETA 6s", "fit 3 of 4 · 13s elapsed · ETA 4s", "fit 4 of 4 · 14s elapsed"]


def test_failure_report_leads_with_the_stage_and_the_cause_and_ends_with_the_resume_command(tmp_path) -> None:
    lines = console.failure_report("03_generate_samples", 1.25, "ValueError: bad", Path("/r/03.ipynb"), tmp_path,
                                   "bash run_all.sh --from 03").splitlines()
    assert lines[1] == "[run_all] STAGE FAILED: 03_generate_samples (after 1.2s)"
    assert lines[2].strip() == "ValueError: bad" and "/r/03.ipynb" in lines[3]
    assert lines[-1] == "[run_all]   bash run_all.sh --from 03"


def test_a_resumed_progress_times_only_its_own_steps() -> None:
    now = [0.0]
    progress = console.Progress("GAN step", 100, clock=lambda: now[0], out=io.StringIO(), done=50)
    now[0] = 10
    assert progress.step(10) == "GAN step 60 of 100 · 10s elapsed · ETA 40s"  # 1 s per step over this session

"""Tests of salesgan_utils.guard: the run folder outside the source tree, one run per folder, the executed
notebook staged like the stage folder, signals as interrupts."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from salesgan_utils import guard
from salesgan_utils.console import PipelineError


@pytest.mark.parametrize("where", ["", "notebooks", "notebooks/run", "params/x", "salesgan_utils", "tests/run",
                                   ".."])
def test_a_run_folder_overlapping_the_source_tree_is_refused(where: str, tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    (root / "notebooks").mkdir(parents=True)
    with pytest.raises(PipelineError, match=r"the run folder .* (is or contains the checkout|lies inside the "
                                            r"checkout's \w+/).*outside it"):
        guard.check_run_folder(root / where, root)


@pytest.mark.parametrize("where", ["outputs/quick", "../elsewhere/quick"])
def test_a_run_folder_under_outputs_or_outside_the_checkout_is_fine(where: str, tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    root.mkdir()
    assert guard.check_run_folder(root / where, root) == (root / where).resolve()


def test_a_symlink_into_the_source_tree_is_seen_through(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    (root / "notebooks").mkdir(parents=True)
    (tmp_path / "runs").symlink_to(root / "notebooks")
    with pytest.raises(PipelineError, match="notebooks/"):
        guard.check_run_folder(tmp_path / "runs", root)


HOLD = """
import sys, time
from salesgan_utils import guard
guard.lock_run(sys.argv[1])
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_run_of_the_same_folder_is_refused_naming_the_holder(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(PipelineError, match=rf"{tmp_path} is in use by another run \(PID {holder.pid}, "
                                                r"started .*\): wait for it to finish, or use another --run NAME"):
            guard.lock_run(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    # the holder died without cleaning up: its lock file still names it; the next run takes over with a note
    assert (tmp_path / guard.RUN_LOCK).read_text().startswith(str(holder.pid))
    note = guard.lock_run(tmp_path)
    assert note and f"PID {holder.pid}" in note and "no longer running" in note
    assert (tmp_path / guard.RUN_LOCK).read_text().startswith(str(os.getpid()))


def test_the_executed_notebook_replaces_the_previous_one_only_on_success(tmp_path: Path) -> None:
    executed = tmp_path / "03_generate_samples.ipynb"
    executed.write_text("good run")
    staged = guard.staged_notebook(executed)
    assert staged.name == "03_generate_samples.partial.ipynb"
    staged.write_text("failed run")
    failed = guard.keep_failed_notebook(staged, executed)
    assert failed.name == "03_generate_samples.failed.ipynb" and failed.read_text() == "failed run"
    assert executed.read_text() == "good run"
    staged.write_text("next good run")
    guard.publish_notebook(staged, executed)
    assert executed.read_text() == "next good run" and not failed.exists() and not staged.exists()


def test_keeping_a_failed_notebook_never_raises(tmp_path: Path) -> None:
    staged = tmp_path / "gone" / "05_report.partial.ipynb"  # never written (the kernel did not start)
    assert guard.keep_failed_notebook(staged, tmp_path / "gone" / "05_report.ipynb") == staged


def test_sigterm_raises_an_interrupt_with_its_name(monkeypatch) -> None:
    previous = signal.getsignal(signal.SIGTERM)
    try:
        guard.stop_on_signals()
        with pytest.raises(KeyboardInterrupt) as stop:
            os.kill(os.getpid(), signal.SIGTERM)
        assert "SIGTERM" in guard.interrupt_cause(stop.value)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert "SIGINT (Ctrl-C)" in guard.interrupt_cause(KeyboardInterrupt())

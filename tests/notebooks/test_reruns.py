"""Reruns never lose a good result (#14): a killed, disk-full or failed rerun of a stage leaves that stage's previous
outputs byte-identical (sha256) and usable by the next stage, and its params file as it was.

A smoke run of stages 01-03 on demo data is built by the module fixture, on a small tmpfs when mounting is permitted
(root in CI) so that a full disk can be made; the tests then rerun stages against it through run_all.sh. Stages 04
and 05 write through the same two functions (`paths.stage_dir`, `paths.publish_stage`, unit-tested in
tests/code/test_paths.py) and are left out to keep this under five minutes on 2 shared cores.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import kill_tree

from salesgan_utils import paths

ROOT = Path(__file__).resolve().parents[2]
RUN = "reruns"
FAST = ("--set", "disc_epochs=1", "--set", "quality_max_windows=50", "--set", "forecaster_epochs=1", "--set",
        "augmentations=[jitter]")
# A rerun with other values: had it replaced anything before it was stopped, the bytes would differ.
CHANGED = {1: ("--set", "top_n=10"), 2: ("--set", "seed=1"), 3: ("--set", "seed=1")}
TIMEOUT_S = 1200  # a bound against a hung kernel on a loaded machine, not a performance check

pytestmark = pytest.mark.slow


def env_for(outputs: Path) -> dict[str, str]:
    env = {**os.environ, "SALESGAN_OUTPUTS": str(outputs)}
    env.pop(paths.STAGE_PARTIAL_ENV, None)
    if sys.prefix != sys.base_prefix:
        env["VIRTUAL_ENV"] = sys.prefix
        env["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def command(run: str, *args: str) -> list[str]:
    return ["bash", str(ROOT / "run_all.sh"), "--profile", "smoke", "--run", run, "--data", "demo", *FAST, *args]


def run_all(outputs: Path, *args: str, run: str = RUN) -> subprocess.CompletedProcess:
    return subprocess.run(command(run, *args), cwd=ROOT, env=env_for(outputs), capture_output=True, text=True,
                          timeout=TIMEOUT_S)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"run_all.sh failed:\n{result.stderr[-4000:]}"
    return result


def hashes(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under `folder` (empty when it does not exist)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def stage_state(run_dir: Path, stage: int) -> dict:
    name = paths.STAGES[stage]
    params_file = run_dir / "params" / f"{name}.yaml"
    return {"outputs": hashes(run_dir / name),
            "params": params_file.read_bytes() if params_file.is_file() else None}


def started_writing(run_dir: Path, name: str, since_ns: int, marker: str | None) -> bool:
    """Whether the stage has begun writing its outputs (wherever it writes them): an entry of `NN_name*` changed
    after `since_ns`, with `marker`, one at or below an entry of that name (stage 02: Lightning's logs/, whose new
    version_N/ folder appears when training starts). Copies keep their mtimes: an old logs/ copied does not count."""
    for folder in run_dir.glob(f"{name}*"):
        for entry in [folder, *folder.rglob("*")]:
            try:
                newer = entry.stat().st_mtime_ns > since_ns
            except FileNotFoundError:  # replaced while we looked
                continue
            if newer and (marker is None or marker in entry.relative_to(folder).parts):
                return True
    return False


def kill_during(outputs: Path, run: str, stage: int, *args: str, marker: str | None = None,
                after_s: float = 1.0) -> bool:
    """Start `--only NN`, SIGKILL it `after_s` after it began writing. Returns whether the kill came in time
    (False: the stage finished first)."""
    run_dir = outputs / run
    name = paths.STAGES[stage]
    since = time.time_ns()
    process = subprocess.Popen(command(run, "--only", f"{stage:02d}", *args), cwd=ROOT, env=env_for(outputs),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + TIMEOUT_S
    while not started_writing(run_dir, name, since, marker) and process.poll() is None:
        assert time.monotonic() < deadline, f"stage {name} never started writing"
        time.sleep(0.02)
    time.sleep(after_s)
    finished = process.poll() is not None
    kill_tree(process)
    return not finished


@pytest.fixture(scope="module")
def tmpfs(tmp_path_factory):
    """A 512 MiB tmpfs for the outputs (root in CI), else a plain folder (the disk-full test then skips)."""
    mount = tmp_path_factory.mktemp("reruns-outputs")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512m", "tmpfs", str(mount)], capture_output=True)
    yield mount, done.returncode == 0
    if done.returncode == 0:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="module")
def complete(tmpfs) -> Path:
    """Stages 01, 02 and 03 of a smoke run, each finished; the outputs root."""
    outputs, _ = tmpfs
    for stage in ("01", "02", "03"):
        ok(run_all(outputs, "--only", stage))
    return outputs


@pytest.mark.parametrize("stage", list(CHANGED))
def test_a_killed_rerun_keeps_the_stages_previous_outputs_and_params(complete: Path, stage: int) -> None:
    run_dir = complete / RUN
    before = stage_state(run_dir, stage)
    assert before["outputs"] and before["params"], "the complete run lacks this stage's outputs"
    marker = "logs" if stage == 2 else None  # stage 02: kill once training has started
    in_time = kill_during(complete, RUN, stage, *CHANGED[stage], marker=marker, after_s=0.5 if stage == 2 else 1.0)
    if not in_time:
        pytest.skip(f"stage {stage:02d} finished before the kill on this machine: nothing to check")
    after = stage_state(run_dir, stage)
    assert after["outputs"] == before["outputs"], "a killed rerun changed the previous outputs"
    assert after["params"] == before["params"], "a killed rerun rewrote the params file of the previous result"


def test_after_a_killed_rerun_of_stage_02_stage_03_uses_the_previous_model(complete: Path) -> None:
    run_dir = complete / RUN
    before = hashes(run_dir / paths.STAGES[2])
    assert kill_during(complete, RUN, 2, *CHANGED[2], marker="logs", after_s=0.5)
    ok(run_all(complete, "--only", "03"))
    assert hashes(run_dir / paths.STAGES[2]) == before


def test_a_failed_rerun_keeps_the_previous_outputs_and_params(complete: Path) -> None:
    run_dir = complete / RUN
    before = stage_state(run_dir, 3)
    result = run_all(complete, "--only", "03", "--set", f"gan_stage_dir={run_dir / 'no_such_stage'}")
    assert result.returncode != 0
    assert stage_state(run_dir, 3) == before


def test_a_disk_full_rerun_of_stage_02_keeps_its_previous_outputs(complete: Path, tmpfs) -> None:
    outputs, mounted = tmpfs
    if not mounted:
        pytest.skip("mounting a tmpfs is not permitted here: no disk to fill")
    run_dir = outputs / RUN
    name = paths.STAGES[2]
    before = stage_state(run_dir, 2)
    filler = outputs / "filler"
    since = time.time_ns()
    process = subprocess.Popen(command(RUN, "--only", "02", *CHANGED[2]), cwd=ROOT, env=env_for(outputs),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not started_writing(run_dir, name, since, "logs") and process.poll() is None:
            assert time.monotonic() < deadline, "stage 02 never started training"
            time.sleep(0.02)
        assert process.poll() is None, "stage 02 finished before the disk could be filled"
        with open(filler, "wb") as handle:  # the disk fills up while the rerun trains (another job's files)
            try:
                while True:
                    handle.write(b"\0" * (1 << 20))
                    handle.flush()
            except OSError:
                pass
        rc = process.wait(timeout=TIMEOUT_S)
    finally:
        if process.poll() is None:
            kill_tree(process)
        filler.unlink(missing_ok=True)
    assert rc != 0, "stage 02 finished on a full disk"
    assert stage_state(run_dir, 2) == before, "a disk-full rerun changed the previous outputs"
    ok(run_all(outputs, "--only", "03"))  # and they are still usable


def test_only_03_after_a_killed_first_training_refuses_in_one_line(tmpfs) -> None:
    complete, _ = tmpfs  # its own run in the same outputs root: needs none of the complete run
    run = "killed-first"
    ok(run_all(complete, "--only", "01", run=run))
    # killed once the first epoch's checkpoint is written: what the unfinished training left must not be sampled
    if not kill_during(complete, run, 2, marker="best.ckpt", after_s=0.2):
        pytest.skip("stage 02 finished before the kill on this machine: nothing to check")
    result = run_all(complete, "--only", "03", run=run)
    assert result.returncode != 0, "stage 03 sampled from the checkpoint of an unfinished training"
    stderr = result.stderr
    assert "Traceback (most recent call last)" not in stderr, stderr[-3000:]
    if "STAGE FAILED" not in stderr:  # refused before any stage: the prerequisite check names 02 and the --from
        cause = next(line for line in stderr.splitlines() if "reads the outputs of stage 02" in line)
        assert "02_train_gan" in cause and "--from 02" in cause, cause
        return
    cause = next(line for line in stderr[stderr.index("STAGE FAILED"):].splitlines() if "Error:" in line)
    assert "02_train_gan" in cause and "--only 02" in cause, cause

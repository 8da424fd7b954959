"""What keeps one run from harming the checkout, another run or its own earlier result.

- `check_run_folder`: a run folder that is, contains or lies inside the source tree (anything of the checkout but
  `outputs/`) is refused before any stage: a run named `notebooks` under the checkout would overwrite the tracked
  notebooks.
- `lock_run`: an exclusive lock per run folder (`RUN_LOCK`, `fcntl.flock`, released by the kernel when the holder
  exits, however it ends). A second run with the same folder is refused in one line naming the holder's PID; a
  lock file left by a dead PID is taken over with a note.
- `staged_notebook` / `publish_notebook` / `keep_failed_notebook`: papermill writes the executed notebook to
  `NN_name.partial.ipynb`; it replaces `NN_name.ipynb` only when the stage succeeds, and a failed or interrupted
  one is kept beside it as `NN_name.failed.ipynb` (its traceback), so the last good notebook is never lost.
- `stop_on_signals`: SIGTERM raises `Interrupted` (a KeyboardInterrupt, as Ctrl-C's SIGINT does) in the main
  thread, so both end in the same failed-stage report with the resume command.
"""
from __future__ import annotations

import atexit
import os
import signal
import time
from pathlib import Path

from . import paths
from .console import PipelineError

RUN_LOCK = ".run.lock"
ALLOWED_IN_CHECKOUT = ("outputs",)  # the one folder of the checkout that runs may write (git-ignored)
_held: dict[str, int] = {}  # run folder -> open descriptor of its lock (kept open: closing would release it)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGTERM; SIGINT raises KeyboardInterrupt itself)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def check_run_folder(run_path: str | Path, root: str | Path | None = None) -> Path:
    """Refuse a run folder that is, contains or lies inside the source tree of the checkout `root`.

    Returns:
        The resolved run folder.

    Raises:
        PipelineError: one line naming the folder and the fix.
    """
    run_path = Path(run_path).expanduser().resolve()
    root = Path(root or paths.project_root()).resolve()
    fix = "write elsewhere: --run NAME under outputs/, or env SALESGAN_OUTPUTS / --set outputs_dir=DIR outside it"
    if run_path == root or root.is_relative_to(run_path):
        raise PipelineError(f"the run folder {run_path} is or contains the checkout {root}: a stage would write "
                            f"among the sources; {fix}")
    if run_path.is_relative_to(root):
        top = run_path.relative_to(root).parts[0]
        if top not in ALLOWED_IN_CHECKOUT:
            raise PipelineError(f"the run folder {run_path} lies inside the checkout's {top}/ (the source tree): "
                                f"a stage would overwrite tracked files; {fix}")
    return run_path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _holder(text: str) -> tuple[int | None, str]:
    """(PID, start time) from a lock file's content `PID started-at command`."""
    parts = text.split()
    return (int(parts[0]), parts[1] if len(parts) > 1 else "") if parts and parts[0].isdigit() else (None, "")


def lock_run(run_path: str | Path) -> str | None:
    """Take the run folder's exclusive lock for the rest of this process.

    Returns:
        A note when a stale lock (of a PID no longer running) was taken over, else None.

    Raises:
        PipelineError: another live process holds the lock (the message names its PID).
    """
    import fcntl

    run_path = Path(run_path)
    key = str(run_path.resolve())
    if key in _held:
        return None
    path = run_path / RUN_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    previous = os.read(fd, 4096).decode("utf-8", "replace")
    pid, started = _holder(previous)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise PipelineError(f"the run folder {run_path} is in use by another run (PID {pid or 'unknown'}"
                            f"{', started ' + started if started else ''}): wait for it to finish, or use another "
                            f"--run NAME", code=1) from None
    except OSError:  # a file system without locks: fall back to the PID in the file
        if pid and pid != os.getpid() and _pid_alive(pid):
            os.close(fd)
            raise PipelineError(f"the run folder {run_path} is in use by another run (PID {pid}): wait for it "
                                f"to finish, or use another --run NAME", code=1) from None
    note = None
    if pid and pid != os.getpid() and not _pid_alive(pid):
        note = f"took over the lock of {run_path} left by PID {pid}, which is no longer running"
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%S')} salesgan pipeline\n".encode(), 0)
    _held[key] = fd
    atexit.register(_release, key)
    return note


def _release(key: str) -> None:
    fd = _held.pop(key, None)
    if fd is not None:
        try:
            os.ftruncate(fd, 0)  # a finished run leaves no holder behind
            os.close(fd)
        except OSError:
            pass


def staged_notebook(executed: Path) -> Path:
    """Where papermill writes the executed notebook of a running stage: `NN_name.partial.ipynb`."""
    return executed.with_name(f"{executed.stem}.partial.ipynb")


def publish_notebook(staged: Path, executed: Path) -> None:
    """After the stage succeeded: its executed notebook replaces the previous one; a failed one is dropped."""
    if staged.is_file():
        os.replace(staged, executed)
    executed.with_name(f"{executed.stem}.failed.ipynb").unlink(missing_ok=True)


def keep_failed_notebook(staged: Path, executed: Path) -> Path:
    """After the stage failed: keep its executed notebook as `NN_name.failed.ipynb` beside the previous good one.

    Never raises (a full disk must not turn the failure report into a traceback).

    Returns:
        The failed notebook's path, or the staged path when renaming it failed.
    """
    failed = executed.with_name(f"{executed.stem}.failed.ipynb")
    try:
        os.replace(staged, failed)
    except OSError:
        return staged
    return failed


def stop_on_signals() -> None:
    """SIGTERM raises `Interrupted` in the main thread (SIGINT already raises KeyboardInterrupt)."""
    def handler(signum, frame):
        raise Interrupted(signum)

    signal.signal(signal.SIGTERM, handler)


def interrupt_cause(stop: KeyboardInterrupt) -> str:
    """One line for an interrupted stage."""
    name = "SIGTERM" if isinstance(stop, Interrupted) and stop.signum == signal.SIGTERM else "SIGINT (Ctrl-C)"
    return f"interrupted by {name}: the stage did not finish; its earlier result is kept"

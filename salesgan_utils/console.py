"""What a run says on the console: timestamped log lines, warnings, one-line errors (`PipelineError`), the report
of a failed stage with its resume command, and progress lines with an ETA (`Progress`).

Standard library only: run_all.sh's preflight imports it before anything is installed.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

PREFIX = "run_all"
# A line a stage prints with this prefix is a progress line: the pipeline shows it on the console (the rest of a
# cell's output stays in the executed notebook unless --verbose).
PROGRESS_PREFIX = "[progress] "


class PipelineError(Exception):
    """A one-line error that says what to do; `code` is the exit status (2: the command line or the parameters,
    1: a stage, the export or the file system)."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def stamp(message: str) -> str:
    """`message` as a console line: "[run_all 12:34:56] message"."""
    return f"[{PREFIX} {time.strftime('%H:%M:%S')}] {message}"


def log(message: str) -> None:
    print(stamp(message), flush=True)


def banner(lines: list[str]) -> None:
    """Lines that must not be missed (demo data about to be used), framed, on stderr."""
    rule = "!" * 100
    print("\n".join([stamp(rule), *(stamp(f"!! {line}") for line in lines), stamp(rule)]), file=sys.stderr,
          flush=True)


def warn(message: str) -> None:
    print(f"[{PREFIX} {time.strftime('%H:%M:%S')}] WARNING: {message}", file=sys.stderr, flush=True)


def error_line(message: str) -> None:
    print(f"[{PREFIX}] ERROR: {message}", file=sys.stderr, flush=True)


def failure_report(stage: str, seconds: float, cause: str, executed: Path, run_path: Path, resume: str) -> str:
    """The lines printed when a stage fails: its name, the cause, the executed notebook, and the resume command."""
    return "\n".join([
        "",
        f"[{PREFIX}] STAGE FAILED: {stage} (after {seconds:.1f}s)",
        f"  {cause}",
        f"[{PREFIX}] executed notebook with the traceback: {executed}",
        f"[{PREFIX}] earlier stages' outputs and this stage's previous ones in {run_path} are untouched; fix the "
        f"cause, then rerun from here:",
        f"[{PREFIX}]   {resume}",
    ])


def say(line: str) -> None:
    """Print `line` from inside a stage so that a pipeline run shows it on the console too (as a progress line)."""
    print(PROGRESS_PREFIX + line, flush=True)


def duration(seconds: float) -> str:
    """`seconds` for a reader: "42s", "3m 05s", "1h 02m"."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def progress_line(label: str, done: int, total: int, elapsed_s: float, timed: int | None = None) -> str:
    """One progress line: "LSTM fit 3 of 12 · 1m 10s elapsed · ETA 4m 40s".

    The ETA assumes the remaining steps take as long on average as the `timed` steps done in `elapsed_s` (default
    all `done` steps; fewer when a resumed run started after some); none before a timed step is done."""
    timed = done if timed is None else timed
    line = f"{label} {done} of {total} · {duration(elapsed_s)} elapsed"
    if timed > 0 and done < total:
        line += f" · ETA {duration(elapsed_s / timed * (total - done))}"
    return line


class Progress:
    """Progress of `total` steps of one kind, printed as `progress_line`s (with PROGRESS_PREFIX, so that a pipeline
    run shows them on the console) at most every `every_s` seconds, and always for the first and the last step.

    Example::

        progress = Progress("LSTM fit", len(fits))
        for fit in fits:
            run(fit)
            progress.step()
    """

    def __init__(self, label: str, total: int, every_s: float = 10.0, clock=time.monotonic, out=None, done: int = 0):
        self.label, self.total, self.every_s, self.clock = label, int(total), float(every_s), clock
        self.out = out
        self.done = self.first = int(done)  # `done` steps finished before this Progress (a resumed run)
        self.start = clock()
        self._last_print: float | None = None

    def step(self, n: int = 1) -> str | None:
        """Count `n` finished steps; return the line printed, or None when it was too soon to print one."""
        self.done = min(self.total, self.done + n)
        now = self.clock()
        due = self._last_print is None or now - self._last_print >= self.every_s or self.done >= self.total
        if not due:
            return None
        self._last_print = now
        line = progress_line(self.label, self.done, self.total, now - self.start, self.done - self.first)
        print(PROGRESS_PREFIX + line, file=self.out or sys.stdout, flush=True)
        return line

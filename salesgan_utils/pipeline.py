"""The suite's orchestration: stage parameters, papermill per stage, the stage-folder swap, stage wall times, the
report export, the test suite and the nbval refresh; `main` is the command line behind `run_all.sh`.

`run_all.sh` does only the set-up that must run before Python dependencies exist (venv, torch, requirements,
kernel, Chromium), then `exec python -m salesgan_utils.pipeline "$@"`. Before the set-up it calls
`python3 -m salesgan_utils.pipeline --preflight "$@"`: one parser (`salesgan_utils.cli`) checks the command line,
so a bad option fails in a second rather than after a minute of set-up. That is why this module imports only the
standard library and light package modules at the top; papermill, jupytext and pytest are imported where used.

Command line (every option: `salesgan_utils.cli.USAGE`)::

    python -m salesgan_utils.pipeline [--profile P] [--data DIR] [--run NAME] [--set K=V ...] [--from NN | --only NN]
    python -m salesgan_utils.pipeline --test [-- PYTEST_ARGS]
    python -m salesgan_utils.pipeline --help
"""
from __future__ import annotations

import logging
import os
import shlex
import sys
import time
from pathlib import Path

from salesgan_utils import guard, params, paths
from salesgan_utils.cli import OPTION_KEYS, USAGE, Invocation, Options, caller_folder, parse_args, preflight, resolve
from salesgan_utils.console import (
    PROGRESS_PREFIX,
    PipelineError,
    banner,
    duration,
    error_line,
    failure_report,
    log,
    stamp,
    warn,
)
from salesgan_utils.twins import sync_notebooks

KERNEL = os.environ.get("SALESGAN_KERNEL", "salesgan")


# ------------------------------------------------------------------------------------------------- parameters
def _absolute(folder: str, base: Path) -> str:
    path = Path(folder).expanduser()
    return str(path if path.is_absolute() else base / path)


def overrides(invocation: Invocation, profile: params.Profile, caller_dir: Path | None = None) -> dict:
    """The command line's parameter values: every --set, then `run`, `data_dir` and an absolute `outputs_dir`.

    `outputs_dir` (from --set, else the profile) applies to every stage, so that it moves the whole run rather
    than splitting it: a --set value is relative to where the command was typed, a profile's to the checkout
    (where the kernels run).

    Raises:
        PipelineError: a --set item is not KEY=VALUE.
    """
    caller_dir = caller_folder(caller_dir)
    try:
        values = dict(params.parse_override(item) for item in invocation.sets)
    except params.ParamsError as error:
        raise PipelineError(str(error)) from None
    for key, option in OPTION_KEYS.items():
        if key in values:  # --set would be overwritten by the option, or bypass its checks (relative paths)
            raise PipelineError(f"--set {key}=...: use {option} instead")
    values["run"] = invocation.run
    if invocation.data:
        values["data_dir"] = invocation.data
    if isinstance(values.get("outputs_dir"), str) and values["outputs_dir"]:
        values["outputs_dir"] = _absolute(values["outputs_dir"], caller_dir)
    elif isinstance(profile.get("outputs_dir"), str) and profile["outputs_dir"]:
        values["outputs_dir"] = _absolute(profile["outputs_dir"], paths.project_root())
    return values


def stage_parameters(invocation: Invocation, profile: params.Profile, values: dict,
                     stages: list[str] | None = None) -> dict[str, dict]:
    """{stage name: the parameters papermill injects}, for every selected stage (or `stages`), validated up front so
    that a bad --set fails before an hour of training.

    Raises:
        PipelineError: a parameter is unknown, of the wrong type or impossible (the message names it and the fix).
    """
    try:
        return {name: params.stage_params(name, profile, values) for name in stages or invocation.stages}
    except params.ParamsError as error:
        raise PipelineError(str(error)) from None


def run_folder(invocation: Invocation, values: dict) -> Path:
    """`outputs/<run>/`: under `outputs_dir` when set, else `paths.outputs_root()`."""
    return paths.run_dir(invocation.run, values.get("outputs_dir") or None)


def check_writable(folder: Path) -> None:
    """Create `folder` and write a probe file in it.

    Raises:
        PipelineError: the folder cannot be created or written (one line naming it and the fix).
    """
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-probe-"):
            pass
    except OSError as error:
        raise PipelineError(f"the run folder {folder} is not writable ({error.strerror or error}): make it "
                            f"writable, or write elsewhere with --run NAME or env SALESGAN_OUTPUTS=DIR", code=1
                            ) from None


# ----------------------------------------------------------------------------------------------------- stages
class StageFailure(Exception):
    """A stage that did not finish: its name, wall time, executed notebook and the cause as one line;
    `interrupted` when a signal stopped it."""

    def __init__(self, stage: str, seconds: float, executed: Path, cause: str, interrupted: bool = False):
        super().__init__(f"{stage}: {cause}")
        self.stage, self.seconds, self.executed, self.cause = stage, seconds, executed, cause
        self.interrupted = interrupted


def _record_failed(run_path: Path, name: str, seconds: float) -> str:
    """Mark the stage failed in stage_times.json; on a write error say so instead of raising (the failure report
    must not depend on the disk). Returns the text to append to the failure's cause."""
    try:
        paths.record_stage_time(run_path, name, seconds, "failed")
    except OSError as error:
        return f" ({paths.STAGE_TIMES_FILE} not updated: {error.strerror or error})"
    return ""


class _ProgressOnly(logging.Filter):
    """Keeps, of a cell's output, only the progress lines (`console.PROGRESS_PREFIX`), each re-written as a console
    line under its stage; the rest of the transcript stays in the executed notebook (and behind --verbose)."""

    def __init__(self, stage: str):
        super().__init__()
        self.stage = stage

    def filter(self, record: logging.LogRecord) -> bool:
        lines = [line[len(PROGRESS_PREFIX):] for line in str(record.getMessage()).splitlines()
                 if line.startswith(PROGRESS_PREFIX)]
        if not lines:
            return False
        record.msg, record.args = "\n".join(stamp(f"  {self.stage[:2]} · {line}") for line in lines), None
        return True


class _NoDeadKernelEcho(logging.Filter):
    """Drops asyncio's "Task exception was never retrieved ... DeadKernelError" log: when a stage is stopped
    (SIGTERM, Ctrl-C) its kernel shuts down while nbclient's kernel-alive poll still runs, and that task's error is
    logged with a traceback after the stage's failure report. A kernel that dies during a run is reported once, as
    the stage's failure (`run_stage`); every other asyncio record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return type(error).__name__ != "DeadKernelError"


def _papermill_logging(verbose: bool = False, stage: str = "") -> logging.Handler:
    """papermill's log of the cells' output: all of it on stderr as papermill's command line shows it (verbose),
    else the progress lines only, on stdout; asyncio's echo of a dead kernel dropped (`_NoDeadKernelEcho`)."""
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, _NoDeadKernelEcho) for f in asyncio_log.filters):
        asyncio_log.addFilter(_NoDeadKernelEcho())
    handler = logging.StreamHandler(sys.stderr if verbose else sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    if not verbose:
        handler.addFilter(_ProgressOnly(stage))
    logger = logging.getLogger("papermill")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler


def run_stage(notebook: Path, executed: Path, parameters: dict, kernel: str = KERNEL,
              cwd: Path | None = None, verbose: bool = False) -> float:
    """Execute one notebook with papermill in this process.

    Args:
        verbose: stream every cell's output and papermill's progress bar; by default only the progress lines.

    Returns:
        The wall time in seconds (kernel start included).

    Raises:
        StageFailure: a cell raised (the cause is the cell's own error, not papermill's traceback) or the kernel
            could not run (died, or is not registered).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    start = time.monotonic()
    handler = _papermill_logging(verbose, notebook.stem)
    kernel_log = kernel_log_path(executed)
    kernel_log.unlink(missing_ok=True)
    try:
        # The kernel process's own stderr (start-up warnings such as "running over TCP", and the tracebacks
        # ipykernel logs when it is interrupted or shut down mid-cell) goes to a log file unless --verbose:
        # a cell's output, warnings and errors reach the notebook through the kernel's messages, not this stream.
        papermill.execute_notebook(str(notebook), str(executed), parameters=parameters, kernel_name=kernel,
                                   language="python", log_output=True, progress_bar=verbose,
                                   cwd=str(cwd or paths.project_root()),
                                   extra_arguments=[] if verbose else ["--log-level=ERROR"],
                                   **({} if verbose else {"kernel_manager_class": _kernel_writing_stderr_to(
                                       kernel_log)}))
    except PapermillExecutionError as error:
        raise StageFailure(notebook.stem, time.monotonic() - start, executed,
                           f"{error.ename}: {error.evalue}") from None
    except Exception as error:  # noqa: BLE001  (a dead or missing kernel, an unreadable notebook: one line)
        raise StageFailure(notebook.stem, time.monotonic() - start, executed,
                           f"papermill: {type(error).__name__}: {error}" + _kernel_log_hint(kernel_log)) from None
    finally:
        logging.getLogger("papermill").removeHandler(handler)
        if kernel_log.exists() and not kernel_log.stat().st_size:
            kernel_log.unlink()
    return time.monotonic() - start


def kernel_log_path(executed: Path) -> Path:
    """Where a stage's kernel process writes its own stderr: beside the executed notebook, NN_name.kernel.log."""
    return executed.with_name(executed.name.split(".")[0] + ".kernel.log")


def _kernel_log_hint(kernel_log: Path) -> str:
    return f"\n  the kernel's own log: {kernel_log}" if kernel_log.exists() and kernel_log.stat().st_size else ""


def _kernel_writing_stderr_to(log_path: Path) -> type:
    """A jupyter_client kernel manager whose kernel process writes its stderr to `log_path` (appending)."""
    from jupyter_client.manager import AsyncKernelManager

    class KernelWithLoggedStderr(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
            with open(log_path, "ab") as log:  # the kernel process holds its own copy of the descriptor
                kw["stderr"] = log
                await super()._async_launch_kernel(kernel_cmd, **kw)

    return KernelWithLoggedStderr


def export_report(run_path: Path, run: str) -> Path:
    """outputs/<run>/05_report.ipynb → outputs/<run>/report.html (code hidden, images embedded)."""
    from salesgan_utils import report

    try:
        written = report.export_html(run_path / f"{paths.STAGES[5]}.ipynb", run_path / paths.REPORT_FILE,
                                     title=f"SalesGAN report — run {run}")
    except Exception as error:  # noqa: BLE001  (nbconvert's errors are many; each becomes one line)
        raise PipelineError(f"the HTML export of {run_path / (paths.STAGES[5] + '.ipynb')} failed: "
                            f"{type(error).__name__}: {error}", code=1) from None
    return written


def prepare(invocation: Invocation, caller_dir: Path | None = None) -> tuple[dict[str, dict], Path]:
    """Validate the profile and every stage's parameters (all five: the plan needs them) before anything runs.

    Returns:
        ({stage name: parameters} of all five stages, the run folder).

    Raises:
        PipelineError: a bad profile or parameter (one line naming it and the fix).
    """
    try:
        profile = params.validate(params.load_profile(invocation.profile))
    except params.ParamsError as error:
        raise PipelineError(str(error)) from None
    values = overrides(invocation, profile, caller_dir)
    chosen = stage_parameters(invocation, profile, values, stages=list(paths.STAGES.values()))
    return chosen, run_folder(invocation, values)


def print_plan(invocation: Invocation, chosen: dict[str, dict], run_path: Path, calibrate: bool,
               strict: bool = False, reuse: bool = False):
    """Print the plan (salesgan_utils.plan) and its budget warnings; return it, or None when it could not be made.

    Args:
        calibrate: time GAN steps and LSTM batches (seconds to tens of seconds); False prints the work only.
        strict: raise on a failure (`--plan`); otherwise a failure is one warning line and the stages run, stage 01
            then reporting a data problem with its own message.
        reuse: use an earlier calibration of the same sizes on this machine when there is one (`plan.make_plan`).
    """
    from salesgan_utils import plan

    try:
        result = plan.make_plan(chosen, invocation.profile_name, invocation.stages, run_path, calibrate=calibrate,
                                reuse=reuse)
    except Exception as error:  # noqa: BLE001  (the data's own errors are stage 01's to report)
        message = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        if strict:
            raise PipelineError(f"could not make the plan: {message}", code=1) from None
        log(f"plan: not available ({message}); running the stages as asked")
        return None
    for line in result.text().splitlines():
        log(line)
    for line in result.warnings():
        warn(line)
    return result


def run_pipeline(invocation: Invocation, caller_dir: Path | None = None, kernel: str = KERNEL,
                 notebooks: Path | None = None, verbose: bool = False) -> Path:
    """Validate every stage's parameters and the earlier stages the selected ones read, say which data the run
    uses, print the plan, then run the selected stages in order, export the report and print the result.

    The console gets one line per stage start and end, the stages' progress lines and the result; `verbose`
    streams every cell's output too.

    Returns:
        The run folder.

    Raises:
        PipelineError: bad parameters or an unwritable run folder (before any stage runs), or a failed export.
        StageFailure: a stage failed; its time is recorded as "failed".
    """
    notebooks = Path(notebooks or params.notebooks_dir())
    for name in paths.STAGES.values():
        if not (notebooks / f"{name}.ipynb").is_file():
            raise PipelineError(f"notebooks/{name}.ipynb is missing (and no notebooks/{name}.py to build it from)",
                                code=1)
    chosen, run_path = prepare(invocation, caller_dir)
    guard.check_run_folder(run_path)
    check_writable(run_path)
    check_writable(run_path / paths.PARAMS_FOLDER)
    note = guard.lock_run(run_path)  # one run per folder; held until this process exits
    if note:
        warn(note)

    check_prerequisites(invocation, chosen, run_path)

    started = time.monotonic()
    log(f"run '{invocation.run}' with profile '{invocation.profile_name}' → {run_path}")
    announce_data(chosen[paths.STAGES[1]], run_path)
    print_plan(invocation, chosen, run_path, calibrate=True, reuse=True)
    for name in invocation.stages:
        executed = run_path / f"{name}.ipynb"
        staged = guard.staged_notebook(executed)  # replaces the executed notebook only on success
        log(f"{name} …")
        # The kernel writes into NN_name.partial/ (paths.stage_dir); NN_name/ and params/NN_name.yaml are replaced
        # only once the stage has succeeded, so a killed, failed or disk-full rerun keeps the previous result.
        os.environ[paths.STAGE_PARTIAL_ENV] = "1"
        start = seconds = time.monotonic()
        try:
            seconds = run_stage(notebooks / f"{name}.ipynb", staged, chosen[name], kernel=kernel,
                                verbose=verbose)
            paths.publish_stage(run_path, paths.STAGES_BY_NAME[name])
            guard.publish_notebook(staged, executed)
        except StageFailure as failure:
            failure.executed = guard.keep_failed_notebook(staged, executed)
            failure.cause += _record_failed(run_path, name, failure.seconds)
            raise
        except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM (guard.stop_on_signals): the same report
            elapsed = time.monotonic() - start
            raise StageFailure(name, elapsed, guard.keep_failed_notebook(staged, executed),
                               guard.interrupt_cause(stop) + _record_failed(run_path, name, elapsed),
                               interrupted=True) from None
        except OSError as error:
            elapsed = time.monotonic() - start if seconds == start else seconds
            raise StageFailure(name, elapsed, guard.keep_failed_notebook(staged, executed),
                               f"could not publish {name}: {error}" + _record_failed(run_path, name, elapsed)
                               ) from None
        finally:
            os.environ.pop(paths.STAGE_PARTIAL_ENV, None)
        paths.write_stage_params(run_path, paths.STAGES_BY_NAME[name], chosen[name])
        paths.record_stage_time(run_path, name, seconds, "ok")
        log(f"{name} done in {duration(seconds)}")
    report_path = export_report(run_path, invocation.run) if paths.STAGES[5] in invocation.stages else None
    for line in result_lines(run_path, time.monotonic() - started, report_path):
        log(line)
    return run_path


def check_prerequisites(invocation: Invocation, chosen: dict[str, dict], run_path: Path) -> None:
    """Before any stage runs: every earlier stage of this run that the selected stages read (`paths.STAGE_INPUTS`)
    and that this invocation does not run is a finished stage. A folder given explicitly (a `*_stage_dir`
    parameter) is the notebook's to check, with its own message.

    Raises:
        PipelineError: one line naming the missing stage and the `--from` that works.
    """
    selected = {paths.STAGES_BY_NAME[name] for name in invocation.stages}

    def reads(stages: set[int]) -> set[int]:  # the stages whose folder in this run `stages` read
        return {k for n in stages for key, k in paths.STAGE_INPUTS[n].items() if not chosen[paths.STAGES[n]].get(key)}

    missing: set[int] = set()
    needed = reads(selected) - selected
    while needed:
        stage = min(needed)
        needed.discard(stage)
        if not paths.stage_finished(paths.stage_dir(run_path, stage), stage):
            missing.add(stage)
            needed |= reads({stage}) - selected - missing
    if missing:
        first = min(missing)
        asked = (f"--only {invocation.only:02d}" if invocation.only is not None
                 else f"--from {invocation.from_stage:02d}")
        resume = invocation.resume_command(paths.STAGES[first]).replace("--only", "--from")
        raise PipelineError(f"{asked} reads the outputs of stage {first:02d} ({paths.STAGES[first]}), but "
                            f"{paths.stage_dir(run_path, first)} is not a finished stage {first:02d}; run from there: "
                            f"{resume}")


def announce_data(settings01: dict, run_path: Path) -> None:
    """Say which data the run uses before any work: a loud banner when no Olist tables were found and demo data
    are about to be used without being asked for, with how to point the run at Olist."""
    try:
        source = paths.discover_data(settings01.get("data_dir") or None)
    except (OSError, ValueError):  # stage 01 reports a data problem with its own message
        return
    if not source.is_demo:
        log(f"data: REAL Olist tables in {source.folder}")
    elif str(settings01.get("data_dir")) == paths.DEMO or os.environ.get("SALESGAN_DATA_DIR") == paths.DEMO:
        log("data: DEMO data, as asked (--data demo): generated tables, not Olist")
    else:
        banner(["NO OLIST DATA FOUND: this run uses generated DEMO data; its numbers say nothing about real sales.",
                f"Looked in: {source.reason}.",
                "To use Olist: bash run_all.sh --data /path/to/olist (the unzipped Kaggle dataset "
                "olistbr/brazilian-ecommerce), or put its CSVs in data/raw/."])


def result_lines(run_path: Path, seconds: float, report_path: Path | None) -> list[str]:
    """The run's last lines: the verdict (one sentence per number of real windows), the data source, the total
    time and the report's path."""
    import json

    from salesgan_utils import answer

    def read(stage: int, name: str):
        path = paths.stage_dir(run_path, stage) / name
        try:
            return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        except (OSError, ValueError):
            return None

    summary, metadata = read(4, "summary.json"), read(1, "metadata.json")
    lines = ["result:"] + [f"  {sentence}" for sentence in answer.verdict_sentences(summary)]
    data = answer.data_line(metadata)
    lines.append(f"data: {data}" + (" — DEMO: these numbers say nothing about real sales" if metadata and
                                    metadata.get("is_demo") else ""))
    lines.append(f"total time: {duration(seconds)} (per stage: {run_path / paths.STAGE_TIMES_FILE})")
    lines.append(f"report: {report_path}" if report_path else f"run folder: {run_path}")
    return lines


# ------------------------------------------------------------------------------------------- tests and nbval
def pytest_command(pytest_args: list[str], root: Path | None = None) -> list[str]:
    """pytest with nbval over tests/, or over the test paths among `pytest_args` when it names some
    (`--test -- tests/code -q` runs the unit tests only, not everything plus them)."""
    root = Path(root or paths.project_root())
    named = [a for a in pytest_args if not a.startswith("-") and (root / a.split("::")[0]).exists()]
    return [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
            *([] if named else ["tests/"]), *pytest_args]


def run_tests(pytest_args: list[str]) -> int:
    """The test suite (nbval compares tests/notebooks/reference/*.ipynb); pytest's exit status."""
    import subprocess

    command = pytest_command(pytest_args)
    log(f"running the test suite: {shlex.join(['pytest', *command[3:]])}")
    # A child process: pytest imports the package afresh and its conftest sets the threads and outputs root.
    rc = subprocess.run(command, cwd=paths.project_root()).returncode
    log(f"pytest exited with {rc}")
    return rc


def refresh_nbval(kernel: str = KERNEL) -> Path:
    """Run the smoke profile on demo data into a scratch outputs root and copy its executed notebooks into
    tests/notebooks/reference/ (review the diff, then commit)."""
    import shutil
    import tempfile

    reference = paths.project_root() / "tests" / "notebooks" / "reference"
    previous = os.environ.get("SALESGAN_OUTPUTS")
    with tempfile.TemporaryDirectory(prefix="salesgan-nbval.") as scratch:
        log(f"running the smoke profile on demo data into {scratch} to refresh the nbval references")
        os.environ["SALESGAN_OUTPUTS"] = scratch  # the kernels inherit it
        try:
            run_path = run_pipeline(resolve(Options(profile="smoke", run="nbval-ref", data=paths.DEMO)),
                                    kernel=kernel)
        finally:
            if previous is None:
                os.environ.pop("SALESGAN_OUTPUTS", None)
            else:
                os.environ["SALESGAN_OUTPUTS"] = previous
        reference.mkdir(parents=True, exist_ok=True)
        for name in paths.STAGES.values():
            shutil.copyfile(run_path / f"{name}.ipynb", reference / f"{name}.ipynb")
    log(f"copied {len(paths.STAGES)} executed notebooks into {reference} (review the diff, then commit)")
    return reference


# ------------------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    """Run what the command line asks for; every error is one line with the fix, never a traceback.

    Returns:
        The exit status: 0, 1 (a stage, the export, the file system) or 2 (the command line or the parameters).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["--preflight"]:
            print(preflight(argv[1:]))
            return 0
        options = parse_args(argv)
        if options.mode == "help":
            print(USAGE, end="")
            return 0
        invocation = resolve(options)
        # The package resolves notebooks/, params/ and outputs/ from this checkout even when another clone's copy
        # is installed; SALESGAN_PIPELINE tells the notebooks (params.notebook_settings) that papermill injected
        # the complete parameters, so no profile is re-applied on top of them. The kernels inherit both.
        os.environ.setdefault("SALESGAN_ROOT", str(paths.project_root()))
        os.environ[params.PIPELINE_ENV] = "1"
        sync_notebooks()
        if options.mode == "setup":
            log("set-up complete; run the suite with: bash run_all.sh --profile smoke")
            return 0
        if options.mode == "test":
            return run_tests(options.pytest_args)
        if options.mode == "refresh-nbval":
            refresh_nbval()
            return 0
        if options.mode == "plan":
            chosen, run_path = prepare(invocation)
            print_plan(invocation, chosen, run_path, calibrate=True, strict=True)
            return 0
        guard.stop_on_signals()
        try:
            run_pipeline(invocation, verbose=options.verbose)
        except StageFailure as failure:
            print(failure_report(failure.stage, failure.seconds, failure.cause, failure.executed,
                                 failure.executed.parent, invocation.resume_command(failure.stage)),
                  file=sys.stderr, flush=True)
            return 130 if failure.interrupted else 1
        except KeyboardInterrupt as stop:  # between stages, or before the first one
            error_line(f"{guard.interrupt_cause(stop)}; rerun with: "
                       f"{invocation.resume_command(invocation.stages[0])}")
            return 130
        return 0
    except PipelineError as error:
        error_line(str(error))
        return error.code


if __name__ == "__main__":
    sys.exit(main())

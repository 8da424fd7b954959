"""The suite's orchestration: the command line of `run_all.sh`, stage selection, notebook twins, stage parameters,
papermill per stage, failure reports with the resume command, stage wall times, and the report export.

`run_all.sh` does only the set-up that must run before Python dependencies exist (venv, torch, requirements,
kernel, Chromium), then `exec python -m salesgan_utils.pipeline "$@"`. Before the set-up it calls
`python3 -m salesgan_utils.pipeline --preflight "$@"`: one parser checks the command line, so a bad option fails
in a second rather than after a minute of set-up. That is why this module imports only the standard library,
`paths` and `params` at the top; papermill, jupytext and pytest are imported where they are used.

Command line::

    python -m salesgan_utils.pipeline [--profile P] [--data DIR] [--run NAME] [--set K=V ...] [--from NN | --only NN]
    python -m salesgan_utils.pipeline --test [-- PYTEST_ARGS]
    python -m salesgan_utils.pipeline --help
"""
from __future__ import annotations

import logging
import os
import re
import shlex
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from salesgan_utils import params, paths

STAGE_TIMES_FILE = "stage_times.json"
PARAMS_FOLDER = "params"  # outputs/<run>/params/NN_name.yaml: the parameters each stage ran with
REPORT_FILE = "report.html"
KERNEL = os.environ.get("SALESGAN_KERNEL", "salesgan")
# Set by run_all.sh before it changes into the checkout: --data and --profile paths are relative to where the
# command was typed.
CALLER_DIR_ENV = "SALESGAN_CALLER_DIR"
RUN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
VALUE_OPTIONS = {"--profile": "a value", "--data": "a folder", "--run": "a name", "--set": "KEY=VALUE",
                 "--from": "a stage", "--only": "a stage"}
# Parameters that have their own option (checked and resolved there); --set may not set them.
OPTION_KEYS = {"run": "--run NAME", "data_dir": "--data DIR", "profile": "--profile P"}
FLAGS = {"--setup": ("mode", "setup"), "--no-setup": ("setup", False), "--test": ("mode", "test"),
         "--refresh-nbval": ("mode", "refresh-nbval"), "--plan": ("mode", "plan"), "-h": ("mode", "help"),
         "--help": ("mode", "help")}

USAGE = """\
Usage: bash run_all.sh [options]

Runs set-up (once), then the notebooks 01_eda_preprocess → 02_train_gan → 03_generate_samples →
04_augmentation_benchmark → 05_report with papermill, then exports outputs/<run>/report.html.

Options:
  --profile P      smoke | quick | full | kaggle, or the path of a params YAML file.
                   Default: quick (kaggle on Kaggle). smoke is the tiny CPU profile used by the tests.
  --data DIR       folder holding the Olist CSVs (.csv or .csv.gz); "demo" forces the generated demo data.
                   Default: discovery (SALESGAN_DATA_DIR, the Kaggle input, data/raw/, else demo data).
  --run NAME       run name: outputs go to outputs/NAME/ (default: the profile name); letters, digits, . - _
  --set KEY=VALUE  override one notebook parameter (repeatable), e.g. --set max_epochs=3
                   (--set outputs_dir=DIR moves the whole run to DIR/NAME/, as env SALESGAN_OUTPUTS does)
  --from NN        start at stage NN (01..05); earlier stages' outputs of the same run are reused.
  --only NN        run stage NN alone (rerun one stage).
  --plan           print per stage the work and an estimated wall time on this machine (a short calibration:
                   a few GAN steps and LSTM batches), the total and the budget split, then exit. Every run
                   prints the plan first (timed when the profile has a time_budget_min) and warns when the
                   estimate exceeds the budget.
  --setup          set-up only: environment, packages, Jupyter kernel, notebook twins.
  --no-setup       skip the set-up checks and use the current python environment as it is.
  --test [-- ARGS] set-up (plus Chromium for the browser test where possible), then the whole test suite;
                   ARGS after -- go to pytest. Exits with pytest's status.
  --refresh-nbval  run the smoke profile on demo data and copy its executed notebooks into
                   tests/notebooks/reference/ (the nbval references).
  -h, --help       this text.

Environment: SALESGAN_OUTPUTS (outputs root), SALESGAN_DATA_DIR, SALESGAN_KAGGLE_ROOT, SALESGAN_SETUP=skip
(as --no-setup), SALESGAN_TORCH_INDEX (a pip index URL for torch, e.g. https://download.pytorch.org/whl/cpu),
SALESGAN_KERNEL.
"""


class PipelineError(Exception):
    """A one-line error that says what to do; `code` is the exit status (2: the command line or the parameters,
    1: a stage, the export or the file system)."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------------------------- command line
@dataclass
class Options:
    """The command line as typed (paths not yet resolved)."""

    profile: str = ""
    data: str = ""
    run: str | None = None  # None: the profile's name; "" is a blank name, refused
    sets: list[str] = field(default_factory=list)
    from_stage: int | None = None
    only: int | None = None
    mode: str = "pipeline"  # pipeline | plan | setup | test | refresh-nbval | help
    setup: bool = True
    pytest_args: list[str] = field(default_factory=list)


def stage_arg(value: str) -> int:
    """1..5 from "3", "03" or "03_generate_samples"."""
    try:
        return params.stage_number(value)
    except params.ParamsError as error:
        raise PipelineError(str(error)) from None


def parse_args(argv: list[str], env: dict[str, str] | None = None) -> Options:
    """Read run_all.sh's options (see USAGE). `--name=value` is accepted beside `--name value`.

    Raises:
        PipelineError: an unknown option, a missing value, --from with --only, or arguments after `--` without
            --test.
    """
    env = os.environ if env is None else env
    options = Options(setup=env.get("SALESGAN_SETUP", "") != "skip")  # e.g. an image built with everything
    rest: list[str] | None = None
    items = list(argv)
    while items:
        item = items.pop(0)
        if item == "--":
            rest = items
            break
        name, has_inline, inline = item.partition("=") if item.startswith("--") else (item, "", "")
        if name in VALUE_OPTIONS:
            if has_inline:
                value = inline
            elif items:
                value = items.pop(0)
            else:
                raise PipelineError(f"{name} needs {VALUE_OPTIONS[name]}")
            if name == "--set":
                if "=" not in value:
                    raise PipelineError(f"--set {value!r}: write KEY=VALUE, e.g. --set max_epochs=3")
                options.sets.append(value)
            elif name in ("--from", "--only"):
                setattr(options, "from_stage" if name == "--from" else "only", stage_arg(value))
            else:
                setattr(options, name[2:], value)
        elif item in FLAGS:
            setattr(options, *FLAGS[item])
            if options.mode == "help":
                return options
        else:
            raise PipelineError(f"unknown option {item!r}: see bash run_all.sh --help")
    if options.from_stage is not None and options.only is not None:
        raise PipelineError("use --from or --only, not both")
    if rest is not None:
        if options.mode != "test":
            raise PipelineError("arguments after -- are for --test (pytest): bash run_all.sh --test -- ARGS")
        options.pytest_args = rest
    return options


@dataclass
class Invocation:
    """A pipeline run resolved from `Options`: absolute paths, a checked run name, the selected stages."""

    profile: str  # a profile name, or the absolute path of a params file
    profile_name: str
    run: str
    data: str  # "" (discover), "demo", or an absolute folder
    sets: list[str]
    stages: list[str]
    from_stage: int | None = None
    only: int | None = None

    def resume_command(self, stage: str) -> str:
        """The command that reruns the failed invocation from `stage`: same profile, run, data and every --set
        (an --only run resumes with --only)."""
        args = ["bash", "run_all.sh", "--profile", self.profile, "--run", self.run]
        if self.data:
            args += ["--data", self.data]
        for item in self.sets:
            args += ["--set", item]
        args += ["--only" if self.only is not None else "--from", stage[:2]]
        return shlex.join(args)


def default_profile() -> str:
    return "kaggle" if paths.is_kaggle() else "quick"


def resolve_profile(text: str, caller_dir: Path) -> tuple[str, str]:
    """(profile argument, profile name): a name in params/, or a YAML path made absolute from `caller_dir`."""
    text = text or default_profile()
    if text.endswith((".yaml", ".yml")) or "/" in text:
        path = Path(text).expanduser()
        path = path if path.is_absolute() else caller_dir / path
        if not path.is_file():
            raise PipelineError(f"params file '{path}' not found: pass a profile name "
                                f"({' '.join(params.available_profiles())}) or an existing YAML file")
        return str(path), path.stem
    if not (params.profiles_dir() / f"{text}.yaml").is_file():
        available = " ".join(params.available_profiles()) or "none"
        raise PipelineError(f"unknown profile '{text}': available profiles are: {available} (params/*.yaml), "
                            f"or pass a YAML path")
    return text, text


def check_run_name(run: str) -> str:
    """`run` when it is a plain folder name (letters, digits, `.`, `-`, `_`; not `.` or `..`)."""
    if not run.strip():
        raise PipelineError(f"--run {run!r} is blank: give the run a name, e.g. --run trial")
    if not RUN_NAME.fullmatch(run) or run in (".", ".."):
        raise PipelineError(f"--run {run!r} is not a plain folder name: use letters, digits, '.', '-' or '_' "
                            f"(no path separators or '..'), e.g. --run trial")
    return run


def resolve_data(text: str, caller_dir: Path) -> str:
    if not text or text == paths.DEMO:
        return text
    folder = Path(text).expanduser()
    folder = folder if folder.is_absolute() else caller_dir / folder
    if not folder.is_dir():
        raise PipelineError(f"--data '{folder}' is not a folder: pass the folder holding "
                            f"olist_orders_dataset.csv[.gz], or 'demo'")
    return str(folder.resolve())  # the kernels run elsewhere: an absolute path


def select_stages(from_stage: int | None = None, only: int | None = None) -> list[str]:
    """The stage names to run, in order: all, from `from_stage` on, or `only`."""
    return [name for number, name in paths.STAGES.items()
            if (only is None or number == only) and (from_stage is None or number >= from_stage)]


def resolve(options: Options, caller_dir: Path | None = None) -> Invocation:
    """Check the profile, run name and data folder of `options` (standard library only: runs before set-up)."""
    caller_dir = Path(caller_dir or os.environ.get(CALLER_DIR_ENV) or os.getcwd())
    profile, profile_name = resolve_profile(options.profile, caller_dir)
    run = check_run_name(profile_name if options.run is None else options.run)
    return Invocation(profile=profile, profile_name=profile_name, run=run,
                      data=resolve_data(options.data, caller_dir), sets=list(options.sets),
                      stages=select_stages(options.from_stage, options.only),
                      from_stage=options.from_stage, only=options.only)


def preflight(argv: list[str]) -> str:
    """What set-up run_all.sh should do for `argv`: "help", "none", "setup" or "setup chromium".

    Raises:
        PipelineError: the command line is wrong (checked with the standard library only).
    """
    options = parse_args(argv)
    if options.mode == "help":
        return "help"
    resolve(options)
    if not options.setup:
        return "none"
    return "setup chromium" if options.mode == "test" else "setup"


# ----------------------------------------------------------------------------------------------------- output
def log(message: str) -> None:
    print(f"[run_all {time.strftime('%H:%M:%S')}] {message}", flush=True)


def error_line(message: str) -> None:
    print(f"[run_all] ERROR: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- notebook twins
def _cell_inputs(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def twin_state(py: Path, ipynb: Path) -> str:
    """"in sync" (same cells), "stale" (the .ipynb is missing or older than its .py, or cells differ and the .py
    is newer) or "conflict" (the .ipynb was edited after its .py and their cells differ)."""
    import jupytext

    if ipynb.exists() and _cell_inputs(jupytext.read(ipynb)) == _cell_inputs(jupytext.read(py)):
        return "in sync"
    if ipynb.exists() and ipynb.stat().st_mtime > py.stat().st_mtime:
        return "conflict"
    return "stale"


def sync_notebooks(folder: Path | None = None) -> list[Path]:
    """Regenerate each stage's `.ipynb` from its percent `.py` source (inputs replaced, outputs kept).

    One way only, .py → .ipynb: `jupytext --sync` would take whichever twin is newer, and after a clone or a copy
    that can be a stale .ipynb overwriting the .py source. An .ipynb edited after its .py (in Jupyter) with
    different cells is reported, not overwritten.

    Returns:
        The `.py` sources whose twins were rewritten.

    Raises:
        PipelineError: a twin was edited after its source (the message gives both ways out).
    """
    folder = Path(folder or params.notebooks_dir())
    sources = [folder / f"{name}.py" for name in paths.STAGES.values() if (folder / f"{name}.py").is_file()]
    states = {py: twin_state(py, py.with_suffix(".ipynb")) for py in sources}
    conflicts = [py for py, state in states.items() if state == "conflict"]
    if conflicts:
        py = conflicts[0]
        ipynb = py.with_suffix(".ipynb")
        raise PipelineError(f"{ipynb} was edited after {py} and their cells differ: keep the notebook's edits "
                            f"with `python -m jupytext --to py:percent {ipynb}`, or discard them with "
                            f"`python -m jupytext --to ipynb --update {py}`", code=1)
    stale = [py for py, state in states.items() if state == "stale"]
    if stale:
        from jupytext.cli import jupytext

        log(f"updating the .ipynb twins of: {' '.join(str(py) for py in stale)}")
        jupytext(["--quiet", "--to", "ipynb", "--update", *map(str, stale)])
    return stale


# ----------------------------------------------------------------------------------------------- stage times
def read_stage_times(run_path: str | Path) -> dict[str, dict]:
    """`outputs/<run>/stage_times.json` as {stage name: {"seconds", "status", "finished"}}; {} when absent."""
    import json

    path = Path(run_path) / STAGE_TIMES_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def record_stage_time(run_path: str | Path, stage: str, seconds: float, status: str = "ok") -> Path:
    """Add or replace one stage's wall time in `stage_times.json` (other stages' entries are kept, so a
    `--only NN` rerun updates just its own line).

    Args:
        run_path: `outputs/<run>/`.
        stage: stage name, e.g. "02_train_gan".
        seconds: wall time of the papermill call (kernel start included).
        status: "ok" or "failed".

    Returns:
        The path of `stage_times.json`.
    """
    times = read_stage_times(run_path)
    times[stage] = {"seconds": round(float(seconds), 1), "status": status,
                    "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return paths.write_json_atomic(Path(run_path) / STAGE_TIMES_FILE, dict(sorted(times.items())))


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
    caller_dir = Path(caller_dir or os.environ.get(CALLER_DIR_ENV) or os.getcwd())
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


def write_stage_parameters(run_path: Path, chosen: dict[str, dict]) -> None:
    import yaml

    for name, values in chosen.items():
        paths.write_text_atomic(run_path / PARAMS_FOLDER / f"{name}.yaml", yaml.safe_dump(values, sort_keys=False))


# ----------------------------------------------------------------------------------------------------- stages
class StageFailure(Exception):
    """A stage that did not finish: its name, wall time, executed notebook and the cause as one line."""

    def __init__(self, stage: str, seconds: float, executed: Path, cause: str):
        super().__init__(f"{stage}: {cause}")
        self.stage, self.seconds, self.executed, self.cause = stage, seconds, executed, cause


def _papermill_logging() -> logging.Handler:
    """Cell output on stderr as papermill's command line shows it (message only)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("papermill")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler


def run_stage(notebook: Path, executed: Path, parameters: dict, kernel: str = KERNEL,
              cwd: Path | None = None) -> float:
    """Execute one notebook with papermill in this process.

    Returns:
        The wall time in seconds (kernel start included).

    Raises:
        StageFailure: a cell raised (the cause is the cell's own error, not papermill's traceback) or the kernel
            could not run (died, or is not registered).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    start = time.monotonic()
    handler = _papermill_logging()
    try:
        papermill.execute_notebook(str(notebook), str(executed), parameters=parameters, kernel_name=kernel,
                                   language="python", log_output=True, progress_bar=True,
                                   cwd=str(cwd or paths.project_root()))
    except PapermillExecutionError as error:
        raise StageFailure(notebook.stem, time.monotonic() - start, executed,
                           f"{error.ename}: {error.evalue}") from None
    except Exception as error:  # noqa: BLE001  (a dead or missing kernel, an unreadable notebook: one line)
        raise StageFailure(notebook.stem, time.monotonic() - start, executed,
                           f"papermill: {type(error).__name__}: {error}") from None
    finally:
        logging.getLogger("papermill").removeHandler(handler)
    return time.monotonic() - start


def failure_report(failure: StageFailure, run_path: Path, invocation: Invocation) -> str:
    """The lines printed when a stage fails: its name, the cause, the executed notebook, and the resume command."""
    return "\n".join([
        "",
        f"[run_all] STAGE FAILED: {failure.stage} (after {failure.seconds:.1f}s)",
        f"  {failure.cause}",
        f"[run_all] executed notebook with the traceback: {failure.executed}",
        f"[run_all] earlier stages' outputs and this stage's previous ones in {run_path} are untouched; fix the "
        f"cause, then rerun from here:",
        f"[run_all]   {invocation.resume_command(failure.stage)}",
    ])


def export_report(run_path: Path, run: str) -> Path:
    """outputs/<run>/05_report.ipynb → outputs/<run>/report.html (code hidden, images embedded)."""
    from salesgan_utils import report

    try:
        written = report.export_html(run_path / f"{paths.STAGES[5]}.ipynb", run_path / REPORT_FILE,
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
               strict: bool = False):
    """Print the plan (salesgan_utils.plan) and its budget warnings; return it, or None when it could not be made.

    Args:
        calibrate: time GAN steps and LSTM batches (seconds to tens of seconds); False prints the work only.
        strict: raise on a failure (`--plan`); otherwise a failure is one warning line and the stages run, stage 01
            then reporting a data problem with its own message.
    """
    from salesgan_utils import plan

    try:
        result = plan.make_plan(chosen, invocation.profile_name, invocation.stages, run_path, calibrate=calibrate)
    except Exception as error:  # noqa: BLE001  (the data's own errors are stage 01's to report)
        message = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        if strict:
            raise PipelineError(f"could not make the plan: {message}", code=1) from None
        log(f"plan: not available ({message}); running the stages as asked")
        return None
    for line in result.text().splitlines():
        log(line)
    for line in result.warnings():
        print(f"[run_all {time.strftime('%H:%M:%S')}] WARNING: {line}", file=sys.stderr, flush=True)
    return result


def run_pipeline(invocation: Invocation, caller_dir: Path | None = None, kernel: str = KERNEL,
                 notebooks: Path | None = None) -> Path:
    """Validate every stage's parameters, print the plan, then run the selected stages in order and export the
    report.

    The plan is timed (calibrated) only when the profile has a budget (`time_budget_min`): its warning needs the
    estimate, and runs without a budget (the smoke profile of the tests) stay fast.

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
    check_writable(run_path)
    check_writable(run_path / PARAMS_FOLDER)

    log(f"run '{invocation.run}' with profile '{invocation.profile_name}' → {run_path}")
    budget = float(chosen[paths.STAGES[2]].get("time_budget_min", 0) or 0)
    print_plan(invocation, chosen, run_path, calibrate=budget > 0)
    log(f"stages: {' '.join(invocation.stages)}")
    for name in invocation.stages:
        executed = run_path / f"{name}.ipynb"
        log(f"stage {name[:2]}: {name} (executed notebook: {executed})")
        # The kernel writes into NN_name.partial/ (paths.stage_dir); NN_name/ and params/NN_name.yaml are replaced
        # only once the stage has succeeded, so a killed, failed or disk-full rerun keeps the previous result.
        os.environ[paths.STAGE_PARTIAL_ENV] = "1"
        try:
            seconds = run_stage(notebooks / f"{name}.ipynb", executed, chosen[name], kernel=kernel)
            paths.publish_stage(run_path, paths.STAGES_BY_NAME[name])
        except StageFailure as failure:
            record_stage_time(run_path, name, failure.seconds, "failed")
            raise
        except OSError as error:
            record_stage_time(run_path, name, seconds, "failed")
            raise StageFailure(name, seconds, executed, f"could not publish {name}: {error}") from None
        finally:
            os.environ.pop(paths.STAGE_PARTIAL_ENV, None)
        write_stage_parameters(run_path, {name: chosen[name]})
        record_stage_time(run_path, name, seconds, "ok")
        log(f"stage {name[:2]} done in {seconds:.1f}s")
    if paths.STAGES[5] in invocation.stages:
        log(f"report: {export_report(run_path, invocation.run)}")
    log(f"done: run '{invocation.run}' in {run_path} (wall times in {run_path / STAGE_TIMES_FILE})")
    return run_path


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
        try:
            run_pipeline(invocation)
        except StageFailure as failure:
            print(failure_report(failure, failure.executed.parent, invocation), file=sys.stderr, flush=True)
            return 1
        return 0
    except PipelineError as error:
        error_line(str(error))
        return error.code


if __name__ == "__main__":
    sys.exit(main())

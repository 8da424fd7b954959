"""The command line of `run_all.sh` (see USAGE): reading it with argparse, and resolving it into an `Invocation`
(the profile, a checked run name, an absolute data folder, the stages to run, the resume command).

Standard library, `paths` and `params` only: run_all.sh checks the command line with
`python3 -m salesgan_utils.pipeline --preflight "$@"` before any set-up, so a bad option fails in a second rather
than after a minute of installing.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from salesgan_utils import params, paths
from salesgan_utils.console import PipelineError

# Set by run_all.sh before it changes into the checkout: --data and --profile paths are relative to where the
# command was typed.
CALLER_DIR_ENV = "SALESGAN_CALLER_DIR"
RUN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
# The options that take a value, and what their refusal says is missing.
VALUE_OPTIONS = {"--profile": "a value", "--data": "a folder", "--run": "a name", "--set": "KEY=VALUE",
                 "--from": "a stage", "--only": "a stage"}
# Parameters that have their own option (checked and resolved there); --set may not set them.
OPTION_KEYS = {"run": "--run NAME", "data_dir": "--data DIR", "profile": "--profile P"}
# Flags that choose what the command does, in Options.mode.
MODES = {"--setup": "setup", "--test": "test", "--refresh-nbval": "refresh-nbval", "--plan": "plan"}

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
  --verbose        stream every notebook cell's output (papermill's transcript); by default the console shows
                   one line per stage, progress lines and the result.
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
    verbose: bool = False
    pytest_args: list[str] = field(default_factory=list)


def stage_arg(value: str) -> int:
    """1..5 from "3", "03" or "03_generate_samples"."""
    try:
        return params.stage_number(value)
    except params.ParamsError as error:
        raise PipelineError(str(error)) from None


def set_arg(value: str) -> str:
    """A --set item, when it reads KEY=VALUE."""
    if "=" not in value:
        raise PipelineError(f"--set {value!r}: write KEY=VALUE, e.g. --set max_epochs=3")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse whose refusals are PipelineErrors in this command line's words (one line, exit status 2)."""

    def error(self, message: str):
        missing = re.match(r"argument (--[\w-]+)(?:/[^:]*)?: expected one argument", message)
        if missing and missing.group(1) in VALUE_OPTIONS:
            raise PipelineError(f"{missing.group(1)} needs {VALUE_OPTIONS[missing.group(1)]}")
        flag_value = re.match(r"argument ([-\w/]+): ignored explicit argument '(.*)'", message)
        if flag_value:
            raise PipelineError(f"unknown option {flag_value.group(1).split('/')[-1] + '=' + flag_value.group(2)!r}"
                                f": see bash run_all.sh --help")
        raise PipelineError(f"{message}: see bash run_all.sh --help")


def parser() -> argparse.ArgumentParser:
    """The command line of USAGE (help is USAGE itself, printed by `main`)."""
    parse = _Parser(prog="bash run_all.sh", add_help=False, allow_abbrev=False)
    parse.add_argument("--profile", default="", metavar="P")
    parse.add_argument("--data", default="", metavar="DIR")
    parse.add_argument("--run", default=None, metavar="NAME")
    parse.add_argument("--set", dest="sets", action="append", default=[], type=set_arg, metavar="KEY=VALUE")
    parse.add_argument("--from", dest="from_stage", type=stage_arg, metavar="NN")
    parse.add_argument("--only", type=stage_arg, metavar="NN")
    for flag, mode in MODES.items():
        parse.add_argument(flag, dest="mode", action="store_const", const=mode)
    parse.add_argument("--no-setup", dest="setup", action="store_false", default=None)
    parse.add_argument("--verbose", action="store_true")
    parse.add_argument("-h", "--help", dest="help", action="store_true")
    return parse


def parse_args(argv: list[str], env: dict[str, str] | None = None) -> Options:
    """Read run_all.sh's options (see USAGE). `--name=value` is accepted beside `--name value`; everything after
    the first `--` goes to pytest (with --test).

    Raises:
        PipelineError: an unknown option, a missing value, --from with --only, or arguments after `--` without
            --test.
    """
    env = os.environ if env is None else env
    argv = list(argv)
    rest = argv[argv.index("--") + 1:] if "--" in argv else None
    own = argv[:argv.index("--")] if "--" in argv else argv
    namespace, unknown = parser().parse_known_args(own)
    if namespace.help:
        return Options(mode="help")
    if unknown:
        raise PipelineError(f"unknown option {unknown[0]!r}: see bash run_all.sh --help")
    setup = env.get("SALESGAN_SETUP", "") != "skip"  # e.g. an image built with everything
    options = Options(profile=namespace.profile, data=namespace.data, run=namespace.run, sets=namespace.sets,
                      from_stage=namespace.from_stage, only=namespace.only, mode=namespace.mode or "pipeline",
                      setup=setup if namespace.setup is None else False, verbose=namespace.verbose)
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


def caller_folder(given: Path | str | None = None) -> Path:
    """Where the command was typed: `given`, else env SALESGAN_CALLER_DIR (run_all.sh), else the current folder."""
    return Path(given or os.environ.get(CALLER_DIR_ENV) or os.getcwd())


def default_profile() -> str:
    return "kaggle" if paths.is_kaggle() else "quick"


def resolve_profile(text: str, caller: Path) -> tuple[str, str]:
    """(profile argument, profile name): a name in params/, or a YAML path made absolute from `caller`."""
    text = text or default_profile()
    if text.endswith((".yaml", ".yml")) or "/" in text:
        path = Path(text).expanduser()
        path = path if path.is_absolute() else caller / path
        problem = params.profile_file_problem(path)  # a folder or a broken link is not "not found"
        if problem:
            raise PipelineError(problem)
        if not path.is_file():
            raise PipelineError(f"params file '{path}' not found: pass a profile name "
                                f"({' '.join(params.available_profiles())}) or an existing YAML file")
        return str(path), path.stem
    if not (params.profiles_dir() / f"{text}.yaml").is_file():
        if (caller / text).is_dir():
            raise PipelineError(params.profile_file_problem(caller / text))
        import difflib

        profiles = params.available_profiles()
        close = difflib.get_close_matches(text, profiles, n=1, cutoff=0.5)
        hint = f"did you mean --profile {close[0]}? " if close else ""
        raise PipelineError(f"unknown profile '{text}': {hint}available profiles are: {' '.join(profiles) or 'none'}"
                            f" (params/*.yaml), or pass a YAML path")
    return text, text


def check_run_name(run: str) -> str:
    """`run` when it is a plain folder name (letters, digits, `.`, `-`, `_`; not `.` or `..`)."""
    if not run.strip():
        raise PipelineError(f"--run {run!r} is blank: give the run a name, e.g. --run trial")
    if not RUN_NAME.fullmatch(run) or run in (".", ".."):
        raise PipelineError(f"--run {run!r} is not a plain folder name: use letters, digits, '.', '-' or '_' "
                            f"(no path separators or '..'), e.g. --run trial")
    return run


def resolve_data(text: str, caller: Path) -> str:
    """The --data value for the kernels: "" (discover), "demo", or an absolute existing folder."""
    if not text or text == paths.DEMO:
        return text
    folder = Path(text).expanduser()
    folder = folder if folder.is_absolute() else caller / folder
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
    caller = caller_folder(caller_dir)
    profile, profile_name = resolve_profile(options.profile, caller)
    run = check_run_name(profile_name if options.run is None else options.run)
    return Invocation(profile=profile, profile_name=profile_name, run=run,
                      data=resolve_data(options.data, caller), sets=list(options.sets),
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

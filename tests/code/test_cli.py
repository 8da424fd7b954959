"""The command line of run_all.sh (salesgan_utils.cli): every option, its refusals, profile/run/data resolution,
stage selection, the preflight answer and the resume command; in-process, no bash."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from salesgan_utils import cli, paths
from salesgan_utils.cli import Options
from salesgan_utils.console import PipelineError

NAMES = list(paths.STAGES.values())


# ------------------------------------------------------------------------------------------------ parse_args
def test_defaults() -> None:
    options = cli.parse_args([], env={})
    assert options == Options()
    assert options.setup and options.mode == "pipeline"


def test_every_option_is_read() -> None:
    options = cli.parse_args(["--profile", "smoke", "--data", "demo", "--run", "r1", "--set", "seed=3",
                                   "--set=max_epochs=2", "--from", "2", "--no-setup"], env={})
    assert (options.profile, options.data, options.run) == ("smoke", "demo", "r1")
    assert options.sets == ["seed=3", "max_epochs=2"]
    assert options.from_stage == 2 and options.only is None and not options.setup


@pytest.mark.parametrize("flag, mode", [("--setup", "setup"), ("--test", "test"),
                                        ("--refresh-nbval", "refresh-nbval"), ("-h", "help"), ("--help", "help")])
def test_modes(flag: str, mode: str) -> None:
    assert cli.parse_args([flag], env={}).mode == mode


def test_setup_skip_env_is_no_setup() -> None:
    assert not cli.parse_args([], env={"SALESGAN_SETUP": "skip"}).setup


def test_arguments_after_double_dash_go_to_pytest() -> None:
    options = cli.parse_args(["--test", "--", "tests/code", "-q", "--profile"], env={})
    assert options.mode == "test" and options.pytest_args == ["tests/code", "-q", "--profile"]


@pytest.mark.parametrize("value, number", [("3", 3), ("03", 3), ("03_generate_samples", 3), ("5", 5)])
def test_stage_arg(value: str, number: int) -> None:
    assert cli.parse_args(["--only", value], env={}).only == number


@pytest.mark.parametrize("args, message", [
    (["--bogus"], "unknown option '--bogus'"),
    (["--only", "07"], "unknown stage '07'"),
    (["--from", "02", "--only", "03"], "not both"),
    (["--profile"], "--profile needs a value"),
    (["--set"], "--set needs KEY=VALUE"),
    (["--set", "max_epochs"], "write KEY=VALUE"),
    (["--", "-q"], "arguments after -- are for --test"),
])
def test_bad_command_lines_fail_with_a_reason(args: list[str], message: str) -> None:
    with pytest.raises(PipelineError, match=re.escape(message)) as error:
        cli.parse_args(args, env={})
    assert error.value.code == 2


# ------------------------------------------------------------------------------------------------ resolution
def test_profile_name_and_path(tmp_path: Path) -> None:
    assert cli.resolve_profile("smoke", tmp_path) == ("smoke", "smoke")
    (tmp_path / "mine.yaml").write_text("seed: 1\n")
    assert cli.resolve_profile("mine.yaml", tmp_path) == (str(tmp_path / "mine.yaml"), "mine")
    with pytest.raises(PipelineError, match="params file .* not found"):
        cli.resolve_profile("other.yaml", tmp_path)


def test_an_unknown_profile_lists_the_available_ones(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="available profiles are: full kaggle quick smoke"):
        cli.resolve_profile("nope", tmp_path)


def test_default_profile_is_kaggle_on_kaggle(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    monkeypatch.setattr(paths, "is_kaggle", lambda: False)
    assert cli.resolve_profile("", tmp_path)[0] == "quick"
    monkeypatch.setattr(paths, "is_kaggle", lambda: True)
    assert cli.resolve_profile("", tmp_path)[0] == "kaggle"


@pytest.mark.parametrize("run", ["../../x", "a/b", "a\\b", "..", ".", "", " ", "\t", "my run", "-x", "x/"])
def test_bad_run_names_are_one_line_errors(run: str, tmp_path: Path) -> None:
    with pytest.raises(PipelineError) as error:
        cli.resolve(Options(profile="smoke", run=run), caller_dir=tmp_path)
    assert "\n" not in str(error.value) and "--run" in str(error.value)


@pytest.mark.parametrize("run", ["smoke", "trial-2", "a.b", "run_1"])
def test_plain_run_names_pass(run: str, tmp_path: Path) -> None:
    assert cli.resolve(Options(profile="smoke", run=run), caller_dir=tmp_path).run == run


def test_run_defaults_to_the_profile_name(tmp_path: Path) -> None:
    assert cli.resolve(Options(profile="smoke"), caller_dir=tmp_path).run == "smoke"


def test_data_is_made_absolute_from_the_caller_dir(tmp_path: Path) -> None:
    (tmp_path / "olist").mkdir()
    assert cli.resolve_data("olist", tmp_path) == str((tmp_path / "olist").resolve())
    assert cli.resolve_data("demo", tmp_path) == "demo"
    assert cli.resolve_data("", tmp_path) == ""
    with pytest.raises(PipelineError, match="is not a folder"):
        cli.resolve_data("/no/such/folder", tmp_path)


@pytest.mark.parametrize("from_stage, only, expected", [
    (None, None, NAMES), (2, None, NAMES[1:]), (None, 3, [NAMES[2]]), (5, None, [NAMES[4]])])
def test_select_stages(from_stage, only, expected) -> None:
    assert cli.select_stages(from_stage, only) == expected


@pytest.mark.parametrize("argv, answer", [
    (["--help"], "help"), ([], "setup"), (["--test"], "setup chromium"), (["--no-setup", "--test"], "none"),
    (["--setup"], "setup")])
def test_preflight_tells_run_all_which_set_up(argv: list[str], answer: str) -> None:
    assert cli.preflight(argv) == answer


# ------------------------------------------------------------------------------------------- resume command
def test_the_resume_command_keeps_profile_run_data_and_every_set(tmp_path: Path) -> None:
    (tmp_path / "my data").mkdir()
    invocation = cli.resolve(cli.parse_args(
        ["--profile", "smoke", "--run", "r", "--data", "my data", "--set", "max_epochs=1",
         "--set", "ratios=[0.5, 1]", "--from", "02"], env={}), caller_dir=tmp_path)
    command = invocation.resume_command("03_generate_samples")
    assert shlex.split(command) == ["bash", "run_all.sh", "--profile", "smoke", "--run", "r", "--data",
                                    str((tmp_path / "my data").resolve()), "--set", "max_epochs=1",
                                    "--set", "ratios=[0.5, 1]", "--from", "03"]


def test_an_only_run_resumes_with_only(tmp_path: Path) -> None:
    invocation = cli.resolve(Options(profile="smoke", only=3), caller_dir=tmp_path)
    assert invocation.resume_command("03_generate_samples").endswith("--only 03")


@pytest.mark.parametrize("args, message", [
    (["--setup=yes"], "unknown option '--setup=yes'"),
    (["--prof", "smoke"], "unknown option '--prof'"),  # no abbreviations: an option is spelled out
    (["stray"], "unknown option 'stray'"),
])
def test_what_argparse_refuses_reads_as_this_command_line(args: list[str], message: str) -> None:
    with pytest.raises(PipelineError, match=re.escape(message)):
        cli.parse_args(args, env={})


def test_help_wins_over_the_other_options() -> None:
    assert cli.parse_args(["--profile", "smoke", "--help"], env={}).mode == "help"


def test_the_last_mode_flag_wins_and_no_setup_keeps_it() -> None:
    options = cli.parse_args(["--setup", "--test", "--no-setup"], env={})
    assert options.mode == "test" and not options.setup


@pytest.mark.parametrize("typo, suggestion", [("smok", "smoke"), ("quik", "quick"), ("kagle", "kaggle")])
def test_a_profile_typo_suggests_the_profile_meant(typo: str, suggestion: str, tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match=f"did you mean --profile {suggestion}\\?"):
        cli.resolve_profile(typo, tmp_path)


def test_a_name_like_no_profile_suggests_none(tmp_path: Path) -> None:
    with pytest.raises(PipelineError) as error:
        cli.resolve_profile("zzzzzz", tmp_path)
    assert "did you mean" not in str(error.value)


def test_verbose_is_read() -> None:
    assert cli.parse_args(["--verbose"], env={}).verbose and not cli.parse_args([], env={}).verbose

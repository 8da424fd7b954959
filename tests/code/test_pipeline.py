"""The pipeline (salesgan_utils.pipeline): parameters, run folder, failure report, stage times and the plan through
`main`, tested in-process (no bash, no set-up). One smoke run through run_all.sh stays in tests/notebooks/."""
from __future__ import annotations

import logging
import os
import shlex
from pathlib import Path

import nbformat
import pytest

from salesgan_utils import cli, params, paths, pipeline
from salesgan_utils.cli import Options
from salesgan_utils.console import PipelineError

ROOT = Path(__file__).resolve().parents[2]
NAMES = list(paths.STAGES.values())
_real_print_plan = pipeline.print_plan  # quiet_env replaces it; the plan tests put it back


@pytest.fixture
def quiet_env(monkeypatch):
    """main() sets SALESGAN_PIPELINE and SALESGAN_ROOT for its kernels: undo that after each test, and never
    regenerate the checkout's notebook twins from a unit test."""
    for var in (params.PIPELINE_ENV, "SALESGAN_ROOT", cli.CALLER_DIR_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(pipeline, "sync_notebooks", lambda folder=None: [])
    monkeypatch.setattr(pipeline, "print_plan", lambda *args, **kwargs: None)  # tested below on its own


# ---------------------------------------------------------------------------------------------- parameters
def test_every_stage_gets_run_data_and_sets(tmp_path: Path) -> None:
    invocation = cli.resolve(Options(profile="smoke", run="r", data="demo", sets=["max_epochs=1"]),
                                  caller_dir=tmp_path)
    profile = params.load_profile("smoke")
    values = pipeline.overrides(invocation, profile, caller_dir=tmp_path)
    chosen = pipeline.stage_parameters(invocation, profile, values)
    assert list(chosen) == NAMES
    assert all(chosen[name]["run"] == "r" for name in NAMES)
    assert chosen[NAMES[0]]["data_dir"] == "demo" and chosen[NAMES[1]]["max_epochs"] == 1
    assert "max_epochs" not in chosen[NAMES[0]]


def test_outputs_dir_moves_the_whole_run(tmp_path: Path) -> None:
    invocation = cli.resolve(Options(profile="smoke", run="r", sets=["outputs_dir=elsewhere"]),
                                  caller_dir=tmp_path)
    profile = params.load_profile("smoke")
    values = pipeline.overrides(invocation, profile, caller_dir=tmp_path)
    chosen = pipeline.stage_parameters(invocation, profile, values)
    assert pipeline.run_folder(invocation, values) == tmp_path / "elsewhere" / "r"
    assert {chosen[name]["outputs_dir"] for name in NAMES} == {str(tmp_path / "elsewhere")}


def test_a_bad_set_names_the_parameter(tmp_path: Path) -> None:
    invocation = cli.resolve(Options(profile="smoke", sets=["horizon=0"]), caller_dir=tmp_path)
    profile = params.load_profile("smoke")
    with pytest.raises(PipelineError, match="`horizon`.*at least 1"):
        pipeline.stage_parameters(invocation, profile, pipeline.overrides(invocation, profile, tmp_path))


def test_an_unwritable_run_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("")
    with pytest.raises(PipelineError, match="is not writable") as error:
        pipeline.check_writable(tmp_path / "a_file" / "run")
    assert "\n" not in str(error.value) and error.value.code == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_run_folder_is_one_line(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    run.chmod(0o555)
    try:
        with pytest.raises(PipelineError, match="not writable"):
            pipeline.check_writable(run)
    finally:
        run.chmod(0o755)


def finished_stage(run_path: Path, stage: int) -> Path:
    """Stage `stage`'s folder in `run_path` as a finished pipeline stage leaves it (one file, the record)."""
    partial = run_path / (paths.STAGES[stage] + paths.PARTIAL_SUFFIX)
    partial.mkdir(parents=True)
    (partial / "artifact.txt").write_text("x")
    return paths.publish_stage(run_path, stage)


# ---------------------------------------------------------------------------------------- failing stage
def _raising_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters = nbformat.v4.new_code_cell("value = 0")
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [parameters, nbformat.v4.new_code_cell("raise ValueError(f'our message, value {value}')")]
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_a_raising_notebook_fails_with_the_cells_own_error(tmp_path: Path) -> None:
    notebook = _raising_notebook(tmp_path / "fake.ipynb")
    executed = tmp_path / "out" / "fake.ipynb"
    executed.parent.mkdir()
    with pytest.raises(pipeline.StageFailure) as failure:
        pipeline.run_stage(notebook, executed, {"value": 7}, kernel="python3", cwd=tmp_path)
    assert failure.value.cause == "ValueError: our message, value 7"
    errors = [out for cell in nbformat.read(executed, as_version=4).cells for out in cell.get("outputs", [])
              if out.output_type == "error"]
    assert errors and errors[0].evalue == "our message, value 7"


def test_main_reports_a_failed_stage_with_its_notebook_cause_and_resume_command(
        tmp_path: Path, monkeypatch, capsys, quiet_env) -> None:
    monkeypatch.setenv("SALESGAN_OUTPUTS", str(tmp_path))
    ran = []

    def fake_run_stage(notebook, executed, parameters, kernel=pipeline.KERNEL, cwd=None, verbose=False):
        ran.append(notebook.stem)
        executed.write_text("executed")  # papermill writes the executed notebook as it runs
        if notebook.stem == "03_generate_samples":
            raise pipeline.StageFailure(notebook.stem, 1.5, executed, "FileNotFoundError: no_such_stage missing")
        return 0.25

    monkeypatch.setattr(pipeline, "run_stage", fake_run_stage)
    finished_stage(tmp_path / "r", 1)
    rc = pipeline.main(["--profile", "smoke", "--run", "r", "--data", "demo", "--set", "max_epochs=1",
                        "--from", "02"])
    err = capsys.readouterr().err
    assert rc == 1 and ran == NAMES[1:3]
    assert "Traceback" not in err
    lines = err[err.index("STAGE FAILED: 03_generate_samples"):].splitlines()
    assert lines[1].strip() == "FileNotFoundError: no_such_stage missing"  # our error first
    # the failed notebook is kept beside the last good one, which it does not replace
    assert str(tmp_path / "r" / "03_generate_samples.failed.ipynb") in lines[2]
    assert (tmp_path / "r" / "02_train_gan.ipynb").read_text() == "executed"
    assert not (tmp_path / "r" / "03_generate_samples.ipynb").exists()
    resume = shlex.split(lines[-1].split("]", 1)[1])
    assert resume == ["bash", "run_all.sh", "--profile", "smoke", "--run", "r", "--data", "demo", "--set",
                      "max_epochs=1", "--from", "03"]
    times = paths.read_stage_times(tmp_path / "r")
    assert times["02_train_gan"]["status"] == "ok" and times["03_generate_samples"]["status"] == "failed"
    # params/NN_name.yaml is written when stage NN succeeds, never for the failed one or those after it (#14)
    written = sorted(p.name for p in (tmp_path / "r" / "params").glob("*.yaml"))
    assert written == ["02_train_gan.yaml"], written


def test_main_fails_a_bad_override_before_any_stage(tmp_path: Path, monkeypatch, capsys, quiet_env) -> None:
    monkeypatch.setenv("SALESGAN_OUTPUTS", str(tmp_path))
    monkeypatch.setattr(pipeline, "run_stage", lambda *a, **k: pytest.fail("a stage ran"))
    assert pipeline.main(["--profile", "smoke", "--run", "bad", "--set", "horizon=0"]) == 2
    err = capsys.readouterr().err
    assert "`horizon`" in err and "at least 1" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()


def test_main_refuses_an_unwritable_run_folder_in_one_line(tmp_path: Path, monkeypatch, capsys, quiet_env) -> None:
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("SALESGAN_OUTPUTS", str(tmp_path / "a_file"))
    monkeypatch.setattr(pipeline, "run_stage", lambda *a, **k: pytest.fail("a stage ran"))
    assert pipeline.main(["--profile", "smoke", "--run", "r"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("[run_all] ERROR: the run folder") and "not writable" in err and "\n" not in err


@pytest.mark.parametrize("argv, message", [
    (["--run", "../../x"], "not a plain folder name"), (["--run", " "], "is blank"),
    (["--bogus"], "unknown option"), (["--profile", "nope"], "available profiles are")])
def test_main_command_line_errors_are_one_line_and_exit_2(argv, message, capsys, quiet_env) -> None:
    assert pipeline.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_main_help_lists_every_option(capsys) -> None:
    assert pipeline.main(["--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--profile", "--data", "--run", "--set", "--from", "--only", "--setup", "--no-setup", "--test",
                   "--refresh-nbval", "--verbose", "--help"):
        assert option in out


def test_main_test_mode_passes_the_arguments_to_pytest(monkeypatch, quiet_env) -> None:
    seen = []
    monkeypatch.setattr(pipeline, "run_tests", lambda args: seen.append(args) or 5)
    assert pipeline.main(["--test", "--", "tests/code", "-q"]) == 5
    assert seen == [["tests/code", "-q"]]
    assert os.environ[params.PIPELINE_ENV] == "1"


# ---------------------------------------------------------------------------------------------------- the plan
def _fake_plan(budget_min: float, seconds: float):
    from salesgan_utils import plan

    return plan.Plan(profile="smoke", device="cpu", data="demo", budget_min=budget_min,
                     stages=[plan.StageEstimate(name, "work", seconds) for name in NAMES])


def test_plan_mode_prints_the_plan_and_runs_no_stage(tmp_path, monkeypatch, capsys, quiet_env) -> None:
    from salesgan_utils import plan

    monkeypatch.setattr(pipeline, "print_plan", _real_print_plan)
    monkeypatch.setenv("SALESGAN_OUTPUTS", str(tmp_path))
    seen = {}

    def fake_make_plan(chosen, profile, stages, run_path=None, calibrate=True, reuse=False):
        seen.update(calibrate=calibrate, stages=stages, budget=chosen[NAMES[1]]["time_budget_min"])
        return _fake_plan(1.0, 60.0)

    monkeypatch.setattr(plan, "make_plan", fake_make_plan)
    monkeypatch.setattr(pipeline, "run_stage", lambda *a, **k: pytest.fail("a stage ran"))
    assert pipeline.main(["--plan", "--profile", "smoke", "--set", "time_budget_min=1"]) == 0
    captured = capsys.readouterr()
    assert seen == {"calibrate": True, "stages": NAMES, "budget": 1}
    assert "plan: profile smoke" in captured.out and "total" in captured.out
    assert "exceeds the profile's budget" in captured.err
    assert not (tmp_path / "smoke").exists()  # a plan writes nothing


def test_a_run_prints_the_plan_and_warns_before_any_stage(tmp_path, monkeypatch, capsys, quiet_env) -> None:
    from salesgan_utils import plan

    monkeypatch.setattr(pipeline, "print_plan", _real_print_plan)
    monkeypatch.setenv("SALESGAN_OUTPUTS", str(tmp_path))
    monkeypatch.setattr(plan, "make_plan", lambda chosen, *a, **k: _fake_plan(1.0, 60.0))
    order = []
    monkeypatch.setattr(pipeline, "run_stage", lambda notebook, *a, **k: order.append(notebook.stem) or 0.1)
    monkeypatch.setattr(pipeline, "log", lambda message: order.append(message))
    monkeypatch.setattr(pipeline, "export_report", lambda run_path, run: run_path / "report.html")
    assert pipeline.main(["--profile", "smoke", "--run", "r", "--set", "time_budget_min=1"]) == 0
    first_stage = order.index(NAMES[0])
    assert any(str(line).startswith("plan: profile smoke") for line in order[:first_stage])
    assert "exceeds the profile's budget" in capsys.readouterr().err


def test_a_plan_that_cannot_be_made_does_not_stop_a_run(tmp_path, monkeypatch, capsys) -> None:
    from salesgan_utils import plan

    def broken(*args, **kwargs):
        raise FileNotFoundError("no tables here\nsecond line")

    monkeypatch.setattr(plan, "make_plan", broken)
    invocation = cli.resolve(Options(profile="smoke"), caller_dir=tmp_path)
    assert _real_print_plan(invocation, {}, tmp_path, calibrate=False) is None
    assert "plan: not available (FileNotFoundError: no tables here)" in capsys.readouterr().out
    with pytest.raises(PipelineError, match="could not make the plan"):
        _real_print_plan(invocation, {}, tmp_path, calibrate=True, strict=True)



@pytest.mark.parametrize("args, targets", [
    ([], ["tests/"]), (["-q"], ["tests/", "-q"]), (["tests/code", "-q"], ["tests/code", "-q"]),
    (["-k", "plan"], ["tests/", "-k", "plan"]),
    (["tests/code/test_cli.py::test_defaults"], ["tests/code/test_cli.py::test_defaults"])])
def test_pytest_runs_the_named_tests_or_the_whole_suite(args, targets) -> None:
    command = pipeline.pytest_command(args, root=ROOT)
    assert command[1:5] == ["-m", "pytest", "--nbval-lax", "--nbval-current-env"] and command[5:] == targets


@pytest.mark.parametrize("item, option", [("run=x", "--run"), ("data_dir=../d", "--data"),
                                          ("profile=kaggle", "--profile")])
def test_set_may_not_bypass_an_option(item: str, option: str, tmp_path: Path) -> None:
    invocation = cli.resolve(Options(profile="smoke", sets=[item]), caller_dir=tmp_path)
    with pytest.raises(PipelineError, match=f"use {option}"):
        pipeline.overrides(invocation, params.load_profile("smoke"), caller_dir=tmp_path)


# ------------------------------------------------------------------------------------ before any stage runs
@pytest.mark.parametrize("argv, finished, suggestion", [
    (["--only", "04"], [1, 2], "--from 03"),  # 03 missing
    (["--only", "04"], [2, 3], "--from 01"),  # 01 missing: the earliest stage to rerun
    (["--only", "03"], [1], "--from 02"),
    (["--from", "03"], [], "--from 01"),  # 03 reads 01 and 02, 02 reads 01
])
def test_a_missing_earlier_stage_is_refused_before_any_stage_with_the_from_that_works(
        argv, finished, suggestion, tmp_path, monkeypatch, capsys, quiet_env) -> None:
    monkeypatch.setenv("SALESGAN_OUTPUTS", str(tmp_path))
    monkeypatch.setattr(pipeline, "run_stage", lambda *a, **k: pytest.fail("a stage ran"))
    for stage in finished:
        finished_stage(tmp_path / "r", stage)
    assert pipeline.main(["--profile", "smoke", "--run", "r", "--data", "demo", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.endswith(f"--profile smoke --run r --data demo {suggestion}")


def test_a_finished_earlier_stage_lets_only_run(tmp_path, monkeypatch, quiet_env) -> None:
    monkeypatch.setenv("SALESGAN_OUTPUTS", str(tmp_path))
    ran = []
    monkeypatch.setattr(pipeline, "run_stage", lambda notebook, *a, **k: ran.append(notebook.stem) or 0.1)
    finished_stage(tmp_path / "r", 1)
    assert pipeline.main(["--profile", "smoke", "--run", "r", "--data", "demo", "--only", "02"]) == 0
    assert ran == [NAMES[1]]


def test_a_stage_folder_given_explicitly_is_left_to_the_notebook_to_check(tmp_path, monkeypatch, quiet_env) -> None:
    monkeypatch.setenv("SALESGAN_OUTPUTS", str(tmp_path))
    ran = []
    monkeypatch.setattr(pipeline, "run_stage", lambda notebook, *a, **k: ran.append(notebook.stem) or 0.1)
    finished_stage(tmp_path / "r", 1)
    assert pipeline.main(["--profile", "smoke", "--run", "r", "--data", "demo", "--only", "03",
                          "--set", f"gan_stage_dir={tmp_path / 'elsewhere'}"]) == 0
    assert ran == [NAMES[2]]


def test_an_unfinished_earlier_stage_is_not_enough(tmp_path, monkeypatch, capsys, quiet_env) -> None:
    monkeypatch.setenv("SALESGAN_OUTPUTS", str(tmp_path))
    monkeypatch.setattr(pipeline, "run_stage", lambda *a, **k: pytest.fail("a stage ran"))
    (tmp_path / "r" / NAMES[0]).mkdir(parents=True)  # a folder without its completion record
    assert pipeline.main(["--profile", "smoke", "--run", "r", "--data", "demo", "--only", "02"]) == 2
    assert "is not a finished stage 01" in capsys.readouterr().err


def test_progress_lines_reach_the_console_and_the_rest_of_a_cells_output_does_not() -> None:
    keep = pipeline._ProgressOnly("02_train_gan")
    record = logging.LogRecord("papermill", logging.INFO, "", 0, "epoch 1\n[progress] GAN step 3 of 9\nnoise",
                               None, None)
    assert keep.filter(record) and record.getMessage().endswith("  02 · GAN step 3 of 9")
    assert "noise" not in record.getMessage()
    assert not keep.filter(logging.LogRecord("papermill", logging.INFO, "", 0, "Executing Cell 3", None, None))


def test_the_run_ends_with_the_verdict_data_total_time_and_report(tmp_path) -> None:
    summary = {"regimes": [{"n_real": 250, "label": "250", "active": {
        "real": {"model": "lstm_real", "wrmsse": 0.5},
        "gan": {"model": "lstm_gan_r1", "n_seeds": 3, "pct": -4.0, "pct_low": -6.0, "pct_high": -2.0}}}]}
    paths.write_json_atomic(tmp_path / NAMES[3] / "summary.json", summary)
    paths.write_json_atomic(tmp_path / NAMES[0] / "metadata.json", {"is_demo": True, "entity": "product",
                                                                    "n_entities": 20})
    lines = pipeline.result_lines(tmp_path, 125, tmp_path / "report.html")
    assert lines[1].strip().startswith("With 250 real windows, GAN samples lowered test WRMSSE by 4.0%")
    assert lines[-3].startswith("data: DEMO data") and "say nothing about real sales" in lines[-3]
    assert lines[-2].startswith("total time: 2m 05s") and lines[-1] == f"report: {tmp_path / 'report.html'}"


def test_demo_data_found_by_default_is_announced_loudly(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(paths, "discover_data", lambda data_dir=None: paths.DataSource(None, "demo", "nothing found"))
    pipeline.announce_data({"data_dir": ""}, tmp_path)
    err = capsys.readouterr().err
    assert "NO OLIST DATA FOUND" in err and "--data /path/to/olist" in err
    pipeline.announce_data({"data_dir": "demo"}, tmp_path)
    out, err = capsys.readouterr()
    assert "DEMO data, as asked" in out and not err


def test_a_failure_on_a_full_disk_still_prints_the_report_and_the_resume_command(
        tmp_path: Path, monkeypatch, capsys, quiet_env) -> None:
    import errno

    monkeypatch.setenv("SALESGAN_OUTPUTS", str(tmp_path))

    def full_disk_stage(notebook, executed, parameters, kernel=pipeline.KERNEL, cwd=None, verbose=False):
        raise pipeline.StageFailure(notebook.stem, 0.5, executed, "OSError: [Errno 28] No space left on device")

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pipeline, "run_stage", full_disk_stage)
    finished_stage(tmp_path / "r", 1)
    monkeypatch.setattr(paths, "record_stage_time", no_space)  # the failure handler's own write fails too
    rc = pipeline.main(["--profile", "smoke", "--run", "r", "--data", "demo", "--only", "02"])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    report = err[err.index("STAGE FAILED: 02_train_gan"):]
    assert "stage_times.json not updated: No space left on device" in report
    assert report.strip().splitlines()[-1].endswith("--run r --data demo --only 02")


def test_main_refuses_a_run_folder_that_contains_the_checkout(tmp_path: Path, monkeypatch, capsys,
                                                              quiet_env) -> None:
    monkeypatch.setattr(pipeline, "run_stage", lambda *a, **k: pytest.fail("a stage ran"))
    rc = pipeline.main(["--profile", "smoke", "--run", ROOT.name, "--set", f"outputs_dir={ROOT.parent}"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "is or contains the checkout" in err


def test_asyncio_s_echo_of_a_dead_kernel_is_dropped_and_other_errors_pass(caplog) -> None:
    import asyncio

    from nbclient.exceptions import DeadKernelError

    handler = pipeline._papermill_logging(stage="04")  # what run_stage installs before a stage runs
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            # what asyncio logs for nbclient's kernel-alive poll after a stopped stage's kernel shut down
            loop.call_exception_handler({"message": "Task exception was never retrieved",
                                         "exception": DeadKernelError("Kernel died")})
            loop.call_exception_handler({"message": "Task exception was never retrieved",
                                         "exception": ValueError("a real bug")})
    finally:
        loop.close()
        logging.getLogger("papermill").removeHandler(handler)
    logged = [type(record.exc_info[1]).__name__ for record in caplog.records if record.name == "asyncio"]
    assert logged == ["ValueError"]

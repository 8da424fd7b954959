"""The run plan (salesgan_utils.plan): budget split, work counts, the printed plan and its warnings, and stage 02
stopping on its time budget with both checkpoints."""
from __future__ import annotations

import json

import pytest
import torch

from salesgan_utils import cli, params, paths, pipeline, plan
from salesgan_utils.gan import GanConfig, load_generator
from salesgan_utils.train import train_gan
from salesgan_utils.windows import random_windowset

NAMES = list(paths.STAGES.values())


@pytest.mark.parametrize("budget, stage, share", [(0, 2, 0.0), (100, 1, 5.0), (100, 2, 45.0), (100, 4, 35.0),
                                                  (180, 2, 81.0)])
def test_stage_budget_shares(budget, stage, share) -> None:
    assert plan.stage_budget_min(budget, stage) == pytest.approx(share)


def test_the_shares_split_the_whole_budget() -> None:
    assert sum(plan.BUDGET_SHARES.values()) == pytest.approx(1.0)
    assert set(plan.BUDGET_SHARES) == set(paths.STAGES)


@pytest.mark.parametrize("budget, cap, minutes", [(0, 0, 0.0), (0, 1, 1.0), (100, 0, 45.0), (100, 10, 10.0),
                                                  (10, 60, 4.5)])
def test_gan_minutes_is_the_smaller_limit(budget, cap, minutes) -> None:
    assert plan.gan_minutes(budget, cap) == pytest.approx(minutes)


@pytest.mark.parametrize("n, batch, epochs, limit, steps", [
    (1000, 100, 3, 0, 30), (1050, 100, 3, 0, 30), (50, 100, 2, 0, 2), (1000, 100, 3, 4, 12),
    (1000, 100, 3, 0.5, 15), (0, 100, 3, 0, 0)])
def test_gan_steps_count_batches_as_the_sampler_does(n, batch, epochs, limit, steps) -> None:
    assert plan.gan_steps(n, batch, epochs, limit) == steps


def _plan(seconds: list[float | None], budget: float = 0.0) -> plan.Plan:
    return plan.Plan(profile="p", device="cpu", data="demo", budget_min=budget,
                     stages=[plan.StageEstimate(name, "work", s) for name, s in zip(NAMES, seconds)])


def test_total_and_budget_warnings() -> None:
    assert _plan([10, 20, 30, 40, 50]).total_seconds() == 150
    assert _plan([10, None, 30, 40, 50]).total_seconds() is None
    assert _plan([10, 20, 30, 40, 50]).warnings() == []  # no budget: nothing to warn about
    within = _plan([10, 20, 30, 40, 10], budget=10)
    assert within.warnings() == []
    over = _plan([10, 20, 30, 3000, 10], budget=10).warnings()
    assert any("exceeds the profile's budget" in line for line in over)
    assert any("stage 04_augmentation_benchmark" in line and "share" in line for line in over)


def test_stage_02_is_counted_at_its_cap() -> None:
    capped = _plan([10, 20, 30, 40, 10], budget=10)
    capped.stages[1].seconds, capped.stages[1].capped_seconds = 10_000, 200
    assert capped.total_seconds() == 290
    assert "uncapped, stops at" in capped.text()


@pytest.fixture(scope="module")
def smoke_parameters() -> dict[str, dict]:
    invocation = cli.resolve(cli.Options(profile="smoke", run="plan", data="demo"))
    profile = params.load_profile("smoke")
    return pipeline.stage_parameters(invocation, profile, pipeline.overrides(invocation, profile), stages=NAMES)


def test_the_plan_counts_stage_01_windows_without_training(smoke_parameters) -> None:
    """The smoke profile on demo data, work only: the window counts are stage 01's (tests/notebooks/reference:
    train 5,814, val 1,980, test 2,000), stage 02's steps are 2 epochs x 5 batches."""
    result = plan.make_plan(smoke_parameters, "smoke", NAMES, calibrate=False)
    text = result.text()
    assert "windows train 5,814 / val 1,980 / test 2,000" in text
    assert "10 GAN steps" in text
    assert [s.stage for s in result.stages] == NAMES
    assert result.stages[1].seconds is None and result.total_seconds() is None  # not calibrated


def test_the_plan_reads_window_counts_of_an_earlier_stage_01(smoke_parameters, tmp_path) -> None:
    stage01 = tmp_path / NAMES[0]
    stage01.mkdir()
    (stage01 / "metadata.json").write_text(json.dumps({
        "windows": {"train": 7, "val": 3, "test": 2}, "data_source": {"folder": "x"}, "n_entities": 1,
        "entity": "product"}))
    result = plan.make_plan(smoke_parameters, "smoke", NAMES[1:], run_path=tmp_path, calibrate=False)
    assert "over 7 windows" in result.text()


def test_the_plan_of_a_fold_run_reads_the_stage_01_folder_that_data_stage_dir_names(smoke_parameters,
                                                                                     tmp_path) -> None:
    import copy

    fold = tmp_path / "other_run" / NAMES[0] / "fold_1"  # a backtest fold of another run (docs/analysis_plan.md)
    fold.mkdir(parents=True)
    (fold / "metadata.json").write_text(json.dumps({
        "windows": {"train": 11, "val": 3, "test": 2}, "data_source": {"folder": "x"}, "n_entities": 1,
        "entity": "product"}))
    chosen = copy.deepcopy(smoke_parameters)
    for name in NAMES[1:4]:
        chosen[name]["data_stage_dir"] = str(fold)
    result = plan.make_plan(chosen, "smoke", NAMES[1:], run_path=tmp_path / "fold_run", calibrate=False)
    assert "over 11 windows" in result.text()


@pytest.mark.slow
def test_the_calibrated_plan_times_every_stage(smoke_parameters) -> None:
    torch.set_num_threads(1)
    result = plan.make_plan(smoke_parameters, "smoke", NAMES, calibrate=True)
    assert all(s.seconds is not None and s.seconds > 0 for s in result.stages)
    assert set(result.calibration) == {"GAN s/step", "s/sequence", "LSTM s/batch"}


def test_a_plan_reuses_the_calibration_of_the_same_sizes(smoke_parameters, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SALESGAN_OUTPUTS", str(tmp_path))
    timed = []
    monkeypatch.setattr(plan, "time_gan", lambda *a, **k: timed.append("gan") or {"step_s": 0.5, "sequence_s": 1e-4})
    monkeypatch.setattr(plan, "time_lstm", lambda *a, **k: timed.append("lstm") or 0.01)
    first = plan.make_plan(smoke_parameters, "smoke", NAMES, calibrate=True, reuse=True)
    again = plan.make_plan(smoke_parameters, "smoke", NAMES, calibrate=True, reuse=True)
    assert timed == ["gan", "lstm"] and again.stages[1].seconds == first.stages[1].seconds is not None
    bigger = {**smoke_parameters, NAMES[1]: {**smoke_parameters[NAMES[1]], "batch_size": 128}}
    plan.make_plan(bigger, "smoke", NAMES, calibrate=True, reuse=True)  # other sizes: timed again
    plan.make_plan(smoke_parameters, "smoke", NAMES, calibrate=True)  # --plan: always timed
    assert timed == ["gan", "lstm"] * 3
    assert (tmp_path / plan.CALIBRATION_FILE).is_file()


# --------------------------------------------------------------------------------------------- budget stop
TINY = dict(noise_dim=8, cond_dim=16, history_hidden=8, history_layers=1, calendar_hidden=8, review_hidden=4,
            gru_hidden=8, gru_layers=1, critic_channels=(4, 8), critic_hidden=8, batch_size=16, val_samples=4,
            n_critic=2)


def test_training_stops_on_its_time_budget_keeping_both_checkpoints(smoke_parameters, tmp_path) -> None:
    """The smoke profile's model and batch (64), 50 epochs of 4 batches, and a budget of 6 ms: Lightning's
    max_time check after the first batch stops the run, which validates and writes both checkpoints."""
    torch.set_num_threads(1)
    train, val = random_windowset(256, seed=0), random_windowset(32, seed=1)
    config = GanConfig.from_params(smoke_parameters[NAMES[1]]).for_windows(train)
    result = train_gan(train, val, config, tmp_path, max_epochs=50, seed=0, progress_bar=False,
                       accelerator="cpu", devices=1, max_minutes=0.0001)
    assert result.stopped_on_budget and 1 <= result.generator_steps < 50 * 4
    for name in ("best.ckpt", "last.ckpt"):
        load_generator(tmp_path / "checkpoints" / name)
    summary = json.loads((tmp_path / "model_summary.json").read_text())
    assert summary["stopped_on_budget"] is True and summary["generator_steps"] == result.generator_steps
    assert int(result.history["step"].max()) == result.generator_steps


def test_training_without_a_budget_is_not_marked(tmp_path) -> None:
    torch.set_num_threads(1)
    train, val = random_windowset(32, seed=0), random_windowset(16, seed=1)
    config = GanConfig(**TINY).for_windows(train)
    result = train_gan(train, val, config, tmp_path, max_epochs=1, seed=0, progress_bar=False,
                       accelerator="cpu", devices=1, max_minutes=60)
    assert not result.stopped_on_budget and result.generator_steps == 2


def test_the_report_says_whether_training_stopped_on_its_budget() -> None:
    from salesgan_utils.sections import training_stop_text

    stopped = training_stop_text({"stopped_on_budget": True, "max_minutes": 1, "generator_steps": 1234})
    assert "stopped on its time budget (1 min) after 1,234 generator steps" in stopped
    assert training_stop_text({"stopped_on_budget": False, "generator_steps": 465}) == (
        "Training ran all its epochs: 465 generator steps.")
    assert training_stop_text({}) == ""  # a summary written before budgets existed

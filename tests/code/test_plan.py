"""The run plan (salesgan_utils.plan): budget split, work counts, the printed plan and its warnings, and stage 02
stopping on its time budget with both checkpoints."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from salesgan_utils import cli, params, paths, pipeline, plan
from salesgan_utils.gan import GanConfig, ensemble_blocks, load_generator
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


@pytest.mark.parametrize("members, ensembles", [(5, 2), (5, 1), (5, 5), (3, 8), (7, 3), (1, 2), (6, 4)])
def test_fair_blocks_are_the_blocks_train_ensembles_cuts(members, ensembles) -> None:
    expected = [len(block) for block in np.array_split(np.arange(members), min(ensembles, members))]
    assert plan.fair_blocks(members, ensembles) == expected == [len(b) for b in ensemble_blocks(members, ensembles)]
    assert plan.fair_blocks(0, 2) == []


@pytest.mark.parametrize("costs, workers, wall", [([3, 2], 2, 3), ([1, 1, 1, 1, 1], 2, 3), ([5, 4, 3, 3, 3], 2, 10),
                                                  ([2, 2], 1, 4), ([7], 4, 7), ([], 2, 0)])
def test_makespan_hands_the_costliest_job_to_the_first_free_worker(costs, workers, wall) -> None:
    assert plan.makespan(costs, workers) == wall


@pytest.mark.parametrize("fair, beside, after, workers, wall", [
    ([3, 2], 1, 4, 2, 3 + 2),  # A and B fit in the idle worker behind the smaller block
    ([3, 2], 4, 4, 2, 4.5 + 2),  # they do not: everything before B2 spread over both workers
    ([], 2, 2, 2, 1 + 1),  # no fair generators: the protocol alone
    ([3, 2], 1, 4, 1, 10),  # one worker: everything one after another
])
def test_the_fair_blocks_overlap_phases_a_and_b_and_b2_waits_for_them(fair, beside, after, workers, wall) -> None:
    assert plan.overlapped(fair, beside, after, workers, workers) == wall


def _rated_plan(monkeypatch, tmp_path, parameters: dict, step_s: float, lstm_batch_s: float) -> plan.Plan:
    monkeypatch.setenv("SALESGAN_OUTPUTS", str(tmp_path))
    monkeypatch.setattr(plan, "time_gan", lambda *a, **k: {"step_s": step_s, "sequence_s": 0.0})
    monkeypatch.setattr(plan, "time_lstm", lambda *a, **k: lstm_batch_s)
    return plan.make_plan(parameters, "smoke", NAMES, calibrate=True)


def test_the_fair_generators_cost_their_largest_block_per_worker(smoke_parameters, monkeypatch, tmp_path) -> None:
    stage04 = NAMES[3]
    fair = {**smoke_parameters[stage04], "n_seeds": 5, "fair_gan_sizes": [250], "fair_gan_steps": 100,
            "fair_gan_ensembles": 2, "n_jobs": 2}
    seconds = {}
    for ensembles in (1, 2, 5):
        chosen = {**smoke_parameters, stage04: {**fair, "fair_gan_ensembles": ensembles}}
        seconds[ensembles] = _rated_plan(monkeypatch, tmp_path, chosen, 1.0, 0.0).stages[3].seconds
    member_s = 100 * plan.FAIR_MEMBER_STEP  # one member's 100 steps at 1 s per stage-02 step
    assert seconds[1] == pytest.approx(plan.KERNEL_START_S + 5 * member_s)  # one block of 5 in one worker
    assert seconds[2] == pytest.approx(plan.KERNEL_START_S + 3 * member_s)  # blocks 3 + 2 side by side
    assert seconds[5] == pytest.approx(plan.KERNEL_START_S + 3 * member_s)  # 5 blocks of 1: three rounds on 2
    assert "2 ensemble(s) of 3/2, 2 at a time" in _rated_plan(
        monkeypatch, tmp_path, {**smoke_parameters, stage04: fair}, 1.0, 0.0).stages[3].work


def test_the_protocol_costs_its_batches_with_their_measured_overhead_per_worker(smoke_parameters, monkeypatch,
                                                                              tmp_path) -> None:
    stage04 = NAMES[3]
    real_only = {**smoke_parameters[stage04], "fair_gan_sizes": []}
    seconds = {}
    for n_jobs in (1, 2):
        chosen = {**smoke_parameters, stage04: {**real_only, "n_jobs": n_jobs}}
        estimate = _rated_plan(monkeypatch, tmp_path, chosen, 0.0, 1.0).stages[3]
        batches = int(estimate.work.split(" batches")[0].split()[-1].replace(",", ""))
        seconds[n_jobs] = estimate.seconds
    assert seconds[1] == pytest.approx(plan.KERNEL_START_S + batches * plan.PROTOCOL_PER_BATCH)
    assert seconds[2] - plan.KERNEL_START_S == pytest.approx((seconds[1] - plan.KERNEL_START_S) / 2)


def test_stage_03_prices_every_learned_model_and_the_evaluation_samples(smoke_parameters, monkeypatch,
                                                                        tmp_path) -> None:
    stage03 = NAMES[2]
    base = _rated_plan(monkeypatch, tmp_path, smoke_parameters, 0.0, 1.0).stages[2]
    counts = {name: int(part.split()[-1].replace(",", "")) for name, part in zip(
        ("likelihood LSTM", "classifiers", "predictive score"),
        base.work.split("(")[1].rstrip(")").split(", "))}
    assert base.seconds == pytest.approx(plan.KERNEL_START_S + sum(counts.values()))
    more = {**smoke_parameters, stage03: {**smoke_parameters[stage03], "likelihood_seeds": 3, "disc_seeds": 10}}
    learned = plan.learned_score_batches(more[stage03], 1000)
    assert learned["likelihood LSTM"] == 3 * more[stage03]["likelihood_epochs"] * 8  # 1000 windows, batch 128
    assert learned["classifiers"] == 2 * plan.learned_score_batches(smoke_parameters[stage03], 1000)["classifiers"]
    evaluation = {**smoke_parameters, stage03: {**smoke_parameters[stage03], "n_eval_samples": 200}}
    monkeypatch.setattr(plan, "time_gan", lambda *a, **k: {"step_s": 0.0, "sequence_s": 1.0})
    monkeypatch.setattr(plan, "time_lstm", lambda *a, **k: 0.0)
    at_100 = plan.make_plan(smoke_parameters, "smoke", NAMES, calibrate=True).stages[2].seconds
    at_200 = plan.make_plan(evaluation, "smoke", NAMES, calibrate=True).stages[2].seconds
    held_out = plan.make_plan(smoke_parameters, "smoke", NAMES, calibrate=False).stages[0].work
    val, test = (int(held_out.split(f"{split} ")[1].split()[0].replace(",", "")) for split in ("val", "test"))
    assert at_200 - at_100 == pytest.approx(100 * (val + test))  # 100 more paths per validation and test window


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

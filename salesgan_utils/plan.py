"""The plan of a run before any work: per stage the work it will do, an estimated wall time on this machine from a
short calibration, and the split of a time budget across the stages.

Work comes from the stage parameters and stage 01's own logic: the plan builds the panel and the windows exactly
as stage 01 does (`preprocess.build`), but trains nothing. Times come from timing a few real steps on the device
the run will use:

* GAN: `GAN_STEPS` training steps (n_critic critic updates + 1 generator update) of the profile's own model on
  the profile's batch, through Lightning as stage 02 runs them (the first, warm-up step is not counted), and one
  batch of generator samples (seconds per generated sequence: validation in stage 02, sampling in stage 03);
* LSTM: `LSTM_BATCHES` forward + backward + Adam batches of the profile's forecaster (stage 04, where each batch
  carries the protocol's measured overhead `PROTOCOL_PER_BATCH`; stage 03's likelihood LSTM, classifiers and
  predictive score are priced with the same rate, a rough proxy: `learned_score_batches`);
* fair generators (stage 04): their fixed blocks (`fair_blocks`) handed to `n_jobs` workers costliest first
  (`makespan`), a member step costing `FAIR_MEMBER_STEP` GAN steps, beside the protocol's phases A and B, which
  fill the workers the blocks leave (`overlapped`);
* stage 01: the plan's own build time; every stage adds `KERNEL_START_S` for its kernel and imports.

The estimates are upper bounds where the stages stop early (early stopping in stage 04) and rough where they
price work by a proxy (stage 03's learned scores); they are meant to say "minutes" or "hours", not seconds.

Budget split: the profile's `time_budget_min` (0 = none) is split by the fixed shares `BUDGET_SHARES`
(01: 5%, 02: 45%, 03: 10%, 04: 35%, 05: 5%). Fixed shares keep the split the same whether the pipeline or a
person running one notebook by hand computes it (`stage_budget_min`). Stage 02 stops at
min(its share, `gan_max_minutes`) (`gan_minutes`, Lightning's `max_time`).
"""
from __future__ import annotations

import contextlib
import logging
import math
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

BUDGET_SHARES = {1: 0.05, 2: 0.45, 3: 0.10, 4: 0.35, 5: 0.05}
KERNEL_START_S = 7.0  # papermill + kernel + package imports per notebook (FINDINGS.md: about 6.6 s)
REPORT_S = 15.0  # stage 05 reads the artifacts and draws a few tables (smoke: 5 s)
GAN_STEPS = 3  # timed steps after one warm-up step
LSTM_BATCHES = 5  # timed batches after one warm-up batch
# Wall-time bound of each calibration after its warm-up: on a slow or busy CPU (a seed-size step can take 5-50 s
# on 2 shared cores) it stops after the first timed step past this bound. The warm-up step is never used as the
# estimate: the first step of a process pays 5-15 s of one-time set-up here (measured: 15 s, then 1.1 s per step).
CALIBRATION_S = 8.0


# ----------------------------------------------------------------------------------------------------- budgets
def stage_budget_min(time_budget_min: float, stage: int) -> float:
    """Stage `stage`'s share of the run's budget in minutes; 0 when there is no budget."""
    return float(time_budget_min) * BUDGET_SHARES[int(stage)] if time_budget_min and time_budget_min > 0 else 0.0


def gan_minutes(time_budget_min: float, gan_max_minutes: float) -> float:
    """Minutes after which stage 02 stops training: min(its share of the budget, `gan_max_minutes`); 0 = no limit."""
    limits = [m for m in (stage_budget_min(time_budget_min, 2), float(gan_max_minutes or 0)) if m > 0]
    return min(limits) if limits else 0.0


# -------------------------------------------------------------------------------------------------------- work
@dataclass
class StageEstimate:
    """One stage in the plan: what it will do (words) and its estimated seconds (None: not estimated)."""

    stage: str
    work: str
    seconds: float | None = None
    capped_seconds: float | None = None  # stage 02 under its time limit
    note: str = ""


@dataclass
class Plan:
    """The per-stage estimates of one run, its budget and what the calibration measured."""

    profile: str
    device: str
    data: str
    stages: list[StageEstimate]
    budget_min: float = 0.0
    gan_limit_min: float = 0.0
    calibration: dict = field(default_factory=dict)

    def total_seconds(self) -> float | None:
        """Sum of the estimates, stage 02 at its cap when it has one; None when a selected stage was not estimated."""
        values = [s.capped_seconds if s.capped_seconds is not None else s.seconds for s in self.stages]
        return None if any(v is None for v in values) else float(sum(values))

    def warnings(self) -> list[str]:
        """One line per problem: the run's estimate above its budget, a stage's estimate above its share."""
        if not self.budget_min:
            return []
        lines = []
        total = self.total_seconds()
        if total is not None and total > self.budget_min * 60:
            lines.append(f"the estimate {_duration(total)} exceeds the profile's budget time_budget_min = "
                         f"{self.budget_min:g} min: lower the work (top_n, max_train_windows, max_epochs, "
                         f"limit_train_batches, n_seeds, forecaster_epochs) or raise the budget")
        for estimate in self.stages:
            number = int(estimate.stage[:2])
            share = stage_budget_min(self.budget_min, number) * 60
            seconds = estimate.capped_seconds if estimate.capped_seconds is not None else estimate.seconds
            if seconds is not None and seconds > share and number != 2:
                lines.append(f"stage {estimate.stage} needs about {_duration(seconds)}, above its share "
                             f"{_duration(share)} of the budget ({BUDGET_SHARES[number]:.0%}); only stage 02 stops "
                             f"on its share")
        return lines

    def text(self) -> str:
        """The plan as printed: one line per stage, then the total and the budget split."""
        width = max(len(s.stage) for s in self.stages) if self.stages else 10
        lines = [f"plan: profile {self.profile} on {self.device}; data: {self.data}"]
        for s in self.stages:
            if s.seconds is None:
                estimate = "not estimated"
            elif s.capped_seconds is not None and s.capped_seconds < s.seconds:
                estimate = f"{_duration(s.seconds)} uncapped, stops at {_duration(s.capped_seconds)}"
            else:
                estimate = _duration(s.seconds)
            lines.append(f"  {s.stage:<{width}}  {estimate:>14}  {s.work}" + (f" [{s.note}]" if s.note else ""))
        total = self.total_seconds()
        lines.append(f"  {'total':<{width}}  {_duration(total) if total is not None else 'not estimated':>14}")
        if self.budget_min:
            split = ", ".join(f"{n:02d} {stage_budget_min(self.budget_min, n):.0f}" for n in BUDGET_SHARES)
            lines.append(f"  budget {self.budget_min:g} min split by stage (min): {split}")
        if self.gan_limit_min:
            lines.append(f"  stage 02 stops training after {self.gan_limit_min:g} min (min of its share and "
                         f"gan_max_minutes), keeping best.ckpt and last.ckpt")
        if self.calibration:
            lines.append("  calibration: " + ", ".join(f"{k} {v}" for k, v in self.calibration.items()))
        return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def gan_steps(n_train: int, batch_size: int, max_epochs: int, limit_train_batches: int | float = 0) -> int:
    """Training steps of stage 02: epochs × batches, a batch being `batch_size` windows (the last partial batch
    dropped; a split smaller than one batch is one batch), capped by `limit_train_batches` (int batches, or a float
    share; 0 = no cap), as `train.GlobalBatchSampler` and Lightning count them."""
    batches = max(1, n_train // batch_size) if n_train else 0
    if limit_train_batches:
        limit = (int(limit_train_batches) if isinstance(limit_train_batches, int)
                 else max(1, int(batches * limit_train_batches)))
        batches = min(batches, limit)
    return int(max_epochs) * batches


def planned_fits(settings: dict, n_train: int) -> list[dict]:
    """The LSTM fits `benchmark.run_benchmark` will make for notebook-04 parameters, before any choice is known
    (phase C assumes the largest ratio for the augmented arms).

    Args:
        settings: notebook 04's parameters.
        n_train: real train windows.

    Returns:
        One dict per fit: phase ("A", "B", "B2", "C"), n_real, n_windows (real + synthetic) and batches per epoch (an
        upper bound on the work: epochs x batches, before early stopping).
    """
    from salesgan_utils.benchmark import ANALOG_KINDS, resolve_sizes, settings_from_params

    kw = settings_from_params(settings)
    ref = resolve_sizes([kw["reference_size"]], n_train)[0]
    tuning = list(kw["seeds"])[:max(1, kw["tune_seeds"])]
    top = max(kw["ratios"]) if kw["ratios"] else 0.0
    planned, seen = [], set()

    def add(phase, kind, ratio, n_real, seed, config):
        key = (kind, ratio, n_real, seed, config)
        if key in seen:
            return
        seen.add(key)
        n_windows = n_real + int(round(ratio * n_real))
        batches = kw["steps_per_epoch"] or -(-n_windows // kw["batch_size"])
        planned.append({"phase": phase, "n_real": n_real, "n_windows": n_windows, "batches_per_epoch": batches,
                        "epochs": kw["epochs"]})

    chosen = (kw["losses"][0], kw["lrs"][0])  # any one: the chosen config's fits are cached the same way
    for loss, lr, seed in product(kw["losses"], kw["lrs"], tuning):
        add("A", "real", 0.0, ref, seed, (loss, lr))
    kinds = ["gan"] + list(kw["augmentations"])
    for kind, ratio, seed in product(kinds, kw["ratios"], tuning):
        add("B", kind, ratio, ref, seed, chosen)
    fair = set(resolve_sizes(settings.get("fair_gan_sizes") or [], n_train))
    extra = ["gan_fair"] + list(ANALOG_KINDS) * (int(settings.get("analog_k", 0) or 0) > 0)
    for n_real, kind, ratio, seed in product(sorted(fair), extra, kw["ratios"], tuning):
        add("B2", kind, ratio, n_real, seed, chosen)
    for n_real in resolve_sizes(kw["scarcity_sizes"], n_train):
        arms = [("real", 0.0), ("gan", top), (kinds[-1], top)] + [(k, top) for k in extra] * (n_real in fair)
        for seed, (kind, ratio) in product(kw["seeds"], arms):
            add("C", kind, ratio, n_real, seed, chosen)
    return planned



# ------------------------------------------------------------------------------------------------- calibration
def _device(accelerator: str) -> str:
    from salesgan_utils import train

    return "cuda" if train.resolve_devices(accelerator, 1, "auto").accelerator in ("gpu", "cuda") else "cpu"


@contextlib.contextmanager
def _quiet_lightning():
    """Lightning's start-up lines and warnings are noise in a plan (a calibration fit has no validation loop)."""
    loggers = [logging.getLogger(name) for name in ("pytorch_lightning", "lightning_fabric", "lightning")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


def _repeat_to(windows, n: int):
    import numpy as np

    return windows.subset(np.arange(n) % len(windows))


def time_gan(settings: dict, windows, device: str, steps: int = GAN_STEPS) -> dict:
    """Median seconds per GAN training step of the profile's model and batch, and seconds per generated sequence.

    Args:
        settings: stage 02's parameters (the model sizes and batch size).
        windows: train windows (a few batches are drawn from them).
        device: "cpu" or "cuda".
        steps: timed steps (one warm-up step more is run first).
    """
    import pytorch_lightning as pl
    import torch
    from pytorch_lightning.callbacks import Callback

    from salesgan_utils import gan, sample, train

    config = gan.GanConfig.from_params(settings).for_windows(windows)
    batch = _repeat_to(windows, config.batch_size * (steps + 1))

    class StepTimes(Callback):
        def __init__(self):
            self.times: list[float] = []

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if device == "cuda":
                torch.cuda.synchronize()
            self.start = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if device == "cuda":
                torch.cuda.synchronize()
            self.times.append(time.perf_counter() - self.start)
            if len(self.times) >= 2 and sum(self.times[1:]) > CALIBRATION_S:
                trainer.should_stop = True

    timer = StepTimes()
    pl.seed_everything(0, verbose=False)
    module = gan.WGANGP(config, noise_seed=0)
    loader, _ = train.make_loaders(batch, batch.subset(slice(0, 1)), config, seed=0)
    with _quiet_lightning():
        trainer = pl.Trainer(accelerator="gpu" if device == "cuda" else "cpu", devices=1, max_epochs=1,
                             limit_train_batches=steps + 1, limit_val_batches=0, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                             callbacks=[timer])
        trainer.fit(module, loader)
    step_s = statistics.median(timer.times[1:])  # the first step pays the one-time set-up

    module = module.to(device).eval()
    k = int(settings.get("val_samples", 8))

    def generate(n_windows: int) -> float:
        rows = slice(0, max(1, min(len(batch), n_windows)))
        history, calendar, reviews = sample._windows_tensors(batch, rows, device)
        scales = [torch.as_tensor(batch.scale_min[rows], device=device, dtype=torch.float64),
                  torch.as_tensor(batch.scale_range[rows], device=device, dtype=torch.float64)]
        start = time.perf_counter()
        with torch.no_grad():
            module.sample(history, calendar, reviews, k, scale_min=scales[0], scale_range=scales[1])
        if device == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - start) / (k * (rows.stop - rows.start))

    generate(8)  # warm-up
    # a GPU is timed on a validation-sized batch (512 windows); a CPU on fewer, its rate being flat in the batch
    sequence_s = generate(512 if device == "cuda" else 64)
    if device == "cuda":  # the pipeline process lives on during the run: leave the GPU's memory to the stages
        del module, trainer
        torch.cuda.empty_cache()
    return {"step_s": step_s, "sequence_s": sequence_s}


def time_lstm(settings: dict, windows, batches: int = LSTM_BATCHES) -> float:
    """Median seconds per forecaster training batch (forward, backward, Adam) at the profile's sizes, on the CPU
    as stage 04 runs it."""
    import torch

    from salesgan_utils import forecaster

    batch_size = int(settings.get("forecaster_batch_size", 128))
    data = _repeat_to(windows, batch_size)
    x, _, y, low, span = forecaster._tensors(data, use_features=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = forecaster.LSTMForecaster(data.horizon, int(settings.get("forecaster_hidden", 128)),
                                          int(settings.get("forecaster_layers", 2)), 0)
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
        times = []
        while len(times) < batches + 1 and (len(times) < 2 or sum(times[1:]) < CALIBRATION_S):
            start = time.perf_counter()
            optimiser.zero_grad()
            loss = forecaster.training_loss(model(x), y, low, span, loss="mse")
            loss.backward()
            optimiser.step()
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


# ------------------------------------------------------------------------------------------------------ the plan
def build_windows(settings01: dict, scratch: Path):
    """Stage 01's data choice, panel and windows (demo tables generated under `scratch`); (source, sets, seconds)."""
    from salesgan_utils import preprocess

    start = time.perf_counter()
    source = preprocess.resolve_data(settings01.get("data_dir", ""), scratch,
                                     demo_n_products=settings01.get("demo_n_products", 300),
                                     demo_seed=settings01.get("demo_seed", 0))
    # keys with a default in `build` (the repair shares) may be absent from a profile
    _, panel, sets = preprocess.build(source, **{k: settings01[k] for k in preprocess.BUILD_KEYS if k in settings01})
    return source, panel, sets, time.perf_counter() - start


@dataclass
class _Windows:
    """What the plan knows of stage 01's output: window counts, data, entities, its build time, train windows."""

    counts: dict[str, int]
    data: str
    entities: str
    build_s: float | None = None  # None: read from an earlier stage 01, not built
    train: object | None = None  # a WindowSet for the calibration, when one is at hand


def _stage01_windows(settings01: dict, stages: list[str], data_dir: Path | None, scratch: Path,
                     want_train: bool) -> _Windows:
    """Stage 01's windows: read from the metadata.json of the stage-01 folder the later stages read (`data_dir`:
    the run's own, or the one `data_stage_dir` names, e.g. a backtest fold's) when stage 01 is not rerun, else
    built as it would."""
    import json

    from salesgan_utils import paths, preprocess, windows
    from salesgan_utils.answer import entities

    metadata = Path(data_dir or "") / preprocess.METADATA_FILE
    if paths.STAGES[1] not in stages and data_dir is not None and metadata.is_file():
        meta = json.loads(metadata.read_text())
        train_file = metadata.parent / preprocess.windows_file("train")
        train = windows.WindowSet.load(train_file) if want_train and train_file.is_file() else None
        return _Windows(meta["windows"], meta["data_source"]["folder"],
                        entities(meta["n_entities"], meta["entity"]), train=train)
    source, panel, sets, seconds = build_windows(settings01, scratch)
    return _Windows({split: len(ws) for split, ws in sets.items()},
                    "generated demo data" if source.is_demo else f"{source.folder} (Olist tables)",
                    entities(panel.n_entities, panel.entity), build_s=seconds, train=sets["train"])


def _estimate(name: str, w: _Windows, rates: dict, s2: dict, s3: dict, s4: dict, limit: float) -> StageEstimate:
    """One stage's work in words and its seconds from the calibrated `rates` (None without them)."""
    number, counts = int(name[:2]), w.counts
    if number == 1:
        work = f"{w.entities}; windows train {counts['train']:,} / val {counts['val']:,} / test {counts['test']:,}"
        return StageEstimate(name, work, None if w.build_s is None else KERNEL_START_S + 1.5 * w.build_s)
    if number == 2:
        cap = s2.get("gan_train_windows", s2.get("max_train_windows"))  # stage 02's own cap, or the shared one
        n_train = min(counts["train"], int(cap or counts["train"]))
        steps = gan_steps(n_train, int(s2["batch_size"]), int(s2["max_epochs"]), s2.get("limit_train_batches") or 0)
        per_validation = counts["val"] * int(s2.get("val_samples", 8))
        work = (f"{steps:,} GAN steps ({s2['max_epochs']} epochs over {n_train:,} windows, batch "
                f"{s2['batch_size']}); validation {int(s2['max_epochs']) * per_validation:,} generated sequences")
        if not rates:
            return StageEstimate(name, work)
        seconds = (KERNEL_START_S + steps * rates["step_s"]
                   + int(s2["max_epochs"]) * per_validation * rates["sequence_s"])
        if not limit:
            return StageEstimate(name, work, seconds)
        capped = min(seconds, KERNEL_START_S + limit * 60 + per_validation * rates["sequence_s"])
        note = f"stops at {limit:g} min: ≈ {int(limit * 60 / rates['step_s']):,} steps"
        return StageEstimate(name, work, seconds, capped, note)
    if number == 3:
        # generation: n_samples per train window, n_eval_samples per validation and test window
        sequences = (counts["train"] * int(s3.get("n_samples", 5))
                     + (counts["val"] + counts["test"]) * int(s3.get("n_eval_samples", 0) or 0))
        learned = learned_score_batches(s3, counts["train"])
        work = (f"{sequences:,} generated sequences; learned scores ≤ {sum(learned.values()):,} LSTM batches ("
                + ", ".join(f"{name} {count:,}" for name, count in learned.items()) + ")")
        seconds = (KERNEL_START_S + sequences * rates["sequence_s"]
                   + sum(learned.values()) * rates["lstm_batch_s"]) if rates else None
        return StageEstimate(name, work, seconds, note="rough")
    if number == 4:
        planned = planned_fits(s4, counts["train"])
        fits = [fit["n_windows"] for fit in planned]
        epochs = int(s4.get("forecaster_epochs", 30))
        batches = sum(fit["batches_per_epoch"] * fit["epochs"] for fit in planned)
        # phases A and B do not need the fair generators: they run beside them (fair_gan.submit_fair_generators)
        batches_beside = sum(fit["batches_per_epoch"] * fit["epochs"] for fit in planned if fit["phase"] in ("A", "B"))
        from salesgan_utils.executor import resolve_n_jobs

        # the fits run n_jobs at a time (notebook 04 default 0 = every core); on a cluster n_jobs stands for its workers
        workers = min(resolve_n_jobs(int(s4.get("n_jobs", 0))), max(1, len(fits)))
        work = (f"{len(fits)} LSTM fits × ≤ {epochs} epochs, {batches:,} batches (≤ {max(fits or [0]):,} "
                f"windows/fit), {workers} at a time")
        # fair generators: one per fair size x seed, each fair_gan_steps steps, cut into fair_gan_ensembles
        # contiguous blocks (train.train_ensembles) that run n_jobs at a time, costliest first; a member step on one
        # thread inside an ensemble costs FAIR_MEMBER_STEP stage-02 steps
        members = len(s4.get("fair_gan_sizes") or []) * int(s4.get("n_seeds", 1))
        steps_each = int(s4.get("fair_gan_steps", 0) or 0)
        blocks = fair_blocks(members, int(s4.get("fair_gan_ensembles", 1) or 1))
        at_once = max(1, min(len(blocks), resolve_n_jobs(int(s4.get("n_jobs", 0)))))
        if members * steps_each:
            patience = int(s4.get("fair_gan_patience", 0) or 0)
            work += (f"; fair generators: {'≤ ' if patience else ''}{members * steps_each:,} GAN steps"
                     + (f" (each stops after {patience} validations without a lower CRPS)" if patience else "")
                     + f" in {len(blocks)} ensemble(s) of {'/'.join(map(str, blocks))}, {at_once} at a time")
        if not rates:
            return StageEstimate(name, work, None, note="upper bound: early stopping")
        fair_costs = [size * steps_each * rates["step_s"] * FAIR_MEMBER_STEP for size in blocks]
        batch_s = rates["lstm_batch_s"] * PROTOCOL_PER_BATCH
        seconds = KERNEL_START_S + overlapped(fair_costs, batches_beside * batch_s,
                                              (batches - batches_beside) * batch_s, at_once, workers)
        return StageEstimate(name, work, seconds, note="upper bound: early stopping")
    return StageEstimate(name, "report and HTML export", KERNEL_START_S + REPORT_S)


def learned_score_batches(s3: dict, n_train: int) -> dict[str, int]:
    """Training batches of stage 03's learned models, at most (early stopping may end the likelihood LSTM sooner):
    the likelihood LSTM (`likelihood_seeds` fits of `likelihood_epochs` over the train windows), the discriminative
    classifiers (`disc_seeds` x `disc_epochs` over real + synthetic pairs of up to `quality_max_windows` windows)
    and the predictive score's two GRUs (synthetic, real). Batch sizes and the predictive epochs are their owners'
    defaults (stage 03 does not set them). The plan prices them at the forecaster's LSTM batch: a proxy, as all are
    small recurrent nets."""
    import inspect

    from salesgan_utils import likelihood, quality

    def default(fn, name: str) -> int:
        return int(inspect.signature(fn).parameters[name].default)
    pairs = min(int(s3.get("quality_max_windows", 2000)), n_train)
    classifier_batches = math.ceil(2 * pairs / default(quality.discriminative_score, "batch_size"))
    predictive_batches = math.ceil(pairs / default(quality.predictive_score, "batch_size"))
    return {"likelihood LSTM": (int(s3.get("likelihood_seeds", 0) or 0) * int(s3.get("likelihood_epochs", 0) or 0)
                                * math.ceil(n_train / default(likelihood.fit_likelihood_lstm, "batch_size"))),
            "classifiers": (max(1, int(s3.get("disc_seeds", 1) or 1)) * int(s3.get("disc_epochs", 10))
                            * classifier_batches),
            "predictive score": 2 * default(quality.sample_quality_report, "forecaster_epochs") * predictive_batches}


def fair_blocks(members: int, ensembles: int) -> list[int]:
    """Member counts of the blocks the fair generators train in (`gan.ensemble_blocks`, as `train.train_ensembles`
    cuts them); [] for no members."""
    from salesgan_utils.gan import ensemble_blocks

    return [len(block) for block in ensemble_blocks(members, ensembles)]


def overlapped(fair_costs: list[float], beside_s: float, after_s: float, fair_workers: int, workers: int) -> float:
    """Stage 04's wall time when the fair generators' blocks (`fair_costs`, on at most `fair_workers` workers)
    train beside phases A and B (`beside_s` of one worker) and phases B2, C and D (`after_s`) wait for them: the
    later of the blocks' makespan and all that work spread over the workers, then the rest spread over them."""
    workers = max(1, int(workers))
    before = max(makespan(fair_costs, fair_workers), (sum(fair_costs) + beside_s) / workers) if fair_costs \
        else beside_s / workers
    return before + after_s / workers


def makespan(costs: list[float], workers: int) -> float:
    """Wall time of jobs of these `costs` on `workers`, each started on the first free worker, costliest first
    (the executor's order: `executor.submission_order`)."""
    loads = [0.0] * max(1, int(workers))
    for cost in sorted(costs, reverse=True):
        loads[loads.index(min(loads))] += cost
    return max(loads)


# The protocol's wall time per calibrated LSTM training batch: each fit's per-epoch validation forecasts, the
# LightGBM grid and fits, the scoring and the tables ride on the training batches. Measured: stage 04 of the quick
# profile on the real tables, one fit after another, 1,311 s for 46,464 planned batches at 0.0176 s per calibrated
# batch (bench/RESULTS.md, 2026-12-07).
PROTOCOL_PER_BATCH = 1.6
# One fair generator's step (one thread, in an ensemble of 2-3, validation included) in stage-02 steps (torch's
# threads): 557 s for 5 x 100 member steps against 0.809 s per stage-02 step on one 2-core host (bench/RESULTS.md,
# 2026-12-03).
FAIR_MEMBER_STEP = 1.4
CALIBRATION_FILE = ".plan_calibration.json"  # in the outputs root: rates measured on this machine, by sizes
# Stage parameters that do not change what one GAN step or LSTM batch costs (left out of the calibration's key).
_NOT_SIZES = ("run", "outputs_dir", "data_dir", "profile", "seed", "max_epochs", "time_budget_min",
              "gan_max_minutes", "resume", "max_train_windows", "gan_train_windows", "limit_train_batches")


def calibration_key(s2: dict, s4: dict, device: str) -> str:
    """What the calibrated rates depend on: the device, torch's thread count and the model and batch sizes."""
    import hashlib
    import json

    import torch

    sizes = {"device": device, "threads": torch.get_num_threads(),
             "gan": {k: v for k, v in sorted(s2.items()) if k not in _NOT_SIZES},
             "lstm": {k: v for k, v in sorted(s4.items()) if k.startswith("forecaster_")}}
    return hashlib.sha256(json.dumps(sizes, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _cached_rates(key: str) -> dict:
    import json

    from salesgan_utils import paths

    try:
        return json.loads((paths.outputs_root() / CALIBRATION_FILE).read_text(encoding="utf-8")).get(key, {})
    except (OSError, ValueError, AttributeError):
        return {}


def _store_rates(key: str, rates: dict) -> None:
    import json

    from salesgan_utils import paths

    path = paths.outputs_root() / CALIBRATION_FILE
    try:
        stored = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        paths.write_json_atomic(path, {**stored, key: rates})
    except (OSError, ValueError):  # a cache only: a read-only outputs root calibrates every time
        pass


def make_plan(chosen: dict[str, dict], profile: str, stages: list[str], run_path: Path | None = None,
              calibrate: bool = True, reuse: bool = False) -> Plan:
    """The plan of the selected stages.

    Args:
        chosen: {stage name: parameters} of all five stages (the pipeline's `stage_parameters`).
        profile: profile name, for the heading.
        stages: the selected stage names.
        run_path: the run folder: when stage 01 is not selected, its stage-01 metadata.json (or that of the folder
            stage 02's `data_stage_dir` names) gives the window counts.
        calibrate: time GAN steps and LSTM batches on this machine; False gives the work without times (except
            stage 01's build).
        reuse: take the rates of an earlier calibration of the same sizes on this machine (CALIBRATION_FILE in the
            outputs root) when there is one, so that every run's plan is timed without re-timing the same sizes.

    Returns:
        Plan.

    Raises:
        Exception: what stage 01 would raise on these data (the pipeline turns it into a warning line).
    """
    from salesgan_utils import paths, windows

    names = dict(paths.STAGES)
    s1, s2, s3, s4 = (chosen[names[n]] for n in (1, 2, 3, 4))
    budget = float(s2.get("time_budget_min", 0) or 0)
    limit = gan_minutes(budget, s2.get("gan_max_minutes", 0))
    # only stages 02-04 are priced by the calibration (01 by its own build, 05 by a constant)
    calibrate = calibrate and any(names[n] in stages for n in (2, 3, 4))
    device = _device(s2.get("accelerator", "auto")) if calibrate else "this machine (not calibrated)"
    key = calibration_key(s2, s4, device) if calibrate else ""
    rates: dict = _cached_rates(key) if calibrate and reuse else {}
    with tempfile.TemporaryDirectory(prefix="salesgan-plan.") as scratch:
        data_dir = Path(s2["data_stage_dir"]) if s2.get("data_stage_dir") else \
            (run_path / names[1] if run_path is not None else None)
        found = _stage01_windows(s1, stages, data_dir, Path(scratch), want_train=calibrate and not rates)
        if calibrate and not rates and found.train is not None:
            sample = windows.subsample(found.train, 4096, 0)
            rates = {**time_gan(s2, sample, device), "lstm_batch_s": time_lstm(s4, sample)}
            _store_rates(key, rates)
        found.train = None  # the windows can be large (all products: 1.5 GB); the run goes on after the plan
    calibration = {"GAN s/step": f"{rates['step_s']:.3g}", "s/sequence": f"{rates['sequence_s']:.2g}",
                   "LSTM s/batch": f"{rates['lstm_batch_s']:.3g}"} if rates else {}
    return Plan(profile=profile, device=device, data=found.data,
                stages=[_estimate(name, found, rates, s2, s3, s4, limit) for name in stages],
                budget_min=budget, gan_limit_min=limit if names[2] in stages else 0.0, calibration=calibration)

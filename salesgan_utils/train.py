"""How the WGAN-GP is trained: data loaders, Trainer, callbacks, loggers, devices, resume, training history.

The LightningModule (what is trained) is `salesgan_utils.gan.WGANGP`; this module builds everything around it,
as darts keeps its Lightning module apart from its wrapper. Stage 02 calls `train_gan` once.

Artifacts under `out_dir`: `checkpoints/best.ckpt` (lowest validation fair CRPS, `CHECKPOINT_METRIC`),
`checkpoints/last.ckpt` (end of the latest epoch), `logs/csv/version_*/metrics.csv`, `logs/tensorboard/version_*/`,
`training_history.csv` (one row per epoch) and `model_summary.json`.

Resume: `last.ckpt` is written at every epoch end; rerunning with the same `out_dir` continues from it. A run
killed mid-epoch loses that partial epoch and redoes it: the redone epoch is identical to the lost one because the
shuffling order is a function of (seed, epoch) and the module's noise is a function of (seed, step), both
restored from the checkpoint. Mid-epoch checkpoints are not used: Lightning cannot restore a plain data loader's
position inside an epoch, and resuming from one would silently change the data order.

Determinism: same seed and data → identical losses and checkpoints on CPU (`deterministic=True` on CPU). On GPU
the run is seeded but not bit-exact (cuDNN RNN kernels), by choice: bit-exactness there would cost speed.
"""
from __future__ import annotations

import math
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.callbacks.progress.tqdm_progress import Tqdm
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from pytorch_lightning.plugins.io import TorchCheckpointIO
from pytorch_lightning.strategies import DDPStrategy, Strategy
from torch.utils.data import DataLoader, TensorDataset

from .console import Progress
from .gan import WGANGP, GanConfig, GanEnsemble, MemberSpec, config_from_checkpoint, ensemble_blocks, parameter_counts
from .paths import atomic_path, write_json_atomic, write_text_atomic
from .windows import WindowSet

# Artifact names of stage 02 (this module writes them; readers import these names).
CHECKPOINT_DIR, BEST_CKPT, LAST_CKPT = "checkpoints", "best.ckpt", "last.ckpt"
HISTORY_FILE, SUMMARY_FILE = "training_history.csv", "model_summary.json"
LOG_DIR = "logs"  # CSV and TensorBoard logs of the training, in the stage folder

# g_crps: the generator's CRPS term (units/day; NaN for designs without one, `GanConfig.crps_weight` = 0)
HISTORY_COLUMNS = ["epoch", "step", "d_loss", "g_loss", "gp", "wasserstein", "real_score", "fake_score", "g_crps",
                   "val_crps", "val_cond_gap", "val_score"]
VAL_BATCH_WINDOWS = 512
# The score that keeps best.ckpt: the validation fair CRPS (a proper scoring rule, units/day). The conditional
# gaps in the history are diagnostics only: they move with the demand shift between periods far more than the CRPS
# moves between epochs, so they would choose the epoch by chance (docs/gan_ablation.md).
CHECKPOINT_METRIC = "val_crps"

# strategies that cannot run the GAN's manual optimisation (unused parameters in each update) → working variants
_FIND_UNUSED = {"ddp": "ddp_find_unused_parameters_true", "ddp_spawn": "ddp_spawn_find_unused_parameters_true",
                "ddp_fork": "ddp_fork_find_unused_parameters_true",
                "ddp_notebook": "ddp_notebook_find_unused_parameters_true"}
# launchers that refuse an interactive (notebook/papermill) process
_NOT_INTERACTIVE = {"ddp", "ddp_spawn", "ddp_find_unused_parameters_true", "ddp_spawn_find_unused_parameters_true"}


@dataclass
class TrainResult:
    """What `train_gan` produced.

    Attributes:
        best_ckpt: checkpoint with the lowest `CHECKPOINT_METRIC` (metrics.gan_validation_scores; stage 03 loads it).
        last_ckpt: checkpoint at the end of the latest epoch (resume point).
        history: one row per epoch, columns `HISTORY_COLUMNS` (step = training steps completed, one step being
            n_critic critic updates + 1 generator update).
        log_dir: folder with the CSV and TensorBoard logs.
        out_dir: the stage folder.
        resumed_from: the checkpoint this run continued from, or None.
        fit_seconds: wall time of `Trainer.fit` in this call.
    """

    best_ckpt: Path
    last_ckpt: Path
    history: pd.DataFrame
    log_dir: Path
    out_dir: Path
    resumed_from: Path | None
    fit_seconds: float
    generator_steps: int = 0  # training steps completed, counting a resumed run's (one generator update each)
    stopped_on_budget: bool = False  # `max_minutes` ran out before max_epochs


@dataclass(frozen=True)
class DeviceChoice:
    """Resolved Trainer device arguments."""

    accelerator: str
    devices: int | list | str
    strategy: str | Strategy
    n_devices: int


def _cuda_device_count() -> int:
    # lightning_fabric sets PYTORCH_NVML_BASED_CUDA_CHECK=1 on import, so this asks NVML and does not initialise
    # CUDA in this (parent) process: a later fork for ddp_notebook stays legal
    from lightning_fabric.accelerators.cuda import num_cuda_devices

    return num_cuda_devices()


def resolve_devices(accelerator="auto", devices="auto", strategy="auto", interactive: bool = False) -> DeviceChoice:
    """Turn params' accelerator/devices/strategy into Trainer arguments that work for the GAN here.

    Rules: "auto" accelerator is CUDA when a GPU is visible, else CPU; "auto" devices is every GPU, or 1 CPU
    process. More than one device needs DDP with `find_unused_parameters=True` (each update leaves the other
    player's parameters without gradients): inside a notebook (papermill included) that is
    `ddp_notebook_find_unused_parameters_true` (fork; the subprocess and spawn launchers refuse interactive
    processes); in a script `DDPStrategy(find_unused_parameters=True)`. Explicit DDP names are mapped to their
    find-unused variants. Strategy objects pass through untouched.

    Args:
        accelerator: "auto", "cpu", "gpu" or "cuda".
        devices: "auto", an int, or a list of device indices.
        strategy: "auto", a strategy name, or a Strategy object.
        interactive: True inside a notebook/IPython process.

    Returns:
        DeviceChoice(accelerator, devices, strategy, n_devices).
    """
    n_gpus = _cuda_device_count() if accelerator in ("auto", "gpu", "cuda") else 0
    if accelerator == "auto":
        accelerator = "gpu" if n_gpus > 0 else "cpu"
    if accelerator in ("gpu", "cuda") and n_gpus == 0:
        raise RuntimeError(f"accelerator={accelerator!r} but no CUDA device is visible: use accelerator='auto' "
                           f"or 'cpu' (params: accelerator)")
    if devices in ("auto", -1, "-1"):
        devices = n_gpus if accelerator in ("gpu", "cuda") else 1
    n_devices = len(devices) if isinstance(devices, (list, tuple)) else int(devices)
    if isinstance(strategy, Strategy):
        return DeviceChoice(accelerator, devices, strategy, n_devices)
    if strategy == "auto":
        if n_devices <= 1:
            return DeviceChoice(accelerator, devices, "auto", n_devices)
        strategy = "ddp_notebook" if interactive else "ddp"
    strategy = _FIND_UNUSED.get(strategy, strategy)
    if interactive and strategy in _NOT_INTERACTIVE:
        strategy = "ddp_notebook_find_unused_parameters_true"
    if strategy == "ddp_find_unused_parameters_true":
        strategy = DDPStrategy(find_unused_parameters=True)
    return DeviceChoice(accelerator, devices, strategy, n_devices)


# ---- data ------------------------------------------------------------------------------------------------------
class _BatchTensors(TensorDataset):
    """Pre-built window tensors; a batch is fetched with one fancy index per tensor (no per-item work)."""

    def __getitems__(self, index):
        index = torch.as_tensor(index)
        return tuple(t[index] for t in self.tensors)


def _as_batch(fetched):
    return fetched  # already a tuple of batch tensors (module-level so spawn can pickle it)


class _EpochOrder:
    """Order of the windows in one epoch: a permutation seeded by (seed, epoch), or 0..n-1.

    Lightning calls `set_epoch` at each epoch start (it looks for `batch_sampler.sampler.set_epoch`); the order
    being a function of the epoch number is what makes a resumed epoch identical to the lost one.
    """

    def __init__(self, n: int, seed: int, shuffle: bool):
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.n)


def _world() -> tuple[int, int]:
    """(world size, rank), read when iterating: the loaders are built before DDP starts its processes."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size(), torch.distributed.get_rank()
    return 1, 0


class GlobalBatchSampler:
    """Yields this rank's rows of each *global* batch: rows r, r + W, ... of batch b of the epoch's order.

    With W ranks each rank gets global_batch / W rows, so a DDP run averages the gradients of the halves of the
    same global batch that one process would see (the loss is a mean over rows): the mathematics do not depend on
    the device count. Training drops the last partial batch (a tiny batch gives a noisy critic update); a split
    smaller than one batch is used whole.

    Args:
        n: number of windows.
        batch_size: global batch size.
        seed: shuffling seed.
        shuffle: permute each epoch (training) or keep window order (validation).
        drop_last: drop the last partial global batch.
        shard: split each global batch over the ranks (training); False gives every rank all rows (validation:
            every rank then computes the same metric).
    """

    def __init__(self, n: int, batch_size: int, seed: int, shuffle: bool, drop_last: bool, shard: bool):
        self.sampler = _EpochOrder(n, seed, shuffle)
        self.batch_size, self.drop_last, self.shard = min(batch_size, n), drop_last, shard

    def _global_batches(self) -> int:
        n = self.sampler.n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __len__(self) -> int:
        return self._global_batches()

    def __iter__(self):
        world, rank = _world() if self.shard else (1, 0)
        order = self.sampler.order()
        rows = (self.batch_size // world) * world  # equal rows per rank: DDP ranks must take the same steps
        if self.shard and rows == 0:
            raise ValueError(f"global batch {self.batch_size} is smaller than the {world} DDP ranks")
        for b in range(self._global_batches()):
            batch = order[b * self.batch_size:(b + 1) * self.batch_size]
            if self.shard:
                batch = batch[:rows][rank::world]
            yield batch.tolist()


def _tensors(windows: WindowSet, with_scale: bool) -> _BatchTensors:
    arrays = [windows.history, windows.calendar, windows.reviews, windows.target]
    tensors = [torch.as_tensor(np.ascontiguousarray(a, dtype=np.float32)) for a in arrays]
    if with_scale:
        tensors += [torch.as_tensor(np.asarray(a, dtype=np.float64)) for a in (windows.scale_min, windows.scale_range)]
    return _BatchTensors(*tensors)


def make_loaders(train: WindowSet, val: WindowSet, config: GanConfig, seed: int) -> tuple[DataLoader, DataLoader]:
    """Train and validation loaders over pre-built tensors (see `GlobalBatchSampler`)."""
    # train batches carry the scales too: a count-valued generator rounds in units (gan.GanConfig.count_output)
    train_loader = DataLoader(_tensors(train, with_scale=True), collate_fn=_as_batch,
                              batch_sampler=GlobalBatchSampler(len(train), config.batch_size, seed, shuffle=True,
                                                               drop_last=True, shard=True))
    val_loader = DataLoader(_tensors(val, with_scale=True), collate_fn=_as_batch,
                            batch_sampler=GlobalBatchSampler(len(val), VAL_BATCH_WINDOWS, seed, shuffle=False,
                                                             drop_last=False, shard=False))
    return train_loader, val_loader


# ---- callbacks ---------------------------------------------------------------------------------------------------
class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file beside it and renames it into place.

    Lightning writes the final path directly, so a run killed mid-save would leave a truncated `last.ckpt` that
    the next run tries to resume from; with the rename the previous checkpoint stays whole until the new one is.
    """

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)


class StderrProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar on stderr: in papermill runs stdout is the notebook's output cell, and a bar there
    bloats the saved notebook; stderr is shown live and kept apart. Notebooks get tqdm's widget when available."""

    def init_train_tqdm(self) -> Tqdm:
        return Tqdm(desc=self.train_description, position=2 * self.process_position, disable=self.is_disabled,
                    leave=True, dynamic_ncols=True, file=sys.stderr, smoothing=0, bar_format=self.BAR_FORMAT)

    def init_validation_tqdm(self) -> Tqdm:
        return Tqdm(desc=self.validation_description, position=2 * self.process_position + 1,
                    disable=self.is_disabled, leave=False, dynamic_ncols=True, file=sys.stderr,
                    bar_format=self.BAR_FORMAT)


class _EpochSummary(Callback):
    """One plain line per epoch on stderr (readable in logs where a bar's carriage returns are not)."""

    def on_train_epoch_start(self, trainer, pl_module):
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.is_global_zero:
            m = trainer.callback_metrics
            parts = [f"{k} {float(m[k]):.4g}" for k in ("d_loss_epoch", "g_loss_epoch", "gp_epoch", "val_crps",
                                                         "val_cond_gap", "val_score")
                     if k in m]
            elapsed = time.perf_counter() - getattr(self, "_start", time.perf_counter())
            print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}: {', '.join(parts)} ({elapsed:.1f} s)",
                  file=sys.stderr, flush=True)


class _StepProgress(Callback):
    """Progress lines "GAN step k of N · elapsed · ETA" (`console.Progress`), which a pipeline run shows on the
    console; N is the whole training's generator steps (epochs × batches, before any time-budget stop)."""

    def __init__(self, every_s: float = 30.0):
        self.every_s = every_s
        self.progress = None

    def on_train_start(self, trainer, pl_module):
        batches = int(trainer.num_training_batches or 1)
        # a resumed training starts after its finished epochs; the ETA counts only this session's steps
        self.progress = Progress("GAN step", int(trainer.max_epochs or 1) * batches, every_s=self.every_s,
                                 done=int(trainer.current_epoch) * batches)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.is_global_zero and self.progress is not None:
            self.progress.step()


def tensorboard_command(out_dir: str | Path) -> str:
    """The command that shows this training's curves live, with the folder it writes now (under run_all.sh the
    stage's working copy `02_train_gan.partial/`, renamed to `02_train_gan/` when the stage finishes)."""
    folder = Path(out_dir) / LOG_DIR / "tensorboard"
    moves = (f" (renamed to {folder.parent.parent.name.removesuffix('.partial')}/ when the stage finishes)"
             if folder.parent.parent.name.endswith(".partial") else "")
    return (f"live training curves: tensorboard --logdir {folder}{moves}; in Jupyter or Kaggle: %load_ext "
            f"tensorboard, then %tensorboard --logdir {folder}")


# ---- history -----------------------------------------------------------------------------------------------------
def read_history(log_dir: str | Path) -> pd.DataFrame:
    """One row per epoch from the CSV logs of all runs (versions) in `log_dir`; a later run's row wins.

    Returns:
        DataFrame with `HISTORY_COLUMNS` (NaN where a value was not logged, e.g. no validation that epoch).
    """
    frames = []
    for version, path in enumerate(sorted(Path(log_dir).glob("csv/version_*/metrics.csv"),
                                          key=lambda p: int(p.parent.name.split("_")[-1]))):
        frame = pd.read_csv(path)
        frame["_version"] = version
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    # Lightning's own "step" counts optimizer steps (n_critic + 1 per batch); ours counts training steps
    logs = pd.concat(frames, ignore_index=True).dropna(subset=["epoch"]).drop(columns=["step"], errors="ignore")
    rename = {f"{name}_epoch": name for name in ("d_loss", "g_loss", "gp", "wasserstein", "real_score",
                                                    "fake_score", "g_crps")}
    rename["train_steps"] = "step"
    logs = logs.rename(columns=rename)
    rows = []
    for epoch, group in logs.groupby("epoch", sort=True):
        group = group[group["_version"] == group["_version"].max()]  # a resumed run redid this epoch
        row = {"epoch": int(epoch)}
        for column in HISTORY_COLUMNS[1:]:
            values = group[column].dropna() if column in group else pd.Series(dtype=float)
            row[column] = float(values.iloc[-1]) if len(values) else np.nan
        rows.append(row)
    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    history = history.dropna(subset=["step"])  # an interrupted, never-finished epoch has no epoch-level row
    history["step"] = history["step"].astype(int)
    return history.reset_index(drop=True)


def _check_resume_compatible(ckpt: Path, config: GanConfig) -> None:
    try:
        saved = torch.load(ckpt, map_location="cpu", weights_only=True)["hyper_parameters"]["config"]
    except Exception as error:
        raise ValueError(f"cannot resume from {ckpt}: not a readable checkpoint ({error}). Delete it, or pass "
                         f"resume=False (params: resume) to start over.") from error
    saved = config_from_checkpoint(saved, ckpt)
    if saved != config:
        raise ValueError(f"cannot resume from {ckpt}: it was trained with another configuration: "
                         f"{config_differences(asdict(saved), asdict(config))}. Use another run name, or "
                         f"resume=False.")


def config_differences(saved: dict, current: dict) -> str:
    """Only the fields that differ, as "field: saved → now" ("n_critic 5 → 3, lr_g 0.0001 → 0.0002")."""
    keys = [key for key in dict.fromkeys([*saved, *current]) if saved.get(key) != current.get(key)]
    return ", ".join(f"{key} {saved.get(key, '(absent)')!r} in the checkpoint, {current.get(key, '(absent)')!r} now"
                     for key in keys)


# ---- the entry point ---------------------------------------------------------------------------------------------
def train_gan(train: WindowSet, val: WindowSet, config: GanConfig, out_dir: str | Path, *, max_epochs: int,
              seed: int, accelerator="auto", devices="auto", strategy="auto", resume: bool = True,
              limit_train_batches=None, progress_bar: bool = True, callbacks: list | None = None,
              interactive: bool | None = None, max_minutes: float | None = None) -> TrainResult:
    """Train the conditional WGAN-GP, keeping the checkpoint with the lowest validation CRPS and the last one.

    Args:
        train: training windows.
        val: validation windows (their CRPS in units selects `best.ckpt`).
        config: model and optimisation settings; L, H, C, R must match the windows (`config.for_windows(train)`).
        out_dir: the stage folder (`outputs/<run>/02_train_gan`).
        max_epochs: total epochs, counting those of a run being resumed.
        seed: seeds weights, shuffling and noise.
        accelerator, devices, strategy: see `resolve_devices`.
        resume: continue from `out_dir/checkpoints/last.ckpt` when it exists; False deletes old checkpoints.
        limit_train_batches: Lightning's limit (int batches or float share) per epoch, for smoke runs; 0 or None
            means all batches (params files use 0 for "no cap"; to Lightning 0 would mean no training at all).
        progress_bar: show the stderr progress bar and per-epoch lines.
        callbacks: extra Lightning callbacks (tests use one to interrupt a run).
        interactive: notebook process? Default: Lightning's own detection (True under papermill).
        max_minutes: time budget of the fit (Lightning's `max_time`, checked after every batch; a resumed run counts
            the time of the run it resumes). On expiry the epoch ends early, validates, and writes best.ckpt and
            last.ckpt as any epoch end does; model_summary.json records `stopped_on_budget` and
            `generator_steps`. None or 0: no limit.

    Returns:
        TrainResult.
    """
    from lightning_fabric.utilities.imports import _IS_INTERACTIVE

    out_dir = Path(out_dir)
    limit_train_batches = limit_train_batches or None
    expected = config.for_windows(train)
    if expected != config:
        raise ValueError(f"config does not fit the windows: the windows have L={expected.history_days}, "
                         f"H={expected.horizon}, C={expected.calendar_dim}, R={expected.review_dim}. "
                         f"Use config.for_windows(train).")
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"train_gan needs windows in both splits, got train={len(train)}, val={len(val)}")
    choice = resolve_devices(accelerator, devices, strategy,
                             interactive=_IS_INTERACTIVE if interactive is None else interactive)
    if config.batch_size % choice.n_devices:
        raise ValueError(f"batch_size {config.batch_size} must be divisible by the {choice.n_devices} devices")

    ckpt_dir, log_dir = out_dir / CHECKPOINT_DIR, out_dir / LOG_DIR
    last = ckpt_dir / LAST_CKPT
    resumed_from = None
    if resume and last.is_file():
        _check_resume_compatible(last, config)
        resumed_from = last
    elif not resume and ckpt_dir.exists():
        shutil.rmtree(ckpt_dir)  # a fresh run must not keep a best.ckpt of an older one

    pl.seed_everything(seed, workers=True, verbose=False)
    module = WGANGP(config, noise_seed=seed)
    train_loader, val_loader = make_loaders(train, val, config, seed)
    # Two callbacks: Lightning's save_last only copies "last" when a top-k file is saved, i.e. when val_crps
    # improves, so a run whose CRPS plateaued would resume from an old epoch. The second one keeps the latest epoch.
    best = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=CHECKPOINT_METRIC, mode="min", save_top_k=1,
                           enable_version_counter=False)
    latest = ModelCheckpoint(dirpath=ckpt_dir, filename="last", monitor=None, save_top_k=1,
                             enable_version_counter=False)
    all_callbacks = [best, latest] + ([StderrProgressBar(), _EpochSummary(), _StepProgress()] if progress_bar
                                      else [])
    loggers = [CSVLogger(log_dir, name="csv"), TensorBoardLogger(log_dir, name="tensorboard", default_hp_metric=False)]
    n_batches = len(train_loader) if limit_train_batches is None else (
        int(limit_train_batches) if isinstance(limit_train_batches, int) else max(1, int(len(train_loader)
                                                                                         * limit_train_batches)))
    trainer = pl.Trainer(
        accelerator=choice.accelerator, devices=choice.devices, strategy=choice.strategy, max_epochs=max_epochs,
        limit_train_batches=limit_train_batches, callbacks=all_callbacks + list(callbacks or []), logger=loggers,
        default_root_dir=out_dir, deterministic=choice.accelerator == "cpu", use_distributed_sampler=False,
        num_sanity_val_steps=0, enable_progress_bar=progress_bar, enable_model_summary=False,
        plugins=[AtomicCheckpointIO()], max_time=timedelta(minutes=max_minutes) if max_minutes else None,
        log_every_n_steps=max(1, min(50, n_batches)))
    start = time.perf_counter()
    trainer.fit(module, train_loader, val_loader, ckpt_path=str(resumed_from) if resumed_from else None)
    fit_seconds = time.perf_counter() - start

    # read back from files: with fork/spawn launchers the parent's trainer state is not the workers'
    history = read_history(log_dir)
    write_text_atomic(out_dir / HISTORY_FILE, history.to_csv(index=False))
    # From the logs, not the trainer: with fork/spawn launchers the parent's trainer did not train. Fewer steps
    # than max_epochs x batches can only mean the time budget ran out.
    generator_steps = int(history["step"].max()) if len(history) else 0
    stopped_on_budget = bool(max_minutes) and generator_steps < max_epochs * n_batches
    write_json_atomic(out_dir / SUMMARY_FILE, {"config": asdict(config), "parameters": parameter_counts(config),
                                                       "seed": seed, "devices": choice.n_devices,
                                                       "accelerator": choice.accelerator,
                                                       "generator_steps": generator_steps,
                                                       "max_minutes": max_minutes or 0,
                                                       "stopped_on_budget": stopped_on_budget})
    best = ckpt_dir / BEST_CKPT
    return TrainResult(best_ckpt=best if best.is_file() else last, last_ckpt=last, history=history, log_dir=log_dir,
                       out_dir=out_dir, resumed_from=resumed_from, fit_seconds=fit_seconds,
                       generator_steps=generator_steps, stopped_on_budget=stopped_on_budget)


# ---- many generators at once -------------------------------------------------------------------------------------
def train_ensemble(train: WindowSet, val: WindowSet, config: GanConfig, members: list[MemberSpec],
                   out_dir: str | Path, *, log=None, device: str = "cpu") -> list[TrainResult]:
    """Train one generator per `MemberSpec` as one batched computation (`gan.ensemble`), each member writing what
    `train_gan` writes into `out_dir/<member name>/`: checkpoints/best.ckpt (lowest validation CRPS), last.ckpt,
    training_history.csv and model_summary.json; its checkpoints load with `gan.load_generator` (stage 03).

    Args:
        train: the shared train windows (each member's `windows` index into them).
        val: the shared validation windows.
        config: the members' configuration (`config.for_windows(train)`); `shared_encoder` must be False.
        members: the members; names must be unique (empty names become member_<k>).
        out_dir: parent folder of the members' folders.
        log: called with one line per member epoch (None for silence).
        device: where the ensemble trains ("cpu", "cuda"; `GanEnsemble`).

    Returns:
        One TrainResult per member, in the order of `members` (log_dir is the member's folder; no logger runs).
    """
    if config.for_windows(train) != config:
        raise ValueError("config does not fit the windows: use config.for_windows(train)")
    names = [spec.name or f"member_{k}" for k, spec in enumerate(members)]
    if len(set(names)) != len(names):
        raise ValueError(f"train_ensemble: member names must be unique, got {names}")
    folders = [Path(out_dir) / name for name in names]
    rows: list[list[dict]] = [[] for _ in members]
    start = time.perf_counter()
    ensemble = GanEnsemble(config, train, val, members, val_batch=VAL_BATCH_WINDOWS, device=device)
    for event in ensemble.run():
        folder = folders[event.member] / CHECKPOINT_DIR
        folder.mkdir(parents=True, exist_ok=True)
        checkpoint = {"state_dict": event.state, "hyper_parameters": event.hyper_parameters, "epoch": event.epoch,
                      "global_step": event.step}
        for name in [LAST_CKPT] + ([BEST_CKPT] if event.improved else []):
            with atomic_path(folder / name) as tmp:
                torch.save(checkpoint, tmp)
        rows[event.member].append({"epoch": event.epoch, "step": event.step, **event.stats, **event.scores})
        if log:
            log(f"[ensemble] {names[event.member]} epoch {event.epoch + 1}: step {event.step}, val_crps "
                f"{event.scores['val_crps']:.4g}{' (best)' if event.improved else ''}")
    seconds = time.perf_counter() - start
    results = []
    for k, spec in enumerate(members):
        history = pd.DataFrame(rows[k]).reindex(columns=HISTORY_COLUMNS)
        write_text_atomic(folders[k] / HISTORY_FILE, history.to_csv(index=False))
        steps = int(history["step"].max())
        write_json_atomic(folders[k] / SUMMARY_FILE, {
            "config": asdict(config), "parameters": parameter_counts(config), "seed": int(spec.seed),
            "train_windows": len(spec.windows), "val_windows": len(val) if spec.val_windows is None
            else len(spec.val_windows), "generator_steps": steps, "ensemble_members": len(members),
            "devices": 1, "accelerator": "cpu" if device == "cpu" else "gpu"})
        ckpt = folders[k] / CHECKPOINT_DIR
        results.append(TrainResult(best_ckpt=ckpt / BEST_CKPT, last_ckpt=ckpt / LAST_CKPT, history=history,
                                   log_dir=folders[k], out_dir=folders[k], resumed_from=None, fit_seconds=seconds,
                                   generator_steps=steps))
    return results


def train_ensembles(train: WindowSet, val: WindowSet, config: GanConfig, members: list[MemberSpec],
                    out_dir: str | Path, *, ensembles: int = 1, threads: int = 1, n_jobs: int = 1,
                    executor: str = "local", address: str = "", on_done=None, device: str = "cpu"
                    ) -> list[TrainResult]:
    """`submit_ensembles` on an engine of its own, and wait: one after another in this process (n_jobs 1), or
    `n_jobs` at a time in worker processes (no more than blocks) or on a Ray/Dask cluster (`executor`, `address`:
    `executor.engine_for`), ignored off the CPU. Other arguments, the result and the errors as `submit_ensembles`'s."""
    from .executor import engine_for

    with engine_for(min(int(ensembles), len(members)), executor=executor, n_jobs=n_jobs, address=address,
                    threads=threads) as engine:
        return submit_ensembles(engine, train, val, config, members, out_dir, ensembles=ensembles, threads=threads,
                                on_done=on_done, device=device).result()


def submit_ensembles(engine, train: WindowSet, val: WindowSet, config: GanConfig, members: list[MemberSpec],
                     out_dir: str | Path, *, ensembles: int = 1, threads: int = 1, on_done=None, device: str = "cpu"):
    """`members` as `ensembles` batched trainings (`train_ensemble`) handed to `engine` (`executor.Engine.submit`,
    each job carrying its windows) without waiting: stage 04 trains its fair generators beside the protocol's first
    phases. The members are cut into contiguous blocks of near-equal size (`gan.ensemble_blocks`), each trained at
    `threads` torch threads wherever it runs: the split and the thread count fix every member's numbers, the engine
    only where and when a block runs. On c cores, c single-thread ensembles train more generator steps per second
    than one on c threads (bench/RESULTS.md). On a GPU (`device` "cuda") the blocks train here, now, one by one.

    `train`, `val`, `config`, `out_dir` as `train_ensemble`'s (member names unique across blocks); `on_done(block
    members, block results, seconds)` as each block is gathered. Returns an `executor.Pending` of one TrainResult
    per member, in member order. Raises ValueError for `ensembles` or `threads` below 1, or repeated names.
    """
    from .executor import Engine

    if int(ensembles) < 1 or int(threads) < 1 or not members:
        raise ValueError(f"train_ensembles: ensembles = {ensembles} and threads = {threads} must be >= 1 (the "
                         f"profile's fair_gan_ensembles: 1 = one batched training of every member), and "
                         f"{len(members)} members at least one")
    names = [spec.name or f"member_{k}" for k, spec in enumerate(members)]
    if len(set(names)) != len(names):
        raise ValueError(f"train_ensembles: member names must be unique, got {names}")
    members = [replace(spec, name=name) for spec, name in zip(members, names)]
    blocks = [[members[k] for k in block] for block in ensemble_blocks(len(members), ensembles)]
    engine = engine if device == "cpu" else Engine(threads=threads)  # a GPU: in this process, one after another

    pending = engine.submit(_train_block, [(train, val, config, Path(out_dir), device, block, int(threads))
                                           for block in blocks],
                            on_result=on_done and (lambda index, outcome: on_done(blocks[index], *outcome)),
                            cost=[sum(spec.max_steps or spec.max_epochs * (len(spec.windows) // config.batch_size)
                                      for spec in block) for block in blocks])  # the largest block first
    return pending.then(lambda outcomes: [result for results, _ in outcomes for result in results])


def _train_block(_context, job: tuple) -> tuple[list[TrainResult], float]:
    """One block of `submit_ensembles` (an executor job of (train, val, config, out_dir, device, members,
    threads)): (its members' results, seconds), at its own thread count (the worker's restored after)."""
    train, val, config, out_dir, device, block, threads = job
    started, previous = time.perf_counter(), torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        results = train_ensemble(train, val, config, block, out_dir, device=device)
    finally:
        torch.set_num_threads(previous)
    return results, time.perf_counter() - started

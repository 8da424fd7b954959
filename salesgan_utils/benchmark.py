"""Stage 04's protocol: does adding synthetic windows to an LSTM forecaster's real training windows lower its error?

Every forecast of the stage goes to one long table (`forecasts.parquet`: model, config, seed, n_real, split,
entity_id, origin, step, date, forecast, actual, active) and every table of the stage is computed from it by
`score_forecasts`:

* **Metric (M5).** RMSSE per series (entity) over all its forecast rows, with the in-sample one-step naive MSE
  over the entity's train period (from its first sale) as denominator, by `utilsforecast.losses.rmsse`; WRMSSE
  weights the series by their train-period units. MAE, RMSE and bias (mean forecast - mean actual) in units beside.
* **Which windows count** is decided at each forecast origin only: the headline is on *active* windows, whose
  entity sold in the `active_days` days before the origin; every table also has all windows.
* **Choices on validation only** (mean validation WRMSSE on active windows over `tune_seeds` seeds, at the
  reference size `max_train_windows`): the real-only LSTM's loss and learning rate, then the GAN ratio and the best
  simple augmentation (kind and ratio).
* **The question across data sizes**: for n in `scarcity_sizes` real training windows (nested seeded subsets:
  each seed's 250 windows lie inside its 1,000), real-only, real + GAN at the chosen ratio, and real + the chosen
  simple augmentation, each over `seeds`. Synthetic and augmented windows are built only from the n real windows
  of that fit (the GAN's samples are those conditioned on them; what the GAN itself was trained on is reported).
* **Seed-aware inference**: the change versus real-only comes from per-seed paired differences (same seed = same
  real windows and initialisation): a t-interval and t-test over seeds (`stats.seed_paired_test`), a seed x entity
  bootstrap interval, and a Diebold-Mariano test on the daily cross-entity loss differential (h = 7).
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import gbm
from .augment import analog_samples_scaled, augment, mix, synthetic_windows_from_samples
from .baselines import all_point_baselines
from .console import Progress
from .executor import Engine, Pending
from .forecaster import LOSSES, fit_forecaster
from .paths import atomic_path, write_text_atomic
from .scoring import (
    BASELINE_SEED,
    BY_SIZE_FILE,
    FIT_COLUMNS,
    FITS_FILE,
    FORECASTS_FILE,
    HEADLINE,
    REFERENCE,
    RESULTS_FILE,
    SELECTION_FILE,
    SUMMARY_FILE,
    answer_markdown,
    by_size_table,
    config_label,
    entity_weights,
    headline_table,
    score_forecasts,
    tables_from_forecasts,
    variant_name,
    window_keys,
)
from .study import fit_windows, validation_subset
from .windows import WindowSet, subsample


# ---------------------------------------------------------------------------------------------- running fits
@dataclass
class BenchmarkResult:
    """Everything `run_benchmark` produced; every table is computed from `forecasts` (see `tables_from_forecasts`).

    Attributes:
        forecasts: the long forecast table (FORECASTS_FILE).
        fits: one row per LSTM fit: FIT_COLUMNS, augmentation, ratio, loss, lr, best_epoch, best_val_loss,
            n_train_synthetic, fit_seconds, phase.
        tables: {file name: DataFrame} of the stage's tables.
        summary: the summary.json content.
    """

    forecasts: pd.DataFrame
    fits: pd.DataFrame
    tables: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)

    def verdict(self) -> str:
        return self.summary.get("verdict", "")

    def save(self, folder: str | Path) -> dict[str, Path]:
        """Write forecasts.parquet, fits.csv, every table and summary.json into `folder`, each atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = {}
        with atomic_path(folder / FORECASTS_FILE) as tmp:
            self.forecasts.to_parquet(tmp, index=False)
        written[FORECASTS_FILE] = folder / FORECASTS_FILE
        for name, table in {FITS_FILE: self.fits, **self.tables}.items():
            written[name] = write_text_atomic(folder / name, table.to_csv(index=False))
        text = json.dumps(_json_safe(self.summary), indent=2, allow_nan=False) + "\n"
        written[SUMMARY_FILE] = write_text_atomic(folder / SUMMARY_FILE, text)
        return written


def _json_safe(value):
    """NaN/inf -> None and numpy scalars -> Python, so summary.json is strict JSON."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class _FitContext:
    """What every LSTM fit of the stage reads (sent once to each worker): the splits, the GAN's samples of the
    train windows and the forecaster's settings."""

    train: WindowSet
    val: WindowSet
    test: WindowSet
    val_stop: WindowSet
    gan: np.ndarray | None
    fit_settings: dict
    analog_k: int = 0
    stop_proportional: bool = False  # early stopping on the fit's own validation share, not `val_stop`


@dataclass(frozen=True)
class _FitJob:
    """One LSTM fit: its real windows (indices into train), how synthetic windows are added, seed and config."""
    kind: str
    ratio: float
    keep: np.ndarray
    seed: int
    loss: str
    lr: float
    fair_samples: np.ndarray | None = None  # "gan_fair": (n_real, K, H) scaled samples of its fit's generator


def _fit_job(context: _FitContext, job: _FitJob) -> dict:
    """Build one fit's training set, fit the LSTM and forecast val and test (units, clipped at 0): run by
    `executor.run_jobs` in this process or a worker, with the same result."""
    real = context.train.subset(job.keep)
    n_real = len(real)
    mixing_seed = int(np.random.SeedSequence([job.seed, n_real, int(round(job.ratio * 1000)),
                                              sum(map(ord, job.kind))]).generate_state(1)[0])
    if job.kind == "real":
        train_set = real
    elif job.kind == "gan":
        train_set = mix(real, synthetic_windows_from_samples(real, context.gan[job.keep]), job.ratio,
                        seed=mixing_seed)
    elif job.kind == "gan_fair":  # the generator trained on exactly these windows with this seed
        train_set = mix(real, synthetic_windows_from_samples(real, job.fair_samples), job.ratio, seed=mixing_seed)
    elif job.kind in ANALOG_KINDS:  # "analog": the catalogue generator's pool; "analog_fit": the fit's own windows
        pool, own = (context.train, job.keep) if job.kind == "analog" else (real, np.arange(n_real))
        samples = analog_samples_scaled(real, pool, context.analog_k, own)
        train_set = mix(real, synthetic_windows_from_samples(real, samples), job.ratio, seed=mixing_seed)
    else:
        # enough perturbed copies that `mix` can draw without replacement
        pool = augment(real, job.kind, copies=max(1, math.ceil(job.ratio)), seed=mixing_seed)
        train_set = mix(real, pool, job.ratio, seed=mixing_seed)
    stop = context.val_stop
    if context.stop_proportional:  # what a user with n_real windows holds out: its fair generator's and LightGBM's
        stop = context.val.subset(validation_subset(len(context.val), len(context.train), n_real, job.seed))
    started = time.perf_counter()
    fitted = fit_forecaster(train_set, stop, seed=job.seed, loss=job.loss, lr=job.lr,
                            **context.fit_settings)
    forecasts = {split: np.maximum(windows.to_units(fitted.predict(windows)), 0.0)
                 for split, windows in (("val", context.val), ("test", context.test))}
    return {"forecasts": forecasts, "n_train_synthetic": len(train_set) - n_real, "best_epoch": fitted.best_epoch,
            "epochs_run": len(fitted.history), "best_val_loss": fitted.best_val_loss,
            "fit_seconds": time.perf_counter() - started}


def _run_job(context: _FitContext, job: _FitJob | gbm.GbmJob) -> dict:
    """The engine's one job function: an LSTM fit or a LightGBM fit."""
    return _fit_job(context, job) if isinstance(job, _FitJob) else gbm.fit_job(context, job)


def _job_cost(job: _FitJob | gbm.GbmJob) -> float:
    """The windows a job trains on (real + synthetic), the pool's longest-first hint: an LSTM epoch is a fixed
    number of batches, but building a large mixed training set and a LightGBM fit grow with it."""
    if isinstance(job, _FitJob):
        return len(job.keep) * (1.0 + job.ratio)
    return float(len(job.keep))


ANALOG_KINDS = ("analog", "analog_fit")


@contextlib.contextmanager
def _timed(seconds: dict, name: str):
    """Add the block's wall time to `seconds[name]` (summary.json's `phase_seconds`)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started


class _Runner:
    """Fits LSTM variants on nested seeded subsets of the real train windows, caching identical fits, and keeps
    every forecast (units, clipped at 0) on val and test. The fits of one phase are independent jobs run by an
    `executor.Engine` (`engine`: its executor, n_jobs, address, threads; one engine for every phase, closed by
    `close`), gathered in the order they were asked for, so the forecasts are the same on every engine."""

    def __init__(self, train, val, test, gan, fit_settings, active_days, say, val_stop_windows=0, engine=None,
                 progress=False, analog_k=0, stop_proportional=False):
        self.train, self.val, self.test, self.gan = train, val, test, gan
        # early stopping reads a fixed seeded subsample of val (cost); every choice reads the full val forecasts
        self.val_stop = subsample(val, val_stop_windows, 0)
        self.engine = Engine(_FitContext(train, val, test, self.val_stop, gan, fit_settings, analog_k,
                                         stop_proportional), **(engine or {}))
        self.fair: dict = {}  # {(n_real, seed): fair_gan.FairGenerator}, set when they are trained
        self.fit_settings, self.say = fit_settings, say
        self.progress = progress
        self.keys = {"val": window_keys(val, active_days), "test": window_keys(test, active_days)}
        self.parts, self.fit_rows, self.done = [], [], set()
        self.seconds: dict[str, float] = {}  # wall time per part of the stage (summary.json's phase_seconds)

    def subset(self, seed: int, n_real: int) -> np.ndarray:
        """Seed `seed`'s fit on n_real windows (`study.fit_windows`: sizes are nested within a seed)."""
        return fit_windows(len(self.train), seed, n_real)

    def add(self, model: str, config: str, seed: int, n_real: int, forecasts: dict) -> None:
        for split, values in forecasts.items():
            frame = self.keys[split].copy()
            frame.insert(0, "split", split)
            for column, value in zip(FIT_COLUMNS, (model, config, seed, n_real)):
                frame.insert(0, column, value)
            frame["forecast"] = np.asarray(values, dtype=np.float32).reshape(-1)
            self.parts.append(frame[FIT_COLUMNS + ["split", "entity_id", "origin", "step", "date", "forecast",
                                                   "actual", "active"]])

    def baselines(self, ma_window: int) -> None:
        for split, windows in (("val", self.val), ("test", self.test)):
            history = windows.to_units(windows.history)
            for name, forecast in all_point_baselines(history, windows.horizon, ma_window).items():
                self.add(name, "", BASELINE_SEED, 0, {split: forecast})

    def fit_all(self, specs: Sequence[tuple], phase: str, gbm_specs: Sequence[tuple] = ()) -> None:
        """Fit every (kind, ratio, n_real, seed, loss, lr) of `specs` not fitted before, and every LightGBM
        (n_real, seed, params) of `gbm_specs`, as one call of parallel jobs (costliest first); their forecasts
        are kept in the order of the specs, LSTM fits first."""
        todo, keys = [], set()
        for kind, ratio, n_real, seed, loss, lr in specs:
            key = (variant_name(kind, ratio), config_label(loss, lr), seed, n_real)
            if key not in self.done and key not in keys:
                keys.add(key)
                fair = self.fair[(n_real, seed)].samples_scaled if kind == "gan_fair" else None
                todo.append((key, _FitJob(kind, float(ratio), self.subset(seed, n_real), seed, loss, lr, fair)))

        # "LSTM fit k of M · elapsed · ETA" lines on the console when the run logs (console.Progress)
        progress = Progress(f"LSTM fit ({phase[0]})", len(todo)) if self.progress and todo else None

        def report(index: int, out: dict) -> None:
            if index >= len(todo):  # a LightGBM job: no progress line
                return
            if progress:
                progress.step()
            (model, config, seed, _), job = todo[index]
            self.say(f"[benchmark] {phase}: {model} ({config}) seed {seed}, {len(job.keep)} real + "
                     f"{out['n_train_synthetic']} synthetic windows, best epoch {out['best_epoch']}/"
                     f"{out['epochs_run']} ({out['fit_seconds']:.1f}s)")

        gbm_jobs = [gbm.GbmJob(int(n_real), int(seed), self.subset(seed, n_real), dict(params))
                    for n_real, seed, params in gbm_specs]

        jobs = [job for _, job in todo] + gbm_jobs
        with _timed(self.seconds, f"fits {phase}"):
            results = self.engine.run(_run_job, jobs, on_result=report, cost=[_job_cost(j) for j in jobs])
        for ((model, config, seed, n_real), job), out in zip(todo, results[:len(todo)]):
            self.add(model, config, seed, n_real, out["forecasts"])
            self.done.add((model, config, seed, n_real))
            self.fit_rows.append({"model": model, "config": config, "seed": seed, "n_real": n_real,
                                  "augmentation": job.kind, "ratio": job.ratio, "loss": job.loss, "lr": job.lr,
                                  "n_train_synthetic": out["n_train_synthetic"], "best_epoch": out["best_epoch"],
                                  "epochs_run": out["epochs_run"], "best_val_loss": out["best_val_loss"],
                                  "fit_seconds": out["fit_seconds"], "phase": phase})
        for job, out in zip(gbm_jobs, results[len(todo):]):
            self.add(gbm.MODEL, gbm.config_label(job.params), job.seed, job.n_real, out["forecasts"])

    def val_scores(self, train_df: pd.DataFrame, weights: pd.Series) -> pd.DataFrame:
        """WRMSSE (headline subset) of every validation forecast so far (the input of each validation choice)."""
        with _timed(self.seconds, "validation scoring"):
            return score_forecasts(self.frame("val"), train_df, weights, (HEADLINE,)).table

    def close(self) -> None:
        self.engine.close()

    def frame(self, split: str | None = None) -> pd.DataFrame:
        parts = [p for p in self.parts if split is None or p["split"].iat[0] == split]
        frame = pd.concat(parts, ignore_index=True)
        # 10M+ rows: strings as categories (the parquet file stores them as dictionaries anyway)
        return frame.astype({name: "category" for name in ("model", "config", "split", "entity_id")})


def _mean_val(scores: pd.DataFrame, **match) -> pd.DataFrame:
    """Mean validation WRMSSE (headline subset) per model x config over seeds, for rows matching `match`."""
    table = scores[(scores["split"] == "val") & (scores["subset"] == HEADLINE)]
    for column, value in match.items():
        table = table[table[column].isin(value if isinstance(value, (list, tuple, set)) else [value])]
    return (table.groupby(["model", "config"], sort=True)
            .agg(val_wrmsse=("wrmsse", "mean"), n_seeds=("seed", "nunique")).reset_index()
            .sort_values(["val_wrmsse", "model", "config"], kind="stable").reset_index(drop=True))


def resolve_sizes(sizes: Sequence[int], n_train: int) -> list[int]:
    """Window counts of the scarcity study: 0 = all, capped at the train windows, deduplicated, ascending."""
    return sorted({n_train if not int(s) or int(s) >= n_train else int(s) for s in sizes})


def run_benchmark(train: WindowSet, val: WindowSet, test: WindowSet, gan_samples_scaled: np.ndarray | None,
                  train_df: pd.DataFrame, *, ratios: Sequence[float] = (0.5, 1, 5), seeds: Sequence[int] = (0, 1),
                  tune_seeds: int = 1, augmentations: Sequence[str] = ("jitter", "scaling", "block_bootstrap"),
                  losses: Sequence[str] = ("mse",), lrs: Sequence[float] = (1e-3,),
                  scarcity_sizes: Sequence[int] = (0,), reference_size: int = 0, hidden: int = 128,
                  layers: int = 2, epochs: int = 50, patience: int = 5, batch_size: int = 128,
                  steps_per_epoch: int = 0, tweedie_power: float = 1.5, quantile: float = 0.5,
                  val_stop_windows: int = 0, val_stop_proportional: bool = False, active_days: int = 30,
                  weights_by: str = "units",
                  ma_window: int = 7, n_boot: int = 2000,
                  level: float = 0.95, entity_level: str = "product", gan_train_index: np.ndarray | None = None,
                  num_threads: int | None = None, n_jobs: int = 1, executor: str = "local",
                  executor_address: str = "", practitioner_gbm: bool = False, fair_gan: dict | Callable | None = None,
                  analog_k: int = 0, log: Callable[[str], None] | None = print) -> BenchmarkResult:
    """Run the stage-04 protocol (module docstring): validation choices, then the scarcity study, then the tables.

    Args:
        train: real train windows (the only source of synthetic/augmented windows).
        val: validation windows (early stopping, every choice).
        test: test windows.
        gan_samples_scaled: (len(train), K, H) scaled generator samples conditioned on the train windows, or None.
        train_df: `train_series` of the panel (RMSSE denominators and weights).
        ratios: synthetic:real ratios tried on validation.
        seeds: seeds of the scarcity study (each: real-window subset, initialisation, batch order, noise).
        tune_seeds: the first `tune_seeds` seeds make every validation choice.
        augmentations: simple augmentations (keys of `augment.AUGMENTATIONS`).
        losses: forecaster losses tried on validation (`forecaster.LOSSES`).
        lrs: learning rates tried on validation.
        scarcity_sizes: real training windows per fit (0 = all).
        reference_size: the size at which the choices are made (0 = all).
        hidden, layers, epochs, patience, batch_size, steps_per_epoch, tweedie_power, quantile: LSTM training.
        val_stop_windows: early stopping reads this many val windows (seeded subsample; 0 = all); the choices
            always read the forecasts of every val window.
        val_stop_proportional: each LSTM fit stops instead on the validation share a user with its n real
            windows holds out (`study.validation_subset`, as its fair generator and LightGBM do).
        active_days: an active window's entity sold in this many days up to its origin.
        weights_by: WRMSSE weights, "units" or "revenue" of the train period.
        ma_window: moving-average baseline window.
        n_boot: bootstrap replicates.
        level: confidence level.
        entity_level: "product" or "category" (recorded).
        gan_train_index: indices of the train windows the GAN was trained on (to report the overlap), or None.
        num_threads: torch CPU threads during the run and of each LSTM fit (restored afterwards); None keeps
            torch's setting.
        n_jobs: LSTM fits at once, each in its own worker process (0 = every core; 1 = one after another in this
            process); the forecasts do not depend on it.
        executor: where the fits run (`executor.EXECUTORS`): "local" (this machine), "ray" or "dask".
        executor_address: the Ray/Dask cluster's address ("" = a local cluster of n_jobs workers).
        practitioner_gbm: phase D, the global LightGBM (`gbm.py`), real-only at every size.
        fair_gan: {(n_real, seed): `fair_gan.FairGenerator`}, or a function of the stage's `Engine` that submits
            their training and returns its `Pending` (`fair_gan.submit_fair_generators`, other arguments bound): it
            runs beside phases A and B, which do not need them. The sizes they cover get the fair-GAN arm, its ratio
            chosen on validation at each size (phase B2).
        analog_k: analogs per window of the history-analog arms at the fair sizes ("analog": from every train
            window, the catalogue generator's pool; "analog_fit": from the fit's own windows); 0 = no analog arms.
        log: progress lines; None for silence.

    Returns:
        The BenchmarkResult.
    """
    unknown = sorted(set(losses) - set(LOSSES))
    if unknown or not losses or not lrs or not seeds:
        raise ValueError(f"run_benchmark: losses {list(losses)} (from {LOSSES}), lrs {list(lrs)} and seeds "
                         f"{list(seeds)} must be non-empty; unknown losses {unknown}")
    if gan_samples_scaled is not None:
        gan_samples_scaled = np.asarray(gan_samples_scaled)
        if gan_samples_scaled.ndim != 3 or gan_samples_scaled.shape[0] != len(train):
            raise ValueError(f"run_benchmark: gan_samples_scaled {gan_samples_scaled.shape} must be "
                             f"({len(train)}, K, H), one row per train window (train conditions only)")
    previous_threads = torch.get_num_threads()
    if num_threads:
        torch.set_num_threads(num_threads)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        stack.callback(torch.set_num_threads, previous_threads)
        say = log or (lambda message: None)
        fit_settings = dict(hidden=hidden, layers=layers, epochs=epochs, patience=patience, batch_size=batch_size,
                            steps_per_epoch=steps_per_epoch, tweedie_power=tweedie_power, quantile=quantile)
        engine = dict(executor=executor, n_jobs=n_jobs, address=executor_address,
                      threads=num_threads or torch.get_num_threads())
        runner = _Runner(train, val, test, gan_samples_scaled, fit_settings, active_days, say, val_stop_windows,
                         engine, progress=log is not None, analog_k=int(analog_k),
                         stop_proportional=bool(val_stop_proportional))
        stack.callback(runner.close)
        with _timed(runner.seconds, "fair generators submitted"):  # all their training when n_jobs is 1
            fair_training = fair_gan(runner.engine) if callable(fair_gan) else Pending(lambda: dict(fair_gan or {}))
        weights = entity_weights(train_df, weights_by)
        sizes = resolve_sizes(scarcity_sizes, len(train))
        ref = resolve_sizes([reference_size], len(train))[0]
        seeds = [int(s) for s in seeds]
        tuning = seeds[:max(1, int(tune_seeds))]
        with _timed(runner.seconds, "baselines"):
            runner.baselines(ma_window)

        # A. the real-only LSTM's loss and learning rate, on validation
        runner.fit_all([("real", 0.0, ref, seed, loss, lr) for loss in losses for lr in lrs for seed in tuning],
                       "A: loss and learning rate")
        val_scores = runner.val_scores(train_df, weights)
        grid = _mean_val(val_scores, model=REFERENCE, n_real=ref)
        best_config = grid.iloc[0]["config"]
        loss, lr = best_config.split(" lr=")[0], float(best_config.split(" lr=")[1])
        say("[benchmark] A: validation WRMSSE (active windows) by config: "
            + ", ".join(f"{r.config} {r.val_wrmsse:.4f}" for r in grid.itertuples()))

        # B. the GAN ratio and the simple augmentation (kind, ratio), on validation
        plan = [("gan", r) for r in ratios if gan_samples_scaled is not None]
        plan += [(a, r) for a in augmentations for r in ratios]
        runner.fit_all([(kind, ratio, ref, seed, loss, lr) for kind, ratio in plan for seed in tuning],
                       "B: augmentation ratio")
        val_scores = runner.val_scores(train_df, weights)
        gan_models = [variant_name("gan", r) for r in ratios] if gan_samples_scaled is not None else []
        simple_models = [variant_name(a, r) for a in augmentations for r in ratios]
        gan_grid = _mean_val(val_scores, model=gan_models, config=best_config, n_real=ref)
        simple_grid = _mean_val(val_scores, model=simple_models, config=best_config, n_real=ref)
        say("[benchmark] B: validation WRMSSE (active windows): "
            + ", ".join(f"{r.model} {r.val_wrmsse:.4f}" for r in pd.concat([gan_grid, simple_grid]).itertuples()))
        arms = {"real": ("real", 0.0)}
        if len(gan_grid):
            arms["gan"] = ("gan", float(gan_grid.iloc[0]["model"].rsplit("_r", 1)[1]))
        if len(simple_grid):
            chosen = simple_grid.iloc[0]["model"][len("lstm_"):]
            kind, ratio = chosen.rsplit("_r", 1)
            arms["simple"] = (kind, float(ratio))

        # B2. at each size with fair generators: the fair GAN's and the history analogs' ratios, on validation
        arms_by_size = {n: dict(arms) for n in sizes}
        with _timed(runner.seconds, "waiting for the fair generators"):
            runner.fair = fair = fair_training.result()
        if any(not np.array_equal(g.window_index, runner.subset(s, n)) for (n, s), g in fair.items()):
            raise RuntimeError("a fair generator was trained on other windows than its fit's (study.fit_windows)")
        for n_real in sorted({n for n, _ in fair} & set(sizes)):
            kinds = ["gan_fair"] * all((n_real, s) in fair for s in seeds) + list(ANALOG_KINDS) * (analog_k > 0)
            runner.fit_all([(kind, r, n_real, seed, loss, lr) for kind in kinds for r in ratios for seed in tuning],
                           "B2: fair GAN and analog ratios")
            val_scores = runner.val_scores(train_df, weights)
            for kind in kinds:
                grid_k = _mean_val(val_scores, model=[variant_name(kind, r) for r in ratios], config=best_config,
                                   n_real=n_real)
                arms_by_size[n_real][kind] = (kind, float(grid_k.iloc[0]["model"].rsplit("_r", 1)[1]))
            say(f"[benchmark] B2: at {n_real} real windows: " + ", ".join(
                f"{kind} ratio {arms_by_size[n_real][kind][1]:g}" for kind in kinds))

        # C. the scarcity study on test, beside D's LightGBM grid (independent jobs: one call keeps every core busy)
        gbm_grid = [(n_real, seed, p) for n_real in sizes for p in gbm.GRID for seed in tuning] \
            if practitioner_gbm else []
        runner.fit_all([(kind, ratio, n_real, seed, loss, lr) for n_real in sizes for seed in seeds
                        for kind, ratio in arms_by_size[n_real].values()], "C: scarcity study", gbm_grid)
        gbm_configs = _practitioner_gbm(runner, sizes, seeds, tuning, train_df, weights, say) \
            if practitioner_gbm else {}
        runner.close()  # the workers' memory back before the tables
        forecasts = runner.frame()
        fits = pd.DataFrame(runner.fit_rows)
        settings = dict(ratios=list(ratios), seeds=seeds, tune_seeds=tuning, augmentations=list(augmentations),
                        losses=list(losses), lrs=list(lrs), scarcity_sizes=sizes, reference_size=ref,
                        active_days=active_days, weights_by=weights_by, ma_window=ma_window, n_boot=n_boot,
                        val_stop_windows=len(runner.val_stop), val_stop_proportional=bool(val_stop_proportional),
                        level=level, entity_level=entity_level, n_train=len(train), n_val=len(val),
                        n_test=len(test), gan=gan_samples_scaled is not None,
                        gan_k=None if gan_samples_scaled is None else int(gan_samples_scaled.shape[1]),
                        num_threads=torch.get_num_threads(), **fit_settings)
        choices = {"config": best_config, "loss": loss, "lr": lr, "arms": {k: {"augmentation": v[0], "ratio": v[1],
                                                                                 "model": variant_name(*v)}
                                                                             for k, v in arms.items()},
                   "gbm_config": gbm_configs,
                   "arms_by_size": {int(n): {k: {"augmentation": v[0], "ratio": v[1], "model": variant_name(*v)}
                                             for k, v in by.items()} for n, by in arms_by_size.items()}}
        gan_seen = _gan_overlap(runner, gan_train_index, sizes, seeds)
        with _timed(runner.seconds, "tables"):
            tables, summary = tables_from_forecasts(forecasts, train_df, weights, choices, settings, level=level,
                                                    n_boot=n_boot, demand_class=_entity_classes(test),
                                                    gan_seen=gan_seen)
        summary["fair_generators"] = [g.record() for _, g in sorted(fair.items())]
        summary["settings"]["analog_k"] = int(analog_k)
        summary["stage_seconds"] = time.perf_counter() - started
        summary["fit_seconds_total"] = float(fits["fit_seconds"].sum()) if len(fits) else 0.0
        summary["phase_seconds"] = {name: round(seconds, 3) for name, seconds in runner.seconds.items()}
        return BenchmarkResult(forecasts=forecasts, fits=fits, tables=tables, summary=summary)


def _practitioner_gbm(runner: _Runner, sizes, seeds, tuning, train_df, weights, say) -> dict:
    """D. The global LightGBM, real-only, per size: its grid (`gbm.GRID`, fitted over the tuning seeds beside
    phase C) chosen on validation, then the other seeds at the chosen point, as one call of parallel jobs; each fit
    trains on the seed's real windows (`study.fit_windows`, the LSTM's) and early stops on the validation subset a
    user with that many windows holds out (`study.validation_subset`).

    Returns:
        {n_real: the chosen config label}.
    """
    val_scores = runner.val_scores(train_df, weights)
    chosen = {int(n_real): _mean_val(val_scores, model=gbm.MODEL, n_real=n_real).iloc[0]["config"]
              for n_real in sizes}
    by_label = {gbm.config_label(p): p for p in gbm.GRID}
    runner.fit_all([], "D: LightGBM, every seed", [(n_real, seed, by_label[chosen[int(n_real)]])
                                                   for n_real in sizes for seed in seeds if seed not in tuning])
    for n_real, best in chosen.items():
        say(f"[benchmark] D: LightGBM at {n_real} real windows: {best} (validation)")
    return chosen


def _entity_classes(windows: WindowSet) -> pd.Series:
    ids = np.asarray(windows.entity_ids, dtype=object)
    table = pd.DataFrame({"entity_id": ids[windows.entity], "demand_class": windows.demand_class})
    return table.drop_duplicates("entity_id").set_index("entity_id")["demand_class"]


def subsample_index(train: WindowSet, max_windows: int, seed: int) -> np.ndarray:
    """Indices into `train` of the windows `windows.subsample(train, max_windows, seed)` keeps (what stage 02
    trained the GAN on), matched by (entity, origin)."""
    kept = subsample(train, max_windows, seed)

    def key(ws):
        return ws.entity.astype(np.int64) * 1_000_000 + ws.origin.astype("datetime64[D]").astype(np.int64)

    return np.flatnonzero(np.isin(key(train), key(kept)))


def _gan_overlap(runner: _Runner, gan_index, sizes, seeds) -> dict:
    """How many of each fit's real windows the GAN was trained on (mean over seeds, per size)."""
    if gan_index is None:
        return {"gan_train_windows": None, "share_of_lstm_windows_seen_by_gan": {}}
    seen = np.zeros(len(runner.train), bool)
    seen[np.asarray(gan_index, dtype=np.int64)] = True
    share = {str(n): float(np.mean([seen[runner.subset(s, n)].mean() for s in seeds])) for n in sizes}
    return {"gan_train_windows": int(seen.sum()), "share_of_lstm_windows_seen_by_gan": share}


# ---------------------------------------------------------------------------------------------- parameters


def settings_from_params(settings: dict) -> dict:
    """`run_benchmark` keyword arguments from notebook 04's parameters (seeds are seed, seed + 1, ...)."""
    first = int(settings["seed"])
    return {"ratios": tuple(float(r) for r in settings["ratios"]),
            "seeds": tuple(range(first, first + int(settings["n_seeds"]))),
            "tune_seeds": int(settings["tune_seeds"]),
            "augmentations": tuple(settings["augmentations"]),
            "losses": tuple(settings["forecaster_losses"]), "lrs": tuple(float(v) for v in settings["forecaster_lrs"]),
            "scarcity_sizes": tuple(int(v) for v in settings["scarcity_sizes"]),
            "reference_size": int(settings["max_train_windows"]),
            "hidden": int(settings["forecaster_hidden"]), "layers": int(settings["forecaster_layers"]),
            "epochs": int(settings["forecaster_epochs"]), "patience": int(settings["forecaster_patience"]),
            "batch_size": int(settings["forecaster_batch_size"]),
            "steps_per_epoch": int(settings["forecaster_steps_per_epoch"]),
            "tweedie_power": float(settings["tweedie_power"]), "quantile": float(settings["forecaster_quantile"]),
            "active_days": int(settings["active_days"]), "weights_by": str(settings["wrmsse_weights"]),
            "val_stop_windows": int(settings.get("forecaster_val_windows", 0)),
            "val_stop_proportional": bool(settings.get("forecaster_stop_proportional", False)),
            "practitioner_gbm": bool(settings.get("practitioner_gbm", False)),
            "n_jobs": int(settings.get("n_jobs", 1)), "executor": str(settings.get("executor", "local")),
            "executor_address": str(settings.get("executor_address", ""))}


# ---------------------------------------------------------------------------------------------- display


def results_markdown(stage_folder: str | Path) -> str:
    """Markdown of a saved stage-04 folder for docs/results.md, from its summary.json and tables."""
    folder = Path(stage_folder)
    summary = json.loads((folder / SUMMARY_FILE).read_text())
    results = pd.read_csv(folder / RESULTS_FILE)
    by_size = pd.read_csv(folder / BY_SIZE_FILE)
    selection = pd.read_csv(folder / SELECTION_FILE, keep_default_na=False)  # baselines have an empty config
    ref = summary["settings"]["reference_size"]
    return "\n\n".join([
        answer_markdown(summary),
        f"Test WRMSSE on active windows [95% CI over seeds], LSTMs on {ref} real windows, baselines; MAE, RMSE and "
        "bias (forecast − actual) in units per day:\n\n" + headline_table(results, ref).to_markdown(),
        "The same on all test windows:\n\n" + headline_table(results, ref, "all").to_markdown(),
        "Scarcity study (active test windows):\n\n" + by_size_table(by_size).to_markdown(index=False),
        "Scarcity study (all test windows):\n\n" + by_size_table(by_size, "all").to_markdown(index=False),
        "Validation choices (mean validation WRMSSE on active windows over the tuning seeds):\n\n"
        + selection.to_markdown(index=False, floatfmt=".4f"),
    ]) + "\n"


if __name__ == "__main__":
    import sys

    commands = {"markdown": results_markdown,
                "answer": lambda folder: answer_markdown(json.loads((Path(folder) / SUMMARY_FILE).read_text()))}
    if len(sys.argv) != 3 or sys.argv[1] not in commands:
        sys.exit("usage: python -m salesgan_utils.benchmark {markdown|answer} outputs/<run>/04_augmentation_benchmark")
    print(commands[sys.argv[1]](sys.argv[2]))

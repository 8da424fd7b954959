"""Stage 04's fair generators (docs/analysis_plan.md, section 3, arm 2): for every (size n, seed) of the fits that
use GAN samples, a generator trained **only on that fit's n real windows** (`study.fit_windows`) with the fit's
seed, its checkpoint the lowest fair CRPS on the fit's proportional validation subset (`study.validation_subset`),
within a step budget; then K samples per fit window from that checkpoint, which that fit (and only it) mixes in.

The members of one stage train as `ensembles` batched computations of one torch thread each
(`train.submit_ensembles`: a fixed split, so the numbers do not depend on where they run), submitted to the stage's
engine beside the protocol's first phases (`submit_fair_generators`) or on an engine of their own
(`train_fair_generators`). Each member writes what stage 02 writes into `<out_dir>/<member name>/` (checkpoints,
training_history.csv, model_summary.json) and its samples into `<out_dir>/<member name>/samples_fit/`
(`sample.generate_samples`). `FairGenerator.record` is what summary.json says each generator was trained on
(windows, steps, seed).
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .gan import GanConfig, load_generator
from .windows import WindowSet

FAIR_FOLDER = "fair_generators"
SAMPLES_FOLDER = "samples_fit"


@dataclass
class FairGenerator:
    """One trained fair generator and its samples of its fit's windows.

    Attributes:
        n_real, seed, fold: the fit it belongs to.
        window_index: indices into the train windows it was trained on (= the fit's real windows).
        val_index: indices into the validation windows its checkpoint was chosen on.
        samples_scaled: (n_real, K, H) scaled samples, row i conditioned on train window window_index[i].
        steps: training steps run; best_step: the step of the chosen checkpoint; best_val_crps: its score.
        folder: its output folder.
    """

    n_real: int
    seed: int
    fold: int
    window_index: np.ndarray
    val_index: np.ndarray
    samples_scaled: np.ndarray
    steps: int
    best_step: int
    best_val_crps: float
    folder: Path

    def record(self) -> dict:
        """What summary.json says about this generator: what it was trained on (the train-window indices, its
        fit's), its budget, its chosen checkpoint and its samples."""
        return {"fold": self.fold, "n_real": self.n_real, "seed": self.seed,
                "train_windows": int(len(self.window_index)),
                "window_index": [int(i) for i in self.window_index],
                "val_windows": int(len(self.val_index)), "steps": self.steps, "best_step": self.best_step,
                "best_val_crps": self.best_val_crps, "k": int(self.samples_scaled.shape[1]),
                "folder": f"{FAIR_FOLDER}/{Path(self.folder).name}"}


def fair_config(config: GanConfig, sizes: Sequence[int], train: WindowSet) -> GanConfig:
    """The catalogue generator's design and size for the fair generators, on these train windows; the batch is at
    most the smallest size (members share one batch size and each needs one full batch)."""
    config = dataclasses.replace(config, batch_size=min(int(config.batch_size), min(int(n) for n in sizes)))
    return config.for_windows(train)


def submission_from_params(settings: dict, train: WindowSet, val: WindowSet, config: GanConfig, k: int,
                           out_dir: str | Path, *, fold: int = 0, device: str = "cpu",
                           log: Callable[[str], None] | None = None) -> Callable | dict:
    """Notebook 04's fair generators from its parameters (`fair_gan_sizes`, `seed`/`n_seeds`, `fair_gan_steps`,
    `fair_gan_val_every`, `fair_gan_patience`, `fair_gan_ensembles`): `submit_fair_generators` with every argument
    but the engine bound, as `benchmark.run_benchmark(fair_gan=...)` takes it; {} when `fair_gan_sizes` is empty."""
    from .benchmark import resolve_sizes, settings_from_params

    sizes = resolve_sizes(settings.get("fair_gan_sizes") or [], len(train))
    if not sizes:
        return {}
    return functools.partial(submit_fair_generators, train=train, val=val, config=config, sizes=sizes,
                             seeds=settings_from_params(settings)["seeds"], steps=int(settings["fair_gan_steps"]),
                             k=int(k), out_dir=Path(out_dir), fold=int(fold),
                             val_every=int(settings["fair_gan_val_every"]),
                             patience=int(settings.get("fair_gan_patience", 0)),
                             ensembles=int(settings.get("fair_gan_ensembles", 1)), device=device, log=log)


def train_fair_generators(train: WindowSet, val: WindowSet, config: GanConfig, sizes: Sequence[int],
                          seeds: Sequence[int], steps: int, k: int, out_dir: str | Path, *, fold: int = 0,
                          val_every: int = 25, patience: int = 0, ensembles: int = 1, n_jobs: int = 1,
                          executor: str = "local", executor_address: str = "", sample_batch_size: int = 1024,
                          device: str = "cpu",
                          log: Callable[[str], None] | None = None) -> dict[tuple[int, int], FairGenerator]:
    """`submit_fair_generators` on an engine of its own (`executor.engine_for`: `n_jobs` at a time, local workers no
    more than ensembles, or on the Ray/Dask cluster of `executor`, `executor_address`), and wait for them. The
    other arguments, the result and the errors as `submit_fair_generators`'s."""
    from .executor import engine_for

    with engine_for(min(int(ensembles), len(sizes) * len(seeds)), executor=executor, n_jobs=n_jobs,
                    address=executor_address) as engine:
        return submit_fair_generators(engine, train, val, config, sizes, seeds, steps, k, out_dir, fold=fold,
                                      val_every=val_every, patience=patience, ensembles=ensembles,
                                      sample_batch_size=sample_batch_size, device=device, log=log).result()


def submit_fair_generators(engine, train: WindowSet, val: WindowSet, config: GanConfig, sizes: Sequence[int],
                           seeds: Sequence[int], steps: int, k: int, out_dir: str | Path, *, fold: int = 0,
                           val_every: int = 25, patience: int = 0, ensembles: int = 1, sample_batch_size: int = 1024,
                           device: str = "cpu", log: Callable[[str], None] | None = None):
    """Hand the training of one fair generator per (n in `sizes`, seed in `seeds`) to `engine` without waiting
    (`train.submit_ensembles`); the returned `executor.Pending` waits for them and samples K per fit window.
    Stage 04 submits them to its protocol's engine before phase A, so they train beside phases A and B.

    Args:
        engine: the `executor.Engine` the ensembles run on (its workers, one torch thread per ensemble).
        train: the stage's train windows (the fits' windows index into them).
        val: the stage's validation windows (each member reads its fit's proportional subset).
        config: the catalogue generator's configuration (stage 02's checkpoint); `fair_config` adapts it.
        sizes: fit sizes n (each < len(train); `benchmark.resolve_sizes` output).
        seeds: the fits' seeds (a generator's seed = its fit's seed).
        steps: each generator's step budget.
        k: samples per fit window.
        out_dir: parent folder of the members' folders.
        fold: the backtest fold of these windows (stage 01's metadata; names and records only).
        val_every: validation (checkpoint choice) every this many steps.
        patience: a member stops after this many validations in a row without a lower validation CRPS (0: every
            member trains all `steps`); chosen on validation (docs/analysis_plan.md, Deviation 2026-12-06).
        ensembles: batched trainings the members are split into (contiguous blocks, one torch thread each); part
            of the result's recipe, unlike where they run.
        sample_batch_size: generated sequences per forward when sampling.
        device: where the ensembles train: "cpu" (on `engine`), or "cuda" (then one after another on the GPU, in
            this process, before this returns).
        log: progress lines (None: silent).

    Returns:
        An `executor.Pending` of {(n_real, seed): FairGenerator}.
    """
    from . import study
    from . import train as training
    from .sample import generate_samples

    sizes, seeds = [int(n) for n in sizes], [int(s) for s in seeds]
    if not sizes or not seeds or steps < 1 or k < 1:
        raise ValueError(f"train_fair_generators: sizes {sizes} and seeds {seeds} must be non-empty, steps {steps} "
                         f"and k {k} >= 1")
    too_big = [n for n in sizes if n >= len(train)]
    if too_big:
        raise ValueError(f"train_fair_generators: sizes {too_big} are not below the {len(train)} train windows: a "
                         f"fit on every window uses the catalogue generator (stage 02), which saw exactly its windows")
    config = fair_config(config, sizes, train)
    members = study.fair_members(len(train), len(val), sizes, seeds, steps, fold=fold)
    specs = study.ensemble_specs(members, config.batch_size, val_every=val_every, patience=patience)
    out_dir = Path(out_dir)
    blocks = min(int(ensembles), len(members))
    if log:
        log(f"[fair GAN] {len(members)} generators (sizes {sizes} x seeds {seeds}), {steps} steps each"
            + (f" (or until {patience} validations without a lower CRPS)" if patience else "")
            + f", batch {config.batch_size}, validated every {val_every} steps on each fit's validation subset; "
            + (f"{blocks} ensemble(s) on {device}, one after another" if device != "cpu" else
               f"{blocks} ensemble(s) of one thread on {engine.n_jobs} {engine.executor} worker(s)"))

    def done(block, results, seconds):
        if log:
            log(f"[fair GAN] ensemble of {', '.join(spec.name for spec in block)} trained in {seconds:.0f} s")

    def sampled(results) -> dict[tuple[int, int], FairGenerator]:
        fair = {}
        for member, result in zip(members, results):
            history = result.history
            best = history.loc[history["val_crps"].idxmin()]
            windows = train.subset(member.window_index)
            samples = generate_samples(load_generator(result.best_ckpt), windows, k,
                                       result.out_dir / SAMPLES_FOLDER, seed=member.seed, batch_size=sample_batch_size)
            fair[(member.n_real, member.seed)] = FairGenerator(
                n_real=member.n_real, seed=member.seed, fold=int(fold), window_index=member.window_index,
                val_index=member.val_index,
                samples_scaled=np.array(samples.scaled), steps=int(result.generator_steps),
                best_step=int(best["step"]), best_val_crps=float(best["val_crps"]), folder=result.out_dir)
            if log:
                log(f"[fair GAN] {member.name}: {len(member.window_index)} windows, best val_crps "
                    f"{float(best['val_crps']):.4g} at step {int(best['step'])} of {result.generator_steps}")
        return fair
    return training.submit_ensembles(engine, train, val, config, specs, out_dir, ensembles=blocks, on_done=done,
                                     device=device).then(sampled)

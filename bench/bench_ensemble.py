"""Generator steps per second of the batched ensemble (`gan.GanEnsemble`) for M members against M sequential
trainings with today's trainer, side by side in one run, and the GAN FLOPs per member step of both.

Usage (from the repository root; a quiet host: check `uptime`, load < 0.5):
    .venv/bin/python bench/bench_ensemble.py --sizes quick --members 1 2 5 10 20
    .venv/bin/python bench/bench_ensemble.py --sizes smoke --members 1 2 --steps 2    # a tiny check of the script
    python3 bench/bench_ensemble.py --device cuda --sizes quick full --members 1 5 20   # on a GPU (bench/gpu_check.sh)

"Sequential" is M times the median step of `WGANGP.training_step` under a Lightning Trainer (bench_gan's `_fit`,
timed before and after the ensemble rows, averaged), what M trainings one after another cost per step; the
ensemble row is the median wall time of `GanEnsemble.step()` (all M members' n_critic critic updates and generator
update; validation excluded in both). FLOPs of one step are counted with `FlopCounterMode` (oneDNN disabled while
counting), divided by M for the ensemble. Threads: torch's default (every core) in both. With `--device cuda` both
run on the GPU (today's trainer under Lightning's `accelerator="gpu"`, the ensemble with `device="cuda"`), every
timed step ends with `torch.cuda.synchronize()`, and the single trainer's FLOPs are counted on the CPU (cuDNN's RNN
kernels have no FLOP formula; the count does not depend on the device).

`--workers W` adds, for each M, a row of W single-thread ensembles of about M/W members each running at once in W
worker processes (`executor.run_jobs`, as `train.train_ensembles` runs stage 04's fair generators): each worker
times its own median step, and the row's throughput is the sum of the workers' member steps per second.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gan import SIZES, _fit, _GlobalFlopCounter, sgemm_gflops  # noqa: E402

from salesgan_utils.gan import GanEnsemble, MemberSpec  # noqa: E402
from salesgan_utils.windows import random_windowset  # noqa: E402


def _sync(device: str) -> None:
    if device != "cpu":
        torch.cuda.synchronize()


def _ensemble(config, members: int, steps: int, device: str = "cpu"):
    """A GanEnsemble of `members` members, each on its own seeded windows (enough for warm-up + timed steps)."""
    n = config.batch_size * (steps + 2)
    train, val = random_windowset(n * 2, seed=0), random_windowset(8, seed=1)
    config = config.for_windows(train)
    rng = np.random.default_rng(0)
    specs = [MemberSpec(windows=np.sort(rng.choice(len(train), n, replace=False)), seed=m, max_epochs=1)
             for m in range(members)]
    return GanEnsemble(config, train, val, specs, device=device)


def time_ensemble(config, members: int, steps: int, device: str = "cpu") -> tuple[float, float]:
    """(median seconds per ensemble step, FLOPs of one ensemble step)."""
    ensemble = _ensemble(config, members, steps, device)
    ensemble.step()  # warm-up: allocations
    with torch.backends.mkldnn.flags(enabled=False), _GlobalFlopCounter(display=False) as counter:
        ensemble.step()
    times = []
    for _ in range(steps):
        _sync(device)
        start = time.perf_counter()
        ensemble.step()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), counter.get_total_flops()


def _time_block(context, members: int) -> float:
    """An executor job: the median step of one ensemble of `members` members (seconds), in a worker."""
    config, steps = context
    return time_ensemble(config, members, steps)[0]


def time_workers(config, members: int, steps: int, workers: int) -> float:
    """Member steps per second of `members` members as `workers` single-thread ensembles at once."""
    from salesgan_utils.executor import run_jobs

    blocks = [len(block) for block in np.array_split(np.arange(members), min(workers, members))]
    seconds = run_jobs(_time_block, blocks, context=(config, steps), n_jobs=len(blocks), threads=1)
    return sum(m / s for m, s in zip(blocks, seconds))


def time_single(config, steps: int, device: str = "cpu") -> tuple[float, float]:
    """(median seconds per training step of today's trainer, FLOPs of one step)."""
    flops = _fit(config, 2, "cpu", count_flops_at=1).flops
    accelerator = "cpu" if device == "cpu" else "gpu"
    return statistics.median(_fit(config, steps + 1, accelerator).times[1:]), flops


def table(name: str, members: list[int], steps: int, workers: int, device: str) -> None:
    """Time one size: today's trainer before and after the ensemble rows; print the markdown table."""
    config = SIZES[name]
    loads = [os.getloadavg()]
    single_before, single_flops = time_single(config, steps, device)
    rows = []
    for m in members:
        seconds, flops = time_ensemble(config, m, steps, device)
        parallel = time_workers(config, m, steps, workers) if workers else None
        rows.append((m, seconds, flops, parallel))
        print(f"{name} M={m}: {seconds:.3f} s per ensemble step, {m / seconds:.2f} member steps/s"
              + (f"; {parallel:.2f} member steps/s as {min(workers, m)} workers" if parallel else ""),
              file=sys.stderr, flush=True)
    single_after, _ = time_single(config, steps, device)
    loads.append(os.getloadavg())
    single = (single_before + single_after) / 2
    where = (torch.cuda.get_device_name(0) if device != "cpu"
             else f"{torch.get_num_threads()} torch threads, {platform.processor() or platform.machine()}")
    print(f"\nsizes {name} (batch {config.batch_size}), {where}, torch {torch.__version__}; sgemm "
          f"{sgemm_gflops(device=device):.0f} GFLOP/s; load average (1, 5, 15 min) before {loads[0]}, "
          f"after {loads[1]}")
    print(f"today's trainer: {single_before:.4f} s per step before, {single_after:.4f} s after; "
          f"{single_flops / 1e9:.2f} GFLOP per step")
    extra = f" {workers} single-thread workers: member steps/s | speed-up |" if workers else ""
    print("| M | ensemble s/step | member steps/s | sequential member steps/s | speed-up | GFLOP per member step "
          "(ensemble / alone) |" + extra)
    print("|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if workers else ""))
    for m, seconds, flops, parallel in rows:
        print(f"| {m} | {seconds:.4f} | {m / seconds:.2f} | {1 / single:.2f} | {single * m / seconds:.2f}× | "
              f"{flops / m / 1e9:.2f} / {single_flops / 1e9:.2f} |"
              + (f" {parallel:.2f} | {parallel * single:.2f}× |" if parallel else ""), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["quick"], choices=list(SIZES))
    parser.add_argument("--members", type=int, nargs="+", default=[1, 2, 5, 10, 20])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per row (after warm-up)")
    parser.add_argument("--workers", type=int, default=0, help="also time M members as this many single-thread "
                        "ensembles in worker processes at once (0 = no such rows; CPU only)")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (both trainers on the GPU)")
    args = parser.parse_args()
    if args.device != "cpu" and args.workers:
        parser.error("--workers times CPU worker processes: leave it out with --device cuda")
    if args.device != "cpu" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device visible to this Python")
    for name in args.sizes:
        table(name, args.members, args.steps, args.workers, args.device)


if __name__ == "__main__":
    main()

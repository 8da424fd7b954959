"""Time the stage-04 building blocks: baselines, augmentations, paired tests and one LSTM fit.

Usage (from the repository root):
    .venv/bin/python bench/bench_benchmark.py [--windows 10000] [--large 100000] [--epochs 3] [--threads 1]

Prints a Markdown table (one row per step, median of --repeats for the cheap steps) to paste into the
"Benchmark stage" section of bench/RESULTS.md. Windows come from `random_windowset` (seeded), so the histories
are mostly distinct: Croston/TSB timings are the worst case, since identical histories (many all-zero ones on
Olist) are forecast once.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch

from salesgan_utils import augment, baselines, stats
from salesgan_utils.forecaster import fit_forecaster
from salesgan_utils.windows import random_windowset


def _timed(step, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000, help="windows for the Croston/TSB scaling check")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads for the LSTM fit (default: torch's)")
    args = parser.parse_args()
    load_before = os.getloadavg()

    windows = random_windowset(args.windows, seed=0, n_entities=200)
    val = random_windowset(args.windows // 5, seed=1, n_entities=200)
    history = windows.to_units(windows.history)
    large = random_windowset(args.large, seed=2, n_entities=200)
    large_history = large.to_units(large.history)
    distinct = len(np.unique(history, axis=0))
    rows = []

    def add(step: str, n: int, seconds: float) -> None:
        rows.append((step, n, seconds))
        print(f"{step}: {n} windows, {seconds:.3f} s", flush=True)

    for forecaster in baselines.POINT_BASELINES.values():  # warm-up: imports and first-call compilation
        forecaster(history[:50])
    for name, forecaster in baselines.POINT_BASELINES.items():
        repeats = 1 if name in ("croston_sba", "tsb") else args.repeats
        add(f"baseline {name}", args.windows, _timed(lambda f=forecaster: f(history), repeats))
    for name in ("croston_sba", "tsb"):
        forecaster = baselines.POINT_BASELINES[name]
        add(f"baseline {name}", args.large, _timed(lambda f=forecaster: f(large_history), 1))
    all_zero = np.zeros_like(large_history)
    add("baseline croston_sba, all-zero histories", args.large,
        _timed(lambda: baselines.croston_sba_forecast(all_zero), 1))
    add("block_resample_sampler K=50", args.windows,
        _timed(lambda: baselines.block_resample_sampler(history, 7, 50, seed=0), args.repeats))
    for name in augment.AUGMENTATIONS:
        add(f"augment {name} x5 copies", args.windows,
            _timed(lambda n=name: augment.augment(windows, n, copies=5, seed=0), args.repeats))
    per_entity = np.abs(np.random.default_rng(0).normal(size=(2, 5, 200)))  # (variant, seed, entity) RMSSE
    add("hierarchical_bootstrap (2000 reps, 5 seeds x 200 entities)", args.windows,
        _timed(lambda: stats.hierarchical_bootstrap(per_entity[0], per_entity[1]), args.repeats))

    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    fitted = fit_forecaster(windows, val, seed=0, hidden=128, layers=2, epochs=args.epochs, patience=args.epochs,
                            batch_size=128, lr=1e-3)
    fit_seconds = time.perf_counter() - started
    add(f"LSTM 2x128 fit, {len(fitted.history)} epochs (batch 128, val {len(val)})", args.windows, fit_seconds)
    # min beside median: on a shared host single epochs swing several-fold, and the min is the uncontended cost
    add("LSTM 2x128 one epoch (median)", args.windows, fitted.history["seconds"].median())
    add("LSTM 2x128 one epoch (min)", args.windows, fitted.history["seconds"].min())

    print()
    print(f"Load average before/after: {load_before} / {os.getloadavg()}")
    print(f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, numpy {np.__version__}; {distinct} distinct histories of {args.windows}")
    print("| step | windows | seconds |")
    print("|---|---:|---:|")
    for step, n, seconds in rows:
        print(f"| {step} | {n} | {seconds:.3f} |")


if __name__ == "__main__":
    main()

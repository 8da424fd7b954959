"""Benchmark stage 03's sample generation: memory, time and disk size of K samples for every quick-profile train window.

Usage: .venv/bin/python bench/bench_samples.py [--data ../shared/data/olist] [--k 5 50] [--batch-size 1024]
                                              [--trace-k 5] [--max-windows 0]

Target (issue 5): K=5 samples for ALL train windows of the quick profile (params/quick.yaml: entity, top_n,
min_train_units, GAN sizes; no `max_train_windows` cap) under 1 GB of memory. Each measurement runs in a fresh
subprocess, so that one run's freed memory cannot hide the next one's peak:

* baseline: import, load the tables, build the quick-profile windows and the quick-size `WGANGP`; no generation.
* K=k, untraced: the same, then `sample.generate_samples(module, train, k, tmpdir, seed=0)`; its wall time, the
  process's peak RSS (`ru_maxrss`), and the peak RSS of the call alone (Linux: `/proc/self/clear_refs` resets the
  high-water mark just before the call, `VmHWM` reads it after).
* K=k, traced: the same call under tracemalloc (numpy buffers are reported to it; torch's are not).

Weights are untrained: memory and time do not depend on their values. Peak RSS includes the pages of the two
memory-mapped output files that the call has written (file-backed, reclaimable), so it is an upper bound.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _vm(field: str) -> float:
    """A /proc/self/status memory field (VmRSS, VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # "5": reset the peak RSS (VmHWM) to the current RSS
        return True
    except OSError:
        return False


def child(mode: str, k: int, data_dir: str, batch_size: int, max_windows: int = 0) -> dict:
    """One measurement in this (fresh) process; returns a dict printed as JSON."""
    warnings.simplefilter("ignore")
    from salesgan_utils import gan, params, preprocess, sample, windows
    from salesgan_utils.paths import DataSource

    quick = dict(params.load_profile("quick"))
    source = DataSource(Path(data_dir), "olist", "bench_samples.py --data")
    _, _, sets = preprocess.build(source, **{key: quick[key] for key in preprocess.BUILD_KEYS})
    train = windows.subsample(sets["train"], max_windows, seed=0)
    del sets
    module = gan.WGANGP(gan.GanConfig.from_params(quick).for_windows(train))
    result = {"mode": mode, "k": k, "windows": len(train), "entities": len(train.entity_ids),
              "windows_mb": sum(getattr(train, name).nbytes for name in train._ARRAYS) / 2**20,
              "rss_before_mb": _vm("VmRSS")}
    if mode == "baseline":
        result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return result
    with tempfile.TemporaryDirectory(prefix="salesgan-bench-samples-") as tmp:
        out = Path(tmp) / "samples_train"
        reset = _reset_peak_rss()
        if mode == "traced":
            tracemalloc.start()
        start = time.perf_counter()
        samples = sample.generate_samples(module, train, k, out, seed=0, batch_size=batch_size)
        seconds = time.perf_counter() - start
        if mode == "traced":
            result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        result.update(seconds=seconds, shape=list(samples.scaled.shape),
                      call_peak_rss_mb=_vm("VmHWM") if reset else float("nan"),
                      maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      disk_mb=sum(p.stat().st_size for p in out.iterdir()) / 2**20)
        del samples
    return result


def run_child(mode: str, k: int, args) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--k", str(k), "--data", args.data,
               "--batch-size", str(args.batch_size), "--max-windows", str(args.max_windows)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "olist"))
    parser.add_argument("--k", type=int, nargs="+", default=[5, 50])
    parser.add_argument("--batch-size", type=int, default=1024, help="sample_batch_size (quick.yaml: 1024)")
    parser.add_argument("--trace-k", type=int, nargs="*", default=[5],
                        help="the K values also run under tracemalloc (a second full run each)")
    parser.add_argument("--max-windows", type=int, default=0,
                        help="a seeded subset of the train windows (0 = all, the issue's target): large K is slow")
    parser.add_argument("--child", choices=["baseline", "untraced", "traced"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.k[0], args.data, args.batch_size, args.max_windows)))
        return
    import torch

    print(f"load average before: {os.getloadavg()}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    base = run_child("baseline", 0, args)
    print(f"quick-profile train windows: {base['windows']:,} ({base['entities']} products), arrays "
          f"{base['windows_mb']:.0f} MB; baseline process peak RSS {base['maxrss_mb']:.0f} MB "
          f"(imports + tables + panel + windows + model)")
    print("| K | samples (N, K, H) | wall s | process peak RSS MB | RSS before the call MB | peak RSS during the "
          "call MB | call's own increment MB | tracemalloc peak MB | on disk MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k in args.k:
        plain = run_child("untraced", k, args)
        traced = run_child("traced", k, args)["tracemalloc_peak_mb"] if k in args.trace_k else None
        print(f"| {k} | {tuple(plain['shape'])} | {plain['seconds']:.1f} | {plain['maxrss_mb']:.0f} | "
              f"{plain['rss_before_mb']:.0f} | {plain['call_peak_rss_mb']:.0f} | "
              f"{plain['call_peak_rss_mb'] - plain['rss_before_mb']:.0f} | "
              f"{'not run' if traced is None else f'{traced:.1f}'} | {plain['disk_mb']:.1f} |", flush=True)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

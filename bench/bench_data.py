"""Benchmark the data layer on the full real Olist tables: wall time and peak memory of each step.

Usage: .venv/bin/python bench/bench_data.py [--data ../shared/data/olist] [--repeat 3]

All products, no top-N, min_train_units 1, stride 1. Times are the median of --repeat untraced runs; peak memory
comes from one more run traced with tracemalloc (numpy reports its buffers to it), so it is the step's own peak
above what was already held.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
import tracemalloc
import warnings
from pathlib import Path

from salesgan_utils import data, olist, windows


def measure(fn, repeat):
    """(result, median seconds of `repeat` untraced runs, peak MB of one traced run)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        del result
    tracemalloc.start()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, statistics.median(times), peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "olist"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows = []
    tables, seconds, peak = measure(lambda: olist.load_tables(args.data), args.repeat)
    rows.append(("load + validate tables", seconds, peak, "", ""))
    panel, seconds, peak = measure(lambda: data.build_panel(tables, entity="product", min_train_units=1),
                                   args.repeat)
    rows.append((f"panel ({panel.n_entities} products x {len(panel.dates)} days)", seconds, peak, "1.5 s",
                 "300 MB"))
    for split in windows.SPLITS:
        ws, seconds, peak = measure(lambda split=split: windows.make_windows(panel, split), args.repeat)
        core = ws.history.nbytes + ws.target.nbytes
        rows.append((f"{split} windows ({len(ws):,}; history+target {core / 2**20:.0f} MB, "
                     f"calendar {ws.calendar.nbytes / 2**20:.0f} MB)", seconds, peak,
                     "1 s" if split == "train" else "", ""))
        del ws
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print("| step | median s | peak MB (tracemalloc) | target time | target memory |")
    print("|---|---|---|---|---|")
    for name, seconds, peak, t_target, m_target in rows:
        print(f"| {name} | {seconds:.2f} | {peak:.0f} | {t_target} | {m_target} |")


if __name__ == "__main__":
    main()

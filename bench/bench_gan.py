"""GAN training-step benchmark: seconds per step (n_critic critic + 1 generator update) at batch 128.

For the smoke, quick and full (seed-size) architectures of params/*.yaml (batch forced to 128), through the real
Lightning path (`WGANGP.training_step` under a Trainer), it reports the median step time (first step excluded:
allocation warm-up), the FLOPs of one step counted with `torch.utils.flop_counter.FlopCounterMode` (oneDNN disabled
while counting: the oneDNN CPU LSTM reports 0 FLOPs), the achieved GFLOP/s and its fraction of a measured sgemm rate
(n=4096 matmul).

Usage:
    python bench/bench_gan.py                       # CPU, all three sizes, prints a markdown table
    python bench/bench_gan.py --write               # ... and replaces the "## GAN" section of bench/RESULTS.md
    python bench/bench_gan.py --accelerator gpu --sizes full --steps 30   # (bench/gpu_check.sh)
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pytorch_lightning as pl  # noqa: E402
from pytorch_lightning.callbacks import Callback  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode, _FlopCounterMode  # noqa: E402

from salesgan_utils.gan import WGANGP, GanConfig, parameter_counts  # noqa: E402
from salesgan_utils.train import make_loaders  # noqa: E402
from salesgan_utils.windows import random_windowset  # noqa: E402

FALLBACK_SIZES = {
    "smoke": GanConfig(noise_dim=32, cond_dim=64, history_hidden=32, history_layers=1, calendar_hidden=16,
                       review_hidden=8, gru_hidden=32, gru_layers=1, critic_channels=(16, 32), critic_hidden=32),
    "quick": GanConfig(cond_dim=256, history_hidden=128, gru_hidden=128, critic_channels=(32, 64, 128),
                       critic_hidden=128),
    "full": GanConfig(),
}


def _profile_sizes() -> dict:
    """GAN sizes of params/{smoke,quick,full}.yaml (the profiles users run), at batch 128; built-ins without them."""
    sizes = {}
    for name, fallback in FALLBACK_SIZES.items():
        path = ROOT / "params" / f"{name}.yaml"
        try:
            import yaml

            sizes[name] = GanConfig.from_params({**yaml.safe_load(path.read_text()), "batch_size": 128})
        except (ImportError, OSError):
            sizes[name] = fallback
    return sizes


SIZES = _profile_sizes()
TARGET_FULL_S = 1.5
RESULTS = ROOT / "bench" / "RESULTS.md"


class _GlobalFlopCounter(FlopCounterMode):
    """FlopCounterMode without its per-module tracker: the tracker's backward hooks refuse
    `autograd.grad` on a leaf ("A leaf node was passed to _will_engine_execute_node"), which the gradient
    penalty does. Only the total is needed here."""

    def __enter__(self):
        self.flop_counts.clear()
        self.mode = _FlopCounterMode(self)
        self.mode.__enter__()
        return self

    def __exit__(self, *args):
        result = self.mode.__exit__(*args)
        self.mode = None
        return result


class _StepTimer(Callback):
    """Wall time of each training step; optionally the FLOPs of one step."""

    def __init__(self, count_flops_at: int | None = None):
        self.times, self.flops, self._count_at, self._counter = [], None, count_flops_at, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self._count_at:
            self._mkldnn = torch.backends.mkldnn.flags(enabled=False)
            self._mkldnn.__enter__()
            self._counter = _GlobalFlopCounter(display=False)
            self._counter.__enter__()
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize()
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize()
        self.times.append(time.perf_counter() - self._start)
        if self._counter is not None:
            self._counter.__exit__(None, None, None)
            self._mkldnn.__exit__(None, None, None)
            self.flops, self._counter = self._counter.get_total_flops(), None


def _fit(config: GanConfig, steps: int, accelerator: str, count_flops_at: int | None = None) -> _StepTimer:
    windows = random_windowset(config.batch_size * steps, seed=0)
    config = config.for_windows(windows)
    pl.seed_everything(0, verbose=False)
    module = WGANGP(config)
    train_loader, _ = make_loaders(windows, windows.subset(slice(0, 8)), config, seed=0)
    timer = _StepTimer(count_flops_at)
    trainer = pl.Trainer(accelerator=accelerator, devices=1, max_epochs=1, limit_train_batches=steps,
                         limit_val_batches=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[timer])
    trainer.fit(module, train_loader)
    return timer


def sgemm_gflops(n: int = 4096, repeats: int = 5, device: str = "cpu") -> float:
    """Measured float32 matmul rate: best of `repeats` n×n products (2·n³ FLOP each)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        if device != "cpu":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if device != "cpu":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def run(sizes: list[str], steps: int, accelerator: str) -> list[dict]:
    rows = []
    for name in sizes:
        config = SIZES[name]
        # FLOPs do not depend on the device; count on CPU, where every op has a formula (cuDNN RNNs have none)
        flops = _fit(config, 2, "cpu", count_flops_at=1).flops  # step 1: step 0 is warm-up
        if accelerator != "cpu":
            torch.cuda.reset_peak_memory_stats()
        times = _fit(config, steps + 1, accelerator).times[1:]
        counts = parameter_counts(config)
        median = statistics.median(times)
        row = {"size": name, "G params": counts["generator"], "D params": counts["critic"], "steps": len(times),
               "median s/step": median, "min s/step": min(times), "max s/step": max(times),
               "GFLOP/step": flops / 1e9, "GFLOP/s": flops / 1e9 / median}
        if accelerator != "cpu":
            row["peak GPU MiB"] = torch.cuda.max_memory_allocated() / 2 ** 20
            row["steps/s"] = 1 / median
        rows.append(row)
        print(f"{name}: {row}", file=sys.stderr, flush=True)
    return rows


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def markdown(rows: list[dict], peak: float, command: str, accelerator: str, peak_after: float | None = None) -> str:
    machine = f"{os.cpu_count()} vCPU {_cpu_name()}, {torch.get_num_threads()} torch threads"
    if accelerator != "cpu":
        machine = torch.cuda.get_device_name(0)
    lines = ["## GAN", "",
             "Training-step time of the conditional WGAN-GP (one step = n_critic 5 critic updates with gradient "
             "penalty + 1 generator update, batch 128), through the Lightning module's own `training_step`.",
             "", f"- Date: {dt.date.today().isoformat()}; machine: {machine}; torch {torch.__version__}.",
             f"- Command: `{command}`",
             f"- Measured sgemm (n=4096, float32): {peak:.0f} GFLOP/s before the runs"
             + (f", {peak_after:.0f} after" if peak_after else "") + " (share of sgemm below: against the first).",
             f"- Target: seed-size (full) step <= {TARGET_FULL_S} s on the 2-vCPU CPU machine.", ""]
    header = ["size", "G params", "D params", "steps", "median s/step", "min s/step", "max s/step", "GFLOP/step",
              "GFLOP/s", "share of sgemm"] + (["steps/s", "peak GPU MiB"] if accelerator != "cpu" else [])
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        row = dict(row, **{"share of sgemm": f"{row['GFLOP/s'] / peak:.0%}"})
        cells = [f"{row[h]:,}" if isinstance(row[h], int) else f"{row[h]:.3g}" if isinstance(row[h], float)
                 else str(row[h]) for h in header]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_section(section: str, path: Path = RESULTS) -> None:
    """Replace the `## GAN` section of RESULTS.md (up to the next `## ` heading), leaving the others as they are."""
    from salesgan_utils.paths import write_text_atomic

    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "## GAN"), None)
    if start is None:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        text = "".join(lines[:start]) + section + ("\n" if end < len(lines) else "") + "".join(lines[end:])
    write_text_atomic(path, text)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--steps", type=int, default=8, help="timed steps per size (after 1 warm-up step)")
    parser.add_argument("--accelerator", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--write", action="store_true", help="write the table into bench/RESULTS.md")
    parser.add_argument("--note", default="", help="a line added under the table (e.g. host load)")
    args = parser.parse_args(argv)
    device = "cuda" if args.accelerator == "gpu" else "cpu"
    load_before = os.getloadavg()[0]
    peak = sgemm_gflops(device=device)
    rows = run(args.sizes, args.steps, args.accelerator)
    peak_after = sgemm_gflops(device=device)  # bracket the runs: on a shared host the rate drifts
    shown = [a for i, a in enumerate(sys.argv[1:]) if a != "--note" and (i == 0 or sys.argv[i] != "--note")]
    command = "python " + " ".join([Path(sys.argv[0]).as_posix().replace(str(ROOT) + "/", "")] + shown)
    command += ' --note "..."' if args.note else ""
    section = markdown(rows, peak, command, args.accelerator, peak_after)
    section += f"\n- Host load average (1 min): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after.\n"
    if args.note:
        section += "\n" + args.note + "\n"
    print(section)
    if args.write:
        write_section(section)


if __name__ == "__main__":
    main()

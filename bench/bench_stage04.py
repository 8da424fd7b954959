"""Time stage 04's protocol one fit after another against `--n-jobs` worker processes, side by side in one run,
and check that both write the same forecasts (`DataFrame.equals` on the forecasts table).

Usage (from the repository root; a quiet host: check `uptime` first):
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_stage04.py --profile quick --data ../shared/data/olist
    .venv/bin/python bench/bench_stage04.py --profile smoke --data demo --n-jobs 2     # a tiny check of the script

Stages 01-03 of run `--run` (default bench_stage04_<profile>) are made first with the pipeline when they are
missing (untimed). Then the whole stage runs as notebook 04 runs it, once with n_jobs = 1 and once with n_jobs =
`--n-jobs` (`--order` picks which goes first): `benchmark.run_benchmark` with the profile's stage-04 parameters (one
torch thread per fit, the fair-GAN and history-analog arms, LightGBM), handed the profile's fair generators as a
submission (`fair_gan.submit_fair_generators`: single-thread ensembles on the protocol's engine, beside its phases A
and B; in this process first when n_jobs is 1). `--fair-steps` overrides their step budget, which changes what they
learn but not the fits' work. Prints the wall times, the speed-up of the whole stage, each run's `phase_seconds`,
the load average before, between and after, and Markdown rows for bench/RESULTS.md; exits 1 when the forecasts or
the fair generators differ. `--fair-only` times only the fair generators on an engine of their own
(`fair_gan.train_fair_generators`), as stage 04 trained them before the protocol until 2026-12-07.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from salesgan_utils import benchmark, fair_gan, gan, params, paths, preprocess, sample, scoring, train

ROOT = Path(__file__).resolve().parents[1]


def prepare(profile: str, data: str, run: str) -> Path:
    """Stages 01-03 of `run` (each only when its folder is missing); returns the run folder."""
    run_path = paths.run_dir(run)
    for stage in ("01", "02", "03"):
        if not paths.stage_dir(run_path, int(stage)).is_dir():
            print(f"preparing stage {stage} of run {run} (untimed)", flush=True)
            subprocess.run([sys.executable, "-m", "salesgan_utils.pipeline", "--no-setup", "--profile", profile,
                            "--data", data, "--run", run, "--only", stage], cwd=ROOT, check=True)
    return run_path


def inputs(run_path: Path) -> dict:
    """run_benchmark's inputs as notebook 04 loads them."""
    data_stage, samples_stage = paths.stage_dir(run_path, 1), paths.stage_dir(run_path, 3)
    metadata = preprocess.load_metadata(data_stage)
    splits = [preprocess.load_windows(data_stage, split) for split in ("train", "val", "test")]
    train_df = scoring.train_series(pd.read_parquet(data_stage / preprocess.PANEL_FILE))
    gan = sample.SampleSet.load(samples_stage / "samples_train").scaled
    gan_params = yaml.safe_load((run_path / "params" / "02_train_gan.yaml").read_text())
    gan_index = benchmark.subsample_index(splits[0], int(gan_params.get("gan_train_windows", 0)),
                                          int(gan_params.get("seed", 0)))
    return dict(args=(*splits, gan, train_df), entity_level=metadata["entity"], gan_train_index=gan_index,
                k=int(gan.shape[1]))


def fair_submission(run_path: Path, work: dict, stage: dict, steps: int, out_dir: Path):
    """The profile's fair generators as notebook 04 hands them to run_benchmark (a function of its engine), or {};
    `out_dir` emptied first."""
    shutil.rmtree(out_dir, ignore_errors=True)
    catalogue = gan.load_generator(paths.stage_dir(run_path, 2) / train.CHECKPOINT_DIR / train.BEST_CKPT)
    return fair_gan.submission_from_params({**stage, "fair_gan_steps": steps}, *work["args"][:2], catalogue.config,
                                           work["k"], out_dir)


def fair_generators(run_path: Path, work: dict, stage: dict, steps: int, out_dir: Path, n_jobs: int
                    ) -> tuple[float, dict]:
    """The same generators on an engine of their own, as stage 04 trained them before the protocol until 2026-12-07
    (seconds, {(n_real, seed): FairGenerator})."""
    submission = fair_submission(run_path, work, stage, steps, out_dir)
    if not submission:
        return 0.0, {}
    started = time.perf_counter()
    fair = fair_gan.train_fair_generators(**submission.keywords, n_jobs=n_jobs)
    return time.perf_counter() - started, fair


def same_samples(a: dict, b: dict) -> bool:
    """Both runs of the fair generators made the same generators and samples."""
    import numpy as np

    return list(a) == list(b) and all(np.array_equal(a[key].samples_scaled, b[key].samples_scaled) for key in a)


def timed(work: dict, settings: dict, n_jobs: int, fair, analog_k: int) -> tuple[float, benchmark.BenchmarkResult]:
    started = time.perf_counter()
    result = benchmark.run_benchmark(*work["args"], entity_level=work["entity_level"],
                                     gan_train_index=work["gan_train_index"], num_threads=1, log=None,
                                     fair_gan=fair, analog_k=analog_k,
                                     **{**settings, "n_jobs": n_jobs, "executor": "local"})
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--data", default="../shared/data/olist")
    parser.add_argument("--run", default="")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--order", choices=("sequential-first", "parallel-first"), default="sequential-first")
    parser.add_argument("--fair-steps", type=int, default=0, help="fair generators' step budget (0 = the profile's)")
    parser.add_argument("--fair-only", action="store_true", help="time only the fair generators")
    args = parser.parse_args()
    run = args.run or f"bench_stage04_{args.profile}"
    run_path = prepare(args.profile, args.data, run)
    work = inputs(run_path)
    stage = params.stage_params(4, params.load_profile(args.profile))
    settings = benchmark.settings_from_params(stage)
    loads = {"before": os.getloadavg()}
    fair_steps = args.fair_steps or int(stage["fair_gan_steps"])
    order = [1, args.n_jobs] if args.order == "sequential-first" else [args.n_jobs, 1]
    if args.fair_only:
        fairs = {}
        for n_jobs in order:
            fairs[n_jobs] = fair_generators(run_path, work, stage, fair_steps,
                                            run_path / f"bench_fair_generators_n{n_jobs}", n_jobs)
            loads[f"after the fair generators, n_jobs={n_jobs}"] = os.getloadavg()
        (fair_s, fair), (fair_par_s, fair_par) = fairs[1], fairs[args.n_jobs]
        fair_same = same_samples(fair, fair_par)
        ensembles = int(stage.get("fair_gan_ensembles", 1))
        print(f"\nLoad average (1, 5, 15 min): {loads}")
        print(f"| {args.profile} | {len(fair)} fair generators x {fair_steps} steps ({ensembles} ensembles) | "
              f"{fair_s:.1f} s | {fair_par_s:.1f} s | {fair_s / max(fair_par_s, 1e-9):.2f}× | {fair_same} |")
        return 0 if fair_same else 1
    runs = {}
    for n_jobs in order:
        fair = fair_submission(run_path, work, stage, fair_steps, run_path / f"bench_stage_fair_n{n_jobs}")
        runs[n_jobs] = timed(work, settings, n_jobs, fair, int(stage.get("analog_k", 0)))
        loads[f"after n_jobs={n_jobs}"] = os.getloadavg()
        print(f"n_jobs={n_jobs}: {runs[n_jobs][0]:.1f} s, {len(runs[n_jobs][1].fits)} fits; phase_seconds "
              f"{runs[n_jobs][1].summary['phase_seconds']}", flush=True)
    (seq_s, seq), (par_s, par) = runs[1], runs[args.n_jobs]
    same = par.forecasts.equals(seq.forecasts)
    fair_same = [{k: v for k, v in g.items() if k != "folder"} for g in par.summary["fair_generators"]] == \
        [{k: v for k, v in g.items() if k != "folder"} for g in seq.summary["fair_generators"]]
    print(f"\nLoad average (1, 5, 15 min): {loads}")
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}; "
          f"profile {args.profile}, run {run}, {len(seq.fits)} LSTM fits, {int(seq.fits['epochs_run'].sum())} epochs, "
          f"{len(seq.summary['fair_generators'])} fair generators of {fair_steps} steps")
    print(f"forecasts identical (DataFrame.equals): {same}; fair generators' records identical: {fair_same}")
    print(f"| profile | part | sequential (n_jobs=1) | parallel (n_jobs={args.n_jobs}) | speed-up | identical |")
    print("|---|---|---:|---:|---:|:--|")
    print(f"| {args.profile} | whole stage (fair generators beside the protocol: {len(seq.fits)} LSTM fits + "
          f"LightGBM) | {seq_s:.1f} s | {par_s:.1f} s | {seq_s / par_s:.2f}× | {same and fair_same} |")
    return 0 if same and fair_same else 1

if __name__ == "__main__":
    sys.exit(main())

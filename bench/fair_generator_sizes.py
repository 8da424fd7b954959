"""The fair generator's size, chosen on validation (docs/analysis_plan.md, Deviation 2026-12-04 17:47 UTC).

Re-trains the fair generators of the recorded reduced studies (docs/result_records.json: product 250, category 250,
product 1,000; 3 folds x seeds 0-2 each) at a candidate size, on exactly the recorded members' train windows
(asserted equal to each record's `window_index`) and validation subsets (counts asserted), with the recorded step
budget, validation cadence and ensemble split, and writes each member's best validation fair CRPS. `analyse` then
applies the Deviation's rule to the recorded scores (today's size) and the candidates' scores. No test window is
read: only stage 01's train and validation windows.

Candidates (GFLOP per member step from `bench/bench_ensemble.py`'s counter, at the quick size's shapes):
    today  the catalogue generator's configuration (quick size, batch 128), as recorded
    half   half width at batch 128 (noise 16, cond 64, encoders 32/16/8, GRU 32, critic (16, 32, 64) / 64)
    b32    today's width at batch 32

Commands (from the repo root; stage 01 of each recorded run first, with the recorded runs' settings; the three
candidates' trainings are independent, so two run side by side on a 2-core host, one thread each):

    D=../shared/data/olist
    .venv/bin/python -m salesgan_utils.pipeline --profile study --data $D --run fs_product --only 01 <RED of
        study_product>   # and fs_category, fs_product_1k with theirs (docs/results.md)
    OMP_NUM_THREADS=1 .venv/bin/python bench/fair_generator_sizes.py train half --out outputs/fairsize
    OMP_NUM_THREADS=1 .venv/bin/python bench/fair_generator_sizes.py train b32 --out outputs/fairsize
    OMP_NUM_THREADS=1 .venv/bin/python bench/fair_generator_sizes.py train today --out outputs/fairsize \
        --only study_product:0:0     # the reproduction check of one recorded member
    .venv/bin/python bench/fair_generator_sizes.py analyse --out outputs/fairsize
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from salesgan_utils import fair_gan, preprocess, stats, study  # noqa: E402
from salesgan_utils import train as training  # noqa: E402
from salesgan_utils.gan import GanConfig  # noqa: E402

RECORDS = ROOT / "docs" / "result_records.json"
# recorded run (its records' `source` folder) -> (cell name, stage-01 folder of this script's re-run of stage 01)
RUNS = {"study_product": ("product 250", "outputs/fs_product/01_eda_preprocess"),
        "study_category": ("category 250", "outputs/fs_category/01_eda_preprocess"),
        "study_product_1k": ("product 1000", "outputs/fs_product_1k/01_eda_preprocess")}
CANDIDATES = {
    "today": {},
    "half": {"noise_dim": 16, "cond_dim": 64, "history_hidden": 32, "calendar_hidden": 16, "review_hidden": 8,
             "gru_hidden": 32, "critic_channels": (16, 32, 64), "critic_hidden": 64},
    "b32": {"batch_size": 32},
}
GFLOP = {"today": 19.30, "half": 4.31, "b32": 4.84}  # per member step, docs/analysis_plan.md (the Deviation)
STEPS = {250: 600, 1000: 900}  # the recorded budgets
VAL_EVERY, ENSEMBLES = 25, 2  # the recorded fair_gan_val_every and fair_gan_ensembles
TOLERANCE = 1e-6  # the reproduction check's


def recorded_runs() -> dict[str, dict]:
    """{run name: its record} of docs/result_records.json."""
    runs = json.loads(RECORDS.read_text())["runs"]
    return {Path(r["source"].split()[0]).parts[1]: r for r in runs}


def fold_dir(stage01: Path, fold: int) -> Path:
    """Stage 01's folder of fold `fold` (fold 0 is the run's own folder, later folds its fold_k subfolders)."""
    return stage01 if fold == 0 else stage01 / f"fold_{fold}"


def train_candidate(name: str, out: Path, only: str = "", max_steps: int = 0) -> Path:
    """Train every recorded member (or the one `only` = "run:fold:seed" names) at candidate `name`; one CSV row per
    member appended to out/<name>.csv as each (run, fold) finishes, so a cut run keeps what it trained."""
    records = recorded_runs()
    table = out / f"{name}.csv"
    done = set()
    if table.is_file():
        old = pd.read_csv(table)
        done = set(zip(old["run"], old["fold"]))
    want = only.split(":") if only else None
    for run, (cell, stage01) in RUNS.items():
        record = records[run]
        base = GanConfig.from_dict({k: tuple(v) if isinstance(v, list) else v
                                    for k, v in record["model_summary"]["config"].items()})
        for fold_key, fold in sorted(record["study"]["folds"].items()):
            fold = int(fold_key)
            if want and (want[0] != run or int(want[1]) != fold):
                continue
            if (run, fold) in done:
                print(f"{run} fold {fold}: already in {table}", flush=True)
                continue
            stage = fold_dir(ROOT / stage01, fold)
            train, val = (preprocess.load_windows(stage, split) for split in ("train", "val"))
            generators = record["study"]["folds"][fold_key]["fair_generators"]
            sizes = sorted({int(g["n_real"]) for g in generators})
            seeds = sorted({int(g["seed"]) for g in generators})
            steps = min(STEPS[sizes[0]], max_steps) if max_steps else STEPS[sizes[0]]
            config = dataclasses.replace(base, **CANDIDATES[name])
            config = fair_gan.fair_config(config, sizes, train)
            members = study.fair_members(len(train), len(val), sizes, seeds, steps, fold=fold)
            by_key = {(int(g["n_real"]), int(g["seed"])): g for g in generators}
            for member in members:
                g = by_key[(member.n_real, member.seed)]
                if list(map(int, member.window_index)) != list(map(int, g["window_index"])):
                    raise AssertionError(f"{run} fold {fold} n {member.n_real} seed {member.seed}: train windows "
                                         f"differ from the record's window_index (stage 01 not as recorded)")
                if len(member.val_index) != int(g["val_windows"]):
                    raise AssertionError(f"{run} fold {fold}: {len(member.val_index)} validation windows, record "
                                         f"{g['val_windows']}")
            specs = study.ensemble_specs(members, config.batch_size, val_every=VAL_EVERY)
            ensembles = ENSEMBLES
            if want:  # one member: its own block, as it trained in the recorded split
                blocks = np.array_split(np.arange(len(specs)), min(ENSEMBLES, len(specs)))
                block = next(b for b in blocks if int(want[2]) in [members[k].seed for k in b])
                specs, members, ensembles = [specs[k] for k in block], [members[k] for k in block], 1
            start = time.perf_counter()
            results = training.train_ensembles(train, val, config, specs, out / name / run / f"fold_{fold}",
                                               ensembles=ensembles, n_jobs=1)
            seconds = time.perf_counter() - start
            rows = []
            for member, result in zip(members, results):
                history = result.history
                best = history.loc[history["val_crps"].idxmin()]
                g = by_key[(member.n_real, member.seed)]
                rows.append({"run": run, "cell": cell, "fold": fold, "n_real": member.n_real, "seed": member.seed,
                             "candidate": name, "batch_size": config.batch_size, "steps": result.generator_steps,
                             "best_step": int(best["step"]), "best_val_crps": float(best["val_crps"]),
                             "recorded_best_step": int(g["best_step"]),
                             "recorded_best_val_crps": float(g["best_val_crps"]),
                             "block_seconds": round(seconds, 1)})
            pd.DataFrame(rows).to_csv(table, mode="a", header=not table.is_file(), index=False)
            print(f"{name} {run} fold {fold}: {len(rows)} members in {seconds:.0f} s; best val CRPS "
                  + ", ".join(f"{r['best_val_crps']:.6g} (rec {r['recorded_best_val_crps']:.6g})" for r in rows),
                  flush=True)
    return table


def analyse(out: Path) -> str:
    """The Deviation's rule on out/<candidate>.csv: per cell the mean paired change vs the recorded score (today's
    size), its fold-blocked interval, and the winner; also the reproduction check where out/today.csv exists."""
    lines = []
    reference_ok = True
    today = out / "today.csv"
    if today.is_file():
        t = pd.read_csv(today)
        gap = (t["best_val_crps"] - t["recorded_best_val_crps"]).abs()
        reference_ok = bool((gap <= TOLERANCE).all())
        lines.append(f"Reproduction at today's size ({len(t)} member(s)): max |re-trained - recorded| best_val_crps "
                     f"= {gap.max():.3g} ({'within' if reference_ok else 'beyond'} {TOLERANCE:g}); best steps "
                     f"{t['best_step'].tolist()} vs recorded {t['recorded_best_step'].tolist()}")
    else:
        lines.append("Reproduction check not run (no today.csv).")
    lines += ["", "| candidate | GFLOP/member step | cell | members | mean change % | fold-blocked 95% CI | "
                  "per-fold means % | passes (≤ +1 %) |", "|---|---|---|---|---|---|---|---|"]
    passing = {}
    for name in sorted((n for n in CANDIDATES if n != "today"), key=GFLOP.get):
        table = out / f"{name}.csv"
        if not table.is_file():
            continue
        frame = pd.read_csv(table)
        frame["change"] = 100 * (frame["best_val_crps"] / frame["recorded_best_val_crps"] - 1)
        cells = {}
        for cell, part in frame.groupby("cell", sort=False):
            result = stats.blocked_paired_test({f: p["change"].to_numpy() for f, p in part.groupby("fold")})
            cells[cell] = result["pct"]
            per_fold = ", ".join(f"{m[0]:+.1f}" for m in result["per_fold"].values())
            lines.append(f"| {name} | {GFLOP[name]:.2f} | {cell} | {len(part)} | {result['pct']:+.2f} | "
                         f"[{result['pct_low']:+.2f}, {result['pct_high']:+.2f}] | {per_fold} | "
                         f"{'yes' if result['pct'] <= 1.0 else 'no'} |")
        complete = len(cells) == len(RUNS) and len(frame) == 27
        passing[name] = complete and all(v <= 1.0 for v in cells.values())
    winner = next((n for n in sorted(passing, key=GFLOP.get) if passing[n]), "today")
    lines += ["", f"Rule (cheapest candidate with mean change ≤ +1 % in every cell, all 27 members): **{winner}**"
              + ("" if reference_ok else " — but the reproduction check failed: score against a re-trained today")]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["train", "analyse"])
    parser.add_argument("candidate", nargs="?", choices=sorted(CANDIDATES))
    parser.add_argument("--out", default="outputs/fairsize")
    parser.add_argument("--only", default="", help="run:fold:seed, one recorded member (and its block)")
    parser.add_argument("--max-steps", type=int, default=0, help="cap the budgets (a check of the script only)")
    args = parser.parse_args()
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.action == "train":
        if not args.candidate:
            parser.error("train needs a candidate")
        import torch
        torch.set_num_threads(1)
        train_candidate(args.candidate, out, args.only, args.max_steps)
    else:
        print(analyse(out))


if __name__ == "__main__":
    main()

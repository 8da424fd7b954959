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
    # if that check fails (the records came from older code), today's size re-trained on every member, in two
    # processes with their own folders (--only run:fold,...), is the reference:
    OMP_NUM_THREADS=1 .venv/bin/python bench/fair_generator_sizes.py train retrained --out outputs/fairsize_a \
        --only study_product:0,study_product:1,study_product:2,study_product_1k:0,study_category:2 &
    OMP_NUM_THREADS=1 .venv/bin/python bench/fair_generator_sizes.py train retrained --out outputs/fairsize_b \
        --only study_category:0,study_category:1,study_product_1k:1,study_product_1k:2 & wait
    .venv/bin/python bench/fair_generator_sizes.py analyse --out outputs/fairsize --also outputs/fairsize_a \
        outputs/fairsize_b

The fair generator's early stopping (Deviation 2026-12-06 21:27 UTC): each candidate patience (PATIENCE) read off the
re-trained members' whole-budget validation curves (`gan.patience_stop`, what `MemberSpec.patience` does), scored
against the whole budget:

    .venv/bin/python bench/fair_generator_sizes.py patience --out outputs/fairpat_a --also outputs/fairpat_b
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
from salesgan_utils.gan import GanConfig, patience_stop  # noqa: E402

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
    "retrained": {},  # today's size re-trained on every member: the reference when the reproduction check fails
}
# GFLOP per member step, docs/analysis_plan.md (the Deviation)
GFLOP = {"today": 19.30, "half": 4.31, "b32": 4.84, "retrained": 19.30}
STEPS = {250: 600, 1000: 900}  # the recorded budgets
VAL_EVERY, ENSEMBLES = 25, 2  # the recorded fair_gan_val_every and fair_gan_ensembles
TOLERANCE = 1e-6  # the reproduction check's
PATIENCE = (2, 4, 8)  # validations without a lower CRPS (the Deviation's candidates; 0 = the whole budget)


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
    wanted = [part.split(":") for part in only.split(",")] if only else []
    seed_only = len(wanted) == 1 and len(wanted[0]) == 3
    for run, (cell, stage01) in RUNS.items():
        record = records[run]
        base = GanConfig.from_dict({k: tuple(v) if isinstance(v, list) else v
                                    for k, v in record["model_summary"]["config"].items()})
        for fold_key, fold_record in sorted(record["study"]["folds"].items()):
            fold = int(fold_key)
            if wanted and not any(w[0] == run and int(w[1]) == fold for w in wanted):
                continue
            if (run, fold) in done:
                print(f"{run} fold {fold}: already in {table}", flush=True)
                continue
            stage = fold_dir(ROOT / stage01, fold)
            train, val = (preprocess.load_windows(stage, split) for split in ("train", "val"))
            generators = fold_record["fair_generators"]
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
            if seed_only:  # one member: its own block, as it trained in the recorded split
                blocks = np.array_split(np.arange(len(specs)), min(ENSEMBLES, len(specs)))
                block = next(b for b in blocks if int(wanted[0][2]) in [members[k].seed for k in b])
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


def _table(out: Path, extra: list[Path], name: str) -> pd.DataFrame | None:
    """out/<name>.csv and the same file in each `extra` folder (runs split over processes), concatenated."""
    frames = [pd.read_csv(folder / f"{name}.csv") for folder in [out, *extra] if (folder / f"{name}.csv").is_file()]
    return pd.concat(frames, ignore_index=True) if frames else None


def analyse(out: Path, extra: list[Path] | None = None) -> str:
    """The Deviation's rule on out/<candidate>.csv: per cell the mean paired change vs today's size, its
    fold-blocked interval, and the winner. Today's score is the recorded one when the reproduction check
    (out/today.csv) holds to TOLERANCE, else the re-trained one (retrained.csv, every member at today's size)."""
    extra = extra or []
    key = ["run", "fold", "n_real", "seed"]
    lines, reference_ok = [], True
    today = _table(out, extra, "today")
    if today is not None:
        gap = (today["best_val_crps"] - today["recorded_best_val_crps"]).abs()
        reference_ok = bool((gap <= TOLERANCE).all())
        lines.append(f"Reproduction at today's size ({len(today)} member(s)): |re-trained - recorded| best_val_crps "
                     f"= {', '.join(f'{g:.3g}' for g in gap)} ({'within' if reference_ok else 'beyond'} "
                     f"{TOLERANCE:g}); best steps {today['best_step'].tolist()} vs recorded "
                     f"{today['recorded_best_step'].tolist()}")
    else:
        lines.append("Reproduction check not run (no today.csv).")
    reference = None
    retrained = _table(out, extra, "retrained")
    if not reference_ok:
        if retrained is None or len(retrained) < 27:
            lines.append(f"The records are not the reference and today's size is re-trained on "
                         f"{0 if retrained is None else len(retrained)} of 27 members: no verdict yet.")
            return "\n".join(lines)
        reference = retrained.set_index(key)["best_val_crps"]
        drift = 100 * (retrained["best_val_crps"] / retrained["recorded_best_val_crps"] - 1)
        lines.append(f"Reference: today's size re-trained on all 27 members (re-trained vs recorded: mean "
                     f"{drift.mean():+.2f} %, range {drift.min():+.2f} … {drift.max():+.2f} %)")
    lines += ["", "| candidate | GFLOP/member step | cell | members | mean change % | fold-blocked 95% CI | "
                  "per-fold means % | passes (≤ +1 %) |", "|---|---|---|---|---|---|---|---|"]
    passing = {}
    for name in sorted((n for n in CANDIDATES if n not in ("today", "retrained")), key=GFLOP.get):
        frame = _table(out, extra, name)
        if frame is None:
            continue
        today_score = (frame["recorded_best_val_crps"] if reference is None else
                       reference.loc[list(frame[key].itertuples(index=False, name=None))].to_numpy())
        frame["change"] = 100 * (frame["best_val_crps"] / today_score - 1)
        cells = {}
        for cell, part in frame.groupby("cell", sort=False):
            result = stats.blocked_paired_test({f: p["change"].to_numpy() for f, p in part.groupby("fold")})
            cells[cell] = result["pct"]
            per_fold = ", ".join(f"{m[0]:+.1f}" for m in result["per_fold"].values())
            lines.append(f"| {name} | {GFLOP[name]:.2f} | {cell} | {len(part)} | {result['pct']:+.2f} | "
                         f"[{result['pct_low']:+.2f}, {result['pct_high']:+.2f}] | {per_fold} | "
                         f"{'yes' if result['pct'] <= 1.0 else 'no'} |")
        passing[name] = len(cells) == len(RUNS) and len(frame) == 27 and all(v <= 1.0 for v in cells.values())
    winner = next((n for n in sorted(passing, key=GFLOP.get) if passing[n]), "today")
    lines += ["", f"Rule (cheapest candidate with mean change ≤ +1 % in every cell, all 27 members): **{winner}**"]
    return "\n".join(lines)


def patience_table(out: Path, extra: list[Path] | None = None) -> str:
    """The patience Deviation's rule: for each candidate p, per member the step it stops at and its best validation
    CRPS up to there, read off its whole-budget curve (retrained/<run>/fold_<k>/<member>/training_history.csv);
    per cell the mean paired change against the whole budget, its fold-blocked interval and the share of the
    budget's steps trained; the smallest p with mean change ≤ +1 % in every cell read wins (the Deviation's scope
    of 2026-12-06 22:01: the two 250-window cells)."""
    rows = []
    for folder in [out, *(extra or [])]:
        table = folder / "retrained.csv"
        if not table.is_file():
            continue
        for member in pd.read_csv(table).itertuples(index=False):
            name = f"fold{member.fold}_n{member.n_real}_seed{member.seed}"
            history = pd.read_csv(folder / "retrained" / member.run / f"fold_{member.fold}" / name /
                                  training.HISTORY_FILE).sort_values("step")
            budget = STEPS[int(member.n_real)]
            whole = patience_stop(history["step"], history["val_crps"], 0)
            if whole[0] != budget:
                raise AssertionError(f"{member.run} {name}: its curve ends at step {whole[0]}, not its budget {budget}")
            for p in PATIENCE:
                step, best = patience_stop(history["step"], history["val_crps"], p)
                rows.append({"cell": member.cell, "fold": int(member.fold), "p": p, "step": step,
                             "share": step / budget, "change": 100 * (best / whole[1] - 1)})
    frame = pd.DataFrame(rows)
    members = len(frame) // len(PATIENCE) if len(frame) else 0
    lines = [f"Members read: {members} of 27 (whole-budget curves, validation every {VAL_EVERY} steps)", "",
             "| patience (validations) | cell | members | mean change % | fold-blocked 95% CI | max change % | "
             "budget trained | passes (≤ +1 %) |", "|---|---|---|---|---|---|---|---|"]
    passing = {}
    for p in PATIENCE:
        cells = {}
        for cell, part in frame[frame["p"] == p].groupby("cell", sort=False):
            result = stats.blocked_paired_test({f: q["change"].to_numpy() for f, q in part.groupby("fold")})
            cells[cell] = result["pct"]
            low, high = result["pct_low"], result["pct_high"]
            interval = "–" if pd.isna(low) else f"[{low:+.2f}, {high:+.2f}]"
            lines.append(f"| {p} | {cell} | {len(part)} | {result['pct']:+.2f} | {interval} | "
                         f"{part['change'].max():+.2f} | {100 * part['share'].mean():.0f} % | "
                         f"{'yes' if result['pct'] <= 1.0 else 'no'} |")
        passing[p] = bool(cells) and all(v <= 1.0 for v in cells.values())
    winner = next((p for p in PATIENCE if passing[p]), 0)
    read = ", ".join(sorted(frame["cell"].unique())) if len(frame) else "none"
    lines += ["", f"Rule (smallest patience with mean change ≤ +1 % in every cell read: {read}; {members} members): **"
              + (f"fair_gan_patience {winner}" if winner else "none passes: the whole budget (fair_gan_patience 0)")
              + "**"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["train", "analyse", "patience"])
    parser.add_argument("candidate", nargs="?", choices=sorted(CANDIDATES))
    parser.add_argument("--out", default="outputs/fairsize")
    parser.add_argument("--only", default="", help="run:fold:seed, one recorded member (and its block), or "
                        "comma-separated run:fold, those folds' members")
    parser.add_argument("--also", nargs="*", default=[], help="analyse: more folders of the same CSVs")
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
    elif args.action == "patience":
        print(patience_table(out, [ROOT / folder for folder in args.also]))
    else:
        print(analyse(out, [ROOT / folder for folder in args.also]))


if __name__ == "__main__":
    main()

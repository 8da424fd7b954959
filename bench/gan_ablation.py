"""The GAN ablation (docs/gan_ablation.md): train one generator variant, then score it like stage 03.

Runs on the stage-01 windows of a run (the real tables, quick profile), outside the notebooks so that each row is
one command. `train` trains a variant of bench/gan_ablation_variants.json (the levers each row set) with the
profile's GAN sizes (overridable), `baselines` scores the four
probabilistic baselines once, `evaluate` scores a trained checkpoint on the same windows with the same functions
notebook 03 uses (`quality.generator_report`), `table` prints the markdown table of all rows.

Usage (each row of docs/gan_ablation.md names its own command):
    OMP_NUM_THREADS=1 python bench/gan_ablation.py train --data-stage outputs/quick/01_eda_preprocess \\
        --out /tmp/abl/seed --variant seed --epochs 15 --train-windows 4000
    python bench/gan_ablation.py evaluate --data-stage ... --out /tmp/abl/seed
    python bench/gan_ablation.py baselines --data-stage ... --out /tmp/abl/baselines
    python bench/gan_ablation.py table /tmp/abl/*/scores.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from salesgan_utils import gan, metrics, preprocess, quality, sample, train, windows  # noqa: E402

VARIANTS = Path(__file__).with_name("gan_ablation_variants.json")


def _load(data_stage: Path) -> dict:
    return {split: preprocess.load_windows(data_stage, split) for split in ("train", "val", "test")}


def _profile(name: str) -> dict:
    import yaml

    return yaml.safe_load((ROOT / "params" / f"{name}.yaml").read_text())


def variant_config(name: str, params: dict) -> gan.GanConfig:
    """The GanConfig of one ablation row: the profile's sizes with the row's levers (its label as `design`)."""
    rows = json.loads(VARIANTS.read_text())["variants"]
    if name not in rows:
        raise SystemExit(f"unknown variant {name!r}; the rows are {sorted(rows)} ({VARIANTS.name})")
    row = rows[name]
    if row["runs_at"] != "HEAD":
        raise SystemExit(f"variant {name!r} uses {row['removed_levers']}, which left the package: run it at commit "
                         f"{row['runs_at']} (git checkout {row['runs_at']})")
    levers = {k: v for k, v in row["levers"].items() if k not in gan.REMOVED_LEVERS}
    base = gan.GanConfig.from_params({**params, "gan_design": "original"})
    return gan.GanConfig(**{**base.__dict__, **levers, "design": name})


def cmd_train(args) -> None:
    torch.set_num_threads(args.threads)
    sets = _load(Path(args.data_stage))
    params = _profile(args.profile)
    for item in args.set or []:
        key, value = item.split("=", 1)
        params[key] = json.loads(value)
    train_windows = windows.subsample(sets["train"], args.train_windows, params["seed"])
    config = variant_config(args.variant, params).for_windows(train_windows)
    out = Path(args.out)
    start, cpu_start = time.perf_counter(), time.process_time()
    result = train.train_gan(train_windows, sets["val"], config, out, max_epochs=args.epochs, seed=params["seed"],
                             accelerator="cpu", devices=1, resume=args.resume, progress_bar=False)
    record = {"variant": args.variant, "epochs": args.epochs, "train_windows": len(train_windows),
              "wall_s": round(time.perf_counter() - start, 1), "cpu_s": round(time.process_time() - cpu_start, 1),
              "threads": args.threads, "load_at_end": os.getloadavg()[0], "best_ckpt": str(result.best_ckpt),
              "config": {k: v for k, v in params.items() if k in gan.GanConfig.__dataclass_fields__},
              "command": " ".join(sys.argv)}
    (out / "train_record.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    print(json.dumps(record, default=str))


def cmd_evaluate(args) -> None:
    torch.set_num_threads(args.threads)
    sets = _load(Path(args.data_stage))
    out = Path(args.out)
    ckpt = Path(args.ckpt) if args.ckpt else out / train.CHECKPOINT_DIR / train.BEST_CKPT
    generator = gan.load_generator(ckpt)
    start = time.perf_counter()
    generated = {split: sample.generate_samples(generator, ws, args.k_train if split == "train" else args.k,
                                                out / f"samples_{split}", seed=args.seed)
                 for split, ws in sets.items()}
    held_out = {split: sets[split] for split in ("val", "test")}
    table = quality.forecast_scores(held_out, {split: {"generator": generated[split].units} for split in held_out},
                                    seed=args.seed)
    report = quality.sample_quality_report(
        sets["train"], generated["train"].scaled, samples_units=generated["train"].units, test_windows=sets["test"],
        test_samples_scaled=generated["test"].scaled, seed=args.seed, max_windows=args.max_windows,
        classifier_epochs=args.disc_epochs, classifier_seeds=args.disc_seeds, forecast_table=table,
        generator_steps=int(generator.train_steps))
    report["val_score"] = metrics.gan_validation_scores(sets["val"].to_units(sets["val"].history),
                                                   sets["val"].to_units(sets["val"].target),
                                                   generated["val"].units)
    report["forecast_table"] = table.to_dict(orient="records")
    report["gan_variant"] = generator.config.design
    report["eval_wall_s"] = round(time.perf_counter() - start, 1)
    record = out / "train_record.json"
    if record.is_file():
        report["train"] = json.loads(record.read_text())
    (out / "scores.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    print(json.dumps({k: v for k, v in report.items() if not isinstance(v, (dict, list))}, default=float))


def cmd_baselines(args) -> None:
    torch.set_num_threads(args.threads)
    sets = _load(Path(args.data_stage))
    params = _profile(args.profile)
    start = time.perf_counter()
    held_out = {split: sets[split] for split in ("val", "test")}
    samples = quality.baseline_samples(sets["train"], sets["val"], held_out, k=args.k, seed=args.seed,
                                       likelihood_seeds=tuple(range(args.lstm_seeds)),
                                       hidden=params["forecaster_hidden"], layers=params["forecaster_layers"],
                                       epochs=params["forecaster_epochs"], patience=params["forecaster_patience"])
    table = quality.forecast_scores(held_out, samples, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "baselines.csv", index=False)
    print(table.round(4).to_string())
    print(f"wall {time.perf_counter() - start:.1f} s")


def _crps(rows, split, subset, method="generator"):
    for row in rows:
        if (row["split"], row["subset"], row["method"]) == (split, subset, method):
            return row
    return {}


def cmd_table(args) -> None:
    """Markdown table of the scored rows (scores.json files), plus the baselines (baselines.csv) when given."""
    header = ("| row | steps | train windows | train CPU s | val CRPS | val CRPS active | test CRPS active | cov50 | "
              "cov90 | PIT dev | zero-hist mean syn/real | top-decile syn/real | ACF diff | disc (sd) | integer | "
              "TSTR/TRTR | val score |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for path in args.files:
        report = json.loads(Path(path).read_text())
        rows = report["forecast_table"]
        val, val_a, test_a = _crps(rows, "val", "all"), _crps(rows, "val", "active"), _crps(rows, "test", "active")
        train_info = report.get("train", {})
        ratio = lambda a, b, r=report: r[a] / r[b] if r[b] else float("nan")  # noqa: E731
        print(f"| {Path(path).parent.name} | {report.get('generator_steps')} | {train_info.get('train_windows', '')} "
              f"| {train_info.get('cpu_s', '')} | {val['crps_fair']:.4f} | {val_a['crps_fair']:.4f} "
              f"| {test_a['crps_fair']:.4f} | {val['coverage50']:.3f} | {val['coverage90']:.3f} "
              f"| {val['pit_max_deviation']:.3f} "
              f"| {ratio('cond_mean_zero_history_synthetic', 'cond_mean_zero_history_real'):.2f} "
              f"| {ratio('cond_mean_top_decile_synthetic', 'cond_mean_top_decile_real'):.2f} "
              f"| {report['acf_mean_abs_diff']:.3f} | {report['discriminative_score']:.3f} "
              f"({report['discriminative_score_sd']:.3f}) | {report['integer_share_synthetic']:.3f} "
              f"| {report['tstr_mae'] / report['trtr_mae']:.2f} | {report['val_score']['val_score']:.4f} |")
    if args.baselines:
        import pandas as pd

        table = pd.read_csv(args.baselines)
        for method in table["method"].unique():
            rows = table[table["method"] == method].to_dict(orient="records")
            val, val_a, test_a = (_crps(rows, "val", "all", method), _crps(rows, "val", "active", method),
                                  _crps(rows, "test", "active", method))
            print(f"| baseline: {method} | | | | {val['crps_fair']:.4f} | {val_a['crps_fair']:.4f} "
                  f"| {test_a['crps_fair']:.4f} | {val['coverage50']:.3f} | {val['coverage90']:.3f} "
                  f"| {val['pit_max_deviation']:.3f} | | | | | | | |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("train", "evaluate", "baselines"):
        p = sub.add_parser(name)
        p.add_argument("--data-stage", required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--profile", default="quick")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--k", type=int, default=100)
    t = sub.choices["train"]
    t.add_argument("--variant", default="counts_sequence_critic_crps5_window_mean")
    t.add_argument("--epochs", type=int, default=15)
    t.add_argument("--train-windows", type=int, default=0)
    t.add_argument("--set", action="append", help="KEY=JSON override of a GAN parameter")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.ckpt")
    e = sub.choices["evaluate"]
    e.add_argument("--ckpt", default="")
    e.add_argument("--k-train", type=int, default=5)
    e.add_argument("--max-windows", type=int, default=2000)
    e.add_argument("--disc-seeds", type=int, default=5)
    e.add_argument("--disc-epochs", type=int, default=10)
    sub.choices["baselines"].add_argument("--lstm-seeds", type=int, default=3)
    table = sub.add_parser("table")
    table.add_argument("files", nargs="+", help="scores.json files, one row each")
    table.add_argument("--baselines", default="", help="baselines.csv of the baselines command")
    args = parser.parse_args(argv)
    {"train": cmd_train, "evaluate": cmd_evaluate, "baselines": cmd_baselines, "table": cmd_table}[args.command](args)


if __name__ == "__main__":
    main()

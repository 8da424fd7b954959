# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Generate samples and measure their quality
# From the best checkpoint of stage 02, K samples per conditioning window: on the **train** windows (the material
# for augmentation in stage 04, `n_samples` each) and on the **validation** and **test** windows (`n_eval_samples`
# ≥ 100 each, to judge the generator as a probabilistic forecaster). Quality is measured the way the field does:
# TimeGAN's discriminative score (averaged over `disc_seeds` classifier seeds) and predictive (TSTR) score, marginal
# and autocorrelation comparisons, per-sequence statistics, diversity, conditional means (does a product with no
# sales stay near zero, does a best seller keep selling), the share of whole-unit values, and the fair CRPS,
# randomised-PIT coverage and PIT flatness beside five probabilistic baselines: resampled history blocks, the zero
# point mass, a Poisson/negative binomial fitted to each window's own history, the real targets of the train windows
# with the nearest histories (the copy control: a lookup in the pool the generator learned from), and an LSTM with a
# negative-binomial output trained by maximum likelihood (DeepAR-style: what a forecaster would pick instead of a
# GAN).

# %%
import sys
from pathlib import Path

for candidate in [Path.cwd(), *Path.cwd().parents, *Path("/kaggle/working").glob("*")]:
    if (candidate / "salesgan_utils").is_dir():
        sys.path.insert(0, str(candidate))
        break

# %% tags=["parameters"]
run = ""  # empty: the profile's name, as in batch (outputs/<profile>/)
outputs_dir = ""
seed = 0
profile = ""
data_stage_dir = ""
gan_stage_dir = ""
n_samples = 5
n_eval_samples = 100
sample_batch_size = 1024
quality_max_windows = 2000
disc_epochs = 20
disc_seeds = 5
likelihood_seeds = 3
likelihood_hidden = 128
likelihood_layers = 2
likelihood_epochs = 30
likelihood_patience = 5

# %%

from salesgan_utils import baselines, gan, params, paths, plots, preprocess, quality, sample, train

settings = params.notebook_settings(3, globals())
run_path, (data_stage, gan_stage), out_dir = paths.stage_folders(settings, 3)
if preprocess.load_metadata(data_stage)["is_demo"]:
    print("DEMO DATA — not Olist: samples come from a model trained on generated tables.")

# %% [markdown]
# ## A. Generation
# Seeded and batched; streamed to disk in chunks so memory stays bounded for large K × windows. Each sample set is
# a folder of `.npy` arrays (scaled and units) with `keys.parquet` (entity, forecast origin) and `meta.json`.

# %%
generator = gan.load_generator(paths.require_artifact(gan_stage / train.CHECKPOINT_DIR / train.BEST_CKPT, 2))
print(gan.describe_design(generator.config), f"\n{int(generator.train_steps)} generator steps")
window_sets = {split: preprocess.load_windows(data_stage, split) for split in ("train", "val", "test")}
k_of = {"train": settings["n_samples"], "val": settings["n_eval_samples"], "test": settings["n_eval_samples"]}
sample_sets = {split: sample.generate_samples(generator, ws, k_of[split], out_dir / f"samples_{split}",
                                              seed=settings["seed"], batch_size=settings["sample_batch_size"])
               for split, ws in window_sets.items()}
# NBVAL_CHECK_OUTPUT
{split: tuple(s.scaled.shape) for split, s in sample_sets.items()}

# %% [markdown]
# ## B. Real and synthetic side by side
# History, the real target and the fan of K generated targets for a few test windows (units).

# %%
fig = plots.sample_fans(window_sets["test"], sample_sets["test"].units, n_examples=6, seed=settings["seed"])
_ = plots.save(fig, out_dir, "sample_fans")

# %% [markdown]
# ## C. The generator as a probabilistic forecaster, beside five baselines
# Fair CRPS (units/day; lower is better), randomised-PIT coverage of the central 50% and 90% intervals and the PIT
# histogram's largest decile deviation, on validation and test, all windows and the *active* ones (at least one sale
# in the history). The likelihood LSTM is trained on the real train windows, one model per seed in
# `likelihood_seeds`, early-stopped on validation; its K paths are shared equally among the seeds.

# %%
held_out = {split: window_sets[split] for split in ("val", "test")}
forecasts = quality.baseline_samples(
    window_sets["train"], window_sets["val"], held_out, k=settings["n_eval_samples"], seed=settings["seed"],
    likelihood_seeds=range(settings["seed"], settings["seed"] + settings["likelihood_seeds"]),
    hidden=settings["likelihood_hidden"], layers=settings["likelihood_layers"],
    epochs=settings["likelihood_epochs"], patience=settings["likelihood_patience"])
for split in held_out:
    forecasts[split] = {"generator": sample_sets[split].units, **forecasts[split]}
forecast_table = quality.forecast_scores(held_out, forecasts, seed=settings["seed"])
paths.write_text_atomic(out_dir / quality.FORECAST_FILE, forecast_table.to_csv(index=False))
forecast_table.pivot_table(index=["split", "subset", "method"], values=["crps_fair", "coverage50", "coverage90",
                                                                       "pit_max_deviation"], sort=False).round(4)

# %% [markdown]
# ## D. Quality metrics
# Realism on the train windows the generator learned from (up to `quality_max_windows` windows, seeded, for the
# learned scores), the forecast scores above on validation.

# %%
test_windows = window_sets["test"]
sampler_baseline = baselines.block_resample_sampler(test_windows.history, test_windows.horizon,
                                                    settings["n_samples"], seed=settings["seed"])
sample_quality = quality.sample_quality_report(
    window_sets["train"], sample_sets["train"].scaled, samples_units=sample_sets["train"].units,
    test_windows=test_windows, test_samples_scaled=sample_sets["test"].scaled,
    baseline_test_samples_scaled=sampler_baseline, seed=settings["seed"], max_windows=settings["quality_max_windows"],
    classifier_epochs=settings["disc_epochs"], classifier_seeds=settings["disc_seeds"], forecast_table=forecast_table,
    generator_steps=int(generator.train_steps))
quality.quality_table(sample_quality)

# %% [markdown]
# ## E. Distributions, autocorrelation and embedding
# Value histograms (units), autocorrelation at lags 1–6 within the 7-day sequences, and a PCA embedding of real vs
# synthetic target sequences.

# %%
fig = plots.value_histograms(window_sets["train"], sample_sets["train"].units)
_ = plots.save(fig, out_dir, "value_histograms")

# %%
fig = plots.acf_comparison(sample_quality)
_ = plots.save(fig, out_dir, "acf_comparison")

# %%
fig = plots.pca_embedding(window_sets["train"], sample_sets["train"].scaled, seed=settings["seed"])
_ = plots.save(fig, out_dir, "pca_embedding")

# %% [markdown]
# ## What this produced
# Run by hand, the stage then records itself as finished the way a batch run does (parameters and completion
# record), so that `bash run_all.sh --from 04` continues from it.

# %%
paths.write_json_atomic(out_dir / quality.QUALITY_FILE, sample_quality)
for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
    print(path.relative_to(run_path))
finished = paths.finish_stage(run_path, 3, settings)

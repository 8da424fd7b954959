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
# for augmentation in stage 04) and on the **test** windows (to judge the generator as a probabilistic forecaster).
# Quality is measured the way the field does: TimeGAN's discriminative and predictive (TSTR) scores, marginal and
# autocorrelation comparisons, per-sequence statistics, diversity, and CRPS / interval coverage against a simple
# sampler baseline.

# %%
import sys
from pathlib import Path

for candidate in [Path.cwd(), *Path.cwd().parents, *Path("/kaggle/working").glob("*")]:
    if (candidate / "salesgan_utils").is_dir():
        sys.path.insert(0, str(candidate))
        break

# %% tags=["parameters"]
run = "smoke"
outputs_dir = ""
seed = 0
profile = ""
data_stage_dir = ""
gan_stage_dir = ""
n_samples = 5
sample_batch_size = 1024
quality_max_windows = 2000
disc_epochs = 20

# %%
import pandas as pd

from salesgan_utils import baselines, models, params, paths, plots, preprocess, quality, sample, train

settings = params.notebook_settings(3, globals())
run_path, (data_stage, gan_stage), out_dir = paths.stage_folders(settings, 3, data_stage_dir=1, gan_stage_dir=2)
if preprocess.load_metadata(data_stage)["is_demo"]:
    print("DEMO DATA — not Olist: samples come from a model trained on generated tables.")

# %% [markdown]
# ## A. Generation
# Seeded and batched; streamed to disk in chunks so memory stays bounded for large K × windows. Each sample set is
# a folder of `.npy` arrays (scaled and units) with `keys.parquet` (entity, forecast origin) and `meta.json`.

# %%
generator = models.load_generator(paths.require_artifact(gan_stage / train.CHECKPOINT_DIR / train.BEST_CKPT, 2))
window_sets = {split: preprocess.load_windows(data_stage, split) for split in ("train", "test")}
sample_sets = {split: sample.generate_samples(generator, ws, settings["n_samples"], out_dir / f"samples_{split}",
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
# ## C. Quality metrics
# Computed on up to `quality_max_windows` windows per split (seeded subsample).

# %%
test_windows = window_sets["test"]
sampler_baseline = baselines.block_resample_sampler(test_windows.history, test_windows.horizon,
                                                    settings["n_samples"], seed=settings["seed"])
sample_quality = quality.sample_quality_report(
    window_sets["train"], sample_sets["train"].scaled, test_windows=test_windows,
    test_samples_scaled=sample_sets["test"].scaled, baseline_test_samples_scaled=sampler_baseline,
    seed=settings["seed"], max_windows=settings["quality_max_windows"], classifier_epochs=settings["disc_epochs"])
quality.quality_table(sample_quality)

# %% [markdown]
# ## D. Distributions, autocorrelation and embedding
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

# %%
paths.write_json_atomic(out_dir / quality.QUALITY_FILE, sample_quality)
for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
    print(path.relative_to(run_path))

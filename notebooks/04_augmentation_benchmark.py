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
# # 04 · Does GAN augmentation make a forecaster better?
# The seed's LSTM forecaster is trained on real train windows only, and on real + synthetic windows at several
# synthetic:real ratios — GAN samples (generated from train conditions only) and simple augmentations (jitter,
# magnitude scaling, moving-block bootstrap) — over several seeds, with early stopping on val and the best
# checkpoint scored on test. Baselines: zero, naive, seasonal naive, moving average, Croston-SBA and TSB.
# Errors are in units (through the train-only inverse scaling), with 95% intervals over seeds and paired tests
# against real-only on the same test windows.

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
samples_stage_dir = ""
ratios = [0.5, 1.0]
n_seeds = 2
augmentations = ["jitter", "scaling", "block_bootstrap"]
forecaster_hidden = 128
forecaster_layers = 2
forecaster_epochs = 30
forecaster_patience = 5
forecaster_batch_size = 128
lr_forecaster = 1e-3
max_train_windows = 0

# %%
from salesgan_utils import benchmark, params, paths, plots, preprocess, sample

settings = params.notebook_settings(4, globals())
run_path, (data_stage, samples_stage), out_dir = paths.stage_folders(settings, 4, data_stage_dir=1,
                                                                    samples_stage_dir=3)
if preprocess.load_metadata(data_stage)["is_demo"]:
    print("DEMO DATA — not Olist: these results say nothing about real sales.")

# %% [markdown]
# ## A. Windows and synthetic training material

# %%
splits = {split: preprocess.load_windows(data_stage, split) for split in ("train", "val", "test")}
gan_samples = sample.SampleSet.load(paths.require_artifact(samples_stage / "samples_train", 3))
# NBVAL_CHECK_OUTPUT
print({split: len(ws) for split, ws in splits.items()}, "GAN samples per train window:", gan_samples.k)

# %% [markdown]
# ## B. Run the benchmark
# Every learned variant × seed; progress is printed per fit.

# %%
result = benchmark.run_benchmark(splits["train"], splits["val"], splits["test"], gan_samples.scaled,
                                 **benchmark.settings_from_params(settings))

# %% [markdown]
# ## C. Results on the test windows
# Mean and 95% CI over seeds; errors in units (MAE, RMSE) and scale-free (MASE, RMSSE). Sorted by MAE; ★ marks the
# best per metric.

# %%
benchmark.results_table(result.summary)

# %%
fig = plots.error_vs_ratio(result.summary)
_ = plots.save(fig, out_dir, "error_vs_ratio")

# %% [markdown]
# ### Paired comparisons with the real-only LSTM (same test windows)

# %%
result.paired

# %% [markdown]
# ### MAE by demand class (Syntetos–Boylan, train period)

# %%
result.by_class

# %% [markdown]
# ## D. Verdict
# Computed from the numbers above.

# %%
print(result.verdict())

# %% [markdown]
# ## What this produced

# %%
for path in result.save(out_dir).values():
    print(Path(path).relative_to(run_path))

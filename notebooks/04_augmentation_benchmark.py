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
# The seed's LSTM forecaster is trained on real train windows only, and on real + synthetic windows — GAN samples
# (generated from the same real windows' conditions) or a simple augmentation (jitter, magnitude scaling,
# moving-block bootstrap) — and compared with baselines (zero, naive, seasonal naive, moving average,
# Croston-SBA, TSB). Every forecast is kept (`forecasts.parquet`) and every table below is computed from it.
#
# - **Metric (M5):** WRMSSE — RMSSE per entity over all its forecast origins and steps, scaled by the in-sample
#   one-step naive error over its train period, weighted by train-period units; MAE, RMSE and bias in units beside.
# - **Windows scored:** the headline uses *active* windows (the entity sold in the days before the origin: known at
#   the origin); every table also has all windows.
# - **Choices on validation only:** the forecaster's loss and learning rate, the GAN ratio and the simple
#   augmentation. Then the question is asked at several numbers of real training windows, over several seeds, with
#   seed-aware intervals and p-values (per-seed paired differences).

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
samples_stage_dir = ""
ratios = [0.5, 1.0]
n_seeds = 2
tune_seeds = 1
augmentations = ["jitter", "scaling", "block_bootstrap"]
forecaster_losses = ["mse", "poisson"]
forecaster_lrs = [1e-3]
forecaster_hidden = 128
forecaster_layers = 2
forecaster_epochs = 30
forecaster_patience = 5
forecaster_batch_size = 128
forecaster_steps_per_epoch = 0
forecaster_val_windows = 0
forecaster_stop_proportional = False
tweedie_power = 1.5
forecaster_quantile = 0.5
max_train_windows = 0
scarcity_sizes = [250, 0]
active_days = 30
wrmsse_weights = "units"
practitioner_gbm = False
fair_gan_sizes = []
fair_gan_steps = 600
fair_gan_val_every = 25
fair_gan_patience = 0
fair_gan_ensembles = 2
analog_k = 0
n_jobs = 0
executor = "local"
executor_address = ""

# %%
import pandas as pd
import yaml

from salesgan_utils import benchmark, fair_gan, gan, params, paths, plots, preprocess, sample, scoring, train

settings = params.notebook_settings(4, globals())
run_path, (data_stage, samples_stage), out_dir = paths.stage_folders(settings, 4)
metadata = preprocess.load_metadata(data_stage)
if metadata["is_demo"]:
    print("DEMO DATA — not Olist: these results say nothing about real sales.")

# %% [markdown]
# ## A. Windows, train series and synthetic training material
# The train series (from each entity's first sale) give the RMSSE denominators and the WRMSSE weights. The GAN's
# samples exist for every train window; a fit on n real windows mixes in only the samples of its own n windows.

# %%
splits = {split: preprocess.load_windows(data_stage, split) for split in ("train", "val", "test")}
train_df = scoring.train_series(pd.read_parquet(paths.require_artifact(data_stage / preprocess.PANEL_FILE, 1)))
gan_samples = sample.SampleSet.load(paths.require_artifact(samples_stage / "samples_train", 3))
gan_params_file = paths.stage_params_file(run_path, 2)
gan_index = None
if gan_params_file.is_file():  # which train windows stage 02 trained on: the same seeded subsample it drew
    gan_params = yaml.safe_load(gan_params_file.read_text())
    gan_windows = gan_params.get("gan_train_windows", gan_params.get("max_train_windows", 0))  # older runs
    gan_index = benchmark.subsample_index(splits["train"], int(gan_windows), int(gan_params.get("seed", 0)))
# NBVAL_CHECK_OUTPUT
print({split: len(ws) for split, ws in splits.items()}, "GAN samples per train window:", gan_samples.k)

# %% [markdown]
# ### Fair generators
# For each size in `fair_gan_sizes` and each seed, a generator of stage 02's design and size trained **only on that
# fit's real windows** with the fit's seed, its checkpoint the lowest fair CRPS on the fit's share of the validation
# windows (docs/analysis_plan.md); K samples per fit window. They train as `fair_gan_ensembles` batched ensembles
# of one torch thread each (a fixed split: the numbers do not depend on `n_jobs`), on the protocol's workers beside
# its phases A and B, which do not need them (B2 waits for them). Stage 02's generator saw every train window: its
# arm is "a generator trained on more data than the forecaster", beside its history-analog competitor (`analog_k`).
# Where stage 02 trained on a GPU, the ensembles train on it first, one after another.

# %%
fair = {}
if settings["fair_gan_sizes"]:
    gan_accelerator = gan_params.get("accelerator", "auto") if gan_params_file.is_file() else "auto"
    catalogue = gan.load_generator(paths.require_artifact(
        paths.stage_dir(run_path, 2) / train.CHECKPOINT_DIR / train.BEST_CKPT, 2))
    fair = fair_gan.submission_from_params(  # submitted by run_benchmark to its engine
        settings, splits["train"], splits["val"], catalogue.config, gan_samples.k, out_dir / fair_gan.FAIR_FOLDER,
        fold=int(metadata.get("parameters", {}).get("fold", 0)), log=print,
        device="cpu" if train.resolve_devices(gan_accelerator).accelerator == "cpu" else "cuda")

# %% [markdown]
# ## B. Run the protocol
# A: loss × learning rate of the real-only LSTM on validation; B: GAN ratio and simple augmentation on validation;
# B2: the fair GAN's and the history analogs' ratios at each size they cover; C: the scarcity study on test. The fits
# run `n_jobs` at a time (0 = every core), each in its own process on one torch thread, or on a Ray/Dask cluster
# (`executor`, `executor_address`); the forecasts do not depend on where they ran. Progress is printed per fit.

# %%
result = benchmark.run_benchmark(splits["train"], splits["val"], splits["test"], gan_samples.scaled, train_df,
                                 entity_level=metadata["entity"], gan_train_index=gan_index, num_threads=1,
                                 fair_gan=fair, analog_k=settings["analog_k"],
                                 **benchmark.settings_from_params(settings))

# %% [markdown]
# The fair generators: what each was trained on and its chosen checkpoint.

# %%
pd.DataFrame(result.summary["fair_generators"], columns=["n_real", "seed", "train_windows", "val_windows",
                                                         "steps", "best_step", "best_val_crps"])

# %% [markdown]
# ## C. The regime and the validation choices
# Demand level per split, share of all-zero target windows, and what validation chose.

# %%
pd.json_normalize(result.summary["regime"], sep=" / ").T

# %%
result.tables[scoring.SELECTION_FILE]

# %% [markdown]
# ## D. Test results at the reference size
# WRMSSE [95% CI over seeds] on active windows, MAE/RMSE/bias in units beside; then on all windows.

# %%
reference = result.summary["settings"]["reference_size"]
scoring.headline_table(result.tables[scoring.RESULTS_FILE], reference)

# %%
scoring.headline_table(result.tables[scoring.RESULTS_FILE], reference, "all")

# %% [markdown]
# ## E. The question across data sizes
# Change in test WRMSSE versus real-only on the same seeds, with the 95% t-interval and p-value over seeds.

# %%
scoring.by_size_table(result.tables[scoring.BY_SIZE_FILE])

# %%
fig = plots.wrmsse_change_by_size(result.tables[scoring.BY_SIZE_FILE])
_ = plots.save(fig, out_dir, "wrmsse_change_by_size")

# %% [markdown]
# ## F. Verdict
# Computed from the numbers above.

# %%
print(result.verdict())

# %% [markdown]
# ## What this produced
# Run by hand, the stage then records itself as finished the way a batch run does (parameters and completion
# record), so that `bash run_all.sh --from 05` continues from it.

# %%
for path in result.save(out_dir).values():
    print(Path(path).relative_to(run_path))
finished = paths.finish_stage(run_path, 4, settings)

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
# # 02 · Train the conditional WGAN-GP
# A generator G(z | condition) learns 7-day sales sequences; a critic D(sequence | condition) scores them. The
# condition fuses the 30-day history (LSTM), the calendar of the target days and the review features known at the
# forecast origin. Training follows WGAN-GP (n_critic critic updates with a gradient penalty, then one generator
# update); the kept checkpoint is the one whose samples score best on the validation windows by the fair CRPS in
# units (the gaps between synthetic and real mean sales on all-zero histories and on the top history decile are
# logged beside it as diagnostics).
#
# `gan_design` picks the generator: `original` is the replaced system's design, kept runnable; the default ("")
# is the design chosen on validation in docs/gan_ablation.md (section B says how it differs from the original).

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
gan_design = ""
noise_dim = 128
cond_dim = 512
history_hidden = 256
gru_hidden = 256
gru_layers = 3
critic_channels = [64, 128, 256]
shared_encoder = False
n_critic = 5
gp_lambda = 10.0
one_sided_gp = True
lr_g = 1e-4
lr_d = 4e-4
batch_size = 128
max_epochs = 100
val_samples = 8
gan_train_windows = 0
limit_train_batches = 0
accelerator = "auto"
devices = "auto"
strategy = "auto"
resume = True
time_budget_min = 0.0
gan_max_minutes = 0.0

# %%
import pandas as pd

from salesgan_utils import console, gan, params, paths, plan, plots, preprocess, train, windows

settings = params.notebook_settings(2, globals())
run_path, (data_stage,), out_dir = paths.stage_folders(settings, 2)
metadata = preprocess.load_metadata(data_stage)
if metadata["is_demo"]:
    print("DEMO DATA — not Olist: this model is trained on generated tables.")

# %% [markdown]
# ## A. Training and validation windows
# Train windows condition the GAN; the validation windows select the checkpoint.

# %%
train_windows = windows.subsample(preprocess.load_windows(data_stage, "train"), settings["gan_train_windows"],
                                  settings["seed"])
val_windows = preprocess.load_windows(data_stage, "val")
# NBVAL_CHECK_OUTPUT
print(f"train windows: {len(train_windows)}, val windows: {len(val_windows)}, "
      f"calendar features: {train_windows.calendar.shape[-1]}, review features: {train_windows.reviews.shape[-1]}")

# %% [markdown]
# ## B. Condition encoder, generator and critic
# The design that runs, in plain words, and how it differs from the original design:

# %%
config = gan.GanConfig.from_params(settings).for_windows(train_windows)
print(gan.describe_design(config))

# %% [markdown]
# Sizes come from the profile. Parameter counts of this run's G and D, and of the replaced system's sizes:

# %%
counts = pd.DataFrame({"this run": gan.parameter_counts(config),
                       "seed size": gan.parameter_counts(gan.GanConfig().for_windows(train_windows))})
# NBVAL_CHECK_OUTPUT
counts

# %% [markdown]
# ## C. Training
# Resumes from `checkpoints/last.ckpt` when this run was interrupted before. Devices come from the profile
# (`accelerator`, `devices`, `strategy`); on Kaggle T4×2 this resolves to `ddp_notebook`. Training stops at the
# time limit min(this stage's share of `time_budget_min`, `gan_max_minutes`) (0 = none), keeping both checkpoints.
# The first line printed is the TensorBoard command that shows the curves live, with the folder this run writes.

# %%
console.say(train.tensorboard_command(out_dir))
max_minutes = plan.gan_minutes(settings["time_budget_min"], settings["gan_max_minutes"])
result = train.train_gan(train_windows, val_windows, config, out_dir, max_epochs=settings["max_epochs"],
                         seed=settings["seed"], accelerator=settings["accelerator"], devices=settings["devices"],
                         strategy=settings["strategy"], resume=settings["resume"],
                         limit_train_batches=settings["limit_train_batches"] or None, max_minutes=max_minutes)
print(f"{result.generator_steps} generator steps" + (f"; stopped on its time budget of {max_minutes:g} min"
                                                     if result.stopped_on_budget else ""))

# %% [markdown]
# ## D. Loss curves and the validation quality metric
# Critic loss, gradient penalty and the Wasserstein estimate per epoch, with the validation fair CRPS `val_crps` that
# chooses the best checkpoint (units/day; `val_cond_gap`, the conditional-mean gaps, is in the history beside it).

# %%
history = pd.read_csv(out_dir / train.HISTORY_FILE)
fig = plots.gan_training_curves(history)
_ = plots.save(fig, out_dir, "gan_training_curves")

# %%
# NBVAL_CHECK_OUTPUT
print(f"epochs trained: {int(history['epoch'].max()) + 1}; checkpoints: "
      f"{sorted(p.name for p in (out_dir / train.CHECKPOINT_DIR).glob('*.ckpt'))}")

# %%
history.round(4).tail()

# %% [markdown]
# ## What this produced
# Run by hand, the stage then records itself as finished the way a batch run does (parameters and completion
# record), so that `bash run_all.sh --from 03` continues from it.

# %%
for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
    print(path.relative_to(run_path))
finished = paths.finish_stage(run_path, 2, settings)

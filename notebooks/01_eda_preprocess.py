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
# # 01 · EDA and preprocessing
# Loads the Olist tables (or generated demo tables), validates them, explores demand, and builds the leak-free
# product-day panel and the 30→7 day windows that every later stage reads. The rules (what counts as a sale, the
# timeline trim, train-only filters and scaling) are in `salesgan_utils/data.py` and the README.

# %%
import sys
from pathlib import Path

# Make the package importable when the notebook is opened from a clone (e.g. interactively on Kaggle).
for candidate in [Path.cwd(), *Path.cwd().parents, *Path("/kaggle/working").glob("*")]:
    if (candidate / "salesgan_utils").is_dir():
        sys.path.insert(0, str(candidate))
        break

# %% tags=["parameters"]
run = ""  # empty: the profile's name, as in batch (outputs/<profile>/)
outputs_dir = ""
seed = 0
profile = ""
data_dir = ""
entity = "product"
min_train_units = 5
top_n = 20
train_fraction = 0.7
val_fraction = 0.15
test_fraction = 0.15
history_days = 30
horizon = 7
stride = 1
selection_days = 0
backtest_folds = 1
backtest_spacing_days = 120
repair_warn_share = 0.01
repair_error_share = 0.5
demo_n_products = 40
demo_seed = 0

# %%
from IPython.display import Markdown, display

from salesgan_utils import backtest, data, params, paths, plots, preprocess
from salesgan_utils.demo import demo_banner

settings = params.notebook_settings(1, globals())
run_path, _, out_dir = paths.stage_folders(settings, 1)
print(f"run folder: {run_path}")

# %% [markdown]
# ## A. Data source
# Discovery order: `data_dir` → `SALESGAN_DATA_DIR` → the Kaggle input root → `data/raw/` → generated demo data.

# %%
source = preprocess.resolve_data(settings["data_dir"], run_path, settings["demo_n_products"], settings["demo_seed"])
print(f"data source: {source.kind} — {source.folder}\nreason: {source.reason}")
if source.is_demo:
    display(Markdown(f"<div style='background:#c00;color:#fff;padding:8px;font-size:1.3em'>{demo_banner()}</div>"))

# %% [markdown]
# ## B. Load, validate, build the panel and windows
# Every repair (duplicates, bad timestamps, orders without items, …) is counted in the data report below.

# %%
tables, panel, window_sets = preprocess.build(source, **params.pick(settings, preprocess.BUILD_KEYS))
if not panel.reviews_available:
    display(Markdown("<div style='background:#e69500;color:#000;padding:8px'><b>REVIEWS UNAVAILABLE</b>: no "
                     "reviews table in this dataset; review features are 0 and flagged unavailable.</div>"))
data.report_table(panel.report)

# %%
# NBVAL_CHECK_OUTPUT
print(data.eda_summary(panel))
print(panel.split_dates())

# %% [markdown]
# ## C. Exploratory analysis
# Daily units with the chronological split, the top categories, intermittency, and the Syntetos–Boylan demand
# classes (ADI = days per demand day, CV² of the non-zero sizes; cut-offs 1.32 and 0.49).

# %%
fig = plots.units_over_time(panel)
_ = plots.save(fig, out_dir, "units_over_time")

# %%
fig = plots.top_categories(data.units_by_category(tables))
_ = plots.save(fig, out_dir, "top_categories")

# %%
fig = plots.zero_share_hist(panel)
_ = plots.save(fig, out_dir, "zero_share_hist")

# %%
fig = plots.demand_classes(panel)
_ = plots.save(fig, out_dir, "demand_classes")

# %%
if tables.reviews_available:
    fig = plots.review_scores(tables.reviews["review_score"])
    _ = plots.save(fig, out_dir, "review_scores")
else:
    print("No reviews table: review score distribution not available.")

# %% [markdown]
# ## D. Windows
# 30 history days → 7 target days. Val/test targets lie in their split; their history may reach into earlier days.

# %%
# NBVAL_CHECK_OUTPUT
preprocess.window_summary(window_sets)

# %% [markdown]
# ## E. Backtest folds
# Fold 0 is the split above; fold k moves every boundary back by k × `backtest_spacing_days` days (same validation
# and test lengths), ends on its own test end and chooses its entities by their sales in the last
# `selection_days` train days (0 = the whole train period). Each fold's regime: demand per split and its change,
# and the share of active test windows with all-zero targets.

# %%
folds = backtest.build_folds(tables, settings, first=(panel, window_sets))
backtest.regime_table(folds)

# %% [markdown]
# ## What this produced
# Run by hand, the stage then records itself as finished the way a batch run does (parameters and completion
# record), so that `bash run_all.sh --from 02` continues from it.

# %%
written = preprocess.save(out_dir, source, panel, window_sets, settings)
written += backtest.save_folds(out_dir, source, folds, settings)
for path in written:
    print(path.relative_to(run_path))
finished = paths.finish_stage(run_path, 1, settings)

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
# # SalesGAN report
# Does adding conditional-WGAN-GP synthetic sales sequences to an LSTM forecaster's training data lower its error?
# This page gathers what stages 01–04 of one run wrote; every number below was computed by that run.

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

# %%
from IPython.display import HTML, Markdown, display

from salesgan_utils import params, paths, report

settings = params.notebook_settings(5, globals())
run_path, _, out_dir = paths.stage_folders(settings, 5)
artifacts = report.gather(run_path)
display(HTML(report.source_banner(artifacts)))

# %% [markdown]
# ## Answer

# %%
display(Markdown(report.verdict_markdown(artifacts)))

# %% [markdown]
# ## 1. Data

# %%
report.show_data_section(artifacts)

# %% [markdown]
# ## 2. GAN training

# %%
report.show_training_section(artifacts)

# %% [markdown]
# ## 3. Sample quality

# %%
report.show_quality_section(artifacts)

# %% [markdown]
# ## 4. Augmentation benchmark

# %%
report.show_benchmark_section(artifacts)

# %% [markdown]
# ## 5. Reproducibility

# %%
report.show_reproducibility_section(artifacts)

# %% [markdown]
# ## What this produced
# The reproducibility facts as JSON beside this notebook; run_all.sh then exports this notebook, code hidden, to
# `report.html` in the run folder.

# %% tags=["remove_cell"]
written = paths.write_json_atomic(out_dir / "reproducibility.json", report.reproducibility_facts(artifacts))
print(written.relative_to(run_path))

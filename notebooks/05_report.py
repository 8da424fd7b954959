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
# Do GAN-synthetic sales sequences added to an LSTM forecaster's training data lower its error? Every number on
# this page was computed by this run.

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

# %%
from IPython.display import HTML, display

from salesgan_utils import params, paths, report, sections

settings = params.notebook_settings(5, globals())
run_path, _, out_dir = paths.stage_folders(settings, 5)
artifacts = report.gather(run_path)
display(HTML(sections.first_screen(artifacts, settings["profile"] or settings["run"])))

# %% [markdown]
# ## Main results

# %%
display(HTML(sections.main_tables(artifacts)))

# %% [markdown]
# ## 1. Data

# %%
display(HTML(sections.data_section(artifacts)))

# %% [markdown]
# ## 2. GAN training

# %%
display(HTML(sections.training_section(artifacts)))

# %% [markdown]
# ## 3. Sample quality

# %%
display(HTML(sections.quality_section(artifacts)))

# %% [markdown]
# ## 4. Augmentation benchmark: figures, demand classes, appendices

# %%
display(HTML(sections.benchmark_section(artifacts)))

# %% [markdown]
# ## 5. Reproducibility

# %%
facts = report.reproducibility_facts(artifacts)
display(HTML(sections.reproducibility_section(facts)))

# %% [markdown] tags=["remove_cell"]
# ## What this produced
# The reproducibility facts as JSON beside this notebook; run_all.sh then exports this notebook, code hidden, to
# `report.html` in the run folder.
# Run by hand, the report then records itself as finished the way a batch run does.

# %% tags=["remove_cell"]
written = paths.write_json_atomic(out_dir / "reproducibility.json", facts)
print(written.relative_to(run_path))
finished = paths.finish_stage(run_path, 5, settings)

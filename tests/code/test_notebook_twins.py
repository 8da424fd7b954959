"""The committed `.ipynb` twins hold exactly the cells of their percent `.py` sources, and each notebook has one
`parameters` cell and ends by listing what it produced (the house rhythm of ../shared/STYLE.md)."""
from pathlib import Path

import jupytext
import nbformat
import pytest

from salesgan_utils.paths import STAGES

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.parametrize("name", list(STAGES.values()))
def test_ipynb_twin_matches_its_py_source(name):
    source = jupytext.read(NOTEBOOKS / f"{name}.py")
    twin = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert [(c.cell_type, c.source) for c in twin.cells] == [(c.cell_type, c.source) for c in source.cells], (
        f"notebooks/{name}.ipynb is out of sync: run `python -m jupytext --to ipynb --update notebooks/{name}.py`")


@pytest.mark.parametrize("name", list(STAGES.values()))
def test_one_parameters_cell_and_a_closing_artifact_list(name):
    cells = jupytext.read(NOTEBOOKS / f"{name}.py").cells
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    headings = [c.source for c in cells if c.cell_type == "markdown"]
    assert headings[-1].startswith("## What this produced")

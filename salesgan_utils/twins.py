"""The notebooks' twins: each stage's percent `.py` is the source, its `.ipynb` is generated from it before a run.

One way only, .py → .ipynb: `jupytext --sync` would take whichever twin is newer, and after a clone or a copy that
can be a stale .ipynb overwriting the .py source. An .ipynb edited after its .py (in Jupyter) with different cells
is reported, not overwritten.
"""
from __future__ import annotations

from pathlib import Path

from salesgan_utils import params, paths
from salesgan_utils.console import PipelineError, log


def _cell_inputs(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def twin_state(py: Path, ipynb: Path) -> str:
    """"in sync" (same cells), "stale" (the .ipynb is missing or older than its .py, or cells differ and the .py
    is newer) or "conflict" (the .ipynb was edited after its .py and their cells differ)."""
    import jupytext

    if ipynb.exists() and _cell_inputs(jupytext.read(ipynb)) == _cell_inputs(jupytext.read(py)):
        return "in sync"
    if ipynb.exists() and ipynb.stat().st_mtime > py.stat().st_mtime:
        return "conflict"
    return "stale"


def sync_notebooks(folder: Path | None = None) -> list[Path]:
    """Regenerate each stage's `.ipynb` from its percent `.py` source (inputs replaced, outputs kept).

    Returns:
        The `.py` sources whose twins were rewritten.

    Raises:
        PipelineError: a twin was edited after its source (the message gives both ways out).
    """
    folder = Path(folder or params.notebooks_dir())
    sources = [folder / f"{name}.py" for name in paths.STAGES.values() if (folder / f"{name}.py").is_file()]
    states = {py: twin_state(py, py.with_suffix(".ipynb")) for py in sources}
    conflicts = [py for py, state in states.items() if state == "conflict"]
    if conflicts:
        py = conflicts[0]
        ipynb = py.with_suffix(".ipynb")
        raise PipelineError(f"{ipynb} was edited after {py} and their cells differ: keep the notebook's edits "
                            f"with `python -m jupytext --to py:percent {ipynb}`, or discard them with "
                            f"`python -m jupytext --to ipynb --update {py}`", code=1)
    stale = [py for py, state in states.items() if state == "stale"]
    if stale:
        from jupytext.cli import jupytext

        log(f"updating the .ipynb twins of: {' '.join(str(py) for py in stale)}")
        jupytext(["--quiet", "--to", "ipynb", "--update", *map(str, stale)])
    return stale

"""The report: gathering every stage's artifacts for notebook 05, and its HTML export.

Export: code hidden, images embedded (output PNGs are already base64 in the notebook; markdown images are
inlined with `embed_images`), and no script or stylesheet fetched from the network, so `report.html` opens
offline and renders the same in a year: the lab template's CDN scripts (require.js, MathJax, Mermaid, widgets)
are dropped. Markdown math therefore shows as its LaTeX source.

The pipeline (salesgan_utils.pipeline) calls `export_html` after stage 05; the report reads the run's
`stage_times.json` (`paths.read_stage_times`). Command line::

    python -m salesgan_utils.report export outputs/<run>/05_report.ipynb outputs/<run>/report.html
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

from salesgan_utils import paths

# Cells tagged with one of these are left out of the report entirely (inputs are hidden anyway).
REMOVE_TAGS = {"remove_cell", "remove-cell", "report_hide"}
_TEMPLATE_NAME = "salesgan_report.html.j2"
# The lab template with every network-loaded script removed (the CSS is already inlined by the template).
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
_EXTERNAL = re.compile(r"<script\b[^>]*\bsrc=[\"']?(?:https?:)?//[^>]*>\s*</script>|"
                       r"<link\b[^>]*\bhref=[\"']?(?:https?:)?//[^>]*>", re.IGNORECASE)


# ------------------------------------------------------------------------------------------------ HTML export
def _report_notebook(nb):
    """A copy of `nb` without stderr streams (warnings and progress bars are noise in a report) and without
    cells tagged in REMOVE_TAGS."""
    nb = copy.deepcopy(nb)
    nb.cells = [cell for cell in nb.cells if not REMOVE_TAGS & set(cell.get("metadata", {}).get("tags", []))]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [out for out in cell.outputs
                            if not (out.get("output_type") == "stream" and out.get("name") == "stderr")]
    return nb


def export_html(executed_notebook: str | Path, out_html: str | Path, title: str | None = None) -> Path:
    """Write an executed notebook as a self-contained HTML page, code hidden, atomically.

    Args:
        executed_notebook: the `.ipynb` papermill wrote (outputs included).
        out_html: the page to write (`outputs/<run>/report.html`).
        title: the page title (default: the notebook's file name).

    Returns:
        The path written.

    Raises:
        FileNotFoundError: the notebook does not exist.
    """
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    source = Path(executed_notebook)
    if not source.is_file():
        raise FileNotFoundError(f"{source} not found: it is the executed report notebook written by stage 05 "
                                f"(bash run_all.sh --only 05)")
    nb = _report_notebook(nbformat.read(source, as_version=4))
    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
                            template_file=_TEMPLATE_NAME, exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    # `path` is where markdown image links are resolved from: the executed notebook's folder.
    resources = {"metadata": {"name": title or source.stem, "path": str(source.parent)}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    body = _EXTERNAL.sub("", body)  # belt and braces: nothing may be fetched from the network
    return paths.write_text_atomic(out_html, body)


def external_references(html: str) -> list[str]:
    """The `<script src=...>` / `<link href=...>` tags of `html` that point at the network."""
    return _EXTERNAL.findall(html)


# -------------------------------------------------------------------------------------------------------- CLI
# ------------------------------------------------------------------------------------------- gathering (stage 05)


def _read_json(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def _read_csv(path: Path):
    import pandas as pd

    return pd.read_csv(path) if path.is_file() else None


def gather(run_path) -> dict:
    """Everything stages 01-04 of one run wrote, as plain objects; a missing artifact is None (a stage that did not
    run), but a stage folder that changed since its stage finished, or is stale (built from an earlier run of an
    upstream stage), is refused (`paths.check_stage_complete`): the report never shows numbers of mixed runs.

    Raises:
        paths.IncompleteStageError: one line naming the folder and the stage to rerun.
    """
    # the writers own the artifact names; imported here, not at module level, so report stays light to import
    from . import preprocess, quality, scoring, study, train
    from .paths import STAGES, check_stage_complete, stage_dir

    run_path = Path(run_path)
    s = {n: stage_dir(run_path, n) for n in STAGES}
    for number in STAGES:
        if number < 5 and s[number].is_dir():
            check_stage_complete(s[number], number)
    return {
        "run_path": run_path,
        "metadata": _read_json(s[1] / preprocess.METADATA_FILE),
        "training_history": _read_csv(s[2] / train.HISTORY_FILE),
        "model_summary": _read_json(s[2] / train.SUMMARY_FILE),
        "quality": _read_json(s[3] / quality.QUALITY_FILE),
        "results": _read_csv(s[4] / scoring.RESULTS_FILE),
        "paired": _read_csv(s[4] / scoring.PAIRED_FILE),
        "by_class": _read_csv(s[4] / scoring.BY_CLASS_FILE),
        "summary": _read_json(s[4] / scoring.SUMMARY_FILE),
        "study": _read_json(s[4] / study.STUDY_FILE),  # the backtest over every fold, when it has been summarised
        "stage_times": paths.read_stage_times(run_path),
        "figures": {n: sorted((s[n] / "figures").glob("*.png")) for n in STAGES},
    }


def reproducibility_facts(artifacts: dict) -> dict:
    """Profile, parameters, seeds, package versions, git commit and wall time per stage."""
    import importlib.metadata
    import platform
    import subprocess

    from .paths import project_root

    versions = {}
    for package in ("torch", "pytorch-lightning", "numpy", "pandas", "scipy", "statsforecast", "papermill"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=project_root(), capture_output=True,
                                text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    meta = artifacts["metadata"] or {}
    return {"run folder": str(artifacts["run_path"]), "git commit": commit,
            "python": platform.python_version(), "machine": platform.machine(),
            "parameters (stage 01)": meta.get("parameters"), "package versions": versions,
            "stage wall times (s)": artifacts["stage_times"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m salesgan_utils.report", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="executed notebook → self-contained HTML (code hidden)")
    export.add_argument("notebook")
    export.add_argument("html")
    export.add_argument("--title")
    args = parser.parse_args(argv)
    try:
        written = export_html(args.notebook, args.html, title=args.title)
        print(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB)")
    except (FileNotFoundError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

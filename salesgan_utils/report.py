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
import html
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
STAGE_TITLES = {1: "data and preprocessing", 2: "GAN training", 3: "sample generation and quality",
                4: "augmentation benchmark"}


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
    from . import preprocess, quality, scoring, train
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
        "stage_times": paths.read_stage_times(run_path),
        "figures": {n: sorted((s[n] / "figures").glob("*.png")) for n in STAGES},
    }


def source_banner(artifacts: dict) -> str:
    """A loud HTML banner: REAL Olist data, DEMO data, or stage 01 missing."""
    meta = artifacts["metadata"]
    if meta is None:
        return "<div style='background:#777;color:#fff;padding:10px'>Stage 01 did not run: no data source.</div>"
    source = meta["data_source"]
    if meta["is_demo"]:
        return ("<div style='background:#c00;color:#fff;padding:12px;font-size:1.4em;font-weight:bold'>"
                "DEMO DATA — not Olist. Every number below comes from generated tables.</div>")
    reviews = "" if meta.get("reviews_available") else (
        "<div style='background:#e69500;padding:8px'><b>Reviews table unavailable</b>: review features were "
        "zero and flagged unavailable in this run.</div>")
    # Folder names come from the user's disk: escaped, or `<img src=x onerror=...>` would run in report.html.
    folder, entity, count = (html.escape(str(v)) for v in (source["folder"], meta["entity"], meta["n_entities"]))
    return (f"<div style='background:#1b7837;color:#fff;padding:12px;font-size:1.2em'><b>REAL Olist data</b> from "
            f"<code>{folder}</code> ({entity} level, {count} entities).</div>"
            + reviews)


def _missing(stage: int) -> None:
    from IPython.display import Markdown, display

    from .paths import STAGES

    display(Markdown(f"> **Stage {stage:02d} did not run** ({STAGE_TITLES[stage]}): `{STAGES[stage]}/` has no "
                     f"artifacts in this run, so this section is empty. Run `bash run_all.sh --only {stage:02d}`."))


def _show_figures(paths_list) -> None:
    from IPython.display import Image, display

    for path in paths_list:
        display(Image(filename=str(path)))


def verdict_markdown(artifacts: dict) -> str:
    summary = artifacts["summary"]
    if not summary:
        return "**No verdict**: stage 04 (the augmentation benchmark) did not run in this run."
    if "regimes" not in summary:  # a stage-04 folder written before the M5 protocol
        return f"**{summary['verdict']}**"
    from .scoring import answer_markdown

    return answer_markdown(summary)


def show_data_section(artifacts: dict) -> None:
    import pandas as pd
    from IPython.display import display

    meta = artifacts["metadata"]
    if meta is None:
        return _missing(1)
    display(pd.DataFrame([meta["split_dates"]]))
    display(pd.DataFrame([meta["windows"]], index=["windows"]))
    from .data import report_table

    display(report_table(meta["data_report"]))
    _show_figures(artifacts["figures"][1])


def training_stop_markdown(summary: dict) -> str:
    """How stage 02 ended, from its model_summary.json: on its time budget (after how many steps) or not."""
    steps = summary.get("generator_steps")
    if summary.get("stopped_on_budget"):
        return (f"**Training stopped on its time budget** ({summary.get('max_minutes', 0):g} min) after {steps:,} "
                f"generator steps, before its last epoch; best.ckpt is the best checkpoint validated until then.")
    return "" if steps is None else f"Training ran all its epochs: {steps:,} generator steps."


def design_markdown(summary: dict) -> str:
    """Which generator design stage 02 trained and how it differs from the original design, in plain words."""
    config = summary.get("config") or {}
    if "design" not in config and "gan_variant" not in config:
        return ""
    from .gan import config_from_checkpoint, describe_design

    return describe_design(config_from_checkpoint(config)).replace("\n  - ", "\n- ").replace(
        ": the original design with", ": the original design with\n")


def show_training_section(artifacts: dict) -> None:
    from IPython.display import Markdown, display

    history = artifacts["training_history"]
    if history is None:
        return _missing(2)
    if artifacts["model_summary"]:
        import pandas as pd

        if training_stop_markdown(artifacts["model_summary"]):
            display(Markdown(training_stop_markdown(artifacts["model_summary"])))
        if design_markdown(artifacts["model_summary"]):
            display(Markdown(design_markdown(artifacts["model_summary"])))
        display(pd.DataFrame([artifacts["model_summary"]]))
    _show_figures(artifacts["figures"][2])
    display(history.round(4).tail(10))


def show_quality_section(artifacts: dict) -> None:
    from IPython.display import display

    quality = artifacts["quality"]
    if quality is None:
        return _missing(3)
    import pandas as pd

    from .quality import quality_table

    with pd.option_context("display.max_colwidth", None):
        display(quality_table(quality))
    _show_figures(artifacts["figures"][3])


def show_benchmark_section(artifacts: dict) -> None:
    from IPython.display import Markdown, display

    if artifacts["results"] is None:
        return _missing(4)
    from . import scoring

    summary = artifacts["summary"] or {}
    reference = summary.get("settings", {}).get("reference_size")
    if reference is None or "wrmsse" not in artifacts["results"]:  # a folder from before the M5 protocol
        display(artifacts["results"])
        return _show_figures(artifacts["figures"][4])
    display(Markdown(f"Test WRMSSE on active windows, mean [95% CI over seeds], LSTMs on {reference} real "
                     "windows, and the baselines; MAE, RMSE and bias in units per day:"))
    display(scoring.headline_table(artifacts["results"], reference))
    by_size = paths.stage_dir(artifacts["run_path"], 4) / scoring.BY_SIZE_FILE
    if by_size.is_file():
        import pandas as pd

        display(Markdown("The question across data sizes (active test windows):"))
        display(scoring.by_size_table(pd.read_csv(by_size)))
    _show_figures(artifacts["figures"][4])
    if artifacts["by_class"] is not None:
        display(Markdown("Test WRMSSE by demand class (active windows):"))
        display(artifacts["by_class"])


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


def show_reproducibility_section(artifacts: dict) -> None:
    import pandas as pd
    from IPython.display import display

    facts = reproducibility_facts(artifacts)
    rows = [(k, json.dumps(v) if isinstance(v, (dict, list)) else str(v)) for k, v in facts.items()]
    display(pd.DataFrame(rows, columns=["fact", "value"]))


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

"""Tests of salesgan_utils.report: self-contained HTML export and the per-stage wall-time record."""
from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from salesgan_utils import report

SECRET_CODE = "secret_code_marker = 42"


def _png_base64() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [1, 0, 2])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.fixture()
def executed_notebook(tmp_path: Path) -> Path:
    """An executed-looking notebook: markdown (with a linked PNG beside it), a DataFrame table, a figure, stderr."""
    import pandas as pd

    png = _png_base64()
    (tmp_path / "figure.png").write_bytes(base64.b64decode(png))
    table = pd.DataFrame({"variant": ["real", "real+gan"], "MAE": [1.25, 1.5]}).to_html()
    nb = new_notebook(cells=[
        new_markdown_cell("# Report\nThe verdict.\n\n![a figure](figure.png)"),
        new_code_cell(f"{SECRET_CODE}\ndf", execution_count=1, outputs=[
            new_output("execute_result", data={"text/html": table, "text/plain": "df"}, execution_count=1)]),
        new_code_cell("plot()", execution_count=2, outputs=[
            new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
            new_output("stream", name="stderr", text="UserWarning: noisy warning\n")]),
        new_code_cell("hidden()", metadata={"tags": ["remove_cell"]}, outputs=[
            new_output("stream", name="stdout", text="removed-cell-output\n")]),
    ])
    path = tmp_path / "05_report.ipynb"
    nbformat.write(nb, path)
    return path


def test_export_is_self_contained_with_code_hidden(executed_notebook: Path, tmp_path: Path) -> None:
    out = report.export_html(executed_notebook, tmp_path / "run" / "report.html")
    html = out.read_text(encoding="utf-8")
    assert SECRET_CODE not in html and "plot()" not in html  # no code input
    assert "<table" in html and "real+gan" in html
    assert html.count('src="data:image/png;base64,') >= 2  # the output figure and the markdown image
    assert re.search(r"<script[^>]+src=[\"']?https?:", html) is None
    assert re.search(r"<link[^>]+href=[\"']?https?:", html) is None
    assert report.external_references(html) == []
    assert "noisy warning" not in html and "removed-cell-output" not in html
    assert list((tmp_path / "run").iterdir()) == [out]  # no temporary file left beside it


def test_export_cli_and_missing_notebook(executed_notebook: Path, tmp_path: Path, capsys) -> None:
    assert report.main(["export", str(executed_notebook), str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").stat().st_size > 1000
    assert report.main(["export", str(tmp_path / "missing.ipynb"), str(tmp_path / "x.html")]) == 1
    assert "written by stage 05" in capsys.readouterr().err


def test_external_references_are_found() -> None:
    html = ('<script src="https://cdn.example/require.js"></script><link rel="stylesheet" '
            'href="//cdn.example/a.css"><script>inline()</script>')
    assert len(report.external_references(html)) == 2

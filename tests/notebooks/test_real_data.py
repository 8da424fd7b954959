"""The suite on the real Olist tables in ../shared/data/olist/ (no reviews table there), and stage 01 at category level.

Issue 2: `run_all.sh --profile smoke --data ../shared/data/olist` runs end to end and shows a clear reviews warning,
not a crash. Issue 3: notebook 01 runs on the real tables and on demo data with both entity levels (product is
covered by the full runs; category here). Runs go to the session's SALESGAN_OUTPUTS (tests/conftest.py).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from salesgan_utils.paths import STAGES as STAGE_NAMES

STAGES = tuple(STAGE_NAMES.values())
ROOT = Path(__file__).resolve().parents[2]
OLIST = ROOT.parent / "shared" / "data" / "olist"
REAL_RUN = "ci-real-smoke"

needs_olist = pytest.mark.skipif(
    not (OLIST / "olist_orders_dataset.csv.gz").is_file() and not (OLIST / "olist_orders_dataset.csv").is_file(),
    reason=f"the real Olist tables are not in {OLIST} (olist_orders_dataset.csv[.gz] missing): nothing to run on")


def output_text(notebook: Path) -> str:
    """Everything an executed notebook displayed (stream text, text/plain, text/markdown, text/html), not its
    source: a banner's text also appears in the code that draws it."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    parts = []
    for cell in cells:
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            for mime in ("text/plain", "text/markdown", "text/html"):
                parts.append("".join(output.get("data", {}).get(mime, "")))
    return "\n".join(parts)


def fail_with_output(result, run_dir: Path, what: str) -> None:
    pytest.fail(f"{what} failed (exit {result.returncode}); executed notebooks in {run_dir}\n"
                f"--- stderr (tail) ---\n{result.stderr[-6000:]}", pytrace=False)


@pytest.fixture(scope="module")
def real_smoke_run(run_all, outputs_root: Path) -> Path:
    """`run_all.sh --profile smoke --data ../shared/data/olist`, once for this module; the run folder."""
    result = run_all("--no-setup", "--profile", "smoke", "--data", str(OLIST), "--run", REAL_RUN)
    run_dir = outputs_root / REAL_RUN
    if result.returncode != 0:
        fail_with_output(result, run_dir, "the smoke suite on the real Olist tables")
    return run_dir


@needs_olist
@pytest.mark.slow
def test_the_smoke_suite_runs_on_the_real_tables_with_a_reviews_warning(real_smoke_run: Path) -> None:
    for name in STAGES:
        assert (real_smoke_run / f"{name}.ipynb").is_file(), f"executed notebook {name}.ipynb missing"
    times = json.loads((real_smoke_run / "stage_times.json").read_text())
    assert all(entry["status"] == "ok" for entry in times.values()), times

    shown = output_text(real_smoke_run / "01_eda_preprocess.ipynb")
    assert "REVIEWS UNAVAILABLE" in shown
    assert "data source: olist" in shown
    assert "DEMO DATA" not in shown

    html = (real_smoke_run / "report.html").read_text(encoding="utf-8")
    assert "REAL Olist data" in html
    assert "Reviews table unavailable" in html
    assert "DEMO DATA — not Olist" not in html

    meta = json.loads((real_smoke_run / "01_eda_preprocess" / "metadata.json").read_text())
    assert meta["is_demo"] is False and meta["data_source"]["kind"] == "olist"
    assert meta["reviews_available"] is False


@pytest.mark.slow
@pytest.mark.parametrize("data", [pytest.param(str(OLIST), marks=needs_olist, id="real"),
                                  pytest.param("demo", id="demo")])
def test_stage_01_runs_at_category_level(data: str, run_all, outputs_root: Path) -> None:
    run = f"ci-category-{'demo' if data == 'demo' else 'real'}"
    result = run_all("--no-setup", "--profile", "smoke", "--data", data, "--run", run, "--only", "01",
                     "--set", "entity=category")
    if result.returncode != 0:
        fail_with_output(result, outputs_root / run, f"stage 01 at category level on {data}")
    meta = json.loads((outputs_root / run / "01_eda_preprocess" / "metadata.json").read_text())
    assert meta["entity"] == "category"
    assert meta["is_demo"] is (data == "demo")
    assert meta["n_entities"] > 0 and meta["windows"]["train"] > 0

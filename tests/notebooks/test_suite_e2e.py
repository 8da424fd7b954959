"""End to end: run_all.sh runs the five notebooks, writes the report, and fails a stage loudly and harmlessly.

The command-line logic is unit-tested in tests/code/test_cli.py; here only the one smoke run through
run_all.sh, a failing stage in a real kernel, and the bash wiring."""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from salesgan_utils.paths import STAGES as STAGE_NAMES

STAGES = tuple(STAGE_NAMES.values())


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time (ns)."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_the_smoke_suite_writes_every_executed_notebook_and_the_report(smoke_run: Path) -> None:
    for name in STAGES:
        executed = smoke_run / f"{name}.ipynb"
        assert executed.is_file(), f"{executed} missing"
        assert (smoke_run / name).is_dir(), f"stage folder {smoke_run / name} missing"
    html = (smoke_run / "report.html").read_text(encoding="utf-8")
    assert "<table" in html and 'src="data:image/png;base64,' in html
    times = json.loads((smoke_run / "stage_times.json").read_text())
    assert set(times) == set(STAGES) and all(t["status"] == "ok" for t in times.values())
    assert (smoke_run / "params" / "02_train_gan.yaml").is_file()
    assert json.loads((smoke_run / "05_report" / "reproducibility.json").read_text())["git commit"]


@pytest.mark.slow
def test_a_stage_whose_inputs_are_missing_is_refused_before_it_runs(smoke_run: Path, outputs_root: Path,
                                                                    capsys, monkeypatch) -> None:
    from salesgan_utils import params, pipeline

    for var in (params.PIPELINE_ENV, "SALESGAN_ROOT"):  # main() sets them for its kernels
        monkeypatch.delenv(var, raising=False)
    before = snapshot(smoke_run)
    bogus = "ci-no-such-upstream"
    rc = pipeline.main(["--profile", "smoke", "--run", bogus, "--only", "03"])
    stderr = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in stderr
    assert "--only 03 reads the outputs of stage 01" in stderr and stderr.strip().endswith("--from 01")
    assert not (outputs_root / bogus / "03_generate_samples.ipynb").exists(), "the stage ran"
    assert snapshot(smoke_run) == before, f"run {smoke_run.name} was modified by a refused run of another name"


@pytest.mark.parametrize("args, rc, stream, text", [
    (["--help"], 0, "stdout", "--refresh-nbval"),
    (["--bogus"], 2, "stderr", "unknown option '--bogus'"),
    (["--run", "../x"], 2, "stderr", "not a plain folder name"),
])
def test_run_all_hands_its_command_line_to_the_pipeline(args, rc: int, stream: str, text: str, run_all) -> None:
    """The bash wiring only (the options themselves are unit-tested in tests/code/test_cli.py): checked before
    any set-up, one line, no traceback."""
    result = run_all(*args, timeout=60)
    assert result.returncode == rc
    assert text in getattr(result, stream) and "Traceback" not in result.stderr


def visible_text(page: str) -> str:
    """The report's text as a reader sees it: no tags, no embedded images, no style or script blocks."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.DOTALL | re.IGNORECASE)
    return html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"src=['\"]data:[^'\"]*['\"]", "", page)))


@pytest.mark.slow
def test_the_smoke_report_has_no_index_columns_long_numbers_or_dict_dumps(smoke_run: Path) -> None:
    page = (smoke_run / "report.html").read_text(encoding="utf-8")
    bodies = re.findall(r"<tbody>(.*?)</tbody>", page, flags=re.DOTALL)
    assert bodies, "the report has no table"
    assert not any("<th" in body for body in bodies), "a table has an index column (row headers)"
    assert not re.search(r"<thead>\s*<tr[^>]*>\s*<th[^>]*>\s*</th>", page), "a table has a blank index header"
    cells = [html.unescape(re.sub(r"<[^>]+>", "", c)) for body in bodies for c in re.findall(r"<td.*?</td>", body)]
    long = [c for c in cells for n in re.findall(r"\d+\.\d+", c) if len(n.replace(".", "").lstrip("0")) > 4]
    assert not long, f"cells with more than 4 significant digits: {long[:5]}"
    text = visible_text(page)
    assert not re.search(r"\{\s*['\"]", text), "a dict or JSON dump is visible"
    assert text.count("<details>") == 0 and page.count("<details>") >= 4  # the appendices are collapsed

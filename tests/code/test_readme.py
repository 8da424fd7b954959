"""README's "Result so far" and the report say the same thing in the same words: README's generated block is
`answer.readme_block` of the run records committed beside it (docs/result_records.json), the function whose
sentences the report's first screen shows (`answer.result_markdown`)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from salesgan_utils import answer, paths

ROOT = Path(__file__).resolve().parents[2]


def test_readmes_result_block_is_rendered_from_the_committed_records() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    if answer.RESULT_START not in readme:
        pytest.skip("README.md has no generated result block yet: write it with "
                    "python -m salesgan_utils.answer readme outputs/<run>")
    records = json.loads((ROOT / answer.RECORDS_FILE).read_text(encoding="utf-8"))
    start, end = readme.index(answer.RESULT_START), readme.index(answer.RESULT_END) + len(answer.RESULT_END)
    assert readme[start:end] == answer.readme_block(records["summary"], records["model_summary"],
                                                    records["metadata"], records["source"], records.get("study")), (
        "README.md's result block was edited by hand or its records changed: regenerate it with "
        "python -m salesgan_utils.answer readme outputs/<run>")


def test_the_readme_command_writes_the_block_and_its_records(tmp_path, summary, monkeypatch) -> None:
    run = tmp_path / "outputs" / "final"
    for stage, name, record in ((4, "summary.json", summary), (1, "metadata.json", {"is_demo": False,
                                                                                     "entity": "product",
                                                                                     "n_entities": 100})):
        folder = run / paths.STAGES[stage]
        folder.mkdir(parents=True)
        (folder / name).write_text(json.dumps(record))
    readme = tmp_path / "README.md"
    readme.write_text(f"# SalesGAN\n\n## Result so far\n\n{answer.RESULT_START}\n{answer.RESULT_END}\n")
    monkeypatch.setenv("SALESGAN_ROOT", str(tmp_path))
    assert answer.main(["readme", str(run), str(readme)]) == 0
    records = json.loads((tmp_path / answer.RECORDS_FILE).read_text())
    text = readme.read_text()
    assert answer.readme_block(records["summary"], None, records["metadata"], records["source"]) in text
    assert "With 250 real windows, GAN samples (ratio 5, chosen on validation) lowered test WRMSSE by 5.3%" in text

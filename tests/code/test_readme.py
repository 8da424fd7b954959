"""README's "Result so far" and the report say the same thing in the same words: README's generated block is
`answer.records_block` of the run records committed beside it (docs/result_records.json), the function whose
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
    assert readme[start:end] == answer.records_block(records), (
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


def test_the_readme_command_renders_several_runs_in_the_order_given(tmp_path, summary, monkeypatch) -> None:
    for name, entity in (("study_product", "product"), ("study_category", "category")):
        for stage, file, record in ((4, "summary.json", summary),
                                    (1, "metadata.json", {"is_demo": False, "entity": entity, "n_entities": 7})):
            folder = tmp_path / "outputs" / name / paths.STAGES[stage]
            folder.mkdir(parents=True)
            (folder / file).write_text(json.dumps(record))
    readme = tmp_path / "README.md"
    readme.write_text(f"# SalesGAN\n\n{answer.RESULT_START}\n{answer.RESULT_END}\ntail\n")
    monkeypatch.setenv("SALESGAN_ROOT", str(tmp_path))
    runs = [str(tmp_path / "outputs" / "study_product"), str(tmp_path / "outputs" / "study_category")]
    assert answer.main(["readme", *runs, str(readme)]) == 0
    text = readme.read_text()
    records = json.loads((tmp_path / answer.RECORDS_FILE).read_text())
    assert [run["metadata"]["entity"] for run in records["runs"]] == ["product", "category"]
    assert answer.records_block(records) in text and text.endswith("tail\n")
    assert text.index("product level, 7 entities") < text.index("category level, 7 entities")
    assert text.index("outputs/study_product/") < text.index("category level") < text.index("outputs/study_category/")
    assert text.count(answer.RESULT_START) == 1 and text.count(answer.RESULT_END) == 1


def test_the_readme_command_refuses_two_readmes_or_no_run(capsys) -> None:
    assert answer.main(["readme", "a.md", "b.md"]) == 2
    assert answer.main(["print", "README.md"]) == 2
    assert "outputs/<run> [outputs/<run> ...]" in capsys.readouterr().err


def test_a_committed_records_file_stands_for_its_runs(tmp_path, summary, monkeypatch) -> None:
    folder = tmp_path / "outputs" / "study_category"
    for stage, file, record in ((4, "summary.json", summary),
                                (1, "metadata.json", {"is_demo": False, "entity": "category", "n_entities": 7})):
        (folder / paths.STAGES[stage]).mkdir(parents=True)
        (folder / paths.STAGES[stage] / file).write_text(json.dumps(record))
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps({"source": "outputs/study_product/x", "summary": summary, "model_summary": None,
                                 "metadata": {"is_demo": False, "entity": "product", "n_entities": 100}}))
    readme = tmp_path / "README.md"
    readme.write_text(f"{answer.RESULT_START}\n{answer.RESULT_END}\n")
    monkeypatch.setenv("SALESGAN_ROOT", str(tmp_path))
    assert answer.main(["readme", str(saved), str(folder), str(readme)]) == 0
    records = json.loads((tmp_path / answer.RECORDS_FILE).read_text())
    assert [run["source"].split("/")[1] for run in records["runs"]] == ["study_product", "study_category"]
    assert answer.records_block(records) in readme.read_text()

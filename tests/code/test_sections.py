"""What the report shows (salesgan_utils.sections): the first screen holds the verdict, the headline figure and
the caveats; tables have no index column, readable model names and at most four significant digits; no dict
dumps; raw material sits in <details>. On a tiny hand-made run folder."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from salesgan_utils import paths, sections

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082")
META = {"is_demo": False, "entity": "product", "n_entities": 100, "reviews_available": True,
        "data_source": {"folder": "/data/olist"},
        "split_dates": {"train_start": "2016-10-01", "train_end": "2018-02-01", "val_start": "2018-02-02",
                        "val_end": "2018-05-17", "test_start": "2018-05-18", "test_end": "2018-08-31"},
        "windows": {"train": 25460, "val": 1980, "test": 2000},
        "data_report": {"orders_rows": 99441, "files_read": {"orders": {"path": "/x/" + "y" * 200, "bytes": 5}},
                        "zero_share": 0.8267668218366483}}
RESULTS = pd.DataFrame([
    {"model": "lstm_gan_r5", "config": "tweedie lr=0.003", "n_real": 25460, "subset": "active", "n_seeds": 5,
     "wrmsse": 0.40912345, "wrmsse_low": 0.4012, "wrmsse_high": 0.4177, "mae": 0.123456, "rmse": 0.5, "bias": -0.01},
    {"model": "tsb", "config": None, "n_real": 0, "subset": "active", "n_seeds": 1, "wrmsse": 0.4,
     "wrmsse_low": None, "wrmsse_high": None, "mae": 0.1, "rmse": 0.4, "bias": 0.0}])


@pytest.fixture
def artifacts(tmp_path: Path, summary: dict) -> dict:
    figures = tmp_path / paths.STAGES[4] / "figures"
    figures.mkdir(parents=True)
    (figures / sections.HEADLINE_FIGURE).write_bytes(PNG)
    return {"run_path": tmp_path, "metadata": META, "summary": summary, "results": RESULTS, "paired": None,
            "by_class": None, "model_summary": {"seed": 0, "generator_steps": 40, "config": {"noise_dim": 16,
                                                                                           "betas": [0.0, 0.9]}},
            "training_history": pd.DataFrame({"epoch": [0, 1], "val_crps": [0.2644781172275543, 0.26255]}),
            "quality": None, "stage_times": {}, "figures": {n: [] for n in paths.STAGES}}


def visible_text(page: str) -> str:
    return re.sub(r"<[^>]+>", " ", re.sub(r"src='data:[^']*'", "", page))


def numbers(page: str) -> list[str]:
    return re.findall(r"\d[\d,]*\.?\d*", visible_text(page))


def test_the_first_screen_holds_the_verdict_the_figure_and_the_caveats(artifacts) -> None:
    page = sections.first_screen(artifacts, "quick")
    assert "REAL Olist data, product level, 100 entities · profile quick" in page
    verdict = page.index("With 250 real windows, GAN samples (ratio 5, chosen on validation) lowered test WRMSSE")
    figure = page.index("id='headline-figure'")
    caveats = page.index("The generator learned from 25,460 train windows")
    assert verdict < figure < caveats
    assert "data:image/png;base64," in page and "WRMSSE" in page and "How to read this" in page
    assert "docs/results.md" in page


def test_the_first_screen_without_stage_04_says_so(artifacts) -> None:
    page = sections.first_screen({**artifacts, "summary": None, "run_path": artifacts["run_path"] / "empty"})
    assert "No verdict: stage 04" in page and "No headline figure" in page


def test_tables_have_no_index_readable_names_and_four_significant_digits(artifacts) -> None:
    page = sections.main_tables(artifacts)
    assert "LSTM + GAN ×5" in page and "lstm_gan_r5" not in page and "TSB" in page
    assert "0.4091 [0.4012, 0.4177]" in page and "0.1235" in page
    assert all(len(n.replace(",", "").replace(".", "").lstrip("0")) <= 4 for n in numbers(page) if "." in n)
    headers = [re.findall(r"<th>(.*?)</th>", head) for head in re.findall(r"<thead>(.*?)</thead>", page)]
    assert headers[0][0] == "real windows" and headers[1][0] == "model"  # no (unnamed) index column first
    assert all(all(headers_row) for headers_row in headers)


def test_raw_material_is_in_collapsed_appendices_without_dict_dumps(artifacts) -> None:
    data, training = sections.data_section(artifacts), sections.training_section(artifacts)
    assert data.count("<details>") == 1 and training.count("<details>") == 2
    assert "0.8268" in data and "0.8267668218366483" not in data
    assert "y" * 100 not in data  # a long path is cut, not spread over the page
    assert "0.2645" in training and "0, 0.9" in training
    facts = {"git commit": "abc", "package versions": {"torch": "2.13.0"}, "stage wall times (s)": {
        "01_eda_preprocess": {"seconds": 5.1, "status": "ok"}}}
    record = sections.reproducibility_section(facts)
    assert record.startswith("<details>") and "package versions: torch" in record
    assert "stage wall times (s): 01_eda_preprocess.seconds" in record
    for page in (data, training, record, sections.main_tables(artifacts), sections.first_screen(artifacts)):
        assert "{" not in visible_text(page), "a dict reached the page"


@pytest.mark.parametrize("value, text", [(0.8267668218366483, "0.8268"), ({"a": 1, "b": [2, 3]}, "a 1; b 2, 3"),
                                         (True, "yes"), (None, "–"), ([], "none"), ("text", "text")])
def test_cell(value, text) -> None:
    assert sections.cell(value) == text


def test_the_source_banner_escapes_the_data_folder_name() -> None:
    meta = {"data_source": {"folder": "/data/<img src=x onerror=alert(1)>"}, "is_demo": False, "entity": "product",
            "n_entities": 3, "reviews_available": True}
    banner = sections.source_banner({"metadata": meta})
    assert "<img" not in banner and "/data/&lt;img src=x onerror=alert(1)&gt;" in banner


def test_a_missing_stage_is_named_with_the_command_that_runs_it(artifacts) -> None:
    page = sections.quality_section(artifacts)
    assert "Stage 03 did not run" in page and "bash run_all.sh --only 03" in page


def test_with_a_backtest_study_the_first_screen_leads_with_it_and_its_forest_plot(artifacts) -> None:
    from test_answer import STUDY

    from salesgan_utils.study import STUDY_FIGURE

    figures = artifacts["run_path"] / paths.STAGES[4] / "figures"
    (figures / f"{STUDY_FIGURE}.png").write_bytes(PNG + b"study")
    page = sections.first_screen({**artifacts, "study": STUDY}, "study")
    study, fold0 = page.index("Backtest over 2 rolling-origin folds"), page.index("This run's own test period")
    assert study < page.index("(a) A words.") < fold0 < page.index("With 250 real windows")
    assert "alt='study changes'" in page and "alt='wrmsse change by size'" not in page  # the study's figure
    tables = sections.main_tables({**artifacts, "study": STUDY})
    assert tables.index("fair GAN vs real-only") < tables.index("fold alone")
    assert "2018-01-01 – 2018-02-28" in tables


def test_a_study_summary_whose_fold_files_changed_is_flagged_out_of_date(artifacts) -> None:
    from test_answer import STUDY

    from salesgan_utils import provenance
    from salesgan_utils.study import STUDY_FILE

    bench = artifacts["run_path"] / paths.STAGES[4]
    (bench / "summary.json").write_text("{}")
    current = {**STUDY, "sources": {"0": {"summary.json": provenance.file_hash(bench / "summary.json")}}}
    assert "out of date" not in sections.first_screen({**artifacts, "study": current}, "study")
    (bench / "summary.json").write_text('{"rerun": true}')  # fold 0's stage 04 was rerun after the summary
    page = sections.first_screen({**artifacts, "study": current}, "study")
    assert f"{STUDY_FILE} is out of date" in page and "fold 0: summary.json" in page
    assert page.index("out of date") < page.index("Backtest over 2 rolling-origin folds")

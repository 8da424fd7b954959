"""The run's answer in words (salesgan_utils.answer): rounding, readable names, verdict sentences, caveats, the
README block; on a tiny hand-made summary whose sentences can be written down in advance."""
from __future__ import annotations

import math

import pytest

from salesgan_utils import answer


@pytest.mark.parametrize("value, text", [(0.8224220067476333, "0.8224"), (1234.567, "1,235"), (0.0025, "0.0025"),
                                         (12.0, "12"), (-0.10576, "-0.1058"), (0, "0"), (None, "–"),
                                         (math.nan, "–"), (25460, "25,460"), (1.5e-7, "0.00000015")])
def test_sig_keeps_at_most_four_significant_digits(value, text) -> None:
    assert answer.sig(value) == text


@pytest.mark.parametrize("model, name", [
    ("lstm_real", "LSTM (real only)"), ("lstm_gan_r5", "LSTM + GAN ×5"), ("lstm_gan_r0.5", "LSTM + GAN ×0.5"),
    ("lstm_block_bootstrap_r0.5", "LSTM + block bootstrap ×0.5"), ("lstm_scaling_r1", "LSTM + magnitude scaling ×1"),
    ("seasonal_naive", "seasonal naive (7 days)"), ("tsb", "TSB"), ("something_new", "something_new")])
def test_model_names_read_as_words(model, name) -> None:
    assert answer.model_name(model) == name


def test_one_verdict_sentence_per_number_of_real_windows(summary: dict) -> None:
    assert answer.verdict_sentences(summary) == [
        "With 250 real windows, GAN samples (ratio 5, chosen on validation) lowered test WRMSSE by 5.3% (95% "
        "interval over 5 seeds: -7.4% to -3.1%); block bootstrap (ratio 0.5, chosen on validation) made no "
        "measurable change (+2.1%; 95% interval over 5 seeds: -10.5% to +14.6%).",
        "With all 25,460 real windows, GAN samples (ratio 5, chosen on validation) made no measurable change "
        "(-1.2%; 95% interval over 5 seeds: -6.2% to +3.7%).",
    ]


def test_a_missing_summary_and_a_summary_without_regimes_still_read() -> None:
    assert answer.verdict_sentences(None)[0].startswith("No verdict: stage 04")
    assert answer.verdict_sentences({"verdict": "old text"}) == ["old text"]
    assert answer.verdict_parts({"verdict": {"gan_effect": "helps", "forecaster": "weak"}}) == [
        "Gan effect: helps", "Forecaster: weak"]


def test_caveats_are_computed_from_the_run(summary: dict) -> None:
    lines = answer.caveats(summary, {"seed": 0}, {"is_demo": True})
    assert lines[0].startswith("**Demo data**")
    assert ("The generator learned from 25,460 train windows; at 250 real windows the augmented LSTM sees, through "
            "its samples, what the generator learned from 102× more real data.") in lines
    assert any("one generator training (seed 0) and 5 forecaster seeds (0, 1, 2, 3, 4)" in line for line in lines)
    # the best LSTM at the reference size is LSTM + GAN ×5 (0.409): beaten by TSB (0.40), beats zero (0.41)
    assert ("The best LSTM on test (LSTM + GAN ×5, WRMSSE 0.409) beats the zero forecast (0.41) and does not beat "
            "the strongest baseline, TSB (0.4).") in lines
    assert any(line.startswith("Demand changed -68.0%") for line in lines)
    assert not any("Demo" in line for line in answer.caveats(summary, None, {"is_demo": False}))


def test_change_table_has_one_uncertainty_measure_and_rounded_cells(summary: dict) -> None:
    table = answer.change_table(summary)
    assert list(table["real windows"]) == ["250", "all"]
    assert table.loc[0, "GAN: change [95% CI]"] == "-5.3% [-7.4%, -3.1%]" and table.loc[0, "GAN: p"] == "0.0025"
    assert table.loc[1, "simple augmentation: change [95% CI]"] == "–"
    assert not any("boot" in column or "DM" in column for column in table.columns)


def test_how_to_read_defines_wrmsse_and_the_interval(summary: dict) -> None:
    text = answer.how_to_read(summary)
    assert "WRMSSE" in text and "naive" in text and "over forecaster seeds" in text
    assert summary["headline"]["subset_rule"] in text


def test_the_readme_block_is_replaced_between_its_markers(summary: dict) -> None:
    block = answer.readme_block(summary, None, {"is_demo": False, "entity": "product", "n_entities": 100}, "x.json")
    text = f"# T\n\n## Result so far\n\n{answer.RESULT_START}\nold\n{answer.RESULT_END}\n\n## Next\n"
    new = answer.replace_block(text, block)
    assert new.startswith("# T\n\n## Result so far\n\n") and new.endswith("\n\n## Next\n")
    assert "old" not in new and answer.result_markdown(summary, None, {"is_demo": False}) in new
    with pytest.raises(ValueError, match="no generated result block"):
        answer.replace_block("# T\n", block)

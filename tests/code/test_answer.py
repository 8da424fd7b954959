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


def _with_fair_arm(summary: dict) -> dict:
    """The hand-made summary with a fair-GAN arm at 250 (ratio 1 chosen there) and two fair generators."""
    summary["validation_choices"]["arms_by_size"] = {"250": {
        **summary["validation_choices"]["arms"],
        "gan_fair": {"augmentation": "gan_fair", "ratio": 1.0, "model": "lstm_gan_fair_r1"}}}
    summary["regimes"][0]["active"]["gan_fair"] = {"model": "lstm_gan_fair_r1", "n_seeds": 5, "wrmsse": 0.41,
                                                   "pct": -2.9, "pct_low": -6.4, "pct_high": 0.6, "p_seed": 0.08}
    summary["fair_generators"] = [{"n_real": 250, "seed": 0, "best_step": 150}, {"n_real": 250, "seed": 1,
                                                                                   "best_step": 400}]
    return summary


def test_a_fair_arm_is_named_with_its_own_ratio_and_the_stage_02_generator_becomes_the_catalogue_one(summary) -> None:
    summary = _with_fair_arm(summary)
    first = answer.verdict_sentences(summary)[0]
    assert first.startswith("With 250 real windows, fair-GAN samples (each generator trained only on the fit's own "
                            "windows; ratio 1, chosen on validation) made no measurable change (-2.9%; 95% interval "
                            "over 5 seeds: -6.4% to +0.6%); catalogue-GAN samples (ratio 5, chosen on validation) "
                            "lowered test WRMSSE by 5.3%")
    table = answer.change_table(summary)
    assert table.loc[0, "fair GAN: change [95% CI]"] == "-2.9% [-6.4%, +0.6%]"
    assert table.loc[1, "fair GAN: change [95% CI]"] == "–"  # no fair generator at all 25,460
    assert table.loc[0, "catalogue GAN: p"] == "0.0025"
    lines = answer.caveats(summary, {"seed": 0}, None)
    assert ("Fair GAN: 2 generators, one per forecaster seed at 250 real windows, each trained only on its fit's "
            "windows with the fit's seed (checkpoint at the lowest validation CRPS: step 150–400); its intervals "
            "include generator randomness.") in lines
    assert any(line.startswith("The catalogue-GAN arm rests on one generator training (seed 0)") for line in lines)


STUDY = {
    "folds": {"0": {"split_dates": {"test_start": "2018-05-01", "test_end": "2018-06-30"},
                    "regime": {"demand_change_train_to_test_pct": -55.0, "test": {"zero_target_share_active": 0.42}},
                    "gate": {"250": {"passed": False, "zero_test": {"pct": 3.1}}},
                    "rank_agreement": {"250": {"spearman": 0.35, "p": 0.25, "n_models": 13}}},
              "1": {"split_dates": {"test_start": "2018-01-01", "test_end": "2018-02-28"},
                    "regime": {"demand_change_train_to_test_pct": 12.0, "test": {"zero_target_share_active": 0.3}},
                    "gate": {"250": {"passed": True, "zero_test": {"pct": -7.4}}},
                    "rank_agreement": {"250": {"spearman": 0.81, "p": 0.001, "n_models": 13}}}},
    "folds_missing": [2],
    "comparisons": [{"comparison": "gan_vs_real", "n_real": 250, "pct": -1.04, "pct_low": -3.0, "pct_high": 0.96,
                     "p_holm": 0.5, "n_pairs": 6, "gated_folds": [1, 3], "pct_all_folds": -0.5},
                    {"comparison": "gan_vs_best_real", "n_real": 250, "gated_folds": [], "pct_all_folds": None}],
    "verdict": {"250": {"a": "A words.", "b": "B words.", "catalogue": "Catalogue words."}},
}


def test_the_study_reads_as_its_verdict_a_pooled_comparison_table_and_a_fold_table() -> None:
    assert answer.study_sentences(STUDY) == ["Backtest over 2 rolling-origin folds (0, 1); folds not run: 2.",
                                             "(a) A words.", "(b) B words.", "Catalogue words."]
    assert answer.study_sentences(None) == [] and answer.study_markdown(None) == ""
    comparisons = answer.study_table(STUDY)
    assert comparisons.loc[0].to_dict() == {
        "real windows": "250", "comparison": "fair GAN vs real-only", "change [95% CI]": "-1.0% [-3.0%, +1.0%]",
        "Holm p": "0.5", "pairs": "6", "gated folds": "1, 3", "all folds (ungated)": "-0.5%"}
    assert comparisons.loc[1, "change [95% CI]"] == "not measured" and comparisons.loc[1, "gated folds"] == "none"
    folds = answer.fold_table(STUDY)
    assert list(folds["fold"]) == ["0", "1"]
    assert folds.loc[0, "demand train → test"] == "-55.0%" and folds.loc[0, "gate (validation)"] == "failed"
    assert folds.loc[0, "zero-target active test windows"] == "42.0%"
    assert folds.loc[1, "val → test Spearman"] == "0.81 (p 0.001, 13 models)"
    assert folds.loc[1, "LSTM vs zero on test"] == "-7.4%"


def test_the_readme_block_leads_with_the_study_when_the_run_has_one(summary) -> None:
    block = answer.readme_block(summary, None, {"is_demo": False, "entity": "product", "n_entities": 100}, "src",
                                STUDY)
    assert block.index("(a) A words.") < block.index("This run's own test period") < block.index("With 250 real")
    assert "| fair GAN vs real-only " in block and "| 2018-01-01 – 2018-02-28 " in block
    assert "(a) A words." not in answer.readme_block(summary, None, None, "src")


def test_entity_counts_read_as_words():
    assert answer.entities(100, "product") == "100 products"
    assert answer.entities(69, "category") == "69 categories"  # not "categorys" (the plan's line until 2026-12-03)

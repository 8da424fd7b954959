"""The backtest study's design and analysis on hand-made score tables with known answers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesgan_utils import study
from salesgan_utils.scoring import BASELINE_SEED

CONFIG = "tweedie lr=0.003"
ARMS = {"real": "lstm_real", "level": study.LEVEL_MODEL, "gan_fair": "lstm_gan_fair_r5",
        "analog_fit": "lstm_analog_fit_r5", "simple": "lstm_jitter_r1", "gan": "lstm_gan_r5",
        "analog": "lstm_analog_r5"}


def test_fit_windows_are_nested_within_a_seed_and_seeded():
    small, large = study.fit_windows(1000, 3, 250), study.fit_windows(1000, 3, 600)
    assert len(small) == 250 and np.all(np.diff(small) > 0) and set(small) <= set(large)
    assert not np.array_equal(small, study.fit_windows(1000, 4, 250))
    assert len(study.fit_windows(100, 0, 250)) == 100


def test_validation_subset_is_proportional_with_a_floor():
    assert len(study.validation_subset(900, 3000, 250, seed=0)) == 200      # 75 in proportion: the floor
    assert len(study.validation_subset(900, 3000, 1000, seed=0)) == 300     # 1000 x 900 / 3000
    assert len(study.validation_subset(900, 3000, 5000, seed=0)) == 900     # at most all
    np.testing.assert_array_equal(study.validation_subset(900, 3000, 1000, 1),
                                  study.validation_subset(900, 3000, 1000, 1))


def test_fair_members_train_on_exactly_their_fits_windows():
    members = study.fair_members(2000, 600, sizes=(250, 1000), seeds=(0, 1), steps=900, fold=2)
    assert [m.name for m in members] == ["fold2_n250_seed0", "fold2_n250_seed1", "fold2_n1000_seed0",
                                         "fold2_n1000_seed1"]
    for member in members:
        np.testing.assert_array_equal(member.window_index, study.fit_windows(2000, member.seed, member.n_real))
        np.testing.assert_array_equal(member.val_index, study.validation_subset(600, 2000, member.n_real,
                                                                                member.seed))


def _train_df():
    # one-step naive MSE 1 for both entities: y alternates 0, 1
    days = pd.date_range("2017-01-01", periods=20)
    return pd.DataFrame({"unique_id": np.repeat(["a", "b"], 20), "ds": np.tile(days, 2),
                         "y": np.tile([0.0, 1.0], 20)})


def _fit_rows(seed, factor):
    """Val and test rows of one lstm_real fit whose forecasts are `factor` x the actuals."""
    rows = []
    for split, start in (("val", "2017-03-01"), ("test", "2017-04-01")):
        for entity in ("a", "b"):
            for origin in pd.date_range(start, periods=3):
                for step in (1, 2):
                    actual = float(1 + step + (entity == "b"))
                    rows.append({"model": "lstm_real", "config": CONFIG, "seed": seed, "n_real": 250,
                                 "split": split, "entity_id": entity, "origin": origin, "step": step,
                                 "date": origin + pd.Timedelta(days=step), "forecast": factor * actual,
                                 "actual": actual, "active": True})
    return rows


def test_level_factor_undoes_a_known_bias():
    frame = pd.DataFrame(_fit_rows(0, 2.0))
    b, scores = study.level_factor(frame[frame["split"] == "val"], _train_df(), pd.Series({"a": 0.5, "b": 0.5}))
    assert b == 0.5 and scores[0.5] == pytest.approx(0.0)


def test_level_matched_uses_each_fits_own_validation_subset():
    forecasts = pd.DataFrame(_fit_rows(0, 2.0) + _fit_rows(1, 1.25))
    first_origins = pd.DataFrame({"entity_id": ["a", "b"], "origin": pd.to_datetime(["2017-03-01"] * 2)})
    new, factors = study.level_matched(forecasts, lambda seed, n: first_origins, _train_df(),
                                       pd.Series({"a": 0.5, "b": 0.5}), CONFIG)
    assert factors.set_index("seed")["factor"].to_dict() == {0: 0.5, 1: 0.8}
    assert set(new["model"]) == {study.LEVEL_MODEL} and len(new) == len(forecasts)
    test = new[(new["split"] == "test") & (new["seed"] == 0)]
    np.testing.assert_allclose(test["forecast"], test["actual"])  # 0.5 x (2 x actual)
    assert factors["val_windows"].tolist() == [2, 2]


def _table(entries):
    """A score table from {(model, config, seed, n_real, split): wrmsse} on the headline subset."""
    return pd.DataFrame([{"model": m, "config": c, "seed": s, "n_real": n, "split": sp, "subset": "active",
                          "wrmsse": v} for (m, c, s, n, sp), v in entries.items()])


def _fold_table(rng, gan=0.9, level=1.0, real_val=0.8, effect_noise=0.01):
    entries = {("zero", "", BASELINE_SEED, 0, sp): 1.0 for sp in ("val", "test")}
    entries.update({("tsb", "", BASELINE_SEED, 0, sp): 0.95 for sp in ("val", "test")})
    entries.update({("imapa", "", BASELINE_SEED, 0, sp): 0.97 for sp in ("val", "test")})
    for seed in range(3):
        base = real_val + rng.normal(0, 0.005)
        for split in ("val", "test"):
            entries[("lstm_real", CONFIG, seed, 250, split)] = base
            entries[(study.LEVEL_MODEL, CONFIG, seed, 250, split)] = base * level
            entries[("lightgbm", "tweedie leaves=7 min_leaf=20", seed, 250, split)] = base * 1.02
            for arm, factor in (("gan_fair", gan), ("analog_fit", 1.0), ("simple", 1.0), ("gan", gan),
                                ("analog", 1.0)):
                entries[(ARMS[arm], CONFIG, seed, 250, split)] = base * factor * (1 + rng.normal(0, effect_noise))
    return _table(entries)


def _choices(folds):
    return {f: {"config": CONFIG, "gbm_config": "tweedie leaves=7 min_leaf=20", "arms": {250: dict(ARMS)}}
            for f in folds}


def test_gate_needs_both_baselines_beaten_beyond_seed_noise():
    rng = np.random.default_rng(0)
    assert study.gate(_fold_table(rng), CONFIG, 250)["passed"]
    noisy = _table({("zero", "", BASELINE_SEED, 0, "val"): 1.0, ("tsb", "", BASELINE_SEED, 0, "val"): 1.0,
                    **{("lstm_real", CONFIG, s, 250, "val"): v for s, v in enumerate((0.9, 1.1, 0.95))}})
    result = study.gate(noisy, CONFIG, 250)
    assert not result["passed"] and result["zero_val"]["pct_low"] < 0 < result["zero_val"]["pct_high"]


def test_compare_and_verdict_on_a_planted_gain():
    rng = np.random.default_rng(1)
    tables = {f: _fold_table(rng) for f in range(3)}
    table = study.compare(tables, _choices(tables), sizes=[250])
    real = table.set_index("comparison").loc["gan_vs_real"]
    assert real["gated_folds"] == [0, 1, 2] and real["n_pairs"] == 9
    assert real["pct"] == pytest.approx(-10.0, abs=1.5) and real["p_holm"] < 0.05
    best = table.set_index("comparison").loc["gan_vs_best_real"]
    assert set(best["models"].values()) == {"lstm_gan_fair_r5 vs lstm_real"}  # real-only 0.8 beats tsb, imapa
    words = study.verdict(table, 250)
    assert words["a_word"] == "yes" and words["b_word"] == "yes"
    assert "versus real-only" in words["a"] and "more data than the forecaster" in words["catalogue"]


def test_verdict_says_partly_when_a_level_shift_explains_the_gain():
    rng = np.random.default_rng(2)
    tables = {f: _fold_table(rng, level=0.9) for f in range(3)}
    words = study.verdict(study.compare(tables, _choices(tables), sizes=[250]), 250)
    assert words["a_word"] == "partly" and "not beyond level-matched real-only" in words["a"]


def test_verdict_is_not_measurable_when_the_gate_fails():
    rng = np.random.default_rng(3)
    tables = {f: _fold_table(rng, real_val=1.2) for f in range(3)}  # the LSTM is worse than zero on validation
    table = study.compare(tables, _choices(tables), sizes=[250])
    assert table.set_index("comparison").loc["gan_vs_real", "gated_folds"] == []
    assert study.verdict(table, 250)["a_word"] == "not measurable"
    # the catalogue arm's sentence says it was compared, ungated, not that it was not compared
    assert "not measurable (fewer than 2 folds pass the gate); over every fold, ungated" in \
        study.verdict(table, 250)["catalogue"]


def test_ensemble_specs_carry_each_fits_windows_seed_and_step_budget():
    members = study.fair_members(2000, 600, sizes=(250,), seeds=(0, 1), steps=900)
    specs = study.ensemble_specs(members, batch_size=128)
    for member, spec in zip(members, specs):
        np.testing.assert_array_equal(spec.windows, study.fit_windows(2000, member.seed, 250))
        np.testing.assert_array_equal(spec.val_windows, member.val_index)
        assert (spec.seed, spec.max_steps, spec.max_epochs, spec.name) == (member.seed, 900, 900, member.name)
        assert spec.patience == 0  # the whole budget unless a patience is given
    assert [s.patience for s in study.ensemble_specs(members, batch_size=128, val_every=25, patience=4)] == [4, 4]
    with pytest.raises(ValueError, match="batch_size 512"):
        study.ensemble_specs(members, batch_size=512)


def test_each_comparison_keeps_every_folds_own_interval_and_the_forest_plot_draws_them():
    import matplotlib

    matplotlib.use("Agg")
    from salesgan_utils import plots

    rng = np.random.default_rng(4)
    tables = {0: _fold_table(rng, real_val=1.2), 1: _fold_table(rng), 2: _fold_table(rng)}  # fold 0 fails the gate
    table = study.compare(tables, _choices(tables), sizes=[250])
    real = table.set_index("comparison").loc["gan_vs_real"]
    assert real["gated_folds"] == [1, 2] and sorted(real["per_fold"]) == [0, 1, 2]
    for mean, low, high in real["per_fold"].values():
        assert low < mean < high and mean == pytest.approx(-10.0, abs=2.0)  # the planted 10% gain in every fold
    summary = study._plain({"comparisons": table.to_dict(orient="records")})
    figure = plots.study_changes(summary)
    axis = figure.axes[0]
    # per comparison: 3 fold points and the pooled diamond
    assert len(axis.lines) >= 4 * len({r["comparison"] for r in summary["comparisons"]})
    assert axis.get_title() == "250 real windows"
    plots.plt.close(figure)


def test_forecaster_table_reads_each_folds_chosen_arms_at_the_size(tmp_path):
    import json

    folders = []
    for fold, (ratio, real_score) in enumerate(((5.0, 0.5), (1.0, 0.7))):
        folder = tmp_path / f"fold{fold}"
        folder.mkdir()
        fair = f"lstm_gan_fair_r{ratio:g}"
        rows = [("imapa", "", 0, "active", 0.4 + fold), ("imapa", "", 0, "all", 9.0),
                ("lightgbm", "leaves=7", 250, "active", 0.45), ("lightgbm", "leaves=31", 250, "active", 9.0),
                ("lstm_real", "tweedie lr=0.003", 250, "active", real_score),
                ("lstm_real", "tweedie lr=0.003", 1000, "active", 9.0),
                (fair, "tweedie lr=0.003", 250, "active", 0.3), ("lstm_gan_fair_r9", "tweedie lr=0.003", 250,
                                                                 "active", 9.0)]
        pd.DataFrame(rows, columns=["model", "config", "n_real", "subset", "wrmsse"]).to_csv(folder / "results.csv")
        arms = {"real": {"augmentation": "real", "ratio": 0.0, "model": "lstm_real"},
                "gan_fair": {"augmentation": "gan_fair", "ratio": ratio, "model": fair}}
        (folder / "summary.json").write_text(json.dumps({"validation_choices": {
            "config": "tweedie lr=0.003", "gbm_config": {"250": "leaves=7"}, "arms_by_size": {"250": arms}}}))
        folders.append(folder)
    table = study.forecaster_table(folders, 250).set_index("forecaster")
    assert table.loc["IMAPA"].tolist() == ["0.4000", "1.4000"]
    assert table.loc["LightGBM (Tweedie, chosen on validation)", "fold 0"] == "0.4500"
    assert table.loc["LSTM real only"].tolist() == ["0.5000", "0.7000"]
    assert table.loc["LSTM + fair GAN"].tolist() == ["0.3000 (×5)", "0.3000 (×1)"]
    assert "LSTM + catalogue GAN" not in table.index  # no arm, no row

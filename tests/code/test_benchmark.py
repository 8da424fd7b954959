"""The stage-04 protocol: what each fit trains on, validation-only choices, the long forecast table, and scores that
can be recomputed by hand from it."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesgan_utils import benchmark as bm
from salesgan_utils import scoring, study
from salesgan_utils.forecaster import fit_forecaster
from salesgan_utils.windows import random_windowset

SENTINEL = 3.0   # scaled values of real windows are in [0, 1]: a target of 3.0 can only be a GAN sample

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/code/conftest.py


def _windows(n: int, seed: int, start: str):
    """random_windowset with one origin per window (unique entity x origin keys, as in real windows)."""
    ws = random_windowset(n, seed=seed)
    ws.origin = (np.datetime64(start) + np.arange(n).astype("timedelta64[D]")).astype("datetime64[D]")
    return ws


@pytest.fixture
def splits():
    return _windows(24, 0, "2017-01-01"), _windows(10, 1, "2017-03-01"), _windows(12, 2, "2017-04-01")


@pytest.fixture
def train_df():
    rng = np.random.default_rng(7)
    days = pd.date_range("2016-10-01", periods=60)
    return pd.DataFrame({"unique_id": np.repeat([f"e{i}" for i in range(4)], 60), "ds": np.tile(days, 4),
                         "y": rng.poisson(1.0, 240).astype(float)})


class _Recorder:
    """Stands in for fit_forecaster: records every training set; forecasts are chosen per variant so that the
    best variant on validation is the worst on test (validation-only choices are then visible)."""

    def __init__(self, val):
        self.calls, self.val = [], val

    def __call__(self, train, val, *, seed, loss="mse", lr=1e-3, **settings):
        n_gan = int((train.target == SENTINEL).all(axis=1).sum())
        self.calls.append({"train": train, "seed": seed, "loss": loss, "lr": lr, "n_gan": n_gan})
        # GAN fits: ratio 5 is the good one on validation; every other fit: the poisson loss is
        good_on_val = n_gan == 5 * (len(train) - n_gan) if n_gan else loss == "poisson"

        def predict(windows):
            perfect = windows.target.astype(np.float32)
            on_val = windows is self.val
            return perfect if on_val == good_on_val else perfect + 0.5

        fake = type("Fitted", (), {})()
        fake.predict, fake.best_epoch, fake.best_val_loss, fake.history = predict, 1, 0.1, [None]
        return fake


def _run(splits, train_df, **overrides):
    train = splits[0]
    gan = np.full((len(train), 5, train.horizon), SENTINEL, np.float32)
    settings = dict(ratios=(1, 5), seeds=(0, 1, 2), tune_seeds=2, augmentations=("jitter",),
                    losses=("mse", "poisson"), lrs=(1e-3,), scarcity_sizes=(8, 0), reference_size=16, n_boot=50,
                    log=None)
    settings.update(overrides)
    return bm.run_benchmark(*splits, gan, train_df, **settings)


@pytest.fixture
def recorded(monkeypatch, splits, train_df):
    recorder = _Recorder(splits[1])
    monkeypatch.setattr(bm, "fit_forecaster", recorder)
    return recorder, _run(splits, train_df)


def test_choices_are_made_on_validation_not_test(recorded):
    _, result = recorded
    choices = result.summary["validation_choices"]
    # poisson and the GAN at ratio 5 are perfect on validation and worse on test
    assert choices["loss"] == "poisson" and choices["arms"]["gan"]["ratio"] == 5.0
    selection = result.tables[scoring.SELECTION_FILE]
    chosen = selection[selection["chosen"]]
    assert {"lstm_real", "lstm_gan_r5"} <= set(chosen["model"]) and set(chosen["config"]) == {"poisson lr=0.001"}
    # on test the choices are the worse ones: a choice made on test would have picked the other ratio
    results = result.tables[scoring.RESULTS_FILE]
    test = results[(results["subset"] == "all") & (results["n_real"] == 16)].set_index("model")["wrmsse"]
    assert test["lstm_gan_r1"] < test["lstm_gan_r5"]
    assert result.summary["regimes"][1]["all"]["gan"]["model"] == "lstm_gan_r5"


def test_every_fit_trains_on_the_planned_windows(recorded, splits):
    recorder, result = recorded
    train = splits[0]
    # A: 2 losses x 2 tuning seeds; B: (GAN + jitter) x 2 ratios x 2 seeds; C: 2 sizes x 3 arms x 3 seeds, minus the
    # 3 arms x 2 tuning seeds at the reference size (16) that B/A already fitted... which here is not a study size
    assert len(recorder.calls) == 4 + 8 + 2 * 3 * 3
    fits = result.fits
    assert len(fits) == len(recorder.calls) and fits.groupby(scoring.FIT_COLUMNS, observed=True).size().max() == 1
    for call, (_, row) in zip(recorder.calls, fits.iterrows()):
        n_synthetic = len(call["train"]) - row["n_real"]   # `mix`: the real windows first, then the added ones
        assert n_synthetic == round(row["ratio"] * row["n_real"]) == row["n_train_synthetic"]
        assert not (call["train"].target[:row["n_real"]] == SENTINEL).any() and call["seed"] == row["seed"]
        assert call["n_gan"] == (n_synthetic if row["augmentation"] == "gan" else 0)
    assert set(fits.loc[fits["phase"].str.startswith("C"), "n_real"]) == {8, len(train)}


def test_sizes_are_nested_and_synthetic_windows_come_from_the_fit_s_own_real_windows(recorded):
    recorder, result = recorded

    def real_rows(call, n_real):
        train = call["train"]
        return {row.tobytes() for row in train.history[:n_real]}, train

    by_key = {(row["model"], row["seed"], row["n_real"]): call
              for call, (_, row) in zip(recorder.calls, result.fits.iterrows())}
    for seed in (0, 1, 2):
        small, _ = real_rows(by_key[(scoring.REFERENCE, seed, 8)], 8)
        large, _ = real_rows(by_key[(scoring.REFERENCE, seed, 24)], 24)
        assert small <= large and len(small) == 8
        kept, gan_train = real_rows(by_key[("lstm_gan_r5", seed, 8)], 8)
        assert kept == small
        synthetic = gan_train.history[(gan_train.target == SENTINEL).all(axis=1)]
        assert all(row.tobytes() in kept for row in synthetic)


def test_forecasts_table_is_long_and_complete(recorded, splits):
    _, result = recorded
    forecasts = result.forecasts
    for column in ["model", "seed", "entity_id", "origin", "step", "date", "forecast", "actual", "split",
                   "n_real", "config", "active"]:
        assert column in forecasts
    val, test = splits[1], splits[2]
    per_fit = forecasts.groupby(scoring.FIT_COLUMNS + ["split"], observed=True).size()
    assert set(per_fit.xs("test", level="split")) == {len(test) * test.horizon}
    assert set(per_fit.xs("val", level="split")) == {len(val) * val.horizon}
    assert (forecasts["date"] - forecasts["origin"]).dt.days.equals(forecasts["step"].astype(np.int64))
    zero = forecasts[(forecasts["model"] == "zero") & (forecasts["split"] == "test")]
    np.testing.assert_allclose(zero["actual"], test.to_units(test.target).reshape(-1), rtol=1e-6)
    assert (zero["forecast"] == 0).all() and (zero["seed"] == scoring.BASELINE_SEED).all()
    active = test.to_units(test.history).sum(axis=1) > 0.5
    np.testing.assert_array_equal(zero["active"].to_numpy(), np.repeat(active, test.horizon))


def _hand_wrmsse(rows: pd.DataFrame, train_df: pd.DataFrame) -> float:
    """M5 WRMSSE written out: per-entity MSE over all its rows / in-sample one-step naive MSE, root, weight by
    train units, renormalised over the entities present."""
    total, weight_sum = 0.0, 0.0
    units = train_df.groupby("unique_id")["y"].sum()
    for entity, part in rows.groupby("entity_id", observed=True):
        y = train_df.loc[train_df["unique_id"] == entity, "y"].to_numpy()
        scale = np.mean(np.diff(y) ** 2)
        rmsse = np.sqrt(np.mean((part["forecast"].to_numpy(float) - part["actual"].to_numpy(float)) ** 2) / scale)
        total += units[entity] * rmsse
        weight_sum += units[entity]
    return total / weight_sum


@pytest.mark.parametrize("subset", ["all", "active"])
def test_wrmsse_of_zero_and_lstm_real_recomputed_by_hand_from_the_saved_parquet(recorded, train_df, tmp_path,
                                                                                subset):
    _, result = recorded
    result.save(tmp_path)
    forecasts = pd.read_parquet(tmp_path / scoring.FORECASTS_FILE)
    table = pd.read_csv(tmp_path / scoring.BY_SEED_FILE)
    test = forecasts[forecasts["split"] == "test"]
    if subset == "active":
        test = test[test["active"]]
    checked = 0
    for (model, config, seed, n_real), rows in test.groupby(scoring.FIT_COLUMNS, observed=True):
        if model not in ("zero", scoring.REFERENCE):
            continue
        config = "" if pd.isna(config) else config
        match = table[(table["model"] == model) & (table["config"].fillna("") == config) & (table["seed"] == seed)
                      & (table["n_real"] == n_real) & (table["split"] == "test") & (table["subset"] == subset)]
        assert len(match) == 1
        assert match["wrmsse"].iloc[0] == pytest.approx(_hand_wrmsse(rows, train_df), abs=1e-6)
        checked += 1
    assert checked >= 1 + 3


def test_summary_holds_each_regime_with_seed_aware_change_and_the_choices(recorded, tmp_path):
    _, result = recorded
    written = result.save(tmp_path / "04")
    assert {scoring.FORECASTS_FILE, scoring.RESULTS_FILE, scoring.BY_SIZE_FILE, scoring.PAIRED_FILE,
            scoring.SELECTION_FILE,
            scoring.SUMMARY_FILE, scoring.BY_SEED_FILE, scoring.FITS_FILE} <= set(written)
    summary = json.loads((tmp_path / "04" / scoring.SUMMARY_FILE).read_text(),
                         parse_constant=lambda name: pytest.fail(f"summary.json holds {name}"))
    assert [r["n_real"] for r in summary["regimes"]] == [8, 24]
    for entry in summary["regimes"]:
        assert entry["entity_level"] == "product"
        gan = entry["active"]["gan"]
        assert gan["n_seeds"] == 3 and gan["pct_low"] <= gan["pct"] <= gan["pct_high"] and 0 <= gan["p_seed"] <= 1
    assert summary["validation_choices"]["config"] == "poisson lr=0.001"
    assert summary["verdict"] == result.verdict() and "ratio 5" in summary["verdict"]
    by_size = pd.read_csv(tmp_path / "04" / scoring.BY_SIZE_FILE)
    assert set(by_size["arm"]) == {"real", "gan", "simple"} and set(by_size["n_real"]) == {8, 24}
    markdown = bm.results_markdown(tmp_path / "04")
    assert "| 8 |" in markdown and summary["verdict"] in markdown


def test_the_real_only_fit_inside_the_benchmark_is_the_seeded_fit_on_its_subset(splits, train_df):
    train, val, test = splits
    settings = dict(hidden=4, layers=1, epochs=2, patience=1, batch_size=8)
    result = bm.run_benchmark(train, val, test, None, train_df, ratios=(1,), seeds=(5,), augmentations=(),
                              scarcity_sizes=(10,), reference_size=10, n_boot=20, log=None, **settings)
    keep = np.sort(np.random.default_rng([5, 12]).permutation(len(train))[:10])
    alone = fit_forecaster(train.subset(keep), val, seed=5, lr=1e-3, **settings)
    expected = np.maximum(test.to_units(alone.predict(test)), 0.0).reshape(-1)
    rows = result.forecasts[(result.forecasts["model"] == scoring.REFERENCE) & (result.forecasts["split"] == "test")]
    np.testing.assert_allclose(rows["forecast"].to_numpy(), expected, rtol=1e-6)
    assert "No GAN samples" in result.verdict()


def test_gan_samples_must_come_from_train_conditions(splits, train_df):
    train, val, test = splits
    with pytest.raises(ValueError, match="train conditions"):
        bm.run_benchmark(train, val, test, np.zeros((len(val), 2, 7)), train_df, seeds=(0,), log=None)


def test_resolve_sizes_and_subsample_index(splits):
    assert bm.resolve_sizes([250, 0, 1000, 99999], 3000) == [250, 1000, 3000]
    train = splits[0]
    index = bm.subsample_index(train, 10, 3)
    assert len(index) == 10 and list(bm.subsample_index(train, 0, 3)) == list(range(len(train)))


def test_study_summarizes_saved_folds_without_refitting(recorded, splits, train_df, tmp_path):
    _, result = recorded
    folds = {}
    for fold in (0, 1):
        data_dir, bench_dir = tmp_path / f"01_fold{fold}", tmp_path / f"04_fold{fold}"
        data_dir.mkdir()
        result.save(bench_dir)
        panel = pd.DataFrame({"entity_id": train_df["unique_id"], "date": train_df["ds"], "units": train_df["y"],
                              "split": "train"})
        panel.to_parquet(data_dir / "panel.parquet")
        splits[1].save(data_dir / "windows_val.npz")
        (data_dir / "metadata.json").write_text(json.dumps({"split_dates": {"fold": fold}}))
        folds[fold] = (data_dir, bench_dir)
    summary = study.summarize_folds(folds)
    assert set(summary["folds"]) == {0, 1} and summary["sizes"] == [8, 24]
    factors = summary["folds"][0]["level_factors"]
    fits = result.fits[(result.fits["model"] == scoring.REFERENCE)
                       & (result.fits["config"] == result.summary["validation_choices"]["config"])]
    assert {(f["seed"], f["n_real"]) for f in factors} == set(zip(fits["seed"], fits["n_real"]))
    assert all(f["val_windows"] == len(splits[1]) for f in factors)  # 10 val windows: the floor takes them all
    names = {row["comparison"] for row in summary["comparisons"]}
    assert names == {name for name, _, _ in study.COMPARISONS}
    assert set(summary["verdict"][8]) >= {"a", "b", "catalogue"}
    json.dumps(study._plain(summary), allow_nan=False)  # strict JSON
    sources = study.source_files(folds, tmp_path / "04_fold0")  # what it read, hashed, relative to its folder
    assert set(sources) == {"0", "1"} and "summary.json" in sources["0"]
    assert "../01_fold1/windows_val.npz" in sources["1"] and not study.stale_sources({"sources": sources},
                                                                                    tmp_path / "04_fold0")
    pd.read_parquet(tmp_path / "04_fold1" / "forecasts.parquet").head(5).to_parquet(
        tmp_path / "04_fold1" / "forecasts.parquet")  # fold 1 rerun after the summary
    assert study.stale_sources({"sources": sources}, tmp_path / "04_fold0") == ["fold 1: ../04_fold1/forecasts.parquet"]


def test_lightgbm_trains_on_each_lstm_fits_windows_and_is_chosen_on_validation(monkeypatch, splits, train_df):
    recorder = _Recorder(splits[1])
    monkeypatch.setattr(bm, "fit_forecaster", recorder)
    seen = []
    real_fit = bm.gbm.forecast_fit

    def spy(train, val_stop, split_sets, *, seed, params):
        seen.append((seed, len(train), {w.tobytes() for w in train.history}, len(val_stop)))
        return real_fit(train, val_stop, split_sets, seed=seed, params=params)

    monkeypatch.setattr(bm.gbm, "forecast_fit", spy)
    result = _run(splits, train_df, practitioner_gbm=True)
    chosen = result.summary["validation_choices"]["gbm_config"]
    assert set(chosen) == {8, 24} and all(c in {bm.gbm.config_label(p) for p in bm.gbm.GRID} for c in chosen.values())
    lstm = {(call["seed"], len(call["train"])): {w.tobytes() for w in call["train"].history}
            for call in recorder.calls if call["n_gan"] == 0 and len(call["train"]) in (8, 24)}
    for seed, n, rows, n_val in seen:
        assert rows == lstm[(seed, n)] and n_val == len(splits[1])  # the LSTM's windows; 10 val: all (floor)
    rows = result.forecasts[result.forecasts["model"] == bm.gbm.MODEL]
    # per size: 4 grid points x 2 tuning seeds, then the chosen one for the third seed
    assert rows.groupby(["n_real"], observed=True)[["config", "seed"]].apply(
        lambda g: len(g.drop_duplicates())).to_dict() == {8: 9, 24: 9}
    phases = result.summary["phase_seconds"]  # where the stage's time went, one entry per part
    assert {"baselines", "fits A: loss and learning rate", "fits C: scarcity study", "fits D: LightGBM, every seed",
            "validation scoring", "tables"} <= set(phases) and all(v >= 0 for v in phases.values())


def test_planned_fits_counts_the_fits_the_protocol_makes(recorded):
    from salesgan_utils.plan import planned_fits

    _, result = recorded
    settings = {"seed": 0, "n_seeds": 3, "tune_seeds": 2, "ratios": [1.0, 5.0], "augmentations": ["jitter"],
                "forecaster_losses": ["mse", "poisson"], "forecaster_lrs": [1e-3], "scarcity_sizes": [8, 0],
                "max_train_windows": 16, "forecaster_hidden": 4, "forecaster_layers": 1, "forecaster_epochs": 2,
                "forecaster_patience": 1, "forecaster_batch_size": 8, "forecaster_steps_per_epoch": 0,
                "tweedie_power": 1.5, "forecaster_quantile": 0.5, "active_days": 30, "wrmsse_weights": "units"}
    planned = planned_fits(settings, 24)
    assert len(planned) == len(result.fits)
    assert [p["phase"] for p in planned].count("A") == 4 and max(p["n_windows"] for p in planned) == 24 * 6


def test_planned_fits_count_the_fair_and_analog_arms(monkeypatch, splits, train_df):
    from salesgan_utils.plan import planned_fits

    monkeypatch.setattr(bm, "fit_forecaster", _Recorder(splits[1]))
    result = _run(splits, train_df, fair_gan=_fair(splits[0]), analog_k=2)
    settings = {"seed": 0, "n_seeds": 3, "tune_seeds": 2, "ratios": [1.0, 5.0], "augmentations": ["jitter"],
                "forecaster_losses": ["mse", "poisson"], "forecaster_lrs": [1e-3], "scarcity_sizes": [8, 0],
                "max_train_windows": 16, "forecaster_hidden": 4, "forecaster_layers": 1, "forecaster_epochs": 2,
                "forecaster_patience": 1, "forecaster_batch_size": 8, "forecaster_steps_per_epoch": 0,
                "tweedie_power": 1.5, "forecaster_quantile": 0.5, "active_days": 30, "wrmsse_weights": "units",
                "fair_gan_sizes": [8], "analog_k": 2}
    planned = planned_fits(settings, 24)
    assert len(planned) == len(result.fits)
    assert [p["phase"] for p in planned].count("B2") == 3 * 2 * 2


def _fair(train, sizes=(8,), seeds=(0, 1, 2), shift=0):
    from salesgan_utils.fair_gan import FairGenerator

    return {(n, s): FairGenerator(n, s, 0, (study.fit_windows(len(train), s, n) + shift) % len(train),
                                  np.zeros(1, int), np.full((n, 5, train.horizon), SENTINEL, np.float32), 1, 1,
                                  0.0, Path(f"n{n}_seed{s}")) for n in sizes for s in seeds}


def test_the_fair_gan_and_analog_arms_are_chosen_per_size_on_validation(monkeypatch, splits, train_df):
    recorder = _Recorder(splits[1])
    monkeypatch.setattr(bm, "fit_forecaster", recorder)
    result = _run(splits, train_df, fair_gan=_fair(splits[0]), analog_k=2)
    arms = result.summary["validation_choices"]["arms_by_size"]
    assert set(arms[8]) == {"real", "gan", "simple", "gan_fair", "analog", "analog_fit"}
    assert "gan_fair" not in arms[len(splits[0])]  # no fair generator at every window
    assert arms[8]["gan_fair"]["ratio"] == 5  # the recorder makes ratio 5 the best GAN ratio on validation
    fair_fits = result.fits[result.fits["augmentation"] == "gan_fair"]
    assert set(fair_fits["n_real"]) == {8} and set(fair_fits["seed"]) == {0, 1, 2}
    # every fair fit mixed in its generator's samples (the only sentinel targets), the analogs real targets
    sentinels = [c["n_gan"] for c in recorder.calls if c["n_gan"]]
    assert len(sentinels) == len(fair_fits) + len(result.fits[result.fits["augmentation"] == "gan"])
    analog = result.fits[result.fits["augmentation"].isin(["analog", "analog_fit"])]
    assert len(analog) and (analog["n_train_synthetic"] > 0).all()
    assert {"lstm_gan_fair_r5", "lstm_analog_fit_r1"} <= set(result.forecasts["model"].astype(str))
    # the summary's headline at each size scores that size's arms against real-only; the other size has none
    heads = {entry["n_real"]: entry["active"] for entry in result.summary["regimes"]}
    assert {"gan_fair", "analog", "analog_fit"} <= set(heads[8]) and heads[8]["gan_fair"]["model"] == \
        arms[8]["gan_fair"]["model"]
    assert not {"gan_fair", "analog", "analog_fit"} & set(heads[len(splits[0])])
    paired = result.tables["paired_tests.csv"]
    assert set(paired.loc[paired["n_real"] == 8, "arm"]) >= {"gan_fair", "analog_fit"}


def test_fair_generators_handed_over_as_a_submission_train_beside_phases_a_and_b(monkeypatch, splits, train_df):
    from salesgan_utils.executor import Pending

    recorder, events = _Recorder(splits[1]), []
    monkeypatch.setattr(bm, "fit_forecaster", recorder)

    def submit(engine):
        events.append(("submitted", len(recorder.calls)))
        return Pending(lambda: events.append(("waited", len(recorder.calls))) or _fair(splits[0]))
    handed_over = _run(splits, train_df, fair_gan=submit, analog_k=2)
    fits = handed_over.fits
    before_b2 = int(fits["phase"].str.startswith(("A:", "B:")).sum())
    assert events == [("submitted", 0), ("waited", before_b2)] and before_b2 < len(fits)  # asked for at B2 only
    monkeypatch.setattr(bm, "fit_forecaster", _Recorder(splits[1]))
    trained = _run(splits, train_df, fair_gan=_fair(splits[0]), analog_k=2)
    assert handed_over.forecasts.equals(trained.forecasts)
    assert handed_over.summary["fair_generators"] == trained.summary["fair_generators"]


def test_a_fair_generator_trained_on_other_windows_than_its_fit_is_refused(monkeypatch, splits, train_df):
    monkeypatch.setattr(bm, "fit_forecaster", _Recorder(splits[1]))
    with pytest.raises(RuntimeError, match="trained on other windows"):
        _run(splits, train_df, fair_gan=_fair(splits[0], shift=1))


def test_proportional_early_stopping_reads_each_fit_s_own_validation_share(monkeypatch, train_df):
    train, val, test = _windows(900, 0, "2013-01-01"), _windows(600, 1, "2015-08-01"), _windows(12, 2, "2017-06-01")
    recorder, stops = _Recorder(val), []

    def spy(train_set, val_stop, **kwargs):
        stops.append((kwargs["seed"], len(train_set), val_stop.origin.copy()))
        return recorder(train_set, val_stop, **kwargs)

    monkeypatch.setattr(bm, "fit_forecaster", spy)
    gan = np.full((len(train), 5, train.horizon), SENTINEL, np.float32)
    common = dict(ratios=(1.0,), seeds=(0, 1), tune_seeds=1, augmentations=(), losses=("mse",), lrs=(1e-3,),
                  scarcity_sizes=(300, 450, 0), reference_size=450, n_boot=20, log=None)
    bm.run_benchmark(train, val, test, None, train_df, val_stop_proportional=True, **common)
    assert {(seed, n) for seed, n, _ in stops} == {(0, 300), (0, 450), (0, 900), (1, 300), (1, 450), (1, 900)}
    for seed, n_real, origins in stops:
        share = study.validation_subset(len(val), len(train), n_real, seed)  # max(200, n x 600 / 900), at most all
        assert len(origins) == {300: 200, 450: 300, 900: 600}[n_real]
        assert np.array_equal(origins, val.origin[share])  # the fit's own share, seeded by (seed, n)
    stops.clear()
    bm.run_benchmark(train, val, test, gan, train_df, val_stop_windows=250, **common)
    assert {len(origins) for _, _, origins in stops} == {250}  # off: one seeded subsample for every fit

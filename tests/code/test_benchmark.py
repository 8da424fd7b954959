"""The stage-04 protocol: counts of synthetic windows, scores in units, paired tests, verdict and saved files."""
import json

import numpy as np
import pandas as pd
import pytest

from salesgan_utils import benchmark as bm
from salesgan_utils.data import DEMAND_CLASSES
from salesgan_utils.metrics import mae
from salesgan_utils.forecaster import fit_forecaster
from salesgan_utils.windows import random_windowset

SENTINEL = 3.0   # scaled values of real windows are in [0, 1]: a target of 3.0 can only be a GAN sample


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/code/conftest.py


class _Recorder:
    """Stands in for fit_forecaster: records every training set and forecasts 0 scaled (= scale_min units)."""

    def __init__(self):
        self.calls = []

    def __call__(self, train, val, *, seed, use_features=False, **settings):
        self.calls.append({"train": train, "seed": seed, "use_features": use_features})
        fake = type("Fitted", (), {})()
        fake.predict = lambda windows: np.zeros((len(windows), windows.horizon), np.float32)
        fake.best_epoch, fake.best_val_loss = 1, 0.1 * len(self.calls)
        return fake


@pytest.fixture
def splits():
    return random_windowset(20, seed=0), random_windowset(8, seed=1), random_windowset(12, seed=2)


@pytest.fixture
def recorded(monkeypatch, splits):
    recorder = _Recorder()
    monkeypatch.setattr(bm, "fit_forecaster", recorder)
    train = splits[0]
    gan = np.full((len(train), 5, train.horizon), SENTINEL, np.float32)
    result = bm.run_benchmark(*splits, gan, ratios=(0.5, 1, 5), seeds=(0, 1), include_features_variant=True,
                              n_boot=50, log=None)
    return recorder, result


def test_lstm_receives_the_requested_number_of_synthetic_windows(recorded):
    recorder, result = recorded
    # per seed: real, features, 3 GAN ratios, 3 augmentations x 3 ratios
    assert len(recorder.calls) == 2 * (2 + 3 + 9)
    variants = result.by_seed[result.by_seed["family"] == "lstm"].reset_index(drop=True)
    for call, (_, row) in zip(recorder.calls, variants.iterrows()):
        expected = int(round(row["ratio"] * 20))
        assert len(call["train"]) == 20 + expected and row["n_train_synthetic"] == expected
        np.testing.assert_array_equal(call["train"].target[:20], random_windowset(20, seed=0).target)
        n_gan = int((call["train"].target == SENTINEL).all(axis=1).sum())
        assert n_gan == (expected if row["augmentation"] == "gan" else 0)
        assert call["use_features"] == (row["augmentation"] == "features")
        assert call["seed"] == row["seed"]


def test_scores_are_in_units_and_match_hand_computation(recorded, splits):
    _, result = recorded
    test = splits[2]
    observed = test.to_units(test.target)
    zero = result.by_seed.set_index("model").loc["zero"]
    assert zero["mae"] == pytest.approx(np.abs(observed).mean())
    assert zero["mase"] == pytest.approx(np.mean(np.abs(observed).mean(axis=1) / test.naive_mae))
    assert zero["rmsse"] == pytest.approx(np.mean(np.sqrt((observed ** 2).mean(axis=1) / test.naive_mse)))
    assert zero["mae_scaled"] == pytest.approx(np.abs(test.target).mean())
    # the recorder forecasts scale_min (0 here), so every LSTM equals the zero forecast
    lstm = result.by_seed[result.by_seed["family"] == "lstm"]
    np.testing.assert_allclose(lstm["mae"], zero["mae"])
    assert np.isnan(zero["seed"])


def test_paired_tests_and_class_table(recorded, splits):
    _, result = recorded
    paired = result.paired.set_index("candidate")
    assert bm.REFERENCE not in paired.index and "zero" in paired.index and "lstm_gan_r5" in paired.index
    same = paired.loc["lstm_jitter_r1"]           # identical forecasts: no difference, p = 1
    assert (same["diff"], same["diff_low"], same["diff_high"], same["dm_p"]) == (0.0, 0.0, 0.0, 1.0)
    naive = paired.loc["naive"]
    assert naive["diff"] == pytest.approx(naive["mae_candidate"] - naive["mae_reference"])
    by_class = result.by_class[result.by_class["model"] == "zero"]
    test = splits[2]
    assert by_class["n_windows"].sum() == len(test)
    errors = np.abs(test.to_units(test.target)).mean(axis=1)
    for _, row in by_class.iterrows():
        assert row["mae"] == pytest.approx(errors[test.demand_class == row["demand_class"]].mean())
        assert row["class_name"] == DEMAND_CLASSES[row["demand_class"]]


def test_summary_has_one_row_per_model_sorted_with_cis(recorded):
    _, result = recorded
    summary = result.summary
    assert len(summary) == 6 + 2 + 3 + 9 and summary["mae"].is_monotonic_increasing
    real = summary.set_index("model").loc[bm.REFERENCE]
    assert real["n_seeds"] == 2 and real["mae_vs_real_pct"] == 0.0
    assert real["mae_low"] == real["mae"] == real["mae_high"]  # two identical seeds: zero-width interval


def test_gan_samples_must_come_from_train_conditions(splits):
    train, val, test = splits
    with pytest.raises(ValueError, match="train conditions"):
        bm.run_benchmark(train, val, test, np.zeros((len(val), 2, 7)), seeds=(0,), log=None)


def test_train_cap_draws_synthetic_windows_from_kept_conditions_only(monkeypatch, splits):
    recorder = _Recorder()
    monkeypatch.setattr(bm, "fit_forecaster", recorder)
    train = splits[0]
    gan = np.full((len(train), 2, train.horizon), SENTINEL, np.float32)
    bm.run_benchmark(*splits, gan, ratios=(1,), seeds=(0,), augmentations=(), max_train_windows=8, log=None)
    real_call, gan_call = recorder.calls
    kept = {row.tobytes() for row in real_call["train"].history}
    assert len(real_call["train"]) == 8 and len(gan_call["train"]) == 16
    assert all(row.tobytes() in kept for row in gan_call["train"].history[8:])


def _result(rows, paired):
    summary = pd.DataFrame(rows, columns=["model", "family", "augmentation", "ratio", "mae", "val_loss"])
    return bm.BenchmarkResult(by_seed=pd.DataFrame(), summary=summary.sort_values("mae").reset_index(drop=True),
                              paired=pd.DataFrame(paired, columns=["candidate", "pct", "pct_low", "pct_high", "dm_p"]),
                              by_class=pd.DataFrame())


def test_verdict_selects_on_validation_and_states_the_numbers():
    result = _result(
        [("zero", "baseline", "none", 0.0, 0.9, np.nan), ("tsb", "baseline", "none", 0.0, 1.1, np.nan),
         ("lstm_real", "lstm", "real", 0.0, 1.0, 0.50),
         ("lstm_gan_r1", "lstm", "gan", 1.0, 0.8, 0.60),      # best test MAE, but worse on validation
         ("lstm_gan_r5", "lstm", "gan", 5.0, 1.2, 0.40),
         ("lstm_jitter_r0.5", "lstm", "jitter", 0.5, 0.95, 0.45)],
        [("lstm_gan_r1", -20.0, -30.0, -10.0, 0.001), ("lstm_gan_r5", 20.0, 5.0, 31.0, 0.02),
         ("lstm_jitter_r0.5", -5.0, -9.5, -0.5, 0.2)])
    assert result.verdict() == (
        "GAN augmentation at ratio 5 (chosen on validation) changed test MAE by +20.0% [+5.0%, +31.0%] versus "
        "real-only (DM p=0.02); the best simple augmentation (jitter, ratio 0.5) by -5.0% [-9.5%, -0.5%] versus "
        "real-only (DM p=0.2); the best baseline is zero with test MAE 0.900 units, below the real-only LSTM's "
        "1.000.")


def test_verdict_without_gan_samples():
    result = _result([("lstm_real", "lstm", "real", 0.0, 1.0, 0.5), ("naive", "baseline", "none", 0.0, 2.0, np.nan)],
                     [])
    assert result.verdict() == ("No GAN samples were given, so GAN augmentation was not measured; the best baseline "
                                "is naive with test MAE 2.000 units, above the real-only LSTM's 1.000.")


def test_save_writes_every_artifact_as_strict_json_and_csv(recorded, tmp_path):
    _, result = recorded
    written = result.save(tmp_path / "04_benchmark")
    assert sorted(written) == ["paired_tests.csv", "results.csv", "results_by_class.csv", "results_by_seed.csv",
                               "summary.json", "window_errors.npz"]
    with np.load(written["window_errors.npz"]) as saved:
        assert set(saved.files) == set(result.window_errors)
        np.testing.assert_array_equal(saved["lstm_real"], result.window_errors["lstm_real"])
    summary = json.loads((tmp_path / "04_benchmark" / "summary.json").read_text(),
                         parse_constant=lambda name: pytest.fail(f"summary.json holds {name}"))
    assert summary["verdict"] == result.verdict() and summary["settings"]["seeds"] == [0, 1]
    table = pd.read_csv(written["results.csv"])
    assert list(table["model"]) == list(result.summary["model"])
    assert not list((tmp_path / "04_benchmark").glob("*.tmp"))


def test_real_lstm_fit_inside_the_benchmark_is_the_seeded_best_checkpoint(splits):
    train, val, test = splits
    settings = dict(hidden=4, layers=1, epochs=3, patience=1, batch_size=8, lr=1e-2)
    result = bm.run_benchmark(train, val, test, None, ratios=(1,), seeds=(5,), augmentations=("jitter",),
                              n_boot=20, log=None, **settings)
    alone = fit_forecaster(train, val, seed=5, **settings)
    expected = mae(np.maximum(test.to_units(alone.predict(test)), 0.0), test.to_units(test.target))
    row = result.by_seed.set_index("model").loc[bm.REFERENCE]
    assert row["mae"] == pytest.approx(expected) and row["best_epoch"] == alone.best_epoch
    assert "No GAN samples" in result.verdict()

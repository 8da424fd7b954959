"""Known-answer tests for salesgan_utils.quality: TimeGAN's learned scores and the stage-03 report."""
import numpy as np
import pytest

from salesgan_utils import quality as ev
from salesgan_utils.windows import random_windowset


@pytest.fixture(scope="module")
def windows():
    return random_windowset(160, seed=0)


def test_discriminative_score_real_vs_itself_is_zero(windows):
    score = ev.discriminative_score(windows.target, windows.target, real_history=windows.history,
                                    synthetic_history=windows.history, seed=0, epochs=5)
    assert score == pytest.approx(0.0, abs=0.02)


def test_discriminative_score_real_vs_shuffled_noise_is_about_half(windows):
    noise = np.random.default_rng(1).permutation(np.random.default_rng(2).random(windows.target.size))
    noise = noise.reshape(windows.target.shape)
    kwargs = dict(real_history=windows.history, synthetic_history=windows.history, seed=0, epochs=20)
    score = ev.discriminative_score(windows.target, noise, **kwargs)
    assert score >= 0.4
    assert score == ev.discriminative_score(windows.target, noise, **kwargs)  # seeded


def test_predictive_score_tstr_equals_trtr_for_real_and_exceeds_it_for_a_bad_generator(windows):
    test = random_windowset(48, seed=5)
    kwargs = dict(real_history=windows.history, synthetic_history=windows.history, test_history=test.history,
                  test_target=test.target, seed=0, epochs=8)
    same = ev.predictive_score(windows.target, windows.target.copy(), **kwargs)
    assert same["tstr_mae"] == same["trtr_mae"] and same["tstr_minus_trtr"] == 0.0
    bad = ev.predictive_score(windows.target, np.ones_like(windows.target), **kwargs)
    assert bad["tstr_mae"] > bad["trtr_mae"] + 0.2


def test_sample_quality_report_of_perfect_copies(windows):
    subset = windows.subset(np.arange(64))
    test = random_windowset(32, seed=7)
    samples = np.repeat(subset.target[:, None, :], 3, axis=1)
    report = ev.sample_quality_report(subset, samples, test_windows=test,
                                      test_samples_scaled=np.repeat(test.target[:, None, :], 3, axis=1),
                                      baseline_test_samples_scaled=np.zeros((32, 3, 7)), classifier_epochs=3,
                                      forecaster_epochs=3)
    for key in ("wasserstein_units", "zero_share_difference", "ks_mean", "ks_std", "ks_max", "ks_zero_count",
                "acf_mean_abs_diff", "xcf_mean_abs_diff", "crps_generator",
                "tstr_minus_trtr"):
        assert report[key] == pytest.approx(0.0, abs=1e-12), key
    assert report["discriminative_score"] == pytest.approx(0.0, abs=0.04)
    assert np.isnan(report["diversity_ratio"])  # no spread and no error: 0 / 0, undefined by design
    assert report["coverage50_generator"] == report["coverage90_generator"] == 1.0
    observed = test.to_units(test.target)
    assert report["crps_baseline"] == pytest.approx(np.abs(observed).mean())
    assert report["acf_real_lag1"] == pytest.approx(report["acf_synthetic_lag1"])


def test_report_adds_the_issue_11_keys_and_forecast_table(windows):
    subset = windows.subset(np.arange(64))
    held_out = {"val": random_windowset(40, seed=8), "test": random_windowset(40, seed=9)}
    samples = np.repeat(subset.target[:, None, :], 3, axis=1)
    generated = {split: {"generator": np.repeat(ws.to_units(ws.target)[:, None, :], 4, axis=1)}
                 for split, ws in held_out.items()}
    table = ev.forecast_scores(held_out, generated)
    assert set(table["subset"]) == {"all", "active"} and len(table) == 4
    report = ev.sample_quality_report(subset, samples, seed=0, classifier_epochs=2, classifier_seeds=5,
                                      forecast_table=table, generator_steps=17)
    assert report["crps_fair_generator"] == 0.0  # perfect copies
    assert report["integer_share_synthetic"] == 1.0 and report["generator_steps"] == 17
    assert report["cond_mean_top_decile_real"] == report["cond_mean_top_decile_synthetic"]
    assert report["discriminative_score"] == pytest.approx(0.0, abs=0.04) and report["discriminative_score_sd"] >= 0
    for key in ("coverage50_generator", "coverage90_generator", "pit_max_deviation"):
        assert key in report


def test_baseline_samples_give_the_five_methods_in_units(windows):
    held_out = {"val": random_windowset(30, seed=8)}
    out = ev.baseline_samples(windows, held_out["val"], held_out, k=10, seed=0, likelihood_seeds=(0,),
                              hidden=8, layers=1, epochs=2)
    assert tuple(out["val"]) == ev.PROBABILISTIC_BASELINES
    assert out["val"]["block_sampler"].shape == out["val"]["likelihood_lstm"].shape == (30, 10, 7)
    assert out["val"]["zero"].shape == (30, 1, 7)
    analog = out["val"]["history_analog"]
    assert analog.shape == (30, 10, 7)
    real_targets = {tuple(t) for t in windows.to_units(windows.target).astype(np.float32)}
    assert all(tuple(path) in real_targets for path in analog.reshape(-1, 7))  # real train targets, never made up
    history = held_out["val"].to_units(held_out["val"].history)
    assert set(np.unique(out["val"]["block_sampler"])) <= set(np.unique(history.astype(np.float32)))  # resampled

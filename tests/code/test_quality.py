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

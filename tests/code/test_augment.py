"""Augmentations keep windows valid (non-negative units, same conditions) and mixing adds exactly the asked count."""
import numpy as np
import pytest

from salesgan_utils import augment as au
from salesgan_utils.windows import random_windowset


@pytest.fixture
def windows():
    w = random_windowset(6, seed=0, history_days=14, horizon=7)
    w.scale_min = np.array([0.0, 2.0, 0.0, 1.0, 0.0, 3.0])     # entities whose train minimum is above 0
    return w


def _sequence(w):
    return np.concatenate([w.history, w.target], axis=1)


def _units(w):
    return w.to_units(_sequence(w))


def _unchanged_conditions(source, out, copies):
    index = np.tile(np.arange(len(source)), copies)
    for name in ("calendar", "reviews", "entity", "origin", "scale_min", "scale_range", "demand_class"):
        np.testing.assert_array_equal(getattr(out, name), getattr(source, name)[index])


@pytest.mark.parametrize("name, settings", [("jitter", {"sigma": 0.0}), ("scaling", {"sigma": 0.0})])
def test_zero_strength_changes_nothing(windows, name, settings):
    out = au.augment(windows, name, copies=2, seed=0, **settings)
    assert len(out) == 12
    np.testing.assert_allclose(_sequence(out), np.tile(_sequence(windows), (2, 1)), atol=1e-6)
    _unchanged_conditions(windows, out, 2)


def test_jitter_adds_noise_of_sigma_and_never_goes_below_zero_units(windows):
    windows.history[:], windows.target[:] = 0.5, 0.5
    out = au.jitter(windows, sigma=0.01, copies=50, seed=1)
    assert np.std(_sequence(out) - 0.5) == pytest.approx(0.01, rel=0.05)
    zeros = random_windowset(6, seed=0, history_days=14, horizon=7)
    zeros.scale_min = windows.scale_min
    zeros.history[:], zeros.target[:] = 0.0, 0.0
    clipped = au.jitter(zeros, sigma=1.0, copies=5, seed=1)
    assert _units(clipped).min() == pytest.approx(0.0, abs=1e-5)
    assert (np.isclose(_units(clipped), 0.0, atol=1e-5)).mean() > 0.3  # the negative half sits on the floor


def test_scaling_multiplies_each_window_in_units_by_one_factor(windows):
    out = au.magnitude_scaling(windows, sigma=0.3, copies=3, seed=2)
    before, after = np.tile(_units(windows), (3, 1)), _units(out)
    sold = before > 0
    factors = np.where(sold, after / np.where(sold, before, 1.0), np.nan)
    np.testing.assert_allclose(np.nanmax(factors, axis=1), np.nanmin(factors, axis=1), rtol=1e-5)
    np.testing.assert_allclose(after[~sold], 0.0, atol=1e-5)  # zero-sale days stay zero-sale days
    assert np.nanstd(np.nanmean(factors, axis=1)) > 0.05


def _ramp(windows):
    sequence = np.tile(np.arange(21.0), (len(windows), 1)) / 20.0
    windows.history, windows.target = sequence[:, :14].astype(np.float32), sequence[:, 14:].astype(np.float32)
    windows.scale_min = np.zeros(len(windows))
    return windows


@pytest.mark.parametrize("block", [1, 5, 7])
def test_block_bootstrap_keeps_weekdays_and_copies_consecutive_days(windows, block):
    out = au.block_bootstrap(_ramp(windows), block=block, copies=4, seed=3)
    day = np.rint(_sequence(out) * 20).astype(int)      # which source day each position copied
    assert np.all(day % 7 == np.arange(21) % 7)
    starts = np.arange(0, 21, block)
    for start in starts:                                 # inside one block, days follow each other
        chunk = day[:, start:start + block]
        np.testing.assert_array_equal(np.diff(chunk, axis=1), 1)
    assert len(np.unique(day, axis=0)) > 1


def test_block_bootstrap_with_a_whole_block_or_without_phase(windows):
    ramp = _ramp(windows)
    whole = au.block_bootstrap(ramp, block=21, keep_phase=False, seed=0)
    np.testing.assert_array_equal(_sequence(whole), _sequence(ramp))   # the only block start is day 0
    free = au.block_bootstrap(ramp, block=4, keep_phase=False, seed=0, copies=10)
    day = np.rint(_sequence(free) * 20).astype(int)
    assert np.any(day % 7 != np.arange(21) % 7)


def test_synthetic_windows_from_samples_pairs_each_sample_with_its_condition(windows):
    samples = np.arange(6 * 3 * 7, dtype=np.float32).reshape(6, 3, 7)
    out = au.synthetic_windows_from_samples(windows, samples)
    assert len(out) == 18
    np.testing.assert_array_equal(out.target[4], samples[1, 1])            # row n * K + k
    np.testing.assert_array_equal(out.history[4], windows.history[1])
    np.testing.assert_array_equal(out.calendar[4], windows.calendar[1])
    with pytest.raises(ValueError, match="one|must be"):
        au.synthetic_windows_from_samples(windows, samples[:5])


@pytest.mark.parametrize("ratio, pool_size", [(0, 10), (0.5, 10), (1, 10), (2.5, 20), (5, 10)])
def test_mix_adds_exactly_round_ratio_times_real(ratio, pool_size):
    real = random_windowset(10, seed=0)
    pool = random_windowset(pool_size, seed=1)
    pool.entity_ids = list(real.entity_ids)
    pool.target[:] = 9.0                                   # marks synthetic rows
    out = au.mix(real, pool, ratio, seed=0)
    expected = int(round(ratio * 10))
    assert len(out) == 10 + expected
    assert int((out.target == 9.0).all(axis=1).sum()) == expected
    np.testing.assert_array_equal(out.history[:10], real.history)
    if expected <= pool_size:                              # drawn without replacement when the pool allows
        assert len(np.unique(out.history[10:], axis=0)) == expected


def test_mix_refuses_windows_of_other_entities():
    real, other = random_windowset(4, seed=0), random_windowset(4, seed=1, n_entities=5)
    with pytest.raises(ValueError, match="entity_ids"):
        au.mix(real, other, 1.0)


def test_analog_samples_are_the_real_targets_of_the_nearest_histories_in_the_window_s_scaling():
    pool = random_windowset(30, seed=3)
    real = pool.subset(np.array([4, 9]))
    real.scale_min, real.scale_range = real.scale_min + 1.0, real.scale_range * 2.0  # another scaling
    real.history = pool.history[[4, 9]] * pool.scale_range[[4, 9], None] / real.scale_range[:, None] + (
        pool.scale_min[[4, 9], None] - real.scale_min[:, None]) / real.scale_range[:, None]  # same units
    samples = au.analog_samples_scaled(real, pool, 3, own_index=np.array([4, 9]))
    units = real.to_units(samples)
    pool_units = pool.to_units(pool.history)
    for row, own in enumerate((4, 9)):
        relative = pool_units / (1 + pool_units.mean(axis=1, keepdims=True))
        distance = ((relative - relative[own]) ** 2).sum(axis=1)
        distance[own] = np.inf  # a window never copies its own target
        nearest = np.argsort(distance, kind="stable")[:3]
        np.testing.assert_allclose(units[row], pool.to_units(pool.target)[nearest], atol=1e-4)

"""Training-set augmentation: simple perturbations of real windows, GAN samples as windows, and mixing at a ratio.

Each function takes train windows and returns a new `WindowSet`; nothing here ever sees val or test windows, so
synthetic data come only from train conditions. Perturbations act on the whole 37-day sequence (history followed by
target) and keep everything else of the window (calendar, reviews, entity, scaling), so an augmented window is a
plausible training pair for the same product and dates. Values stay non-negative in units: in scaled space the
floor is -scale_min / scale_range.
"""
from __future__ import annotations

import numpy as np

from .data import scaled_from_units, units_from_scaled
from .windows import WindowSet


def concat_windows(*sets: WindowSet) -> WindowSet:
    """Stack WindowSets of the same entities and feature names.

    Args:
        *sets: WindowSets sharing `entity_ids`, `calendar_names` and `review_names`.

    Returns:
        One WindowSet with the windows of each set in order.
    """
    first = sets[0]
    for other in sets[1:]:
        for name in WindowSet._NAMES:
            if list(getattr(other, name)) != list(getattr(first, name)):
                raise ValueError(f"concat_windows: the sets disagree on {name}; augment only windows of one split")
    kwargs = {name: np.concatenate([getattr(s, name) for s in sets]) for name in WindowSet._ARRAYS}
    kwargs.update({name: list(getattr(first, name)) for name in WindowSet._NAMES})
    return WindowSet(**kwargs)


def _copies(windows: WindowSet, copies: int) -> WindowSet:
    if copies < 1:
        raise ValueError(f"augment: copies must be >= 1, got {copies}")
    return windows.subset(np.tile(np.arange(len(windows)), copies))


def _with_sequence(windows: WindowSet, sequence: np.ndarray) -> WindowSet:
    """`windows` with history/target replaced by the (N, L + H) scaled sequence, floored at 0 units."""
    floor = (-windows.scale_min / windows.scale_range)[:, None]
    sequence = np.maximum(sequence, floor).astype(np.float32)
    out = windows.subset(np.arange(len(windows)))
    out.history, out.target = sequence[:, :windows.history_days], sequence[:, windows.history_days:]
    return out


def _sequence(windows: WindowSet) -> np.ndarray:
    return np.concatenate([windows.history, windows.target], axis=1).astype(np.float64)


def jitter(windows: WindowSet, *, sigma: float = 0.05, copies: int = 1, seed: int = 0) -> WindowSet:
    """Add Gaussian noise to every day of history and target, then clip at 0 units.

    The noise is on scaled values, so `sigma` is a share of each entity's train range: comparable across products
    that sell 1 or 100 a day.

    Args:
        windows: train windows.
        sigma: noise standard deviation in scaled units.
        copies: perturbed copies per window.
        seed: seed of the noise.

    Returns:
        copies * N windows (copy-major: all windows once, then again).
    """
    out = _copies(windows, copies)
    sequence = _sequence(out)
    sequence += np.random.default_rng(seed).normal(0.0, sigma, size=sequence.shape)
    return _with_sequence(out, sequence)


def magnitude_scaling(windows: WindowSet, *, sigma: float = 0.1, copies: int = 1, seed: int = 0) -> WindowSet:
    """Multiply each window's whole sequence, in units, by one factor drawn from N(1, sigma) (Um et al. 2017).

    Scaling units (not scaled values) keeps zero-sale days at exactly zero, so intermittency is preserved.

    Args:
        windows: train windows.
        sigma: standard deviation of the factor; factors are floored at 0.
        copies: perturbed copies per window.
        seed: seed of the factors.

    Returns:
        copies * N windows.
    """
    out = _copies(windows, copies)
    factor = np.maximum(np.random.default_rng(seed).normal(1.0, sigma, size=(len(out), 1)), 0.0)
    units = units_from_scaled(_sequence(out), out.scale_min, out.scale_range)
    return _with_sequence(out, scaled_from_units(units * factor, out.scale_min, out.scale_range))


def block_bootstrap(windows: WindowSet, *, block: int = 7, copies: int = 1, seed: int = 0,
                    keep_phase: bool = True, period: int = 7) -> WindowSet:
    """Moving-block bootstrap of the concatenated history + target sequence (after Bergmeir et al. 2016).

    The sequence of T = L + H days is rebuilt from blocks of `block` consecutive days copied from random start
    positions of the same sequence, laid end to end and cut to T. Bergmeir et al. bootstrap the remainder of a
    Box-Cox + STL decomposition; a 37-day, mostly-zero sequence supports neither, so instead, with `keep_phase`,
    a block that fills positions p.. may only start at s with s = p (mod period): every copied day keeps its
    weekday, which is what adding the seasonal component back achieves in the original method.

    Args:
        windows: train windows.
        block: block length in days.
        copies: bootstrapped copies per window.
        seed: seed of the block starts.
        keep_phase: restrict starts to the same weekday phase as their destination.
        period: the season length for `keep_phase`.

    Returns:
        copies * N windows.
    """
    out = _copies(windows, copies)
    sequence = _sequence(out)
    n, total = sequence.shape
    if not 1 <= block <= total:
        raise ValueError(f"block_bootstrap: block must be in [1, {total}], got {block}")
    rng = np.random.default_rng(seed)
    destinations = np.arange(0, total, block)
    n_starts = total - block + 1  # moving blocks: every start whose block fits
    if keep_phase:
        # start = phase + period * j with start <= total - block and start = destination (mod period)
        phase = destinations % period
        choices = (n_starts - 1 - phase) // period + 1
        starts = phase[None, :] + period * np.floor(rng.random((n, destinations.size)) * choices).astype(int)
    else:
        starts = rng.integers(0, n_starts, size=(n, destinations.size))
    index = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n, -1)[:, :total]
    return _with_sequence(out, np.take_along_axis(sequence, index, axis=1))


AUGMENTATIONS = {"jitter": jitter, "scaling": magnitude_scaling, "block_bootstrap": block_bootstrap}


def augment(windows: WindowSet, name: str, *, copies: int = 1, seed: int = 0, **settings) -> WindowSet:
    """Apply the augmentation called `name` ("jitter", "scaling" or "block_bootstrap").

    Args:
        windows: train windows.
        name: a key of AUGMENTATIONS.
        copies: perturbed copies per window.
        seed: seed.
        **settings: the augmentation's own settings (sigma, block, ...).

    Returns:
        copies * N windows.
    """
    if name not in AUGMENTATIONS:
        raise ValueError(f"augment: unknown augmentation {name!r}; choose from {sorted(AUGMENTATIONS)}")
    return AUGMENTATIONS[name](windows, copies=copies, seed=seed, **settings)


def synthetic_windows_from_samples(train: WindowSet, samples_scaled: np.ndarray) -> WindowSet:
    """Windows whose target is a generated sample: real history, calendar and reviews of the conditioning window.

    Args:
        train: the train windows the samples were generated for (the conditions).
        samples_scaled: (N, K, H) scaled samples, row n conditioned on train window n.

    Returns:
        N * K windows, window-major: row n * K + k holds sample k of window n.
    """
    samples_scaled = np.asarray(samples_scaled)
    if samples_scaled.ndim != 3 or samples_scaled.shape[0] != len(train) or samples_scaled.shape[2] != train.horizon:
        raise ValueError(f"synthetic_windows_from_samples: samples {samples_scaled.shape} must be "
                         f"({len(train)}, K, {train.horizon}) for these train windows")
    k = samples_scaled.shape[1]
    out = train.subset(np.repeat(np.arange(len(train)), k))
    out.target = samples_scaled.reshape(-1, train.horizon).astype(np.float32)
    return out


def analog_samples_scaled(real: WindowSet, pool: WindowSet, k: int, own_index: np.ndarray | None = None
                          ) -> np.ndarray:
    """The history-analog augmentation's samples (the copy control as training material): for each real window,
    the real targets of the `k` pool windows with the nearest histories (`baselines.history_analog_sampler`),
    in the real window's own scaling, as `synthetic_windows_from_samples` reads them.

    Args:
        real: the fit's real windows (the conditions; their own targets are never used).
        pool: the windows a lookup may copy from (the pool the compared generator saw).
        k: analogs per window.
        own_index: (len(real),) each real window's row in `pool` (excluded from its own analogs), or None when
            the real windows are not in the pool.

    Returns:
        (len(real), k, H) float32 scaled samples.
    """
    from .baselines import history_analog_sampler

    exclude = None if own_index is None else np.asarray(own_index, dtype=np.int64)
    units = history_analog_sampler(real.to_units(real.history), pool.to_units(pool.history),
                                   pool.to_units(pool.target), k, exclude=exclude)
    return scaled_from_units(units, real.scale_min, real.scale_range).astype(np.float32)


def mix(real: WindowSet, synthetic: WindowSet, ratio: float, seed: int = 0) -> WindowSet:
    """Real windows followed by exactly round(ratio * len(real)) synthetic ones.

    Synthetic windows are drawn without replacement when the pool is large enough, else with replacement.

    Args:
        real: real train windows (all kept, first).
        synthetic: pool of synthetic/augmented windows built from train conditions.
        ratio: synthetic : real ratio (0 returns the real windows).
        seed: seed of the draw.

    Returns:
        len(real) + round(ratio * len(real)) windows.
    """
    n_synthetic = int(round(ratio * len(real)))
    if n_synthetic < 0:
        raise ValueError(f"mix: ratio must be >= 0, got {ratio}")
    if n_synthetic == 0:
        return real.subset(np.arange(len(real)))
    if len(synthetic) == 0:
        raise ValueError("mix: the synthetic pool is empty")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(synthetic), n_synthetic, replace=n_synthetic > len(synthetic))
    return concat_windows(real, synthetic.subset(pick))

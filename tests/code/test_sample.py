"""Tests of salesgan_utils.sample: seeding, shapes, units, streaming/atomic writes, reading without the model."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from salesgan_utils import sample as sample_module
from salesgan_utils.gan import WGANGP, GanConfig
from salesgan_utils.sample import SampleSet, generate_samples
from salesgan_utils.windows import random_windowset

torch.set_num_threads(1)

TINY = dict(noise_dim=8, cond_dim=16, history_hidden=8, history_layers=1, calendar_hidden=8, review_hidden=4,
            gru_hidden=8, gru_layers=1, critic_channels=(4, 8), critic_hidden=8)


@pytest.fixture(scope="module")
def windows():
    ws = random_windowset(23, seed=4)
    ws.scale_min = np.arange(23, dtype=np.float64)  # non-zero minima, so that units != scaled * range
    return ws


@pytest.fixture(scope="module")
def module(windows):
    torch.manual_seed(0)
    model = WGANGP(GanConfig(**TINY).for_windows(windows))
    with torch.no_grad():  # lift the head so that samples are mostly non-zero: unit checks then mean something
        model.generator.head.bias.fill_(0.5)
    return model


def test_shapes_units_keys_meta(module, windows, tmp_path):
    result = generate_samples(module, windows, k=5, out_dir=tmp_path / "s", seed=1, batch_size=20)
    assert result.scaled.shape == result.units.shape == (23, 5, 7)
    assert result.scaled.dtype == result.units.dtype == np.float32
    assert (result.scaled >= 0).all() and (result.scaled > 0).mean() > 0.5
    expected_units = result.scaled * windows.scale_range[:, None, None] + windows.scale_min[:, None, None]
    np.testing.assert_allclose(result.units, expected_units, rtol=1e-6)
    pd.testing.assert_frame_equal(result.keys, windows.keys())
    assert result.meta == {"k": 5, "seed": 1, "checkpoint": None, "n_windows": 23, "horizon": 7,
                           "noise": result.meta["noise"], "gan_design": "original", "generator_steps": 0}
    assert module.training  # the caller's module is left as it was


def test_same_seed_identical_other_seed_differs_batch_size_irrelevant(module, windows, tmp_path):
    a = generate_samples(module, windows, k=4, out_dir=tmp_path / "a", seed=7, batch_size=8)  # chunks of 2 windows
    b = generate_samples(module, windows, k=4, out_dir=tmp_path / "b", seed=7, batch_size=8)
    c = generate_samples(module, windows, k=4, out_dir=tmp_path / "c", seed=8, batch_size=8)
    d = generate_samples(module, windows, k=4, out_dir=tmp_path / "d", seed=7, batch_size=1000)  # one chunk
    np.testing.assert_array_equal(a.scaled, b.scaled)
    assert not np.array_equal(a.scaled, c.scaled)
    np.testing.assert_allclose(a.scaled, d.scaled, atol=1e-6)  # same noise rows; only matmul blocking differs
    # the K samples of one window differ (noise per sample, not per window)
    assert np.abs(a.scaled[:, 0] - a.scaled[:, 1]).max() > 0


def test_folder_readable_with_numpy_and_pandas_alone(module, windows, tmp_path):
    generate_samples(module, windows, k=3, out_dir=tmp_path / "s", seed=0)
    scaled = np.load(tmp_path / "s" / "samples_scaled.npy")
    units = np.load(tmp_path / "s" / "samples_units.npy")
    keys = pd.read_parquet(tmp_path / "s" / "keys.parquet")
    meta = json.loads((tmp_path / "s" / "meta.json").read_text())
    assert scaled.shape == units.shape == (meta["n_windows"], meta["k"], meta["horizon"])
    assert list(keys.columns) == ["entity_id", "origin"] and len(keys) == 23
    loaded = SampleSet.load(tmp_path / "s")
    assert loaded.k == 3 and len(loaded) == 23
    np.testing.assert_array_equal(loaded.scaled, scaled)


def test_from_checkpoint_overwrite_and_failed_write_leaves_nothing(module, windows, tmp_path, monkeypatch):
    ckpt = tmp_path / "best.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, ckpt)
    out = tmp_path / "samples"
    first = generate_samples(ckpt, windows, k=2, out_dir=out, seed=0)
    assert first.meta["checkpoint"] == str(ckpt)
    again = generate_samples(module, windows, k=3, out_dir=out, seed=0)  # replaces the folder
    assert again.scaled.shape[1] == 3 and SampleSet.load(out).k == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.ckpt", "samples"]  # no temporary leftovers

    calls = []

    def failing_sample(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return WGANGP.sample(module, *args, **kwargs)

    monkeypatch.setattr(module, "sample", failing_sample)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_samples(module, windows, k=2, out_dir=tmp_path / "broken", seed=0, batch_size=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.ckpt", "samples"]
    with pytest.raises(FileNotFoundError, match="stage 03"):
        SampleSet.load(tmp_path / "broken")


def test_memory_stays_bounded_by_chunks(module, windows, tmp_path, monkeypatch):
    seen = []
    original = sample_module._windows_tensors

    def spy(ws, rows, device):
        seen.append(rows.stop - rows.start)
        return original(ws, rows, device)

    monkeypatch.setattr(sample_module, "_windows_tensors", spy)
    generate_samples(module, windows, k=5, out_dir=tmp_path / "s", seed=0, batch_size=10)
    assert max(seen) == 2 and sum(seen) == 23  # batch_size // k windows per forward


def test_sample_folder_has_normal_permissions(module, windows, tmp_path):
    import os
    import stat

    result = generate_samples(module, windows, k=2, out_dir=tmp_path / "perm", seed=0)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(result.folder.stat().st_mode) == 0o777 & ~umask

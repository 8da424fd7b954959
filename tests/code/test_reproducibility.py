"""The same seed and inputs give bit-identical results on CPU: panel, windows and the smoke benchmark's metrics.

Each is run twice from scratch and compared by content hash (not file bytes: a `.npz` is a zip that stamps its
members with the time of writing). The GAN's own determinism (same seed -> identical weights, best checkpoint and
training history) is tested in tests/code/test_train.py::test_training_changes_both_players_and_is_deterministic;
the samples' in tests/code/test_sample.py::test_same_seed_identical_other_seed_differs_batch_size_irrelevant.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesgan_utils import benchmark, demo, preprocess, scoring
from salesgan_utils.paths import DataSource
from salesgan_utils.windows import random_windowset

BUILD = dict(entity="product", train_fraction=0.7, val_fraction=0.15, test_fraction=0.15, min_train_units=1,
             top_n=0, history_days=30, horizon=7, stride=7)


def stage_01(folder: Path) -> Path:
    """Stage 01 in-process on freshly generated demo tables (seed 0): the folder of its artifacts."""
    demo.write_demo_tables(folder / "demo_data", n_products=10, seed=0)
    source = DataSource(folder / "demo_data", "demo", "test")
    _, panel, sets = preprocess.build(source, **BUILD)
    preprocess.save(folder / "01_eda_preprocess", source, panel, sets, BUILD)
    return folder / "01_eda_preprocess"


def content_hashes(stage: Path) -> dict[str, str]:
    """sha256 of the panel's values (read back) and of every window array, by name."""
    hashes = {}
    frame = pd.read_parquet(stage / "panel.parquet")
    hashes["panel.parquet"] = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).values.tobytes()
                                             + ",".join(frame.columns).encode()).hexdigest()
    for path in sorted(stage.glob("windows_*.npz")):
        with np.load(path, allow_pickle=False) as arrays:
            for name in sorted(arrays.files):
                hashes[f"{path.name}:{name}"] = hashlib.sha256(arrays[name].tobytes()).hexdigest()
    return hashes


def test_panel_and_windows_are_bit_identical_across_runs(tmp_path: Path) -> None:
    first, second = content_hashes(stage_01(tmp_path / "a")), content_hashes(stage_01(tmp_path / "b"))
    assert len(first) > 3 and first == second


@pytest.fixture
def one_thread():
    """Bit-exact float results hold for a fixed torch thread count."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def smoke_benchmark() -> benchmark.BenchmarkResult:
    """The stage-04 protocol at toy size: real LSTM fits (two losses), one augmentation, GAN samples at one ratio."""
    train, val, test = random_windowset(40, seed=0), random_windowset(12, seed=1), random_windowset(12, seed=2)
    for windows, start in ((train, "2017-01-01"), (val, "2017-03-01"), (test, "2017-04-01")):  # unique keys
        windows.origin = (np.datetime64(start) + np.arange(len(windows)).astype("timedelta64[D]"))
    days = pd.date_range("2016-10-01", periods=60)
    train_df = pd.DataFrame({"unique_id": np.repeat([f"e{i}" for i in range(4)], 60), "ds": np.tile(days, 4),
                             "y": np.random.default_rng(4).poisson(1.0, 240).astype(float)})
    gan = np.random.default_rng(3).random((len(train), 2, train.horizon), dtype=np.float32)
    return benchmark.run_benchmark(train, val, test, gan, train_df, ratios=(1,), seeds=(0, 1),
                                   augmentations=("jitter",), losses=("mse", "poisson"), scarcity_sizes=(20, 0),
                                   reference_size=20, hidden=4, layers=1, epochs=2, patience=1, batch_size=16,
                                   n_boot=50, num_threads=1, log=None)


def test_smoke_metrics_are_bit_identical_across_runs(one_thread) -> None:
    first, second = smoke_benchmark(), smoke_benchmark()
    pd.testing.assert_frame_equal(first.forecasts, second.forecasts, check_exact=True)
    for name, a in first.tables.items():
        pd.testing.assert_frame_equal(a, second.tables[name], check_exact=True)
    timings = ["fit_seconds"]  # wall times: the one thing allowed to differ
    pd.testing.assert_frame_equal(first.fits.drop(columns=timings), second.fits.drop(columns=timings),
                                  check_exact=True)
    assert first.tables[scoring.RESULTS_FILE]["wrmsse"].notna().all()

"""Stage 04's fair generators: each is trained on exactly its fit's real windows (ids compared) with its fit's
seed, its checkpoint chosen on its fit's validation subset, and sampled K times per fit window."""
import numpy as np
import pandas as pd
import pytest
from gan_testing import design

from salesgan_utils import fair_gan, study
from salesgan_utils.train import BEST_CKPT, CHECKPOINT_DIR, HISTORY_FILE
from salesgan_utils.windows import random_windowset

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/code/conftest.py

TRAIN, VAL = random_windowset(120, seed=0), random_windowset(300, seed=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    config = design("counts", one_sided_gp=True, gru_layers=1, batch_size=64).for_windows(TRAIN)
    out = tmp_path_factory.mktemp("fair")
    return out, fair_gan.train_fair_generators(TRAIN, VAL, config, sizes=[20, 40], seeds=[3, 4], steps=6, k=2,
                                               out_dir=out, val_every=2, log=None)


def test_each_fair_generator_trains_on_exactly_its_fit_s_windows(trained):
    out, fair = trained
    assert sorted(fair) == [(20, 3), (20, 4), (40, 3), (40, 4)]
    for (n_real, seed), generator in fair.items():
        fit = study.fit_windows(len(TRAIN), seed, n_real)  # what the LSTM fit of (n_real, seed) trains on
        assert np.array_equal(generator.window_index, fit)
        assert generator.record()["window_index"] == fit.tolist()
        assert np.array_equal(generator.val_index, study.validation_subset(len(VAL), len(TRAIN), n_real, seed))
        assert generator.seed == seed and generator.samples_scaled.shape == (n_real, 2, TRAIN.horizon)
        assert (generator.folder / CHECKPOINT_DIR / BEST_CKPT).is_file()


def test_the_checkpoint_is_the_lowest_validation_crps_within_the_budget(trained):
    _, fair = trained
    for generator in fair.values():
        history = pd.read_csv(generator.folder / HISTORY_FILE)
        assert list(history["step"]) == [2, 4, 6]  # validated every val_every steps, the last step included
        assert generator.steps == 6
        assert generator.best_val_crps == pytest.approx(history["val_crps"].min())
        assert generator.best_step == int(history.loc[history["val_crps"].idxmin(), "step"])


def test_the_batch_is_at_most_the_smallest_fit():
    config = design("counts", batch_size=128)
    assert fair_gan.fair_config(config, [250, 1000], TRAIN).batch_size == 128
    assert fair_gan.fair_config(config, [40, 1000], TRAIN).batch_size == 40


def test_a_fit_on_every_window_gets_no_fair_generator(tmp_path):
    config = design("counts").for_windows(TRAIN)
    with pytest.raises(ValueError, match="not below the 120 train windows"):
        fair_gan.train_fair_generators(TRAIN, VAL, config, [120], [0], 4, 2, tmp_path)


def _fair(tmp_path, **where):
    config = design("counts", one_sided_gp=True, gru_layers=1, batch_size=20).for_windows(TRAIN)
    return fair_gan.train_fair_generators(TRAIN, VAL, config, sizes=[20, 40], seeds=[3, 4, 5], steps=4, k=2,
                                          out_dir=tmp_path, val_every=2, log=None, **where)


def test_the_ensemble_split_is_fixed_so_worker_processes_give_the_same_generators(tmp_path):
    lines = []
    here = _fair(tmp_path / "here", ensembles=2, n_jobs=1)
    pool = fair_gan.train_fair_generators(
        TRAIN, VAL, design("counts", one_sided_gp=True, gru_layers=1, batch_size=20).for_windows(TRAIN),
        sizes=[20, 40], seeds=[3, 4, 5], steps=4, k=2, out_dir=tmp_path / "pool", val_every=2, ensembles=2,
        n_jobs=2, log=lines.append)
    assert list(pool) == list(here) == [(20, 3), (20, 4), (20, 5), (40, 3), (40, 4), (40, 5)]
    for key in here:
        assert np.array_equal(pool[key].samples_scaled, here[key].samples_scaled)
        assert pool[key].best_val_crps == here[key].best_val_crps
        summary = pd.read_json(pool[key].folder / "model_summary.json", typ="series")
        assert summary["ensemble_members"] == 3  # six members cut into two contiguous blocks of three
    trained = [line for line in lines if "trained in" in line]
    names = [generator.folder.name for generator in here.values()]
    blocks = {frozenset(name for name in names if name in line) for line in trained}
    assert len(trained) == 2 and blocks == {frozenset(names[:3]), frozenset(names[3:])}


def test_one_ensemble_or_several_trains_the_same_members_on_the_same_windows(tmp_path):
    one, three = _fair(tmp_path / "one", ensembles=1), _fair(tmp_path / "three", ensembles=3)
    assert list(one) == list(three)
    for key in one:
        assert np.array_equal(one[key].window_index, three[key].window_index)
        assert np.allclose(one[key].samples_scaled, three[key].samples_scaled, atol=1e-4)


def test_a_split_below_one_is_refused_naming_the_parameter(tmp_path):
    with pytest.raises(ValueError, match="fair_gan_ensembles"):
        _fair(tmp_path, ensembles=0)

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

"""The likelihood-trained NB LSTM: its loss on known answers, a fit that learns each entity's level, seeded."""
import numpy as np
import pytest
import torch
from scipy import stats

from salesgan_utils import likelihood as lk
from salesgan_utils import metrics
from salesgan_utils.windows import random_windowset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_negbin_nll_matches_scipy():
    y, mean, alpha = np.array([0.0, 1.0, 4.0]), np.array([0.5, 2.0, 3.0]), np.array([0.3, 1.0, 2.0])
    size = 1 / alpha
    expected = -stats.nbinom.logpmf(y, size, size / (size + mean)).mean()
    got = lk.negbin_nll(*(torch.as_tensor(a) for a in (y, mean, alpha)))
    assert float(got) == pytest.approx(expected, rel=1e-6)


@pytest.fixture(scope="module")
def fitted():
    train, val = random_windowset(512, seed=0), random_windowset(128, seed=1)
    return train, val, lk.fit_ensemble(train, val, seeds=[0, 1], hidden=16, layers=1, epochs=6, lr=1e-2)


def test_fit_beats_the_zero_point_mass_and_is_seeded(fitted):
    train, val, models = fitted
    samples = lk.sample_ensemble(models, val, k=50, seed=0)
    observed = val.to_units(val.target)
    assert samples.shape == (len(val), 50, 7) and np.all(samples == np.round(samples))
    assert metrics.crps_fair(samples, observed) < 0.8 * metrics.crps_fair(np.zeros_like(samples), observed)
    np.testing.assert_array_equal(samples, lk.sample_ensemble(models, val, k=50, seed=0))
    again = lk.fit_likelihood_lstm(train, val, seed=0, hidden=16, layers=1, epochs=6, lr=1e-2)
    np.testing.assert_array_equal(again.distribution(val)[0], models[0].distribution(val)[0])

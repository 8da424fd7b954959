"""The LSTM forecaster: seeded, early-stopped, restores its best weights, and reads features only when asked."""
import numpy as np
import pytest

from salesgan_utils.forecaster import fit_forecaster
from salesgan_utils.windows import random_windowset

TINY = dict(hidden=8, layers=1, epochs=6, patience=2, batch_size=16, lr=1e-2)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/code/conftest.py


@pytest.fixture(scope="module")
def data():
    return random_windowset(48, seed=0), random_windowset(24, seed=1)


@pytest.fixture(scope="module")
def fitted(data):
    return fit_forecaster(*data, seed=3, **TINY)


def test_same_seed_same_model_other_seed_other_model(data, fitted):
    again = fit_forecaster(*data, seed=3, **TINY)
    np.testing.assert_array_equal(fitted.predict(data[1]), again.predict(data[1]))
    np.testing.assert_array_equal(fitted.history[["train_loss", "val_loss"]], again.history[["train_loss", "val_loss"]])
    other = fit_forecaster(*data, seed=4, **TINY)
    assert not np.array_equal(fitted.predict(data[1]), other.predict(data[1]))


def test_best_validation_weights_are_restored(data, fitted):
    val = data[1]
    history = fitted.history
    assert fitted.best_val_loss == pytest.approx(history["val_loss"].min())
    assert fitted.best_epoch == int(history.loc[history["val_loss"].idxmin(), "epoch"])
    mse = float(((fitted.predict(val) - val.target) ** 2).mean())
    assert mse == pytest.approx(fitted.best_val_loss, rel=1e-5)


@pytest.mark.parametrize("patience", [1, 2])
def test_early_stopping_waits_patience_epochs_after_the_best(data, patience):
    settings = dict(TINY, epochs=40, patience=patience, lr=5e-2)
    out = fit_forecaster(*data, seed=0, **settings)
    assert len(out.history) == min(40, out.best_epoch + patience)


def test_predict_shape_and_train_cap(data):
    train, val = data
    out = fit_forecaster(train, val, seed=0, max_train_windows=20, **dict(TINY, epochs=1))
    assert out.n_train_windows == 20
    assert out.predict(val).shape == (24, 7) and out.predict(val).dtype == np.float32


@pytest.mark.parametrize("use_features", [False, True])
def test_calendar_and_reviews_are_read_only_with_the_flag(data, use_features):
    train, val = data
    out = fit_forecaster(train, val, seed=0, use_features=use_features, **dict(TINY, epochs=1, layers=2))
    changed = val.subset(np.arange(len(val)))
    changed.calendar = 1.0 - changed.calendar
    changed.reviews = changed.reviews + 1.0
    moved = not np.allclose(out.predict(val), out.predict(changed))
    assert moved == use_features


def test_fit_refuses_empty_sets(data):
    with pytest.raises(ValueError, match="need train and val"):
        fit_forecaster(data[0].subset(np.arange(0)), data[1], seed=0, **TINY)

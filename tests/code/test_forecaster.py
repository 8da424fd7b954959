"""The LSTM forecaster: seeded, early-stopped, restores its best weights, and reads features only when asked."""
import numpy as np
import pytest
import torch

from salesgan_utils.forecaster import LOG_LINK, fit_forecaster, training_loss
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


def _loss(output, target, loss, scale_min=0.0, scale_range=2.0, **settings):
    t = lambda v: torch.tensor([[v]], dtype=torch.float32)  # noqa: E731
    return float(training_loss(t(output), t(target), t(scale_min), t(scale_range), loss, **settings))


@pytest.mark.parametrize("loss, output, target, expected", [
    ("mse", 0.5, 0.25, 0.0625),
    ("quantile", 0.5, 0.25, 0.5 * 0.25),                       # over-forecast by 0.25 at level 0.5
    # log link in units: mu = 0 + 2 * exp(0) = 2, y = 2 * 0.5 = 1 -> Poisson NLL mu - y log mu
    ("poisson", 0.0, 0.5, 2.0 - np.log(2.0)),
    # Tweedie p = 1.5: -y mu^(-0.5) / (-0.5) + mu^(0.5) / 0.5
    ("tweedie", 0.0, 0.5, 2.0 / np.sqrt(2.0) + 2.0 * np.sqrt(2.0)),
])
def test_training_losses_on_hand_values(loss, output, target, expected):
    assert _loss(output, target, loss) == pytest.approx(expected, rel=1e-5)


def test_quantile_level_weighs_under_and_over_forecasts():
    assert _loss(0.0, 1.0, "quantile", quantile=0.9) == pytest.approx(0.9)
    assert _loss(1.0, 0.0, "quantile", quantile=0.9) == pytest.approx(0.1)


@pytest.mark.parametrize("loss", ["poisson", "tweedie", "quantile"])
def test_every_loss_fits_reproducibly_and_count_losses_forecast_positive_means(data, loss):
    train, val = data
    settings = dict(TINY, epochs=2)
    first = fit_forecaster(train, val, seed=1, loss=loss, **settings)
    again = fit_forecaster(train, val, seed=1, loss=loss, **settings)
    np.testing.assert_array_equal(first.predict(val), again.predict(val))
    assert first.loss == loss and first.settings["loss"] == loss
    assert np.isfinite(first.history["val_loss"]).all()
    if loss in LOG_LINK:
        assert (first.predict(val) > 0).all()
        # the head starts at the train mean rate: the first forecasts are on the data's scale, not exp(0) = 1
        assert first.predict(val).mean() < 0.5


def test_steps_per_epoch_fixes_the_work_per_epoch(data):
    train, val = data
    out = fit_forecaster(train, val, seed=0, steps_per_epoch=5, **dict(TINY, epochs=2, patience=5))
    again = fit_forecaster(train, val, seed=0, steps_per_epoch=5, **dict(TINY, epochs=2, patience=5))
    np.testing.assert_array_equal(out.predict(val), again.predict(val))
    assert out.settings["steps_per_epoch"] == 5 and len(out.history) == 2


def test_unknown_loss_is_refused(data):
    with pytest.raises(ValueError, match="unknown loss"):
        fit_forecaster(*data, seed=0, loss="huber", **TINY)

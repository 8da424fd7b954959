"""The replaced system's LSTM forecaster (30-day history -> 7 days) and its training with early stopping.

Plain PyTorch rather than Lightning: the benchmark fits this small model dozens of times (seeds x variants), and a
hand loop has no per-fit Trainer overhead. The architecture is the replaced system's; its training loss is a parameter
(`LOSSES`): `mse` on min-max-scaled values (the replaced system's: it weights each entity by 1 / range²), `poisson` and
`tweedie` on units through a log link (count losses: the forecast is a mean, entities weigh by their volume),
and `quantile` (pinball loss at level `quantile` on scaled values). Adam; the validation value of the same loss
decides early stopping (`patience` epochs) and the restored weights, so test scores never come from last-epoch
weights. `steps_per_epoch` > 0 makes an epoch a fixed number of mini-batches, so fits on 250 or 150,000 windows
cost the same and compare at equal compute. Everything random (initialisation, batch order, train subsampling) follows
`seed`, inside `torch.random.fork_rng`, so a fit is bit-for-bit reproducible on CPU for a given number of torch
threads (another thread count changes the last bits of the sums) and leaves the caller's RNG alone.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from .windows import WindowSet


class EarlyStopping:
    """Early stopping for the plain torch loops (this forecaster, `likelihood`): keeps the weights of the epoch with
    the lowest validation loss and says when `patience` epochs in a row have not improved on it."""

    def __init__(self, model: nn.Module, patience: int):
        self.model, self.patience = model, patience
        self.best_loss, self.best_epoch, self.waited = float("inf"), 0, 0
        self.best_state = copy.deepcopy(model.state_dict())

    def should_stop(self, epoch: int, val_loss: float) -> bool:
        """Record one epoch's validation loss; True when training should stop."""
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch, self.waited = val_loss, epoch, 0
            self.best_state = copy.deepcopy(self.model.state_dict())
            return False
        self.waited += 1
        return self.waited >= self.patience

    def restore(self) -> None:
        """Load the best epoch's weights back into the model."""
        self.model.load_state_dict(self.best_state)


class LSTMForecaster(nn.Module):
    """Stacked LSTM over the history; a linear head maps the last hidden state to the H target days.

    With `n_features > 0` the head also sees the flattened calendar of the target days and the review features,
    the same side information the GAN's generator is conditioned on.

    Args:
        horizon: H, number of outputs.
        hidden: LSTM width.
        layers: stacked LSTM layers.
        n_features: length of the extra feature vector (H * C + R), 0 for history only.
    """

    def __init__(self, horizon: int = 7, hidden: int = 128, layers: int = 2, n_features: int = 0):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden + n_features, horizon)
        self.n_features = n_features

    def forward(self, history: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        """Map (B, L) histories (and (B, F) features) to the (B, H) head output (see `to_scaled`)."""
        _, (hidden, _) = self.lstm(history.unsqueeze(-1))
        summary = hidden[-1]
        if self.n_features:
            summary = torch.cat([summary, features], dim=1)
        return self.head(summary)


LOSSES = ("mse", "poisson", "tweedie", "quantile")
LOG_LINK = ("poisson", "tweedie")
_LOG_RATE_BOUNDS = (-15.0, 8.0)  # exp(8) = 2981 scaled units: far above any real demand, finite gradients


def to_scaled(output: torch.Tensor, loss: str) -> torch.Tensor:
    """The head output as a scaled forecast: identity, or exp(output) under the log link of the count losses.

    Under the log link the forecast in units is scale_min + scale_range * exp(output): positive above the
    entity's train minimum (0 for every intermittent product).
    """
    if loss in LOG_LINK:
        return torch.exp(output.clamp(*_LOG_RATE_BOUNDS))
    return output


def training_loss(output: torch.Tensor, target: torch.Tensor, scale_min: torch.Tensor, scale_range: torch.Tensor,
                  loss: str, *, tweedie_power: float = 1.5, quantile: float = 0.5) -> torch.Tensor:
    """Mean loss of a batch.

    Args:
        output: (B, H) head output.
        target: (B, H) scaled targets.
        scale_min: (B, 1) train minimum of each window's entity, units.
        scale_range: (B, 1) train max - min, units.
        loss: one of LOSSES.
        tweedie_power: p in (1, 2) of the Tweedie deviance.
        quantile: level of the pinball loss.

    Returns:
        A scalar tensor: MSE or pinball on scaled values; Poisson or Tweedie negative log-likelihood (up to
        terms free of the forecast) on units.
    """
    if loss == "mse":
        return ((output - target) ** 2).mean()
    if loss == "quantile":
        error = target - output
        return torch.maximum(quantile * error, (quantile - 1.0) * error).mean()
    if loss not in LOG_LINK:
        raise ValueError(f"unknown forecaster loss {loss!r}; choose from {LOSSES}")
    y = target * scale_range + scale_min
    mu = scale_min + scale_range * torch.exp(output.clamp(*_LOG_RATE_BOUNDS))
    if loss == "poisson":
        return (mu - y * torch.log(mu + 1e-8)).mean()
    p = tweedie_power
    return (-y * mu.pow(1.0 - p) / (1.0 - p) + mu.pow(2.0 - p) / (2.0 - p)).mean()


def _features(windows: WindowSet) -> np.ndarray:
    return np.concatenate([windows.calendar.reshape(len(windows), -1), windows.reviews], axis=1).astype(np.float32)


def _tensors(windows: WindowSet, use_features: bool) -> tuple:
    """(history, features or None, target, scale_min (N, 1), scale_range (N, 1)) as float32 tensors."""
    history = torch.as_tensor(np.asarray(windows.history, dtype=np.float32))
    features = torch.as_tensor(_features(windows)) if use_features else None
    target = torch.as_tensor(np.asarray(windows.target, dtype=np.float32))
    scale_min = torch.as_tensor(np.asarray(windows.scale_min, dtype=np.float32).reshape(-1, 1))
    scale_range = torch.as_tensor(np.asarray(windows.scale_range, dtype=np.float32).reshape(-1, 1))
    return history, features, target, scale_min, scale_range


def _batches(n: int, batch_size: int, steps: int, generator: torch.Generator):
    """Index batches of one epoch: one shuffled pass (steps = 0), or `steps` batches from a reshuffled stream."""
    if not steps:
        return torch.randperm(n, generator=generator).split(batch_size)
    needed = steps * batch_size
    stream = torch.cat([torch.randperm(n, generator=generator) for _ in range(-(-needed // n))])
    return stream[:needed].split(batch_size)


@dataclass
class FittedForecaster:
    """A trained LSTM forecaster with its training record.

    Attributes:
        model: the network, holding the best-validation weights.
        use_features: whether it reads calendar + reviews.
        history: one row per epoch: epoch, train_loss, val_loss (the training loss on val), seconds.
        best_epoch: epoch (1-based) whose weights were restored.
        best_val_loss: its validation loss.
        n_train_windows: windows it was trained on (after any `max_train_windows` cap).
        seed: the seed of the fit.
    """

    model: LSTMForecaster
    use_features: bool
    history: pd.DataFrame
    best_epoch: int
    best_val_loss: float
    n_train_windows: int
    seed: int
    settings: dict = field(default_factory=dict)
    loss: str = "mse"

    def predict(self, windows: WindowSet, batch_size: int = 2048) -> np.ndarray:
        """Scaled forecasts for `windows`.

        Args:
            windows: windows to forecast (only history, and calendar/reviews if `use_features`, are read).
            batch_size: windows per forward pass.

        Returns:
            (N, H) float32 scaled forecasts; `windows.to_units` gives units.
        """
        history, features = _tensors(windows, self.use_features)[:2]
        self.model.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(history), batch_size):
                stop = start + batch_size
                output = self.model(history[start:stop], None if features is None else features[start:stop])
                out.append(to_scaled(output, self.loss))
        return torch.cat(out).numpy() if out else np.zeros((0, self.model.head.out_features), np.float32)


def _mean_loss(model: LSTMForecaster, tensors, batch_size: int, loss_settings: dict) -> float:
    history, features, target, scale_min, scale_range = tensors
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(history), batch_size):
            part = slice(start, start + batch_size)
            output = model(history[part], None if features is None else features[part])
            batch = training_loss(output, target[part], scale_min[part], scale_range[part], **loss_settings)
            total += float(batch) * output.numel()
    return total / max(1, target.numel())


def fit_forecaster(train: WindowSet, val: WindowSet, *, seed: int = 0, hidden: int = 128, layers: int = 2,
                   epochs: int = 50, patience: int = 5, batch_size: int = 128, lr: float = 1e-3,
                   use_features: bool = False, max_train_windows: int | None = None, loss: str = "mse",
                   tweedie_power: float = 1.5, quantile: float = 0.5, steps_per_epoch: int = 0,
                   verbose: bool = False) -> FittedForecaster:
    """Train the LSTM forecaster with early stopping on the validation loss and restore its best weights.

    Args:
        train: training windows (real, or real + synthetic).
        val: validation windows (real; chronologically after train).
        seed: seed of initialisation, batch order and subsampling.
        hidden: LSTM width.
        layers: LSTM layers.
        epochs: maximum epochs.
        patience: epochs without a validation improvement before stopping.
        batch_size: mini-batch size.
        lr: Adam learning rate.
        use_features: also feed calendar + reviews to the head.
        max_train_windows: if set and smaller than len(train), train on a seeded random subset of that size.
        loss: training loss, one of LOSSES ("mse" is the replaced system's).
        tweedie_power: p of the Tweedie loss, in (1, 2).
        quantile: level of the quantile loss, in (0, 1).
        steps_per_epoch: mini-batches per epoch (0 = one pass over `train`).
        verbose: print one line per epoch.

    Returns:
        The fitted forecaster with its per-epoch history.
    """
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"fit_forecaster: need train and val windows, got {len(train)} and {len(val)}")
    if loss not in LOSSES:
        raise ValueError(f"fit_forecaster: unknown loss {loss!r}; choose from {LOSSES}")
    loss_settings = {"loss": loss, "tweedie_power": tweedie_power, "quantile": quantile}
    rng = np.random.default_rng(seed)
    if max_train_windows is not None and len(train) > max_train_windows:
        train = train.subset(np.sort(rng.choice(len(train), max_train_windows, replace=False)))
    x_train, f_train, y_train, min_train, range_train = _tensors(train, use_features)
    val_tensors = _tensors(val, use_features)
    n_features = 0 if f_train is None else f_train.shape[1]
    rows = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LSTMForecaster(train.horizon, hidden, layers, n_features)
        if loss in LOG_LINK:
            # start at the train mean rate instead of exp(0) = the whole range per day: the count losses
            # otherwise spend their first epochs walking down from a forecast 10-100x too high
            with torch.no_grad():
                model.head.bias.fill_(float(np.log(max(float(y_train.mean()), 1e-3))))
        optimiser = torch.optim.Adam(model.parameters(), lr=lr)
        order = torch.Generator().manual_seed(seed)
        stopper = EarlyStopping(model, patience)
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            model.train()
            total = 0.0
            seen = 0
            for index in _batches(len(x_train), batch_size, steps_per_epoch, order):
                optimiser.zero_grad()
                output = model(x_train[index], None if f_train is None else f_train[index])
                batch_loss = training_loss(output, y_train[index], min_train[index], range_train[index],
                                           **loss_settings)
                batch_loss.backward()
                optimiser.step()
                total += float(batch_loss.detach()) * len(index)
                seen += len(index)
            val_loss = _mean_loss(model, val_tensors, 4096, loss_settings)
            rows.append({"epoch": epoch, "train_loss": total / seen, "val_loss": val_loss,
                         "seconds": time.perf_counter() - started})
            if verbose:
                print(f"  epoch {epoch}: train {rows[-1]['train_loss']:.5f} val {val_loss:.5f}", flush=True)
            if stopper.should_stop(epoch, val_loss):
                break
        stopper.restore()
    model.eval()
    settings = dict(hidden=hidden, layers=layers, epochs=epochs, patience=patience, batch_size=batch_size, lr=lr,
                    use_features=use_features, max_train_windows=max_train_windows, steps_per_epoch=steps_per_epoch,
                    **loss_settings)
    return FittedForecaster(model=model, use_features=use_features, history=pd.DataFrame(rows),
                            best_epoch=stopper.best_epoch, best_val_loss=float(stopper.best_loss),
                            n_train_windows=len(train), seed=seed, settings=settings, loss=loss)

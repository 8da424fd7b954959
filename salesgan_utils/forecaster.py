"""The seed study's LSTM forecaster (30-day history -> 7 days) and its training with early stopping.

Plain PyTorch rather than Lightning: the benchmark fits this small model dozens of times (seeds x variants), and a
hand loop has no per-fit Trainer overhead. Training minimises MSE on scaled values with Adam, stops when the
validation loss has not improved for `patience` epochs, and restores the best epoch's weights, so test scores
never come from last-epoch weights. Everything random (initialisation, batch order, train subsampling) follows
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
        """Map (B, L) histories (and (B, F) features) to (B, H) scaled forecasts."""
        _, (hidden, _) = self.lstm(history.unsqueeze(-1))
        summary = hidden[-1]
        if self.n_features:
            summary = torch.cat([summary, features], dim=1)
        return self.head(summary)


def _features(windows: WindowSet) -> np.ndarray:
    return np.concatenate([windows.calendar.reshape(len(windows), -1), windows.reviews], axis=1).astype(np.float32)


def _tensors(windows: WindowSet, use_features: bool) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    history = torch.as_tensor(np.asarray(windows.history, dtype=np.float32))
    features = torch.as_tensor(_features(windows)) if use_features else None
    target = torch.as_tensor(np.asarray(windows.target, dtype=np.float32))
    return history, features, target


@dataclass
class FittedForecaster:
    """A trained LSTM forecaster with its training record.

    Attributes:
        model: the network, holding the best-validation weights.
        use_features: whether it reads calendar + reviews.
        history: one row per epoch: epoch, train_loss, val_loss (MSE on scaled values), seconds.
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

    def predict(self, windows: WindowSet, batch_size: int = 2048) -> np.ndarray:
        """Scaled forecasts for `windows`.

        Args:
            windows: windows to forecast (only history, and calendar/reviews if `use_features`, are read).
            batch_size: windows per forward pass.

        Returns:
            (N, H) float32 scaled forecasts; `windows.to_units` gives units.
        """
        history, features, _ = _tensors(windows, self.use_features)
        self.model.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(history), batch_size):
                stop = start + batch_size
                out.append(self.model(history[start:stop], None if features is None else features[start:stop]))
        return torch.cat(out).numpy() if out else np.zeros((0, self.model.head.out_features), np.float32)


def _mean_loss(model: LSTMForecaster, history, features, target, batch_size: int) -> float:
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(history), batch_size):
            stop = start + batch_size
            prediction = model(history[start:stop], None if features is None else features[start:stop])
            total += float(((prediction - target[start:stop]) ** 2).sum())
    return total / max(1, target.numel())


def fit_forecaster(train: WindowSet, val: WindowSet, *, seed: int = 0, hidden: int = 128, layers: int = 2,
                   epochs: int = 50, patience: int = 5, batch_size: int = 128, lr: float = 1e-3,
                   use_features: bool = False, max_train_windows: int | None = None,
                   verbose: bool = False) -> FittedForecaster:
    """Train the LSTM forecaster with early stopping on validation MSE and restore its best weights.

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
        verbose: print one line per epoch.

    Returns:
        The fitted forecaster with its per-epoch history.
    """
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"fit_forecaster: need train and val windows, got {len(train)} and {len(val)}")
    rng = np.random.default_rng(seed)
    if max_train_windows is not None and len(train) > max_train_windows:
        train = train.subset(np.sort(rng.choice(len(train), max_train_windows, replace=False)))
    x_train, f_train, y_train = _tensors(train, use_features)
    x_val, f_val, y_val = _tensors(val, use_features)
    n_features = 0 if f_train is None else f_train.shape[1]
    rows = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LSTMForecaster(train.horizon, hidden, layers, n_features)
        optimiser = torch.optim.Adam(model.parameters(), lr=lr)
        order = torch.Generator().manual_seed(seed)
        best_loss, best_epoch, best_state, waited = float("inf"), 0, copy.deepcopy(model.state_dict()), 0
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            model.train()
            total = 0.0
            for index in torch.randperm(len(x_train), generator=order).split(batch_size):
                optimiser.zero_grad()
                prediction = model(x_train[index], None if f_train is None else f_train[index])
                loss = ((prediction - y_train[index]) ** 2).mean()
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * len(index)
            val_loss = _mean_loss(model, x_val, f_val, y_val, 4096)
            rows.append({"epoch": epoch, "train_loss": total / len(x_train), "val_loss": val_loss,
                         "seconds": time.perf_counter() - started})
            if verbose:
                print(f"  epoch {epoch}: train {rows[-1]['train_loss']:.5f} val {val_loss:.5f}", flush=True)
            if val_loss < best_loss:
                best_loss, best_epoch, waited = val_loss, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                waited += 1
                if waited >= patience:
                    break
        model.load_state_dict(best_state)
    model.eval()
    settings = dict(hidden=hidden, layers=layers, epochs=epochs, patience=patience, batch_size=batch_size, lr=lr,
                    use_features=use_features, max_train_windows=max_train_windows)
    return FittedForecaster(model=model, use_features=use_features, history=pd.DataFrame(rows),
                            best_epoch=best_epoch, best_val_loss=float(best_loss), n_train_windows=len(train),
                            seed=seed, settings=settings)

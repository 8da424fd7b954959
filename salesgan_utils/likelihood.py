"""A likelihood-trained recurrent forecaster (DeepAR-style): the probabilistic model a forecaster would pick.

The yardstick the GAN must beat as a probabilistic forecaster. An LSTM reads the window's history in
units divided by its own scale v = 1 + mean(history) (DeepAR's scaling, so one network serves best sellers and
near-dead products), its head also reads the calendar of the target days and the review features (the GAN's
condition), and it emits, for each of the H target days, the mean μ = v · softplus(·) and the dispersion α of a
negative binomial (variance μ + αμ²). It is trained by maximum likelihood on whole-unit targets, with early stopping
on the validation negative log-likelihood and the best epoch restored.

Unlike DeepAR, the H days are emitted at once from the history's encoding (a direct multi-horizon head, no
ancestral feeding of sampled days): the days are then conditionally independent given the history, which leaves
each day's marginal, hence the CRPS, PIT and coverage scored here, unaffected. Training randomness is part of
inference: `fit_ensemble` trains one model per seed and `sample_ensemble` draws an equal share of the K paths from
each.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .forecaster import EarlyStopping

_MIN_DISPERSION = 1e-4


class NegBinLSTM(nn.Module):
    """LSTM over the scaled history + features → per-day negative-binomial mean and dispersion.

    Args:
        horizon: H.
        hidden: LSTM width.
        layers: LSTM layers.
        n_features: length of the feature vector (H · C + R), 0 for history only.
    """

    def __init__(self, horizon: int = 7, hidden: int = 64, layers: int = 2, n_features: int = 0):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden + n_features, 2 * horizon)
        self.horizon, self.n_features = horizon, n_features

    def forward(self, history_units: torch.Tensor, features: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Args: history_units (B, L), features (B, F). Returns: mean (B, H) in units, dispersion α (B, H)."""
        scale = 1.0 + history_units.mean(dim=1, keepdim=True)
        _, (hidden, _) = self.lstm((history_units / scale).unsqueeze(-1))
        summary = hidden[-1] if not self.n_features else torch.cat([hidden[-1], features], dim=1)
        raw_mean, raw_dispersion = self.head(summary).split(self.horizon, dim=1)
        return scale * nn.functional.softplus(raw_mean), nn.functional.softplus(raw_dispersion) + _MIN_DISPERSION


def negbin_nll(y: torch.Tensor, mean: torch.Tensor, dispersion: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of counts y under NB(mean μ, dispersion α): variance μ + αμ².

    Args:
        y: counts (any shape).
        mean: μ > 0, same shape.
        dispersion: α > 0, same shape.

    Returns:
        Scalar mean NLL.
    """
    size = 1.0 / dispersion
    log_p = (torch.lgamma(y + size) - torch.lgamma(size) - torch.lgamma(y + 1.0)
             + size * torch.log(size / (size + mean)) + y * torch.log(mean / (size + mean) + 1e-12))
    return -log_p.mean()


def _arrays(windows, use_features: bool) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    history = torch.as_tensor(np.asarray(windows.to_units(windows.history), dtype=np.float32))
    target = torch.as_tensor(np.round(np.asarray(windows.to_units(windows.target), dtype=np.float32)))
    features = None
    if use_features:
        flat = np.concatenate([windows.calendar.reshape(len(windows), -1), windows.reviews], axis=1)
        features = torch.as_tensor(flat.astype(np.float32))
    return history, features, target


@dataclass
class FittedLikelihoodLSTM:
    """A trained `NegBinLSTM` with its record.

    Attributes:
        model: the network (best-validation weights).
        use_features: whether it reads calendar + reviews.
        best_epoch: 1-based epoch restored.
        best_val_nll: its validation NLL per value.
        epochs_run: epochs trained before stopping.
        seed: seed of the fit.
    """

    model: NegBinLSTM
    use_features: bool
    best_epoch: int
    best_val_nll: float
    epochs_run: int
    seed: int

    @torch.no_grad()
    def distribution(self, windows, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Per-window, per-day NB mean (units) and dispersion: two (N, H) arrays."""
        history, features, _ = _arrays(windows, self.use_features)
        self.model.eval()
        means, dispersions = [], []
        for start in range(0, len(history), batch_size):
            rows = slice(start, start + batch_size)
            mean, dispersion = self.model(history[rows], None if features is None else features[rows])
            means.append(mean)
            dispersions.append(dispersion)
        return torch.cat(means).double().numpy(), torch.cat(dispersions).double().numpy()


def fit_likelihood_lstm(train, val, *, seed: int = 0, hidden: int = 64, layers: int = 2, epochs: int = 15,
                        patience: int = 3, batch_size: int = 128, lr: float = 1e-3, use_features: bool = True
                        ) -> FittedLikelihoodLSTM:
    """Maximum-likelihood training of the NB LSTM with early stopping on validation NLL.

    Args:
        train: training windows (real only).
        val: validation windows.
        seed: seed of initialisation and batch order (inside `torch.random.fork_rng`: the caller's RNG is untouched).
        hidden, layers: LSTM size.
        epochs: maximum epochs.
        patience: epochs without a validation improvement before stopping.
        batch_size: mini-batch size.
        lr: Adam learning rate.
        use_features: also read calendar + reviews (the GAN's condition).

    Returns:
        The fitted model.
    """
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"fit_likelihood_lstm: need train and val windows, got {len(train)} and {len(val)}")
    x, f, y = _arrays(train, use_features)
    xv, fv, yv = _arrays(val, use_features)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = NegBinLSTM(train.horizon, hidden, layers, 0 if f is None else f.shape[1])
        optimiser = torch.optim.Adam(model.parameters(), lr=lr)
        order = torch.Generator().manual_seed(seed)
        stopper, epoch = EarlyStopping(model, patience), 0
        for epoch in range(1, epochs + 1):
            model.train()
            for index in torch.randperm(len(x), generator=order).split(batch_size):
                optimiser.zero_grad()
                negbin_nll(y[index], *model(x[index], None if f is None else f[index])).backward()
                optimiser.step()
            model.eval()
            with torch.no_grad():
                val_nll = float(negbin_nll(yv, *model(xv, fv)))
            if stopper.should_stop(epoch, val_nll):
                break
        stopper.restore()
    model.eval()
    return FittedLikelihoodLSTM(model=model, use_features=use_features, best_epoch=stopper.best_epoch,
                                best_val_nll=stopper.best_loss, epochs_run=epoch, seed=seed)


def fit_ensemble(train, val, seeds, **settings) -> list[FittedLikelihoodLSTM]:
    """One `fit_likelihood_lstm` per seed (training randomness, to be sampled over by `sample_ensemble`)."""
    return [fit_likelihood_lstm(train, val, seed=int(seed), **settings) for seed in seeds]


def sample_ensemble(models: list[FittedLikelihoodLSTM], windows, k: int, seed: int) -> np.ndarray:
    """K whole-unit paths per window, an equal share drawn from each seed's model (gamma-Poisson draws).

    Args:
        models: fitted models (one per training seed).
        windows: the windows to forecast.
        k: samples per window; model i contributes ⌈k/M⌉ or ⌊k/M⌋ of them.
        seed: seed of the draws.

    Returns:
        (N, K, H) float64 samples in units.
    """
    if not models:
        raise ValueError("sample_ensemble: no models")
    rng = np.random.default_rng(seed)
    shares = [len(part) for part in np.array_split(np.arange(k), len(models))]
    parts = []
    for fitted, share in zip(models, shares):
        if share == 0:
            continue
        mean, dispersion = fitted.distribution(windows)
        size = 1.0 / dispersion
        shape = (mean.shape[0], share, mean.shape[1])
        # gamma(shape = r, scale = μ / r) has mean μ and variance αμ²; Poisson over it is NB(μ, α)
        rate = rng.gamma(np.broadcast_to(size[:, None, :], shape), np.broadcast_to((mean / size)[:, None, :], shape))
        parts.append(rng.poisson(rate).astype(np.float64))
    return np.concatenate(parts, axis=1)

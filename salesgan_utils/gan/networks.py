"""The three networks of the conditional WGAN-GP and the straight-through operations they use.

    history (B, 30) ──LSTM──┐
    calendar (B, H, C) ─────┼─dense─▶ fuse ─▶ condition embedding (B, cond_dim)
    reviews (B, R) ──dense──┘
    G(z | c):  [z, c] ─▶ projection (+ per-day noise with `step_noise`) ─▶ GRU over the H target steps
               ─▶ clamped head (B, H), whole units with `count_output`
    D(x | c):  x (B, H) (after the last H history days with `critic_reads_history`) ─▶ Conv1d stack
               ─▶ pooled or per-day features ─┬▶ fuse ─▶ raw score (B,)      (spectral norm on every layer)
               c ────────────────────────────┘
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .config import GanConfig

_LEAKY_SLOPE = 0.2


def straight_through_relu(x: torch.Tensor) -> torch.Tensor:
    """ReLU in the forward pass, identity in the backward pass (a straight-through estimator).

    Exact zeros come out, but no unit can die: the gradient below 0 is the one the output would have had.
    """
    return x + (x.clamp(min=0) - x).detach()


def straight_through_round(x: torch.Tensor) -> torch.Tensor:
    """Rounding to the nearest integer in the forward pass, identity in the backward pass: whole units out, a
    gradient still flows."""
    return x + (torch.round(x) - x).detach()


class ConditionEncoder(nn.Module):
    """Fuses history, target-day calendar and reviews into one embedding (B, cond_dim).

    The LSTM reads the history as a sequence of scalars and contributes its last hidden state; calendar (flattened
    over the H target days, so each day keeps its position) and reviews pass through one dense layer each.
    """

    def __init__(self, config: GanConfig):
        super().__init__()
        self.history_rnn = nn.LSTM(input_size=1, hidden_size=config.history_hidden,
                                   num_layers=config.history_layers, batch_first=True)
        self.calendar_dense = nn.Sequential(
            nn.Linear(config.horizon * config.calendar_dim, config.calendar_hidden), nn.ReLU())
        self.review_dense = nn.Sequential(nn.Linear(config.review_dim, config.review_hidden), nn.ReLU())
        fused = config.history_hidden + config.calendar_hidden + config.review_hidden
        self.fuse = nn.Sequential(nn.Linear(fused, config.cond_dim), nn.ReLU())

    def forward(self, history: torch.Tensor, calendar: torch.Tensor, reviews: torch.Tensor) -> torch.Tensor:
        """Args: history (B, L), calendar (B, H, C), reviews (B, R). Returns: (B, cond_dim)."""
        _, (h_last, _) = self.history_rnn(history.unsqueeze(-1))
        parts = [h_last[-1], self.calendar_dense(calendar.flatten(1)), self.review_dense(reviews)]
        return self.fuse(torch.cat(parts, dim=1))


class Generator(nn.Module):
    """G(z | c): noise and condition embedding → projection → GRU over the H target steps → per-step head.

    The projection is the input of every GRU step; the GRU's state carries the position, and with `step_noise` a
    linear map of a fresh noise vector per day is added to each step's input. The head clamps at 0 (scaled sales
    have a majority of exact zeros; softplus would only approach 0) and passes the gradient straight through
    (`straight_through_relu`): a plain ReLU head died on the real tables, every output stuck at 0. No upper bound:
    validation and test values may exceed the train-period maximum.
    """

    def __init__(self, config: GanConfig):
        super().__init__()
        self.horizon, self.noise_dim, self.count_output = config.horizon, config.noise_dim, config.count_output
        self.project = nn.Sequential(nn.Linear(config.noise_dim + config.cond_dim, config.gru_hidden), nn.ReLU())
        self.step_noise = nn.Linear(config.noise_dim, config.gru_hidden) if config.step_noise else None
        self.rnn = nn.GRU(input_size=config.gru_hidden, hidden_size=config.gru_hidden,
                          num_layers=config.gru_layers, batch_first=True)
        self.head = nn.Linear(config.gru_hidden, 1)

    def forward(self, noise: torch.Tensor, embedding: torch.Tensor, scale_min: torch.Tensor | None = None,
                scale_range: torch.Tensor | None = None) -> torch.Tensor:
        """Args: noise (B, noise_width), embedding (B, cond_dim), and with `count_output` the network scales
        (B,) each (units = value · range + min; `scaling.network_scales`). Returns: (B, H) non-negative sequences
        in the network space; whole units when `count_output`."""
        step_input = self.project(torch.cat([noise[:, :self.noise_dim], embedding], dim=1))
        step_input = step_input.unsqueeze(1).expand(-1, self.horizon, -1)
        if self.step_noise is not None:
            day_noise = noise[:, self.noise_dim:self.noise_dim * (1 + self.horizon)]
            step_input = step_input + self.step_noise(day_noise.reshape(-1, self.horizon, self.noise_dim))
        steps, _ = self.rnn(step_input)
        scaled = straight_through_relu(self.head(steps).squeeze(-1))
        if not self.count_output:
            return scaled
        if scale_min is None or scale_range is None:
            raise ValueError("Generator: count_output needs the windows' scale_min and scale_range")
        low, width = scale_min.to(scaled).unsqueeze(1), scale_range.to(scaled).unsqueeze(1)
        return (straight_through_round(scaled * width + low) - low) / width


class Critic(nn.Module):
    """D(x | c): Conv1d stack over the sequence, pooled, fused with the condition, raw score; spectral norm on
    every layer.

    No recurrent layer lies between the sequence and the score: the gradient penalty backpropagates through the
    score's derivative, and cuDNN RNNs have no double backward (the condition is held fixed, so the encoder's LSTM
    needs only a first derivative). No dropout, so none is active while the penalty is computed. With
    `critic_reads_history` the last H history days precede the target in the convolved sequence (they are the
    condition, not part of the penalty's interpolation) and each target day's features keep their position.
    """

    def __init__(self, config: GanConfig):
        super().__init__()
        layers, channels = [], 1
        for out in config.critic_channels:
            layers += [spectral_norm(nn.Conv1d(channels, out, kernel_size=3, padding=1)), nn.LeakyReLU(_LEAKY_SLOPE)]
            channels = out
        self.convs = nn.Sequential(*layers)
        self.horizon, self.reads_history = config.horizon, config.critic_reads_history
        features = channels * config.horizon if self.reads_history else channels
        self.fuse = nn.Sequential(spectral_norm(nn.Linear(features + config.cond_dim, config.critic_hidden)),
                                  nn.LeakyReLU(_LEAKY_SLOPE))
        self.score = spectral_norm(nn.Linear(config.critic_hidden, 1))

    def forward(self, sequence: torch.Tensor, embedding: torch.Tensor,
                history: torch.Tensor | None = None) -> torch.Tensor:
        """Args: sequence (B, H), embedding (B, cond_dim), history (B, L) when `critic_reads_history`.
        Returns: (B,) raw scores (no sigmoid)."""
        if self.reads_history:
            if history is None:
                raise ValueError("Critic: critic_reads_history needs the history")
            # the last H history days suffice: three kernel-3 layers see 3 days back from the first target day,
            # and the condition embedding summarises the whole history (all 30 days cost 2.3x per update)
            joined = torch.cat([history[:, -self.horizon:].to(sequence), sequence], dim=1).unsqueeze(1)
            pooled = self.convs(joined)[:, :, -self.horizon:].flatten(1)
        else:
            pooled = self.convs(sequence.unsqueeze(1)).mean(dim=2)
        return self.score(self.fuse(torch.cat([pooled, embedding], dim=1))).squeeze(-1)

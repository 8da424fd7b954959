"""The conditional WGAN-GP of stage 02: condition encoder, generator, critic, gradient penalty, LightningModule.

The seed design, sizes from `GanConfig` (defaults = the seed):

    history (B, 30) ──LSTM──┐
    calendar (B, H, C) ─────┼─dense─▶ fuse ─▶ condition embedding (B, cond_dim)
    reviews (B, R) ──dense──┘
    G(z | c):  [z (B, noise_dim), c] ─▶ projection ─▶ GRU (layers × hidden) over the H target steps
               ─▶ clamped head (B, H)
    D(x | c):  x (B, H) ─▶ Conv1d stack ─▶ average pool ─┐
               c ──────────────────────────────────────┴▶ fuse ─▶ raw score (B,)   (spectral norm on its layers)

Issue 11's levers (`GAN_VARIANTS`, chosen by `gan_variant`) change this: fresh noise added to every GRU step
(`step_noise`), whole-unit outputs by straight-through rounding (`count_output`), a critic whose convolution reads
history + target as one sequence (`critic_reads_history`), layer norm instead of spectral norm (`critic_norm`),
log(1 + units) instead of per-product min-max scaling inside both networks (`sequence_scale`).

`WGANGP` trains them with manual optimisation: `n_critic` critic updates (Wasserstein loss + λ·gradient penalty)
then one generator update, and validates by the CRPS of K generated samples against the real targets, in units.
How it is trained (Trainer, callbacks, loggers, devices, resume) lives in `salesgan_utils.train`; this module holds
only what is trained.

Randomness: every draw the training step makes (noise, interpolation weights) comes from a generator seeded by
`(noise_seed, step)`, drawn for the *global* batch and sliced per rank. So a resumed run draws exactly what an
uninterrupted one would, and a 2-process DDP run sees the same noise rows as a 1-process run of the same global
batch (the basis of the DDP test in tests/code/test_train.py).
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from .data import units_from_scaled
from .metrics import conditional_means, crps_fair

_LEAKY_SLOPE = 0.2
SEQUENCE_SCALES = ("minmax", "log1p", "window_mean")
COUNT_ROUNDINGS = ("nearest", "stochastic")


@dataclass
class GanConfig:
    """Sizes and optimisation settings of the conditional WGAN-GP; the defaults are the seed's.

    `shared_encoder` defaults to False, one condition encoder for G and one for D, as the seed's *code* had (its
    text said "shared"). Reasons to keep that default: the results stay comparable with the seed's code; each
    player optimises its own condition features with its own optimiser and learning rate, with no tug-of-war on one
    set of weights; and the critic's features cannot be trained (or sabotaged) through the generator's loss. With
    `shared_encoder=True` there is one encoder, owned and trained by the generator's optimiser; the critic reads
    its embedding detached during its own updates.

    Attributes:
        noise_dim: size of the noise vector z.
        cond_dim: size of the fused condition embedding.
        history_hidden: hidden size of the LSTM over the history.
        history_layers: LSTM layers; 2 reproduces the seed-size counts measured in FINDINGS (G 2.32M, D 1.29M).
        calendar_hidden: width of the dense layer over the flattened calendar of the target days.
        review_hidden: width of the dense layer over the review features.
        gru_hidden: hidden size of the generator's GRU.
        gru_layers: number of GRU layers.
        critic_channels: output channels of the critic's Conv1d stack.
        critic_hidden: width of the critic's fusion layer (pooled sequence features + condition).
        shared_encoder: one encoder for G and D (see above).
        n_critic: critic updates per generator update.
        gp_lambda: weight λ of the gradient penalty.
        one_sided_gp: penalise only gradient norms above 1 (Petzka et al. 2018, "On the regularization of
            Wasserstein GANs") instead of the seed's two-sided (||∇|| − 1)². False = the seed. Every profile sets
            True, because the seed's combination fails on Olist: the critic is spectrally normalised, so its
            gradient norm is at most 1 and the two-sided penalty only pushes it up, in whatever direction the
            initial weights point. On the real tables (quick profile) the critic locked onto the wrong sign
            (D(real) < D(fake), Wasserstein estimate -0.16 after 90 updates against fakes fixed at 0) because
            turning round means passing through norm 0, a barrier of λ = 10 against a gain of ~0.06 (the mean
            scaled sale); the generator then drove every output to 0 within 3 epochs. With the one-sided penalty
            the same run reached +0.18 and the generator kept ~50% non-zero outputs (2026-11-28).
        lr_g: generator learning rate (Adam).
        lr_d: critic learning rate (Adam).
        betas: Adam betas of both optimisers.
        batch_size: the *global* batch (split over DDP ranks, so the mathematics do not depend on the device count).
        val_samples: K samples per validation window for the validation CRPS.
        history_days: L, days of history.
        horizon: H, target days.
        calendar_dim: C, calendar features per target day.
        review_dim: R, review features per window.
        gan_variant: name of the lever set in `GAN_VARIANTS` this config was built from ("seed" = the seed).
        step_noise: fresh noise at every generator step (a linear map of a per-day noise vector added to each GRU
            input; RCGAN/TimeGAN practice). Without it the only day-to-day variation is the GRU's smooth state and
            the samples come out flat (lag-1 autocorrelation 0.99 against 0.34 real on Olist, issue 11).
        count_output: the generator emits whole units: its output is rounded in units (the window's own scale)
            with a straight-through gradient. Sales are counts; continuous samples give themselves away.
        critic_reads_history: the critic's Conv1d stack reads the last H history days and the target as one
            sequence and scores the target days' features (position kept), so it can compare the first target day
            with the last history days; False = the seed's target-only convolution, mean-pooled.
        critic_norm: "spectral" (the seed: spectral norm on every critic layer, which keeps the gradient norm
            under 1 so a one-sided penalty never binds) or "layer" (the original WGAN-GP: no spectral norm, layer
            norm in the critic; pair it with the two-sided penalty).
        sequence_scale: the space the two networks read and write sequences in. "minmax" (the seed): the
            windows' per-entity min-max scaling, so one unit of a product whose train maximum was 20 a day is a
            0.05 step, which a 1-Lipschitz critic barely sees, and spurious single sales on silent products cost
            the generator almost nothing. "log1p": log(1 + units), the same for every product (a 0 → 1 step is
            0.69 everywhere), compressing the rare large days. "window_mean": units ÷ v with v = 1 + the mean of
            the window's own 30-day history in units (DeepAR's scaling, the one `likelihood.NegBinLSTM` uses), so
            the networks see each history relative to its recent level, whatever the product's size and however
            demand shifted since the train period. Either way `sample` and `forward` take and return the windows'
            scaled values; only the inside changes.
        crps_weight: weight λ of a proper scoring rule added to the generator's loss: −E[D(G(z|c))] +
            λ·CRPS, the fair CRPS in units of two independent samples per window, ½(|a − y| + |b − y|) − ½|a − b|,
            averaged over the days. Its expectation is the CRPS of the generator's predictive distribution, minimised
            only by the true conditional distribution, so it pulls each window's samples to the right level and
            spread without shrinking them to a point (the critic alone left products with 30 silent days at 2–3×
            their real level, issue 11). 0 (the seed) = the pure adversarial loss.
        crps_samples: m, the samples per window in that CRPS term (m ≥ 2): the fair estimator over m draws,
            mean |x_i − y| − Σ_{i≠j} |x_i − x_j| / (2m(m − 1)), has the same expectation for every m and less
            variance the larger m; the extra m − 1 draws go through the generator in one batched call.
        count_rounding: how `count_output` rounds units: "nearest" (round half to even) or "stochastic"
            (⌊x + u⌋ with u ~ U(0, 1) from H extra noise values per sequence, so E[output] = x exactly). Nearest
            rounding maps every x in [0, 0.5) to 0, a plateau where a silent window's outputs drift without any
            gradient until they cross 0.5 and a spurious unit appears; stochastic rounding is unbiased, so the
            straight-through gradient is right on average for anything linear in the output (the mean, the CRPS's
            |x − y| away from y).
        generator_ema: decay d of an exponential moving average of the generator's weights (its encoder
            included), updated after every generator step, d_t = min(d, (1 + t) / (10 + t)) so that the first
            steps do not freeze the random initial weights in; sampling, validation (hence the kept checkpoint) and
            stage 03 use the averaged weights (Yazıcı et al. 2019, "The unusual effectiveness of averaging in GAN
            training"; StyleGAN/BigGAN practice). A GAN's generator oscillates around its equilibrium from step to
            step; the average sits near the centre, so the sampled level of a window depends less on which epoch
            the checkpoint rule happened to keep. 0 (the seed) = no average, sample with the trained weights.
    """

    noise_dim: int = 128
    cond_dim: int = 512
    history_hidden: int = 256
    history_layers: int = 2
    calendar_hidden: int = 64
    review_hidden: int = 32
    gru_hidden: int = 256
    gru_layers: int = 3
    critic_channels: tuple = (64, 128, 256)
    critic_hidden: int = 256
    shared_encoder: bool = False
    n_critic: int = 5
    gp_lambda: float = 10.0
    one_sided_gp: bool = False
    lr_g: float = 1e-4
    lr_d: float = 4e-4
    betas: tuple = (0.0, 0.9)
    batch_size: int = 128
    val_samples: int = 8
    history_days: int = 30
    horizon: int = 7
    calendar_dim: int = 10
    review_dim: int = 3
    gan_variant: str = "seed"
    step_noise: bool = False
    count_output: bool = False
    critic_reads_history: bool = False
    critic_norm: str = "spectral"
    sequence_scale: str = "minmax"
    crps_weight: float = 0.0
    crps_samples: int = 2
    count_rounding: str = "nearest"
    generator_ema: float = 0.0

    @property
    def noise_width(self) -> int:
        """Noise values per generated sequence: z, plus one noise_dim vector per target day with `step_noise`,
        plus one value per target day with stochastic `count_rounding`."""
        width = self.noise_dim * (1 + self.horizon) if self.step_noise else self.noise_dim
        return width + self.horizon if self.stochastic_rounding else width

    @property
    def stochastic_rounding(self) -> bool:
        return self.count_output and self.count_rounding == "stochastic"

    def __post_init__(self):
        # YAML and checkpoints hand lists back; tuples keep the config hashable and comparable
        self.critic_channels = tuple(int(c) for c in self.critic_channels)
        self.betas = tuple(float(b) for b in self.betas)
        if self.n_critic < 1 or self.batch_size < 1 or self.val_samples < 1 or not self.critic_channels:
            raise ValueError(f"GanConfig: n_critic, batch_size, val_samples must be >= 1 and critic_channels "
                             f"non-empty, got {self}")
        if self.critic_norm not in ("spectral", "layer"):
            raise ValueError(f"GanConfig: critic_norm must be 'spectral' or 'layer', got {self.critic_norm!r}")
        if self.crps_samples < 2:
            raise ValueError(f"GanConfig: crps_samples must be >= 2 (the fair CRPS needs two draws), got "
                             f"{self.crps_samples}")
        if self.count_rounding not in COUNT_ROUNDINGS:
            raise ValueError(f"GanConfig: count_rounding must be one of {COUNT_ROUNDINGS}, got "
                             f"{self.count_rounding!r}")
        if not 0.0 <= self.generator_ema < 1.0:
            raise ValueError(f"GanConfig: generator_ema must be a decay in [0, 1) (0 = off), got "
                             f"{self.generator_ema}")
        if self.sequence_scale not in SEQUENCE_SCALES:
            raise ValueError(f"GanConfig: sequence_scale must be one of {SEQUENCE_SCALES}, got "
                             f"{self.sequence_scale!r}")

    @classmethod
    def from_dict(cls, values: dict) -> GanConfig:
        """Build from a dict (params file, checkpoint), rejecting unknown keys by name."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"GanConfig: unknown keys {unknown}; known keys are {sorted(known)}")
        return cls(**values)

    @classmethod
    def from_params(cls, params: dict) -> GanConfig:
        """Build from a whole notebook-parameter dict, taking the keys that are GanConfig fields (others are the
        Trainer's or other stages'; validating them is the `params` module's job). `gan_variant` (default: the
        seed) then sets the levers it names (`GAN_VARIANTS`), overriding the same keys in `params`."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in params.items() if key in known}
        variant = values.get("gan_variant", "seed")
        if variant not in GAN_VARIANTS:
            raise ValueError(f"GanConfig: unknown gan_variant {variant!r}; known: {sorted(GAN_VARIANTS)}")
        values.update(GAN_VARIANTS[variant])
        values["gan_variant"] = variant
        return cls(**values)

    def for_windows(self, windows) -> GanConfig:
        """This config with L, H, C, R taken from a `WindowSet` (duck-typed: models does not import windows)."""
        return dataclasses.replace(self, history_days=int(windows.history.shape[1]),
                                   horizon=int(windows.target.shape[1]), calendar_dim=int(windows.calendar.shape[2]),
                                   review_dim=int(windows.reviews.shape[1]))


# The levers of issue 11, by name. A variant sets only the fields it names; sizes and the rest come from the
# profile. `seed` is the seed configuration (with the one-sided penalty every profile sets). Each other row adds
# one lever to `step_noise`, the lever an earlier probe already showed to work (FINDINGS.md); the chosen
# combination is DEFAULT_VARIANT, measured against the others on validation in docs/gan_ablation.md.
_SEED_LEVERS = {"step_noise": False, "count_output": False, "critic_reads_history": False, "critic_norm": "spectral",
                "sequence_scale": "minmax", "crps_weight": 0.0, "crps_samples": 2, "count_rounding": "nearest",
                "generator_ema": 0.0}
# round 1's choice (step noise, whole units, a critic reading the history), the base of the later rows
_COUNTS_CRITIC = {**_SEED_LEVERS, "step_noise": True, "count_output": True, "critic_reads_history": True}
GAN_VARIANTS: dict[str, dict] = {
    "seed": dict(_SEED_LEVERS),
    "step_noise": {**_SEED_LEVERS, "step_noise": True},
    "counts": {**_SEED_LEVERS, "step_noise": True, "count_output": True},
    "sequence_critic": {**_SEED_LEVERS, "step_noise": True, "critic_reads_history": True},
    "binding_gp": {**_SEED_LEVERS, "step_noise": True, "critic_norm": "layer", "one_sided_gp": False},
    "counts_sequence_critic": dict(_COUNTS_CRITIC),
    "counts_sequence_critic_log1p": {**_COUNTS_CRITIC, "sequence_scale": "log1p"},
    "counts_sequence_critic_crps": {**_COUNTS_CRITIC, "crps_weight": 1.0},
    "counts_sequence_critic_log1p_crps": {**_COUNTS_CRITIC, "sequence_scale": "log1p", "crps_weight": 1.0},
    "counts_sequence_critic_crps5": {**_COUNTS_CRITIC, "crps_weight": 5.0},
    "counts_sequence_critic_crps20": {**_COUNTS_CRITIC, "crps_weight": 20.0},
    "counts_sequence_critic_crps5_window_mean": {**_COUNTS_CRITIC, "crps_weight": 5.0, "sequence_scale": "window_mean"},
    "counts_sequence_critic_crps5_window_mean_stochastic": {**_COUNTS_CRITIC, "crps_weight": 5.0,
                                                            "sequence_scale": "window_mean",
                                                            "count_rounding": "stochastic"},
    "counts_sequence_critic_crps5_window_mean_m8_stochastic": {**_COUNTS_CRITIC, "crps_weight": 5.0,
                                                               "sequence_scale": "window_mean", "crps_samples": 8,
                                                               "count_rounding": "stochastic"},
    "counts_sequence_critic_crps5_m8": {**_COUNTS_CRITIC, "crps_weight": 5.0, "crps_samples": 8},
    "counts_sequence_critic_crps5_stochastic": {**_COUNTS_CRITIC, "crps_weight": 5.0, "count_rounding": "stochastic"},
    "counts_sequence_critic_crps5_m8_stochastic": {**_COUNTS_CRITIC, "crps_weight": 5.0, "crps_samples": 8,
                                                   "count_rounding": "stochastic"},
    "counts_sequence_critic_binding_gp": {**_COUNTS_CRITIC, "critic_norm": "layer", "one_sided_gp": False},
    # round 4: the round-3 choice, and its best forecaster, sampled from an average of the generator's weights
    "counts_sequence_critic_crps5_ema": {**_COUNTS_CRITIC, "crps_weight": 5.0, "generator_ema": 0.995},
    "counts_sequence_critic_crps5_window_mean_ema": {**_COUNTS_CRITIC, "crps_weight": 5.0,
                                                     "sequence_scale": "window_mean", "generator_ema": 0.995},
}
DEFAULT_VARIANT = "counts_sequence_critic_crps5_window_mean"

_LEVER_WORDS = {
    "step_noise": "fresh noise at every generated day (the seed feeds one noise vector to all 7 GRU steps, which "
                  "made its samples flat)",
    "count_output": "whole-unit samples (outputs rounded in units with a straight-through gradient; the seed's "
                    "samples are continuous)",
    "critic_reads_history": "a critic that convolves the last history days and the target as one sequence (the "
                            "seed's critic sees the target alone, mean-pooled)",
    "critic_norm": "layer norm and no spectral norm in the critic, so the gradient penalty binds (the seed's "
                   "spectral norm kept the penalty at ~0)",
    "one_sided_gp": "the two-sided gradient penalty of the original WGAN-GP",
    "crps_weight": "a proper scoring rule beside the critic: the generator's loss adds {value:g} x the fair CRPS (in "
                   "units) of samples of each window against the real target, so each history gets the right level "
                   "and spread (the critic alone left silent products at 2-3x their real level)",
    "sequence_scale": {
        "log1p": "both networks read and write log(1 + units), the same scale for every product (the seed's "
                 "per-product min-max scaling made one unit of a fast seller a step the critic barely saw)",
        "window_mean": "both networks read and write units divided by 1 + the mean of the window's own history "
                       "(DeepAR's scaling, as the likelihood LSTM has; the seed scaled by each product's "
                       "train-period min and max)"},
    "crps_samples": "the CRPS term averages over more than two samples per window (less gradient noise)",
    "count_rounding": {"stochastic": "stochastic rounding to whole units (unbiased: a day at 0.3 units is 1 unit "
                                     "with probability 0.3, where nearest rounding made it 0 and gave no gradient)"},
    "generator_ema": "samples come from a moving average of the generator's weights (decay {value:g}), so the kept "
                     "checkpoint sits at the centre of the generator's step-to-step oscillation rather than wherever "
                     "the last update left it",
}


def describe_variant(config: GanConfig) -> str:
    """One plain-words line per lever in which `config` differs from the seed configuration."""
    seed = GanConfig.from_params({"gan_variant": "seed", "one_sided_gp": True})
    changed = [name for name in _LEVER_WORDS if getattr(config, name) != getattr(seed, name)]
    head = f"gan_variant = {config.gan_variant!r}: "
    if not changed:
        return head + "the seed study's design (one noise vector per sequence, continuous outputs, target-only " \
                      "spectrally normalised critic with a one-sided penalty)."
    # a lever's words are one text ({value} = the config's value) or one text per value
    words = [_LEVER_WORDS[name].format(value=getattr(config, name)) if isinstance(_LEVER_WORDS[name], str)
             else _LEVER_WORDS[name][getattr(config, name)] for name in changed]
    return head + "the seed design with\n" + "\n".join(f"  - {line}" for line in words)


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

    The projection is fed to the GRU as the input of every step; the GRU's state carries the position. The head
    clamps at 0 (a ReLU in the forward pass): scaled sales are in [0, 1] with a majority of exact zeros, and the
    clamp emits exact zeros, while softplus only approaches 0 and would need ever more negative pre-activations to
    imitate the zero mass (biasing the zero share and the CRPS). A plain ReLU has no gradient below 0, and on the
    real Olist tables that killed the generator: within 3 epochs every output sat at 0 and the validation CRPS
    froze (quick profile, 2026-11-28). So the clamp passes the critic's gradient straight through
    (`straight_through_relu`): outputs are exact zeros, yet a zero that should rise still gets pushed up. No upper
    bound (no sigmoid): validation and test values may exceed the train-period maximum (scaled > 1).
    """

    def __init__(self, config: GanConfig):
        super().__init__()
        self.horizon, self.noise_dim, self.count_output = config.horizon, config.noise_dim, config.count_output
        self.stochastic_rounding = config.stochastic_rounding
        self.log_units = config.sequence_scale == "log1p"
        self.project = nn.Sequential(nn.Linear(config.noise_dim + config.cond_dim, config.gru_hidden), nn.ReLU())
        # step_noise: a fresh noise vector per target day, mapped linearly and added to that day's GRU input
        self.step_noise = nn.Linear(config.noise_dim, config.gru_hidden) if config.step_noise else None
        self.rnn = nn.GRU(input_size=config.gru_hidden, hidden_size=config.gru_hidden,
                          num_layers=config.gru_layers, batch_first=True)
        self.head = nn.Linear(config.gru_hidden, 1)

    def forward(self, noise: torch.Tensor, embedding: torch.Tensor, scale_min: torch.Tensor | None = None,
                scale_range: torch.Tensor | None = None) -> torch.Tensor:
        """Args: noise (B, noise_width), embedding (B, cond_dim), and with `count_output` in min-max space the
        windows' scales (B,) (units = scaled · range + min). Returns: (B, H) non-negative sales in the config's
        `sequence_scale` (min-max scaled, or log(1 + units)); whole units when `count_output`."""
        step_input = self.project(torch.cat([noise[:, :self.noise_dim], embedding], dim=1))
        step_input = step_input.unsqueeze(1).expand(-1, self.horizon, -1)
        if self.step_noise is not None:
            day_noise = noise[:, self.noise_dim:self.noise_dim * (1 + self.horizon)]
            step_input = step_input + self.step_noise(day_noise.reshape(-1, self.horizon, self.noise_dim))
        steps, _ = self.rnn(step_input)
        scaled = straight_through_relu(self.head(steps).squeeze(-1))
        if not self.count_output:
            return scaled
        # the rounding noise is the last H values of each row; Φ(z) turns the Gaussian draws into U(0, 1)
        offset = torch.special.ndtr(noise[:, -self.horizon:]) if self.stochastic_rounding else None
        if self.log_units:
            return torch.log1p(straight_through_round(torch.expm1(scaled), offset))
        if scale_min is None or scale_range is None:
            raise ValueError("Generator: count_output needs the windows' scale_min and scale_range")
        low, width = scale_min.to(scaled).unsqueeze(1), scale_range.to(scaled).unsqueeze(1)
        units = straight_through_round(scaled * width + low, offset)
        return (units - low) / width


def straight_through_relu(x: torch.Tensor) -> torch.Tensor:
    """ReLU in the forward pass, identity in the backward pass (a straight-through estimator).

    Exact zeros come out, but no unit can die: the gradient below 0 is the one the output would have had.
    """
    return x + (x.clamp(min=0) - x).detach()


def straight_through_round(x: torch.Tensor, offset: torch.Tensor | None = None) -> torch.Tensor:
    """Rounding in the forward pass, identity in the backward pass: whole units out, a gradient still flows.

    `offset` None rounds to the nearest integer; an `offset` u in [0, 1) of x's shape rounds stochastically,
    ⌊x + u⌋, which for u ~ U(0, 1) is ⌊x⌋ + Bernoulli(x − ⌊x⌋), unbiased: E[⌊x + u⌋] = x.
    """
    rounded = torch.round(x) if offset is None else torch.floor(x + offset)
    return x + (rounded - x).detach()


class Critic(nn.Module):
    """D(x | c): Conv1d stack over the H-step sequence, average-pooled, fused with the condition, raw score.

    No recurrent layer lies between the sequence and the score: the gradient penalty differentiates the score
    with respect to the sequence and then backpropagates through that derivative, and cuDNN RNNs have no double
    backward (the critic's condition may come from an LSTM: the penalty holds the condition fixed, so only its
    first derivative is needed). No dropout either, so none can be active while the penalty is computed.
    Spectral norm on every layer, as in the seed, or layer norm without it (`critic_norm`). With
    `critic_reads_history` the history is part of the convolved sequence but not of the penalty's interpolation
    (it is the condition, held fixed).
    """

    def __init__(self, config: GanConfig):
        super().__init__()
        spectral = config.critic_norm == "spectral"
        norm = spectral_norm if spectral else (lambda layer: layer)
        layers, channels = [], 1
        for out in config.critic_channels:
            layers.append(norm(nn.Conv1d(channels, out, kernel_size=3, padding=1)))
            if not spectral:  # layer norm over channels x time of each sequence (no batch statistics: GP-safe)
                layers.append(nn.GroupNorm(1, out))
            layers.append(nn.LeakyReLU(_LEAKY_SLOPE))
            channels = out
        self.convs = nn.Sequential(*layers)
        self.horizon, self.reads_history = config.horizon, config.critic_reads_history
        # reading the history too: keep each target day's features in place (flattened) instead of a mean pool
        features = channels * config.horizon if self.reads_history else channels
        fuse = [norm(nn.Linear(features + config.cond_dim, config.critic_hidden))]
        fuse += [] if spectral else [nn.LayerNorm(config.critic_hidden)]
        self.fuse = nn.Sequential(*fuse, nn.LeakyReLU(_LEAKY_SLOPE))
        self.score = norm(nn.Linear(config.critic_hidden, 1))

    def forward(self, sequence: torch.Tensor, embedding: torch.Tensor,
                history: torch.Tensor | None = None) -> torch.Tensor:
        """Args: sequence (B, H), embedding (B, cond_dim), history (B, L) when `critic_reads_history`.
        Returns: (B,) raw scores (no sigmoid)."""
        if self.reads_history:
            if history is None:
                raise ValueError("Critic: critic_reads_history needs the history")
            # the last H history days suffice: three kernel-3 layers see 3 days back from the first target day,
            # and the condition embedding already summarises the whole history (all 30 days cost 2.3x per update)
            joined = torch.cat([history[:, -self.horizon:].to(sequence), sequence], dim=1).unsqueeze(1)
            pooled = self.convs(joined)[:, :, -self.horizon:].flatten(1)
        else:
            pooled = self.convs(sequence.unsqueeze(1)).mean(dim=2)
        return self.score(self.fuse(torch.cat([pooled, embedding], dim=1))).squeeze(-1)


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, cond: torch.Tensor,
                     alpha: torch.Tensor | None = None, generator: torch.Generator | None = None,
                     one_sided: bool = False) -> torch.Tensor:
    """WGAN-GP penalty E[(||∇x̂ D(x̂ | c)||₂ − 1)²] on interpolates x̂ = α·real + (1 − α)·fake, condition fixed.

    The gradient is taken with `autograd.grad(create_graph=True)` so that the caller's single backward of the
    total critic loss also differentiates the penalty (this works under DDP, unlike a second `.backward()`).

    Args:
        critic: callable `(x, cond) -> (B,)` scores.
        real: (B, ...) real sequences.
        fake: (B, ...) generated sequences; detached here, the penalty must not train the generator.
        cond: the critic's condition (e.g. its embedding (B, cond_dim)), held fixed across real/fake/interpolates.
        alpha: interpolation weights (B, 1, ..., 1); drawn uniformly in [0, 1) when None.
        generator: torch generator for drawing alpha (CPU), for reproducible draws.
        one_sided: penalise only norms above 1, E[max(0, ||∇|| − 1)²] (Petzka et al. 2018); see
            `GanConfig.one_sided_gp` for why the profiles use it.

    Returns:
        Scalar penalty tensor, differentiable with respect to the critic's parameters.
    """
    shape = (real.shape[0], *[1] * (real.dim() - 1))
    if alpha is None:
        alpha = torch.rand(shape, generator=generator, dtype=real.dtype).to(real.device)
    alpha = alpha.reshape(shape)
    interpolates = (alpha * real + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    scores = critic(interpolates, cond)
    (grads,) = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
    # epsilon inside the square root: the gradient of sqrt at 0 is infinite (a zero gradient would give NaN)
    norms = torch.sqrt(grads.flatten(1).pow(2).sum(dim=1) + 1e-12)
    excess = (norms - 1.0).clamp(min=0) if one_sided else norms - 1.0
    return (excess ** 2).mean()


def sample_crps(samples: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Fair CRPS of an m-sample forecast, averaged over all elements: for samples (m, ...) and target (...),
    mean_i |x_i − y| − Σ_{i≠j} |x_i − x_j| / (2m(m − 1)); at m = 2, ½(|a − y| + |b − y|) − ½|a − b|.

    With independent draws of a forecast distribution F its expectation is CRPS(F, y) exactly (the fair, K(K − 1)
    estimator; `metrics.crps_fair` is the same estimator in numpy), so as a training loss it is minimised by the
    true conditional distribution, not by a point. Differentiable (torch), for the generator's loss.
    """
    m = samples.shape[0]
    if m < 2:
        raise ValueError(f"sample_crps: needs at least 2 samples along dim 0, got {m}")
    accuracy = (samples - target.unsqueeze(0)).abs().mean(dim=0)
    spread = (samples.unsqueeze(0) - samples.unsqueeze(1)).abs().sum(dim=(0, 1)) / (2 * m * (m - 1))
    return (accuracy - spread).mean()


def _tile(scales, times: int) -> list:
    """Per-window scales (B,) each (or None) for `times` stacked copies of the batch: (times · B,), batch-major."""
    return [None if s is None else s.repeat(times) for s in scales]


def _seeded_generator(*keys: int) -> torch.Generator:
    """A CPU torch generator seeded from a tuple of ints, well mixed (SeedSequence), device-independent."""
    seed = int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, dtype=np.uint64)[0] >> 1)
    return torch.Generator().manual_seed(seed)


_VAL_STREAM = 7_777  # key of the validation noise stream, apart from the training steps' keys


class WGANGP(pl.LightningModule):
    """The conditional WGAN-GP as a LightningModule with manual optimisation.

    One training step (one batch) = `n_critic` critic updates then one generator update, each between
    `toggle_optimizer`/`untoggle_optimizer`. The critic updates reuse the *same* batch of real windows, each with
    fresh noise and interpolation weights: a step is then exactly one batch, which keeps Lightning's epoch/step
    accounting, `limit_train_batches`, checkpoints at epoch ends and DDP sharding simple, and works on tiny splits
    (the smoke profile) where `n_critic` successive slices of 128 would not exist. Because G does not change during
    the critic updates and the real batch is the same, the `n_critic` fake batches are generated in one batched,
    gradient-free forward (the same mathematics as five forwards, at better matrix-multiply efficiency).

    Batches: train `(history, calendar, reviews, target)`; validation adds `(scale_min, scale_range)` per window
    so that the validation CRPS is in units.

    Args:
        config: a `GanConfig` or its dict (checkpoints store the dict).
        noise_seed: seed of the training/validation noise streams.
    """

    def __init__(self, config: GanConfig | dict | None = None, noise_seed: int = 0):
        super().__init__()
        config = GanConfig() if config is None else config
        self.config = GanConfig.from_dict(config) if isinstance(config, dict) else config
        self.noise_seed = int(noise_seed)
        # plain types only: checkpoints then load with torch.load(weights_only=True)
        self.save_hyperparameters({"config": asdict(self.config), "noise_seed": self.noise_seed})
        self.automatic_optimization = False
        self.generator_encoder = ConditionEncoder(self.config)
        self.generator = Generator(self.config)
        # the averaged copies (GanConfig.generator_ema) sample; they are in the state dict, never in an optimiser
        self.generator_encoder_ema = self.generator_ema = None
        if self.config.generator_ema > 0:
            self.generator_encoder_ema = copy.deepcopy(self.generator_encoder).requires_grad_(False)
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.critic_encoder = None if self.config.shared_encoder else ConditionEncoder(self.config)
        self.critic = Critic(self.config)
        # completed training steps; in the state dict so that a resumed run continues the noise streams exactly
        self.register_buffer("train_steps", torch.zeros((), dtype=torch.int64))

    # ---- building blocks -------------------------------------------------------------------------------------
    def generator_parameters(self) -> list:
        return list(self.generator_encoder.parameters()) + list(self.generator.parameters())

    def sampling_networks(self) -> tuple[nn.Module, nn.Module]:
        """(encoder, generator) that sample: the weight averages with `generator_ema`, else the trained pair."""
        if self.generator_ema is None:
            return self.generator_encoder, self.generator
        return self.generator_encoder_ema, self.generator_ema

    @torch.no_grad()
    def update_generator_average(self) -> None:
        """One step of the generator's weight average: avg ← d·avg + (1 − d)·weights, d warmed up by step."""
        if self.generator_ema is None:
            return
        steps = int(self.train_steps)
        decay = min(self.config.generator_ema, (1 + steps) / (10 + steps))
        for averaged, trained in ((self.generator_encoder_ema, self.generator_encoder),
                                  (self.generator_ema, self.generator)):
            for avg, new in zip(averaged.parameters(), trained.parameters(), strict=True):
                avg.lerp_(new.detach(), 1.0 - decay)

    def critic_parameters(self) -> list:
        encoder = [] if self.critic_encoder is None else list(self.critic_encoder.parameters())
        return encoder + list(self.critic.parameters())

    def encode_critic_condition(self, history, calendar, reviews) -> torch.Tensor:
        """The critic's condition embedding (the generator's, when the encoder is shared)."""
        encoder = self.generator_encoder if self.critic_encoder is None else self.critic_encoder
        return encoder(history, calendar, reviews)

    def forward(self, history, calendar, reviews, noise: torch.Tensor | None = None, scale_min=None,
                scale_range=None) -> torch.Tensor:
        """One generated sequence per window: (B, H) scaled, non-negative (scales needed with `count_output` or
        log1p `sequence_scale`)."""
        if noise is None:
            noise = torch.randn(history.shape[0], self.config.noise_width, device=history.device,
                                dtype=history.dtype)
        network = self.network_scales(history, scale_min, scale_range)
        history = self.to_model_space(history, scale_min, scale_range, network)
        encoder, generator = self.sampling_networks()
        out = generator(noise, encoder(history, calendar, reviews), *network)
        return self.from_model_space(out, scale_min, scale_range, network)

    def network_scales(self, history_scaled: torch.Tensor, scale_min, scale_range) -> tuple:
        """(low, width) per window, (B,) each, with units = model value · width + low for the affine sequence
        scales: the windows' own (scale_min, scale_range) for "minmax" (and passed through for "log1p", whose
        map is not affine), (0, 1 + mean history units) for "window_mean". The generator rounds in units with
        them, and the CRPS term converts to units with them."""
        if self.config.sequence_scale != "window_mean":
            return scale_min, scale_range
        level = 1.0 + self._units(history_scaled, scale_min, scale_range).mean(dim=1)
        return torch.zeros_like(level), level

    def to_model_space(self, scaled: torch.Tensor, scale_min, scale_range, network=(None, None)) -> torch.Tensor:
        """The windows' scaled values (B, T) in the space the networks work in (`GanConfig.sequence_scale`);
        `network` is `network_scales(history, ...)`, needed for "window_mean"."""
        if self.config.sequence_scale == "minmax":
            return scaled
        units = self._units(scaled, scale_min, scale_range)
        if self.config.sequence_scale == "log1p":
            return torch.log1p(units)
        return units / self._scales(*network, scaled)[1]

    def from_model_space(self, values: torch.Tensor, scale_min, scale_range, network=(None, None)) -> torch.Tensor:
        """The inverse of `to_model_space`: network outputs (B, T) back to the windows' scaled values."""
        if self.config.sequence_scale == "minmax":
            return values
        low, width = self._scales(scale_min, scale_range, values)
        units = torch.expm1(values) if self.config.sequence_scale == "log1p" else values * self._scales(*network,
                                                                                                        values)[1]
        if self.config.count_output:  # n · v / v, exp(log(1 + n)) - 1: n up to the last bits; give back exact units
            units = torch.round(units)
        return (units - low) / width

    def _units(self, scaled: torch.Tensor, scale_min, scale_range) -> torch.Tensor:
        low, width = self._scales(scale_min, scale_range, scaled)
        return (scaled * width + low).clamp(min=0)

    def _scales(self, scale_min, scale_range, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if scale_min is None or scale_range is None:
            raise ValueError(f"WGANGP: sequence_scale={self.config.sequence_scale!r} needs the windows' scale_min "
                             "and scale_range")
        return (torch.as_tensor(scale_min).to(like).reshape(-1, 1),
                torch.as_tensor(scale_range).to(like).reshape(-1, 1))

    @torch.no_grad()
    def sample(self, history, calendar, reviews, k: int, noise: torch.Tensor | None = None,
               generator: torch.Generator | None = None, scale_min: torch.Tensor | None = None,
               scale_range: torch.Tensor | None = None) -> torch.Tensor:
        """K generated sequences per window, the condition encoded once per window.

        Args:
            history, calendar, reviews: one batch of conditions (B, ...).
            k: samples per window.
            noise: (B * k, noise_width) noise, window-major (rows i*k .. i*k+k-1 belong to window i); drawn when
                None.
            generator: CPU torch generator for drawing the noise.
            scale_min, scale_range: (B,) the windows' scales; required with `count_output` (rounding in units).

        Returns:
            (B, k, H) scaled samples.
        """
        batch = history.shape[0]
        if noise is None:
            noise = torch.randn(batch * k, self.config.noise_width, generator=generator, dtype=history.dtype)
        network = self.network_scales(history, scale_min, scale_range)
        history = self.to_model_space(history, scale_min, scale_range, network)
        encoder, generator = self.sampling_networks()
        embedding = encoder(history, calendar, reviews).repeat_interleave(k, dim=0)
        scales, network = ([None if s is None else torch.as_tensor(s).to(embedding).repeat_interleave(k, dim=0)
                            for s in pair] for pair in ((scale_min, scale_range), network))
        out = generator(noise.to(embedding), embedding, *network)
        return self.from_model_space(out, *scales, network).reshape(batch, k, -1)

    # ---- training --------------------------------------------------------------------------------------------
    def configure_optimizers(self):
        cfg = self.config
        opt_g = torch.optim.Adam(self.generator_parameters(), lr=cfg.lr_g, betas=cfg.betas)
        opt_d = torch.optim.Adam(self.critic_parameters(), lr=cfg.lr_d, betas=cfg.betas)
        return [opt_g, opt_d]

    def _rank_rows(self, global_draw: torch.Tensor, local_batch: int) -> torch.Tensor:
        """This rank's rows of a draw made for the global batch (rows rank, rank + W, ...), as the sampler shards."""
        world, rank = (self.trainer.world_size, self.trainer.global_rank) if self._trainer is not None else (1, 0)
        rows = global_draw[..., rank::world, :] if world > 1 else global_draw
        return rows[..., :local_batch, :].to(self.device)

    def _step_draws(self, local_batch: int) -> dict:
        """Noise and interpolation weights of this step, from the (noise_seed, step) stream."""
        cfg = self.config
        world = self.trainer.world_size if self._trainer is not None else 1
        rows = local_batch * world
        gen = _seeded_generator(self.noise_seed, int(self.train_steps))
        return {
            "critic_noise": self._rank_rows(torch.randn(cfg.n_critic, rows, cfg.noise_width, generator=gen),
                                            local_batch),
            "alpha": self._rank_rows(torch.rand(cfg.n_critic, rows, 1, generator=gen), local_batch),
            "generator_noise": self._rank_rows(torch.randn(rows, cfg.noise_width, generator=gen), local_batch),
            # drawn last: the streams above are the same with and without the CRPS term
            # (m − 1, B, width): the draws beside the adversarial one in the CRPS term
            "crps_noise": (self._rank_rows(torch.randn(cfg.crps_samples - 1, rows, cfg.noise_width, generator=gen),
                                           local_batch)
                           if cfg.crps_weight > 0 else None),
        }

    def _critic_fn(self, history):
        """The critic as `(sequence, cond) -> scores`, binding the history when it reads it."""
        if not self.config.critic_reads_history:
            return self.critic
        return lambda sequence, cond: self.critic(sequence, cond, history)

    def critic_loss(self, real, fake, history, calendar, reviews, alpha=None,
                    cond: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """The critic's loss −(E[D(real)] − E[D(fake)]) + λ·GP, its condition encoded once for all three calls.

        Args:
            real, fake: (B, H) sequences (fake is treated as a constant).
            history, calendar, reviews: the condition of the batch.
            alpha: (B, 1) interpolation weights for the penalty; drawn when None.
            cond: the critic's condition embedding when already known (shared encoder); encoded when None.

        Returns:
            (loss, detached statistics: d_loss, gp, wasserstein, real_score, fake_score).
        """
        # the spectral-normalised weights are computed once for the three critic calls (one power iteration)
        with parametrize.cached():
            if cond is None:
                cond = self.encode_critic_condition(history, calendar, reviews)
            if self.critic_encoder is None:
                cond = cond.detach()  # shared encoder: trained by the generator's optimiser only
            critic = self._critic_fn(history)
            real_score = critic(real, cond)
            fake_score = critic(fake.detach(), cond)
            gp = gradient_penalty(critic, real, fake, cond, alpha=alpha, one_sided=self.config.one_sided_gp)
        wasserstein = real_score.mean() - fake_score.mean()
        loss = -wasserstein + self.config.gp_lambda * gp
        return loss, {"d_loss": loss.detach(), "gp": gp.detach(), "wasserstein": wasserstein.detach(),
                      "real_score": real_score.mean().detach(), "fake_score": fake_score.mean().detach()}

    def _critic_step(self, real, history, calendar, reviews, fake, alpha, optimizer, cond=None) -> dict:
        """One critic update (Wasserstein loss + λ·GP); one backward of the total loss, GP included."""
        self.toggle_optimizer(optimizer)
        loss, stats = self.critic_loss(real, fake, history, calendar, reviews, alpha=alpha, cond=cond)
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()
        self.untoggle_optimizer(optimizer)
        return stats

    def _generator_step(self, history, calendar, reviews, noise, embedding, optimizer, scales=(None, None),
                        target: torch.Tensor | None = None, crps_noise: torch.Tensor | None = None) -> dict:
        """One generator update: maximise the critic's score of fresh fakes (the critic is not trained here), plus
        `crps_weight` × the fair CRPS of `crps_samples` samples per window (the adversarial fakes and the
        (m − 1, B, width) `crps_noise` draws, one batched call) against `target` when `crps_noise` is given.

        `embedding` is the generator's condition embedding with its graph, computed before the critic updates;
        `scales` the batch's network scales (`network_scales`: units = value · width + low) for `count_output`
        and the CRPS.
        Returns the detached `g_loss` (adversarial part) and, with the CRPS term, `g_crps` (units/day).
        """
        self.toggle_optimizer(optimizer)
        fake = self.generator(noise, embedding, *scales)
        if self.critic_encoder is None:
            cond = embedding  # shared: the generator's loss trains the encoder through both uses
        else:
            with torch.no_grad():  # the critic's encoder is frozen in this update: no graph needed
                cond = self.critic_encoder(history, calendar, reviews)
        adversarial = -self._critic_fn(history)(fake, cond).mean()
        loss, stats = adversarial, {"g_loss": adversarial.detach()}
        if crps_noise is not None:
            extra = crps_noise.shape[0]
            others = self.generator(crps_noise.flatten(0, 1), embedding.repeat(extra, 1), *_tile(scales, extra))
            samples = torch.cat([fake.unsqueeze(0), others.reshape(extra, *fake.shape)])
            units = self._units_with_grad(samples.flatten(0, 1), *_tile(scales, extra + 1))
            crps = sample_crps(units.reshape(samples.shape), self._units_with_grad(target, *scales))
            loss = loss + self.config.crps_weight * crps
            stats["g_crps"] = crps.detach()
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()
        self.untoggle_optimizer(optimizer)
        return stats

    def _units_with_grad(self, values: torch.Tensor, scale_min, scale_range) -> torch.Tensor:
        """Model-space sequences (B, H) in units, differentiably (no rounding: the generator already rounded)."""
        if self.config.sequence_scale == "log1p":
            return torch.expm1(values)
        low, width = self._scales(scale_min, scale_range, values)
        return values * width + low

    def training_step(self, batch, batch_idx):
        history, calendar, reviews, target = batch[:4]
        scales = tuple(batch[4:6]) if len(batch) >= 6 else (None, None)  # (scale_min, scale_range) per window
        # everything below (encoders, generator, critic, penalty) works in the config's sequence_scale, and the
        # generator rounds (and the CRPS term measures) in units through the network scales (low, width)
        network = self.network_scales(history, *scales)
        history, target = (self.to_model_space(x, *scales, network) for x in (history, target))
        opt_g, opt_d = self.optimizers()
        draws = self._step_draws(history.shape[0])
        n_critic = self.config.n_critic
        # G's encoder does not change until the generator update: encode once, with the graph that update needs
        # (its LSTM is the costliest layer of a step), and use the detached value for the critic updates
        embedding = self.generator_encoder(history, calendar, reviews)
        with torch.no_grad():  # G is fixed during the critic updates: all n_critic fake batches in one forward
            fakes = self.generator(draws["critic_noise"].flatten(0, 1), embedding.detach().repeat(n_critic, 1),
                                   *_tile(network, n_critic))
            fakes = fakes.reshape(n_critic, history.shape[0], -1)
        shared_cond = embedding.detach() if self.critic_encoder is None else None
        stats = [self._critic_step(target, history, calendar, reviews, fakes[i], draws["alpha"][i], opt_d,
                                   cond=shared_cond) for i in range(n_critic)]
        g_stats = self._generator_step(history, calendar, reviews, draws["generator_noise"], embedding, opt_g,
                                       network, target=target, crps_noise=draws["crps_noise"])
        self.update_generator_average()
        self.train_steps += 1
        logged = {name: torch.stack([s[name] for s in stats]).mean() for name in stats[0]}
        logged.update(g_stats)
        self.log_dict(logged, on_step=True, on_epoch=True, prog_bar=False, batch_size=history.shape[0])
        self.log("train_steps", self.train_steps.float(), on_step=False, on_epoch=True, reduce_fx="max",
                 batch_size=history.shape[0])

    # ---- validation: sample quality in units ---------------------------------------------------------------------
    def on_validation_epoch_start(self):
        # the same noise every epoch: differences between epochs then reflect the model, not the draw
        self._val_generator = _seeded_generator(self.noise_seed, _VAL_STREAM)
        self._val_parts = []

    def validation_step(self, batch, batch_idx):
        history, calendar, reviews, target, scale_min, scale_range = batch
        if not hasattr(self, "_val_generator"):
            self.on_validation_epoch_start()
        samples = self.sample(history, calendar, reviews, self.config.val_samples, generator=self._val_generator,
                              scale_min=scale_min, scale_range=scale_range)
        scale_min = scale_min.detach().double().cpu().numpy()
        scale_range = scale_range.detach().double().cpu().numpy()
        units = units_from_scaled(samples.double().cpu().numpy(), scale_min, scale_range)
        target_units = units_from_scaled(target.double().cpu().numpy(), scale_min, scale_range)
        history_units = units_from_scaled(history.double().cpu().numpy(), scale_min, scale_range)
        self._val_parts.append((history_units, target_units, units))

    def on_validation_epoch_end(self):
        parts = getattr(self, "_val_parts", [])
        if not parts:
            return
        history, target, units = (np.concatenate(p) for p in zip(*parts))
        self._val_parts = []
        # every rank evaluates the whole validation set with the same noise: identical values, sync is a no-op
        for name, value in validation_scores(history, target, units).items():
            self.log(name, value, on_step=False, on_epoch=True, prog_bar=name == "val_score", sync_dist=True)


def validation_scores(history: np.ndarray, target: np.ndarray, samples: np.ndarray) -> dict:
    """Checkpoint-selection scores of K samples per validation window, all in units/day.

    `val_crps` is the fair CRPS; `val_cond_gap` the absolute gap between the synthetic and real mean target on
    windows whose history is all zero, plus the same gap on the top history-level decile (a generator that ignores
    its condition can have a small CRPS on the many all-zero windows yet put sales where there were none);
    `val_score = val_crps + val_cond_gap`. `val_crps` selects `best.ckpt` (`train.CHECKPOINT_METRIC`); the gaps and
    `val_score` (the selection score until round 4 of docs/gan_ablation.md) are logged as diagnostics.

    Args:
        history: (N, L) histories in units.
        target: (N, H) real targets in units.
        samples: (N, K, H) samples in units.

    Returns:
        {"val_crps", "val_cond_gap", "val_score"} as floats.
    """
    cond = conditional_means(history, target, samples)
    gap = sum(abs(cond[f"cond_mean_{g}_synthetic"] - cond[f"cond_mean_{g}_real"])
              for g in ("zero_history", "top_decile") if cond[f"n_{g}"] > 0)
    crps = crps_fair(samples, target)
    return {"val_crps": crps, "val_cond_gap": float(gap), "val_score": crps + float(gap)}


def parameter_counts(config: GanConfig | None = None) -> dict:
    """Trainable parameter counts of G and D (each with its own condition encoder unless shared).

    Returns:
        dict with generator, critic (both including their encoders), generator_encoder, critic_encoder (0 when
        shared) and total.
    """
    module = WGANGP(config or GanConfig())

    def count(mod):
        return 0 if mod is None else sum(p.numel() for p in mod.parameters() if p.requires_grad)

    g_enc, d_enc = count(module.generator_encoder), count(module.critic_encoder)
    counts = {"generator": g_enc + count(module.generator), "critic": d_enc + count(module.critic),
              "generator_encoder": g_enc, "critic_encoder": d_enc}
    counts["total"] = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return counts


def load_generator(ckpt_path: str | Path, map_location: str | torch.device = "cpu") -> WGANGP:
    """Load a stage-02 checkpoint into a `WGANGP` in eval mode.

    Args:
        ckpt_path: a `.ckpt` written by `salesgan_utils.train.train_gan` (e.g. `checkpoints/best.ckpt`).
        map_location: device for the weights.

    Returns:
        The module, in eval mode.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable SalesGAN checkpoint, or its weights do not fit its architecture;
            the message names the file and says to rerun stage 02.
    """
    path = Path(ckpt_path)
    fix = "Rerun stage 02 (notebooks/02_train_gan, e.g. bash run_all.sh --only 02) to write a fresh checkpoint."
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist. {fix}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # truncated zip, wrong format, foreign pickle: all mean "not our checkpoint"
        # one line, first sentence: torch's unpickling errors span many lines, its zip errors many sentences
        reason = " ".join(str(error).split()).split(". ")[0][:200]
        raise ValueError(f"{path} is not a readable checkpoint ({type(error).__name__}: {reason}). {fix}") from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint or "config" not in checkpoint.get(
            "hyper_parameters", {}):
        raise ValueError(f"{path} is a torch file but not a SalesGAN WGAN-GP checkpoint (no state_dict/config "
                         f"hyper-parameters). {fix}")
    try:
        module = WGANGP(**checkpoint["hyper_parameters"])
        module.load_state_dict(checkpoint["state_dict"], strict=True)
    except (RuntimeError, ValueError, TypeError) as error:
        raise ValueError(f"{path} does not match the WGAN-GP architecture of this code (wrong or older model?): "
                         f"{' '.join(str(error).split())[:500]}. {fix}") from error
    # A checkpoint of a diverged (or corrupted) training loads fine and then samples NaN everywhere (#14).
    broken = [name for name, tensor in checkpoint["state_dict"].items()
              if torch.is_tensor(tensor) and tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if broken:
        raise ValueError(f"{path} holds non-finite weights (NaN or inf) in {len(broken)} tensor(s), e.g. "
                         f"{broken[0]}: its training diverged or the file is damaged. {fix}")
    return module.to(map_location).eval()

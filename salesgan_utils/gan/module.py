"""`WGANGP`, the LightningModule of stage 02: what is trained, one training step, validation in units.

How it is trained (Trainer, callbacks, loggers, devices, resume) lives in `salesgan_utils.train`.

Randomness: every draw the training step makes (noise, interpolation weights) comes from a generator seeded by
`(noise_seed, step)`, drawn for the *global* batch and sliced per rank. So a resumed run draws exactly what an
uninterrupted one would, and a 2-process DDP run sees the same noise rows as a 1-process run of the same global
batch (the basis of the DDP test in tests/code/test_train.py).
"""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn.utils import parametrize

from ..data import units_from_scaled
from ..metrics import gan_validation_scores
from . import scaling
from .config import GanConfig
from .losses import gradient_penalty, sample_crps
from .networks import ConditionEncoder, Critic, Generator

VAL_STREAM = 7_777  # key of the validation noise stream, apart from the training steps' keys


def _tile(scales, times: int) -> list:
    """Per-window scales (B,) each (or None) for `times` stacked copies of the batch: (times · B,), batch-major."""
    return [None if s is None else s.repeat(times) for s in scales]


def seeded_generator(*keys: int) -> torch.Generator:
    """A CPU torch generator seeded from a tuple of ints, well mixed (SeedSequence), device-independent."""
    seed = int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, dtype=np.uint64)[0] >> 1)
    return torch.Generator().manual_seed(seed)


class WGANGP(pl.LightningModule):
    """The conditional WGAN-GP as a LightningModule with manual optimisation.

    One training step (one batch) = `n_critic` critic updates then one generator update, each between
    `toggle_optimizer`/`untoggle_optimizer`. The critic updates reuse the *same* batch of real windows, each with
    fresh noise and interpolation weights: a step is then exactly one batch, which keeps Lightning's epoch/step
    accounting, `limit_train_batches`, checkpoints at epoch ends and DDP sharding simple, and works on tiny splits
    where `n_critic` successive slices of a batch would not exist. G does not change during the critic updates, so
    the `n_critic` fake batches are generated in one batched, gradient-free forward.

    Batches: train `(history, calendar, reviews, target[, scale_min, scale_range])`; validation
    `(history, calendar, reviews, target, scale_min, scale_range)`, so that the validation CRPS is in units.

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
        self.critic_encoder = None if self.config.shared_encoder else ConditionEncoder(self.config)
        self.critic = Critic(self.config)
        # completed training steps; in the state dict so that a resumed run continues the noise streams exactly
        self.register_buffer("train_steps", torch.zeros((), dtype=torch.int64))

    # ---- the players and their conditions --------------------------------------------------------------------
    def generator_parameters(self) -> list:
        return list(self.generator_encoder.parameters()) + list(self.generator.parameters())

    def critic_parameters(self) -> list:
        encoder = [] if self.critic_encoder is None else list(self.critic_encoder.parameters())
        return encoder + list(self.critic.parameters())

    def encode_critic_condition(self, history, calendar, reviews) -> torch.Tensor:
        """The critic's condition embedding (the generator's, when the encoder is shared)."""
        encoder = self.generator_encoder if self.critic_encoder is None else self.critic_encoder
        return encoder(history, calendar, reviews)

    def _critic_fn(self, history):
        """The critic as `(sequence, cond) -> scores`, binding the history when it reads it."""
        if not self.config.critic_reads_history:
            return self.critic
        return lambda sequence, cond: self.critic(sequence, cond, history)

    def network_scales(self, history_scaled, scale_min, scale_range) -> tuple:
        return scaling.network_scales(self.config.sequence_scale, history_scaled, scale_min, scale_range)

    def to_model_space(self, scaled, scale_min, scale_range, network=(None, None)) -> torch.Tensor:
        return scaling.to_network(self.config.sequence_scale, scaled, scale_min, scale_range, network)

    def from_model_space(self, values, scale_min, scale_range, network=(None, None)) -> torch.Tensor:
        return scaling.from_network(self.config.sequence_scale, values, scale_min, scale_range, network,
                                    whole_units=self.config.count_output)

    # ---- sampling --------------------------------------------------------------------------------------------
    def forward(self, history, calendar, reviews, noise: torch.Tensor | None = None, scale_min=None,
                scale_range=None) -> torch.Tensor:
        """One generated sequence per window: (B, H) scaled, non-negative (scales needed with `count_output` or
        the "window_mean" sequence scale)."""
        if noise is None:
            noise = torch.randn(history.shape[0], self.config.noise_width, device=history.device,
                                dtype=history.dtype)
        network = self.network_scales(history, scale_min, scale_range)
        history = self.to_model_space(history, scale_min, scale_range, network)
        out = self.generator(noise, self.generator_encoder(history, calendar, reviews), *network)
        return self.from_model_space(out, scale_min, scale_range, network)

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
            scale_min, scale_range: (B,) the windows' scales; required with `count_output` or "window_mean".

        Returns:
            (B, k, H) scaled samples.
        """
        batch = history.shape[0]
        if noise is None:
            noise = torch.randn(batch * k, self.config.noise_width, generator=generator, dtype=history.dtype)
        network = self.network_scales(history, scale_min, scale_range)
        history = self.to_model_space(history, scale_min, scale_range, network)
        embedding = self.generator_encoder(history, calendar, reviews).repeat_interleave(k, dim=0)
        scales, network = ([None if s is None else torch.as_tensor(s).to(embedding).repeat_interleave(k, dim=0)
                            for s in pair] for pair in ((scale_min, scale_range), network))
        out = self.generator(noise.to(embedding), embedding, *network)
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
        gen = seeded_generator(self.noise_seed, int(self.train_steps))
        return {
            "critic_noise": self._rank_rows(torch.randn(cfg.n_critic, rows, cfg.noise_width, generator=gen),
                                            local_batch),
            "alpha": self._rank_rows(torch.rand(cfg.n_critic, rows, 1, generator=gen), local_batch),
            "generator_noise": self._rank_rows(torch.randn(rows, cfg.noise_width, generator=gen), local_batch),
            # drawn last, so the streams above are the same with and without the CRPS term: (1, B, width), the
            # second sample of each window beside the adversarial one
            "crps_noise": (self._rank_rows(torch.randn(1, rows, cfg.noise_width, generator=gen), local_batch)
                           if cfg.crps_weight > 0 else None),
        }

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
        `crps_weight` × the fair CRPS of the adversarial fakes and the `crps_noise` (1, B, width) draws against
        `target` when `crps_noise` is given.

        `embedding` is the generator's condition embedding with its graph, computed before the critic updates;
        `scales` the batch's network scales, for `count_output` and the CRPS in units.
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
            units = scaling.network_units(samples.flatten(0, 1), *_tile(scales, extra + 1))
            crps = sample_crps(units.reshape(samples.shape), scaling.network_units(target, *scales))
            loss = loss + self.config.crps_weight * crps
            stats["g_crps"] = crps.detach()
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()
        self.untoggle_optimizer(optimizer)
        return stats

    def training_step(self, batch, batch_idx):
        history, calendar, reviews, target = batch[:4]
        scales = tuple(batch[4:6]) if len(batch) >= 6 else (None, None)  # (scale_min, scale_range) per window
        # everything below works in the networks' sequence space; the generator rounds (and the CRPS term
        # measures) in units through the network scales
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
        self.train_steps += 1
        logged = {name: torch.stack([s[name] for s in stats]).mean() for name in stats[0]}
        logged.update(g_stats)
        self.log_dict(logged, on_step=True, on_epoch=True, prog_bar=False, batch_size=history.shape[0])
        self.log("train_steps", self.train_steps.float(), on_step=False, on_epoch=True, reduce_fx="max",
                 batch_size=history.shape[0])

    # ---- validation: sample quality in units -----------------------------------------------------------------
    def on_validation_epoch_start(self):
        # the same noise every epoch: differences between epochs then reflect the model, not the draw
        self._val_generator = seeded_generator(self.noise_seed, VAL_STREAM)
        self._val_parts = []

    def validation_step(self, batch, batch_idx):
        history, calendar, reviews, target, scale_min, scale_range = batch
        if not hasattr(self, "_val_generator"):
            self.on_validation_epoch_start()
        samples = self.sample(history, calendar, reviews, self.config.val_samples, generator=self._val_generator,
                              scale_min=scale_min, scale_range=scale_range)
        scale_min = scale_min.detach().double().cpu().numpy()
        scale_range = scale_range.detach().double().cpu().numpy()
        in_units = units_from_scaled(samples.double().cpu().numpy(), scale_min, scale_range)
        target_units = units_from_scaled(target.double().cpu().numpy(), scale_min, scale_range)
        history_units = units_from_scaled(history.double().cpu().numpy(), scale_min, scale_range)
        self._val_parts.append((history_units, target_units, in_units))

    def on_validation_epoch_end(self):
        parts = getattr(self, "_val_parts", [])
        if not parts:
            return
        history, target, in_units = (np.concatenate(p) for p in zip(*parts))
        self._val_parts = []
        # every rank evaluates the whole validation set with the same noise: identical values, sync is a no-op
        for name, value in gan_validation_scores(history, target, in_units).items():
            self.log(name, value, on_step=False, on_epoch=True, prog_bar=name == "val_score", sync_dist=True)


def parameter_counts(config: GanConfig | None = None) -> dict:
    """Trainable parameter counts of G and D (each with its own condition encoder unless shared).

    Returns:
        dict with generator, critic (both including their encoders), generator_encoder, critic_encoder (0 when
        shared) and total.
    """
    module = WGANGP(config or GanConfig())

    def count(mod: nn.Module | None) -> int:
        return 0 if mod is None else sum(p.numel() for p in mod.parameters() if p.requires_grad)

    g_enc, d_enc = count(module.generator_encoder), count(module.critic_encoder)
    counts = {"generator": g_enc + count(module.generator), "critic": d_enc + count(module.critic),
              "generator_encoder": g_enc, "critic_encoder": d_enc}
    counts["total"] = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return counts

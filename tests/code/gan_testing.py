"""Tiny GAN configurations and batches shared by the tests of salesgan_utils.gan (test_gan_*.py)."""
import torch

from salesgan_utils.gan import GanConfig

TINY = dict(noise_dim=8, cond_dim=16, history_hidden=8, history_layers=1, calendar_hidden=8, review_hidden=4,
            gru_hidden=8, gru_layers=2, critic_channels=(4, 8), critic_hidden=8, batch_size=16, val_samples=4)


def design(name: str, **extra) -> GanConfig:
    """A tiny config of the design `name`, as a profile would build it."""
    return GanConfig.from_params({**TINY, **extra, "gan_design": name})


def make_batch(b=6, cfg=None, seed=0):
    """(history, calendar, reviews, target) with about 40% non-zero targets in [0, 1)."""
    cfg = cfg or GanConfig(**TINY)
    gen = torch.Generator().manual_seed(seed)
    history = torch.rand(b, cfg.history_days, generator=gen)
    calendar = torch.rand(b, cfg.horizon, cfg.calendar_dim, generator=gen)
    reviews = torch.rand(b, cfg.review_dim, generator=gen)
    target = torch.rand(b, cfg.horizon, generator=gen) * (torch.rand(b, cfg.horizon, generator=gen) > 0.6)
    return history, calendar, reviews, target

"""The GAN's losses as pure functions: the WGAN-GP gradient penalty and the fair CRPS of sampled sequences."""
from __future__ import annotations

import torch


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
        one_sided: penalise only norms above 1, E[max(0, ||∇|| − 1)²] (Petzka et al. 2018).

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

    With independent draws of a forecast distribution F its expectation is CRPS(F, y) exactly (the fair
    estimator; `metrics.crps_fair` is the same in numpy), so as a training loss it is minimised by the true
    conditional distribution, not by a point. Differentiable, for the generator's loss.
    """
    m = samples.shape[0]
    if m < 2:
        raise ValueError(f"sample_crps: needs at least 2 samples along dim 0, got {m}")
    accuracy = (samples - target.unsqueeze(0)).abs().mean(dim=0)
    spread = (samples.unsqueeze(0) - samples.unsqueeze(1)).abs().sum(dim=(0, 1)) / (2 * m * (m - 1))
    return (accuracy - spread).mean()

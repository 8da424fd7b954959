"""Tests of salesgan_utils.gan.losses on cases with known answers: the gradient penalty, the sample CRPS."""
import math

import numpy as np
import pytest
import torch

from salesgan_utils.gan import gradient_penalty, sample_crps
from salesgan_utils.metrics import crps_fair


def test_gradient_penalty_on_linear_critic_equals_hand_value():
    # D(x | c) = w·x + v·c: ∇x D = w for every interpolate, so GP = (||w|| − 1)²
    w, v = torch.tensor([0.5, -1.0, 2.0], requires_grad=True), torch.tensor([3.0, 1.0])
    critic = lambda x, c: x @ w + c @ v  # noqa: E731
    real, fake, cond = torch.rand(5, 3), torch.rand(5, 3), torch.rand(5, 2)
    gp = gradient_penalty(critic, real, fake, cond)
    norm = math.sqrt(0.25 + 1.0 + 4.0)
    assert gp.item() == pytest.approx((norm - 1.0) ** 2, rel=1e-5)
    gp.backward()  # differentiable in the critic's parameters: d/dw (||w|| − 1)² = 2 (||w|| − 1) w / ||w||
    torch.testing.assert_close(w.grad, 2 * (norm - 1) * w.detach() / norm)


def test_gradient_penalty_interpolates_with_given_alpha_and_detaches_fake():
    # D(x) = ½||x||²: ∇ = x̂ = α·real + (1 − α)·fake, GP = mean((||x̂|| − 1)²); 3-D input checks alpha's shape
    critic = lambda x, c: 0.5 * x.pow(2).flatten(1).sum(1)  # noqa: E731
    real = torch.ones(2, 2, 2)
    fake = torch.zeros(2, 2, 2, requires_grad=True)
    gp = gradient_penalty(critic, real, fake, None, alpha=torch.tensor([0.5, 1.0]))
    # 4 elements per sample: ||x̂|| = sqrt(4 · 0.5²) = 1 and sqrt(4 · 1²) = 2
    expected = ((math.sqrt(4 * 0.25) - 1) ** 2 + (math.sqrt(4) - 1) ** 2) / 2
    assert gp.item() == pytest.approx(expected, rel=1e-6)
    gp.backward()
    assert fake.grad is None  # the penalty never trains the generator


def test_one_sided_penalty_ignores_norms_below_one():
    real, fake = torch.ones(4, 7), torch.zeros(4, 7)
    for slope, two_sided, one_sided in ((0.5, 0.25, 0.0), (2.0, 1.0, 1.0)):
        # D(x) = slope * sum(x) / sqrt(7): gradient norm = slope everywhere
        critic = lambda x, c, s=slope: s * x.sum(dim=1) / 7 ** 0.5  # noqa: E731
        assert gradient_penalty(critic, real, fake, None).item() == pytest.approx(two_sided)
        assert gradient_penalty(critic, real, fake, None, one_sided=True).item() == pytest.approx(one_sided)


def test_sample_crps_is_the_fair_crps_of_m_draws():
    y = torch.tensor([[2.0, 0.0]])
    # a point forecast drawn twice (or five times): the absolute error
    assert sample_crps(torch.tensor([[5.0, 0.0]]).repeat(2, 1, 1), y).item() == pytest.approx(1.5)
    assert sample_crps(torch.tensor([[5.0, 0.0]]).repeat(5, 1, 1), y).item() == pytest.approx(1.5)
    # two draws: ½(|a − y| + |b − y|) − ½|a − b| by hand: a = 0, b = 4, y = 2 → 2 − 2 = 0
    assert sample_crps(torch.tensor([[0.0], [4.0]]), torch.tensor([2.0])).item() == pytest.approx(0.0)
    # the same number as the numpy fair estimator for any m, element by element
    rng = np.random.default_rng(0)
    for m in (2, 3, 8):
        draws, t = rng.poisson(2.0, size=(m, 50, 7)).astype(float), rng.poisson(2.0, size=(50, 7)).astype(float)
        expected = crps_fair(np.moveaxis(draws, 0, 1), t)
        assert sample_crps(torch.tensor(draws), torch.tensor(t)).item() == pytest.approx(expected)
    # unbiased: averaged over many pairs from F it is the CRPS of F (Poisson(2) against y = 2, many-draw estimate)
    pairs = torch.tensor(rng.poisson(2.0, size=(2, 200_000, 1)).astype(float))
    many = crps_fair(rng.poisson(2.0, size=(1, 4000, 1)).astype(float), np.array([[2.0]]))
    assert sample_crps(pairs, torch.full((200_000, 1), 2.0)).item() == pytest.approx(many, abs=0.01)
    with pytest.raises(ValueError, match="at least 2 samples"):
        sample_crps(torch.zeros(1, 3), torch.zeros(3))

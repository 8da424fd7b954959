"""Tests of salesgan_utils.gan.module: sampling, one critic and one generator update, the step's draws, counts."""
import numpy as np
import pytest
import torch
from gan_testing import TINY, design, make_batch

from salesgan_utils.gan import WGANGP, GanConfig, parameter_counts
from salesgan_utils.metrics import gan_validation_scores

torch.set_num_threads(1)  # the test machine's cores are shared


@pytest.mark.parametrize("shared", [False, True])
def test_generator_shapes_and_non_negative(shared):
    torch.manual_seed(0)
    module = WGANGP(GanConfig(**TINY, shared_encoder=shared))
    history, calendar, reviews, _ = make_batch(b=50)
    one = module(history, calendar, reviews)
    many = module.sample(history, calendar, reviews, k=3)
    assert one.shape == (50, 7) and many.shape == (50, 3, 7)
    assert (one >= 0).all() and (many >= 0).all()


def test_sample_uses_given_noise_window_major():
    torch.manual_seed(0)
    module = WGANGP(GanConfig(**TINY)).eval()
    history, calendar, reviews, _ = make_batch(b=3)
    noise = torch.randn(3 * 2, 8)
    samples = module.sample(history, calendar, reviews, k=2, noise=noise)
    # row i*k + j of the noise is sample j of window i
    direct = module(history[1:2], calendar[1:2], reviews[1:2], noise=noise[3:4])
    torch.testing.assert_close(samples[1, 1], direct[0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_critic_update_lowers_critic_loss_on_fixed_batch(seed):
    # lr_d 1e-5 instead of 4e-4: at initialisation the critic's input gradients have norm ~0.01, where the norm in
    # the penalty is sharply curved, and Adam's first step moves every parameter by lr; at 4e-4 a step can
    # overshoot. The property tested is the one that matters: the module's own update goes downhill.
    torch.manual_seed(seed)
    module = WGANGP(GanConfig(**TINY, lr_d=1e-5))
    history, calendar, reviews, real = make_batch(b=32, seed=seed)
    fake, alpha = torch.zeros(32, 7), torch.rand(32, 1)
    with torch.no_grad():  # converge the spectral-norm power iteration first: it changes sigma on each call
        cond = module.encode_critic_condition(history, calendar, reviews)
        for _ in range(30):
            module.critic(real, cond)
    _, optimizer = module.configure_optimizers()
    before, _ = module.critic_loss(real, fake, history, calendar, reviews, alpha)
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    after, stats = module.critic_loss(real, fake, history, calendar, reviews, alpha)
    assert after.item() < before.item()
    assert set(stats) == {"d_loss", "gp", "wasserstein", "real_score", "fake_score"}


def test_shared_encoder_critic_condition_is_the_generators():
    module = WGANGP(GanConfig(**TINY, shared_encoder=True))
    assert module.critic_encoder is None
    history, calendar, reviews, _ = make_batch()
    torch.testing.assert_close(module.encode_critic_condition(history, calendar, reviews),
                               module.generator_encoder(history, calendar, reviews))
    critic_ids = {id(p) for p in module.critic_parameters()}
    assert not critic_ids & {id(p) for p in module.generator_parameters()}


@pytest.mark.parametrize("name", ["original", "counts"])
def test_each_design_samples_and_trains_one_critic_and_generator_update(name):
    torch.manual_seed(0)
    module = WGANGP(design(name))
    history, calendar, reviews, target = make_batch(b=16)
    scale_min, scale_range = torch.zeros(16, dtype=torch.float64), torch.full((16,), 4.0, dtype=torch.float64)
    samples = module.sample(history, calendar, reviews, k=3, scale_min=scale_min, scale_range=scale_range)
    assert samples.shape == (16, 3, 7) and (samples >= 0).all()
    if module.config.count_output:  # whole units: scaled * 4 is an integer
        torch.testing.assert_close(samples * 4.0, torch.round(samples * 4.0))
    loss, stats = module.critic_loss(target, samples[:, 0], history, calendar, reviews, alpha=torch.rand(16, 1))
    loss.backward()
    assert torch.isfinite(stats["d_loss"])
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.critic_parameters())
    module.zero_grad()
    network = module.network_scales(history, scale_min, scale_range)
    embedding = module.generator_encoder(module.to_model_space(history, scale_min, scale_range, network),
                                         calendar, reviews)
    fake = module.generator(torch.randn(16, module.config.noise_width), embedding, *network)
    cond = module.encode_critic_condition(history, calendar, reviews).detach()
    (-module._critic_fn(history)(fake, cond).mean()).backward()
    head_grad = module.generator.head.weight.grad
    assert head_grad is not None and head_grad.abs().sum() > 0  # straight-through: the gradient gets through


def test_crps_term_draws_one_second_sample_and_leaves_the_shared_streams_alone():
    plain, scored = WGANGP(design("original")), WGANGP(design("counts"))
    assert plain.config.crps_weight == 0 and scored.config.crps_weight == 5.0
    assert plain._step_draws(4)["crps_noise"] is None
    draws = scored._step_draws(4)
    assert draws["crps_noise"].shape == (1, 4, scored.config.noise_width)
    # the streams before it are those of a config without the term (same noise width, same seed)
    no_crps = WGANGP(GanConfig(**{**design("counts").__dict__, "crps_weight": 0.0}))._step_draws(4)
    torch.testing.assert_close(draws["generator_noise"], no_crps["generator_noise"])


def test_parameter_counts_at_the_replaced_systems_sizes_match_findings():
    counts = parameter_counts(GanConfig())
    # FINDINGS.md: G 2.32M and D 1.29M parameters at those sizes, one encoder each
    assert counts["generator"] == pytest.approx(2.32e6, rel=0.01)
    assert counts["critic"] == pytest.approx(1.29e6, rel=0.01)
    assert counts["total"] == counts["generator"] + counts["critic"]
    assert parameter_counts(GanConfig(shared_encoder=True))["critic_encoder"] == 0


def test_validation_scores_add_the_conditional_gaps():
    history = np.array([[0.0, 0.0]] * 9 + [[5.0, 5.0]])  # 9 zero histories; the top decile is the last window
    target = np.zeros((10, 2))
    target[-1] = 4.0
    samples = np.repeat(target[:, None, :], 2, axis=1)
    assert gan_validation_scores(history, target, samples) == {"val_crps": 0.0, "val_cond_gap": 0.0,
                                                               "val_score": 0.0}
    samples = samples + 1.0  # one unit too many everywhere: CRPS 1, gaps 1 + 1
    assert gan_validation_scores(history, target, samples) == pytest.approx(
        {"val_crps": 1.0, "val_cond_gap": 2.0, "val_score": 3.0})

"""Tests of salesgan_utils.gan.networks: shapes, zeros, straight-through ops, the critic's target path."""
import pytest
import torch
from gan_testing import TINY, design, make_batch
from torch import nn
from torch.nn.utils import parametrize

from salesgan_utils.gan import WGANGP, GanConfig, Generator, straight_through_relu, straight_through_round

torch.set_num_threads(1)  # the test machine's cores are shared


def test_straight_through_relu_outputs_zeros_but_keeps_gradients():
    x = torch.tensor([-2.0, -0.5, 0.0, 1.5], requires_grad=True)
    y = straight_through_relu(x)
    assert y.tolist() == [0.0, 0.0, 0.0, 1.5]  # exact zeros, as the data has
    (y * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0, 4.0]  # a plain ReLU would give 0 below zero: a unit could die


def test_straight_through_round_gives_whole_units_and_the_identity_gradient():
    x = torch.tensor([0.2, 0.6, 2.5001], requires_grad=True)
    y = straight_through_round(x)
    assert y.tolist() == [0.0, 1.0, 3.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_generator_head_reaches_exact_zeros():
    biased = Generator(GanConfig(**TINY))
    nn.init.constant_(biased.head.bias, -10.0)
    assert (biased(torch.randn(4, 8), torch.rand(4, 16)) == 0).all()  # a softplus head would never give one


def test_step_noise_varies_days_independently_of_the_shared_noise():
    torch.manual_seed(0)
    generator = Generator(GanConfig(**TINY, step_noise=True))  # continuous outputs: every change shows
    with torch.no_grad():  # lift the head so that outputs are not clamped to 0
        generator.head.bias.fill_(1.0)
    noise = torch.randn(2, generator.noise_dim * 8)
    noise[1, :8] = noise[0, :8]  # same z, different per-day noise
    out = generator(noise, torch.rand(1, 16).repeat(2, 1))
    assert not torch.allclose(out[0], out[1])


def test_count_output_rounds_in_units_of_each_window_and_needs_its_scales():
    torch.manual_seed(0)
    generator = Generator(design("counts"))
    with torch.no_grad():
        generator.head.bias.fill_(1.3)
    low, width = torch.tensor([0.0, 2.0]), torch.tensor([4.0, 10.0])
    out = generator(torch.randn(2, generator.noise_dim * 8), torch.rand(2, 16), low, width)
    in_units = out * width[:, None] + low[:, None]
    torch.testing.assert_close(in_units, torch.round(in_units))
    with pytest.raises(ValueError, match="count_output needs"):
        generator(torch.randn(2, generator.noise_dim * 8), torch.rand(2, 16))


def test_critic_target_path_has_no_recurrent_layer_and_every_layer_is_spectrally_normalised():
    """Only the sequence requires grad: every module whose output does is on the target path."""
    torch.manual_seed(0)
    for config in (GanConfig(**TINY), design("counts")):
        module = WGANGP(config)
        for p in module.parameters():
            p.requires_grad_(False)
        history, calendar, reviews, target = make_batch()
        embedding = module.encode_critic_condition(history, calendar, reviews)
        on_path = []

        def record(mod, inp, out, seen=on_path):
            if torch.is_tensor(out) and out.requires_grad:
                seen.append(mod)

        hooks = [m.register_forward_hook(record) for m in module.modules()]
        module._critic_fn(history)(target.clone().requires_grad_(True), embedding)
        for hook in hooks:
            hook.remove()
        assert any(isinstance(m, nn.Conv1d) for m in on_path)  # the hooks did see the path
        assert not [m for m in on_path if isinstance(m, nn.RNNBase)]
        assert not [m for m in module.critic.modules() if isinstance(m, (nn.RNNBase, nn.Dropout))]
        assert all(parametrize.is_parametrized(m) for m in module.critic.modules()
                   if isinstance(m, (nn.Conv1d, nn.Linear)))


def test_sequence_critic_reads_the_raw_history():
    torch.manual_seed(0)
    module = WGANGP(design("counts"))
    history, calendar, reviews, target = make_batch(b=4)
    cond = module.encode_critic_condition(history, calendar, reviews)
    a = module.critic(target, cond, history)
    b = module.critic(target, cond, history.flip(1))  # same condition embedding, different raw history
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="needs the history"):
        module.critic(target, cond)

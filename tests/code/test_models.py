"""Tests of salesgan_utils.models: shapes, the critic's target path, the gradient penalty, one critic update."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from salesgan_utils.models import WGANGP, GanConfig, Generator, gradient_penalty, load_generator, parameter_counts

torch.set_num_threads(1)  # the test machine's cores are shared

TINY = dict(noise_dim=8, cond_dim=16, history_hidden=8, history_layers=1, calendar_hidden=8, review_hidden=4,
            gru_hidden=8, gru_layers=2, critic_channels=(4, 8), critic_hidden=8, batch_size=16, val_samples=4)


def _batch(b=6, cfg=None, seed=0):
    cfg = cfg or GanConfig(**TINY)
    gen = torch.Generator().manual_seed(seed)
    history = torch.rand(b, cfg.history_days, generator=gen)
    calendar = torch.rand(b, cfg.horizon, cfg.calendar_dim, generator=gen)
    reviews = torch.rand(b, cfg.review_dim, generator=gen)
    target = torch.rand(b, cfg.horizon, generator=gen) * (torch.rand(b, cfg.horizon, generator=gen) > 0.6)
    return history, calendar, reviews, target


@pytest.mark.parametrize("shared", [False, True])
def test_generator_shapes_and_non_negative(shared):
    torch.manual_seed(0)
    module = WGANGP(GanConfig(**TINY, shared_encoder=shared))
    history, calendar, reviews, _ = _batch(b=50)
    one = module(history, calendar, reviews)
    many = module.sample(history, calendar, reviews, k=3)
    assert one.shape == (50, 7) and many.shape == (50, 3, 7)
    assert (one >= 0).all() and (many >= 0).all()
    # ReLU head: exact zeros are reachable (the data's zero mass); a softplus head would never give one
    biased = Generator(GanConfig(**TINY))
    nn.init.constant_(biased.head.bias, -10.0)
    assert (biased(torch.randn(4, 8), torch.rand(4, 16)) == 0).all()


def test_sample_uses_given_noise_window_major():
    torch.manual_seed(0)
    module = WGANGP(GanConfig(**TINY)).eval()
    history, calendar, reviews, _ = _batch(b=3)
    noise = torch.randn(3 * 2, 8)
    samples = module.sample(history, calendar, reviews, k=2, noise=noise)
    # row i*k + j of the noise is sample j of window i
    direct = module(history[1:2], calendar[1:2], reviews[1:2], noise=noise[3:4])
    torch.testing.assert_close(samples[1, 1], direct[0])


def test_critic_target_path_has_no_recurrent_layer():
    """Only the sequence requires grad: every module whose output does is on the target path."""
    torch.manual_seed(0)
    module = WGANGP(GanConfig(**TINY))
    for p in module.parameters():
        p.requires_grad_(False)
    history, calendar, reviews, target = _batch()
    embedding = module.encode_critic_condition(history, calendar, reviews)
    on_path = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: on_path.append(mod) if torch.is_tensor(out)
                                     and out.requires_grad else None) for m in module.modules()]
    module.critic(target.clone().requires_grad_(True), embedding)
    for hook in hooks:
        hook.remove()
    assert any(isinstance(m, nn.Conv1d) for m in on_path)  # the hooks did see the path
    assert not [m for m in on_path if isinstance(m, nn.RNNBase)]
    # and by structure: the critic owns no recurrent layer and no dropout (nothing can be active in the GP)
    assert not [m for m in module.critic.modules() if isinstance(m, (nn.RNNBase, nn.Dropout))]


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
    alpha = torch.tensor([0.5, 1.0])
    gp = gradient_penalty(critic, real, fake, None, alpha=alpha)
    # 4 elements per sample: ||x̂|| = sqrt(4 · 0.5²) = 1 and sqrt(4 · 1²) = 2
    expected = ((math.sqrt(4 * 0.25) - 1) ** 2 + (math.sqrt(4) - 1) ** 2) / 2
    assert gp.item() == pytest.approx(expected, rel=1e-6)
    gp.backward()
    assert fake.grad is None  # the penalty never trains the generator


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_critic_update_lowers_critic_loss_on_fixed_batch(seed):
    # lr_d 1e-5 instead of 4e-4: at initialisation the critic's input gradients have norm ~0.01, where the norm in
    # the penalty is sharply curved, and Adam's first step moves every parameter by lr; at 4e-4 a step can
    # overshoot (measured: 2 of 8 seeds rose). The property tested is the one that matters: the update, built
    # by the module's own optimiser from the module's own loss, goes downhill.
    torch.manual_seed(seed)
    module = WGANGP(GanConfig(**TINY, lr_d=1e-5))
    history, calendar, reviews, real = _batch(b=32, seed=seed)
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
    history, calendar, reviews, _ = _batch()
    torch.testing.assert_close(module.encode_critic_condition(history, calendar, reviews),
                               module.generator_encoder(history, calendar, reviews))
    critic_ids = {id(p) for p in module.critic_parameters()}
    assert not critic_ids & {id(p) for p in module.generator_parameters()}


def test_parameter_counts_seed_size_match_findings():
    counts = parameter_counts(GanConfig())
    # FINDINGS.md: seed-size G 2.32M and D 1.29M parameters, one encoder each
    assert counts["generator"] == pytest.approx(2.32e6, rel=0.01)
    assert counts["critic"] == pytest.approx(1.29e6, rel=0.01)
    assert counts["total"] == counts["generator"] + counts["critic"]
    assert parameter_counts(GanConfig(shared_encoder=True))["critic_encoder"] == 0


def test_config_round_trip_and_unknown_keys():
    cfg = GanConfig(**TINY)
    assert GanConfig.from_dict({**cfg.__dict__, "critic_channels": [4, 8], "betas": [0.0, 0.9]}) == cfg
    assert GanConfig.from_params({"gru_hidden": 12, "max_epochs": 3, "accelerator": "cpu"}).gru_hidden == 12
    with pytest.raises(ValueError, match="gru_hiden"):
        GanConfig.from_dict({"gru_hiden": 3})


def _save_checkpoint(module, path):
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, path)


def test_load_generator_round_trip_and_clear_errors(tmp_path):
    torch.manual_seed(0)
    module = WGANGP(GanConfig(**TINY), noise_seed=3)
    _save_checkpoint(module, tmp_path / "good.ckpt")
    loaded = load_generator(tmp_path / "good.ckpt")
    assert not loaded.training and loaded.noise_seed == 3
    for name, tensor in module.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name])

    with pytest.raises(FileNotFoundError, match="missing.ckpt.*stage 02"):
        load_generator(tmp_path / "missing.ckpt")
    (tmp_path / "corrupt.ckpt").write_bytes(np.random.default_rng(0).bytes(256))
    with pytest.raises(ValueError, match="corrupt.ckpt.*stage 02"):
        load_generator(tmp_path / "corrupt.ckpt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.ckpt")
    with pytest.raises(ValueError, match="foreign.ckpt.*not a SalesGAN"):
        load_generator(tmp_path / "foreign.ckpt")
    wrong = {"state_dict": module.state_dict(),
             "hyper_parameters": {"config": {**module.hparams["config"], "gru_hidden": 12}, "noise_seed": 0}}
    torch.save(wrong, tmp_path / "wrong.ckpt")
    with pytest.raises(ValueError, match="wrong.ckpt does not match the WGAN-GP architecture.*stage 02"):
        load_generator(tmp_path / "wrong.ckpt")


def test_straight_through_relu_outputs_zeros_but_keeps_gradients():
    from salesgan_utils.models import straight_through_relu

    x = torch.tensor([-2.0, -0.5, 0.0, 1.5], requires_grad=True)
    y = straight_through_relu(x)
    assert y.tolist() == [0.0, 0.0, 0.0, 1.5]  # exact zeros, as the data has
    (y * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0, 4.0]  # a plain ReLU would give 0 below zero: a unit could die


def test_one_sided_penalty_ignores_norms_below_one():
    from salesgan_utils.models import gradient_penalty

    real, fake = torch.ones(4, 7), torch.zeros(4, 7)
    for slope, two_sided, one_sided in ((0.5, 0.25, 0.0), (2.0, 1.0, 1.0)):
        # D(x) = slope * sum(x) / sqrt(7): gradient norm = slope everywhere
        critic = lambda x, c, s=slope: s * x.sum(dim=1) / 7 ** 0.5  # noqa: E731
        assert gradient_penalty(critic, real, fake, None).item() == pytest.approx(two_sided)
        assert gradient_penalty(critic, real, fake, None, one_sided=True).item() == pytest.approx(one_sided)


# ---- issue 11's levers ---------------------------------------------------------------------------------------------
from salesgan_utils.models import DEFAULT_VARIANT, GAN_VARIANTS, validation_scores  # noqa: E402


def _variant(name, **extra):
    return GanConfig.from_params({**TINY, **extra, "gan_variant": name})


def test_variants_set_their_levers_and_the_seed_is_the_seed_config():
    assert _variant("seed") == GanConfig(**TINY)  # seed variant: nothing changed but the name
    assert DEFAULT_VARIANT in GAN_VARIANTS
    binding = _variant("binding_gp", one_sided_gp=True)
    assert binding.critic_norm == "layer" and binding.one_sided_gp is False  # the variant wins over the profile
    assert _variant("counts").count_output and _variant("counts").noise_width == 8 * 8
    with pytest.raises(ValueError, match="gan_variant 'nope'"):
        _variant("nope")


@pytest.mark.parametrize("name", sorted(GAN_VARIANTS))
def test_every_variant_samples_and_trains_one_critic_and_generator_update(name):
    torch.manual_seed(0)
    module = WGANGP(_variant(name))
    history, calendar, reviews, target = _batch(b=16)
    scale_min, scale_range = torch.zeros(16, dtype=torch.float64), torch.full((16,), 4.0, dtype=torch.float64)
    samples = module.sample(history, calendar, reviews, k=3, scale_min=scale_min, scale_range=scale_range)
    assert samples.shape == (16, 3, 7) and (samples >= 0).all()
    if module.config.count_output:  # whole units: scaled * 4 is an integer
        units = samples * 4.0
        torch.testing.assert_close(units, torch.round(units))
    loss, stats = module.critic_loss(target, samples[:, 0], history, calendar, reviews, alpha=torch.rand(16, 1))
    loss.backward()
    assert torch.isfinite(stats["d_loss"])
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.critic_parameters())
    module.zero_grad()
    embedding = module.generator_encoder(history, calendar, reviews)
    fake = module.generator(torch.randn(16, module.config.noise_width), embedding, scale_min, scale_range)
    cond = module.encode_critic_condition(history, calendar, reviews).detach()
    (-module._critic_fn(history)(fake, cond).mean()).backward()
    head_grad = module.generator.head.weight.grad
    assert head_grad is not None and head_grad.abs().sum() > 0  # straight-through: the gradient gets through


def test_step_noise_varies_days_independently_of_the_shared_noise():
    torch.manual_seed(0)
    module = WGANGP(_variant("step_noise")).eval()
    with torch.no_grad():  # lift the head so that outputs are not clamped to 0
        module.generator.head.bias.fill_(1.0)
    history, calendar, reviews, _ = _batch(b=1)
    noise = torch.randn(2, module.config.noise_width)
    noise[1, :8] = noise[0, :8]  # same z, different per-day noise
    out = module(history.repeat(2, 1), calendar.repeat(2, 1, 1), reviews.repeat(2, 1), noise=noise)
    assert not torch.allclose(out[0], out[1])


def test_count_output_needs_scales_and_rounds_in_units():
    from salesgan_utils.models import straight_through_round

    x = torch.tensor([0.2, 0.6, 2.5001], requires_grad=True)
    y = straight_through_round(x)
    assert y.tolist() == [0.0, 1.0, 3.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]
    module = WGANGP(_variant("counts"))
    history, calendar, reviews, _ = _batch(b=2)
    with pytest.raises(ValueError, match="count_output needs"):
        module(history, calendar, reviews)


def test_sequence_critic_reads_the_history_and_layer_norm_critic_has_no_spectral_norm():
    from torch.nn.utils import parametrize as tp

    torch.manual_seed(0)
    module = WGANGP(_variant("counts_sequence_critic"))
    history, calendar, reviews, target = _batch(b=4)
    cond = module.encode_critic_condition(history, calendar, reviews)
    a = module.critic(target, cond, history)
    b = module.critic(target, cond, history.flip(1))  # same condition embedding, different raw history
    assert not torch.allclose(a, b)
    layer = WGANGP(_variant("binding_gp")).critic
    assert not any(tp.is_parametrized(m) for m in layer.modules())
    assert all(tp.is_parametrized(m) for m in module.critic.modules() if isinstance(m, (nn.Conv1d, nn.Linear)))


def test_validation_scores_add_the_conditional_gaps():
    history = np.array([[0.0, 0.0]] * 9 + [[5.0, 5.0]])  # 9 zero histories; the top decile is the last window
    target = np.zeros((10, 2))
    target[-1] = 4.0
    samples = np.repeat(target[:, None, :], 2, axis=1)
    perfect = validation_scores(history, target, samples)
    assert perfect == {"val_crps": 0.0, "val_cond_gap": 0.0, "val_score": 0.0}
    samples = samples + 1.0  # one unit too many everywhere: CRPS 1, gaps 1 + 1
    assert validation_scores(history, target, samples) == pytest.approx(
        {"val_crps": 1.0, "val_cond_gap": 2.0, "val_score": 3.0})


def test_describe_variant_names_each_lever_that_differs_from_the_seed():
    from salesgan_utils.models import describe_variant

    seed = describe_variant(_variant("seed", one_sided_gp=True))
    assert "the seed study's design" in seed and "\n" not in seed
    chosen = describe_variant(_variant("counts_sequence_critic", one_sided_gp=True))
    assert chosen.count("\n  - ") == 3 and "whole-unit" in chosen and "history" in chosen
    assert "two-sided" in describe_variant(_variant("binding_gp"))
    # a lever with several values is described by the value this config has
    assert "log(1 + units)" in describe_variant(_variant("counts_sequence_critic_log1p"))
    assert "DeepAR" in describe_variant(_variant("counts_sequence_critic_crps5_window_mean"))
    every = describe_variant(_variant("counts_sequence_critic_crps5_m8_stochastic"))
    assert "more than two samples" in every and "stochastic rounding" in every
    assert "adds 5 x the fair CRPS" in every and "adds 1 x" in describe_variant(_variant("counts_sequence_critic_crps"))
    assert "moving average of the generator's weights (decay 0.995)" in describe_variant(
        _variant("counts_sequence_critic_crps5_ema"))


def test_log1p_sequence_scale_works_in_units_of_every_product_alike_and_returns_scaled_values():
    module = WGANGP(_variant("counts_sequence_critic_log1p"))
    scaled = torch.tensor([[0.0, 0.25, 1.0], [0.0, 0.05, 1.0]])  # product A: range 4 units; product B: range 20
    low, width = torch.zeros(2, dtype=torch.float64), torch.tensor([4.0, 20.0], dtype=torch.float64)
    inside = module.to_model_space(scaled, low, width)
    # one unit is the same step for both products (log 2), however large their train maximum
    assert inside[0, 1].item() == pytest.approx(np.log(2.0)) and inside[1, 1].item() == pytest.approx(np.log(2.0))
    torch.testing.assert_close(module.from_model_space(inside, low, width), scaled)
    with pytest.raises(ValueError, match="sequence_scale='log1p' needs the windows' scale_min"):
        module.to_model_space(scaled, None, None)
    # the minmax models pass values through untouched
    assert WGANGP(_variant("counts")).to_model_space(scaled, None, None) is scaled


def test_window_mean_scale_divides_units_by_one_plus_the_history_mean_and_returns_scaled_values():
    module = WGANGP(_variant("counts_sequence_critic_crps5_window_mean"))
    # window A: range 4, history mean 1 unit → v = 2; window B: range 20, silent history → v = 1
    history = torch.tensor([[0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    low, width = torch.zeros(2, dtype=torch.float64), torch.tensor([4.0, 20.0], dtype=torch.float64)
    network = module.network_scales(history, low, width)
    torch.testing.assert_close(network[1], torch.tensor([2.0, 1.0], dtype=torch.float64))
    assert (network[0] == 0).all()
    target = torch.tensor([[0.5, 0.0], [0.05, 0.1]], dtype=torch.float64)  # A: 2, 0 units; B: 1, 2 units
    inside = module.to_model_space(target, low, width, network)
    torch.testing.assert_close(inside, torch.tensor([[1.0, 0.0], [1.0, 2.0]], dtype=torch.float64))
    torch.testing.assert_close(module.from_model_space(inside, low, width, network), target)
    with pytest.raises(ValueError, match="sequence_scale='window_mean' needs the windows' scale_min"):
        module.network_scales(history, None, None)
    # (whole units out of the generator through these scales: test_every_variant_samples_and_trains_...)


def test_sample_crps_is_the_fair_crps_of_m_draws():
    from salesgan_utils.metrics import crps_fair
    from salesgan_utils.models import sample_crps

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
    with pytest.raises(ValueError, match="crps_samples must be >= 2"):
        GanConfig(**TINY, crps_samples=1)


def test_stochastic_rounding_is_unbiased_and_keeps_zeros_and_the_gradient():
    from salesgan_utils.models import straight_through_round

    x = torch.tensor([0.0, 0.3, 2.75], requires_grad=True)
    offsets = torch.rand(100_000, 3, generator=torch.Generator().manual_seed(0))
    y = straight_through_round(x.expand(100_000, 3), offsets)
    assert (y == torch.round(y)).all() and (y[:, 0] == 0).all()  # whole units; an exact zero stays zero
    assert set(y[:, 2].unique().tolist()) == {2.0, 3.0}  # only the two neighbours
    torch.testing.assert_close(y.mean(dim=0), x.detach(), atol=0.01, rtol=0)  # E[⌊x + u⌋] = x
    y.sum().backward()
    assert x.grad.tolist() == [100_000.0] * 3  # straight-through


def test_stochastic_rounding_takes_its_offsets_from_the_noise():
    config = _variant("counts_sequence_critic_crps5_stochastic")
    nearest = _variant("counts_sequence_critic_crps5")
    assert config.noise_width == nearest.noise_width + config.horizon
    with pytest.raises(ValueError, match="count_rounding must be one of"):
        GanConfig(**TINY, count_rounding="up")
    torch.manual_seed(0)
    module = WGANGP(config).eval()
    with torch.no_grad():
        module.generator.head.bias.fill_(0.5)  # outputs near half a unit: the offsets decide
    history, calendar, reviews, _ = _batch(b=1)
    noise = torch.randn(400, config.noise_width)
    noise[:, :-config.horizon] = noise[0, :-config.horizon]  # the same network input, different rounding noise
    scale = torch.ones(400, dtype=history.dtype)
    out = module.generator(noise, module.generator_encoder(*(x.repeat(400, *[1] * (x.dim() - 1))
                                                            for x in (history, calendar, reviews))),
                           torch.zeros_like(scale), scale)
    assert (out == torch.round(out)).all() and len(out.unique()) > 1  # whole units, varied by the offsets only
    # the same rounding noise gives the same output: the rounding is a function of the noise, so seeds reproduce
    again = module.generator(noise, module.generator_encoder(*(x.repeat(400, *[1] * (x.dim() - 1))
                                                              for x in (history, calendar, reviews))),
                             torch.zeros_like(scale), scale)
    torch.testing.assert_close(out, again)


def test_crps_weight_adds_the_scoring_rule_to_the_generator_step_only():
    torch.manual_seed(0)
    plain, scored = WGANGP(_variant("counts_sequence_critic")), WGANGP(_variant("counts_sequence_critic_crps"))
    assert plain.config.crps_weight == 0 and scored.config.crps_weight == 1.0
    draws_plain, draws_scored = (m._step_draws(4) for m in (plain, scored))
    assert draws_plain["crps_noise"] is None
    assert draws_scored["crps_noise"].shape == (1, 4, scored.config.noise_width)  # m − 1 = 1 draw beside the fake
    eight = WGANGP(_variant("counts_sequence_critic_crps5_m8"))._step_draws(4)["crps_noise"]
    assert eight.shape == (7, 4, scored.config.noise_width)
    # the streams every variant shares are unchanged by the extra draw
    torch.testing.assert_close(draws_plain["generator_noise"], draws_scored["generator_noise"])


def test_generator_average_warms_up_then_averages_and_is_what_samples():
    torch.manual_seed(0)
    module = WGANGP(GanConfig(**TINY, generator_ema=0.9))
    plain = WGANGP(GanConfig(**TINY))
    assert plain.sampling_networks() == (plain.generator_encoder, plain.generator)
    assert module.sampling_networks() == (module.generator_encoder_ema, module.generator_ema)
    # the averages are in no optimiser and not counted as trainable
    optimised = {id(p) for opt in module.configure_optimizers() for g in opt.param_groups for p in g["params"]}
    averaged = list(module.generator_encoder_ema.parameters()) + list(module.generator_ema.parameters())
    assert not any(id(p) in optimised for p in averaged) and not any(p.requires_grad for p in averaged)
    assert parameter_counts(module.config) == parameter_counts(GanConfig(**TINY))

    weight, average = module.generator.head.weight, module.generator_ema.head.weight
    with torch.no_grad():
        weight.fill_(1.0)
        average.fill_(0.0)
    module.update_generator_average()  # step 0: decay min(0.9, 1/10) = 0.1, the average mostly takes the weights
    torch.testing.assert_close(average, torch.full_like(average, 0.9))
    module.train_steps.fill_(1000)
    with torch.no_grad():
        weight.fill_(2.0)
    module.update_generator_average()  # later: decay 0.9
    torch.testing.assert_close(average, torch.full_like(average, 0.9 * 0.9 + 0.1 * 2.0))

    # samples come from the average: silence the averaged head, lift the trained one
    history, calendar, reviews, _ = _batch(b=4)
    with torch.no_grad():
        module.generator_ema.head.weight.zero_()
        module.generator_ema.head.bias.fill_(-5.0)
        module.generator.head.bias.fill_(5.0)
    assert (module.sample(history, calendar, reviews, k=3) == 0).all()
    assert (module(history, calendar, reviews) == 0).all()
    assert (plain.sample(history, calendar, reviews, k=3) >= 0).all()


def test_generator_average_decay_must_be_below_one():
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="generator_ema must be a decay in"):
            GanConfig(**TINY, generator_ema=bad)


def test_generator_average_round_trips_through_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    module = WGANGP(GanConfig(**TINY, generator_ema=0.99))
    with torch.no_grad():
        module.generator_ema.head.bias.fill_(0.7)
    _save_checkpoint(module, tmp_path / "ema.ckpt")
    loaded = load_generator(tmp_path / "ema.ckpt")
    assert torch.equal(loaded.generator_ema.head.bias, module.generator_ema.head.bias)
    history, calendar, reviews, _ = _batch(b=3)
    noise = torch.randn(6, module.config.noise_width)
    torch.testing.assert_close(loaded.sample(history, calendar, reviews, k=2, noise=noise),
                               module.eval().sample(history, calendar, reviews, k=2, noise=noise))

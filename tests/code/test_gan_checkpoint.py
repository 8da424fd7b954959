"""Tests of salesgan_utils.gan.checkpoint: round trip, clear refusals, checkpoints of the ablation's format."""
from dataclasses import asdict

import numpy as np
import pytest
import torch
from gan_testing import TINY, design

from salesgan_utils.gan import ABLATION_COMMIT, REMOVED_LEVERS, WGANGP, GanConfig, load_generator


def _save(module, path, config=None):
    config = asdict(module.config) if config is None else config
    torch.save({"state_dict": module.state_dict(),
                "hyper_parameters": {"config": config, "noise_seed": module.noise_seed}}, path)
    return path


def test_load_generator_round_trip_and_clear_errors(tmp_path):
    torch.manual_seed(0)
    module = WGANGP(design("counts"), noise_seed=3)
    loaded = load_generator(_save(module, tmp_path / "good.ckpt"))
    assert not loaded.training and loaded.noise_seed == 3 and loaded.config == module.config
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
    _save(module, tmp_path / "wrong.ckpt", {**asdict(module.config), "gru_hidden": 12})
    with pytest.raises(ValueError, match="wrong.ckpt does not match the WGAN-GP architecture.*stage 02"):
        load_generator(tmp_path / "wrong.ckpt")


def _legacy(config: GanConfig, variant: str, **levers) -> dict:
    """A config dict as the ablation's code wrote it: `gan_variant` and every lever field."""
    values = {k: v for k, v in asdict(config).items() if k != "design"}
    return {**values, **REMOVED_LEVERS, "gan_variant": variant, **levers}


@pytest.mark.parametrize("variant,expected", [("seed", "original"),
                                              ("counts_sequence_critic_crps5_window_mean", "counts")])
def test_checkpoints_of_the_two_remaining_designs_in_the_old_format_load(tmp_path, variant, expected):
    torch.manual_seed(0)
    module = WGANGP(design(expected))
    loaded = load_generator(_save(module, tmp_path / "old.ckpt", _legacy(module.config, variant)))
    assert loaded.config == module.config


@pytest.mark.parametrize("variant,levers,named", [
    ("counts_sequence_critic_crps5_ema", {"generator_ema": 0.995}, "generator_ema=0.995"),
    ("counts_sequence_critic_crps5_m8_stochastic", {"crps_samples": 8, "count_rounding": "stochastic"},
     "crps_samples=8, count_rounding='stochastic'"),
    ("binding_gp", {"critic_norm": "layer"}, "critic_norm='layer'"),
    ("counts_sequence_critic_log1p", {"sequence_scale": "log1p"}, "sequence_scale='log1p'"),
    ("counts_sequence_critic", {}, "gan_variant='counts_sequence_critic'"),
])
def test_a_checkpoint_of_a_removed_lever_is_refused_naming_it_and_the_commit(tmp_path, variant, levers, named):
    torch.manual_seed(0)
    module = WGANGP(GanConfig(**TINY))
    path = _save(module, tmp_path / "lever.ckpt", _legacy(module.config, variant, **levers))
    with pytest.raises(ValueError, match=f"trained with {named}.*no longer in the package.*{ABLATION_COMMIT}"):
        load_generator(path)

"""Tests of salesgan_utils.gan.config: the designs, explicit values never overridden, round trips, descriptions."""
import pytest
from gan_testing import TINY, design

from salesgan_utils.gan import DEFAULT_DESIGN, DESIGNS, LEVERS, GanConfig, describe_design, design_name


def test_the_two_designs_set_their_levers_and_the_default_is_counts():
    assert set(DESIGNS) == {"original", "counts"} and DEFAULT_DESIGN in DESIGNS
    assert design("original") == GanConfig(**TINY)  # the dataclass defaults are the original design
    counts = design("counts")
    assert counts.design == "counts" and all(getattr(counts, k) == v for k, v in DESIGNS["counts"].items())
    assert counts.noise_width == 8 * (1 + 7)  # z plus one noise vector per target day
    # "" (the notebooks' default) and an absent key both mean the default design
    assert GanConfig.from_params(TINY).design == DEFAULT_DESIGN
    assert GanConfig.from_params({**TINY, "gan_design": ""}) == design(DEFAULT_DESIGN)


def test_an_unknown_design_names_the_known_ones():
    with pytest.raises(ValueError, match="gan_design 'seed' is not a design; choose one of \\['counts', 'original'\\]"):
        design("seed")
    assert design_name("") == DEFAULT_DESIGN


@pytest.mark.parametrize("key", LEVERS)
def test_a_design_never_overrides_an_explicit_value_it_contradicts(key):
    other = DESIGNS["original"][key]
    with pytest.raises(ValueError, match=f"{key}={other!r} contradicts gan_design 'counts'"):
        design("counts", **{key: other})
    # the same value as the design is no conflict
    assert getattr(design("counts", **{key: DESIGNS["counts"][key]}), key) == DESIGNS["counts"][key]


def test_profile_values_of_other_fields_are_kept_and_unknown_keys_named():
    assert design("counts", gru_hidden=12, one_sided_gp=True).gru_hidden == 12
    assert GanConfig.from_params({"gru_hidden": 12, "max_epochs": 3, "accelerator": "cpu"}).gru_hidden == 12
    cfg = GanConfig(**TINY)
    assert GanConfig.from_dict({**cfg.__dict__, "critic_channels": [4, 8], "betas": [0.0, 0.9]}) == cfg
    with pytest.raises(ValueError, match="gru_hiden"):
        GanConfig.from_dict({"gru_hiden": 3})
    with pytest.raises(ValueError, match="sequence_scale must be one of"):
        GanConfig(sequence_scale="log1p")


def test_describe_design_names_each_lever_that_differs_from_the_original():
    original = describe_design(design("original"))
    assert "replaced system's design" in original and "\n" not in original
    counts = describe_design(design("counts"))
    assert counts.count("\n  - ") == len(LEVERS)
    assert "whole-unit" in counts and "DeepAR" in counts and "adds 5 x the fair CRPS" in counts
    assert "adds 2 x" in describe_design(GanConfig(**{**DESIGNS["counts"], "crps_weight": 2.0}))

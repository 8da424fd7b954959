"""Tests of salesgan_utils.gan.scaling: the networks' sequence spaces on hand-computed windows."""
import pytest
import torch

from salesgan_utils.gan import scaling


def test_window_mean_divides_units_by_one_plus_the_history_mean_and_inverts():
    # window A: range 4, history mean 1 unit → v = 2; window B: range 20, silent history → v = 1
    history = torch.tensor([[0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    low, width = torch.zeros(2, dtype=torch.float64), torch.tensor([4.0, 20.0], dtype=torch.float64)
    network = scaling.network_scales("window_mean", history, low, width)
    torch.testing.assert_close(network[1], torch.tensor([2.0, 1.0], dtype=torch.float64))
    assert (network[0] == 0).all()
    target = torch.tensor([[0.5, 0.0], [0.05, 0.1]], dtype=torch.float64)  # A: 2, 0 units; B: 1, 2 units
    inside = scaling.to_network("window_mean", target, low, width, network)
    torch.testing.assert_close(inside, torch.tensor([[1.0, 0.0], [1.0, 2.0]], dtype=torch.float64))
    torch.testing.assert_close(scaling.from_network("window_mean", inside, low, width, network), target)
    # network values in units through the network scales: value · width + low
    torch.testing.assert_close(scaling.network_units(inside, *network),
                               torch.tensor([[2.0, 0.0], [1.0, 2.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="needs the windows' scale_min and scale_range"):
        scaling.network_scales("window_mean", history, None, None)


def test_minmax_passes_values_through_and_whole_units_round():
    scaled = torch.tensor([[0.0, 0.25, 1.0]])
    assert scaling.to_network("minmax", scaled, None, None) is scaled
    assert scaling.from_network("minmax", scaled, None, None) is scaled
    assert scaling.network_scales("minmax", scaled, 1.0, 2.0) == (1.0, 2.0)
    # n · v / v is n only up to the last bits: whole_units gives back exact units
    low, width, level = torch.zeros(1), torch.ones(1), torch.full((1,), 3.0)
    values = torch.tensor([[1.0 / 3.0 + 1e-7]])
    out = scaling.from_network("window_mean", values, low, width, (torch.zeros(1), level), whole_units=True)
    assert out.item() == 1.0
    assert scaling.units(torch.tensor([[-0.5, 0.5]]), torch.zeros(1), torch.full((1,), 2.0)).tolist() == [[0.0, 1.0]]

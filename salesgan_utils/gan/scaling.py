"""The only owner of the map between the windows' scaled values, units, and the networks' sequence space.

The windows carry per-entity min-max scaled values (`units = scaled · scale_range + scale_min`, `data` owns that
scaling). The networks work in the space `GanConfig.sequence_scale` names:
- "minmax": the windows' scaled values themselves;
- "window_mean": units ÷ v with v = 1 + the mean of the window's own history in units (DeepAR's scaling), so
  every history is seen relative to its recent level, whatever the product's size and however demand shifted.
Either way the module takes and returns the windows' scaled values; only the inside changes. The *network
scales* (low, width) of a batch satisfy units = network value · width + low: the generator rounds to whole units
with them and the CRPS term measures in units with them.
"""
from __future__ import annotations

import torch


def _scales(scale_min, scale_range, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if scale_min is None or scale_range is None:
        raise ValueError("this sequence scale needs the windows' scale_min and scale_range")
    return (torch.as_tensor(scale_min).to(like).reshape(-1, 1),
            torch.as_tensor(scale_range).to(like).reshape(-1, 1))


def units(scaled: torch.Tensor, scale_min, scale_range) -> torch.Tensor:
    """The windows' scaled values (B, T) in units, clipped at 0."""
    low, width = _scales(scale_min, scale_range, scaled)
    return (scaled * width + low).clamp(min=0)


def network_scales(sequence_scale: str, history_scaled: torch.Tensor, scale_min, scale_range) -> tuple:
    """(low, width) per window, (B,) each: the windows' own (scale_min, scale_range) for "minmax",
    (0, 1 + mean history units) for "window_mean"."""
    if sequence_scale != "window_mean":
        return scale_min, scale_range
    level = 1.0 + units(history_scaled, scale_min, scale_range).mean(dim=1)
    return torch.zeros_like(level), level


def to_network(sequence_scale: str, scaled: torch.Tensor, scale_min, scale_range,
               network=(None, None)) -> torch.Tensor:
    """The windows' scaled values (B, T) in the networks' space; `network` = `network_scales(...)` of the batch."""
    if sequence_scale == "minmax":
        return scaled
    return units(scaled, scale_min, scale_range) / _scales(*network, scaled)[1]


def from_network(sequence_scale: str, values: torch.Tensor, scale_min, scale_range, network=(None, None),
                 whole_units: bool = False) -> torch.Tensor:
    """The inverse of `to_network`: network outputs (B, T) back to the windows' scaled values. `whole_units`
    rounds the units first (n · v / v is n only up to the last bits)."""
    if sequence_scale == "minmax":
        return values
    low, width = _scales(scale_min, scale_range, values)
    in_units = values * _scales(*network, values)[1]
    if whole_units:
        in_units = torch.round(in_units)
    return (in_units - low) / width


def network_units(values: torch.Tensor, low, width) -> torch.Tensor:
    """Network-space sequences (B, T) in units, differentiably (no clipping, no rounding)."""
    low, width = _scales(low, width, values)
    return values * width + low

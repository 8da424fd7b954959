"""M copies of the WGAN-GP's networks (one design and size) as one batched computation: stacked weights and batched
matrix products.

`StackedNetworks` holds, for every tensor of a `WGANGP` state dict, the M members' tensors stacked on a leading
member axis, and computes the encoder, generator and critic of all members at once on inputs of shape (M, B, ...).
Each layer is the member's own layer: Linear → `baddbmm`; LSTM and GRU → their cells written as batched matmuls
(PyTorch's gate order and equations; `torch.func.vmap` has no batching rule for `nn.LSTM`/`nn.GRU`); Conv1d (kernel
3, padding 1) → the kernel's 3 shifted copies as one batched matmul; spectral norm → the same one-step power
iteration as `torch.nn.utils.parametrizations.spectral_norm`, per member. Members never mix: member j's outputs
depend on member j's weights and inputs only, so the sum of the members' losses has, for each member's weights, that
member's gradient. The arithmetic per member is that of the single networks (`gan.networks`), in another kernel
order, so a member agrees with the single network to float rounding.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import scaling
from .config import GanConfig
from .networks import _LEAKY_SLOPE, straight_through_relu, straight_through_round

_SN_EPS = 1e-12  # spectral_norm's default eps
_SN_SUFFIX = ".parametrizations.weight.original"


def _transposed(weight: torch.Tensor) -> torch.Tensor:
    """weight (M, out, in) as (M, in, out) for `x @ w`: contiguous on the CPU, where MKL's batched GEMM takes a slower
    path for the backward's product with a transposed operand (bench/RESULTS.md, 2026-12-06); a view elsewhere (a
    GPU step is bound by kernel launches, and a copy is one more)."""
    transposed = weight.transpose(1, 2)
    return transposed.contiguous() if transposed.device.type == "cpu" else transposed


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x (M, ..., in), weight (M, out, in), bias (M, out) → (M, ..., out)."""
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    out = torch.baddbmm(bias.unsqueeze(1), flat, _transposed(weight))
    return out.reshape(*x.shape[:-1], weight.shape[1])


class StackedNetworks:
    """The encoder(s), generator and critic of M members, stacked.

    Args:
        config: the members' common configuration.
        states: one `WGANGP.state_dict()` per member (initial weights and spectral-norm vectors).
        device: where the stacked tensors live and compute ("cpu", "cuda", ...); `member_state` always returns
            CPU tensors, so a checkpoint loads anywhere.
    """

    def __init__(self, config: GanConfig, states: list[dict], device: str | torch.device = "cpu"):
        if config.shared_encoder:
            raise ValueError("StackedNetworks: shared_encoder=True is not batched; train such a GAN alone "
                             "(train.train_gan)")
        self.config, self.members, self.device = config, len(states), torch.device(device)
        names = [name for name in states[0] if name != "train_steps"]
        stacked = {name: torch.stack([state[name].detach().float() for state in states]).to(self.device)
                   for name in names}
        self.vectors = {name: value for name, value in stacked.items() if name.endswith(("._u", "._v"))}
        self.params = {name: value.requires_grad_(True) for name, value in stacked.items()
                       if name not in self.vectors}
        self.sn_layers = [name[:-len(_SN_SUFFIX)] for name in self.params if name.endswith(_SN_SUFFIX)]

    # ---- parameters --------------------------------------------------------------------------------------------
    def generator_parameters(self) -> list[torch.Tensor]:
        return [p for name, p in self.params.items() if name.startswith(("generator_encoder.", "generator."))]

    def critic_parameters(self) -> list[torch.Tensor]:
        return [p for name, p in self.params.items() if name.startswith(("critic_encoder.", "critic."))]

    def member_state(self, j: int, train_steps: int) -> dict:
        """Member j's tensors as a `WGANGP.state_dict()` (loadable by `WGANGP.load_state_dict`)."""
        state = {"train_steps": torch.tensor(int(train_steps), dtype=torch.int64)}
        state.update({name: value[j].detach().to("cpu", copy=True)
                      for name, value in {**self.params, **self.vectors}.items()})
        return state

    def select(self, keep: list[int]) -> None:
        """Keep only the members at positions `keep` (new leaf tensors: optimisers must be rebuilt)."""
        index = torch.as_tensor(keep, dtype=torch.long, device=self.device)
        self.params = {name: p.detach()[index].clone().requires_grad_(True) for name, p in self.params.items()}
        self.vectors = {name: v[index].clone() for name, v in self.vectors.items()}
        self.members = len(keep)

    # ---- layers ------------------------------------------------------------------------------------------------
    def _dense(self, prefix: str, x: torch.Tensor) -> torch.Tensor:
        return _linear(x, self.params[f"{prefix}.weight"], self.params[f"{prefix}.bias"])

    def _recurrent(self, prefix: str, x: torch.Tensor, layers: int, gates: int, outputs: bool = True
                   ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """A stacked LSTM (gates 4: i, f, g, o) or GRU (gates 3: r, z, n) over x (M, B, T, in), zero initial
        state. Returns (outputs of the last layer (M, B, T, hidden), or None without `outputs`; last hidden state
        of the last layer).

        Per step one batched matmul: the input part of every step is computed at once beforehand, with the
        recurrent bias folded into it where the equations allow (all LSTM gates; the GRU's r and z), and added by
        `baddbmm` itself."""
        for layer in range(layers):
            w_ih, w_hh = self.params[f"{prefix}.weight_ih_l{layer}"], self.params[f"{prefix}.weight_hh_l{layer}"]
            b_ih, b_hh = self.params[f"{prefix}.bias_ih_l{layer}"], self.params[f"{prefix}.bias_hh_l{layer}"]
            hidden = w_hh.shape[2]
            m, b, steps = x.shape[:3]
            w_hh_t = _transposed(w_hh)  # (M, hidden, gates · hidden)
            keep = outputs or layer < layers - 1
            # every step's input part at once; unbind, not inputs[:, :, t]: indexing's backward fills a zero tensor
            # of the whole input per step (quadratic in T), unbind's stacks the T gradients once. The LSTM's input
            # part is time-major (M, T, B, 4 · hidden): each step's slice is one block per member, and the stacked
            # gradients of the steps are whole blocks (10-15% faster than batch-major on CPU)
            if gates == 4:
                inputs = _linear(x.transpose(1, 2), w_ih, b_ih + b_hh).unbind(dim=1)  # T × (M, B, 4 · hidden)
                h = c = x.new_zeros(m, b, hidden)
            else:
                folded = torch.cat([b_ih[:, :2 * hidden] + b_hh[:, :2 * hidden], b_ih[:, 2 * hidden:]], dim=1)
                inputs = _linear(x, w_ih, folded).unbind(dim=2)  # T × (M, B, 3 · hidden)
                h, b_hn = x.new_zeros(m, b, hidden), b_hh[:, 2 * hidden:].unsqueeze(1)
            states = []
            for t in range(steps):
                if gates == 4:
                    i, f, g, o = torch.baddbmm(inputs[t], h, w_hh_t).chunk(4, dim=-1)
                    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                    h = torch.sigmoid(o) * torch.tanh(c)
                else:
                    x_r, x_z, x_n = inputs[t].chunk(3, dim=-1)
                    h_r, h_z, h_n = torch.bmm(h, w_hh_t).chunk(3, dim=-1)
                    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
                    n = torch.tanh(x_n + r * (h_n + b_hn))
                    h = n + z * (h - n)
                if keep:
                    states.append(h)
            if not keep:
                x = None
            elif gates == 4:
                x = torch.stack(states, dim=1).transpose(1, 2)  # (M, B, T, hidden), a view of the time-major stack
            else:
                x = torch.stack(states, dim=2)
        return x, h

    def spectral_weights(self, power_iteration: bool) -> dict[str, torch.Tensor]:
        """Every spectrally normalised weight W / σ(W), σ = uᵀWv; with `power_iteration` u and v first take one
        step of the power method, in place (what spectral_norm does once per forward in training mode)."""
        out = {}
        for layer in self.sn_layers:
            weight = self.params[layer + _SN_SUFFIX]
            u_name, v_name = f"{layer}.parametrizations.weight.0._u", f"{layer}.parametrizations.weight.0._v"
            matrix = weight.flatten(2)  # (M, out, in · kernel)
            if power_iteration:
                with torch.no_grad():
                    u = F.normalize(torch.bmm(matrix, self.vectors[v_name].unsqueeze(-1)).squeeze(-1), dim=1,
                                    eps=_SN_EPS)
                    v = F.normalize(torch.bmm(matrix.transpose(1, 2), u.unsqueeze(-1)).squeeze(-1), dim=1,
                                    eps=_SN_EPS)
                    self.vectors[u_name], self.vectors[v_name] = u, v
            u, v = self.vectors[u_name], self.vectors[v_name]
            sigma = (u * torch.bmm(matrix, v.unsqueeze(-1)).squeeze(-1)).sum(dim=1)
            out[layer] = weight / sigma.reshape(-1, *[1] * (weight.dim() - 1))
        return out

    # ---- the three networks ------------------------------------------------------------------------------------
    def encode(self, prefix: str, history: torch.Tensor, calendar: torch.Tensor, reviews: torch.Tensor):
        """`ConditionEncoder` of every member: history (M, B, L), calendar (M, B, H, C), reviews (M, B, R) →
        (M, B, cond_dim)."""
        _, last = self._recurrent(f"{prefix}.history_rnn", history.unsqueeze(-1), self.config.history_layers, 4,
                                  outputs=False)
        parts = [last, torch.relu(self._dense(f"{prefix}.calendar_dense.0", calendar.flatten(2))),
                 torch.relu(self._dense(f"{prefix}.review_dense.0", reviews))]
        return torch.relu(self._dense(f"{prefix}.fuse.0", torch.cat(parts, dim=-1)))

    def generate(self, noise: torch.Tensor, embedding: torch.Tensor, low: torch.Tensor | None = None,
                 width: torch.Tensor | None = None) -> torch.Tensor:
        """`Generator` of every member: noise (M, N, noise_width), embedding (M, N, cond_dim), network scales
        (M, N) → (M, N, H) sequences in the network space."""
        cfg = self.config
        step_input = torch.relu(self._dense("generator.project.0", torch.cat([noise[..., :cfg.noise_dim], embedding],
                                                                             dim=-1)))
        step_input = step_input.unsqueeze(2).expand(-1, -1, cfg.horizon, -1)
        if cfg.step_noise:
            day_noise = noise[..., cfg.noise_dim:cfg.noise_dim * (1 + cfg.horizon)]
            day_noise = day_noise.reshape(*noise.shape[:2], cfg.horizon, cfg.noise_dim)
            step_input = step_input + self._dense("generator.step_noise", day_noise)
        steps, _ = self._recurrent("generator.rnn", step_input, cfg.gru_layers, 3)
        scaled = straight_through_relu(self._dense("generator.head", steps).squeeze(-1))
        if not cfg.count_output:
            return scaled
        low, width = low.to(scaled).unsqueeze(-1), width.to(scaled).unsqueeze(-1)
        return (straight_through_round(scaled * width + low) - low) / width

    def criticise(self, sequence: torch.Tensor, embedding: torch.Tensor, history: torch.Tensor,
                  weights: dict[str, torch.Tensor]) -> torch.Tensor:
        """`Critic` of every member with the spectrally normalised `weights` (`spectral_weights`): sequence
        (M, N, H), embedding (M, N, cond_dim), history (M, N, L) → (M, N) raw scores."""
        cfg = self.config
        if cfg.critic_reads_history:
            sequence = torch.cat([history[..., -cfg.horizon:].to(sequence), sequence], dim=-1)
        x = sequence.unsqueeze(-1)  # channels last: (M, N, T, channels)
        for index in range(len(cfg.critic_channels)):
            layer = f"critic.convs.{2 * index}"
            weight = weights[layer]  # (M, out, in, 3)
            padded = F.pad(x, (0, 0, 1, 1))
            steps = x.shape[2]
            # patches[..., t, i, k] = x[..., t + k - 1, i]: (in, kernel) order = weight.flatten(2)'s
            patches = torch.stack([padded[:, :, k:k + steps] for k in range(3)], dim=-1)
            x = F.leaky_relu(_linear(patches.flatten(3), weight.flatten(2), self.params[f"{layer}.bias"]),
                             _LEAKY_SLOPE)
        if cfg.critic_reads_history:
            pooled = x[:, :, -cfg.horizon:].transpose(2, 3).flatten(2)  # (M, N, channels · H), channel-major
        else:
            pooled = x.mean(dim=2)
        fused = F.leaky_relu(_linear(torch.cat([pooled, embedding], dim=-1), weights["critic.fuse.0"],
                                     self.params["critic.fuse.0.bias"]), _LEAKY_SLOPE)
        return _linear(fused, weights["critic.score"], self.params["critic.score.bias"]).squeeze(-1)

    # ---- sequence spaces ---------------------------------------------------------------------------------------
    def network_batch(self, history, target, scale_min, scale_range) -> tuple:
        """(history, target) in the networks' space and the network scales (low, width), (M, B) each, for
        windows' scaled values (M, B, T) and scales (M, B): `gan.scaling` applied to every member's rows."""
        m, b = history.shape[:2]
        flat_min, flat_range = scale_min.reshape(-1), scale_range.reshape(-1)
        scale = self.config.sequence_scale
        low, width = scaling.network_scales(scale, history.reshape(m * b, -1), flat_min, flat_range)
        out = [scaling.to_network(scale, x.reshape(m * b, -1), flat_min, flat_range, (low, width)).reshape(m, b, -1)
               for x in (history, target)]
        return out[0], out[1], low.reshape(m, b), width.reshape(m, b)

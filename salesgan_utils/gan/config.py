"""The GAN's configuration: `GanConfig` (sizes, optimisation, design levers) and the two designs.

A design names the values of the levers that shape the networks and the generator's loss; sizes and optimisation
settings come from the profile. Two designs exist:

- `original`: the system this project replaces, kept runnable: one noise vector per sequence, continuous outputs
  in per-product min-max scaling, a critic that sees the target alone, the pure adversarial loss.
- `counts` (the default): fresh noise at every generated day, whole-unit outputs, a critic that convolves the last
  history days with the target, sequences scaled by each window's own history level, and the fair CRPS added to
  the generator's loss. Chosen on validation; how and against what is in docs/gan_ablation.md.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

SEQUENCE_SCALES = ("minmax", "window_mean")

# The levers a design sets, and their values per design. `from_params` refuses a profile value that contradicts
# the design it names, so a design never silently replaces what the user wrote.
DEFAULT_DESIGN = "counts"
DESIGNS: dict[str, dict] = {
    "original": {"step_noise": False, "count_output": False, "critic_reads_history": False,
                 "sequence_scale": "minmax", "crps_weight": 0.0},
    DEFAULT_DESIGN: {"step_noise": True, "count_output": True, "critic_reads_history": True,
                     "sequence_scale": "window_mean", "crps_weight": 5.0},
}
LEVERS = tuple(DESIGNS[DEFAULT_DESIGN])


@dataclass
class GanConfig:
    """Sizes, optimisation settings and design levers of the conditional WGAN-GP; defaults = `original` at the
    replaced system's sizes.

    `shared_encoder` False gives G and D one condition encoder each, so each player trains its own condition
    features with its own optimiser and the critic's features cannot be trained through the generator's loss; True
    shares one encoder, trained by the generator's optimiser, read detached by the critic.
    """

    noise_dim: int = 128  # size of the noise vector z
    cond_dim: int = 512  # size of the fused condition embedding
    history_hidden: int = 256  # hidden size of the LSTM over the history
    history_layers: int = 2  # LSTM layers over the history
    calendar_hidden: int = 64  # dense layer over the flattened calendar of the target days
    review_hidden: int = 32  # dense layer over the review features
    gru_hidden: int = 256  # hidden size of the generator's GRU
    gru_layers: int = 3  # GRU layers
    critic_channels: tuple = (64, 128, 256)  # output channels of the critic's Conv1d stack
    critic_hidden: int = 256  # width of the critic's fusion layer (sequence features + condition)
    shared_encoder: bool = False  # one condition encoder for G and D (see above)
    n_critic: int = 5  # critic updates per generator update
    gp_lambda: float = 10.0  # weight of the gradient penalty
    # penalise only gradient norms above 1 (Petzka et al. 2018); every profile sets it: with a spectrally
    # normalised critic the two-sided penalty can lock the critic onto the wrong sign (docs/gan_ablation.md)
    one_sided_gp: bool = False
    lr_g: float = 1e-4  # generator learning rate (Adam)
    lr_d: float = 4e-4  # critic learning rate (Adam)
    betas: tuple = (0.0, 0.9)  # Adam betas of both optimisers
    batch_size: int = 128  # the global batch, split over DDP ranks
    val_samples: int = 8  # samples per validation window for the validation CRPS
    history_days: int = 30  # L, days of history
    horizon: int = 7  # H, target days
    calendar_dim: int = 10  # C, calendar features per target day
    review_dim: int = 3  # R, review features per window
    design: str = "original"  # the name of the design (`DESIGNS`) whose levers this config holds; a label
    # levers (set by the design)
    step_noise: bool = False  # fresh noise at every generated day, added to each GRU input
    count_output: bool = False  # whole units out: rounded in units with a straight-through gradient
    critic_reads_history: bool = False  # the critic convolves the last H history days with the target
    sequence_scale: str = "minmax"  # the networks' sequence space: per-product "minmax" or units / (1 + history mean)
    crps_weight: float = 0.0  # weight of the fair CRPS of two samples per window in the generator's loss

    @property
    def noise_width(self) -> int:
        """Noise values per generated sequence: z, plus one noise_dim vector per target day with `step_noise`."""
        return self.noise_dim * (1 + self.horizon) if self.step_noise else self.noise_dim

    def __post_init__(self):
        # YAML and checkpoints hand lists back; tuples keep the config hashable and comparable
        self.critic_channels = tuple(int(c) for c in self.critic_channels)
        self.betas = tuple(float(b) for b in self.betas)
        if self.n_critic < 1 or self.batch_size < 1 or self.val_samples < 1 or not self.critic_channels:
            raise ValueError(f"GanConfig: n_critic, batch_size, val_samples must be >= 1 and critic_channels "
                             f"non-empty, got {self}")
        if self.sequence_scale not in SEQUENCE_SCALES:
            raise ValueError(f"GanConfig: sequence_scale must be one of {SEQUENCE_SCALES}, got "
                             f"{self.sequence_scale!r}")

    @classmethod
    def from_dict(cls, values: dict) -> GanConfig:
        """Build from a dict (params file, checkpoint), rejecting unknown keys by name."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"GanConfig: unknown keys {unknown}; known keys are {sorted(known)}")
        return cls(**values)

    @classmethod
    def from_params(cls, params: dict) -> GanConfig:
        """Build from a whole notebook-parameter dict: the keys that are GanConfig fields (the others belong to
        the Trainer or other stages), and the levers of the design that `gan_design` names ("" or absent = the
        default design).

        Raises:
            ValueError: an unknown design, or a lever given in `params` with a value other than its design's
                (the message names the key; a design never overrides what the profile or --set gave).
        """
        name = design_name(params.get("gan_design", ""))
        known = {f.name for f in dataclasses.fields(cls)} - {"design"}
        values = {key: value for key, value in params.items() if key in known}
        conflicts = {key: values[key] for key in LEVERS if key in values and values[key] != DESIGNS[name][key]}
        if conflicts:
            given = ", ".join(f"{key}={value!r}" for key, value in conflicts.items())
            wanted = ", ".join(f"{key}={DESIGNS[name][key]!r}" for key in conflicts)
            raise ValueError(f"GanConfig: {given} contradicts gan_design {name!r}, which sets {wanted}. Remove the "
                             f"key(s) or choose the design that has them ({sorted(DESIGNS)}).")
        return cls(**{**values, **DESIGNS[name], "design": name})

    def for_windows(self, windows) -> GanConfig:
        """This config with L, H, C, R taken from a `WindowSet` (duck-typed: gan does not import windows)."""
        return dataclasses.replace(self, history_days=int(windows.history.shape[1]),
                                   horizon=int(windows.target.shape[1]), calendar_dim=int(windows.calendar.shape[2]),
                                   review_dim=int(windows.reviews.shape[1]))


def design_name(name: str) -> str:
    """The design a `gan_design` parameter names ("" = `DEFAULT_DESIGN`), checked against `DESIGNS`."""
    name = name or DEFAULT_DESIGN
    if name not in DESIGNS:
        raise ValueError(f"gan_design {name!r} is not a design; choose one of {sorted(DESIGNS)} "
                         f"(\"\" = the default, {DEFAULT_DESIGN!r})")
    return name


_LEVER_WORDS = {
    "step_noise": "fresh noise at every generated day (one noise vector for all 7 days makes samples flat)",
    "count_output": "whole-unit samples (outputs rounded in units with a straight-through gradient)",
    "critic_reads_history": "a critic that convolves the last history days and the target as one sequence",
    "sequence_scale": "both networks read and write units divided by 1 + the mean of the window's own history "
                      "(DeepAR's scaling, as the likelihood LSTM has) instead of each product's train-period min-max",
    "crps_weight": "a proper scoring rule beside the critic: the generator's loss adds {value:g} x the fair CRPS (in "
                   "units) of two samples of each window against the real target, so each history gets the right "
                   "level and spread",
}


def describe_design(config: GanConfig) -> str:
    """The design of `config` in plain words: one line per lever in which it differs from `original`."""
    original = GanConfig(**DESIGNS["original"])
    changed = [name for name in LEVERS if getattr(config, name) != getattr(original, name)]
    head = f"gan_design = {config.design!r}: "
    if not changed:
        return head + "the replaced system's design (one noise vector per sequence, continuous outputs, a " \
                      "target-only spectrally normalised critic)."
    words = [_LEVER_WORDS[name].format(value=getattr(config, name)) for name in changed]
    return head + "the original design with\n" + "\n".join(f"  - {line}" for line in words)

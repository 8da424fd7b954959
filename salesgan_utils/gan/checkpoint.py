"""Loading a stage-02 checkpoint, with its checks: readable, ours, of this code's design, finite weights.

Checkpoints written before the ablation's losing levers left the package (docs/gan_ablation.md) store a
`gan_variant` name and the removed lever fields; those of the two designs that remain load (the names are
mapped, the removed fields sit at their neutral values), any other is refused with the lever and the commit that
can still load it.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .config import DEFAULT_DESIGN, GanConfig
from .module import WGANGP

# the last commit whose package holds every lever of the ablation (docs/gan_ablation.md)
ABLATION_COMMIT = "1f63df4"
# removed lever → its neutral value (the value of both remaining designs)
REMOVED_LEVERS = {"critic_norm": "spectral", "crps_samples": 2, "count_rounding": "nearest", "generator_ema": 0.0}
_LEGACY_DESIGNS = {"seed": "original", "counts_sequence_critic_crps5_window_mean": DEFAULT_DESIGN}
_FIX = "Rerun stage 02 (notebooks/02_train_gan, e.g. bash run_all.sh --only 02) to write a fresh checkpoint."


def config_from_checkpoint(values: dict, source: str | Path = "checkpoint") -> GanConfig:
    """The `GanConfig` of a checkpoint's stored config dict, older formats included.

    Raises:
        ValueError: the checkpoint uses a lever or design that this code no longer has (the message names it and
            the commit that loads it), or holds unknown keys.
    """
    values = dict(values)
    used = [f"{key}={values[key]!r}" for key, neutral in REMOVED_LEVERS.items()
            if key in values and values[key] != neutral]
    if values.get("sequence_scale") == "log1p":
        used.append("sequence_scale='log1p'")
    variant = values.pop("gan_variant", None)
    if variant is not None and variant not in _LEGACY_DESIGNS and not used:
        used.append(f"gan_variant={variant!r}")
    if used:
        raise ValueError(f"{source} was trained with {', '.join(used)}, an ablation lever that is no longer in the "
                         f"package; load it at commit {ABLATION_COMMIT} (git checkout {ABLATION_COMMIT}), or "
                         f"{_FIX[0].lower() + _FIX[1:]}")
    for key in REMOVED_LEVERS:
        values.pop(key, None)
    if variant is not None:
        values["design"] = _LEGACY_DESIGNS[variant]
    return GanConfig.from_dict(values)


def load_generator(ckpt_path: str | Path, map_location: str | torch.device = "cpu") -> WGANGP:
    """Load a stage-02 checkpoint into a `WGANGP` in eval mode.

    Args:
        ckpt_path: a `.ckpt` written by `salesgan_utils.train.train_gan` (e.g. `checkpoints/best.ckpt`).
        map_location: device for the weights.

    Returns:
        The module, in eval mode.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable SalesGAN checkpoint, uses a removed lever, or its weights do not
            fit its architecture or are not finite; the message names the file and says what to do.
    """
    path = Path(ckpt_path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist. {_FIX}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # truncated zip, wrong format, foreign pickle: all mean "not our checkpoint"
        # one line, first sentence: torch's unpickling errors span many lines, its zip errors many sentences
        reason = " ".join(str(error).split()).split(". ")[0][:200]
        raise ValueError(f"{path} is not a readable checkpoint ({type(error).__name__}: {reason}). {_FIX}") from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint or "config" not in checkpoint.get(
            "hyper_parameters", {}):
        raise ValueError(f"{path} is a torch file but not a SalesGAN WGAN-GP checkpoint (no state_dict/config "
                         f"hyper-parameters). {_FIX}")
    hyper = dict(checkpoint["hyper_parameters"])
    try:
        config = config_from_checkpoint(hyper.pop("config"), path)
        module = WGANGP(config, **hyper)
        module.load_state_dict(checkpoint["state_dict"], strict=True)
    except ValueError as error:
        if "no longer in the package" in str(error):
            raise
        raise ValueError(f"{path} does not match the WGAN-GP architecture of this code (wrong or older model?): "
                         f"{' '.join(str(error).split())[:500]}. {_FIX}") from error
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"{path} does not match the WGAN-GP architecture of this code (wrong or older model?): "
                         f"{' '.join(str(error).split())[:500]}. {_FIX}") from error
    # a checkpoint of a diverged (or corrupted) training loads fine and then samples NaN everywhere
    broken = [name for name, tensor in checkpoint["state_dict"].items()
              if torch.is_tensor(tensor) and tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if broken:
        raise ValueError(f"{path} holds non-finite weights (NaN or inf) in {len(broken)} tensor(s), e.g. "
                         f"{broken[0]}: its training diverged or the file is damaged. {_FIX}")
    return module.to(map_location).eval()

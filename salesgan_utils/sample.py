"""K generated samples per conditioning window, streamed to disk; `SampleSet` reads them back without the model.

A sample folder (written atomically: built in a hidden temporary folder beside it, then renamed into place):

    samples_scaled.npy  (N, K, H) float32, scaled values (as the windows' targets)
    samples_units.npy   (N, K, H) float32, units via `WindowSet.to_units`
    keys.parquet        entity_id, origin of each window, in window order
    meta.json           k, seed, checkpoint, n_windows, horizon, noise, gan_design, generator_steps

Noise is drawn from `numpy.random.default_rng(seed)` in window order, K rows per window: numpy draws a stream that
does not depend on how it is chunked, so the samples do not depend on `batch_size` (beyond float rounding of
differently sized matrix products) nor on the device.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import paths
from .gan import WGANGP, load_generator
from .windows import WindowSet

SCALED_FILE, UNITS_FILE, KEYS_FILE, META_FILE = "samples_scaled.npy", "samples_units.npy", "keys.parquet", "meta.json"


@dataclass
class SampleSet:
    """Generated samples of one split, as written by `generate_samples`.

    Attributes:
        folder: the sample folder.
        scaled: (N, K, H) float32 (memory-mapped, read-only).
        units: (N, K, H) float32 (memory-mapped, read-only).
        keys: DataFrame (entity_id, origin), one row per window.
        meta: the metadata dict (k, seed, checkpoint, n_windows, horizon, noise, gan_design, generator_steps).
    """

    folder: Path
    scaled: np.ndarray
    units: np.ndarray
    keys: pd.DataFrame
    meta: dict

    @property
    def k(self) -> int:
        return int(self.meta["k"])

    def __len__(self) -> int:
        return int(self.scaled.shape[0])

    @classmethod
    def load(cls, folder: str | Path, mmap: bool = True) -> SampleSet:
        """Read a sample folder with numpy/pandas only.

        Args:
            folder: folder written by `generate_samples`.
            mmap: memory-map the arrays (bounded memory); False loads them.
        """
        folder = Path(folder)
        if folder.parent.name == paths.STAGES[3]:  # an earlier stage's folder: only a finished run's
            paths.check_stage_complete(folder.parent, 3)
        missing = [name for name in (SCALED_FILE, UNITS_FILE, KEYS_FILE, META_FILE) if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(f"sample folder {folder} lacks {missing}: it is written by stage 03 "
                                    f"(notebooks/03_generate_samples); rerun that stage: bash run_all.sh --only 03 "
                                    f"(same --profile and --run).")
        mode = "r" if mmap else None
        return cls(folder=folder, scaled=np.load(folder / SCALED_FILE, mmap_mode=mode),
                   units=np.load(folder / UNITS_FILE, mmap_mode=mode), keys=pd.read_parquet(folder / KEYS_FILE),
                   meta=json.loads((folder / META_FILE).read_text(encoding="utf-8")))


def _windows_tensors(windows: WindowSet, rows: slice, device) -> tuple:
    return tuple(torch.as_tensor(np.ascontiguousarray(a[rows], dtype=np.float32), device=device)
                 for a in (windows.history, windows.calendar, windows.reviews))


def generate_samples(module_or_ckpt: WGANGP | str | Path, windows: WindowSet, k: int, out_dir: str | Path, *,
                     seed: int, batch_size: int = 1024, device: str | torch.device = "cpu") -> SampleSet:
    """Generate K samples per window and stream them to `out_dir` in chunks (memory bounded by `batch_size`).

    Args:
        module_or_ckpt: a trained `WGANGP`, or a checkpoint path (loaded with `load_generator`).
        windows: the conditioning windows (their targets are not used).
        k: samples per window.
        out_dir: the sample folder to write (replaced if it exists).
        seed: noise seed; the same seed gives identical samples.
        batch_size: generated sequences per forward (windows per chunk = max(1, batch_size // k)).
        device: where the generator runs.

    Returns:
        The `SampleSet` read back from `out_dir`.
    """
    if k < 1:
        raise ValueError(f"generate_samples: k must be >= 1, got {k}")
    checkpoint = None
    if isinstance(module_or_ckpt, WGANGP):
        module = module_or_ckpt
    else:
        checkpoint = str(module_or_ckpt)
        module = load_generator(module_or_ckpt)
    was_training, old_device = module.training, module.device
    module = module.to(device).eval()
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    n, horizon, noise_width = len(windows), windows.horizon, module.config.noise_width
    chunk = max(1, batch_size // k)
    rng = np.random.default_rng(seed)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    # mkdtemp creates a 0700 folder; the sample folder gets the usual 0777 & ~umask (readable without the model,
    # by other users too, like every other artifact)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    try:
        scaled = np.lib.format.open_memmap(tmp / SCALED_FILE, mode="w+", dtype=np.float32, shape=(n, k, horizon))
        units = np.lib.format.open_memmap(tmp / UNITS_FILE, mode="w+", dtype=np.float32, shape=(n, k, horizon))
        for start in range(0, n, chunk):
            rows = slice(start, min(start + chunk, n))
            count = rows.stop - rows.start
            noise = torch.from_numpy(rng.standard_normal((count * k, noise_width), dtype=np.float32))
            history, calendar, reviews = _windows_tensors(windows, rows, device)
            scales = [torch.as_tensor(np.asarray(a[rows], dtype=np.float64), device=device)
                      for a in (windows.scale_min, windows.scale_range)]
            block = module.sample(history, calendar, reviews, k, noise=noise, scale_min=scales[0],
                                  scale_range=scales[1]).cpu().numpy()
            scaled[rows] = block
            block_units = windows.subset(rows).to_units(block)
            # a count-valued generator emits whole units; float32 scaled values only lose the last bits of them
            units[rows] = np.round(block_units) if module.config.count_output else block_units
        scaled.flush()
        units.flush()
        del scaled, units  # close the memmaps before the rename
        windows.keys().to_parquet(tmp / KEYS_FILE, index=False)
        meta = {"k": int(k), "seed": int(seed), "checkpoint": checkpoint, "n_windows": int(n),
                "horizon": int(horizon), "noise": "numpy default_rng(seed).standard_normal, K rows per window",
                "gan_design": module.config.design, "generator_steps": int(module.train_steps)}
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if out_dir.exists():
            # two renames: the old folder is moved aside first, so a reader never sees a half-written one
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
            os.replace(out_dir, old / "previous")
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        module.to(old_device).train(was_training)
    return SampleSet.load(out_dir)

"""Tests of salesgan_utils.train: artifacts, determinism, resume after an interruption, devices, 2-process DDP.

Every training run here is tiny (a few thousand parameters, 4 steps per epoch, 2 epochs): the properties tested
(bit-identical reruns, exact resume, DDP = one process on the same global batch) do not depend on model size.
"""
import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.strategies import DDPStrategy

from salesgan_utils import train as train_module
from salesgan_utils.gan import WGANGP, GanConfig, load_generator
from salesgan_utils.train import HISTORY_COLUMNS, GlobalBatchSampler, resolve_devices, train_gan
from salesgan_utils.windows import random_windowset

torch.set_num_threads(1)  # shared cores; and forked DDP workers must not inherit a busy OpenMP pool

TINY = dict(noise_dim=8, cond_dim=16, history_hidden=8, history_layers=1, calendar_hidden=8, review_hidden=4,
            gru_hidden=8, gru_layers=1, critic_channels=(4, 8), critic_hidden=8, batch_size=16, val_samples=4,
            n_critic=2)
EPOCHS = 2
TRAIN, VAL = random_windowset(64, seed=0), random_windowset(32, seed=1)  # 4 global batches of 16 per epoch
CONFIG = GanConfig(**TINY).for_windows(TRAIN)
DDP_TOLERANCE = 1e-5  # max |weight difference| between a 2-process and a 1-process run (measured: about 1e-6)


class _Interrupt(Exception):
    pass


class _InterruptAt(Callback):
    """Raise during a given epoch and batch, as a killed Kaggle session would stop the run."""

    def __init__(self, epoch, batch):
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            raise _Interrupt()


class _SaveRankWeights(Callback):
    """Each process saves its final weights (with fork/spawn only rank 0's come back to the parent)."""

    def on_train_end(self, trainer, pl_module):
        torch.save(pl_module.state_dict(), f"{trainer.default_root_dir}/rank{trainer.global_rank}.pt")


def _run(out_dir, **kwargs):
    options = dict(max_epochs=EPOCHS, seed=0, progress_bar=False, accelerator="cpu", devices=1)
    options.update(kwargs)
    return train_gan(TRAIN, VAL, CONFIG, out_dir, **options)


def _weights(ckpt):
    return torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run, shared by the tests that compare against it."""
    return _run(tmp_path_factory.mktemp("reference"), callbacks=[_SaveRankWeights()])


def test_artifacts_history_and_best_checkpoint(reference):
    out = reference.out_dir
    for name in ("checkpoints/best.ckpt", "checkpoints/last.ckpt", "training_history.csv", "model_summary.json"):
        assert (out / name).is_file(), name
    assert list((reference.log_dir / "csv").glob("version_0/metrics.csv"))
    assert list((reference.log_dir / "tensorboard").glob("version_0/events.*"))
    history = reference.history
    assert list(history.columns) == HISTORY_COLUMNS
    assert history["epoch"].tolist() == [0, 1] and history["step"].tolist() == [4, 8]
    assert history.drop(columns="g_crps").notna().all().all()
    assert history["g_crps"].isna().all()  # the seed config has no CRPS term
    pd.testing.assert_frame_equal(pd.read_csv(out / "training_history.csv"), history, check_dtype=False)
    # best.ckpt is the epoch with the lowest validation CRPS, and it loads for stage 03
    best = torch.load(reference.best_ckpt, map_location="cpu", weights_only=True)
    assert best["epoch"] == int(history["val_crps"].idxmin())  # the selection score: the validation fair CRPS
    module = load_generator(reference.best_ckpt)
    assert isinstance(module, WGANGP) and not module.training


def test_training_changes_both_players_and_is_deterministic(reference, tmp_path):
    pl.seed_everything(0, verbose=False)
    initial = WGANGP(CONFIG, noise_seed=0).state_dict()  # what train_gan builds from seed 0
    trained = _weights(reference.last_ckpt)
    for prefix in ("generator.", "critic."):
        assert any(not torch.equal(initial[k], trained[k]) for k in trained if k.startswith(prefix)), prefix
    again = _run(tmp_path)
    _assert_same_weights(_weights(again.last_ckpt), trained)
    _assert_same_weights(_weights(again.best_ckpt), _weights(reference.best_ckpt))
    pd.testing.assert_frame_equal(again.history, reference.history)


def test_resume_after_interruption_reaches_the_same_weights(reference, tmp_path):
    # killed in epoch 1 (after last.ckpt of epoch 0), then rerun with the same out_dir
    with pytest.raises(_Interrupt):
        _run(tmp_path, callbacks=[_InterruptAt(epoch=1, batch=2)])
    partial = _weights(tmp_path / "checkpoints" / "last.ckpt")
    resumed = _run(tmp_path)
    assert resumed.resumed_from == tmp_path / "checkpoints" / "last.ckpt"
    assert any(not torch.equal(partial[k], resumed_w) for k, resumed_w in _weights(resumed.last_ckpt).items())
    _assert_same_weights(_weights(resumed.last_ckpt), _weights(reference.last_ckpt))
    ours = torch.load(resumed.last_ckpt, map_location="cpu", weights_only=True)["optimizer_states"]
    theirs = torch.load(reference.last_ckpt, map_location="cpu", weights_only=True)["optimizer_states"]
    for mine, ref in zip(ours, theirs):
        for key, state in mine["state"].items():
            for name, value in state.items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(ref["state"][key][name]))
    # the history stitches the two runs' logs: the redone epoch 1 replaces the interrupted one
    pd.testing.assert_frame_equal(resumed.history, reference.history)


def test_resume_false_starts_over_and_mismatched_config_is_refused(reference, tmp_path):
    _run(tmp_path, max_epochs=1, limit_train_batches=1)
    other = GanConfig(**{**TINY, "critic_hidden": 12}).for_windows(TRAIN)
    differing = r"another configuration: critic_hidden 8 in the checkpoint, 12 now\. Use "
    with pytest.raises(ValueError, match=differing) as refusal:
        train_gan(TRAIN, VAL, other, tmp_path, max_epochs=1, seed=0, progress_bar=False, accelerator="cpu")
    assert "n_critic" not in str(refusal.value)  # only the fields that differ
    fresh = train_gan(TRAIN, VAL, other, tmp_path, max_epochs=1, seed=0, progress_bar=False, accelerator="cpu",
                      resume=False, limit_train_batches=1)
    assert fresh.resumed_from is None and fresh.history["step"].tolist() == [1]
    with pytest.raises(ValueError, match="for_windows"):
        train_gan(TRAIN, VAL, GanConfig(**TINY, calendar_dim=3), tmp_path, max_epochs=1, seed=0)



@pytest.mark.ddp
@pytest.mark.timeout(180)  # a hung gloo rendezvous must fail the run, not stall CI
def test_two_process_ddp_matches_one_process(reference, tmp_path):
    """2 CPU processes (gloo) each take half of every global batch of 16, with the noise rows a single process
    would draw for those windows: the averaged gradient is then the full-batch gradient, so both ranks must end
    with identical weights that equal the 1-process run's up to float rounding (DDP_TOLERANCE)."""
    strategy = DDPStrategy(find_unused_parameters=True, start_method="fork", process_group_backend="gloo")
    result = _run(tmp_path, devices=2, strategy=strategy, callbacks=[_SaveRankWeights()])
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    _assert_same_weights(rank0, rank1)
    single = torch.load(reference.out_dir / "rank0.pt", weights_only=True)
    pl.seed_everything(0, verbose=False)
    initial = WGANGP(CONFIG, noise_seed=0).state_dict()
    worst = max((rank0[k] - single[k]).abs().max().item() for k in single if single[k].is_floating_point())
    moved = max((single[k] - initial[k]).abs().max().item() for k in single if single[k].is_floating_point())
    assert worst <= DDP_TOLERANCE < moved / 100
    assert result.history["step"].tolist() == [4, 8]
    np.testing.assert_allclose(result.history["val_crps"], reference.history["val_crps"], rtol=1e-4)


def test_global_batch_sampler_shards_each_global_batch(monkeypatch):
    unsharded = list(GlobalBatchSampler(10, 4, seed=3, shuffle=True, drop_last=True, shard=True))
    assert len(unsharded) == 2 and all(len(b) == 4 for b in unsharded)
    for world in (2, 4):
        parts = []
        for rank in range(world):
            monkeypatch.setattr(train_module, "_world", lambda rank=rank, world=world: (world, rank))
            parts.append(list(GlobalBatchSampler(10, 4, seed=3, shuffle=True, drop_last=True, shard=True)))
        for b, batch in enumerate(unsharded):
            assert sorted(sum((p[b] for p in parts), [])) == sorted(batch)
            assert parts[1][b] == batch[1::world]
    sampler = GlobalBatchSampler(10, 4, seed=3, shuffle=True, drop_last=True, shard=True)
    sampler.sampler.set_epoch(1)  # a new epoch, a new order, the same for a resumed run
    assert list(sampler) != unsharded
    assert list(GlobalBatchSampler(10, 4, 0, shuffle=False, drop_last=False, shard=False))[-1] == [8, 9]
    assert list(GlobalBatchSampler(3, 128, 0, shuffle=True, drop_last=True, shard=False)) != []  # tiny split


@pytest.mark.parametrize("kwargs, gpus, expected", [
    (dict(), 0, ("cpu", 1, "auto")),
    (dict(accelerator="cpu", devices=2, interactive=True), 0, ("cpu", 2, "ddp_notebook_find_unused_parameters_true")),
    (dict(accelerator="cpu", devices=2, strategy="ddp_spawn", interactive=True), 0,
     ("cpu", 2, "ddp_notebook_find_unused_parameters_true")),
    (dict(interactive=True), 2, ("gpu", 2, "ddp_notebook_find_unused_parameters_true")),
    (dict(interactive=False), 1, ("gpu", 1, "auto")),
    (dict(strategy="ddp_fork", accelerator="cpu", devices=2), 0, ("cpu", 2, "ddp_fork_find_unused_parameters_true")),
])
def test_resolve_devices(monkeypatch, kwargs, gpus, expected):
    monkeypatch.setattr(train_module, "_cuda_device_count", lambda: gpus)
    choice = resolve_devices(**kwargs)
    assert (choice.accelerator, choice.n_devices, choice.strategy) == expected


def test_resolve_devices_script_ddp_and_missing_gpu(monkeypatch):
    monkeypatch.setattr(train_module, "_cuda_device_count", lambda: 2)
    choice = resolve_devices(interactive=False)
    assert isinstance(choice.strategy, DDPStrategy) and choice.strategy._ddp_kwargs["find_unused_parameters"]
    monkeypatch.setattr(train_module, "_cuda_device_count", lambda: 0)
    with pytest.raises(RuntimeError, match="no CUDA device"):
        resolve_devices(accelerator="gpu")


def test_shared_encoder_trains(tmp_path):
    shared = GanConfig(**{**TINY, "shared_encoder": True}).for_windows(TRAIN)
    result = train_gan(TRAIN, VAL, shared, tmp_path, max_epochs=1, seed=0, progress_bar=False, accelerator="cpu",
                       limit_train_batches=2)
    assert result.history["step"].tolist() == [2] and np.isfinite(result.history["val_crps"]).all()
    assert "critic_encoder.fuse.0.weight" not in _weights(result.last_ckpt)


def test_last_checkpoint_follows_every_epoch_even_without_improvement(tmp_path):
    # lr 0: the validation CRPS cannot improve after epoch 0, so only the "latest" callback saves in epoch 1;
    # Lightning's own save_last would have left last.ckpt at epoch 0, and a resume would redo epoch 1.
    frozen = GanConfig(**{**TINY, "lr_g": 1e-12, "lr_d": 1e-12}).for_windows(TRAIN)
    result = train_gan(TRAIN, VAL, frozen, tmp_path, max_epochs=3, seed=0, progress_bar=False,
                       accelerator="cpu", devices=1)
    last = torch.load(result.last_ckpt, map_location="cpu", weights_only=False)
    best = torch.load(result.best_ckpt, map_location="cpu", weights_only=False)
    assert last["epoch"] == 2  # the index of the third and last epoch
    assert best["epoch"] < last["epoch"]
    assert not list(tmp_path.glob("checkpoints/.*.tmp"))  # atomic saves leave no temporary files behind


def test_counts_design_with_its_crps_term_trains_and_reruns_bit_identically(tmp_path):
    # the CRPS term's second draw and the whole-unit rounding come from the seeded step stream: same seed, same
    # weights
    config = GanConfig.from_params({**TINY, "gan_design": "counts"}).for_windows(TRAIN)
    runs = [train_gan(TRAIN, VAL, config, tmp_path / str(i), max_epochs=1, seed=0, progress_bar=False,
                      accelerator="cpu", devices=1, limit_train_batches=2) for i in range(2)]
    first, second = (_weights(run.last_ckpt) for run in runs)
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert np.isfinite(runs[0].history["val_crps"]).all()
    assert (runs[0].history["g_crps"] > 0).all()  # the CRPS term is logged per epoch (units/day, positive)


def test_tensorboard_command_names_the_folder_in_use(tmp_path) -> None:
    from salesgan_utils.train import tensorboard_command

    live = tensorboard_command(tmp_path / "02_train_gan.partial")
    assert f"tensorboard --logdir {tmp_path / '02_train_gan.partial' / 'logs' / 'tensorboard'}" in live
    assert "renamed to 02_train_gan/" in live
    assert "renamed" not in tensorboard_command(tmp_path / "02_train_gan")

"""The generator ensemble: stacked networks compute each member's own networks; a member trained in an ensemble is
the member trained alone (`train.train_gan`, same seed and windows); budgets, early stopping and artifacts per
member; bad member specs refused."""
import numpy as np
import pytest
import torch
from gan_testing import design, make_batch

from salesgan_utils.gan import MemberSpec, load_generator
from salesgan_utils.gan.batched import StackedNetworks
from salesgan_utils.gan.ensemble import ensemble_blocks, initial_module, patience_stop
from salesgan_utils.train import BEST_CKPT, HISTORY_FILE, SUMMARY_FILE, train_ensemble, train_gan
from salesgan_utils.windows import random_windowset

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/code/conftest.py

TRAIN, VAL = random_windowset(200, seed=0), random_windowset(40, seed=1)


def _config(name="counts", **extra):
    return design(name, one_sided_gp=True, gru_layers=1, **extra).for_windows(TRAIN)


def _members(epochs, **extra):
    rng = np.random.default_rng(5)  # 64 windows each = 4 batches of 16 per epoch
    return [MemberSpec(windows=np.sort(rng.choice(len(TRAIN), 64, replace=False)), seed=seed, max_epochs=epochs,
                       name=f"m{seed}", **extra) for seed in (3, 4, 5)]


def _weights(ckpt):
    return {k: v.float() for k, v in load_generator(ckpt).state_dict().items() if v.is_floating_point()}


def _max_difference(a, b):
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.mark.parametrize("name", ["counts", "original"])
def test_stacked_networks_compute_each_member_s_own_networks(name):
    cfg = _config(name)
    modules = [initial_module(cfg, seed) for seed in (0, 1, 2)]
    stacked = StackedNetworks(cfg, [m.state_dict() for m in modules])
    batches = [make_batch(5, cfg, seed=s) for s in range(3)]
    history, calendar, reviews, target = (torch.stack(parts) for parts in zip(*batches))
    noise = torch.randn(3, 5, cfg.noise_width, generator=torch.Generator().manual_seed(0))
    low, width = torch.zeros(3, 5), 1 + 3 * torch.rand(3, 5, generator=torch.Generator().manual_seed(1))
    embedding = stacked.encode("generator_encoder", history, calendar, reviews)
    fake = stacked.generate(noise, embedding, low, width)
    scores = stacked.criticise(fake, embedding, history, stacked.spectral_weights(power_iteration=True))
    for j, module in enumerate(modules):
        module.train()  # spectral norm's power iteration runs in training mode, as in the ensemble's updates
        alone_embedding = module.generator_encoder(history[j], calendar[j], reviews[j])
        alone_fake = module.generator(noise[j], alone_embedding, low[j], width[j])
        alone_scores = module.critic(alone_fake, alone_embedding, history[j])
        torch.testing.assert_close(embedding[j], alone_embedding, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(fake[j], alone_fake, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(scores[j], alone_scores, atol=1e-6, rtol=1e-5)
        state = stacked.member_state(j, 0)
        for key, value in module.state_dict().items():  # the power iteration moved u and v the same way
            if key.endswith(("._u", "._v")):
                torch.testing.assert_close(state[key], value, atol=1e-6, rtol=1e-5)


@pytest.mark.slow
def test_a_member_trained_in_an_ensemble_matches_it_trained_alone_over_300_steps(tmp_path):
    # Learning rates 10x below the profiles': a GAN's dynamics amplify float rounding (the ensemble's batched
    # matmuls sum in another order than the single networks' kernels) about 10x every 40 steps at the profiles'
    # rates, so over 300 steps only slow dynamics keep the two runs within a tolerance that could catch a bug
    # (measured: 2e-5 here; 1e-5 after 80 steps and 0.02 after 160 at the profiles' rates).
    cfg = _config(lr_g=1e-5, lr_d=4e-5)
    members = _members(epochs=75)  # 300 steps
    together = train_ensemble(TRAIN, VAL, cfg, members, tmp_path / "ensemble")
    alone = train_gan(TRAIN.subset(members[1].windows), VAL, cfg, tmp_path / "alone", max_epochs=75,
                      seed=members[1].seed, accelerator="cpu", devices=1, resume=False, progress_bar=False)
    assert together[1].generator_steps == alone.generator_steps == 300
    first = _weights(alone.last_ckpt)
    assert _max_difference(_weights(together[1].last_ckpt), first) < 1e-3
    np.testing.assert_allclose(together[1].history["val_crps"], alone.history["val_crps"], rtol=1e-5)
    np.testing.assert_allclose(together[1].history["d_loss"], alone.history["d_loss"], rtol=1e-3, atol=1e-4)
    # the members did train, each its own way
    assert _max_difference(_weights(together[0].last_ckpt), _weights(together[1].last_ckpt)) > 1e-2


def test_members_keep_their_own_budgets_and_artifacts(tmp_path):
    members = _members(epochs=3)
    members[0].max_steps = 5           # cut in its second epoch, validated there
    members[2].max_epochs = 1
    results = train_ensemble(TRAIN, VAL, _config(), members, tmp_path, log=None)
    assert [r.generator_steps for r in results] == [5, 12, 4]
    assert [list(r.history["step"]) for r in results] == [[4, 5], [4, 8, 12], [4]]
    for spec, result in zip(members, results):
        folder = tmp_path / spec.name
        assert (folder / HISTORY_FILE).is_file() and (folder / SUMMARY_FILE).is_file()
        best = result.history["val_crps"].idxmin()
        saved = torch.load(folder / "checkpoints" / BEST_CKPT, weights_only=True)
        assert saved["global_step"] == result.history["step"][best]
        assert load_generator(result.last_ckpt).noise_seed == spec.seed
    # member 1 trained beside members that left the stack early: it is what it is beside members that run on
    reference = train_ensemble(TRAIN, VAL, _config(), _members(epochs=3), tmp_path / "reference")
    assert _max_difference(_weights(results[1].last_ckpt), _weights(reference[1].last_ckpt)) < 1e-4


def test_patience_stops_a_member_after_validations_without_improvement(tmp_path):
    members = _members(epochs=6, patience=1)
    results = train_ensemble(TRAIN, VAL, _config(), members, tmp_path)
    for result in results:
        crps = result.history["val_crps"].to_numpy()
        stopped = len(crps) < 6
        # it stops at the first validation that is not a new minimum, and only then
        assert stopped == any(crps[i] >= crps[:i].min() for i in range(1, len(crps)))


def test_patience_read_off_a_whole_budget_curve_is_where_the_member_stops_when_trained_with_it(tmp_path):
    whole = train_ensemble(TRAIN, VAL, _config(), _members(epochs=6), tmp_path / "whole")
    stopped = train_ensemble(TRAIN, VAL, _config(), _members(epochs=6, patience=1), tmp_path / "patience")
    for curve, alone in zip(whole, stopped):
        history = alone.history
        step, best = patience_stop(curve.history["step"], curve.history["val_crps"], patience=1)
        assert step == history["step"].iloc[-1]
        assert best == pytest.approx(history["val_crps"].min(), rel=1e-6)
    assert patience_stop(whole[0].history["step"], whole[0].history["val_crps"], patience=0)[0] == 6 * 4


def test_patience_stop_on_known_curves():
    steps = [25, 50, 75, 100, 125, 150]
    assert patience_stop(steps, [5, 4, 4.5, 4.2, 3, 3.5], patience=2) == (100, 4)  # waited at 75 and 100
    assert patience_stop(steps, [5, 4, 4.5, 4.2, 3, 3.5], patience=3) == (150, 3)  # never waited 3: the budget
    assert patience_stop(steps, [5, 5, 5, 5, 5, 5], patience=1) == (50, 5)  # equal is no improvement
    assert patience_stop(steps, [6, 5, 4, 3, 2, 1], patience=1) == (150, 1)


def test_bad_member_specs_are_refused_with_the_fix(tmp_path):
    small = [MemberSpec(windows=np.arange(10), seed=0, max_epochs=1, name="small")]
    with pytest.raises(ValueError, match="member 0 \\(small\\): 10 train windows, fewer than batch_size 16"):
        train_ensemble(TRAIN, VAL, _config(), small, tmp_path)
    twins = [MemberSpec(windows=np.arange(32), seed=s, max_epochs=1, name="same") for s in (0, 1)]
    with pytest.raises(ValueError, match="member names must be unique"):
        train_ensemble(TRAIN, VAL, _config(), twins, tmp_path)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the GPU path runs in bench/gpu_check.sh")
def test_an_ensemble_on_the_gpu_trains_the_members_it_trains_on_the_cpu(tmp_path):
    # The draws are made on the CPU either way, so the members differ only by the kernels' float rounding; the
    # learning rates are those of the 300-step test above (slow dynamics); TF32 matmuls are off (torch's default).
    assert not torch.backends.cuda.matmul.allow_tf32
    cfg = _config(lr_g=1e-5, lr_d=4e-5)
    gpu = train_ensemble(TRAIN, VAL, cfg, _members(epochs=5), tmp_path / "gpu", device="cuda")
    cpu = train_ensemble(TRAIN, VAL, cfg, _members(epochs=5), tmp_path / "cpu")
    assert [r.generator_steps for r in gpu] == [r.generator_steps for r in cpu] == [20, 20, 20]
    for on_gpu, on_cpu in zip(gpu, cpu):
        assert _max_difference(_weights(on_gpu.last_ckpt), _weights(on_cpu.last_ckpt)) < 1e-3
        np.testing.assert_allclose(on_gpu.history["val_crps"], on_cpu.history["val_crps"], rtol=1e-3)
    saved = torch.load(gpu[0].best_ckpt, weights_only=True)["state_dict"]  # no map_location: as saved
    assert {value.device.type for value in saved.values()} == {"cpu"}  # checkpoints load anywhere


@pytest.mark.parametrize("members, ensembles, blocks", [(5, 2, [[0, 1, 2], [3, 4]]), (5, 1, [[0, 1, 2, 3, 4]]),
                                                        (3, 8, [[0], [1], [2]]), (7, 3, [[0, 1, 2], [3, 4], [5, 6]]),
                                                        (0, 2, []), (2, 0, [[0, 1]])])
def test_ensemble_blocks_are_contiguous_and_near_equal(members, ensembles, blocks) -> None:
    assert ensemble_blocks(members, ensembles) == blocks

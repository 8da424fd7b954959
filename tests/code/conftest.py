"""Fixtures shared by the unit tests."""
import copy

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models on a shared 2-core host: one thread avoids oversubscription stalls (bench/RESULTS.md).

    Module scope so that it precedes the module-scoped fits: bit-exact reproducibility holds per thread count.
    Used by the modules that fit LSTMs (`pytestmark = pytest.mark.usefixtures("one_torch_thread")`).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def fresh_read_log():
    """Each test starts as a fresh stage would: a kernel runs one stage, and the stage reads it logs
    (`provenance.note_read`) must not carry over from another test of the same process."""
    from salesgan_utils import provenance

    provenance.begin_stage()
    yield
    provenance.begin_stage()


def _arm(model, wrmsse, pct=None, low=None, high=None, p=None, seeds=5):
    return {"model": model, "n_seeds": seeds, "wrmsse": wrmsse, "pct": pct, "pct_low": low, "pct_high": high,
            "p_seed": p, "boot_pct_low": None, "boot_pct_high": None, "dm_p": None}


SUMMARY = {
    "headline": {"subset_rule": "entity sold >= 1 unit in the 30 days up to the origin"},
    "regime": {"demand_change_train_to_test_pct": -68.0},
    "validation_choices": {"arms": {"real": {"augmentation": "real", "ratio": 0.0},
                                    "gan": {"augmentation": "gan", "ratio": 5.0},
                                    "simple": {"augmentation": "block_bootstrap", "ratio": 0.5}}},
    "gan_training": {"gan_train_windows": 25460},
    "settings": {"seeds": [0, 1, 2, 3, 4], "reference_size": 25460},
    "baselines_test": {"active": {"zero": {"wrmsse": 0.41}, "tsb": {"wrmsse": 0.40}, "naive": {"wrmsse": 0.6}}},
    "regimes": [
        {"n_real": 250, "label": "250", "active": {
            "real": _arm("lstm_real", 0.4231),
            "gan": _arm("lstm_gan_r5", 0.4007, -5.3, -7.4, -3.1, 0.0025),
            "simple": _arm("lstm_block_bootstrap_r0.5", 0.432, 2.1, -10.5, 14.6, 0.67)}},
        {"n_real": 25460, "label": "all", "active": {
            "real": _arm("lstm_real", 0.414),
            "gan": _arm("lstm_gan_r5", 0.409, -1.2, -6.2, 3.7, 0.53)}},
    ],
    "verdict": "an older one-text verdict",
}


@pytest.fixture
def summary() -> dict:
    """A tiny hand-made stage-04 summary.json: 250 and all (25,460) real windows, GAN ×5 and block bootstrap ×0.5,
    5 seeds, zero forecast 0.41 and TSB 0.40 on test."""
    return copy.deepcopy(SUMMARY)

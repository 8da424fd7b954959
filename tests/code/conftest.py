"""Fixtures shared by the unit tests."""
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

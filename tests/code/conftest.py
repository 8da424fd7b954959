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

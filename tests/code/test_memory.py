"""The allocator setting that lets large tensors reuse freed memory (salesgan_utils/memory.py)."""
import sys

import pytest
import torch

from salesgan_utils.memory import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's (Linux)")
def test_glibc_takes_the_setting_and_a_second_call_changes_nothing():
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True


def test_numbers_do_not_depend_on_where_memory_comes_from():
    torch.manual_seed(0)
    a, b = torch.randn(64, 256, 256), torch.randn(64, 256, 256)
    before = torch.bmm(a, b)
    keep_freed_memory()
    for _ in range(3):  # large temporaries made and freed, now from the heap
        torch.bmm(a, b).sum()
    assert torch.equal(torch.bmm(a, b), before)

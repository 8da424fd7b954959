"""Keep freed memory in the process (Linux, glibc): large tensors reuse the heap instead of fresh pages.

glibc serves an allocation above its mmap threshold (128 KiB, raised on the fly up to 32 MiB) with a fresh mapping and
unmaps it when freed, so the next tensor of that size starts on pages the kernel must fault in again. On this project's
2-core VMs a fresh 39 MB tensor costs about 20 ms of page faults before 4 ms of arithmetic, and with two threads the
faults of one process are serialised (bench/RESULTS.md, 2026-12-06). A generator ensemble allocates and frees such
tensors (M × batch × days × gates) hundreds of times per step. `keep_freed_memory` tells glibc (`mallopt`) to serve
every allocation from its heap and not to give the heap's top back, so freed blocks are reused. The process then keeps
its peak heap for its life, which for a training process is its working set anyway. Only where memory comes from
changes: every number computed stays the same.
"""
from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4  # glibc's malloc.h
_SETTINGS = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 1 << 30), (_M_TOP_PAD, 64 << 20))


def keep_freed_memory() -> bool:
    """Set glibc's allocator to reuse freed memory for this process; True when set, False where there is no glibc
    (macOS, Windows, musl), which changes nothing else. Idempotent."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return all(mallopt(parameter, value) == 1 for parameter, value in _SETTINGS)

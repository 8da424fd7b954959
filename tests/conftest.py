"""Test-session environment: thread counts, and an outputs root outside the repository.

Set at import time, before any test or notebook kernel starts, because nbval kernels and run_all.sh inherit the
environment, not pytest fixtures. Nothing else is registered here: fixtures live beside the tests that use them.
"""
from __future__ import annotations

import os
import shutil
import tempfile

# Two threads: the reference machine has 2 cores shared with other work; more threads only oversubscribe.
THREADS = os.environ.setdefault("SALESGAN_TEST_THREADS", "2")
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, THREADS)
os.environ.setdefault("PYTHONHASHSEED", "0")

# Every run a test starts (run_all.sh, nbval notebooks) writes under this folder, never into outputs/ of the
# checkout. It is removed after a passing session and kept after a failing one (its path is printed), because the
# executed notebooks in it hold the tracebacks.
_CREATED_OUTPUTS = None
if not os.environ.get("SALESGAN_OUTPUTS"):
    _CREATED_OUTPUTS = tempfile.mkdtemp(prefix="salesgan-test-outputs-")
    os.environ["SALESGAN_OUTPUTS"] = _CREATED_OUTPUTS

try:
    import torch

    torch.set_num_threads(int(THREADS))
except ImportError:  # the params/paths/report tests need no torch
    pass


def pytest_report_header(config):
    return f"salesgan: SALESGAN_OUTPUTS={os.environ['SALESGAN_OUTPUTS']}, {THREADS} threads"


def pytest_sessionfinish(session, exitstatus):
    if _CREATED_OUTPUTS and exitstatus == 0:
        shutil.rmtree(_CREATED_OUTPUTS, ignore_errors=True)
    elif _CREATED_OUTPUTS:
        print(f"\nsalesgan: test outputs kept for inspection in {_CREATED_OUTPUTS}")

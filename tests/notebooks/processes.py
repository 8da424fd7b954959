"""Process helpers shared by the fault and rerun tests (a module beside them, imported as `processes`)."""
from __future__ import annotations

import os
import signal
import subprocess

import psutil


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL the pipeline's process group and every descendant: papermill starts the kernel in its own session, so
    the group alone would leave the kernel writing on (it would stop only when it noticed its parent gone)."""
    tree = psutil.Process(process.pid).children(recursive=True)
    os.killpg(process.pid, signal.SIGKILL)
    for child in tree:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(tree, timeout=30)
    process.wait(timeout=30)

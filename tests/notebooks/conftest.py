"""Fixtures of the end-to-end tests: one smoke run of the whole suite through run_all.sh, shared by the session."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from salesgan_utils import paths

ROOT = Path(__file__).resolve().parents[2]
STAGES = tuple(paths.STAGES.values())
E2E_RUN = "ci-e2e"
# The smoke suite takes about 3 minutes here; the bound only stops a hung kernel from stalling CI.
SUITE_TIMEOUT_S = 900


def run_all_env() -> dict[str, str]:
    """The environment for run_all.sh: this interpreter's virtualenv as the active one, so that the script uses
    the same Python as the tests and finds its set-up stamp instead of creating ./.venv."""
    env = dict(os.environ)
    if sys.prefix != sys.base_prefix:
        env["VIRTUAL_ENV"] = sys.prefix
        env["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run_all(*args: str, timeout: int = SUITE_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "run_all.sh"), *args], cwd=ROOT, env=run_all_env(),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def run_all():
    """`run_all(*args, timeout=...)`: run_all.sh with these arguments, output captured."""
    return _run_all


@pytest.fixture(scope="session")
def outputs_root() -> Path:
    """The outputs root of the session (tests/conftest.py points it outside the checkout)."""
    return Path(os.environ["SALESGAN_OUTPUTS"])


@pytest.fixture(scope="session")
def smoke_run(outputs_root: Path) -> Path:
    """`bash run_all.sh --profile smoke --run ci-e2e --data demo`, once per session; the run folder."""
    missing = [name for name in STAGES if not (ROOT / "notebooks" / f"{name}.py").is_file()]
    if missing:
        pytest.skip(f"notebooks/ lacks {', '.join(missing)}: nothing to run end to end yet")
    result = _run_all("--profile", "smoke", "--run", E2E_RUN, "--data", "demo")
    run_dir = outputs_root / E2E_RUN
    if result.returncode != 0:
        pytest.fail(f"the smoke suite failed (exit {result.returncode}); executed notebooks in {run_dir}\n"
                    f"--- stderr (tail) ---\n{result.stderr[-6000:]}", pytrace=False)
    return run_dir

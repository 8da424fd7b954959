"""The package, notebooks' percent sources, tests and benches are ruff-clean (config: pyproject.toml)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _ruff() -> list[str]:
    if shutil.which("ruff", path=str(Path(sys.executable).parent)):
        return [str(Path(sys.executable).parent / "ruff")]
    try:
        import ruff  # noqa: F401
    except ImportError:
        pytest.skip("ruff is not installed: run `bash run_all.sh --setup` (requirements.txt lists it)")
    return [sys.executable, "-m", "ruff"]


def test_ruff_check_is_clean():
    result = subprocess.run([*_ruff(), "check", "--no-cache", "salesgan_utils", "notebooks", "tests", "bench"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"ruff found problems (fix them, or `ruff check --fix`):\n{result.stdout}"

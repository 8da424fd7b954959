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


# A committed report with its figures inlined is ~1.2 MB; a 23 MB Markdown file once landed from a script that
# joined a section into the document character by character. Text files have no business being that large.
MAX_TRACKED_BYTES = {".md": 200_000, ".py": 200_000, ".html": 3_000_000, ".ipynb": 3_000_000}


def test_no_tracked_text_file_is_implausibly_large():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    too_large = []
    for name in tracked.stdout.splitlines():
        path = ROOT / name
        limit = MAX_TRACKED_BYTES.get(path.suffix)
        if limit and path.is_file() and path.stat().st_size > limit:
            too_large.append(f"{name}: {path.stat().st_size:,} bytes (limit {limit:,})")
    assert not too_large, "tracked files larger than any hand- or script-written text should be:\n" + "\n".join(
        too_large)

"""Strings from the user's disk or command line reach report.html escaped, never as markup (#14).

A data folder named like an HTML tag holds (demo) Olist tables; stage 01 reads it as real data and stage 05 writes
the report. About a minute on 2 shared cores.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from salesgan_utils import demo

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "<img src=x onerror=alert(1)>"

pytestmark = pytest.mark.slow


def test_a_data_folder_named_like_markup_is_escaped_in_the_report(tmp_path: Path) -> None:
    folder = tmp_path / HOSTILE
    demo.write_demo_tables(folder, n_products=40, seed=0)
    env = {**os.environ, "SALESGAN_OUTPUTS": str(tmp_path / "outputs")}
    if sys.prefix != sys.base_prefix:
        env["VIRTUAL_ENV"] = sys.prefix
        env["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    for stage in ("01", "05"):
        result = subprocess.run(["bash", str(ROOT / "run_all.sh"), "--profile", "smoke", "--run", "hostile",
                                 "--data", str(folder), "--only", stage], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-4000:]
    page = (tmp_path / "outputs" / "hostile" / "report.html").read_text(encoding="utf-8")
    assert "REAL Olist data" in page  # the banner that shows the folder is there
    # nbconvert rewrites the tag (`<img alt=... onerror="alert(1)" src="x"/>`): look for the handler, not the text
    assert re.search(r"<[^>]*\bonerror\s*=", page) is None, "the folder name reached report.html as markup"
    assert "&lt;img src=x onerror=alert(1)&gt;" in page

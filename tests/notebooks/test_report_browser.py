"""The report as a reader meets it: report.html opened in headless Chromium renders its images and tables.

Chromium (Debian package `chromium`, installed by `bash run_all.sh --test` where root or sudo allows) loads a
copy of the page with one extra inline script that, on the window's load event, writes what it sees (every
image's natural size, the number of tables) into the DOM; `--dump-dom` returns that DOM. A second call takes a
screenshot. No network and no Python browser driver are needed.
"""
from __future__ import annotations

import base64
import html as html_lib
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from salesgan_utils import report

pytestmark = pytest.mark.browser

CHECK_ID = "salesgan-browser-check"
CHECK_SCRIPT = f"""<script>
window.addEventListener("load", () => {{
  const images = Array.from(document.images).map(img => ({{
    src: img.src.slice(0, 40), complete: img.complete, width: img.naturalWidth, height: img.naturalHeight}}));
  const out = document.createElement("pre");
  out.id = "{CHECK_ID}";
  out.textContent = JSON.stringify({{images, tables: document.querySelectorAll("table").length,
                                     title: document.title}});
  document.body.appendChild(out);
}});
</script>"""
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage",
         "--hide-scrollbars", "--mute-audio"]


def chromium() -> str:
    for candidate in (os.environ.get("SALESGAN_CHROMIUM"), "chromium", "chromium-browser"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    pytest.skip("Chromium is not installed (Debian package `chromium`; `bash run_all.sh --test` installs it when "
                "run as root or with sudo, or set SALESGAN_CHROMIUM to the binary): the browser check did not run")


def run_chromium(args: list[str], profile: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    # a fresh profile per call: no state, no first-run work, nothing shared with a user's browser
    command = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def browser_view_dom_only(html_path: Path, work: Path) -> dict:
    """What the page holds after Chromium loaded it: {"images": [{complete, width, height}], "tables": n}."""
    work.mkdir(parents=True, exist_ok=True)
    html = html_path.read_text(encoding="utf-8")
    probe = work / "probe.html"
    probe.write_text(html.replace("</body>", CHECK_SCRIPT + "</body>", 1) if "</body>" in html
                     else html + CHECK_SCRIPT, encoding="utf-8")
    result = run_chromium(["--virtual-time-budget=15000", "--dump-dom", probe.as_uri()], work / "profile-dom")
    match = re.search(rf'<pre id="{CHECK_ID}">(.*?)</pre>', result.stdout, re.DOTALL)
    assert match, (f"Chromium returned no check result (exit {result.returncode}); stderr tail:\n"
                   f"{result.stderr[-3000:]}")
    return json.loads(html_lib.unescape(match.group(1)))


def browser_view(html_path: Path, work: Path) -> dict:
    """`browser_view_dom_only`, plus a screenshot of the page saved as `work/screenshot.png`."""
    view = browser_view_dom_only(html_path, work)
    screenshot = work / "screenshot.png"
    shot = run_chromium([f"--screenshot={screenshot}", "--window-size=1280,2400", html_path.as_uri()],
                        work / "profile-shot")
    assert screenshot.is_file() and screenshot.stat().st_size > 5000, (
        f"no screenshot (exit {shot.returncode}): {shot.stderr[-2000:]}")
    return view


def assert_renders(view: dict) -> None:
    broken = [img for img in view["images"] if not (img["complete"] and img["width"] > 0 and img["height"] > 0)]
    assert view["images"], "the page has no images"
    assert not broken, f"images that did not render: {broken}"
    assert view["tables"] >= 1, "the page has no table"


def test_an_exported_notebook_renders_in_chromium(tmp_path: Path) -> None:
    """The export and the browser check themselves, on a hand-made notebook (runs without the suite)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import nbformat
    import pandas as pd
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar(["real", "real+gan"], [1.2, 1.1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    nb = new_notebook(cells=[
        new_markdown_cell("# Report\nA verdict."),
        new_code_cell("df", outputs=[new_output("execute_result", execution_count=1, data={
            "text/html": pd.DataFrame({"MAE": [1.2, 1.1]}, index=["real", "real+gan"]).to_html()})]),
        new_code_cell("fig", outputs=[new_output("display_data", data={"image/png": png})]),
    ])
    nbformat.write(nb, tmp_path / "05_report.ipynb")
    page = report.export_html(tmp_path / "05_report.ipynb", tmp_path / "report.html")
    view = browser_view(page, tmp_path / "browser")
    assert_renders(view)
    assert len(view["images"]) == 1 and view["images"][0]["width"] == 300


@pytest.mark.slow
def test_the_smoke_report_renders_its_images_and_tables(smoke_run: Path, tmp_path: Path) -> None:
    page = smoke_run / "report.html"
    view = browser_view(page, tmp_path / "browser")
    assert_renders(view)
    # keep the screenshot beside the report: a person can look at what the test saw
    shutil.copy(tmp_path / "browser" / "screenshot.png", smoke_run / "report_screenshot.png")


def test_the_check_catches_a_broken_image(tmp_path: Path) -> None:
    """The check is not vacuous: an image that cannot decode has natural width 0 and fails it."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><table><tr><td>1</td></tr></table>"
                    "<img src=\"data:image/png;base64,iVBORw0KGgoAAAA\"></body></html>", encoding="utf-8")
    view = browser_view_dom_only(page, tmp_path / "browser")
    with pytest.raises(AssertionError, match="did not render"):
        assert_renders(view)


FIRST_SCREEN = (1400, 900)
FIRST_SCREEN_ID = "salesgan-first-screen"
FIRST_SCREEN_SCRIPT = f"""<script>
window.addEventListener("load", () => {{
  const box = el => {{ if (!el) return null; const r = el.getBoundingClientRect();
                      return {{top: r.top + window.scrollY, bottom: r.bottom + window.scrollY}}; }};
  const out = document.createElement("pre");
  out.id = "{FIRST_SCREEN_ID}";
  out.textContent = JSON.stringify({{
    verdict: box(document.getElementById("verdict-sentences")),
    verdict_text: (document.getElementById("verdict-sentences") || {{}}).innerText || "",
    figure: box(document.querySelector("#headline-figure img")),
    viewport: [window.innerWidth, window.innerHeight]}});
  document.body.appendChild(out);
}});
</script>"""


def first_screen_view(html_path: Path, work: Path) -> dict:
    """Where the verdict and the headline figure lie on a 1400 × 900 window (page pixels from the top)."""
    work.mkdir(parents=True, exist_ok=True)
    probe = work / "first_screen.html"
    probe.write_text(html_path.read_text(encoding="utf-8").replace("</body>", FIRST_SCREEN_SCRIPT + "</body>", 1),
                     encoding="utf-8")
    size = f"--window-size={FIRST_SCREEN[0]},{FIRST_SCREEN[1]}"
    result = run_chromium(["--virtual-time-budget=15000", size, "--dump-dom", probe.as_uri()], work / "profile-fs")
    match = re.search(rf'<pre id="{FIRST_SCREEN_ID}">(.*?)</pre>', result.stdout, re.DOTALL)
    assert match, f"Chromium returned no result (exit {result.returncode}): {result.stderr[-2000:]}"
    shot = work / "first_screen.png"
    run_chromium([f"--screenshot={shot}", size, html_path.as_uri()], work / "profile-fs-shot")
    return json.loads(html_lib.unescape(match.group(1)))


def assert_on_first_screen(view: dict) -> None:
    assert view["verdict"] and view["figure"], f"the verdict or the headline figure is missing: {view}"
    assert view["verdict"]["bottom"] <= FIRST_SCREEN[1], f"the verdict ends below the first screen: {view}"
    assert view["figure"]["bottom"] <= FIRST_SCREEN[1], f"the headline figure ends below the first screen: {view}"


@pytest.mark.slow
def test_the_smoke_reports_first_screen_holds_the_verdict_and_the_headline_figure(smoke_run: Path,
                                                                                   tmp_path: Path) -> None:
    view = first_screen_view(smoke_run / "report.html", tmp_path / "browser")
    assert_on_first_screen(view)
    assert "real windows" in view["verdict_text"]
    shutil.copy(tmp_path / "browser" / "first_screen.png", smoke_run / "report_first_screen.png")


def test_the_first_screen_check_catches_a_figure_below_the_fold(tmp_path: Path) -> None:
    """Not vacuous: a verdict followed by 1,000 px of text pushes the figure off the first screen."""
    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgAAIAAAUAAeIhvDMAAAAASUVORK5CYII=")
    page = tmp_path / "late.html"
    page.write_text("<html><body><ul id='verdict-sentences'><li>With 250 real windows …</li></ul>"
                    "<div style='height:1000px'></div><div id='headline-figure'>"
                    f"<img style='width:400px;height:300px' src='data:image/png;base64,{png}'></div></body></html>",
                    encoding="utf-8")
    view = first_screen_view(page, tmp_path / "browser")
    with pytest.raises(AssertionError, match="headline figure ends below"):
        assert_on_first_screen(view)

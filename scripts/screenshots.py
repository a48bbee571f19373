#!/usr/bin/env python3
"""Regenerate the README's screenshots (docs/img/*.png, small) with the browser harness of tests/browser/.

Starts JupyterLab and Voila on 127.0.0.1 (a copy of notebooks/, the demo delivery from almaview's cache),
runs the quickstart in headless Chromium and saves one PNG per main view. Fails if a page logs an error.
Usage: python scripts/screenshots.py        (``make screenshots``)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from browser import harness  # noqa: E402

OUT = REPO / "docs" / "img"
WIDTH = 1000  # px: small PNGs in git
VIEW = (1400, 950)  # the browser window (px)
TO_TOP_JS = "(e) => e.scrollIntoView({block: 'start'})"  # scroll the page (or the notebook) to show e at the top


def shrink(src: Path, dest: Path) -> None:
    from PIL import Image

    img = Image.open(src).convert("RGB")
    img.thumbnail((WIDTH, 10_000))
    dest.parent.mkdir(parents=True, exist_ok=True)
    img.quantize(colors=128).save(dest, optimize=True)
    print(f"screenshots: {dest.relative_to(REPO)} ({dest.stat().st_size // 1024} kB)")


def main() -> None:
    reason = harness.browser_unavailable()
    if reason:
        sys.exit(f"screenshots: {reason}")
    import almaview
    from playwright.sync_api import sync_playwright

    almaview.demo.build(progress=False)
    with tempfile.TemporaryDirectory(prefix="almaview-shots-") as tmp:
        tmp = Path(tmp)
        nbs = tmp / "notebooks"
        shutil.copytree(REPO / "notebooks", nbs, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        with sync_playwright() as p:
            with (
                harness.jupyterlab(nbs, tmp / "lab") as lab,
                harness.launch(p, tmp / "profile1", width=VIEW[0], height=VIEW[1]) as (ctx, log),
            ):
                page = ctx.pages[0]
                harness.open_in_lab(page, lab, "01-quickstart.ipynb")
                harness.run_all_in_lab(page)
                harness.wait_for_bokeh(page, n_documents=3)
                page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # the notebook, not the file list
                # The explorer in use: the last cells picked two antennas and showed the visibilities tab.
                explorer = page.locator(".jp-OutputArea-output .jupyter-widget-Tab, .jp-OutputArea-output .widget-tab")
                explorer.last.evaluate(TO_TOP_JS)
                page.wait_for_timeout(2000)
                harness.wait_for_bokeh(page, n_documents=3)
                page.screenshot(path=str(tmp / "lab.png"))
                log.assert_clean()
            with (
                harness.voila(nbs / "01-quickstart.ipynb", tmp / "voila") as v,
                harness.launch(p, tmp / "profile2", width=VIEW[0], height=VIEW[1]) as (ctx, log),
            ):
                log.tolerated = ("cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free",)  # see test_voila.py
                page = ctx.pages[0]
                harness.open_in_voila(page, v)
                harness.wait_for_bokeh(page, n_documents=2)
                # the image preview: RA/Dec axes, colour bar, beam (the figures, not the delivery's path)
                page.locator("h2", has_text="A delivered image").first.evaluate(TO_TOP_JS)
                page.wait_for_timeout(1000)
                page.screenshot(path=str(tmp / "voila.png"))
                log.assert_clean()
        shrink(tmp / "lab.png", OUT / "quickstart-jupyterlab.png")
        shrink(tmp / "voila.png", OUT / "quickstart-voila.png")


if __name__ == "__main__":
    main()

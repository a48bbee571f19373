"""ArchiveBrowser in JupyterLab (headless Chromium), used as a user would, against the archive stand-in.

Type a project code and click "search": the results table shows the member OUSes; tick the product tar beside
the default README and auxiliary tar; the total follows; click "fetch": the progress bar fills and the message
says where; the files are the stand-in's, byte for byte; click "open": the triage view (summary, pipeline stages,
status naming the next `almaview fetch`) appears under the widget.
"""

from __future__ import annotations

import filecmp

import pytest

from . import harness

pytestmark = pytest.mark.browser

NOTEBOOK = "archive-browser.ipynb"
PROJECT = "2023.1.01234.S"
MOUS = "uid___A001_X3571_X8a"


@pytest.fixture
def standin(demo_delivery):
    from archive.standin import StandIn

    from almaview import demo
    from almaview.cache import cache_dir

    s = StandIn(demo_delivery, cache_dir("archive-standin") / demo.source_version()).start()
    yield s
    s.stop()


def test_archive_browser_search_pick_fetch_open(lab_server, browser, notebooks_copy, standin, tmp_path):
    page = browser.page
    dest = tmp_path / PROJECT
    cells = [
        f"""import almaview as av

browser = av.widgets.ArchiveBrowser(archive_url={standin.url!r}, dest={str(dest)!r}, poll_interval=0.1)
browser"""
    ]
    harness.open_alone(page, lab_server, harness.write_notebook(notebooks_copy, NOTEBOOK, cells))
    state = harness.run_all_in_lab(page)
    assert not [c["errors"] for c in state["cells"] if c["errors"]], state
    box = page.locator(".almaview-archive-query input")
    box.wait_for(timeout=60_000)
    box.fill(PROJECT)
    box.press("Enter")
    page.locator(".almaview-archive-search button, button.almaview-archive-search").first.click()
    results = page.locator(".almaview-archive-results table")
    results.wait_for(timeout=60_000)
    assert MOUS in results.inner_text() and "uid___A001_X3571_X8e" in results.inner_text()
    product = page.locator(".almaview-archive-part-product input")
    product.wait_for(timeout=30_000)
    for part in ("readme", "auxiliary"):
        assert page.locator(f".almaview-archive-part-{part} input").is_checked()
    total_before = page.locator(".almaview-archive-total").inner_text()
    product.check()
    page.wait_for_function(
        "(t) => document.querySelector('.almaview-archive-total').innerText !== t", arg=total_before, timeout=30_000
    )
    page.locator("button.almaview-archive-fetch").click()
    page.wait_for_function(
        "() => (document.querySelector('.almaview-archive-message') || {innerText: ''})"
        ".innerText.includes('fetched into')",
        timeout=120_000,
    )
    bar = page.locator(".almaview-archive-progress .progress-bar")
    width = page.evaluate("(el) => el.style.width", bar.element_handle())
    assert width in ("100%", "100.0%"), width
    names = sorted(p.name for p in dest.iterdir())
    assert names == sorted(
        [f"member.{MOUS}.README.txt", f"{PROJECT}_{MOUS}_auxiliary.tar", f"{PROJECT}_{MOUS}_001_of_001.tar"]
    )
    for n in names:
        assert filecmp.cmp(dest / n, standin.tar_dir / n, shallow=False)
    page.locator("button.almaview-archive-open").click()
    status = page.locator(".almaview-archive-output pre.almaview-status")
    status.wait_for(timeout=60_000)
    assert f"almaview fetch {MOUS} --what raw" in status.inner_text()
    assert "hifa_" in page.locator(".almaview-archive-output").inner_text()  # the weblog's pipeline stages
    browser.screenshot("archive-browser-opened", full_page=True)

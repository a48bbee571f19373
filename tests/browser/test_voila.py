"""``voila notebooks/01-quickstart.ipynb``: the quickstart as a dashboard, widgets and Bokeh working."""

from __future__ import annotations

import time

import pytest

from . import harness

pytestmark = pytest.mark.browser


def test_quickstart_renders_as_a_voila_dashboard(voila_quickstart, browser, notebooks_copy):
    page = browser.page
    # Known: voila 0.5's page template links Font Awesome from cdn.jsdelivr.net. The harness still blocks it (nothing
    # leaves 127.0.0.1); only these two URLs are tolerated until the template is served locally (see the report).
    browser.log.tolerated = ("cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free",)
    t0 = time.perf_counter()
    harness.open_in_voila(page, voila_quickstart)
    rendered = time.perf_counter() - t0
    # Voila shows outputs only: the checks cell's verdict proves every cell ran; no traceback anywhere
    assert page.get_by_text("all checks passed").count() == 1, voila_quickstart.log_tail()
    assert (
        page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']", has_text="Traceback"
        ).count()
        == 0
    )
    assert page.locator("text=Traceback").count() == 0
    canvases = harness.wait_for_bokeh(page, n_documents=2)
    assert len(canvases) >= 2 and all(c["width"] > 200 and c["height"] > 150 for c in canvases), canvases
    assert page.locator(".jp-InputArea-editor:visible").count() == 0, "Voila shows outputs, not code"
    browser.screenshot("quickstart-voila", full_page=True)
    print(f"Voila: server start {voila_quickstart.startup_seconds:.1f} s, dashboard rendered in {rendered:.1f} s")
    browser.log.assert_clean()

    if "av.explore(" in (notebooks_copy / "01-quickstart.ipynb").read_text():
        before = page.evaluate(harness.BOKEH_DATA_JS)
        changed = harness.change_control(page)
        page.wait_for_function(f"(b) => ({harness.BOKEH_DATA_JS})() !== b", arg=before, timeout=60_000, polling=500)
        browser.screenshot("explorer-voila", full_page=True)
        print(f"changed {changed}")
        browser.log.assert_clean()

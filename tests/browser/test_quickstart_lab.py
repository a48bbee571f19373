"""The quickstart in JupyterLab, as a workshop attendee meets it: open, Run All Cells, look at the figures."""

from __future__ import annotations

import time

import pytest

from . import harness

pytestmark = pytest.mark.browser

QUICKSTART = "01-quickstart.ipynb"


def _has_explorer(notebooks_copy) -> bool:
    return "av.explore(" in (notebooks_copy / QUICKSTART).read_text()


def test_quickstart_runs_in_jupyterlab_and_draws_its_figures(lab_server, browser, notebooks_copy):
    page = browser.page
    t0 = time.perf_counter()
    harness.open_in_lab(page, lab_server, QUICKSTART)
    opened = time.perf_counter() - t0
    state = harness.run_all_in_lab(page)
    ran = time.perf_counter() - t0 - opened

    errors = [(c["text"], c["errors"]) for c in state["cells"] if c["errors"]]
    assert not errors, f"cells raised in JupyterLab: {errors}"
    assert all(c["count"] is not None for c in state["cells"]), state["cells"]
    # the checks cell printed its verdict, and BokehJS (loaded inline) drew both figures
    assert page.locator(".jp-OutputArea-output", has_text="all checks passed").count() == 1
    canvases = harness.wait_for_bokeh(page, n_documents=2)
    assert len(canvases) >= 2 and all(c["width"] > 200 and c["height"] > 150 for c in canvases), canvases
    page.locator(".bk-Figure").first.scroll_into_view_if_needed()
    browser.screenshot("quickstart-lab")
    print(
        f"JupyterLab: server start {lab_server.startup_seconds:.1f} s, notebook open {opened:.1f} s, "
        f"run all {ran:.1f} s, {browser.log.requests} local requests"
    )
    browser.log.assert_clean()


def test_quickstart_explorer_responds_to_a_control_in_jupyterlab(lab_server, browser, notebooks_copy):
    if not _has_explorer(notebooks_copy):
        pytest.skip("the quickstart does not call av.explore( yet: this test starts when it does")
    page = browser.page
    harness.open_in_lab(page, lab_server, QUICKSTART)
    state = harness.run_all_in_lab(page)
    assert not [c for c in state["cells"] if c["errors"]], state["cells"]
    harness.wait_for_bokeh(page, n_documents=1)
    before = page.evaluate(harness.BOKEH_DATA_JS)
    assert before and before != "[]", "no Bokeh data sources on the page"
    changed = harness.change_control(page)
    page.wait_for_function(f"(b) => ({harness.BOKEH_DATA_JS})() !== b", arg=before, timeout=60_000, polling=500)
    browser.screenshot("explorer-lab")
    print(f"changed {changed}")
    browser.log.assert_clean()

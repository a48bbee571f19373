"""A plots Panel shown alone in JupyterLab (issue 14): the output grows with the panel (a tall Tsys panel is not cut
by a fixed-height frame) and the figures take the width the window gives them (a narrower window, narrower plots).
"""

from __future__ import annotations

import pytest

from . import harness

pytestmark = pytest.mark.browser

NOTEBOOK = "panel-sizing.ipynb"
CELLS = [
    """import almaview as av

d = av.open_delivery(av.demo.build())
eb = next(e for e in d.ebs if e.calibrated_ms and e.caltables)
panel = av.plots.tsys(av.open_caltable(eb.caltables["tsyscal"]))
panel""",
]

# Every Bokeh canvas's box and every output area's box, in page coordinates.
BOXES_JS = (
    """() => {"""
    + harness.FIND_CANVASES_JS
    + """
  const box = (e) => { const r = e.getBoundingClientRect(); return {top: r.top + scrollY, bottom: r.bottom + scrollY,
                                                                     left: r.left, right: r.right, width: r.width}; };
  const canvases = found.filter((c) => c.width > 50 && c.height > 50).map(box);
  const outputs = Array.from(document.querySelectorAll('.jp-OutputArea-output'))
    .filter((o) => o.querySelector('.bk-root, [data-root-id], div[id]')).map(box);
  const frames = document.querySelectorAll('.jp-OutputArea-output iframe').length;
  return {canvases, outputs, frames};
}"""
)


def _widest(page) -> float:
    return max(c["width"] for c in page.evaluate(BOXES_JS)["canvases"])


def test_a_tall_panel_is_not_clipped_and_follows_the_window_width(lab_server, browser, notebooks_copy):
    page = browser.page
    page.set_viewport_size({"width": 1600, "height": 1000})
    harness.open_alone(page, lab_server, harness.write_notebook(notebooks_copy, NOTEBOOK, CELLS))
    state = harness.run_all_in_lab(page, timeout=300)
    assert not [c for c in state["cells"] if c["errors"]], state["cells"]
    harness.wait_for_bokeh(page, n_documents=1)
    page.wait_for_timeout(1000)  # layout settles
    boxes = page.evaluate(BOXES_JS)
    assert boxes["frames"] == 0, "the panel is shown in an iframe (a fixed-height frame)"
    assert boxes["canvases"] and boxes["outputs"], boxes
    out = max(boxes["outputs"], key=lambda o: o["bottom"] - o["top"])
    top, bottom = min(c["top"] for c in boxes["canvases"]), max(c["bottom"] for c in boxes["canvases"])
    assert bottom - top > 700, f"the Tsys panel is {bottom - top:.0f} px tall: expected a tall panel"
    assert out["top"] - 1 <= top and bottom <= out["bottom"] + 1, f"plots {top:.0f}..{bottom:.0f}, output {out}"
    wide = _widest(page)
    browser.screenshot("panel-sizing-wide", full_page=True)

    page.set_viewport_size({"width": 1000, "height": 1000})
    page.wait_for_function(
        f"() => ({BOXES_JS})().canvases.some((c) => c.width > 0) && "
        f"Math.max(...({BOXES_JS})().canvases.map((c) => c.width)) < {wide - 150}",
        timeout=15_000,
        polling=250,
    )
    narrow = _widest(page)
    print(f"widest plot: {wide:.0f} px in a 1600 px window, {narrow:.0f} px in a 1000 px window")
    assert narrow < wide - 150
    browser.log.assert_clean()

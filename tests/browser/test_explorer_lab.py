"""The explorer in JupyterLab on the demo delivery, looked at tab by tab as a user sees it.

For each tab: the figures drawn (canvases with pixels), their axis labels (with units where the quantity has
one), their legends when there is a colour key, and a screenshot (test-output/browser/...). Then changes made
through the page's own controls must reach every display, tables included: another gain table changes the
numbers the RMS table shows (the DOM cells, not only the source), four selected spws are four heatmap columns.
And a selection change is timed from the control to the new data in the page.
"""

from __future__ import annotations

import re
import time

import pytest

from . import harness

pytestmark = pytest.mark.browser

NOTEBOOK = "explorer-tabs.ipynb"
CELLS = ["import almaview as av\n\nd = av.open_delivery(av.demo.build())\nex = av.explore(d)\nex"]

#: per tab: substrings every one of which some axis label of the tab's figures must hold (units: the field's)
UNITS = {
    "tsys": ("GHz", "K"),
    "bandpass": ("GHz",),
    "gains": ("UTC",),
    "visibilities": ("deg", "Jy"),
    "flux": ("kλ",),
    "flagging": ("spw",),
    "overview": ("(m)", "kλ"),
}
TABS = ("overview", "tsys", "bandpass", "gains", "visibilities", "flux", "flagging")

# The figures whose views are on screen: title, axis labels, legend labels, categorical x factors.
VISIBLE_FIGURES_JS = """() => {
  const out = [];
  for (const doc of window.Bokeh.documents) {
    for (const m of doc.all_models) {
      if (!m.renderers || !m.toolbar || !m.left) continue;   // a Plot
      const view = window.Bokeh.index.find_one(m);
      if (!view) continue;
      const r = view.el.getBoundingClientRect();
      if (r.width < 20 || r.height < 20 || view.el.offsetParent === null) continue;
      const axes = [...m.left, ...m.right, ...m.above, ...m.below].filter((a) => a.axis_label !== undefined);
      const legends = [...m.center, ...m.left, ...m.right, ...m.above, ...m.below].filter((l) => l.items !== undefined);
      const labels = [];
      for (const l of legends) for (const it of l.items) {
        const lab = it.label; labels.push(lab == null ? '' : (typeof lab === 'string' ? lab : (lab.value ?? lab.field ?? '')));
      }
      out.push({title: m.title ? m.title.text : '', axes: axes.map((a) => a.axis_label || ''), legend: labels,
                factors: m.x_range && m.x_range.factors ? Array.from(m.x_range.factors).map(String) : null});
    }
  }
  return out;
}"""

# The text of the DataTable cells on screen (slickgrid rows inside Bokeh's shadow roots).
TABLE_CELLS_JS = (
    """() => {"""
    + harness.FIND_CANVASES_JS.replace("el.tagName === 'CANVAS'", "el.classList && el.classList.contains('slick-cell')")
    + """
  return found.filter((c) => c.getBoundingClientRect().width > 0).map((c) => c.textContent.trim());
}"""
)


def _open_tab(page, name: str) -> None:
    page.locator(".almaview-tabs .lm-TabBar-tab, .almaview-tabs .p-TabBar-tab").filter(
        has_text=re.compile(rf"^\s*{name}\s*$")
    ).first.click()


def _wait_figures(page, timeout: float = 120.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        figs = page.evaluate(VISIBLE_FIGURES_JS)
        drawn = [c for c in harness.bokeh_canvases(page) if c["colours"] > 2 and c["width"] > 0]
        if figs and drawn:
            return figs
        if time.monotonic() > deadline:
            raise AssertionError("the tab drew no figure")
        time.sleep(0.5)


def _control_select(page, description: str):
    label = page.locator("label.widget-label").filter(has_text=re.compile(rf"^\s*{re.escape(description)}\s*$"))
    assert label.count() >= 1, f"no control described {description!r}"
    return label.first.locator("xpath=..").locator("select").first


def test_explorer_tabs_look_right_and_follow_the_page_controls(lab_server, browser, notebooks_copy):
    page = browser.page
    page.set_viewport_size({"width": 1400, "height": 900})
    harness.open_alone(page, lab_server, harness.write_notebook(notebooks_copy, NOTEBOOK, CELLS))
    state = harness.run_all_in_lab(page, timeout=300)
    assert not [c for c in state["cells"] if c["errors"]], state["cells"]
    _wait_figures(page)
    seen = {}
    for tab in TABS:
        _open_tab(page, tab)
        figs = _wait_figures(page)
        seen[tab] = figs
        labels = " | ".join(a for f in figs for a in f["axes"])
        for unit in UNITS[tab]:
            assert unit in labels, f"{tab}: no axis label names {unit!r}: {labels}"
        assert all(f["title"] for f in figs if f["axes"]), f"{tab}: a figure without a title: {figs}"
        browser.screenshot(f"explorer-{tab}")

    # legends: a colour key wherever colours stand for something (issue 14); reported as missing, not hidden
    keyed = {t: [lab for f in seen[t] for lab in f["legend"]] for t in ("tsys", "bandpass", "gains", "visibilities")}
    missing = [t for t, labs in keyed.items() if not labs]

    # a change through the page reaches the tables: another gain table -> the RMS table's cells change
    _open_tab(page, "gains")
    _wait_figures(page)
    before = page.evaluate(TABLE_CELLS_JS)
    assert before, "the gains tab shows no table cells"
    select = _control_select(page, "gain table")
    options = select.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
    if len(options) > 1:
        current = select.input_value()
        select.select_option(next(o for o in options if o != current))
        page.wait_for_function(
            f"(b) => JSON.stringify(({TABLE_CELLS_JS})()) !== JSON.stringify(b)",
            arg=before,
            timeout=60_000,
            polling=250,
        )
        browser.screenshot("explorer-gains-switched")

    # four spws: four heatmap columns in the page (the in-place update carries the factors), timed
    _open_tab(page, "flagging")
    _wait_figures(page)
    spw = _control_select(page, "spw")
    values = spw.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
    t0 = time.perf_counter()
    spw.select_option(values)
    page.wait_for_function(
        f"() => ({VISIBLE_FIGURES_JS})().some((f) => f.factors && f.factors.length === {len(values)})",
        timeout=120_000,
        polling=100,
    )
    flag_s = time.perf_counter() - t0
    browser.screenshot("explorer-flagging-all-spws")

    # explorer selection change on a calibration tab: control -> new data in the page
    _open_tab(page, "tsys")
    _wait_figures(page)
    before = page.evaluate(harness.BOKEH_DATA_JS)
    t0 = time.perf_counter()
    spw.select_option(values[:1])
    page.wait_for_function(f"(b) => ({harness.BOKEH_DATA_JS})() !== b", arg=before, timeout=60_000, polling=50)
    tsys_s = time.perf_counter() - t0
    print(
        f"tabs: {', '.join(f'{t}: {len(seen[t])} figures' for t in TABS)}; all spws -> flagging heatmap "
        f"columns in {flag_s:.2f} s; spw change -> tsys data in the page in {tsys_s:.2f} s"
    )
    browser.log.assert_clean()
    if missing:
        pytest.xfail(f"no legend (colour key) on: {', '.join(missing)} — issue 14, the plot builders' part")

"""What a PI sees in a 900 px wide JupyterLab with the file browser open (issue 14): the explorer's panels fit the
notebook's output area (no horizontal overflow: the Tsys and bandpass grids of four spws fall to one column), and
every figure title is fully inside its figure (long EB uids wrap at the title's separators).

"Fully visible" is measured in the page, not taken from the code under test: each title line's width is measured
with the browser's own text metrics (a canvas ``measureText`` in the title's font) from where the figure's frame
starts, and must end inside the figure's box; the figures' boxes must lie inside the output area's box, which must
not scroll sideways.
"""

from __future__ import annotations

import pytest

from .test_explorer_lab import VISIBLE_FIGURES_JS, _open_tab, _wait_figures
from .test_explorer_speed_lab import _start

pytestmark = pytest.mark.browser

# Per visible figure: its box, and per title line the x (page px) where the measured text ends.
TITLES_JS = """() => {
  const ctx = document.createElement('canvas').getContext('2d');
  const out = [];
  for (const doc of window.Bokeh.documents) for (const m of doc.all_models) {
    if (!m.renderers || !m.toolbar || !m.left || !m.title || m.visible === false) continue;
    const v = window.Bokeh.index.find_one(m);
    if (!v || v.el.offsetParent === null) continue;
    const r = v.el.getBoundingClientRect();
    if (r.width < 20) continue;
    const t = m.title;
    ctx.font = `${t.text_font_style} ${t.text_font_size} ${t.text_font}`;
    const left = r.x + v.frame.bbox.left + (t.offset || 0);
    const ends = String(t.text).split('\\n').map((line) => left + ctx.measureText(line).width);
    out.push({title: t.text, x: r.x, right: r.x + r.width, ends});
  }
  return out;
}"""

# The explorer cell's output area: its box and whether it scrolls sideways.
OUTPUT_JS = """() => {
  const outs = [...document.querySelectorAll('.jp-OutputArea-output')].filter((o) => o.querySelector('.bk-Figure, canvas')
    || o.getBoundingClientRect().height > 200);
  const o = outs[0];
  if (!o) return null;
  const r = o.getBoundingClientRect();
  const panel = document.querySelector('.jp-NotebookPanel-notebook .jp-WindowedPanel-outer')
    || document.querySelector('.jp-NotebookPanel-notebook');
  return {x: r.x, right: r.x + r.width, width: r.width, scroll: o.scrollWidth - o.clientWidth,
          panel_scroll: panel ? panel.scrollWidth - panel.clientWidth : 0};
}"""


def test_explorer_at_900_px_with_the_file_browser_open(lab_server, browser, notebooks_copy):
    page = browser.page
    spw, spws, ids, antennas, names = _start(page, lab_server, notebooks_copy, width=900)
    page.evaluate("() => window.jupyterapp.shell.activateById('filebrowser')")  # the side bar open, as at start
    page.wait_for_timeout(1000)
    assert page.evaluate("() => !window.jupyterapp.shell.leftCollapsed"), "the file browser is not open"
    spw.select_option(spws)  # every spw: the widest grids
    # the explorer's tab titles are whole (the tab bar wraps): at 900 px they were cut to 'ove', 'ban', 'gair'
    cut_tabs = page.evaluate(
        """() => [...document.querySelectorAll('.almaview-tabs .lm-TabBar-tab, .almaview-tabs .p-TabBar-tab')]
          .map((t) => [t.textContent.trim(), t.getBoundingClientRect(), t.querySelector('.lm-TabBar-tabLabel, .p-TabBar-tabLabel')])
          .filter(([, r, l]) => r.width > 0 && l && l.scrollWidth > l.clientWidth + 1).map(([n]) => n)"""
    )
    assert not cut_tabs, f"tab titles cut: {cut_tabs}"
    seen = {}
    for tab in ("tsys", "bandpass", "gains", "visibilities"):
        _open_tab(page, tab)
        _wait_figures(page)
        page.wait_for_timeout(2000)  # the layout follows the width
        out = page.evaluate(OUTPUT_JS)
        figs = page.evaluate(VISIBLE_FIGURES_JS)
        titles = page.evaluate(TITLES_JS)
        browser.screenshot(f"narrow-900-{tab}")
        assert out and figs and titles, (tab, out, len(figs), len(titles))
        print(f"\n{tab}: output area {out['width']:.0f} px; figures {[round(f['width']) for f in figs]}")
        assert out["scroll"] <= 1 and out["panel_scroll"] <= 1, (tab, out)
        outside = [(f["title"][:30], round(f["x"]), round(f["x"] + f["width"])) for f in figs]
        outside = [b for b in outside if b[1] < out["x"] - 1 or b[2] > out["right"] + 1]
        assert not outside, f"{tab}: figures beyond the output area ({out['x']:.0f}..{out['right']:.0f}): {outside}"
        cut = [(t["title"], round(max(t["ends"])), round(t["right"])) for t in titles if max(t["ends"]) > t["right"]]
        assert not cut, f"{tab}: titles running past their figure: {cut}"
        assert all("EB uid___" in t["title"] for t in titles if t["title"].startswith(("Tsys", "Bandpass", "Gain"))), [
            t["title"] for t in titles
        ]
        seen[tab] = sorted({round(f["x"]) for f in figs})
    # the Tsys grid of four spws is one column here (all its figures start at the same x)
    assert len(seen["tsys"]) == 1, seen
    browser.log.assert_clean()

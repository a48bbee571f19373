"""The explorer in JupyterLab on the demo delivery, looked at tab by tab as a user sees it (one Lab session).

For each tab: the figures drawn (canvases with pixels), their axis labels (with units where the quantity has
one), their legends where colours stand for something, and a screenshot (test-output/browser/...). Then, through
the page's own controls: N selected spws are N panels per spw on every calibration tab and on the visibilities
(iterate over spw); a change reaches every display, tables included (an antenna selection reaches the Tsys
legends and the median table's cells; another gain table the RMS table's cells); selection changes are timed
from the control to the new pixels on the canvas; "copy as code" shows the calls for the page's selection and
follows it; box-selecting points lists them, and "add to flags" writes them to the flag template in the work
area (checked against the points the page itself holds as selected).
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
#: tabs whose colours stand for antennas, spws or baselines: a legend (colour key) on every figure with data
KEYED = ("tsys", "bandpass", "gains", "visibilities")

# The figures on screen (hidden slots and other tabs' figures excluded): title, axis labels, the legend labels
# shown (a LegendItem may be hidden: an empty slot), categorical x factors.
VISIBLE_FIGURES_JS = (
    """() => {
  const summary = """
    + harness.PLOT_SUMMARY_JS
    + """;
  const out = [];
  for (const doc of window.Bokeh.documents) {
    for (const m of doc.all_models) {
      if (!m.renderers || !m.toolbar || !m.left) continue;   // a Plot
      const view = window.Bokeh.index.find_one(m);
      if (!view || m.visible === false) continue;
      const r = view.el.getBoundingClientRect();
      if (r.width < 20 || r.height < 20 || view.el.offsetParent === null) continue;
      out.push(Object.assign(summary(m), {
        factors: m.x_range && m.x_range.factors ? Array.from(m.x_range.factors).map(String) : null,
        x: r.x, y: r.y, width: r.width, height: r.height}));
    }
  }
  return out;
}"""
)

# The text of the DataTable cells on screen (slickgrid rows inside Bokeh's shadow roots).
TABLE_CELLS_JS = (
    """() => {"""
    + harness.FIND_CANVASES_JS.replace("el.tagName === 'CANVAS'", "el.classList && el.classList.contains('slick-cell')")
    + """
  return found.filter((c) => c.getBoundingClientRect().width > 0).map((c) => c.textContent.trim());
}"""
)

# A fingerprint of the pixels of the canvases on screen: changes when a figure is repainted with other data.
PIXELS_JS = (
    """() => {"""
    + harness.FIND_CANVASES_JS
    + """
  let h = 0;
  for (const c of found) {
    const r = c.getBoundingClientRect();
    if (r.width < 50 || r.height < 50 || c.offsetParent === null) continue;
    try {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4 * 13) h = (h * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) % 1000000007;
    } catch (e) { /* a tainted canvas: not ours */ }
  }
  return h;
}"""
)

# The colour keys on screen as the page draws them (the key's HTML: entries not hidden) next to their models' entries
# (visible items), with the figure's title: a key rebuilt late, or not at all, draws other names than its model.
LEGEND_DOM_JS = """() => {
  const out = [];
  for (const doc of window.Bokeh.documents) for (const m of doc.all_models) {
    if (m.items === undefined || m.click_policy === undefined) continue;
    const v = window.Bokeh.index.find_one(m);
    if (!v || !v.el.isConnected || !v.el.getClientRects().length) continue;
    const root = v.el.shadowRoot || v.el;
    const dom = [...root.querySelectorAll('.bk-item')].filter((e) => !e.classList.contains('bk-hidden'))
      .map((e) => e.querySelector('.bk-label').textContent);
    const model = m.items.filter((i) => i.visible !== false)
      .map((i) => (i.label && i.label.value !== undefined ? i.label.value : String(i.label)));
    out.push({title: v.plot_view.model.title ? v.plot_view.model.title.text : '', dom, model});
  }
  return out;
}"""

# A click on the first entry of the key of the figure titled ``title``: the entry's centre on the page, and after
# the click whether its renderers are hidden and the entry drawn inactive.
LEGEND_ENTRY_JS = """([title, read]) => {
  for (const doc of window.Bokeh.documents) for (const m of doc.all_models) {
    if (m.items === undefined || m.click_policy === undefined) continue;
    const v = window.Bokeh.index.find_one(m);
    if (!v || !v.plot_view.model.title || v.plot_view.model.title.text !== title || !v.el.getClientRects().length) continue;
    const e = v.entries.find((x) => !x.el.classList.contains('bk-hidden'));
    if (read) return {hidden: e.item.renderers.every((r) => !r.visible), inactive: e.el.classList.contains('bk-inactive'),
                      label: e.label};
    const r = e.el.getBoundingClientRect();
    return {x: r.x + r.width / 2, y: r.y + r.height / 2, label: e.label};
  }
  return null;
}"""

# The visibilities' point source: the indices selected in the page and those rows' antennas.
SELECTED_POINTS_JS = """() => {
  for (const doc of window.Bokeh.documents) for (const m of doc.all_models) {
    if (m.data === undefined || m.selected === undefined) continue;
    const data = m.data instanceof Map ? Object.fromEntries(m.data) : m.data;
    if (!('phase_deg' in data) || !('amp' in data) || !m.selected.indices.length) continue;
    const pick = (names) => names.map((n) => data[n]).find((c) => c !== undefined);
    const a1 = pick(['antenna1', 'baseline_antenna1_name', 'antenna1_name']);
    const a2 = pick(['antenna2', 'baseline_antenna2_name', 'antenna2_name']);
    let bl = pick(['baseline', 'baseline_name']);   // 'DA41-DA42'
    if (bl === undefined && data.baseline_i !== undefined) {   // codes, named by the hover's formatter
      const plain = (d) => d instanceof Map ? Object.fromEntries(d) : d;
      const fmt = [...doc.all_models].map((h) => h.formatters && plain(h.formatters)['@baseline_i']).find((f) => f);
      const names = plain(fmt.args).names;
      bl = Array.from(data.baseline_i, (i) => names[i]);
    }
    const idx = Array.from(m.selected.indices);
    const pair = (i) => a1 && a2 ? [String(a1[i]), String(a2[i])] : String(bl[i]).split(/[-&]/);
    return {n: idx.length, pairs: (a1 && a2) || bl ? idx.map(pair) : []};
  }
  return {n: 0, pairs: []};
}"""


def _open_tab(page, name: str) -> None:
    page.locator(".almaview-tabs .lm-TabBar-tab, .almaview-tabs .p-TabBar-tab").filter(
        has_text=re.compile(rf"^\s*{name}\s*$")
    ).first.click()


def _figures(page) -> list[dict]:
    return page.evaluate(VISIBLE_FIGURES_JS)


def _wait_figures(page, timeout: float = 120.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        figs = _figures(page)
        drawn = [c for c in harness.bokeh_canvases(page) if c["colours"] > 2 and c["width"] > 0]
        if figs and drawn:
            return figs
        if time.monotonic() > deadline:
            raise AssertionError("the tab drew no figure")
        time.sleep(0.5)


def _wait(page, check, what: str, timeout: float = 90.0, poll: float = 0.25):
    """Poll ``check()`` (Python, reading the page) until it returns something true; else fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(poll)
    raise AssertionError(f"{what}: not seen within {timeout:.0f} s (last: {last!r})")


def _control(page, description: str, kind: str = "select"):
    label = page.locator("label.widget-label").filter(has_text=re.compile(rf"^\s*{re.escape(description)}\s*$"))
    assert label.count() >= 1, f"no control described {description!r}"
    return label.first.locator("xpath=..").locator(kind).first


def _options(select) -> list[str]:
    return select.locator("option").evaluate_all("(os) => os.map((o) => o.value)")


def _option_labels(select) -> list[str]:
    return select.locator("option").evaluate_all("(os) => os.map((o) => o.textContent.trim())")


def _timed_change(page, do, what: str) -> float:
    """Seconds from a control change (``do()``) to new pixels on the figures shown."""
    before = page.evaluate(PIXELS_JS)
    t0 = time.perf_counter()
    do()
    page.wait_for_function(f"(b) => ({PIXELS_JS})() !== b", arg=before, timeout=60_000, polling="raf")
    took = time.perf_counter() - t0
    return took


def _panel(page, tab: str):
    return page.locator(f".almaview-panel-{tab.replace(' ', '-')}").first


def test_explorer_tabs_look_right_and_follow_the_page_controls(lab_server, browser, notebooks_copy):
    page = browser.page
    page.set_viewport_size({"width": 1400, "height": 1000})
    harness.open_alone(page, lab_server, harness.write_notebook(notebooks_copy, NOTEBOOK, CELLS))
    state = harness.run_all_in_lab(page, timeout=300)
    assert not [c for c in state["cells"] if c["errors"]], state["cells"]
    _wait_figures(page)
    spw = _control(page, "spw")
    spws = _options(spw)  # (an ipywidgets option's value is its index; its label names it)
    ids = [int(re.match(r"spw\s(\d+)", lab).group(1)) for lab in _option_labels(spw)]
    antennas = _control(page, "antennas")
    names = _option_labels(antennas)
    assert len(spws) >= 2 and len(names) >= 3, (spws, names)

    # the explorer's documents skip BokehJS's CSS-variable reads (``_bokeh.NO_CSS_VARS_JS``); another document
    # in the page still reads them: the patched method on an element that sets ``--bk-line-color``
    css = page.evaluate(
        """() => {
      const proto = Bokeh.require('core/visuals/visual').VisualProperties.prototype;
      const el = document.createElement('div');
      el.style.setProperty('--bk-line-color', 'rgb(255, 0, 0)');
      document.body.appendChild(el);
      const read = (doc) => proto._get_css_value.call({obj: {el, model: {document: doc}}, css_prefix: '--bk-'},
                                                       'line-color').trim();
      const out = {patched: proto.__almaview_css_vars === true, other: read({}), ours: read({__almaview_no_css_vars: true}),
                   flagged: [...Bokeh.documents].filter((d) => d.__almaview_no_css_vars).length};
      // a plot's base font size: read at each call in another document, once per view in ours
      const font = Object.getOwnPropertyDescriptor(Bokeh.require('models/plots/plot_canvas').PlotView.prototype,
                                                   'base_font_size').get;
      el.style.fontSize = '20px';
      const other = {el, model: {document: {}}}, mine = {el, model: {document: {__almaview_no_css_vars: true}}};
      const before = [font.call(other), font.call(mine)];
      el.style.fontSize = '22px';
      out.font = [...before, font.call(other), font.call(mine)];
      out.figures = [];
      for (const d of Bokeh.documents) if (d.__almaview_no_css_vars) for (const m of d.all_models) {
        const v = m.toolbar && m.renderers ? Bokeh.index.find_one(m) : null;
        if (v && v.el.isConnected) out.figures.push([v.base_font_size, parseFloat(getComputedStyle(v.el).fontSize)]);
      }
      el.remove();
      return out;
    }"""
    )
    figures = css.pop("figures")
    assert css == {"patched": True, "other": "rgb(255, 0, 0)", "ours": "", "flagged": css["flagged"],
                   "font": [20, 20, 22, 20]}, css  # fmt: skip
    assert css["flagged"] >= 1, css
    # the figures on screen: the size read once is the one the page computes
    assert figures and all(a == b and a > 0 for a, b in figures), figures

    # every tab: figures with titles, axis labels with units, a legend where colours stand for something
    seen = {}
    for tab in TABS:
        _open_tab(page, tab)
        figs = _wait_figures(page)
        seen[tab] = figs
        labels = " | ".join(a for f in figs for a in f["axes"])
        for unit in UNITS[tab]:
            assert unit in labels, f"{tab}: no axis label names {unit!r}: {labels}"
        assert all(f["title"] for f in figs if f["axes"]), f"{tab}: a figure without a title: {figs}"
        if tab in KEYED:
            plain = [f["title"] for f in figs if not f["legend"] and not f["factors"]]
            assert not plain, f"{tab}: figures without a colour key: {plain}"
        browser.screenshot(f"explorer-{tab}")
    assert "median" in seen["tsys"][0]["legend"]
    in_table = [a for a in seen["tsys"][0]["legend"] if a != "median"]  # the antennas of the Tsys table
    assert len(in_table) >= 3, in_table

    # N selected spws -> N panels per spw, on each calibration tab and on the visibilities (iterate over spw)
    two = spws[:2]
    spw.select_option(two)
    per_spw = {"tsys": ("Tsys · ", 1), "bandpass": ("Bandpass ", 2), "gains": ("Gain ", None)}
    _control(page, "iterate over").select_option(label="spw")
    for tab, (prefix, per) in per_spw.items():
        _open_tab(page, tab)

        def panels(prefix=prefix):
            figs = [f for f in _figures(page) if f["title"].startswith(prefix)]
            found = sorted({m.group(0) for f in figs for m in [re.search(r"spw \d+", f["title"])] if m})
            return figs if found == sorted(f"spw {ids[spws.index(s)]}" for s in two) else None

        figs = _wait(page, panels, f"{tab}: one panel per selected spw")
        n = len(figs)
        assert n % len(two) == 0 and (per is None or n == per * len(two)), (tab, [f["title"] for f in figs])
        assert all(f["legend"] for f in figs), f"{tab}: a per-spw panel without its legend"
        browser.screenshot(f"explorer-{tab}-two-spws")
    _open_tab(page, "visibilities")

    def vis_panels():
        figs = [f for f in _figures(page) if f["title"].startswith(("Amplitude", "Phase"))]
        found = sorted(m.group(0) for f in figs for m in [re.search(r"spw \d+", f["title"])] if m)
        want = sorted(2 * [f"spw {ids[spws.index(s)]}" for s in two])  # amplitude and phase per spw
        return figs if found == want and all(f["legend"] for f in figs) else None

    _wait(page, vis_panels, "visibilities: amplitude and phase panels per selected spw")
    browser.screenshot("explorer-visibilities-two-spws")
    _control(page, "iterate over").select_option(label="as the weblog")  # back to the weblog's panels

    # a change reaches every display, tables included: two antennas -> Tsys legends, and the median table's rows
    _open_tab(page, "tsys")
    spw.select_option(spws[:1])
    pick = in_table[1:3]
    antennas.select_option(label=pick)

    def tsys_follows():
        figs = _figures(page)
        spec = [f for f in figs if f["title"].startswith("Tsys · ")]
        times = [f for f in figs if f["title"].startswith("Tsys vs time")]
        cells = set(page.evaluate(TABLE_CELLS_JS))
        ok = (
            spec
            and all(set(f["legend"]) - {"median"} == set(pick) for f in spec)
            and times
            and set(times[0]["legend"]) == set(pick)
            and set(pick) <= cells
            and not (set(names) - set(pick)) & cells
        )
        return ok and (spec, cells)

    _wait(page, tsys_follows, "tsys: the antenna selection in the legends and the median table")
    browser.screenshot("explorer-tsys-two-antennas")

    # the keys as drawn (HTML) name what their models name after a change (``_bokeh.LEGEND_JS`` rebuilds a key
    # once per patch, not once per renderer it reaches, and keeps the plot's layout when only its height changed);
    # a click on an entry still hides its points
    def keys_drawn(prefixes, token, what):
        deadline, keys = time.monotonic() + 60, []
        while time.monotonic() < deadline:
            keys = [k for k in page.evaluate(LEGEND_DOM_JS) if k["title"].startswith(prefixes)]
            if keys and all(token in k["title"] and k["dom"] == k["model"] for k in keys):
                return keys
            time.sleep(0.25)
        raise AssertionError(f"{what}: the keys drawn are not their models' within 60 s: {keys}")

    keys_drawn(("Tsys",), pick[0], "tsys")
    _open_tab(page, "visibilities")
    for a in (names[2], names[3]):
        antennas.select_option(label=[a])
        keys = keys_drawn(("Amplitude", "Phase"), a, f"visibilities after choosing {a}")
        assert all(a in k["dom"] for k in keys), keys  # coloured by antenna: the chosen one is in every key
    counts = page.evaluate("() => window.__almaview_legend")
    assert counts and 0 < counts["rebuilt"] < counts["asked"] / 4, counts
    title = keys[0]["title"]
    at = page.evaluate(LEGEND_ENTRY_JS, [title, False])
    page.mouse.click(at["x"], at["y"])
    clicked = page.evaluate(LEGEND_ENTRY_JS, [title, True])
    assert clicked == {"hidden": True, "inactive": True, "label": at["label"]}, clicked
    browser.screenshot("explorer-visibilities-key-clicked")
    page.mouse.click(at["x"], at["y"])
    assert page.evaluate(LEGEND_ENTRY_JS, [title, True])["hidden"] is False
    antennas.select_option([])
    _open_tab(page, "tsys")

    # another gain table -> the RMS table's cells change
    _open_tab(page, "gains")
    _wait_figures(page)
    before = page.evaluate(TABLE_CELLS_JS)
    assert before, "the gains tab shows no table cells"
    gain_table = _control(page, "gain table")
    tables_offered = _options(gain_table)
    if len(tables_offered) > 1:
        current = gain_table.input_value()
        gain_table.select_option(next(o for o in tables_offered if o != current))
        page.wait_for_function(
            f"(b) => JSON.stringify(({TABLE_CELLS_JS})()) !== JSON.stringify(b)",
            arg=before,
            timeout=60_000,
            polling=250,
        )
        browser.screenshot("explorer-gains-switched")

    # all spws: as many heatmap columns in the page (the in-place update carries the factors)
    _open_tab(page, "flagging")
    _wait_figures(page)
    spw.select_option(spws)
    page.wait_for_function(
        f"() => ({VISIBLE_FIGURES_JS})().some((f) => f.factors && f.factors.length === {len(spws)})",
        timeout=120_000,
        polling=100,
    )
    browser.screenshot("explorer-flagging-all-spws")

    # control -> new pixels, on the tabs a user switches most (the first change of a calibration tab may build
    # its figures with room for the whole table: timed separately from the changes after it)
    times: dict[str, list[float]] = {}
    for tab in ("tsys", "gains", "bandpass"):
        _open_tab(page, tab)
        _wait_figures(page)
        times[f"{tab} first"] = [_timed_change(page, lambda: spw.select_option(spws[-1:]), tab)]
        for k in range(3):  # each change differs from the one before it
            s = spws[k % (len(spws) - 1)]
            times.setdefault(f"{tab} spw", []).append(_timed_change(page, lambda s=s: spw.select_option([s]), tab))
            times.setdefault(f"{tab} antennas", []).append(
                _timed_change(page, lambda k=k: antennas.select_option(label=[in_table[k]]), tab)
            )
    _open_tab(page, "visibilities")
    _wait_figures(page)
    for k in range(3):
        times.setdefault("visibilities antennas", []).append(
            _timed_change(page, lambda k=k: antennas.select_option(label=[names[k + 1]]), "visibilities")
        )
    report = {k: round(sorted(v)[len(v) // 2], 2) for k, v in times.items()}
    print(f"\ncontrol -> painted canvas (s, median): {report}")

    # copy as code: the calls for the page's selection, following it
    _open_tab(page, "tsys")
    antennas.select_option(label=in_table[:2])
    spw.select_option(spws[:1])
    _panel(page, "tsys").locator("xpath=..").locator(".almaview-code-button").first.click()
    area = _panel(page, "tsys").locator("xpath=..").locator(".almaview-code textarea").first
    code = _wait(page, lambda: area.is_visible() and area.input_value(), "tsys: the copy-as-code text")
    assert "import almaview as av" in code and "av.plots.tsys(" in code, code
    assert re.search(rf"spws=\[{ids[0]}\]", code) and all(repr(a) in code for a in in_table[:2]), code
    spw.select_option(spws[1:2])
    _wait(page, lambda: re.search(rf"spws=\[{ids[1]}\]", area.input_value()), "copy as code following the spw")
    browser.screenshot("explorer-copy-as-code")

    # mark and flag: box-select points on the amplitude figure -> the table of marked points -> the template file
    _open_tab(page, "visibilities")
    spw.select_option(spws[:1])
    antennas.select_option([])
    panel = _panel(page, "visibilities")
    # the figure for this selection (spw, every antenna), not the one shown while the kernel rebuilds the panel
    n_ant = len(_options(antennas))
    figs = _wait(
        page,
        lambda: [
            f
            for f in _figures(page)
            if f["title"].startswith("Amplitude")
            and f["width"] > 200
            and f"spw {ids[0]} " in f["title"] + " "
            and f"{n_ant} antennas" in f["title"]
        ],
        "visibilities: the amplitude figure of spw and all antennas",
    )
    page.wait_for_timeout(500)  # the panel just drawn settles (its view replaced the previous one)
    box = panel.locator("[title='Box Select'], .bk-tool-icon-box-select").first
    box.click()
    f = figs[0]
    x0, x1 = f["x"] + 0.12 * f["width"], f["x"] + 0.6 * f["width"]
    y0, y1 = f["y"] + 0.1 * f["height"], f["y"] + 0.85 * f["height"]
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=8)
    page.mouse.up()
    marked = page.locator(".almaview-marked").first
    text = _wait(page, lambda: "marked point" in marked.inner_text() and marked.inner_text(), "the marked points")
    chosen = page.evaluate(SELECTED_POINTS_JS)
    n = int(re.search(r"(\d+) marked point", text).group(1))
    assert chosen["n"] == n > 0, (chosen["n"], text)
    browser.screenshot("explorer-marked")
    eb = _control(page, "eb").input_value()
    template = notebooks_copy / "almaview-work" / f"{eb}.flagtemplate.txt"
    before_lines = template.read_text().splitlines() if template.exists() else []
    page.locator(".almaview-control-add-to-flags button, button.almaview-control-add-to-flags").first.click()
    status = page.locator(".almaview-status").first
    _wait(page, lambda: "added to" in status.inner_text(), "the 'added to' status")
    added = [ln for ln in template.read_text().splitlines()[len(before_lines) :] if ln and not ln.startswith("#")]
    assert added and all(ln.startswith("mode='manual'") for ln in added), added
    pairs = {tuple(p) for p in chosen["pairs"]}
    flagged = {tuple(m.split("&")) for ln in added for m in re.findall(r"antenna='([^']+)'", ln)}
    assert pairs and flagged <= pairs | {(b, a) for a, b in pairs}, (flagged, pairs)
    browser.log.assert_clean()


# Click the QA table's cell (SlickGrid, inside Bokeh's shadow roots) whose text is ``label``; false if not on screen.
CLICK_CELL_JS = """(label) => {
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.classList && el.classList.contains('slick-cell') && el.textContent.trim() === label
          && el.getBoundingClientRect().width > 0) {
        (el.querySelector('span') || el).dispatchEvent(new MouseEvent('click', {bubbles: true, composed: true}));
        return true;
      }
      if (el.shadowRoot && walk(el.shadowRoot)) return true;
    }
    return false;
  };
  return walk(document);
}"""


def test_qa_stage_click_shows_its_weblog_page(lab_server, browser, notebooks_copy, demo_delivery):
    # The QA tab's stage is a link: a click on it (not on its bar) shows that stage's weblog page in the explorer's
    # weblog viewer (served by the widget: no file:// link). The stage comes from the AQUA
    # report; the heading from the stage page's own file (not the viewer's sanitised copy).
    import re as _re

    import almaview as av

    m = av.open_delivery(demo_delivery).mous[0]
    worst = min(m.qa.aqua.stages, key=lambda s: s.score)
    heading = _re.search(r"<h1>([^<]+)", m.weblog.stage(worst.number).page.read_text()).group(1).strip()
    cells = ["import almaview as av\n\nex = av.explore(av.open_delivery(av.demo.build()))\nex.show('qa')\nex"]
    page = browser.page
    browser.log.tolerated = ("Blocked script execution in 'about:srcdoc' because the document's frame is sandboxed",)
    page.set_viewport_size({"width": 1400, "height": 900})
    harness.open_alone(page, lab_server, harness.write_notebook(notebooks_copy, "explorer-qa.ipynb", cells))
    state = harness.run_all_in_lab(page, timeout=300)
    assert not [c for c in state["cells"] if c["errors"]], state
    label = f"{worst.number} {worst.name}"
    _wait(page, lambda: page.evaluate(CLICK_CELL_JS, label), f"the QA table's link '{label}'", timeout=120)
    frame = page.frame_locator("iframe.almaview-page-frame")
    frame.locator("h1", has_text=heading).wait_for(timeout=60_000)
    assert page.locator(".almaview-page-title").first.inner_text().startswith(f"Stage {worst.number}: {worst.name}")
    browser.screenshot("explorer-qa-stage-page")
    cells_html = page.evaluate(
        """() => { const out = []; const walk = (root) => { for (const el of root.querySelectorAll('*')) {
          if (el.classList && el.classList.contains('slick-cell')) out.push(el.innerHTML);
          if (el.shadowRoot) walk(el.shadowRoot); } }; walk(document); return out; }"""
    )
    assert any(label in c for c in cells_html) and not any("file://" in c or "href" in c for c in cells_html)

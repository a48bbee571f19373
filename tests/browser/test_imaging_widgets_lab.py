"""The cont.dat editor and the re-imaging panel in JupyterLab (headless Chromium), used as a user would.

Each test writes a small notebook (with kernelspec metadata) into the served copy of notebooks/, opens it in a
JupyterLab workspace of its own, runs all cells, and acts on the page:

- ``ContinuumEditor``: shift-drag across a gap between the delivered ranges (the BoxEditTool is the active drag
  tool); the Bokeh 'ranges' source in the page gains a range whose edges are the dragged pixels converted to GHz
  with the figure's linear x mapping (range start/end over the frame's pixels, read from the page); the kernel
  got it: the 'spw selection' text shows it, and "write cont.dat" writes a file that
  :func:`almaview.imaging.read_cont_dat` (here, in the test process) reads the new range from.
- ``reimage``: niter 0, click "run"; the kernel answers a request while tclean runs; when done the progress bar
  is full, the status says done, two images are drawn, and the re-imaged plane in the page sums to the produced
  FITS file read here with astropy (the delivered one to the delivered FITS file).
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from . import harness

pytestmark = pytest.mark.browser

EDITOR_NOTEBOOK = "contdat-editor-drag.ipynb"
REIMAGE_NOTEBOOK = "reimage-run.ipynb"

MEMBER_CELL = """import almaview as av

d = av.open_delivery(av.demo.build())
member = next(m for m in d.mous if any(i.field == 'IRAS16293-2422' for i in m.images))"""

EDITOR_CELLS = [
    MEMBER_CELL,
    """editor = av.widgets.ContinuumEditor(member)
editor""",
]


def _reimage_cells(output: str) -> list[str]:
    return [
        MEMBER_CELL,
        f"""panel = av.widgets.reimage(member, kind='cont', output={output!r})
panel.controls['niter'].value = 0
panel""",
    ]


def _run_all(page, timeout: float = 300.0) -> None:
    state = harness.run_all_in_lab(page, timeout=timeout)
    errors = [(c["text"], c["errors"]) for c in state["cells"] if c["errors"]]
    assert not errors, f"cells raised in JupyterLab: {errors}"
    assert all(c["count"] is not None for c in state["cells"]), state["cells"]


# ---------------------------------------------------------------- the cont.dat editor

# The 'ranges' source and the geometry of the figure that draws it: the frame in page (CSS) pixels and its x range.
RANGES_FIGURE_JS = """() => {
  if (!window.Bokeh || !window.Bokeh.documents || !window.Bokeh.index) return null;
  const cols = (m) => m.data instanceof Map ? Object.fromEntries(m.data) : m.data;
  for (const doc of window.Bokeh.documents) {
    let src = null;
    for (const m of doc.all_models) {
      if (m.name === 'ranges' && m.data !== undefined && m.selected !== undefined) src = m;
    }
    if (src === null) continue;
    for (const m of doc.all_models) {
      if (!m.renderers || !m.x_range || !m.renderers.some((r) => r.data_source === src)) continue;
      const view = window.Bokeh.index.find_one(m);
      if (!view) return null;
      const box = view.frame.bbox;
      const rect = view.canvas_view.el.getBoundingClientRect();
      const data = cols(src);
      return {left: rect.left + box.left, right: rect.left + box.right, top: rect.top + box.top,
              bottom: rect.top + box.bottom, start: m.x_range.start, end: m.x_range.end,
              ranges: Array.from(data.left || [], (l, i) => [Number(l), Number(data.right[i])])};
    }
  }
  return null;
}"""


def _largest_gap(ranges: list[list[float]], start: float, end: float) -> tuple[float, float]:
    """The widest stretch of [start, end] (GHz) that no range covers."""
    edges = sorted((min(a, b), max(a, b)) for a, b in ranges)
    best, cursor = (start, start), start
    for lo, hi in edges + [(end, end)]:
        if lo - cursor > best[1] - best[0]:
            best = (cursor, min(lo, end))
        cursor = max(cursor, hi)
    return best


def _selection_pairs(text: str, spw: int) -> list[tuple[float, float]]:
    """(low, high) GHz of ``spw`` in a CASA spw selection such as '0:230.1~230.4GHz;231~231.3GHz,1'."""
    for part in text.split(","):
        head, _, rest = part.partition(":")
        if head.strip() == str(spw):
            return [(float(a), float(b)) for a, b in re.findall(r"([\d.]+)~([\d.]+)GHz", rest)]
    return []


def _same_ranges(a, b, tol: float) -> bool:
    """Whether two lists of (low, high) GHz hold the same ranges within ``tol`` GHz."""
    a, b = sorted(map(tuple, a)), sorted(map(tuple, b))
    return len(a) == len(b) and (not a or bool(np.allclose(np.array(a), np.array(b), rtol=0, atol=tol)))


def _dropdown_value(page, css: str) -> str:
    select = page.locator(f".{css} select")
    assert select.count() == 1, f"{select.count()} dropdowns .{css}"
    return select.evaluate("(s) => s.selectedOptions[0].textContent").strip()


def test_contdat_editor_shift_drag_adds_a_range_that_reaches_the_kernel(lab_server, browser, notebooks_copy, tmp_path):
    from almaview.imaging import read_cont_dat

    page = browser.page
    t0 = time.perf_counter()
    harness.open_alone(page, lab_server, harness.write_notebook(notebooks_copy, EDITOR_NOTEBOOK, EDITOR_CELLS))
    _run_all(page)
    canvases = harness.wait_for_bokeh(page, n_documents=1)
    assert canvases and max(c["width"] for c in canvases) > 200, canvases  # drawn: more than 2 colours
    ran = time.perf_counter() - t0
    field, spw = _dropdown_value(page, "almaview-control-field"), int(_dropdown_value(page, "almaview-control-spw"))

    page.locator(".almaview-panel-continuum").scroll_into_view_if_needed()
    page.wait_for_function(
        f"() => {{ const g = ({RANGES_FIGURE_JS})(); return g && g.start !== g.end"
        " && Number.isFinite(g.start) && g.right - g.left > 100; }",
        timeout=30_000,
    )
    geo = page.evaluate(RANGES_FIGURE_JS)
    before = geo["ranges"]
    selection_code = page.locator(".almaview-control-spw-selection code").first
    selection_before = selection_code.inner_text()
    assert _same_ranges(_selection_pairs(selection_before, spw), before, 2e-6), (
        selection_before,
        before,
    )  # the text and the strips show the same delivered ranges

    # Pixels <-> GHz: the figure's x mapping is linear from the frame's left edge (start) to its right edge (end).
    ghz_per_px = (geo["end"] - geo["start"]) / (geo["right"] - geo["left"])
    lo, hi = _largest_gap(before, geo["start"], geo["end"])
    assert (hi - lo) / ghz_per_px > 30, f"no gap of 30 px between the delivered ranges: {before} in {geo}"
    mid = (lo + hi) / 2
    half_px = min(0.3 * (hi - lo) / ghz_per_px, 80.0)
    x0 = geo["left"] + (mid - geo["start"]) / ghz_per_px - half_px
    x1 = geo["left"] + (mid - geo["start"]) / ghz_per_px + half_px
    y = geo["top"] + 0.75 * (geo["bottom"] - geo["top"])  # below the legend (top left)
    expected = (geo["start"] + (x0 - geo["left"]) * ghz_per_px, geo["start"] + (x1 - geo["left"]) * ghz_per_px)

    t1 = time.perf_counter()
    page.mouse.move(x0, y)
    page.keyboard.down("Shift")
    page.mouse.down()
    page.mouse.move(x1, y, steps=12)
    page.mouse.up()
    page.keyboard.up("Shift")
    page.wait_for_function(
        f"(n) => {{ const g = ({RANGES_FIGURE_JS})(); return g && g.ranges.length > n; }}",
        arg=len(before),
        timeout=10_000,
        polling=100,
    )
    after = page.evaluate(RANGES_FIGURE_JS)["ranges"]
    new = [r for r in after if not any(abs(r[0] - b[0]) < 1e-9 and abs(r[1] - b[1]) < 1e-9 for b in before)]
    assert len(after) == len(before) + 1 and len(new) == 1, (before, after)
    got = sorted(new[0])
    tol = 3 * ghz_per_px  # a few pixels' worth of GHz
    assert got == pytest.approx(expected, rel=0, abs=tol), (got, expected, tol)

    # The kernel got it: the 'spw selection' text (written by Python) now lists the new range.
    page.wait_for_function(
        "(b) => { const c = document.querySelector('.almaview-control-spw-selection code');"
        " return c && c.textContent !== b; }",
        arg=selection_before,
        timeout=30_000,
        polling=100,
    )
    reached = time.perf_counter() - t1
    pairs = _selection_pairs(selection_code.inner_text(), spw)
    assert len(pairs) == len(before) + 1, (pairs, before)
    assert any(_same_ranges([p], [got], tol) for p in pairs), (pairs, got)

    # "write cont.dat" to a path typed into "write to": the file holds the new range (read here, not by the widget).
    target = tmp_path / "cont_edited.dat"
    box = page.locator(".almaview-control-write-to input")
    box.fill(str(target))
    box.press("Enter")
    page.wait_for_timeout(300)  # the Text syncs on input; give the comm a moment before the click
    page.locator(".almaview-control-write-cont-dat").click()
    deadline = time.monotonic() + 30
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    status = page.locator(".almaview-status").inner_text()
    assert target.exists(), f"no {target} after 'write cont.dat'; status: {status}"
    written = [(a / 1e9, b / 1e9) for a, b in read_cont_dat(target).get(field, spw)]
    assert len(written) == len(before) + 1, (written, before)
    assert any(_same_ranges([w], [got], tol) for w in written), (written, got)
    page.get_by_text("wrote", exact=False).first.wait_for(timeout=10_000)

    page.locator(".almaview-panel-continuum").scroll_into_view_if_needed()
    browser.screenshot("contdat-editor-lab")
    print(
        f"JupyterLab: open + run all + drawn {ran:.1f} s; dragged {x1 - x0:.0f} px in spw {spw} of {field}: "
        f"range {got[0]:.6f}~{got[1]:.6f} GHz (expected {expected[0]:.6f}~{expected[1]:.6f}, "
        f"tol {tol * 1e3:.3f} MHz);"
        f" in the kernel's selection after {reached:.2f} s"
    )
    browser.log.assert_clean()


# ---------------------------------------------------------------- the re-imaging panel

# Send a quick request to the notebook's kernel and wait for its reply: milliseconds, or -1.
KERNEL_ROUND_TRIP_JS = """async () => {
  const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const t0 = performance.now();
  const reply = await k.requestExecute({code: '6 * 7', silent: false, store_history: false}).done;
  return reply.content.status === 'ok' ? performance.now() - t0 : -1;
}"""


def _fits_plane_sum(path) -> tuple[float, int]:
    """Sum and count of the finite pixels of the middle channel, first Stokes, of a FITS image (astropy)."""
    from astropy.io import fits

    data = np.asarray(fits.getdata(path), dtype=np.float64)
    data = data.reshape((-1,) + data.shape[-3:])[0] if data.ndim >= 3 else data[None]
    plane = data[data.shape[0] // 2]
    return float(np.nansum(plane)), int(np.isfinite(plane).sum())


def _delivered_cont_sums() -> list[tuple[float, int]]:
    import almaview as av

    d = av.open_delivery(av.demo.build(progress=False))
    member = next(m for m in d.mous if any(i.field == "IRAS16293-2422" for i in m.images))
    return [_fits_plane_sum(i.source) for i in member.images if i.kind == "cont" and str(i.source).endswith(".fits")]


def test_reimage_panel_runs_tclean_and_shows_the_comparison(lab_server, browser, notebooks_copy, tmp_path):
    import almaview as av

    if not av.casa.available():
        pytest.skip("CASA (casatools/casatasks) is not installed: the re-imaging panel cannot run tclean")
    page = browser.page
    output = tmp_path / "reimaged"
    t0 = time.perf_counter()
    harness.open_alone(
        page, lab_server, harness.write_notebook(notebooks_copy, REIMAGE_NOTEBOOK, _reimage_cells(str(output)))
    )
    _run_all(page)
    ran = time.perf_counter() - t0
    call = page.locator(".almaview-control-tclean-call textarea")
    assert re.search(r"\bniter\s*=\s*0\b", call.input_value()), call.input_value()  # the cell's niter reached it
    assert page.evaluate(harness.IMAGE_SOURCES_JS) == []  # nothing to compare yet

    status = page.locator(".almaview-control-progress + *")
    run = page.locator(".almaview-control-run")
    run.scroll_into_view_if_needed()
    t1 = time.perf_counter()
    run.click()
    page.wait_for_function(
        "() => { const s = document.querySelector('.almaview-control-progress + *');"
        " return s && /running|major cycle/.test(s.textContent); }",
        timeout=30_000,
        polling=100,
    )
    # The kernel stays free while tclean runs (a separate process): a request is answered before the run ends.
    round_trip = page.evaluate(KERNEL_ROUND_TRIP_JS)
    still_running = status.inner_text()
    assert round_trip >= 0, "the kernel answered the request with an error"
    assert not still_running.startswith("done"), (
        f"tclean finished before the kernel answered ({round_trip:.0f} ms): not conclusive"
    )

    page.wait_for_function(
        "() => { const s = document.querySelector('.almaview-control-progress + *');"
        " return s && /^(done|failed|stopped)/.test(s.textContent.trim()); }",
        timeout=600_000,
        polling=250,
    )
    finished = time.perf_counter() - t1
    assert status.inner_text().startswith("done"), (
        f"{status.inner_text()!r}: {page.locator('.almaview-reimage').inner_text()[-600:]}"
    )
    bar = page.locator(".almaview-control-progress .progress-bar")
    assert bar.evaluate("(b) => b.style.width || b.style.height") == "100%"
    assert "success" in (bar.get_attribute("class") or "")

    canvases = harness.wait_for_bokeh(page, n_documents=1)
    drawn = [c for c in canvases if c["width"] > 100]
    assert len(drawn) >= 2, f"two images expected on the page, drawn canvases: {canvases}"

    products = sorted(output.rglob("*.fits"))
    key = next(
        k
        for k in ("image.pbcor.fits", "image.tt0.pbcor.fits", "image.fits", "image.tt0.fits")
        if any(p.name.endswith(k) for p in products)
    )
    reimaged = [p for p in products if p.name.endswith(key)]
    assert len(reimaged) == 1, products
    expected_sum, expected_n = _fits_plane_sum(reimaged[0])
    delivered = _delivered_cont_sums()
    shown = page.evaluate(harness.IMAGE_SOURCES_JS)
    assert len(shown) == 2, shown
    mine = [s for s in shown if s["n"] == expected_n and s["sum"] == pytest.approx(expected_sum, rel=1e-5, abs=1e-6)]
    assert len(mine) == 1, (shown, expected_sum, expected_n)
    other = next(s for s in shown if s is not mine[0])
    assert any(other["n"] == n and other["sum"] == pytest.approx(s, rel=1e-5, abs=1e-6) for s, n in delivered), (
        other,
        delivered,
    )

    page.locator(".almaview-reimage").last.scroll_into_view_if_needed()
    browser.screenshot("reimage-panel-lab")
    print(
        f"JupyterLab: open + run all {ran:.1f} s; kernel round trip during tclean {round_trip:.0f} ms "
        f"(status then {still_running!r}); run -> comparison drawn {finished:.1f} s; status {status.inner_text()!r}"
    )
    browser.log.assert_clean()

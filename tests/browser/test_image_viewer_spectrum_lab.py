"""The image viewer's spectra from the page (JupyterLab, headless Chromium): a click on the figure draws the
pixel's spectrum, a box drawn with the box-select tool the box's spectrum.

The test acts as a user: Run All Cells, click a pixel of the demo cube, then pick 'box' under "spectrum of" and
drag a box. Where to click comes from the page (the figure's own data -> screen mapping and its hover grid of
pixel centres); what must be drawn comes from the FITS file read here with astropy: the clicked pixel's values
over all channels, and the box's sum divided by the beam area in pixels (from BMAJ/BMIN/CDELT). A pixel check
then looks at the spectrum's canvas: the line's colour is on it.
"""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest

from . import harness
from .test_image_viewer_lab import CELLS

pytestmark = pytest.mark.browser

NOTEBOOK = "image-viewer-spectrum.ipynb"

# Screen position of data point (ox, oy) on the figure whose renderers draw the source named "hover" (scrolled to
# the middle of the window first); also the hover grid (pixel centres: offsets and the full-image pixel indices).
FIGURE_JS = """(pts) => {
  for (const doc of window.Bokeh.documents) {
    for (const p of doc.all_models) {
      if (!p.renderers || !p.toolbar) continue;
      const r = p.renderers.find((r) => r.data_source && r.data_source.name === 'hover');
      if (!r) continue;
      const view = window.Bokeh.index.find_one(p);
      if (!view) continue;
      view.canvas_view.el.scrollIntoView({block: 'center'});
      const rect = view.canvas_view.el.getBoundingClientRect();
      const d = r.data_source.data instanceof Map ? Object.fromEntries(r.data_source.data) : r.data_source.data;
      const screen = pts.map(([x, y]) => [rect.left + view.frame.x_scale.compute(x),
                                          rect.top + view.frame.y_scale.compute(y)]);
      return {screen, ox: Array.from(d.ox), oy: Array.from(d.oy), px: Array.from(d.px), py: Array.from(d.py)};
    }
  }
  return null;
}"""

# The 'spectrum' sources in the page (values), newest last.
SPECTRA_JS = """() => {
  const out = [];
  for (const doc of window.Bokeh.documents) {
    for (const m of doc.all_models) {
      if (m.name !== 'spectrum' || m.data === undefined) continue;
      const d = m.data instanceof Map ? Object.fromEntries(m.data) : m.data;
      out.push(Array.from(d.value));
    }
  }
  return out;
}"""

# How many pixels of the spectrum line's colour (#1f77b4) the canvases hold, per canvas.
LINE_PIXELS_JS = (
    """() => {"""
    + harness.FIND_CANVASES_JS
    + """
  return found.filter((c) => c.width > 50 && c.height > 50).map((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (Math.abs(d[i] - 31) < 6 && Math.abs(d[i + 1] - 119) < 6 && Math.abs(d[i + 2] - 180) < 6) n++;
    }
    return n;
  });
}"""
)


def _cube():
    """The demo cube's (frequency, y, x) data of the first Stokes, its header and beams, read with astropy."""
    from astropy.io import fits

    import almaview as av

    d = av.open_delivery(av.demo.build(progress=False))
    member = next(m for m in d.mous if any(i.field == "IRAS16293-2422" for i in m.images))
    path = next(i.source for i in member.images if i.kind == "cube" and i.image_type == "pbcor")
    with fits.open(path) as hdul:
        data = np.asarray(hdul[0].data, dtype=np.float64)
        header = hdul[0].header.copy()
        beams = hdul["BEAMS"].data if "BEAMS" in hdul else None
        # beam (major, minor) in arcsec per channel: the BEAMS table (arcsec) or the header (deg)
        if beams is not None:
            bmaj, bmin = np.asarray(beams["BMAJ"], float), np.asarray(beams["BMIN"], float)
        else:
            bmaj, bmin = header["BMAJ"] * 3600.0, header["BMIN"] * 3600.0
    return data.reshape((-1,) + data.shape[-3:])[0], header, (bmaj, bmin)


def _wait_spectrum(page, before: list, timeout: float = 30.0) -> list[float]:
    """The newest spectrum in the page once the page's spectra differ from ``before`` (a new one, or new data in
    the shown one: the viewer updates its spectrum figure in place)."""
    page.wait_for_function(
        f"(b) => JSON.stringify(({SPECTRA_JS})()) !== JSON.stringify(b)", arg=before, timeout=timeout * 1000, polling=20
    )
    return page.evaluate(SPECTRA_JS)[-1]


def test_click_and_box_in_the_page_draw_spectra(lab_server, browser, notebooks_copy):
    page = browser.page
    cube, header, (bmaj, bmin) = _cube()
    harness.open_alone(page, lab_server, harness.write_notebook(notebooks_copy, NOTEBOOK, CELLS))
    state = harness.run_all_in_lab(page, timeout=180)
    assert not [c for c in state["cells"] if c["errors"]], state["cells"]
    assert len(harness.wait_for_bokeh(page, n_documents=2)) >= 2  # the image and the centre pixel's spectrum

    grid = page.evaluate(FIGURE_JS, [])
    assert grid is not None, "no figure with a 'hover' source on the page"
    px, py = np.asarray(grid["px"], int), np.asarray(grid["py"], int)
    # The brightest pixel of the cube (astropy), then the nearest pixel centre the page's grid knows.
    peak = np.unravel_index(np.nanargmax(cube), cube.shape)
    k = int(np.argmin((px - peak[2]) ** 2 + (py - peak[1]) ** 2))
    ((sx, sy),) = page.evaluate(FIGURE_JS, [[grid["ox"][k], grid["oy"][k]]])["screen"]

    # 1. a click: the pixel's spectrum
    before = page.evaluate(SPECTRA_JS)
    t_click = time.perf_counter()
    page.mouse.click(sx, sy)
    got = _wait_spectrum(page, before)
    click_s = time.perf_counter() - t_click
    np.testing.assert_allclose(got, cube[:, py[k], px[k]], rtol=1e-5, atol=1e-7)
    page.wait_for_function(f"() => ({LINE_PIXELS_JS})().some((n) => n > 50)", timeout=10_000, polling=50)
    drawn_s = time.perf_counter() - t_click
    page.locator(".bk-Figure").nth(1).scroll_into_view_if_needed()
    browser.screenshot("image-viewer-click-spectrum")

    # 2. a box: choose 'box' (the figure's box-select tool becomes the drag tool), drag between two pixel centres
    region = page.locator("label.widget-label").filter(has_text=re.compile(r"^\s*spectrum of\s*$")).locator("xpath=..")
    region.locator("button", has_text="box").click()
    a = int(np.argmin((px - (peak[2] - 3)) ** 2 + (py - (peak[1] - 2)) ** 2))
    b = int(np.argmin((px - (peak[2] + 2)) ** 2 + (py - (peak[1] + 3)) ** 2))
    page.wait_for_function(
        "() => { for (const doc of window.Bokeh.documents) for (const p of doc.all_models)"
        " if (p.toolbar && p.toolbar.active_drag && p.toolbar.active_drag.type"
        " === 'BoxSelectTool') return true; return false; }",
        timeout=10_000,
        polling=50,
    )
    (ax, ay), (bx, by) = page.evaluate(FIGURE_JS, [[grid["ox"][a], grid["oy"][a]], [grid["ox"][b], grid["oy"][b]]])[
        "screen"
    ]
    before = page.evaluate(SPECTRA_JS)
    page.mouse.move(ax, ay)
    page.mouse.down()
    page.mouse.move((ax + bx) / 2, (ay + by) / 2, steps=4)
    page.mouse.move(bx, by, steps=4)
    t_up = time.perf_counter()
    page.mouse.up()
    got_box = _wait_spectrum(page, before)
    box_s = time.perf_counter() - t_up
    x0, x1 = sorted((px[a], px[b]))
    y0, y1 = sorted((py[a], py[b]))
    dx, dy = abs(header["CDELT1"]) * 3600, abs(header["CDELT2"]) * 3600
    beam_pixels = math.pi / (4 * math.log(2)) * np.asarray(bmaj) * np.asarray(bmin) / (dx * dy)
    expected = np.nansum(cube[:, y0 : y1 + 1, x0 : x1 + 1], axis=(1, 2)) / beam_pixels
    np.testing.assert_allclose(got_box, expected, rtol=1e-5, atol=1e-7)
    browser.screenshot("image-viewer-box-spectrum")
    print(
        f"click -> pixel ({px[k]}, {py[k]}) spectrum in the page after {click_s:.2f} s (line drawn "
        f"{drawn_s:.2f} s); box ({x0}, {y0})-({x1}, {y1}) spectrum after {box_s:.2f} s"
    )
    assert click_s < 2.0 and box_s < 2.0, (click_s, box_s)  # target 0.5 s; a shared CI machine gets slack
    browser.log.assert_clean()

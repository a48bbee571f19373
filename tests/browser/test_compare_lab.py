"""The comparison viewer in JupyterLab (headless Chromium): the demo group's Total Power, 12-m and 7-m cubes side by
side; a click on the TP panel draws the spectra of all three at that sky position, in one plot with three legend
entries.

Where to click comes from the page (the TP figure's own data -> screen mapping); what must be drawn comes from the
FITS files read here with astropy: the clicked position (offsets on the TP panel -> TP pixel -> sky, TP's WCS),
then each file's pixel at that sky position and its values over all channels.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from . import harness

pytestmark = pytest.mark.browser

NOTEBOOK = "compare-images.ipynb"

CELLS = [
    """import almaview as av

d = av.open_delivery(av.demo.build())
arrays = {m.array: m for m in d.mous}


def cube(array, image_type):
    return next(i.source for i in arrays[array].images if i.kind == 'cube' and i.image_type == image_type)""",
    """viewer = av.compare_images(cube('TP', 'image'), cube('12m', 'pbcor'), cube('7m', 'pbcor'),
                            names=['TP', '12m', '7m'])
viewer""",
]

# Screen position of offsets (ox, oy) on the figure named 'sky_panel_0' (the first image's), scrolled into view.
SCREEN_JS = """([ox, oy]) => {
  for (const doc of window.Bokeh.documents) {
    for (const p of doc.all_models) {
      if (p.name !== 'sky_panel_0') continue;
      const view = window.Bokeh.index.find_one(p);
      if (!view) return null;
      view.canvas_view.el.scrollIntoView({block: 'center'});
      const rect = view.canvas_view.el.getBoundingClientRect();
      return [rect.left + view.frame.x_scale.compute(ox), rect.top + view.frame.y_scale.compute(oy)];
    }
  }
  return null;
}"""

# The spectra in the page (source name -> values) and the legend entries of the figure that draws them.
SPECTRA_JS = """() => {
  const out = {spectra: {}, legend: []};
  for (const doc of window.Bokeh.documents) {
    for (const m of doc.all_models) {
      if (m.name && m.name.startsWith('spectrum_') && m.data !== undefined) {
        const d = m.data instanceof Map ? Object.fromEntries(m.data) : m.data;
        out.spectra[m.name.slice(9)] = Array.from(d.value);
      }
      if (m.items !== undefined && m.click_policy !== undefined) {
        out.legend = m.items.map((i) => (i.label && i.label.value !== undefined ? i.label.value : String(i.label)));
      }
    }
  }
  return out;
}"""


# The x/y ranges of the figures named 'sky_panel_<i>', in order.
RANGES_JS = """() => {
  const out = [];
  for (const doc of window.Bokeh.documents) {
    for (const p of doc.all_models) {
      const m = /^sky_panel_(\\d+)$/.exec(p.name || '');
      if (m) out[Number(m[1])] = [p.x_range.start, p.x_range.end, p.y_range.start, p.y_range.end];
    }
  }
  return out;
}"""


def _expected(ox: float, oy: float) -> dict[str, np.ndarray]:
    from astropy.io import fits
    from astropy.wcs import WCS

    import almaview as av

    d = av.open_delivery(av.demo.build(progress=False))
    arrays = {m.array: m for m in d.mous}
    paths = {
        "TP": next(i.source for i in arrays["TP"].images if i.kind == "cube"),
        "12m": next(i.source for i in arrays["12m"].images if i.kind == "cube" and i.image_type == "pbcor"),
        "7m": next(i.source for i in arrays["7m"].images if i.kind == "cube" and i.image_type == "pbcor"),
    }
    h = fits.getheader(paths["TP"])
    sky = WCS(h).celestial.pixel_to_world(
        h["NAXIS1"] / 2.0 - ox / (abs(h["CDELT1"]) * 3600.0), h["NAXIS2"] / 2.0 + oy / (abs(h["CDELT2"]) * 3600.0)
    )
    out = {}
    for name, path in paths.items():
        x, y = WCS(fits.getheader(path)).celestial.world_to_pixel(sky)
        data = np.asarray(fits.getdata(path), dtype=np.float64)
        data = data.reshape((-1,) + data.shape[-3:])[0]
        out[name] = data[:, int(np.floor(float(y) + 0.5)), int(np.floor(float(x) + 0.5))]
    return out


def test_a_click_draws_the_spectra_of_the_three_images(lab_server, browser, notebooks_copy):
    page = browser.page
    ox, oy = 6.0, -5.0
    expected = _expected(ox, oy)
    harness.open_alone(page, lab_server, harness.write_notebook(notebooks_copy, NOTEBOOK, CELLS))
    state = harness.run_all_in_lab(page, timeout=180)
    assert not [c for c in state["cells"] if c["errors"]], state["cells"]
    canvases = harness.wait_for_bokeh(page, n_documents=1)
    assert len([c for c in canvases if c["width"] > 200]) >= 4, canvases  # three images and the spectra

    before = page.evaluate(SPECTRA_JS)
    assert sorted(before["spectra"]) == ["12m", "7m", "TP"] and not any(before["spectra"].values())
    point = page.evaluate(SCREEN_JS, [ox, oy])
    assert point is not None, "no figure named sky_panel_0 on the page"
    t0 = time.perf_counter()
    page.mouse.click(*point)
    page.wait_for_function(
        f"() => Object.values(({SPECTRA_JS})().spectra).every((v) => v.length > 0)", timeout=30_000, polling=20
    )
    drawn = time.perf_counter() - t0
    after = page.evaluate(SPECTRA_JS)
    assert after["legend"] == ["TP (Jy/beam)", "12m (Jy/beam)", "7m (Jy/beam)"], after["legend"]
    for name, values in expected.items():
        np.testing.assert_allclose(after["spectra"][name], values, rtol=1e-5, atol=1e-7, err_msg=name)
    page.locator(".almaview-compare").scroll_into_view_if_needed()
    browser.screenshot("compare-images-click-spectra")

    # a drag with the pan tool on the TP panel: every panel shows the same sky moved by the same offsets
    before = page.evaluate(RANGES_JS)
    x, y = page.evaluate(SCREEN_JS, [0.0, 0.0])
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 30, y + 10, steps=3)
    page.mouse.move(x + 60, y + 20, steps=3)
    page.mouse.up()
    page.wait_for_function(f"(b) => JSON.stringify(({RANGES_JS})()) !== JSON.stringify(b)", arg=before)
    after_pan = page.evaluate(RANGES_JS)
    moved = np.asarray(after_pan) - np.asarray(before)
    assert abs(moved[0, 0]) > 1.0 and abs(moved[0, 2]) > 0.1, moved  # the TP panel moved (arcsec)
    np.testing.assert_allclose(moved, np.repeat(moved[:1], len(moved), axis=0), atol=1e-6)
    print(f"click -> spectra of 3 images in the page after {drawn:.2f} s")
    browser.log.assert_clean()

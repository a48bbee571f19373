"""The image viewer in JupyterLab (headless Chromium): it draws, and the channel slider changes the shown data.

A small notebook (written into the served copy of notebooks/) opens the demo delivery's cube with its mask
and pb, as notebook 04 does, and displays ``ImageViewer``. The test then acts as a user: Run All Cells,
type a new channel into the slider's readout, press Enter. What the browser holds is checked against the
FITS file read here with astropy: the sum of the plane in the Bokeh source named "image" before and after
equals the sum of the slider's channel in the file. The colour-map control (a Bokeh Select) must redraw
the canvas while the kernel is busy, i.e. without a kernel round trip.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from . import harness

pytestmark = pytest.mark.browser

# One notebook per test: a second page on the same notebook would meet the first one's kernel and saved widget views.
CHANNEL_NOTEBOOK = "image-viewer-channel.ipynb"
COLOUR_NOTEBOOK = "image-viewer-colours.ipynb"

CELLS = [
    """import almaview as av
from almaview.widgets.image_viewer import ImageViewer

d = av.open_delivery(av.demo.build())
member = next(m for m in d.mous if any(i.field == 'IRAS16293-2422' for i in m.images))


def product(kind, image_type):
    return next(i.source for i in member.images if i.kind == kind and i.image_type == image_type)""",
    """viewer = ImageViewer(av.open_image(product('cube', 'pbcor')), mask=av.open_image(product('cube', 'mask')),
                     pb=av.open_image(product('cube', 'pb')))
viewer""",
]

# The plane held by the (first) Bokeh ColumnDataSource named "image": NaN-skipping sum, finite count, size.
IMAGE_SOURCE_JS = f"() => {{ const s = ({harness.IMAGE_SOURCES_JS})(); return s.length ? s[0] : null; }}"

# The texts of the ipywidgets labels that show a frequency.
GHZ_LABELS_JS = """() => Array.from(document.querySelectorAll('.widget-label'), (e) => e.textContent)
  .filter((t) => t.includes('GHz'))"""

# A fingerprint of the pixels of every Bokeh canvas (inside shadow roots): changes when anything is redrawn.
CANVAS_PIXELS_JS = (
    """() => {"""
    + harness.FIND_CANVASES_JS
    + """
  let h = 0;
  for (const c of found) {
    if (c.width <= 50 || c.height <= 50) continue;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4 * 3) h = (Math.imul(h, 31) + ((d[i] << 16) | (d[i + 1] << 8) | d[i + 2])) | 0;
  }
  return h;
}"""
)

# Per glyph view of the hover grid (the renderer of the source named 'hover'): whether its paint was switched off.
GRID_PAINTLESS_JS = """() => { const out = [];
  for (const doc of window.Bokeh.documents) for (const m of doc.all_models) {
    if (m.data_source && m.data_source.name === 'hover' && m.glyph) {
      for (const v of window.Bokeh.index.find(m)) out.push(Boolean(v.glyph && v.glyph.__almaview_paintless));
    }
  }
  return out; }"""

KERNEL_STATUS_JS = """() => { const s = window.jupyterapp.shell.currentWidget;
  return s.sessionContext.session.kernel.status; }"""


def _expected_plane_sums() -> np.ndarray:
    """Per channel: the sum of the demo cube's finite pixels, read with astropy (not almaview's reader)."""
    from astropy.io import fits

    import almaview as av

    d = av.open_delivery(av.demo.build(progress=False))
    member = next(m for m in d.mous if any(i.field == "IRAS16293-2422" for i in m.images))
    path = next(i.source for i in member.images if i.kind == "cube" and i.image_type == "pbcor")
    data = np.asarray(fits.getdata(path), dtype=np.float64)
    data = data.reshape((-1,) + data.shape[-3:])[0]  # (frequency, y, x) of the first Stokes
    return np.nansum(data, axis=(1, 2)), _coded_sums(data)


def _coded_sums(data: np.ndarray) -> np.ndarray:
    """Per channel: the sum of the finite pixels as the page holds them after a channel change (the plane travels as
    uint16 codes, offset = min, scale = (max - min) / 65534, value = offset + rint((v - offset) / scale) * scale),
    computed here with numpy from the astropy planes."""
    sums = []
    for plane in np.asarray(data, dtype=np.float32):
        v = plane[np.isfinite(plane)].astype(np.float64)
        lo, hi = float(v.min()), float(v.max())
        scale = (hi - lo) / 65534 if hi > lo else 1.0
        sums.append(float(np.sum(lo + np.rint((v - lo) / scale) * scale)))
    return np.array(sums)


def _channel_slider(page):
    label = page.locator("label.widget-label").filter(has_text=re.compile(r"^\s*channel\s*$"))
    assert label.count() == 1, f"{label.count()} sliders described 'channel' on the page"
    return label.locator("xpath=..")


def test_image_viewer_renders_and_its_channel_slider_changes_the_data(lab_server, browser, notebooks_copy):
    page = browser.page
    notebook = harness.write_notebook(notebooks_copy, CHANNEL_NOTEBOOK, CELLS)
    expected, coded = _expected_plane_sums()
    t0 = time.perf_counter()
    harness.open_alone(page, lab_server, notebook)
    state = harness.run_all_in_lab(page, timeout=180)
    errors = [(c["text"], c["errors"]) for c in state["cells"] if c["errors"]]
    assert not errors, f"cells raised in JupyterLab: {errors}"
    assert all(c["count"] is not None for c in state["cells"]), state["cells"]
    canvases = harness.wait_for_bokeh(page, n_documents=1)
    assert canvases and max(c["width"] for c in canvases) > 200, canvases  # drawn: more than 2 colours
    ran = time.perf_counter() - t0

    slider = _channel_slider(page)
    readout = slider.locator(".widget-readout")
    first = int(readout.inner_text())
    before = page.evaluate(IMAGE_SOURCE_JS)
    assert before is not None, "no Bokeh ColumnDataSource named 'image' on the page"
    assert before["sum"] == pytest.approx(expected[first], rel=1e-5, abs=1e-6), (first, before)
    labels = page.evaluate(GHZ_LABELS_JS)
    assert len(labels) == 1, labels
    # the invisible hover grid is hit-tested (hover, tap) but not painted at every frame
    page.wait_for_function(f"() => {{ const p = ({GRID_PAINTLESS_JS})(); return p.length > 0 && p.every(Boolean); }}")
    # ... and the hover still shows RA, Dec, value, SNR and pixel under the mouse (the largest canvas: the plane)
    boxes = [b for b in (c.bounding_box() for c in page.locator("canvas").all()) if b]
    box = max(boxes, key=lambda b: b["width"] * b["height"])
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
    tip = page.locator(".bk-tooltip-row-label")
    tip.first.wait_for(timeout=15_000)
    assert [t.strip().rstrip(":") for t in tip.all_inner_texts()][:5] == ["RA", "Dec", "value", "SNR", "pixel"]
    page.mouse.move(0, 0)

    # As a user: type a channel into the slider's readout and press Enter (continuous_update=False).
    nchan = expected.size
    target = (first + nchan // 3) % nchan
    if abs(expected[target] - expected[first]) <= 1e-6 * max(abs(expected[first]), 1.0):
        target = int(np.argmax(np.abs(expected - expected[first])))
    t1 = time.perf_counter()
    readout.click()
    readout.fill(str(target))
    readout.press("Enter")
    page.wait_for_function(
        f"(b) => {{ const s = ({IMAGE_SOURCE_JS})(); return s && s.sum !== b; }}",
        arg=before["sum"],
        timeout=60_000,
        polling=200,
    )
    changed = time.perf_counter() - t1
    after = page.evaluate(IMAGE_SOURCE_JS)
    assert int(readout.inner_text()) == target
    # a new channel arrives as uint16 codes (half the bytes): the page's plane is the file's, quantized
    assert after["sum"] == pytest.approx(coded[target], rel=1e-5, abs=1e-6), (target, after, expected[target])
    page.wait_for_function(
        f"(b) => {{ const l = ({GHZ_LABELS_JS})(); return l.length === 1 && l[0] !== b; }}",
        arg=labels[0],
        timeout=30_000,
        polling=200,
    )
    new_labels = page.evaluate(GHZ_LABELS_JS)
    assert new_labels[0] != labels[0] and "GHz" in new_labels[0], (labels, new_labels)
    page.locator(".bk-Figure").first.scroll_into_view_if_needed()
    browser.screenshot("image-viewer-lab")
    print(
        f"JupyterLab: open + run all + drawn {ran:.1f} s; channel {first} -> {target}: data in the page after "
        f"{changed:.2f} s; label {labels[0]!r} -> {new_labels[0]!r}"
    )
    browser.log.assert_clean()


def _bokeh_select(page, title: str):
    """The <select> of the Bokeh Select titled ``title`` (inside Bokeh's shadow roots; Playwright's CSS pierces them)."""
    group = page.locator(".bk-input-group").filter(has=page.locator("label", has_text=re.compile(rf"^\s*{title}\s*$")))
    assert group.count() == 1, f"{group.count()} Bokeh controls titled {title!r} on the page"
    return group.locator("select")


def test_image_viewer_colour_controls_redraw_without_the_kernel(lab_server, browser, notebooks_copy):
    page = browser.page
    harness.open_alone(page, lab_server, harness.write_notebook(notebooks_copy, COLOUR_NOTEBOOK, CELLS))
    state = harness.run_all_in_lab(page, timeout=180)
    assert not [c for c in state["cells"] if c["errors"]], state["cells"]
    assert harness.wait_for_bokeh(page, n_documents=1)
    # Keep the kernel busy: anything that needs it waits 10 s; the colour controls must not.
    page.evaluate(
        "() => { window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
        ".requestExecute({code: 'import time; time.sleep(10)'}); }"
    )
    page.wait_for_function(f"() => ({KERNEL_STATUS_JS})() === 'busy'", timeout=10_000, polling=100)
    data = page.evaluate(IMAGE_SOURCE_JS)
    changes = []
    for title in ("colour map", "stretch"):
        select = _bokeh_select(page, title)
        current = select.input_value()
        options = select.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
        new = next(o for o in options if o != current)
        pixels = page.evaluate(CANVAS_PIXELS_JS)
        t0 = time.perf_counter()
        select.select_option(new)
        page.wait_for_function(f"(p) => ({CANVAS_PIXELS_JS})() !== p", arg=pixels, timeout=5_000, polling=50)
        changes.append(f"{title} {current!r} -> {new!r}: redrawn in {time.perf_counter() - t0:.2f} s")
        assert page.evaluate(KERNEL_STATUS_JS) == "busy", "the kernel finished before the check: not conclusive"
    assert page.evaluate(IMAGE_SOURCE_JS) == data  # colours changed, the data did not
    _bokeh_select(page, "stretch").scroll_into_view_if_needed()
    browser.screenshot("image-viewer-colours-lab")
    page.wait_for_function(f"() => ({KERNEL_STATUS_JS})() === 'idle'", timeout=60_000, polling=500)
    print("; ".join(changes))
    browser.log.assert_clean()


RELOAD_NOTEBOOK = "image-viewer-reload.ipynb"


def test_image_viewer_draws_again_after_the_page_is_reloaded(lab_server, browser, notebooks_copy):
    """A reloaded page (or a second tab) on the same kernel has no BokehJS: running the cells again must
    publish it again, or jupyter_bokeh shows 'Click to show javascript error' instead of the figure."""
    page = browser.page
    notebook = harness.write_notebook(notebooks_copy, RELOAD_NOTEBOOK, CELLS)
    harness.open_alone(page, lab_server, notebook)
    state = harness.run_all_in_lab(page, timeout=180)
    assert not [c for c in state["cells"] if c["errors"]], state["cells"]
    assert harness.wait_for_bokeh(page, n_documents=1)

    page.reload()
    harness.wait_for_notebook(page, notebook)
    state = harness.run_all_in_lab(page, timeout=180)
    assert not [c for c in state["cells"] if c["errors"]], state["cells"]
    canvases = harness.wait_for_bokeh(page, n_documents=1)
    assert canvases and max(c["width"] for c in canvases) > 200, canvases
    assert page.get_by_text("javascript error").count() == 0
    assert page.evaluate(IMAGE_SOURCE_JS) is not None
    browser.screenshot("image-viewer-after-reload")
    # The outputs the reloaded page restored from the first run belong to widget models of the old page.
    browser.log.tolerated = ("Could not create a view for model id",)
    # JupyterLab's favicon and chunk loads the reload cancelled (net::ERR_ABORTED) are the browser's doing
    print(f"loads the reload cancelled: {len(browser.log.aborted_by_navigation())}")
    browser.log.assert_clean()

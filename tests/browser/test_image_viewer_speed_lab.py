"""Image viewer channel change at 1024 x 1024 in JupyterLab (headless Chromium): from the Enter that sets the
channel to the painted frame, median of several changes, judged against a baseline measured in the same page.

The guard is a ratio, not an absolute time: the last CI run failed an absolute 250 ms guard at 275 ms (load 0.9 per
CPU) on a machine slower than the one the figure came from. In the same JupyterLab page, next to the viewer, a plain
Bokeh figure shows the same 1024 x 1024 float32 planes (in the kernel's memory) through the same path: a
jupyter_bokeh BokehModel (without jupyter_bokeh's echo of kernel changes, as the viewer), an ipywidgets IntSlider
whose handler only sets ``source.data["image"] = [plane]``, a LinearColorMapper with fixed limits. Its changes are
timed with the same Enter -> painted hook and alternate with the viewer's (ABBA), so both see the same machine and
the same load. Enforced: ``viewer median <= RATIO_GUARD x baseline median`` (what a viewer doing its work -- read,
limits, noise, label, statistics -- may cost over bare Bokeh; the ratio measured is in ``benchmarks/RESULTS-viewer.md``)
and a sanity cap ``SANITY_MS x slack`` (a viewer that hangs fails even if the baseline hangs too).

Issue 14's target, 150 ms on an idle machine (``TARGET_MS``), is printed with the measurement (met or not, at the
measured load), never enforced: it depends on the machine.

The cube (1024 x 1024 x 16 float32, noise and a source, written with astropy into pytest's tmp folder) is shown at
full resolution (``max_pixels=1024``). In the page: the time of the Enter keydown, then the time the Bokeh source
('image' for the viewer, 'baseline' for the baseline) holds the new plane, then the next animation frame and a task
after it (the frame was painted). The last change's plane of each is checked against the file (astropy) so a fast
wrong answer cannot pass.

Load: ``slack = max(1, load average / CPUs)`` scales the sanity cap and the printed target; above ``MAX_SLACK``
(e.g. load 10 on 2 CPUs while five test suites share them) nothing can be judged and the test is skipped, saying so
with the numbers. ``benchmarks/bench_viewer_browser.py`` breaks the viewer's time down (kernel, transport, patch,
paint).
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
import pytest

from . import harness

pytestmark = pytest.mark.browser

NOTEBOOK = "image-viewer-speed.ipynb"
TARGET_MS = 150.0  # issue 14's target (idle machine): printed with the measurement, not enforced
RATIO_GUARD = 2.5  # enforced: viewer median <= this x the baseline's median (same page, alternated)
SANITY_MS = 1000.0  # enforced (x slack): a hung viewer fails even when the baseline is slow too
MAX_SLACK = 3.0
NPIX, NCHAN, CHANGES = 1024, 16, 9

# From the page: Enter keydown -> a named source changes -> next animation frame -> a task after it (painted).
# Sources: 'image' (the viewer's plane) and 'baseline' (the plain Bokeh figure's).
HOOK_JS = """() => {
  const now = () => performance.now();
  const log = window.__speed = {keys: [], changes: []};
  window.addEventListener('keydown', (e) => { if (e.key === 'Enter') log.keys.push(now()); }, true);
  const hooked = [];
  for (const doc of window.Bokeh.documents) {
    for (const src of doc.all_models) {
      if (src.data === undefined || (src.name !== 'image' && src.name !== 'baseline')) continue;
      src.properties.data.change.connect(() => {
        const entry = {source: src.name, t1: now(), painted: null};
        log.changes.push(entry);
        requestAnimationFrame(() => setTimeout(() => { entry.painted = now(); }, 0));
      });
      hooked.push(src.name);
    }
  }
  return hooked.sort();
}"""

# The sum (NaN-skipping) of the plane a named source holds in the page.
PLANE_SUM_JS = """(name) => {
  for (const doc of window.Bokeh.documents) {
    for (const m of doc.all_models) {
      if (m.name !== name || m.data === undefined) continue;
      const data = m.data instanceof Map ? Object.fromEntries(m.data) : m.data;
      const plane = data.image[0];
      let sum = 0;
      for (let i = 0; i < plane.length; i++) { const v = plane[i]; if (Number.isFinite(v)) sum += v; }
      return sum;
    }
  }
  return null;
}"""

# The viewer's plane coloured two ways in the page: by the viewer's table of its codes (PLANE_COLOUR_JS) and by
# BokehJS's own mapper on the decoded floats (the prototype's rgba_mapper): the bytes must be the same.
COLOURS_JS = """() => {
  for (const doc of window.Bokeh.documents) {
    const mapper = [...doc.all_models].find((m) => m.name === 'mapper');
    const src = [...doc.all_models].find((m) => m.name === 'image' && m.data !== undefined);
    if (!mapper || !src) continue;
    const data = src.data instanceof Map ? Object.fromEntries(src.data) : src.data;
    const plane = data.image[0];
    let owner = Object.getPrototypeOf(mapper), desc;
    while (owner != null && !(desc = Object.getOwnPropertyDescriptor(owner, 'rgba_mapper'))) {
      owner = Object.getPrototypeOf(owner);
    }
    const table = mapper.__almaview_table;
    const hits = table ? table.hits : null;  // the page's colourings by the table so far (before the ones here)
    const bokeh = desc.get.call(mapper).v_compute(plane);
    const viewer = mapper.rgba_mapper.v_compute(plane);
    const ms = {bokeh: [], viewer: []};  // each way's time, alternated
    for (let k = 0; k < 5; k++) {
      let t = performance.now(); desc.get.call(mapper).v_compute(plane); ms.bokeh.push(performance.now() - t);
      t = performance.now(); mapper.rgba_mapper.v_compute(plane); ms.viewer.push(performance.now() - t);
    }
    const med = (a) => a.sort((x, y) => x - y)[2];
    let differ = 0;
    for (let i = 0; i < bokeh.length; i++) if (bokeh[i] !== viewer[i]) differ++;
    // the plane's canvas (what the figure draws from) holds BokehJS's colours of the shown plane, byte for byte
    const renderer = [...doc.all_models].find((m) => m.name === 'plane' && m.glyph !== undefined);
    const view = renderer ? [...window.Bokeh.index.find(renderer)][0] : undefined;
    const glyph = view !== undefined ? view.glyph : null;
    const canvas = glyph && glyph.image_data ? glyph.image_data[0] : null;
    let canvas_differ = null;
    if (canvas) {
      const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      canvas_differ = px.length === bokeh.length ? 0 : -1;
      for (let i = 0; canvas_differ >= 0 && i < px.length; i++) if (px[i] !== bokeh[i]) canvas_differ++;
    }
    return {coded: plane.__almaview_codes !== undefined, hits, bytes: bokeh.length, differ,
            puts: glyph && glyph.__almaview_put ? glyph.__almaview_put.hits : 0, canvas_differ,
            bokeh_ms: med(ms.bokeh), viewer_ms: med(ms.viewer)};
  }
  return null;
}"""

# The baseline: the cube's planes in the kernel's memory, a plain Bokeh image (same frame size as the viewer's, same
# palette, fixed limits) in a jupyter_bokeh BokehModel without the echo of kernel changes (as the viewer's view), and
# an IntSlider whose handler only sets the image column.
BASELINE_CELL = """import ipywidgets as w
import numpy as np
from astropy.io import fits
from bokeh.models import ColumnDataSource, LinearColorMapper
from bokeh.plotting import figure
from jupyter_bokeh import BokehModel
from almaview.widgets._bokeh import no_echo

planes = np.ascontiguousarray(fits.getdata({path!r})[0], dtype=np.float32)  # (channel, y, x), native byte order
base_src = ColumnDataSource({{"image": [planes[0]]}}, name="baseline")
base_fig = figure(frame_width={frame}, frame_height={frame}, x_range=(0, {npix}), y_range=(0, {npix}), title="baseline")
base_fig.image(image="image", x=0, y=0, dw={npix}, dh={npix}, source=base_src,
               color_mapper=LinearColorMapper(palette="Inferno256", low=float(planes.min()), high=float(planes.max())))
base_slider = w.IntSlider(0, min=0, max={last}, description="baseline", continuous_update=False)
base_slider.observe(lambda change: base_src.data.__setitem__("image", [planes[change["new"]]]), names="value")
w.VBox([base_slider, BokehModel(no_echo(base_fig, base_src))])"""


def _write_cube(path) -> np.ndarray:
    from astropy.io import fits

    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:NPIX, 0:NPIX]
    blob = np.exp(-((xx - 600) ** 2 + (yy - 450) ** 2) / (2 * 40.0**2)).astype(np.float32)
    data = np.empty((1, NCHAN, NPIX, NPIX), dtype=np.float32)
    for c in range(NCHAN):
        data[0, c] = rng.standard_normal((NPIX, NPIX), dtype=np.float32) * 1e-3 + blob * (0.01 * (c + 1))
    h = fits.Header()
    h.update(
        CTYPE1="RA---SIN", CRVAL1=248.09, CDELT1=-0.05 / 3600, CRPIX1=NPIX / 2 + 1, CUNIT1="deg",
        CTYPE2="DEC--SIN", CRVAL2=-24.47, CDELT2=0.05 / 3600, CRPIX2=NPIX / 2 + 1, CUNIT2="deg",
        CTYPE3="FREQ", CRVAL3=230.0e9, CDELT3=0.5e6, CRPIX3=1, CUNIT3="Hz",
        CTYPE4="STOKES", CRVAL4=1, CDELT4=1, CRPIX4=1,
        BUNIT="Jy/beam", BMAJ=0.3 / 3600, BMIN=0.2 / 3600, BPA=30.0, RESTFRQ=230.538e9, SPECSYS="LSRK",
    )  # fmt: skip
    fits.PrimaryHDU(data, h).writeto(path)
    return data[0]


def _load_per_cpu() -> float:
    try:
        return os.getloadavg()[0] / (len(os.sched_getaffinity(0)) or 1)
    except (OSError, AttributeError):
        return 0.0


def _readout(page, description: str):
    """The text box of the IntSlider labelled exactly ``description`` (the viewer also has a 'channels' slider)."""
    labels = page.locator("label.widget-label")
    for i in range(labels.count()):
        if labels.nth(i).inner_text().strip() == description:
            return labels.nth(i).locator("xpath=..").locator(".widget-readout").first
    raise AssertionError(f"no slider labelled {description!r} on the page")


def _change(page, readout, value: int, source: str) -> float:
    """Type ``value`` into ``readout`` and press Enter, as a user does; the ms from the Enter to the painted frame
    after ``source`` changed."""
    readout.evaluate("(el) => el.scrollIntoView({block: 'start'})")  # its figure (just below) in view too
    page.evaluate("() => { window.__speed.keys.length = 0; window.__speed.changes.length = 0; }")
    page.wait_for_timeout(250)  # the previous change's late work (label, statistics, read-ahead) is done
    readout.click()
    readout.fill(str(value))
    readout.press("Enter")
    page.wait_for_function(
        "(name) => window.__speed.changes.some((c) => c.source === name && c.painted !== null)",
        arg=source,
        timeout=30_000,
        polling=10,
    )
    log = page.evaluate("() => JSON.parse(JSON.stringify(window.__speed))")
    change = next(c for c in log["changes"] if c["source"] == source)
    return change["painted"] - log["keys"][0]


def test_channel_change_at_1024_is_painted_within_the_budget(lab_server, browser, notebooks_copy, tmp_path):
    page = browser.page
    cube_path = tmp_path / "cube1024.fits"
    cube = _write_cube(cube_path)
    cells = [
        "import almaview as av\nfrom almaview.widgets.image_viewer import ImageViewer\n"
        f"viewer = ImageViewer(av.open_image({str(cube_path)!r}), max_pixels={NPIX})\nviewer",
        BASELINE_CELL.format(path=str(cube_path), npix=NPIX, last=NCHAN - 1, frame=int(520 * 0.78)),
    ]
    harness.open_alone(page, lab_server, harness.write_notebook(notebooks_copy, NOTEBOOK, cells))
    state = harness.run_all_in_lab(page, timeout=180)
    assert not [c for c in state["cells"] if c["errors"]], state["cells"]
    harness.wait_for_bokeh(page, n_documents=2)
    assert page.evaluate(HOOK_JS) == ["baseline", "image"]
    viewer, baseline = _readout(page, "channel"), _readout(page, "baseline")
    first = int(viewer.inner_text())
    times: dict[str, list[float]] = {"image": [], "baseline": []}
    shown = {"image": first, "baseline": 0}
    for i in range(CHANGES):
        # ABBA: each pair of changes has the viewer first, then the baseline first
        order = [("image", viewer), ("baseline", baseline)]
        for source, readout in order if i % 2 == 0 else order[::-1]:
            shown[source] = (shown[source] + 5) % NCHAN
            times[source].append(_change(page, readout, shown[source], source))
    browser.screenshot("viewer-and-baseline")
    for source in times:  # a fast wrong answer cannot pass: the plane in the page is the file's
        got = page.evaluate(PLANE_SUM_JS, source)
        want = float(np.nansum(cube[shown[source]], dtype=np.float64))
        assert got == pytest.approx(want, rel=1e-4), f"{source}: the page's plane is not channel {shown[source]}"
    colours = page.evaluate(COLOURS_JS)  # the fast colouring gives BokehJS's own colours
    assert colours["coded"] and colours["hits"] >= CHANGES, colours  # every change of the viewer went by the table
    assert colours["bytes"] == 4 * NPIX * NPIX and colours["differ"] == 0, colours
    # ... and the plane's canvas (what is painted) holds those colours, with the shown plane's limits (before a5804eb the
    # previous channel's: 3 145 541 bytes differed), put there without a read-back (PLANE_PUT_JS)
    assert colours["canvas_differ"] == 0 and colours["puts"] >= CHANGES, colours
    viewer_ms = statistics.median(times["image"][1:])  # the first change warms up (JIT, first decode paths)
    baseline_ms = statistics.median(times["baseline"][1:])
    ratio = viewer_ms / baseline_ms
    browser.log.assert_clean()
    load = _load_per_cpu()
    slack = max(1.0, load)
    met = "met" if viewer_ms < TARGET_MS * slack else "NOT met"
    report = (
        f"channel change 1024x1024, Enter -> painted, medians over {CHANGES - 1} changes: viewer {viewer_ms:.0f} ms "
        f"(all: {', '.join(f'{t:.0f}' for t in times['image'])}), plain Bokeh baseline {baseline_ms:.0f} ms "
        f"(all: {', '.join(f'{t:.0f}' for t in times['baseline'])}); ratio {ratio:.2f} (guard {RATIO_GUARD:.1f}); "
        f"load {load:.1f} per CPU, slack {slack:.2f}; issue 14 target {TARGET_MS:.0f} ms idle "
        f"(x slack: {TARGET_MS * slack:.0f} ms) {met}; "
        f"sanity cap {SANITY_MS * slack:.0f} ms; colouring the plane in the page: {colours['viewer_ms']:.1f} ms by "
        f"its codes' table, {colours['bokeh_ms']:.1f} ms by BokehJS's mapper; measured at {time.strftime('%H:%M:%S')}"
    )
    print(report)
    if slack > MAX_SLACK:
        pytest.skip(f"the machine is too loaded to judge the viewer's speed: {report}")
    assert ratio <= RATIO_GUARD, report
    assert viewer_ms < SANITY_MS * slack, report

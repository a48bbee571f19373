"""Image viewer channel change at 1024 x 1024 in JupyterLab (headless Chromium): from the Enter that sets the
channel to the painted frame, median of several changes.

Two figures: issue 14's target, 150 ms on an idle machine (``TARGET_MS``: reported, not yet shown to be met: 173 ms
at 1.6 load per CPU when this was written), and the guard the suite enforces, ``GUARD_MS`` = 250 ms (the channel
change took ~230 ms on an idle machine before issue 14's work): a change that makes the viewer slower than it was
fails.

The cube (1024 x 1024 x 16 float32, noise and a source, written with astropy into pytest's tmp folder) is shown at
full resolution (``max_pixels=1024``). In the page: the time of the Enter keydown, then the time the Bokeh source
named 'image' holds the new plane, then the next animation frame and a task after it (the frame was painted). The
last change's plane in the page is checked against the file (astropy) so a fast wrong answer cannot pass.

Load: the budget is for a machine doing nothing else. On a shared machine the timing scales with the load, so the
figures are multiplied by ``slack = max(1, load average / CPUs)`` (1 on an idle machine) up to ``MAX_SLACK``; above
that (e.g. load 10 on 2 CPUs while five test suites share them) no budget can be judged and the test is skipped,
saying so with the numbers. The test prints the measured median, the slack and both figures.
``benchmarks/bench_viewer_browser.py`` breaks the time down (kernel, transport, patch, paint).
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
TARGET_MS = 150.0  # issue 14's target (idle machine): printed with the measurement
GUARD_MS = 250.0  # enforced: slower than before issue 14's work (~230 ms idle) fails
MAX_SLACK = 3.0
NPIX, NCHAN, CHANGES = 1024, 16, 9

# From the page: Enter keydown -> the 'image' source changes -> next animation frame -> a task after it (painted).
HOOK_JS = """() => {
  const now = () => performance.now();
  const log = window.__speed = {keys: [], changes: []};
  window.addEventListener('keydown', (e) => { if (e.key === 'Enter') log.keys.push(now()); }, true);
  let hooked = 0;
  for (const doc of window.Bokeh.documents) {
    const src = [...doc.all_models].find((m) => m.name === 'image' && m.data !== undefined);
    if (!src) continue;
    src.properties.data.change.connect(() => {
      const entry = {t1: now(), painted: null};
      log.changes.push(entry);
      requestAnimationFrame(() => setTimeout(() => { entry.painted = now(); }, 0));
    });
    hooked++;
  }
  return hooked;
}"""


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


def test_channel_change_at_1024_is_painted_within_the_budget(lab_server, browser, notebooks_copy, tmp_path):
    page = browser.page
    cube_path = tmp_path / "cube1024.fits"
    cube = _write_cube(cube_path)
    cells = [
        "import almaview as av\nfrom almaview.widgets.image_viewer import ImageViewer\n"
        f"viewer = ImageViewer(av.open_image({str(cube_path)!r}), max_pixels={NPIX})\nviewer"
    ]
    harness.open_alone(page, lab_server, harness.write_notebook(notebooks_copy, NOTEBOOK, cells))
    state = harness.run_all_in_lab(page, timeout=180)
    assert not [c for c in state["cells"] if c["errors"]], state["cells"]
    harness.wait_for_bokeh(page, n_documents=1)
    assert page.evaluate(HOOK_JS) == 1
    label = page.locator("label.widget-label").filter(has_text="channel")
    readout = label.locator("xpath=..").locator(".widget-readout").first
    first = int(readout.inner_text())
    totals = []
    target = first
    for i in range(CHANGES):
        target = (first + 5 * (i + 1)) % NCHAN
        page.evaluate("() => { window.__speed.keys.length = 0; window.__speed.changes.length = 0; }")
        page.wait_for_timeout(250)  # the previous change's late work (label, statistics, read-ahead) is done
        readout.click()
        readout.fill(str(target))
        readout.press("Enter")
        page.wait_for_function(
            "() => window.__speed.changes.length > 0 && window.__speed.changes[0].painted !== null",
            timeout=30_000,
            polling=10,
        )
        log = page.evaluate("() => JSON.parse(JSON.stringify(window.__speed))")
        totals.append(log["changes"][0]["painted"] - log["keys"][0])
    shown = page.evaluate(f"() => {{ const s = ({harness.IMAGE_SOURCES_JS})(); return s.length ? s[0] : null; }}")
    assert shown["sum"] == pytest.approx(float(np.nansum(cube[target], dtype=np.float64)), rel=1e-4)
    median = statistics.median(totals[1:])  # the first change warms up (JIT, first decode paths)
    browser.log.assert_clean()
    load = _load_per_cpu()
    slack = max(1.0, load)
    met = "met" if median < TARGET_MS * slack else "NOT met"
    report = (
        f"channel change 1024x1024, Enter -> painted: median {median:.0f} ms over {len(totals) - 1} changes "
        f"(all: {', '.join(f'{t:.0f}' for t in totals)}); load {load:.1f} per CPU, slack {slack:.2f}; issue 14 "
        f"target {TARGET_MS * slack:.0f} ms {met}; guard {GUARD_MS * slack:.0f} ms; measured at "
        f"{time.strftime('%H:%M:%S')}"
    )
    print(report)
    if slack > MAX_SLACK:
        pytest.skip(f"the machine is too loaded to judge the viewer's speed: {report}")
    assert median < GUARD_MS * slack, report

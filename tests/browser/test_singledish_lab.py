"""Total Power panels in JupyterLab, as a user sees them: the demo's TP EB, its spectra (raw ON and OFF power,
the calibrated ON spectrum) and its map coverage draw in the page with their legends (ON / OFF / calibrated ON,
one entry per antenna on the map), their axis units (GHz, counts, Jy, arcsec) and the kernel's values in their
Bokeh sources; the browser console stays clean."""

from __future__ import annotations

import json
import time

import pytest

from . import harness

pytestmark = pytest.mark.browser

NOTEBOOK = "tp-panels.ipynb"
CELLS = [
    "import json\nimport almaview as av\nfrom bokeh.io import output_notebook, show\nfrom bokeh.resources import INLINE\n"
    "output_notebook(INLINE, hide_banner=True)  # BokehJS from the installed bokeh, never a CDN\n"
    "d = av.open_delivery(av.demo.build())\ntp = next(m for m in d.mous if m.array == 'TP')\n"
    "spw = av.open_ms(tp.ebs[0].calibrated_ms)['spw_0'].ds",
    "spectra = av.plots.tp_spectra(spw, antenna='PM02')\nshow(spectra.layout)",
    "coverage = av.plots.tp_map_coverage(spw)\nshow(coverage.layout)",
    "print('OFF-MEAN', json.dumps(round(float(spectra.data.query(\"kind == 'OFF'\").value.values[:200].mean()), 4)))\n"
    "print('ANTENNAS', json.dumps(sorted(set(coverage.data.antenna))))",
]

# Every Bokeh plot drawn on the page: its title, axis labels and legend labels (what the canvas shows as text).
FIGURES_JS = """() => {
  const out = [];
  for (const doc of window.Bokeh.documents) {
    for (const m of doc.all_models) {
      if (!m.renderers || !m.toolbar || !m.left) continue;   // a Plot
      const view = window.Bokeh.index.find_one(m);
      if (!view || view.el.getBoundingClientRect().width < 20) continue;
      const sides = [...m.left, ...m.right, ...m.above, ...m.below];
      const legend = [];
      for (const l of [...m.center, ...sides]) {
        if (l.items === undefined) continue;
        for (const it of l.items) {
          const lab = it.label;
          legend.push(lab == null ? '' : (typeof lab === 'string' ? lab : (lab.value ?? lab.field ?? '')));
        }
      }
      out.push({title: m.title ? m.title.text : '', axes: sides.filter((a) => a.axis_label !== undefined)
        .map((a) => a.axis_label || ''), legend});
    }
  }
  return out;
}"""


def _figures(page, n: int, timeout: float = 60.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        figs = page.evaluate(FIGURES_JS)
        if len(figs) >= n or time.monotonic() > deadline:
            return figs
        time.sleep(0.5)


def _printed(page, key: str):
    line = page.locator(".jp-OutputArea-output", has_text=key).first.inner_text()
    return json.loads(line.split(key, 1)[1].strip().splitlines()[0])


def test_tp_panels_draw_in_jupyterlab_as_a_user_sees_them(lab_server, browser, notebooks_copy):
    page = browser.page
    page.set_viewport_size({"width": 1400, "height": 1000})
    harness.open_alone(page, lab_server, harness.write_notebook(notebooks_copy, NOTEBOOK, CELLS))
    state = harness.run_all_in_lab(page)
    assert not [c for c in state["cells"] if c["errors"]], state["cells"]
    canvases = harness.wait_for_bokeh(page, n_documents=2)
    assert len(canvases) >= 3 and all(c["width"] > 200 for c in canvases), canvases
    figs = _figures(page, 3)
    by_title = {f["title"]: f for f in figs}

    raw = next(f for t, f in by_title.items() if "raw power" in t)
    assert "PM02" in raw["title"]
    assert raw["legend"] == ["ON", "OFF"], raw
    assert set(raw["axes"]) == {"frequency (GHz)", "power (counts)"}, raw
    cal = next(f for t, f in by_title.items() if "calibrated ON" in t)
    assert cal["legend"] == ["calibrated ON"], cal
    assert set(cal["axes"]) == {"frequency (GHz)", "flux density (Jy)"}, cal  # Jy/K applied by hsd_k2jycal

    cover = next(f for t, f in by_title.items() if t.startswith("map coverage"))
    assert "OFF at (600, 0)" in cover["title"], cover  # the OFF position, 600" east
    assert any("RA offset (arcsec" in a for a in cover["axes"]) and "Dec offset (arcsec)" in cover["axes"], cover
    assert cover["legend"] == _printed(page, "ANTENNAS") and len(cover["legend"]) == 3, cover  # PM01..PM03

    # the OFF spectrum's source (240 channels) holds the kernel's values: the mean of the first 200 the page
    # reports (BOKEH_DATA_JS lists 200) matches the kernel's
    off_mean = float(_printed(page, "OFF-MEAN"))
    sources = json.loads(page.evaluate(harness.BOKEH_DATA_JS))
    means = [
        sum(ys) / len(ys)
        for _, cols in sources
        if isinstance(cols.get("y"), list) and cols["y"][0] == 240
        for ys in [[float(v) for v in json.loads(cols["y"][1])]]
    ]
    assert any(abs(m - off_mean) < 1e-3 * max(abs(off_mean), 1) for m in means), (off_mean, means)
    browser.screenshot("tp-panels-lab")
    browser.log.assert_clean()

"""The explorer's overview, flux and flagging tabs in JupyterLab on the demo (issue 14): what the page holds and shows
checked against an independent reading of the MS with raw python-casacore, not against almaview's own code.

- flagging: the numbers behind both heatmaps (flagged and total samples per antenna and spw, per scan and spw) equal
  the counts of FLAG over the MS's rows (a baseline counts for both its antennas), per DATA_DESC_ID -> spw; axes
  name spw/antenna/scan; each heatmap has a colour bar.
- flux: the key names the data (with the calibrators observed, from the MS's STATE intents) and the model; axes
  'uv distance (kλ)' and 'amplitude (Jy)'; the plotted amplitudes and uv distances of spw 0 are the channel-mean
  CORRECTED_DATA and |uv| / λ of the calibrator rows.
- overview: the elevation key lists the MS's fields; axes carry units (m, kλ, deg, UTC); one antenna marker per
  ANTENNA row, named as there.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from .test_explorer_lab import VISIBLE_FIGURES_JS, _control, _open_tab, _option_labels, _options, _wait_figures
from .test_explorer_speed_lab import _start

pytestmark = pytest.mark.browser

C = 299_792_458.0
#: the demo EB with flagged samples (2,160 of 6.5 M: the others have none)
FLAGGED_EB = "uid___A002_X10ab2c3_X3a02"

# Every ColumnDataSource in the page holding all of ``cols``: its columns (the ones asked) as plain arrays.
SOURCES_JS = """(cols) => {
  const out = [];
  for (const doc of window.Bokeh.documents) for (const m of doc.all_models) {
    if (m.data === undefined || m.selected === undefined) continue;
    const data = m.data instanceof Map ? Object.fromEntries(m.data) : m.data;
    if (!cols.every((c) => data[c] !== undefined)) continue;
    const got = {};
    for (const c of cols) got[c] = Array.from(data[c], (x) => (typeof x === 'bigint' ? Number(x) : x));
    out.push(got);
  }
  return out;
}"""

# Per visible figure with a colour bar: its title.
COLOUR_BARS_JS = """() => {
  const out = [];
  for (const doc of window.Bokeh.documents) for (const m of doc.all_models) {
    if (!m.renderers || !m.toolbar || !m.left || m.visible === false) continue;
    const v = window.Bokeh.index.find_one(m);
    if (!v || v.el.offsetParent === null) continue;
    const side = [...m.right, ...m.left, ...m.above, ...m.below, ...m.center];
    if (side.some((r) => r.color_mapper !== undefined)) out.push(m.title ? m.title.text : '');
  }
  return out;
}"""


def _ms_counts(ms: str):
    """Flag counts from python-casacore: {(antenna, spw): (flagged, total)}, {(scan, spw): (flagged, total)}."""
    from casacore import tables

    with tables.table(f"{ms}/ANTENNA", ack=False) as t:
        names = list(t.getcol("NAME"))
    with tables.table(f"{ms}/DATA_DESCRIPTION", ack=False) as t:
        ddid_spw = list(t.getcol("SPECTRAL_WINDOW_ID"))
    per_ant: dict[tuple[str, int], list[int]] = {}
    per_scan: dict[tuple[int, int], list[int]] = {}
    with tables.table(ms, ack=False) as t:
        for ddid, spw in enumerate(ddid_spw):
            sub = t.query(f"DATA_DESC_ID=={ddid}")  # one shape per DATA_DESC_ID (getcol needs one)
            if sub.nrows() == 0:
                continue
            flag = sub.getcol("FLAG")
            bad = flag.reshape(len(flag), -1).sum(1)
            size = flag[0].size
            a1, a2, scan = sub.getcol("ANTENNA1"), sub.getcol("ANTENNA2"), sub.getcol("SCAN_NUMBER")
            for a in range(len(names)):
                rows = (a1 == a) | (a2 == a)
                if rows.any():
                    per_ant[(names[a], spw)] = [int(bad[rows].sum()), int(rows.sum()) * size]
            for s in np.unique(scan):
                rows = scan == s
                per_scan[(int(s), spw)] = [int(bad[rows].sum()), int(rows.sum()) * size]
            sub.close()
    return per_ant, per_scan


def _calibrator_spw0(ms: str):
    """Calibrator fields and, for spw 0's rows on them, the channel-mean |CORRECTED_DATA| per correlation (unflagged
    channels) and |uv| / λ at the spw's mean frequency (kλ), both flattened row-major (row, correlation)."""
    from casacore import tables

    with tables.table(f"{ms}/STATE", ack=False) as t:
        modes = list(t.getcol("OBS_MODE"))
    with tables.table(f"{ms}/FIELD", ack=False) as t:
        fields = list(t.getcol("NAME"))
    with tables.table(f"{ms}/DATA_DESCRIPTION", ack=False) as t:
        ddid = list(t.getcol("SPECTRAL_WINDOW_ID")).index(0)
    with tables.table(f"{ms}/SPECTRAL_WINDOW", ack=False) as t:
        freq = float(np.mean(t.getcell("CHAN_FREQ", 0)))
    with tables.table(ms, ack=False) as t:
        state, field = t.getcol("STATE_ID"), t.getcol("FIELD_ID")
        cal_states = [i for i, m in enumerate(modes) if "CALIBRATE_" in m]
        cal_fields = sorted({fields[f] for f, s in zip(field, state) if s in cal_states})
        sub = t.query(f"DATA_DESC_ID=={ddid} && STATE_ID IN {cal_states}")
        data, flag, uvw = sub.getcol("CORRECTED_DATA"), sub.getcol("FLAG"), sub.getcol("UVW")
        sub.close()
    good = np.where(flag, np.nan, data)
    amp = np.abs(np.nanmean(good, axis=1))  # (row, corr)
    uvdist = np.hypot(uvw[:, 0], uvw[:, 1]) * freq / C / 1e3
    return cal_fields, amp.ravel(), np.repeat(uvdist, amp.shape[1])


def test_overview_flux_and_flagging_match_casacore(lab_server, browser, notebooks_copy, demo_delivery):
    import almaview as av
    from almaview.widgets.sources import ebs_of

    from casacore import tables

    ebs = ebs_of(av.open_delivery(demo_delivery))
    ms = ebs[0].ms  # the EB the explorer opens on
    page = browser.page
    spw, spws, ids, antennas, names = _start(page, lab_server, notebooks_copy, width=1400)
    spw.select_option(spws)  # every spw

    # flux: key, axes with units, and spw 0's points are casacore's channel means on the calibrators
    cal_fields, amp, uvdist = _calibrator_spw0(ms)
    _open_tab(page, "flux")
    figs = [f for f in _wait_figures(page) if f["title"].startswith("Amplitude vs uv distance")]
    assert len(figs) == 1, [f["title"] for f in page.evaluate(VISIBLE_FIGURES_JS)]
    legend = figs[0]["legend"]
    assert "model" in legend and any(lab.startswith("data") and all(c in lab for c in cal_fields) for lab in legend), (
        legend,
        cal_fields,
    )
    assert sorted(figs[0]["axes"]) == ["amplitude (Jy)", "uv distance (kλ)"], figs[0]["axes"]
    pts = [s for s in page.evaluate(SOURCES_JS, ["uvdist", "amp", "spw", "color"]) if len(s["amp"])]
    assert len(pts) == 1, len(pts)
    spw0 = np.asarray(pts[0]["spw"]) == 0
    got_amp = np.sort(np.asarray(pts[0]["amp"], float)[spw0])
    got_uv = np.sort(np.asarray(pts[0]["uvdist"], float)[spw0])
    assert len(got_amp) == len(amp[np.isfinite(amp)]) > 0, (len(got_amp), len(amp))
    np.testing.assert_allclose(got_amp, np.sort(amp[np.isfinite(amp)]), rtol=1e-4)
    np.testing.assert_allclose(got_uv, np.sort(uvdist[np.isfinite(amp)]), rtol=1e-4)
    browser.screenshot("values-flux")
    print(f"\nflux: {len(got_amp)} spw-0 points equal casacore's channel means on {', '.join(cal_fields)}")

    # overview: keys and units; the antennas are the ANTENNA table's
    _open_tab(page, "overview")
    figs = _wait_figures(page)
    page.wait_for_timeout(1000)
    with tables.table(f"{ms}/ANTENNA", ack=False) as t:
        ant_names = sorted(t.getcol("NAME"))
    with tables.table(f"{ms}/FIELD", ack=False) as t:
        field_names = sorted(t.getcol("NAME"))
    labels = " | ".join(a for f in figs for a in f["axes"])
    for unit in ("East (m)", "North (m)", "u (kλ)", "v (kλ)", "time (UTC)", "elevation (deg)"):
        assert unit in labels, (unit, labels)
    elev = [f for f in figs if f["title"].startswith("Elevation")]
    assert elev and sorted(elev[0]["legend"]) == field_names, (elev, field_names)
    ants = page.evaluate(SOURCES_JS, ["antenna", "pad", "east_m", "north_m"])
    assert len(ants) == 1 and sorted(ants[0]["antenna"]) == ant_names, ants
    browser.screenshot("values-overview")
    # flagging, on the EB with flags (the first has none): the heatmaps' numbers are the MS's FLAG counts
    flagged_eb = next(e for e in ebs if e.uid == FLAGGED_EB)
    eb = _control(page, "eb")
    eb.select_option(label=next(lab for lab in _option_labels(eb) if FLAGGED_EB in lab))
    spw = _control(page, "spw")
    page.wait_for_timeout(3000)  # the EB's controls are refilled
    spws = _options(spw)
    ids = [re.match(r"spw\s(\d+)", lab).group(1) for lab in _option_labels(spw)]
    spw.select_option(spws)
    per_ant, per_scan = _ms_counts(flagged_eb.ms)
    want_ant = {(a, s): v for (a, s), v in per_ant.items()}
    want_scan = {(str(sc), s): v for (sc, s), v in per_scan.items()}
    assert sum(v[0] for v in want_ant.values()) > 0, "the flagged EB has no flags: the check would prove nothing"
    _open_tab(page, "flagging")
    _wait_figures(page)

    def shown() -> dict:
        by_view = {}
        for s in page.evaluate(SOURCES_JS, ["key", "spw_s", "flagged", "total"]):
            keys = {str(k) for k in s["key"]}
            view = "antenna" if keys <= {a for a, _ in per_ant} else "scan"
            by_view[view] = {(str(k), int(sp)): [int(f), int(t)] for k, sp, f, t in zip(*s.values())}
        return by_view

    deadline = time.monotonic() + 120
    while (by_view := shown()).get("antenna", {}).keys() != want_ant.keys() and time.monotonic() < deadline:
        time.sleep(0.5)  # the new EB's counts are read in the kernel
    page.wait_for_timeout(1000)
    by_view = shown()
    assert by_view.get("antenna") == want_ant, (
        sorted(by_view.get("antenna", {}).items())[:4],
        sorted(want_ant.items())[:4],
    )
    assert by_view.get("scan") == want_scan, (
        sorted(by_view.get("scan", {}).items())[:4],
        sorted(want_scan.items())[:4],
    )
    figs = [f for f in page.evaluate(VISIBLE_FIGURES_JS) if f["title"].startswith("Flagged fraction")]
    assert len(figs) == 2 and {frozenset(f["axes"]) for f in figs} == {
        frozenset({"spw", "antenna"}),
        frozenset({"spw", "scan"}),
    }, figs
    assert all(sorted(f["factors"]) == sorted(str(i) for i in ids) for f in figs), figs  # one column per spw
    bars = page.evaluate(COLOUR_BARS_JS)
    assert sum(t.startswith("Flagged fraction") for t in bars) == 2, bars
    browser.screenshot("values-flagging")
    flagged = sum(v[0] for v in want_ant.values()) // 2
    print(
        f"flagging on {FLAGGED_EB}: {len(want_ant)} antenna x spw and {len(want_scan)} scan x spw cells equal casacore's counts "
        f"({flagged} flagged samples)"
    )

    browser.log.assert_clean()

"""Continuum ranges: the target spectrum from the MS (vs a raw python-casacore read reduced with numpy), its LSRK
axis (vs astropy, and vs the spw edges CASA's ms.cvelfreqs put in the demo's cont.dat), the line outside the
delivered ranges, the plot's editable ranges source, and the editor widget (headless): spw change, a BoxEditTool
edit, writing a new cont.dat, refusing to write into the delivery.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FIELD = "IRAS16293-2422"


@pytest.fixture(scope="module")
def member(demo_delivery: Path):
    import almaview as av

    d = av.open_delivery(demo_delivery)
    return next(m for m in d.mous if any(r.field == FIELD for r in m.continuum))


def _delivered_ranges(member, spw: str) -> list[tuple[float, float]]:
    return [(r.low, r.high) for r in member.continuum if r.field == FIELD and r.spw == spw and r.low is not None]


def _fmt(hz: float) -> str:
    return np.format_float_positional(hz / 1e9, trim="-")


def _raw_spectrum(ms: str, field: str, ddid: int, column: str = "CORRECTED_DATA") -> dict[str, np.ndarray]:
    """The expected spectrum: a TaQL selection read with python-casacore, reduced with numpy."""
    from casacore import tables

    with tables.table(f"{ms}/FIELD", ack=False) as f:
        fid = list(f.getcol("NAME")).index(field)
    with tables.table(f"{ms}/POLARIZATION", ack=False) as p:
        corr = p.getcol("CORR_TYPE")[0]
    parallel = [i for i, c in enumerate(corr) if c in (5, 8, 9, 12)]  # RR LL XX YY
    with tables.table(ms, ack=False) as t:
        q = t.query(f"FIELD_ID=={fid} && DATA_DESC_ID=={ddid}")
        vis, flag, weight = q.getcol(column), q.getcol("FLAG"), q.getcol("WEIGHT")
        q.close()
    vis, flag, weight = vis[..., parallel], flag[..., parallel], weight[:, None, parallel]
    w = np.where(flag, 0.0, np.broadcast_to(weight, flag.shape)).astype(np.float64)
    sw = w.sum(axis=(0, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        vec = np.abs((w * vis).sum(axis=(0, 2)) / sw)
        sca = (w * np.abs(vis)).sum(axis=(0, 2)) / sw
    return {"amplitude": vec, "amplitude_scalar": sca, "n_samples": (~flag).sum(axis=(0, 2)), "weight_sum": sw}


@pytest.fixture(scope="module")
def flagged_ms(member, tmp_path_factory) -> str:
    """A small copy of the demo EB (spw 0, scans 4-6: target, phase calibrator, target) with random flags,
    a fully flagged channel and uneven weights, written with python-casacore."""
    from casacore import tables

    out = tmp_path_factory.mktemp("flagged") / "sub.ms"
    with tables.table(member.ebs[0].calibrated_ms, ack=False) as t:
        q = t.query("DATA_DESC_ID==0 && SCAN_NUMBER in [4,5,6]")
        q.copy(str(out), deep=True).close()
        q.close()
    rng = np.random.default_rng(7)
    with tables.table(str(out), readonly=False, ack=False) as t:
        flag = t.getcol("FLAG")
        flag |= rng.random(flag.shape) < 0.2
        flag[:, 17, :] = True
        flag[5] = True
        t.putcol("FLAG", flag)
        weight = t.getcol("WEIGHT")
        t.putcol("WEIGHT", (weight * rng.uniform(0.2, 3.0, weight.shape)).astype(weight.dtype))
    return str(out)


def test_ms_spectrum_matches_casacore_raw_read(flagged_ms):
    import almaview as av
    from almaview.imaging import ms_spectrum

    tree = av.open_ms(flagged_ms, chunks={"time": 4})  # several chunks; target runs straddle them
    got = ms_spectrum(tree, field=FIELD, spw=0)
    expected = _raw_spectrum(flagged_ms, FIELD, 0)
    np.testing.assert_array_equal(got["n_samples"], expected["n_samples"])
    np.testing.assert_allclose(got["weight_sum"], expected["weight_sum"], rtol=1e-6)
    np.testing.assert_allclose(got["amplitude"], expected["amplitude"], rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(got["amplitude_scalar"], expected["amplitude_scalar"], rtol=1e-5, equal_nan=True)
    assert got.loc[17, "n_samples"] == 0 and np.isnan(got.loc[17, "amplitude"])
    from casacore import tables

    with tables.table(f"{flagged_ms}/SPECTRAL_WINDOW", ack=False) as s:
        np.testing.assert_array_equal(got["frequency_native"], s.getcell("CHAN_FREQ", 0))
    # the same through the path (default chunks) and with DATA
    np.testing.assert_allclose(
        ms_spectrum(flagged_ms, field=FIELD, spw=0)["amplitude"], got["amplitude"], rtol=1e-6, equal_nan=True
    )
    data = ms_spectrum(tree, field=FIELD, spw=0, column="data")
    np.testing.assert_allclose(
        data["amplitude"], _raw_spectrum(flagged_ms, FIELD, 0, "DATA")["amplitude"], rtol=1e-5, equal_nan=True
    )


def test_ms_spectrum_errors_name_the_ms(flagged_ms):
    from almaview.imaging import SpectrumSelectionError, ms_spectrum

    with pytest.raises(SpectrumSelectionError, match="no spw 3.*spw 0") as err:
        ms_spectrum(flagged_ms, field=FIELD, spw=3)
    assert Path(err.value.path).name == "sub.ms"
    with pytest.raises(SpectrumSelectionError, match="field 'M100'.*IRAS16293-2422"):
        ms_spectrum(flagged_ms, field="M100", spw=0)
    with pytest.raises(SpectrumSelectionError, match="unknown spectral frame"):
        from almaview.imaging import convert_frequencies

        convert_frequencies(
            [1e9], from_frame="TOPO", to_frame="LSR", ra=0.0, dec=0.0, time_mjd_s=5.2e9, position_itrf=(0.0, 0.0, 6.4e6)
        )


def test_lsrk_axis_matches_astropy_and_casa(member):
    import astropy.units as u
    from astropy.coordinates import EarthLocation, SkyCoord, SpectralCoord
    from astropy.time import Time
    from astropy.utils import iers
    from casacore import tables

    from almaview.imaging import ContinuumRanges, ms_frame_selection, ms_spectrum

    iers.conf.auto_download = False  # offline: astropy's bundled IERS tables
    ebs = [e.calibrated_ms for e in member.ebs]
    s = ms_spectrum(ebs, field=FIELD, spw=0)
    assert sorted(s.eb.unique()) == sorted(Path(m).name.split(".ms")[0] for m in ebs)
    for ms in ebs:
        g = s[s.eb == Path(ms).name.split(".ms")[0]]
        with tables.table(f"{ms}/FIELD", ack=False) as f:
            names = list(f.getcol("NAME"))
            ra, dec = f.getcol("PHASE_DIR")[names.index(FIELD), 0]  # J2000 (frame bias < 0.03" is immaterial)
        with tables.table(f"{ms}/ANTENNA", ack=False) as a:
            centre = a.getcol("POSITION").mean(axis=0)
        with tables.table(ms, ack=False) as t:
            q = t.query(f"FIELD_ID=={names.index(FIELD)}")
            times = q.getcol("TIME")
            q.close()
        mid = Time((times.min() + times.max()) / 2 / 86400, format="mjd", scale="utc")
        observer = EarthLocation.from_geocentric(*centre, unit=u.m).get_itrs(obstime=mid)
        topo = SpectralCoord(
            g.frequency_native.to_numpy() * u.Hz,
            observer=observer,
            target=SkyCoord(ra * u.rad, dec * u.rad, frame="fk5", equinox="J2000"),
        )
        lsrk = topo.with_observer_stationary_relative_to("lsrk").to_value(u.Hz)
        # a few m/s at 230 GHz is a few kHz; the shift itself is ~19 km/s (~15 MHz)
        assert np.abs(lsrk - g.frequency.to_numpy()).max() < 230.5e9 * 3.0 / 299792458.0
        assert np.abs(g.frequency_native - g.frequency).min() > 5e6
        # the delivered (LSRK) ranges in this MS's TOPO frame, for CASA tasks: f_topo = f_lsrk / (lsrk / topo)
        k = float(np.median(lsrk / g.frequency_native.to_numpy()))
        sel = ms_frame_selection(ContinuumRanges.from_rows(member.continuum), ms, field=FIELD, spws=[0])
        got = [float(x) * 1e9 for x in re.findall(r"([0-9.]+)(?=~|GHz)", sel.split(":", 1)[1])]
        want = [f / k for lo_hi in _delivered_ranges(member, "0") for f in lo_hi]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e3)  # printed to the kHz
    # The demo wrote cont.dat's spw 0 outer edges from CASA's ms.cvelfreqs (LSRK) of the first EB.
    first = s[s.eb == Path(ebs[0]).name.split(".ms")[0]]
    half = np.median(np.diff(first.frequency)) / 2
    edges = _delivered_ranges(member, "0")
    assert abs((first.frequency.min() - half) - min(a for a, _ in edges)) < 20e3
    assert abs((first.frequency.max() + half) - max(b for _, b in edges)) < 20e3


def test_line_peak_lies_outside_the_delivered_ranges(member):
    from almaview.imaging import ms_spectrum

    s = ms_spectrum([e.calibrated_ms for e in member.ebs], field=FIELD, spw=0)
    ranges = _delivered_ranges(member, "0")
    assert ranges
    for eb, g in s.groupby("eb"):
        peak = g.loc[g.amplitude.idxmax()]
        assert peak.amplitude > 3 * np.nanmedian(g.amplitude), eb  # a line, not noise
        assert not any(lo <= peak.frequency <= hi for lo, hi in ranges), (eb, peak.frequency)
        assert abs(peak.frequency - 230.538e9) < 30e6  # CO(2-1), Doppler-shifted


def test_line_peak_matches_the_delivered_cube(member):
    """tclean's LSRK cube (read with astropy) peaks where the MS spectrum's LSRK axis puts the line."""
    from astropy.io import fits
    from astropy.wcs import WCS

    from almaview.imaging import ms_spectrum

    cube = next(i.source for i in member.images if i.kind == "cube" and i.image_type == "pbcor" and i.field == FIELD)
    with fits.open(cube) as hdul:
        data, header = np.squeeze(hdul[0].data), hdul[0].header
    assert header["SPECSYS"] == "LSRK"
    spec_wcs = WCS(header).spectral
    ny, nx = data.shape[-2:]
    box = data[:, ny // 2 - 8 : ny // 2 + 8, nx // 2 - 8 : nx // 2 + 8]
    channel = int(np.nanargmax(np.nansum(box, axis=(1, 2))))
    cube_peak = float(spec_wcs.pixel_to_world(channel).to_value("Hz"))
    s = ms_spectrum([e.calibrated_ms for e in member.ebs], field=FIELD, spw=0)
    for _, g in s.groupby("eb"):
        assert abs(g.loc[g.amplitude.idxmax(), "frequency"] - cube_peak) <= abs(header["CDELT3"])


def test_delivered_ranges_are_line_free(member):
    from almaview.imaging import ms_spectrum

    s = ms_spectrum([e.calibrated_ms for e in member.ebs], field=FIELD, spw=0)
    ranges = _delivered_ranges(member, "0")
    for _, g in s.groupby("eb"):
        inside = np.zeros(len(g), bool)
        for lo, hi in ranges:
            inside |= (g.frequency >= lo).to_numpy() & (g.frequency <= hi).to_numpy()
        assert np.nanmax(g.amplitude[inside]) < 0.25 * g.amplitude.max()


def test_continuum_ranges_plot_sources():
    from bokeh.models import BoxEditTool, BoxSelectTool

    from almaview.plots.continuum import continuum_ranges_plot

    f = np.linspace(230.0e9, 230.1e9, 11)
    s = pd.DataFrame(
        {
            "frequency": np.concatenate([f, f + 1e6]),
            "amplitude": np.arange(22.0),
            "eb": ["a"] * 11 + ["b"] * 11,
            "channel": np.tile(np.arange(11), 2),
            "units": "Jy",
        }
    )
    ranges = [(230.05e9, 230.02e9), (230.08e9, 230.09e9)]
    p = continuum_ranges_plot(s, ranges)
    assert p.sources["ranges"].data == {"left": [230.02, 230.08], "right": [230.05, 230.09]}
    np.testing.assert_allclose(p.sources["spectrum"].data["x"], s.frequency / 1e9)
    expected = ((s.frequency >= 230.02e9) & (s.frequency <= 230.05e9)) | (
        (s.frequency >= 230.08e9) & (s.frequency <= 230.09e9)
    )
    assert p.data["in_range"].tolist() == expected.tolist()
    assert p.sources["lines"].data["label"] == ["a", "b"]
    edit = p.layout.select_one({"type": BoxEditTool})
    assert edit.renderers[0].data_source is p.sources["ranges"]
    box = p.layout.select_one({"type": BoxSelectTool})
    assert box.renderers[0].data_source is p.sources["spectrum"] and box.dimensions == "width"


def test_editor_headless(member, tmp_path):
    from casacore import tables

    from almaview.imaging import ContDatExists, read_cont_dat
    from almaview.widgets.contdat_editor import ContinuumEditor

    ed = ContinuumEditor(member)
    c = ed.controls
    assert (c["field"].value, c["spw"].value) == (FIELD, 0)
    for name in (
        "field",
        "spw",
        "add selection",
        "remove selection",
        "reset to delivered",
        "write to",
        "write cont.dat",
        "spw selection",
    ):
        assert c[name].description == name
    assert "almaview-control-write-cont-dat" in c["write cont.dat"]._dom_classes
    spectrum = ed.panel.sources["spectrum"]

    # spw change: the same source now holds spw 1's channels (TOPO CHAN_FREQ shifted by < 1e-4)
    c["spw"].value = 1
    with tables.table(f"{member.ebs[0].calibrated_ms}/SPECTRAL_WINDOW", ack=False) as t:
        chan = t.getcell("CHAN_FREQ", 1)
    x = np.asarray(spectrum.data["x"]) * 1e9
    assert x.size == chan.size * len(member.ebs)
    np.testing.assert_allclose(x[: chan.size], chan, rtol=1e-4)
    assert ed.panel.sources["ranges"].data["left"] == [r[0] / 1e9 for r in _delivered_ranges(member, "1")]

    # a BoxEditTool edit (what jupyter_bokeh applies to the Python source) reaches editor.ranges / .selection
    c["spw"].value = 0
    ed.panel.sources["ranges"].data = {"left": [230.46, 230.56], "right": [230.50, 230.57]}
    assert ed.ranges.get(FIELD, 0) == [(230.46e9, 230.50e9), (230.56e9, 230.57e9)]
    others = ",".join(
        f"{s}:" + ";".join(f"{_fmt(lo)}~{_fmt(hi)}GHz" for lo, hi in _delivered_ranges(member, s))
        for s in ("1", "2", "3")
    )
    assert ed.selection == "0:230.46~230.5GHz;230.56~230.57GHz," + others
    assert ed.selection in c["spw selection"].value
    topo = ed.topo_selection
    assert sorted(topo) == sorted(Path(e.calibrated_ms).name for e in member.ebs)
    assert all(sel in c["spw selection"].value and sel.startswith("0:") for sel in topo.values())
    # ... and the same through jupyter_bokeh's message handler, as the browser sends it (a box added by streaming)
    src = ed.panel.sources["ranges"]
    ed.view._sync_model(
        ed.view,
        {
            "event": "jsevent",
            "kind": "ColumnsStreamed",
            "model": {"id": src.id},
            "data": {"type": "map", "entries": [["left", [230.52]], ["right", [230.53]]]},
            "rollover": None,
        },
        [],
    )
    assert ed.ranges.get(FIELD, 0) == [(230.46e9, 230.50e9), (230.52e9, 230.53e9), (230.56e9, 230.57e9)]
    # a box drawn over another: merged in Python and in the plot
    ed.panel.sources["ranges"].data = {"left": [230.46, 230.48, 230.56], "right": [230.50, 230.53, 230.57]}
    assert ed.ranges.get(FIELD, 0) == [(230.46e9, 230.53e9), (230.56e9, 230.57e9)]
    assert ed.panel.sources["ranges"].data == {"left": [230.46, 230.56], "right": [230.53, 230.57]}
    ed.view._sync_model(
        ed.view,
        {
            "event": "jsevent",
            "kind": "ModelChanged",
            "model": {"id": src.id},
            "attr": "data",
            "new": {"type": "map", "entries": [["left", [230.46, 230.56]], ["right", [230.50, 230.57]]]},
        },
        [],
    )
    assert ed.ranges.get(FIELD, 0) == [(230.46e9, 230.50e9), (230.56e9, 230.57e9)]

    # box-selected channels cut out of a range, then reset
    df = ed.panel.data
    picked = df.index[(df.eb == df.eb.iloc[0]) & df.frequency.between(230.47e9, 230.48e9)].tolist()
    spectrum.selected.indices = picked
    ed.remove_selection()
    lo, hi = df.frequency[picked].min(), df.frequency[picked].max()
    got = ed.ranges.get(FIELD, 0)
    assert got[0][0] == 230.46e9 and lo - 0.5e6 < got[0][1] < lo and hi < got[1][0] < hi + 0.5e6
    c["reset to delivered"].click()
    assert ed.ranges.get(FIELD, 0) == sorted(_delivered_ranges(member, "0"))

    # write a new cont.dat; it reads back; the delivered archive is refused and stays byte-identical
    ed.panel.sources["ranges"].data = {"left": [230.46], "right": [230.50]}
    c["write to"].value = str(tmp_path / "mine" / "cont.dat")
    c["write cont.dat"].click()
    back = read_cont_dat(tmp_path / "mine" / "cont.dat")
    assert back.get(FIELD, 0) == [(230.46e9, 230.50e9)]
    assert back.spw_selection(FIELD) == ed.selection
    archive = Path(member.aux_files["cont.dat"].rsplit(":", 1)[0])
    before = hashlib.sha256(archive.read_bytes()).hexdigest()
    c["write cont.dat"].click()  # again: the file exists now
    assert "ContDatExists" in ed.status.value
    c["overwrite"].value = True  # allowed for our own file, never for the delivery
    ed.panel.sources["ranges"].data = {"left": [230.46, 230.55], "right": [230.50, 230.57]}
    c["write cont.dat"].click()
    assert read_cont_dat(tmp_path / "mine" / "cont.dat").get(FIELD, 0) == [(230.46e9, 230.50e9), (230.55e9, 230.57e9)]
    for target in (archive, archive.parent / "cont.dat"):
        c["write to"].value = str(target)
        c["write cont.dat"].click()
        assert "ContDatExists" in ed.status.value
        with pytest.raises(ContDatExists):
            ed.write(target, overwrite=True)
    assert not (archive.parent / "cont.dat").exists()
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == before


def test_editor_state_is_field_and_spw(member):
    """ContinuumEditor on AppBase: select(spw=) redraws once in place and the dropdown follows."""
    from casacore import tables

    from almaview.widgets.contdat_editor import ContinuumEditor

    ed = ContinuumEditor(member)
    assert ed.state == {"field": FIELD, "spw": 0}
    spectrum = ed.panel.sources["spectrum"]
    ed.select(spw=2)
    assert ed.controls["spw"].value == 2 and ed.panel.sources["spectrum"] is spectrum
    with tables.table(f"{member.ebs[0].calibrated_ms}/SPECTRAL_WINDOW", ack=False) as t:
        chan = t.getcell("CHAN_FREQ", 2)
    np.testing.assert_allclose(np.asarray(spectrum.data["x"])[: chan.size] * 1e9, chan, rtol=1e-4)
    assert "spw 2" in ed.panel.layout.title.text

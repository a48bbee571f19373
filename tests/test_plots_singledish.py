"""TP plot builders: what they plot equals numpy averages of python-casacore's raw rows."""

from __future__ import annotations

import numpy as np
import pytest
from casacore import tables

import almaview as av


def _rows(ms, ddid, antenna, mode):
    with tables.table(str(ms), ack=False) as t, tables.table(str(ms) + "/STATE", ack=False) as st:
        states = [i for i, m in enumerate(st.getcol("OBS_MODE")) if m == mode]
        sub = t.query(f"DATA_DESC_ID=={ddid} && ANTENNA1=={antenna} && STATE_ID in {states}", sortlist="TIME")
        out = {c: sub.getcol(c) for c in ("FLOAT_DATA", "CORRECTED_DATA", "FLAG", "TIME")}
        sub.close()
    return out


def test_tp_spectra_are_the_mean_of_raw_rows(tp_eb):
    ds = av.open_ms(tp_eb.ms)["spw_0"].ds
    panel = av.plots.tp_spectra(ds, antenna="PM02")
    on = _rows(tp_eb.ms, 0, 1, "OBSERVE_TARGET#ON_SOURCE")
    off = _rows(tp_eb.ms, 0, 1, "OBSERVE_TARGET#OFF_SOURCE")
    for kind, rows, col in (("ON", on, "FLOAT_DATA"), ("OFF", off, "FLOAT_DATA"), ("calibrated", on, "CORRECTED_DATA")):
        values = np.where(rows["FLAG"], np.nan, rows[col].real.astype(float))
        expected = np.nanmean(values, axis=(0, 2))
        got = panel.data.query("kind == @kind").value.values
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    # the calibrated line peaks near the injected CO(2-1) flux (beam-averaged over the raster: below 1.5 Jy)
    cal = panel.data.query("kind == 'calibrated'")
    assert 0.05 < cal.value.max() < 1.6


def test_tp_power_vs_time_shows_the_on_off_pattern(tp_eb):
    ds = av.open_ms(tp_eb.ms)["spw_1"].ds
    panel = av.plots.tp_power_vs_time(ds, antenna="PM01")
    assert set(panel.data.kind) == {"ON", "OFF", "atmosphere"}
    off = _rows(tp_eb.ms, 1, 0, "OBSERVE_TARGET#OFF_SOURCE")
    np.testing.assert_allclose(
        panel.data.query("kind == 'OFF'").power.values, off["FLOAT_DATA"].astype(float).mean(axis=(1, 2)), rtol=1e-6
    )


def test_tp_map_coverage_matches_the_raster(tp_eb):
    from astropy.coordinates import SkyCoord
    import astropy.units as u

    ds = av.open_ms(tp_eb.ms)["spw_0"].ds
    with tables.table(str(tp_eb.ms) + "/FIELD", ack=False) as f:
        ra0, dec0 = f.getcell("PHASE_DIR", 0)[0]
    panel = av.plots.tp_map_coverage(ds, centre=(ra0, dec0))
    on = panel.data.query("kind == 'ON'")
    # independent: astropy's offsets of the raw POINTING directions
    with tables.table(str(tp_eb.ms) + "/POINTING", ack=False) as p:
        d = p.getcol("DIRECTION")[:, 0, :]
    c = SkyCoord(d[:, 0] * u.rad, d[:, 1] * u.rad)
    dra, ddec = SkyCoord(ra0 * u.rad, dec0 * u.rad).spherical_offsets_to(c)
    on_extent = np.abs(dra.arcsec[np.abs(dra.arcsec) < 100]).max()
    assert on.ra_offset_arcsec.abs().max() == pytest.approx(on_extent, abs=0.5)
    assert on.dec_offset_arcsec.max() == pytest.approx(ddec.arcsec.max(), abs=0.5)
    assert "OFF at (600, 0)" in panel.layout.title.text

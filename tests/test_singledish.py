"""Single-dish (ALMA Total Power) data: open_ms on a TP MS made with CASA, against python-casacore's raw rows."""

from __future__ import annotations

import numpy as np
import pytest
from casacore import tables

import almaview as av

CASA_UNIX_EPOCH = 3506716800.0


def _raw(path, subtable=None):
    return tables.table(str(path) + (f"/{subtable}" if subtable else ""), ack=False, readonly=True)


def _time_index(ds, t_raw):
    want = np.datetime64(int(round((t_raw - CASA_UNIX_EPOCH) * 1e9)), "ns")
    ti = np.flatnonzero(ds.time.values == want)
    assert ti.size == 1, t_raw
    return int(ti[0])


@pytest.mark.parametrize(
    "column,var",
    [("FLOAT_DATA", "SPECTRUM"), ("CORRECTED_DATA", "SPECTRUM_CORRECTED"), ("FLAG", "FLAG"), ("WEIGHT", "WEIGHT")],
)
def test_spectrum_equals_casacore_rows(tp_eb, column, var):
    tree = av.open_ms(tp_eb.ms)
    assert tree.attrs["observing_mode"] == "single dish"
    with _raw(tp_eb.ms, "ANTENNA") as a:
        names = list(a.getcol("NAME"))
    with _raw(tp_eb.ms) as t:
        nrows = t.nrows()
        for row in (0, 7, nrows // 2 + 3, nrows - 1):
            spw = int(_raw(tp_eb.ms, "DATA_DESCRIPTION").getcell("SPECTRAL_WINDOW_ID", t.getcell("DATA_DESC_ID", row)))
            ds = tree[f"spw_{spw}"].ds
            assert ds[var].dims == ("time", "antenna_name", "frequency", "polarization")
            ti = _time_index(ds, t.getcell("TIME", row))
            ant = names[t.getcell("ANTENNA1", row)]
            got = ds[var].isel(time=ti).sel(antenna_name=ant).values
            raw = t.getcell(column, row)
            if column == "CORRECTED_DATA":
                raw = raw.real
            if column == "WEIGHT":
                raw = np.broadcast_to(raw[None, :], got.shape)
            np.testing.assert_array_equal(got, raw)


def test_float_data_is_what_the_single_dish_import_writes(tp_eb):
    with _raw(tp_eb.ms) as t:
        assert "FLOAT_DATA" in t.colnames() and "DATA" not in t.colnames()
        assert np.all(t.getcol("ANTENNA1") == t.getcol("ANTENNA2"))
    ds = av.open_ms(tp_eb.ms)["spw_0"].ds
    assert "VISIBILITY" not in ds and "baseline_id" not in ds.dims
    assert list(ds.antenna_name.values) == ["PM01", "PM02", "PM03"]


def test_intents_scans_and_fields_per_time(tp_eb):
    ds = av.open_ms(tp_eb.ms)["spw_1"].ds
    with _raw(tp_eb.ms) as t, _raw(tp_eb.ms, "STATE") as st:
        modes = st.getcol("OBS_MODE")
        sub = t.query("DATA_DESC_ID==1 && ANTENNA1==0", sortlist="TIME")
        state, scan, time = sub.getcol("STATE_ID"), sub.getcol("SCAN_NUMBER"), sub.getcol("TIME")
    assert ds.sizes["time"] == time.size
    np.testing.assert_array_equal(ds.scan_number.values, scan)
    assert [m for m in ds.intents.values] == [modes[s] for s in state]
    assert {"OBSERVE_TARGET#ON_SOURCE", "OBSERVE_TARGET#OFF_SOURCE", "CALIBRATE_ATMOSPHERE#OFF_SOURCE"} == set(
        ds.intents.values
    )
    assert set(ds.field_name.values) == {"IRAS16293-2422"}


def test_pointing_directions_equal_the_pointing_table(tp_eb):
    ds = av.open_ms(tp_eb.ms)["spw_0"].ds
    with _raw(tp_eb.ms, "POINTING") as p:
        time, ant, direction = p.getcol("TIME"), p.getcol("ANTENNA_ID"), p.getcol("DIRECTION")[:, 0, :]
    pd = ds.POINTING_DIRECTION.values
    for r in (0, 5, len(time) // 2, len(time) - 1):
        ti = _time_index(ds, time[r])
        np.testing.assert_array_equal(pd[ti, int(ant[r])], direction[r])
    # ON integrations cover the raster around the target; OFF ones are 600 arcsec east of it
    with _raw(tp_eb.ms, "FIELD") as f:
        ra0, dec0 = f.getcell("PHASE_DIR", 0)[0]
    on = ds.intents.values == "OBSERVE_TARGET#ON_SOURCE"
    off = ds.intents.values == "OBSERVE_TARGET#OFF_SOURCE"
    dx = np.degrees((pd[..., 0] - ra0) * np.cos(dec0)) * 3600
    assert np.abs(dx[on]).max() < 40 and np.abs(dx[off] - 600).max() < 1


def test_calibrated_spectrum_is_the_sky_in_jansky(tp_eb):
    """CORRECTED_DATA of an ON integration at the map centre: (ON-OFF)/OFF x Tsys x Jy/K = the injected line (Jy)."""
    from almaview.sampledata import singledish

    ds = av.open_ms(tp_eb.ms)["spw_0"].ds
    truth = tp_eb.truth
    layout = singledish.default_tp_layout()
    on = np.flatnonzero(ds.intents.values == "OBSERVE_TARGET#ON_SOURCE")
    pd = ds.POINTING_DIRECTION.values[on, 0]
    model = singledish.sky_jy(layout, layout.spws[0], pd[:, 0], pd[:, 1])  # (on, chan), independent of CASA
    best = int(np.argmax(model.max(axis=1)))
    got = ds.SPECTRUM_CORRECTED.isel(time=on[best], antenna_name=0).values.mean(axis=-1)
    peak = int(np.argmax(model[best]))
    assert got[peak] == pytest.approx(model[best, peak], rel=0.1)
    assert abs(np.mean(got[:40] - model[best, :40])) < 0.1  # line-free: the weak continuum, noise ~0.25 Jy/ch
    assert truth["jy_per_k"].shape == (2, 3, 2)


def test_baselined_ms_opens_with_its_data_column(tp_eb):
    bl = av.open_ms(tp_eb.products["baselined_ms"])
    ds = bl["spw_0"].ds
    assert ds.SPECTRUM.attrs["column"] == "DATA"
    with _raw(tp_eb.products["baselined_ms"]) as t:
        row = t.nrows() // 3
        ti = _time_index(bl[f"spw_{t.getcell('DATA_DESC_ID', row)}"].ds, t.getcell("TIME", row))
        dsr = bl[f"spw_{t.getcell('DATA_DESC_ID', row)}"].ds
        got = dsr.SPECTRUM.isel(time=ti, antenna_name=int(t.getcell("ANTENNA1", row))).values
        np.testing.assert_array_equal(got, t.getcell("DATA", row).real)


def test_interferometric_ms_keeps_its_baseline_layout(alma_eb):
    ds = av.open_ms(alma_eb.ms)["spw_0"].ds
    assert "VISIBILITY" in ds and "baseline_id" in ds.dims and "SPECTRUM" not in ds


@pytest.mark.parametrize("role,viscal", [("sky", "SDSKY_PS"), ("tsys", "B TSYS"), ("jyperk", "G Jones")])
def test_singledish_caltables_equal_casacore(tp_eb, role, viscal):
    path = tp_eb.caltables[role]
    tree = av.open_caltable(path)
    assert tree.attrs["viscal"] == viscal
    with _raw(path) as t, _raw(path, "ANTENNA") as a:
        names = list(a.getcol("NAME"))
        column = "CPARAM" if "CPARAM" in t.colnames() else "FPARAM"
        for row in range(t.nrows()):
            ds = tree[f"spw_{t.getcell('SPECTRAL_WINDOW_ID', row)}"].ds
            var = "gain" if column == "CPARAM" else "value"
            got = ds[var].sel(antenna_name=names[t.getcell("ANTENNA1", row)]).isel(time=0).values
            raw = t.getcell(column, row)  # (chan, receptor)
            np.testing.assert_array_equal(got, raw if got.ndim == 2 else raw[0])


@pytest.mark.parametrize("role", ["tsys", "sky", "jyperk_csv"])
def test_tp_ms_and_caltables_share_the_antenna_dim(tp_eb, role):
    """MS and caltable trees agree on the antenna dim (xradio's ``antenna_name``), and a name selects the same
    antenna on both: the MS's ANTENNA NAME of each node's ``antenna_id``, read with python-casacore."""
    ms = av.open_ms(tp_eb.ms)
    cal = av.open_caltable(tp_eb.products[role] if role == "jyperk_csv" else tp_eb.caltables[role])
    with _raw(tp_eb.ms, "ANTENNA") as a:
        ms_names = list(a.getcol("NAME"))
    for node in (n for n in cal.children if n.startswith("spw_")):
        cal_ds = cal[node].ds
        ms_ds = ms[node].ds if node in ms.children else ms["spw_1"].ds
        assert "antenna_name" in set(ms_ds.dims) & set(cal_ds.dims), (sorted(ms_ds.dims), sorted(cal_ds.dims))
        shared = sorted(set(ms_ds.antenna_name.values) & set(cal_ds.antenna_name.values))
        assert shared, node
        for name in shared:
            assert ms_names[int(ms_ds.sel(antenna_name=name).antenna_id)] == name
            if "antenna_id" in cal_ds.coords:  # the factors file names antennas, it has no ANTENNA rows
                assert ms_names[int(cal_ds.sel(antenna_name=name).antenna_id)] == name


def test_sky_table_holds_the_off_spectrum(tp_eb):
    """sdcal's OFF spectrum equals the mean of the OFF-source FLOAT_DATA (an independent numpy average)."""
    sky = av.open_caltable(tp_eb.caltables["sky"])["spw_1"].ds
    with _raw(tp_eb.ms) as t, _raw(tp_eb.ms, "STATE") as st:
        off_states = [i for i, m in enumerate(st.getcol("OBS_MODE")) if m == "OBSERVE_TARGET#OFF_SOURCE"]
        sub = t.query(f"DATA_DESC_ID==1 && ANTENNA1==1 && STATE_ID in {off_states}")
        off = sub.getcol("FLOAT_DATA").mean(axis=0)
    got = sky.value.sel(antenna_name="PM02").isel(time=0).values
    np.testing.assert_allclose(got, off, rtol=2e-3)


def test_jyperk_file_opens_as_factors(tp_eb):
    jyk = av.open_caltable(tp_eb.products["jyperk_csv"])
    lines = tp_eb.products["jyperk_csv"].read_text().splitlines()[1:]
    ms, ant, spw, pol, factor = lines[4].split(",")
    assert float(jyk[f"spw_{spw}"].ds.factor.sel(eb=ms, antenna_name=ant, receptor=pol)) == float(factor)
    # the k2jy caltable applies 1/sqrt(factor) as an amplitude gain
    amp = av.open_caltable(tp_eb.caltables["jyperk"])[f"spw_{spw}"].ds.gain
    g = abs(amp.sel(antenna_name=ant, receptor=pol[0]).isel(time=0).item())
    assert g == pytest.approx(1 / np.sqrt(float(factor)), rel=1e-4)


def test_jyperk_file_with_a_bad_line_is_a_typed_error(tmp_path):
    bad = tmp_path / "jyperk.csv"
    bad.write_text("MS,Antenna,Spwid,Polarization,Factor\nx.ms,PM01,zero,XX,43\n")
    with pytest.raises(av.errors.UnsupportedCaltable, match="line 2"):
        av.open_caltable(bad)


def test_singledish_cube_opens_with_beam_and_units(tp_eb):
    from astropy.io import fits

    cube = av.open_image(tp_eb.images["cube_fits"])
    header = fits.getheader(tp_eb.images["cube_fits"])
    assert cube.attrs["units"] == header["BUNIT"] == "Jy/beam"
    assert float(cube.beam_major) == pytest.approx(header["BMAJ"] * 3600)
    casa_image = av.open_image(tp_eb.images["cube"])
    np.testing.assert_array_equal(
        np.asarray(casa_image.values, np.float32)[np.isfinite(casa_image.values)],
        fits.getdata(tp_eb.images["cube_fits"])[np.isfinite(casa_image.values)],
    )
    # the TP beam of a 12 m antenna at 230 GHz (1.13 lambda/D = 25 arcsec) broadened by the gridding kernel
    assert 25 < float(cube.beam_major) < 35


def test_tp_cube_total_line_flux_matches_the_injected_line(tp_eb):
    """The TP cube's CO(2-1) flux (sum over a 44" aperture and the line channels, frequency-integrated) against the
    simulation's line: 1.5 Jy peak, sigma 4 MHz, i.e. 15.04 Jy MHz.

    The cube keeps the calibrated spectra's scale (Jy per *primary* beam: the Jy/K factor converts a point
    source at the beam centre to its flux density), while tsdimaging records the effective beam, the primary
    beam convolved with the SF gridding kernel (29.5" against 1.13 lambda/D = 25.3" for a 12 m dish at
    230.5 GHz). So the flux measured with the recorded beam is the injected flux x (25.3/29.5)^2 = 0.73 (the
    "1.11 Jy against 1.5 Jy" of the peak channel), and with the primary beam it is the injected flux. Both
    within 10 % (noise over the 13 line channels and the aperture is ~6 %; the 44" aperture holds 99.8 % of a
    29.5" Gaussian)."""
    from astropy.coordinates import SkyCoord
    from astropy.io import fits
    from astropy.wcs import WCS

    path = tp_eb.images["cube_fits"]
    header, data = fits.getheader(path), fits.getdata(path)[0]  # (frequency, y, x), Jy/beam
    with _raw(tp_eb.ms, "ANTENNA") as t:
        dish_m = float(t.getcol("DISH_DIAMETER")[0])
    pb_arcsec = np.degrees(1.13 * 2.99792458e8 / 230.538e9 / dish_m) * 3600
    recorded_arcsec = header["BMAJ"] * 3600
    assert pb_arcsec == pytest.approx(25.26, abs=0.05) and recorded_arcsec > pb_arcsec + 2

    ny, nx = data.shape[1:]
    yy, xx = np.mgrid[0:ny, 0:nx]
    sky = WCS(header).celestial.pixel_to_world(xx, yy)
    inside = sky.separation(SkyCoord("16h32m22.88s", "-24d28m36.5s", frame="fk5")).arcsec < 44
    per_channel = np.nansum(np.where(inside, data, 0.0), axis=(1, 2))  # Jy/beam x pixels
    peak = int(np.argmax(per_channel))
    line = slice(peak - 6, peak + 7)  # +-3 sigma of the line (1.95 MHz channels)
    channel_hz = abs(header["CDELT3"])

    def flux_jy_hz(beam_arcsec):
        beam_pixels = np.pi / (4 * np.log(2)) * (beam_arcsec / 3600) ** 2 / abs(header["CDELT1"] * header["CDELT2"])
        return per_channel[line].sum() / beam_pixels * channel_hz

    injected = 1.5 * 4.0e6 * np.sqrt(2 * np.pi)
    assert flux_jy_hz(pb_arcsec) == pytest.approx(injected, rel=0.10)
    assert flux_jy_hz(recorded_arcsec) == pytest.approx(injected * (pb_arcsec / recorded_arcsec) ** 2, rel=0.10)
    # almaview's image reader gives the same pixels and the recorded beam
    cube = av.open_image(path)
    assert float(cube.beam_major) == pytest.approx(recorded_arcsec, rel=1e-6)
    np.testing.assert_allclose(np.asarray(cube.values, float).reshape(data.shape), data, rtol=0, atol=0)


def _viscal(path):
    with _raw(path) as t:
        return t.getkeyword("VisCal")


def test_spectrum_units_follow_the_calibration_applied(tp_eb):
    """Raw FLOAT_DATA: counts; CORRECTED_DATA: Jy, because the applycal that wrote it (its HISTORY entry, read
    here with casacore) applied a Tsys, a sky and a Jy/K table (their VisCal keywords); the sdbaseline output
    keeps Jy. The xradio schema wants a ``units`` string on every spectrum (tests/test_msv4_schema.py)."""
    with _raw(tp_eb.ms, "HISTORY") as t:
        messages = list(t.getcol("MESSAGE"))
    start = messages.index("taskname=applycal")
    gaintable = next(m for m in messages[start:] if m.startswith("gaintable"))
    applied = [p for p in gaintable.split("=", 1)[1].strip(" []").replace("'", "").split(", ")]
    kinds = {_viscal(tp_eb.root / p.rsplit("/", 1)[-1]) for p in applied}
    assert {"B TSYS", "SDSKY_PS"} <= kinds and len(kinds) == 3, kinds  # + the Jy/K amplitude table
    ds = av.open_ms(tp_eb.ms)["spw_0"].ds
    assert ds.SPECTRUM.attrs["units"] == "count"
    assert ds.SPECTRUM_CORRECTED.attrs["units"] == "Jy"
    assert "applycal" in ds.SPECTRUM_CORRECTED.attrs["units_source"]
    bl = av.open_ms(tp_eb.products["baselined_ms"])["spw_0"].ds
    assert bl.SPECTRUM.attrs["units"] == "Jy" and "sdbaseline" in bl.SPECTRUM.attrs["units_source"]


def test_unit_keyword_of_the_pipelines_applycal_wins(tp_eb, tmp_path):
    """hsd_applycal writes the calibrated unit as the data columns' UNIT keyword: it is what open_ms says."""
    copy = tmp_path / "tp.ms"
    with _raw(tp_eb.ms) as t:
        t.copy(str(copy), deep=True)
    with tables.table(str(copy), ack=False, readonly=False) as t:
        t.putcolkeyword("CORRECTED_DATA", "UNIT", "K")
        t.putcolkeyword("FLOAT_DATA", "UNIT", "K")
    ds = av.open_ms(copy)["spw_1"].ds
    assert ds.SPECTRUM_CORRECTED.attrs["units"] == "K" and ds.SPECTRUM.attrs["units"] == "K"
    assert "UNIT keyword" in ds.SPECTRUM_CORRECTED.attrs["units_source"]
    panel = av.plots.tp_spectra(ds)
    labels = {f.yaxis[0].axis_label for f in panel.layout.children}
    assert labels == {"antenna temperature Ta* (K)"}


def test_tp_plots_label_their_axes_with_the_data_units(tp_eb):
    ds = av.open_ms(tp_eb.ms)["spw_0"].ds
    raw, cal = av.plots.tp_spectra(ds).layout.children
    assert (raw.yaxis[0].axis_label, cal.yaxis[0].axis_label) == ("power (counts)", "flux density (Jy)")
    power = av.plots.tp_power_vs_time(ds).layout
    assert power.yaxis[0].axis_label == "power (counts)"


def test_baselined_ms_spectra_say_what_they_are(tp_eb):
    """The sdbaseline output's SPECTRUM (its DATA column) is calibrated: neither 'raw power' nor counts."""
    ds = av.open_ms(tp_eb.products["baselined_ms"])["spw_0"].ds
    left = av.plots.tp_spectra(ds).layout.children[0]
    assert left.title.text.endswith("SPECTRUM (DATA)") and left.yaxis[0].axis_label == "flux density (Jy)"

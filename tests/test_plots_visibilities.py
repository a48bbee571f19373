"""Visibility, overview and flagging panels against python-casacore raw reads + numpy averaging."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from casacore import tables

import almaview as av
from almaview.plots import visibilities as pv

C = 299_792_458.0
MJD_EPOCH = np.datetime64("1858-11-17T00:00:00", "ns")


def _ant_ids(ms) -> dict[str, int]:
    with tables.table(str(ms / "ANTENNA"), ack=False) as t:
        return {n: i for i, n in enumerate(t.getcol("NAME"))}


def _rows(ms, spw: int, a1: str, a2: str, columns=("CORRECTED_DATA", "FLAG"), where: str = ""):
    """The rows of one baseline and spw, sorted by time: {column: stacked array, 'TIME': ...}."""
    ids = _ant_ids(ms)
    q = f"DATA_DESC_ID=={spw} && ANTENNA1=={ids[a1]} && ANTENNA2=={ids[a2]}" + (f" && {where}" if where else "")
    with tables.table(str(ms), ack=False) as t:
        sel = t.query(q, sortlist="TIME")
        out = {c: sel.getcol(c) for c in (*columns, "TIME", "UVW", "FIELD_ID")}
        sel.close()
    return out


def _dt(mjd_s) -> np.ndarray:
    return MJD_EPOCH + (np.asarray(mjd_s) * 1e9).astype("int64").astype("timedelta64[ns]")


def _vector_mean(vis: np.ndarray, flag: np.ndarray, axis) -> np.ndarray:
    good = ~flag
    return np.where(good, vis, 0).sum(axis=axis) / good.sum(axis=axis)


def test_amp_vs_time_is_channel_vector_average_of_unflagged(alma_eb):
    ds = av.open_ms(alma_eb.ms)["spw_2"].ds
    table = pv.reduce_visibilities(ds, x="time", antennas=["DA44"])
    raw = _rows(alma_eb.ms, 2, "DA44", "DA49")
    expected = _vector_mean(raw["CORRECTED_DATA"], raw["FLAG"], axis=1)  # (row, pol)
    got = table[table.baseline == "DA44-DA49"]
    for p, corr in enumerate(["XX", "YY"]):
        g = got[got.correlation == corr].sort_values("time")
        np.testing.assert_allclose(g["amp"].to_numpy(), np.abs(expected[:, p]), rtol=1e-5)
        np.testing.assert_allclose(g["phase_deg"].to_numpy(), np.degrees(np.angle(expected[:, p])), atol=1e-3)
        assert (np.abs(g["time"].to_numpy() - _dt(raw["TIME"])) < np.timedelta64(1, "us")).all()
    assert set(table.antenna1) | set(table.antenna2) >= {"DA44"}
    assert all("DA44" in b.split("-") for b in table.baseline)


def test_amp_vs_frequency_averages_selected_times_then_channel_bins(alma_eb):
    ds = av.open_ms(alma_eb.ms)["spw_0"].ds
    table = pv.reduce_visibilities(
        ds, x="frequency", intents=["TARGET"], antennas=["DA42"], chan_bin=8, correlations=["YY"]
    )
    with tables.table(str(alma_eb.ms / "FIELD"), ack=False) as t:
        target = list(t.getcol("NAME")).index("IRAS16293-2422")
    raw = _rows(alma_eb.ms, 0, "DA42", "DA50", where=f"FIELD_ID=={target}")
    vis, flag = raw["CORRECTED_DATA"][..., 1], raw["FLAG"][..., 1]  # (row, chan) for YY
    nbin = vis.shape[1] // 8
    s = np.where(flag, 0, vis).reshape(len(vis), nbin, 8).sum(axis=(0, 2))
    n = (~flag).reshape(len(vis), nbin, 8).sum(axis=(0, 2))
    got = table[table.baseline == "DA42-DA50"].sort_values("frequency_ghz")
    np.testing.assert_allclose(got["amp"].to_numpy(), np.abs(s / n), rtol=1e-5)
    with tables.table(str(alma_eb.ms / "SPECTRAL_WINDOW"), ack=False) as t:
        f = t.getcell("CHAN_FREQ", 0)
    np.testing.assert_allclose(got["frequency_ghz"].to_numpy(), f.reshape(nbin, 8).mean(1) / 1e9)
    assert set(table.correlation) == {"YY"}


def test_uvdist_in_klambda_and_metres(alma_eb):
    ds = av.open_ms(alma_eb.ms)["spw_1"].ds
    kl = pv.reduce_visibilities(ds, x="uvdist", antennas=["DA46"], correlations=["XX"])
    m = pv.reduce_visibilities(ds, x="uvdist", antennas=["DA46"], correlations=["XX"], uv_units="m")
    raw = _rows(alma_eb.ms, 1, "DA43", "DA46")
    dist_m = np.hypot(raw["UVW"][:, 0], raw["UVW"][:, 1])
    with tables.table(str(alma_eb.ms / "SPECTRAL_WINDOW"), ack=False) as t:
        fmean = t.getcell("CHAN_FREQ", 1).mean()
    got_m = np.sort(m[m.baseline == "DA43-DA46"]["uvdist"].to_numpy())
    got_kl = np.sort(kl[kl.baseline == "DA43-DA46"]["uvdist"].to_numpy())
    np.testing.assert_allclose(got_m, np.sort(dist_m), rtol=1e-9)
    np.testing.assert_allclose(got_kl, np.sort(dist_m * fmean / C / 1e3), rtol=1e-9)


def test_time_averaging_bins_within_scans_and_corrected_minus_model(alma_eb):
    ds = av.open_ms(alma_eb.ms)["spw_3"].ds
    width = 30.0
    table = pv.reduce_visibilities(
        ds, x="time", column="corrected-model", antennas=["DA41"], time_bin_s=width, correlations=["XX"]
    )
    raw = _rows(alma_eb.ms, 3, "DA41", "DA48", columns=("CORRECTED_DATA", "MODEL_DATA", "FLAG"))
    with tables.table(str(alma_eb.ms), ack=False) as t:
        ids = _ant_ids(alma_eb.ms)
        sel = t.query(f"DATA_DESC_ID==3 && ANTENNA1=={ids['DA41']} && ANTENNA2=={ids['DA48']}", sortlist="TIME")
        scans = sel.getcol("SCAN_NUMBER")
        sel.close()
    v = (raw["CORRECTED_DATA"] - raw["MODEL_DATA"])[..., 0]
    fl = raw["FLAG"][..., 0]
    expected = []
    for s in np.unique(scans):
        m = scans == s
        tt = raw["TIME"][m]
        bins = np.floor((tt - tt.min()) / width).astype(int)
        for b in np.unique(bins):
            k = np.flatnonzero(m)[bins == b]
            expected.append(abs(np.where(fl[k], 0, v[k]).sum() / (~fl[k]).sum()))
    got = table[table.baseline == "DA41-DA48"].sort_values("time")["amp"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    assert len(got) < len(raw["TIME"])


@pytest.fixture(scope="module")
def flagged_ms(alma_eb_wide, tmp_path_factory):
    """A copy of the 43-antenna EB with flags set by python-casacore: whole rows and random channel ranges."""
    import shutil

    path = tmp_path_factory.mktemp("flagged") / alma_eb_wide.ms.name
    shutil.copytree(alma_eb_wide.ms, path)
    rng = np.random.default_rng(5)
    with tables.table(str(path), readonly=False, ack=False) as t:
        flag = t.getcol("FLAG")
        a1, a2 = t.getcol("ANTENNA1"), t.getcol("ANTENNA2")
        rows = rng.choice(len(flag), size=len(flag) // 10, replace=False)
        for r in rows[: len(rows) // 2]:
            flag[r] = True
        for r in rows[len(rows) // 2 :]:
            c0 = rng.integers(0, flag.shape[1])
            flag[r, c0 : c0 + 3, rng.integers(0, flag.shape[2])] = True
        flag[(a1 == 7) | (a2 == 7)] = True  # one antenna entirely flagged
        t.putcol("FLAG", flag)
    return path


def test_flagged_samples_are_excluded_from_averages(flagged_ms):
    ds = av.open_ms(flagged_ms)["spw_1"].ds
    names = list(_ant_ids(flagged_ms))
    table = pv.reduce_visibilities(ds, x="time", column="data", antennas=[names[3]])
    checked = 0
    for other in names[4:12]:
        raw = _rows(flagged_ms, 1, names[3], other, columns=("DATA", "FLAG"))
        if not raw["FLAG"].any():
            continue
        for p, corr in enumerate(str(c) for c in ds.polarization.values):
            keep = (~raw["FLAG"][..., p]).any(axis=1)
            expected = _vector_mean(raw["DATA"][keep][..., p], raw["FLAG"][keep][..., p], axis=1)
            got = table[(table.baseline == f"{names[3]}-{other}") & (table.correlation == corr)]
            np.testing.assert_allclose(got.sort_values("time")["amp"].to_numpy(), np.abs(expected), rtol=1e-5)
            assert (got["n"].to_numpy() == (~raw["FLAG"][keep][..., p]).sum(axis=1)).all()
        checked += 1
    assert checked >= 2
    assert not any(names[7] in b.split("-") for b in table.baseline)  # fully flagged antenna: no points


def test_amp_phase_rasterizes_big_tables_and_keeps_counts(alma_eb):
    ds = av.open_ms(alma_eb.ms)["spw_3"].ds
    table = pv.reduce_visibilities(ds, x="time")
    small = pv.amp_phase(table, colour_by="baseline")
    assert len(small.sources["amp"].data["amp"]) == len(table) and not small.sources["amp_image"].data["image"]
    big = pv.amp_phase(table, colour_by="scan", raster_threshold=100)
    assert len(big.sources["amp"].data["amp"]) == 0
    img = big.sources["amp_image"].data["image"][0]
    assert np.nansum(img) == len(table)
    with pytest.raises(ValueError, match="colour_by"):
        pv.amp_phase(table, colour_by="weather")


def test_invalid_choices_are_explained(alma_eb):
    ds = av.open_ms(alma_eb.ms)["spw_0"].ds
    with pytest.raises(ValueError, match="x must be one of"):
        pv.reduce_visibilities(ds, x="elevation")
    with pytest.raises(ValueError, match="column must be one of"):
        pv.reduce_visibilities(ds, column="residual")
    empty = pv.reduce_visibilities(ds, fields=["no such field"])
    assert len(empty) == 0


def test_flux_panel_has_data_and_model_for_calibrators(alma_eb):
    panel = av.plots.flux(av.open_ms(alma_eb.ms), spws=[3])
    assert set(panel.data.kind) == {"data", "model"}
    assert "IRAS16293-2422" not in set(panel.data.field)
    model = panel.data[(panel.data.kind == "model") & (panel.data.field == "J1517-2422")]
    raw = _rows(alma_eb.ms, 3, "DA41", "DA42", columns=("MODEL_DATA", "FLAG"), where="FIELD_ID==1")
    expected = np.abs(_vector_mean(raw["MODEL_DATA"], raw["FLAG"], axis=1))[:, 0]
    got = model[(model.baseline == "DA41-DA42") & (model.correlation == "XX")]["amp"].to_numpy()
    np.testing.assert_allclose(np.sort(got), np.sort(expected), rtol=1e-5)


# --------------------------------------------------------------------------------------- overview


def test_antenna_positions_and_baseline_counts(alma_eb):
    vis = av.open_ms(alma_eb.ms)
    panel = av.plots.antenna_positions(vis, antennas=["DA43"])
    with tables.table(str(alma_eb.ms), ack=False) as t:
        a1, a2 = t.getcol("ANTENNA1"), t.getcol("ANTENNA2")
    names = list(_ant_ids(alma_eb.ms))
    pairs = {(a, b) for a, b in zip(a1, a2) if a != b}
    for i, n in enumerate(names):
        assert panel.data.set_index("antenna").loc[n, "baselines"] == sum(i in p for p in pairs)
    with tables.table(str(alma_eb.ms / "ANTENNA"), ack=False) as t:
        assert panel.data["pad"].tolist() == list(t.getcol("STATION"))
    assert panel.sources["antennas"].selected.indices == [names.index("DA43")]


def test_uv_coverage_scales_uvw_by_spw_centre_frequency(alma_eb):
    vis = av.open_ms(alma_eb.ms)
    panel = av.plots.uv_coverage(vis, spws=[2], fields=["J1625-2527"])
    raw = _rows(alma_eb.ms, 2, "DA45", "DA51", columns=("FLAG",), where="FIELD_ID==2")
    with tables.table(str(alma_eb.ms / "SPECTRAL_WINDOW"), ack=False) as t:
        f = t.getcell("CHAN_FREQ", 2)
    centre = (f[0] + f[-1]) / 2
    got = panel.data[(panel.data.baseline == "DA45-DA51")].sort_values(["half", "time"])
    exp_u = raw["UVW"][:, 0] * centre / C / 1e3
    np.testing.assert_allclose(got[got.half == 1]["u_klambda"].to_numpy(), exp_u, rtol=1e-6)
    np.testing.assert_allclose(got[got.half == -1]["u_klambda"].to_numpy(), -exp_u, rtol=1e-6)
    assert set(panel.data.field) == {"J1625-2527"}


def test_elevation_agrees_with_astropy(alma_eb):
    from astropy import units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord
    from astropy.time import Time
    from astropy.utils import iers

    iers.conf.auto_download = False
    vis = av.open_ms(alma_eb.ms)
    panel = av.plots.elevation(vis, fields=["IRAS16293-2422"])
    with tables.table(str(alma_eb.ms / "FIELD"), ack=False) as t:
        ra, dec = t.getcell("PHASE_DIR", 3)[0]
    with tables.table(str(alma_eb.ms / "ANTENNA"), ack=False) as t:
        centre = t.getcol("POSITION").mean(axis=0)
    sub = panel.data.iloc[::10]
    times = Time(sub["time"].to_numpy().astype("datetime64[ns]"), scale="utc")
    loc = EarthLocation.from_geocentric(*vis["antennas"].ds.attrs["array_centre"], unit=u.m)
    assert np.linalg.norm(np.asarray(vis["antennas"].ds.attrs["array_centre"]) - centre) < 2000
    altaz = SkyCoord(ra * u.rad, dec * u.rad).transform_to(AltAz(obstime=times, location=loc))
    np.testing.assert_allclose(sub["elevation_deg"].to_numpy(), altaz.alt.deg, atol=0.05)


def test_eb_summary_on_source_time(alma_eb):
    panel = av.plots.eb_summary(av.open_ms(alma_eb.ms))
    with tables.table(str(alma_eb.ms), ack=False) as t:
        fid, time, interval = t.getcol("FIELD_ID"), t.getcol("TIME"), t.getcol("INTERVAL")
    with tables.table(str(alma_eb.ms / "FIELD"), ack=False) as t:
        names = list(t.getcol("NAME"))
    for i, name in enumerate(names):
        m = fid == i
        expected_min = len(np.unique(time[m])) * np.median(interval[m]) / 60
        got = panel.data.set_index("field").loc[name, "on_source_min"]
        assert got == pytest.approx(expected_min, rel=0.01)
    facts = panel.data.attrs["facts"]
    assert facts["antennas"] == 12


# --------------------------------------------------------------------------------------- flagging


def test_flag_fractions_match_flag_column(flagged_ms):
    vis = av.open_ms(flagged_ms)
    panel = av.plots.flag_summary(av.analysis.flag_fractions(vis))
    with tables.table(str(flagged_ms), ack=False) as t:
        a1, a2, flag = t.getcol("ANTENNA1"), t.getcol("ANTENNA2"), t.getcol("FLAG")
        ddid, scan = t.getcol("DATA_DESC_ID"), t.getcol("SCAN_NUMBER")
    names = {i: n for n, i in _ant_ids(flagged_ms).items()}
    per_row = flag.sum(axis=(1, 2))
    cross = a1 != a2
    by = panel.data.query("view == 'antenna'").set_index(["antenna", "spw"])["fraction"]
    for i in (0, 5, 7, 30):
        for spw in (0, 2):
            m = cross & ((a1 == i) | (a2 == i)) & (ddid == spw)
            assert by[(names[i], spw)] == pytest.approx(per_row[m].sum() / (m.sum() * flag[0].size), rel=1e-9)
    assert by[(names[7], 0)] == 1.0
    by_scan = panel.data.query("view == 'scan'").set_index(["scan", "spw"])["fraction"]
    s0 = int(np.unique(scan)[0])
    m = cross & (scan == s0) & (ddid == 1)
    # per scan each baseline counts twice (once per antenna), so the fraction is the rows' fraction
    assert by_scan[(s0, 1)] == pytest.approx(per_row[m].sum() / (m.sum() * flag[0].size), rel=1e-9)


def test_qa_table_uses_weblog_bands():
    from almaview.delivery.model import AquaReport, QAStage

    rep = AquaReport(
        path="x.xml",
        stages=[
            QAStage(1, "hifa_importdata", 1.0),
            QAStage(2, "hifa_flagdata", 0.8, "much flagged"),
            QAStage(3, "hif_applycal", 0.2, "bad"),
            QAStage(4, "hif_x", None),
        ],
    )
    panel = av.plots.qa_stages(rep)
    assert panel.data["band"].tolist() == ["good", "below standard", "error", "unknown"]
    assert panel.sources["scores"].data["colour"] == ["#5cb85c", "#5bc0de", "#d9534f", "#999999"]
    table = panel.layout.children[1]  # the stage table: the chart's source (a click on a row selects the stage)
    assert table.source is panel.sources["scores"] and "much flagged" in table.source.data["reason"]
    assert [c.field for c in table.columns][:2] == ["stage_link", "badge"]
    assert "3 hif_applycal</span>" in table.source.data["stage_link"][2]


def test_amp_phase_has_units_frame_legend_and_one_panel_per_spw(alma_eb):
    from bokeh.models import Legend
    from bokeh.plotting import figure as Figure

    vis = av.open_ms(alma_eb.ms)
    with tables.table(str(alma_eb.ms / "SPECTRAL_WINDOW"), ack=False) as t:
        frame_code = int(t.getcol("MEAS_FREQ_REF")[0])
    frame = {0: "REST", 1: "LSRK", 2: "LSRD", 3: "BARY", 4: "GEO", 5: "TOPO"}[frame_code]
    t0 = av.analysis.reduce_visibilities(vis["spw_0"].ds, x="frequency", antennas=["DA41"], chan_bin=4)
    t1 = av.analysis.reduce_visibilities(vis["spw_1"].ds, x="frequency", antennas=["DA41"], chan_bin=4)
    table = pd.concat([t0, t1], ignore_index=True)
    table.attrs.update(t0.attrs)
    panel = pv.amp_phase(table, colour_by="correlation", iterate="spw")
    figs = list(panel.layout.select({"type": Figure}))
    assert len(figs) == 4  # amplitude and phase for each of the two spws
    assert {f.xaxis[0].axis_label for f in figs} == {f"frequency (GHz, {frame})"}
    assert {f.yaxis[0].axis_label for f in figs} == {"amplitude (Jy)", "phase (deg)"}
    pols = sorted({str(p) for p in vis["spw_0"].ds.polarization.values})
    for f in figs:
        legend = f.select_one({"type": Legend})
        assert legend in f.right and legend.click_policy == "hide"
        assert sorted(i.label.value for i in legend.items) == pols
        assert "DA41" in f.title.text and ("spw 0" in f.title.text or "spw 1" in f.title.text)

    from bokeh.core.validation import check_integrity

    assert not check_integrity(list(panel.layout.references())).error
    elev = av.plots.elevation(vis)
    assert not check_integrity(list(elev.layout.references())).error

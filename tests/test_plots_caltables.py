"""Tsys, bandpass and gain panels: the plotted values against caltable rows read with python-casacore + numpy."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from casacore import tables

import almaview as av


def _rows(path, spw: int, antenna: str):
    """(times, params (row, chan, receptor), flags) of one spw and antenna, straight from the table."""
    with tables.table(str(path / "ANTENNA"), ack=False) as t:
        ant_id = list(t.getcol("NAME")).index(antenna)
    with tables.table(str(path), ack=False) as t:
        col = "CPARAM" if "CPARAM" in t.colnames() else "FPARAM"
        sel = t.query(f"SPECTRAL_WINDOW_ID=={spw} && ANTENNA1=={ant_id}", sortlist="TIME")
        p = np.stack([sel.getcell(col, r) for r in range(sel.nrows())])  # (row, chan, receptor)
        f = np.stack([sel.getcell("FLAG", r) for r in range(sel.nrows())])
        times = sel.getcol("TIME")
        sel.close()
    return times, p, f


def test_tsys_spectrum_is_mean_of_unflagged_rows_and_receptors(alma_eb):
    path = alma_eb.caltables["tsys"]
    panel = av.plots.tsys(av.open_caltable(path), spws=[1])
    spec = panel.data.query("view == 'spectrum'")
    for ant in ("DA41", "DA45"):
        _, p, f = _rows(path, 1, ant)
        expected = np.nanmean(np.where(f, np.nan, p), axis=(0, 2))
        got = spec[spec.antenna == ant].sort_values("frequency_ghz")["tsys"].to_numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    # the time view: per solution, the mean over channels and receptors
    _, p, f = _rows(path, 1, "DA44")
    got = panel.data.query("view == 'time' and antenna == 'DA44'").sort_values("time")["tsys"].to_numpy()
    np.testing.assert_allclose(got, np.nanmean(np.where(f, np.nan, p), axis=(1, 2)), rtol=1e-6)
    # the plotted lines are what data says (sources are the ones widgets update)
    src = panel.sources["spectra"].data
    i = [k for k, (a, s) in enumerate(zip(src["antenna"], src["spw"])) if a == "DA45" and s == 1]
    assert len(i) == 1  # one line per antenna and spw
    np.testing.assert_allclose(src["ys"][i[0]], spec[spec.antenna == "DA45"].sort_values("frequency_ghz")["tsys"])


@pytest.mark.parametrize("antenna_dim", ["antenna_name", "antenna"])
def test_tsys_median_and_outliers(antenna_dim):
    """A tree built by hand; with almaview 0.1's dim name (``antenna``) it still plots, with a DeprecationWarning."""
    freq = np.linspace(230e9, 231e9, 8)
    ants = ["A1", "A2", "A3", "A4"]
    value = np.full((2, 4, 8, 2), 80.0, dtype=np.float32)
    value[:, 2] = 300.0  # A3: a hot receiver
    value[0, 1, 3, 0] = 9999.0  # flagged: must not count
    flag = np.zeros_like(value, dtype=bool)
    flag[0, 1, 3, 0] = True
    ds = xr.Dataset(
        {
            "value": (("time", antenna_dim, "frequency", "receptor"), value),
            "flag": (("time", antenna_dim, "frequency", "receptor"), flag),
        },
        coords={
            "time": pd.date_range("2024-01-01", periods=2, freq="min").values,
            antenna_dim: ants,
            "frequency": freq,
            "receptor": ["X", "Y"],
            "field_name": ("time", ["a", "b"]),
        },
    )
    tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs={"caltable": "synthetic"}), "spw_5": ds})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        panel = av.plots.tsys(tree)
    old = [w for w in caught if issubclass(w.category, DeprecationWarning) and "antenna_name" in str(w.message)]
    assert bool(old) == (antenna_dim == "antenna")
    med = panel.data.query("view == 'median'")["tsys"].to_numpy()
    np.testing.assert_allclose(med, 80.0)
    table = pd.DataFrame(panel.sources["medians"].data)
    assert table.set_index("antenna")["outlier"].to_dict() == {"A1": False, "A2": False, "A3": True, "A4": False}
    assert panel.data.query("view == 'spectrum' and antenna == 'A2'")["tsys"].max() == pytest.approx(80.0)


@pytest.mark.parametrize("sample", ["alma_eb", "ngc5921"])
def test_bandpass_amp_phase_and_flags_match_cparam(sample, request):
    eb = request.getfixturevalue(sample)
    path = eb.caltables["bandpass"]
    ct = av.open_caltable(path)
    ant = str(ct["spw_0"].ds.antenna_name.values[3])
    panel = av.plots.bandpass(ct, spws=[0], antennas=[ant])
    _, p, f = _rows(path, 0, ant)
    d = panel.data.sort_values(["time", "receptor", "channel"])
    assert set(d.antenna) == {ant}
    for k, rec in enumerate(sorted(d.receptor.unique(), key=list(ct["spw_0"].ds.receptor.values).index)):
        sub = d[d.receptor == rec]
        np.testing.assert_allclose(sub["amp"].to_numpy(), np.abs(p[..., k]).ravel(), rtol=1e-5)
        np.testing.assert_allclose(sub["phase_deg"].to_numpy(), np.degrees(np.angle(p[..., k])).ravel(), atol=1e-4)
        assert sub["flagged"].to_numpy().tolist() == f[..., k].ravel().tolist()
    # flagged channels are drawn in their own (grey) source, the others in the points source
    assert len(panel.sources["flagged"].data["amp"]) == int(f.sum())
    assert len(panel.sources["points"].data["amp"]) == f.size - int(f.sum())


def _phase_scans(ms) -> set[int]:
    """Scans whose STATE obs mode holds CALIBRATE_PHASE, read with python-casacore."""
    with tables.table(str(ms / "STATE"), ack=False) as t:
        modes = list(t.getcol("OBS_MODE"))
    with tables.table(str(ms), ack=False) as t:
        scans, states = t.getcol("SCAN_NUMBER"), t.getcol("STATE_ID")
    return {int(sc) for sc, st in zip(scans, states) if "CALIBRATE_PHASE" in modes[st]}


def test_gain_phase_rms_is_the_weblogs_and_values_match_rows(alma_eb):
    """hifa_timegaincal's phase RMS: std (ddof=1) of the solution phases (deg) on the phase calibrator's scans."""
    path = alma_eb.caltables["phase"]
    scans = sorted(_phase_scans(alma_eb.ms))
    assert scans
    panel = av.plots.gains(av.open_caltable(path), spws=[0, 2], antennas=["DA43", "DA47"], phase_scans=scans)
    rms = pd.DataFrame(panel.sources["rms"].data).set_index(["antenna", "spw", "receptor"])["phase_rms_deg"]
    with tables.table(str(path), ack=False) as t:
        recs = [str(r) for r in av.open_caltable(path)["spw_0"].ds.receptor.values]
    for ant in ("DA43", "DA47"):
        for spw in (0, 2):
            with tables.table(str(path / "ANTENNA"), ack=False) as t:
                aid = list(t.getcol("NAME")).index(ant)
            with tables.table(str(path), ack=False) as t:
                q = t.query(f"SPECTRAL_WINDOW_ID=={spw} && ANTENNA1=={aid} && SCAN_NUMBER IN {scans}")
                p, f = q.getcol("CPARAM")[:, 0, :], q.getcol("FLAG")[:, 0, :]
                q.close()
            for k, rec in enumerate(recs):
                ph = np.degrees(np.angle(p[:, k][~f[:, k]]))
                assert rms[(ant, spw, rec)] == pytest.approx(np.std(ph, ddof=1), abs=0.006)
    _, p, f = _rows(path, 2, "DA47")
    d = panel.data.query("antenna == 'DA47' and spw == 2").sort_values(["time", "receptor"])
    np.testing.assert_allclose(d["amp"].to_numpy(), np.abs(p[:, 0, :]).ravel(), rtol=1e-5)
    assert set(panel.sources["points"].data["spw"]) == {0, 2}


def test_ngc5921_gain_amplitudes(ngc5921):
    path = ngc5921.caltables["gain"]
    ct = av.open_caltable(path)
    panel = av.plots.gains(ct, antennas=["5"])
    times, p, f = _rows(path, 0, "5")
    order = {r: i for i, r in enumerate(ct["spw_0"].ds.receptor.values)}  # R, L: the table's receptor order
    d = panel.data.assign(k=panel.data.receptor.map(order)).sort_values(["time", "k"])
    assert len(d) == p[:, 0, :].size
    np.testing.assert_allclose(d["amp"].to_numpy(), np.abs(p[:, 0, :]).ravel(), rtol=1e-5)


def test_refresh_updates_in_place_or_declines(alma_eb):
    from almaview.plots.caltables import decoded, refresh

    ct = av.open_caltable(alma_eb.caltables["bandpass"])
    panel = av.plots.bandpass(ct, spws=[1], antennas=["DA41"])
    src = panel.sources["points"]
    src.data = {k: v[:0] for k, v in src.data.items()}  # stale
    assert refresh(panel, ct, spws=[1], antennas=["DA41"])  # same figures and legend entries: new data only
    assert panel.sources["points"] is src and set(decoded(panel, "antenna")) == {"DA41"}
    # another antenna fills the same figure and legend entry (its label and data), no new models
    n_models = len(list(panel.layout.references()))
    assert refresh(panel, ct, spws=[1], antennas=["DA44"])
    assert set(decoded(panel, "antenna")) == {"DA44"}
    assert set(_legend_labels(_figures(panel.layout)[0])) == {"DA44", "flagged"}
    assert len(list(panel.layout.references())) == n_models
    assert not refresh(panel, ct, spws=[1], antennas=["DA41", "DA44"])  # two antennas: no room for the second
    assert set(panel.data.antenna) == {"DA44"}
    tsys_ct = av.open_caltable(alma_eb.caltables["tsys"])
    tp = av.plots.tsys(tsys_ct, spws=[0])
    assert not refresh(tp, tsys_ct, spws=[0, 1])  # other spws need other figures


def test_big_bandpass_is_rasterized(alma_eb):
    ct = av.open_caltable(alma_eb.caltables["bandpass"])
    panel = av.plots.bandpass(ct, raster_threshold=500)
    assert len(panel.sources["points"].data["amp"]) == 0
    ok = int((~panel.data.flagged).sum())
    images = [v for k, v in panel.sources.items() if k.startswith("amp_image_")]
    assert len(images) == panel.data.spw.nunique()
    assert sum(np.nansum(v.data["image"][0]) for v in images) == ok


# ------------------------------------------------------------------ each kind in its own terms (issue 13 §2, 14)


def _legend_labels(fig) -> list[str]:
    return [
        item.label.value if hasattr(item.label, "value") else str(item.label)
        for leg in fig.select({"type": __import__("bokeh.models", fromlist=["Legend"]).Legend})
        for item in leg.items
    ]


def _figures(layout):
    from bokeh.plotting import figure as Figure

    return list(layout.select({"type": Figure}))


def test_delay_table_shows_delays_in_ns_per_antenna(alma_eb):
    path = alma_eb.caltables["delay"]
    ct = av.open_caltable(path)
    panel = av.plots.caltable(ct)
    assert panel.kind == "delay"
    with tables.table(str(path / "ANTENNA"), ack=False) as t:
        names = list(t.getcol("NAME"))
    with tables.table(str(path), ack=False) as t:
        fp, fl = t.getcol("FPARAM"), t.getcol("FLAG")  # (row, 1, receptor): ns
        spw, ant = t.getcol("SPECTRAL_WINDOW_ID"), t.getcol("ANTENNA1")
    recs = [str(r) for r in ct[f"spw_{int(spw[0])}"].ds.receptor.values]
    d = panel.data.set_index(["spw", "antenna", "receptor"])["delay_ns"]
    for r in range(len(spw)):
        for k, rec in enumerate(recs):
            assert d[(int(spw[r]), names[ant[r]], rec)] == pytest.approx(float(fp[r, 0, k]), rel=1e-6)
    assert int((~panel.data.flagged).sum()) == int((~fl[:, 0, :]).sum())
    figs = _figures(panel.layout)
    assert len(figs) == len(set(spw))  # one panel per spw
    assert all(f.yaxis[0].axis_label == "delay (ns)" for f in figs)
    assert not any(
        "amplitude" in (f.yaxis[0].axis_label or "") or "phase" in (f.yaxis[0].axis_label or "") for f in figs
    )
    assert set(_legend_labels(figs[0])) == set(recs)


@pytest.mark.parametrize(
    "builder,table", [("bandpass", "delay"), ("tsys", "bandpass"), ("gains", "tsys"), ("delay", "phase")]
)
def test_a_panel_given_another_kind_of_table_raises_a_typed_error(alma_eb, builder, table):
    ct = av.open_caltable(alma_eb.caltables[table])
    with pytest.raises(av.errors.CaltableKindMismatch) as err:
        getattr(av.plots, builder)(ct)
    msg = str(err.value)
    assert ct.attrs["caltable"] in msg and ct.attrs["viscal"] in msg and err.value.path == str(alma_eb.caltables[table])


def test_antenna_positions_have_no_plot_but_a_typed_error(alma_eb):
    ct = av.open_caltable(alma_eb.caltables["antpos"])
    with pytest.raises(av.errors.CaltableKindMismatch, match="KAntPos"):
        av.plots.caltable(ct)


def test_phase_only_gains_have_no_amplitude_panel_and_one_panel_per_antenna(alma_eb):
    path = alma_eb.caltables["phase"]
    with tables.table(str(path), ack=False) as t:
        p, f = t.getcol("CPARAM"), t.getcol("FLAG")
    assert np.allclose(np.abs(p[~f]), 1.0, atol=1e-5)  # gaincal calmode='p' (independent check of the premise)
    ants = ["DA41", "DA43", "DA47"]
    panel = av.plots.gains(av.open_caltable(path), antennas=ants)
    figs = _figures(panel.layout)
    assert panel.data.attrs["mode"] == "phase"
    assert len(figs) == len(ants)  # phase vs time per antenna, nothing else
    assert all(fg.yaxis[0].axis_label == "phase (deg)" for fg in figs)
    assert all(fg.x_range is figs[0].x_range and fg.y_range is figs[0].y_range for fg in figs)  # shared axes
    spws = sorted(av.open_caltable(path).attrs.get("spws", []) or panel.data.spw.unique())
    assert _legend_labels(figs[0]) == [f"spw {s}" for s in spws]
    assert any(a in figs[0].title.text for a in ants)


def test_amplitude_gains_show_amplitude_only(alma_eb):
    path = alma_eb.caltables["amp"]
    with tables.table(str(path), ack=False) as t:
        p, f = t.getcol("CPARAM"), t.getcol("FLAG")
    panel = av.plots.gains(av.open_caltable(path), antennas=["DA41"])
    labels = {fg.yaxis[0].axis_label for fg in _figures(panel.layout)}
    if np.allclose(np.angle(p[~f]), 0.0, atol=1e-6):
        assert labels == {"amplitude"}
    else:
        assert labels == {"amplitude", "phase (deg)"}


def test_tsys_one_panel_per_spw_with_units_frames_and_legend(alma_eb):
    ct = av.open_caltable(alma_eb.caltables["tsys"])
    with tables.table(str(alma_eb.caltables["tsys"]), ack=False) as t:
        spws = sorted(set(t.getcol("SPECTRAL_WINDOW_ID").tolist()))
    panel = av.plots.tsys(ct, antennas=["DA41", "DA42"])
    figs = _figures(panel.layout)
    spec = [f for f in figs if f.xaxis[0].axis_label.startswith("frequency")]
    assert len(spec) == len(spws)
    assert all(f.yaxis[0].axis_label == "Tsys (K)" and "TOPO" in f.xaxis[0].axis_label for f in spec)
    assert sorted(int(f.title.text.split("spw ")[1].split(" ")[0]) for f in spec) == spws
    assert _legend_labels(spec[0]) == ["DA41", "DA42", "median"]
    from bokeh.models import Legend

    assert all(leg.click_policy == "hide" for leg in spec[0].select({"type": Legend}))
    assert spec[0].select_one({"type": Legend}) in spec[0].right  # outside the data
    from bokeh.core.validation import check_integrity

    issues = check_integrity(list(panel.layout.references()))  # Bokeh's checks: no filtered Line glyph (E-1024)
    assert not issues.error, issues.error
    by_ant = av.plots.tsys(ct, antennas=["DA41", "DA42"], iterate="antenna")
    assert len([f for f in _figures(by_ant.layout) if f.xaxis[0].axis_label.startswith("frequency")]) == 2


def test_bandpass_grid_one_panel_per_spw(alma_eb):
    ct = av.open_caltable(alma_eb.caltables["bandpass"])
    panel = av.plots.bandpass(ct, antennas=["DA41"])
    n = panel.data.spw.nunique()
    figs = _figures(panel.layout)
    assert len(figs) == 2 * n  # amplitude and phase per spw
    assert sum(f.yaxis[0].axis_label == "phase (deg)" for f in figs) == n
    with pytest.raises(ValueError, match="iterate"):
        av.plots.bandpass(ct, iterate="scan")


def test_gains_refresh_keeps_the_weblogs_phase_scans(alma_eb):
    from almaview.plots.caltables import refresh

    path = alma_eb.caltables["phase"]
    ct = av.open_caltable(path)
    scans = sorted(_phase_scans(alma_eb.ms))
    panel = av.plots.gains(ct, spws=[0], antennas=["DA41"], phase_scans=scans)
    before = dict(panel.sources["rms"].data)
    everything = av.plots.gains(ct, spws=[0], antennas=["DA41"])
    assert list(everything.sources["rms"].data["solutions"]) != list(before["solutions"])  # the scans matter here
    assert refresh(panel, ct, spws=[0], antennas=["DA41"])
    assert list(panel.sources["rms"].data["phase_rms_deg"]) == list(before["phase_rms_deg"])


@pytest.mark.parametrize("table", ["tsys", "bandpass", "phase", "amp", "delay"])
def test_every_caltable_panel_passes_bokehs_own_validation(alma_eb, table):
    from bokeh.core.validation import check_integrity

    panel = av.plots.caltable(av.open_caltable(alma_eb.caltables[table]), antennas=["DA41", "DA42"])
    issues = check_integrity(list(panel.layout.references()))
    assert not issues.error, issues.error

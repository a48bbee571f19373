"""Tsys, bandpass and gain panels: the plotted values against caltable rows read with python-casacore + numpy."""

from __future__ import annotations

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
    src = panel.sources["spectra_spw1"].data
    i = list(src["antenna"]).index("DA45")
    np.testing.assert_allclose(src["ys"][i], spec[spec.antenna == "DA45"]["tsys"].to_numpy())


def test_tsys_median_and_outliers():
    freq = np.linspace(230e9, 231e9, 8)
    ants = ["A1", "A2", "A3", "A4"]
    value = np.full((2, 4, 8, 2), 80.0, dtype=np.float32)
    value[:, 2] = 300.0  # A3: a hot receiver
    value[0, 1, 3, 0] = 9999.0  # flagged: must not count
    flag = np.zeros_like(value, dtype=bool)
    flag[0, 1, 3, 0] = True
    ds = xr.Dataset({"value": (("time", "antenna", "frequency", "receptor"), value),
                     "flag": (("time", "antenna", "frequency", "receptor"), flag)},
                    coords={"time": pd.date_range("2024-01-01", periods=2, freq="min").values, "antenna": ants,
                            "frequency": freq, "receptor": ["X", "Y"], "field_name": ("time", ["a", "b"])})
    tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs={"caltable": "synthetic"}), "spw_5": ds})
    panel = av.plots.tsys(tree)
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
    ant = str(ct["spw_0"].ds.antenna.values[3])
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


def _phase_rms_independent(z: np.ndarray) -> float:
    z = z / np.abs(z)
    ref = z.sum() / abs(z.sum())
    d = np.angle(z * np.conj(ref), deg=True)
    return float(np.sqrt(np.mean(d * d)))


def test_gain_phase_rms_and_values_match_rows(alma_eb):
    path = alma_eb.caltables["phase"]
    panel = av.plots.gains(av.open_caltable(path), spws=[0, 2], antennas=["DA43", "DA47"])
    rms = pd.DataFrame(panel.sources["rms"].data).set_index(["antenna", "spw"])["phase_rms_deg"]
    for ant in ("DA43", "DA47"):
        for spw in (0, 2):
            _, p, f = _rows(path, spw, ant)
            z = p[:, 0, :][~f[:, 0, :]]
            assert rms[(ant, spw)] == pytest.approx(_phase_rms_independent(z), abs=0.01)
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
    from almaview.plots.caltables import refresh

    ct = av.open_caltable(alma_eb.caltables["bandpass"])
    panel = av.plots.bandpass(ct, spws=[1], antennas=["DA41"])
    src = panel.sources["points"]
    assert refresh(panel, ct, spws=[1], antennas=["DA44"])
    assert panel.sources["points"] is src and set(src.data["antenna"]) == {"DA44"}
    assert set(panel.data.antenna) == {"DA44"}
    tsys_ct = av.open_caltable(alma_eb.caltables["tsys"])
    tp = av.plots.tsys(tsys_ct, spws=[0])
    assert not refresh(tp, tsys_ct, spws=[0, 1])  # other spws need other figures


def test_big_bandpass_is_rasterized(alma_eb):
    ct = av.open_caltable(alma_eb.caltables["bandpass"])
    panel = av.plots.bandpass(ct, raster_threshold=500)
    assert len(panel.sources["points"].data["amp"]) == 0
    ok = int((~panel.data.flagged).sum())
    assert np.nansum(panel.sources["amp_image"].data["image"][0]) == ok

"""open_caltable: values against python-casacore reads, solutions against the injected truth, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from casacore import tables

import almaview as av
from mstables import check_antenna_labels
from mstables.fixtures import small_caltable  # noqa: F401
from almaview.errors import (
    DamagedTable,
    NotACaltable,
    NotATable,
    PathNotFound,
    UnsupportedCaltable,
)

ALMA_ROLES = ["tsys", "bandpass", "phaseup", "phase", "amp", "fluxscale", "delay", "antpos"]
MJD_EPOCH = np.datetime64("1858-11-17T00:00:00", "ns")  # MJD 0: CASA's time origin


def _raw(path: Path) -> dict:
    """Everything needed to check a caltable, read directly with python-casacore."""
    with tables.table(str(path), ack=False) as t:
        column = "CPARAM" if "CPARAM" in t.colnames() else "FPARAM"
        raw = {
            "column": column,
            "viscal": t.getkeyword("VisCal"),
            "time": t.getcol("TIME"),
            "antenna1": t.getcol("ANTENNA1"),
            "spw": t.getcol("SPECTRAL_WINDOW_ID"),
            "field": t.getcol("FIELD_ID"),
            "params": [t.getcell(column, r) for r in range(t.nrows())],
            "flags": [t.getcell("FLAG", r) for r in range(t.nrows())],
        }
    with tables.table(str(path / "ANTENNA"), ack=False) as t:
        raw["antenna_names"] = list(t.getcol("NAME"))
    with tables.table(str(path / "FIELD"), ack=False) as t:
        raw["field_names"] = list(t.getcol("NAME"))
    with tables.table(str(path / "SPECTRAL_WINDOW"), ack=False) as t:
        raw["chan_freq"] = [t.getcell("CHAN_FREQ", i) for i in range(t.nrows())]
    return raw


def _as_datetime(mjd_s: float) -> np.datetime64:
    return MJD_EPOCH + np.timedelta64(int(round(mjd_s * 1e6)), "us")


def _cell(ds, raw: dict, row: int, channel: int, receptor: int):
    """Locate a caltable row's cell in the dataset by its time, field and antenna name."""
    value_name = "gain" if raw["column"] == "CPARAM" else "value"
    var = ds[value_name]
    if raw["time"][row] > 0:
        t = _as_datetime(raw["time"][row])
        close = np.abs(ds.time.values - t) < np.timedelta64(1, "us")
    else:  # antenna-position tables carry no time
        close = np.isnat(ds.time.values)
    field = raw["field_names"][raw["field"][row]] if raw["field"][row] >= 0 else ""
    candidates = np.flatnonzero(close & (ds.field_name.values == field))
    antenna = raw["antenna_names"][raw["antenna1"][row]]
    last_dim = var.dims[-1]
    sel = {"antenna_name": antenna, last_dim: ds[last_dim].values[receptor]}
    if "frequency" in var.dims:
        sel = {**sel, "frequency": ds.frequency.values[channel]}
    return [var.isel(time=int(i)).sel(sel).item() for i in candidates], [
        ds.flag.isel(time=int(i)).sel(sel).item() for i in candidates
    ]


def _sample_rows(n: int) -> list[int]:
    return sorted({0, n // 3, n // 2, (2 * n) // 3, n - 1})


@pytest.mark.parametrize("role", ALMA_ROLES)
def test_alma_values_equal_casacore_cells(alma_eb, role):
    path = alma_eb.caltables[role]
    raw = _raw(path)
    tree = av.open_caltable(path)
    assert tree.attrs["viscal"] == raw["viscal"]
    rng = np.random.default_rng(7)
    for row in _sample_rows(len(raw["time"])):
        expected = raw["params"][row]  # (channel, receptor)
        nchan, npar = expected.shape
        for channel, receptor in {(0, 0), (nchan - 1, npar - 1), (int(rng.integers(nchan)), int(rng.integers(npar)))}:
            ds = tree[f"spw_{raw['spw'][row]}"].ds
            got, flags = _cell(ds, raw, row, channel, receptor)
            assert expected[channel, receptor] in got, (row, channel, receptor)
            assert raw["flags"][row][channel, receptor] == flags[got.index(expected[channel, receptor])]


@pytest.mark.parametrize("role", ["bandpass", "gain", "fluxscale"])
def test_ngc5921_values_equal_casacore_cells(ngc5921, role):
    path = ngc5921.caltables[role]
    raw = _raw(path)
    tree = av.open_caltable(path)
    for row in _sample_rows(len(raw["time"])):
        expected = raw["params"][row]
        nchan, npar = expected.shape
        ds = tree[f"spw_{raw['spw'][row]}"].ds
        got, _ = _cell(ds, raw, row, nchan // 2, npar - 1)
        assert expected[nchan // 2, npar - 1] in got
    # VLA: circular receptors, from the MS polarization (RR, LL) or the telescope
    assert set(tree[f"spw_{raw['spw'][0]}"].ds.receptor.values) <= {"R", "L", "R+L"}


@pytest.mark.parametrize("role", ALMA_ROLES)
def test_every_row_lands_in_its_own_cell(alma_eb, role):
    """No (time, antenna) repeat overwrites another: all CASA cells appear, none is invented."""
    path = alma_eb.caltables[role]
    raw = _raw(path)
    tree = av.open_caltable(path)
    name = "gain" if raw["column"] == "CPARAM" else "value"
    present = 0
    for node in tree.children.values():
        present += int(np.isfinite(np.abs(node.ds[name].values)).sum())
    expected = sum(int(np.isfinite(np.abs(p)).sum()) for p in raw["params"])
    assert present == expected
    assert sorted(tree.children) == sorted(f"spw_{s}" for s in np.unique(raw["spw"]))


@pytest.mark.parametrize("role", ALMA_ROLES)
def test_antenna_name_labels_each_antennas_rows(alma_eb, role):
    """``antenna_name`` (xradio's MSv4 name, as on the MS trees) selects the rows whose ANTENNA1 has that NAME."""
    path = alma_eb.caltables[role]
    assert check_antenna_labels(path, av.open_caltable(path)) >= 1


def test_antenna_name_labels_rows_of_a_table_written_with_casacore(small_caltable):
    """The same check on a table written by python-casacore (no CASA): 4 antennas x 2 spws, each cell known."""
    tree = av.open_caltable(small_caltable.path)
    assert check_antenna_labels(small_caltable.path, tree) == 4 * 2
    assert list(tree["spw_1"].ds.antenna_name.values) == small_caltable.antennas
    np.testing.assert_array_equal(tree["spw_1"].ds.antenna_id.values, np.arange(4))
    # the rows of DA43 (ANTENNA1 == 2) in spw 1 are written at r = time * 8 + 4 + 2
    got = tree["spw_1"].ds.gain.sel(antenna_name="DA43").values
    np.testing.assert_array_equal(got, np.stack([small_caltable.data["CPARAM"][t * 8 + 4 + 2][0] for t in range(3)]))


def test_coordinates_from_subtables(alma_eb):
    path = alma_eb.caltables["bandpass"]
    raw = _raw(path)
    tree = av.open_caltable(path)
    for name, node in tree.children.items():
        spw = int(name.removeprefix("spw_"))
        ds = node.ds
        assert list(ds.antenna_name.values) == raw["antenna_names"]
        np.testing.assert_array_equal(ds.frequency.values, raw["chan_freq"][spw])
        assert ds.frequency.attrs["units"] == "Hz"
        assert ds.sizes["frequency"] == alma_eb.spws[spw]
        assert list(ds.receptor.values) == ["X", "Y"]  # ALMA: linear feeds (MS has XX, YY)
        assert ds.gain.dims == ("time", "antenna_name", "frequency", "receptor")
        assert ds.time.dtype == np.dtype("datetime64[ns]")
        times = np.unique(raw["time"][raw["spw"] == spw])
        np.testing.assert_allclose(
            (ds.time.values - MJD_EPOCH) / np.timedelta64(1, "s"), np.sort(times), rtol=0, atol=1e-6
        )
    assert set(tree.attrs["ms_name"].split("/")[-1:]) == {alma_eb.ms.name}


def test_pipeline_name_in_attrs(alma_eb):
    for role, path in alma_eb.caltables.items():
        tree = av.open_caltable(path)
        name = path.name
        # independent parse of '<eb>.ms.<task>.s<stage>_<n>....tbl'
        eb, rest = name.split(".ms.", 1)
        task, stage = rest.split(".")[:2]
        assert tree.attrs["eb"] == eb == alma_eb.eb_uid
        assert tree.attrs["pipeline_task"] == task
        assert tree.attrs["pipeline_stage"] == int(stage[1:].split("_")[0])
    assert av.open_caltable(alma_eb.caltables["tsys"]).attrs["pipeline_kind"] == "tsyscal"


def test_not_channelised_tables_have_no_frequency_dim(alma_eb):
    for role in ("phase", "amp", "delay", "fluxscale", "phaseup"):
        tree = av.open_caltable(alma_eb.caltables[role])
        for node in tree.children.values():
            var = node.ds["gain" if "gain" in node.ds else "value"]
            assert var.dims[:2] == ("time", "antenna_name") and "frequency" not in var.dims
            assert {"field_name", "scan_number"} <= set(node.ds.coords)
    antpos = av.open_caltable(alma_eb.caltables["antpos"])
    ds = next(iter(antpos.children.values())).ds
    assert list(ds.axis.values) == ["x", "y", "z"] and ds.value.attrs["units"] == "m"
    delay = av.open_caltable(alma_eb.caltables["delay"])
    assert next(iter(delay.children.values())).ds.value.attrs["units"] == "ns"


# --------------------------------------------------------------------------- against the truth


def _wrap(phase: np.ndarray) -> np.ndarray:
    return np.angle(np.exp(1j * phase))


def test_bandpass_matches_truth(alma_eb):
    """Bandpass shapes equal the injected ones within CASA's own solution errors (PARAMERR)."""
    truth = alma_eb.truth
    tree = av.open_caltable(alma_eb.caltables["bandpass"])
    ref = alma_eb.antennas.index(alma_eb.refant)
    for spw in alma_eb.spws:
        ds = tree[f"spw_{spw}"].ds.isel(time=0)
        b = np.where(ds.flag.values, np.nan, ds.gain.values)  # (antenna, channel, receptor)
        sigma = ds.param_error.values
        true = truth[f"bandpass_spw{spw}"]
        assert b.shape == true.shape
        nchan = b.shape[1]
        inner = slice(nchan // 8, nchan - nchan // 8)  # the band edges are normalised out
        b, true, sigma = b[:, inner], true[:, inner], sigma[:, inner]
        # amplitude shape: each antenna/receptor normalised to its mean (bandpass solnorm=True)
        mean = np.nanmean(np.abs(b), axis=1, keepdims=True)
        amp = np.abs(b) / mean
        amp_true = np.abs(true) / np.mean(np.abs(true), axis=1, keepdims=True)
        z = np.abs(amp - amp_true) / (sigma / mean)
        assert np.nanmax(z) < 5.0, spw
        assert np.nanmean(z**2) < 2.0, spw  # residuals are noise-like, not a wrong shape
        # phase relative to the reference antenna, the constant per-antenna offset removed
        ph = _wrap(np.angle(b) - np.angle(b[ref])[None])
        ph_true = _wrap(np.angle(true) - np.angle(true[ref])[None])
        d = _wrap(ph - ph_true)
        d = _wrap(d - np.angle(np.nanmean(np.exp(1j * d), axis=1, keepdims=True)))
        phase_sigma = np.hypot(sigma / np.abs(b), sigma[ref] / np.abs(b[ref]))
        assert np.nanmax(np.abs(d) / phase_sigma) < 5.0, spw


def test_tsys_matches_truth(alma_eb):
    truth = alma_eb.truth
    tree = av.open_caltable(alma_eb.caltables["tsys"])
    for spw in alma_eb.spws:
        ds = tree[f"spw_{spw}"].ds
        assert ds.value.attrs["units"] == "K"
        np.testing.assert_allclose(ds.value.isel(time=0).values, truth[f"tsys_spw{spw}"], rtol=1e-5)


def test_phase_solutions_follow_truth(alma_eb):
    """Phase vs time relative to the refant follows the injected drift, within CASA's PARAMERR.

    The truth model is the one documented in almaview.sampledata.simulate.Truth.gain; a constant
    per-antenna offset (absorbed by the bandpass) is removed.
    """
    truth = alma_eb.truth
    ref = alma_eb.antennas.index(alma_eb.refant)
    tree = av.open_caltable(alma_eb.caltables["phase"])
    for spw in alma_eb.spws:
        ds = tree[f"spw_{spw}"].ds
        g = np.where(ds.flag.values, np.nan, ds.gain.values)  # (time, antenna, receptor)
        sigma = ds.param_error.values
        t = (ds.time.values - MJD_EPOCH) / np.timedelta64(1, "s")
        dt = t[:, None] - float(truth["t_ref"])
        drift = truth["phase_drift_amp"][None] * np.sin(2 * np.pi * dt / truth["phase_drift_period_s"][None])
        true_phase = truth["gain_phase0"][None] + (drift + truth["spw_phase"][spw][None])[:, :, None]
        rel = _wrap(np.angle(g) - np.angle(g[:, ref : ref + 1]))
        rel_true = _wrap(true_phase - true_phase[:, ref : ref + 1])
        d = _wrap(rel - rel_true)
        d = _wrap(d - np.angle(np.nanmean(np.exp(1j * d), axis=0, keepdims=True)))
        phase_sigma = np.hypot(sigma / np.abs(g), sigma[:, ref : ref + 1] / np.abs(g[:, ref : ref + 1]))
        z = d / phase_sigma
        assert np.nanmax(np.abs(z)) < 7.0, spw
        assert np.nanmean(z**2) < 3.0, spw


def test_amplitude_solutions_follow_truth(alma_eb):
    """T-Jones amplitudes relative to the refant match the injected amplitudes (mean of the receptors)."""
    truth = alma_eb.truth
    ref = alma_eb.antennas.index(alma_eb.refant)
    tree = av.open_caltable(alma_eb.caltables["amp"])
    expected = truth["gain_amp"].mean(axis=1)
    expected = expected / expected[ref]
    for spw in alma_eb.spws:
        ds = tree[f"spw_{spw}"].ds
        assert ds.sizes["receptor"] == 1  # T Jones: one gain for both receptors
        a = np.abs(np.where(ds.flag.values, np.nan, ds.gain.values))[..., 0]  # (time, antenna)
        sigma = ds.param_error.values[..., 0]
        rel = a / a[:, ref : ref + 1]
        rel_sigma = rel * np.hypot(sigma / a, sigma[:, ref : ref + 1] / a[:, ref : ref + 1])
        z = (rel - expected[None]) / rel_sigma
        assert np.nanmax(np.abs(z)) < 5.0, spw


# --------------------------------------------------------------------------- repeated times


def test_two_fields_at_the_same_time_are_both_kept(alma_eb, tmp_path):
    src = alma_eb.caltables["phase"]
    path = tmp_path / "two_fields.gpcal.tbl"
    with tables.table(str(src), ack=False) as t:
        t.copy(str(path), deep=True).close()
    with tables.table(str(path), readonly=False, ack=False) as t:
        time = t.getcol("TIME")
        first = np.flatnonzero(time == time.min())
        n0 = t.nrows()
        fields = t.getcol("FIELD_ID")
        other_field = int(max(set(range(3)) - {int(fields[first[0]])}))
        t.addrows(len(first))
        new = np.arange(n0, n0 + len(first))
        for col in t.colnames():
            if col == "WEIGHT":
                continue
            for r_old, r_new in zip(first, new):
                t.putcell(col, int(r_new), t.getcell(col, int(r_old)))
        for r_new in new:
            t.putcell("FIELD_ID", int(r_new), other_field)
            t.putcell("CPARAM", int(r_new), t.getcell("CPARAM", int(r_new)) * 2)
        spw0 = int(t.getcell("SPECTRAL_WINDOW_ID", int(first[0])))
        ant0 = int(t.getcell("ANTENNA1", int(first[0])))
        original = t.getcell("CPARAM", int(first[0]))
    with tables.table(str(path / "FIELD"), ack=False) as t:
        names = list(t.getcol("NAME"))
    with tables.table(str(path / "ANTENNA"), ack=False) as t:
        antenna = t.getcol("NAME")[ant0]

    ds = av.open_caltable(path)[f"spw_{spw0}"].ds
    t0 = _as_datetime(time.min())
    at_t0 = np.flatnonzero(np.abs(ds.time.values - t0) < np.timedelta64(1, "us"))
    assert len(at_t0) == 2
    by_field = {ds.field_name.values[i]: ds.gain.isel(time=int(i)).sel(antenna_name=antenna).values for i in at_t0}
    assert set(by_field) == {names[int(fields[first[0]])], names[other_field]}
    np.testing.assert_array_equal(by_field[names[int(fields[first[0]])]], original[0])
    np.testing.assert_array_equal(by_field[names[other_field]], original[0] * 2)


# --------------------------------------------------------------------------- errors


def test_missing_path(tmp_path):
    missing = tmp_path / "nope.bcal.tbl"
    with pytest.raises(PathNotFound) as err:
        av.open_caltable(missing)
    assert str(missing) in str(err.value)


def test_directory_that_is_not_a_table(tmp_path):
    with pytest.raises(NotATable) as err:
        av.open_caltable(tmp_path)
    assert str(tmp_path) in str(err.value)


def test_measurement_set_is_not_a_caltable(alma_eb):
    with pytest.raises(NotACaltable) as err:
        av.open_caltable(alma_eb.ms)
    msg = str(err.value)
    assert str(alma_eb.ms.resolve()) in msg and "measurement set" in msg and "open_ms" in msg


def test_image_is_not_a_caltable(alma_eb):
    with pytest.raises(NotACaltable) as err:
        av.open_caltable(alma_eb.images["cont"])
    assert str(alma_eb.images["cont"].resolve()) in str(err.value) and "open_image" in str(err.value)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_damaged_caltable(alma_eb, tmp_path):
    broken = _copy(alma_eb.caltables["bandpass"], tmp_path / "broken.bcal.tbl")
    for f in broken.glob("table.f0*"):
        f.unlink()
    with pytest.raises(DamagedTable) as err:
        av.open_caltable(broken)
    assert str(broken) in str(err.value)

    empty = _copy(alma_eb.caltables["bandpass"], tmp_path / "empty.bcal.tbl")
    (empty / "table.dat").write_bytes(b"")
    with pytest.raises(DamagedTable) as err:
        av.open_caltable(empty)
    assert str(empty) in str(err.value)


def test_unknown_viscal(alma_eb, tmp_path):
    path = _copy(alma_eb.caltables["bandpass"], tmp_path / "dterm.tbl")
    with tables.table(str(path), readonly=False, ack=False) as t:
        t.putkeyword("VisCal", "D Jones")
    with pytest.raises(UnsupportedCaltable) as err:
        av.open_caltable(path)
    msg = str(err.value)
    assert str(path.resolve()) in msg and "'D Jones'" in msg and "'B Jones'" in msg and "'B TSYS'" in msg


def test_pre_34_cal_desc_layout(tmp_path):
    """The CASA <= 3.3 layout (GAIN column, CAL_DESC subtable) is refused with advice."""
    path = tmp_path / "bandpass.B0"
    cols = [
        tables.makescacoldesc("TIME", 0.0),
        tables.makescacoldesc("ANTENNA1", 0),
        tables.makescacoldesc("CAL_DESC_ID", 0),
        tables.makearrcoldesc("GAIN", 0j, ndim=4),
    ]
    with tables.table(str(path), tables.maketabdesc(cols), nrow=1, ack=False) as t:
        t.putinfo({"type": "Calibration", "subType": "B Jones", "readme": ""})
        with tables.table(
            str(path / "CAL_DESC"), tables.maketabdesc([tables.makescacoldesc("NUM_SPW", 1)]), nrow=1, ack=False
        ) as desc:
            desc.putcell("NUM_SPW", 0, 1)
        t.putkeyword("CAL_DESC", desc)
        t.putcell("GAIN", 0, np.ones((2, 1, 1, 1), dtype=complex))
    with pytest.raises(UnsupportedCaltable) as err:
        av.open_caltable(path)
    msg = str(err.value)
    assert str(path.resolve()) in msg and "CAL_DESC" in msg and "Re-create" in msg

"""almaview's MS trees against xradio's own MSv4 schema check (VisibilityXds, SpectrumXds), on CASA-built MSs.

The check is xradio's (``xradio.schema.check.check_dataset``); the only issues it may report are the
differences :mod:`almaview.io.msv4` documents (``time`` is datetime64, not float unix seconds). The
values behind the MSv4 attrs come from python-casacore's raw rows and keywords.
"""

from __future__ import annotations

import numpy as np
import pytest
from casacore import tables
from xradio.measurement_set.schema import AntennaXds, SpectrumXds, VisibilityXds
from xradio.schema.check import check_dataset

import almaview as av
from almaview.io.msv4 import as_msv4

CASA_UNIX_EPOCH = 3506716800.0

# The documented difference (almaview.io.msv4): time is datetime64[ns], so MSv4's float dtype and its
# 'units'/'format' attrs do not apply. Reported for the time coordinate and for every data variable's copy of it.
TIME_GAP = {(("dtype", None),), (("attrs", "units"),), (("attrs", "format"),)}


def _raw(path, subtable=None):
    return tables.table(str(path) + (f"/{subtable}" if subtable else ""), ack=False, readonly=True)


def _undocumented(issues) -> list:
    """Issues other than the documented time difference."""
    out = []
    for issue in issues:
        path = list(issue.path)
        if ("coords", "time") in path and tuple(path[path.index(("coords", "time")) + 1 :]) in TIME_GAP:
            continue
        out.append(issue)
    return out


@pytest.fixture(params=["alma_eb", "ngc5921"])
def sample(request):
    return request.getfixturevalue(request.param)


def test_visibility_nodes_pass_xradios_schema_check(sample):
    tree = av.open_ms(sample.ms)
    nodes = [n for n in tree.children if n.startswith("spw_")]
    assert nodes
    for name in nodes:
        ds = tree[name].ds
        issues = check_dataset(ds, VisibilityXds)
        assert not _undocumented(issues), f"{name}: {issues}"
        # the documented difference is really there (if it closes, msv4's docstring must say so) ...
        assert any(("coords", "time") in i.path for i in issues)
        # ... and as_msv4 closes it: nothing left for xradio to object to
        msv4_ds = as_msv4(ds)
        assert not check_dataset(msv4_ds, VisibilityXds), name
        t0 = (ds.time.values[0] - np.datetime64("1970-01-01T00:00:00", "ns")) / np.timedelta64(1, "s")
        assert msv4_ds.time.values[0] == pytest.approx(t0, abs=1e-6)
        assert ds.VISIBILITY.dims == ("time", "baseline_id", "frequency", "polarization")


def test_the_check_fails_on_the_old_names(alma_eb):
    """The test above can fail: the pre-MSv4 tree (dim 'baseline', no scan_name, no node attrs) does not pass."""
    ds = av.open_ms(alma_eb.ms)["spw_0"].ds
    old = ds.rename(baseline_id="baseline").drop_vars("scan_name")
    old.attrs = {k: v for k, v in old.attrs.items() if k not in ("data_groups", "schema_version")}
    problems = {str(i.path) for i in _undocumented(check_dataset(old, VisibilityXds))}
    assert "[('dims', None)]" in problems
    assert any("scan_name" in p for p in problems)
    assert any("data_groups" in p for p in problems)


def test_msv4_attrs_match_casacore(alma_eb):
    tree = av.open_ms(alma_eb.ms)
    ds = tree["spw_1"].ds
    with _raw(alma_eb.ms, "SPECTRAL_WINDOW") as spw:
        ref = float(spw.getcell("REF_FREQUENCY", 1))
        widths = np.abs(spw.getcell("CHAN_WIDTH", 1))
        code = int(spw.getcell("MEAS_FREQ_REF", 1))
        name = str(spw.getcell("NAME", 1))
    frames = {1: "lsrk", 5: "TOPO", 3: "BARY"}  # casacore MFrequency codes -> MSv4 observer
    f = ds.frequency.attrs
    assert f["reference_frequency"]["data"] == ref
    assert f["reference_frequency"]["attrs"]["units"] == "Hz"
    assert f["channel_width"]["data"] == float(np.median(widths))
    assert f["observer"] == frames[code] == f["reference_frequency"]["attrs"]["observer"]
    assert f["spectral_window_name"] == name
    with _raw(alma_eb.ms) as t:
        sub = t.query("DATA_DESC_ID==1", columns="TIME,SCAN_NUMBER,INTERVAL")
        rows = {
            round(float(tt), 3): (int(s), float(i))
            for tt, s, i in zip(sub.getcol("TIME"), sub.getcol("SCAN_NUMBER"), sub.getcol("INTERVAL"))
        }
        uvw_ref = t.getcolkeyword("UVW", "MEASINFO")["Ref"]
    with _raw(alma_eb.ms, "FIELD") as fld:
        phase_ref = fld.getcolkeyword("PHASE_DIR", "MEASINFO").get("Ref", "J2000")
    # UVW labelled ITRF by the simulator: MSv4 takes the phase centres' frame (fixvis's convention)
    expected_frame = {"J2000": "fk5", "ICRS": "icrs"}[uvw_ref if uvw_ref in ("J2000", "ICRS") else phase_ref]
    secs = (ds.time.values.astype("datetime64[ns]").astype(np.int64) / 1e9) + CASA_UNIX_EPOCH
    for i in (0, ds.sizes["time"] // 2, ds.sizes["time"] - 1):
        scan, interval = rows[round(float(secs[i]), 3)]
        assert ds.scan_name.values[i] == str(scan)
    assert ds.time.attrs["integration_time"]["data"] == pytest.approx(next(iter(rows.values()))[1])
    assert ds.UVW.attrs["frame"] == expected_frame
    with _raw(alma_eb.ms, "STATE") as st:
        modes = {p for m in st.getcol("OBS_MODE") for p in str(m).split(",") if p}
    assert set(ds.scan_name.attrs["scan_intents"]) <= modes
    groups = ds.attrs["data_groups"]
    assert groups["base"]["correlated_data"] == "VISIBILITY"
    assert groups["corrected"]["correlated_data"] == "VISIBILITY_CORRECTED"
    with _raw(alma_eb.ms, "OBSERVATION") as obs:
        assert ds.attrs["observation_info"]["observer"] == [str(obs.getcell("OBSERVER", 0))]
        assert ds.attrs["observation_info"]["project_UID"] == str(obs.getcell("PROJECT", 0))


def test_spectrum_nodes_pass_xradios_schema_check(tp_eb):
    tree = av.open_ms(tp_eb.ms)
    nodes = [n for n in tree.children if n.startswith("spw_")]
    assert nodes
    for name in nodes:
        ds = tree[name].ds
        # POINTING_DIRECTION's sky_dir_label is almaview's documented extra dimension
        issues = check_dataset(ds, SpectrumXds, allow_superflous_dims={"sky_dir_label"})
        assert not _undocumented(issues), f"{name}: {issues}"
        assert not check_dataset(as_msv4(ds), SpectrumXds, allow_superflous_dims={"sky_dir_label"})
        assert ds.attrs["type"] == "spectrum" and ds.attrs["data_groups"]["base"]["correlated_data"] == "SPECTRUM"
        with _raw(tp_eb.ms) as t:
            first = t.query(f"DATA_DESC_ID=={ds.attrs['data_description_id']}", columns="SCAN_NUMBER", limit=1)
            assert ds.scan_name.values[0] == str(int(first.getcell("SCAN_NUMBER", 0)))


def test_old_baseline_chunk_name_still_works_with_a_warning(alma_eb):
    with pytest.warns(DeprecationWarning, match="baseline_id"):
        tree = av.open_ms(alma_eb.ms, chunks={"time": 5, "baseline": 7})
    ds = tree["spw_0"].ds
    assert ds.VISIBILITY.chunks[1][0] == 7 and ds.VISIBILITY.chunks[0][0] == 5


@pytest.mark.parametrize("name", ["alma_eb", "ngc5921", "tp_eb"])
def test_antennas_node_passes_xradios_antenna_check(request, name):
    eb = request.getfixturevalue(name)
    ants = av.open_ms(eb.ms)["antennas"].ds
    # ANTENNA_POSITION_ENU's enu_label is almaview's documented extra dimension
    assert not check_dataset(ants, AntennaXds, allow_superflous_dims={"enu_label"}), ants
    with _raw(eb.ms, "FEED") as feed, _raw(eb.ms, "OBSERVATION") as obs:
        first = {}
        for row, a in enumerate(feed.getcol("ANTENNA_ID")):
            first.setdefault(int(a), [str(x) for x in feed.getcell("POLARIZATION_TYPE", row)])
        telescope = str(obs.getcell("TELESCOPE_NAME", 0))
    for i in range(ants.sizes["antenna_name"]):
        assert list(ants.polarization_type.values[i]) == first.get(i, first.get(-1))
    assert set(ants.telescope_name.values) == {telescope}

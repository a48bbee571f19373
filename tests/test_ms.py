"""open_ms against python-casacore's own answers (raw getcell), astropy and the sample-data recipe."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from casacore import tables

import almaview as av
from almaview.io import ms as msmod
from almaview.io import msarray
from almaview.io.tables import readonly_view
from almaview.io.backend import AlmaviewBackendEntrypoint

CASA_UNIX_EPOCH = 3506716800.0
DATA_VARS = {
    "DATA": "VISIBILITY",
    "CORRECTED_DATA": "VISIBILITY_CORRECTED",
    "MODEL_DATA": "VISIBILITY_MODEL",
    "FLAG": "FLAG",
    "UVW": "UVW",
    "EXPOSURE": "EFFECTIVE_INTEGRATION_TIME",
}


@pytest.fixture(params=["alma_eb", "ngc5921"])
def sample(request):
    return request.getfixturevalue(request.param)


def _raw(path, subtable=None):
    return tables.table(str(path) + (f"/{subtable}" if subtable else ""), ack=False, readonly=True)


def _cell_of(ds, t_raw, name1, name2):
    """(time index, baseline index) of a row, found from its raw TIME and antenna names."""
    want = np.datetime64(int(round((t_raw - CASA_UNIX_EPOCH) * 1e9)), "ns")
    ti = np.flatnonzero(ds.time.values == want)
    b = np.flatnonzero((ds.baseline_antenna1_name.values == name1) & (ds.baseline_antenna2_name.values == name2))
    assert ti.size == 1 and b.size == 1, (t_raw, name1, name2)
    return int(ti[0]), int(b[0])


def _check_random_cells(path, tree, n=25, seed=3):
    with _raw(path) as t, _raw(path, "ANTENNA") as ant, _raw(path, "DATA_DESCRIPTION") as dd:
        names = ant.getcol("NAME")
        dd_spw = dd.getcol("SPECTRAL_WINDOW_ID")
        cols = set(t.colnames())
        rows = np.random.default_rng(seed).choice(t.nrows(), size=n, replace=False)
        checked = 0
        for row in rows:
            spw = int(dd_spw[t.getcell("DATA_DESC_ID", row)])
            ds = tree[f"spw_{spw}"].ds
            ti, b = _cell_of(ds, t.getcell("TIME", row), names[t.getcell("ANTENNA1", row)],
                             names[t.getcell("ANTENNA2", row)])  # fmt: skip
            for column, var in DATA_VARS.items():
                if column not in cols:
                    continue
                got = ds[var].isel(time=ti, baseline_id=b).values
                np.testing.assert_array_equal(got, t.getcell(column, row), err_msg=f"{column} row {row}")
                checked += 1
            if "WEIGHT_SPECTRUM" in cols and t.iscelldefined("WEIGHT_SPECTRUM", row):
                expected = t.getcell("WEIGHT_SPECTRUM", row)
            else:
                expected = np.broadcast_to(t.getcell("WEIGHT", row)[None, :], ds.WEIGHT.shape[2:])
            np.testing.assert_array_equal(ds.WEIGHT.isel(time=ti, baseline_id=b).values, expected)
    assert checked >= n * 4


def test_cells_equal_casacore_getcell(sample):
    tree = av.open_ms(sample.ms)
    _check_random_cells(sample.ms, tree)


def test_cells_equal_casacore_on_a_row_shuffled_copy(ngc5921, tmp_path):
    # Rows sorted by baseline, not time: the grid must not assume time order.
    with _raw(ngc5921.ms) as t:
        shuffled = t.sort("ANTENNA2, ANTENNA1, TIME DESC")
        copy = shuffled.copy(str(tmp_path / "shuffled.ms"), deep=True)
        copy.close()
    tree = av.open_ms(tmp_path / "shuffled.ms", chunks={"time": 7})
    _check_random_cells(tmp_path / "shuffled.ms", tree, n=15, seed=5)


def test_alma_rows_interleave_spws_and_reads_match(alma_eb):
    # Real ALMA MSs interleave spws in time; whatever the sample's layout, a whole-spw read
    # through almaview equals casacore's read of exactly the rows spw_rows names.
    rows = msmod.spw_rows(alma_eb.ms, 2)
    with _raw(alma_eb.ms) as t:
        expected_rows = t.query("DATA_DESC_ID IN [SELECT ROWID() FROM ::DATA_DESCRIPTION WHERE SPECTRAL_WINDOW_ID==2]")
        np.testing.assert_array_equal(rows, expected_rows.rownumbers())
        raw = t.selectrows(rows.tolist()).getcol("CORRECTED_DATA")
        a1, a2, time = (t.selectrows(rows.tolist()).getcol(c) for c in ("ANTENNA1", "ANTENNA2", "TIME"))
    ds = av.open_ms(alma_eb.ms, chunks={"time": 9})["spw_2"].ds
    got = ds.VISIBILITY_CORRECTED.values
    nant = len(alma_eb.antennas)
    bl = {(i, j): k for k, (i, j) in enumerate(zip(ds.baseline_antenna1_id.values, ds.baseline_antenna2_id.values))}
    ti = np.searchsorted(ds.time.values, ((time - CASA_UNIX_EPOCH) * 1e9).round().astype("int64").astype("M8[ns]"))
    bi = np.array([bl[(i, j)] for i, j in zip(a1, a2)])
    np.testing.assert_array_equal(got[ti, bi], raw)
    assert got.shape[0] * got.shape[1] == rows.size == ds.attrs["n_rows"]  # full grid, no NaN cells
    assert nant * (nant - 1) // 2 <= got.shape[1]


def test_missing_cells_are_nan_and_flagged(ngc5921):
    ds = av.open_ms(ngc5921.ms)["spw_0"].ds
    with _raw(ngc5921.ms) as t:
        nrows = t.nrows()
    cells = ds.sizes["time"] * ds.sizes["baseline_id"]
    missing = cells - nrows
    assert missing > 0  # NGC 5921 lacks a few baselines at some times
    vis = ds.VISIBILITY.isel(frequency=0, polarization=0).values
    assert np.isnan(vis).sum() == missing
    assert ds.FLAG.isel(frequency=0, polarization=0).values[np.isnan(vis)].all()


def test_metadata_matches_subtables(sample):
    tree = av.open_ms(sample.ms)
    ants = tree["antennas"].ds
    with _raw(sample.ms, "ANTENNA") as t:
        np.testing.assert_array_equal(ants.ANTENNA_POSITION.values, t.getcol("POSITION"))
        np.testing.assert_array_equal(ants.ANTENNA_DISH_DIAMETER.values, t.getcol("DISH_DIAMETER"))
        assert list(ants.station_name.values) == list(t.getcol("STATION"))
    with _raw(sample.ms, "SPECTRAL_WINDOW") as t:
        for spw, nchan in sample.spws.items():
            np.testing.assert_array_equal(tree[f"spw_{spw}"].ds.frequency.values, t.getcell("CHAN_FREQ", spw))
            assert tree[f"spw_{spw}"].ds.sizes["frequency"] == nchan == int(tree["spws"].ds.NUM_CHAN[spw])
            assert tree["spws"].ds.REF_FREQUENCY.values[spw] == t.getcell("REF_FREQUENCY", spw)
    assert tree["spw_0"].ds.frequency.attrs["units"] == "Hz"
    with _raw(sample.ms, "FIELD") as t:
        assert list(tree["fields"].ds.field_name.values) == list(t.getcol("NAME"))


def test_enu_offsets_agree_with_astropy(alma_eb):
    from astropy.coordinates import EarthLocation
    import astropy.units as u

    from casacore.measures import measures

    ants = av.open_ms(alma_eb.ms)["antennas"].ds
    pos = ants.ANTENNA_POSITION.values
    dm = measures()  # the array reference is ALMA's observatory position, as casacore's measures know it
    obs = dm.measure(dm.observatory("ALMA"), "ITRF")
    olon, olat, r = obs["m0"]["value"], obs["m1"]["value"], obs["m2"]["value"]
    centre = r * np.array([np.cos(olat) * np.cos(olon), np.cos(olat) * np.sin(olon), np.sin(olat)])
    np.testing.assert_allclose(ants.attrs["array_centre"], centre, atol=1e-3)
    loc = EarthLocation.from_geocentric(*centre, unit=u.m)
    lat, lon = np.deg2rad(loc.lat.deg), np.deg2rad(loc.lon.deg)
    # Independent rotation: local unit vectors from astropy's geodetic latitude/longitude.
    east = np.array([-np.sin(lon), np.cos(lon), 0])
    north = np.array([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
    up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    expected = (pos - centre) @ np.stack([east, north, up]).T
    np.testing.assert_allclose(ants.ANTENNA_POSITION_ENU.values, expected, atol=1e-6)
    assert np.abs(ants.ANTENNA_POSITION_ENU.sel(enu_label="up").values).max() < 50  # a flat site


def test_field_directions_are_icrs(sample):
    # CASA's own J2000 -> ICRS conversion (IAU 2000 frame bias) is the reference.
    from almaview import casa

    ct = casa.casatools()
    me, qa = ct.measures(), ct.quanta()
    fields = av.open_ms(sample.ms)["fields"].ds
    with _raw(sample.ms, "FIELD") as t:
        raw = t.getcol("PHASE_DIR")[:, 0, :]
        ref = t.getcolkeyword("PHASE_DIR", "MEASINFO").get("Ref", "ICRS")
    for (ra, dec), got in zip(raw, fields.FIELD_PHASE_CENTER.values):
        m = me.measure(me.direction(ref, qa.quantity(ra, "rad"), qa.quantity(dec, "rad")), "ICRS")
        expected = np.array([m["m0"]["value"], m["m1"]["value"]])
        d_ra = (got[0] - expected[0] + np.pi) % (2 * np.pi) - np.pi
        assert abs(d_ra * np.cos(expected[1])) < 1e-10 and abs(got[1] - expected[1]) < 1e-10  # ~0.02 mas
    me.done()


def test_intents_match_state_table(alma_eb):
    tree = av.open_ms(alma_eb.ms)
    ds = tree["spw_0"].ds
    with _raw(alma_eb.ms) as t, _raw(alma_eb.ms, "STATE") as st, _raw(alma_eb.ms, "FIELD") as f:
        modes = st.getcol("OBS_MODE")
        fnames = f.getcol("NAME")
        sub = t.query("DATA_DESC_ID==0", columns="TIME, STATE_ID, FIELD_ID, SCAN_NUMBER")
        time, state, field, scan = (sub.getcol(c) for c in ("TIME", "STATE_ID", "FIELD_ID", "SCAN_NUMBER"))
    ti = np.searchsorted(ds.time.values, ((time - CASA_UNIX_EPOCH) * 1e9).round().astype("int64").astype("M8[ns]"))
    for i in np.unique(ti)[::7]:
        row = np.flatnonzero(ti == i)[0]
        assert set(ds.intents.values[i].split(",")) == set(modes[state[row]].split(","))
        assert ds.field_name.values[i] == fnames[field[row]]
        assert ds.scan_number.values[i] == scan[row]
    # spws per scan, against a TaQL query of the same scan
    with _raw(alma_eb.ms) as t:
        for scan_number, spw_ids in zip(tree["scans"].ds.scan_number.values, tree["scans"].ds.spw_ids.values):
            q = tables.taql(
                f"SELECT DISTINCT SPECTRAL_WINDOW_ID FROM {alma_eb.ms}/DATA_DESCRIPTION WHERE "
                f"ROWID() IN [SELECT DISTINCT DATA_DESC_ID FROM $t WHERE SCAN_NUMBER=={scan_number}]"
            )
            assert sorted(int(x) for x in spw_ids.split(",")) == sorted(q.getcol("SPECTRAL_WINDOW_ID").tolist())
    # every field's recipe intent shows up in the scans of that field
    scans = tree["scans"].ds
    for name, intent in alma_eb.fields.items():
        of_field = scans.intents.values[scans.field_name.values == name]
        assert of_field.size and all(intent.split("#")[0] in s for s in of_field), (name, intent, of_field)


def test_root_attrs_describe_the_eb(alma_eb):
    tree = av.open_ms(alma_eb.ms)
    with _raw(alma_eb.ms, "OBSERVATION") as t:
        project = t.getcell("PROJECT", 0)
        telescope = t.getcell("TELESCOPE_NAME", 0)
        tr = t.getcell("TIME_RANGE", 0)
    assert tree.attrs["project_code"] == project
    assert tree.attrs["telescope"] == telescope == "ALMA"
    assert tree.attrs["execblock_uid"] == alma_eb.eb_uid.replace("___", "://").replace("_", "/") or alma_eb.eb_uid
    assert tree.attrs["execblock_uid"].startswith("uid://A002/")
    assert tree.attrs["path"] == str(alma_eb.ms.resolve())
    start = np.datetime64(tree.attrs["time_start"])
    assert abs((start - np.datetime64(int((tr[0] - CASA_UNIX_EPOCH) * 1e9), "ns")) / np.timedelta64(1, "s")) < 60
    text = repr(tree)
    assert "ALMA" in text and "spw_0" in text
    labels = tree["spws"].ds.spw_label.values
    assert all(label.startswith(f"spw {i} · ") and "GHz" in label for i, label in enumerate(labels))


@pytest.mark.parametrize(
    "name, kind",
    [
        ("WVR#NOMINAL", "WVR"),
        ("WVR#Antenna", "WVR"),
        ("X123#ALMA_RB_03#BB_1#SW-01#CH_AVG", "CH_AVG"),
        ("BB_2#SQLD", "SQLD"),
        ("X123#ALMA_RB_03#BB_1#SW-01#FULL_RES", "FULL_RES"),
        ("none", ""),
    ],
)
def test_alma_spw_kinds_are_recognised(name, kind):
    from almaview.io.msmeta import spw_kind

    assert spw_kind(name) == kind


def test_opening_reads_only_index_columns(alma_eb, monkeypatch):
    reads: list[tuple[str, str]] = []
    for method in ("getcol", "getcolslice", "getcolnp", "getcolslicenp", "getcell", "getcellslice", "getvarcol"):
        original = getattr(tables.table, method)

        def spy(self, columnname, *args, _original=original, **kwargs):
            reads.append((self.name(), columnname))
            return _original(self, columnname, *args, **kwargs)

        monkeypatch.setattr(tables.table, method, spy)
    msmod.forget_trees()  # a cold open (an unchanged MS opened again reads nothing)
    tree = av.open_ms(alma_eb.ms)
    main = str(readonly_view(alma_eb.ms))  # casacore reads the table through its view in the cache
    main_reads = [col for table, col in reads if table.rstrip("/") == main]
    # besides the index: one INTERVAL cell per spw node (MSv4's time.attrs['integration_time'])
    nodes = [n for n in tree.children if n.startswith("spw_")]
    assert main_reads.count("INTERVAL") == len(nodes)
    main_reads = [c for c in main_reads if c != "INTERVAL"]
    assert set(main_reads) <= set(msmod.INDEX_COLUMNS), main_reads
    assert len(main_reads) == len(set(main_reads)), "an index column was read twice"
    assert {"TIME", "ANTENNA1", "ANTENNA2", "DATA_DESC_ID"} <= set(main_reads)


def test_isel_reads_only_the_rows_it_needs(alma_eb, monkeypatch):
    seen: list[int] = []
    original = msarray.read_rows

    def spy(table, column, rows, *args, **kwargs):
        seen.append(len(rows))
        return original(table, column, rows, *args, **kwargs)

    monkeypatch.setattr(msarray, "read_rows", spy)
    ds = av.open_ms(alma_eb.ms)["spw_1"].ds  # default chunks: one chunk holds every time here
    nbl = ds.sizes["baseline_id"]
    assert ds.VISIBILITY.chunks[0][0] > 10
    ds.VISIBILITY.isel(time=slice(4, 6)).values  # dask fuses the slice into the read
    assert seen == [2 * nbl]
    seen.clear()
    ds.FLAG.isel(time=10, frequency=slice(5, 9)).values
    assert seen == [nbl]
    # Without dask (xarray's lazy indexing), any outer selection reads only its rows.
    lazy = xr.open_dataset(alma_eb.ms, engine="almaview", group="spw_1")
    seen.clear()
    lazy.VISIBILITY.isel(time=[4, 9], baseline_id=[0, 5, 7]).values
    assert seen == [2 * 3]


def test_chunks_and_dask(alma_eb):
    ds = av.open_ms(alma_eb.ms, chunks={"time": 10})["spw_0"].ds
    assert ds.VISIBILITY.chunks[0][0] == 10
    assert ds.VISIBILITY.chunks[1] == (ds.sizes["baseline_id"],)
    assert ds.field_name.dtype.kind == "U"  # per-time coordinates stay numpy
    amp = abs(ds.VISIBILITY_CORRECTED).mean("frequency")
    assert amp.chunks is not None
    default = av.open_ms(alma_eb.ms)["spw_0"].ds
    nbytes = default.VISIBILITY.data.chunksize
    assert np.prod(nbytes) * 8 <= 128 * 2**20


def test_spw_rows_are_the_rows_of_the_node(ngc5921):
    rows = msmod.spw_rows(ngc5921.ms, 0)
    with _raw(ngc5921.ms) as t:
        np.testing.assert_array_equal(rows, t.query("DATA_DESC_ID==0").rownumbers())
    assert msmod.spw_rows(ngc5921.ms, 99).size == 0


def test_xarray_backend_opens_ms_and_caltables(alma_eb):
    tree = xr.open_datatree(alma_eb.ms, engine="almaview")
    assert {"antennas", "spws", "spw_0"} <= set(tree.children)
    chunked = xr.open_datatree(alma_eb.ms, engine="almaview", chunks={})
    assert chunked["spw_0"].ds.VISIBILITY.chunks is not None
    ds = xr.open_dataset(alma_eb.ms, engine="almaview", group="spw_1")
    with _raw(alma_eb.ms, "SPECTRAL_WINDOW") as t:
        np.testing.assert_array_equal(ds.frequency.values, t.getcell("CHAN_FREQ", 1))
    entry = AlmaviewBackendEntrypoint()
    assert entry.guess_can_open(alma_eb.ms)
    assert entry.guess_can_open(alma_eb.caltables["bandpass"])
    assert not entry.guess_can_open(alma_eb.ms / "ANTENNA")
    assert not entry.guess_can_open(alma_eb.ms.parent)
    assert not entry.guess_can_open("/no/such/table")
    cal = xr.open_datatree(alma_eb.caltables["bandpass"], engine="almaview")
    assert any(name.startswith("spw_") for name in cal.children)


def test_second_polarization_setup_gets_its_own_node(ngc5921, tmp_path):
    # A copy of NGC 5921 whose last scan is relabelled as a second polarization setup (RL, LR)
    # of the same spw: open_ms must show it as spw_0_pol1 with casacore's values.
    target = tmp_path / "twopol.ms"
    with _raw(ngc5921.ms) as t:
        t.copy(str(target), deep=True).close()
    with tables.table(str(target / "POLARIZATION"), readonly=False, ack=False) as pol:
        pol.addrows(1)
        pol.putcell("CORR_TYPE", 1, np.array([6, 7], np.int32))
        pol.putcell("CORR_PRODUCT", 1, np.array([[0, 1], [1, 0]], np.int32))
        pol.putcell("NUM_CORR", 1, 2)
    with tables.table(str(target / "DATA_DESCRIPTION"), readonly=False, ack=False) as dd:
        dd.addrows(1)
        dd.putcell("SPECTRAL_WINDOW_ID", 1, 0)
        dd.putcell("POLARIZATION_ID", 1, 1)
    with tables.table(str(target), readonly=False, ack=False) as t:
        last = int(t.getcol("SCAN_NUMBER").max())
        t.query(f"SCAN_NUMBER=={last}").putcol(
            "DATA_DESC_ID", np.ones(t.query(f"SCAN_NUMBER=={last}").nrows(), np.int32)
        )
    tree = av.open_ms(target)
    assert {"spw_0", "spw_0_pol1"} <= set(tree.children)
    second = tree["spw_0_pol1"].ds
    assert list(second.polarization.values) == ["RL", "LR"]
    assert set(second.scan_number.values) == {last}
    assert last not in set(tree["spw_0"].ds.scan_number.values)
    _check_random_cells_in(target, tree, node="spw_0_pol1", query="DATA_DESC_ID==1")


def _check_random_cells_in(path, tree, node, query, n=10):
    ds = tree[node].ds
    with _raw(path) as t, _raw(path, "ANTENNA") as ant:
        names = ant.getcol("NAME")
        sub = t.query(query)
        for r in np.random.default_rng(1).choice(sub.nrows(), n, replace=False):
            ti, b = _cell_of(ds, sub.getcell("TIME", r), names[sub.getcell("ANTENNA1", r)],
                             names[sub.getcell("ANTENNA2", r)])  # fmt: skip
            np.testing.assert_array_equal(ds.VISIBILITY.isel(time=ti, baseline_id=b).values, sub.getcell("DATA", r))
            np.testing.assert_array_equal(ds.FLAG.isel(time=ti, baseline_id=b).values, sub.getcell("FLAG", r))


def test_default_chunks_split_baselines_when_one_time_is_too_big(alma_eb):
    ds = msmod.build_tree(alma_eb.ms)["spw_0"].to_dataset()
    per_time = ds.VISIBILITY.dtype.itemsize * int(np.prod(ds.VISIBILITY.shape[1:]))
    assert msmod.default_chunks(ds, target_bytes=10 * per_time) == {"time": min(10, ds.sizes["time"])}
    small = msmod.default_chunks(ds, target_bytes=per_time // 4)
    assert small["time"] == 1 and 1 <= small["baseline_id"] <= ds.sizes["baseline_id"] // 4 + 1
    assert av.open_ms(alma_eb.ms, chunks=5)["spw_0"].ds.VISIBILITY.chunks[0][0] == 5


def test_cube_blocks_are_channel_contiguous_and_equal_casacore(alma_eb):
    """Reads hand over (time, baseline_id, frequency, polarization) blocks whose channels are contiguous in memory
    (reductions over frequency run ~2x faster end to end); values are casacore's, layout aside."""
    arr = msmod.build_tree(alma_eb.ms)["spw_0"].ds.VISIBILITY.variable._data.array
    block = arr.read(np.arange(2), np.arange(arr.shape[1]), np.arange(arr.shape[2]), np.arange(arr.shape[3]))
    assert block.strides[2] == block.itemsize  # frequency varies fastest
    rows = msmod.spw_rows(alma_eb.ms, 0)[: 2 * arr.shape[1]]
    with _raw(alma_eb.ms) as t:
        raw = np.stack([t.getcell("DATA", int(r)) for r in rows])
    np.testing.assert_array_equal(block.reshape(raw.shape), raw)


def test_an_unchanged_ms_is_read_once_and_a_changed_one_again(tmp_path, monkeypatch):
    """open_ms reuses the tree it built for the same version of an MS (the report read every EB's MS twice: the
    delivery's listing, then the panels); a change to the main table or a subtable (here FIELD's NAME, written with
    python-casacore) is read again."""
    from mstables import write_ms

    path = tmp_path / "a.ms"
    write_ms(path)
    calls = []
    real = msmod.build_tree
    monkeypatch.setattr(msmod, "build_tree", lambda p: (calls.append(p), real(p))[1])
    msmod.forget_trees()
    first, again = av.open_ms(path), av.open_ms(str(path))
    assert len(calls) == 1 and first is not again  # a new tree each time, over one read
    with tables.table(str(path / "FIELD"), readonly=False, ack=False) as t:
        t.putcell("NAME", 0, "renamed")
    changed = av.open_ms(path)
    assert len(calls) == 2 and "renamed" in changed["fields"].ds.field_name.values.astype(str).tolist()
    assert "renamed" not in first["fields"].ds.field_name.values.astype(str).tolist()

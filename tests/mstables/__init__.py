"""Small measurement sets and calibration tables written directly with python-casacore (no CASA).

They follow the MS v2 and CASA 3.4+ caltable layouts (python-casacore's ``default_ms`` and
``default_ms_subtable`` descriptions, the columns CASA's solvers write), hold deterministic
random data, and take well under a second to write, so io/analysis/plots tests run fast.
Tests compare what almaview reads with what these writers put in (known arrays) and with
raw python-casacore reads.

``write_ms(path, ...)`` and ``write_caltable(path, ...)`` return a :class:`Written` record of what
was written (antennas, spws, times, data) for the tests' expectations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: ALMA's observatory position (ITRF, m): the array reference the measures know as 'ALMA'.
ALMA_XYZ = np.array([2225142.18, -5440307.37, -2481029.85])
#: VLA's observatory position (ITRF, m).
VLA_XYZ = np.array([-1601185.4, -5041977.5, 3554875.9])

CASA_EPOCH_2024 = 5.1e9  # MJD seconds, mid-2020s


@dataclass
class Written:
    """What a writer put into a table (the tests' expectations)."""

    path: Path
    antennas: list[str] = field(default_factory=list)
    positions: np.ndarray | None = None
    spws: list[np.ndarray] = field(default_factory=list)  # channel frequencies per spw
    times: np.ndarray | None = None
    data: dict[str, np.ndarray] = field(default_factory=dict)  # column -> (row, chan, corr) in row order
    rows: dict[str, np.ndarray] = field(default_factory=dict)  # index columns as written


def _enu_to_itrf(enu: np.ndarray, centre: np.ndarray) -> np.ndarray:
    x, y, z = centre
    lon = np.arctan2(y, x)
    lat = np.arctan2(z, np.hypot(x, y))  # geocentric latitude is close enough for a layout
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    rot = np.array([[-so, co, 0.0], [-sl * co, -sl * so, cl], [cl * co, cl * so, sl]])
    return centre + np.asarray(enu, float) @ rot


def _link_subtable(t, name: str, path: Path, desc: dict | None = None, nrow: int = 0):
    from casacore import tables

    sub = tables.default_ms_subtable(name, str(path / name), desc or {})
    if nrow:
        sub.addrows(nrow)
    t.putkeyword(name, "Table: " + str(path / name))
    return sub


def write_ms(
    path: str | Path,
    *,
    telescope: str = "ALMA",
    n_antennas: int = 5,
    idle_antennas: int = 0,
    zero_antennas: int = 0,
    centre: np.ndarray = ALMA_XYZ,
    spws: tuple[tuple[int, float, float], ...] = ((16, 230.0e9, 1.0e6), (8, 232.0e9, 2.0e6)),
    corr_types: tuple[int, ...] = (9, 12),
    n_times: int = 6,
    interval: float = 6.048,
    corrected: bool = True,
    weight_spectrum: bool = False,
    field_frame: str = "J2000",
    field_dirs: tuple[tuple[float, float], ...] = ((1.0, -0.5), (1.1, -0.4)),
    autocorrelations: bool = True,
    nrows: int | None = None,
    seed: int = 0,
) -> Written:
    """Write a small MS: ``n_antennas`` with data, ``idle_antennas`` listed without data,
    ``zero_antennas`` listed at (0, 0, 0) without data; one data description per spw, rows
    time-major (time, then spw, then baseline), as ALMA writes them.

    ``nrows=0`` writes every subtable but no main-table rows.
    """
    from casacore import tables

    path = Path(path)
    rng = np.random.default_rng(seed)
    ncorr = len(corr_types)
    extra = [
        tables.makearrcoldesc("DATA", 0j, ndim=2, valuetype="complex"),
    ]
    if corrected:
        extra.append(tables.makearrcoldesc("CORRECTED_DATA", 0j, ndim=2, valuetype="complex"))
    if weight_spectrum:
        extra.append(tables.makearrcoldesc("WEIGHT_SPECTRUM", 0.0, ndim=2, valuetype="float"))
    t = tables.default_ms(str(path), tables.maketabdesc(extra))

    # ANTENNA: data antennas on a ring, then idle ones, then (0,0,0) rows.
    names = [f"DA{41 + i}" for i in range(n_antennas + idle_antennas + zero_antennas)]
    angle = np.linspace(0, 2 * np.pi, n_antennas + idle_antennas, endpoint=False)
    radius = np.where(np.arange(n_antennas + idle_antennas) < n_antennas, 150.0, 4000.0)
    enu = np.stack([radius * np.cos(angle), radius * np.sin(angle), np.zeros_like(angle)], axis=1)
    pos = np.concatenate([_enu_to_itrf(enu, centre), np.zeros((zero_antennas, 3))])
    ant = _link_subtable(t, "ANTENNA", path, nrow=len(names))
    ant.putcol("NAME", names)
    ant.putcol("STATION", [f"A{i:03d}" for i in range(len(names))])
    ant.putcol("POSITION", pos)
    ant.putcol("DISH_DIAMETER", np.full(len(names), 12.0))
    ant.putcol("MOUNT", ["ALT-AZ"] * len(names))
    ant.putcol("TYPE", ["GROUND-BASED"] * len(names))
    ant.close()

    freqs = []
    spw = _link_subtable(t, "SPECTRAL_WINDOW", path, nrow=len(spws))
    for i, (nchan, f0, df) in enumerate(spws):
        f = f0 + df * np.arange(nchan)
        freqs.append(f)
        spw.putcell("CHAN_FREQ", i, f)
        spw.putcell("CHAN_WIDTH", i, np.full(nchan, df))
        spw.putcell("EFFECTIVE_BW", i, np.full(nchan, df))
        spw.putcell("RESOLUTION", i, np.full(nchan, df))
        spw.putcell("NUM_CHAN", i, nchan)
        spw.putcell("REF_FREQUENCY", i, f0)
        spw.putcell("TOTAL_BANDWIDTH", i, nchan * df)
        spw.putcell("NAME", i, f"X1#ALMA_RB_06#BB_{i + 1}#SW-01#FULL_RES" if telescope == "ALMA" else f"SPW{i}")
        spw.putcell("MEAS_FREQ_REF", i, 5)  # TOPO
        spw.putcell("NET_SIDEBAND", i, 1)
    spw.close()

    pol = _link_subtable(t, "POLARIZATION", path, nrow=1)
    pol.putcell("NUM_CORR", 0, ncorr)
    pol.putcell("CORR_TYPE", 0, np.array(corr_types, np.int32))
    pol.putcell("CORR_PRODUCT", 0, np.zeros((ncorr, 2), np.int32))
    pol.close()

    dd = _link_subtable(t, "DATA_DESCRIPTION", path, nrow=len(spws))
    dd.putcol("SPECTRAL_WINDOW_ID", np.arange(len(spws), dtype=np.int32))
    dd.putcol("POLARIZATION_ID", np.zeros(len(spws), np.int32))
    dd.close()

    fld = _link_subtable(t, "FIELD", path, nrow=len(field_dirs))
    dirs = np.array(field_dirs, float).reshape(len(field_dirs), 1, 2)
    for col in ("PHASE_DIR", "DELAY_DIR", "REFERENCE_DIR"):
        fld.putcol(col, dirs)
        kw = fld.getcolkeywords(col)
        kw["MEASINFO"] = {"type": "direction", "Ref": field_frame}
        fld.putcolkeywords(col, kw)
    fld.putcol("NAME", [f"field{i}" for i in range(len(field_dirs))])
    fld.putcol("SOURCE_ID", np.arange(len(field_dirs), dtype=np.int32))
    fld.close()

    obs = _link_subtable(t, "OBSERVATION", path, nrow=1)
    obs.putcell("TELESCOPE_NAME", 0, telescope)
    obs.putcell("OBSERVER", 0, "tester")
    obs.putcell("PROJECT", 0, "2024.1.00001.S")
    obs.putcell("TIME_RANGE", 0, np.array([CASA_EPOCH_2024, CASA_EPOCH_2024 + n_times * interval]))
    obs.close()

    st = _link_subtable(t, "STATE", path, nrow=2)
    st.putcol("OBS_MODE", ["CALIBRATE_BANDPASS#ON_SOURCE", "OBSERVE_TARGET#ON_SOURCE"])
    st.close()
    for name in ("FEED", "FLAG_CMD", "HISTORY", "POINTING", "PROCESSOR"):
        _link_subtable(t, name, path).close()

    pairs = [(a, b) for a in range(n_antennas) for b in range(a if autocorrelations else a + 1, n_antennas)]
    times = CASA_EPOCH_2024 + interval * (np.arange(n_times) + 0.5)
    rec = []  # (time, ddid, a1, a2)
    for ti, tm in enumerate(times):
        for d in range(len(spws)):
            for a, b in pairs:
                rec.append((tm, d, a, b, ti))
    if nrows is not None:
        rec = rec[:nrows]
    n = len(rec)
    written = Written(path, antennas=names, positions=pos, spws=freqs, times=times)
    if n:
        t.addrows(n)
        arr = np.array(rec)
        time, ddid = arr[:, 0], arr[:, 1].astype(np.int32)
        a1, a2 = arr[:, 2].astype(np.int32), arr[:, 3].astype(np.int32)
        tidx = arr[:, 4].astype(int)
        t.putcol("TIME", time)
        t.putcol("TIME_CENTROID", time)
        t.putcol("INTERVAL", np.full(n, interval))
        t.putcol("EXPOSURE", np.full(n, interval * 0.95))
        t.putcol("DATA_DESC_ID", ddid)
        t.putcol("ANTENNA1", a1)
        t.putcol("ANTENNA2", a2)
        t.putcol("FIELD_ID", (tidx >= n_times // 2).astype(np.int32))
        t.putcol("SCAN_NUMBER", (1 + (tidx >= n_times // 2)).astype(np.int32))
        t.putcol("STATE_ID", (tidx >= n_times // 2).astype(np.int32))
        uvw = (pos[a2] - pos[a1]) * np.array([1.0, 1.0, 0.1])
        t.putcol("UVW", uvw)
        data, corr, flag, weight = [], [], [], []
        for r in range(n):
            nchan = len(freqs[ddid[r]])
            shape = (nchan, ncorr)
            d = (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)
            data.append(d)
            corr.append((d * 2).astype(np.complex64))
            flag.append(rng.random(shape) < 0.1)
            weight.append(rng.uniform(0.5, 2.0, ncorr).astype(np.float32))
            t.putcell("DATA", r, d)
            if corrected:
                t.putcell("CORRECTED_DATA", r, corr[-1])
            t.putcell("FLAG", r, flag[-1])
            t.putcell("WEIGHT", r, weight[-1])
            t.putcell("SIGMA", r, 1 / np.sqrt(weight[-1]))
            if weight_spectrum:
                t.putcell("WEIGHT_SPECTRUM", r, np.broadcast_to(weight[-1], shape).astype(np.float32))
        written.data = {"DATA": data, "FLAG": flag, "WEIGHT": weight}
        if corrected:
            written.data["CORRECTED_DATA"] = corr
        written.rows = {"TIME": time, "DATA_DESC_ID": ddid, "ANTENNA1": a1, "ANTENNA2": a2}
    t.close()
    return written


def write_caltable(
    path: str | Path,
    *,
    viscal: str = "G Jones",
    telescope: str = "ALMA",
    n_antennas: int = 4,
    spws: tuple[tuple[int, float, float], ...] = ((1, 230.0e9, 1.0e6), (1, 232.0e9, 1.0e6)),
    n_times: int = 3,
    n_par: int = 2,
    pol_basis: str = "LINEAR",
    seed: int = 0,
) -> Written:
    """Write a small CASA 3.4+ calibration table: CPARAM for Jones tables, FPARAM for
    ``B TSYS`` and ``K Jones``; one row per (time, spw, antenna)."""
    from casacore import tables

    path = Path(path)
    rng = np.random.default_rng(seed)
    complex_par = viscal not in ("B TSYS", "K Jones")
    par = "CPARAM" if complex_par else "FPARAM"
    cols = [
        tables.makescacoldesc("TIME", 0.0), tables.makescacoldesc("FIELD_ID", 0),
        tables.makescacoldesc("SPECTRAL_WINDOW_ID", 0), tables.makescacoldesc("ANTENNA1", 0),
        tables.makescacoldesc("ANTENNA2", -1), tables.makescacoldesc("INTERVAL", 0.0),
        tables.makescacoldesc("SCAN_NUMBER", 0), tables.makescacoldesc("OBSERVATION_ID", 0),
        tables.makearrcoldesc(par, 0j if complex_par else 0.0, ndim=2,
                              valuetype="complex" if complex_par else "float"),
        tables.makearrcoldesc("PARAMERR", 0.0, ndim=2, valuetype="float"),
        tables.makearrcoldesc("FLAG", False, ndim=2), tables.makearrcoldesc("SNR", 0.0, ndim=2, valuetype="float"),
        tables.makearrcoldesc("WEIGHT", 0.0, ndim=2, valuetype="float"),
    ]  # fmt: skip
    t = tables.table(str(path), tables.maketabdesc(cols), ack=False)
    t.putinfo({"type": "Calibration", "subType": viscal, "readme": ""})
    t.putkeyword("ParType", "Complex" if complex_par else "Float")
    t.putkeyword("MSName", "uid___A002_X1_X2.ms")
    t.putkeyword("VisCal", viscal)
    t.putkeyword("PolBasis", pol_basis)

    names = [f"DA{41 + i}" for i in range(n_antennas)]
    ant = _link_subtable(t, "ANTENNA", path, nrow=n_antennas)
    ant.putcol("NAME", names)
    ant.putcol("STATION", [f"A{i:03d}" for i in range(n_antennas)])
    ant.putcol("POSITION", _enu_to_itrf(rng.normal(scale=100, size=(n_antennas, 3)) * [1, 1, 0], ALMA_XYZ))
    ant.putcol("DISH_DIAMETER", np.full(n_antennas, 12.0))
    ant.close()
    fld = _link_subtable(t, "FIELD", path, nrow=1)
    fld.putcol("NAME", ["J1924-2914"])
    fld.close()
    freqs = []
    spw = _link_subtable(t, "SPECTRAL_WINDOW", path, nrow=len(spws))
    for i, (nchan, f0, df) in enumerate(spws):
        f = f0 + df * np.arange(nchan)
        freqs.append(f)
        spw.putcell("CHAN_FREQ", i, f)
        spw.putcell("CHAN_WIDTH", i, np.full(nchan, df))
        spw.putcell("NUM_CHAN", i, nchan)
        spw.putcell("NAME", i, f"SPW{i}")
    spw.close()
    obs = _link_subtable(t, "OBSERVATION", path, nrow=1)
    obs.putcell("TELESCOPE_NAME", 0, telescope)
    obs.close()
    _link_subtable(t, "HISTORY", path).close()

    times = CASA_EPOCH_2024 + 60.0 * np.arange(n_times)
    params = []
    r = 0
    for tm in times:
        for s, f in enumerate(freqs):
            for a in range(n_antennas):
                t.addrows(1)
                shape = (len(f), n_par)
                if complex_par:
                    v = (rng.uniform(0.8, 1.2, shape) * np.exp(1j * rng.uniform(-1, 1, shape))).astype(np.complex64)
                else:
                    v = rng.uniform(50, 150, shape).astype(np.float32)
                params.append(v)
                t.putcell("TIME", r, tm)
                t.putcell("SPECTRAL_WINDOW_ID", r, s)
                t.putcell("ANTENNA1", r, a)
                t.putcell("SCAN_NUMBER", r, 1)
                t.putcell(par, r, v)
                t.putcell("PARAMERR", r, np.full(shape, 0.01, np.float32))
                t.putcell("FLAG", r, np.zeros(shape, bool))
                t.putcell("SNR", r, np.full(shape, 30.0, np.float32))
                t.putcell("WEIGHT", r, np.ones(shape, np.float32))
                r += 1
    t.close()
    return Written(path, antennas=names, spws=freqs, times=times, data={par: params})


def check_antenna_labels(path: str | Path, tree) -> int:
    """Check, against raw python-casacore, that a caltable tree's ``antenna_name`` labels each antenna's rows.

    Per spw and ANTENNA1 of the table's rows: ``.sel(antenna_name=ANTENNA.NAME[ANTENNA1])`` on the spw node holds
    exactly those rows' parameter values (CPARAM/FPARAM cells, compared as sorted multisets: NaN-filled
    absent cells left out) and ``antenna_id`` == ANTENNA1. Antennas must differ in their values (or some antennas
    have no rows), so that a permuted labelling cannot pass. Returns the number of (spw, antenna) checked.
    """
    from casacore import tables

    path = Path(path)
    with tables.table(str(path), ack=False) as t:
        column = "CPARAM" if "CPARAM" in t.colnames() else "FPARAM"
        spw, ant = t.getcol("SPECTRAL_WINDOW_ID"), t.getcol("ANTENNA1")
        cells = [np.asarray(t.getcell(column, r)) for r in range(t.nrows())]
    with tables.table(str(path / "ANTENNA"), ack=False) as a:
        names = [str(n) for n in a.getcol("NAME")]
    var = "gain" if column == "CPARAM" else "value"
    distinct, checked, cells_of_grid = set(), 0, 0
    for s in np.unique(spw):
        ds = tree[f"spw_{int(s)}"].ds
        assert ds[var].dims[:2] == ("time", "antenna_name"), ds[var].dims
        cells_of_grid += ds.sizes["antenna_name"]
        for a in np.unique(ant[spw == s]):
            rows = np.flatnonzero((spw == s) & (ant == a))
            expected = np.concatenate([cells[r].ravel() for r in rows])
            expected = np.sort(expected[np.isfinite(np.abs(expected))])
            node = ds.sel(antenna_name=names[int(a)])
            assert int(node.antenna_id) == int(a), (int(s), names[int(a)], int(node.antenna_id))
            got = np.asarray(node[var].values).ravel()
            got = np.sort(got[np.isfinite(np.abs(got))])
            np.testing.assert_array_equal(got, expected, err_msg=f"spw {int(s)}, antenna {names[int(a)]}")
            distinct.add(expected.tobytes())
            checked += 1
    # a mislabelling moves values to another antenna: seen unless all antennas hold the same values
    assert len(distinct) > 1 or checked < cells_of_grid, "all antennas hold the same values: labels not checkable"
    return checked


def remove_lock_files(root: str | Path) -> int:
    """Delete every ``table.lock`` under ``root`` (as in a copied or freshly untarred package)."""
    n = 0
    for p in Path(root).rglob("table.lock"):
        p.unlink()
        n += 1
    return n

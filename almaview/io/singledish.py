"""Single-dish measurement sets (ALMA Total Power) as lazy xarray DataTrees.

A single-dish MS holds autocorrelations only, its data in ``FLOAT_DATA`` as the
single-dish import writes it (``CORRECTED_DATA`` after ``applycal``; ``DATA``
after ``sdbaseline``/``split``). :func:`almaview.io.ms.open_ms` hands such an MS
here and gets, per spw, xradio's MSv4 spectrum layout:

- ``SPECTRUM`` (FLOAT_DATA, or the real part of DATA when there is no FLOAT_DATA)
  and ``SPECTRUM_CORRECTED`` (the real part of CORRECTED_DATA), FLAG and WEIGHT,
  all over ``(time, antenna_name, frequency, polarization)``;
- ``EFFECTIVE_INTEGRATION_TIME`` over ``(time, antenna_name)``;
- per-time ``field_name``, ``scan_name`` (MSv4), ``scan_number`` and ``intents``
  (``OBSERVE_TARGET#ON_SOURCE``, ``OBSERVE_TARGET#OFF_SOURCE``, ...);
- ``POINTING_DIRECTION`` over ``(time, antenna_name, sky_dir_label)`` from the
  POINTING table (its DIRECTION, linearly interpolated in time per antenna; the
  table's own values where a pointing row has the integration's time).

The rows are read lazily exactly as for interferometric data: the
``antenna_name`` axis takes the place of ``baseline_id`` in the row grid. Names and attrs follow
xradio's MSv4 ``SpectrumXds`` (:mod:`almaview.io.msv4` lists almaview's extras and the differences);
the spectra's ``units`` come from the data (:func:`spectrum_units`: counts raw, K or Jy calibrated).

Why this module is long: it is the whole single-dish reader, each part needed by the others' tree: the spw
datasets, the POINTING interpolation, the units (column keywords and the MS HISTORY), the Jy/K factors file.

Examples
--------
>>> import almaview as av
>>> tp = av.open_ms("uid___A002_X10ab2c3_X3c11.ms")              # doctest: +SKIP
>>> tp["spw_0"].ds.SPECTRUM.dims                                   # doctest: +SKIP
('time', 'antenna_name', 'frequency', 'polarization')
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from . import msmeta, msv4
from .rowgrid import RowGrid
from .table import open_table

#: MS column -> data variable of a single-dish node (xradio MSv4 names); their ``units`` (:func:`spectrum_units`):
#: raw power in counts, the antenna temperature Ta* in K after ``sdcal`` sky + Tsys, Jy after a Jy/K factor.
SPECTRUM_COLUMNS = {"FLOAT_DATA": "SPECTRUM", "CORRECTED_DATA": "SPECTRUM_CORRECTED"}

#: words in a caltable's name that tell its single-dish calibration (the pipeline's task names, CASA's kinds)
_CALTABLE_KINDS = {
    "tsys": ("tsyscal", "tsys"),
    "sky": ("skycal", ".ps.", ".otfraster.", ".otf.", "sky"),
    "jyperk": ("k2jycal", "jyperk", "ampcal", ".amp."),
}
#: tasks that write a calibrated column of their input into the output MS's DATA/FLOAT_DATA
_COPYING_TASKS = ("sdbaseline", "split", "mstransform", "sdsmooth", "sdatmcor")


def _history(path) -> list[str]:
    try:
        with open_table(path, "HISTORY") as t:
            return [str(m) for m in t.getcol("MESSAGE")] if t.nrows() else []
    except Exception:  # no HISTORY table: nothing known
        return []


def _task_calls(messages: list[str]) -> list[tuple[str, dict[str, str]]]:
    """(task, {parameter: value text}) of every task call that CASA's ``write_history`` recorded, oldest first.

    ``write_history`` writes 'taskname=<task>' and then one 'name = value' message per parameter.
    """
    calls: list[tuple[str, dict[str, str]]] = []
    for m in messages:
        text = m.strip()
        if text.startswith("taskname="):
            calls.append((text.split("=", 1)[1].strip(), {}))
        elif calls and " = " in text:
            key, value = text.split(" = ", 1)
            calls[-1][1][key.strip()] = value.strip()
    return calls


def calibration_units(gaintables: list[str]) -> str:
    """The units of single-dish data calibrated with ``gaintables``, by the rule of the pipeline's
    ``hsd_applycal`` (which writes it as the data columns' UNIT keyword): a sky (OFF) table and a Tsys table
    give the antenna temperature Ta* in 'K'; a Jy/K factor table on top gives 'Jy'; anything less, ''.

    Examples
    --------
    >>> calibration_units(["x.ms.h_tsyscal.s3_1.tsyscal.tbl", "x.ms.hsd_skycal.s5_1.spw0.ps.tbl"])
    'K'
    >>> calibration_units(["a.tsyscal.tbl", "a.hsd_skycal.ps.tbl", "a.hsd_k2jycal.s6_1.spw0.ampcal.tbl"])
    'Jy'
    >>> calibration_units(["a.hsd_k2jycal.s6_1.spw0.ampcal.tbl"])
    ''
    """
    names = [os.path.basename(str(g)).lower() for g in gaintables]

    def has(kind: str) -> bool:
        return any(any(w in n for w in _CALTABLE_KINDS[kind]) for n in names)

    if not (has("tsys") and has("sky")):
        return ""
    return "Jy" if has("jyperk") else "K"


def _gaintables(text: str) -> list[str]:
    return re.findall(r"['\"]([^'\"]+)['\"]", text) or ([text] if text and text not in ("[]", "''") else [])


def spectrum_units(path, columns) -> dict[str, tuple[str, str]]:
    """(units, how they were found) of a single-dish MS's data ``columns`` (FLOAT_DATA, DATA, CORRECTED_DATA).

    In order: the column's ``UNIT`` keyword (the pipeline's ``hsd_applycal`` writes 'K' or 'Jy' there); for
    CORRECTED_DATA, the last ``applycal`` of the MS's HISTORY (:func:`calibration_units` of its gaintables),
    else 'K' (sdcal's Ta*); for FLOAT_DATA and DATA, the same when the HISTORY shows a task that wrote this MS
    from a calibrated column (``sdbaseline``, ``split``, ... with datacolumn 'corrected'; an ``sdbaseline`` whose
    entry records no parameters, after an ``applycal``), else 'count' (the raw power's arbitrary scale).

    Examples
    --------
    >>> spectrum_units("uid___A002_X10ab2c3_X3c11.ms", ["FLOAT_DATA", "CORRECTED_DATA"])   # doctest: +SKIP
    {'FLOAT_DATA': ('count', 'raw power ...'), 'CORRECTED_DATA': ('Jy', 'applycal with ...')}
    """
    out: dict[str, tuple[str, str]] = {}
    keyword = {}
    with open_table(path) as t:
        for col in columns:
            try:
                keyword[col] = str(t.getcolkeyword(col, "UNIT")).strip()
            except Exception:  # no UNIT keyword
                keyword[col] = ""
    calls = _task_calls(_history(path))
    applied = [c for task, c in calls if task == "applycal" and c.get("gaintable")]
    if applied:
        tables = _gaintables(applied[-1]["gaintable"])
        calibrated = (calibration_units(tables), f"applycal of {', '.join(os.path.basename(g) for g in tables)}")
    else:
        calibrated = (
            "K",
            "CORRECTED_DATA of a single-dish MS: sdcal's antenna temperature Ta* (no applycal in its HISTORY)",
        )
    copied = []  # tasks that wrote this MS's data from a calibrated column, after an applycal
    for k, (task, c) in enumerate(calls):
        after_applycal = any(t == "applycal" for t, _ in calls[:k])
        column = c.get("datacolumn", "").lower()
        # sdbaseline's HISTORY entry may carry no parameters: after an applycal it baselines the calibrated data
        if task in _COPYING_TASKS and (
            "corrected" in column or (task == "sdbaseline" and not column and after_applycal)
        ):
            copied.append(task)
    for col in columns:
        if keyword.get(col):
            out[col] = (keyword[col], f"the {col} column's UNIT keyword")
        elif col == "CORRECTED_DATA":
            out[col] = calibrated
        elif copied:
            out[col] = (calibrated[0], f"{copied[-1]} wrote it from calibrated data ({calibrated[1]})")
        else:
            out[col] = ("count", "raw power: arbitrary scale, uncalibrated")
    return out


def is_single_dish(index) -> bool:
    """True for an MS of autocorrelations only that holds FLOAT_DATA (or, without FLOAT_DATA, DATA).

    Interferometric MSs that also carry autocorrelations (cross rows present) are not.

    Examples
    --------
    >>> from almaview.io.ms import read_index
    >>> is_single_dish(read_index("uid___A002_X10ab2c3_X3c11.ms"))   # doctest: +SKIP
    True
    """
    cols = index.columns
    if index.nrows == 0 or not ({"FLOAT_DATA", "DATA"} & set(index.data_columns)):
        return False
    return bool(np.all(cols["ANTENNA1"] == cols["ANTENNA2"]))


class RealPart(BackendArray):
    """The real part of a complex MS column (CORRECTED_DATA of a single-dish MS), lazily.

    Examples
    --------
    >>> RealPart(complex_column_array).dtype              # doctest: +SKIP
    dtype('float32')
    """

    def __init__(self, inner):
        self.inner = inner
        self.shape = inner.shape
        self.dtype = np.dtype(np.float32 if inner.dtype == np.complex64 else np.float64)

    def __getitem__(self, key):
        return np.asarray(self.inner[key]).real.astype(self.dtype, copy=False)


def read_pointing(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, str] | None:
    """POINTING rows as (time s, antenna id, direction (row, 2) rad, frame); None when the table is empty.

    Examples
    --------
    >>> time, ant, direction, frame = read_pointing(Path("tp.ms"))   # doctest: +SKIP
    """
    if not (path / "POINTING" / "table.dat").exists():
        return None
    with open_table(path, "POINTING") as t:
        if t.nrows() == 0 or "DIRECTION" not in t.colnames():
            return None
        time, ant = t.getcol("TIME"), t.getcol("ANTENNA_ID")
        direction = t.getcol("DIRECTION")[:, 0, :]  # (row, poly, 2): the 0th polynomial term
        meas = t.getcolkeyword("DIRECTION", "MEASINFO") if "MEASINFO" in t.getcolkeywords("DIRECTION") else {}
    return time, ant, direction, str(meas.get("Ref", "J2000"))


def _pointing_at(pointing, times: np.ndarray, antenna_ids: np.ndarray) -> np.ndarray:
    """Direction (time, antenna, 2) at the given times: linear in time per antenna, NaN without rows."""
    ptime, pant, pdir, _ = pointing
    out = np.full((times.size, antenna_ids.size, 2), np.nan)
    for j, a in enumerate(antenna_ids):
        sel = pant == a
        if not np.any(sel):
            continue
        order = np.argsort(ptime[sel], kind="stable")
        t, d = ptime[sel][order], pdir[sel][order]
        ra = np.unwrap(d[:, 0])
        out[:, j, 0] = np.mod(np.interp(times, t, ra), 2 * np.pi) if t.size > 1 else d[0, 0]
        out[:, j, 1] = np.interp(times, t, d[:, 1]) if t.size > 1 else d[0, 1]
        exact = np.searchsorted(t, times)
        hit = (exact < t.size) & (t[np.minimum(exact, t.size - 1)] == times)
        out[hit, j] = d[exact[hit]]  # the table's own values where it has the time
    return out


def build_tree(index) -> xr.DataTree:
    """The DataTree of a single-dish MS (the :func:`is_single_dish` case of :func:`almaview.io.ms.build_tree`).

    Examples
    --------
    >>> from almaview.io.ms import read_index
    >>> tree = build_tree(read_index("tp.ms"))              # doctest: +SKIP
    >>> tree["spw_0"].ds.SPECTRUM.shape                     # doctest: +SKIP
    (128, 3, 240, 2)
    """
    from . import ms as msmod

    root = index.path
    spath = str(root)
    cols = index.columns
    observation = msmeta.read_observation(root)
    telescope = next((s for s in observation.telescope_name.values if s), "")
    antennas = msmeta.read_antennas(root)
    antennas = antennas.assign_coords(telescope_name=("antenna_name", [telescope] * antennas.sizes["antenna_name"]))
    antennas.attrs["overall_telescope_name"] = telescope
    fields = msmeta.read_fields(root)
    spws, chan_freqs, chan_widths = msmeta.read_spws(root, telescope)
    pols = msmeta.read_polarizations(root)
    dd_spw, dd_pol = msmeta.read_data_descriptions(root)
    modes = msmeta.read_state_modes(root)
    ant_names = antennas.antenna_name.values
    field_names = fields.field_name.values
    state_intents = np.array([msmeta.intents_of([m]) for m in modes] + [""], dtype=object)
    pointing = read_pointing(root)
    meta = msmod._msv4_meta(root, observation, fields)
    units = spectrum_units(root, [c for c in ("FLOAT_DATA", "DATA", "CORRECTED_DATA") if c in index.data_columns])

    time = cols["TIME"]
    field_id, scan = cols["FIELD_ID"], cols["SCAN_NUMBER"]
    state = np.where((cols["STATE_ID"] >= 0) & (cols["STATE_ID"] < len(modes)), cols["STATE_ID"], -1)
    nodes: dict[str, xr.Dataset] = {}
    for ddid, rows in msmod._group_rows(cols["DATA_DESC_ID"]).items():
        if ddid < 0 or ddid >= len(dd_spw):
            warnings.warn(
                f"{root}: {rows.size} rows have DATA_DESC_ID {ddid}, which has no DATA_DESCRIPTION row; skipped"
            )
            continue
        spw_id, pol_id = int(dd_spw[ddid]), int(dd_pol[ddid])
        name = f"spw_{spw_id}" if f"spw_{spw_id}" not in nodes else f"spw_{spw_id}_pol{pol_id}"
        nodes[name] = _spw_dataset(
            spath,
            index,
            ddid,
            spw_id,
            pol_id,
            np.sort(rows),
            time,
            field_id,
            scan,
            state,
            ant_names,
            field_names,
            state_intents,
            spws,
            chan_freqs[spw_id],
            chan_widths[spw_id],
            pols[pol_id],
            pointing,
            meta,
            units,
        )
    ddid = cols["DATA_DESC_ID"]
    row_spw = np.asarray(dd_spw)[np.clip(ddid, 0, max(len(dd_spw) - 1, 0))] if len(dd_spw) else np.full(ddid.size, -1)
    scans = msmod._scans_dataset(time, scan, field_id, state, row_spw, field_names, state_intents)
    attrs = msmod._root_attrs(root, index, observation, antennas.sizes["antenna_name"], nodes, time)
    attrs["title"] = f"{root.name} — single-dish measurement set"
    attrs["summary"] = attrs["summary"].replace("antennas", "antennas (single dish)")
    attrs["data_columns"] = ", ".join(c for c in ("FLOAT_DATA", "DATA", "CORRECTED_DATA") if c in index.data_columns)
    attrs["observing_mode"] = "single dish"
    tree = {
        "/": xr.Dataset(attrs=attrs),
        "antennas": antennas,
        "fields": fields,
        "spws": spws,
        "scans": scans,
        "observation": observation,
    }
    tree.update(nodes)
    return xr.DataTree.from_dict(tree)


def _spw_dataset(
    path,
    index,
    ddid,
    spw_id,
    pol_id,
    rows,
    time,
    field_id,
    scan,
    state,
    ant_names,
    field_names,
    state_intents,
    spws,
    freqs,
    widths,
    corr_names,
    pointing,
    meta,
    units,
) -> xr.Dataset:
    from . import ms as msmod

    utimes, tinv = msmod._unique_inverse(time[rows])
    ant = index.columns["ANTENNA1"][rows].astype(np.int64)
    uant, ainv = msmod._unique_small(ant, return_inverse=True)
    grid = RowGrid.build(rows, tinv, ainv, utimes.size, uant.size)
    if msmod._unique_small(tinv.astype(np.int64) * uant.size + ainv).size < rows.size:
        warnings.warn(f"{path}: spw {spw_id} has several rows for the same time and antenna; one is shown per cell")
    first = rows[grid.time_order[grid.time_bounds[:-1]] if grid.time_order is not None else grid.time_bounds[:-1]]
    ntime, nant, nchan, npol = utimes.size, uant.size, len(freqs), len(corr_names)
    dims = ("time", "antenna_name", "frequency", "polarization")

    def column(col: str, cell: str = "cube", shape=None):
        return msmod.MSColumnArray(
            path, col, grid, shape or (ntime, nant, nchan, npol), msmod._dtype(index.data_columns[col]), cell
        )

    def present(col: str) -> bool:
        return col in index.data_columns and index.defined[col].get(ddid, False)

    data_vars = {}

    def unit_attrs(col: str) -> dict:
        value, how = units[col]
        return {"units": value, "units_source": how}

    if present("FLOAT_DATA"):
        data_vars["SPECTRUM"] = msmod._lazy(
            dims,
            column("FLOAT_DATA"),
            {"column": "FLOAT_DATA", "long_name": "Spectrum values", **unit_attrs("FLOAT_DATA")},
        )
    elif present("DATA"):
        data_vars["SPECTRUM"] = xr.Variable(
            dims,
            indexing.LazilyIndexedArray(RealPart(column("DATA"))),
            {
                "column": "DATA",
                "description": "real part of DATA",
                "long_name": "Spectrum values",
                **unit_attrs("DATA"),
            },
        )
    if present("CORRECTED_DATA"):
        data_vars["SPECTRUM_CORRECTED"] = xr.Variable(
            dims,
            indexing.LazilyIndexedArray(RealPart(column("CORRECTED_DATA"))),
            {
                "column": "CORRECTED_DATA",
                "description": "real part of CORRECTED_DATA",
                "long_name": "Spectrum values",
                **unit_attrs("CORRECTED_DATA"),
            },
        )
    if present("FLAG"):
        data_vars["FLAG"] = msmod._lazy(dims, column("FLAG"), {"column": "FLAG"})
    if present("WEIGHT_SPECTRUM"):
        data_vars["WEIGHT"] = msmod._lazy(dims, column("WEIGHT_SPECTRUM"), {"column": "WEIGHT_SPECTRUM"})
    elif present("WEIGHT"):
        data_vars["WEIGHT"] = msmod._lazy(
            dims, column("WEIGHT", "broadcast"), {"column": "WEIGHT", "description": "WEIGHT broadcast over frequency"}
        )
    if "EXPOSURE" in index.data_columns:
        data_vars["EFFECTIVE_INTEGRATION_TIME"] = msmod._lazy(
            ("time", "antenna_name"),
            column("EXPOSURE", "scalar", (ntime, nant)),
            {"column": "EXPOSURE", "type": "quantity", "units": "s"},
        )
    names = ant_names[uant] if len(ant_names) else uant.astype(str)
    if pointing is not None:
        direction = _pointing_at(pointing, utimes, uant)
        data_vars["POINTING_DIRECTION"] = xr.Variable(
            ("time", "antenna_name", "sky_dir_label"),
            direction,
            {
                "units": "rad",
                "frame": pointing[3],
                "column": "POINTING.DIRECTION",
                "description": "antenna direction, linear in time between POINTING rows",
            },
        )
    spw = spws.sel(spw_id=spw_id)
    time_intents = state_intents[state[first]].astype(str)
    coords = {
        "time": ("time", msmeta.casa_time_to_datetime64(utimes), msmod._time_attrs(path, rows)),
        "antenna_name": ("antenna_name", np.asarray(names).astype(str)),
        "antenna_id": ("antenna_name", uant),
        "frequency": ("frequency", freqs, msmod._frequency_attrs(spw, spw_id, widths)),
        "channel_width": ("frequency", widths, {"units": "Hz", "description": "CHAN_WIDTH of each channel"}),
        "polarization": ("polarization", list(corr_names)),
        "sky_dir_label": ("sky_dir_label", ["ra", "dec"]),
        "field_name": ("time", msmod._safe_take(field_names, field_id[first])),
        "scan_name": ("time", scan[first].astype(str), {"scan_intents": msv4.scan_intents(time_intents)}),
        "scan_number": ("time", scan[first]),
        "intents": ("time", time_intents),
    }
    attrs = {
        "spw_id": spw_id,
        "spw_name": str(spw.spw_name.item()),
        "spw_label": str(spw.spw_label.item()),
        "spw_kind": str(spw.spw_kind.item()),
        "correlator_mode": str(spw.correlator_mode.item()),
        "data_description_id": int(ddid),
        "polarization_id": pol_id,
        "n_rows": int(rows.size),
        "grid_fill": float(rows.size / (ntime * nant)) if ntime * nant else 0.0,
        "observing_mode": "single dish",
    }
    attrs.update(
        msv4.node_attrs(
            "spectrum",
            ms_path=path,
            data_vars=data_vars,
            observation_info=meta["observation_info"],
            processor_info=meta["processor_info"],
        )
    )
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


#: The header of the Jy/K factors file of a single-dish delivery (the pipeline's jyperk.csv).
JYPERK_HEADER = ("MS", "Antenna", "Spwid", "Polarization", "Factor")


def is_jyperk_file(path) -> bool:
    """True when ``path`` is a file whose first line is the Jy/K factors header.

    Examples
    --------
    >>> is_jyperk_file("/no/such/jyperk.csv")
    False
    """
    try:
        p = Path(path)
        if not p.is_file():
            return False
        with open(p, encoding="utf-8", errors="replace") as f:
            head = f.readline()
    except (OSError, TypeError):
        return False
    return tuple(c.strip() for c in head.split(",")) == JYPERK_HEADER


def open_jyperk(path) -> xr.DataTree:
    """Read a Jy/K factors file (``MS,Antenna,Spwid,Polarization,Factor``) as a DataTree, one node per spw.

    Each node holds ``factor`` (Jy/K) over ``(eb, antenna_name, receptor)`` (the caltable trees' names, see
    :mod:`almaview.io.msv4`); the root's attrs say what it is.
    A malformed line raises :class:`~almaview.errors.UnsupportedCaltable` naming the line.

    Examples
    --------
    >>> jyk = open_jyperk("jyperk.csv")                               # doctest: +SKIP
    >>> float(jyk["spw_0"].ds.factor.sel(antenna_name="PM01", receptor="XX").item())   # doctest: +SKIP
    43.2
    """
    p = Path(path)
    rows = read_jyperk_text(p.read_text(encoding="utf-8", errors="replace"), p)
    tree = {
        "/": xr.Dataset(
            attrs={
                "viscal": "Jy/K factors",
                "caltable_type": "single-dish Jy/K conversion factors",
                "caltable": p.name,
                "path": str(p),
                "units": "Jy/K",
            }
        )
    }
    for spw in sorted({r[2] for r in rows}):
        sub = [r for r in rows if r[2] == spw]
        ebs = list(dict.fromkeys(r[0] for r in sub))
        ants = list(dict.fromkeys(r[1] for r in sub))
        pols = list(dict.fromkeys(r[3] for r in sub))
        grid = np.full((len(ebs), len(ants), len(pols)), np.nan)
        for ms, ant, _, pol, factor in sub:
            grid[ebs.index(ms), ants.index(ant), pols.index(pol)] = factor
        tree[f"spw_{spw}"] = xr.Dataset(
            {"factor": (("eb", msv4.ANTENNA_DIM, "receptor"), grid, {"units": "Jy/K"})},
            coords={"eb": ebs, msv4.ANTENNA_DIM: ants, "receptor": pols},
            attrs={"spw_id": spw},
        )
    return xr.DataTree.from_dict(tree)


def read_jyperk_text(text: str, path) -> list[tuple[str, str, int, str, float]]:
    """Rows (MS, antenna, spw, polarization, factor) of a Jy/K factors file's text; a malformed line raises
    :class:`~almaview.errors.UnsupportedCaltable` naming ``path`` and the line.

    Examples
    --------
    >>> read_jyperk_text("MS,Antenna,Spwid,Polarization,Factor\\nx.ms,PM01,17,XX,43.1\\n", "jyperk.csv")
    [('x.ms', 'PM01', 17, 'XX', 43.1)]
    """
    from ..errors import UnsupportedCaltable

    rows = []
    lines = text.splitlines()
    if not lines or tuple(c.strip() for c in lines[0].split(",")) != JYPERK_HEADER:
        raise UnsupportedCaltable(
            path, "is not a Jy/K factors file: its first line is not 'MS,Antenna,Spwid,Polarization,Factor'"
        )
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [c.strip() for c in line.split(",")]
        try:
            ms, ant, spw, pol, factor = parts
            rows.append((ms, ant, int(spw), pol, float(factor)))
        except ValueError:
            raise UnsupportedCaltable(
                path,
                f"line {n} is not 'MS,Antenna,Spwid,Polarization,Factor' "
                f"(five fields, an integer spw and a number): {line!r}",
            ) from None
    return rows

"""Measurement sets as lazy xarray DataTrees: :func:`open_ms`.

Opening reads the metadata subtables and the row-sized index columns of the
main table (TIME, ANTENNA1, ANTENNA2, DATA_DESC_ID, FIELD_ID, SCAN_NUMBER,
STATE_ID), each once. Visibilities, flags, weights and UVW stay on disk: each
data variable wraps a :class:`MSColumnArray` (an xarray ``BackendArray``) inside
dask, so ``.isel`` on a few times reads only those rows, and a dask chunk reads
its rows with python-casacore and scatters them into the (time, baseline) grid.
Tasks pickle (path + row index, never an open table), so they run under
dask.distributed.

Names follow xradio's MSv4 schema: VISIBILITY, VISIBILITY_CORRECTED,
VISIBILITY_MODEL, FLAG, WEIGHT, UVW, EFFECTIVE_INTEGRATION_TIME (EXPOSURE);
coordinates time, baseline (with
baseline_antenna1_name / baseline_antenna2_name), frequency, polarization,
uvw_label; per-time field_name, scan_number, intents.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from ..errors import DamagedTable, NotAMeasurementSet
from . import msmeta, singledish
from .rowgrid import RowGrid, read_rows
from .table import check_table_dir, open_table, table_kind

#: Row-sized columns read (once each) when an MS is opened; nothing else in the main table is.
INDEX_COLUMNS = ("TIME", "ANTENNA1", "ANTENNA2", "DATA_DESC_ID", "FIELD_ID", "SCAN_NUMBER", "STATE_ID")

#: MS column -> data variable name (xradio MSv4).
VISIBILITY_COLUMNS = {"DATA": "VISIBILITY", "CORRECTED_DATA": "VISIBILITY_CORRECTED", "MODEL_DATA": "VISIBILITY_MODEL"}

#: Default size of one dask chunk of the largest data variable.
DEFAULT_CHUNK_BYTES = 96 * 2**20

_KIND_WORDS = {"caltable": "a calibration table", "image": "a CASA image", "table": "a CASA table of another kind",
               "ms": "a measurement set"}


# ---------------------------------------------------------------------------------------------
# reading rows inside a task


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def table_lock(path: str) -> threading.Lock:
    """The per-process lock serialising casacore calls on one table (casacore is not thread-safe).

    Examples
    --------
    >>> table_lock("/data/a.ms") is table_lock("/data/a.ms")
    True
    """
    with _LOCKS_GUARD:
        lock = _LOCKS.get(path)
        if lock is None:
            lock = _LOCKS[path] = threading.Lock()
        return lock


def _as_index(key: Any, size: int) -> np.ndarray:
    if isinstance(key, slice):
        return np.arange(size)[key]
    return np.atleast_1d(np.asarray(key, dtype=np.int64)) % max(size, 1)


def _span(idx: np.ndarray, size: int) -> tuple[int, int] | None:
    """(first, last) when ``idx`` is a contiguous ascending range that is not the full axis."""
    if idx.size == 0 or idx.size == size:
        return None
    if idx[-1] - idx[0] + 1 == idx.size and np.all(np.diff(idx) == 1):
        return int(idx[0]), int(idx[-1])
    return None


class MSColumnArray(BackendArray):
    """One MS column of one data description, seen as a (time, baseline, ...) array.

    ``cell`` is the cell layout: 'cube' (frequency, polarization), 'broadcast'
    (per-polarization WEIGHT broadcast over frequency), 'vector' (UVW) or 'scalar' (EXPOSURE).
    Picklable: holds the path and the row index, opens the table per read.

    Examples
    --------
    >>> vis = open_ms("my.ms")["spw_0"].ds               # doctest: +SKIP
    >>> vis.VISIBILITY.variable._data                     # doctest: +SKIP
    """

    def __init__(self, path: str, column: str, grid: RowGrid, shape: tuple, dtype: np.dtype, cell: str):
        self.path = path
        self.column = column
        self.grid = grid
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.cell = cell

    @property
    def fill(self):
        """Value of cells that have no row: NaN, or True for FLAG."""
        return True if self.dtype == bool else np.nan

    def __dask_tokenize__(self):
        return ("almaview.MSColumnArray", self.path, self.column, self.shape, _table_stamp(self.path))

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.OUTER, self._getitem)

    def _getitem(self, key: tuple) -> np.ndarray:
        drop = tuple(i for i, k in enumerate(key) if isinstance(k, (int, np.integer)))
        idx = [_as_index(k, n) for k, n in zip(key, self.shape)]
        # Read the sorted unique cells, then expand to the requested order (rarely needed).
        uniq, inverse = [], []
        for ix in idx:
            if ix.size > 1 and np.any(np.diff(ix) <= 0):
                u, inv = np.unique(ix, return_inverse=True)
            else:
                u, inv = ix, None
            uniq.append(u)
            inverse.append(inv)
        out = self.read(*uniq)
        for axis, inv in enumerate(inverse):
            if inv is not None:
                out = np.take(out, inv, axis=axis)
        if drop:
            out = out.squeeze(axis=drop)
        return out

    def read(self, times: np.ndarray, baselines: np.ndarray, *cell_idx: np.ndarray) -> np.ndarray:
        """Read the cells at ascending time, baseline (and channel, polarization) indices.

        Examples
        --------
        >>> arr.read(np.arange(10), np.arange(arr.shape[1]), np.arange(5), np.arange(2))   # doctest: +SKIP
        """
        g = self.grid
        pos = g.positions_for_times(times)
        ti, bi = g.time_index[pos], g.baseline_index[pos]
        tmap = np.full(g.ntime, -1, np.int64)
        tmap[times] = np.arange(times.size)
        if baselines.size == g.nbaseline:
            bmap = np.arange(g.nbaseline)
        else:
            bmap = np.full(g.nbaseline, -1, np.int64)
            bmap[baselines] = np.arange(baselines.size)
            keep = bmap[bi] >= 0
            pos, ti, bi = pos[keep], ti[keep], bi[keep]
        rows = g.rows[pos]
        tpos, bpos = tmap[ti], bmap[bi]
        out_shape = (times.size, baselines.size) + tuple(c.size for c in cell_idx)
        if rows.size == 0:
            return np.full(out_shape, self.fill, dtype=self.dtype)

        # Cell selection: a slice through getcolslice when contiguous, else read whole cells.
        cell_full = self.shape[2:]
        read_axes = cell_idx if self.cell != "broadcast" else cell_idx[1:]
        read_full = cell_full if self.cell != "broadcast" else cell_full[1:]
        spans = [_span(ix, n) for ix, n in zip(read_axes, read_full)]
        blc = trc = None
        if any(s is not None for s in spans) and all(
            s is not None or ix.size == n for s, ix, n in zip(spans, read_axes, read_full)
        ):
            blc = [s[0] if s else 0 for s in spans]
            trc = [s[1] if s else n - 1 for s, n in zip(spans, read_full)]
            post = [None] * len(read_axes)
        else:
            post = [None if ix.size == n else ix for ix, n in zip(read_axes, read_full)]

        # Read straight into the output when the rows fill it in order (a full, time-ordered grid).
        cell_shape = tuple(b - a + 1 for a, b in zip(blc, trc)) if blc is not None else tuple(read_full)
        read_shape = (rows.size,) + cell_shape
        flat = tpos * baselines.size + bpos
        direct = (
            self.cell != "broadcast"
            and all(ix is None for ix in post)
            and flat.size == times.size * baselines.size
            and np.array_equal(flat, np.arange(flat.size))
        )
        out = np.empty(out_shape, dtype=self.dtype) if direct else np.full(out_shape, self.fill, dtype=self.dtype)
        buf = out.reshape(read_shape) if direct else np.empty(read_shape, dtype=self.dtype)
        with table_lock(self.path), open_table(self.path) as t:
            try:
                read_rows(t, self.column, rows, buf, blc, trc)
            except RuntimeError as err:
                raise DamagedTable(
                    self.path,
                    f"casacore could not read column {self.column} (rows {rows[0]}..{rows[-1]}): {err}. "
                    "The table's data files may be truncated or damaged; copy or extract it again",
                ) from err
        if direct:
            return out
        data = buf
        for axis, ix in enumerate(post):
            if ix is not None:
                data = np.take(data, ix, axis=axis + 1)
        if self.cell == "broadcast":  # WEIGHT (row, pol) -> (row, chan, pol)
            out[tpos, bpos] = data[:, None, :]
        else:
            out[tpos, bpos] = data
        return out


def _table_stamp(path: str) -> str:
    """Newest modification time of a table's files: dask keys change when the data change."""
    try:
        with os.scandir(path) as entries:
            return str(max((e.stat().st_mtime_ns for e in entries if e.name.startswith("table.")), default=0))
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# the index read at open time


@dataclass
class MSIndex:
    """The main table's index columns, read once, and what open_ms derives from them.

    Examples
    --------
    >>> index = read_index("my.ms")           # doctest: +SKIP
    >>> index.nrows                           # doctest: +SKIP
    22653
    """

    path: Path
    nrows: int
    columns: dict[str, np.ndarray]
    data_columns: dict[str, str]  # MS column -> valueType of the present data-like columns
    defined: dict[str, np.ndarray]  # column -> per-ddid "first row has a cell"


def read_index(path: str | os.PathLike) -> MSIndex:
    """Check that ``path`` is a readable MS and read its row-sized index columns (each once).

    Raises :class:`~almaview.errors.NotAMeasurementSet` for caltables, images or
    other tables, :class:`~almaview.errors.DamagedTable` for incomplete ones.

    Examples
    --------
    >>> read_index("my.ms").columns["DATA_DESC_ID"]   # doctest: +SKIP
    array([0, 0, 0, ..., 0, 0, 0], dtype=int32)
    """
    root = check_table_dir(path)
    try:
        return _read_index(root)
    except RuntimeError as err:  # opening worked, reading failed: a storage-manager file is missing or cut
        raise DamagedTable(
            root,
            f"casacore could not read the main table's index columns ({err}); the table's data files "
            "are incomplete (half-copied or half-untarred); copy or extract it again",
        ) from err


def _read_index(root: Path) -> MSIndex:
    with open_table(root) as t:
        keywords = set(t.keywordnames())
        is_ms = "MS_VERSION" in keywords or t.info().get("type", "") == "Measurement Set"
        if is_ms:
            msmeta.check_subtables(root)
            colnames = set(t.colnames())
            missing = [c for c in INDEX_COLUMNS if c not in colnames]
            if missing:
                raise NotAMeasurementSet(root, f"the main table lacks the required column(s) {', '.join(missing)}")
            nrows = t.nrows()
            cols = {c: t.getcol(c) if nrows else np.zeros(0, np.int32) for c in INDEX_COLUMNS}
            data_cols = {}
            for c in (*VISIBILITY_COLUMNS, "FLOAT_DATA", "FLAG", "WEIGHT", "WEIGHT_SPECTRUM", "UVW", "EXPOSURE"):
                if c in colnames:
                    data_cols[c] = t.getcoldesc(c).get("valueType", "")
            # Which data columns hold cells for each ddid: look at one row per ddid (reads no data).
            first_rows = {}
            if nrows:
                ddid = cols["DATA_DESC_ID"]
                first_rows = {int(d): int(np.argmax(ddid == d)) for d in _unique_small(ddid)}
            defined = {c: {d: bool(t.iscelldefined(c, r)) for d, r in first_rows.items()} for c in data_cols}
    if not is_ms:
        kind = table_kind(root)
        raise NotAMeasurementSet(
            root,
            f"is not a measurement set: it is {_KIND_WORDS.get(kind, 'another kind of table')}"
            + (" (open it with almaview.open_caltable)" if kind == "caltable" else "")
            + (" (open it with almaview.open_image)" if kind == "image" else ""),
        )
    return MSIndex(root, nrows, cols, data_cols, defined)


def _group_rows(ddid: np.ndarray) -> dict[int, np.ndarray]:
    order = np.argsort(ddid, kind="stable")
    sorted_d = ddid[order]
    u, starts = np.unique(sorted_d, return_index=True)
    ends = np.concatenate([starts[1:], [ddid.size]])
    return {int(d): order[s:e] for d, s, e in zip(u, starts, ends)}


def _unique_small(values: np.ndarray, return_inverse: bool = False):
    """np.unique for non-negative integers of a small range, in O(n) with a lookup table."""
    values = np.asarray(values, dtype=np.int64)
    if values.size == 0:
        return (values, values) if return_inverse else values
    top = int(values.max()) + 1
    if values.min() < 0 or top > 8 * values.size + 2**20:
        return np.unique(values, return_inverse=return_inverse)
    present = np.zeros(top, bool)
    present[values] = True
    uniq = np.flatnonzero(present)
    if not return_inverse:
        return uniq
    lookup = np.cumsum(present) - 1
    return uniq, lookup[values]


def _unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(..., return_inverse=True), in O(n) when values are already non-decreasing."""
    if values.size and np.all(values[1:] >= values[:-1]):
        new = np.empty(values.size, bool)
        new[0] = True
        np.not_equal(values[1:], values[:-1], out=new[1:])
        return values[new], np.cumsum(new) - 1
    return np.unique(values, return_inverse=True)


def spw_rows(path: str | os.PathLike, spw: int, polarization_id: int | None = None) -> np.ndarray:
    """Ascending row numbers of one spw's rows (the rows behind node ``spw_<spw>``).

    With ``polarization_id`` only that polarization setup; without it, the first setup
    that has rows (the one :func:`open_ms` names ``spw_<spw>``). A benchmark's raw
    python-casacore baseline reads exactly these rows.

    Examples
    --------
    >>> rows = spw_rows("my.ms", 17)                                  # doctest: +SKIP
    >>> with casacore.tables.table("my.ms") as t:                     # doctest: +SKIP
    ...     raw = t.selectrows(rows).getcol("DATA")
    """
    root = check_table_dir(path)
    spw_ids, pol_ids = msmeta.read_data_descriptions(root)
    with open_table(root) as t:
        ddid = t.getcol("DATA_DESC_ID")
    groups = _group_rows(ddid)
    for d in sorted(groups):
        if d < len(spw_ids) and spw_ids[d] == spw and (polarization_id is None or pol_ids[d] == polarization_id):
            return np.sort(groups[d]).astype(np.int64)
    return np.zeros(0, np.int64)


# ---------------------------------------------------------------------------------------------
# building the tree


def _dtype(value_type: str) -> np.dtype:
    """numpy dtype of a casacore column valueType (getcolnp needs exactly this dtype)."""
    return np.dtype(
        {"complex": np.complex64, "dcomplex": np.complex128, "boolean": bool, "float": np.float32,
         "double": np.float64}.get(value_type, np.float64)
    )  # fmt: skip


def build_tree(path: str | os.PathLike) -> xr.DataTree:
    """Open an MS as a DataTree whose data variables are lazily indexed (not yet dask).

    :func:`open_ms` chunks it with dask; the xarray backend returns it as is.

    Examples
    --------
    >>> tree = build_tree("my.ms")            # doctest: +SKIP
    >>> tree["spw_0"].ds.VISIBILITY.shape     # doctest: +SKIP
    (60, 351, 63, 2)
    """
    index = read_index(path)
    try:
        if singledish.is_single_dish(index):  # autocorrelations only: the spectrum layout
            return singledish.build_tree(index)
        return _build_tree(index)
    except RuntimeError as err:  # casacore failing on a subtable's data files
        raise DamagedTable(
            index.path,
            f"casacore could not read the metadata subtables ({err}); the measurement set may be "
            "half-copied or damaged",
        ) from err


def _build_tree(index: MSIndex) -> xr.DataTree:
    root = index.path
    spath = str(root)
    cols = index.columns

    observation = msmeta.read_observation(root)
    telescope = next((s for s in observation.telescope_name.values if s), "")
    antennas = msmeta.read_antennas(root)
    fields = msmeta.read_fields(root)
    spws, chan_freqs, chan_widths = msmeta.read_spws(root, telescope)
    pols = msmeta.read_polarizations(root)
    dd_spw, dd_pol = msmeta.read_data_descriptions(root)
    modes = msmeta.read_state_modes(root)

    nant = antennas.sizes["antenna_name"]
    ant_names = antennas.antenna_name.values
    field_names = fields.field_name.values
    state_intents = np.array([msmeta.intents_of([m]) for m in modes] + [""], dtype=object)  # [-1] -> ""

    time = cols["TIME"]
    field_id = cols["FIELD_ID"]
    scan = cols["SCAN_NUMBER"]
    state = np.where((cols["STATE_ID"] >= 0) & (cols["STATE_ID"] < len(modes)), cols["STATE_ID"], -1)

    nodes: dict[str, xr.Dataset] = {}
    used_names: set[str] = set()
    for ddid, rows in _group_rows(cols["DATA_DESC_ID"]).items():
        if ddid < 0 or ddid >= len(dd_spw):
            warnings.warn(f"{root}: {rows.size} rows have DATA_DESC_ID {ddid}, which has no DATA_DESCRIPTION row; skipped")
            continue
        spw_id, pol_id = int(dd_spw[ddid]), int(dd_pol[ddid])
        name = f"spw_{spw_id}" if f"spw_{spw_id}" not in used_names else f"spw_{spw_id}_pol{pol_id}"
        used_names.add(name)
        nodes[name] = _spw_dataset(
            spath, index, ddid, spw_id, pol_id, rows, time, field_id, scan, state, nant, ant_names,
            field_names, state_intents, spws, chan_freqs[spw_id], chan_widths[spw_id], pols[pol_id],
        )  # fmt: skip

    ddid = cols["DATA_DESC_ID"]
    row_spw = np.where((ddid >= 0) & (ddid < len(dd_spw)), np.asarray(dd_spw)[np.clip(ddid, 0, max(len(dd_spw) - 1, 0))]
                       if len(dd_spw) else -1, -1)  # fmt: skip
    scans = _scans_dataset(time, scan, field_id, state, row_spw, field_names, state_intents)
    root_ds = xr.Dataset(attrs=_root_attrs(root, index, observation, nant, nodes, time))
    tree = {"/": root_ds, "antennas": antennas, "fields": fields, "spws": spws, "scans": scans,
            "observation": observation}  # fmt: skip
    tree.update(nodes)
    return xr.DataTree.from_dict(tree)


def _spw_dataset(
    path, index, ddid, spw_id, pol_id, rows, time, field_id, scan, state, nant, ant_names,
    field_names, state_intents, spws, freqs, widths, corr_names,
) -> xr.Dataset:  # fmt: skip
    rows = np.sort(rows)
    utimes, tinv = _unique_inverse(time[rows])
    a1, a2 = index.columns["ANTENNA1"][rows], index.columns["ANTENNA2"][rows]
    bkey = a1.astype(np.int64) * max(nant, 1) + a2
    ubl, binv = _unique_small(bkey, return_inverse=True)
    grid = RowGrid.build(rows, tinv, binv, utimes.size, ubl.size)
    cells = np.int64(utimes.size) * ubl.size
    if rows.size > cells or _unique_small(tinv.astype(np.int64) * ubl.size + binv).size < rows.size:
        warnings.warn(f"{path}: spw {spw_id} has several rows for the same time and baseline; one is shown per cell")

    # per-time coordinates from the first row at each time
    first = rows[grid.time_order[grid.time_bounds[:-1]] if grid.time_order is not None else grid.time_bounds[:-1]]
    b1, b2 = ubl // max(nant, 1), ubl % max(nant, 1)
    nchan, npol = len(freqs), len(corr_names)
    ntime, nbl = utimes.size, ubl.size

    data_vars = {}
    for column, var in VISIBILITY_COLUMNS.items():
        if column in index.data_columns and index.defined[column].get(ddid, False):
            arr = MSColumnArray(path, column, grid, (ntime, nbl, nchan, npol),
                                _dtype(index.data_columns[column]), "cube")  # fmt: skip
            data_vars[var] = _lazy(("time", "baseline", "frequency", "polarization"), arr, {"column": column})
    if "FLAG" in index.data_columns and index.defined["FLAG"].get(ddid, False):
        arr = MSColumnArray(path, "FLAG", grid, (ntime, nbl, nchan, npol), _dtype(index.data_columns["FLAG"]), "cube")
        data_vars["FLAG"] = _lazy(("time", "baseline", "frequency", "polarization"), arr, {"column": "FLAG"})
    if "WEIGHT_SPECTRUM" in index.data_columns and index.defined["WEIGHT_SPECTRUM"].get(ddid, False):
        arr = MSColumnArray(path, "WEIGHT_SPECTRUM", grid, (ntime, nbl, nchan, npol),
                            _dtype(index.data_columns["WEIGHT_SPECTRUM"]), "cube")  # fmt: skip
        data_vars["WEIGHT"] = _lazy(("time", "baseline", "frequency", "polarization"), arr,
                                    {"column": "WEIGHT_SPECTRUM"})  # fmt: skip
    elif "WEIGHT" in index.data_columns and index.defined["WEIGHT"].get(ddid, False):
        arr = MSColumnArray(path, "WEIGHT", grid, (ntime, nbl, nchan, npol),
                            _dtype(index.data_columns["WEIGHT"]), "broadcast")  # fmt: skip
        data_vars["WEIGHT"] = _lazy(("time", "baseline", "frequency", "polarization"), arr,
                                    {"column": "WEIGHT", "description": "WEIGHT broadcast over frequency"})  # fmt: skip
    if "UVW" in index.data_columns and index.defined["UVW"].get(ddid, False):
        arr = MSColumnArray(path, "UVW", grid, (ntime, nbl, 3), _dtype(index.data_columns["UVW"]), "vector")
        data_vars["UVW"] = _lazy(("time", "baseline", "uvw_label"), arr, {"column": "UVW", "units": "m"})

    if "EXPOSURE" in index.data_columns:
        arr = MSColumnArray(path, "EXPOSURE", grid, (ntime, nbl), _dtype(index.data_columns["EXPOSURE"]), "scalar")
        data_vars["EFFECTIVE_INTEGRATION_TIME"] = _lazy(("time", "baseline"), arr, {"column": "EXPOSURE", "units": "s"})

    spw = spws.sel(spw_id=spw_id)
    coords = {
        "time": ("time", msmeta.casa_time_to_datetime64(utimes), {"scale": "utc", "description": "TIME (mid-integration)"}),
        "baseline": np.arange(nbl),
        "baseline_antenna1_name": ("baseline", ant_names[b1] if nant else b1.astype(str)),
        "baseline_antenna2_name": ("baseline", ant_names[b2] if nant else b2.astype(str)),
        "baseline_antenna1_id": ("baseline", b1),
        "baseline_antenna2_id": ("baseline", b2),
        "frequency": ("frequency", freqs, {
            "units": "Hz", "spectral_window_id": spw_id, "spectral_window_name": str(spw.spw_name.item()),
            "reference_frequency": float(spw.REF_FREQUENCY), "frame": str(spw.frequency_frame.item()),
        }),
        "channel_width": ("frequency", widths, {"units": "Hz"}),
        "polarization": ("polarization", list(corr_names)),
        "uvw_label": ("uvw_label", ["u", "v", "w"]),
        "field_name": ("time", _safe_take(field_names, field_id[first])),
        "scan_number": ("time", scan[first]),
        "intents": ("time", state_intents[state[first]].astype(str)),
    }  # fmt: skip
    attrs = {
        "spw_id": spw_id,
        "spw_name": str(spw.spw_name.item()),
        "spw_label": str(spw.spw_label.item()),
        "spw_kind": str(spw.spw_kind.item()),
        "correlator_mode": str(spw.correlator_mode.item()),
        "data_description_id": int(ddid),
        "polarization_id": pol_id,
        "n_rows": int(rows.size),
        "grid_fill": float(rows.size / cells) if cells else 0.0,
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _safe_take(names: np.ndarray, ids: np.ndarray) -> np.ndarray:
    names = np.asarray(list(names) + [""], dtype=object)
    ids = np.where((ids >= 0) & (ids < len(names) - 1), ids, -1)
    return names[ids].astype(str)


def _lazy(dims: tuple, arr: MSColumnArray, attrs: dict) -> xr.Variable:
    return xr.Variable(dims, indexing.LazilyIndexedArray(arr), attrs)


def _unique_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Unique (a, b) pairs of non-negative ``a`` and ``b >= -1``, as an (n, 2) array sorted by a then b."""
    base = int(b.max()) + 2 if b.size else 1
    key = _unique_small(a.astype(np.int64) * base + (b.astype(np.int64) + 1))
    return np.stack([key // base, key % base - 1], axis=1)


def _scans_dataset(time, scan, field_id, state, row_spw, field_names, state_intents) -> xr.Dataset:
    if scan.size == 0:
        return xr.Dataset(coords={"scan_number": np.zeros(0, int)})
    order = np.argsort(scan, kind="stable")
    s_sorted = scan[order]
    uscan, starts = np.unique(s_sorted, return_index=True)
    t_sorted = time[order]
    tmin = np.minimum.reduceat(t_sorted, starts)
    tmax = np.maximum.reduceat(t_sorted, starts)
    which = np.repeat(np.arange(uscan.size), np.diff(np.concatenate([starts, [scan.size]])))
    fpairs = _unique_pairs(which, field_id[order])
    spairs = _unique_pairs(which, state[order])
    fnames = _safe_take(field_names, fpairs[:, 1])
    scan_fields = [",".join(dict.fromkeys(fnames[fpairs[:, 0] == i])) for i in range(uscan.size)]
    scan_intents = [msmeta.intents_of(list(state_intents[spairs[spairs[:, 0] == i, 1]])) for i in range(uscan.size)]
    wpairs = _unique_pairs(which, row_spw[order])
    scan_spws = [",".join(str(w) for w in wpairs[wpairs[:, 0] == i, 1] if w >= 0) for i in range(uscan.size)]
    return xr.Dataset(
        {
            "start": (("scan_number",), msmeta.casa_time_to_datetime64(tmin)),
            "end": (("scan_number",), msmeta.casa_time_to_datetime64(tmax)),
        },
        coords={
            "scan_number": uscan,
            "field_name": ("scan_number", scan_fields),
            "intents": ("scan_number", scan_intents),
            "spw_ids": ("scan_number", scan_spws),
        },
        attrs={"description": "start/end are the first and last integration midpoints (TIME) of the scan"},
    )


def _root_attrs(root: Path, index: MSIndex, observation: xr.Dataset, n_antennas: int, nodes, time) -> dict:
    def first(name: str) -> str:
        if name not in observation.coords:
            return ""
        return next((str(v) for v in observation[name].values if str(v)), "")

    eb = msmeta.eb_uid_from_name(root) or first("execblock_uid")
    t0, t1 = (msmeta.casa_time_to_datetime64([time.min(), time.max()]) if time.size else (None, None))
    parts = [first("telescope_name"), first("project_code"), eb, f"{len(nodes)} spw node(s)", f"{n_antennas} antennas"]
    if t0 is not None:
        parts.append(f"{str(t0)[:19].replace('T', ' ')} – {str(t1)[11:19]} UTC")
    attrs = {
        "title": f"{root.name} — measurement set",
        "summary": " · ".join(p for p in parts if p),
        "path": str(root),
        "telescope": first("telescope_name"),
        "observer": first("observer"),
        "project_code": first("project_code"),
        "schedblock_uid": first("schedblock_uid"),
        "execblock_uid": eb,
        "time_start": str(t0) if t0 is not None else "",
        "time_end": str(t1) if t1 is not None else "",
        "n_rows": int(index.nrows),
        "n_antennas": int(n_antennas),
        "spw_nodes": ", ".join(nodes),
        "data_columns": ", ".join(c for c in index.data_columns if c in VISIBILITY_COLUMNS),
    }
    return attrs


# ---------------------------------------------------------------------------------------------
# the public opener


def default_chunks(ds: xr.Dataset, target_bytes: int = DEFAULT_CHUNK_BYTES) -> dict[str, int]:
    """Chunks holding about ``target_bytes`` of the largest variable: whole baselines, channels and
    polarizations, a block of times; when even one time is bigger, a block of baselines.

    Examples
    --------
    >>> default_chunks(open_ms("my.ms")["spw_17"].ds)   # doctest: +SKIP
    {'time': 7}
    """
    per_time = max((v.dtype.itemsize * int(np.prod(v.shape[1:])) for v in ds.data_vars.values() if v.ndim), default=1)
    ntime = max(ds.sizes.get("time", 1), 1)
    if per_time <= target_bytes:
        return {"time": int(min(ntime, target_bytes // max(per_time, 1)))}
    nbl = max(ds.sizes.get("baseline", 1), 1)
    return {"time": 1, "baseline": int(max(1, target_bytes // max(per_time // nbl, 1)))}


def chunk_tree(tree: xr.DataTree, chunks: Mapping[str, int] | int | None = None) -> xr.DataTree:
    """Wrap every spw node's lazily indexed variables in dask arrays.

    Default (:func:`default_chunks`): whole baseline/frequency/polarization axes and
    ~96 MB of the largest variable per chunk along time; ``chunks`` overrides any
    dimension (an int is a number of times per chunk).

    Examples
    --------
    >>> tree = chunk_tree(build_tree("my.ms"), {"time": 100})   # doctest: +SKIP
    """
    if isinstance(chunks, (int, np.integer)):
        chunks = {"time": int(chunks)}
    out = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        if node.path != "/" and "time" in ds.dims and ("baseline" in ds.dims or "antenna_name" in ds.dims):
            spec = default_chunks(ds)
            spec.update({k: v for k, v in (chunks or {}).items() if k in ds.dims})
            stamp = (node.path, ds.attrs.get("data_description_id"), sorted(spec.items()),
                     _table_stamp(tree.attrs.get("path", "")), tree.attrs.get("path", ""))  # fmt: skip
            token = hashlib.sha1(repr(stamp).encode()).hexdigest()[:16]
            small = {k: v.variable for k, v in ds.coords.items() if k not in ds.indexes}
            ds = ds.chunk(spec, token=token).assign_coords(small)  # coordinates stay numpy
        out[node.path] = ds
    return xr.DataTree.from_dict(out)


def open_ms(path: str | os.PathLike, *, chunks: Mapping[str, int] | int | None = None) -> xr.DataTree:
    """Open a measurement set lazily as an :class:`xarray.DataTree`.

    Nodes: ``antennas``, ``fields``, ``spws``, ``scans``, ``observation`` and one node per
    data description (``spw_<id>``; ``spw_<id>_pol<k>`` for a second polarization setup)
    with VISIBILITY / VISIBILITY_CORRECTED / VISIBILITY_MODEL, FLAG, WEIGHT over
    ``(time, baseline, frequency, polarization)``, UVW over ``(time, baseline, uvw_label)`` and
    EFFECTIVE_INTEGRATION_TIME over ``(time, baseline)``, as dask arrays. Opening reads only metadata and row-sized index columns.
    A single-dish MS (autocorrelations only, FLOAT_DATA) gives SPECTRUM / SPECTRUM_CORRECTED, FLAG, WEIGHT over
    ``(time, antenna_name, frequency, polarization)`` and POINTING_DIRECTION instead (:mod:`almaview.io.singledish`).

    ``chunks`` (e.g. ``{"time": 100}``) overrides the default ~96 MB chunks. Selecting
    with ints or slices (``.isel(time=slice(0, 5))``) reads only the rows selected;
    selecting with lists reads whole chunks under dask (open without dask,
    ``xr.open_datatree(path, engine="almaview")``, to read only listed rows).
    Cells of the (time, baseline) grid that have no row are NaN and flagged.

    Raises :class:`~almaview.errors.PathNotFound`, :class:`~almaview.errors.NotATable`,
    :class:`~almaview.errors.DamagedTable` or :class:`~almaview.errors.NotAMeasurementSet`.

    Examples
    --------
    >>> import almaview as av
    >>> vis = av.open_ms("uid___A002_Xc3_X1.ms", chunks={"time": 100})      # doctest: +SKIP
    >>> amp = abs(vis["spw_17"].ds.VISIBILITY_CORRECTED).mean("frequency")  # doctest: +SKIP
    >>> amp.compute()                                                         # doctest: +SKIP
    """
    return chunk_tree(build_tree(path), chunks)

"""The lazy arrays behind an MS node's data variables (xarray ``BackendArray`` subclasses).

- :class:`MSColumnArray`: one main-table column of one data description, seen as a
  ``(time, baseline_id, *cell)`` array: a cube (frequency, polarization) for DATA, FLAG,
  WEIGHT_SPECTRUM; a vector for UVW; nothing more for EXPOSURE.
- :class:`BroadcastColumnArray`: a per-polarization column (WEIGHT) shown over
  ``(time, baseline_id, frequency, polarization)``: it reads ``(row, polarization)`` and
  broadcasts over frequency, never reading more than the polarizations asked for.

Both hold a :class:`~almaview.io.tables.TableRef` (the path) and a
:class:`~almaview.io.rowgrid.RowGrid`, so they pickle small and run under
dask.distributed; each read takes the process's cached handle from the table owner.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from ..errors import DamagedTable
from .rowgrid import RowGrid, read_rows
from .tables import TableRef, user_message


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


def table_stamp(path: str) -> str:
    """Newest modification time of a table's files: dask keys change when the data change.

    Examples
    --------
    >>> table_stamp("/no/such.ms")
    ''
    """
    try:
        with os.scandir(path) as entries:
            return str(max((e.stat().st_mtime_ns for e in entries if e.name.startswith("table.")), default=0))
    except OSError:
        return ""


def channel_contiguous(block: np.ndarray) -> np.ndarray:
    """A ``(..., frequency, polarization)`` block laid out polarization-major in memory (each channel run contiguous).

    casacore hands cells over as (channel, polarization) with the polarization varying fastest, so a
    reduction over frequency (channel averaging, the commonest one) walks memory with a stride and an
    inner loop of 2-4 elements: numpy's mean over frequency of such a block is ~10-50x slower than over a
    contiguous axis, and NaN-skipping means (xarray's default) more so. One copy here (outside the table's
    lock) makes every later reduction over frequency contiguous; the logical shape and values are unchanged.

    Examples
    --------
    >>> b = channel_contiguous(np.arange(12.0).reshape(1, 6, 2))
    >>> b.shape, b.strides[-2] == b.itemsize, float(b[0, 5, 1])
    ((1, 6, 2), True, 11.0)
    """
    if block.ndim < 2 or block.shape[-1] < 2 or block.shape[-2] < 2:
        return block
    return np.ascontiguousarray(np.swapaxes(block, -1, -2)).swapaxes(-1, -2)


class MSColumnArray(BackendArray):
    """One main-table column of one data description, seen as a (time, baseline_id, ...) array.

    ``cell`` names the cell layout: 'cube' (frequency, polarization), 'vector' (UVW) or
    'scalar' (EXPOSURE). Cells of the grid without a row hold :attr:`fill`. Picklable:
    holds the table's path and the row grid, never an open table.

    Examples
    --------
    >>> vis = open_ms("my.ms")["spw_0"].ds               # doctest: +SKIP
    >>> arr = vis.VISIBILITY.variable._data.array         # doctest: +SKIP
    >>> arr.read(np.arange(2), np.arange(arr.shape[1]), np.arange(4), np.arange(2)).shape   # doctest: +SKIP
    (2, 351, 4, 2)
    """

    def __new__(cls, *args, **kwargs):
        # MSColumnArray(..., cell="broadcast") (the older spelling) makes a BroadcastColumnArray.
        cell = kwargs.get("cell", args[5] if len(args) > 5 else None)
        if cls is MSColumnArray and cell == "broadcast":
            cls = BroadcastColumnArray
        return super().__new__(cls)

    def __init__(self, path: str, column: str, grid: RowGrid, shape: tuple, dtype: np.dtype, cell: str = "cube"):
        self.table = TableRef(path)
        self.column = column
        self.grid = grid
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.cell = cell

    @property
    def path(self) -> str:
        """The table's path."""
        return self.table.path

    @property
    def fill(self):
        """Value of cells that have no row: NaN, or True for FLAG."""
        return True if self.dtype == bool else np.nan

    def __dask_tokenize__(self):
        return (type(self).__name__, self.path, self.column, self.shape, table_stamp(self.path))

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

    # -- the parts a subclass changes

    def _stored_axes(self, cell_idx: tuple[np.ndarray, ...]) -> tuple[tuple[np.ndarray, ...], tuple[int, ...]]:
        """The requested indices and full lengths of the axes stored in a cell."""
        return cell_idx, self.shape[2:]

    def _place(self, out: np.ndarray, tpos: np.ndarray, bpos: np.ndarray, data: np.ndarray) -> None:
        out[tpos, bpos] = data

    # -- reading

    def _locate(self, times: np.ndarray, baselines: np.ndarray):
        """MS rows of the requested cells and each row's (time, baseline_id) position in the output."""
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
        return g.rows[pos], tmap[ti], bmap[bi]

    def read(self, times: np.ndarray, baselines: np.ndarray, *cell_idx: np.ndarray) -> np.ndarray:
        """Read the cells at ascending time, baseline (and channel, polarization) indices.

        Examples
        --------
        >>> arr.read(np.arange(10), np.arange(arr.shape[1]), np.arange(5), np.arange(2))   # doctest: +SKIP
        """
        rows, tpos, bpos = self._locate(times, baselines)
        out_shape = (times.size, baselines.size) + tuple(c.size for c in cell_idx)
        if rows.size == 0:
            return np.full(out_shape, self.fill, dtype=self.dtype)

        # Cell selection: a slice through getcolslice when contiguous, else whole cells then take.
        read_axes, read_full = self._stored_axes(cell_idx)
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
        direct = (
            type(self)._place is MSColumnArray._place
            and all(ix is None for ix in post)
            and rows.size == times.size * baselines.size
            and np.array_equal(tpos * baselines.size + bpos, np.arange(rows.size))
        )
        out = np.empty(out_shape, dtype=self.dtype) if direct else np.full(out_shape, self.fill, dtype=self.dtype)
        buf = out.reshape(read_shape) if direct else np.empty(read_shape, dtype=self.dtype)
        self._read_rows(rows, buf, blc, trc)
        if not direct:
            data = buf
            for axis, ix in enumerate(post):
                if ix is not None:
                    data = np.take(data, ix, axis=axis + 1)
            self._place(out, tpos, bpos, data)
        return channel_contiguous(out) if self.cell == "cube" else out

    def _read_rows(self, rows: np.ndarray, buf: np.ndarray, blc, trc) -> None:
        with self.table.open() as t:
            try:
                read_rows(t, self.column, rows, buf, blc, trc)
            except RuntimeError as err:
                raise DamagedTable(
                    self.path,
                    f"casacore could not read column {self.column} (rows {rows[0]}..{rows[-1]}): "
                    f"{user_message(err, self.path)}. The table's data files may be truncated or damaged; "
                    "copy or extract it again",
                ) from err


class BroadcastColumnArray(MSColumnArray):
    """A per-polarization column (WEIGHT: one value per row and polarization) seen over
    ``(time, baseline_id, frequency, polarization)``: read as (row, polarization), broadcast
    over frequency.

    Examples
    --------
    >>> w = open_ms("my.ms")["spw_0"].ds.WEIGHT.variable._data.array    # doctest: +SKIP
    >>> type(w).__name__, w.column                                       # doctest: +SKIP
    ('BroadcastColumnArray', 'WEIGHT')
    """

    def __init__(self, path: str, column: str, grid: RowGrid, shape: tuple, dtype: np.dtype, cell: str = "broadcast"):
        super().__init__(path, column, grid, shape, dtype, "broadcast")

    def _stored_axes(self, cell_idx):
        return cell_idx[1:], self.shape[3:]

    def _place(self, out, tpos, bpos, data):
        out[tpos, bpos] = data[:, None, :]

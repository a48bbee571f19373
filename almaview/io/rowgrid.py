"""Where each MS row lands in a (time, baseline_id) grid, and how to read a set of rows fast.

A measurement set is a list of rows; almaview shows one data description
(spw x polarization setup) as a dense ``(time, baseline_id, ...)`` cube. A
:class:`RowGrid` holds, for one data description, the MS row numbers and each
row's time and baseline position; :func:`read_rows` reads a sorted list of row
numbers with python-casacore using the fewest calls (one ``getcol`` per run of
consecutive rows, or one read through a ``selectrows`` reference table when the
rows are short interleaved runs, as in ALMA MSs where spws alternate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Below this mean run length (rows per run of consecutive row numbers) :func:`read_rows`
#: reads through a ``selectrows`` reference table instead of one getcol per run.
MIN_MEAN_RUN = 4


@dataclass(frozen=True)
class RowGrid:
    """The rows of one data description and their (time, baseline_id) cells.

    ``rows`` are ascending MS row numbers; ``time_index`` and ``baseline_index`` give each
    row's cell. ``time_order`` (None when rows are already time-ordered) sorts rows by time,
    and ``time_bounds[t]:time_bounds[t+1]`` are the positions (in that order) of time ``t``.

    Examples
    --------
    >>> g = RowGrid.build(np.array([10, 11, 12, 13]), np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), 2, 2)
    >>> g.rows_for_times(np.array([1])).tolist()
    [12, 13]
    """

    rows: np.ndarray
    time_index: np.ndarray
    baseline_index: np.ndarray
    ntime: int
    nbaseline: int
    time_order: np.ndarray | None
    time_bounds: np.ndarray

    @classmethod
    def build(
        cls, rows: np.ndarray, time_index: np.ndarray, baseline_index: np.ndarray, ntime: int, nbaseline: int
    ) -> "RowGrid":
        """Make a grid from ascending row numbers and each row's time and baseline index.

        Examples
        --------
        >>> RowGrid.build(np.arange(3), np.array([0, 0, 1]), np.array([0, 1, 0]), 2, 2).ntime
        2
        """
        time_index = np.asarray(time_index, dtype=np.int32)
        if time_index.size and np.all(time_index[1:] >= time_index[:-1]):
            order = None
            sorted_t = time_index
        else:
            order = np.argsort(time_index, kind="stable").astype(np.int64)
            sorted_t = time_index[order]
        bounds = np.searchsorted(sorted_t, np.arange(ntime + 1)).astype(np.int64)
        return cls(
            rows=np.asarray(rows, dtype=np.int64),
            time_index=time_index,
            baseline_index=np.asarray(baseline_index, dtype=np.int32),
            ntime=int(ntime),
            nbaseline=int(nbaseline),
            time_order=order,
            time_bounds=bounds,
        )

    def positions_for_times(self, times: np.ndarray) -> np.ndarray:
        """Positions (into ``rows``) of every row at the given ascending time indices.

        Examples
        --------
        >>> g = RowGrid.build(np.arange(4), np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1]), 2, 2)
        >>> g.positions_for_times(np.array([0])).tolist()
        [0, 2]
        """
        times = np.asarray(times, dtype=np.int64)
        if times.size == 0:
            return np.zeros(0, np.int64)
        if times.size == times[-1] - times[0] + 1:  # a contiguous range: one slice
            pos = np.arange(self.time_bounds[times[0]], self.time_bounds[times[-1] + 1], dtype=np.int64)
        else:
            starts, ends = self.time_bounds[times], self.time_bounds[times + 1]
            lengths = ends - starts
            total = int(lengths.sum())
            offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
            pos = np.arange(total, dtype=np.int64) + offsets
        return pos if self.time_order is None else np.sort(self.time_order[pos])

    def rows_for_times(self, times: np.ndarray) -> np.ndarray:
        """Ascending MS row numbers of the rows at the given ascending time indices.

        Examples
        --------
        >>> g = RowGrid.build(np.array([5, 7]), np.array([0, 1]), np.array([0, 0]), 2, 1)
        >>> g.rows_for_times(np.array([0, 1])).tolist()
        [5, 7]
        """
        return self.rows[self.positions_for_times(times)]


def runs_of(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split ascending row numbers into runs of consecutive rows: (starts, lengths).

    Examples
    --------
    >>> s, n = runs_of(np.array([3, 4, 5, 9, 10]))
    >>> s.tolist(), n.tolist()
    ([3, 9], [3, 2])
    """
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    first = np.concatenate([[0], breaks])
    last = np.concatenate([breaks, [rows.size]])
    return rows[first], last - first


def read_rows(
    table,
    column: str,
    rows: np.ndarray,
    out: np.ndarray,
    blc: list[int] | None = None,
    trc: list[int] | None = None,
    strategy: str = "auto",
) -> np.ndarray:
    """Read ``column`` at the ascending row numbers ``rows`` of an open casacore table into ``out``.

    ``out`` is a C-contiguous array of shape ``(len(rows), *cell)`` with the column's dtype
    (complex64 for a 'complex' column): python-casacore writes into it directly
    (``getcolnp``), which is several times faster than ``getcol`` allocating its own
    result. ``blc``/``trc`` (numpy axis order of a cell, inclusive) select a slice of
    each cell. ``strategy`` is 'runs' (one call per run of consecutive rows),
    'selectrows' (one call on a reference table) or 'auto' (runs unless runs are short).

    Examples
    --------
    >>> from casacore import tables                               # doctest: +SKIP
    >>> rows = np.array([0, 1, 2, 40, 41])
    >>> out = np.empty((rows.size, 63, 2), np.complex64)          # one cell: 63 channels x 2 correlations
    >>> with tables.table("my.ms", ack=False) as t:                 # doctest: +SKIP
    ...     read_rows(t, "DATA", rows, out)
    """
    rows = np.asarray(rows, dtype=np.int64)
    if out.shape[0] != rows.size or not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous with one entry per row")
    if rows.size == 0:
        return out
    starts, lengths = runs_of(rows)
    if strategy == "auto":
        strategy = "runs" if len(starts) <= 1 or rows.size >= MIN_MEAN_RUN * len(starts) else "selectrows"
    if strategy == "selectrows":
        sub = table.selectrows(rows.tolist())
        try:
            _get_into(sub, column, out, 0, rows.size, blc, trc)
        finally:
            sub.close()
        return out
    at = 0
    for s, n in zip(starts.tolist(), lengths.tolist()):
        _get_into(table, column, out[at : at + n], s, n, blc, trc)
        at += n
    return out


def _get_into(table, column: str, view: np.ndarray, start: int, n: int, blc, trc) -> None:
    if blc is None:
        table.getcolnp(column, view, start, n)
    else:
        table.getcolslicenp(column, view, blc, trc, [], start, n)

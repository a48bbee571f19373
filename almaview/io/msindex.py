"""The row index of a measurement set: its row-sized columns, read once when it is opened.

:func:`read_index` checks that a path is a readable MS and reads the main table's index
columns (TIME, ANTENNA1, ANTENNA2, DATA_DESC_ID, FIELD_ID, SCAN_NUMBER, STATE_ID), each
once, and which data columns each data description holds. The tree builders
(:mod:`almaview.io.mstree`) group its rows by data description into
:class:`~almaview.io.rowgrid.RowGrid` s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DamagedTable, NotAMeasurementSet
from . import msmeta
from .table import check_table_dir, table_kind
from .tables import open_table, user_message

#: Row-sized columns read (once each) when an MS is opened; nothing else in the main table is.
INDEX_COLUMNS = ("TIME", "ANTENNA1", "ANTENNA2", "DATA_DESC_ID", "FIELD_ID", "SCAN_NUMBER", "STATE_ID")

#: MS column -> data variable name (xradio MSv4).
VISIBILITY_COLUMNS = {"DATA": "VISIBILITY", "CORRECTED_DATA": "VISIBILITY_CORRECTED", "MODEL_DATA": "VISIBILITY_MODEL"}

#: Data-like main-table columns whose presence (and cells per data description) the index records.
DATA_LIKE_COLUMNS = (*VISIBILITY_COLUMNS, "FLOAT_DATA", "FLAG", "WEIGHT", "WEIGHT_SPECTRUM", "UVW", "EXPOSURE")

_KIND_WORDS = {
    "caltable": "a calibration table",
    "image": "a CASA image",
    "table": "a CASA table of another kind",
    "ms": "a measurement set",
}


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
            f"casacore could not read the main table's index columns ({user_message(err, root)}); the table's data files "
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
            for c in DATA_LIKE_COLUMNS:
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

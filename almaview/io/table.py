"""Checking CASA tables before casacore opens them, and saying what kind of table one is.

:mod:`almaview.io.tables` (the one owner of table handles) runs these checks once per
table per process, so a half-copied directory or a missing ``table.f0`` becomes a typed
error naming the path, never a bare casacore traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from ..errors import DamagedTable, NotATable, PathNotFound

TableKind = Literal["ms", "caltable", "image", "table"]


def check_table_dir(path: str | os.PathLike) -> Path:
    """Check that ``path`` looks like a complete CASA table directory; return it resolved.

    Raises :class:`PathNotFound`, :class:`NotATable` or :class:`DamagedTable`.

    Examples
    --------
    >>> check_table_dir("/no/such.ms")
    Traceback (most recent call last):
    ...
    almaview.errors.PathNotFound: '/no/such.ms': does not exist
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise PathNotFound(p, "does not exist")
    if not p.is_dir():
        raise NotATable(p, "is a file, not a CASA table directory (a CASA table is a directory holding table.dat)")
    dat = p / "table.dat"
    if not dat.exists():
        raise NotATable(
            p,
            "is not a CASA table: table.dat is missing "
            "(the directory may be half-copied or half-untarred, or it is not a table at all)",
        )
    if dat.stat().st_size == 0:
        raise DamagedTable(p, "table.dat is empty (zero bytes): the table was truncated while being written or copied")
    if not any(p.glob("table.f*")):
        raise DamagedTable(
            p,
            "has no data files (table.f0, table.f1, ...): the table is incomplete "
            "(half-copied or half-untarred); copy or extract it again",
        )
    return p.resolve()


# Storage managers that keep their data in table.f<SEQNR> (the tiled ones also in table.f<SEQNR>_TSM<k>).
_FILE_STORAGE_MANAGERS = {
    "StandardStMan",
    "IncrementalStMan",
    "StManAipsIO",
    "TiledShapeStMan",
    "TiledColumnStMan",
    "TiledCellStMan",
    "TiledDataStMan",
    "ISMStMan",
    "SSMStMan",
}


def check_storage_files(t: "object", path: Path) -> None:
    """Raise :class:`DamagedTable` when a data file named in table.dat is missing.

    casacore opens such a table and only fails on the first read of a column;
    checking here turns that late, cryptic failure into a clear one.
    """
    try:
        managers = t.getdminfo().values()
    except RuntimeError as err:  # casacore opens the data files here and names the missing one
        raise DamagedTable(
            path,
            f"a data file of the table is missing or unreadable ({err}); the table is incomplete "
            "(half-copied or half-untarred): copy or extract it again",
        ) from err
    for dm in managers:
        if dm.get("TYPE") not in _FILE_STORAGE_MANAGERS:
            continue
        name = f"table.f{dm['SEQNR']}"
        if not (path / name).exists():
            raise DamagedTable(
                path,
                f"{name} is missing (it holds columns {', '.join(dm.get('COLUMNS', [])) or '?'}): "
                "the table's data files are incomplete (half-copied or half-untarred); copy or extract it again",
            )


def open_table(path: str | os.PathLike, subtable: str | None = None):
    """The process's cached read-only handle of a table, its lock held (see :func:`almaview.io.tables.open_table`).

    Kept here for code that imported it from this module.

    Examples
    --------
    >>> with open_table("my.ms", "SPECTRAL_WINDOW") as t:   # doctest: +SKIP
    ...     t.getcol("NUM_CHAN")
    """
    from .tables import open_table as owner_open_table

    return owner_open_table(path, subtable)


def table_kind(path: str | os.PathLike) -> TableKind:
    """Say what a CASA table directory holds: 'ms', 'caltable', 'image' or 'table'.

    Examples
    --------
    >>> table_kind("uid___A002_X1.ms")   # doctest: +SKIP
    'ms'
    """
    with open_table(path) as t:
        keywords = set(t.keywordnames())
        for keyword, kind in _KIND_KEYWORDS:  # the keywords decide first: table.info is only read when needed
            if keyword in keywords:
                return kind
        info = t.info().get("type", "")
    return _KIND_INFO.get(info, "table")


_KIND_KEYWORDS: tuple[tuple[str, TableKind], ...] = (("MS_VERSION", "ms"), ("VisCal", "caltable"), ("coords", "image"))
_KIND_INFO: dict[str, TableKind] = {"Measurement Set": "ms", "Calibration": "caltable", "Image": "image"}

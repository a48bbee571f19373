"""Measurement sets as lazy xarray DataTrees: :func:`open_ms`.

Opening reads the metadata subtables and the row-sized index columns of the
main table (TIME, ANTENNA1, ANTENNA2, DATA_DESC_ID, FIELD_ID, SCAN_NUMBER,
STATE_ID), each once. Visibilities, flags, weights and UVW stay on disk: each
data variable wraps a lazy array (:mod:`almaview.io.msarray`) inside dask, so
``.isel`` on a few times reads only those rows, and a dask chunk reads its rows
with python-casacore (through the process's one handle of the table,
:mod:`almaview.io.tables`) and scatters them into the (time, baseline_id) grid.
Tasks pickle (path + row grid, never an open table), so they run under
dask.distributed.

The parts: :mod:`~almaview.io.msindex` (the row index), :mod:`~almaview.io.msarray`
(the backend arrays), :mod:`~almaview.io.mstree` (the interferometric tree builder);
this module picks a tree builder (:data:`TREE_BUILDERS`) and chunks the tree. An unchanged MS opened again
reuses the tree built before (its metadata and index are read once; :func:`forget_trees`).

Names follow xradio's MSv4 schema: VISIBILITY, VISIBILITY_CORRECTED,
VISIBILITY_MODEL, FLAG, WEIGHT, UVW, EFFECTIVE_INTEGRATION_TIME (EXPOSURE);
coordinates time, baseline_id (with baseline_antenna1_name / baseline_antenna2_name),
frequency, polarization, uvw_label; per-time field_name and scan_name. almaview's extra
coordinates (scan_number, intents, baseline_antenna1_id, ...) and where the trees differ from
MSv4 are listed in one place: :mod:`almaview.io.msv4`.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping

import numpy as np
import xarray as xr

from ..errors import DamagedTable, EmptyMeasurementSet
from . import singledish
from .msarray import BroadcastColumnArray, MSColumnArray, table_stamp
from .msindex import INDEX_COLUMNS, VISIBILITY_COLUMNS, MSIndex, read_index, spw_rows
from .mstree import build_interferometric_tree
from .tables import user_message

# Helpers a tree builder shares (io/singledish.py uses them as ms._name); their homes are
# io/msindex.py and io/mstree.py.
from .msindex import _group_rows, _unique_inverse, _unique_small  # noqa: E402,F401
from .mstree import _dtype, _lazy, _msv4_meta, _root_attrs, _safe_take, _scans_dataset  # noqa: E402,F401
from .mstree import frequency_attrs as _frequency_attrs, time_attrs as _time_attrs  # noqa: E402,F401
from .rowgrid import read_rows
from .tables import _stamp as tables_stamp
from .tables import table_lock

__all__ = [
    "DEFAULT_CHUNK_BYTES", "INDEX_COLUMNS", "TREE_BUILDERS", "VISIBILITY_COLUMNS", "BroadcastColumnArray",
    "MSColumnArray", "MSIndex", "build_tree", "chunk_tree", "default_chunks", "forget_trees", "open_ms", "read_index",
    "read_rows", "spw_rows", "table_lock",
]  # fmt: skip

#: Default size of one dask chunk of the largest data variable.
DEFAULT_CHUNK_BYTES = 96 * 2**20

#: Tree builders, tried in order: ``(accepts(index) -> bool, build(index) -> DataTree)``.
#: A builder for another kind of MS (e.g. single dish, FLOAT_DATA) is inserted before the
#: interferometric one, which accepts every MS.
TREE_BUILDERS: list[tuple[Callable[[MSIndex], bool], Callable[[MSIndex], xr.DataTree]]] = [
    (singledish.is_single_dish, singledish.build_tree),  # autocorrelations only, FLOAT_DATA: the spectrum layout
    (lambda index: True, build_interferometric_tree),
]


def build_tree(path: str | os.PathLike) -> xr.DataTree:
    """Open an MS as a DataTree whose data variables are lazily indexed (not yet dask).

    Reads the row index once (:func:`read_index`) and hands it to the first of
    :data:`TREE_BUILDERS` that accepts it. :func:`open_ms` chunks the tree with dask; the
    xarray backend returns it as is.

    Examples
    --------
    >>> tree = build_tree("my.ms")            # doctest: +SKIP
    >>> tree["spw_0"].ds.VISIBILITY.shape     # doctest: +SKIP
    (60, 351, 63, 2)
    """
    index = read_index(path)
    if index.nrows == 0:
        raise EmptyMeasurementSet(
            index.path,
            "has no rows: its main table holds no visibilities (written by a split or mstransform whose "
            "selection matched nothing, or a copy cut short); its metadata subtables are still readable "
            "with almaview.io.msmeta",
        )
    build = next((build for accepts, build in TREE_BUILDERS if accepts(index)), build_interferometric_tree)
    try:
        return build(index)
    except RuntimeError as err:  # casacore failing on a subtable's data files
        raise DamagedTable(
            index.path,
            f"casacore could not read the metadata subtables ({user_message(err, index.path)}); the measurement "
            "set may be half-copied or damaged",
        ) from err


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
    nbl = max(ds.sizes.get("baseline_id", 1), 1)
    return {"time": 1, "baseline_id": int(max(1, target_bytes // max(per_time // nbl, 1)))}


def chunk_tree(tree: xr.DataTree, chunks: Mapping[str, int] | int | None = None) -> xr.DataTree:
    """Wrap every spw node's lazily indexed variables in dask arrays.

    Default (:func:`default_chunks`): whole baseline_id/frequency/polarization axes and
    ~96 MB of the largest variable per chunk along time; ``chunks`` overrides any
    dimension (an int is a number of times per chunk). The dimension almaview called
    ``baseline`` before it took xradio's MSv4 name is still accepted here, with a
    :class:`DeprecationWarning` (until almaview 0.3).

    Examples
    --------
    >>> tree = chunk_tree(build_tree("my.ms"), {"time": 100})   # doctest: +SKIP
    """
    if isinstance(chunks, (int, np.integer)):
        chunks = {"time": int(chunks)}
    if chunks and "baseline" in chunks:
        warnings.warn(
            "the MS trees' dimension 'baseline' is now 'baseline_id' (xradio's MSv4 name): "
            "chunks={'baseline': n} -> chunks={'baseline_id': n}",
            DeprecationWarning,
            stacklevel=3,
        )
        chunks = {("baseline_id" if k == "baseline" else k): v for k, v in chunks.items()}
    out = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        if node.path != "/" and "time" in ds.dims and ("baseline_id" in ds.dims or "antenna_name" in ds.dims):
            spec = default_chunks(ds)
            spec.update({k: v for k, v in (chunks or {}).items() if k in ds.dims})
            stamp = (node.path, ds.attrs.get("data_description_id"), sorted(spec.items()),
                     table_stamp(tree.attrs.get("path", "")), tree.attrs.get("path", ""))  # fmt: skip
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
    ``(time, baseline_id, frequency, polarization)``, UVW over ``(time, baseline_id, uvw_label)`` and
    EFFECTIVE_INTEGRATION_TIME over ``(time, baseline_id)``, as dask arrays. Opening reads only metadata and row-sized index columns.
    A single-dish MS (autocorrelations only, FLOAT_DATA) gives SPECTRUM / SPECTRUM_CORRECTED, FLAG, WEIGHT over
    ``(time, antenna_name, frequency, polarization)`` and POINTING_DIRECTION instead (:mod:`almaview.io.singledish`).

    ``chunks`` (e.g. ``{"time": 100}``) overrides the default ~96 MB chunks. Selecting
    with ints or slices (``.isel(time=slice(0, 5))``) reads only the rows selected;
    selecting with lists reads whole chunks under dask (open without dask,
    ``xr.open_datatree(path, engine="almaview")``, to read only listed rows).
    Cells of the (time, baseline_id) grid that have no row are NaN and flagged. The names are
    xradio's MSv4 names (:mod:`almaview.io.msv4`): each spw node passes xradio's own schema check.

    Raises :class:`~almaview.errors.PathNotFound`, :class:`~almaview.errors.NotATable`,
    :class:`~almaview.errors.DamagedTable`, :class:`~almaview.errors.NotAMeasurementSet` or
    :class:`~almaview.errors.EmptyMeasurementSet` (no rows).

    Examples
    --------
    >>> import almaview as av
    >>> vis = av.open_ms("uid___A002_Xc3_X1.ms", chunks={"time": 100})      # doctest: +SKIP
    >>> amp = abs(vis["spw_17"].ds.VISIBILITY_CORRECTED).mean("frequency")  # doctest: +SKIP
    >>> amp.compute()                                                         # doctest: +SKIP
    """
    return chunk_tree(_cached_tree(path), chunks)


#: the trees :func:`open_ms` built, by MS path, with the version of the MS's table files they were read from: the
#: same unchanged MS opened again (the delivery lists its fields and spws, then the report or the explorer shows
#: it) reuses its metadata and row index instead of reading them again. Bounded by the rows their indexes hold
#: (:data:`TREE_CACHE_ROWS`, ~40 bytes a row); each :func:`open_ms` returns a new tree over the cached variables.
_TREES: OrderedDict[str, tuple[tuple, int, xr.DataTree]] = OrderedDict()
_TREES_LOCK = threading.Lock()
TREE_CACHE_ROWS = 4_000_000


def _ms_stamp(root: str) -> tuple | None:
    """The version of an MS: its main table's and each subtable's files (name, size, inode, mtime)."""
    main = tables_stamp(root)
    if main is None:
        return None
    try:
        with os.scandir(root) as it:
            subs = sorted(e.path for e in it if e.is_dir() and os.path.isfile(os.path.join(e.path, "table.dat")))
    except OSError:
        return None
    return (main, tuple((os.path.basename(p), tables_stamp(p)) for p in subs))


def _cached_tree(path: str | os.PathLike) -> xr.DataTree:
    """:func:`build_tree` of ``path``, or the tree built from the same version of it before."""
    key = os.path.realpath(os.fspath(path))
    stamp = _ms_stamp(key)
    if stamp is None:  # not a table (build_tree says what it is)
        return build_tree(path)
    with _TREES_LOCK:
        hit = _TREES.get(key)
        if hit is not None and hit[0] == stamp:
            _TREES.move_to_end(key)
            return hit[2]
    tree = build_tree(path)
    rows = int(tree.attrs.get("n_rows", 0) or 0)
    with _TREES_LOCK:
        _TREES.pop(key, None)
        if rows <= TREE_CACHE_ROWS:
            _TREES[key] = (stamp, rows, tree)
            while sum(r for _, r, _ in _TREES.values()) > TREE_CACHE_ROWS:
                _TREES.popitem(last=False)
    return tree


def forget_trees() -> int:
    """Drop the trees :func:`open_ms` keeps for reuse; returns how many were kept.

    Examples
    --------
    >>> forget_trees() >= 0
    True
    """
    with _TREES_LOCK:
        n = len(_TREES)
        _TREES.clear()
    return n

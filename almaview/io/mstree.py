"""The interferometric tree builder: an MS row index -> an :class:`xarray.DataTree`.

:func:`build_tree` reads the metadata subtables (:mod:`almaview.io.msmeta`) and makes one
node per data description (``spw_<id>``), whose data variables wrap
:class:`~almaview.io.msarray.MSColumnArray` / :class:`~almaview.io.msarray.BroadcastColumnArray`
in xarray's lazy indexing (not yet dask: :func:`almaview.io.ms.open_ms` chunks them).
Names and attributes follow xradio's MSv4 ``VisibilityXds`` (VISIBILITY, VISIBILITY_CORRECTED,
VISIBILITY_MODEL, FLAG, WEIGHT, UVW, EFFECTIVE_INTEGRATION_TIME; time, baseline_id, frequency,
polarization, uvw_label, field_name, scan_name); :mod:`almaview.io.msv4` spells them and lists
almaview's extra coordinates and where it differs.
Another kind of MS (single dish: FLOAT_DATA) gets a builder of its own, registered in
:data:`almaview.io.ms.TREE_BUILDERS`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import xarray as xr
from xarray.core import indexing

from ..errors import DamagedTable, DataWarning
from . import msmeta, msv4
from .msarray import BroadcastColumnArray, MSColumnArray
from .msindex import (
    VISIBILITY_COLUMNS,
    MSIndex,
    _group_rows,
    _unique_inverse,
    _unique_small,
    read_index,
)
from .rowgrid import RowGrid
from .tables import user_message


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
    return build_interferometric_tree(read_index(path))


def build_interferometric_tree(index: MSIndex) -> xr.DataTree:
    """The tree of an interferometric MS (DATA/CORRECTED_DATA/MODEL_DATA) from its row index.

    Examples
    --------
    >>> build_interferometric_tree(read_index("my.ms"))["spw_0"].ds.VISIBILITY.dims   # doctest: +SKIP
    ('time', 'baseline_id', 'frequency', 'polarization')
    """
    try:
        return _build_tree(index)
    except RuntimeError as err:  # casacore failing on a subtable's data files
        raise DamagedTable(
            index.path,
            f"casacore could not read the metadata subtables ({user_message(err, index.path)}); the measurement set may be "
            "half-copied or damaged",
        ) from err


def _build_tree(index: MSIndex) -> xr.DataTree:
    root = index.path
    spath = str(root)
    cols = index.columns

    observation = msmeta.read_observation(root)
    telescope = next((s for s in observation.telescope_name.values if s), "")
    used = _unique_small(np.concatenate([cols["ANTENNA1"], cols["ANTENNA2"]]))
    antennas = msmeta.read_antennas(root, used=used, telescope=telescope)
    fields = msmeta.read_fields(root, telescope=telescope, time=float(cols["TIME"].min()) if index.nrows else None)
    spws, chan_freqs, chan_widths = msmeta.read_spws(root, telescope)
    pols = msmeta.read_polarizations(root)
    dd_spw, dd_pol = msmeta.read_data_descriptions(root)
    modes = msmeta.read_state_modes(root)
    meta = _msv4_meta(root, observation, fields)

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
            warnings.warn(
                f"{root}: {rows.size} rows have DATA_DESC_ID {ddid}, which has no DATA_DESCRIPTION row; skipped",
                DataWarning,
                stacklevel=2,
            )
            continue
        spw_id, pol_id = int(dd_spw[ddid]), int(dd_pol[ddid])
        name = f"spw_{spw_id}" if f"spw_{spw_id}" not in used_names else f"spw_{spw_id}_pol{pol_id}"
        used_names.add(name)
        nodes[name] = _spw_dataset(
            spath, index, ddid, spw_id, pol_id, rows, time, field_id, scan, state, nant, ant_names,
            field_names, state_intents, spws, chan_freqs[spw_id], chan_widths[spw_id], pols[pol_id], meta,
        )  # fmt: skip

    ddid = cols["DATA_DESC_ID"]
    row_spw = np.where((ddid >= 0) & (ddid < len(dd_spw)), np.asarray(dd_spw)[np.clip(ddid, 0, max(len(dd_spw) - 1, 0))]
                       if len(dd_spw) else -1, -1)  # fmt: skip
    scans = _scans_dataset(time, scan, field_id, state, row_spw, field_names, state_intents)
    # Antennas count when they have data and a valid position (not every ANTENNA row does).
    root_ds = xr.Dataset(attrs=_root_attrs(root, index, observation, antennas.attrs["n_antennas"], nodes, time))
    root_ds.attrs["n_antennas_listed"] = int(nant)
    tree = {"/": root_ds, "antennas": antennas, "fields": fields, "spws": spws, "scans": scans,
            "observation": observation}  # fmt: skip
    tree.update(nodes)
    return xr.DataTree.from_dict(tree)


def _spw_dataset(
    path, index, ddid, spw_id, pol_id, rows, time, field_id, scan, state, nant, ant_names,
    field_names, state_intents, spws, freqs, widths, corr_names, meta,
) -> xr.Dataset:  # fmt: skip
    rows = np.sort(rows)
    utimes, tinv = _unique_inverse(time[rows])
    a1, a2 = index.columns["ANTENNA1"][rows], index.columns["ANTENNA2"][rows]
    bkey = a1.astype(np.int64) * max(nant, 1) + a2
    ubl, binv = _unique_small(bkey, return_inverse=True)
    grid = RowGrid.build(rows, tinv, binv, utimes.size, ubl.size)
    cells = np.int64(utimes.size) * ubl.size
    if rows.size > cells or _unique_small(tinv.astype(np.int64) * ubl.size + binv).size < rows.size:
        warnings.warn(
            f"{path}: spw {spw_id} has several rows for the same time and baseline; one is shown per cell",
            DataWarning,
            stacklevel=2,
        )

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
            data_vars[var] = _lazy(VIS_DIMS, arr, {"column": column, "units": "Jy"})
    if "FLAG" in index.data_columns and index.defined["FLAG"].get(ddid, False):
        arr = MSColumnArray(path, "FLAG", grid, (ntime, nbl, nchan, npol), _dtype(index.data_columns["FLAG"]), "cube")
        data_vars["FLAG"] = _lazy(VIS_DIMS, arr, {"column": "FLAG"})
    if "WEIGHT_SPECTRUM" in index.data_columns and index.defined["WEIGHT_SPECTRUM"].get(ddid, False):
        arr = MSColumnArray(path, "WEIGHT_SPECTRUM", grid, (ntime, nbl, nchan, npol),
                            _dtype(index.data_columns["WEIGHT_SPECTRUM"]), "cube")  # fmt: skip
        data_vars["WEIGHT"] = _lazy(VIS_DIMS, arr,
                                    {"column": "WEIGHT_SPECTRUM"})  # fmt: skip
    elif "WEIGHT" in index.data_columns and index.defined["WEIGHT"].get(ddid, False):
        arr = BroadcastColumnArray(path, "WEIGHT", grid, (ntime, nbl, nchan, npol),
                                   _dtype(index.data_columns["WEIGHT"]))  # fmt: skip
        data_vars["WEIGHT"] = _lazy(VIS_DIMS, arr,
                                    {"column": "WEIGHT", "description": "WEIGHT broadcast over frequency"})  # fmt: skip
    if "UVW" in index.data_columns and index.defined["UVW"].get(ddid, False):
        arr = MSColumnArray(path, "UVW", grid, (ntime, nbl, 3), _dtype(index.data_columns["UVW"]), "vector")
        data_vars["UVW"] = _lazy(("time", "baseline_id", "uvw_label"), arr,
                                 {"column": "UVW", "type": "uvw", "frame": meta["uvw_frame"], "units": "m"})  # fmt: skip

    if "EXPOSURE" in index.data_columns:
        arr = MSColumnArray(path, "EXPOSURE", grid, (ntime, nbl), _dtype(index.data_columns["EXPOSURE"]), "scalar")
        data_vars["EFFECTIVE_INTEGRATION_TIME"] = _lazy(("time", "baseline_id"), arr,
                                                       {"column": "EXPOSURE", "type": "quantity", "units": "s"})  # fmt: skip

    spw = spws.sel(spw_id=spw_id)
    scan_names = scan[first].astype(str)
    time_intents = state_intents[state[first]].astype(str)
    coords = {
        "time": ("time", msmeta.casa_time_to_datetime64(utimes), time_attrs(path, rows)),
        "baseline_id": ("baseline_id", np.arange(nbl), {"long_name": "Baseline ID"}),
        "baseline_antenna1_name": ("baseline_id", ant_names[b1] if nant else b1.astype(str)),
        "baseline_antenna2_name": ("baseline_id", ant_names[b2] if nant else b2.astype(str)),
        "baseline_antenna1_id": ("baseline_id", b1),
        "baseline_antenna2_id": ("baseline_id", b2),
        "frequency": ("frequency", freqs, frequency_attrs(spw, spw_id, widths)),
        "channel_width": ("frequency", widths, {"units": "Hz", "description": "CHAN_WIDTH of each channel"}),
        "polarization": ("polarization", list(corr_names)),
        "uvw_label": ("uvw_label", ["u", "v", "w"]),
        "field_name": ("time", _safe_take(field_names, field_id[first])),
        "scan_name": ("time", scan_names, {"scan_intents": msv4.scan_intents(time_intents)}),
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
        "grid_fill": float(rows.size / cells) if cells else 0.0,
    }
    attrs.update(
        msv4.node_attrs("visibility", ms_path=path, data_vars=data_vars, observation_info=meta["observation_info"],
                        processor_info=meta["processor_info"])
    )  # fmt: skip
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


#: The dims of the visibility cube (MSv4's VisibilityXds).
VIS_DIMS = ("time", "baseline_id", "frequency", "polarization")


def time_attrs(path: str, rows: np.ndarray) -> dict:
    """The attrs of a node's ``time`` coordinate; ``integration_time`` is the INTERVAL of its first row.

    ``time`` is datetime64, so MSv4's ``units``/``format`` (float seconds) do not apply (:mod:`almaview.io.msv4`).

    Examples
    --------
    >>> time_attrs("my.ms", np.array([0]))["integration_time"]   # doctest: +SKIP
    {'data': 2.016, 'dims': [], 'attrs': {'type': 'quantity', 'units': 's'}}
    """
    from .tables import open_table

    attrs = {"type": "time", "scale": "utc", "description": "TIME (mid-integration)"}
    if rows.size:
        with open_table(path) as t:
            if "INTERVAL" in t.colnames():
                attrs["integration_time"] = msv4.quantity(float(t.getcell("INTERVAL", int(rows[0]))), "s")
    return attrs


def frequency_attrs(spw: xr.Dataset, spw_id: int, widths: np.ndarray) -> dict:
    """The ``frequency`` attrs of a node from its row of the ``spws`` node (:func:`almaview.io.msv4.frequency_attrs`).

    Examples
    --------
    >>> spws, _, widths = msmeta.read_spws(Path("my.ms"), "ALMA")     # doctest: +SKIP
    >>> frequency_attrs(spws.sel(spw_id=0), 0, widths[0])["observer"]   # doctest: +SKIP
    'TOPO'
    """
    return msv4.frequency_attrs(
        spw_id=spw_id,
        spw_name=str(spw.spw_name.item()),
        reference_hz=float(spw.REF_FREQUENCY),
        widths_hz=widths,
        frame=str(spw.frequency_frame.item()),
    )


def _msv4_meta(root: Path, observation: xr.Dataset, fields: xr.Dataset) -> dict:
    """What every node's MSv4 attrs share: observation and processor info, the UVW frame."""
    from .tables import open_table

    with open_table(root) as t:
        ref = (t.getcolkeywords("UVW").get("MEASINFO") or {}).get("Ref", "J2000") if "UVW" in t.colnames() else ""
    return {
        "observation_info": msv4.observation_info(observation, msmeta.eb_uid_from_name(root) or ""),
        "processor_info": msmeta.read_processor(root),
        "uvw_frame": msv4.uvw_frame(ref, next(iter(fields.frame_in_ms.values), "J2000")),
    }


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
    t0, t1 = msmeta.casa_time_to_datetime64([time.min(), time.max()]) if time.size else (None, None)
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

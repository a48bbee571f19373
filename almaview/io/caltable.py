"""CASA calibration tables (Tsys, bandpass, gain, delay, antenna positions) as xarray.

:func:`open_caltable` returns an :class:`xarray.DataTree` with one node per spw
(``spw_<id>``), because channel counts differ between spws. Each node holds

- ``gain`` (complex, from CPARAM) or ``value`` (float, from FPARAM),
- ``flag``, ``snr``, ``param_error``,

with dims ``(time, antenna_name, frequency, receptor)`` for channelised tables (B
Jones, B TSYS) and ``(time, antenna_name, receptor)`` for the others. Antenna-position
tables (``KAntPos Jones``) hold ITRF offsets, so their last dim is ``axis``
(``x``, ``y``, ``z``, in m) rather than ``receptor``. ``antenna_name`` is xradio's
MSv4 name, as on the MS trees (``ds.sel(antenna_name="DA41")`` selects the same
antenna on both); ``antenna_id`` (the ANTENNA row) is a coordinate on it.
:mod:`almaview.io.msv4` lists the names (almaview 0.1 called the dim ``antenna``:
:func:`almaview.analysis.trees.current_names` renames an old tree, with a DeprecationWarning).

The ``time`` dim indexes the *solutions* of that spw: every distinct (time,
field, scan, observation) with a solution, sorted by time. Two fields solved at
the same timestamp therefore become two entries (with the same ``time`` value and
different ``field_name``) instead of one overwriting the other.

Caltables are small, so the values are read eagerly, one spw at a time, each
column cell read once.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import NotACaltable, UnsupportedCaltable
from .msv4 import ANTENNA_DIM
from .table import check_table_dir, table_kind
from .tables import open_table

#: CASA MJD seconds at the unix epoch (1970-01-01).
MJD_UNIX_EPOCH_S = 3506716800.0

#: VisCal types almaview reads, with what they hold and the unit of FPARAM values.
SUPPORTED_VISCAL: dict[str, dict[str, Any]] = {
    "B TSYS": {"description": "system temperature (Tsys)", "channelised": True, "units": "K"},
    "B Jones": {"description": "bandpass", "channelised": True, "units": ""},
    "G Jones": {"description": "gain (per receptor; phase-only or amplitude)", "channelised": False, "units": ""},
    "T Jones": {
        "description": "gain shared by both receptors (amplitude, phase, wvrgcal, fluxscale)",
        "channelised": False,
        "units": "",
    },
    "K Jones": {"description": "delay", "channelised": False, "units": "ns"},
    "KAntPos Jones": {"description": "antenna position corrections (ITRF offsets)", "channelised": False, "units": "m"},
    # single-dish sky tables (sdcal): the OFF-source spectra subtracted from the ON-source ones, in the data's units
    "SDSKY_PS": {"description": "single-dish sky (position switch, OFF spectra)", "channelised": True, "units": ""},
    "SDSKY_RASTER": {"description": "single-dish sky (raster edges, OFF spectra)", "channelised": True, "units": ""},
    "SDSKY_OTF": {"description": "single-dish sky (OTF edges, OFF spectra)", "channelised": True, "units": ""},
}

_PIPELINE_NAME = re.compile(
    r"^(?P<eb>.+?\.ms)\.(?P<task>h[a-z]*_[a-z0-9]+)\.s(?P<stage>\d+)_(?P<substage>\d+)\.(?P<rest>.+?)\.tbl$"
)

# casacore Stokes codes of the parallel hands -> receptor basis.
_LINEAR_CODES = {9, 10, 11, 12}
_CIRCULAR_CODES = {5, 6, 7, 8}
_LINEAR_TELESCOPES = {"ALMA", "ACA", "OSF", "ATCA", "MEERKAT", "ASKAP", "SMA", "NOEMA", "PDBI", "APEX", "LOFAR", "MWA"}
_CIRCULAR_TELESCOPES = {"VLA", "EVLA", "JVLA", "VLBA", "GMRT", "UGMRT", "CARMA", "WSRT", "BIMA", "EVN"}


@dataclass(frozen=True)
class PipelineName:
    """The parts of an ALMA pipeline caltable file name.

    ``<eb>.ms.<task>.s<stage>_<substage>.<spws>.<solint>.<kind>.tbl``; ``spws``
    and ``solint`` are optional (Tsys tables have neither); ``kind`` may hold dots
    (``fluxscale.gacal``).
    """

    eb: str
    task: str
    stage: int
    substage: int
    spws: tuple[int, ...]
    solint: str | None
    kind: str


def parse_caltable_name(name: str | os.PathLike) -> PipelineName | None:
    """Split a pipeline caltable file name into its parts; ``None`` if it does not follow the naming.

    Examples
    --------
    >>> p = parse_caltable_name("uid___A002_Xc3_X1.ms.hifa_bandpass.s12_3.spw16_18_20_22.solintinf.bcal.tbl")
    >>> p.task, p.stage, p.spws, p.solint, p.kind
    ('hifa_bandpass', 12, (16, 18, 20, 22), 'inf', 'bcal')
    >>> parse_caltable_name("uid___A002_Xc3_X1.ms.h_tsyscal.s6_1.tsyscal.tbl").kind
    'tsyscal'
    >>> parse_caltable_name("uid___A002_Xc3_X1.ms.hifa_gfluxscale.s15_4.spw0.solintinf.fluxscale.gacal.tbl").kind
    'fluxscale.gacal'
    >>> parse_caltable_name("uid___A002_X1_X2.ms.hifa_bandpass.s12_5.spw16.channel.solintinf.bcal.tbl").solint
    'inf'
    >>> parse_caltable_name("bandpass.B0") is None
    True
    """
    m = _PIPELINE_NAME.match(Path(name).name)
    if m is None:
        return None
    parts = m["rest"].split(".")
    spws: tuple[int, ...] = ()
    solint = None
    if len(parts) > 1 and re.fullmatch(r"spw\d+(_\d+)*", parts[0]):
        spws = tuple(int(s) for s in parts.pop(0)[3:].split("_"))
    at = [i for i, token in enumerate(parts[:-1]) if token.startswith("solint")]
    if at:  # tokens before solint (e.g. 'channel' in '.spw16.channel.solintinf.bcal') qualify the solve
        solint = parts[at[0]][len("solint") :]
        parts = parts[at[0] + 1 :]
    return PipelineName(
        eb=m["eb"],
        task=m["task"],
        stage=int(m["stage"]),
        substage=int(m["substage"]),
        spws=spws,
        solint=solint,
        kind=".".join(parts),
    )


def casa_time_to_datetime64(mjd_seconds: np.ndarray) -> np.ndarray:
    """Convert CASA times (MJD seconds, UTC) to ``datetime64[ns]``; 0 (no time) becomes NaT.

    Examples
    --------
    >>> casa_time_to_datetime64(np.array([3506716800.0, 0.0]))
    array(['1970-01-01T00:00:00.000000000',                           'NaT'],
          dtype='datetime64[ns]')
    """
    t = np.asarray(mjd_seconds, dtype=np.float64)
    ns = np.round((t - MJD_UNIX_EPOCH_S) * 1e9)
    out = ns.astype("int64").astype("datetime64[ns]")
    out[t <= 0] = np.datetime64("NaT")
    return out


def open_caltable(path: str | os.PathLike) -> xr.DataTree:
    """Open a CASA calibration table as a DataTree with one node per spw (``spw_<id>``).

    Reads Tsys (``B TSYS``), bandpass (``B Jones``), gain (``G Jones``, ``T Jones``:
    the pipeline's .gpcal/.gacal, wvrgcal and fluxscale tables), delay (``K Jones``)
    and antenna-position (``KAntPos Jones``) tables written by CASA 3.4 or later, the
    single-dish sky tables of ``sdcal`` (``SDSKY_PS``/``_RASTER``/``_OTF``) and the
    single-dish Jy/K factors file (``jyperk.csv``, see :func:`almaview.io.singledish.open_jyperk`).

    Raises :class:`~almaview.errors.PathNotFound`, :class:`~almaview.errors.NotATable`,
    :class:`~almaview.errors.DamagedTable`, :class:`~almaview.errors.NotACaltable`
    (an MS, an image or another table) and :class:`~almaview.errors.UnsupportedCaltable`
    (unknown VisCal, pre-3.4 CAL_DESC layout).

    Examples
    --------
    >>> import almaview as av
    >>> bp = av.open_caltable("uid___A002_Xc3_X1.ms.hifa_bandpass.s12_3.spw16.solintinf.bcal.tbl")  # doctest: +SKIP
    >>> bp.attrs["viscal"], bp.attrs["pipeline_stage"]                                        # doctest: +SKIP
    ('B Jones', 12)
    >>> abs(bp["spw_16"].ds.gain).sel(receptor="X")     # (time, antenna_name, frequency)     # doctest: +SKIP
    """
    from . import singledish

    if singledish.is_jyperk_file(path):  # the single-dish Jy/K factors file (jyperk.csv)
        return singledish.open_jyperk(path)
    root = check_table_dir(path)
    kind = table_kind(root)
    if kind == "ms":
        raise NotACaltable(root, "is a measurement set, not a calibration table: use almaview.open_ms to read it")
    if kind == "image":
        raise NotACaltable(root, "is a CASA image, not a calibration table: use almaview.open_image to read it")

    with open_table(root) as t:
        keywords = set(t.keywordnames())
        columns = set(t.colnames())
        if "CAL_DESC" in keywords or "CAL_DESC_ID" in columns:
            raise UnsupportedCaltable(
                root,
                "is a calibration table in the pre-3.4 CASA layout (CAL_DESC subtable); almaview reads "
                "tables written by CASA 3.4 or later. Re-create it with a current CASA (gaincal/bandpass), "
                "or convert it with CASA's caltabconvert",
            )
        if kind != "caltable" or "VisCal" not in keywords:
            raise NotACaltable(
                root,
                f"is a CASA table of type {t.info().get('type') or 'unknown'!r} without a VisCal keyword, "
                "not a calibration table (expected one written by gaincal, bandpass, gencal, ...)",
            )
        viscal = str(t.getkeyword("VisCal"))
        if viscal not in SUPPORTED_VISCAL:
            raise UnsupportedCaltable(
                root,
                f"has calibration type (VisCal) {viscal!r}, which almaview does not read; supported: "
                + ", ".join(repr(v) for v in SUPPORTED_VISCAL),
            )
        param_column = "CPARAM" if "CPARAM" in columns else "FPARAM"
        if param_column not in columns:
            raise UnsupportedCaltable(root, f"{viscal!r} table has neither a CPARAM nor an FPARAM column")
        ms_name = str(t.getkeyword("MSName")) if "MSName" in keywords else ""
        pol_basis = str(t.getkeyword("PolBasis")) if "PolBasis" in keywords else ""
        scalars = {
            name: t.getcol(name)
            for name in ("TIME", "FIELD_ID", "SPECTRAL_WINDOW_ID", "ANTENNA1", "SCAN_NUMBER", "OBSERVATION_ID")
            if name in columns
        }
        antennas = _antenna_names(root)
        fields = _field_names(root)
        spw_meta = _spectral_windows(root)
        telescope = _telescope(root)
        ms_path = _ms_path(root, ms_name)

        nodes: dict[str, xr.Dataset] = {}
        spw_ids = scalars["SPECTRAL_WINDOW_ID"]
        for spw in np.unique(spw_ids):
            rows = np.flatnonzero(spw_ids == spw)
            sub = t.selectrows(rows.tolist())
            try:
                params = {
                    name: sub.getcol(name) for name in (param_column, "FLAG", "SNR", "PARAMERR") if name in columns
                }
            finally:
                sub.close()
            npar = params[param_column].shape[-1]
            labels = _parameter_labels(viscal, npar, ms_path, int(spw), pol_basis, telescope)
            nodes[f"spw_{int(spw)}"] = _spw_dataset(
                viscal=viscal,
                param_column=param_column,
                rows={k: v[rows] for k, v in scalars.items()},
                params=params,
                antennas=antennas,
                fields=fields,
                spw=int(spw),
                spw_meta=spw_meta,
                labels=labels,
            )

    attrs: dict[str, Any] = {
        "viscal": viscal,
        "caltable_type": SUPPORTED_VISCAL[viscal]["description"],
        "caltable": root.name,
        "path": str(root),
        "ms_name": ms_name,
        "parameter_type": "complex" if param_column == "CPARAM" else "float",
        "telescope": telescope,
    }
    pipeline = parse_caltable_name(root.name)
    if pipeline is not None:
        attrs.update(
            eb=pipeline.eb.removesuffix(".ms"),
            pipeline_task=pipeline.task,
            pipeline_stage=pipeline.stage,
            pipeline_substage=pipeline.substage,
            pipeline_kind=pipeline.kind,
        )
        if pipeline.solint is not None:
            attrs["pipeline_solint"] = pipeline.solint
    tree = xr.DataTree(xr.Dataset(attrs=attrs))
    for name, ds in nodes.items():
        tree[name] = xr.DataTree(ds)
    return tree


def _spw_dataset(
    *,
    viscal: str,
    param_column: str,
    rows: dict[str, np.ndarray],
    params: dict[str, np.ndarray],
    antennas: list[str],
    fields: list[str],
    spw: int,
    spw_meta: dict[int, dict[str, Any]],
    labels: tuple[str, list[str]],
) -> xr.Dataset:
    """Place one spw's rows on a (solution, antenna, [channel], parameter) grid."""
    time = rows["TIME"]
    field = rows.get("FIELD_ID", np.full(time.shape, -1))
    scan = rows.get("SCAN_NUMBER", np.full(time.shape, -1))
    obs = rows.get("OBSERVATION_ID", np.zeros(time.shape, dtype=int))
    ant = rows["ANTENNA1"]

    # A solution is a distinct (time, field, scan, observation). If an antenna still
    # appears twice in one solution, the repeat gets a solution of its own: never overwrite.
    order = np.lexsort((ant, obs, scan, field, time))
    repeat = np.zeros(len(time), dtype=np.int64)
    prev: tuple | None = None
    count = 0
    for i in order:
        key = (time[i], field[i], scan[i], obs[i], ant[i])
        count = count + 1 if key == prev else 0
        repeat[i] = count
        prev = key
    solution_keys = np.rec.fromarrays([time, field, scan, obs, repeat])
    unique_keys, solution = np.unique(solution_keys, return_inverse=True)
    nsol = len(unique_keys)
    nant = len(antennas)
    if ant.size and ant.max() >= nant:
        antennas = antennas + [str(i) for i in range(nant, int(ant.max()) + 1)]
        nant = len(antennas)

    param = params[param_column]  # (row, channel, parameter)
    nchan, npar = param.shape[1], param.shape[2]
    channelised = SUPPORTED_VISCAL[viscal]["channelised"] or nchan > 1
    fill = np.nan + 0j if np.iscomplexobj(param) else np.nan

    def grid(values: np.ndarray, fill_value: Any, dtype: Any) -> np.ndarray:
        out = np.full((nsol, nant, nchan, npar), fill_value, dtype=dtype)
        out[solution, ant] = values
        return out if channelised else out[:, :, 0, :]

    param_dim, param_labels = labels
    dims = ("time", ANTENNA_DIM, "frequency", param_dim) if channelised else ("time", ANTENNA_DIM, param_dim)
    meta = spw_meta.get(spw, {})
    name = "gain" if param_column == "CPARAM" else "value"
    units = SUPPORTED_VISCAL[viscal]["units"]
    data_vars: dict[str, Any] = {
        name: (
            dims,
            grid(param, fill, param.dtype),
            {"long_name": SUPPORTED_VISCAL[viscal]["description"], "units": units},
        ),
        "flag": (dims, grid(params["FLAG"], True, bool), {"long_name": "solution flagged (or absent)"}),
    }
    if "SNR" in params:
        data_vars["snr"] = (dims, grid(params["SNR"], np.nan, np.float32), {"long_name": "solution signal-to-noise"})
    if "PARAMERR" in params:
        data_vars["param_error"] = (
            dims,
            grid(params["PARAMERR"], np.nan, np.float32),
            {"long_name": "solution error", "units": units},
        )

    field_ids = unique_keys["f1"].astype(np.int64)
    coords: dict[str, Any] = {
        "time": ("time", casa_time_to_datetime64(unique_keys["f0"]), {"long_name": "solution time (UTC)"}),
        "field_id": ("time", field_ids),
        "field_name": ("time", np.array([fields[f] if 0 <= f < len(fields) else "" for f in field_ids], dtype=object)),
        "scan_number": ("time", unique_keys["f2"].astype(np.int64)),
        "observation_id": ("time", unique_keys["f3"].astype(np.int64)),
        ANTENNA_DIM: (ANTENNA_DIM, np.array(antennas, dtype=object)),
        "antenna_id": (ANTENNA_DIM, np.arange(nant)),
        param_dim: (param_dim, np.array(param_labels, dtype=object)),
    }
    freqs = np.asarray(meta.get("chan_freq", np.full(nchan, np.nan)), dtype=np.float64)
    if channelised:
        if freqs.size != nchan:
            freqs = np.full(nchan, np.nan)
        coords["frequency"] = ("frequency", freqs, {"units": "Hz", "long_name": "channel frequency"})
        coords["channel"] = ("frequency", np.arange(nchan))
    elif freqs.size:
        coords["frequency"] = ((), float(np.mean(freqs)), {"units": "Hz", "long_name": "solution frequency"})
    attrs = {"spw_id": spw, "spw_name": meta.get("name", ""), "viscal": viscal}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _antenna_names(root: Path) -> list[str]:
    with open_table(root, "ANTENNA") as t:
        return [str(n) for n in t.getcol("NAME")] if t.nrows() else []


def _field_names(root: Path) -> list[str]:
    if not (root / "FIELD").is_dir():
        return []
    with open_table(root, "FIELD") as t:
        return [str(n) for n in t.getcol("NAME")] if t.nrows() else []


def _spectral_windows(root: Path) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    with open_table(root, "SPECTRAL_WINDOW") as t:
        names = t.getcol("NAME") if "NAME" in t.colnames() else [""] * t.nrows()
        for i in range(t.nrows()):
            out[i] = {"chan_freq": np.asarray(t.getcell("CHAN_FREQ", i)), "name": str(names[i])}
    return out


def _telescope(root: Path) -> str:
    if not (root / "OBSERVATION").is_dir():
        return ""
    with open_table(root, "OBSERVATION") as t:
        return str(t.getcell("TELESCOPE_NAME", 0)) if t.nrows() else ""


def _ms_path(root: Path, ms_name: str) -> Path | None:
    """The MS a caltable came from, if it sits where the MSName keyword says (absolute, or next to the caltable)."""
    if not ms_name:
        return None
    candidate = Path(ms_name)
    for p in [candidate] if candidate.is_absolute() else [root.parent / candidate]:
        if (p / "table.dat").exists() and (p / "POLARIZATION").is_dir():
            return p
    return None


def _ms_receptor_basis(ms: Path, spw: int) -> list[str] | None:
    """Receptor labels of an spw from the MS's POLARIZATION table (parallel hands), or None."""
    try:
        with open_table(ms, "DATA_DESCRIPTION") as dd:
            spws = dd.getcol("SPECTRAL_WINDOW_ID")
            pols = dd.getcol("POLARIZATION_ID")
        pol_id = int(pols[np.flatnonzero(spws == spw)[0]]) if np.any(spws == spw) else 0
        with open_table(ms, "POLARIZATION") as pt:
            corr = [int(c) for c in pt.getcell("CORR_TYPE", pol_id)]
    except Exception:  # noqa: BLE001 - the MS is optional context; fall back quietly
        return None
    codes = set(corr)
    if codes & _LINEAR_CODES:
        return ["X", "Y"]
    if codes & _CIRCULAR_CODES:
        return ["R", "L"]
    return None


def _parameter_labels(
    viscal: str, npar: int, ms: Path | None, spw: int, pol_basis: str, telescope: str
) -> tuple[str, list[str]]:
    """Name and labels of the parameter dim: receptors, or x/y/z for antenna positions."""
    if viscal == "KAntPos Jones" and npar == 3:
        return "axis", ["x", "y", "z"]
    basis = _ms_receptor_basis(ms, spw) if ms is not None else None
    if basis is None:
        pb = pol_basis.upper()
        tel = telescope.upper()
        if pb.startswith("LIN") or tel in _LINEAR_TELESCOPES:
            basis = ["X", "Y"]
        elif pb.startswith("CIRC") or tel in _CIRCULAR_TELESCOPES:
            basis = ["R", "L"]
    if basis is not None and npar == 2:
        return "receptor", basis
    if basis is not None and npar == 1:
        return "receptor", ["+".join(basis)]  # one solution shared by both receptors (T Jones)
    return "receptor", [str(i) for i in range(npar)]

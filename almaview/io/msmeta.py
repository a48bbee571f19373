"""Measurement-set metadata subtables as small in-memory xarray Datasets.

Everything here reads subtables (ANTENNA, FIELD, SPECTRAL_WINDOW, ...) that
are tiny next to the visibilities, so it is read eagerly when an MS is opened.
Names follow xradio's MSv4 schema where it has one (``antenna_name``,
``ANTENNA_POSITION``, ``cartesian_pos_label``, ``FIELD_PHASE_CENTER``,
``sky_dir_label``); times are ``datetime64[ns]``, units live in ``attrs``.

Why this module is long: one reader per metadata subtable (ANTENNA, FIELD, SOURCE, SPECTRAL_WINDOW, POLARIZATION,
DATA_DESCRIPTION, OBSERVATION, STATE), each short and with its own damaged-table handling; the geometry they need
lives in :mod:`almaview.io.geometry`.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import DamagedTable, DataWarning
from .geometry import (  # noqa: F401  (geodetic_lat_lon, itrf_to_enu: public here too)
    _MIN_GEOCENTRIC_M,
    directions_to_icrs,
    geodetic_lat_lon,
    itrf_to_enu,
    observatory_position,
)
from .tables import open_table

#: CASA MJD seconds of the unix epoch (1970-01-01): subtract to get unix seconds.
CASA_UNIX_EPOCH_S = 3506716800.0

#: Subtables without which an MS cannot be read.
REQUIRED_SUBTABLES = ("ANTENNA", "DATA_DESCRIPTION", "FIELD", "POLARIZATION", "SPECTRAL_WINDOW")

#: casacore Stokes enum -> correlation name (casacore/measures/Measures/Stokes.h).
STOKES = {
    1: "I", 2: "Q", 3: "U", 4: "V",
    5: "RR", 6: "RL", 7: "LR", 8: "LL",
    9: "XX", 10: "XY", 11: "YX", 12: "YY",
    13: "RX", 14: "RY", 15: "LX", 16: "LY",
    17: "XR", 18: "XL", 19: "YR", 20: "YL",
}  # fmt: skip

# TDM spws have 64/128/256 channels per correlation before ALMA drops edge channels.
_TDM_NCHAN = {62, 64, 124, 128, 248, 256}
_EB_UID_IN_NAME = re.compile(r"uid___(A\d+)_(X[0-9a-fA-F]+)_(X[0-9a-fA-F]+)")
_UID = re.compile(r"uid://A\d+/X[0-9a-fA-F]+/X[0-9a-fA-F]+")


def casa_time_to_datetime64(seconds: np.ndarray | float) -> np.ndarray:
    """Convert CASA MJD seconds (TIME columns) to ``datetime64[ns]`` (UTC).

    Examples
    --------
    >>> str(casa_time_to_datetime64(3506716800.0))
    '1970-01-01T00:00:00.000000000'
    """
    unix = np.asarray(seconds, dtype=np.float64) - CASA_UNIX_EPOCH_S
    return (np.round(unix * 1e9)).astype("int64").astype("datetime64[ns]")


def eb_uid_from_name(path: str | os.PathLike) -> str | None:
    """The execution-block uid encoded in an ALMA MS name, as ``uid://A002/X.../X...``.

    Examples
    --------
    >>> eb_uid_from_name("/data/uid___A002_Xc3a1f0_X2b1.ms.split.cal")
    'uid://A002/Xc3a1f0/X2b1'
    >>> eb_uid_from_name("ngc5921.ms") is None
    True
    """
    m = _EB_UID_IN_NAME.search(Path(path).name)
    return f"uid://{m.group(1)}/{m.group(2)}/{m.group(3)}" if m else None


def check_subtables(path: Path) -> None:
    """Raise :class:`DamagedTable` when a subtable an MS needs is missing.

    Examples
    --------
    >>> check_subtables(Path("good.ms"))   # doctest: +SKIP
    """
    for name in REQUIRED_SUBTABLES:
        if not (path / name / "table.dat").exists():
            raise DamagedTable(
                path,
                f"the required subtable {name} is missing (no {name}/table.dat): the measurement set is "
                "incomplete, probably half-copied or half-untarred; copy or extract it again",
            )


def _strings(t, column: str) -> list[str]:
    return [str(s) for s in t.getcol(column)] if t.nrows() else []


# ---------------------------------------------------------------------------------------------
# antennas


def read_antennas(path: Path, *, used: np.ndarray | None = None, telescope: str = "") -> xr.Dataset:
    """The ANTENNA subtable: name, station, ITRF position, dish diameter, offsets from the array reference.

    ``used`` (antenna ids that appear in the main table) marks which antennas have data
    (``has_data``); ``position_valid`` is False for rows at (0, 0, 0) (or anywhere not on the
    Earth's surface). The array reference (``attrs['array_centre']``) is the observatory
    position casacore's measures know for ``telescope``; otherwise the mean position of the
    antennas with data and a valid position. Antennas without data or without a valid
    position never count (``attrs['n_antennas']``) and rows without a valid position have
    NaN east/north/up offsets.

    Examples
    --------
    >>> ants = read_antennas(Path("my.ms"), telescope="ALMA")     # doctest: +SKIP
    >>> ants.ANTENNA_POSITION.sel(antenna_name="DA41").values     # doctest: +SKIP
    >>> ants.attrs["array_centre_source"]                         # doctest: +SKIP
    'observatory position of ALMA (casacore measures)'
    """
    with open_table(path, "ANTENNA") as t:
        names = _strings(t, "NAME")
        stations = _strings(t, "STATION")
        mounts = _strings(t, "MOUNT") if "MOUNT" in t.colnames() else [""] * len(names)
        pos = t.getcol("POSITION") if t.nrows() else np.zeros((0, 3))
        dish = t.getcol("DISH_DIAMETER") if t.nrows() else np.zeros(0)
        frame = (t.getcolkeywords("POSITION").get("MEASINFO") or {}).get("Ref", "ITRF")
    names = _unique_names(names)
    receptors = read_feed_polarizations(path, len(names))
    pos = np.asarray(pos, dtype=float).reshape(-1, 3)
    n = len(names)
    valid = np.isfinite(pos).all(axis=1) & (np.linalg.norm(np.nan_to_num(pos), axis=1) > _MIN_GEOCENTRIC_M)
    has_data = np.ones(n, bool)
    if used is not None:
        has_data[:] = False
        ids = np.asarray(used, dtype=np.int64)
        has_data[ids[(ids >= 0) & (ids < n)]] = True
    in_array = valid & has_data
    observatory = observatory_position(telescope)
    if observatory is not None:
        centre, source = np.array(observatory), f"observatory position of {telescope} (casacore measures)"
    elif in_array.any():
        centre, source = pos[in_array].mean(axis=0), f"mean position of the {int(in_array.sum())} antennas with data"
    elif valid.any():
        centre, source = pos[valid].mean(axis=0), f"mean position of the {int(valid.sum())} antennas"
    else:
        centre, source = np.zeros(3), "unknown (no antenna has a valid position)"
    enu = np.full((n, 3), np.nan)
    if valid.any() and np.linalg.norm(centre) > _MIN_GEOCENTRIC_M:
        enu[valid] = itrf_to_enu(pos[valid], centre)
    return xr.Dataset(
        {
            "ANTENNA_POSITION": (
                ("antenna_name", "cartesian_pos_label"),
                pos,
                {
                    "type": "location",
                    "units": "m",
                    # MSv4 spells casacore's ITRF as astropy's ITRS; almaview keeps the MS's name beside it
                    "frame": "ITRS" if frame.upper() == "ITRF" else frame,
                    "frame_in_ms": frame,
                    "coordinate_system": "geocentric",
                    "origin_object_name": "earth",
                    "description": "antenna position (POSITION column)",
                },
            ),
            "ANTENNA_POSITION_ENU": (
                ("antenna_name", "enu_label"),
                enu,
                {
                    "units": "m",
                    "description": f"east/north/up offset from the array reference ({source}); "
                    "NaN where the position is not valid",
                },
            ),
            "ANTENNA_DISH_DIAMETER": (("antenna_name",), dish, {"type": "quantity", "units": "m"}),
        },
        coords={
            "antenna_name": ("antenna_name", names),
            "antenna_id": ("antenna_name", np.arange(n)),
            "station_name": ("antenna_name", stations),
            "mount": ("antenna_name", mounts),
            "telescope_name": ("antenna_name", [telescope] * n),
            "receptor_label": [f"pol_{i}" for i in range(receptors.shape[1])],
            "polarization_type": (("antenna_name", "receptor_label"), receptors),
            "has_data": ("antenna_name", has_data, {"description": "the antenna appears in the main table"}),
            "position_valid": ("antenna_name", valid, {"description": "POSITION is on the Earth (not (0, 0, 0))"}),
            "cartesian_pos_label": ["x", "y", "z"],
            "enu_label": ["east", "north", "up"],
        },
        attrs={
            "array_centre": centre.tolist(),
            "array_centre_units": "m",
            "array_centre_frame": frame,
            "array_centre_source": source,
            "n_antennas": int(in_array.sum()),
            "type": "antenna",
            "overall_telescope_name": telescope,
        },
    )


def read_feed_polarizations(path: Path, n_antennas: int) -> np.ndarray:
    """The receptors' polarization types of each antenna, ``(antenna, receptor)`` ('X', 'Y'; '' where unknown).

    From the FEED subtable (the first row of each antenna; a row for all antennas has ANTENNA_ID -1).
    MSv4's ``polarization_type`` coordinate of the antenna dataset.

    Examples
    --------
    >>> read_feed_polarizations(Path("no-such.ms"), 2).tolist()
    [[''], ['']]
    """
    out: dict[int, list[str]] = {}
    if (path / "FEED" / "table.dat").exists():
        with open_table(path, "FEED") as t:
            if t.nrows() and {"ANTENNA_ID", "POLARIZATION_TYPE"} <= set(t.colnames()):
                ids = t.getcol("ANTENNA_ID")
                for i, a in enumerate(ids):
                    if int(a) not in out and t.iscelldefined("POLARIZATION_TYPE", i):
                        out[int(a)] = [str(p) for p in np.atleast_1d(t.getcell("POLARIZATION_TYPE", i))]
    nrec = max((len(v) for v in out.values()), default=1)
    grid = np.full((n_antennas, nrec), "", dtype=object)
    for a in range(n_antennas):
        types = out.get(a, out.get(-1, []))
        grid[a, : len(types)] = types
    return grid.astype(str)


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, n in enumerate(names):
        n = n or f"ant{i}"
        if n in seen:
            n = f"{n}_{i}"
        seen[n] = i
        out.append(n)
    return out


# ---------------------------------------------------------------------------------------------
# fields


def _direction_frames(t, column: str, n: int) -> list[str]:
    info = t.getcolkeywords(column).get("MEASINFO") or {}
    if "VarRefCol" in info:
        codes = t.getcol(info["VarRefCol"])
        lookup = dict(zip(info["TabRefCodes"], info["TabRefTypes"]))
        return [str(lookup.get(int(c), "unknown")) for c in codes]
    return [str(info.get("Ref", "J2000"))] * n


def read_fields(
    path: Path,
    *,
    telescope: str = "",
    time: float | None = None,
    position_itrf: np.ndarray | None = None,
) -> xr.Dataset:
    """The FIELD subtable: name, code, source, phase centre in ICRS (radians).

    Directions are converted to ICRS from whatever frame the MS stores them in
    (:func:`directions_to_icrs`); frames that need an epoch use the field's TIME (or
    ``time``, CASA MJD seconds), and an observatory, ``position_itrf`` or the observatory
    of ``telescope``.

    Examples
    --------
    >>> fields = read_fields(Path("my.ms"))                 # doctest: +SKIP
    >>> fields.field_name.values                             # doctest: +SKIP
    array(['J1924-2914', 'J1751+0939', 'NGC253'], dtype='<U10')
    """
    with open_table(path, "FIELD") as t:
        n = t.nrows()
        names = _strings(t, "NAME")
        codes = _strings(t, "CODE") if "CODE" in t.colnames() else [""] * n
        source_ids = t.getcol("SOURCE_ID") if n else np.zeros(0, int)
        phase = t.getcol("PHASE_DIR")[:, 0, :] if n else np.zeros((0, 2))
        field_times = t.getcol("TIME").astype(float) if n and "TIME" in t.colnames() else np.zeros(n)
        frames = _direction_frames(t, "PHASE_DIR", n)
    sources = read_source_names(path)
    source_names = [sources.get(int(s), "") for s in source_ids]
    if time is not None:
        field_times = np.where(field_times > 0, field_times, time)
    if position_itrf is None:
        position_itrf = observatory_position(telescope)
    ra, dec, problems = directions_to_icrs(
        phase[:, 0],
        phase[:, 1],
        frames,
        times_s=field_times,
        position_itrf=None if position_itrf is None else np.asarray(position_itrf, dtype=float),
    )
    if problems:
        warnings.warn(
            f"{path}: FIELD directions casacore could not convert to ICRS (left NaN): " + "; ".join(problems[:3]),
            DataWarning,
            stacklevel=2,
        )
    return xr.Dataset(
        {
            "FIELD_PHASE_CENTER": (
                ("field_id", "sky_dir_label"),
                np.stack([ra, dec], axis=-1) if n else np.zeros((0, 2)),
                {"units": "rad", "frame": "ICRS", "description": "PHASE_DIR, converted to ICRS"},
            ),
        },
        coords={
            "field_id": np.arange(n),
            "field_name": ("field_id", names),
            "field_code": ("field_id", codes),
            "source_id": ("field_id", source_ids),
            "source_name": ("field_id", source_names),
            "frame_in_ms": ("field_id", [str(f) for f in frames]),
            "sky_dir_label": ["ra", "dec"],
        },
    )


def read_source_names(path: Path) -> dict[int, str]:
    """SOURCE_ID -> NAME from the optional SOURCE subtable (empty when it is absent).

    Examples
    --------
    >>> read_source_names(Path("my.ms"))   # doctest: +SKIP
    {0: 'J1924-2914', 1: 'NGC253'}
    """
    if not (path / "SOURCE" / "table.dat").exists():
        return {}
    with open_table(path, "SOURCE") as t:
        if not t.nrows():
            return {}
        return {int(i): str(n) for i, n in zip(t.getcol("SOURCE_ID"), t.getcol("NAME"))}


# ---------------------------------------------------------------------------------------------
# spectral windows, polarization, data descriptions


def spw_kind(name: str) -> str:
    """ALMA's kind of spw from its name: 'WVR', 'CH_AVG', 'SQLD', 'FULL_RES' or '' (a plain spw).

    Examples
    --------
    >>> spw_kind("WVR#NOMINAL"), spw_kind("X1#ALMA_RB_06#BB_1#SW-01#CH_AVG"), spw_kind("BB_1#SQLD")
    ('WVR', 'CH_AVG', 'SQLD')
    >>> spw_kind("X1#ALMA_RB_06#BB_1#SW-01#FULL_RES"), spw_kind("none")
    ('FULL_RES', '')
    """
    tags = {part.strip().upper() for part in name.split("#")}
    if "WVR" in tags or name.upper().startswith("WVR"):
        return "WVR"
    for tag in ("CH_AVG", "SQLD", "FULL_RES"):
        if tag in tags:
            return tag
    return ""


def correlator_mode(name: str, nchan: int, bandwidth: float, telescope: str) -> str:
    """'FDM' or 'TDM' for ALMA science spws, '' for anything else.

    Examples
    --------
    >>> correlator_mode("X1#BB_1#SW-01#FULL_RES", 1920, 0.47e9, "ALMA")
    'FDM'
    >>> correlator_mode("X1#BB_2#SW-01#FULL_RES", 128, 2.0e9, "ALMA")
    'TDM'
    >>> correlator_mode("none", 63, 1.5e6, "VLA")
    ''
    """
    kind = spw_kind(name)
    alma = "ALMA" in telescope.upper() or "#" in name
    if not alma or kind in ("WVR", "CH_AVG", "SQLD"):
        return ""
    return "TDM" if nchan in _TDM_NCHAN and bandwidth > 1.5e9 else "FDM"


def spw_label(spw_id: int, nchan: int, centre_hz: float, kind: str, mode: str) -> str:
    """A human label: 'spw 17 · FDM · 1920 ch · 230.54 GHz'.

    Examples
    --------
    >>> spw_label(17, 1920, 230.5412e9, "FULL_RES", "FDM")
    'spw 17 · FDM · 1920 ch · 230.54 GHz'
    >>> spw_label(0, 4, 183.31e9, "WVR", "")
    'spw 0 · WVR · 4 ch · 183.31 GHz'
    """
    parts = [f"spw {spw_id}"]
    tag = kind if kind in ("WVR", "CH_AVG", "SQLD") else mode
    if tag:
        parts.append(tag)
    parts.append(f"{nchan} ch")
    parts.append(f"{centre_hz / 1e9:.5g} GHz")
    return " · ".join(parts)


def read_spws(path: Path, telescope: str = "") -> tuple[xr.Dataset, list[np.ndarray], list[np.ndarray]]:
    """The SPECTRAL_WINDOW subtable as a Dataset, plus each spw's CHAN_FREQ and CHAN_WIDTH arrays.

    Examples
    --------
    >>> spws, freqs, widths = read_spws(Path("my.ms"), "ALMA")   # doctest: +SKIP
    >>> spws.spw_label.sel(spw_id=17).item()                        # doctest: +SKIP
    'spw 17 · FDM · 1920 ch · 230.54 GHz'
    """
    with open_table(path, "SPECTRAL_WINDOW") as t:
        n = t.nrows()
        names = _strings(t, "NAME")
        nchan = t.getcol("NUM_CHAN") if n else np.zeros(0, int)
        ref = t.getcol("REF_FREQUENCY") if n else np.zeros(0)
        total_bw = t.getcol("TOTAL_BANDWIDTH") if n else np.zeros(0)
        sideband = t.getcol("NET_SIDEBAND") if n and "NET_SIDEBAND" in t.colnames() else np.zeros(n, int)
        # CHAN_FREQ cells differ in length between spws: read them cell by cell.
        freqs = [np.asarray(t.getcell("CHAN_FREQ", i), dtype=float) for i in range(n)]
        widths = [np.asarray(t.getcell("CHAN_WIDTH", i), dtype=float) for i in range(n)]
        frame_codes = t.getcol("MEAS_FREQ_REF") if n else np.zeros(0, int)
    centre = np.array([f.mean() if f.size else np.nan for f in freqs])
    chan_width = np.array([np.median(w) if w.size else np.nan for w in widths])
    kinds = [spw_kind(nm) for nm in names]
    modes = [correlator_mode(nm, int(c), float(b), telescope) for nm, c, b in zip(names, nchan, total_bw)]
    labels = [spw_label(i, int(nchan[i]), float(centre[i]), kinds[i], modes[i]) for i in range(n)]
    frames = [_FREQ_FRAMES.get(int(c), "unknown") for c in frame_codes]
    ds = xr.Dataset(
        {
            "NUM_CHAN": (("spw_id",), nchan.astype(int)),
            "REF_FREQUENCY": (("spw_id",), ref, {"units": "Hz"}),
            "CENTER_FREQUENCY": (("spw_id",), centre, {"units": "Hz", "description": "mean of CHAN_FREQ"}),
            "TOTAL_BANDWIDTH": (("spw_id",), total_bw, {"units": "Hz"}),
            "CHANNEL_WIDTH": (("spw_id",), chan_width, {"units": "Hz", "description": "median of CHAN_WIDTH"}),
            "NET_SIDEBAND": (("spw_id",), sideband),
        },
        coords={
            "spw_id": np.arange(n),
            "spw_name": ("spw_id", names),
            "spw_kind": ("spw_id", kinds),
            "correlator_mode": ("spw_id", modes),
            "spw_label": ("spw_id", labels),
            "frequency_frame": ("spw_id", frames),
            "is_science": ("spw_id", [k in ("", "FULL_RES") for k in kinds]),
        },
    )
    return ds, freqs, widths


# casacore MFrequency::Types
_FREQ_FRAMES = {0: "REST", 1: "LSRK", 2: "LSRD", 3: "BARY", 4: "GEO", 5: "TOPO", 6: "GALACTO", 7: "LGROUP", 8: "CMB"}


def read_polarizations(path: Path) -> list[list[str]]:
    """Correlation names ('XX', 'YY', ...) of each POLARIZATION row.

    Examples
    --------
    >>> read_polarizations(Path("my.ms"))   # doctest: +SKIP
    [['XX', 'YY']]
    """
    with open_table(path, "POLARIZATION") as t:
        return [[STOKES.get(int(c), str(int(c))) for c in t.getcell("CORR_TYPE", i)] for i in range(t.nrows())]


def read_data_descriptions(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(SPECTRAL_WINDOW_ID, POLARIZATION_ID) of each DATA_DESCRIPTION row.

    Examples
    --------
    >>> read_data_descriptions(Path("my.ms"))   # doctest: +SKIP
    (array([0, 1]), array([0, 0]))
    """
    with open_table(path, "DATA_DESCRIPTION") as t:
        if not t.nrows():
            return np.zeros(0, int), np.zeros(0, int)
        return t.getcol("SPECTRAL_WINDOW_ID"), t.getcol("POLARIZATION_ID")


# ---------------------------------------------------------------------------------------------
# observation, state


def read_observation(path: Path) -> xr.Dataset:
    """The OBSERVATION subtable: telescope, observer, project, schedule, time range.

    ``schedblock_uid`` and ``execblock_uid`` are parsed from ALMA's SCHEDULE column
    ('SchedulingBlock uid://...', 'ExecBlock uid://...') when it has them.

    Examples
    --------
    >>> read_observation(Path("my.ms")).telescope_name.values   # doctest: +SKIP
    array(['ALMA'], dtype='<U4')
    """
    if not (path / "OBSERVATION" / "table.dat").exists():
        return xr.Dataset(coords={"observation_id": np.zeros(0, int)})
    with open_table(path, "OBSERVATION") as t:
        n = t.nrows()
        cols = set(t.colnames())
        telescope = _strings(t, "TELESCOPE_NAME") if "TELESCOPE_NAME" in cols else [""] * n
        observer = _strings(t, "OBSERVER") if "OBSERVER" in cols else [""] * n
        project = _strings(t, "PROJECT") if "PROJECT" in cols else [""] * n
        tr = t.getcol("TIME_RANGE") if n and "TIME_RANGE" in cols else np.full((n, 2), np.nan)
        release = t.getcol("RELEASE_DATE").astype(float) if n and "RELEASE_DATE" in cols else np.zeros(n)
        schedules = []
        for i in range(n):
            if "SCHEDULE" in cols and t.iscelldefined("SCHEDULE", i):
                schedules.append([str(s) for s in np.atleast_1d(t.getcell("SCHEDULE", i))])
            else:
                schedules.append([])
    sb = [_uid_after(s, "SchedulingBlock") for s in schedules]
    eb = [_uid_after(s, "ExecBlock") for s in schedules]
    return xr.Dataset(
        {
            "TIME_RANGE": (("observation_id", "time_range_label"), casa_time_to_datetime64(tr)),
        },
        coords={
            "observation_id": np.arange(n),
            "telescope_name": ("observation_id", telescope),
            "observer": ("observation_id", observer),
            "project_code": ("observation_id", project),
            "schedule": ("observation_id", ["; ".join(s) for s in schedules]),
            "schedblock_uid": ("observation_id", sb),
            "execblock_uid": ("observation_id", eb),
            "release_date": ("observation_id", casa_time_to_datetime64(release)),
            "time_range_label": ["start", "end"],
        },
    )


def read_processor(path: Path) -> dict[str, str]:
    """MSv4's ``processor_info`` from the PROCESSOR subtable: the first CORRELATOR or SPECTROMETER row's
    TYPE and SUB_TYPE (``{"type": "", "sub_type": ""}`` when the MS has no such row).

    Examples
    --------
    >>> read_processor(Path("my.ms"))   # doctest: +SKIP
    {'type': 'CORRELATOR', 'sub_type': 'ALMA_CORRELATOR_MODE'}
    """
    if not (path / "PROCESSOR" / "table.dat").exists():
        return {"type": "", "sub_type": ""}
    with open_table(path, "PROCESSOR") as t:
        if not t.nrows() or "TYPE" not in t.colnames():
            return {"type": "", "sub_type": ""}
        types = _strings(t, "TYPE")
        subs = _strings(t, "SUB_TYPE") if "SUB_TYPE" in t.colnames() else [""] * len(types)
    pick = next((i for i, k in enumerate(types) if k.upper() in ("CORRELATOR", "SPECTROMETER")), 0)
    return {"type": types[pick], "sub_type": subs[pick]}


def _uid_after(schedule: list[str], word: str) -> str:
    for entry in schedule:
        if entry.strip().startswith(word):
            m = _UID.search(entry)
            if m:
                return m.group(0)
    return ""


def read_state_modes(path: Path) -> list[str]:
    """STATE.OBS_MODE of each STATE row (ALMA intents, e.g. 'CALIBRATE_BANDPASS#ON_SOURCE,...').

    Examples
    --------
    >>> read_state_modes(Path("my.ms"))   # doctest: +SKIP
    ['CALIBRATE_BANDPASS#ON_SOURCE,CALIBRATE_WVR#ON_SOURCE', 'OBSERVE_TARGET#ON_SOURCE']
    """
    if not (path / "STATE" / "table.dat").exists():
        return []
    with open_table(path, "STATE") as t:
        return _strings(t, "OBS_MODE") if "OBS_MODE" in t.colnames() else [""] * t.nrows()


def intents_of(obs_modes: list[str]) -> str:
    """Sorted unique intents of several OBS_MODE strings, comma-joined.

    Examples
    --------
    >>> intents_of(["CALIBRATE_PHASE#ON_SOURCE,CALIBRATE_WVR#ON_SOURCE", "CALIBRATE_PHASE#ON_SOURCE"])
    'CALIBRATE_PHASE#ON_SOURCE,CALIBRATE_WVR#ON_SOURCE'
    """
    found = {part.strip() for mode in obs_modes for part in mode.split(",") if part.strip()}
    return ",".join(sorted(found))

"""xradio's MSv4 names and attributes for almaview's MS trees: the one place that spells them.

almaview's spw nodes follow the MSv4 schema (xradio 1.3, schema version :data:`SCHEMA_VERSION`) for every
name it defines, so tools built on xradio accept them (``xradio.schema.check.check_dataset(node.ds,
VisibilityXds)``; the test suite runs it on a CASA-built EB and a Total Power MS):

- interferometric nodes (``VisibilityXds``): dims ``(time, baseline_id, frequency, polarization)`` and
  ``uvw_label``; coordinates ``baseline_id``, ``baseline_antenna1_name``, ``baseline_antenna2_name``,
  ``field_name`` and ``scan_name`` (over time, with ``scan_intents``); data variables ``VISIBILITY``,
  ``VISIBILITY_CORRECTED``, ``VISIBILITY_MODEL``, ``FLAG``, ``WEIGHT`` (WEIGHT_SPECTRUM, or WEIGHT broadcast
  over frequency), ``UVW`` and ``EFFECTIVE_INTEGRATION_TIME`` (EXPOSURE);
- single-dish nodes (``SpectrumXds``): dims ``(time, antenna_name, frequency, polarization)``; ``SPECTRUM``
  (and ``SPECTRUM_CORRECTED``), ``FLAG``, ``WEIGHT``, ``EFFECTIVE_INTEGRATION_TIME``;
- ``frequency`` attrs: ``type``, ``units``, ``observer`` (the MSv4 spelling of the frame: ``lsrk``,
  ``TOPO``, ...), ``spectral_window_name``, ``spectral_window_intents``, ``reference_frequency`` and
  ``channel_width`` (quantity dicts); node attrs ``type``, ``schema_version``, ``creator``,
  ``creation_date``, ``observation_info``, ``processor_info`` and ``data_groups``.

almaview's extra names (MSv4 does not define them; tools built on xradio ignore them):

- coordinates ``baseline_antenna1_id`` / ``baseline_antenna2_id`` (ANTENNA row numbers),
  ``antenna_id`` (single dish), ``scan_number`` (the integer SCAN_NUMBER; ``scan_name`` is its string),
  ``intents`` (the STATE OBS_MODE intents of each integration: almaview keeps all intents in one node,
  MSv4 partitions by intent), ``channel_width`` over frequency (each channel's CHAN_WIDTH; MSv4's
  ``channel_width`` attr is the nominal one), ``sky_dir_label`` (single dish);
- ``frequency`` attrs ``frame`` (the CASA frame name, ``LSRK``, as almaview's caltable and image trees
  spell it) and ``spectral_window_id``; each data variable's ``column`` (the MSv2 column it reads);
- data variable ``POINTING_DIRECTION`` (single dish, interpolated to the integrations);
- node attrs ``spw_id``, ``spw_name``, ``spw_label``, ``spw_kind``, ``correlator_mode``,
  ``data_description_id``, ``polarization_id``, ``n_rows``, ``grid_fill``.

Where almaview differs from MSv4 (checked by the test, which accepts exactly these issues):

- ``time`` is ``datetime64[ns]`` (UTC), not float seconds since 1970 with ``units``/``format`` attrs:
  almaview's plots and selections work in datetimes (``float(t) / 1e9`` is MSv4's value);
- single-dish nodes carry ``POINTING_DIRECTION`` over ``(time, antenna_name, sky_dir_label)`` (MSv4 keeps
  pointing in a separate pointing dataset): check them with ``allow_superflous_dims={"sky_dir_label"}``;
- ``SPECTRUM`` and ``SPECTRUM_CORRECTED`` carry the data's ``units`` (xradio's own conversion leaves them empty):
  'count' raw, 'K' or 'Jy' calibrated, from the column's UNIT keyword or the MS HISTORY
  (:func:`almaview.io.singledish.spectrum_units`; ``units_source`` says which);
- the ``antennas`` node is MSv4's ``AntennaXds`` (``antenna_name``, ``station_name``, ``mount``,
  ``telescope_name``, ``receptor_label``/``polarization_type`` from FEED, ``ANTENNA_POSITION`` in ITRS,
  ``ANTENNA_DISH_DIAMETER``) plus almaview's ``ANTENNA_POSITION_ENU`` over an extra ``enu_label`` dimension
  (check with ``allow_superflous_dims={"enu_label"}``) and ``antenna_id``, ``has_data``, ``position_valid``;
- :func:`as_msv4` turns a node's datetime64 ``time`` into MSv4's float seconds (a view of the same
  lazy data), after which xradio's check reports nothing;
- the tree is one MS (one node per spw plus ``antennas``, ``fields``, ``spws``, ``scans``,
  ``observation``), not a processing set of MSv4 partitions; ``fields``, ``spws``, ``scans`` and
  ``observation`` keep MSv2's layout (``fields`` over ``field_id``, not MSv4's ``field_name``), so
  ``data_groups``' ``field_and_source`` names a dataset the tree does not have, and ``check_datatree``
  on the whole tree is not expected to pass.

Calibration tables (:func:`almaview.open_caltable`) take the same antenna name. xradio 1.3 defines no schema
for calibration tables (its ``SystemCalibrationXds`` is the MS's SYSCAL table, on ``time_system_cal`` and
``frequency_system_cal`` axes), so almaview names what MSv4 does not:

- dims ``(time, antenna_name, frequency, receptor)`` for channelised tables (B TSYS, B Jones, the single-dish
  sky tables) and ``(time, antenna_name, receptor)`` for the others; antenna-position tables (KAntPos Jones)
  have ``axis`` (``x``, ``y``, ``z``) for ``receptor``; the Jy/K factors file is ``(eb, antenna_name,
  receptor)``;
- ``antenna_name`` is MSv4's (:data:`ANTENNA_DIM`, as on single-dish nodes and in ``antennas``), so
  ``ds.sel(antenna_name="DA41")`` reads the same on an MS node and on a caltable node; ``antenna_id`` (the
  ANTENNA row) is a coordinate on it, as on single-dish nodes;
- ``receptor`` (the receptor basis, ``X``/``Y`` or ``R``/``L``, ``X+Y`` for one solution shared by both) is
  almaview's: MSv4's ``receptor_label`` labels the feed receptors of the ``antennas`` node, not the
  parameters of a solution; ``frequency`` and ``channel`` over it; ``field_id``, ``field_name``,
  ``scan_number`` and ``observation_id`` over ``time``;
- the tidy frames built from these trees (:mod:`almaview.analysis`, plots' ``.data``, QA tables) keep the plots'
  column names (``antenna``, ``baseline``, ``spw``): a frame is what a plot shows, not a dump of a tree;
- almaview 0.1 called the antenna dimension ``antenna`` (:data:`CALTABLE_RENAMED`); a caltable tree with the old
  name (saved to disk, or built by hand) is still read by the analysis and plot functions, renamed with a
  :class:`DeprecationWarning`, until almaview 0.3 (:func:`almaview.analysis.trees.current_names`).

Examples
--------
>>> frequency_observer("LSRK"), frequency_observer("TOPO"), frequency_observer("GEO")
('lsrk', 'TOPO', 'gcrs')
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

# the caltable names are defined with the other shared constants (analysis and plots may not import almaview.io);
# this module is where they are explained, and exports them
from ..constants import ANTENNA_DIM, CALTABLE_RENAMED

__all__ = [
    "ANTENNA_DIM",
    "CALTABLE_RENAMED",
    "SCHEMA_VERSION",
    "as_msv4",
    "data_groups",
    "frequency_attrs",
    "frequency_observer",
    "node_attrs",
    "observation_info",
    "quantity",
    "scan_intents",
    "uvw_frame",
]

#: The MSv4 schema version almaview's trees follow (xradio 1.3's ``MSV4_SCHEMA_VERSION``).
SCHEMA_VERSION = "4.0.1"


# casacore frequency frames MSv4 renames to astropy's; the others keep their casacore name.
_OBSERVER = {"LSRK": "lsrk", "LSRD": "lsrd", "GEO": "gcrs"}
_KEEP = {"REST", "BARY", "TOPO", "GALACTO", "LGROUP", "CMB"}
# casacore direction frames of UVW -> MSv4 (fk5/icrs/APP)
_UVW_FRAME = {"J2000": "fk5", "ICRS": "icrs", "APP": "APP"}


def frequency_observer(frame: str) -> str:
    """The MSv4 ``observer`` of a casacore frequency frame (``LSRK`` -> ``lsrk``; ``TOPO`` stays ``TOPO``).

    An unknown frame is taken as ``TOPO`` (the frame the correlator writes).

    Examples
    --------
    >>> frequency_observer("BARY"), frequency_observer("unknown")
    ('BARY', 'TOPO')
    """
    f = str(frame).upper()
    return _OBSERVER.get(f, f if f in _KEEP else "TOPO")


def uvw_frame(measinfo_ref: str, phase_dir_frame: str = "J2000") -> str:
    """The MSv4 ``frame`` of UVW from the column's casacore MEASINFO Ref (``J2000`` -> ``fk5``).

    UVW labelled ITRF (or anything MSv4 has no name for) takes the frame of the fields' phase centres, as
    ``fixvis``'s documentation and xradio's schema say (UVW are in the phase-tracking frame).

    Examples
    --------
    >>> uvw_frame("J2000"), uvw_frame("ICRS"), uvw_frame("ITRF", "ICRS"), uvw_frame("ITRF")
    ('fk5', 'icrs', 'icrs', 'fk5')
    """
    ref = str(measinfo_ref).upper()
    if ref in _UVW_FRAME:
        return _UVW_FRAME[ref]
    return _UVW_FRAME.get(str(phase_dir_frame).upper(), "fk5")


def quantity(value: float, units: str) -> dict:
    """An MSv4 quantity attribute (a scalar DataArray as a dict).

    Examples
    --------
    >>> quantity(0.5, "s")
    {'data': 0.5, 'dims': [], 'attrs': {'type': 'quantity', 'units': 's'}}
    """
    return {"data": float(value), "dims": [], "attrs": {"type": "quantity", "units": units}}


def frequency_attrs(*, spw_id: int, spw_name: str, reference_hz: float, widths_hz: np.ndarray, frame: str) -> dict:
    """The attrs of a node's ``frequency`` coordinate: MSv4's, then almaview's ``frame`` and ``spectral_window_id``.

    ``spectral_window_name`` is the SPECTRAL_WINDOW NAME (``spw_<id>`` when it has none);
    ``spectral_window_intents`` is ``["UNSPECIFIED"]`` (as xradio's own MSv2 converter writes it; almaview's
    ``spw_kind`` node attr says FULL_RES / CH_AVG / WVR); ``channel_width`` is the median |CHAN_WIDTH|.

    Examples
    --------
    >>> a = frequency_attrs(spw_id=17, spw_name="X1#BB_1#SW-01#FULL_RES", reference_hz=230e9,
    ...                     widths_hz=np.full(4, 488e3), frame="LSRK")
    >>> a["observer"], a["reference_frequency"]["data"], a["channel_width"]["data"], a["spectral_window_intents"]
    ('lsrk', 230000000000.0, 488000.0, ['UNSPECIFIED'])
    """
    observer = frequency_observer(frame)
    widths = np.abs(np.asarray(widths_hz, dtype=float))
    widths = widths[np.isfinite(widths)]
    return {
        "type": "spectral_coord",
        "units": "Hz",
        "observer": observer,
        "spectral_window_name": str(spw_name) or f"spw_{spw_id}",
        "spectral_window_intents": ["UNSPECIFIED"],
        "reference_frequency": {
            "data": float(reference_hz),
            "dims": [],
            "attrs": {"type": "spectral_coord", "units": "Hz", "observer": observer},
        },
        "channel_width": quantity(float(np.median(widths)) if widths.size else 0.0, "Hz"),
        "frame": str(frame),
        "spectral_window_id": int(spw_id),
    }


def scan_intents(intents: Iterable[str]) -> list[str]:
    """The sorted unique ``intent#subintent`` strings of comma-joined OBS_MODE values (MSv4's ``scan_intents``).

    Examples
    --------
    >>> scan_intents(["CALIBRATE_PHASE#ON_SOURCE,CALIBRATE_WVR#ON_SOURCE", "OBSERVE_TARGET#ON_SOURCE", ""])
    ['CALIBRATE_PHASE#ON_SOURCE', 'CALIBRATE_WVR#ON_SOURCE', 'OBSERVE_TARGET#ON_SOURCE']
    """
    return sorted({p.strip() for s in intents for p in str(s).split(",") if p.strip()})


def data_groups(data_vars: Iterable[str], correlated: tuple[str, ...], *, date: str) -> dict:
    """MSv4's ``data_groups``: ``base`` (the first present of ``correlated``), then ``corrected`` and ``model``.

    Examples
    --------
    >>> g = data_groups(["VISIBILITY", "VISIBILITY_CORRECTED", "FLAG", "WEIGHT", "UVW"],
    ...                 ("VISIBILITY", "VISIBILITY_CORRECTED", "VISIBILITY_MODEL"), date="2026-01-01T00:00:00.000")
    >>> sorted(g), g["corrected"]["correlated_data"], g["base"]["uvw"]
    (['base', 'corrected'], 'VISIBILITY_CORRECTED', 'UVW')
    """
    present = set(data_vars)
    names = [c for c in correlated if c in present]
    groups = {}
    for key, name in zip(("base", "corrected", "model"), correlated):
        if name not in present and key != "base":
            continue
        data = name if name in present else (names[0] if names else correlated[0])
        groups[key] = {
            "correlated_data": data,
            "flag": "FLAG",
            "weight": "WEIGHT",
            "uvw": "UVW" if "UVW" in present else None,
            "field_and_source": "field_and_source_base_xds",
            "description": f"{data} with FLAG and WEIGHT (almaview: the MS's {key} data)",
            "date": date,
        }
    return groups


def observation_info(observation, execblock_uid: str = "") -> dict:
    """MSv4's ``observation_info`` from almaview's ``observation`` node (the OBSERVATION subtable).

    ``release_date`` is ISO 8601 (empty when the MS has none); the UIDs are ALMA's (SCHEDULE column,
    or the EB uid in the MS name passed as ``execblock_uid``).

    Examples
    --------
    >>> import xarray as xr
    >>> obs = xr.Dataset(coords={"observer": ("observation_id", ["ana"]), "project_code": ("observation_id", ["2023.1.0"]),
    ...     "release_date": ("observation_id", np.array(["2024-05-01T00:00:00"], "datetime64[ns]"))})
    >>> info = observation_info(obs, "uid://A002/X1/X2")
    >>> info["observer"], info["project_UID"], info["release_date"], info["execution_block_UID"]
    (['ana'], '2023.1.0', '2024-05-01T00:00:00.000', 'uid://A002/X1/X2')
    """

    def values(name: str) -> list[str]:
        return [str(v) for v in observation[name].values if str(v)] if name in observation.coords else []

    release = ""
    if "release_date" in observation.coords and observation.sizes.get("observation_id", 0):
        t = np.datetime64(observation["release_date"].values.max(), "ms")
        release = str(t) if t > np.datetime64(0, "ms") else ""
    info = {
        "observer": list(dict.fromkeys(values("observer"))),
        "release_date": release,
        "project_UID": next(iter(values("project_code")), ""),
        "execution_block_UID": execblock_uid or next(iter(values("execblock_uid")), ""),
    }
    sb = next(iter(values("schedblock_uid")), "")
    if sb:
        info["scheduling_block_UID"] = sb
    return info


def node_attrs(
    kind: str,
    *,
    ms_path: str | os.PathLike,
    data_vars: Iterable[str],
    observation_info: dict,
    processor_info: dict,
) -> dict:
    """The MSv4 attrs of one node (``kind``: ``"visibility"`` or ``"spectrum"``).

    ``creation_date`` is the MS's last modification (its table.dat), so opening twice gives equal trees.

    Examples
    --------
    >>> a = node_attrs("spectrum", ms_path="tp.ms", data_vars=["SPECTRUM", "FLAG", "WEIGHT"],
    ...                observation_info={"observer": ["x"], "release_date": "", "project_UID": ""},
    ...                processor_info={"type": "SPECTROMETER", "sub_type": ""})
    >>> a["type"], a["schema_version"], a["data_groups"]["base"]["correlated_data"], a["creator"]["software_name"]
    ('spectrum', '4.0.1', 'SPECTRUM', 'almaview')
    """
    from .. import __version__

    correlated = (
        ("VISIBILITY", "VISIBILITY_CORRECTED", "VISIBILITY_MODEL")
        if kind == "visibility"
        else ("SPECTRUM", "SPECTRUM_CORRECTED", "SPECTRUM_MODEL")
    )
    stamp = Path(ms_path) / "table.dat"
    try:
        created = datetime.fromtimestamp(stamp.stat().st_mtime, timezone.utc)
    except OSError:
        created = datetime(1970, 1, 1, tzinfo=timezone.utc)
    date = created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    return {
        "type": kind,
        "schema_version": SCHEMA_VERSION,
        "creator": {"software_name": "almaview", "version": __version__},
        "creation_date": date,
        "observation_info": observation_info,
        "processor_info": processor_info,
        "data_groups": data_groups(data_vars, correlated, date=date),
    }


def as_msv4(ds):
    """A spw node with MSv4's ``time``: float seconds since 1970 (UTC) with ``units``/``format``; data stay lazy.

    almaview's nodes keep ``time`` as datetime64 (its plots and selections work in datetimes); hand this
    to a tool built on xradio that needs the float form. Nothing is read.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset(coords={"time": ("time", np.array(["1970-01-01T00:00:01.5"], "datetime64[ns]"),
    ...                                  {"type": "time", "scale": "utc"})})
    >>> t = as_msv4(ds).time
    >>> float(t[0]), t.attrs["units"], t.attrs["format"], t.attrs["scale"]
    (1.5, 's', 'unix', 'utc')
    """
    time = ds["time"]
    seconds = time.values.astype("datetime64[ns]").astype(np.int64) / 1e9
    attrs = {k: v for k, v in time.attrs.items() if k != "description"}
    attrs.update(type="time", units="s", format="unix", scale=attrs.get("scale", "utc"))
    return ds.assign_coords(time=("time", seconds, attrs))

"""Where an array is and where it points: ITRF and local east/north/up positions, the observatory
positions casacore's measures know, and sky directions in any casacore frame converted to ICRS.

Used by :mod:`almaview.io.msmeta` for the ANTENNA and FIELD subtables; pure functions (numpy,
erfa, casacore measures), no tables.
"""

from __future__ import annotations

import contextlib
import functools
import os

import numpy as np


def geodetic_lat_lon(xyz: np.ndarray) -> tuple[float, float]:
    """WGS84 geodetic latitude and longitude (radians) of an ITRF/geocentric position in metres.

    Examples
    --------
    >>> lat, lon = geodetic_lat_lon(np.array([6378137.0, 0.0, 0.0]))
    >>> round(lat, 9), round(lon, 9)
    (0.0, 0.0)
    """
    a, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    x, y, z = (float(v) for v in xyz)
    lon = np.arctan2(y, x)
    p = np.hypot(x, y)
    lat = np.arctan2(z, p * (1 - e2))
    for _ in range(10):
        n = a / np.sqrt(1 - e2 * np.sin(lat) ** 2)
        h = p / np.cos(lat) - n if abs(np.cos(lat)) > 1e-12 else abs(z) - a * np.sqrt(1 - e2)
        lat = np.arctan2(z, p * (1 - e2 * n / (n + h)))
    return float(lat), float(lon)


def itrf_to_enu(positions: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """East/north/up offsets (m) of ITRF positions (n, 3) from ``centre``, in the centre's local frame.

    Examples
    --------
    >>> centre = np.array([6378137.0, 0.0, 0.0])
    >>> itrf_to_enu(centre[None] + [[0.0, 1.0, 0.0]], centre).round(6).tolist()
    [[1.0, 0.0, 0.0]]
    """
    lat, lon = geodetic_lat_lon(centre)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    rot = np.array([[-so, co, 0.0], [-sl * co, -sl * so, cl], [cl * co, cl * so, sl]])
    return (np.asarray(positions, dtype=float) - centre) @ rot.T


#: Telescope names casacore's observatory table spells differently.
_OBSERVATORY_ALIASES = {"JVLA": "VLA", "EVLA": "VLA", "OSF": "ALMA", "MEERKAT": "MeerKAT"}

#: A position closer than this to the centre of the Earth (m) is not an antenna's: e.g. the (0, 0, 0)
#: rows of antennas a correlator listed but did not use.
_MIN_GEOCENTRIC_M = 1.0e6


@functools.lru_cache(maxsize=64)
def observatory_position(telescope: str) -> tuple[float, float, float] | None:
    """ITRF position (x, y, z in m) of a telescope's observatory, from casacore measures; None if unknown.

    Examples
    --------
    >>> x, y, z = observatory_position("ALMA")
    >>> round(float(np.hypot(x, y))), round(float(z))
    (5877772, -2481030)
    >>> observatory_position("no such telescope") is None
    True
    """
    name = (telescope or "").strip()
    if not name:
        return None
    from casacore.measures import measures

    dm = measures()
    known = {o.upper(): o for o in dm.get_observatories()}
    key = known.get(name.upper()) or known.get(_OBSERVATORY_ALIASES.get(name.upper(), "").upper())
    if key is None:
        return None
    pos = dm.measure(dm.observatory(key), "ITRF")
    lon, lat, r = pos["m0"]["value"], pos["m1"]["value"], pos["m2"]["value"]
    return (float(r * np.cos(lat) * np.cos(lon)), float(r * np.cos(lat) * np.sin(lon)), float(r * np.sin(lat)))


def _j2000_to_icrs(ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import erfa  # only when an MS uses J2000 (ALMA MSs are ICRS)

    rb, _, _ = erfa.bp00(2451545.0, 0.0)  # frame bias: v_J2000 = rb @ v_ICRS
    v = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)
    w = v @ rb  # rb.T @ v for each row
    return np.mod(np.arctan2(w[:, 1], w[:, 0]), 2 * np.pi), np.arcsin(np.clip(w[:, 2], -1, 1))


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 for a moment: casacore's measures log (e.g. a harmless 'leap second
    table out of date' SEVERE line) goes there, not to Python's logging."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def directions_to_icrs(
    lon: np.ndarray,
    lat: np.ndarray,
    frames: list[str],
    *,
    times_s: np.ndarray | None = None,
    position_itrf: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Convert directions (radians) in any frame casacore's measures know (B1950, B1950_VLA, GALACTIC,
    ECLIPTIC, SUPERGAL, AZEL, HADEC, APP, ...) to ICRS.

    ``times_s`` (CASA MJD seconds) and ``position_itrf`` (m) are the epoch and observatory of frames
    that need them (AZEL, HADEC, APP, planets). J2000 is rotated with the IAU frame bias (erfa),
    ICRS is kept. Returns (ra, dec, problems): a direction casacore cannot convert stays NaN and its
    problem is listed.

    Examples
    --------
    >>> ra, dec, problems = directions_to_icrs(np.array([0.0]), np.array([np.pi / 2]), ["GALACTIC"])
    >>> round(float(np.degrees(ra[0])), 3), round(float(np.degrees(dec[0])), 3), problems
    (192.859, 27.128, [])
    """
    ra = np.asarray(lon, dtype=float).copy()
    dec = np.asarray(lat, dtype=float).copy()
    frames_arr = np.array([str(f).upper() for f in frames], dtype=object)
    j2000 = frames_arr == "J2000"
    if j2000.any():
        ra[j2000], dec[j2000] = _j2000_to_icrs(ra[j2000], dec[j2000])
    todo = np.flatnonzero(~(j2000 | (frames_arr == "ICRS")))
    problems: list[str] = []
    if todo.size == 0:
        return ra, dec, problems
    from casacore.measures import measures

    dm = measures()
    with _quiet_stderr():
        if position_itrf is not None and np.linalg.norm(position_itrf) > _MIN_GEOCENTRIC_M:
            x, y, z = (f"{float(v)}m" for v in position_itrf)
            dm.do_frame(dm.position("ITRF", x, y, z))
        for k in todo:
            if times_s is not None and np.isfinite(times_s[k]) and times_s[k] > 0:
                dm.do_frame(dm.epoch("UTC", f"{float(times_s[k])}s"))
            try:
                out = dm.measure(dm.direction(str(frames[k]), f"{ra[k]}rad", f"{dec[k]}rad"), "ICRS")
                ra[k], dec[k] = np.mod(out["m0"]["value"], 2 * np.pi), out["m1"]["value"]
            except RuntimeError as err:
                problems.append(f"{frames[k]} direction {k}: {err}")
                ra[k], dec[k] = np.nan, np.nan
    return ra, dec, problems

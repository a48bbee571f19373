"""An EB's metadata reduced for its overview: on-source time, baseline lengths and counts, uv points, elevation.

Only metadata and UVW of the :func:`almaview.open_ms` tree are read (never the visibilities).

Examples
--------
>>> import almaview as av
>>> vis = av.open_ms("uid___A002_X1.ms")          # doctest: +SKIP
>>> av.analysis.onsource_table(vis)               # doctest: +SKIP
>>> av.analysis.elevation_table(vis).head()       # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..constants import SPEED_OF_LIGHT
from .trees import ms_spws, selected

__all__ = [
    "scans_with_intent",
    "time_table",
    "onsource_table",
    "baseline_lengths",
    "baseline_counts",
    "eb_facts",
    "uv_points",
    "elevation_table",
    "gmst_deg",
    "precess_to_date",
]


def time_table(vis: Any, spws: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per (spw, integration): time, scan, field, intents, interval_s (median spacing within the scan).

    Examples
    --------
    >>> time_table(av.open_ms("uid.ms")).columns.tolist()   # doctest: +SKIP
    ['spw', 'time', 'scan', 'field', 'intents', 'interval_s']
    """
    frames = []
    for spw in selected(ms_spws(vis), spws):
        ds = vis[f"spw_{spw}"].ds
        frames.append(
            pd.DataFrame(
                {
                    "spw": spw,
                    "time": ds.time.values,
                    "scan": ds.scan_number.values,
                    "field": ds.field_name.values.astype(str),
                    "intents": ds.intents.values.astype(str),
                }
            )
        )
    df = pd.concat(frames, ignore_index=True)
    df = df.sort_values(["spw", "time"], kind="stable")
    dt = df.groupby(["spw", "scan"])["time"].diff().dt.total_seconds()
    per_scan = dt.groupby([df["spw"], df["scan"]]).transform("median")
    fallback = float(np.nanmedian(dt)) if np.isfinite(dt).any() else 0.0
    df["interval_s"] = per_scan.fillna(fallback)
    return df


def onsource_table(vis: Any) -> pd.DataFrame:
    """On-source time per field and intent (minutes): integrations (union over spws) x their spacing.

    Examples
    --------
    >>> onsource_table(av.open_ms("uid.ms"))   # doctest: +SKIP
    """
    tt = time_table(vis)
    one = tt.drop_duplicates("time")
    out = (
        one.groupby(["field", "intents"], sort=False)
        .agg(
            scans=("scan", lambda s: ",".join(str(x) for x in sorted(set(s)))),
            integrations=("time", "size"),
            on_source_min=("interval_s", "sum"),
        )
        .reset_index()
    )
    out["on_source_min"] = (out["on_source_min"] / 60.0).round(3)
    out["intents"] = out["intents"].str.replace("#ON_SOURCE", "").str.replace("CALIBRATE_", "")
    return out


def baseline_lengths(vis: Any) -> np.ndarray:
    """Lengths (m) of every pair of the antennas that have data and a valid position (upper triangle, in order).

    Antennas the ANTENNA table lists without data, or at (0, 0, 0), are left out.

    Examples
    --------
    >>> baseline_lengths(av.open_ms("uid.ms")).max()   # doctest: +SKIP
    """
    ant = vis["antennas"].ds
    keep = np.ones(ant.sizes["antenna_name"], bool)
    for mask in ("has_data", "position_valid"):
        if mask in ant.coords:
            keep &= ant[mask].values.astype(bool)
    pos = ant.ANTENNA_POSITION.values[keep]
    d = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))
    return d[np.triu_indices(len(pos), 1)]


def baseline_counts(vis: Any) -> dict[str, int]:
    """Per antenna, the number of distinct cross-correlation baselines it has in the MS (over all spws).

    Examples
    --------
    >>> baseline_counts(av.open_ms("uid.ms"))["DA41"]   # doctest: +SKIP
    11
    """
    pairs: set[tuple[str, str]] = set()
    for spw in ms_spws(vis):
        ds = vis[f"spw_{spw}"].ds
        pairs |= set(zip(ds.baseline_antenna1_name.values.astype(str), ds.baseline_antenna2_name.values.astype(str)))
    counts: dict[str, int] = {}
    for a, b in pairs:
        if a != b:
            counts[a] = counts.get(a, 0) + 1
            counts[b] = counts.get(b, 0) + 1
    return counts


#: FWHM of an ALMA antenna's primary beam in units of lambda / D (the ALMA Technical Handbook's convention,
#: used by the pipeline's imaging heuristics): 25.3" for a 12 m dish and 43.4" for a 7 m dish at 230.5 GHz.
PB_FWHM_LAMBDA_OVER_D = 1.13


def array_scales(vis: Any, spws: Sequence[int] | None = None) -> dict[str, Any]:
    """The array an EB observed with and its scales: 'array' ('12m', '7m', 'TP' or another telescope),
    'dish_diameter_m' (the ANTENNA table's DISH_DIAMETER, median over the antennas with data),
    'baseline_min_m' / 'baseline_max_m', and 'primary_beam_arcsec': per spw (``spws``, default all),
    (centre frequency GHz, primary beam FWHM arcsec = 1.13 lambda / D).

    Examples
    --------
    >>> s = array_scales(av.open_ms("uid___A002_X10ab2c3_X3a02.ms"), spws=[0])   # doctest: +SKIP
    >>> s["array"], s["dish_diameter_m"], s["primary_beam_arcsec"][0]           # doctest: +SKIP
    ('7m', 7.0, (230.53, 43.4))
    """
    from ..delivery.arrays import array_of_antennas

    ant = vis["antennas"].ds
    keep = ant["has_data"].values.astype(bool) if "has_data" in ant.coords else np.ones(ant.sizes["antenna_name"], bool)
    names = [str(n) for n in ant.antenna_name.values[keep]]
    diam = np.asarray(ant.ANTENNA_DISH_DIAMETER.values, dtype=float)[keep]
    dish = float(np.median(diam)) if diam.size else float("nan")
    telescope = str(vis.attrs.get("telescope_name", "ALMA") or "ALMA")
    single_dish = any("SPECTRUM" in vis[f"spw_{spw}"].ds for spw in ms_spws(vis))
    bl = baseline_lengths(vis)
    spw_ds = vis["spws"].ds
    chosen = [int(s) for s in spw_ds.spw_id.values] if spws is None else [int(s) for s in spws]
    beams = {}
    for spw in chosen:
        nu = float(spw_ds.CENTER_FREQUENCY.sel(spw_id=spw))
        fwhm = np.degrees(PB_FWHM_LAMBDA_OVER_D * 2.99792458e8 / nu / dish) * 3600 if dish > 0 else float("nan")
        beams[spw] = (round(nu / 1e9, 2), round(float(fwhm), 1))
    return {
        "array": array_of_antennas(names, list(diam), single_dish, telescope),
        "dish_diameter_m": round(dish, 2),
        "baseline_min_m": round(float(bl.min()), 1) if bl.size else float("nan"),
        "baseline_max_m": round(float(bl.max()), 1) if bl.size else float("nan"),
        "primary_beam_arcsec": beams,
    }


def eb_facts(vis: Any, spws: Sequence[int] | None = None) -> dict[str, Any]:
    """The EB's facts: uid, start/end, antennas, the array and its dish diameter, shortest/longest baseline (m),
    spws, and the primary beam FWHM at the centre of each of ``spws`` (default all; see :func:`array_scales`).

    Examples
    --------
    >>> eb_facts(av.open_ms("uid.ms"))["antennas"]   # doctest: +SKIP
    12
    """
    scales = array_scales(vis, spws)
    spw_ds = vis["spws"].ds
    obs = vis["observation"].ds
    return {
        "eb": str(obs.execblock_uid.values[0]) if "execblock_uid" in obs.coords else vis.attrs.get("title", ""),
        "start": str(vis.attrs.get("time_start", ""))[:19],
        "end": str(vis.attrs.get("time_end", ""))[:19],
        "antennas": int(vis["antennas"].ds.attrs.get("n_antennas", vis["antennas"].ds.sizes["antenna_name"])),
        "array": f"{scales['array']} ({scales['dish_diameter_m']:g} m dishes)",
        "baseline_min_m": scales["baseline_min_m"],
        "baseline_max_m": scales["baseline_max_m"],
        "primary_beam_fwhm": "; ".join(
            f'spw {spw}: {fwhm:g}" at {ghz:g} GHz' for spw, (ghz, fwhm) in scales["primary_beam_arcsec"].items()
        ),
        "spws": "; ".join(str(s) for s in spw_ds.spw_label.values),
    }


def uv_points(vis: Any, spws: Sequence[int] | None = None, fields: Sequence[str] | None = None) -> pd.DataFrame:
    """uv points in kλ (both halves; u and v scaled at each spw's centre frequency), from UVW.

    One row per point: spw, field, time, baseline, u_klambda, v_klambda, half (+1/-1).

    Examples
    --------
    >>> uv_points(av.open_ms("uid.ms"), spws=[0]).head()   # doctest: +SKIP
    """
    frames = []
    centre = dict(zip(vis["spws"].ds.spw_id.values.tolist(), vis["spws"].ds.CENTER_FREQUENCY.values.tolist()))
    for spw in selected(ms_spws(vis), spws):
        ds = vis[f"spw_{spw}"].ds
        names = ds.field_name.values.astype(str)
        tsel = np.flatnonzero(np.isin(names, list(fields))) if fields is not None else np.arange(len(names))
        if tsel.size == 0:
            continue
        uvw = ds.UVW.isel(time=tsel).values  # (time, baseline_id, 3) metres
        scale = centre[spw] / SPEED_OF_LIGHT / 1e3
        nb = uvw.shape[1]
        bl = [f"{a}-{b}" for a, b in zip(ds.baseline_antenna1_name.values, ds.baseline_antenna2_name.values)]
        u, v = uvw[..., 0].ravel() * scale, uvw[..., 1].ravel() * scale
        tt = np.repeat(ds.time.values[tsel], nb)
        ff = np.repeat(names[tsel], nb)
        bb = np.tile(np.asarray(bl, dtype=object), tsel.size)
        good = np.isfinite(u) & np.isfinite(v) & ((u != 0) | (v != 0))
        for half in (1, -1):
            frames.append(
                pd.DataFrame(
                    {
                        "spw": spw,
                        "field": ff[good],
                        "time": tt[good],
                        "baseline": bb[good],
                        "u_klambda": half * u[good],
                        "v_klambda": half * v[good],
                        "half": half,
                    }
                )
            )
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["spw", "field", "time", "baseline", "u_klambda", "v_klambda", "half"])
    )


def gmst_deg(times: np.ndarray) -> np.ndarray:
    """Greenwich mean sidereal time (deg) from UTC (UT1 ~ UTC to < 1 s: < 0.005 deg).

    Examples
    --------
    >>> round(float(gmst_deg(np.array(["2000-01-01T12:00:00"], dtype="datetime64[ns]"))[0]), 4)
    280.4606
    """
    jd = times.astype("datetime64[ns]").astype("int64") / 86400e9 + 2440587.5
    d = jd - 2451545.0
    t = d / 36525.0
    return (280.46061837 + 360.98564736629 * d + 0.000387933 * t**2) % 360.0


def precess_to_date(ra: np.ndarray, dec: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """J2000 (ra, dec) in rad to the mean equator and equinox of date (IAU 1976 precession; nutation ignored).

    Examples
    --------
    >>> t = np.array(["2000-01-01T12:00:00"], dtype="datetime64[ns]")
    >>> [round(float(v[0]), 9) for v in precess_to_date(np.array([1.0]), np.array([0.5]), t)]
    [1.0, 0.5]
    """
    jd = times.astype("datetime64[ns]").astype("int64") / 86400e9 + 2440587.5
    t = (jd - 2451545.0) / 36525.0
    arcsec = np.pi / 180 / 3600
    zeta = (2306.2181 * t + 0.30188 * t**2 + 0.017998 * t**3) * arcsec
    z = (2306.2181 * t + 1.09468 * t**2 + 0.018203 * t**3) * arcsec
    theta = (2004.3109 * t - 0.42665 * t**2 - 0.041833 * t**3) * arcsec
    a = np.cos(dec) * np.sin(ra + zeta)
    b = np.cos(theta) * np.cos(dec) * np.cos(ra + zeta) - np.sin(theta) * np.sin(dec)
    c = np.sin(theta) * np.cos(dec) * np.cos(ra + zeta) + np.cos(theta) * np.sin(dec)
    return np.arctan2(a, b) + z, np.arcsin(np.clip(c, -1, 1))


def elevation_table(vis: Any, fields: Sequence[str] | None = None) -> pd.DataFrame:
    """Elevation (deg) vs time per field at the array centre: field, time, scan, elevation_deg.

    Geometric elevation (no refraction), J2000 directions precessed to date; within ~0.01 deg of astropy's AltAz.

    Examples
    --------
    >>> elevation_table(av.open_ms("uid.ms")).groupby("field").elevation_deg.mean()   # doctest: +SKIP
    """
    import erfa  # astropy's own geodesy (EarthLocation.from_geocentric calls it), without astropy.coordinates' import

    centre = np.asarray(vis["antennas"].ds.attrs["array_centre"], dtype=float)
    lon_rad, lat, _ = erfa.gc2gd(1, centre)  # WGS84 (ellipsoid 1), as EarthLocation's default
    lon = np.degrees(lon_rad)
    fds = vis["fields"].ds
    dirs = {str(n): fds.FIELD_PHASE_CENTER.values[i] for i, n in enumerate(fds.field_name.values)}
    tt = time_table(vis).drop_duplicates("time")
    if fields is not None:
        tt = tt[tt["field"].isin(list(fields))]
    ra = np.array([dirs[f][0] for f in tt["field"]])
    dec = np.array([dirs[f][1] for f in tt["field"]])
    ra, dec = precess_to_date(ra, dec, tt["time"].to_numpy())
    ha = np.radians(gmst_deg(tt["time"].to_numpy()) + lon) - ra
    el = np.degrees(np.arcsin(np.sin(lat) * np.sin(dec) + np.cos(lat) * np.cos(dec) * np.cos(ha)))
    return pd.DataFrame(
        {
            "field": tt["field"].to_numpy(),
            "time": tt["time"].to_numpy(),
            "scan": tt["scan"].to_numpy(),
            "elevation_deg": el,
        }
    )


def scans_with_intent(vis: Any, intent: str) -> list[int]:
    """Scan numbers of an MS tree whose intents include ``intent`` (an ALMA intent or the pipeline's name:
    'PHASE', 'CALIBRATE_PHASE', 'AMPLITUDE', ...), in order.

    Examples
    --------
    >>> scans_with_intent(av.open_ms("uid.ms"), "PHASE")   # doctest: +SKIP
    [4, 7, 10]
    """
    from ..constants import intent_names

    s = vis["scans"].ds
    out = [
        int(n)
        for n, it in zip(s["scan_number"].values, s["intents"].values.astype(str))
        if intent in it or intent in intent_names(it)
    ]
    return sorted(set(out))

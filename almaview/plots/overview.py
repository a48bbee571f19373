"""The EB overview: summary table, antenna positions, uv coverage, elevation vs time.

Builders take the DataTree of :func:`almaview.open_ms`. Only metadata and UVW are used (never the visibilities).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from . import Panel
from ._common import (RASTER_THRESHOLD, colours_for, column, columns_of, empty_raster, figure, raster_data, row,
                      selected, table)

__all__ = ["eb_summary", "antenna_positions", "uv_coverage", "elevation", "ms_spws", "onsource_table"]

C = 299_792_458.0


def ms_spws(vis: Any) -> list[int]:
    """The spw ids with a ``spw_<id>`` node in an :func:`~almaview.open_ms` tree.

    Examples
    --------
    >>> ms_spws(av.open_ms("uid.ms"))   # doctest: +SKIP
    [0, 1, 2, 3]
    """
    out = []
    for name in vis.children:
        if name.startswith("spw_") and "_pol" not in name:
            out.append(int(name[4:]))
    return sorted(out)


def _time_table(vis: Any, spws: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per (spw, integration): time, scan, field, intents, interval_s (median spacing within the scan)."""
    frames = []
    for spw in selected(ms_spws(vis), spws):
        ds = vis[f"spw_{spw}"].ds
        frames.append(pd.DataFrame({"spw": spw, "time": ds.time.values, "scan": ds.scan_number.values,
                                    "field": ds.field_name.values.astype(str), "intents": ds.intents.values.astype(str)}))
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
    tt = _time_table(vis)
    one = tt.drop_duplicates("time")
    out = (one.groupby(["field", "intents"], sort=False)
           .agg(scans=("scan", lambda s: ",".join(str(x) for x in sorted(set(s)))),
                integrations=("time", "size"), on_source_min=("interval_s", "sum"))
           .reset_index())
    out["on_source_min"] = (out["on_source_min"] / 60.0).round(3)
    out["intents"] = out["intents"].str.replace("#ON_SOURCE", "").str.replace("CALIBRATE_", "")
    return out


def _baseline_lengths(vis: Any) -> np.ndarray:
    pos = vis["antennas"].ds.ANTENNA_POSITION.values
    d = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))
    return d[np.triu_indices(len(pos), 1)]


def eb_summary(vis: Any) -> Panel:
    """The EB table: start/end, antennas, baseline min/max, spws, and on-source time per field and intent.

    ``data`` is the on-source table; ``data.attrs['facts']`` the EB facts (dict).

    Examples
    --------
    >>> p = eb_summary(av.open_ms(eb.calibrated_ms))   # doctest: +SKIP
    >>> p.data.attrs["facts"]["antennas"]               # doctest: +SKIP
    12
    """
    from bokeh.models import Div

    bl = _baseline_lengths(vis)
    spws = vis["spws"].ds
    obs = vis["observation"].ds
    facts = {
        "eb": str(obs.execblock_uid.values[0]) if "execblock_uid" in obs.coords else vis.attrs.get("title", ""),
        "start": str(vis.attrs.get("time_start", ""))[:19], "end": str(vis.attrs.get("time_end", ""))[:19],
        "antennas": int(vis["antennas"].ds.sizes["antenna_name"]),
        "baseline_min_m": round(float(bl.min()), 1) if bl.size else float("nan"),
        "baseline_max_m": round(float(bl.max()), 1) if bl.size else float("nan"),
        "spws": "; ".join(str(s) for s in spws.spw_label.values),
    }
    onsrc = onsource_table(vis)
    onsrc.attrs["facts"] = facts
    html = "<table class='almaview-facts'>" + "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{k.replace('_', ' ')}</th><td>{v}</td></tr>"
        for k, v in facts.items()) + "</table>"
    tab, src = table(onsrc, height=30 + 26 * max(len(onsrc), 1))
    return Panel(column([Div(text=html), tab]), onsrc, {"onsource": src}, title=f"EB {facts['eb']}")


def _baseline_counts(vis: Any) -> dict[str, int]:
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


def antenna_positions(vis: Any, antennas: Sequence[str] | None = None) -> Panel:
    """Antenna positions as East/North offsets (m) from the array centre; tap selects antennas.

    Hover: name, pad (station), baseline count (distinct baselines in the MS). ``antennas`` are shown selected.

    Examples
    --------
    >>> p = antenna_positions(av.open_ms(eb.calibrated_ms))   # doctest: +SKIP
    >>> p.data[["antenna", "east_m", "north_m", "pad"]]       # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource, HoverTool, LabelSet, TapTool

    ant = vis["antennas"].ds
    enu = ant.ANTENNA_POSITION_ENU.values
    names = [str(n) for n in ant.antenna_name.values]
    counts = _baseline_counts(vis)
    data = pd.DataFrame({"antenna": names, "pad": ant.station_name.values.astype(str),
                         "east_m": enu[:, 0].astype(float), "north_m": enu[:, 1].astype(float),
                         "up_m": enu[:, 2].astype(float), "baselines": [counts.get(n, 0) for n in names]})
    src = ColumnDataSource(columns_of(data))
    if antennas is not None:
        src.selected.indices = [i for i, n in enumerate(names) if n in set(antennas)]
    span = max(float(np.abs(enu[:, :2]).max()) * 1.15, 10.0) if len(enu) else 10.0
    f = figure("Antenna positions (tap to select)", "East (m)", "North (m)", width=420, height=420,
               x_range=(-span, span), y_range=(-span, span), match_aspect=True)
    r = f.scatter("east_m", "north_m", source=src, size=11, color="#1f77b4", selection_color="#d62728",
                  nonselection_alpha=0.35)
    f.add_layout(LabelSet(x="east_m", y="north_m", text="antenna", source=src, x_offset=5, y_offset=5,
                          text_font_size="8pt"))
    f.add_tools(HoverTool(renderers=[r], tooltips=[("antenna", "@antenna"), ("pad", "@pad"),
                                                   ("baselines", "@baselines"), ("E, N", "@east_m{0.0}, @north_m{0.0} m")]))
    tap = f.select_one(TapTool)
    if tap is not None:
        tap.renderers = [r]
    return Panel(f, data, {"antennas": src}, title="Antenna positions")


def uv_coverage(vis: Any, spws: Sequence[int] | None = None, fields: Sequence[str] | None = None) -> Panel:
    """uv coverage in kλ (both halves, u and v scaled at each spw's centre frequency), coloured by spw.

    ``data``: one row per plotted point: spw, field, time, baseline, u_klambda, v_klambda, half (+1/-1).

    Examples
    --------
    >>> p = uv_coverage(av.open_ms(eb.calibrated_ms), spws=[0], fields=["IRAS16293-2422"])   # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource, HoverTool

    frames = []
    centre = dict(zip(vis["spws"].ds.spw_id.values.tolist(), vis["spws"].ds.CENTER_FREQUENCY.values.tolist()))
    for spw in selected(ms_spws(vis), spws):
        ds = vis[f"spw_{spw}"].ds
        names = ds.field_name.values.astype(str)
        tsel = np.flatnonzero(np.isin(names, list(fields))) if fields is not None else np.arange(len(names))
        if tsel.size == 0:
            continue
        uvw = ds.UVW.isel(time=tsel).values  # (time, baseline, 3) metres
        scale = centre[spw] / C / 1e3
        nb = uvw.shape[1]
        bl = [f"{a}-{b}" for a, b in zip(ds.baseline_antenna1_name.values, ds.baseline_antenna2_name.values)]
        u, v = uvw[..., 0].ravel() * scale, uvw[..., 1].ravel() * scale
        tt = np.repeat(ds.time.values[tsel], nb)
        ff = np.repeat(names[tsel], nb)
        bb = np.tile(np.asarray(bl, dtype=object), tsel.size)
        good = np.isfinite(u) & np.isfinite(v) & ((u != 0) | (v != 0))
        for half in (1, -1):
            frames.append(pd.DataFrame({"spw": spw, "field": ff[good], "time": tt[good], "baseline": bb[good],
                                        "u_klambda": half * u[good], "v_klambda": half * v[good], "half": half}))
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["spw", "field", "time", "baseline", "u_klambda", "v_klambda", "half"])
    cmap = colours_for(data["spw"]) if len(data) else {}
    f = figure("uv coverage", "u (kλ)", "v (kλ)", width=420, height=420, match_aspect=True)
    big = len(data) > RASTER_THRESHOLD
    pts = data.iloc[:0] if big else data
    src = ColumnDataSource(columns_of(pts.assign(color=[cmap[s] for s in pts["spw"]]),
                                      ["u_klambda", "v_klambda", "spw", "field", "baseline", "color"]))
    r = f.scatter("u_klambda", "v_klambda", source=src, color="color", size=2)
    f.add_tools(HoverTool(renderers=[r], tooltips=[("baseline", "@baseline"), ("spw", "@spw"), ("field", "@field"),
                                                   ("u, v", "@u_klambda{0.0}, @v_klambda{0.0} kλ")]))
    img = ColumnDataSource(raster_data(data["u_klambda"].to_numpy(), data["v_klambda"].to_numpy()) if big
                           else empty_raster())
    _image(f, img)
    return Panel(f, data, {"points": src, "image": img}, title="uv coverage")


def _image(f: Any, src: Any) -> None:
    from bokeh.models import HoverTool, LinearColorMapper

    mapper = LinearColorMapper(palette="Viridis256", nan_color=(0, 0, 0, 0))
    r = f.image(image="image", x="x", y="y", dw="dw", dh="dh", source=src, color_mapper=mapper)
    f.add_tools(HoverTool(renderers=[r], tooltips=[("points", "@image")]))


def _gmst_deg(times: np.ndarray) -> np.ndarray:
    """Greenwich mean sidereal time (deg) from UTC (UT1 ~ UTC to < 1 s: < 0.005 deg)."""
    jd = times.astype("datetime64[ns]").astype("int64") / 86400e9 + 2440587.5
    d = jd - 2451545.0
    t = d / 36525.0
    return (280.46061837 + 360.98564736629 * d + 0.000387933 * t ** 2) % 360.0


def _precess(ra: np.ndarray, dec: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """J2000 (ra, dec) in rad to the mean equator and equinox of date (IAU 1976 precession; nutation ignored)."""
    jd = times.astype("datetime64[ns]").astype("int64") / 86400e9 + 2440587.5
    t = (jd - 2451545.0) / 36525.0
    arcsec = np.pi / 180 / 3600
    zeta = (2306.2181 * t + 0.30188 * t ** 2 + 0.017998 * t ** 3) * arcsec
    z = (2306.2181 * t + 1.09468 * t ** 2 + 0.018203 * t ** 3) * arcsec
    theta = (2004.3109 * t - 0.42665 * t ** 2 - 0.041833 * t ** 3) * arcsec
    a = np.cos(dec) * np.sin(ra + zeta)
    b = np.cos(theta) * np.cos(dec) * np.cos(ra + zeta) - np.sin(theta) * np.sin(dec)
    c = np.sin(theta) * np.cos(dec) * np.cos(ra + zeta) + np.cos(theta) * np.sin(dec)
    return np.arctan2(a, b) + z, np.arcsin(np.clip(c, -1, 1))


def elevation(vis: Any, fields: Sequence[str] | None = None) -> Panel:
    """Elevation vs time per field, at the array centre (from the field phase centres and integration times).

    Geometric elevation (no refraction), J2000 directions precessed to date; within ~0.01 deg of astropy's AltAz.

    Examples
    --------
    >>> p = elevation(av.open_ms(eb.calibrated_ms))   # doctest: +SKIP
    >>> p.data.groupby("field").elevation_deg.mean()  # doctest: +SKIP
    """
    from astropy import units as u
    from astropy.coordinates import EarthLocation
    from bokeh.models import ColumnDataSource, HoverTool

    centre = np.asarray(vis["antennas"].ds.attrs["array_centre"], dtype=float)
    loc = EarthLocation.from_geocentric(*centre, unit=u.m)
    lat, lon = np.radians(loc.lat.deg), loc.lon.deg
    fds = vis["fields"].ds
    dirs = {str(n): fds.FIELD_PHASE_CENTER.values[i] for i, n in enumerate(fds.field_name.values)}
    tt = _time_table(vis).drop_duplicates("time")
    if fields is not None:
        tt = tt[tt["field"].isin(list(fields))]
    ra = np.array([dirs[f][0] for f in tt["field"]])
    dec = np.array([dirs[f][1] for f in tt["field"]])
    ra, dec = _precess(ra, dec, tt["time"].to_numpy())
    ha = np.radians(_gmst_deg(tt["time"].to_numpy()) + lon) - ra
    el = np.degrees(np.arcsin(np.sin(lat) * np.sin(dec) + np.cos(lat) * np.cos(dec) * np.cos(ha)))
    data = pd.DataFrame({"field": tt["field"].to_numpy(), "time": tt["time"].to_numpy(), "scan": tt["scan"].to_numpy(),
                         "elevation_deg": el})
    cmap = colours_for(data["field"])
    f = figure("Elevation vs time", "time (UTC)", "elevation (deg)", x_datetime=True, width=560)
    src = ColumnDataSource(columns_of(data.assign(color=[cmap[x] for x in data["field"]])))
    r = f.scatter("time", "elevation_deg", source=src, color="color", size=4, legend_field="field")
    f.legend.location = "bottom_left"
    f.add_tools(HoverTool(renderers=[r], tooltips=[("field", "@field"), ("scan", "@scan"),
                                                   ("elevation", "@elevation_deg{0.0}°"), ("time", "@time{%T}")],
                          formatters={"@time": "datetime"}))
    return Panel(f, data, {"elevation": src}, title="Elevation")


def overview(vis: Any, spws: Sequence[int] | None = None, fields: Sequence[str] | None = None,
             antennas: Sequence[str] | None = None) -> dict[str, Panel]:
    """All overview panels of an EB: {'summary', 'antennas', 'uv', 'elevation'}.

    Examples
    --------
    >>> panels = overview(av.open_ms(eb.calibrated_ms))   # doctest: +SKIP
    """
    return {"summary": eb_summary(vis), "antennas": antenna_positions(vis, antennas),
            "uv": uv_coverage(vis, spws, fields), "elevation": elevation(vis, fields)}


def overview_layout(panels: dict[str, Panel]) -> Any:
    """One Bokeh layout of :func:`overview`'s panels."""
    return column([panels["summary"].layout, row([panels["antennas"].layout, panels["uv"].layout]),
                   panels["elevation"].layout])

"""Calibrated visibilities, plotms's core: amplitude and phase vs time, frequency or uv distance; flux (data vs model).

Two steps, so that a caller (the explorer) can run the read in the background with progress and cancellation:

1. :func:`reduce_visibilities` — xarray in, a small tidy DataFrame out. Vector averages (plotms's default) of the
   unflagged samples: over channels for x = 'time'/'uvdist', over the selected times for x = 'frequency'; optional
   averaging in time (bins of ``time_bin_s`` within each scan) and channel (``chan_bin`` channels).
   It reads each needed column once, by time slices (the only place in this module that touches data).
2. :func:`amp_phase` — that DataFrame in, a :class:`~almaview.plots.Panel` out (linked amplitude and phase
   figures; above ~100k points a 2-D histogram image that keeps a hover with the counts).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import Cancelled

from . import Panel
from ._common import (RASTER_THRESHOLD, colours_for, column, columns_of, empty_raster, figure, raster_data,
                      selected)

__all__ = ["reduce_visibilities", "amp_phase", "flux", "DATA_COLUMNS", "X_AXES", "COLOUR_BY", "Cancelled"]

C = 299_792_458.0
#: data column names (as plotms calls them) -> the MS tree's variables
DATA_COLUMNS = {"data": ("VISIBILITY",), "corrected": ("VISIBILITY_CORRECTED",), "model": ("VISIBILITY_MODEL",),
                "corrected-model": ("VISIBILITY_CORRECTED", "VISIBILITY_MODEL")}
X_AXES = ("time", "frequency", "uvdist")
COLOUR_BY = ("antenna", "baseline", "spw", "scan", "field", "correlation")
_CHUNK_BYTES = 48e6




def _time_runs(idx: np.ndarray, size: int) -> list[slice]:
    """Contiguous runs of sorted indices, each cut to at most ``size`` long (slices read only their rows)."""
    runs = []
    if idx.size == 0:
        return runs
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    for part in np.split(idx, breaks):
        for s in range(0, part.size, size):
            seg = part[s:s + size]
            runs.append(slice(int(seg[0]), int(seg[-1]) + 1))
    return runs


def available_columns(ds: Any) -> list[str]:
    """Data-column choices this spw node can serve.

    Examples
    --------
    >>> available_columns(av.open_ms("uid.ms")["spw_0"].ds)   # doctest: +SKIP
    ['data', 'corrected', 'model', 'corrected-model']
    """
    return [k for k, v in DATA_COLUMNS.items() if all(n in ds for n in v)]


def select_times(ds: Any, fields: Sequence[str] | None = None, intents: Sequence[str] | None = None,
                 scans: Sequence[int] | None = None) -> np.ndarray:
    """Indices along ``time`` of the integrations on the given fields / intents (substring, e.g. 'TARGET') / scans.

    Examples
    --------
    >>> select_times(ds, intents=["TARGET"])   # doctest: +SKIP
    """
    keep = np.ones(ds.sizes["time"], dtype=bool)
    if fields is not None:
        keep &= np.isin(ds.field_name.values.astype(str), [str(f) for f in fields])
    if intents is not None:
        it = ds.intents.values.astype(str)
        keep &= np.array([any(i in s for i in intents) for s in it], dtype=bool)
    if scans is not None:
        keep &= np.isin(ds.scan_number.values, list(scans))
    return np.flatnonzero(keep)


def select_baselines(ds: Any, antennas: Sequence[str] | None = None, *, autocorr: bool = False) -> np.ndarray:
    """Indices along ``baseline`` that involve any of ``antennas`` (all when None), cross-correlations by default.

    Examples
    --------
    >>> select_baselines(ds, ["DA41"])   # doctest: +SKIP
    """
    a1 = ds.baseline_antenna1_name.values.astype(str)
    a2 = ds.baseline_antenna2_name.values.astype(str)
    keep = np.ones(a1.size, dtype=bool) if autocorr else a1 != a2
    if antennas is not None:
        want = [str(a) for a in antennas]
        keep &= np.isin(a1, want) | np.isin(a2, want)
    return np.flatnonzero(keep)


def _bin_times(times: np.ndarray, scans: np.ndarray, width_s: float) -> np.ndarray:
    """A bin id per integration: bins of ``width_s`` seconds starting at each scan's first integration."""
    if not width_s or width_s <= 0:
        return np.arange(times.size)
    t = times.astype("datetime64[ns]").astype("int64") / 1e9
    out = np.empty(times.size, dtype=np.int64)
    nxt = 0
    for s in pd.unique(scans):
        m = scans == s
        b = np.floor((t[m] - t[m].min()) / width_s).astype(np.int64)
        out[m] = b + nxt
        nxt += int(b.max()) + 1
    return out


def reduce_visibilities(ds: Any, *, column: str = "corrected", x: str = "time", fields: Sequence[str] | None = None,
                        intents: Sequence[str] | None = None, scans: Sequence[int] | None = None,
                        antennas: Sequence[str] | None = None, correlations: Sequence[str] | None = None,
                        time_bin_s: float = 0.0, chan_bin: int = 1, uv_units: str = "klambda",
                        progress: Callable[[float], None] | None = None,
                        cancel: Callable[[], bool] | None = None) -> pd.DataFrame:
    """Average one spw's visibilities for plotting (vector averages of unflagged samples).

    Returns one row per plotted point: ``x`` column (``time``, ``frequency_ghz`` or ``uvdist``), ``amp``,
    ``phase_deg``, ``n`` (samples averaged), ``antenna1``, ``antenna2``, ``baseline``, ``antenna`` (= antenna1),
    ``correlation``, ``spw``, and for time/uvdist ``scan``, ``field``. Points with no unflagged sample are dropped.
    ``uv_units``: 'klambda' (at each channel-averaged point's mean frequency) or 'm'.
    ``progress(fraction)`` is called after each slice; ``cancel()`` returning True raises :class:`Cancelled`.

    Examples
    --------
    >>> ds = av.open_ms(eb.calibrated_ms)["spw_0"].ds                                    # doctest: +SKIP
    >>> t = reduce_visibilities(ds, x="time", intents=["BANDPASS"], antennas=["DA41"])  # doctest: +SKIP
    >>> t[["time", "baseline", "correlation", "amp"]].head()                            # doctest: +SKIP
    """
    if x not in X_AXES:
        raise ValueError(f"x must be one of {X_AXES}, not {x!r}")
    if column not in DATA_COLUMNS:
        raise ValueError(f"column must be one of {list(DATA_COLUMNS)}, not {column!r}")
    names = DATA_COLUMNS[column]
    missing = [n for n in names if n not in ds]
    if missing:
        raise ValueError(f"this MS has no {', '.join(missing)} (column {column!r}); available: {available_columns(ds)}")
    spw = int(ds.attrs.get("spw_id", -1))
    tsel = select_times(ds, fields, intents, scans)
    bsel = select_baselines(ds, antennas)
    pols = [str(p) for p in ds.polarization.values]
    psel = np.array([i for i, p in enumerate(pols) if correlations is None or p in set(correlations)], dtype=int)
    nchan = ds.sizes["frequency"]
    freq = ds.frequency.values.astype(float)
    row_bytes = max(1, bsel.size * nchan * max(psel.size, 1) * (9 * len(names) + 1))
    runs = _time_runs(tsel, max(1, int(_CHUNK_BYTES // row_bytes)))
    want = list(names) + ["FLAG"] + (["UVW"] if x == "uvdist" else [])
    cols = ["time", "frequency_ghz", "uvdist"]
    if tsel.size == 0 or bsel.size == 0 or psel.size == 0:
        return pd.DataFrame(columns=[c for c in cols if c == _xcol(x)] + ["amp", "phase_deg", "n", "antenna1",
                                                                          "antenna2", "baseline", "antenna",
                                                                          "correlation", "spw", "scan", "field"])
    sums, counts, uvws = [], [], []
    fsum = np.zeros((bsel.size, nchan, psel.size), dtype=complex)
    fcnt = np.zeros((bsel.size, nchan, psel.size), dtype=np.int64)
    for k, sl in enumerate(runs):
        if cancel is not None and cancel():
            raise Cancelled(None, "stopped by the user")
        block = ds[want].isel(time=sl).compute()
        v = block[names[0]].values[:, bsel][..., psel]
        if len(names) == 2:
            v = v - block[names[1]].values[:, bsel][..., psel]
        good = ~block["FLAG"].values[:, bsel][..., psel] & np.isfinite(v)
        v = np.where(good, v, 0)
        if x == "frequency":
            fsum += v.sum(axis=0)
            fcnt += good.sum(axis=0)
        else:
            sums.append(v.sum(axis=2))  # (t, b, p) over channels
            counts.append(good.sum(axis=2))
            if x == "uvdist":
                uvws.append(block["UVW"].values[:, bsel])
        if progress is not None:
            progress((k + 1) / len(runs))
    a1 = ds.baseline_antenna1_name.values.astype(str)[bsel]
    a2 = ds.baseline_antenna2_name.values.astype(str)[bsel]
    bl = np.char.add(np.char.add(a1, "-"), a2)
    corr = np.asarray(pols, dtype=object)[psel]
    if x == "frequency":
        nb = -(-nchan // max(1, int(chan_bin)))
        grp = np.arange(nchan) // max(1, int(chan_bin))
        s = np.zeros((bsel.size, nb, psel.size), dtype=complex)
        n = np.zeros((bsel.size, nb, psel.size), dtype=np.int64)
        np.add.at(s, (slice(None), grp), fsum)
        np.add.at(n, (slice(None), grp), fcnt)
        fghz = np.bincount(grp, weights=freq) / np.bincount(grp) / 1e9
        b, c, p = np.meshgrid(np.arange(bsel.size), np.arange(nb), np.arange(psel.size), indexing="ij")
        out = pd.DataFrame({"frequency_ghz": fghz[c.ravel()], "_s": s.ravel(), "n": n.ravel(),
                            "antenna1": a1[b.ravel()], "antenna2": a2[b.ravel()], "baseline": bl[b.ravel()],
                            "correlation": corr[p.ravel()]})
    else:
        S, N = np.concatenate(sums), np.concatenate(counts)  # (t, b, p)
        times = ds.time.values[tsel]
        scan = ds.scan_number.values[tsel]
        field = ds.field_name.values.astype(str)[tsel]
        bins = _bin_times(times, scan, time_bin_s)
        ub, inv = np.unique(bins, return_inverse=True)
        s = np.zeros((ub.size,) + S.shape[1:], dtype=complex)
        n = np.zeros((ub.size,) + S.shape[1:], dtype=np.int64)
        np.add.at(s, inv, S)
        np.add.at(n, inv, N)
        tnum = times.astype("datetime64[ns]").astype("int64")
        tmean = (np.bincount(inv, weights=tnum) / np.bincount(inv)).astype("int64").astype("datetime64[ns]")
        first = np.unique(inv, return_index=True)[1]
        t, b, p = np.meshgrid(np.arange(ub.size), np.arange(bsel.size), np.arange(psel.size), indexing="ij")
        out = pd.DataFrame({"time": tmean[t.ravel()], "_s": s.ravel(), "n": n.ravel(),
                            "antenna1": a1[b.ravel()], "antenna2": a2[b.ravel()], "baseline": bl[b.ravel()],
                            "correlation": corr[p.ravel()], "scan": scan[first][t.ravel()],
                            "field": field[first][t.ravel()]})
        if x == "uvdist":
            U = np.concatenate(uvws)  # (t, b, 3)
            uvsum = np.zeros((ub.size, bsel.size, 2))
            np.add.at(uvsum, inv, U[..., :2])
            uvm = uvsum / np.bincount(inv)[:, None, None]
            dist = np.sqrt((uvm ** 2).sum(-1))  # (bins, b) metres
            if uv_units == "klambda":
                dist = dist * freq.mean() / C / 1e3
            out.insert(0, "uvdist", dist[t.ravel(), b.ravel()])
            out = out.drop(columns="time")
    out = out[out["n"] > 0].reset_index(drop=True)
    mean = out.pop("_s").to_numpy() / out["n"].to_numpy()
    out.insert(1, "amp", np.abs(mean))
    out.insert(2, "phase_deg", np.degrees(np.angle(mean)))
    out["antenna"] = out["antenna1"]
    out["spw"] = spw
    out.attrs.update({"x": x, "column": column, "uv_units": uv_units, "spw": spw})
    return out


def _xcol(x: str) -> str:
    return {"time": "time", "frequency": "frequency_ghz", "uvdist": "uvdist"}[x]


def _xlabel(x: str, uv_units: str = "klambda") -> str:
    return {"time": "time (UTC)", "frequency": "frequency (GHz)",
            "uvdist": "uv distance (kλ)" if uv_units == "klambda" else "uv distance (m)"}[x]


def amp_phase(table: pd.DataFrame, *, x: str | None = None, colour_by: str = "antenna",
              cont_ranges: Sequence[tuple[float, float]] | None = None, title: str = "",
              raster_threshold: int = RASTER_THRESHOLD) -> Panel:
    """Amplitude and phase vs ``x`` (linked x ranges) from :func:`reduce_visibilities`'s table.

    ``colour_by``: one of :data:`COLOUR_BY`. ``cont_ranges``: (low, high) in Hz shaded on frequency plots
    (cont.dat). Above ``raster_threshold`` points each figure shows a 2-D histogram image instead of points.
    Sources: 'amp', 'phase' (points, shared), 'amp_image', 'phase_image', 'cont'.

    Examples
    --------
    >>> p = amp_phase(reduce_visibilities(ds, x="frequency"), colour_by="baseline")   # doctest: +SKIP
    """
    from bokeh.models import BoxAnnotation, ColumnDataSource, HoverTool

    x = x or table.attrs.get("x", "time")
    if colour_by not in COLOUR_BY:
        raise ValueError(f"colour_by must be one of {COLOUR_BY}, not {colour_by!r}")
    xc = _xcol(x)
    data = table
    big = len(data) > raster_threshold
    cmap = colours_for(data[colour_by]) if len(data) and colour_by in data else {}
    pts = data.iloc[:0] if big else data
    pcols = [c for c in (xc, "amp", "phase_deg", "baseline", "correlation", "spw", "scan", "field", "n") if c in pts]
    src = ColumnDataSource(columns_of(pts.assign(color=[cmap.get(v, "#1f77b4") for v in pts.get(colour_by, [])]),
                                      pcols + ["color"]))
    dt = x == "time"
    amp = figure(title or "Amplitude", _xlabel(x, table.attrs.get("uv_units", "klambda")), "amplitude",
                 x_datetime=dt, width=640)
    ph = figure("Phase", amp.xaxis.axis_label, "phase (deg)", x_datetime=dt, width=640, x_range=amp.x_range)
    tips = [(c, f"@{c}") for c in ("baseline", "correlation", "spw", "scan", "field") if c in pcols]
    tips += [("amp", "@amp{0.0000}"), ("phase", "@phase_deg{0.0}°"), ("samples", "@n")]
    if dt:
        tips.append(("time", "@time{%F %T}"))
    images = {}
    for f, y in ((amp, "amp"), (ph, "phase_deg")):
        r = f.scatter(xc, y, source=src, color="color", size=3, alpha=0.7)
        f.add_tools(HoverTool(renderers=[r], tooltips=tips, formatters={"@time": "datetime"} if dt else {}))
        img = ColumnDataSource(raster_data(data[xc].to_numpy(), data[y].to_numpy()) if big else empty_raster())
        from .overview import _image

        _image(f, img)
        images[y] = img
    cont = ColumnDataSource({"low": [], "high": []})
    if x == "frequency" and cont_ranges:
        lows = [lo / 1e9 for lo, hi in cont_ranges if lo is not None]
        highs = [hi / 1e9 for lo, hi in cont_ranges if lo is not None]
        cont.data = {"low": lows, "high": highs}
        for lo, hi in zip(lows, highs):
            amp.add_layout(BoxAnnotation(left=lo, right=hi, fill_color="#2ca02c", fill_alpha=0.12))
    panel = Panel(column([amp, ph]), data, {"amp": src, "phase": src, "amp_image": images["amp"],
                                             "phase_image": images["phase_deg"], "cont": cont},
                  title=title or f"amp/phase vs {x}")
    panel.colours = cmap  # type: ignore[attr-defined]
    return panel


def points_data(table: pd.DataFrame, x: str, colour_by: str, raster_threshold: int = RASTER_THRESHOLD
                ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The new data of an :func:`amp_phase` panel's sources (points, amp image, phase image), for in-place updates.

    Examples
    --------
    >>> pts, ai, pi = points_data(table, "time", "antenna")   # doctest: +SKIP
    """
    xc = _xcol(x)
    big = len(table) > raster_threshold
    cmap = colours_for(table[colour_by]) if len(table) and colour_by in table else {}
    pts = table.iloc[:0] if big else table
    pcols = [c for c in (xc, "amp", "phase_deg", "baseline", "correlation", "spw", "scan", "field", "n") if c in pts]
    pd_ = columns_of(pts.assign(color=[cmap.get(v, "#1f77b4") for v in pts.get(colour_by, [])]), pcols + ["color"])
    if big:
        return pd_, raster_data(table[xc].to_numpy(), table["amp"].to_numpy()), \
            raster_data(table[xc].to_numpy(), table["phase_deg"].to_numpy())
    return pd_, empty_raster(), empty_raster()


def flux(vis: Any, spws: Sequence[int] | None = None, fields: Sequence[str] | None = None,
         intents: Sequence[str] = ("FLUX", "AMPLI", "BANDPASS", "PHASE"), *, column: str = "corrected",
         uv_units: str = "klambda") -> Panel:
    """Amplitude vs uv distance for each calibrator: data (``column``, coloured by field) vs model (black).

    Per-integration channel-averaged vector averages, both correlations. ``data`` has a ``kind`` column
    ('data' or 'model').

    Examples
    --------
    >>> p = flux(av.open_ms(eb.calibrated_ms), spws=[1])   # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource, HoverTool

    from .overview import ms_spws

    frames = []
    for spw in selected(ms_spws(vis), spws):
        ds = vis[f"spw_{spw}"].ds
        for kind, col in (("data", column), ("model", "model")):
            if col not in available_columns(ds):
                continue
            t = reduce_visibilities(ds, column=col, x="uvdist", fields=fields, intents=list(intents),
                                    uv_units=uv_units)
            frames.append(t.assign(kind=kind))
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["uvdist", "amp", "phase_deg", "field", "kind", "spw", "baseline"])
    cmap = colours_for(data["field"]) if len(data) else {}
    f = figure("Amplitude vs uv distance (calibrators; black: model)", _xlabel("uvdist", uv_units), "amplitude",
               width=640)
    srcs = {}
    for kind in ("data", "model"):
        d = data[data["kind"] == kind] if len(data) else data
        d = d.assign(color=["black" if kind == "model" else cmap[v] for v in d["field"]])
        src = ColumnDataSource(columns_of(d, ["uvdist", "amp", "field", "spw", "baseline", "color"]))
        r = f.scatter("uvdist", "amp", source=src, color="color", size=3 if kind == "data" else 2,
                      alpha=0.6 if kind == "data" else 1.0)
        f.add_tools(HoverTool(renderers=[r], tooltips=[("", kind), ("field", "@field"), ("spw", "@spw"),
                                                       ("baseline", "@baseline"), ("amp", "@amp{0.000}")]))
        srcs[kind] = src
    return Panel(f, data, srcs, title="Flux calibrators")

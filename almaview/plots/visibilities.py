"""Calibrated visibilities, plotms's core: amplitude and phase vs time, frequency or uv distance; flux (data vs model).

Two steps, so that a caller (the explorer) can run the read in the background with progress and cancellation:

1. :func:`almaview.analysis.reduce_visibilities` — xarray in, a small tidy DataFrame out (vector averages of the
   unflagged samples; it lives in the analysis layer and is re-exported here for old code).
2. :func:`amp_phase` — that DataFrame in, a :class:`~almaview.plots.Panel` out (linked amplitude and phase
   figures; above ~100k points a 2-D histogram image that keeps a hover with the counts).
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from ..analysis.visibilities import (DATA_COLUMNS, XCOLUMN, Cancelled, available_columns,  # noqa: F401 (re-exported)
                                     calibrator_amplitudes, reduce_visibilities, select_baselines, select_times)
from . import Panel
from ._common import (RASTER_THRESHOLD, colours_for, column, columns_of, empty_raster, figure, image_layer,
                      raster_data)

__all__ = ["reduce_visibilities", "amp_phase", "flux", "DATA_COLUMNS", "X_AXES", "COLOUR_BY", "Cancelled"]

X_AXES = ("time", "frequency", "uvdist")
COLOUR_BY = ("antenna", "baseline", "spw", "scan", "field", "correlation")


def _xcol(x: str) -> str:
    return XCOLUMN[x]


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
        image_layer(f, img)
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
                  title=title or f"amp/phase vs {x}", kind="amp_phase")
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


def flux(vis: Any | pd.DataFrame, spws: Sequence[int] | None = None, fields: Sequence[str] | None = None,
         intents: Sequence[str] = ("FLUX", "AMPLI", "BANDPASS", "PHASE"), *, column: str = "corrected",
         uv_units: str = "klambda") -> Panel:
    """Amplitude vs uv distance for each calibrator: data (``column``, coloured by field) vs model (black).

    ``vis``: the table of :func:`almaview.analysis.calibrator_amplitudes` (or an MS tree, reduced with it:
    per-integration channel-averaged vector averages, both correlations). ``data`` has a ``kind`` column
    ('data' or 'model').

    Examples
    --------
    >>> p = flux(av.open_ms(eb.calibrated_ms), spws=[1])   # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource, HoverTool

    data = vis if isinstance(vis, pd.DataFrame) else calibrator_amplitudes(
        vis, spws, fields, intents, column=column, uv_units=uv_units)
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
    return Panel(f, data, srcs, title="Flux calibrators", kind="flux")

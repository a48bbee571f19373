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

from ..analysis.visibilities import (
    DATA_COLUMNS,
    XCOLUMN,
    Cancelled,
    available_columns,  # noqa: F401 (re-exported)
    calibrator_amplitudes,
    reduce_visibilities,
    select_baselines,
    select_times,
)
from . import Panel
from ._common import (
    hover_tool,
    RASTER_THRESHOLD,
    colours_for,
    column,
    columns_of,
    empty_raster,
    figure,
    image_layer,
    raster_data,
)
from .grid import by_category, check_iterate, grid, legend_outside, who

__all__ = ["reduce_visibilities", "amp_phase", "flux", "DATA_COLUMNS", "X_AXES", "COLOUR_BY", "Cancelled"]

X_AXES = ("time", "frequency", "uvdist")
COLOUR_BY = ("antenna", "baseline", "spw", "scan", "field", "correlation")


def _xcol(x: str) -> str:
    return XCOLUMN[x]


def _xlabel(x: str, uv_units: str = "klambda", frame: str = "") -> str:
    return {
        "time": "time (UTC)",
        "frequency": f"frequency (GHz, {frame or 'TOPO'})",
        "uvdist": "uv distance (kλ)" if uv_units == "klambda" else "uv distance (m)",
    }[x]


def _amp_label(table: pd.DataFrame) -> str:
    column = table.attrs.get("column", "corrected")
    return "amplitude (Jy)" if column in ("corrected", "model", "corrected-model") else "amplitude (uncalibrated)"


#: above this many colour categories the key is left out (the colours stay; hover names each point)
MAX_LEGEND = 40
_OTHERS_JS = """
const cat = source.data["cat"];
const out = [];
for (let i = 0; i < cat.length; i++) { if (!known.includes(cat[i])) out.push(i); }
return out;
"""


def _points(table: pd.DataFrame, x: str, colour_by: str, big: bool) -> tuple[dict[str, Any], dict[Any, str]]:
    xc = _xcol(x)
    cmap = colours_for(table[colour_by]) if len(table) and colour_by in table else {}
    pts = table.iloc[:0] if big else table
    pcols = [c for c in (xc, "amp", "phase_deg", "baseline", "correlation", "spw", "scan", "field", "n") if c in pts]
    cats = pts[colour_by].astype(str) if colour_by in pts else pd.Series([""] * len(pts), index=pts.index)
    spw_s = pts["spw"].astype(str) if "spw" in pts else pd.Series([""] * len(pts), index=pts.index)
    cols = columns_of(
        pts.assign(color=[cmap.get(v, "#1f77b4") for v in pts.get(colour_by, [])], cat=cats, spw_s=spw_s),
        pcols + ["color", "cat", "spw_s"],
    )
    return cols, cmap


def _title(table: pd.DataFrame, what: str, spw: Any = None) -> str:
    eb = table.attrs.get("eb", "")
    parts = [what] + ([f"EB {eb}"] if eb else [])
    spws = [spw] if spw is not None else sorted(set(table["spw"])) if "spw" in table and len(table) else []
    if spws:
        parts.append("spw " + ", ".join(str(s) for s in spws))
    if "field" in table and len(table):
        f = sorted({str(v) for v in table["field"]})
        parts.append(", ".join(f) if len(f) <= 3 else f"{len(f)} fields")
    chosen = table.attrs.get("antennas") or []
    if chosen:
        parts.append("baselines of " + who(chosen))
    elif "antenna1" in table and len(table):
        parts.append(who(sorted(set(table["antenna1"]) | set(table["antenna2"]))))
    return " · ".join(parts)


def amp_phase(
    table: pd.DataFrame,
    *,
    x: str | None = None,
    colour_by: str = "antenna",
    cont_ranges: Sequence[tuple[float, float]] | None = None,
    title: str = "",
    raster_threshold: int = RASTER_THRESHOLD,
    iterate: str = "none",
) -> Panel:
    """Amplitude and phase vs ``x`` (linked x ranges) from :func:`almaview.analysis.reduce_visibilities`'s table.

    ``colour_by``: one of :data:`COLOUR_BY`, with a key outside the data (click an entry to hide it; up to
    :data:`MAX_LEGEND` entries). ``iterate='spw'``: one amplitude/phase pair per spw (spws never share a
    frequency axis), like plotms's iteraxis. ``cont_ranges``: (low, high) in Hz **in the table's frame** (the
    MS's, named on the axis; convert cont.dat's LSRK ranges with
    :func:`almaview.analysis.frames.ranges_in_ms_frame`), shaded on frequency plots. Above ``raster_threshold``
    points each figure shows a 2-D histogram image instead of points. Amplitudes of calibrated columns are in Jy.
    Sources: 'amp', 'phase' (points, shared), 'amp_image', 'phase_image', 'cont'.

    Examples
    --------
    >>> p = amp_phase(reduce_visibilities(ds, x="frequency"), colour_by="baseline")   # doctest: +SKIP
    """
    from bokeh.models import BoxAnnotation, CDSView, ColumnDataSource, CustomJSFilter

    x = x or table.attrs.get("x", "time")
    if colour_by not in COLOUR_BY:
        raise ValueError(f"colour_by must be one of {COLOUR_BY}, not {colour_by!r}")
    check_iterate(iterate)
    xc = _xcol(x)
    data = table
    big = len(data) > raster_threshold
    cols, cmap = _points(data, x, colour_by, big)
    src = ColumnDataSource(cols)
    dt = x == "time"
    xlabel = _xlabel(x, table.attrs.get("uv_units", "klambda"), table.attrs.get("frame", ""))
    tips = [(c, f"@{c}") for c in ("baseline", "correlation", "spw", "scan", "field") if c in cols]
    tips += [("amp", "@amp{0.0000}"), ("phase", "@phase_deg{0.0}°"), ("samples", "@n")]
    if dt:
        tips.append(("time", "@time{%F %T}"))
    known = [str(v) for v in cmap] if len(cmap) <= MAX_LEGEND else []
    spws = sorted(set(data["spw"])) if iterate == "spw" and "spw" in data and len(data) else [None]
    images, amp_figs, ph_figs = {}, [], []
    for spw in spws:
        where = {"spw_s": str(spw)} if spw is not None else {}
        what = f"Amplitude vs {x}"
        amp = figure(
            title if (title and spw is None) else _title(data, what, spw),
            xlabel,
            _amp_label(table),
            x_datetime=dt,
            width=640 if spw is None else 460,
        )
        ph = figure(
            _title(data, f"Phase vs {x}", spw),
            xlabel,
            "phase (deg)",
            x_datetime=dt,
            width=640 if spw is None else 460,
            x_range=amp.x_range,
        )
        for f, y in ((amp, "amp"), (ph, "phase_deg")):
            items = by_category(
                f,
                "scatter",
                src,
                xc,
                y,
                "cat",
                known,
                {str(k): c for k, c in cmap.items()},
                where=where,
                size=3,
                alpha=0.7,
            )
            rest = CustomJSFilter(args=dict(known=known), code=_OTHERS_JS)
            if where:
                from bokeh.models import GroupFilter, IntersectionFilter

                rest = IntersectionFilter(operands=[rest, GroupFilter(column_name="spw_s", group=where["spw_s"])])
            others = f.scatter(xc, y, source=src, view=CDSView(filter=rest), color="color", size=3, alpha=0.7)
            f.add_tools(
                hover_tool(
                    [r for _, r in items] + [others], tooltips=tips, formatters={"@time": "datetime"} if dt else {}
                )
            )
            if items:
                legend_outside(f, items, title=colour_by)
            if spw is None:
                img = ColumnDataSource(raster_data(data[xc].to_numpy(), data[y].to_numpy()) if big else empty_raster())
                image_layer(f, img)
                images[y] = img
        amp_figs.append(amp)
        ph_figs.append(ph)
    if not images:
        images = {"amp": ColumnDataSource(empty_raster()), "phase_deg": ColumnDataSource(empty_raster())}
    cont = ColumnDataSource({"low": [], "high": []})
    if x == "frequency" and cont_ranges:
        lows = [lo / 1e9 for lo, hi in cont_ranges if lo is not None]
        highs = [hi / 1e9 for lo, hi in cont_ranges if lo is not None]
        cont.data = {"low": lows, "high": highs}
        for amp in amp_figs:
            for lo, hi in zip(lows, highs):
                amp.add_layout(BoxAnnotation(left=lo, right=hi, fill_color="#2ca02c", fill_alpha=0.12))
    layout = (
        column([amp_figs[0], ph_figs[0]])
        if spws == [None]
        else column([grid(amp_figs, share_x=False), grid(ph_figs, share_x=False)])
    )
    panel = Panel(
        layout,
        data,
        {"amp": src, "phase": src, "amp_image": images["amp"], "phase_image": images["phase_deg"], "cont": cont},
        title=title or f"amp/phase vs {x}",
        kind="amp_phase",
    )
    panel.colours = cmap  # type: ignore[attr-defined]
    panel.colour_by = colour_by  # type: ignore[attr-defined]  (a new colour-by needs new legend entries)
    return panel


def points_data(
    table: pd.DataFrame, x: str, colour_by: str, raster_threshold: int = RASTER_THRESHOLD
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The new data of an :func:`amp_phase` panel's sources (points, amp image, phase image), for in-place updates.

    Examples
    --------
    >>> pts, ai, pi = points_data(table, "time", "antenna")   # doctest: +SKIP
    """
    xc = _xcol(x)
    big = len(table) > raster_threshold
    pd_, _ = _points(table, x, colour_by, big)
    if big:
        return (
            pd_,
            raster_data(table[xc].to_numpy(), table["amp"].to_numpy()),
            raster_data(table[xc].to_numpy(), table["phase_deg"].to_numpy()),
        )
    return pd_, empty_raster(), empty_raster()


def flux(
    vis: Any | pd.DataFrame,
    spws: Sequence[int] | None = None,
    fields: Sequence[str] | None = None,
    intents: Sequence[str] = ("FLUX", "AMPLI", "BANDPASS", "PHASE"),
    *,
    column: str = "corrected",
    uv_units: str = "klambda",
) -> Panel:
    """Amplitude vs uv distance for each calibrator: data (``column``, coloured by field) vs model (black).

    ``vis``: the table of :func:`almaview.analysis.calibrator_amplitudes` (or an MS tree, reduced with it:
    per-integration channel-averaged vector averages, both correlations). ``data`` has a ``kind`` column
    ('data' or 'model').

    Examples
    --------
    >>> p = flux(av.open_ms(eb.calibrated_ms), spws=[1])   # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource

    data = (
        vis
        if isinstance(vis, pd.DataFrame)
        else calibrator_amplitudes(vis, spws, fields, intents, column=column, uv_units=uv_units)
    )
    cmap = colours_for(data["field"]) if len(data) else {}
    f = figure(
        _title(data, "Amplitude vs uv distance (calibrators; black: model)"),
        _xlabel("uvdist", uv_units),
        "amplitude (Jy)",
        width=640,
    )
    srcs, items = {}, []
    for kind in ("data", "model"):
        d = data[data["kind"] == kind] if len(data) else data
        d = d.assign(color=["black" if kind == "model" else cmap[v] for v in d["field"]])
        src = ColumnDataSource(columns_of(d, ["uvdist", "amp", "field", "spw", "baseline", "color"]))
        r = f.scatter(
            "uvdist",
            "amp",
            source=src,
            color="color",
            size=3 if kind == "data" else 2,
            alpha=0.6 if kind == "data" else 1.0,
        )
        f.add_tools(
            hover_tool(
                [r],
                tooltips=[
                    ("", kind),
                    ("field", "@field"),
                    ("spw", "@spw"),
                    ("baseline", "@baseline"),
                    ("amp", "@amp{0.000}"),
                ],
            )
        )
        srcs[kind] = src
        items.append((f"{kind} ({', '.join(sorted(cmap))})" if kind == "data" and cmap else kind, r))
    legend_outside(f, items, title="column")
    return Panel(f, data, srcs, title="Flux calibrators", kind="flux")

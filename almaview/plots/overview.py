"""The EB overview: summary table, antenna positions, uv coverage, elevation vs time.

Builders take the DataTree of :func:`almaview.open_ms`. Only metadata and UVW are used (never the visibilities).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..analysis.overview import (
    array_scales,
    baseline_counts,
    eb_facts,
    elevation_table,
    onsource_table,  # noqa: F401
    uv_points,
)
from ..analysis.trees import ms_spws  # noqa: F401 (re-exported)
from . import Panel
from .grid import by_category, legend_outside
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
    row,
    table,
)

__all__ = ["eb_summary", "antenna_positions", "uv_coverage", "elevation", "ms_spws", "onsource_table"]


def eb_summary(vis: Any, spws: Sequence[int] | None = None) -> Panel:
    """The EB table: start/end, antennas, the array (12m, 7m, TP) and its dish diameter, baseline min/max, the
    primary beam FWHM at the centre of each of ``spws`` (default all), spws, and on-source time per field and intent.

    ``data`` is the on-source table; ``data.attrs['facts']`` the EB facts (dict).

    Examples
    --------
    >>> p = eb_summary(av.open_ms(eb.calibrated_ms))   # doctest: +SKIP
    >>> p.data.attrs["facts"]["antennas"]               # doctest: +SKIP
    12
    """
    from bokeh.models import Div

    facts = eb_facts(vis, spws)
    onsrc = onsource_table(vis)
    onsrc.attrs["facts"] = facts
    html = (
        "<table class='almaview-facts'>"
        + "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{k.replace('_', ' ')}</th><td>{v}</td></tr>"
            for k, v in facts.items()
        )
        + "</table>"
    )
    tab, src = table(onsrc, height=30 + 26 * max(len(onsrc), 1))
    return Panel(column([Div(text=html), tab]), onsrc, {"onsource": src}, title=f"EB {facts['eb']}", kind="eb_summary")


def antenna_positions(vis: Any, antennas: Sequence[str] | None = None) -> Panel:
    """Antenna positions as East/North offsets (m) from the array centre; tap selects antennas.

    Hover: name, pad (station), baseline count (distinct baselines in the MS). ``antennas`` are shown selected.

    Examples
    --------
    >>> p = antenna_positions(av.open_ms(eb.calibrated_ms))   # doctest: +SKIP
    >>> p.data[["antenna", "east_m", "north_m", "pad"]]       # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource, LabelSet, TapTool

    ant = vis["antennas"].ds
    enu = ant.ANTENNA_POSITION_ENU.values
    names = [str(n) for n in ant.antenna_name.values]
    counts = baseline_counts(vis)
    data = pd.DataFrame(
        {
            "antenna": names,
            "pad": ant.station_name.values.astype(str),
            "east_m": enu[:, 0].astype(float),
            "north_m": enu[:, 1].astype(float),
            "up_m": enu[:, 2].astype(float),
            "baselines": [counts.get(n, 0) for n in names],
        }
    )
    src = ColumnDataSource(columns_of(data))
    if antennas is not None:
        src.selected.indices = [i for i, n in enumerate(names) if n in set(antennas)]
    finite = np.isfinite(enu[:, :2]).all(axis=1)  # rows at (0, 0, 0) have no offset
    span = max(float(np.abs(enu[finite, :2]).max()) * 1.15, 10.0) if finite.any() else 10.0
    f = figure(
        "Antenna positions (tap to select)",
        "East (m)",
        "North (m)",
        width=420,
        height=420,
        x_range=(-span, span),
        y_range=(-span, span),
        match_aspect=True,
    )
    r = f.scatter(
        "east_m", "north_m", source=src, size=11, color="#1f77b4", selection_color="#d62728", nonselection_alpha=0.35
    )
    f.add_layout(
        LabelSet(x="east_m", y="north_m", text="antenna", source=src, x_offset=5, y_offset=5, text_font_size="8pt")
    )
    f.add_tools(
        hover_tool(
            [r],
            tooltips=[
                ("antenna", "@antenna"),
                ("pad", "@pad"),
                ("baselines", "@baselines"),
                ("E, N", "@east_m{0.0}, @north_m{0.0} m"),
            ],
        )
    )
    tap = f.select_one(TapTool)
    if tap is not None:
        tap.renderers = [r]
    return Panel(f, data, {"antennas": src}, title="Antenna positions", kind="antenna_positions")


def uv_coverage(
    vis: Any | pd.DataFrame, spws: Sequence[int] | None = None, fields: Sequence[str] | None = None
) -> Panel:
    """uv coverage in kλ (both halves, u and v scaled at each spw's centre frequency), coloured by spw.

    ``vis``: an MS tree (reduced with :func:`almaview.analysis.uv_points`) or that table.
    ``data``: one row per plotted point: spw, field, time, baseline, u_klambda, v_klambda, half (+1/-1).

    Examples
    --------
    >>> p = uv_coverage(av.open_ms(eb.calibrated_ms), spws=[0], fields=["IRAS16293-2422"])   # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource

    data = vis if isinstance(vis, pd.DataFrame) else uv_points(vis, spws, fields)
    cmap = colours_for(data["spw"]) if len(data) else {}
    title = "uv coverage" if isinstance(vis, pd.DataFrame) else f"uv coverage: {array_scales(vis, [])['array']} array"
    f = figure(title, "u (kλ)", "v (kλ)", width=420, height=420, match_aspect=True)
    big = len(data) > RASTER_THRESHOLD
    pts = data.iloc[:0] if big else data
    src = ColumnDataSource(
        columns_of(
            pts.assign(color=[cmap[s] for s in pts["spw"]]),
            ["u_klambda", "v_klambda", "spw", "field", "baseline", "color"],
        )
    )
    r = f.scatter("u_klambda", "v_klambda", source=src, color="color", size=2)
    f.add_tools(
        hover_tool(
            [r],
            tooltips=[
                ("baseline", "@baseline"),
                ("spw", "@spw"),
                ("field", "@field"),
                ("u, v", "@u_klambda{0.0}, @v_klambda{0.0} kλ"),
            ],
        )
    )
    img = ColumnDataSource(
        raster_data(data["u_klambda"].to_numpy(), data["v_klambda"].to_numpy()) if big else empty_raster()
    )
    image_layer(f, img)
    return Panel(f, data, {"points": src, "image": img}, title="uv coverage", kind="uv_coverage")


def elevation(vis: Any | pd.DataFrame, fields: Sequence[str] | None = None) -> Panel:
    """Elevation vs time per field, at the array centre (from the field phase centres and integration times).

    ``vis``: an MS tree (reduced with :func:`almaview.analysis.elevation_table`: geometric elevation, J2000
    directions precessed to date, within ~0.01 deg of astropy's AltAz) or that table.

    Examples
    --------
    >>> p = elevation(av.open_ms(eb.calibrated_ms))   # doctest: +SKIP
    >>> p.data.groupby("field").elevation_deg.mean()  # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource

    data = vis if isinstance(vis, pd.DataFrame) else elevation_table(vis, fields)
    cmap = colours_for(data["field"])
    f = figure("Elevation vs time", "time (UTC)", "elevation (deg)", x_datetime=True, width=560)
    src = ColumnDataSource(columns_of(data.assign(color=[cmap[x] for x in data["field"]])))
    src.data["field_s"] = [str(v) for v in data["field"]]
    items = by_category(f, "scatter", src, "time", "elevation_deg", "field_s", list(cmap), cmap, size=4)
    legend_outside(f, items, title="field")
    f.add_tools(
        hover_tool(
            [r for _, r in items],
            tooltips=[
                ("field", "@field"),
                ("scan", "@scan"),
                ("elevation", "@elevation_deg{0.0}°"),
                ("time", "@time{%T}"),
            ],
            formatters={"@time": "datetime"},
        )
    )
    return Panel(f, data, {"elevation": src}, title="Elevation", kind="elevation")


def overview(
    vis: Any,
    spws: Sequence[int] | None = None,
    fields: Sequence[str] | None = None,
    antennas: Sequence[str] | None = None,
) -> dict[str, Panel]:
    """All overview panels of an EB: {'summary', 'antennas', 'uv', 'elevation'}.

    Examples
    --------
    >>> panels = overview(av.open_ms(eb.calibrated_ms))   # doctest: +SKIP
    """
    return {
        "summary": eb_summary(vis, spws),
        "antennas": antenna_positions(vis, antennas),
        "uv": uv_coverage(vis, spws, fields),
        "elevation": elevation(vis, fields),
    }


def overview_layout(panels: dict[str, Panel]) -> Any:
    """One Bokeh layout of :func:`overview`'s panels."""
    return column(
        [panels["summary"].layout, row([panels["antennas"].layout, panels["uv"].layout]), panels["elevation"].layout]
    )

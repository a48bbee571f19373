"""Evidence plots of the QA report: pure builders, DataFrame in, :class:`Panel` out (no IO).

Each QA finding carries a tidy table (one row per antenna and spw, per scan, per image...)
and the options of the builder that draws it: the measured figure against the thresholds.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"antenna": ["DA41", "DA42"], "ratio": [1.0, 4.1], "spw": ["0", "0"]})
>>> p = scatter(df, x="antenna", y="ratio", by="spw", warn=1.5, fail=2.0)
>>> p.data.equals(df)
True
"""

from __future__ import annotations

import pandas as pd

from . import Panel
from ._common import hover_tool

__all__ = ["scatter", "message"]

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def scatter(
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    by: str | None = None,
    warn: float | None = None,
    fail: float | None = None,
    x_label: str | None = None,
    y_label: str | None = None,
    title: str = "",
    hover: tuple[str, ...] = (),
) -> Panel:
    """Points of ``y`` against ``x`` (categorical when ``x`` holds text), one colour per ``by``, limit lines.

    Examples
    --------
    >>> df = pd.DataFrame({"scan": [4, 6], "ratio": [1.0, 1.7]})
    >>> scatter(df, x="scan", y="ratio", fail=1.5).sources["points"].data["ratio"].tolist()
    [1.0, 1.7]
    """
    from bokeh.models import ColumnDataSource, Span
    from bokeh.plotting import figure

    categorical = data[x].dtype == object
    kw = dict(x_range=list(dict.fromkeys(data[x].astype(str)))) if categorical else {}
    fig = figure(
        height=320,
        width=640,
        title=title,
        x_axis_label=x_label or x,
        y_axis_label=y_label or y,
        tools="pan,box_zoom,wheel_zoom,reset,save",
        **kw,
    )
    sources, pts = {}, []
    groups = list(data.groupby(by, sort=True)) if by else [(None, data)]
    for k, (name, g) in enumerate(groups):
        src = ColumnDataSource(g.assign(**{x: g[x].astype(str)}) if categorical else g)
        pts.append(
            fig.scatter(
                x, y, source=src, size=8, color=_PALETTE[k % len(_PALETTE)], legend_label=f"{by} {name}" if by else y
            )
        )
        sources["points" if by is None else f"points_{name}"] = src
    if by is None:
        sources["points"] = sources.get("points")
    for level, colour in ((warn, "#f0ad4e"), (fail, "#d9534f")):
        if level is not None:
            fig.add_layout(Span(location=level, dimension="width", line_color=colour, line_dash="dashed"))
    fig.add_tools(
        hover_tool(
            pts, tooltips=[(c, f"@{{{c}}}") for c in (x, y, *(hover or ()))] + ([(by, f"@{{{by}}}")] if by else [])
        )
    )
    fig.legend.click_policy = "hide"
    if categorical:
        fig.xaxis.major_label_orientation = 0.8
    return Panel(fig, data, sources, title, kind="qa_evidence")


def message(text: str, title: str = "") -> Panel:
    """A text panel, for findings without plottable data (e.g. not checkable, with the reason).

    Examples
    --------
    >>> message("no Tsys table").data.empty
    True
    """
    from bokeh.models import Div

    import html

    return Panel(Div(text=f"<p>{html.escape(text)}</p>"), pd.DataFrame(), {}, title, kind="message")

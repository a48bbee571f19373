"""Grids of panels and their keys: one figure per spw or antenna with shared axes (plotms's iteraxis, the weblog's
per-spw / per-antenna pages), one renderer per colour category with a legend outside the data (click to hide).

Examples
--------
>>> from bokeh.models import ColumnDataSource
>>> src = ColumnDataSource({"x": [1, 2, 3], "y": [1, 4, 9], "antenna": ["A", "B", "A"]})
>>> f = figure("demo", "x (s)", "y (Jy)")
>>> rs = by_category(f, "scatter", src, "x", "y", "antenna", ["A", "B"], {"A": "red", "B": "blue"})
>>> legend_outside(f, rs).click_policy
'hide'
"""

from __future__ import annotations

from typing import Any, Sequence

from ._common import figure  # noqa: F401 (used by the doctest; builders import it from _common)

__all__ = ["ITERATE", "by_category", "legend_outside", "grid", "plot_grid", "check_iterate", "who"]

#: what a grid iterates over (a builder argument; the widget control lives in almaview.widgets)
ITERATE = ("spw", "antenna", "none")


def check_iterate(iterate: str) -> str:
    """``iterate`` if it is one of :data:`ITERATE`, else a ValueError naming the choices.

    Examples
    --------
    >>> check_iterate("antenna")
    'antenna'
    """
    if iterate not in ITERATE:
        raise ValueError(f"iterate must be one of {ITERATE}, not {iterate!r}")
    return iterate


def by_category(
    fig: Any,
    glyph: str,
    source: Any,
    x: str,
    y: str,
    column: str,
    values: Sequence[Any],
    colours: dict[Any, str],
    *,
    where: dict[str, Any] | None = None,
    **kw: Any,
) -> list[tuple[str, Any]]:
    """One ``glyph`` renderer per value of ``column`` (a view of the shared ``source``: nothing copied), restricted
    to the rows where every ``where`` column equals its value; returns [(label, renderer)] for a legend.
    Filtered columns hold strings (Bokeh's GroupFilter compares strings). Lines: use 'multi_line' (one row per
    line); Bokeh cannot filter the points of a connected 'line' glyph.

    Examples
    --------
    >>> from bokeh.models import ColumnDataSource
    >>> f = figure()
    >>> src = ColumnDataSource({"x": [1, 2], "y": [3, 4], "spw": ["0", "1"], "antenna": ["A", "A"]})
    >>> [label for label, _ in by_category(f, "scatter", src, "x", "y", "antenna", ["A"], {"A": "red"},
    ...                                    where={"spw": "1"})]
    ['A']
    """
    from bokeh.models import CDSView, GroupFilter, IntersectionFilter

    if glyph in ("line", "patch", "varea", "harea"):
        raise ValueError(f"{glyph!r} cannot show a filtered view (Bokeh E-1024): use 'multi_line' or a marker")
    out = []
    for v in values:
        filters = [GroupFilter(column_name=column, group=str(v))]
        filters += [GroupFilter(column_name=c, group=str(g)) for c, g in (where or {}).items()]
        view = CDSView(filter=filters[0] if len(filters) == 1 else IntersectionFilter(operands=filters))
        r = getattr(fig, glyph)(x, y, source=source, view=view, color=colours.get(v, "#1f77b4"), **kw)
        out.append((str(v), r))
    return out


def legend_outside(fig: Any, items: Sequence[tuple[str, Any]], *, title: str = "", max_rows: int = 24) -> Any:
    """A legend of ``items`` ([(label, renderer or [renderers])]) to the right of the data; click hides an entry.

    Examples
    --------
    >>> f = figure()
    >>> r = f.line([0, 1], [0, 1])
    >>> legend_outside(f, [("DA41", r)], title="antenna").title
    'antenna'
    """
    from bokeh.models import Legend, LegendItem

    leg = Legend(
        items=[LegendItem(label=label, renderers=r if isinstance(r, list) else [r]) for label, r in items],
        click_policy="hide",
        title=title,
        label_text_font_size="8pt",
        glyph_height=12,
        spacing=0,
        nrows=min(max_rows, max(1, len(items))),
    )
    fig.add_layout(leg, "right")
    return leg


def grid(figs: Sequence[Any], *, ncols: int = 2, share_x: bool = True, share_y: bool = True) -> Any:
    """A grid of figures (``ncols`` per row) with shared x and/or y ranges and one toolbar.

    Examples
    --------
    >>> fs = [figure(), figure()]
    >>> g = grid(fs, share_y=False)
    >>> fs[1].x_range is fs[0].x_range, fs[1].y_range is fs[0].y_range
    (True, False)
    """
    figs = list(figs)
    for f in figs[1:]:
        if share_x:
            f.x_range = figs[0].x_range
        if share_y:
            f.y_range = figs[0].y_range
    return plot_grid(figs, ncols=max(1, min(ncols, len(figs))), sizing_mode="stretch_width" if len(figs) > 1 else None)


def plot_grid(figs: Sequence[Any], *, ncols: int, sizing_mode: str | None = None) -> Any:
    """``bokeh.layouts.gridplot(figs, ncols=..., toolbar_location="right")`` for a flat list of figures, without
    its walk over every model of every figure (gridplot looks for plots inside each child with ``select``: on a
    grid of 12 figures with 40 renderers each that walk was most of the time the grid took). Same models: one
    toolbar with the figures' tools merged into proxies (save as one tool), the figures' own toolbars hidden.

    Examples
    --------
    >>> from bokeh.layouts import gridplot
    >>> fs = [figure(), figure(), figure()]
    >>> g, ref = plot_grid(fs, ncols=2), gridplot([figure(), figure(), figure()], ncols=2, toolbar_location="right")
    >>> [(r, c) for _, r, c in g.children] == [(r, c) for _, r, c in ref.children] == [(0, 0), (0, 1), (1, 0)]
    True
    >>> [type(t).__name__ for t in g.toolbar.tools] == [type(t).__name__ for t in ref.toolbar.tools]
    True
    >>> fs[0].toolbar_location, g.toolbar_location
    (None, 'right')
    """
    from bokeh.layouts import group_tools
    from bokeh.models import CopyTool, ExamineTool, FullscreenTool, GridPlot, SaveTool, Tool, Toolbar, ToolProxy

    def merge(cls: type, group: list) -> Any:  # as gridplot merges: one save/copy/examine/fullscreen tool
        return cls() if issubclass(cls, (SaveTool, CopyTool, ExamineTool, FullscreenTool)) else None

    toolbars = [f.toolbar for f in figs]
    items = []
    for i, f in enumerate(figs):
        f.toolbar_location = None
        if sizing_mode is not None and f.sizing_mode is None and f.width_policy == "auto" and f.height_policy == "auto":
            f.sizing_mode = sizing_mode
        items.append((f, i // ncols, i % ncols))
    tools = group_tools([t for tb in toolbars for t in tb.tools], merge=merge)

    def unique(name: str) -> Any:  # gridplot keeps the last figure's choice (ours agree)
        values = [getattr(tb, name) for tb in toolbars]
        if name.startswith("active_"):
            values = [
                next((p for p in tools if isinstance(p, ToolProxy) and v in p.tools), v) if isinstance(v, Tool) else v
                for v in values
            ]
        return values[-1] if values else Toolbar().lookup(name).class_default(Toolbar)

    opts = ("logo", "autohide", "active_drag", "active_inspect", "active_scroll", "active_tap", "active_multi")
    toolbar = Toolbar(tools=tools, **{k: unique(k) for k in opts})
    return GridPlot(children=items, toolbar=toolbar, toolbar_location="right", sizing_mode=sizing_mode)


def who(antennas: Sequence[str], limit: int = 6) -> str:
    """The antennas shown, for a title: the names when few, else their count.

    Examples
    --------
    >>> who(["DA41", "DA42"]), who([f"DA{i}" for i in range(40)])
    ('DA41, DA42', '40 antennas')
    """
    antennas = [str(a) for a in antennas]
    return ", ".join(antennas) if len(antennas) <= limit else f"{len(antennas)} antennas"

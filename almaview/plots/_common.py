"""Shared pieces of the plot builders: colours, figures, tables, rasterizing big point clouds.

Pure: numpy/pandas in, Bokeh models out.

Why this module is long: every builder's figure, title, table and hover defaults, and the page-level passes over a
finished layout (fewer models, the stretch to the page's width and its one-column fall-back) share the one figure
factory and walk the same models; split, each part would re-import and re-walk the others'.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.statistics import wrap_deg  # noqa: F401 (one home: analysis)
from ..analysis.trees import selected  # noqa: F401

#: above this many points a scatter panel becomes a 2-D histogram image (hover keeps the counts)
RASTER_THRESHOLD = 100_000

#: the most points one hover lists at a time, over all its tooltips (a dense scatter would otherwise list every
#: point under the cursor, hundreds of rows that fill the screen); Bokeh's ``HoverTool.limit`` cuts each tooltip
HOVER_LIMIT = 8

#: Bokeh's Category10 + Category20 (odd entries), inlined so that importing this module stays cheap
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#c7c7c7",
    "#dbdb8d",
    "#9edae5",
)
MEDIAN_COLOUR = "black"
OUTLIER_COLOUR = "#d62728"
FLAGGED_COLOUR = "#bbbbbb"


def colours_for(values: Iterable[Any]) -> dict[Any, str]:
    """Map each distinct value (sorted) to a palette colour, cycling.

    Examples
    --------
    >>> colours_for(["b", "a", "b"])
    {'a': '#1f77b4', 'b': '#ff7f0e'}
    """
    uniq = sorted(set(values), key=lambda v: (str(type(v)), v))
    return {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(uniq)}


def figure(
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    *,
    x_datetime: bool = False,
    width: int = 560,
    height: int = 300,
    tools: str = "pan,box_zoom,wheel_zoom,reset,save,tap",
    **kw: Any,
):
    """A Bokeh figure with almaview's defaults (sizing, tools, axis labels).

    Examples
    --------
    >>> f = figure("Tsys", "frequency (GHz)", "Tsys (K)")
    >>> f.xaxis.axis_label
    'frequency (GHz)'
    """
    from bokeh.plotting import figure as _figure

    from bokeh.models import NoOverlap

    f = _figure(
        title=wrap_title(title),
        width=width,
        height=height,
        tools=tools,
        x_axis_type="datetime" if x_datetime else "auto",
        **kw,
    )
    f.xaxis.axis_label = x_label
    f.yaxis.axis_label = y_label
    for axis in (*f.xaxis, *f.yaxis):  # tick labels that would overlap are left out: FDM GHz labels in 320 px
        axis.major_label_policy = NoOverlap()
    f.toolbar.logo = None
    return f


#: a title's line length (characters): at Bokeh's bold 13 px title font (~7.6 px a character) a line starting
#: at the frame (~60 px in) fits a figure of ~370 px, the narrowest a grid column is (see :func:`stretch_width`)
TITLE_CHARS = 40


def wrap_title(text: str, chars: int = TITLE_CHARS) -> str:
    r"""``text`` in lines of at most ``chars`` characters, broken at its ' · ' separators (a continuation line
    starts with '· '): a long EB uid, spw, field and antenna list stays whole and readable in a narrow figure and
    in its saved PNG. Joining the lines with a space gives ``text`` back; wrapping twice changes nothing.

    Examples
    --------
    >>> print(wrap_title("Tsys · EB uid___A002_X10ab2c3_X1f4a · spw 0 · 4 fields · 12 antennas"))
    Tsys · EB uid___A002_X10ab2c3_X1f4a
    · spw 0 · 4 fields · 12 antennas
    >>> t = wrap_title("Gain phase · EB uid___A002_X10ab2c3_X1f4a · DA41 · J1517-2422, J1625-2527")
    >>> t.replace("\n", " ") == "Gain phase · EB uid___A002_X10ab2c3_X1f4a · DA41 · J1517-2422, J1625-2527"
    True
    >>> wrap_title(t) == t, wrap_title("short · title")
    (True, 'short · title')
    """
    parts = text.replace("\n· ", " · ").split(" · ")
    lines, line = [], parts[0]
    for part in parts[1:]:
        if len(line) + 3 + len(part) <= chars:
            line += " · " + part
        else:
            lines.append(line)
            line = "· " + part
    return "\n".join([*lines, line])


def table(
    df: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    width: int = 560,
    height: int = 240,
    formatters: dict[str, Any] | None = None,
):
    """A Bokeh DataTable over a ColumnDataSource of ``df`` (returns ``(table, source)``).

    Examples
    --------
    >>> t, src = table(pd.DataFrame({"antenna": ["DA41"], "tsys": [80.0]}))
    >>> src.data["antenna"]
    ['DA41']
    """
    from bokeh.models import ColumnDataSource, DataTable, TableColumn

    cols = list(columns or df.columns)
    src = ColumnDataSource({c: _listable(df[c]) for c in cols})
    fmts = formatters or {}
    tcols = [
        TableColumn(field=c, title=c.replace("_", " "), **({"formatter": fmts[c]} if c in fmts else {})) for c in cols
    ]
    return DataTable(
        source=src, columns=tcols, width=width, height=height, index_position=None, sizing_mode="stretch_width"
    ), src


def _listable(s: pd.Series) -> Any:
    if len(s) == 0:
        # An empty column as a list: pandas gives an empty column float64 (e.g. ``df.iloc[:0].assign(color=[])``),
        # and BokehJS rejects a float64 1-D array as a colour column ("invalid color array"): the whole document
        # fails to render (the blank `almaview report`).
        return []
    if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
        values = s.tolist()
        if all(type(v) is str for v in values):  # the usual case (names, slot numbers): no per-value conversion
            return values
        return [None if v is None else (v if isinstance(v, (int, float, bool)) else str(v)) for v in values]
    return s.to_numpy()


def columns_of(df: pd.DataFrame, names: Sequence[str] | None = None) -> dict[str, Any]:
    """A ColumnDataSource data dict from a DataFrame (object columns as str lists).

    Examples
    --------
    >>> sorted(columns_of(pd.DataFrame({"a": [1], "b": ["x"]})))
    ['a', 'b']
    >>> columns_of(pd.DataFrame({"a": [1.0]}).iloc[:0].assign(color=[]))   # empty: lists, whatever the dtype
    {'a': [], 'color': []}
    """
    return {c: _listable(df[c]) for c in (names or df.columns)}


def raster_data(x: np.ndarray, y: np.ndarray, *, bins: tuple[int, int] = (400, 200)) -> dict[str, list]:
    """A 2-D histogram of points as data for Bokeh's ``image`` glyph (counts, NaN where empty).

    ``x`` may be datetime64 (converted to ms since the epoch, Bokeh's datetime unit).

    Examples
    --------
    >>> d = raster_data(np.arange(10.0), np.arange(10.0), bins=(5, 5))
    >>> float(np.nansum(d["image"][0])), d["x"][0], d["dw"][0]
    (10.0, 0.0, 9.0)
    """
    xf = _as_float(x)
    yf = np.asarray(y, dtype=float)
    good = np.isfinite(xf) & np.isfinite(yf)
    xf, yf = xf[good], yf[good]
    if xf.size == 0:
        return empty_raster()
    x0, x1 = float(xf.min()), float(xf.max())
    y0, y1 = float(yf.min()), float(yf.max())
    x1 = x1 if x1 > x0 else x0 + 1.0
    y1 = y1 if y1 > y0 else y0 + 1.0
    counts, _, _ = np.histogram2d(xf, yf, bins=bins, range=[[x0, x1], [y0, y1]])
    img = counts.T.astype(float)
    img[img == 0] = np.nan
    return {"image": [img], "x": [x0], "y": [y0], "dw": [x1 - x0], "dh": [y1 - y0]}


def empty_raster() -> dict[str, list]:
    """Image-glyph data with nothing in it.

    Examples
    --------
    >>> empty_raster()["image"]
    []
    """
    return {"image": [], "x": [], "y": [], "dw": [], "dh": []}


def _as_float(x: Any) -> np.ndarray:
    arr = np.asarray(x)
    if np.issubdtype(arr.dtype, np.datetime64):
        return arr.astype("datetime64[ns]").astype("int64") / 1e6
    return arr.astype(float)


def column(children: list, **kw: Any):
    """``bokeh.layouts.column`` with stretch-width sizing."""
    from bokeh.layouts import column as _column

    return _column(children, **kw)


def row(children: list, **kw: Any):
    """``bokeh.layouts.row``."""
    from bokeh.layouts import row as _row

    return _row(children, **kw)


def hover_tool(renderers: Sequence[Any] | None = None, **kw: Any) -> Any:
    """A ``HoverTool`` that lists at most :data:`HOVER_LIMIT` points in all, whatever the density under the cursor.

    Bokeh shows one tooltip per hovered renderer and cuts each to ``limit`` entries (the nearest first), so the
    budget is shared: ``limit = max(1, HOVER_LIMIT // len(renderers))``. Without ``renderers`` (Bokeh's "auto")
    the tool covers every renderer of its figure; use :func:`bound_hovers` on the figure after adding it.

    Examples
    --------
    >>> f = figure()
    >>> rs = [f.scatter([1, 2], [1, 2]), f.scatter([1, 2], [2, 1])]
    >>> hover_tool(rs, tooltips=[("x", "@x")]).limit
    4
    """
    from bokeh.models import HoverTool

    if renderers is None:
        return HoverTool(limit=HOVER_LIMIT, **kw)
    renderers = list(renderers)
    return HoverTool(renderers=renderers, limit=max(1, HOVER_LIMIT // max(1, len(renderers))), **kw)


def bound_hovers(obj: Any) -> Any:
    """Bound every ``HoverTool`` inside ``obj`` (a figure or a layout) as :func:`hover_tool` does; returns ``obj``.

    For tools made elsewhere (``figure(tools="hover")``); an "auto" tool counts its figure's data renderers.

    Examples
    --------
    >>> from bokeh.models import HoverTool
    >>> f = figure(tools="hover")
    >>> _ = f.scatter([1, 2], [1, 2]); _ = f.scatter([1, 2], [2, 1])
    >>> bound_hovers(f).select_one(HoverTool).limit
    4
    """
    from bokeh.models import DataRenderer, HoverTool, Plot

    for plot in obj.select({"type": Plot}):
        for tool in plot.toolbar.tools:
            if isinstance(tool, HoverTool):
                rs = (
                    tool.renderers
                    if tool.renderers != "auto"
                    else [r for r in plot.renderers if isinstance(r, DataRenderer)]
                )
                tool.limit = max(1, HOVER_LIMIT // max(1, len(rs)))
    return obj


def image_layer(f: Any, src: Any, palette: str = "Viridis256") -> Any:
    """Add the 2-D histogram image glyph (counts, hover) of a rasterized scatter to figure ``f``; returns it.

    Examples
    --------
    >>> from bokeh.models import ColumnDataSource
    >>> f = figure()
    >>> type(image_layer(f, ColumnDataSource(empty_raster())).glyph).__name__
    'Image'
    """
    from bokeh.models import LinearColorMapper

    mapper = LinearColorMapper(palette=palette, nan_color=(0, 0, 0, 0))
    r = f.image(image="image", x="x", y="y", dw="dw", dh="dh", source=src, color_mapper=mapper)
    f.add_tools(hover_tool([r], tooltips=[("points", "@image")]))
    return r


_MODEL: list[type] = []


def _signature(value: Any) -> Any:
    """A hashable description of a property value, models by type and non-default properties (not by id)."""
    if not _MODEL:  # imported once, not at each of the ~13,000 calls of a report
        from bokeh.model import Model

        _MODEL.append(Model)
    if isinstance(value, _MODEL[0]):
        props = value.properties_with_values(include_defaults=False)
        return (type(value).__name__, tuple(sorted((k, _signature(v)) for k, v in props.items())))
    if isinstance(value, (list, tuple)):
        return tuple(_signature(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _signature(v)) for k, v in value.items()))
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def compact_models(layout: Any, models: Iterable[Any] | None = None) -> int:
    """Fewer Bokeh models for one page (a layout that becomes ONE document, e.g. the report), in one walk over it:

    - axes with the same datetime ticker, datetime formatter, basic ticker or label policy use one model of each
      (a datetime axis brings 15 models of its own, 12 of them sub-tickers). Only stateless models are shared: a
      BasicTickFormatter keeps the last precision it chose in the page, so each axis keeps its own;
    - one filter model per distinct filter (the builders make ``GroupFilter(antenna_s='DA41')`` per renderer);
    - the non-selection and muted glyphs are left to BokehJS (``'auto'``: the glyph at alpha 0.2, made in the
      page) instead of two serialised copies of every glyph.

    Returns the number of models replaced. Never share the result's models with another document. Each walk over
    a page's models costs Bokeh about 1 ms per model, so this walks once, or not at all when given ``models``
    (``layout.references()`` taken by the caller, e.g. shared with :func:`stretch_width`).

    Examples
    --------
    >>> from bokeh.models import CDSView, ColumnDataSource, GroupFilter
    >>> src = ColumnDataSource({"x": [1, 2], "y": [1, 2], "a": ["A", "B"]})
    >>> figs = [figure(x_datetime=True), figure(x_datetime=True)]
    >>> for f in figs:
    ...     _ = f.scatter("x", "y", source=src, view=CDSView(filter=GroupFilter(column_name="a", group="A")))
    >>> lay = column(figs)
    >>> before = len(lay.references())
    >>> compact_models(lay) > 0 and len(lay.references()) < before
    True
    >>> figs[0].xaxis[0].ticker is figs[1].xaxis[0].ticker
    True
    >>> figs[0].renderers[0].view.filter is figs[1].renderers[0].view.filter
    True
    """
    from bokeh.models import AllLabels, Axis, BasicTicker, CDSView, DatetimeTickFormatter, DatetimeTicker, Filter
    from bokeh.models import GlyphRenderer, NoOverlap

    shared: dict[Any, Any] = {}
    replaced = 0

    def one(model: Any) -> Any:
        nonlocal replaced
        kept = shared.setdefault(_signature(model), model)
        replaced += kept is not model
        return kept

    for m in list(layout.references() if models is None else models):
        if isinstance(m, Axis):
            if type(m.ticker) in (DatetimeTicker, BasicTicker):
                m.ticker = one(m.ticker)
            if type(m.formatter) is DatetimeTickFormatter:
                m.formatter = one(m.formatter)
            if type(m.major_label_policy) in (AllLabels, NoOverlap):
                m.major_label_policy = one(m.major_label_policy)
        elif isinstance(m, CDSView) and isinstance(m.filter, Filter):
            m.filter = one(m.filter)
        elif isinstance(m, GlyphRenderer):
            for name in ("nonselection_glyph", "muted_glyph"):
                if getattr(m, name) not in (None, "auto"):
                    setattr(m, name, "auto")
                    replaced += 1
    return replaced


#: the widest a stretching figure grows (px): wider, a time series is a thin line across a big screen
MAX_WIDTH = 1400
#: the narrowest it shrinks to (px), or its nominal width when that is smaller
MIN_WIDTH = 320
#: a grid of figures shows them in one column when it is narrower than this (px): two columns of ~370 px each
#: (a title line of :data:`TITLE_CHARS`, a legend and a frame) and the grid's toolbar
ONE_COLUMN_BELOW = 780
#: the grid's box is the container its figures' width query reads (CSS container queries: no script in the page);
#: narrower, its one column takes the whole width (a plain rule here beats the grid box's own :host rule)
_GRID_CSS = (
    ":host { container: almaview-grid / inline-size; } "
    f"@container almaview-grid (max-width: {ONE_COLUMN_BELOW}px) {{ .bk-GridBox {{ grid-template-columns: 1fr; }} }}"
)
#: a figure of a grid narrower than ONE_COLUMN_BELOW takes the next row of the first column (its place in the
#: grid is a :host rule the grid writes in the figure's shadow root; !important in the same root wins)
_FIGURE_CSS = (
    f"@container almaview-grid (max-width: {ONE_COLUMN_BELOW}px) "
    "{ :host { grid-column-start: 1 !important; grid-row-start: auto !important; } }"
)


def stretch_width(layout: Any, models: Iterable[Any] | None = None) -> Any:
    """Let ``layout`` take the width it is given: its figures stretch between ``min(width, MIN_WIDTH)`` and
    ``max(width, MAX_WIDTH)`` px (a figure with a fixed aspect, ``match_aspect`` or ``frame_width``, keeps its
    size) and its rows, columns and grids stretch with them. A grid of figures narrower than
    :data:`ONE_COLUMN_BELOW` shows them in one column (a notebook beside JupyterLab's file browser at 900 px), by
    a CSS container query in the page. For a layout shown alone (a Panel in a notebook, the report); returns
    ``layout``. ``models``: ``layout.references()`` when the caller has it (saves a walk).

    Examples
    --------
    >>> f, uv = figure(), figure(match_aspect=True)
    >>> lay = stretch_width(column([f, uv]))
    >>> lay.sizing_mode, f.sizing_mode, f.max_width, uv.sizing_mode
    ('stretch_width', 'stretch_width', 1400, None)
    >>> from .grid import grid
    >>> g = stretch_width(grid([figure(), figure()]))
    >>> g.stylesheets == [_GRID_CSS] and g.children[1][0].stylesheets == [_FIGURE_CSS]
    True
    """
    from bokeh.models import GridPlot, LayoutDOM, Plot

    for m in list(layout.references() if models is None else models):
        if isinstance(m, Plot):
            if m.sizing_mode in (None, "fixed") and not m.match_aspect and m.frame_width is None:
                width = m.width or 560
                m.update(sizing_mode="stretch_width", min_width=min(width, MIN_WIDTH), max_width=max(width, MAX_WIDTH))
        elif (
            isinstance(m, (LayoutDOM, GridPlot))
            and m.sizing_mode is None
            and (hasattr(m, "children") or hasattr(m, "tabs"))
        ):
            m.sizing_mode = "stretch_width"
        if isinstance(m, GridPlot) and m.sizing_mode == "stretch_width" and len({c for _, _, c in m.children}) > 1:
            if _GRID_CSS not in m.stylesheets:
                m.stylesheets = [*m.stylesheets, _GRID_CSS]
            for child, *_ in m.children:
                if _FIGURE_CSS not in child.stylesheets:
                    child.stylesheets = [*child.stylesheets, _FIGURE_CSS]
    return layout


_REF_NAMES: dict[type, tuple[tuple[str, bool], ...]] = {}


def _ref_names(cls: type) -> tuple[tuple[str, bool], ...]:
    """(name, whether its default is stable and holds no model) of each property of ``cls`` that can hold a model."""
    from bokeh.model import Model

    out = []
    overridden = cls._overridden_defaults()
    for name, prop in cls.properties_with_refs().items():
        default = overridden.get(name, prop._default)
        stable = not callable(default) and not isinstance(default, (Model, list, dict, tuple, set))
        out.append((name, stable))
    return tuple(out)


def references(*roots: Any) -> list[Any]:
    """Every Bokeh model reachable from ``roots``: the set ``Model.references()`` gives, walked about twice as
    fast (Bokeh rebuilds each model's list of reference-holding properties at every visit; here it is taken once
    per class). Each property that can hold a model is read, as Bokeh's walk reads it, so a default made on first
    read (a source's ``selected``) is made and found here too.

    Examples
    --------
    >>> f = figure()
    >>> _ = f.scatter([1, 2], [1, 2])
    >>> lay = column([f])
    >>> set(references(lay)) == lay.references()
    True
    """
    from bokeh.model.util import visit_value_and_its_immediate_references

    seen: set[int] = set()
    out: list[Any] = []
    queue: list[Any] = []

    def visit(m: Any) -> None:
        if id(m) not in seen:
            seen.add(id(m))
            queue.append(m)

    for r in roots:
        visit_value_and_its_immediate_references(r, visit)
    while queue:
        m = queue.pop()
        out.append(m)
        cls = type(m)
        names = _REF_NAMES.get(cls)
        if names is None:
            names = _REF_NAMES[cls] = _ref_names(cls)
        values, made = m._property_values, m._unstable_default_values
        for name, stable in names:
            if name in values:
                v = values[name]
            elif name in made:
                v = made[name]
            elif stable:
                continue  # an unset stable default holds no model (a model default is made per instance)
            else:
                v = getattr(m, name)
            visit_value_and_its_immediate_references(v, visit)
    return out

"""Slot grids: grids of figures whose panels and legend entries are *slots*, so that a new selection fills the
figures already built instead of building new ones.

Figure ``k`` of a slot grid shows the ``k``-th panel of the current selection (the ``k``-th spw or antenna when
iterating), and entry ``j`` of a layer's legend its ``j``-th category (an antenna, a spw). Every row of a source
carries its slot numbers as small integers (``panel``, and the layer's category column, e.g. ``cat``: int8 arrays,
sent to the page as typed arrays, a byte a row, where strings cost a JSON string a row); each (figure, category)
renderer is a filtered view of the one shared source (a ``CustomJSFilter`` that compares the two codes). A grid is built with room (capacity):
a new selection that fits is shown by :func:`fill` (titles, legend labels, colours, visibility: a few property
patches) plus new source data; one that does not fit needs a new grid. One renderer per category keeps the
legend's click-to-hide per antenna; the renderers are made directly (glyph only: Bokeh derives the selection and
muted looks in the browser), about a third of the models ``figure.scatter`` makes.

Examples
--------
>>> from bokeh.models import ColumnDataSource
>>> from almaview.plots._common import figure
>>> src = ColumnDataSource({"x": [1, 2], "y": [3, 4], "panel": [0, 0], "cat": [0, 1]})
>>> g = slot_grid({"points": src}, [Layer("points", "points", "scatter", "x", "y")], 2, {"points": 2},
...               lambda k: figure(), legend_title="antenna")
>>> fill(g, [Slot("DA41 and DA42", {"points": [("DA41", "red"), ("DA42", "blue")]})])
>>> [f.visible for f in g.figures], g.figures[0].title.text
([True, False], 'DA41 and DA42')
>>> [it.label.value for it in g.items["points"][0]]
['DA41', 'DA42']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ._common import hover_tool, wrap_title

__all__ = ["Layer", "Slot", "SlotGrid", "slot_grid", "fill", "slot_index", "fits", "code_dtype"]

#: the column of every source row that names its figure slot
PANEL = "panel"

# The rows of figure slot ``panel`` and legend slot ``cat`` (in column ``column``): one pass with ``===`` over the two
# columns. Bokeh's GroupFilter compares each value with a generic deep comparator: on the demo's bandpass (104
# renderers, 33,024 rows) recomputing every renderer's rows took 204 ms in Chromium against 11 ms for this loop.
_SLOT_JS = """
const p = source.get_column("panel"), c = source.get_column(column), out = [];
if (p == null || c == null) return out;
for (let i = 0; i < p.length; i++) { if (p[i] === panel && c[i] === cat) out.push(i); }
return out;
"""


@dataclass
class Layer:
    """One kind of renderer drawn in every figure of a grid, one renderer per category slot: ``name`` (the key of
    its legend entries in :class:`Slot`), ``source`` (the key of its source), ``glyph`` ('scatter' or
    'multi_line'), the ``x`` and ``y`` columns, ``cat`` (the column holding the category slot) and glyph ``props``.

    Examples
    --------
    >>> Layer("median", "median", "multi_line", "xs", "ys", props={"line_width": 3}).cat
    'cat'
    """

    name: str
    source: str
    glyph: str
    x: str
    y: str
    cat: str = "cat"
    props: dict[str, Any] = field(default_factory=dict)
    hover: bool = True


@dataclass
class Slot:
    """What one figure shows: its ``title`` and, per layer name, the legend entries [(label, colour)] by slot.

    Examples
    --------
    >>> Slot("Tsys · spw 17", {"spectra": [("DA41", "#1f77b4")]}).entries["spectra"][0][0]
    'DA41'
    """

    title: str
    entries: dict[str, list[tuple[str, str]]]


@dataclass
class SlotGrid:
    """The figures of a slot grid and, per layer name, its renderers and legend items by [figure][category].

    Examples
    --------
    >>> SlotGrid([], {}, {}, {}).capacity
    (0, {})
    """

    figures: list
    renderers: dict[str, list[list[Any]]]
    items: dict[str, list[list[Any]]]
    caps: dict[str, int]

    @property
    def capacity(self) -> tuple[int, dict[str, int]]:
        """(figures, categories per layer) this grid has room for."""
        return len(self.figures), dict(self.caps)


def _renderer(fig: Any, layer: Layer, source: Any, slot_filter: Any) -> Any:
    from bokeh.models import CDSView, GlyphRenderer, MultiLine, Scatter

    if layer.glyph == "scatter":
        glyph = Scatter(x=layer.x, y=layer.y, **layer.props)
    elif layer.glyph == "multi_line":
        glyph = MultiLine(xs=layer.x, ys=layer.y, **layer.props)
    else:  # a connected line cannot show a filtered view (Bokeh E-1024)
        raise ValueError(f"a slot layer draws 'scatter' or 'multi_line', not {layer.glyph!r}")
    r = GlyphRenderer(data_source=source, glyph=glyph, view=CDSView(filter=slot_filter))
    fig.renderers.append(r)
    return r


def slot_grid(
    sources: dict[str, Any],
    layers: Sequence[Layer],
    n_figures: int,
    caps: dict[str, int],
    make_figure: Callable[[int], Any],
    *,
    legend_title: str = "",
    tooltips: list | None = None,
    formatters: dict | None = None,
) -> SlotGrid:
    """``n_figures`` figures (``make_figure(k)``), each with ``caps[layer.name]`` renderers per layer, a legend
    outside the data (click hides an entry) and a hover over the layers marked ``hover``; nothing shown until
    :func:`fill`.

    Examples
    --------
    >>> from bokeh.models import ColumnDataSource
    >>> from almaview.plots._common import figure
    >>> src = ColumnDataSource({"x": [], "y": [], "panel": [], "cat": []})
    >>> g = slot_grid({"p": src}, [Layer("p", "p", "scatter", "x", "y")], 3, {"p": 4}, lambda k: figure())
    >>> len(g.figures), len(g.renderers["p"][2])
    (3, 4)
    """
    from bokeh.models import CustomJSFilter, Legend, LegendItem

    renderers: dict[str, list[list[Any]]] = {ly.name: [] for ly in layers}
    items: dict[str, list[list[Any]]] = {ly.name: [] for ly in layers}
    figs = []
    filters: dict[tuple, Any] = {}  # one per (figure, column, entry), shared by the layers that filter that column

    def slot_filter(k: int, column: str, j: int) -> Any:
        key = (k, column, j)
        if key not in filters:
            filters[key] = CustomJSFilter(args={"panel": k, "column": column, "cat": j}, code=_SLOT_JS)
        return filters[key]

    for k in range(n_figures):
        f = make_figure(k)
        legend_items, hovered = [], []
        for ly in layers:
            src = sources[ly.source]
            rs = [_renderer(f, ly, src, slot_filter(k, ly.cat, j)) for j in range(caps.get(ly.name, 0))]
            its = [LegendItem(label="", renderers=[r], visible=False) for r in rs]
            renderers[ly.name].append(rs)
            items[ly.name].append(its)
            legend_items += its
            if ly.hover:
                hovered += rs
        if hovered and tooltips:
            f.add_tools(hover_tool(hovered, tooltips=tooltips, **({"formatters": formatters} if formatters else {})))
        if legend_items:
            n = len(legend_items)  # one column up to 24 entries (hidden entries take no room)
            f.add_layout(
                Legend(
                    items=legend_items,
                    click_policy="hide",
                    title=legend_title,
                    label_text_font_size="8pt",
                    glyph_height=12,
                    spacing=0,
                    nrows=min(24, max(1, n)),
                ),
                "right",
            )
        f.visible = False
        figs.append(f)
    return SlotGrid(figs, renderers, items, dict(caps))


def fits(grid: SlotGrid, slots: Sequence[Slot]) -> bool:
    """Whether ``slots`` fit the grid's room (figures and legend entries per layer).

    Examples
    --------
    >>> fits(SlotGrid([None], {}, {}, {"p": 1}), [Slot("", {"p": [("A", "red"), ("B", "blue")]})])
    False
    """
    if len(slots) > len(grid.figures):
        return False
    return all(len(entries) <= grid.caps.get(name, 0) for s in slots for name, entries in s.entries.items())


def _set(model: Any, **props: Any) -> None:
    """Set only what differs: an unchanged property sends nothing to the page."""
    for k, v in props.items():
        if getattr(model, k) != v:
            setattr(model, k, v)


def fill(grid: SlotGrid, slots: Sequence[Slot]) -> None:
    """Show ``slots`` in the grid: figure ``k`` gets slot ``k``'s title and legend entries (labels, colours), the
    figures and entries beyond them are hidden. A renderer the user hid (legend click) stays hidden.

    Examples
    --------
    >>> from bokeh.models import ColumnDataSource
    >>> from almaview.plots._common import figure
    >>> src = ColumnDataSource({"x": [], "y": [], "panel": [], "cat": []})
    >>> g = slot_grid({"p": src}, [Layer("p", "p", "scatter", "x", "y")], 1, {"p": 2}, lambda k: figure())
    >>> fill(g, [Slot("one", {"p": [("DA41", "red")]})]); [it.visible for it in g.items["p"][0]]
    [True, False]
    """
    from bokeh.core.property.vectorization import value

    if not fits(grid, slots):
        raise ValueError(f"{len(slots)} panels do not fit a grid with room for {grid.capacity}")
    for k, f in enumerate(grid.figures):
        shown = k < len(slots)
        _set(f, visible=shown)
        if not shown:
            continue
        if f.title is not None:
            _set(f.title, text=wrap_title(slots[k].title))
        for name, rows in grid.items.items():
            entries = slots[k].entries.get(name, [])
            for j, item in enumerate(rows[k]):
                if j >= len(entries):
                    _set(item, visible=False)
                    continue
                label, colour = entries[j]
                if getattr(item.label, "value", None) != label:
                    item.label = value(label)
                _set(item, visible=True)
                glyph = grid.renderers[name][k][j].glyph
                if hasattr(glyph, "fill_color"):  # a marker: filled and outlined in the colour
                    _set(glyph, fill_color=colour, line_color=colour)
                else:
                    _set(glyph, line_color=colour)


def code_dtype(n: int) -> type:
    """The smallest integer type for slot numbers ``-1 .. n-1`` (int8 up to 127 slots, else int16).

    Examples
    --------
    >>> code_dtype(12).__name__, code_dtype(500).__name__
    ('int8', 'int16')
    """
    return np.int8 if n < 127 else np.int16


def slot_index(df: pd.DataFrame, columns: Sequence[str], keys: Sequence[tuple]) -> np.ndarray:
    """For each row, the slot of its ``columns`` values in ``keys`` (-1 when not there), as small integers.

    Examples
    --------
    >>> slot_index(pd.DataFrame({"spw": [3, 1, 3, 5]}), ["spw"], [(1,), (3,)]).tolist()
    [1, 0, 1, -1]
    >>> slot_index(pd.DataFrame({"spw": [3]}), [], [()]).tolist()
    [0]
    """
    dtype = code_dtype(len(keys))
    if not columns:
        return np.zeros(len(df), dtype)
    where = {tuple(str(v) for v in k): i for i, k in enumerate(keys)}
    cols = [df[c].astype(str).tolist() for c in columns]
    return np.fromiter((where.get(t, -1) for t in zip(*cols)), dtype=dtype, count=len(df))

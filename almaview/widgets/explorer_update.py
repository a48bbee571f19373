"""In-place updates of the explorer's panels: new data copied into the Bokeh sources already in the page instead of
new figures (a patch of the data travels to the browser, not a new document).

:class:`Update` carries source data for an existing panel; :func:`same_shape` says whether a new panel can be shown
by copying its data into the old one's sources; :func:`copy_words` carries titles, axis labels and categorical
factors; :func:`figures` walks a layout.

Examples
--------
>>> from bokeh.layouts import column
>>> from bokeh.plotting import figure
>>> len(figures(column([figure(), figure()])))
2
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from ..plots import Panel

__all__ = [
    "Update",
    "same_shape",
    "legend_labels",
    "add_box_select",
    "figures",
    "layout_nodes",
    "copy_words",
    "one_patch",
    "shown_slots",
    "layout_first",
]


@contextlib.contextmanager
def one_patch(view: Any) -> Iterator[None]:
    """Send the changes made inside to the page as ONE Bokeh patch message (jupyter_bokeh's view sends one per
    change: three comm messages each, two more per binary buffer; a selection change of a calibration panel is
    20-30 changes). ``view`` is the panel's ``BokehModel`` widget, or None (nothing shown yet: nothing to do).

    Examples
    --------
    >>> with one_patch(None):
    ...     pass
    """
    if view is None or not hasattr(view, "send") or not hasattr(type(view), "_document_patched"):
        yield
        return
    if "_document_patched" in vars(view):  # inside another one_patch of this view: that one sends everything
        yield
        return
    events: list = []

    def collect(event: Any) -> None:
        if event.setter is not view:  # (a change the page made itself goes nowhere)
            events.append(event)

    view._document_patched = collect  # the document dispatches to this instance's method
    try:
        yield
    finally:
        vars(view).pop("_document_patched", None)
        if events:
            _send_patch(view, layout_first(events) if LAYOUT_FIRST else events)


#: send a patch's ``children`` changes first (:func:`layout_first`); False: in the order they were made (to compare)
LAYOUT_FIRST = True


def layout_first(events: list) -> list:
    """``events`` with the changes of layouts' ``children`` first (otherwise in order). The page applies a patch's
    events in order: a figure hidden (``visible``) and then taken out of its grid was laid out again for its hidden
    state first; taken out first, it has no view left to lay out. On the gains panel, 12 antennas -> 1 (22 figures
    hidden and taken out) spent 1.6-2 s in the page laying out, measuring and repainting them.

    Examples
    --------
    >>> from types import SimpleNamespace as E
    >>> [e.attr for e in layout_first([E(attr="visible"), E(attr="children"), E(attr="text")])]
    ['children', 'visible', 'text']
    """
    return sorted(events, key=lambda e: getattr(e, "attr", None) != "children")


#: True: arrays travel inside the patch's JSON (base64) instead of as binary buffers (jupyter_bokeh's page receives
#: each buffer as two comm messages: a Tsys change's 32 buffers were 64 websocket frames; inline, a patch is three).
#: Measured in the page, alternated change by change (benchmarks/bench_explorer_browser.py --alternate): half the
#: frames, but a visibilities spw change slower (base64 to decode) and the other tabs within the noise: off
INLINE_ARRAYS = False


def _send_patch(view: Any, events: list) -> None:
    """The Bokeh protocol's PATCH-DOC message of ``events``, over the widget's comm as jupyter_bokeh's page expects
    it: header, metadata and content (then, with ``INLINE_ARRAYS`` off, each buffer's header and bytes)."""
    from bokeh.protocol import Protocol

    if INLINE_ARRAYS:
        msg = _inline_patch(events)
    else:
        msg = Protocol().create("PATCH-DOC", events)
    for part in (msg.header_json, msg.metadata_json, msg.content_json):
        view.send({"msg": "patch", "payload": part})
    for buffer in msg.buffers:
        view.send({"msg": "patch", "payload": json.dumps(buffer.ref)})
        view.send({"msg": "patch"}, [buffer.to_bytes()])


def _inline_patch(events: list) -> Any:
    """A PATCH-DOC message of ``events`` whose arrays are base64 strings in its content (no buffers), as Bokeh's
    ``patch_doc.create`` makes it otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from bokeh.document import Document
    >>> from bokeh.document.events import ColumnDataChangedEvent
    >>> from bokeh.models import ColumnDataSource
    >>> doc = Document(); src = ColumnDataSource({"x": np.arange(3.0)}); doc.add_root(src)
    >>> msg = _inline_patch([ColumnDataChangedEvent(doc, src, "data", cols=["x"])])
    >>> len(msg.buffers), '"type":"bytes"' in msg.content_json
    (0, True)
    """
    from bokeh.core.serialization import Serializer
    from bokeh.protocol.messages.patch_doc import PatchJson, patch_doc

    if not events:
        raise ValueError("PATCH-DOC message requires at least one event")
    (doc,) = {event.document for event in events}
    serializer = Serializer(references=doc.models.synced_references, deferred=False)
    content = PatchJson(events=serializer.encode(events))
    doc.models.flush_synced(lambda model: not serializer.has_ref(model))
    return patch_doc(patch_doc.create_header(), {}, content)


def shown_slots(panel: Any) -> None:
    """Keep only the shown figure slots of a calibration panel's grids in its layout: a hidden slot (a figure
    beyond the selection, ``visible=False``) leaves the grid's children, so the page keeps no view of it, and comes
    back when a selection fills it. In Chromium, new data in the gains panel with one antenna shown (1 of 24 figures)
    painted in 0.55-1.5 s with the hidden figures in the grid and in ~0.09 s without them (BokehJS updates, lays out
    and asks the computed style of every view, hidden ones included). Nothing for a panel without slot grids.

    Examples
    --------
    >>> shown_slots(None)
    """
    from bokeh.models import GridPlot

    if not getattr(panel, "grids", None):
        return
    cells = getattr(panel, "slot_cells", None)
    if cells is None:  # every slot's place in its grid, as built
        cells = [(g, list(g.children)) for g in layout_nodes(panel.layout) if isinstance(g, GridPlot)]
        panel.slot_cells = cells
    for g, every in cells:
        want = [c for c in every if c[0].visible]
        if [id(c[0]) for c in g.children] != [id(c[0]) for c in want]:
            g.children = want


class Update:
    """New data for an existing panel's sources (no new Bokeh models)."""

    def __init__(self, data: Any, sources: dict[str, dict]):
        self.data, self.sources = data, sources


def same_shape(old: Panel, new: Panel) -> bool:
    """Whether ``new`` can be shown by copying its data into ``old``'s sources: the same sources with the same
    columns, the same builder, and the same figures (count and kind of axes)."""
    if (old.kind or new.kind) and old.kind != new.kind:
        return False
    if set(old.sources) != set(new.sources):
        return False
    for k, src in new.sources.items():
        o = old.sources[k]
        if (o is None) != (src is None) or (o is not None and set(o.data) != set(src.data)):
            return False
    fo, fn = figures(old.layout), figures(new.layout)
    return (
        len(fo) == len(fn)
        and all(type(a.x_range) is type(b.x_range) and type(a.y_range) is type(b.y_range) for a, b in zip(fo, fn))
        # a legend's entries are models, not source data: other categories (antennas, baselines) -> rebuild
        and all(legend_labels(a) == legend_labels(b) for a, b in zip(fo, fn))
    )


def legend_labels(fig: Any) -> list[str]:
    """The entries of a figure's legends, as the page shows them (an empty slot's hidden entry is not shown)."""
    out = []
    for legend in getattr(fig, "legend", None) or ():
        for item in legend.items:
            if not item.visible:
                continue
            label = item.label
            out.append(str(label.get("value", label) if isinstance(label, dict) else getattr(label, "value", label)))
    return out


def add_box_select(panel: Panel) -> None:
    """A box-select tool on the figures drawing the points (the 'mark' of mark, locate, flag)."""
    from bokeh.models import BoxSelectTool

    points = panel.sources["amp"]
    for fig in figures(panel.layout):
        renderers = [r for r in fig.renderers if getattr(r, "data_source", None) is points]
        if renderers and not any(isinstance(t, BoxSelectTool) for t in fig.tools):
            fig.add_tools(BoxSelectTool(renderers=renderers))


def figures(layout: Any) -> list:
    """The figures of a layout in reading order (rows, columns, grids and tabs walked depth first)."""
    from bokeh.models import Plot

    return [node for node in layout_nodes(layout) if isinstance(node, Plot)]


def layout_nodes(layout: Any) -> list:
    """The layout's own nodes: rows, columns, grids, tabs and the figures in them, without the figures' inner models
    (what :func:`almaview.plots._common.stretch_width` needs: walking ``references()`` of a bandpass panel, ~900
    models, took a third of a second).

    Examples
    --------
    >>> from bokeh.layouts import column
    >>> from bokeh.plotting import figure
    >>> [type(m).__name__ for m in layout_nodes(column([figure(), figure()]))]
    ['Column', 'figure', 'figure']
    """
    from bokeh.models import Plot

    out: list = []

    def walk(node: Any) -> None:
        if isinstance(node, tuple):  # a GridBox/GridPlot child: (model, row, col)
            node = node[0]
        out.append(node)
        if isinstance(node, Plot):
            return
        for attr in ("children", "tabs"):
            for child in getattr(node, attr, None) or ():
                walk(getattr(child, "child", child))  # a TabPanel holds its figure in .child

    walk(layout)
    return out


def copy_words(old: Any, new: Any) -> None:
    """What an in-place update must carry besides the data: figure titles, axis labels and categorical factors
    (the spws of a heatmap: four selected spws are four columns, not the first one's)."""
    from bokeh.models import FactorRange

    for a, b in zip(figures(old), figures(new)):
        if a.title is not None and b.title is not None and a.title.text != b.title.text:
            a.title.text = b.title.text
        for axes_a, axes_b in ((a.xaxis, b.xaxis), (a.yaxis, b.yaxis)):
            for ax, bx in zip(axes_a, axes_b):
                if ax.axis_label != bx.axis_label:
                    ax.axis_label = bx.axis_label
        for rng in ("x_range", "y_range"):
            ra, rb = getattr(a, rng), getattr(b, rng)
            if isinstance(ra, FactorRange) and isinstance(rb, FactorRange) and list(ra.factors) != list(rb.factors):
                ra.factors = list(rb.factors)
        if a.height != b.height:
            a.height = b.height

"""Bokeh in the notebook, in one place: BokehJS loading (inline, once per browser page) and the BokehModel views
the apps show their figures in.

- :func:`load_bokehjs` publishes BokehJS from the installed bokeh (never a CDN) to the page that sent the running
  request, once (one copy in a saved notebook); every app calls it when it is displayed.
- :func:`show_standalone`: a layout shown in the notebook like ``bokeh.io.show`` (how a plots ``Panel`` displays).
- :func:`bokeh_view`: a layout as an ipywidget (jupyter_bokeh's BokehModel; models synced both ways).
- :func:`batched_view`: the same, whose ``batch()`` sends the changes made inside it as one patch (``flush()``
  inside it sends what is held so far first) and whose page side drops jupyter_bokeh's echo of kernel changes (the
  image viewer's channel changes: a 4 MB plane must not travel back).

Examples
--------
>>> from bokeh.plotting import figure
>>> from almaview.widgets._bokeh import bokeh_view
>>> type(bokeh_view(figure())).__name__
'BokehModel'
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = [
    "BOKEHJS_COMPONENTS",
    "NO_CSS_VARS_JS",
    "NO_ECHO_JS",
    "PAGE_SIDE_JS",
    "batched_view",
    "bokeh_view",
    "bokehjs_script",
    "load_bokehjs",
    "show_standalone",
]

_LOADED: set[str] = set()  # the browser sessions (kernel clients) BokehJS was published to


def _client_session(kernel: Any) -> str:
    """The id of the browser connection that sent the running request ('' when unknown).

    Each JupyterLab page (a reload, a second tab) connects with a new client session id, and a new page has no
    BokehJS until it is published again.
    """
    try:
        parent = kernel.get_parent("shell") if hasattr(kernel, "get_parent") else getattr(kernel, "_parent_header", {})
        return str((parent or {}).get("header", {}).get("session", ""))
    except Exception:  # an exotic kernel: fall back to once per kernel
        return ""


#: the BokehJS bundles almaview's plots need: the core, widgets (Div, Select, ...) and tables (DataTable).
#: Left out: bokeh-gl (no almaview figure uses the WebGL backend) and bokeh-mathjax (1.8 MB, for TeX labels only).
BOKEHJS_COMPONENTS = ("bokeh", "bokeh-widgets", "bokeh-tables")


def bokehjs_script(components: Sequence[str] = BOKEHJS_COMPONENTS) -> str:
    """The script that loads BokehJS inline (from the installed bokeh) into a notebook page, as ``output_notebook``
    would, without its load banner; it does nothing on a page that already has this BokehJS version.

    Examples
    --------
    >>> js = bokehjs_script()
    >>> "const js_urls = []" in js   # everything inline: nothing fetched from a CDN
    True
    """
    from bokeh.core.templates import AUTOLOAD_NB_JS
    from bokeh.embed.bundle import bundle_for_objs_and_resources
    from bokeh.resources import Resources

    bundle = bundle_for_objs_and_resources(None, Resources(mode="inline", components=list(components)))
    return AUTOLOAD_NB_JS.render(bundle=bundle, elementid=None, force=True, timeout=5000, register_mime=True)


def load_bokehjs(force: bool = False, *, components: Sequence[str] = BOKEHJS_COMPONENTS) -> bool:
    """Load BokehJS inline (from the installed bokeh, never a CDN) into the running notebook, once per browser page.

    jupyter_bokeh's BokehModel in JupyterLab 4 fails to render ("Cannot read properties of undefined") until
    BokehJS is on the page; every almaview app calls this. A reloaded page or a second tab on the same kernel is
    a new client session and gets BokehJS again. Returns True when it published the scripts.

    The scripts go out ONCE, as ``application/javascript`` only: JupyterLab (with or without jupyter_bokeh's
    extension), Voila and nbconvert's HTML all run that type, while Bokeh's own ``output_notebook`` sends the same
    ~4 MB twice (also as ``application/vnd.bokehjs_load.v0+json``), and a saved notebook kept both copies.
    ``bokeh.io.show`` goes to the notebook afterwards, as after ``output_notebook``. Pass
    ``components=(*BOKEHJS_COMPONENTS, "bokeh-gl", "bokeh-mathjax")`` for WebGL figures or TeX labels.

    Examples
    --------
    >>> load_bokehjs()   # outside a notebook kernel: nothing to do
    False
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return False
    session = _client_session(shell.kernel)
    if session in _LOADED and not force:
        return False
    from bokeh.io.state import curstate
    from IPython.display import publish_display_data

    curstate().output_notebook()  # bokeh.io.show -> this notebook
    publish_display_data({"application/javascript": bokehjs_script(components)})
    _LOADED.add(session)
    return True


def show_standalone(layout: Any) -> None:
    """Show a Bokeh layout in the running notebook as ``bokeh.io.show`` does (a div that grows with its content,
    no frame; the figures take the output's width), after loading BokehJS once per page; the layout is not added to
    any document.

    Examples
    --------
    >>> from bokeh.plotting import figure
    >>> show_standalone(figure())   # outside a notebook kernel: nothing is shown  # doctest: +SKIP
    """
    from bokeh.embed.notebook import notebook_content
    from bokeh.io.notebook import EXEC_MIME_TYPE, HTML_MIME_TYPE, JS_MIME_TYPE
    from IPython.display import publish_display_data

    from ..plots._common import stretch_width

    load_bokehjs()
    stretch_width(layout)  # the output's width, not a fixed one
    script, div, _ = notebook_content(layout)
    publish_display_data({HTML_MIME_TYPE: div})
    publish_display_data({JS_MIME_TYPE: script, EXEC_MIME_TYPE: ""}, metadata={EXEC_MIME_TYPE: {"id": layout.id}})


def bokeh_view(layout: Any) -> Any:
    """A Bokeh layout as an ipywidget (jupyter_bokeh's BokehModel), its models synced both ways.

    Subscribe to figure events (``on_event``) *before* calling this: the page receives the document as it is
    now, and a subscription made later is a patch sent before any view exists, which is lost.

    Examples
    --------
    >>> from bokeh.plotting import figure
    >>> bokeh_view(figure()).layout is not None
    True
    """
    from jupyter_bokeh.widgets import BokehModel

    return BokehModel(layout)


#: Installed in the page once per Bokeh document (at document_ready, and at the first data change as a fallback):
#: jupyter_bokeh 4.1's view sends *every* document change back to the kernel, also the ones it just received from
#: the kernel (BokehJS marks those ``sync = false``; Bokeh's own server client drops them). A channel change sent
#: the 4 MB plane back as 5.2 MB of base64: ~0.4 s of the page's main thread and a busy websocket. Changes made in
#: the page (colour controls, tools, the colour callback's mapper update) are ``sync = true`` and still go, except
#: the sizes BokehJS measures for each plot (``inner_width`` etc., read-only, used by nothing in the kernel): taking
#: 22 hidden figures out of the gains grid sent 49 of them (each a kernel request, with its status replies).
NO_ECHO_JS = """
const sizes = new Set(['inner_width', 'inner_height', 'outer_width', 'outer_height']);
const skip = (e) => e.sync === false || (e.kind === 'ModelChanged' && sizes.has(e.attr));
const doc = src.document;
if (doc != null && doc._callbacks instanceof Map && !doc.__almaview_no_echo) {
  doc.__almaview_no_echo = true;
  const entries = [...doc._callbacks];
  doc._callbacks.clear();
  for (const [callback, batches] of entries) {
    doc._callbacks.set((event) => {
      if (skip(event)) return;
      if (event.events !== undefined && event.events.every(skip)) return;
      callback(event);
    }, batches);
  }
}
"""


#: Installed with NO_ECHO_JS: BokehJS 3.x reads a CSS variable (``--bk-line-color``, ``--bk-text-font-size``...) from
#: the computed style of the view's element for every line, fill, text and hatch property it paints (axes, grids,
#: titles, legends, glyphs). After any DOM change (a patch, a figure back in a grid) each read is a forced style
#: recalculation: ~200 ms of a bandpass spw change with all antennas went to ``getPropertyValue``. almaview's
#: documents set none of these variables (nor does BokehJS's own CSS), so in them the read is skipped and the
#: model's value used, as BokehJS does when the variable is unset. Other documents in the page are untouched; a page
#: that sets ``window.__almaview_css_vars = true`` reads them again (the benchmarks' baseline).
#:
#: The same holds for a plot's base font size (``PlotView.base_font_size``: ``getComputedStyle(el).fontSize``), read
#: for every tick label of every axis at each paint (~12 ms of a visibilities antenna change, most of it the forced
#: style recalculation): in almaview's documents it is read once per figure view (again while the view is not in the
#: page and the read gives nothing). The font size comes from BokehJS's ``:host`` rule (``--bokeh-font-size``, 12px
#: unless the page sets it), which does not change under a figure.
NO_CSS_VARS_JS = """
const doc2 = src.document;
try {
  const proto = Bokeh.require('core/visuals/visual').VisualProperties.prototype;
  if (typeof proto._get_css_value === 'function' && !proto.__almaview_css_vars) {
    const read = proto._get_css_value;
    proto._get_css_value = function (name) {
      if (ours(this.obj && this.obj.model ? this.obj.model.document : null)) return '';
      return read.call(this, name);
    };
    proto.__almaview_css_vars = true;
  }
  const plot = Bokeh.require('models/plots/plot_canvas').PlotView.prototype;
  const font = Object.getOwnPropertyDescriptor(plot, 'base_font_size');
  if (font && font.get && !plot.__almaview_font_patched) {
    Object.defineProperty(plot, 'base_font_size', {
      configurable: true,
      set: font.set,
      get() {
        if (!ours(this.model.document)) return font.get.call(this);
        if (this.__almaview_font_px == null) this.__almaview_font_px = font.get.call(this);
        return this.__almaview_font_px;
      },
    });
    plot.__almaview_font_patched = true;
  }
  if (doc2 != null) doc2.__almaview_no_css_vars = true;
} catch (err) { /* another BokehJS: its own reads stay */ }
"""


#: Installed with NO_ECHO_JS: BokehJS 3.9's legend rebuilds every entry's DOM (a new canvas for each glyph) whenever
#: anything its items reach changes, recursively: a renderer's data source, its view's mask, a glyph. A data change
#: in a figure whose key has one renderer per category sets each renderer's mask: 13 rebuilds of a 12-entry key per
#: figure, ~40 ms of a visibilities antenna change, and the key's DOM churned each time. In almaview's documents the
#: rebuilds asked for in one task are done once, at its end (a microtask, before the next paint), and only when the
#: entries shown differ from the model's (labels, items, visibility), then the key is painted; the legend's own
#: ``render`` and paint are untouched (they rebuild at once, as before). ``window.__almaview_legend`` counts the rebuilds asked for and done.
LEGEND_JS = """
try {
  const legend = Bokeh.require('models/annotations/legend').LegendView.prototype;
  const hidden = Bokeh.require('styles/legend.css').hidden;
  if (typeof legend._render_items === 'function' && !legend.__almaview_legend_patched) {
    const render_items = legend._render_items;
    for (const name of ['render', '_paint']) {  // their own rebuilds stay at once
      const own = legend[name];
      legend[name] = function (...args) {
        this.__almaview_rendering = (this.__almaview_rendering || 0) + 1;
        try { return own.apply(this, args); } finally { this.__almaview_rendering -= 1; }
      };
    }
    const stale = (v) => v._should_rerender_items
      || v.entries.some((e) => e.el.classList.contains(hidden) === (e.item.visible !== false));
    legend._render_items = function (...args) {
      if (this.__almaview_rendering || !ours(this.model.document) || !Array.isArray(this.entries)) {
        return render_items.apply(this, args);
      }
      const count = window.__almaview_legend = window.__almaview_legend || {asked: 0, rebuilt: 0};
      count.asked += 1;
      if (this.__almaview_queued) return;
      this.__almaview_queued = true;
      queueMicrotask(() => {
        this.__almaview_queued = false;
        if (!stale(this)) return;
        count.rebuilt += 1;
        render_items.apply(this, args);
        this.request_paint();  // the new entries' glyphs (with the paint a data change asked for, if any)
      });
    };
    // the key's element resized (entries shown or hidden): BokehJS repaints the whole plot, and lays it out again
    // if the panel the key sits in changed its size. A taller or shorter key at the side keeps the panel's width:
    // nothing on the canvas moves, and the key (HTML, its glyphs drawn at the paint that followed its rebuild) is
    // already right, so neither is done
    const request_layout = legend.request_layout;
    legend.request_layout = function (...args) {
      const box = this.layout != null ? this.layout.bbox : null;
      if (ours(this.model.document) && box != null && this.panel != null && this.el.isConnected) {
        const r = this.el.getBoundingClientRect(), m = 2 * (this.model.margin || 0);
        const same = this.panel.is_horizontal ? Math.abs(r.height + m - box.height) < 0.5
          : Math.abs(r.width + m - box.width) < 0.5;
        if (same && r.width > 0 && r.height > 0) {
          const count = window.__almaview_legend = window.__almaview_legend || {asked: 0, rebuilt: 0};
          count.kept = (count.kept || 0) + 1;
          return;
        }
      }
      return request_layout.apply(this, args);
    };
    legend.__almaview_legend_patched = true;
  }
} catch (err) { /* another BokehJS: its legends stay as they are */ }
"""


#: Before NO_CSS_VARS_JS and LEGEND_JS: whether a Bokeh document is one of almaview's (flagged by NO_CSS_VARS_JS),
#: unless the page turned the patches off (``window.__almaview_css_vars = true``: the benchmarks' baseline).
_OURS_JS = """
const ours = (d) => d != null && d.__almaview_no_css_vars && window.__almaview_css_vars !== true;
"""

#: what :func:`no_echo` installs in the page for each document
PAGE_SIDE_JS = NO_ECHO_JS + _OURS_JS + NO_CSS_VARS_JS + LEGEND_JS


def no_echo(layout: Any, source: Any) -> Any:
    """``layout`` in a Bokeh document whose page side drops jupyter_bokeh's echo of kernel changes (NO_ECHO_JS) and
    skips BokehJS's CSS-variable reads (NO_CSS_VARS_JS) and the legends' redundant rebuilds (LEGEND_JS): all three
    installed as :data:`PAGE_SIDE_JS`.

    Examples
    --------
    >>> from bokeh.models import ColumnDataSource
    >>> from bokeh.plotting import figure
    >>> no_echo(figure(), ColumnDataSource()).document is not None
    True
    """
    from bokeh.document import Document
    from bokeh.models import CustomJS

    cb = CustomJS(args={"src": source}, code=PAGE_SIDE_JS)
    if layout.document is None:
        Document().add_root(layout)
    layout.document.js_on_event("document_ready", cb)
    source.js_on_change("data", cb)
    return layout


def batched_view(layout: Any, source: Any, mappers: Sequence[Any] = ()) -> Any:
    """A jupyter_bokeh view of ``layout`` that sends the changes of a ``batch()`` as one patch, with no echo of
    ``source``'s kernel-side changes from the page (see :data:`NO_ECHO_JS`). The low/high of ``mappers`` are left
    out of batches (the page's colour callback sets them).

    Examples
    --------
    >>> from bokeh.models import ColumnDataSource
    >>> from bokeh.plotting import figure
    >>> src = ColumnDataSource({"x": [1]})
    >>> view = batched_view(figure(), src)
    >>> with view.batch():
    ...     src.data = {"x": [2]}
    """
    return _batched_model_class()(no_echo(layout, source), mappers=mappers)


#: Buffers of a patch up to this many bytes travel inside its JSON content (base64) instead of as two comm messages
#: each (a buffer header, then the bytes): the image viewer's hover values and SNR (64 KB each) made a channel change
#: 9 messages; the plane (2 MB) stays binary.
INLINE_BYTES = 1 << 17


def patch_message(events: list, inline_bytes: int = INLINE_BYTES) -> Any:
    """Bokeh's PATCH-DOC message of ``events`` with its buffers of up to ``inline_bytes`` inside the content, as
    BokehJS reads inline bytes (base64 of a gzip stream, here stored without compression: ~0.1 ms for 64 KB, where
    Bokeh's level-9 compression of float noise takes ~10 ms and gains ~7 %).

    Examples
    --------
    >>> import numpy as np
    >>> from bokeh.document import Document
    >>> from bokeh.models import ColumnDataSource
    >>> doc = Document(); src = ColumnDataSource({"a": np.zeros(4, np.float32)})
    >>> doc.add_root(src)
    >>> events = []; doc.on_change(lambda e: events.append(e)); src.data.update(a=np.ones(4, np.float32))
    >>> patch_message(events).header.get("num_buffers", 0)
    0
    >>> patch_message(events, inline_bytes=0).header["num_buffers"]
    1
    """
    import base64
    import gzip

    from bokeh.core.serialization import Buffer
    from bokeh.protocol import Protocol

    msg = Protocol().create("PATCH-DOC", events)
    inline = {b.id: b for b in msg.buffers if memoryview(b.data).nbytes <= inline_bytes}
    if not inline:
        return msg

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            data = node.get("data")
            if node.get("type") == "bytes" and isinstance(data, Buffer) and data.id in inline:
                node["data"] = base64.b64encode(gzip.compress(data.to_bytes(), compresslevel=0, mtime=1)).decode()
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(msg.content)
    header = {k: v for k, v in msg.header.items() if k != "num_buffers"}
    out = type(msg)(header, msg.metadata, msg.content)
    out.add_buffers(*[b for b in msg.buffers if b.id not in inline])
    if not out.buffers:
        out.header.pop("num_buffers", None)
    return out


@functools.cache
def _batched_model_class() -> type:
    from jupyter_bokeh import BokehModel

    class BatchedBokehModel(BokehModel):
        """jupyter_bokeh's BokehModel whose :meth:`batch` sends the document changes made inside it as ONE
        PATCH-DOC message (one decode and one apply in the page, instead of one per change). The low/high of
        ``mappers`` are left out of batches: the page's colour callback sets them from the 'limits' source with
        the user's clip and upper limit (one recolouring of the plane instead of three) and sends them back."""

        def __init__(self, model: Any, mappers: Sequence[Any] = (), **kwargs: Any) -> None:
            self._held_events: list | None = None
            self._page_mappers = {id(m) for m in mappers}
            super().__init__(model, **kwargs)

        @contextlib.contextmanager
        def batch(self) -> Iterator[None]:
            doc = self._document
            if doc is None or self._held_events is not None:
                yield
                return
            self._held_events = []
            doc.hold("combine")
            try:
                yield
            finally:
                try:
                    doc.unhold()  # the held events come to _document_patched, which keeps them
                finally:
                    events, self._held_events = self._held_events, None
                    self._send_patch(events)

        def flush(self) -> None:
            """Inside :meth:`batch`: send the changes made so far as one patch now, and keep batching the rest
            (the image viewer sends a channel's plane and its colour limits before the kernel computes the hover
            values, beam and contours, so the page paints the plane while those are computed). Outside a batch:
            nothing to do (changes go out as they are made)."""
            doc = self._document
            if doc is None or self._held_events is None:
                return
            doc.unhold()  # the held events come to _document_patched, which keeps them
            events, self._held_events = self._held_events, []
            doc.hold("combine")
            self._send_patch(events)

        def _document_patched(self, event: Any) -> None:
            if event.setter is self:
                return
            if self._held_events is not None:
                if not (
                    id(getattr(event, "model", None)) in self._page_mappers
                    and getattr(event, "attr", None) in ("low", "high")
                ):
                    self._held_events.append(event)
                return
            self._send_patch([event])

        def _send_patch(self, events: list) -> None:
            import json

            if not events:
                return
            msg = patch_message(events)
            self.send({"msg": "patch", "payload": msg.header_json})
            self.send({"msg": "patch", "payload": msg.metadata_json})
            self.send({"msg": "patch", "payload": msg.content_json})
            for buffer in msg.buffers:
                self.send({"msg": "patch", "payload": json.dumps(buffer.ref)})
                self.send({"msg": "patch"}, [buffer.to_bytes()])

    return BatchedBokehModel

"""The explorer: selectors (EB, spw, antennas, field/intent, correlation, data column, axes, averaging, colour-by)
and the panels of :mod:`almaview.plots` in tabs, every panel following the selection.

Wiring only: the data work is in :mod:`almaview.plots` (builders) and :mod:`almaview.io` (readers). A change of
selection rebuilds the affected panels' data and copies it into the *existing* Bokeh sources (in place), unless
the figure structure changes (e.g. a new x axis), in which case the panel's view is replaced. Visibility and flag
reads run in a background thread: progress appears after 0.5 s, and a newer selection cancels an older read.

This module holds the state (traits), the tab -> builder tables and what a change redraws; the parts live apart:
the controls and their reactions (``explorer_controls.py``), the kernel-thread panels (``explorer_panels.py``),
the background reads (``explorer_reads.py``), mark and flag (``explorer_marks.py``), in-place updates
(``explorer_update.py``); below them the app base (``_base.py``), Bokeh views (``_bokeh.py``), copy as code
(``code.py``), flag templates (``marks.py``) and the EB adapters (``sources.py``).
"""

from __future__ import annotations

import html
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ipywidgets as W
import traitlets

from ..plots import Panel
from ..plots._common import stretch_width
from ..plots.visibilities import Refresh
from ._base import AppBase
from ._bokeh import no_echo
from .explorer_controls import ITERATE, ExplorerControls
from .explorer_marks import ExplorerMarks
from .explorer_panels import ExplorerPanels
from .explorer_reads import ASYNC_TABS, SLOW_READ_S, VIS_CACHE_SIZE, ExplorerReads
from .explorer_update import (
    Update,
    add_box_select,
    copy_words,
    figures,
    layout_nodes,
    one_patch,
    same_shape,
    shown_slots,
)
from .sources import BANDPASS_KINDS, GAIN_KINDS, TSYS_KINDS, EBSource, ebs_of

__all__ = ["Explorer", "TABS", "AFFECTS", "ITERATE", "ASYNC_TABS", "SLOW_READ_S", "VIS_CACHE_SIZE", "bokeh_view"]

#: the tab titles whole at any width: the tab bar wraps into rows instead of cutting each title to a few letters
#: (at 900 px beside JupyterLab's file browser 'overview' was 'ove'); a style element, shown nowhere itself
_TAB_CSS = (
    "<style>.almaview-tabs > .lm-TabBar .lm-TabBar-content, .almaview-tabs > .p-TabBar .p-TabBar-content"
    " { flex-wrap: wrap; }"
    " .almaview-tabs > .lm-TabBar, .almaview-tabs > .p-TabBar { height: auto; min-height: var(--jp-widgets-"
    "horizontal-tab-height, 24px); overflow: visible; }"
    " .almaview-tabs > .lm-TabBar .lm-TabBar-tab, .almaview-tabs > .p-TabBar .p-TabBar-tab"
    " { flex: 0 0 auto; min-width: max-content; }</style>"
)
#: the panels' views in the page send back none of the kernel's own changes (see :func:`._bokeh.no_echo`)
NO_ECHO = True
TABS = ("overview", "tsys", "bandpass", "gains", "visibilities", "flux", "flagging", "qa", "browser", "single dish")
_figures = figures  # (the name tests and notebooks used before the split)


def bokeh_view(layout: Any) -> W.Widget:
    """A Bokeh layout as an ipywidget (see :func:`almaview.widgets._bokeh.bokeh_view`).

    Examples
    --------
    >>> from bokeh.plotting import figure
    >>> type(bokeh_view(figure())).__name__
    'BokehModel'
    """
    from ._bokeh import bokeh_view as view

    return view(layout)


#: state key -> the tabs whose panels it changes
AFFECTS = {
    "spw": ("overview", "tsys", "bandpass", "gains", "visibilities", "flux", "flagging"),
    "antennas": ("tsys", "bandpass", "gains", "visibilities"),
    "field": ("overview", "visibilities", "flux"),
    "intent": ("visibilities",),
    "correlation": ("visibilities",),
    "column": ("visibilities",),
    "x": ("visibilities",),
    "uv_units": ("visibilities",),
    "colour_by": ("visibilities",),
    "time_bin_s": ("visibilities",),
    "chan_bin": ("visibilities",),
    "gain_table": ("gains",),
    "iterate": ("tsys", "bandpass", "gains", "visibilities"),
}


class Explorer(ExplorerControls, ExplorerPanels, ExplorerReads, ExplorerMarks, AppBase):
    """The almaview explorer widget (see :func:`almaview.explore`).

    The selection is the state of the app: traits named by the public keys (``eb``, ``spw``, ``antennas``,
    ``field``, ``intent``, ``correlation``, ``column``, ``x``, ``uv_units``, ``colour_by``, ``time_bin_s``,
    ``chan_bin``, ``gain_table``, ``iterate``); the controls in the page are views of them. :meth:`select` sets
    several at once (one refresh). ``panels`` (tab name -> :class:`~almaview.plots.Panel`), ``selection``
    (dict, None = all), ``timings`` (last server-side seconds per panel), ``controls`` (label -> widget).

    Examples
    --------
    >>> ex = Explorer(av.open_delivery("2023.1.01234.S"))   # doctest: +SKIP
    >>> ex.select(spw=[17], antennas=["DA41"])              # doctest: +SKIP
    >>> ex.wait(); ex.panels["visibilities"].data.baseline.unique()   # doctest: +SKIP
    """

    eb = traitlets.Unicode().tag(state=True)
    spw = traitlets.List(traitlets.Int()).tag(state=True)
    antennas = traitlets.List(traitlets.Unicode()).tag(state=True)
    field = traitlets.Unicode("").tag(state=True)
    intent = traitlets.Unicode("").tag(state=True)
    correlation = traitlets.Unicode("").tag(state=True)
    column = traitlets.Unicode("corrected").tag(state=True)
    x = traitlets.Unicode("time").tag(state=True)
    uv_units = traitlets.Unicode("klambda").tag(state=True)
    colour_by = traitlets.Unicode("antenna").tag(state=True)
    time_bin_s = traitlets.Float(0.0).tag(state=True)
    chan_bin = traitlets.Int(1).tag(state=True)
    gain_table = traitlets.Unicode(None, allow_none=True).tag(state=True)
    iterate = traitlets.Unicode("").tag(state=True)  # '' = each builder's default (the weblog's)

    def __init__(
        self,
        obj: Any,
        *,
        eb: str | None = None,
        tab: str = "overview",
        workdir: str | os.PathLike | None = None,
        **kw: Any,
    ):
        super().__init__(**kw)
        from ..delivery.model import Delivery

        #: the user's work area: flag templates of marked points go here (never into the delivery)
        self.workdir = Path(workdir) if workdir is not None else Path.cwd() / "almaview-work"
        #: the points marked (box-selected) on the visibilities panel, as a table (see :meth:`mark`)
        self.marked = None

        self.delivery = obj if isinstance(obj, Delivery) else None
        self.ebs: list[EBSource] = ebs_of(obj)
        if not self.ebs:
            raise ValueError(f"{obj!r}: no execution block with a measurement set to explore")
        self.panels: dict[str, Panel] = {}
        self.timings: dict[str, float] = {}
        self._vis: dict[str, Any] = {}
        self._ct: dict[str, Any] = {}
        self._gen: dict[str, int] = {}
        self._futures: dict[str, Future] = {}
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="almaview-explorer")
        self._lock = threading.RLock()
        self._stale: set[str] = set()
        self._map_stale = False  # the antenna map's selection waits for the overview to be shown
        self._vis_cache: dict[tuple, Any] = {}
        self._asked: tuple = ("", None, {})  # the newest background read asked for (tab, MS, selection)
        self._prefetch: Future | None = None  # the reduction of the shown EB's other spws (explorer_reads.py)
        self._closed = False
        self._panel_table: dict[str, str] = {}  # caltable tab -> the table its panel shows
        self._antenna_names: list[str] = []
        self._field_intents: dict[str, set[str]] = {}
        self.image: str | None = None  #: the image picked in the browser
        self.browser: Any = None  #: the delivery/weblog browser widget, once its tab was shown
        #: tab -> the function that builds its panel now (kernel thread); see explorer_panels.py
        self.builders = self._builders()
        #: tab -> the function that reads and builds its panel in the background (eb, selection, progress, cancel)
        self.readers = self._readers()
        self._views = {name: W.VBox(layout=W.Layout(width="100%")) for name in TABS}
        for name, v in self._views.items():
            v.add_class("almaview-panel-" + name.replace(" ", "-"))  # a class name has no spaces
        self.add_class("almaview-explorer")
        self._code: dict[str, W.Textarea] = {}
        boxes = []
        for name in TABS:
            button = W.ToggleButton(
                description="copy as code",
                icon="code",
                layout=W.Layout(width="140px"),
                tooltip="the almaview calls that make this panel with the current selection",
            )
            button.add_class("almaview-code-button")
            area = self._code[name] = W.Textarea(layout=W.Layout(width="100%", height="170px", display="none"))
            area.add_class("almaview-code")
            button.observe(lambda ch, n=name: self._show_code(n, ch["new"]), "value")
            parts = [button, area, self._views[name]]
            if name == "visibilities":
                parts.append(self._marks_box())
            boxes.append(W.VBox(parts, layout=W.Layout(width="100%")))
        self.tabs = W.Tab(children=boxes)
        for i, n in enumerate(TABS):
            self.tabs.set_title(i, n)
        self.tabs.add_class("almaview-tabs")
        self.status = W.HTML(layout=W.Layout(width="100%"))
        self.status.add_class("almaview-status")
        self.progress = W.FloatProgress(
            value=0.0, min=0.0, max=1.0, description="reading", layout=W.Layout(visibility="hidden")
        )
        self.progress.add_class("almaview-progress")
        with self.batch():  # one refresh at the end, with everything set
            first = (
                self.ebs[0].uid if eb is None else next(e.uid for e in self.ebs if e.uid == eb or e.uid.endswith(eb))
            )
            self.eb = first
            self._build_controls()
            rows = self._control_rows()
            style = W.HTML(_TAB_CSS, layout=W.Layout(display="none"))  # applies to the page, shows nothing
            self.children = [style, *rows, self.tabs]
            self._offer_for_eb()
            self._offer_for_x()
            self._pending.add("eb")  # the first apply builds the shown tab
        self.tabs.observe(self._tab_changed, "selected_index")
        self.show(tab)

    def apply(self, changed: set[str]) -> None:
        """Redraw what the changed keys affect: the shown tab now, the other built tabs when shown."""
        if not hasattr(self, "tabs"):
            return
        if "eb" in changed:  # another EB: no panel of the old one stays
            for name in list(self.panels):
                self.panels.pop(name)
                self._views[name].children = []
            self._panel_table.clear()
            self._stale.clear()
            self._refresh()
            return
        if "antennas" in changed:
            self._map_follows()
        tabs = [t for t in TABS if any(t in AFFECTS.get(k, TABS) for k in changed)]
        self._refresh(tabs)
        for t in tabs:
            if self._code[t].layout.display != "none":
                self._code[t].value = self.code(t)

    # ---------------------------------------------------------------- copy as code

    def code(self, tab: str | None = None) -> str:
        """The almaview calls that make ``tab``'s panel (default: the shown tab) with the current selection: a
        script that runs on its own and ends with the same panel.

        Examples
        --------
        >>> print(ex.code("tsys"))   # doctest: +SKIP
        import almaview as av
        ...
        """
        from .code import panel_code

        tab = tab or self._active()
        eb = self.eb_source
        table = None
        kinds = {"tsys": TSYS_KINDS, "bandpass": BANDPASS_KINDS, "gains": GAIN_KINDS}.get(tab)
        if kinds is not None:
            names = [self.gain_table] if tab == "gains" and self.gain_table else eb.tables(kinds)
            table = eb.path(names[0]) if names else None
        builder = {"tsys": "tsys", "bandpass": "bandpass", "gains": "gains", "visibilities": "amp_phase"}.get(tab)
        iterate = False
        if builder is not None:
            from almaview import plots

            iterate = bool(self._iterate_kwargs(getattr(plots, builder)))
        return panel_code(tab, self.selection, ms=eb.ms, caltable=table, iterate=iterate)

    def _show_code(self, tab: str, shown: bool) -> None:
        area = self._code[tab]
        area.layout.display = "" if shown else "none"
        if shown:
            area.value = self.code(tab)

    # ---------------------------------------------------------------- selection

    @property
    def selection(self) -> dict[str, Any]:
        """The current selection, as plain Python values (None = all).

        Examples
        --------
        >>> ex.selection["antennas"]   # doctest: +SKIP
        ['DA41', 'DA42']
        """
        return {
            "eb": self.eb,
            "ms": self.eb_source.ms,
            "spws": list(self.spw) or None,
            "antennas": list(self.antennas) or None,
            "field": self.field or None,
            "intent": self.intent or None,
            "correlation": self.correlation or None,
            "column": self.column,
            "x": self.x,
            "uv_units": self.uv_units,
            "colour_by": self.colour_by,
            "time_bin_s": float(self.time_bin_s),
            "chan_bin": int(self.chan_bin),
            "gain_table": self.gain_table,
            "iterate": self.iterate or None,
            "image": self.image,
        }

    def _on_qa_tap(self, attr: str, old: Any, new: list[int]) -> None:
        """A tap on a stage's QA bar: its weblog page in the browser tab (no file:// link: served by the widget)."""
        m = self.eb_source.mous
        if not new or m is None:
            return
        stage = self.panels["qa"].sources["scores"].data["stage"][min(new)]
        self.open_item("stage", f"{m.uid}:{stage}")

    def _on_tap(self, attr: str, old: Any, new: list[int]) -> None:
        """A tap on the antenna map: the tapped antennas become the antenna selection."""
        names = self.panels["overview"].sources["antennas.antennas"].data["antenna"]
        tapped = [names[i] for i in sorted(new)]
        if set(tapped) == set(self.antennas):  # (the map following the selection: nothing new)
            return
        self.controls["search"].value = ""
        self.antennas = tapped

    # ---------------------------------------------------------------- tabs and panels

    def show(self, tab: str) -> None:
        """Show a tab (building its panel if needed)."""
        self.tabs.selected_index = TABS.index(tab)
        self._refresh([tab], only_missing=True)

    def _tab_changed(self, change: dict) -> None:
        if TABS[change["new"]] == "overview" and self._map_stale:
            self._map_follows()
        self._refresh([TABS[change["new"]]], only_missing=True)

    def _map_follows(self) -> None:
        """The antenna map shows the antenna selection: now if the overview is shown, else when it is shown (a
        hidden figure's selection change still costs the page a layout, ~20 ms ahead of the shown panel's update)."""
        if "overview" not in self.panels:
            return
        if self._active() != "overview":
            self._map_stale = True
            return
        self._map_stale = False
        src = self.panels["overview"].sources["antennas.antennas"]
        want = set(self.antennas)
        indices = [i for i, n in enumerate(src.data["antenna"]) if n in want]
        if list(src.selected.indices) != indices:
            src.selected.indices = indices

    def _active(self) -> str:
        return TABS[self.tabs.selected_index or 0] if hasattr(self, "tabs") else "overview"

    def _refresh(self, tabs: Any = TABS, only_missing: bool = False) -> None:
        """Rebuild the shown tab among ``tabs`` now; mark the other built ones stale (rebuilt when shown)."""
        if not hasattr(self, "tabs"):
            return
        active = self._active()
        for t in tabs:
            if t == "browser" and self.browser is not None:  # the package tree does not follow the selection
                continue
            if t != active:
                if t in self.panels or t in self._futures:
                    self._stale.add(t)
                continue
            if (
                only_missing
                and t not in self._stale
                and (t in self.panels or (t in self._futures and not self._futures[t].done()))
            ):
                continue
            self._stale.discard(t)
            if t in ASYNC_TABS:
                self._submit(t)
            else:
                self._build_now(t)

    def _build_now(self, tab: str) -> None:
        start = time.perf_counter()
        try:
            with one_patch(self._view(tab)):  # an in-place refresh: its changes go to the page as one message
                panel = self.builders[tab]()
        except Exception as err:  # shown, not raised: the other panels keep working
            self._say(f"{tab}: {type(err).__name__}: {err}", error=True)
            return
        self.timings[tab] = time.perf_counter() - start
        if panel is not None:
            self._install(tab, panel)

    def _view(self, tab: str) -> Any:
        """The tab's Bokeh view in the page (a ``BokehModel``), or None."""
        shown = self._views[tab].children
        return shown[0] if shown and hasattr(shown[0], "render_bundle") else None

    def _install(self, tab: str, new: Any) -> None:
        with self._lock, one_patch(self._view(tab) if isinstance(new, (Update, Panel, Refresh)) else None):
            self._install_now(tab, new)

    def _install_now(self, tab: str, new: Any) -> None:
        if isinstance(new, Refresh):  # the visibilities' figures show the new table (plots.visibilities.refresh)
            new.apply()
            return
        if isinstance(new, Update):
            old = self.panels[tab]
            done: set[int] = set()
            for k, data in new.sources.items():
                src = old.sources[k]
                if id(src) not in done:  # a source shared by two names ('amp', 'phase') goes to the page once
                    src.data = data
                    done.add(id(src))
            old.data = new.data
            return
        if not isinstance(new, Panel):
            self.panels.pop(tab, None)
            self._views[tab].children = [new]
            return
        old = self.panels.get(tab)
        # same figures: new data (and words) in place; a slot grid (caltables) was rebuilt because its
        # structure changed (refresh() fills it otherwise): shown anew; so is a visibilities panel (refreshed in
        # place by plots.visibilities.refresh when it fits: a new panel here did not)
        if (
            old is not None
            and getattr(new, "grids", None) is None
            and new.kind != "amp_phase"  # (refreshed by plots.visibilities.refresh, or new)
            and same_shape(old, new)
        ):
            done = set()
            for k, src in new.sources.items():
                if old.sources[k] is not None and src is not None and id(old.sources[k]) not in done:
                    old.sources[k].data = dict(src.data)
                    done.add(id(old.sources[k]))
                if k.endswith("antennas"):
                    old.sources[k].selected.indices = list(src.selected.indices)
            copy_words(old.layout, new.layout)
            old.data, old.title = new.data, new.title
            for attr in ("iterate", "colour_by", "colours"):  # what the next fast path compares
                if hasattr(new, attr):
                    setattr(old, attr, getattr(new, attr))
            return
        self.panels[tab] = new
        if "antennas.antennas" in new.sources:
            new.sources["antennas.antennas"].selected.on_change("indices", self._on_tap)
        if tab == "qa" and new.sources.get("scores") is not None:  # a tapped stage opens its weblog page
            new.sources["scores"].selected.on_change("indices", self._on_qa_tap)
        if tab == "visibilities" and new.sources.get("amp") is not None:
            add_box_select(new)  # before the view is built: the page gets the document as it is now
            # the panel whose points were selected (a box drawn on a panel being replaced still means its points)
            new.sources["amp"].selected.on_change("indices", lambda attr, old, idx, p=new: self.mark(idx, panel=p))
        # the figures take the page's width (min 320 px, max 1400 px), as shown alone
        stretch_width(new.layout, layout_nodes(new.layout))
        shown_slots(new)  # (after the stretch: a hidden slot shown later stretches too)
        # the page sends back none of the kernel's own changes (jupyter_bokeh's view echoes every one, and the kernel
        # applies them again: 4-5 more websocket messages and 10-30 kB out of the page per change on the demo)
        source = next((s for s in new.sources.values() if s is not None and hasattr(s, "data")), None)
        echo = source is None or not NO_ECHO
        self._views[tab].children = [bokeh_view(new.layout if echo else no_echo(new.layout, source))]

    def open_item(self, kind: str, key: str) -> None:
        """Open an item of the delivery: kind 'eb' (uid), 'caltable' (name), 'image' (path) or 'stage' (number)."""
        from .sources import TSYS_KINDS as TK

        if kind == "eb":
            self.eb = key
            self.show("overview")
        elif kind == "caltable":
            eb = next((e for e in self.ebs if key in e.caltables), None)
            if eb is None:
                raise KeyError(f"no EB has a caltable named {key!r}")
            k = eb.caltables[key]
            with self.batch():
                self.eb = eb.uid
                if k in GAIN_KINDS:
                    self.gain_table = key
            self.show(
                "tsys" if k in TK else "bandpass" if k in BANDPASS_KINDS else "gains" if k in GAIN_KINDS else "overview"
            )
        elif kind in ("image", "stage"):
            if kind == "stage":  # shown by the browser now, or as soon as the browser tab is built
                self._pending_stage = key
                viewer = getattr(self.browser, "weblog_viewer", None)
                if viewer is not None:
                    viewer.open("stage", key)
            self.show("browser")

    def _say(self, text: str, error: bool = False) -> None:
        colour = "#d9534f" if error else "#555"
        self.status.value = f"<span style='color:{colour}'>{html.escape(text)}</span>"

    def close(self) -> None:
        """Close the widget and stop its background reads."""
        self._closed = True
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        super().close()

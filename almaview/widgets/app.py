"""The explorer: selectors (EB, spw, antennas, field/intent, correlation, data column, axes, averaging, colour-by)
and the panels of :mod:`almaview.plots` in tabs, every panel following the selection.

Wiring only: the data work is in :mod:`almaview.plots` (builders) and :mod:`almaview.io` (readers). A change of
selection rebuilds the affected panels' data and copies it into the *existing* Bokeh sources (in place), unless
the figure structure changes (e.g. a new x axis), in which case the panel's view is replaced. Visibility and flag
reads run in a background thread: progress appears after 0.5 s, and a newer selection cancels an older read.

Longer than ~500 lines on purpose: it is one class, the explorer's state (traits), its reactions and its nine tabs'
wiring, which read best together. What is separable lives apart: the state model (``_base.py``), Bokeh views
(``_bokeh.py``), copy as code (``code.py``), mark and flag (``marks.py``), the EB adapters (``sources.py``).
"""

from __future__ import annotations

import html
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ipywidgets as W
import traitlets

from ..plots import Panel
from ._base import AppBase, reacts
from .sources import BANDPASS_KINDS, GAIN_KINDS, TSYS_KINDS, EBSource, ebs_of

TABS = ("overview", "tsys", "bandpass", "gains", "visibilities", "flux", "flagging", "qa", "browser", "single dish")
#: tabs whose data come from a background read of the visibilities
ASYNC_TABS = ("visibilities", "flux", "flagging")
SLOW_READ_S = 0.5
#: reduced visibility tables kept per explorer (all baselines; antenna selections filter them)
VIS_CACHE_SIZE = 8


def _intent_names(intents: str) -> list[str]:
    from ..constants import intent_names

    return intent_names(intents)


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
#: what "iterate over" offers: each builder's own default (the weblog's page: Tsys and bandpass per spw, gains per
#: antenna), one panel per spw (plotms's iteraxis), per antenna, or one panel
ITERATE = (("as the weblog", ""), ("spw", "spw"), ("antenna", "antenna"), ("none", "none"))


class Explorer(AppBase):
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
        self._vis_cache: dict[tuple, Any] = {}
        self._panel_table: dict[str, str] = {}  # caltable tab -> the table its panel shows
        self._antenna_names: list[str] = []
        self._field_intents: dict[str, set[str]] = {}
        self.image: str | None = None  #: the image picked in the browser
        self.browser: Any = None  #: the delivery/weblog browser widget, once its tab was shown
        #: tab -> the function that builds its panel now (kernel thread)
        self.builders: dict[str, Callable[[], Any]] = {
            "overview": self._panel_overview,
            "tsys": self._panel_tsys,
            "bandpass": self._panel_bandpass,
            "gains": self._panel_gains,
            "qa": self._panel_qa,
            "browser": self._panel_browser,
            "single dish": self._panel_single_dish,
        }
        #: tab -> the function that reads and builds its panel in the background (eb, selection, progress, cancel)
        self.readers: dict[str, Callable[..., Any]] = {
            "visibilities": self._compute_visibilities,
            "flux": self._compute_flux,
            "flagging": self._compute_flagging,
        }
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
            c = self.controls
            wrap = W.Layout(flex_flow="row wrap", align_items="flex-start", width="100%")  # wraps at any width
            rows = [
                W.HBox(
                    [
                        c["eb"],
                        c["spw"],
                        W.VBox([c["antennas"], W.HBox([c["search"], c["all antennas"]])]),
                        W.VBox([c["field"], c["intent"], c["correlation"]]),
                    ],
                    layout=wrap,
                ),
                W.HBox(
                    [
                        c["data column"],
                        c["x axis"],
                        c["uv units"],
                        c["colour by"],
                        c["time avg (s)"],
                        c["channel avg"],
                        c["gain table"],
                        c["iterate over"],
                    ],
                    layout=wrap,
                ),
                W.HBox([self.progress, self.status], layout=wrap),
            ]
            self.children = [*rows, self.tabs]
            self._offer_for_eb()
            self._offer_for_x()
            self._pending.add("eb")  # the first apply builds the shown tab
        self.tabs.observe(self._tab_changed, "selected_index")
        self.show(tab)

    # ---------------------------------------------------------------- controls (views of the state)

    def _build_controls(self) -> None:
        style = {"description_width": "initial"}
        T = tuple
        self.bind("eb", W.Dropdown(description="eb", options=[(e.uid, e.uid) for e in self.ebs], style=style))
        self.bind(
            "spw",
            W.SelectMultiple(description="spw", rows=5, style=style, layout=W.Layout(width="260px")),
            to_control=T,
            from_control=list,
        )
        self.bind(
            "antennas",
            W.SelectMultiple(description="antennas", rows=5, style=style, layout=W.Layout(width="200px")),
            to_control=T,
            from_control=list,
        )
        self.bind("field", W.Dropdown(description="field", options=[("all fields", "")], style=style))
        self.bind("intent", W.Dropdown(description="intent", options=[("all intents", "")], style=style))
        self.bind("correlation", W.Dropdown(description="correlation", options=[("all", "")], style=style))
        self.bind(
            "column",
            W.Dropdown(
                description="data column",
                options=[("CORRECTED", "corrected")],
                style=style,
                layout=W.Layout(width="220px"),
            ),
        )
        self.bind(
            "x",
            W.Dropdown(
                description="x axis",
                options=["time", "frequency", "uvdist"],
                style=style,
                layout=W.Layout(width="160px"),
            ),
        )
        self.bind(
            "uv_units",
            W.Dropdown(
                description="uv units",
                options=[("kλ", "klambda"), ("m", "m")],
                style=style,
                layout=W.Layout(width="130px"),
                disabled=True,
            ),
        )
        self.bind(
            "colour_by",
            W.Dropdown(description="colour by", options=["antenna"], style=style, layout=W.Layout(width="190px")),
        )
        self.bind(
            "time_bin_s",
            W.BoundedFloatText(
                description="time avg (s)", min=0.0, max=1e5, step=10, style=style, layout=W.Layout(width="150px")
            ),
        )
        self.bind(
            "chan_bin",
            W.BoundedIntText(
                description="channel avg", min=1, max=100000, style=style, layout=W.Layout(width="140px"), disabled=True
            ),
        )
        self.bind(
            "gain_table", W.Dropdown(description="gain table", options=[], style=style, layout=W.Layout(width="330px"))
        )
        self.bind(
            "iterate",
            W.Dropdown(description="iterate over", options=list(ITERATE), style=style, layout=W.Layout(width="190px")),
        )
        c = self.controls
        c["search"] = W.Text(description="search", placeholder="DA4", style=style, layout=W.Layout(width="130px"))
        c["all antennas"] = W.Button(description="all", tooltip="select all antennas", layout=W.Layout(width="60px"))
        for name, w in c.items():
            w.add_class("almaview-control-" + name.replace(" ", "-").replace("(", "").replace(")", ""))
        c["all antennas"].on_click(lambda _: setattr(self, "antennas", []))
        c["search"].observe(lambda ch: self._filter_antennas(), "value")

    @reacts("x")
    def _offer_for_x(self) -> None:
        """Colour-by choices and the averaging controls that apply to the x axis."""
        x = self.x
        opts = ["antenna", "baseline", "spw", "correlation"] + ([] if x == "frequency" else ["scan", "field"])
        old = self.colour_by
        self.controls["colour by"].options = opts
        self.colour_by = old if old in opts else "antenna"
        self.controls["channel avg"].disabled = x != "frequency"
        self.controls["time avg (s)"].disabled = x == "frequency"
        self.controls["uv units"].disabled = x != "uvdist"

    @property
    def eb_source(self) -> EBSource:
        """The EB shown (its MS, caltables and member OUS).

        Examples
        --------
        >>> ex.eb_source.ms   # doctest: +SKIP
        """
        return next(e for e in self.ebs if e.uid == self.eb)

    def vis(self, eb: EBSource | None = None) -> Any:
        """The (lazy) MS tree of an EB (opened once)."""
        from ..io.ms import open_ms

        eb = eb or self.eb_source
        if eb.ms is None:
            raise ValueError(f"EB {eb.uid} has no calibrated measurement set in this delivery")
        if eb.ms not in self._vis:
            self._vis[eb.ms] = open_ms(eb.ms)
        return self._vis[eb.ms]

    def caltable(self, name: str, eb: EBSource | None = None) -> Any:
        """A caltable of an EB, opened once (extracted from its archive on first use)."""
        from ..io.caltable import open_caltable

        eb = eb or self.eb_source
        path = eb.path(name)
        if path not in self._ct:
            self._ct[path] = open_caltable(path)
        return self._ct[path]

    @reacts("eb")
    def _offer_for_eb(self) -> None:
        """A new EB: the choices it offers, and the default selection in them."""
        from ..analysis.trees import ms_spws
        from ..analysis.visibilities import available_columns

        c = self.controls
        vis = self.vis()
        spws = ms_spws(vis)
        labels = dict(zip(vis["spws"].ds.spw_id.values.tolist(), vis["spws"].ds.spw_label.values.tolist()))
        c["spw"].options = [(str(labels.get(s, f"spw {s}")), s) for s in spws]
        self.spw = list(spws[:1])
        self._antenna_names = [str(a) for a in vis["antennas"].ds.antenna_name.values]
        c["search"].value = ""
        c["antennas"].options = self._antenna_names
        self.antennas = []
        ds = vis[f"spw_{spws[0]}"].ds
        self._field_intents = {}
        for f, it in zip(vis["scans"].ds.field_name.values.astype(str), vis["scans"].ds.intents.values.astype(str)):
            self._field_intents.setdefault(f, set()).update(_intent_names(it))
        c["field"].options = [("all fields", "")] + [(f, f) for f in self._field_intents]
        self.field = ""
        self._intent_options()
        pols = [str(p) for p in ds.polarization.values]
        c["correlation"].options = [("all", "")] + [(p, p) for p in pols]
        self.correlation = ""
        cols = available_columns(ds)
        if not cols:  # a single-dish EB: no visibilities (its spectra are in the 'single dish' tab)
            c["data column"].options = [("none (single dish)", "")]
            self.column = ""
        else:
            c["data column"].options = [(k.upper(), k) for k in cols]
            self.column = "corrected" if "corrected" in cols else cols[0]
        eb = self.eb_source
        gtabs = eb.tables(GAIN_KINDS)
        c["gain table"].options = [(f"{eb.caltables[n]}: {n}", n) for n in gtabs]
        self.gain_table = gtabs[0] if gtabs else None

    @reacts("field")
    def _intent_options(self) -> None:
        """Only the intents observed on the field are offered: no empty combinations."""
        f = self.field
        intents = sorted(self._field_intents.get(f, set())) if f else sorted(set().union(*self._field_intents.values()))
        old = self.intent
        self.controls["intent"].options = [("all intents", "")] + [(i, i) for i in intents]
        self.intent = old if old in intents else ""

    def _filter_antennas(self) -> None:
        """The antenna list shows the names matching the search (and the selected ones): a view, not state."""
        q = self.controls["search"].value.strip().lower()
        keep = list(self.antennas)
        with self.batch():
            self.controls["antennas"].options = [a for a in self._antenna_names if q in a.lower() or a in keep]
            self.antennas = keep  # (a new options list may have cleared the control's value)

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
        if "antennas" in changed and "overview" in self.panels:  # the map shows the selection
            src = self.panels["overview"].sources["antennas.antennas"]
            want = set(self.antennas)
            src.selected.indices = [i for i, n in enumerate(src.data["antenna"]) if n in want]
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

    # ---------------------------------------------------------------- mark, locate, flag

    def _marks_box(self) -> W.Widget:
        self._marks_html = W.HTML("<i>Box-select points on the plot (box select tool) to list them here.</i>")
        self._marks_html.add_class("almaview-marked")
        self.controls["add to flags"] = W.Button(
            description="add to flags",
            icon="flag",
            disabled=True,
            tooltip="write flagdata commands for the marked points to a flag template in your work area",
        )
        self.controls["add to flags"].add_class("almaview-control-add-to-flags")
        self.controls["add to flags"].on_click(lambda _: self._add_to_flags_clicked())
        return W.VBox([self._marks_html, self.controls["add to flags"]])

    def mark(self, indices: Any) -> Any:
        """Mark the visibilities panel's points at ``indices`` (what a box selection in the page sends): returns
        and shows the table of what they are (baseline, antennas, scan, field, spw, correlation, time or
        channels). ``explorer.marked`` keeps it for :meth:`add_to_flags`.

        Examples
        --------
        >>> ex.show("visibilities"); ex.wait()   # doctest: +SKIP
        >>> ex.mark([0, 1, 2])                   # doctest: +SKIP
        """
        from .marks import marked_table

        panel = self.panels.get("visibilities")
        if panel is None:
            raise ValueError("no visibilities panel yet: show('visibilities') and wait() first")
        freqs = None
        if "frequency_ghz" in panel.data:
            vis = self.vis()
            freqs = {int(s): vis[f"spw_{int(s)}"].ds.frequency.values / 1e9 for s in panel.data["spw"].unique()}
        self.marked = marked_table(panel.data, list(indices), chan_bin=int(self.chan_bin), frequencies_ghz=freqs)
        n = len(self.marked)
        shown = self.marked.head(50).to_html(index=False, border=0, classes="almaview-marked-table")
        more = f"<br><i>… and {n - 50} more</i>" if n > 50 else ""
        self._marks_html.value = (
            f"<b>{n} marked point{'s' if n != 1 else ''}</b>{shown}{more}"
            if n
            else "<i>Box-select points on the plot (box select tool) to list them here.</i>"
        )
        self.controls["add to flags"].disabled = n == 0
        return self.marked

    def add_to_flags(self) -> Path:
        """Append flagdata commands for the marked points to ``<workdir>/<EB>.flagtemplate.txt`` (the syntax
        ``flagdata(mode='list')`` and scriptForPI read) and return the file's path. Never inside the delivery:
        a ``workdir`` there raises :class:`almaview.errors.OutputInsideDelivery`.

        Examples
        --------
        >>> ex.mark([0]); ex.add_to_flags()   # doctest: +SKIP
        PosixPath('almaview-work/uid___A002_X1_X2.flagtemplate.txt')
        """
        from .marks import flag_commands, write_flag_template

        if self.marked is None or not len(self.marked):
            raise ValueError("nothing marked: box-select points on the visibilities panel (or call mark())")
        time_bin = float(self.time_bin_s) if self.x == "time" else 0.0
        commands = flag_commands(self.marked, time_bin_s=time_bin)
        root = self.delivery.root if self.delivery is not None else None
        return write_flag_template(commands, self.workdir, self.eb, delivery_root=root)

    def _add_to_flags_clicked(self) -> None:
        try:
            path = self.add_to_flags()
        except Exception as err:  # shown, not raised: a callback has nobody to raise to
            self._say(f"add to flags: {type(err).__name__}: {err}", error=True)
            return
        self._say(f"{len(self.marked)} marked point(s) added to {path}")

    def _on_mark(self, attr: str, old: Any, new: list[int]) -> None:
        self.mark(new)

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
        self._refresh([TABS[change["new"]]], only_missing=True)

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
            panel = self.builders[tab]()
        except Exception as err:  # shown, not raised: the other panels keep working
            self._say(f"{tab}: {type(err).__name__}: {err}", error=True)
            return
        self.timings[tab] = time.perf_counter() - start
        if panel is not None:
            self._install(tab, panel)

    def _install(self, tab: str, new: Any) -> None:
        with self._lock:
            if isinstance(new, _Update):
                old = self.panels[tab]
                for k, data in new.sources.items():
                    old.sources[k].data = data
                old.data = new.data
                return
            if not isinstance(new, Panel):
                self.panels.pop(tab, None)
                self._views[tab].children = [new]
                return
            old = self.panels.get(tab)
            if old is not None and _same_shape(old, new):  # same figures: new data (and words) in place
                for k, src in new.sources.items():
                    if old.sources[k] is not None and src is not None:
                        old.sources[k].data = dict(src.data)
                    if k.endswith("antennas"):
                        old.sources[k].selected.indices = list(src.selected.indices)
                _copy_words(old.layout, new.layout)
                old.data, old.title = new.data, new.title
                return
            self.panels[tab] = new
            if "antennas.antennas" in new.sources:
                new.sources["antennas.antennas"].selected.on_change("indices", self._on_tap)
            if tab == "qa" and new.sources.get("scores") is not None:  # a tapped stage opens its weblog page
                new.sources["scores"].selected.on_change("indices", self._on_qa_tap)
            if tab == "visibilities" and new.sources.get("amp") is not None:
                _add_box_select(new)  # before the view is built: the page gets the document as it is now
                new.sources["amp"].selected.on_change("indices", self._on_mark)
            self._views[tab].children = [bokeh_view(new.layout)]

    # the panels (each reads what the selection asks for)

    def _spws(self) -> list[int] | None:
        return list(self.spw) or None

    def _ants(self) -> list[str] | None:
        return list(self.antennas) or None

    def _panel_overview(self) -> Panel:
        from ..plots import overview as ov

        vis = self.vis()
        field = self.field or None
        parts = ov.overview(vis, self._spws(), [field] if field else None, self._ants())
        sources = {f"{k}.{s}": src for k, p in parts.items() for s, src in p.sources.items()}
        return Panel(
            ov.overview_layout(parts), parts["summary"].data, sources, title=f"Overview {self.eb}", kind="overview"
        )

    def _caltable_panel(self, tab: str, kinds: tuple[str, ...], builder: Callable, name: str | None = None) -> Any:
        from ..plots.caltables import refresh

        eb = self.eb_source
        names = [name] if name else eb.tables(kinds)
        if not names:
            return W.HTML(f"<i>EB {html.escape(eb.uid)} has no {'/'.join(kinds)} caltable in this package.</i>")
        path = eb.path(names[0])
        ct = self.caltable(names[0])
        old = self.panels.get(tab)
        kwargs = self._iterate_kwargs(builder)
        if old is not None and self._panel_table.get(tab) == path and not kwargs:
            with self._lock:
                if refresh(old, ct, self._spws(), self._ants()):  # same table, same figures: new data only
                    return None
        self._panel_table[tab] = path
        return builder(ct, spws=self._spws(), antennas=self._ants(), **kwargs)

    def _iterate_kwargs(self, builder: Callable) -> dict[str, Any]:
        """``iterate=`` for builders that draw one panel per spw/antenna (plotms's iteraxis), else nothing."""
        import inspect

        try:
            params = inspect.signature(builder).parameters
        except (TypeError, ValueError):
            return {}
        return {"iterate": self.iterate} if self.iterate and "iterate" in params else {}

    def _panel_tsys(self) -> Any:
        from ..plots.caltables import tsys

        return self._caltable_panel("tsys", TSYS_KINDS, tsys)

    def _panel_bandpass(self) -> Any:
        from ..plots.caltables import bandpass

        return self._caltable_panel("bandpass", BANDPASS_KINDS, bandpass)

    def _panel_gains(self) -> Any:
        from ..analysis.overview import scans_with_intent
        from ..plots.caltables import gains

        try:  # the weblog's phase RMS: on the phase calibrator's scans
            scans = scans_with_intent(self.vis(self.eb), "PHASE") or None
        except Exception:  # noqa: BLE001 - no MS: RMS over every solution
            scans = None
        return self._caltable_panel(
            "gains", GAIN_KINDS, lambda ct, **kw: gains(ct, phase_scans=scans, **kw), self.gain_table
        )

    def _panel_qa(self) -> Any:
        from ..plots.weblog_qa import qa_stages

        m = self.eb_source.mous
        if m is None or (m.qa.aqua is None and not m.qa.weblog_archives):
            return W.HTML("<i>No pipeline QA (AQUA report or weblog) for this EB.</i>")
        return qa_stages(m.qa.aqua, m.weblog)

    def _panel_browser(self) -> Any:
        from .browser import delivery_browser

        return delivery_browser(self)

    def _panel_single_dish(self) -> Any:
        """A Total Power EB: spectra ON/OFF/calibrated and power vs time of the first selected antenna and spw,
        the map coverage (plots/singledish.py)."""
        from ..plots import Panel
        from ..plots._common import column
        from ..plots.singledish import tp_map_coverage, tp_power_vs_time, tp_spectra

        vis = self.vis()
        if vis.attrs.get("observing_mode") != "single dish":
            return W.HTML(
                f"<i>EB {html.escape(self.eb)} is interferometric: the single-dish panels are for Total Power EBs.</i>"
            )
        spws = self._spws() or sorted(int(n.split("_")[1]) for n in vis.children if n.startswith("spw_"))
        ds = vis[f"spw_{spws[0]}"].ds
        ants = self._ants()
        ant = ants[0] if ants and ants[0] in ds.antenna_name.values else str(ds.antenna_name.values[0])
        parts = [tp_spectra(ds, ant), tp_power_vs_time(ds, ant), tp_map_coverage(ds)]
        sources = {f"{i}.{k}": src for i, p in enumerate(parts) for k, src in p.sources.items()}
        return Panel(
            column([p.layout for p in parts]),
            parts[0].data,
            sources,
            title=f"Single dish {self.eb}",
            kind="single_dish",
        )

    # background reads -------------------------------------------------------

    def _submit(self, tab: str) -> None:
        gen = self._gen[tab] = self._gen.get(tab, 0) + 1
        sel = self.selection
        eb = self.eb_source

        def cancel() -> bool:
            return self._gen.get(tab) != gen

        start = time.perf_counter()

        def progress(frac: float) -> None:
            if time.perf_counter() - start > SLOW_READ_S and not cancel():
                self.progress.description = tab
                self.progress.value = frac
                self.progress.layout.visibility = "visible"

        def job() -> None:
            from ..errors import Cancelled

            try:
                panel = self.readers[tab](eb, sel, progress, cancel)
            except Cancelled:
                return
            except Exception as err:
                if not cancel():
                    self._say(f"{tab}: {type(err).__name__}: {err}", error=True)
                    self.progress.layout.visibility = "hidden"
                return
            if cancel():
                return
            self.timings[tab] = time.perf_counter() - start
            self._install(tab, panel)
            self.progress.layout.visibility = "hidden"
            self._say(
                f"{tab}: {len(panel.data) if isinstance(panel, (Panel, _Update)) else 0} points in "
                f"{self.timings[tab]:.2f} s"
            )

        self._futures[tab] = self._pool.submit(job)

    def _compute_visibilities(self, eb: EBSource, sel: dict, progress: Callable, cancel: Callable) -> Panel:
        import pandas as pd

        from ..analysis.trees import ms_spws
        from ..analysis.visibilities import reduce_visibilities
        from ..plots.visibilities import amp_phase, points_data

        vis = self.vis(eb)
        spws = sel["spws"] or ms_spws(vis)
        frames = []
        for k, spw in enumerate(spws):
            key = (
                eb.ms,
                spw,
                sel["column"],
                sel["x"],
                sel["field"],
                sel["intent"],
                sel["correlation"],
                sel["time_bin_s"],
                sel["chan_bin"],
                sel["uv_units"],
            )
            t = self._vis_cache.get(key)
            if t is None:  # all baselines once; antenna changes then only filter this table
                t = reduce_visibilities(
                    vis[f"spw_{spw}"].ds,
                    column=sel["column"],
                    x=sel["x"],
                    fields=[sel["field"]] if sel["field"] else None,
                    intents=[sel["intent"]] if sel["intent"] else None,
                    correlations=[sel["correlation"]] if sel["correlation"] else None,
                    time_bin_s=sel["time_bin_s"],
                    chan_bin=sel["chan_bin"],
                    uv_units=sel["uv_units"],
                    progress=lambda f, k=k: progress((k + f) / len(spws)),
                    cancel=cancel,
                )
                while len(self._vis_cache) >= VIS_CACHE_SIZE:
                    self._vis_cache.pop(next(iter(self._vis_cache)))
                self._vis_cache[key] = t
            if sel["antennas"]:
                t = t[t["antenna1"].isin(sel["antennas"]) | t["antenna2"].isin(sel["antennas"])]
            frames.append(t)
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        table.attrs.update(frames[0].attrs if frames else {"x": sel["x"]})
        cont = None
        if sel["x"] == "frequency" and eb.mous is not None:
            fields = {sel["field"]} if sel["field"] else None
            from ..analysis.frames import ranges_in_ms_frame

            cont = []
            for c in eb.mous.continuum:  # cont.dat is LSRK: shown in the MS's frame (the axis names it)
                if c.low is not None and str(c.spw) in {str(s) for s in spws} and (fields is None or c.field in fields):
                    spw = int(c.spw) if f"spw_{c.spw}" in self.vis(eb).children else int(spws[0])
                    cont += ranges_in_ms_frame(
                        [(c.low, c.high)], self.vis(eb), spw=spw, field=c.field, frame=c.frame or "LSRK"
                    )[0]
        old = self.panels.get("visibilities")
        if (
            old is not None
            and old.data.attrs.get("x") == sel["x"]
            and not cont
            and not old.sources["cont"].data["low"]
            and getattr(old, "colour_by", sel["colour_by"]) == sel["colour_by"]
        ):
            # same figures: only new source data (no Bokeh models built: the fast path of antenna/spw changes)
            pts, amp_img, ph_img = points_data(table, sel["x"], sel["colour_by"])
            return _Update(table, {"amp": pts, "phase": pts, "amp_image": amp_img, "phase_image": ph_img})
        return amp_phase(table, x=sel["x"], colour_by=sel["colour_by"], cont_ranges=cont)

    def _compute_flux(self, eb: EBSource, sel: dict, progress: Callable, cancel: Callable) -> Panel:
        from ..plots.visibilities import flux

        return flux(self.vis(eb), sel["spws"], [sel["field"]] if sel["field"] else None)

    def _compute_flagging(self, eb: EBSource, sel: dict, progress: Callable, cancel: Callable) -> Panel:
        from ..analysis.flagging import flag_fractions
        from ..plots.flagging import flag_summary

        return flag_summary(flag_fractions(self.vis(eb), sel["spws"], progress=progress))

    # ---------------------------------------------------------------- misc

    def wait(self, timeout: float = 120.0) -> Explorer:
        """Block until the background reads finish (for scripts and tests).

        Examples
        --------
        >>> ex.wait().panels["visibilities"].data.head()   # doctest: +SKIP
        """
        end = time.monotonic() + timeout
        while True:
            pending = [f for f in self._futures.values() if not f.done()]
            if not pending:
                return self
            pending[0].result(timeout=max(0.0, end - time.monotonic()))

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
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        super().close()


class _Update:
    """New data for an existing panel's sources (no new Bokeh models)."""

    def __init__(self, data: Any, sources: dict[str, dict]):
        self.data, self.sources = data, sources


def _same_shape(old: Panel, new: Panel) -> bool:
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
    fo, fn = _figures(old.layout), _figures(new.layout)
    return len(fo) == len(fn) and all(
        type(a.x_range) is type(b.x_range) and type(a.y_range) is type(b.y_range) for a, b in zip(fo, fn)
    )


def _add_box_select(panel: Panel) -> None:
    """A box-select tool on the figures drawing the points (the 'mark' of mark, locate, flag)."""
    from bokeh.models import BoxSelectTool

    points = panel.sources["amp"]
    for fig in _figures(panel.layout):
        renderers = [r for r in fig.renderers if getattr(r, "data_source", None) is points]
        if renderers and not any(isinstance(t, BoxSelectTool) for t in fig.tools):
            fig.add_tools(BoxSelectTool(renderers=renderers))


def _figures(layout: Any) -> list:
    """The figures of a layout in reading order (rows, columns, grids and tabs walked depth first)."""
    from bokeh.models import Plot

    out: list = []

    def walk(node: Any) -> None:
        if isinstance(node, tuple):  # a GridBox child: (model, row, col)
            node = node[0]
        if isinstance(node, Plot):
            out.append(node)
            return
        for attr in ("children", "tabs"):
            for child in getattr(node, attr, None) or ():
                walk(getattr(child, "child", child))  # a TabPanel holds its figure in .child

    walk(layout)
    return out


def _copy_words(old: Any, new: Any) -> None:
    """What an in-place update must carry besides the data: figure titles, axis labels and categorical factors
    (the spws of a heatmap: four selected spws are four columns, not the first one's)."""
    from bokeh.models import FactorRange

    for a, b in zip(_figures(old), _figures(new)):
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

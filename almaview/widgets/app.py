"""The explorer: selectors (EB, spw, antennas, field/intent, correlation, data column, axes, averaging, colour-by)
and the panels of :mod:`almaview.plots` in tabs, every panel following the selection.

Wiring only: the data work is in :mod:`almaview.plots` (builders) and :mod:`almaview.io` (readers). A change of
selection rebuilds the affected panels' data and copies it into the *existing* Bokeh sources (in place), unless
the figure structure changes (e.g. a new x axis), in which case the panel's view is replaced. Visibility and flag
reads run in a background thread: progress appears after 0.5 s, and a newer selection cancels an older read.
"""

from __future__ import annotations

import html
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

import ipywidgets as W

from ..plots import Panel
from .sources import BANDPASS_KINDS, GAIN_KINDS, TSYS_KINDS, EBSource, ebs_of

TABS = ("overview", "tsys", "bandpass", "gains", "visibilities", "flux", "flagging", "qa", "browser")
#: tabs whose data come from a background read of the visibilities
ASYNC_TABS = ("visibilities", "flux", "flagging")
SLOW_READ_S = 0.5
#: reduced visibility tables kept per explorer (all baselines; antenna selections filter them)
VIS_CACHE_SIZE = 8
def _intent_names(intents: str) -> list[str]:
    from ..constants import intent_names

    return intent_names(intents)


def bokeh_view(layout: Any) -> W.Widget:
    """A Bokeh layout as an ipywidget (jupyter_bokeh's BokehModel), its models synced both ways."""
    from jupyter_bokeh.widgets import BokehModel

    return BokehModel(layout)


class Explorer(W.VBox):
    """The almaview explorer widget (see :func:`almaview.explore`).

    Attributes: ``panels`` (tab name -> :class:`~almaview.plots.Panel`), ``selection`` (dict),
    ``timings`` (last server-side seconds per panel), ``controls`` (name -> widget).

    Examples
    --------
    >>> ex = Explorer(av.open_delivery("2023.1.01234.S"))   # doctest: +SKIP
    >>> ex.controls["antennas"].value = ("DA41",)            # doctest: +SKIP
    >>> ex.wait(); ex.panels["visibilities"].data.baseline.unique()   # doctest: +SKIP
    """

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        from . import load_bokehjs

        load_bokehjs()  # a reloaded page (a new client) has no BokehJS until it is published again
        return super()._repr_mimebundle_(**kwargs)

    def __init__(self, obj: Any, *, eb: str | None = None, tab: str = "overview", **kw: Any):
        super().__init__(**kw)
        from ..delivery.model import Delivery

        self.delivery = obj if isinstance(obj, Delivery) else None
        self.ebs: list[EBSource] = ebs_of(obj)
        if self.delivery is None and self.ebs and self.ebs[0].mous is not None:
            self.delivery = None
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
        self._muted = False
        self._stale: set[str] = set()
        self._vis_cache: dict[tuple, Any] = {}
        self.image: str | None = None  #: the image picked in the browser
        self.browser: Any = None  #: the delivery/weblog browser widget, once its tab was shown
        self._views = {name: W.VBox(layout=W.Layout(width="100%")) for name in TABS}
        for name, v in self._views.items():
            v.add_class(f"almaview-panel-{name}")
        self._build_controls()
        self.add_class("almaview-explorer")
        self.tabs = W.Tab(children=[self._views[n] for n in TABS])
        for i, n in enumerate(TABS):
            self.tabs.set_title(i, n)
        self.tabs.add_class("almaview-tabs")
        self.status = W.HTML(layout=W.Layout(width="100%"))
        self.status.add_class("almaview-status")
        self.progress = W.FloatProgress(value=0.0, min=0.0, max=1.0, description="reading",
                                        layout=W.Layout(visibility="hidden"))
        self.progress.add_class("almaview-progress")
        c = self.controls
        rows = [W.HBox([c["eb"], c["spw"], W.VBox([c["antennas"], W.HBox([c["search"], c["all antennas"]])]),
                        W.VBox([c["field"], c["intent"], c["correlation"]])]),
                W.HBox([c["data column"], c["x axis"], c["uv units"], c["colour by"], c["time avg (s)"],
                        c["channel avg"], c["gain table"]]),
                W.HBox([self.progress, self.status])]
        self.children = [*rows, self.tabs]
        if eb is not None:
            c["eb"].value = next(i for i, e in enumerate(self.ebs) if e.uid == eb or e.uid.endswith(eb))
        self._eb_changed()
        self.tabs.observe(self._tab_changed, "selected_index")
        self.show(tab)

    # ---------------------------------------------------------------- controls

    def _build_controls(self) -> None:
        style = {"description_width": "initial"}
        c: dict[str, W.Widget] = {}
        c["eb"] = W.Dropdown(description="eb", options=[(e.uid, i) for i, e in enumerate(self.ebs)], value=0,
                             style=style)
        c["spw"] = W.SelectMultiple(description="spw", rows=5, style=style, layout=W.Layout(width="260px"))
        c["antennas"] = W.SelectMultiple(description="antennas", rows=5, style=style, layout=W.Layout(width="200px"))
        c["search"] = W.Text(description="search", placeholder="DA4", style=style, layout=W.Layout(width="130px"))
        c["all antennas"] = W.Button(description="all", tooltip="select all antennas", layout=W.Layout(width="60px"))
        c["field"] = W.Dropdown(description="field", style=style)
        c["intent"] = W.Dropdown(description="intent", style=style)
        c["correlation"] = W.Dropdown(description="correlation", style=style)
        c["data column"] = W.Dropdown(description="data column", style=style, layout=W.Layout(width="220px"))
        c["x axis"] = W.Dropdown(description="x axis", options=["time", "frequency", "uvdist"], value="time",
                                 style=style, layout=W.Layout(width="160px"))
        c["uv units"] = W.Dropdown(description="uv units", options=[("kλ", "klambda"), ("m", "m")], value="klambda",
                                   style=style, layout=W.Layout(width="130px"), disabled=True)
        c["colour by"] = W.Dropdown(description="colour by", style=style, layout=W.Layout(width="190px"))
        c["time avg (s)"] = W.BoundedFloatText(description="time avg (s)", value=0.0, min=0.0, max=1e5, step=10,
                                               style=style, layout=W.Layout(width="150px"))
        c["channel avg"] = W.BoundedIntText(description="channel avg", value=1, min=1, max=100000, style=style,
                                            layout=W.Layout(width="140px"), disabled=True)
        c["gain table"] = W.Dropdown(description="gain table", style=style, layout=W.Layout(width="330px"))
        for name, w in c.items():
            w.add_class("almaview-control-" + name.replace(" ", "-").replace("(", "").replace(")", ""))
        self.controls = c
        self._colour_options()
        c["eb"].observe(lambda ch: self._eb_changed(), "value")
        c["all antennas"].on_click(lambda _: self._set(antennas=()))
        c["search"].observe(lambda ch: self._filter_antennas(), "value")
        c["field"].observe(lambda ch: self._field_changed(), "value")
        c["x axis"].observe(lambda ch: self._x_changed(), "value")
        for name in ("spw", "antennas", "intent", "correlation", "data column", "uv units", "colour by",
                     "time avg (s)", "channel avg"):
            c[name].observe(lambda ch, n=name: self._changed(n), "value")
        c["gain table"].observe(lambda ch: self._refresh(["gains"]), "value")

    def _set(self, **values: Any) -> None:
        names = {"antennas": "antennas", "spw": "spw"}
        for k, v in values.items():
            self.controls[names.get(k, k)].value = v

    def _colour_options(self) -> None:
        x = self.controls["x axis"].value
        opts = ["antenna", "baseline", "spw", "correlation"] + ([] if x == "frequency" else ["scan", "field"])
        cb = self.controls["colour by"]
        old = cb.value
        cb.options = opts
        cb.value = old if old in opts else "antenna"

    @property
    def eb(self) -> EBSource:
        """The EB shown."""
        return self.ebs[self.controls["eb"].value]

    def vis(self, eb: EBSource | None = None) -> Any:
        """The (lazy) MS tree of an EB (opened once)."""
        from ..io.ms import open_ms

        eb = eb or self.eb
        if eb.ms is None:
            raise ValueError(f"EB {eb.uid} has no calibrated measurement set in this delivery")
        if eb.ms not in self._vis:
            self._vis[eb.ms] = open_ms(eb.ms)
        return self._vis[eb.ms]

    def caltable(self, name: str, eb: EBSource | None = None) -> Any:
        """A caltable of an EB, opened once (extracted from its archive on first use)."""
        from ..io.caltable import open_caltable

        eb = eb or self.eb
        path = eb.path(name)
        if path not in self._ct:
            self._ct[path] = open_caltable(path)
        return self._ct[path]

    def _eb_changed(self) -> None:
        from ..analysis.trees import ms_spws
        from ..analysis.visibilities import available_columns

        c = self.controls
        self._muted = True
        try:
            vis = self.vis()
            spws = ms_spws(vis)
            labels = dict(zip(vis["spws"].ds.spw_id.values.tolist(), vis["spws"].ds.spw_label.values.tolist()))
            c["spw"].options = [(str(labels.get(s, f"spw {s}")), s) for s in spws]
            c["spw"].value = tuple(spws[:1])
            self._antenna_names = [str(a) for a in vis["antennas"].ds.antenna_name.values]
            c["search"].value = ""
            c["antennas"].options = self._antenna_names
            c["antennas"].value = ()
            ds = vis[f"spw_{spws[0]}"].ds
            self._field_intents: dict[str, set[str]] = {}
            for f, it in zip(vis["scans"].ds.field_name.values.astype(str), vis["scans"].ds.intents.values.astype(str)):
                self._field_intents.setdefault(f, set()).update(_intent_names(it))
            c["field"].options = [("all fields", "")] + [(f, f) for f in self._field_intents]
            c["field"].value = ""
            self._intent_options()
            pols = [str(p) for p in ds.polarization.values]
            c["correlation"].options = [("all", "")] + [(p, p) for p in pols]
            c["correlation"].value = ""
            cols = available_columns(ds)
            c["data column"].options = [(k.upper(), k) for k in cols]
            c["data column"].value = "corrected" if "corrected" in cols else cols[0]
            gtabs = self.eb.tables(GAIN_KINDS)
            c["gain table"].options = [(f"{self.eb.caltables[n]}: {n}", n) for n in gtabs]
            c["gain table"].value = gtabs[0] if gtabs else None
        finally:
            self._muted = False
        for name in list(self.panels):
            self.panels.pop(name)
            self._views[name].children = []
        self._stale.clear()
        self._refresh()

    def _intent_options(self) -> None:
        f = self.controls["field"].value
        intents = sorted(self._field_intents.get(f, set())) if f else sorted(set().union(*self._field_intents.values()))
        w = self.controls["intent"]
        old = w.value
        w.options = [("all intents", "")] + [(i, i) for i in intents]
        w.value = old if old in intents else ""

    def _field_changed(self) -> None:
        self._muted, was = True, self._muted
        try:
            self._intent_options()  # only intents observed on that field: no empty combinations
        finally:
            self._muted = was
        self._changed("field")

    def _x_changed(self) -> None:
        x = self.controls["x axis"].value
        self._muted, was = True, self._muted
        try:
            self._colour_options()
            self.controls["channel avg"].disabled = x != "frequency"
            self.controls["time avg (s)"].disabled = x == "frequency"
            self.controls["uv units"].disabled = x != "uvdist"
        finally:
            self._muted = was
        self._changed("x axis")

    def _filter_antennas(self) -> None:
        q = self.controls["search"].value.strip().lower()
        w = self.controls["antennas"]
        keep = set(w.value)
        self._muted, was = True, self._muted
        try:
            w.options = [a for a in self._antenna_names if q in a.lower() or a in keep]
            w.value = tuple(a for a in w.options if a in keep)
        finally:
            self._muted = was

    _AFFECTS = {
        "spw": ("overview", "tsys", "bandpass", "gains", "visibilities", "flux", "flagging"),
        "antennas": ("tsys", "bandpass", "gains", "visibilities"),
        "field": ("overview", "visibilities", "flux"), "intent": ("visibilities",),
        "correlation": ("visibilities",), "data column": ("visibilities",), "x axis": ("visibilities",),
        "uv units": ("visibilities",), "colour by": ("visibilities",), "time avg (s)": ("visibilities",),
        "channel avg": ("visibilities",),
    }

    def _changed(self, control: str) -> None:
        if self._muted:
            return
        if control == "antennas" and "overview" in self.panels:  # the map only shows the selection
            names = self.panels["overview"].sources["antennas.antennas"].data["antenna"]
            want = set(self.controls["antennas"].value)
            self._muted = True
            try:
                self.panels["overview"].sources["antennas.antennas"].selected.indices = [
                    i for i, n in enumerate(names) if n in want]
            finally:
                self._muted = False
        self._refresh(self._AFFECTS.get(control, TABS))

    # ---------------------------------------------------------------- selection

    @property
    def selection(self) -> dict[str, Any]:
        """The current selection, as plain Python values (None = all).

        Examples
        --------
        >>> ex.selection["antennas"]   # doctest: +SKIP
        ['DA41', 'DA42']
        """
        c = self.controls
        return {
            "eb": self.eb.uid, "ms": self.eb.ms, "spws": list(c["spw"].value) or None,
            "antennas": list(c["antennas"].value) or None, "field": c["field"].value or None,
            "intent": c["intent"].value or None, "correlation": c["correlation"].value or None,
            "column": c["data column"].value, "x": c["x axis"].value, "uv_units": c["uv units"].value,
            "colour_by": c["colour by"].value, "time_bin_s": float(c["time avg (s)"].value),
            "chan_bin": int(c["channel avg"].value), "gain_table": c["gain table"].value, "image": self.image,
        }

    def _on_tap(self, attr: str, old: Any, new: list[int]) -> None:
        """A tap on the antenna map: the tapped antennas become the antenna selection."""
        if self._muted:
            return
        names = self.panels["overview"].sources["antennas.antennas"].data["antenna"]
        self.controls["search"].value = ""
        self.controls["antennas"].value = tuple(names[i] for i in sorted(new))

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
            if only_missing and t not in self._stale and (
                    t in self.panels or (t in self._futures and not self._futures[t].done())):
                continue
            self._stale.discard(t)
            if t in ASYNC_TABS:
                self._submit(t)
            else:
                self._build_now(t)

    def _build_now(self, tab: str) -> None:
        start = time.perf_counter()
        try:
            panel = getattr(self, f"_panel_{tab}")()
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
            if old is not None and _same_shape(old, new):
                self._muted, was = True, self._muted
                try:
                    for k, src in new.sources.items():
                        if old.sources[k] is not None and src is not None:
                            old.sources[k].data = dict(src.data)
                        if k.endswith("antennas"):
                            old.sources[k].selected.indices = list(src.selected.indices)
                finally:
                    self._muted = was
                old.data = new.data
                return
            self.panels[tab] = new
            if "antennas.antennas" in new.sources:
                new.sources["antennas.antennas"].selected.on_change("indices", self._on_tap)
            self._views[tab].children = [bokeh_view(new.layout)]

    # the panels (each reads what the selection asks for)

    def _spws(self) -> list[int] | None:
        return list(self.controls["spw"].value) or None

    def _ants(self) -> list[str] | None:
        return list(self.controls["antennas"].value) or None

    def _panel_overview(self) -> Panel:
        from ..plots import overview as ov

        vis = self.vis()
        field = self.controls["field"].value or None
        parts = ov.overview(vis, self._spws(), [field] if field else None, self._ants())
        sources = {f"{k}.{s}": src for k, p in parts.items() for s, src in p.sources.items()}
        return Panel(ov.overview_layout(parts), parts["summary"].data, sources, title=f"Overview {self.eb.uid}")

    def _caltable_panel(self, tab: str, kinds: tuple[str, ...], builder: Callable, name: str | None = None) -> Any:
        from ..plots.caltables import refresh

        names = [name] if name else self.eb.tables(kinds)
        if not names:
            return W.HTML(f"<i>EB {html.escape(self.eb.uid)} has no {'/'.join(kinds)} caltable in this package.</i>")
        ct = self.caltable(names[0])
        old = self.panels.get(tab)
        if old is not None and old.title.endswith(" — " + str(ct.attrs.get("caltable", ""))):
            with self._lock:
                if refresh(old, ct, self._spws(), self._ants()):  # same figures: new data only
                    return None
        return builder(ct, spws=self._spws(), antennas=self._ants())

    def _panel_tsys(self) -> Any:
        from ..plots.caltables import tsys

        return self._caltable_panel("tsys", TSYS_KINDS, tsys)

    def _panel_bandpass(self) -> Any:
        from ..plots.caltables import bandpass

        return self._caltable_panel("bandpass", BANDPASS_KINDS, bandpass)

    def _panel_gains(self) -> Any:
        from ..plots.caltables import gains

        return self._caltable_panel("gains", GAIN_KINDS, gains, self.controls["gain table"].value)

    def _panel_qa(self) -> Any:
        from ..plots.weblog_qa import qa_stages

        m = self.eb.mous
        if m is None or (m.qa.aqua is None and not m.qa.weblog_archives):
            return W.HTML("<i>No pipeline QA (AQUA report or weblog) for this EB.</i>")
        return qa_stages(m.qa.aqua, m.weblog)

    def _panel_browser(self) -> Any:
        from .browser import delivery_browser

        return delivery_browser(self)

    # background reads -------------------------------------------------------

    def _submit(self, tab: str) -> None:
        gen = self._gen[tab] = self._gen.get(tab, 0) + 1
        sel = self.selection
        eb = self.eb

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
                panel = getattr(self, f"_compute_{tab}")(eb, sel, progress, cancel)
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
            self._say(f"{tab}: {len(panel.data) if isinstance(panel, (Panel, _Update)) else 0} points in "
                      f"{self.timings[tab]:.2f} s")

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
            key = (eb.ms, spw, sel["column"], sel["x"], sel["field"], sel["intent"], sel["correlation"],
                   sel["time_bin_s"], sel["chan_bin"], sel["uv_units"])
            t = self._vis_cache.get(key)
            if t is None:  # all baselines once; antenna changes then only filter this table
                t = reduce_visibilities(
                    vis[f"spw_{spw}"].ds, column=sel["column"], x=sel["x"],
                    fields=[sel["field"]] if sel["field"] else None,
                    intents=[sel["intent"]] if sel["intent"] else None,
                    correlations=[sel["correlation"]] if sel["correlation"] else None,
                    time_bin_s=sel["time_bin_s"], chan_bin=sel["chan_bin"], uv_units=sel["uv_units"],
                    progress=lambda f, k=k: progress((k + f) / len(spws)), cancel=cancel)
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
            cont = [(c.low, c.high) for c in eb.mous.continuum
                    if c.low is not None and str(c.spw) in {str(s) for s in spws} and (fields is None or c.field in fields)]
        old = self.panels.get("visibilities")
        if old is not None and old.data.attrs.get("x") == sel["x"] and not cont and not old.sources["cont"].data["low"]:
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

    def wait(self, timeout: float = 120.0) -> "Explorer":
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
            self.controls["eb"].value = next(i for i, e in enumerate(self.ebs) if e.uid == key)
            self.show("overview")
        elif kind == "caltable":
            i = next((i for i, e in enumerate(self.ebs) if key in e.caltables), None)
            if i is None:
                raise KeyError(f"no EB has a caltable named {key!r}")
            self.controls["eb"].value = i
            k = self.ebs[i].caltables[key]
            if k in GAIN_KINDS:
                self.controls["gain table"].value = key
            self.show("tsys" if k in TK else "bandpass" if k in BANDPASS_KINDS else "gains" if k in GAIN_KINDS
                      else "overview")
        elif kind in ("image", "stage"):
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
    if set(old.sources) != set(new.sources):
        return False
    for k, src in new.sources.items():
        o = old.sources[k]
        if (o is None) != (src is None) or (o is not None and set(o.data) != set(src.data)):
            return False
    return True

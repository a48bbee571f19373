"""The explorer's panels built in the kernel thread (overview, Tsys, bandpass, gains, QA, browser, single dish):
tab name -> builder, each reading what the selection asks for and calling :mod:`almaview.plots`. A caltable panel
whose figures stay is refreshed in place (:func:`almaview.plots.caltables.refresh`).

Examples
--------
>>> ex.builders["tsys"]()          # doctest: +SKIP
>>> ex.caltable("uid___A002_X1_X2.ms.tsyscal.tbl")   # doctest: +SKIP
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as W

from ..plots import Panel
from .explorer_update import shown_slots
from .sources import BANDPASS_KINDS, GAIN_KINDS, TSYS_KINDS, EBSource

__all__ = ["ExplorerPanels"]


class ExplorerPanels:
    """The kernel-thread builders, mixed into :class:`~almaview.widgets.app.Explorer`."""

    def _builders(self) -> dict[str, Callable[[], Any]]:
        """Tab -> the function that builds its panel now (kernel thread)."""
        return {
            "overview": self._panel_overview,
            "tsys": self._panel_tsys,
            "bandpass": self._panel_bandpass,
            "gains": self._panel_gains,
            "qa": self._panel_qa,
            "browser": self._panel_browser,
            "single dish": self._panel_single_dish,
        }

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

    def _caltable_panel(self, tab: str, kinds: tuple[str, ...], name: str | None = None, **extra: Any) -> Any:
        """The panel of a calibration tab. The same table shown the same way (iterate, phase scans) is refreshed
        in place: new source data and words in the figures already in the page (no Bokeh models built). A
        selection that needs more figures or legend entries than the panel has builds one with room for the
        whole table (``reserve=True``): every later selection of it is then shown in place. A first build has room
        for the whole table too (the first change to all spws filled it, not rebuilt it), except a bandpass per
        antenna (a figure per spw and antenna: built with room only when a selection asks for it)."""
        from ..plots import caltables as C

        eb = self.eb_source
        names = [name] if name else eb.tables(kinds)
        if not names:
            return W.HTML(f"<i>EB {html.escape(eb.uid)} has no {'/'.join(kinds)} caltable in this package.</i>")
        path = eb.path(names[0])
        ct = self.caltable(names[0])
        old = self.panels.get(tab)
        iterate = self.iterate or C.DEFAULT_ITERATE[tab]
        same = (
            old is not None
            and self._panel_table.get(tab) == path
            and getattr(old, "iterate", None) == iterate
            and all(getattr(old, k, None) == v for k, v in extra.items())
        )
        if same:
            with self._lock:
                if C.refresh(old, ct, self._spws(), self._ants()):  # same table, room enough: new data only
                    shown_slots(old)  # the hidden slots out of the page, the newly shown ones back
                    return None
        self._panel_table[tab] = path
        builder = {"tsys": C.tsys, "bandpass": C.bandpass, "gains": C.gains}[tab]
        reserve = same or not (tab == "bandpass" and iterate == "antenna")
        return builder(ct, spws=self._spws(), antennas=self._ants(), iterate=iterate, reserve=reserve, **extra)

    def _iterate_kwargs(self, builder: Callable) -> dict[str, Any]:
        """``iterate=`` for builders that draw one panel per spw/antenna (plotms's iteraxis), else nothing."""
        import inspect

        try:
            params = inspect.signature(builder).parameters
        except (TypeError, ValueError):
            return {}
        return {"iterate": self.iterate} if self.iterate and "iterate" in params else {}

    def _panel_tsys(self) -> Any:
        return self._caltable_panel("tsys", TSYS_KINDS)

    def _panel_bandpass(self) -> Any:
        return self._caltable_panel("bandpass", BANDPASS_KINDS)

    def _panel_gains(self) -> Any:
        from ..analysis.overview import scans_with_intent

        try:  # the weblog's phase RMS: on the phase calibrator's scans
            scans = scans_with_intent(self.vis(self.eb), "PHASE") or None
        except Exception:  # noqa: BLE001 - no MS: RMS over every solution
            scans = None
        return self._caltable_panel("gains", GAIN_KINDS, self.gain_table, phase_scans=scans)

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

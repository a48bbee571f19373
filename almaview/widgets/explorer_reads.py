"""The explorer's background reads (visibilities, flux, flagging): one worker thread, progress after
:data:`SLOW_READ_S`, a newer selection cancels an older read, reduced visibility tables cached per selection (all
baselines: an antenna change only filters them and updates the sources in place). Once a visibilities panel is
shown, the same worker reduces the EB's other spws with the same settings (:data:`PREFETCH`), one at a time and
only while nothing else is asked of it, so that a spw change finds its table in the cache.

Examples
--------
>>> ex.show("visibilities"); ex.wait().panels["visibilities"].data.head()   # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..plots import Panel
from ..plots.visibilities import Refresh
from .explorer_update import Update
from .sources import EBSource

__all__ = ["ExplorerReads", "ASYNC_TABS", "SLOW_READ_S", "VIS_CACHE_SIZE", "PREFETCH"]

#: tabs whose data come from a background read of the visibilities
ASYNC_TABS = ("visibilities", "flux", "flagging")
#: a read longer than this shows the progress bar
SLOW_READ_S = 0.5
#: reduced visibility tables kept per explorer (all baselines; antenna selections filter them)
VIS_CACHE_SIZE = 8
#: after a visibilities panel is shown, reduce the EB's other spws in the background with the same settings (a spw
#: change is then a cache hit: in Chromium on the demo, a spw change waited 150-350 ms for its spw's reduction)
PREFETCH = True
#: a prefetch reads in slices of this size (a read asked for meanwhile waits for one slice, not one spw: on the demo a
#: spw was one 33 MB slice, 20-320 ms under load; an antenna change right after a spw change waited for it)
PREFETCH_CHUNK_BYTES = 4e6


def _vis_key(ms: str, spw: int, sel: dict) -> tuple:
    """The cache key of one spw's reduced table: everything :func:`reduce_visibilities` is given (not the antennas:
    the table holds all baselines).

    Examples
    --------
    >>> _vis_key("a.ms", 1, {"column": "corrected", "x": "time"})
    ('a.ms', 1, 'corrected', 'time', None, None, None, None, None, None)
    """
    keys = ("column", "x", "field", "intent", "correlation", "time_bin_s", "chan_bin", "uv_units")
    return (ms, spw) + tuple(sel.get(k) for k in keys)


class ExplorerReads:
    """The background readers, mixed into :class:`~almaview.widgets.app.Explorer`."""

    def _readers(self) -> dict[str, Callable[..., Any]]:
        """Tab -> the function that reads and builds its panel in the background (eb, selection, progress, cancel)."""
        return {
            "visibilities": self._compute_visibilities,
            "flux": self._compute_flux,
            "flagging": self._compute_flagging,
        }

    def _submit(self, tab: str) -> None:
        gen = self._gen[tab] = self._gen.get(tab, 0) + 1
        sel = self.selection
        eb = self.eb_source
        self._asked = (tab, eb.ms, sel)  # (what a running prefetch compares with)

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
                f"{tab}: {len(panel.data) if isinstance(panel, (Panel, Update, Refresh)) else 0} points in "
                f"{self.timings[tab]:.2f} s"
            )
            if tab == "visibilities" and PREFETCH:
                self._prefetch = self._pool.submit(self._prefetch_spws, eb, sel)

        self._futures[tab] = self._pool.submit(job)

    def _prefetch_spws(self, eb: EBSource, sel: dict) -> None:
        """Reduce the EB's spws not in the cache with ``sel``'s settings, one at a time, while no newer read is asked
        for (a read asked during one spw's reduction waits for it only if it needs that table: otherwise the
        reduction is cancelled at its next slice). Never evicts a table of these settings; quiet on errors (the read
        that needs the table reports them)."""
        from ..analysis.trees import ms_spws
        from ..analysis.visibilities import reduce_visibilities
        from ..errors import Cancelled

        asked = self._asked
        try:
            vis = self.vis(eb)
            spws = list(ms_spws(vis))
        except Exception:  # noqa: BLE001 - the shown read worked; nothing to add
            return

        def gone() -> bool:  # the explorer closed, or shows another EB
            return getattr(self, "_closed", False) or self.eb != eb.uid

        for spw in spws:
            key = _vis_key(eb.ms, spw, sel)
            if key in self._vis_cache:
                continue

            def wanted(key: tuple = key) -> bool:  # the newest read needs this table too: finish it
                tab, ms, now = self._asked
                need = now["spws"] or [key[1]]
                return tab == "visibilities" and ms == eb.ms and key in {_vis_key(ms, s, now) for s in need}

            if self._asked is not asked or gone():
                return  # a newer read waits: it goes first (and starts its own prefetch)
            try:
                t = reduce_visibilities(
                    vis[f"spw_{spw}"].ds,
                    **self._reduce_kwargs(sel),
                    cancel=lambda wanted=wanted: gone() or (self._asked is not asked and not wanted()),
                    chunk_bytes=PREFETCH_CHUNK_BYTES,
                )
            except Cancelled:
                return
            except Exception:  # noqa: BLE001
                return
            if not self._cache_put(key, t, sel):
                return

    def _cache_put(self, key: tuple, table: Any, sel: dict | None = None) -> bool:
        """Keep ``table`` under ``key``: the oldest tables go first, but with ``sel`` (a prefetch) only tables of
        other settings; False when there is no room for it."""
        while len(self._vis_cache) >= VIS_CACHE_SIZE:
            old = next((k for k in self._vis_cache if sel is None or k[2:] != key[2:]), None)
            if old is None:
                return False
            self._vis_cache.pop(old)
        self._vis_cache[key] = table
        return True

    @staticmethod
    def _reduce_kwargs(sel: dict) -> dict[str, Any]:
        """:func:`reduce_visibilities`'s settings from a selection."""
        return {
            "column": sel["column"],
            "x": sel["x"],
            "fields": [sel["field"]] if sel["field"] else None,
            "intents": [sel["intent"]] if sel["intent"] else None,
            "correlations": [sel["correlation"]] if sel["correlation"] else None,
            "time_bin_s": sel["time_bin_s"],
            "chan_bin": sel["chan_bin"],
            "uv_units": sel["uv_units"],
        }

    def _compute_visibilities(self, eb: EBSource, sel: dict, progress: Callable, cancel: Callable) -> Any:
        import pandas as pd

        from ..analysis.trees import ms_spws
        from ..analysis.visibilities import reduce_visibilities
        from ..plots.visibilities import amp_phase, refresh

        vis = self.vis(eb)
        spws = sel["spws"] or ms_spws(vis)
        frames, every = [], []  # the selected antennas' rows; all rows (the colour categories the key has room for)
        for k, spw in enumerate(spws):
            key = _vis_key(eb.ms, spw, sel)
            t = self._vis_cache.get(key)
            if t is None:  # all baselines once; antenna changes then only filter this table
                t = reduce_visibilities(
                    vis[f"spw_{spw}"].ds,
                    **self._reduce_kwargs(sel),
                    progress=lambda f, k=k: progress((k + f) / len(spws)),
                    cancel=cancel,
                )
                self._cache_put(key, t)
            every.append(t)
            if sel["antennas"]:
                t = t[t["antenna1"].isin(sel["antennas"]) | t["antenna2"].isin(sel["antennas"])]
            frames.append(t)
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        table.attrs.update(frames[0].attrs if frames else {"x": sel["x"]})
        table.attrs["antennas"] = list(sel["antennas"] or [])  # (the titles name them)
        by = sel["colour_by"]
        categories = sorted(
            set().union(*(set(t[by].drop_duplicates().tolist()) for t in every if by in t)),
            key=lambda v: (str(type(v)), v),
        )
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
        iterate = "spw" if sel["iterate"] == "spw" else "none"  # one panel per spw (plotms's iteraxis) or one
        if (
            old is not None
            and getattr(old, "kind", "") == "amp_phase"
            and not cont
            and getattr(old, "colour_by", None) == sel["colour_by"]
            and getattr(old, "iterate", "none") == iterate
        ):
            # the same figures: new source data, titles and legend entries (no Bokeh model built)
            fast = refresh(old, table, categories=categories)
            if fast is not None:
                return fast
        panel = amp_phase(
            table, x=sel["x"], colour_by=sel["colour_by"], cont_ranges=cont, iterate=iterate, categories=categories
        )
        panel.iterate = iterate  # type: ignore[attr-defined]
        return panel

    def _compute_flux(self, eb: EBSource, sel: dict, progress: Callable, cancel: Callable) -> Panel:
        from ..plots.visibilities import flux

        return flux(self.vis(eb), sel["spws"], [sel["field"]] if sel["field"] else None)

    def _compute_flagging(self, eb: EBSource, sel: dict, progress: Callable, cancel: Callable) -> Panel:
        from ..analysis.flagging import flag_fractions
        from ..plots.flagging import flag_summary

        return flag_summary(flag_fractions(self.vis(eb), sel["spws"], progress=progress))

    # ---------------------------------------------------------------- waiting

    def wait(self, timeout: float = 120.0) -> Any:
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

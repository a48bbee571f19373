"""ArchiveBrowser: search the ALMA archive, pick the parts of a member OUS, fetch them with progress, open them.

State in traitlets (``query``, ``mous``, ``parts``, ``folder``, ``state``, ``message``, ``done_bytes``,
``total_bytes``) and public methods (``search``, ``select``, ``fetch``, ``stop``, ``wait``, ``open_folder``)
that tests and notebooks call headless; the buttons call the same methods. The archive work is :mod:`almaview.archive`.
"""

from __future__ import annotations

import html
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import ipywidgets as W
import traitlets

from ..sizes import human_size

_PROJECT_RE = re.compile(r"^\d{4}\.[A-Z0-9]\.\d{5}\.[A-Z]{1,4}$")
_UID_RE = re.compile(r"^uid(://|___)A\d{3}[/_]X[0-9a-zA-Z]+[/_]X[0-9a-zA-Z]+$")
_COORD_RE = re.compile(r"^[\d.:hmsd+\-\s]+$")


def parse_query(text: str) -> dict:
    """What the search box holds: a project code, a member OUS/EB uid, coordinates, or a source name.

    Examples
    --------
    >>> parse_query("2017.1.01185.S"), parse_query("16:32:22.8 -24:28:36")
    ({'project': '2017.1.01185.S'}, {'position': '16:32:22.8 -24:28:36'})
    >>> parse_query("uid://A001/X12a3/Xe9"), parse_query("IRAS16293-2422")
    ({'uid': 'uid://A001/X12a3/Xe9'}, {'source': 'IRAS16293-2422'})
    """
    text = text.strip()
    if _PROJECT_RE.match(text):
        return {"project": text}
    if _UID_RE.match(text):
        return {"uid": text}
    if _COORD_RE.match(text) and len(text.split()) == 2 and any(c.isdigit() for c in text):
        return {"position": text}
    return {"source": text}


class ArchiveBrowser(W.VBox):
    """Search the archive, choose what to fetch of one member OUS, fetch it with progress and stop, then open it.

    ``archive_url`` as in :mod:`almaview.archive` (else ``$ALMAVIEW_ARCHIVE_URL``, else astroquery's);
    ``dest`` the folder to fetch into (default: ``./<project code>``).

    Examples
    --------
    >>> import almaview as av
    >>> b = av.widgets.ArchiveBrowser()                            # doctest: +SKIP
    >>> b.search("2017.1.01185.S"); b.select(parts=["readme", "auxiliary"])   # doctest: +SKIP
    >>> b.fetch(); b.wait(); b.open_folder()                              # doctest: +SKIP
    """

    query = traitlets.Unicode("")
    mous = traitlets.Unicode("")
    parts = traitlets.List(traitlets.Unicode())  #: 'readme', 'auxiliary', 'product', 'documentation', 'raw:<EB>'
    folder = traitlets.Unicode("")
    state = traitlets.Unicode("idle")  #: idle, searching, listing, ready, fetching, done, stopped, error
    message = traitlets.Unicode("")
    done_bytes = traitlets.Int(0)
    total_bytes = traitlets.Int(0)

    def __init__(
        self,
        *,
        archive_url: str | None = None,
        dest: str | os.PathLike | None = None,
        query: str = "",
        poll_interval: float = 0.25,
        **kw: Any,
    ):
        super().__init__(**kw)
        self.archive_url = archive_url
        self.dest = Path(dest) if dest is not None else None
        self.poll_interval = poll_interval
        self.results = None  #: the last search (a DataFrame, one row per member OUS)
        self.listing = None  #: files() of the selected member OUS
        self.delivery = None  #: what open() opened
        self.explorer = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._build()
        if query:
            self.search(query)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        c: dict[str, W.Widget] = {}
        c["query"] = W.Text(
            description="search",
            placeholder="project code, source name or coordinates",
            layout=W.Layout(width="420px"),
            continuous_update=False,
        )
        c["search"] = W.Button(description="search", icon="search")
        c["results"] = W.HTML()
        c["mous"] = W.Dropdown(
            description="member OUS", options=[], style={"description_width": "initial"}, layout=W.Layout(width="420px")
        )
        c["parts"] = W.VBox()
        c["total"] = W.HTML()
        c["fetch"] = W.Button(description="fetch", icon="download", button_style="primary", disabled=True)
        c["stop"] = W.Button(description="stop", icon="stop", disabled=True)
        c["progress"] = W.FloatProgress(
            value=0.0, min=0.0, max=1.0, description="fetched", layout=W.Layout(width="420px")
        )
        c["progress_text"] = W.HTML()
        c["open"] = W.Button(description="open", icon="folder-open", disabled=True)
        c["message"] = W.HTML()
        c["output"] = W.Output()
        for name, w in c.items():  # stable hooks for the page (tests, styling)
            w.add_class(f"almaview-archive-{name.replace('_', '-')}")
        self.controls = c
        c["query"].observe(lambda ch: setattr(self, "query", ch["new"]), "value")
        c["search"].on_click(lambda _: self._guard(self.search))
        c["mous"].observe(lambda ch: ch["new"] and self._guard(self.select, mous=ch["new"]), "value")
        c["fetch"].on_click(lambda _: self._guard(self.fetch))
        c["stop"].on_click(lambda _: self.stop())
        c["open"].on_click(lambda _: self._guard(self.open_folder))
        self.children = [
            W.HBox([c["query"], c["search"]]),
            c["results"],
            c["mous"],
            c["parts"],
            c["total"],
            W.HBox([c["fetch"], c["stop"], c["open"]]),
            W.HBox([c["progress"], c["progress_text"]]),
            c["message"],
            c["output"],
        ]

    def _guard(self, fn, *args, **kw) -> None:
        from ..errors import AlmaviewError

        try:
            fn(*args, **kw)
        except AlmaviewError as err:
            self._fail(err)

    def _fail(self, err: BaseException) -> None:
        self.state = "error"
        self.message = f"{type(err).__name__}: {err}"

    @traitlets.observe("message")
    def _show_message(self, change) -> None:
        colour = "#b00" if self.state == "error" else "#333"
        self.controls["message"].value = f'<span style="color:{colour}">{html.escape(change["new"])}</span>'

    @traitlets.observe("query")
    def _show_query(self, change) -> None:
        if self.controls["query"].value != change["new"]:
            self.controls["query"].value = change["new"]

    # ------------------------------------------------------------------ search
    def search(self, text: str | None = None):
        """Search the archive for ``text`` (or the search box): a project code, a uid, coordinates or a source.

        Returns the results (one row per member OUS) and selects the first member OUS.
        """
        from .. import archive

        if text is not None:
            self.query = text
        what = parse_query(self.query)
        self.state, self.message = "searching", f"searching the archive for {self.query!r}..."
        if "uid" in what:
            listing = archive.files(what["uid"], archive_url=self.archive_url)
            import pandas as pd

            results = pd.DataFrame({"project": listing.project.iloc[:1], "mous": listing.mous.iloc[:1]})
            self.listing = None  # select() lists it again and builds the parts
        else:
            results = archive.search(**what, archive_url=self.archive_url)
        self.results = results
        cols = [
            c
            for c in ("project", "mous", "targets", "bands", "array", "resolution_arcsec", "release_date", "public")
            if c in results
        ]
        self.controls["results"].value = results[cols].to_html(index=False, border=0, classes="almaview-archive")
        self.state = "ready" if len(results) else "idle"
        self.message = f"{len(results)} member OUS found" if len(results) else "nothing found"
        self.controls["mous"].options = list(results.mous)
        if len(results):
            self.select(mous=results.mous.iloc[0])
        return results

    # ------------------------------------------------------------------ parts
    def _part_rows(self) -> list[tuple[str, str, int | None]]:
        t = self.listing
        top = t[t.within.isna()]
        out = []
        for kind in ("readme", "auxiliary", "product", "documentation"):
            rows = top[top.kind == kind]
            if len(rows):
                size = rows["size"].sum()
                out.append(
                    (
                        kind,
                        f"{kind} ({len(rows)} file{'s' if len(rows) > 1 else ''})" if len(rows) > 1 else kind,
                        None if str(size) == "<NA>" else int(size),
                    )
                )
        for r in top[top.kind == "raw"].sort_values("eb").itertuples():
            out.append((f"raw:{r.eb}", f"raw {r.eb}", None if str(r.size) == "<NA>" else int(r.size)))
        return out

    def select(self, mous: str | None = None, parts: list[str] | None = None) -> None:
        """Choose the member OUS (lists its files) and/or the parts to fetch ('readme', 'auxiliary', 'product',
        'raw:<EB uid>'); the default parts are the README and the auxiliary tar."""
        from .. import archive
        from ..archive.client import uid_form

        if mous is not None and (self.listing is None or set(self.listing.mous) != {uid_form(mous, url=False)}):
            self.state, self.message = "listing", f"listing {mous}..."
            self.listing = archive.files(mous, archive_url=self.archive_url)
            self.mous = uid_form(mous, url=False)
            if self.controls["mous"].value != self.mous and self.mous in self.controls["mous"].options:
                self.controls["mous"].value = self.mous
            rows = self._part_rows()
            boxes = []
            for key, label, size in rows:
                cb = W.Checkbox(
                    description=f"{label}: {human_size(size)}",
                    value=key in ("readme", "auxiliary"),
                    indent=False,
                    layout=W.Layout(width="560px"),
                )
                cb.part = key
                cb.add_class(f"almaview-archive-part-{key.replace(':', '-')}")
                cb.observe(lambda ch: self._parts_from_boxes(), "value")
                boxes.append(cb)
            self.controls["parts"].children = boxes
            self._parts_from_boxes()
            self.state, self.message = "ready", f"{self.mous}: {len(rows)} parts"
        elif mous is not None:
            self.mous = uid_form(mous, url=False)
        if parts is not None:
            known = {cb.part for cb in self.controls["parts"].children}
            unknown = set(parts) - known
            if unknown:
                raise ValueError(f"unknown parts {sorted(unknown)}; this member OUS has {sorted(known)}")
            with self.hold_trait_notifications():
                for cb in self.controls["parts"].children:
                    cb.value = cb.part in parts
        self.controls["fetch"].disabled = not self.parts

    def _parts_from_boxes(self) -> None:
        self.parts = [cb.part for cb in self.controls["parts"].children if cb.value]

    @traitlets.observe("parts")
    def _show_total(self, change) -> None:
        sizes = {cb.part: cb.description.rsplit(": ", 1)[-1] for cb in self.controls["parts"].children}
        total = self._selected_bytes()
        self.controls["total"].value = f"<b>total: {human_size(total)}</b> ({len(change['new'])} of {len(sizes)} parts)"
        self.controls["fetch"].disabled = not change["new"] or self.state == "fetching"

    def _selected_bytes(self) -> int:
        if self.listing is None:
            return 0
        from ..archive.download import select

        what, ebs = self._what()
        rows = select(self.listing, what, ebs) if what else self.listing.iloc[:0]
        return int(rows["size"].fillna(0).sum())

    def _what(self) -> tuple[tuple[str, ...], list[str] | None]:
        kinds = tuple(p for p in self.parts if not p.startswith("raw:"))
        ebs = [p.split(":", 1)[1] for p in self.parts if p.startswith("raw:")]
        return kinds + (("raw",) if ebs else ()), ebs or None

    # ------------------------------------------------------------------ fetch
    def _folder(self) -> Path:
        if self.dest is not None:
            return self.dest
        project = next(iter(self.listing.project.dropna()), None) if self.listing is not None else None
        return Path.cwd() / (project or self.mous)

    def fetch(self) -> None:
        """Start fetching the chosen parts in a background thread (progress in the bar; :meth:`stop` stops it)."""
        from ..archive.download import fetch as fetch_files
        from ..archive.download import select

        if self._thread is not None and self._thread.is_alive():
            return
        what, ebs = self._what()
        if not what:
            self.message = "choose at least one part to fetch"
            return
        rows = select(self.listing, what, ebs)
        folder = self._folder()
        self.total_bytes = int(rows["size"].fillna(0).sum())
        self.done_bytes = 0
        self._stop.clear()
        self._error = None
        self.state, self.message = "fetching", f"fetching {len(rows)} file(s) into {folder}"
        self.controls["stop"].disabled, self.controls["fetch"].disabled = False, True
        listing, mous = self.listing, self.mous
        names = list(rows.name)

        def run() -> None:
            try:
                fetch_files(
                    mous,
                    what=what,
                    ebs=ebs,
                    dest=folder,
                    archive_url=self.archive_url,
                    progress=False,
                    stop=self._stop,
                    listing=listing,
                )
            except BaseException as err:  # noqa: BLE001 - shown in the widget, never lost in a thread
                self._error = err

        def follow() -> None:
            worker = threading.Thread(target=run, name="almaview-archive-fetch", daemon=True)
            worker.start()
            while worker.is_alive():
                self._measure(folder, names)
                time.sleep(self.poll_interval)
            self._measure(folder, names)
            self._finish(folder)

        self._thread = threading.Thread(target=follow, name="almaview-archive-follow", daemon=True)
        self._thread.start()

    def _measure(self, folder: Path, names: list[str]) -> None:
        done = 0
        for n in names:
            for p in (folder / n, folder / (n + ".part")):
                try:
                    done += p.stat().st_size
                    break
                except OSError:
                    continue
        self.done_bytes = done

    @traitlets.observe("done_bytes", "total_bytes")
    def _show_progress(self, change) -> None:
        total = max(self.total_bytes, 1)
        self.controls["progress"].value = min(self.done_bytes / total, 1.0)
        self.controls["progress_text"].value = f"{human_size(self.done_bytes)} of {human_size(self.total_bytes)}"

    def _finish(self, folder: Path) -> None:
        from ..errors import AlmaviewError, Cancelled

        err = self._error
        self.controls["stop"].disabled = True
        self.controls["fetch"].disabled = not self.parts
        if err is None:
            self.folder = str(folder)
            self.state, self.message = "done", f"fetched into {folder}"
            self.controls["open"].disabled = False
        elif isinstance(err, Cancelled):
            self.state, self.message = "stopped", "stopped; the .part files are kept: fetch again to resume"
        elif isinstance(err, AlmaviewError):
            self._fail(err)
        else:
            self._fail(err)

    def stop(self) -> None:
        """Stop a running fetch (at the next megabyte); the ``.part`` files are kept for a resume."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> str:
        """Wait until a running fetch ends; return the state ('done', 'stopped', 'error')."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state

    # ------------------------------------------------------------------ open
    def open_folder(self):
        """Open the fetched folder: the explorer when it holds measurement sets, else the delivery's summary,
        its QA stages and what to fetch next (the triage view)."""
        from ..delivery import open_delivery
        from ..errors import NotADelivery

        if not self.folder:
            raise NotADelivery(None, "nothing fetched yet: fetch first")
        d = open_delivery(self.folder, read_ms=False)
        self.delivery = d
        out = self.controls["output"]
        out.clear_output()
        with out:
            from IPython.display import HTML, display

            if any(eb.calibrated_ms for eb in d.ebs):
                from . import explore

                self.explorer = explore(open_delivery(self.folder))
                display(self.explorer)
            else:
                from ..plots.weblog_qa import qa_table

                display(d)
                for m in d.mous:
                    if m.weblog is not None or m.qa.aqua is not None:
                        t = qa_table(aqua=m.qa.aqua, weblog=m.weblog)[["number", "task", "score", "band", "reason"]]
                        display(
                            HTML(f"<b>{html.escape(m.uid)}: pipeline stages</b>" + t.to_html(index=False, border=0))
                        )
                display(HTML("<pre class='almaview-status'>" + html.escape(d.status()) + "</pre>"))
        self.message = f"opened {self.folder}"
        return d

"""The delivery/weblog browser: a tree of the package (member OUS, EBs, caltables, images, weblog stages) with QA
colours. Clicking an EB or caltable opens it in the explorer; a weblog stage shows its original page in the main
area, in a sandboxed frame (no script from the package runs, nothing loads from a network: see
:meth:`almaview.delivery.weblog.Weblog.page_html`); the page's links (Home, Overview, By Task, stages) are followed
inside the widget and its plots open large on click.

The front end is an anywidget ES module + CSS (sources in the repository's top-level ``widgets/`` folder,
packaged as ``almaview/widgets/frontend/``). Without anywidget, a plain ipywidgets list does the same job.
"""

from __future__ import annotations

import html
import os
import posixpath
from pathlib import Path
from typing import Any

import ipywidgets as W

from ..delivery.arrays import array_words
from ..delivery.model import score_band
from ..errors import AlmaviewError

#: The weblog's own navigation, as the pipeline's pages name it.
WEBLOG_NAV = (("Home", "index.html"), ("Overview", "t1-1.html"), ("By Task", "t1-4.html"))


def frontend_file(name: str) -> Path:
    """A front-end source: packaged (``almaview/widgets/frontend``) or the repository's ``widgets/`` folder.

    Examples
    --------
    >>> frontend_file("browser.js").name
    'browser.js'
    """
    for d in (Path(__file__).parent / "frontend", Path(__file__).resolve().parents[2] / "widgets"):
        if (d / name).is_file():
            return d / name
    raise FileNotFoundError(
        f"almaview front-end file {name!r} is missing from this installation "
        "(expected in almaview/widgets/frontend/); reinstall almaview"
    )


def delivery_tree(ebs: list[Any], delivery: Any = None) -> list[dict[str, Any]]:
    """The browser's tree: member OUS -> EBs (-> caltables), images, weblog stages; QA colours on OUS and stages.

    Examples
    --------
    >>> delivery_tree([])
    []
    """
    mous_list = list(delivery.mous) if delivery is not None else []
    for e in ebs:
        if e.mous is not None and all(e.mous is not m for m in mous_list):
            mous_list.append(e.mous)
    out = []
    for m in mous_list:
        aqua = m.qa.aqua
        band, _, colour = score_band(aqua.final_score if aqua else None)
        children = []
        for e in (x for x in ebs if x.mous is m):
            cts = [
                {"id": f"ct:{n}", "label": f"{k}: {n}", "kind": "caltable", "key": n, "children": []}
                for n, k in sorted(e.caltables.items(), key=lambda kv: (kv[1], kv[0]))
            ]
            children.append(
                {
                    "id": f"eb:{e.uid}",
                    "label": f"EB {e.uid}",
                    "kind": "eb",
                    "key": e.uid,
                    "title": e.ms or "",
                    "children": cts,
                }
            )
        imgs = [
            {"id": f"im:{i.name}", "label": i.name, "kind": "image", "key": i.source, "children": []} for i in m.images
        ]
        if imgs:
            children.append(
                {
                    "id": f"images:{m.uid}",
                    "label": f"images ({len(imgs)})",
                    "kind": "folder",
                    "key": "",
                    "children": imgs,
                }
            )
        stages = []
        if aqua is not None or m.qa.weblog_archives:
            scores = {s.number: s for s in (aqua.stages if aqua else [])}
            wl_stages = {s.number: s for s in (m.weblog.stages if m.weblog is not None else [])}
            for n in sorted(set(scores) | set(wl_stages)):
                s = scores.get(n)
                w = wl_stages.get(n)
                score = s.score if s is not None else (w.score if w is not None else None)
                b, _, c = score_band(score)
                task = s.name if s is not None else w.task
                reason = (s.reason or "") if s is not None else ""
                stages.append(
                    {
                        "id": f"st:{m.uid}:{n}",
                        "label": f"{n}. {task}" + (f" ({score:.2f})" if score is not None else ""),
                        "kind": "stage",
                        "key": f"{m.uid}:{n}",
                        "colour": c,
                        "title": f"{b}: {reason}",
                        "children": [],
                    }
                )
        if stages:
            children.append(
                {"id": f"weblog:{m.uid}", "label": "weblog stages", "kind": "folder", "key": "", "children": stages}
            )
        out.append(
            {
                "id": f"mous:{m.uid}",
                "label": f"member OUS {m.uid}" + (f": {array_words(m.array)}" if getattr(m, "array", None) else ""),
                "kind": "mous",
                "key": "",
                "colour": colour,
                "title": f"QA {band}",
                "children": children,
            }
        )
    if not out:  # an MS or EB without a package
        out = [
            {
                "id": f"eb:{e.uid}",
                "label": f"EB {e.uid}",
                "kind": "eb",
                "key": e.uid,
                "children": [
                    {"id": f"ct:{n}", "label": f"{k}: {n}", "kind": "caltable", "key": n, "children": []}
                    for n, k in sorted(e.caltables.items())
                ],
            }
            for e in ebs
        ]
    return out


def _widget_class() -> Any:
    import anywidget
    import traitlets

    class DeliveryBrowser(anywidget.AnyWidget):
        """The anywidget tree (front end: widgets/browser.js, widgets/browser.css)."""

        _esm = frontend_file("browser.js")
        _css = frontend_file("browser.css")
        tree = traitlets.List([]).tag(sync=True)
        clicked = traitlets.Dict({}).tag(sync=True)
        page_html = traitlets.Unicode("").tag(sync=True)  #: a whole sanitised document, shown in a sandboxed frame
        page_title = traitlets.Unicode("").tag(sync=True)
        nav = traitlets.List([]).tag(sync=True)  #: [{label, key}]: the weblog's Home / Overview / By Task
        plot = traitlets.Dict({}).tag(sync=True)  #: {src, name, n}: a weblog plot to show large

    return DeliveryBrowser


_CLASS: list[Any] = []


class _PackageOnly:
    """A delivery browsed without an explorer (no measurement set opened): EB and caltable clicks are not followed."""

    def __init__(self, delivery: Any):
        self.delivery, self.ebs, self.image, self.browser = delivery, [], None, None

    def open_item(self, kind: str, key: str) -> None:
        pass


def delivery_browser(explorer: Any) -> W.Widget:
    """The browser widget wired to an explorer (clicks open EBs/caltables in it; stages show their weblog page in
    the main area). ``explorer`` may also be a delivery (``av.open_delivery``): the package and its weblog alone.

    Examples
    --------
    >>> b = delivery_browser(av.explore(d))   # doctest: +SKIP
    >>> b.clicked = {"kind": "eb", "key": d.ebs[1].uid, "n": 1}   # doctest: +SKIP
    >>> delivery_browser(av.open_delivery("2023.1.01234.S"))      # doctest: +SKIP
    """
    if not hasattr(explorer, "open_item"):
        explorer = _PackageOnly(explorer)
    tree = delivery_tree(explorer.ebs, explorer.delivery)
    try:
        if not _CLASS:
            _CLASS.append(_widget_class())
        w = _CLASS[0](tree=tree)
    except ImportError:  # no anywidget: a plain list of the same items
        w = _FallbackBrowser(tree)
    w.add_class("almaview-browser-widget")
    viewer_box = W.VBox()
    viewer_box.add_class("almaview-image-viewer-box")

    viewer = WeblogViewer(explorer, w)

    def clicked(change: dict) -> None:
        item = change["new"] or {}
        kind, key = item.get("kind"), item.get("key")
        if not key:
            return
        if kind in ("stage", "link", "back"):
            viewer.open(kind, key)
        elif kind == "image":
            explorer.image = key
            w.page_html = _message_page(f"image {os.path.basename(key)} selected (explorer.image).")
            w.page_title = os.path.basename(key)
            viewer_box.children = [_image_viewer(key)]
        elif kind in ("eb", "caltable"):
            explorer.open_item(kind, key)

    w.observe(clicked, "clicked")
    explorer.browser = w
    w.weblog_viewer = viewer  # the explorer's open_item('stage', ...) shows a stage through it
    pending = getattr(explorer, "_pending_stage", None)
    if pending:  # a stage was asked for (a tap in the QA tab) before this tab existed
        viewer.open("stage", pending)
    box = W.VBox([w, viewer_box], layout=W.Layout(width="100%"))
    box.browser = w  # type: ignore[attr-defined]
    box.weblog_viewer = viewer  # type: ignore[attr-defined]
    return box


def _image_viewer(source: str) -> W.Widget:
    """The image viewer (almaview.widgets.image_viewer) for a real image path; a note otherwise."""
    if not os.path.exists(source):
        return W.HTML(
            f"<i>{html.escape(os.path.basename(source))} is still inside its archive; "
            "extract the products to view it.</i>"
        )
    try:
        from .image_viewer import ImageViewer

        return ImageViewer(source).widget()
    except Exception as err:  # noqa: BLE001 - the viewer is another panel's concern: say why, keep the browser working
        return W.HTML(f"<i>cannot show {html.escape(os.path.basename(source))}: {html.escape(str(err))}</i>")


def _message_page(text: str) -> str:
    """A one-line page for the frame (same policy as the weblog's pages)."""
    from ..delivery.weblog import CONTENT_SECURITY_POLICY

    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><meta http-equiv='Content-Security-Policy' "
        f"content=\"{CONTENT_SECURITY_POLICY}\"></head><body style='font-family:sans-serif;font-size:13px'>"
        f"<p><i>{html.escape(text)}</i></p></body></html>"
    )


class WeblogViewer:
    """What the browser's main area shows: the pages of one member OUS's weblog, followed link by link.

    ``open('stage', '<mous uid>:<n>')`` shows stage n's details page; ``open('link', 'stage3/x.png')`` follows a link
    of the page shown (a page, or a plot shown large); ``open('back', ...)`` goes back. Every path is resolved by
    :meth:`~almaview.delivery.weblog.Weblog.resolve`: nothing outside the weblog's directory is read.

    Examples
    --------
    >>> box = delivery_browser(av.explore(d))               # doctest: +SKIP
    >>> box.weblog_viewer.open("link", "t1-4.html")          # doctest: +SKIP
    >>> box.browser.page_title                               # doctest: +SKIP
    'By Task'
    """

    def __init__(self, explorer: Any, widget: Any):
        self.explorer, self.widget = explorer, widget
        self.mous: Any = None  #: the member OUS whose weblog is shown
        self.path: str = ""  #: the page shown, relative to the weblog's html/ directory
        self.history: list[tuple[Any, str]] = []

    def _mous(self, uid: str) -> Any:
        ms = list(getattr(self.explorer.delivery, "mous", None) or []) + [
            e.mous for e in self.explorer.ebs if e.mous is not None
        ]
        return next((m for m in ms if m.uid == uid), None)

    def _show(self, html_doc: str, title: str) -> None:
        with self.widget.hold_trait_notifications():
            self.widget.page_html = html_doc
            self.widget.page_title = title
            wl = self.mous.weblog if self.mous is not None else None
            self.widget.nav = [
                {"label": label, "key": key}
                for label, key in WEBLOG_NAV
                if wl is not None and (Path(wl.html) / key).is_file()
            ]

    def open(self, kind: str, key: str) -> None:
        """Show a stage (``key`` '<mous uid>:<n>'), follow a weblog link (``key`` a path in the weblog), or go back."""
        if kind == "back":
            if len(self.history) > 1:
                self.history.pop()
                self.mous, path = self.history.pop()
                self.open("link", path)
            return
        if kind == "stage":
            uid, n = key.rsplit(":", 1)
            m = self._mous(uid)
            if m is None or m.weblog is None:
                self._show(_message_page("No weblog in this package for that stage."), f"stage {n}")
                return
            self.mous = m
            try:
                stage = m.weblog.stage(int(n))
                doc = m.weblog.stage_html(int(n))
            except KeyError:
                self._show(_message_page(f"The weblog has no page for stage {n}."), f"stage {n}")
                return
            except AlmaviewError as err:
                self._show(_message_page(str(err)), f"stage {n}")
                return
            self.path = f"stage{int(n)}/t2-4m_details.html"
            self.history.append((m, self.path))
            self._show(doc, f"Stage {stage.number}: {stage.task}")
            return
        if self.mous is None:  # a link before any stage: the first weblog of the package
            self.mous = next(
                (m for m in getattr(self.explorer.delivery, "mous", []) or [] if m.weblog is not None), None
            )
        wl = self.mous.weblog if self.mous is not None else None
        if wl is None:
            self._show(_message_page("No weblog in this package."), "")
            return
        try:
            path = wl.resolve(key)
            if posixpath.splitext(path)[1].lower() in (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"):
                n = (self.widget.plot or {}).get("n", 0) + 1
                self.widget.plot = {"src": wl.image_uri(path), "name": posixpath.basename(path), "n": n}
                return
            doc = wl.page_html(path)
        except AlmaviewError as err:
            self._show(_message_page(f"Not shown: {err}"), key[:80])
            return
        self.path = path
        self.history.append((self.mous, path))
        stage = path.split("/", 1)[0]
        titles = {k: label for label, k in WEBLOG_NAV}
        if stage.startswith("stage") and stage[5:].isdigit():
            s = next((x for x in wl.stages if x.number == int(stage[5:])), None)
            title = f"Stage {stage[5:]}: {s.task}" if s is not None else path
        else:
            title = titles.get(path, path)
        self._show(doc, title)


class _FallbackBrowser(W.VBox):
    """ipywidgets-only browser (a Select over the flattened tree + an HTML page)."""

    def __init__(self, tree: list[dict]):
        import traitlets

        items: list[tuple[str, dict]] = []

        def walk(nodes: list[dict], depth: int) -> None:
            for nd in nodes:
                items.append(("  " * depth + nd["label"], nd))
                walk(nd.get("children", []), depth + 1)

        walk(tree, 0)
        self._items = items
        self._select = W.Select(
            options=[(lbl, i) for i, (lbl, _) in enumerate(items)],
            rows=16,
            description="delivery",
            layout=W.Layout(width="480px"),
        )
        self._page = W.HTML()
        super().__init__([self._select, self._page])
        self.add_traits(
            clicked=traitlets.Dict({}),
            page_html=traitlets.Unicode(""),
            page_title=traitlets.Unicode(""),
            nav=traitlets.List([]),
            plot=traitlets.Dict({}),
        )
        self._select.observe(lambda ch: setattr(self, "clicked", {**items[ch["new"]][1], "n": ch["new"]}), "value")
        # no anywidget, no sandboxed frame: the page is not shown (its HTML is never put into the notebook)
        self.observe(
            lambda ch: setattr(
                self._page,
                "value",
                f"<b>{html.escape(self.page_title)}</b>: install anywidget to see the weblog page here",
            ),
            "page_html",
        )

"""The delivery/weblog browser: a tree of the package (member OUS, EBs, caltables, images, weblog stages) with QA
colours. Clicking an EB or caltable opens it in the explorer; a weblog stage shows its original page inline.

The front end is an anywidget ES module + CSS (sources in the repository's top-level ``widgets/`` folder,
packaged as ``almaview/widgets/frontend/``). Without anywidget, a plain ipywidgets list does the same job.
"""

from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path
from typing import Any

import ipywidgets as W

from ..delivery.model import score_band

_PAGE_BYTES = 4_000_000  #: inline images up to this many bytes per stage page


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
    raise FileNotFoundError(f"almaview front-end file {name!r} is missing from this installation "
                            "(expected in almaview/widgets/frontend/); reinstall almaview")


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
            cts = [{"id": f"ct:{n}", "label": f"{k}: {n}", "kind": "caltable", "key": n, "children": []}
                   for n, k in sorted(e.caltables.items(), key=lambda kv: (kv[1], kv[0]))]
            children.append({"id": f"eb:{e.uid}", "label": f"EB {e.uid}", "kind": "eb", "key": e.uid,
                             "title": e.ms or "", "children": cts})
        imgs = [{"id": f"im:{i.name}", "label": i.name, "kind": "image", "key": i.source, "children": []}
                for i in m.images]
        if imgs:
            children.append({"id": f"images:{m.uid}", "label": f"images ({len(imgs)})", "kind": "folder", "key": "",
                             "children": imgs})
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
                stages.append({"id": f"st:{m.uid}:{n}", "label": f"{n}. {task}" + (f" ({score:.2f})" if score is not None
                                                                                     else ""),
                               "kind": "stage", "key": f"{m.uid}:{n}", "colour": c, "title": f"{b}: {reason}",
                               "children": []})
        if stages:
            children.append({"id": f"weblog:{m.uid}", "label": "weblog stages", "kind": "folder", "key": "",
                             "children": stages})
        out.append({"id": f"mous:{m.uid}", "label": f"member OUS {m.uid}", "kind": "mous", "key": "",
                    "colour": colour, "title": f"QA {band}", "children": children})
    if not out:  # an MS or EB without a package
        out = [{"id": f"eb:{e.uid}", "label": f"EB {e.uid}", "kind": "eb", "key": e.uid, "children": [
            {"id": f"ct:{n}", "label": f"{k}: {n}", "kind": "caltable", "key": n, "children": []}
            for n, k in sorted(e.caltables.items())]} for e in ebs]
    return out


_SCRIPT = re.compile(r"<(script|link|iframe|object|embed|style)\b.*?(</\1>|/?>)", re.S | re.I)
_ON = re.compile(r"\son\w+\s*=\s*(\"[^\"]*\"|'[^']*')", re.I)
_IMG = re.compile(r"(<img\b[^>]*?\bsrc\s*=\s*)([\"'])([^\"']+)\2", re.I)
_HREF = re.compile(r"(<a\b[^>]*?)\shref\s*=\s*([\"'])[^\"']*\2", re.I)
_BODY = re.compile(r"<body\b[^>]*>(.*)</body>", re.S | re.I)


def stage_page_html(stage: Any, *, max_bytes: int = _PAGE_BYTES) -> str:
    """A weblog stage page made safe and self-contained for inline display: scripts/styles/handlers removed,
    links disabled, its PNGs inlined as data URIs (up to ``max_bytes``), plus any stage plots it does not show.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> stage_page_html(SimpleNamespace(page=None, plots=[], number=3, task="hifa_x", description=""))[:25]
    '<h4>Stage 3: hifa_x</h4><'
    """
    budget = [max_bytes]
    used: set[str] = set()

    def inline(path: Path) -> str | None:
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if len(data) > budget[0]:
            return None
        budget[0] -= len(data)
        used.add(os.path.realpath(path))
        return "data:image/png;base64," + base64.b64encode(data).decode()

    head = f"<h4>Stage {stage.number}: {html.escape(stage.task)}</h4>"
    body = ""
    page = getattr(stage, "page", None)
    if page is not None and Path(page).is_file():
        text = Path(page).read_text(errors="replace")
        m = _BODY.search(text)
        body = m.group(1) if m else text
        body = _ON.sub("", _SCRIPT.sub("", body))
        body = _HREF.sub(r"\1", body)

        def img(mt: re.Match) -> str:
            src = mt.group(3)
            uri = None if src.startswith(("http:", "https:", "data:")) else inline(Path(page).parent / src)
            return f"{mt.group(1)}{mt.group(2)}{uri or ''}{mt.group(2)}"

        body = _IMG.sub(img, body)
    extra = []
    for p in getattr(stage, "plots", []) or []:
        if os.path.realpath(p) in used:
            continue
        uri = inline(Path(p))
        if uri:
            extra.append(f"<figure><img src='{uri}' alt='{html.escape(Path(p).name)}'/>"
                         f"<figcaption>{html.escape(Path(p).name)}</figcaption></figure>")
    return head + f"<div class='almaview-stage'>{body}</div>" + "".join(extra)


def _widget_class() -> Any:
    import anywidget
    import traitlets

    class DeliveryBrowser(anywidget.AnyWidget):
        """The anywidget tree (front end: widgets/browser.js, widgets/browser.css)."""

        _esm = frontend_file("browser.js")
        _css = frontend_file("browser.css")
        tree = traitlets.List([]).tag(sync=True)
        clicked = traitlets.Dict({}).tag(sync=True)
        page_html = traitlets.Unicode("").tag(sync=True)

    return DeliveryBrowser


_CLASS: list[Any] = []


def delivery_browser(explorer: Any) -> W.Widget:
    """The browser widget wired to an explorer (clicks open EBs/caltables in it; stages show their page).

    Examples
    --------
    >>> b = delivery_browser(av.explore(d))   # doctest: +SKIP
    >>> b.clicked = {"kind": "eb", "key": d.ebs[1].uid, "n": 1}   # doctest: +SKIP
    """
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

    def clicked(change: dict) -> None:
        item = change["new"] or {}
        kind, key = item.get("kind"), item.get("key")
        if not key:
            return
        if kind == "stage":
            w.page_html = _stage_html(explorer, key)
        elif kind == "image":
            explorer.image = key
            w.page_html = f"<p>image <code>{html.escape(os.path.basename(key))}</code> selected " \
                          f"(<code>explorer.image</code>).</p>"
            viewer_box.children = [_image_viewer(key)]
        elif kind in ("eb", "caltable"):
            explorer.open_item(kind, key)

    w.observe(clicked, "clicked")
    explorer.browser = w
    box = W.VBox([w, viewer_box])
    box.browser = w  # type: ignore[attr-defined]
    return box


def _image_viewer(source: str) -> W.Widget:
    """The image viewer (almaview.widgets.image_viewer) for a real image path; a note otherwise."""
    if not os.path.exists(source):
        return W.HTML(f"<i>{html.escape(os.path.basename(source))} is still inside its archive; "
                      "extract the products to view it.</i>")
    try:
        from .image_viewer import ImageViewer

        return ImageViewer(source).widget()
    except Exception as err:  # the viewer is another panel's concern: say why, keep the browser working
        return W.HTML(f"<i>cannot show {html.escape(os.path.basename(source))}: {html.escape(str(err))}</i>")


def _stage_html(explorer: Any, key: str) -> str:
    mous_uid, n = key.rsplit(":", 1)
    m = next((e.mous for e in explorer.ebs if e.mous is not None and e.mous.uid == mous_uid), None)
    if m is None or m.weblog is None:
        return "<i>No weblog in this package for that stage.</i>"
    try:
        return stage_page_html(m.weblog.stage(int(n)))
    except KeyError:
        return f"<i>The weblog has no page for stage {html.escape(n)}.</i>"


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
        self._select = W.Select(options=[(lbl, i) for i, (lbl, _) in enumerate(items)], rows=16,
                                description="delivery", layout=W.Layout(width="480px"))
        self._page = W.HTML()
        super().__init__([self._select, self._page])
        self.add_traits(clicked=traitlets.Dict({}), page_html=traitlets.Unicode(""))
        self._select.observe(lambda ch: setattr(self, "clicked", {**items[ch["new"]][1], "n": ch["new"]}), "value")
        self.observe(lambda ch: setattr(self._page, "value", ch["new"]), "page_html")

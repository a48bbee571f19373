"""The pipeline weblog: its index (stages, QA scores and colours, plots, pages) and its pages made safe to show.

A weblog archive (``*.weblog.tgz``) holds ``pipeline-<timestamp>/html/`` with
``index.html``, ``t1-1.html`` (overview), ``t1-4.html`` (task summaries: one
table row per stage, linking ``t2-4m.html?sidebar=sidebar_stage<N>``, with the
task description and a QA score badge) and one ``stage<N>/`` directory per
stage holding ``t2-4m_details.html``, further pages and the PNG plots.
:func:`index_weblog` reads that tree (after extraction into the cache) so an
explorer can show the original plot beside the interactive one.

A weblog comes from outside (an archive, a colleague's copy): nothing in it may
run, and nothing outside its own ``html/`` directory may be read through it.
:meth:`Weblog.page_html` returns a page as a self-contained document for a
sandboxed ``<iframe srcdoc>``: sanitised with ``nh3`` (the Ammonia sanitiser:
no scripts, no ``on…`` handlers, no ``javascript:``/external links, no
``<meta refresh>``/``<base>``/``<svg>``), a content security policy that allows
no network at all, links rewritten to paths inside the weblog (a viewer follows
them itself) and images inlined as ``data:`` URIs, read only when they are
regular files inside the weblog's directory. Every page is parsed in linear time
(``nh3``'s html5ever for pages shown; a tag scanner that never backtracks for the index).
"""

from __future__ import annotations

import base64
import os
import posixpath
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import PathNotFound, UnsafeWeblogPath
from .model import Scored

#: A weblog page (HTML) is read up to this many bytes; larger ones are refused.
MAX_PAGE_BYTES = 10_000_000
#: An image is inlined up to this many bytes.
MAX_IMAGE_BYTES = 20_000_000
#: Inlined images per page, in bytes, before the rest are left as links that open on click.
PAGE_IMAGE_BUDGET = 8_000_000

_STAGE = re.compile(r"sidebar_stage(\d+)")
_STAGE_DIR = re.compile(r"stage(\d+)")
_LEADING_NUMBER = re.compile(r"^\d+\.\s*")
_TASK = re.compile(r"\b(h[a-z]*_[a-z_]+|[a-z]+_[a-z_]+)\b")
_IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
}
_PAGE_TYPES = (".html", ".htm")

#: What a shown page may load: nothing from the network, images only as data URIs, inline styles only.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)

# The weblog's look (the pipeline's pages use Bootstrap; their own CSS is not loaded into the frame).
_PAGE_CSS = """
body{font-family:Helvetica,Arial,sans-serif;font-size:13px;margin:12px;color:#222}
table{border-collapse:collapse;margin:6px 0} td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
a{color:#1f77b4;cursor:pointer} img{max-width:100%;height:auto;margin:4px;border:1px solid #ddd;cursor:zoom-in}
.progress{width:120px;background:#eee} .progress-bar{color:#fff;padding:0 4px}
.progress-bar-success{background:#5cb85c} .progress-bar-info{background:#5bc0de}
.progress-bar-warning{background:#f0ad4e} .progress-bar-danger{background:#d9534f}
.badge{border-radius:8px;padding:1px 6px;color:#fff;background:#777}
.almaview-missing{color:#a94442;font-style:italic}
"""

_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "center",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "s",
    "section",
    "small",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "tt",
    "u",
    "ul",
}
_DROP_WITH_CONTENT = {
    "script",
    "style",
    "title",
    "svg",
    "math",
    "template",
    "iframe",
    "object",
    "noscript",
    "textarea",
    "select",
    "button",
}
_ATTRS = {
    "*": {"class", "id", "title", "align", "role", "aria-valuenow", "aria-valuemin", "aria-valuemax", "style"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
}
_STYLE_PROPS = {
    "width",
    "height",
    "color",
    "background",
    "background-color",
    "text-align",
    "font-weight",
    "font-style",
    "white-space",
    "padding",
    "margin",
    "border",
    "vertical-align",
    "display",
}
_UNSAFE_STYLE = re.compile(r"url|expression|@|\\|image", re.IGNORECASE)


@dataclass
class WeblogStage(Scored):
    """One pipeline stage as the weblog shows it."""

    number: int
    task: str
    description: str
    score: float | None
    page: Path | None  #: stage<N>/t2-4m_details.html
    plots: list[Path] = field(default_factory=list)
    pages: list[Path] = field(default_factory=list)


@dataclass
class Weblog:
    """A pipeline weblog extracted in the cache."""

    html: Path  #: the html/ directory
    index: Path | None
    by_task: Path | None  #: t1-4.html
    stages: list[WeblogStage] = field(default_factory=list)

    def stage(self, number: int) -> WeblogStage:
        """Return stage ``number``.

        Examples
        --------
        >>> Weblog(Path("html"), None, None, [WeblogStage(3, "hifa_x", "", None, None)]).stage(3).task
        'hifa_x'
        """
        for s in self.stages:
            if s.number == number:
                return s
        raise KeyError(f"weblog {self.html} has no stage {number}; stages: {[s.number for s in self.stages]}")

    # ------------------------------------------------------------ pages made safe
    def resolve(self, ref: str, *, base: str = "") -> str:
        """The weblog page or file a link ``ref`` (relative to the page ``base``) points to, as a path relative to
        the ``html/`` directory ('stage3/t2-4m_details.html'). The pipeline's ``t2-4m.html?sidebar=sidebar_stage<N>``
        links name the stage's details page. Raises :class:`~almaview.errors.UnsafeWeblogPath` for a link that leaves
        the weblog (``..``, an absolute path, another scheme, or a symbolic link pointing out).

        Examples
        --------
        >>> wl = Weblog(Path("html"), None, None)
        >>> wl.resolve("t2-4m.html?sidebar=sidebar_stage3&subpage=t2-4m_details.html")
        'stage3/t2-4m_details.html'
        >>> wl.resolve("../t1-4.html", base="stage3/t2-4m_details.html")
        't1-4.html'
        """
        parts = urlsplit(ref.strip())
        if parts.scheme or parts.netloc:
            raise UnsafeWeblogPath(
                self.html / posixpath.dirname(base),
                f"the link {ref[:200]!r} leaves the weblog "
                "(another scheme or host); only pages and plots inside it are shown",
            )
        path = unquote(parts.path)
        if posixpath.basename(path) == "t2-4m.html":
            query = parse_qs(parts.query)
            m = _STAGE.fullmatch((query.get("sidebar") or [""])[0])
            if m:
                sub = posixpath.basename((query.get("subpage") or ["t2-4m_details.html"])[0]) or "t2-4m_details.html"
                path = posixpath.join(posixpath.dirname(path), f"stage{m.group(1)}", sub)
        if not path:
            path = posixpath.basename(base) or "index.html"
        if path.startswith("/") or "\\" in path or "\0" in path:
            raise UnsafeWeblogPath(self.html, f"the link {ref[:200]!r} is not a path inside the weblog")
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(base), path))
        if rel == ".." or rel.startswith(("../", "/")):
            raise UnsafeWeblogPath(
                self.html / rel,
                f"the link {ref[:200]!r} (in {base or 'the weblog'}) points "
                f"outside the weblog's directory {self.html}; a weblog shows only its own files",
            )
        root = os.path.realpath(self.html)
        real = os.path.realpath(os.path.join(root, rel))
        if os.path.commonpath([root, real]) != root:
            raise UnsafeWeblogPath(
                self.html / rel,
                f"is a symbolic link to {real}, outside the weblog's directory; "
                "a weblog shows only its own files (the archive was altered)",
            )
        return rel

    def read(self, rel: str, *, limit: int = MAX_PAGE_BYTES) -> bytes:
        """The bytes of the weblog file ``rel`` (see :meth:`resolve`): only a regular file inside the weblog, at
        most ``limit`` bytes (a FIFO, a device or a link out raises :class:`~almaview.errors.UnsafeWeblogPath`).

        Examples
        --------
        >>> wl.read("t1-4.html")[:15]       # doctest: +SKIP
        b'<!DOCTYPE html>'
        """
        rel = self.resolve(rel)
        path = os.path.join(os.path.realpath(self.html), rel)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise PathNotFound(path, "is not in the weblog (a page or plot its links name is missing)") from None
        except OSError as err:
            raise UnsafeWeblogPath(path, f"cannot be opened as a weblog file: {err.strerror}") from None
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise UnsafeWeblogPath(
                    path, "is not a regular file (a FIFO, device or directory); a weblog page or plot must be a file"
                )
            if st.st_size > limit:
                raise UnsafeWeblogPath(path, f"is {st.st_size} bytes, more than the {limit} a weblog file may have")
            data = f.read(limit + 1)
        if len(data) > limit:
            raise UnsafeWeblogPath(path, f"is more than the {limit} bytes a weblog file may have")
        return data

    def image_uri(self, rel: str, *, limit: int = MAX_IMAGE_BYTES) -> str:
        """A weblog image (PNG, JPEG, GIF, SVG) as a ``data:`` URI, read as :meth:`read` reads.

        Examples
        --------
        >>> wl.image_uri("stage5/tsys.png")[:22]   # doctest: +SKIP
        'data:image/png;base64,'
        """
        rel = self.resolve(rel)
        mime = _IMAGE_TYPES.get(posixpath.splitext(rel)[1].lower())
        if mime is None:
            raise UnsafeWeblogPath(self.html / rel, f"is not an image ({', '.join(sorted(_IMAGE_TYPES))})")
        return f"data:{mime};base64," + base64.b64encode(self.read(rel, limit=limit)).decode()

    def page_html(
        self,
        ref: str = "index.html",
        *,
        base: str = "",
        image_budget: int = PAGE_IMAGE_BUDGET,
        extra_plots: list[str] | None = None,
    ) -> str:
        """The weblog page ``ref`` as a self-contained HTML document for a sandboxed ``<iframe srcdoc>``.

        Sanitised by ``nh3`` (no script, handler, ``javascript:``, ``<meta>``, ``<base>``, ``<svg>``, form or
        external resource survives); a content security policy that loads nothing from any network; every link
        rewritten to the weblog path it names (``href`` relative to ``html/``) or removed when it leaves the weblog;
        images inlined as ``data:`` URIs up to ``image_budget`` bytes (the rest keep their link, to open on click).
        ``extra_plots``: more plots (weblog paths) to show after the page, e.g. the stage's plots the page lacks.

        Examples
        --------
        >>> doc = wl.page_html("t1-4.html")     # doctest: +SKIP
        >>> "Content-Security-Policy" in doc and "<script" not in doc   # doctest: +SKIP
        True
        """
        import html as htmllib

        import nh3

        rel = self.resolve(ref, base=base)
        if not rel.lower().endswith(_PAGE_TYPES):
            raise UnsafeWeblogPath(self.html / rel, "is not a weblog page (.html)")
        text = self.read(rel).decode("utf-8", "replace")
        budget = [image_budget]
        shown: set[str] = set()

        def image(src: str) -> str | None:
            try:
                target = self.resolve(src, base=rel)
                if target in shown:
                    pass
                elif os.path.getsize(os.path.join(self.html, target)) > budget[0]:
                    return None
                uri = self.image_uri(target)
            except (OSError, UnsafeWeblogPath, PathNotFound):
                return None
            if target not in shown:
                budget[0] -= len(uri) * 3 // 4
                shown.add(target)
            return uri

        def keep(tag: str, attr: str, value: str) -> str | None:
            if attr == "href":
                try:
                    return self.resolve(value, base=rel) if tag == "a" else None
                except UnsafeWeblogPath:
                    return None
            if attr == "src":
                return image(value) if tag == "img" else None
            if attr == "style":
                return None if _UNSAFE_STYLE.search(value) else value
            return value

        body = nh3.clean(
            text,
            tags=_TAGS,
            clean_content_tags=_DROP_WITH_CONTENT,
            attributes=_ATTRS,
            attribute_filter=keep,
            filter_style_properties=_STYLE_PROPS,
            url_schemes=set(),
            link_rel=None,
            strip_comments=True,
        )
        extra = []
        for p in extra_plots or []:
            try:
                target = self.resolve(p)
            except UnsafeWeblogPath:
                continue
            if target in shown:
                continue
            name = htmllib.escape(posixpath.basename(target))
            uri = image(target)
            img = f"<img src='{uri}' alt='{name}'>" if uri else f"<span class='almaview-missing'>{name}</span>"
            extra.append(
                f"<figure><a href='{htmllib.escape(target)}'>{img}</a><figcaption>{name}</figcaption></figure>"
            )
        return (
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
            f'<style>{_PAGE_CSS}</style></head><body data-almaview-page="{htmllib.escape(rel)}">'
            f"{body}{''.join(extra)}</body></html>"
        )

    def stage_html(self, number: int, **kwargs) -> str:
        """Stage ``number``'s details page (see :meth:`page_html`), followed by its plots the page does not show.

        Examples
        --------
        >>> doc = wl.stage_html(5)       # doctest: +SKIP
        """
        s = self.stage(number)
        root = Path(self.html)
        plots = [p.relative_to(root).as_posix() for p in s.plots if p.is_relative_to(root)]
        if s.page is None:
            return (
                self.page_html(f"t2-4m.html?sidebar=sidebar_stage{number}", extra_plots=plots, **kwargs)
                if (root / f"stage{number}" / "t2-4m_details.html").is_file()
                else _empty_page(f"Stage {number}: {s.task}", plots, self, **kwargs)
            )
        return self.page_html(Path(s.page).relative_to(root).as_posix(), extra_plots=plots, **kwargs)


def _empty_page(title: str, plots: list[str], weblog: Weblog, **kwargs) -> str:
    """A stage without a details page: its title and plots, as :meth:`Weblog.page_html` would show them."""
    import html as htmllib

    uris = []
    for p in plots:
        try:
            uris.append(
                f"<figure><img src='{weblog.image_uri(p)}' alt='{htmllib.escape(p)}'>"
                f"<figcaption>{htmllib.escape(p)}</figcaption></figure>"
            )
        except (UnsafeWeblogPath, PathNotFound):
            continue
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        f"<style>{_PAGE_CSS}</style></head><body><h1>{htmllib.escape(title)}</h1>"
        f"<p>The weblog has no details page for this stage.</p>{''.join(uris)}</body></html>"
    )


_INDEX_NAMES = {"_files", "find_html_dir", "index_weblog"}


def __getattr__(name: str):  # the index reader lives in weblogindex, which imports this module: re-exported lazily
    if name in _INDEX_NAMES:
        from . import weblogindex

        return getattr(weblogindex, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

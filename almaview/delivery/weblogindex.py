"""Reading a weblog's index: the by-task page's stage rows (number, task, QA score badge), headings and plots,
in linear time (a tag scanner that never backtracks), into a :class:`~almaview.delivery.weblog.Weblog`.
"""

from __future__ import annotations

import os
import re
from html import unescape as htmllib_unescape
from pathlib import Path

from ..errors import PathNotFound, UnsafeWeblogPath
from .weblog import _LEADING_NUMBER, _PAGE_TYPES, _STAGE_DIR, _TASK, Weblog, WeblogStage


#: A tag: name and attributes up to the next '>' -- never across another '<', so each character is scanned a bounded
#: number of times whatever the input (no backtracking over the page: linear time).
_TAG_TOKEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)([^<>]*)>")
_VALUENOW = re.compile(r"""aria-valuenow\s*=\s*["']?\s*([-+0-9.eE]+)""", re.IGNORECASE)
_ROW_START = re.compile(r"<tr\b", re.IGNORECASE)
_HEADING_START = re.compile(r"<h[12](?:\s[^<>]*+)?>", re.IGNORECASE)
_HEADING_END = re.compile(r"</h[12]\s*>", re.IGNORECASE)
_ROW_END = re.compile(r"</tr\s*>", re.IGNORECASE)
_ANCHOR_END = re.compile(r"</a\s*>", re.IGNORECASE)
# A closed tag first (lookahead), then the first match inside it, atomic: no backtracking into a tag twice.
_STAGE_LINK = re.compile(r"<a\s(?=[^<>]*+>)(?>[^<>]*?sidebar_stage(\d+))[^<>]*+>", re.IGNORECASE)
_BADGE = re.compile(r"<(?=[^<>]*+>)(?>[^<>]*?\bbadge\b)[^<>]*+>\s*+([-+0-9.eE]+)\s*<", re.IGNORECASE)


def _uncommented(text: str) -> str:
    """``text`` without HTML comments (an unclosed one runs to the end), in one linear pass."""
    out, i = [], 0
    while True:
        j = text.find("<!--", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        k = text.find("-->", j + 4)
        if k < 0:
            return "".join(out)
        i = k + 3


def _attr(rx: re.Pattern, attrs: str) -> str | None:
    m = rx.search(attrs)
    if m is None:
        return None
    return next((g for g in m.groups() if g is not None), None)


def _by_task_rows(text: str) -> list[dict]:
    """The rows of the by-task page: stage number (from a ``sidebar_stage<N>`` link), the link's text, the score
    (``aria-valuenow`` of a progress bar, or a badge's text). Linear in the input: the page is cut at each ``<tr``
    (C-level split), and each row is searched by patterns that never cross a tag boundary."""
    rows = []
    for chunk in _ROW_START.split(_uncommented(text))[1:]:
        if "sidebar_stage" not in chunk:
            continue
        end = _ROW_END.search(chunk)
        row = chunk[: end.start()] if end else chunk
        row = row[row.find(">") + 1 :]  # the rest of the <tr ...> tag
        link = _STAGE_LINK.search(row)
        if link is None:
            continue
        close = _ANCHOR_END.search(row, link.end())
        anchor = row[link.end() : close.start() if close else len(row)]
        score = _attr(_VALUENOW, row)
        if score is None:
            b = _BADGE.search(row)
            score = b.group(1) if b else None
        text = _plain(anchor) or _plain(row)
        rows.append({"stage": int(link.group(1)), "anchor": [text], "text": [text], "score": score})
    return rows


def _plain(fragment: str) -> str:
    """Text of an HTML fragment (tags dropped, entities decoded, whitespace collapsed, at most 2000 characters)."""
    return " ".join(htmllib_unescape(_TAG_TOKEN.sub(" ", fragment[:100_000])).split())[:2000]


def _heading(text: str) -> str:
    """The text of a page's first ``<h1>`` or ``<h2>`` (linear, like :func:`_by_task_rows`)."""
    text = _uncommented(text)
    start = _HEADING_START.search(text)
    if start is None:
        return ""
    end = _HEADING_END.search(text, start.end())
    return _plain(text[start.end() : end.start() if end else len(text)])[:500]


def _words(parts: list[str], limit: int = 500) -> str:
    return " ".join(" ".join(parts).split())[:limit]


def find_html_dir(root: str | os.PathLike) -> Path | None:
    """Find ``pipeline-*/html`` (or an ``html`` holding ``t1-4.html``) under ``root``; links are not followed.

    Examples
    --------
    >>> find_html_dir("/no/such/dir") is None
    True
    """
    root = Path(root)
    if not root.is_dir():
        return None
    cands = sorted(p for p in root.glob("pipeline-*/html") if not p.is_symlink()) + sorted(
        p for p in root.glob("*/pipeline-*/html") if not p.is_symlink()
    )
    if cands:
        return cands[0]
    for top, dirs, files in os.walk(root):  # followlinks=False: never out of the extraction
        dirs.sort()
        if "t1-4.html" in files or (Path(top).name == "html" and "index.html" in files):
            return Path(top)
    return None


def _files(d: Path) -> list[Path]:
    """Regular files under ``d`` (symbolic links are not followed and not listed)."""
    out = []
    for top, dirs, files in os.walk(d):
        dirs.sort()
        for f in files:
            p = Path(top) / f
            if not p.is_symlink() and p.is_file():
                out.append(p)
    return sorted(out)


def index_weblog(html_dir: str | os.PathLike) -> Weblog:
    """Index a weblog ``html/`` directory: stages with number, task, score, plots and pages.

    Linear in the size of its pages (a by-task page of 40,000 rows takes well under a second).

    Examples
    --------
    >>> wl = index_weblog("cache/pipeline-20200101T000000/html")   # doctest: +SKIP
    >>> [(s.number, s.task, s.colour) for s in wl.stages][:2]       # doctest: +SKIP
    [(1, 'hifa_importdata', 'green'), (2, 'hifa_flagdata', 'blue')]
    """
    html = Path(html_dir)
    if not html.is_dir():
        raise PathNotFound(html, "is not a weblog html directory (expected pipeline-<timestamp>/html)")
    wl = Weblog(html=html, index=None, by_task=None)
    t14 = html / "t1-4.html"
    stages: dict[int, WeblogStage] = {}
    if t14.is_file():
        try:
            by_task = wl.read("t1-4.html").decode("utf-8", "replace")
        except UnsafeWeblogPath:  # not a regular file, or too large: the stages still come from their directories
            by_task = ""
        for row in _by_task_rows(by_task):
            if row["stage"] is None:
                continue
            number = row["stage"]
            desc = _LEADING_NUMBER.sub("", _words(row["anchor"] or row["text"]))
            task = _TASK.search(desc)
            score = None
            if row["score"] is not None:
                try:
                    score = float(row["score"])
                except ValueError:
                    score = None
            stages[number] = WeblogStage(number, task.group(1) if task else desc.split(":")[0], desc, score, None)
    for d in sorted(html.iterdir()):
        m = _STAGE_DIR.fullmatch(d.name)
        if not (m and d.is_dir() and not d.is_symlink()):
            continue
        n = int(m.group(1))
        st = stages.get(n)
        details = d / "t2-4m_details.html"
        has_page = details.is_file() and not details.is_symlink()
        if st is None:
            desc = ""
            if has_page:
                try:
                    desc = _LEADING_NUMBER.sub(
                        "", _heading(wl.read(f"{d.name}/t2-4m_details.html").decode("utf-8", "replace"))
                    )
                except (UnsafeWeblogPath, PathNotFound):
                    desc = ""
            task = _TASK.search(desc)
            st = stages[n] = WeblogStage(n, task.group(1) if task else "", desc, None, None)
        st.page = details if has_page else None
        files = _files(d)
        st.plots = [p for p in files if p.suffix.lower() == ".png"]
        st.pages = [p for p in files if p.suffix.lower() in _PAGE_TYPES]
    index = html / "index.html"
    wl.index = index if index.is_file() else None
    wl.by_task = t14 if t14.is_file() else None
    wl.stages = [stages[k] for k in sorted(stages)]
    return wl

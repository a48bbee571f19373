"""The pipeline weblog index: stages, their QA scores and colours, their plots and pages.

A weblog archive (``*.weblog.tgz``) holds ``pipeline-<timestamp>/html/`` with
``index.html``, ``t1-1.html`` (overview), ``t1-4.html`` (task summaries: one
table row per stage, linking ``t2-4m.html?sidebar=sidebar_stage<N>``, with the
task description and a QA score badge) and one ``stage<N>/`` directory per
stage holding ``t2-4m_details.html``, further pages and the PNG plots.
:func:`index_weblog` reads that tree (after extraction into the cache) so an
explorer can show the original plot beside the interactive one.
"""

from __future__ import annotations

import html as htmllib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PathNotFound
from .model import Scored

_ROW = re.compile(r"<tr\b.*?</tr>", re.S | re.I)
_STAGE = re.compile(r"sidebar_stage(\d+)")
_ANCHOR = re.compile(r"<a\b[^>]*sidebar_stage\d+[^>]*>(.*?)</a>", re.S | re.I)
_VALUENOW = re.compile(r'aria-valuenow\s*=\s*"([-0-9.eE]+)"')
_BADGE = re.compile(r'class="badge[^"]*"[^>]*>\s*([-0-9.]+)\s*<', re.I)
_TASK = re.compile(r"\b(h[a-z]*_[a-z_]+|[a-z]+_[a-z_]+)\b")
_TAGS = re.compile(r"<[^>]+>")


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
        """Return stage ``number``."""
        for s in self.stages:
            if s.number == number:
                return s
        raise KeyError(f"weblog {self.html} has no stage {number}; stages: {[s.number for s in self.stages]}")


def _text(fragment: str) -> str:
    return " ".join(htmllib.unescape(_TAGS.sub(" ", fragment)).split())


def find_html_dir(root: str | os.PathLike) -> Path | None:
    """Find ``pipeline-*/html`` (or an ``html`` holding ``t1-4.html``) under ``root``.

    Examples
    --------
    >>> find_html_dir("/no/such/dir") is None
    True
    """
    root = Path(root)
    if not root.is_dir():
        return None
    cands = sorted(root.glob("pipeline-*/html")) + sorted(root.glob("*/pipeline-*/html"))
    if not cands:
        cands = [p.parent for p in root.rglob("t1-4.html")] + [p.parent for p in root.rglob("index.html")
                                                               if p.parent.name == "html"]
    return cands[0] if cands else None


def index_weblog(html_dir: str | os.PathLike) -> Weblog:
    """Index a weblog ``html/`` directory: stages with number, task, score, plots and pages.

    Examples
    --------
    >>> wl = index_weblog("cache/pipeline-20200101T000000/html")   # doctest: +SKIP
    >>> [(s.number, s.task, s.colour) for s in wl.stages][:2]       # doctest: +SKIP
    [(1, 'hifa_importdata', 'green'), (2, 'hifa_flagdata', 'blue')]
    """
    html = Path(html_dir)
    if not html.is_dir():
        raise PathNotFound(html, "is not a weblog html directory (expected pipeline-<timestamp>/html)")
    t14 = html / "t1-4.html"
    stages: dict[int, WeblogStage] = {}
    if t14.is_file():
        text = t14.read_text(errors="replace")
        for row in _ROW.findall(text):
            m = _STAGE.search(row)
            if not m:
                continue
            number = int(m.group(1))
            a = _ANCHOR.search(row)
            desc = _text(a.group(1)) if a else _text(row)
            desc = re.sub(r"^\d+\.\s*", "", desc)
            task = _TASK.search(desc)
            score = None
            for rx in (_VALUENOW, _BADGE):
                s = rx.search(row)
                if s:
                    try:
                        score = float(s.group(1))
                    except ValueError:
                        score = None
                    break
            stages[number] = WeblogStage(number, task.group(1) if task else desc.split(":")[0], desc, score, None)
    for d in html.glob("stage*"):
        m = re.fullmatch(r"stage(\d+)", d.name)
        if not (m and d.is_dir()):
            continue
        n = int(m.group(1))
        st = stages.get(n)
        details = d / "t2-4m_details.html"
        if st is None:
            desc = ""
            if details.is_file():
                h = re.search(r"<h[12][^>]*>(.*?)</h[12]>", details.read_text(errors="replace"), re.S | re.I)
                desc = _text(h.group(1)) if h else ""
            task = _TASK.search(desc)
            st = stages[n] = WeblogStage(n, task.group(1) if task else "", desc, None, None)
        st.page = details if details.is_file() else None
        st.plots = sorted(p for p in d.rglob("*") if p.suffix.lower() == ".png")
        st.pages = sorted(p for p in d.rglob("*") if p.suffix.lower() in (".html", ".htm"))
    index = html / "index.html"
    return Weblog(html=html, index=index if index.is_file() else None, by_task=t14 if t14.is_file() else None,
                  stages=[stages[k] for k in sorted(stages)])

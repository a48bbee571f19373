"""Hostile weblogs: a stage page that tries to run scripts, leave the sandbox, load from a network, or read files
outside the weblog; an index built to make a parser slow. Each attack is built with the standard library and the
outcome is checked by an independent parse of what almaview returns (Python's html.parser), never by the code under
test. The weblog directory is byte-identical afterwards."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from almaview.delivery.weblog import CONTENT_SECURITY_POLICY, index_weblog
from almaview.errors import AlmaviewError, PathNotFound, UnsafeWeblogPath

# a 1x1 PNG (real bytes, as matplotlib/PIL write them) and a "secret" outside the weblog
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
SECRET = b"\x89PNG\r\n\x1a\n-- almaview test secret outside the weblog --"

HOSTILE = """<!DOCTYPE html><html><head>
<meta http-equiv="refresh" content="0;url=http://evil.example/">
<base href="http://evil.example/">
<link rel="stylesheet" href="http://evil.example/x.css">
<style>@import url(http://evil.example/y.css); body{background:url(http://evil.example/bg.png)}</style>
<script>alert("script")</script>
</head><body onload=alert('body')>
<h1>7. hifa_tsysflag: Flag Tsys calibration</h1>
<p onmouseover=alert(1) id=p1>unquoted handler</p>
<img src=plot.png onerror=alert(2) alt=good>
<IMG SRC="plot.png" OnLoad="alert(3)">
<svg onload=alert(4)><circle r=5 /></svg>
<math><mi xlink:href="javascript:alert(5)">x</mi></math>
<a href="javascript:alert(6)">js link</a>
<a href=JaVaScRiPt:alert(7)>js link 2</a>
<a href="&#106;avascript:alert(8)">js link 3</a>
<a href="data:text/html,<script>alert(9)</script>">data link</a>
<a href="http://evil.example/leak">external</a>
<a href="//evil.example/leak">protocol-relative</a>
<a href="../t1-4.html">By Task</a>
<a href="../../../etc/passwd">escape</a>
<img src="../../secret.png" alt=escape>
<img src="/etc/passwd" alt=absolute>
<img src="link.png" alt=symlink>
<img src="fifo.png" alt=fifo>
<img src="http://127.0.0.1:9/leak.png" alt=network>
<img srcset="http://evil.example/a.png 1x" alt=srcset>
<div style="background-image:url(http://evil.example/c.png);width:10px">styled</div>
<iframe src="http://evil.example/"></iframe><object data="http://evil.example/o"></object>
<embed src="http://evil.example/e"><form action="http://evil.example/f"><input name=q></form>
<template><script>alert(10)</script></template>
<noscript><img src=x onerror=alert(11)></noscript>
</body></html>
"""


class Walk(HTMLParser):
    """Every element and attribute of a document, as Python's own parser reads it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)


def walk(doc: str) -> Walk:
    w = Walk()
    w.feed(doc)
    w.close()
    return w


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for top, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files + dirs):
            p = Path(top) / name
            h.update(str(p.relative_to(root)).encode())
            if p.is_symlink():
                h.update(os.readlink(p).encode())
            elif p.is_file():
                h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def hostile_weblog(tmp_path) -> Path:
    """pipeline-x/html with a by-task page, one honest and one hostile stage, a secret beside the weblog, a symlink
    out of it, and a FIFO named like a plot."""
    (tmp_path / "secret.png").write_bytes(SECRET)
    html = tmp_path / "pipeline-20240101T000000" / "html"
    (html / "stage7").mkdir(parents=True)
    (html / "stage3").mkdir()
    (html / "index.html").write_text("<html><body><h1>Pipeline Summary</h1></body></html>")
    (html / "t1-4.html").write_text(
        "<html><body><table>"
        "<tr><td><a href='t2-4m.html?sidebar=sidebar_stage3'>3. <b>hifa_flagdata</b>: flagging</a></td>"
        "<td><div class='progress-bar' aria-valuenow='0.66'>0.66</div></td></tr>"
        "<tr><td><a href='t2-4m.html?sidebar=sidebar_stage7'>7. <b>hifa_tsysflag</b>: Tsys</a></td>"
        "<td><span class='badge'>0.4</span></td></tr></table></body></html>"
    )
    (html / "stage3" / "t2-4m_details.html").write_text(
        "<html><body><h1>3. hifa_flagdata</h1><a href='plot3.png'><img src='plot3.png'></a></body></html>"
    )
    (html / "stage3" / "plot3.png").write_bytes(PNG)
    (html / "stage7" / "t2-4m_details.html").write_text(HOSTILE)
    (html / "stage7" / "plot.png").write_bytes(PNG)
    os.symlink("../../../secret.png", html / "stage7" / "link.png")
    os.mkfifo(html / "stage7" / "fifo.png")
    return html


def test_hostile_stage_page_keeps_no_script_handler_or_external_reference(hostile_weblog):
    before = tree_hash(hostile_weblog.parent.parent)
    wl = index_weblog(hostile_weblog)
    t0 = time.perf_counter()
    doc = wl.stage_html(7)
    assert time.perf_counter() - t0 < 10  # the FIFO was not opened for reading (that would block forever)
    w = walk(doc)
    tags = [t for t, _ in w.elements]
    for bad in (
        "script",
        "iframe",
        "object",
        "embed",
        "form",
        "input",
        "link",
        "base",
        "svg",
        "math",
        "template",
        "noscript",
    ):
        assert bad not in tags, f"<{bad}> survived"
    metas = [a for t, a in w.elements if t == "meta"]
    assert metas == [
        {"charset": "utf-8"},
        {"http-equiv": "Content-Security-Policy", "content": CONTENT_SECURITY_POLICY},
    ]  # ours only: no refresh
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY and "img-src data:" in CONTENT_SECURITY_POLICY
    for tag, attrs in w.elements:
        for name, value in attrs.items():
            assert not name.startswith("on"), f"<{tag} {name}> survived"
            assert name not in ("srcset", "xlink:href", "action", "data"), f"<{tag} {name}> survived"
            assert "javascript" not in (value or "").lower(), (tag, name, value)
            assert "evil.example" not in (value or ""), (tag, name, value)
            assert "127.0.0.1" not in (value or ""), (tag, name, value)
    assert "evil.example" not in "".join(w.text[1:])  # the text after our own <style>
    hrefs = [a["href"] for t, a in w.elements if t == "a" and "href" in a]
    assert hrefs == ["t1-4.html"]  # the one link inside the weblog, relative to html/; every other one removed
    srcs = [a.get("src") for t, a in w.elements if t == "img"]
    inlined = [base64.b64decode(s.split(",", 1)[1]) for s in srcs if s]
    assert all(s.startswith("data:image/png;base64,") for s in srcs if s)
    assert inlined == [PNG, PNG]  # plot.png twice; no secret (../.., symlink), no /etc/passwd, nothing from a FIFO
    assert base64.b64encode(SECRET).decode()[:40] not in doc
    assert tree_hash(hostile_weblog.parent.parent) == before


def test_links_resolve_inside_the_weblog_only(hostile_weblog):
    wl = index_weblog(hostile_weblog)
    assert (
        wl.resolve("t2-4m.html?sidebar=sidebar_stage7&ms=all&subpage=t2-4m_details.html") == "stage7/t2-4m_details.html"
    )
    assert wl.resolve("plot.png#x", base="stage7/t2-4m_details.html") == "stage7/plot.png"
    for ref in (
        "../secret.png",
        "stage7/../../secret.png",
        "/etc/passwd",
        "http://evil.example/",
        "file:///etc/passwd",
        "//evil.example/x",
        "stage7/link.png",
        "javascript:alert(1)",
    ):
        with pytest.raises(UnsafeWeblogPath) as err:
            wl.resolve(ref)
        assert str(hostile_weblog) in str(err.value)  # names the weblog
    with pytest.raises(UnsafeWeblogPath, match="not a regular file"):
        wl.read("stage7/fifo.png")
    with pytest.raises(UnsafeWeblogPath):
        wl.image_uri("stage7/link.png")
    with pytest.raises(PathNotFound):
        wl.page_html("stage9/t2-4m_details.html")
    assert issubclass(UnsafeWeblogPath, AlmaviewError)


def test_device_link_and_oversized_page_are_refused(tmp_path):
    html = tmp_path / "pipeline-1" / "html"
    (html / "stage1").mkdir(parents=True)
    (html / "t1-4.html").write_text("<table></table>")
    os.symlink("/dev/zero", html / "stage1" / "zero.png")  # a link out of the weblog (and a device)
    (html / "stage1" / "t2-4m_details.html").write_bytes(b"<p>" + b"x" * 11_000_000)
    os.mkfifo(html / "t1-4.html.fifo")
    (html / "t1-4.html").unlink()
    os.symlink("t1-4.html.fifo", html / "t1-4.html")  # a by-task page that would block a reader forever
    wl = index_weblog(html)  # returns (stages from their directories) instead of hanging
    assert [s.number for s in wl.stages] == [1]
    with pytest.raises(UnsafeWeblogPath):
        wl.read("stage1/zero.png")
    with pytest.raises(UnsafeWeblogPath, match="bytes"):
        wl.page_html("stage1/t2-4m_details.html")


def test_index_scores_and_tasks_from_the_by_task_page(hostile_weblog):
    wl = index_weblog(hostile_weblog)
    got = [(s.number, s.task, s.score, s.page is not None, [p.name for p in s.plots]) for s in wl.stages]
    assert got == [
        (3, "hifa_flagdata", 0.66, True, ["plot3.png"]),
        (7, "hifa_tsysflag", 0.4, True, ["plot.png"]),
    ]  # no symlink, no FIFO listed as a plot


def _by_task_page(n_rows: int) -> str:
    row = (
        '<tr><td><a href="t2-4m.html?sidebar=sidebar_stage{n}&amp;subpage=t2-4m_details.html">{n}. '
        '<strong>hifa_task{k}</strong>: a stage</a></td><td><div class="progress"><div class="progress-bar" '
        'aria-valuenow="0.{s}">0.{s}</div></div></td></tr>\n'
    )
    return (
        "<html><body><table>"
        + "".join(row.format(n=i, k=chr(97 + i % 26), s=i % 10) for i in range(1, n_rows + 1))
        + "</table></body></html>"
    )


def _time_index(tmp_path: Path, name: str, text: str, repeats: int = 3) -> tuple[float, object]:
    """CPU seconds of indexing ``text`` (the best of ``repeats``: the machine may be busy with other work)."""
    html = tmp_path / name / "html"
    html.mkdir(parents=True)
    (html / "t1-4.html").write_text(text)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        wl = index_weblog(html)
        best = min(best, time.process_time() - t0)
    return best, wl


def _baseline(text: str) -> float:
    """A linear pass over the same text in the same process: every '<' found by the regex engine."""
    t0 = time.perf_counter()
    sum(1 for _ in re.finditer("<", text))
    return time.perf_counter() - t0


def test_by_task_page_with_40000_rows_parses_in_linear_time(tmp_path):
    text = _by_task_page(40_000)
    seconds, wl = _time_index(tmp_path, "big", text)
    assert len(wl.stages) == 40_000
    expected = re.findall(r"sidebar_stage(\d+).*?aria-valuenow=\"([0-9.]+)\"", text)  # independent, per row
    assert [(s.number, s.score) for s in wl.stages][::997] == [(int(n), float(v)) for n, v in expected][::997]
    assert [s.task for s in wl.stages[:3]] == ["hifa_taskb", "hifa_taskc", "hifa_taskd"]  # stages 1, 2, 3
    quarter, _ = _time_index(tmp_path, "quarter", _by_task_page(10_000))
    base = _baseline(text)
    print(f"40,000 rows: {seconds:.3f} s; 10,000 rows: {quarter:.3f} s; linear baseline {base:.3f} s")
    assert seconds < max(1.0, 40 * base)  # < 1 s on an idle machine; relative to the machine's speed when busy
    assert seconds < 8 * quarter + 0.1  # four times the rows: ~4x the time if linear, 16x if quadratic


@pytest.mark.parametrize(
    "attack",
    [
        "<tr>" * 2_000_000,  # rows that never close
        "<tr>sidebar_stage" + "<a href=sidebar_stage1 " * 300_000,  # a link tag that never closes
        "<tr><td><a href=x?sidebar=sidebar_stage1>" + "<" * 8_000_000,  # a row of unfinished tags
        "<tr>sidebar_stage<a " + "class=badge sidebar_stage1 " * 300_000,
        "<!--" + "<tr>" * 2_000_000,  # an unclosed comment
    ],
)
def test_hostile_index_pages_parse_in_linear_time(tmp_path, attack):
    seconds, wl = _time_index(tmp_path, "attack", attack)
    quarter, _ = _time_index(tmp_path, "quarter", attack[: len(attack) // 4])
    base = _baseline(attack)
    assert seconds < max(1.0, 40 * base), f"{seconds:.2f} s (linear baseline {base:.3f} s)"
    assert seconds < 8 * quarter + 0.1, f"{seconds:.3f} s vs {quarter:.3f} s for a quarter of it"
    assert len(wl.stages) <= 1

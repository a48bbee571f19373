"""The standalone report: self-contained (BokehJS inline, no http(s) resources), holds every EB's panels and the QA
stage list, size bounded; the ``almaview report`` command writes it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import almaview as av


@pytest.fixture(scope="session")
def demo(demo_delivery: Path) -> Path:
    """The demo delivery, built once per test session (tests/conftest.py)."""
    return demo_delivery


@pytest.fixture(scope="module")
def report(demo, tmp_path_factory) -> Path:
    from almaview.cli import main

    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", str(demo), "-o", str(out), "--no-progress"]) == 0
    return out


def _docs(html: str) -> list[dict]:
    """The Bokeh documents embedded in the page (the JSON script tag of bokeh.embed.file_html)."""
    blocks = re.findall(r'<script type="application/json" id="[^"]+">\s*(.*?)\s*</script>', html, re.S)
    return [json.loads(b) for b in blocks]


def test_report_is_self_contained(report):
    html = report.read_text()
    # no external resources: scripts/styles/images only inline
    assert not re.search(r'<(script|link|img)\b[^>]*\b(src|href)\s*=\s*["\']?(https?:)?//', html, re.I)
    assert "Bokeh" in html and len(re.findall(r"<script\b", html)) >= 2  # BokehJS inlined
    assert report.stat().st_size < 30e6


def test_report_holds_every_eb_and_qa(report, demo):
    d = av.open_delivery(demo)
    html = report.read_text()
    docs = _docs(html)
    assert docs
    text = json.dumps(docs)
    for eb in d.ebs:
        assert f"EB {eb.uid}" in text
    for title in ("overview", "Tsys", "bandpass", "gains", "Antenna positions", "uv coverage"):
        assert f'"{title}' in text or title in text, title
    for m in d.mous:
        if m.qa.aqua is not None:
            assert f"QA {m.uid}" in text
            worst = min(m.qa.aqua.stages, key=lambda s: s.score)
            assert worst.reason.replace('"', "") in text.replace('\\"', "")


def _models(obj, out: dict[str, int]) -> dict[str, int]:
    """Count the Bokeh models of a serialised document by type (every ``{"type": "object", "id": ...}``)."""
    if isinstance(obj, dict):
        if obj.get("type") == "object" and "id" in obj and "name" in obj:
            out[obj["name"]] = out.get(obj["name"], 0) + 1
        for v in obj.values():
            _models(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _models(v, out)
    return out


def test_report_model_count_is_bounded(report):
    # Serialising, shipping and loading cost about the same per model; the count does not depend on the machine's
    # load, the wall time does. The demo's report had 18,555 models (~80 s on a loaded 2-core machine); with gains
    # per spw, shared axis models and filters, and glyph copies made in the page it has ~7,200.
    counts: dict[str, int] = {}
    for doc in _docs(report.read_text()):
        _models(doc, counts)
    total = sum(counts.values())
    print(f"report models: {total}; most: {sorted(counts.items(), key=lambda kv: -kv[1])[:6]}")
    assert total < 9_000, f"{total} Bokeh models in the report (bound 9,000)"
    assert counts.get("DaysTicker", 0) <= 4 and counts.get("YearsTicker", 0) <= 1, "datetime axes share one ticker"
    renderers = counts["GlyphRenderer"]
    glyphs = sum(counts.get(g, 0) for g in ("Scatter", "MultiLine", "Image", "Line", "Rect", "Quad", "Text"))
    assert glyphs < 1.3 * renderers, f"{glyphs} glyphs for {renderers} renderers: non-selection copies serialised"

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

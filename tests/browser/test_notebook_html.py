"""A saved quickstart exported by nbconvert to HTML renders offline in Chromium (issue 14): the one inlined BokehJS
(``av.widgets.load_bokehjs``) draws the notebook's figures, with no kernel and nothing fetched from a network."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from . import harness

pytestmark = pytest.mark.browser

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "01-quickstart.ipynb"


def test_saved_quickstart_as_nbconvert_html_draws_its_figures_offline(browser, demo_delivery, tmp_path):
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(QUICKSTART, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    nb.metadata.pop("widgets", None)  # as JupyterLab saves it (no widget state): the explorer is not in the page
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    assert body.count("invalid color array") == 1  # BokehJS inlined once
    (tmp_path / "quickstart.html").write_text(body, encoding="utf-8")

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer((harness.LOCAL_HOST, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # nbconvert's lab template links require.js and MathJax from a CDN: the harness tolerates those two
        # requests failing (no network); BokehJS must not need them.
        browser.log.tolerated = ("cdnjs.cloudflare.com", "cdn.jsdelivr.net", "unpkg.com")
        browser.page.goto(f"http://{harness.LOCAL_HOST}:{server.server_address[1]}/quickstart.html")
        canvases = harness.wait_for_bokeh(browser.page, n_documents=2)
        # the amplitude-vs-time figure and the image preview, drawn (more than 2 colours each)
        assert len(canvases) >= 2 and all(c["width"] > 200 and c["height"] > 150 for c in canvases), canvases
        browser.screenshot("quickstart-nbconvert-html")
        assert browser.log.page_errors == [], browser.log.page_errors
    finally:
        server.shutdown()

"""The weblog viewer in JupyterLab (headless Chromium) on a package whose weblog was tampered with.

A pipeline delivery (tests/deliveries) gets a hostile stage page: scripts, unquoted ``on…`` handlers,
``<svg onload>``, a ``javascript:`` link, ``<meta refresh>``, ``<base>``, a stylesheet, images and CSS backgrounds
that call a local HTTP server (a recorder on 127.0.0.1: every request it gets is a leak), and an image that climbs
out of the weblog to a "secret" file. A user opens the delivery browser, clicks the stage, clicks the ``javascript:``
link, follows the page's own links and the nav bar, and clicks a plot. Asserted: no dialog, no console message
from the page's script, no request reached the recorder (and none left 127.0.0.1: the harness blocks and fails on
those), the secret is nowhere in the page, the stage page fills the main area, the navigation works inside the
widget and the plot opens larger than it is drawn in the page.
"""

from __future__ import annotations

import http.server
import io
import shutil
import tarfile
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from . import harness

pytestmark = pytest.mark.browser

NOTEBOOK = "weblog-viewer-hostile.ipynb"
SECRET = "almaview-secret-outside-the-weblog"


class Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self):
        Recorder.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"leaked")

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    Recorder.hits = []
    server = http.server.ThreadingHTTPServer((harness.LOCAL_HOST, 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{harness.LOCAL_HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()


def _plot_png() -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(4, 3))
    x = np.linspace(230.0, 232.0, 240)
    ax.plot(x, 1 + 0.1 * np.sin(x * 20), lw=0.8)
    ax.set_xlabel("Frequency (GHz)")
    ax.set_ylabel("Amplitude")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    plt.close(fig)
    return buf.getvalue()


def _hostile_page(leak: str) -> str:
    return f"""<!DOCTYPE html><html><head>
<meta http-equiv="refresh" content="2;url={leak}/refresh">
<base href="{leak}/base/">
<link rel="stylesheet" href="{leak}/style.css">
<style>@import url({leak}/import.css); body {{ background: url({leak}/bg.png) }}</style>
<script>alert('script'); console.log('PWNED by a script tag'); fetch('{leak}/fetch');</script>
</head><body onload="alert('body');console.log('PWNED by body onload')">
<h1>4. hifa_bandpass: tampered page</h1>
<p onmouseover=alert(1) id=hover>move the mouse here</p>
<img src=nonexistent.png onerror=console.log('PWNED_by_onerror')>
<svg onload=console.log('PWNED_by_svg')><circle r=4 /></svg>
<a id="jslink" href="javascript:console.log('PWNED_by_javascript_link')">a javascript link</a>
<a id="bytask" href="../t1-4.html">back to By Task</a>
<img src="{leak}/img.png" alt="network image">
<div style="background-image:url({leak}/div.png);height:20px">styled</div>
<img src="../../../../secret.txt" alt="climbing image">
<iframe src="{leak}/frame"></iframe>
<a href="plot.png"><img id="plot" src="plot.png" alt="bandpass plot"></a>
</body></html>"""


@pytest.fixture
def hostile_delivery(tmp_path, recorder) -> Path:
    from tests.deliveries import write_pipeline_delivery

    spec = write_pipeline_delivery(tmp_path / "hostile")
    (tmp_path / "hostile" / "secret.txt").write_text(SECRET)
    archive = next((tmp_path / "hostile").rglob("*.weblog.tgz"))
    tree = tmp_path / "weblog-tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    stage = next(tree.glob("pipeline-*/html/stage4"))
    (stage / "t2-4m_details.html").write_text(_hostile_page(recorder))
    (stage / "plot.png").write_bytes(_plot_png())
    archive.unlink()
    with tarfile.open(archive, "w:gz") as tar:
        for p in sorted(tree.iterdir()):
            tar.add(p, arcname=p.name)
    shutil.rmtree(tree)
    assert spec.stage_plots[4]  # the stage this test tampers with exists
    return tmp_path / "hostile"


FRAME = "iframe.almaview-page-frame"


@pytest.fixture(scope="module")
def lab(playwright_session, notebooks_copy, tmp_path_factory):
    """JupyterLab without the demo (this test brings its own delivery)."""
    with harness.jupyterlab(notebooks_copy, tmp_path_factory.mktemp("lab-weblog")) as server:
        yield server


def test_hostile_stage_page_runs_nothing_and_navigates_inside_the_widget(
    lab, notebooks_copy, browser, hostile_delivery, recorder
):
    harness.write_notebook(
        notebooks_copy,
        NOTEBOOK,
        [
            f"""import almaview as av
from almaview.widgets.browser import delivery_browser
box = delivery_browser(av.open_delivery({str(hostile_delivery)!r}))
box"""
        ],
    )
    page = browser.page
    # Chromium reports each document shown in the sandboxed frame with "Blocked script execution in 'about:srcdoc'"
    # (once per page load, whatever the page holds: the sanitised pages have no script left, see
    # tests/adversarial/test_weblog_pages.py). It is the sandbox working; anything else logged still fails the test.
    browser.log.tolerated = ("Blocked script execution in 'about:srcdoc' because the document's frame is sandboxed",)
    page.set_viewport_size({"width": 1400, "height": 900})
    dialogs, console = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: console.append(m.text))
    harness.open_alone(page, lab, NOTEBOOK)
    state = harness.run_all_in_lab(page, timeout=300)
    assert not [c for c in state["cells"] if c["errors"]], state

    label = page.locator(".almaview-label", has_text="4. hifa_bandpass")
    label.first.click()
    frame = page.frame_locator(FRAME)
    frame.locator("h1", has_text="tampered page").wait_for(timeout=60_000)
    assert page.locator(".almaview-page-title").inner_text().startswith("Stage 4: hifa_bandpass")
    frame.locator("#hover").hover()
    frame.locator("#jslink").click()
    page.wait_for_timeout(2500)  # longer than the page's meta refresh delay

    # the stage page fills the main area: most of the widget's width, most of the window's height
    widget = page.locator(".almaview-browser").first.bounding_box()
    box = page.locator(FRAME).first.bounding_box()
    assert box["width"] > 0.6 * widget["width"] and box["width"] > 600, (box, widget)
    assert box["height"] > 450, box
    sandbox = page.locator(FRAME).first.get_attribute("sandbox")
    assert sandbox is not None and "allow-scripts" not in sandbox
    browser.screenshot("weblog-stage-hostile")

    srcdoc = page.locator(FRAME).first.get_attribute("srcdoc")
    assert SECRET not in srcdoc and "Content-Security-Policy" in srcdoc

    # the page's own link and the nav bar work inside the widget
    frame.locator("#bytask").click()
    frame.locator("a", has_text="hifa_timegaincal").first.wait_for(timeout=30_000)
    assert page.locator(".almaview-page-title").inner_text() == "By Task"
    frame.locator("a", has_text="hifa_tsyscal").first.click()
    page.wait_for_function(
        "() => document.querySelector('.almaview-page-title').textContent.startsWith('Stage 3: hifa_tsyscal')",
        timeout=30_000,
    )
    page.locator(".almaview-nav-button", has_text="Home").click()
    frame.locator("h1", has_text="Pipeline weblog").wait_for(timeout=30_000)
    page.locator(".almaview-nav-button", has_text="◀").click()
    page.wait_for_function(
        "() => document.querySelector('.almaview-page-title').textContent.startsWith('Stage 3')", timeout=30_000
    )

    # a plot opens large on click
    label.first.click()
    frame.locator("#plot").wait_for(timeout=30_000)
    small = frame.locator("#plot").bounding_box()
    frame.locator("#plot").click()
    big = page.locator(".almaview-lightbox-image")
    big.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "() => { const i = document.querySelector('.almaview-lightbox-image');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=30_000,
    )
    large = big.bounding_box()
    assert large["width"] > 1.5 * small["width"], (large, small)
    browser.screenshot("weblog-plot-large")
    page.keyboard.press("Escape")
    big.wait_for(state="hidden", timeout=10_000)

    assert dialogs == []
    assert [m for m in console if "PWNED" in m] == []
    assert Recorder.hits == [], f"the page reached the network: {Recorder.hits}"

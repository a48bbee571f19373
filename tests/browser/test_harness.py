"""The page log itself: a load the page's own reload cancels is not the page's fault; any other failed load is.

A page on a local server starts a request that the server holds open. Reloading the page aborts it
(``net::ERR_ABORTED``, as JupyterLab's favicon and chunk loads are when a test reloads the Lab page);
the page aborting the same request itself, with nothing navigating, stays a failure.
"""

from __future__ import annotations

import contextlib
import http.server
import threading

import pytest

from . import harness

pytestmark = pytest.mark.browser

PAGE = b"""<!doctype html><title>held</title>
<script>
  window.controller = new AbortController();
  window.held = fetch('/held?' + Math.random(), {signal: window.controller.signal}).catch(() => 'aborted');
</script>"""


class _Handler(http.server.BaseHTTPRequestHandler):
    release = threading.Event()

    def do_GET(self):  # noqa: N802 (the standard library's name)
        if self.path.startswith("/held"):
            self.release.wait(10)  # held open until the test ends: only an abort ends it early
            body = b"late"
        else:
            body = PAGE
        # the browser may have given up on it (what the test is about): writing then fails, and that is fine
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args):
        return  # the test output stays quiet


@pytest.fixture
def held_page_server():
    server = http.server.ThreadingHTTPServer((harness.LOCAL_HOST, 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{harness.LOCAL_HOST}:{server.server_address[1]}/"
    finally:
        _Handler.release.set()
        server.shutdown()
        server.server_close()
        _Handler.release.clear()


def _open(page, navigate) -> None:
    """Navigate, and return once the new document's held request is under way."""
    with page.expect_request(lambda r: "/held" in r.url, timeout=10_000):
        navigate()


def test_a_load_cancelled_by_the_page_s_own_reload_is_not_a_problem(playwright_session, held_page_server, tmp_path):
    with harness.launch(playwright_session, tmp_path / "profile") as (context, log):
        page = context.new_page()
        _open(page, lambda: page.goto(held_page_server))
        _open(page, page.reload)
        _open(page, lambda: page.goto(held_page_server + "?again"))  # the second document's is cancelled alike
        assert len(log.aborted_by_navigation()) == 2, log.failed_requests
        assert log.problems() == []


def test_a_load_the_page_aborts_itself_is_a_problem(playwright_session, held_page_server, tmp_path):
    with harness.launch(playwright_session, tmp_path / "profile") as (context, log):
        page = context.new_page()
        _open(page, lambda: page.goto(held_page_server))
        assert page.evaluate("() => { window.controller.abort(); return window.held; }") == "aborted"
        page.wait_for_timeout(200)  # Playwright's requestfailed event reaches Python after the page's promise
        problems = log.problems()
        assert len(problems) == 1 and "failed load" in problems[0] and "/held" in problems[0], problems
        assert log.aborted_by_navigation() == []
        # ... even after a later navigation: the page had aborted it before anything navigated
        page.reload()
        assert len(log.problems()) == 1, log.problems()

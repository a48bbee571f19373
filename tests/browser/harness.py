"""The browser harness: Jupyter servers on 127.0.0.1 and a headless Chromium that treats every error as a failure.

Plain context managers, no pytest: ``conftest.py`` wraps them as fixtures and
``scripts/screenshots.py`` uses them directly.

- ``Server`` starts ``jupyter lab`` or ``voila`` on 127.0.0.1, a free port and a
  random token, in its own process group, with settings, workspaces and runtime
  files in a scratch directory; it waits until the server answers and, on exit,
  stops the server and every process it started (kernels included).
- ``launch(...)`` starts Debian's Chromium through Playwright with the flags of
  a closed network and a fresh user-data-dir.
- ``PageLog`` records what must never happen on a page: console errors, uncaught
  exceptions, failed loads (not those the page's own reload cancels), HTTP errors,
  and any request (or websocket) to a host other than 127.0.0.1, which it also blocks.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

CHROMIUM = os.environ.get("ALMAVIEW_CHROMIUM", "/usr/bin/chromium")
# --headless is added by Playwright (headless=True); the user-data-dir is given to launch_persistent_context.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOCAL_HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[2]


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, in words (None when they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return (
            "the Python package 'playwright' is not installed: pip install playwright "
            "(its own browser download is not needed: the tests use Debian's chromium)"
        )
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (
            f"no Chromium at {CHROMIUM}: run scripts/ensure_chromium.sh (installs Debian's chromium when run as "
            "root with apt) or point ALMAVIEW_CHROMIUM at a Chromium executable"
        )
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCAL_HOST, 0))
        return s.getsockname()[1]


class ServerError(RuntimeError):
    pass


class Server:
    """A Jupyter server process (JupyterLab or Voila) on 127.0.0.1 with a token; a context manager."""

    def __init__(
        self,
        argv: list[str],
        *,
        port: int,
        token: str,
        scratch: Path,
        cwd: Path,
        ready_path: str,
        name: str,
        startup_timeout: float = 120.0,
    ):
        self.argv, self.port, self.token, self.scratch, self.cwd = argv, port, token, scratch, cwd
        self.ready_path, self.name, self.startup_timeout = ready_path, name, startup_timeout
        self.url = f"http://{LOCAL_HOST}:{port}"
        self.log_path = scratch / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)  # kernels inherit ALMAVIEW_CACHE_DIR: they reuse the session's demo build
        for var, sub in [
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
            ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
            ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
            ("IPYTHONDIR", "ipython"),
        ]:
            env[var] = str(self.scratch / sub)
            (self.scratch / sub).mkdir(parents=True, exist_ok=True)
        env.pop("JUPYTER_TOKEN", None)
        # no "get notified about Jupyter news?" toast (and no news fetch): screenshots show the notebook
        news = self.scratch / "lab-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        news.parent.mkdir(parents=True, exist_ok=True)
        news.write_text('{"fetchNews": "false", "checkForUpdates": false}')
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self) -> "Server":
        self.scratch.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with code {self.proc.returncode} before answering:\n{self.log_tail()}"
                )
            try:
                probe = (
                    f"{self.url}/voila/static/none"
                    if self.ready_path == "/"
                    else f"{self.url}{self.ready_path}?token={self.token}"
                )
                with urllib.request.urlopen(probe, timeout=5) as r:
                    if r.status == 200:
                        break
            except urllib.error.HTTPError as e:
                if self.ready_path == "/" and e.code < 500:  # Voila: answering at all is ready
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(
                    f"{self.name} did not answer on {self.url} within {self.startup_timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.25)
        self.startup_seconds = time.perf_counter() - t0
        return self

    def stop(self) -> None:
        """Stop the server and every process it started (kernels run in their own sessions: found by pid)."""
        if self.proc is None:
            return
        import psutil

        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # jupyter_server: shuts kernels down, then exits
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        psutil.wait_procs(children, timeout=10)
        self.proc = None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def page_url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.url}{path}{sep}token={self.token}"

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _bin(name: str) -> list[str]:
    exe = Path(sys.executable).with_name(name)
    return [str(exe)] if exe.exists() else [sys.executable, "-m", name.replace("-", "_")]


def jupyterlab(root_dir: Path, scratch: Path) -> Server:
    """JupyterLab serving ``root_dir`` (the app object exposed as ``window.jupyterapp`` for the tests)."""
    port, token = free_port(), secrets.token_hex(16)
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--ip={LOCAL_HOST}",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI often run as root
        argv.append("--allow-root")
    return Server(
        argv, port=port, token=token, scratch=scratch, cwd=root_dir, ready_path="/api/status", name="jupyterlab"
    )


def voila(notebook: Path, scratch: Path) -> Server:
    """Voila serving one notebook as a dashboard at ``/``."""
    port, token = free_port(), secrets.token_hex(16)
    argv = [
        *_bin("voila"),
        str(notebook),
        "--no-browser",
        f"--Voila.ip={LOCAL_HOST}",
        f"--port={port}",
        f"--token={token}",
        "--show_tracebacks=True",
    ]
    # Any answer means it is up (a GET of the dashboard itself would run the notebook): see Server.start
    return Server(argv, port=port, token=token, scratch=scratch, cwd=notebook.parent, ready_path="/", name="voila")


# ---------------------------------------------------------------- the browser


@dataclass
class FailedLoad:
    message: str
    aborted_by_navigation: bool  # cancelled by the page's own next navigation (a reload, a goto)


@dataclass
class PageLog:
    """Everything that went wrong on a page; ``problems()`` is empty on a clean page."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[FailedLoad] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    requests: int = 0
    frozen: bool = False

    tolerated: tuple[str, ...] = ()  # substrings of known, reported problems (each one named in the test)

    def problems(self) -> list[str]:
        return [p for p in self._problems() if not any(t in p for t in self.tolerated)]

    def _problems(self) -> list[str]:
        return (
            [f"blocked non-local request: {u}" for u in self.blocked]
            + [f"console error: {m}" for m in self.console_errors]
            + [f"uncaught exception: {m}" for m in self.page_errors]
            + [f"failed load: {f.message}" for f in self.failed_requests if not f.aborted_by_navigation]
            + [f"HTTP error: {m}" for m in self.http_errors]
        )

    def aborted_by_navigation(self) -> list[str]:
        """The loads the page's own next navigation (``goto``, ``reload``) cancelled: not problems."""
        return [f.message for f in self.failed_requests if f.aborted_by_navigation]

    def assert_clean(self) -> None:
        self.frozen = True  # closing the page aborts long polls and websockets: not the page's fault
        problems = self.problems()
        assert not problems, "the page was not clean:\n  " + "\n  ".join(problems)

    def attach(self, context) -> None:
        """Record on every page of ``context`` (and block any request that leaves 127.0.0.1)."""

        def route(r):
            url = r.request.url
            if urlsplit(url).hostname == LOCAL_HOST:
                self.requests += 1
                r.continue_()
            else:
                self.blocked.append(url)
                r.abort("blockedbyclient")

        context.route("**/*", route)
        context.on("page", self.watch)
        for page in context.pages:
            self.watch(page)

    def watch(self, page) -> None:
        # A page's documents, counted as its main frame's navigations start; a request remembers which issued it.
        navigations = [0]
        issued_by: dict[object, int] = {}

        def keep(lst, item):
            if not self.frozen:
                lst.append(item)

        def request(req):
            issued_by[req] = navigations[0]
            if req.is_navigation_request() and req.frame == page.main_frame:
                navigations[0] += 1

        def console(msg):
            if msg.type == "error":
                loc = msg.location or {}
                keep(self.console_errors, f"{msg.text} ({loc.get('url', '')}:{loc.get('lineNumber', '')})")

        def request_failed(req):
            if urlsplit(req.url).hostname == LOCAL_HOST:  # non-local ones are already in `blocked`
                # A navigation cancels the old document's loads with net::ERR_ABORTED once it commits, that is
                # after its own request started: the browser's doing, not the page's.
                cancelled = (
                    req.failure == "net::ERR_ABORTED"
                    and not req.is_navigation_request()
                    and issued_by.get(req, navigations[0]) < navigations[0]
                )
                keep(self.failed_requests, FailedLoad(f"{req.method} {req.url}: {req.failure}", cancelled))

        def response(resp):
            if resp.status >= 400:
                keep(self.http_errors, f"{resp.status} {resp.request.method} {resp.url}")

        def websocket(ws):
            if urlsplit(ws.url).hostname != LOCAL_HOST:
                keep(self.blocked, ws.url)

        page.on("request", request)
        page.on("console", console)
        page.on("pageerror", lambda exc: keep(self.page_errors, str(exc)))
        page.on("requestfailed", request_failed)
        page.on("response", response)
        page.on("websocket", websocket)


@contextlib.contextmanager
def launch(
    playwright, user_data_dir: Path, *, width: int = 1280, height: int = 860
) -> Iterator[tuple[object, PageLog]]:
    """A fresh headless Chromium (persistent context on a new user-data-dir) with a ``PageLog`` attached."""
    if user_data_dir.exists():
        shutil.rmtree(user_data_dir)
    context = playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport={"width": width, "height": height},
        service_workers="block",
    )
    log = PageLog()
    try:
        log.attach(context)
        yield context, log
    finally:
        log.frozen = True
        context.close()


# ---------------------------------------------------------------- what the pages show

# A fingerprint of the data of every Bokeh ColumnDataSource in the page: changes when a plot's data change.
# One Bokeh Plot's title, axis labels and the legend labels it shows (a hidden LegendItem is an empty slot): what
# a user reads on a figure. Used by the tests' page summaries (the report's figures, the explorer's visible ones).
PLOT_SUMMARY_JS = """(m) => {
  const axes = [...m.left, ...m.right, ...m.above, ...m.below].filter((a) => a.axis_label !== undefined);
  const legends = [...m.center, ...m.left, ...m.right, ...m.above, ...m.below].filter((l) => l.items !== undefined);
  const labels = [];
  for (const l of legends) for (const it of l.items) {
    if (it.visible === false) continue;
    const lab = it.label; labels.push(lab == null ? '' : (typeof lab === 'string' ? lab : (lab.value ?? lab.field ?? '')));
  }
  return {title: m.title ? m.title.text : '', axes: axes.map((a) => a.axis_label || ''), legend: labels};
}"""

BOKEH_DATA_JS = """() => {
  if (!window.Bokeh || !window.Bokeh.documents) return null;
  const out = [];
  for (const doc of window.Bokeh.documents) {
    for (const m of doc.all_models) {
      if (m.data === undefined || m.selected === undefined) continue;   // ColumnDataSource-like
      const cols = {};
      const data = m.data instanceof Map ? Object.fromEntries(m.data) : m.data;
      for (const [k, v] of Object.entries(data)) {
        let arr = v;
        if (arr && arr.length !== undefined) {
          arr = Array.from(arr, (x) => (x && x.length !== undefined) ? Array.from(x).slice(0, 8).join(",") : x);
          cols[k] = [arr.length, JSON.stringify(arr.slice(0, 200))];
        } else cols[k] = JSON.stringify(v);
      }
      out.push([m.id, cols]);
    }
  }
  out.sort((a, b) => a[0] < b[0] ? -1 : 1);
  return JSON.stringify(out);
}"""

# Canvases Bokeh drew on (inside its shadow roots), with how many distinct colours each shows.
# A statement block for page functions: every <canvas> on the page, inside shadow roots too, into ``found``.
FIND_CANVASES_JS = """
  const found = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.tagName === 'CANVAS') found.push(el);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);"""

BOKEH_CANVASES_JS = (
    """() => {"""
    + FIND_CANVASES_JS
    + """
  return found.filter((c) => c.width > 50 && c.height > 50).map((c) => {
    let colours = -1;
    try {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length && seen.size < 64; i += 4 * 7) seen.add((d[i] << 16) | (d[i+1] << 8) | d[i+2]);
      colours = seen.size;
    } catch (e) { colours = -2; }
    const r = c.getBoundingClientRect();
    return {width: r.width, height: r.height, colours};
  });
}"""
)


def bokeh_canvases(page) -> list[dict]:
    return page.evaluate(BOKEH_CANVASES_JS)


def wait_for_bokeh(page, n_documents: int, timeout: float = 60.0) -> list[dict]:
    """Wait until BokehJS holds ``n_documents`` documents drawn on non-blank canvases; return the canvases."""
    page.wait_for_function(
        "(n) => window.Bokeh && window.Bokeh.documents && window.Bokeh.documents.length >= n",
        arg=n_documents,
        timeout=timeout * 1000,
    )
    deadline = time.monotonic() + timeout
    while True:
        drawn = [c for c in bokeh_canvases(page) if c["colours"] > 2]
        if len(drawn) >= n_documents or time.monotonic() > deadline:
            return drawn
        time.sleep(0.5)


# Widget controls by their description; change one to another value as a user would.
def change_control(page, descriptions=("spw", "antennas"), timeout: float = 30.0) -> str:
    """Find the first ipywidgets control labelled with one of ``descriptions`` and change its value.

    Returns what was changed, e.g. ``"spw: 'spw 0' -> 'spw 1'"``.
    """
    for desc in descriptions:
        label = page.locator("label.widget-label").filter(has_text=desc)
        for i in range(label.count()):
            if label.nth(i).inner_text().strip() != desc:
                continue
            widget = label.nth(i).locator("xpath=..")
            select = widget.locator("select")
            if select.count():
                options = select.first.locator("option")
                values = [options.nth(k).get_attribute("value") for k in range(options.count())]
                current = select.first.evaluate("(s) => Array.from(s.selectedOptions, (o) => o.value)")
                multiple = select.first.evaluate("(s) => s.multiple")
                if multiple:
                    new = values[:1] if current != values[:1] else values[:2]
                else:
                    new = [next(v for v in values if v not in current)]
                select.first.select_option(new)
                return f"{desc}: {current} -> {new}"
            buttons = widget.locator("button")
            if buttons.count() > 1:  # ToggleButtons
                for k in range(buttons.count()):
                    if "mod-active" not in (buttons.nth(k).get_attribute("class") or ""):
                        buttons.nth(k).click()
                        return f"{desc}: clicked {buttons.nth(k).inner_text()!r}"
            radios = widget.locator("input[type=radio]")
            for k in range(radios.count()):
                if not radios.nth(k).is_checked():
                    radios.nth(k).check()
                    return f"{desc}: radio {k}"
    raise AssertionError(f"no widget with description in {descriptions} on the page")


def save_screenshot(page, path: Path, *, full_page: bool = False, locator=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (locator or page).screenshot(path=str(path), **({} if locator else {"full_page": full_page}))
    return path


# ---------------------------------------------------------------- JupyterLab and Voila, as a user meets them

NOTEBOOK_STATE_JS = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.model) return null;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = [];
  for (const cell of panel.content.model.cells) {
    if (cell.type !== 'code') continue;
    const errors = [];
    for (let i = 0; i < cell.outputs.length; i++) {
      const o = cell.outputs.get(i).toJSON();
      if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue);
    }
    cells.push({count: cell.executionCount, errors, text: cell.sharedModel.getSource().slice(0, 60)});
  }
  return {kernel: kernel ? kernel.status : null, cells};
}"""


# The notebook ``nb`` is the current tab and its kernel is idle.
NOTEBOOK_IDLE_JS = (
    "(nb) => { const s = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
    " const k = s && s.sessionContext && s.sessionContext.session && s.sessionContext.session.kernel;"
    " return k && k.status === 'idle' && s.context.path.endsWith(nb); }"
)

# Every Bokeh ColumnDataSource named "image" in the page: NaN-skipping sum, finite count, size of its plane.
IMAGE_SOURCES_JS = """() => {
  const out = [];
  if (!window.Bokeh || !window.Bokeh.documents) return out;
  for (const doc of window.Bokeh.documents) {
    for (const m of doc.all_models) {
      if (m.name !== 'image' || m.data === undefined) continue;
      const data = m.data instanceof Map ? Object.fromEntries(m.data) : m.data;
      const col = data.image;
      if (!col || !col.length) continue;
      const plane = col[0];
      let sum = 0, n = 0;
      for (let i = 0; i < plane.length; i++) { const v = plane[i]; if (Number.isFinite(v)) { sum += v; n++; } }
      out.push({sum, n, size: plane.length});
    }
  }
  return out;
}"""


def write_notebook(folder: Path, name: str, cells: list[str]) -> str:
    """Write a notebook of code ``cells`` (with kernelspec metadata: else Lab stops at a kernel dialog)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, str(Path(folder) / name))
    return name


def wait_for_notebook(page, notebook: str, timeout: float = 120.0) -> None:
    """Wait until ``notebook`` is the current tab and its kernel is idle."""
    page.wait_for_function(NOTEBOOK_IDLE_JS, arg=notebook, timeout=timeout * 1000)


def open_alone(page, server: Server, notebook: str, timeout: float = 120.0) -> None:
    """:func:`open_in_lab` in a workspace of its own (named after the notebook, reset): Lab restores no tab of
    another test on the same server (their saved widget outputs log 'Could not create a view'; Run All may act
    on them), and the tests that use the default workspace do not meet this one's tabs either."""
    workspace = notebook.rsplit(".", 1)[0]
    page.goto(server.page_url(f"/lab/workspaces/{workspace}/tree/{notebook}?reset"))
    wait_for_notebook(page, notebook, timeout)


def open_in_lab(page, server: Server, notebook: str, timeout: float = 120.0) -> None:
    """Open ``notebook`` in JupyterLab and wait until its kernel is idle."""
    page.goto(server.page_url(f"/lab/tree/{notebook}"))
    page.wait_for_function(
        "() => { const s = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " const k = s && s.sessionContext && s.sessionContext.session && s.sessionContext.session.kernel;"
        " return k && k.status === 'idle'; }",
        timeout=timeout * 1000,
    )


def run_all_in_lab(page, timeout: float = 600.0) -> dict:
    """Run > Run All Cells, as a user does; wait until every code cell ran; return the notebook's state."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function(
        f"() => {{ const s = ({NOTEBOOK_STATE_JS})(); return s && s.kernel === 'idle' && s.cells.length > 0"
        " && (s.cells.some((c) => c.errors.length > 0) || s.cells.every((c) => c.count !== null)); }",
        timeout=timeout * 1000,
        polling=500,
    )
    return page.evaluate(NOTEBOOK_STATE_JS)


def open_in_voila(page, server: Server, timeout: float = 600.0) -> None:
    """Load the dashboard and wait until Voila has run the whole notebook (its kernel-side execution is done)."""
    page.goto(server.page_url("/"), timeout=timeout * 1000, wait_until="load")
    # Voila streams cells as they run; the loading spinner goes away when the last one finished.
    page.wait_for_function(
        "() => !document.querySelector('#loading') || "
        "getComputedStyle(document.querySelector('#loading')).display === 'none' || "
        "document.querySelector('#loading').offsetParent === null",
        timeout=timeout * 1000,
        polling=500,
    )

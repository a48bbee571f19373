"""The README's first command, ``make demo``, run as written (as root on this project's machines and in containers):
it builds (or reuses) the demo, starts JupyterLab, prints the URL; the server answers on /lab, the quickstart opens in
Chromium from that URL; Ctrl-C stops the server.

Make's install step is skipped by pointing ``VENV`` at the running interpreter's environment and ``STAMP`` at a fresh
file (the install is what ``make`` does on first use; the command under test is the demo target itself).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from . import harness

pytestmark = pytest.mark.browser

URL = re.compile(r"(http://127\.0\.0\.1:\d+/lab/tree/\S+\?token=[0-9a-f]+)")


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_make_demo_starts_lab_prints_the_url_and_opens_the_quickstart(browser, demo_delivery, tmp_path):
    stamp = tmp_path / "installed"
    stamp.touch()
    env = dict(os.environ)
    for var, sub in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ("IPYTHONDIR", "ipython"),
    ]:
        env[var] = str(tmp_path / sub)
    env.pop("JUPYTER_TOKEN", None)
    venv = Path(sys.executable).parent.parent
    port = harness.free_port()
    proc = subprocess.Popen(
        [
            "make",
            "--no-print-directory",
            "demo",
            f"VENV={venv}",
            f"STAMP={stamp}",
            f"LAB_PORT={port}",
            "LAB_FLAGS=--no-browser",
        ],
        cwd=harness.REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    url, lines = None, []
    try:
        deadline = time.monotonic() + 600
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = URL.search(line)
            url = m.group(1) if m else None
        assert url is not None, "make demo printed no URL:\n" + "".join(lines[-40:])
        assert url.startswith(f"http://127.0.0.1:{port}/lab/tree/notebooks/01-quickstart.ipynb?token=")
        token = url.rsplit("=", 1)[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=30) as r:
            assert r.status == 200 and b"JupyterLab" in r.read()

        page = browser.page
        page.goto(url)
        page.locator(".jp-NotebookPanel").first.wait_for(timeout=120_000)
        page.locator(".lm-TabBar-tabLabel", has_text="01-quickstart.ipynb").first.wait_for(timeout=60_000)
        page.locator(".jp-Cell").first.wait_for(timeout=60_000)
        browser.screenshot("make-demo-quickstart")
        page.wait_for_timeout(3000)  # the notebook's own loads finish
        browser.log.frozen = True  # what happened so far is checked; leaving the page aborts its polls, not its fault
        page.goto("about:blank")  # leave the page before the server stops
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    with pytest.raises(OSError):  # the server is gone
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5)

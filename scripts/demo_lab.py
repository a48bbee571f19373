"""Start JupyterLab on a notebook for ``make demo``, as root or not, and print the URL to open.

JupyterLab refuses to run as root without ``--allow-root`` (containers, cluster nodes): it is added when the
effective user is root. The server listens on 127.0.0.1 with a fresh token; once it answers, the URL of the notebook
is printed. Ctrl-C (or SIGTERM) stops the server and its kernels.

Usage: python scripts/demo_lab.py [--port 8888] [--no-browser] notebooks/01-quickstart.ipynb

Example (what ``make demo`` runs)::

    .venv/bin/python scripts/demo_lab.py --port 8888 notebooks/01-quickstart.ipynb
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def lab_argv(notebook: str, *, port: int, token: str, open_browser: bool) -> list[str]:
    """The JupyterLab command line: 127.0.0.1, ``port``, ``token``, ``--allow-root`` when run as root.

    Examples
    --------
    >>> "--ServerApp.port=8888" in lab_argv("nb.ipynb", port=8888, token="t", open_browser=False)
    True
    """
    # The server's root is the current folder (a notebook given as an argument would make its folder the root, and
    # the printed URL wrong); the browser it may open goes to the notebook.
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={os.getcwd()}",
        f"--LabApp.default_url=/lab/tree/{Path(notebook).as_posix()}",
    ]
    if not open_browser:
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    return argv


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 180.0) -> bool:
    """Poll ``url`` until it answers 200 (True), the server exits or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebook")
    p.add_argument("--port", type=int, default=8888)
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser (no display)")
    args = p.parse_args(argv)
    if not Path(args.notebook).is_file():
        print(f"almaview demo: no notebook {args.notebook!r} (run from the repository's top folder)", file=sys.stderr)
        return 2
    token = secrets.token_hex(16)
    proc = subprocess.Popen(
        lab_argv(args.notebook, port=args.port, token=token, open_browser=not args.no_browser), start_new_session=True
    )

    def stop(*_):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # jupyter_server shuts its kernels down, then exits
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
    base = f"http://127.0.0.1:{args.port}"
    try:
        if not wait_until_up(f"{base}/api/status?token={token}", proc):
            stop()
            print(
                f"almaview demo: JupyterLab did not start on {base} (is the port in use? try "
                f"`make demo LAB_PORT={args.port + 1}`)",
                file=sys.stderr,
            )
            return 1
        url = f"{base}/lab/tree/{Path(args.notebook).as_posix()}?token={token}"
        print(
            f"\n    almaview demo is running. Open this URL in a web browser:\n\n    {url}\n\n"
            "    (Ctrl-C stops the server)\n",
            flush=True,
        )
        return proc.wait()
    except KeyboardInterrupt:
        stop()
        return 0


if __name__ == "__main__":
    sys.exit(main())

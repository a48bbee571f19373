#!/usr/bin/env python3
"""Verify Binder's spec the way repo2docker uses it, without Docker.

1. copy the repository's files (tracked and new, not ignored) to a fresh directory;
2. create a fresh virtual environment and ``pip install -r binder/requirements.txt`` from that copy's root;
3. run ``binder/postBuild`` with the venv first on PATH (HOME and almaview's cache inside the work dir);
4. execute every notebook in notebooks/ with that venv's kernel (00-from-the-archive against the archive stand-in,
   tests/archive/standin.py, as there is no internet here).

Usage: python scripts/binder_check.py [--workdir DIR]     (``make binder-check``; slow: CASA wheels + demo build)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_gb(path: Path) -> str:
    """Free disk where ``path`` lives, for the log: a full disk is the usual cause of a red run on a small machine."""
    return f"{shutil.disk_usage(path).free / 1e9:.2f} GB free"


def step(name: str, argv: list[str], **kw) -> float:
    where = Path(kw.get("cwd") or tempfile.gettempdir())
    print(f"binder-check: {name} ({free_gb(where)}): {' '.join(argv)}", flush=True)
    t0 = time.perf_counter()
    r = subprocess.run(argv, **kw)
    dt = time.perf_counter() - t0
    if r.returncode:
        sys.exit(f"binder-check: {name} failed (exit {r.returncode}) after {dt:.0f} s")
    print(f"binder-check: {name}: {dt:.0f} s", flush=True)
    return dt


def archive_standin(repo: Path, venv: Path, env: dict) -> tuple[subprocess.Popen, str]:
    """Start tests/archive/standin.py (the ALMA archive stand-in) with the Binder venv; return it and its URL."""
    proc = subprocess.Popen(
        [str(venv / "bin" / "python"), str(repo / "tests" / "archive" / "standin.py")],
        env=dict(env, PYTHONPATH=os.pathsep.join([str(repo), str(repo / "tests")])),
        stdout=subprocess.PIPE,
        text=True,
    )
    url = proc.stdout.readline().strip() if proc.stdout else ""
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        sys.exit(f"binder-check: the archive stand-in did not start (printed {url!r})")
    print(f"binder-check: archive stand-in at {url}", flush=True)
    return proc, url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, help="where to build (default: a new temporary directory, removed after)")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="almaview-binder-"))
    repo, venv, home = work / "repo", work / "venv", work / "home"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.split("\0")
    for f in filter(None, files):
        src = REPO / f
        if src.is_file():
            (repo / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / f)
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALMAVIEW_", "JUPYTER", "VIRTUAL_ENV", "PYTHON"))}
    env.update(
        HOME=str(home),
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        # as repo2docker does: no second copy of the CASA wheels in a pip cache (disk is short on small machines)
        PIP_NO_CACHE_DIR="1",
        ALMAVIEW_CACHE_DIR=str(home / ".cache" / "almaview"),
    )
    try:
        run_all(repo, venv, env)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def run_all(repo: Path, venv: Path, env: dict) -> None:
    """The Binder build and every notebook; exits (SystemExit) at the first failure."""
    times = {}
    times["venv"] = step("venv", [sys.executable, "-m", "venv", str(venv)], env=env)
    times["pip"] = step(
        "pip install -r binder/requirements.txt",
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-r",
            "binder/requirements.txt",
            "ipykernel",
            "nbclient",
        ],
        cwd=repo,
        env=env,
    )
    times["postBuild"] = step("postBuild", [str(repo / "binder" / "postBuild")], cwd=repo, env=env)
    for nb in sorted((repo / "notebooks").glob("*.ipynb")):
        standin, nb_env = None, env
        if nb.name.startswith("00-from-the-archive"):  # no internet here: the archive stand-in serves the demo
            standin, url = archive_standin(repo, venv, env)
            nb_env = dict(env, ALMAVIEW_ARCHIVE_URL=url, ALMAVIEW_EXAMPLE_PROJECT="2023.1.01234.S")
        try:
            times[nb.name] = step(
                f"run {nb.name}",
                [str(venv / "bin" / "jupyter"), "execute", "--kernel_name=python3", nb.name],
                cwd=nb.parent,
                env=nb_env,
            )
        finally:
            if standin is not None:
                standin.terminate()
                standin.wait()
    print("binder-check: passed; seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))


if __name__ == "__main__":
    main()

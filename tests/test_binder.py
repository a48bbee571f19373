"""Binder's spec (binder/): what repo2docker reads, checked statically here and for real by ``make binder-check``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"


def test_binder_python_satisfies_requires_python():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    m = re.fullmatch(r"python-(\d+)\.(\d+)", runtime)
    assert m, f"binder/runtime.txt must read python-X.Y for repo2docker, not {runtime!r}"
    need = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    low = tuple(int(x) for x in re.search(r">=\s*(\d+)\.(\d+)", need).groups())
    assert tuple(int(x) for x in m.groups()) >= low, (runtime, need)


def test_binder_installs_almaview_and_the_lab_extensions():
    lines = [ln.split("#")[0].strip() for ln in (BINDER / "requirements.txt").read_text().splitlines()]
    names = {re.split(r"[<>=\[ ]", ln)[0].lower().replace("-", "_") for ln in lines if ln}
    assert any(ln.startswith("-e .[") and "casa" in ln and "distributed" in ln for ln in lines), lines
    assert {"jupyterlab_widgets", "jupyter_bokeh", "voila"} <= names, names


def test_postbuild_is_executable_and_builds_the_demo():
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK), "repo2docker runs postBuild only when it is executable"
    mode = subprocess.run(["git", "ls-files", "-s", "binder/postBuild"], cwd=REPO, capture_output=True, text=True)
    assert mode.stdout.startswith("100755"), f"commit postBuild as executable (git mode 100755): {mode.stdout!r}"
    text = post.read_text()
    assert text.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in text
    assert re.search(r"^almaview demo\b", text, re.M), "postBuild must build the demo delivery"


def test_readme_binder_badge_opens_an_existing_notebook():
    m = re.search(r"mybinder\.org/v2/gh/[^)\s]+labpath=([^)\s&]+)", (REPO / "README.md").read_text())
    assert m, "README has no Binder badge with a labpath"
    assert (REPO / m.group(1).replace("%2F", "/")).is_file(), m.group(1)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("ALMAVIEW_BINDER_CHECK") != "1",
    reason="~5 min (CASA wheels, demo build, every notebook): CI runs `make binder-check` after "
    "`make test`; set ALMAVIEW_BINDER_CHECK=1 to run it inside pytest",
)
def test_binder_spec_builds_and_runs_every_notebook(tmp_path):
    """A fresh venv from binder/ only, postBuild run, every notebook executed (``make binder-check``)."""
    r = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "binder_check.py"), "--workdir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]

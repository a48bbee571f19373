"""Every CLI command on a delivery without its optional parts: a message, never a traceback.

Real packages come without a weblog (manual route), without cont.dat, without the
pipeline's casa_commands.log (no tclean call to start from), or with only the
auxiliary tar downloaded. The demo delivery is copied with hard links (fast, and
almaview never writes into a delivery) minus those parts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.casa  # the demo delivery is built with CASA

OPTIONAL = {
    "no-weblog": ("*.weblog.tgz",),
    "no-contdat": ("*.auxproducts.tgz", "cont.dat"),
    "no-casa-commands": ("*.casa_commands.log",),
    "bare": (
        "*.weblog.tgz",
        "*.auxproducts.tgz",
        "cont.dat",
        "*.casa_commands.log",
        "*aquareport*",
        "*pipeline_manifest*",
        "*.calapply.txt",
    ),
}


def _strip(demo: Path, dst: Path, patterns: tuple[str, ...]) -> Path:
    """A hard-linked copy of the demo project without the files matching ``patterns``."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        import fnmatch

        return {n for n in names for p in patterns if fnmatch.fnmatch(n, p)}

    shutil.copytree(demo, dst, copy_function=os.link, ignore=ignore)
    return dst


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "almaview", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )


@pytest.fixture(scope="module")
def partial(demo_delivery, tmp_path_factory):
    out = {}
    for label, patterns in OPTIONAL.items():
        root = tmp_path_factory.mktemp(label)
        out[label] = _strip(demo_delivery, root / demo_delivery.name, patterns)
    return out


def _assert_clean(proc: subprocess.CompletedProcess, what: str) -> None:
    assert "Traceback" not in proc.stderr, f"{what}:\n{proc.stderr[-3000:]}"
    assert proc.returncode in (0, 1, 3), f"{what}: exit {proc.returncode}\n{proc.stderr[-2000:]}"
    if proc.returncode == 1:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "leap second" not in ln]
        assert len(lines) == 1 and lines[0].startswith("almaview "), f"{what}: {proc.stderr[-2000:]}"


@pytest.mark.parametrize("label", sorted(OPTIONAL))
def test_info_and_qa_without_optional_parts(partial, label, tmp_path):
    root = partial[label]
    info = _run("info", str(root), cwd=tmp_path)
    _assert_clean(info, f"info ({label})")
    assert info.returncode == 0 and "member OUS" in info.stdout
    qa = _run("qa", str(root), cwd=tmp_path)
    _assert_clean(qa, f"qa ({label})")


@pytest.mark.parametrize("label", ["no-casa-commands", "bare"])
def test_tclean_without_the_pipeline_call_or_contdat(partial, label, tmp_path):
    proc = _run("tclean", str(partial[label]), cwd=tmp_path)
    _assert_clean(proc, f"tclean ({label})")
    if proc.returncode == 0:
        assert "tclean(" in proc.stdout


@pytest.mark.parametrize("label", ["bare"])  # no weblog, AQUA, manifest, cont.dat or calapply
def test_report_without_weblog_or_qa_files(partial, label, tmp_path):
    out = tmp_path / "report.html"
    proc = _run("report", str(partial[label]), "-o", str(out), cwd=tmp_path)
    _assert_clean(proc, f"report ({label})")
    assert proc.returncode == 0 and out.stat().st_size > 10_000


def test_restore_plan_without_calapply(partial, tmp_path):
    proc = _run("restore", str(partial["bare"]), "--plan-only", cwd=tmp_path)
    _assert_clean(proc, "restore --plan-only (bare)")

"""``almaview search`` / ``almaview fetch``: exit 0 / 1 (one line on stderr, no traceback) / 2; Ctrl-C and kill -9."""

from __future__ import annotations

import filecmp
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from almaview.cli import main

from .conftest import DEMO_MOUS, closed_port, demo_members

PROJECT = "2023.1.01234.S"
PRODUCT = f"{PROJECT}_{DEMO_MOUS}_001_of_001.tar"


def test_search_prints_one_line_per_member_ous(standin, capsys, demo_delivery):
    assert main(["search", "--project", PROJECT, "--archive-url", standin.url]) == 0
    out = capsys.readouterr().out.splitlines()
    members = demo_members(demo_delivery)  # 12-m, 7-m, TP and the VLA member
    assert len(out) == 1 + len(members) and len(members) == 4
    assert [next(m for m in members if m in line) for line in out[1:]] == members
    assert main(["search", "--source", "M83", "--band", "3", "--archive-url", standin.url, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["mous"] for r in rows] == ["uid___A001_X1295_X35"] and rows[0]["targets"] == "M83"


def test_fetch_list_and_fetch(standin, served, capsys, tmp_path):
    assert main(["fetch", DEMO_MOUS, "--list", "--archive-url", standin.url]) == 0
    out = capsys.readouterr().out
    size = served(PRODUCT).stat().st_size
    assert any(line.split() == ["product", f"{size:,d}", PRODUCT] for line in out.splitlines())
    assert main(["fetch", DEMO_MOUS, "--list", "--json", "--archive-url", standin.url]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["kind"] for r in rows} == {"readme", "product", "auxiliary", "raw"}
    dest = tmp_path / "here"
    assert (
        main(
            [
                "fetch",
                DEMO_MOUS,
                "--what",
                "product",
                "--dest",
                str(dest),
                "--archive-url",
                standin.url,
                "--json",
                "--no-progress",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result == {"folder": str(dest), "files": [str(dest / PRODUCT)]}
    assert filecmp.cmp(dest / PRODUCT, served(PRODUCT), shallow=False)


def test_errors_are_one_line_and_exit_1(standin, capsys, tmp_path):
    assert main(["fetch", "2099.1.99999.S", "--archive-url", standin.url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "UnknownIdentifier" in err and "Traceback" not in err
    url = f"http://127.0.0.1:{closed_port()}"
    assert main(["search", "--project", PROJECT, "--archive-url", url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ArchiveUnreachable" in err and url in err


@pytest.mark.parametrize(
    "argv",
    [["fetch"], ["fetch", "X", "--what", "everything"], ["search"], ["search", "--project", "P", "--source", "S"]],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def _cli(standin, dest: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "almaview",
            "fetch",
            DEMO_MOUS,
            "--what",
            "product",
            "--dest",
            str(dest),
            "--archive-url",
            standin.url,
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        # Ctrl-C as in a terminal: a shell's background job (nohup cmd &) starts with SIGINT ignored, and Python then
        # installs no KeyboardInterrupt handler, so the child would finish its download and exit 0
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for_part(part: Path, proc: subprocess.Popen, least: int = 100_000) -> None:
    deadline = time.time() + 60
    while not (part.exists() and part.stat().st_size > least):
        assert time.time() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_interrupted_cli_leaves_no_wrong_size_file_and_a_rerun_completes(standin, served, tmp_path, sig):
    standin.throttle = 1_000_000
    part = tmp_path / (PRODUCT + ".part")
    proc = _cli(standin, tmp_path)
    _wait_for_part(part, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL), err
    if sig == signal.SIGINT:
        assert "Traceback" not in err
    assert not (tmp_path / PRODUCT).exists()
    got = part.stat().st_size
    assert 0 < got < served(PRODUCT).stat().st_size
    standin.throttle = None
    standin.requests.clear()
    assert (
        main(
            [
                "fetch",
                DEMO_MOUS,
                "--what",
                "product",
                "--dest",
                str(tmp_path),
                "--archive-url",
                standin.url,
                "--no-progress",
            ]
        )
        == 0
    )
    assert [r for _, p, r in standin.requests if p.startswith("/dataPortal/")] == [f"bytes={got}-"]
    assert filecmp.cmp(tmp_path / PRODUCT, served(PRODUCT), shallow=False)

"""A hostile environment: the cache is a file or read-only, an extraction was killed, threads race, the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from almaview import cli
from almaview.cache import cache_dir
from almaview.delivery import tarball
from almaview.errors import CacheNotWritable

REPO = Path(__file__).resolve().parents[2]


def _env(**extra) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def test_cache_dir_is_a_file(tmp_path, monkeypatch, make_tar, unchanged):
    f = tmp_path / "cache-file"
    f.write_text("not a directory")
    monkeypatch.setenv("ALMAVIEW_CACHE_DIR", str(f))
    tgz = unchanged(make_tar(tmp_path / "a.tgz", [("file", "x", b"1")], "w:gz"))
    with pytest.raises(CacheNotWritable, match="is a file .*ALMAVIEW_CACHE_DIR") as err:
        tarball.extract_archive(tgz)
    assert str(f) in str(err.value) and f.read_text() == "not a directory"


def _read_only_cache(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o555)
        return d / "cache"
    probe = Path("/sys/almaview-probe")  # root ignores permission bits: use a file system that refuses mkdir
    try:
        probe.mkdir()
    except OSError:
        return Path("/sys/almaview-cache")
    probe.rmdir()
    pytest.skip("no location refuses writes to this user")


def test_cache_dir_not_writable(tmp_path, monkeypatch):
    ro = _read_only_cache(tmp_path)
    monkeypatch.setenv("ALMAVIEW_CACHE_DIR", str(ro))
    with pytest.raises(CacheNotWritable, match="cannot be created .*ALMAVIEW_CACHE_DIR") as err:
        cache_dir("extracted")
    assert str(ro) in str(err.value)


def test_cli_one_line_for_a_cache_that_is_a_file(tmp_path, monkeypatch, capsys):
    f = tmp_path / "cache-file"
    f.write_text("x")
    monkeypatch.setenv("ALMAVIEW_CACHE_DIR", str(f))
    assert cli.main(["demo"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("almaview demo: CacheNotWritable: ") and "ALMAVIEW_CACHE_DIR" in err


def test_cli_one_line_no_traceback_in_a_real_process(tmp_path):
    fifo = tmp_path / "2019.1.01234.S"
    os.mkfifo(fifo)
    r = subprocess.run(
        [sys.executable, "-m", "almaview", "info", str(fifo)],
        capture_output=True,
        text=True,
        check=False,
        env=_env(ALMAVIEW_CACHE_DIR=str(tmp_path / "c")),
        timeout=120,
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr and r.stdout == ""
    assert r.stderr.count("\n") == 1 and str(fifo) in r.stderr and "NotADelivery" in r.stderr


@pytest.mark.parametrize(
    "args,kind",
    [(["info", "/no/such/delivery"], "PathNotFound"), (["info", "{empty}"], "NotADelivery")],
    ids=["missing", "empty-dir"],
)
def test_cli_one_line_for_any_almaview_error(tmp_path, capsys, args, kind):
    (tmp_path / "empty").mkdir()
    args = [a.replace("{empty}", str(tmp_path / "empty")) for a in args]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f": {kind}: " in err and args[1] in err


_KILLED_CHILD = """
import sys, time, tarfile
def stalled(self, path, members=None, **kw):  # stop inside the real extraction, after its .partial exists
    print("extracting", flush=True)
    time.sleep(600)
tarfile.TarFile.extractall = stalled
from almaview.delivery import tarball
tarball.extract_archive(sys.argv[1])
"""


def test_orphaned_partial_from_a_killed_extraction_is_removed(tmp_path, cache, make_tar, unchanged):
    tgz = unchanged(make_tar(tmp_path / "w.weblog.tgz", [("file", "pipeline-1/html/index.html", b"<html/>")], "w:gz"))
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_CHILD, str(tgz)],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(ALMAVIEW_CACHE_DIR=str(cache)),
    )
    try:
        assert child.stdout.readline().strip() == "extracting"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    orphans = list((cache / "extracted").glob(f".*.pid{child.pid}.*.partial"))
    assert len(orphans) == 1, "the killed process left its .partial behind"
    root = tarball.extract_archive(tgz)
    assert (root / "pipeline-1/html/index.html").read_bytes() == b"<html/>"
    assert not orphans[0].exists() and not list((cache / "extracted").glob(".*.partial"))


def _race(fn, n=8):
    results, errors = [None] * n, []
    start = threading.Barrier(n)

    def run(i):
        try:
            start.wait()
            results[i] = fn()
        except BaseException as err:  # noqa: BLE001 - any failure in a thread fails the test
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results, errors


def test_threads_list_one_archive_at_once(tmp_path, cache, make_tar, unchanged):
    members = [("file", f"t{i}.tbl/table.dat", b"x" * 100) for i in range(300)]
    tgz = unchanged(make_tar(tmp_path / "c.caltables.tgz", members, "w:gz"))
    for _ in range(3):
        for f in (cache / "archives").glob("*") if (cache / "archives").exists() else []:
            f.unlink()
        results, errors = _race(lambda: tarball.list_members(tgz))
        assert errors == [] and all(r == results[0] for r in results) and len(results[0]) == 300
    assert [p.name for p in (cache / "archives").iterdir() if not p.name.endswith(".members.json")] == []


def test_threads_extract_one_archive_at_once(tmp_path, cache, make_tar, unchanged):
    members = [("file", f"pipeline-1/html/s{i}/page.html", b"<p>%d</p>" % i) for i in range(200)]
    tgz = unchanged(make_tar(tmp_path / "w.weblog.tgz", members, "w:gz"))
    results, errors = _race(lambda: tarball.extract_archive(tgz))
    assert errors == [] and len(set(results)) == 1
    root = results[0]
    assert sorted(p.read_bytes() for p in root.rglob("page.html")) == sorted(b"<p>%d</p>" % i for i in range(200))
    assert not list((cache / "extracted").glob(".*.partial"))


def test_cli_escapes_terminal_control_sequences_in_names(package, capsys, unchanged):
    """A file named with an escape sequence (retitle the terminal, clear the screen) is printed escaped."""
    evil = "\x1b]0;pwned\x07\x1b[2J.txt"
    (package.member / evil).write_bytes(b"x")
    unchanged(package.base)
    assert cli.main(["info", "--no-ms", str(package.project)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\\x1b]0;pwned\\x07\\x1b[2J.txt" in out

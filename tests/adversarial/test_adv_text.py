"""Hostile package text files: FIFOs, endless devices, links out of the package, huge or pathological text.

Every attack is applied to the small delivery of the ``package`` fixture; the delivery must still open
(the damaged part reported as a problem) within a bound, and be byte-identical afterwards.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import almaview as av
from almaview.delivery.auxfiles import parse_cont_dat
from almaview.delivery.calapply import parse_calapply
from almaview.delivery.readme import parse_readme
from almaview.delivery.textfile import MAX_TEXT_BYTES, decode_text, read_package_bytes
from almaview.errors import UnreadablePackageFile


def _open(pkg, unchanged, **kw):
    unchanged(pkg.base)
    t0 = time.monotonic()
    d = av.open_delivery(pkg.project, read_ms=False, **kw)
    return d, time.monotonic() - t0


def _readme(pkg) -> Path:
    p = pkg.member / "README"
    p.unlink()
    return p


def test_readme_is_a_fifo(package, unchanged):
    os.mkfifo(_readme(package))
    d, took = _open(package, unchanged)
    assert took < 60 and d.mous[0].readme is None
    assert any("README" in p and "FIFO" in p and "skipped" in p for p in d.problems), d.problems
    assert "README in" in d.status() and "was skipped" in d.status() and "no README found" not in d.status()


def test_readme_links_to_dev_zero(package, unchanged):
    _readme(package).symlink_to("/dev/zero")
    d, took = _open(package, unchanged)
    assert took < 60 and d.mous[0].readme is None
    assert any("README" in p and "'/dev/zero', outside the package" in p for p in d.problems), d.problems


def test_readme_links_out_of_the_package(package, tmp_path, unchanged):
    secret = tmp_path / "secret.txt"
    secret.write_text("Project code: 2099.1.99999.S\nPI name: not in this package\n")
    _readme(package).symlink_to(secret)
    d, _ = _open(package, unchanged)
    assert d.mous[0].readme is None and d.pi_name != "not in this package"
    assert any("outside the package" in p for p in d.problems), d.problems


def test_calapply_links_to_a_fifo_outside(package, tmp_path, unchanged):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    target = package.calibration / "uid___A002_Xe1f219_X6d0.ms.calapply.txt"
    target.unlink()
    target.symlink_to(fifo)
    d, took = _open(package, unchanged)
    assert took < 60 and any("calapply" in p and "outside the package" in p for p in d.problems), d.problems
    assert [eb.uid for eb in d.ebs if eb.calapply] == ["uid___A002_Xe1f219_X7ee"], "the other EB still opens"


def test_huge_readme_is_skipped_not_read(package, unchanged):
    p = package.member / "README"
    with open(p, "ab") as f:  # 11 MiB, sparse: cheap to write, and never read
        f.truncate(MAX_TEXT_BYTES + (1 << 20))
    d, took = _open(package, unchanged)
    assert took < 60 and d.mous[0].readme is None
    assert any("README" in p and "more than the" in p for p in d.problems), d.problems


def test_link_to_root_inside_the_package_is_not_walked(package, unchanged):
    (package.member / "calibrated").mkdir()
    (package.member / "calibrated" / "uid___A002_Xe1f219_X6d0.ms.split.cal").symlink_to("/")
    (package.member / "product" / "everything").symlink_to("/")
    t0 = time.process_time()
    d, _ = _open(package, unchanged)
    took = time.process_time() - t0
    assert took < 5, f"walking / would take minutes; took {took:.1f} s CPU"
    assert sum("outside the package: its contents are not listed or sized" in p for p in d.problems) == 2
    assert d.project_code == "2019.1.01234.S"


def test_binary_garbage_readme(package, unchanged):
    (package.member / "README").write_bytes(os.urandom(200_000) + b"\0" * 1000)
    d, _ = _open(package, unchanged)
    assert d.mous[0].readme is not None and d.mous[0].readme.project_code is None
    assert len(d.ebs) == 2


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_readme_in_utf16(package, unchanged, encoding):
    p = package.member / "README"
    text = p.read_text().replace("A. Person", "Ødegård, Å.")
    p.write_bytes(text.encode(encoding))
    d, _ = _open(package, unchanged)
    r = d.mous[0].readme
    assert (r.project_code, r.pi_name, r.configuration) == ("2019.1.01234.S", "Ødegård, Å.", "C43-5")


def _cpu(fn, *args) -> float:
    t0 = time.process_time()  # CPU time: the machine is shared, wall time is not the code's
    fn(*args)
    return time.process_time() - t0


TEN_MB = 10_000_000


@pytest.mark.parametrize(
    "text",
    [
        "Project code: x" + " " * 50_000 + "x\n",
        " " * 50_000 + "\n",
        "Achieved beam" + " " * 50_000 + "x\n",
        "PI name:" + "\t" * 50_000 + ":\n" * 3,
        "-" * 50_000 + "x\n",
    ],
    ids=["key-then-50k-spaces", "50k-spaces", "achieved-50k", "tabs-colons", "ruler-50k"],
)
def test_readme_long_lines_parse_fast(text):
    assert _cpu(parse_readme, text) < 0.2


@pytest.mark.parametrize(
    "unit",
    [
        "Project code: 2019.1.01234.S\nPI name:" + " " * 90 + "x\nCOMMENTS FROM REDUCER\n---------------\n"
        "Achieved rms: 1 mJy\nfree text line without anything\nSB name: x\n=====\n",
        "a" * 999 + ":" + "\n",
    ],
    ids=["every-kind-of-line", "long-keys"],
)
def test_ten_megabyte_readme_parses_in_a_second(unit):
    text = (unit * (TEN_MB // len(unit) + 1))[:TEN_MB]
    assert _cpu(parse_readme, text) < 1.0


def test_ten_megabyte_reducer_comments_parse_in_a_second():
    text = "COMMENTS FROM REDUCER\n=====================\n" + ("the phase rms was high\n" * 440_000)
    r = None

    def run():
        nonlocal r
        r = parse_readme(text[:TEN_MB])

    assert _cpu(run) < 1.0 and r.reducer_comments.startswith("the phase rms was high")


@pytest.mark.parametrize(
    "unit",
    ["SpectralWindow: 17\n230.1~230.5GHz LSRK\nField: x\n" + "1" * 500 + "\n", "230.1~" + "9" * 3000 + "\n"],
    ids=["mixed", "long-number"],
)
def test_ten_megabyte_cont_dat_parses_in_a_second(unit):
    assert _cpu(parse_cont_dat, (unit * (TEN_MB // len(unit) + 1))[:TEN_MB]) < 1.0


@pytest.mark.parametrize(
    "unit",
    [
        "applycal(vis='a.ms', gaintable=['x.tsyscal.tbl'], spwmap=[[0,1]])\n# a comment\n",
        "applycal(" + "[" * 5000 + "\n" + "applycal(vis=" + "(" * 100 + "\n",
    ],
    ids=["calls", "deep-and-unbalanced"],
)
def test_ten_megabyte_calapply_parses_in_a_second(unit):
    assert _cpu(parse_calapply, (unit * (TEN_MB // len(unit) + 1))[:TEN_MB]) < 1.0


def test_read_package_bytes_refuses_devices_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "zero").symlink_to("/dev/zero")
    for name, kind in (("fifo", "FIFO"), ("zero", "character device")):
        with pytest.raises(UnreadablePackageFile, match=kind) as err:
            read_package_bytes(tmp_path / name)  # no package root: the device itself is refused
        assert str(tmp_path / name) in str(err.value)
    assert decode_text("Cycle: 7".encode("utf-16-le")) == "Cycle: 7"


def test_package_nested_1100_folders_deep(package, tree_hash):
    """Python 3.11's os.walk recurses per level: a deep package raised RecursionError when opened."""
    made = []
    here = package.member / "product"
    for _ in range(1100):
        here = here / "a"
        here.mkdir()
        made.append(here)
    (here / "member.uid___A001_X1465_X2a38.deep.fits").write_bytes(b"SIMPLE")
    try:
        before = tree_hash(package.base)
        d = av.open_delivery(package.project, read_ms=False)
        assert tree_hash(package.base) == before
        assert d.project_code == "2019.1.01234.S" and len(d.ebs) == 2
        deep = [f for f in d.mous[0].unknown_files + d.mous[0].other_products if f.endswith("deep.fits")]
        assert len(deep) == 1 or any(im.source.endswith("deep.fits") for im in d.mous[0].images)
    finally:
        (here / "member.uid___A001_X1465_X2a38.deep.fits").unlink()
        for p in reversed(made):  # shutil.rmtree would recurse too deep as well
            p.rmdir()

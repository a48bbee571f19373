"""Reading tar members in place, safe extraction into the cache, unsafe and damaged archives."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from almaview.delivery import tarball
from almaview.errors import DamagedArchive, PathNotFound, UnsafeArchiveMember
from deliveries.fixtures import cache, unchanged  # noqa: F401


def _tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tf.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
    return path


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    i = tarfile.TarInfo(name)
    i.type = kind
    i.linkname = link
    return i


def test_members_listed_and_read_without_extraction(tmp_path, cache, unchanged):
    tar = _tar(tmp_path / "a.tar", [("p/x/README", b"hello"), ("p/x/big.bin", b"\0" * 100_000)])
    unchanged(tmp_path)
    assert [(m.name, m.size) for m in tarball.list_members(tar)] == [("p/x/README", 5), ("p/x/big.bin", 100_000)]
    assert tarball.read_member(tar, "p/x/README") == b"hello"
    assert not any(cache.rglob("README"))


def test_nested_archive_read_in_place(tmp_path, cache):
    inner = _tar(tmp_path / "in.tgz", [("t/table.dat", b"T"), ("cont.dat", b"Field: X\n")], "w:gz")
    outer = tmp_path / "out.tar"
    with tarfile.open(outer, "w") as tf:
        tf.add(inner, arcname="p/calibration/in.tgz")
    assert [m.name for m in tarball.list_nested_members(outer, "p/calibration/in.tgz")] == ["t/table.dat", "cont.dat"]
    assert tarball.read_member(outer, "cont.dat", nested="p/calibration/in.tgz") == b"Field: X\n"
    root = tarball.extract_archive(outer, nested="p/calibration/in.tgz")
    assert (root / "t" / "table.dat").read_bytes() == b"T" and root.is_relative_to(cache)


def test_extract_once_atomically_and_reuse(tmp_path, cache, unchanged):
    tgz = _tar(
        tmp_path / "w.tgz", [("pipeline-1/html/index.html", b"<html/>"), ("pipeline-1/html/s/p.png", b"P")], "w:gz"
    )
    unchanged(tmp_path / "w.tgz")
    root = tarball.extract_archive(tgz)
    assert (root / "pipeline-1/html/index.html").read_bytes() == b"<html/>"
    stamp = (root / "pipeline-1/html/index.html").stat().st_mtime_ns
    assert tarball.extract_archive(tgz) == root and (root / "pipeline-1/html/index.html").stat().st_mtime_ns == stamp
    assert not list(root.parent.glob("*.partial"))
    sub = tarball.extract_archive(tgz, prefix="pipeline-1/html/s")
    assert sorted(p.relative_to(sub).as_posix() for p in sub.rglob("*") if p.is_file()) == ["pipeline-1/html/s/p.png"]


@pytest.mark.parametrize(
    "member,why",
    [
        (_info("../../x"), "outside the extraction directory"),
        (_info("/etc/passwd_copy"), "absolute path"),
        (_info("a/../../x"), "outside the extraction directory"),
        (_info("link", tarfile.SYMTYPE, "../../etc"), "points outside the archive"),
        (_info("link", tarfile.SYMTYPE, "/etc/passwd"), "points outside the archive"),
        (_info("hard", tarfile.LNKTYPE, "../x"), "points outside the archive"),
        (_info("dev", tarfile.CHRTYPE), "device or fifo"),
        (_info("fifo", tarfile.FIFOTYPE), "device or fifo"),
    ],
)
def test_unsafe_members_rejected_before_writing(tmp_path, cache, member, why):
    tar = _tar(tmp_path / "evil.tar", [("ok.txt", b"fine"), member])
    with pytest.raises(UnsafeArchiveMember, match=why) as err:
        tarball.extract_archive(tar)
    assert str(tar) in str(err.value)
    with pytest.raises(UnsafeArchiveMember):
        tarball.list_members(tar)
    assert not any(cache.rglob("ok.txt"))  # nothing written, not even the safe member
    assert not (tmp_path.parent / "x").exists()


def test_safe_internal_symlink_allowed(tmp_path, cache):
    tar = _tar(tmp_path / "ok.tar", [("d/f.txt", b"x"), _info("d/l", tarfile.SYMTYPE, "f.txt")])
    root = tarball.extract_archive(tar)
    assert (root / "d" / "l").read_bytes() == b"x"


def test_truncated_tgz(tmp_path, cache):
    good = _tar(tmp_path / "c.tgz", [(f"t{i}/table.f0", bytes(range(256)) * 400) for i in range(5)], "w:gz")
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DamagedArchive, match="truncated") as err:
        tarball.list_members(bad)
    assert str(bad) in str(err.value)
    with pytest.raises(DamagedArchive, match="truncated"):
        tarball.extract_archive(bad)
    assert not list((cache / "extracted").glob("*")) if (cache / "extracted").exists() else True


def test_not_an_archive(tmp_path, cache):
    f = tmp_path / "x.tar"
    f.write_text("this is not a tar file at all" * 20)
    with pytest.raises(DamagedArchive, match="not a readable tar archive"):
        tarball.list_members(f)
    with pytest.raises(PathNotFound):
        tarball.list_members(tmp_path / "missing.tar")


def test_compressed_listing_cached(tmp_path, cache):
    tgz = _tar(tmp_path / "l.tgz", [("a", b"1")], "w:gz")
    first = tarball.list_members(tgz)
    assert list((cache / "archives").glob("*.members.json"))
    assert tarball.list_members(tgz) == first

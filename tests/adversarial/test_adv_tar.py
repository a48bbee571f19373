"""Hostile tar archives: every attack is refused with a typed error before anything is written.

Each test builds its archive with tarfile in tmp_path, puts a victim file where the attack aims, and
asserts the safe outcome, that the victim and the archive are byte-identical afterwards, and that
nothing was written into the cache.
"""

from __future__ import annotations

import gzip
import tarfile
import time
from pathlib import Path

import pytest

from almaview.delivery import tarball
from almaview.errors import (
    ArchiveMemberNameTooLong,
    DamagedArchive,
    DuplicateArchiveMember,
    NotEnoughSpace,
    PathNotFound,
    UnsafeArchiveMember,
)

VICTIM = b"the user's own file: must never change\n"


@pytest.fixture
def victim(tmp_path: Path, unchanged) -> Path:
    """A file where attacks aim (tmp_path/victim.txt, next to the cache), checked unchanged at teardown."""
    p = tmp_path / "victim.txt"
    p.write_bytes(VICTIM)
    unchanged(p)
    return p


def _files_in(cache: Path) -> list[Path]:
    d = cache / "extracted"
    return [p for p in d.rglob("*") if p.is_file() or p.is_symlink()] if d.exists() else []


def _refused(tar: Path, error: type, match: str, cache: Path, **kw) -> pytest.ExceptionInfo:
    with pytest.raises(error, match=match) as err:
        tarball.extract_archive(tar, **kw)
    assert str(tar) in str(err.value), "the error names the archive"
    assert _files_in(cache) == [], "nothing written, not even the safe members"
    assert not list((cache / "extracted").glob(".*.partial")) if (cache / "extracted").exists() else True
    return err


def test_symlink_chain_climbing_out(tmp_path, cache, victim, unchanged, make_tar, escaped):
    """Links to '.', then a link climbing with '..' (fine by its own name), then a file written through them."""
    members = [
        ("file", "ok.txt", b"fine"),
        ("sym", "a", "."),
        ("sym", "a/b", "."),
        ("sym", "a/b/c", "."),
        ("sym", "a/b/c/up", "../../.."),
        ("file", "up/victim.txt", b"pwned\n"),
    ]
    tar = unchanged(make_tar(tmp_path / "chain.tar", members))
    with tarfile.open(tar) as tf:  # each member passes a check of its own name: only the chain is unsafe
        assert all(tarball.check_member(tar, i) is not None for i in tf.getmembers())
    _refused(tar, UnsafeArchiveMember, "outside the archive once the symbolic links before it are followed", cache)
    with pytest.raises(UnsafeArchiveMember):
        tarball.list_members(tar)
    assert victim.read_bytes() == VICTIM and escaped(tmp_path, "up") == []


def test_symlink_chain_in_gzip_weblog(tmp_path, cache, victim, unchanged, make_tar):
    """The same chain inside a weblog .tgz, deeper (the climbing link named four levels down)."""
    members = [
        ("dir", "pipeline-1"),
        ("sym", "pipeline-1/x", "."),
        ("sym", "pipeline-1/x/y", "."),
        ("sym", "pipeline-1/x/y/z", "."),
        ("sym", "pipeline-1/x/y/z/w", "."),
        ("sym", "pipeline-1/x/y/z/w/out", "../../../../.."),
        ("file", "pipeline-1/out/victim.txt", b"x"),
    ]
    tgz = unchanged(make_tar(tmp_path / "m.hifa_calimage.weblog.tgz", members, "w:gz"))
    _refused(tgz, UnsafeArchiveMember, "points outside the archive", cache)


def test_file_written_through_escaping_link_chain(tmp_path, cache, victim, unchanged, make_tar):
    """A chain whose last hop is checked only when a file is written through it."""
    members = [
        ("sym", "s", "."),
        ("sym", "s/t", "s"),
        ("file", "t/t/t/ok", b"inside is fine"),
        ("sym", "deep/deeper/p", "../.."),
        ("file", "deep/deeper/p/p2", b"fine too"),
    ]
    tar = unchanged(make_tar(tmp_path / "inside.tar", members))
    root = tarball.extract_archive(tar)  # links that stay inside are followed and kept
    assert (root / "ok").read_bytes() == b"inside is fine" and (root / "s").is_symlink()
    assert (root / "p2").read_bytes() == b"fine too"


def test_link_redefined_later_escapes(tmp_path, cache, victim, unchanged, make_tar):
    """A link that is inside when stored, but leaves once a later link is stored (order matters)."""
    members = [("sym", "d1/d2/x", "../y/../.."), ("sym", "d1/y", ".")]
    tar = unchanged(make_tar(tmp_path / "late.tar", members))
    _refused(tar, UnsafeArchiveMember, "points outside the archive once the symbolic links", cache)


@pytest.mark.parametrize(
    "members,match",
    [
        ([("file", "../victim.txt", b"x")], "outside the extraction directory"),
        ([("file", "a/../../victim.txt", b"x")], "outside the extraction directory"),
        ([("file", "/tmp/victim.txt", b"x")], "absolute path"),
        ([("file", "C:/victim.txt", b"x")], "absolute path"),
        ([("sym", "l", "../../../victim.txt")], "points outside the archive"),
        ([("sym", "l", "/etc/passwd")], "points outside the archive"),
        ([("hard", "h", "../victim.txt")], "points outside the archive"),
        ([("hard", "h", "/etc/passwd")], "points outside the archive"),
        ([("hard", "h", "not/in/archive")], "not a file stored earlier"),
        ([("chr", "dev/zero")], "device or fifo"),
        ([("blk", "dev/sda")], "device or fifo"),
        ([("fifo", "README")], "device or fifo"),
        ([("sym", "a", "b"), ("sym", "b", "a")], "loop of symbolic links"),
    ],
    ids=[
        "dotdot",
        "dotdot-inside-name",
        "absolute",
        "windows-drive",
        "symlink-up",
        "symlink-absolute",
        "hardlink-up",
        "hardlink-absolute",
        "hardlink-missing",
        "char-device",
        "block-device",
        "fifo",
        "link-loop",
    ],
)
def test_unsafe_member(tmp_path, cache, victim, unchanged, make_tar, members, match):
    tar = unchanged(make_tar(tmp_path / "evil.tar", [("file", "ok.txt", b"fine"), *members]))
    _refused(tar, UnsafeArchiveMember, match, cache)
    with pytest.raises(UnsafeArchiveMember):
        tarball.list_members(tar)


@pytest.mark.parametrize(
    "members,match",
    [
        (
            [("file", "a.txt", b"1"), ("file", "a.txt", b"2")],
            r"appears twice in the archive \(as a file and as a file\)",
        ),
        ([("file", "a", b"1"), ("dir", "a")], "as a file and as a directory"),
        ([("file", "a", b"1"), ("file", "a/b", b"2")], "below 'a', which the archive already holds as a file"),
        ([("sym", "a", "b"), ("file", "a", b"2")], "as a symbolic link and as a file"),
        ([("file", "b/c", b"1"), ("file", "b", b"2")], "as a directory and as a file"),
    ],
    ids=["same-file-twice", "file-then-dir", "file-then-below-it", "link-then-file", "dir-then-file"],
)
def test_duplicate_or_conflicting_names(tmp_path, cache, victim, unchanged, make_tar, members, match):
    tar = unchanged(make_tar(tmp_path / "dup.tar", members))
    _refused(tar, DuplicateArchiveMember, match, cache)


def test_repeated_directory_entries_are_fine(tmp_path, cache, unchanged, make_tar):
    tar = unchanged(
        make_tar(tmp_path / "dirs.tar", [("dir", "d"), ("file", "d/f", b"1"), ("dir", "d"), ("dir", "./d/")])
    )
    assert (tarball.extract_archive(tar) / "d" / "f").read_bytes() == b"1"


@pytest.mark.parametrize(
    "name",
    ["a/" + "x" * 300, "/".join(["y" * 200] * 6), "é" * 130],
    ids=["component-300", "total-1200", "multibyte-260"],
)
def test_over_long_names(tmp_path, cache, unchanged, make_tar, name):
    tar = unchanged(make_tar(tmp_path / "long.tar", [("file", "ok", b"1"), ("file", name, b"2")]))
    _refused(tar, ArchiveMemberNameTooLong, "bytes", cache)


def test_internal_links_kept(tmp_path, cache, unchanged, make_tar):
    """Hard links and symbolic links that stay inside are extracted as links, not dropped or copied."""
    members = [
        ("file", "t/table.f0", b"DATA" * 100),
        ("hard", "t/table.f0_TSM0", "t/table.f0"),
        ("sym", "t/alias", "table.f0"),
        ("sym", "up", "t"),
        ("dir", "empty"),
    ]
    tar = unchanged(make_tar(tmp_path / "links.tgz", members, "w:gz"))
    root = tarball.extract_archive(tar)
    f0, hard = root / "t/table.f0", root / "t/table.f0_TSM0"
    assert f0.stat().st_ino == hard.stat().st_ino and f0.stat().st_nlink == 2  # a real hard link
    assert (root / "t/alias").is_symlink() and (root / "t/alias").readlink() == Path("table.f0")
    assert (root / "up/alias").read_bytes() == b"DATA" * 100 and (root / "empty").is_dir()


def test_decompression_bomb_refused_before_writing(tmp_path, cache):
    """A member claiming more bytes than the cache's disk has free (a sparse tar, so cheap to build)."""
    import shutil

    cache.mkdir(parents=True)
    free = shutil.disk_usage(cache).free
    size = free + (16 << 30)
    tar = tmp_path / "bomb.tar"
    info = tarfile.TarInfo("uid___A002_X1_X1.ms.split.cal/table.f0")
    info.size = size
    with open(tar, "wb") as f:
        f.write(tarfile.TarInfo("ok.txt").tobuf(tarfile.GNU_FORMAT))
        f.write(info.tobuf(tarfile.GNU_FORMAT))
        f.seek(f.tell() + size + (-size % 512))  # a hole: the data read as zeros, no disk used
        f.write(b"\0" * 1024)
    before = tar.stat()
    try:
        err = _refused(tar, NotEnoughSpace, "has only .* free", cache)
        assert str(size) in str(err.value) and str(cache) in str(err.value), "names both sizes and the cache"
        after = tar.stat()  # not hashed: reading 16 GB of holes would take minutes
        assert (after.st_size, after.st_mtime_ns, after.st_blocks) == (
            before.st_size,
            before.st_mtime_ns,
            before.st_blocks,
        )
    finally:
        tar.unlink()


def _corrupt_crc(tgz: Path) -> None:
    data = bytearray(tgz.read_bytes())
    data[-8] ^= 0xFF  # gzip trailer: CRC32 then ISIZE
    tgz.write_bytes(bytes(data))


def test_gzip_crc_error_detected(tmp_path, cache, unchanged, make_tar):
    tgz = make_tar(
        tmp_path / "crc.caltables.tgz",
        [("file", "t/table.dat", b"T" * 5000), ("file", "t/table.f0", b"F" * 5000)],
        "w:gz",
    )
    with tarfile.open(tgz) as tf:
        assert len(tf.getmembers()) == 2
    _corrupt_crc(tgz)
    with tarfile.open(tgz) as tf:  # tarfile alone stops at the end-of-archive block and never sees the CRC
        assert [m.name for m in tf.getmembers()] == ["t/table.dat", "t/table.f0"]
    with pytest.raises(gzip.BadGzipFile):
        gzip.decompress(tgz.read_bytes())
    unchanged(tgz)
    with pytest.raises(DamagedArchive, match="checksum"):
        tarball.list_members(tgz)
    _refused(tgz, DamagedArchive, "checksum", cache)


def test_truncated_gzip(tmp_path, cache, unchanged, make_tar):
    good = make_tar(tmp_path / "g.tgz", [("file", f"t{i}/table.f0", bytes(range(256)) * 300) for i in range(6)], "w:gz")
    bad = tmp_path / "half.tgz"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    unchanged(bad)
    with pytest.raises(DamagedArchive, match="truncated|checksum"):
        tarball.list_members(bad)
    _refused(bad, DamagedArchive, "truncated|checksum", cache)


@pytest.mark.parametrize(
    "content", [b"", b"\x1f\x8b" + b"\0" * 100, b"PK\x03\x04 a zip file"], ids=["empty", "gzip-header-only", "zip"]
)
def test_not_a_tar(tmp_path, cache, unchanged, content):
    f = tmp_path / "x.tgz"
    f.write_bytes(content)
    unchanged(f)
    with pytest.raises(DamagedArchive, match="not a readable tar archive|truncated|checksum"):
        tarball.list_members(f)


def test_archive_that_is_a_fifo_does_not_hang(tmp_path, cache, unchanged):
    import os

    fifo = tmp_path / "2019.1.01234.S_uid___A001_X1_X2_auxiliary.tar"
    os.mkfifo(fifo)
    unchanged(tmp_path / "2019.1.01234.S_uid___A001_X1_X2_auxiliary.tar")
    with pytest.raises(DamagedArchive, match="not a regular file"):
        tarball.list_members(fifo)
    with pytest.raises(DamagedArchive, match="not a regular file"):
        tarball.extract_archive(fifo)
    with pytest.raises(PathNotFound):
        tarball.list_members(tmp_path / "missing.tar")


def test_nested_archive_with_chain(tmp_path, cache, victim, unchanged, make_tar):
    """An unsafe caltables.tgz inside an archive tar: refused when the nested archive is extracted."""
    inner = make_tar(
        tmp_path / "in.tgz", [("sym", "a", "."), ("sym", "a/up", ".."), ("file", "up/victim.txt", b"x")], "w:gz"
    )
    outer = tmp_path / "2019.1.01234.S_uid___A001_X1_X2_auxiliary.tar"
    with tarfile.open(outer, "w") as tf:
        tf.add(inner, arcname="p/calibration/x.caltables.tgz")
    unchanged(outer)
    with pytest.raises(UnsafeArchiveMember, match="points outside the archive"):
        tarball.list_nested_members(outer, "p/calibration/x.caltables.tgz")
    with pytest.raises(UnsafeArchiveMember):
        tarball.extract_archive(outer, nested="p/calibration/x.caltables.tgz")
    assert _files_in(cache) == []


def test_restore_flagversions_use_the_checked_path(tmp_path, cache, victim, unchanged, make_tar):
    """The restore engine extracts delivered flag versions through the same validation (chain refused)."""
    from almaview.errors import RestoreStepFailed
    from almaview.restore.engines.modular import extract_flagversions

    eb = "uid___A002_X1_X2.ms.flagversions"
    good = unchanged(
        make_tar(
            tmp_path / "good.tgz",
            [
                ("file", f"{eb}/FLAG_VERSION_LIST", b"Original : flags\n"),
                ("file", f"{eb}/flags.Original/table.dat", b"T"),
            ],
            "w:gz",
        )
    )
    work = tmp_path / "work"
    out = extract_flagversions(str(good), str(work / "uid___A002_X1_X2.ms"))
    with tarfile.open(good) as tf:
        assert (out / "FLAG_VERSION_LIST").read_bytes() == tf.extractfile(f"{eb}/FLAG_VERSION_LIST").read()
    evil = unchanged(
        make_tar(
            tmp_path / "evil.tgz",
            [("sym", f"{eb}", "."), ("sym", f"{eb}/up", "../../.."), ("file", "up/victim.txt", b"pwned")],
            "w:gz",
        )
    )
    with pytest.raises(RestoreStepFailed, match="points outside the archive"):
        extract_flagversions(str(evil), str(work / "uid___A002_X9_X9.ms"))
    assert not (work / "uid___A002_X9_X9.ms.flagversions").exists()
    assert not (work / "uid___A002_X9_X9.ms.flagversions.extracting").exists()
    with pytest.raises(FileExistsError):
        tarball.extract_into(good, out)


def test_gzip_bomb_refused_while_listing(tmp_path, cache, unchanged):
    """A .tgz whose first header declares more than the cache's free space in ~1 MB of gzip: refused at that header,
    without decompressing what follows (tarfile alone would inflate 1 GiB of zeros before failing)."""
    import shutil

    cache.mkdir(parents=True)
    size = shutil.disk_usage(cache).free + (16 << 30)
    info = tarfile.TarInfo("uid___A002_X1_X1.ms.flagversions/flags.Original/table.f0")
    info.size = size
    zeros = b"\0" * (1 << 24)
    first, more = gzip.compress(info.tobuf(tarfile.GNU_FORMAT) + zeros), gzip.compress(zeros)
    tgz = tmp_path / "bomb.flagversions.tgz"
    tgz.write_bytes(first + more * 63)  # gzip members one after another: one stream of 1 GiB of zeros
    unchanged(tgz)
    assert tgz.stat().st_size < 2 << 20
    t0 = time.process_time()
    with pytest.raises(NotEnoughSpace, match="decompression bomb") as err:
        tarball.list_members(tgz)
    assert time.process_time() - t0 < 1.0 and str(size) in str(err.value)
    _refused(tgz, NotEnoughSpace, "decompression bomb", cache)

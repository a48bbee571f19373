"""Helpers for the adversarial suite: hostile archives and packages built with tarfile/os in tmp_path.

Reusable by every engineer's attack tests (fixtures, no imports needed):

``tree_hash(root)``
    every path under ``root`` with its type, mode, size, mtime and content hash; links, FIFOs and
    devices are recorded without being followed, opened or read.
``unchanged(path)``
    snapshot ``path`` now and assert at teardown that it is byte-identical.
``make_tar(path, members, mode="w")``
    write a tar from ``("file", name, bytes)``, ``("dir", name)``, ``("sym", name, target)``,
    ``("hard", name, target)``, ``("fifo", name)``, ``("chr", name)``, ``("blk", name)`` tuples.
``package``
    a small text-only delivery (project/science_goal/group/member with README, calapply, cont.dat,
    flux.csv) to damage; returns a :class:`Package`.
``cache``
    a private ``ALMAVIEW_CACHE_DIR`` for the test (assert nothing escaped into the rest of tmp_path).
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = "2019.1.01234.S"
EB1, EB2 = "uid___A002_Xe1f219_X6d0", "uid___A002_Xe1f219_X7ee"
README = f"""ALMA Member ObsUnitSet README
=============================

PROJECT DETAILS
---------------
Project code: {PROJECT}
PI name: A. Person
Project title: A hostile test
Configuration: C43-5
CASA version used for reduction: 6.5.4-9
"""


def _calapply(eb: str) -> str:
    return (
        f"applycal(vis='{eb}.ms', field='J1924-2914', intent='BANDPASS', spw='17,19', antenna='0~11', "
        f"gaintable=['{eb}.ms.hifa_tsyscal.s6_1.tsyscal.tbl', '{eb}.ms.hifa_bandpass.s12_5.bcal.tbl'], "
        "gainfield=['', ''], interp=['linear,linear', 'linear,linear'], spwmap=[[], []], calwt=[False, False])\n"
        f"applycal(vis='{eb}.ms', field='NGC_1234', intent='TARGET', spw='17,19', antenna='0~11', "
        f"gaintable=['{eb}.ms.hifa_tsyscal.s6_1.tsyscal.tbl'], gainfield=['NGC_1234'], interp=['linear'], "
        "spwmap=[[17, 17, 19, 19]], calwt=[False])\n"
    )


CONT_DAT = "Field: NGC_1234\n\nSpectralWindow: 17\n230.100~230.500GHz LSRK\n231.000~232.000GHz LSRK\n"
FLUX_CSV = 'ms,field,spw,I,Q,U,V,spix,uvmin,uvmax,comment\na.ms,0,17,1.5,0,0,0,-0.7,0,0,"# field=J1924-2914"\n'


@dataclass
class Package:
    """A small delivery written by the ``package`` fixture."""

    base: Path  #: the folder holding the project directory (hash this to check nothing changed)
    project: Path
    member: Path

    @property
    def calibration(self) -> Path:
        return self.member / "calibration"


def tree_hash(root: Path) -> dict[str, tuple]:
    """Every path under ``root``: (kind, mode, size, mtime_ns, sha256) for files, link targets for links.

    Never follows a link and never opens anything but regular files, so it is safe on hostile trees.
    """
    out: dict[str, tuple] = {}
    root = Path(root)
    st = root.lstat()
    paths = [root]
    todo = [root] if stat.S_ISDIR(st.st_mode) else []
    while todo:  # a stack, not os.walk: 3.11's os.walk recurses and fails on trees 1000 folders deep
        here = todo.pop()
        with os.scandir(here) as it:
            for e in it:
                paths.append(Path(e.path))
                if e.is_dir(follow_symlinks=False):
                    todo.append(Path(e.path))
    for p in paths:
        st = p.lstat()
        rel = p.relative_to(root).as_posix() if p != root else "."
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(p))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", mode, st.st_mtime_ns)
        elif stat.S_ISREG(st.st_mode):
            h = hashlib.sha256()
            with open(p, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            out[rel] = ("file", mode, st.st_size, st.st_mtime_ns, h.hexdigest())
        else:
            out[rel] = ("special", stat.S_IFMT(st.st_mode), mode, st.st_mtime_ns)
    return out


@pytest.fixture(name="tree_hash")
def tree_hash_fixture() -> Callable[[Path], dict[str, tuple]]:
    """The :func:`tree_hash` function."""
    return tree_hash


@pytest.fixture
def unchanged():
    """Call ``unchanged(path)`` to have ``path`` checked byte-identical (tree_hash) at teardown."""
    roots: list[tuple[Path, dict]] = []

    def register(path: Path) -> Path:
        roots.append((Path(path), tree_hash(path)))
        return Path(path)

    yield register
    for path, before in roots:
        after = tree_hash(path)
        diff = sorted(set(after.items()) ^ set(before.items()))
        assert after == before, f"{path} changed: {diff[:6]}"


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A private almaview cache for one test (``ALMAVIEW_CACHE_DIR``)."""
    d = tmp_path / "almaview-cache"
    monkeypatch.setenv("ALMAVIEW_CACHE_DIR", str(d))
    return d


_TYPES = {
    "sym": tarfile.SYMTYPE,
    "hard": tarfile.LNKTYPE,
    "fifo": tarfile.FIFOTYPE,
    "chr": tarfile.CHRTYPE,
    "blk": tarfile.BLKTYPE,
    "dir": tarfile.DIRTYPE,
}


def make_tar(path: Path, members: list[tuple], mode: str = "w", fmt: int = tarfile.PAX_FORMAT) -> Path:
    """Write a tar whose members are exactly ``members`` (see the module docstring), in order."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode, format=fmt) as tf:
        for m in members:
            kind, name = m[0], m[1]
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if kind == "file":
                data = m[2]
                info.size = len(data)
                info.mode = 0o644
                tf.addfile(info, io.BytesIO(data))
                continue
            info.type = _TYPES[kind]
            info.mode = 0o755 if kind == "dir" else 0o644
            if kind in ("sym", "hard"):
                info.linkname = m[2]
            tf.addfile(info)
    return path


@pytest.fixture(name="make_tar")
def make_tar_fixture() -> Callable[..., Path]:
    """The :func:`make_tar` function."""
    return make_tar


def write_package(base: Path) -> Package:
    """Write the small text-only delivery under ``base`` and return where its parts are."""
    project = base / PROJECT
    member = (
        project
        / "science_goal.uid___A001_X1465_X2a36"
        / "group.uid___A001_X1465_X2a37"
        / "member.uid___A001_X1465_X2a38"
    )
    for sub in ("calibration", "product", "qa", "script", "log"):
        (member / sub).mkdir(parents=True, exist_ok=True)
    (member / "README").write_text(README)
    for eb in (EB1, EB2):
        (member / "calibration" / f"{eb}.ms.calapply.txt").write_text(_calapply(eb))
    (member / "calibration" / "cont.dat").write_text(CONT_DAT)
    (member / "calibration" / "flux.csv").write_text(FLUX_CSV)
    return Package(base, project, member)


@pytest.fixture
def package(tmp_path: Path, cache: Path) -> Package:
    """A small delivery in ``tmp_path/'delivery'`` (with a private cache) for a test to damage."""
    return write_package(tmp_path / "delivery")


def escaped(tmp_path: Path, *names: str) -> list[Path]:
    """Files an attack tried to write outside the extraction directory that now exist."""
    return [p for n in names for p in (tmp_path / n, tmp_path.parent / n) if p.exists() or p.is_symlink()]


@pytest.fixture(name="escaped")
def escaped_fixture() -> Callable[..., list[Path]]:
    """The :func:`escaped` function."""
    return escaped

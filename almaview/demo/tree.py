"""Writing the package: member directories, deterministic tar.gz archives, and the index of every file written.

The index (``almaview-demo.json`` beside the project directory) lists each file
or directory the demo wrote, relative to the project directory, with what it
is; tests compare it with what :func:`almaview.open_delivery` finds.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .project import PROCESSING_START, MousPlan

MEMBER_DIRS = ("calibrated", "calibration", "log", "product", "qa", "raw", "script")
#: Every archive member gets this modification time, so archives are byte-identical between builds.
ARCHIVE_MTIME = int(PROCESSING_START.timestamp())
INDEX_NAME = "almaview-demo.json"


@dataclass
class IndexEntry:
    """One file or directory the demo wrote."""

    path: str  #: relative to the project directory
    category: str  #: 'readme', 'raw_asdm', 'calibrated_ms', 'caltables_archive', 'calapply', 'image', ...
    mous: str | None = None
    eb: str | None = None
    size: int = 0
    sha256: str | None = None  #: text and archive files (not CASA tables / ASDM directories)
    members: list[str] = field(default_factory=list)  #: what an archive holds that matters (tables, stages)


class Index:
    """Collects what the demo writes; saved as JSON beside the project directory."""

    def __init__(self, project_dir: Path):
        self.project_dir = project_dir
        self.entries: list[IndexEntry] = []
        self.facts: dict = {}

    def add(
        self,
        path: Path,
        category: str,
        *,
        mous: str | None = None,
        eb: str | None = None,
        members: list[str] | None = None,
    ) -> Path:
        """Record ``path`` (a file or a directory); return it."""
        rel = path.relative_to(self.project_dir).as_posix()
        if path.is_dir():
            size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            digest = None
        else:
            size = path.stat().st_size
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        self.entries.append(IndexEntry(rel, category, mous, eb, size, digest, sorted(members or [])))
        return path

    def write_text(self, path: Path, text: str, category: str, **kw) -> Path:
        """Write a text file and record it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return self.add(path, category, **kw)

    def save(self, target: Path, **extra) -> None:
        data = {**extra, "facts": self.facts, "files": [asdict(e) for e in self.entries]}
        target.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")


def member_dirs(project_dir: Path, mous: MousPlan) -> dict[str, Path]:
    """Create and return a member OUS's directories (``calibration``, ``product``, ...).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from almaview.demo.project import ALMA
    >>> d = member_dirs(pathlib.Path(tempfile.mkdtemp()), ALMA)
    >>> sorted(d)[:3], d["member"].name
    (['calibrated', 'calibration', 'log'], 'member.uid___A001_X3571_X8a')
    """
    member = project_dir / mous.path
    out = {"member": member}
    for name in MEMBER_DIRS:
        (member / name).mkdir(parents=True, exist_ok=True)
        out[name] = member / name
    return out


def _tarinfo(name: str, size: int | None, is_dir: bool) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.mtime = ARCHIVE_MTIME
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "almaca"
    if is_dir:
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
    else:
        ti.size = size or 0
        ti.mode = 0o644
    return ti


def write_tgz(target: Path, items: list[tuple[str, Path | bytes]]) -> list[str]:
    """Write a gzipped tar of ``items`` (arcname, directory/file/bytes) deterministically; return member names.

    Directories are added recursively in sorted order; every member has the
    same mtime and owner, and the gzip header carries no time, so two builds
    give identical bytes.

    Examples
    --------
    >>> import tempfile, pathlib, tarfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.tgz"
    >>> write_tgz(out, [("x/readme.txt", b"hello")])
    ['x/readme.txt']
    >>> tarfile.open(out).getnames()
    ['x/readme.txt']
    """
    names: list[str] = []
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(arc: str, src: Path | bytes) -> None:
            if isinstance(src, bytes):
                tar.addfile(_tarinfo(arc, len(src), False), io.BytesIO(src))
                names.append(arc)
            elif src.is_dir():
                tar.addfile(_tarinfo(arc, None, True))
                names.append(arc)
                for child in sorted(src.iterdir()):
                    add(f"{arc}/{child.name}", child)
            else:
                data = src.read_bytes()
                tar.addfile(_tarinfo(arc, len(data), False), io.BytesIO(data))
                names.append(arc)

        for arc, src in items:
            add(arc, src)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
        gz.write(buf.getvalue())
    return names


def gzip_file(src: Path, target: Path) -> Path:
    """gzip ``src`` into ``target`` (no timestamp in the header) and delete ``src``.

    Examples
    --------
    >>> import tempfile, pathlib, gzip
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a").write_text("x")
    >>> gzip.open(gzip_file(d / "a", d / "a.gz")).read()
    b'x'
    """
    with (
        open(src, "rb") as fin,
        open(target, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
    ):
        shutil.copyfileobj(fin, gz)
    src.unlink()
    return target


def move(src: Path, target: Path) -> Path:
    """Move a file or directory (a CASA table, an MS) into the package."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(os.fspath(src), os.fspath(target))
    return target

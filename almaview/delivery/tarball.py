"""Tar archives of a delivery: list and read members without extracting, extract safely into the cache.

The archive hands out a project as tar files (``<project>_<OUS>_001_of_001.tar``,
``<project>_<OUS>_auxiliary.tar``, ``<project>_<EB>.asdm.sdm.tar``), and a
package holds gzipped tars of its own (``*.caltables.tgz``, ``*.weblog.tgz``,
``*.auxproducts.tgz``, ``*.flagversions.tgz``).  Everything here reads those
archives in place; the only thing ever written is a copy under the cache
directory, built atomically, never a byte inside the user's delivery.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable

from ..cache import atomic_directory, cache_dir
from ..errors import DamagedArchive, PathNotFound, UnsafeArchiveMember

#: Version of the on-disk cache layout; bump to invalidate old extractions.
CACHE_VERSION = "1"


@dataclass(frozen=True)
class Member:
    """One regular file or directory inside a tar archive."""

    name: str  #: normalised relative path inside the archive ('a/b/c')
    size: int
    is_dir: bool


def _normalise(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


def check_member(archive: str | os.PathLike, info: tarfile.TarInfo) -> str:
    """Return the member's normalised name, or raise UnsafeArchiveMember.

    Rejected: absolute paths, any '..' component, device/fifo files, and links
    whose target leaves the archive.

    Examples
    --------
    >>> import tarfile
    >>> check_member("x.tar", tarfile.TarInfo("a/./b.txt"))
    'a/b.txt'
    >>> check_member("x.tar", tarfile.TarInfo("../../x"))
    Traceback (most recent call last):
    ...
    almaview.errors.UnsafeArchiveMember: 'x.tar': member '../../x' would be written outside the extraction directory ...
    """
    raw = info.name
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":") or raw.startswith("\\"):
        raise UnsafeArchiveMember(
            archive, f"member {raw!r} has an absolute path; refusing to extract (the archive is not an ALMA delivery tar or was tampered with)"
        )
    name = _normalise(posixpath.normpath(raw)) if raw not in ("", ".", "./") else ""
    if name == ".." or name.startswith("../") or ".." in raw.replace("\\", "/").split("/"):
        raise UnsafeArchiveMember(
            archive, f"member {raw!r} would be written outside the extraction directory ('..' in its path); refusing to extract"
        )
    if info.isdev() or info.isfifo():
        raise UnsafeArchiveMember(archive, f"member {raw!r} is a device or fifo file; refusing to extract")
    if info.issym() or info.islnk():
        target = info.linkname
        base = posixpath.dirname(name) if info.issym() else ""
        resolved = posixpath.normpath(posixpath.join(base, target))
        if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
            raise UnsafeArchiveMember(
                archive, f"member {raw!r} is a link to {target!r}, which points outside the archive; refusing to extract"
            )
    return name


def _open(path: Path, fileobj: IO[bytes] | None = None) -> tarfile.TarFile:
    try:
        if fileobj is not None:
            return tarfile.open(fileobj=fileobj, mode="r:*")
        return tarfile.open(path, mode="r:*")
    except FileNotFoundError as err:
        raise PathNotFound(path, "does not exist") from err
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DamagedArchive(
            path, f"is not a readable tar archive ({err}); it may be truncated (half-downloaded): download it again"
        ) from err


def _members(path: Path, tf: tarfile.TarFile) -> list[Member]:
    out: list[Member] = []
    try:
        for info in tf:
            name = check_member(path, info)
            if not name:
                continue
            out.append(Member(name, int(info.size), info.isdir()))
    except (tarfile.TarError, EOFError, OSError, ValueError) as err:
        raise DamagedArchive(
            path, f"the tar archive is truncated or corrupt ({err}); download or copy it again"
        ) from err
    return out


def _stamp(path: Path) -> str:
    st = path.stat()
    key = f"{CACHE_VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def list_members(path: str | os.PathLike) -> list[Member]:
    """List the members of a tar/tgz file (headers only for plain tars), checking each is safe.

    The listing of a compressed archive is remembered in the cache, so the
    second open does not decompress it again.

    Examples
    --------
    >>> [m.name for m in list_members("2019.1.01234.S_uid___A001_X1_X2_auxiliary.tar")]  # doctest: +SKIP
    ['2019.1.01234.S/science_goal.uid___A001_X1_X0/...', ...]
    """
    p = Path(path)
    if not p.is_file():
        raise PathNotFound(p, "does not exist (expected a tar or tgz archive)")
    compressed = not p.name.endswith(".tar")
    index = cache_dir("archives") / f"{_stamp(p)}.members.json" if compressed else None
    if index is not None and index.is_file():
        try:
            return [Member(*row) for row in json.loads(index.read_text())]
        except (ValueError, TypeError):
            pass
    with _open(p) as tf:
        members = _members(p, tf)
    if index is not None:
        tmp = index.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps([[m.name, m.size, m.is_dir] for m in members]))
        os.replace(tmp, index)
    return members


def list_nested_members(outer: str | os.PathLike, member: str) -> list[Member]:
    """List the members of an archive stored inside a plain tar, reading it as a stream.

    Examples
    --------
    >>> list_nested_members("x_auxiliary.tar", "p/calibration/a.caltables.tgz")  # doctest: +SKIP
    """
    p = Path(outer)
    label = Path(f"{p}:{member}")
    with _open(p) as tf:
        f = _extractfile(p, tf, member)
        with _open(label, fileobj=f) as inner:
            return _members(label, inner)


def _extractfile(path: Path, tf: tarfile.TarFile, member: str) -> IO[bytes]:
    for info in tf:
        if _normalise(info.name) == member and info.isfile():
            f = tf.extractfile(info)
            if f is not None:
                return f
    raise DamagedArchive(path, f"has no file member {member!r}")


def read_member(path: str | os.PathLike, member: str, nested: str | None = None) -> bytes:
    """Read one file out of a tar (optionally out of an archive inside it) without extracting anything.

    Examples
    --------
    >>> read_member("x_auxiliary.tar", "p/s/g/m/README")  # doctest: +SKIP
    b'...'
    """
    p = Path(path)
    try:
        with _open(p) as tf:
            if nested is None:
                return _extractfile(p, tf, member).read()
            f = _extractfile(p, tf, nested)
            with _open(Path(f"{p}:{nested}"), fileobj=f) as inner:
                return _extractfile(Path(f"{p}:{nested}"), inner, member).read()
    except (tarfile.TarError, EOFError, OSError) as err:
        if isinstance(err, (PathNotFound,)):
            raise
        raise DamagedArchive(p, f"could not read member {member!r} ({err}); the archive may be truncated") from err


def extract(path: str | os.PathLike, prefix: str = "", *, nested: str | None = None, label: str = "") -> Path:
    """Extract (part of) an archive into the cache once, atomically; return the extraction root.

    ``prefix`` limits extraction to members under that directory; ``nested``
    names an archive inside the plain tar ``path`` to extract instead.  Unsafe
    members raise :class:`UnsafeArchiveMember` before anything is written.  A
    second call with an unchanged archive returns the existing directory.

    Examples
    --------
    >>> root = extract("member.uid___A001_X1_X2.hifa_calimage.weblog.tgz")  # doctest: +SKIP
    >>> sorted(p.name for p in root.iterdir())                             # doctest: +SKIP
    ['pipeline-20200101T000000']
    """
    p = Path(path)
    if not p.is_file():
        raise PathNotFound(p, "does not exist (expected a tar or tgz archive)")
    key = hashlib.sha256(f"{_stamp(p)}|{nested}|{prefix}".encode()).hexdigest()[:16]
    target = cache_dir("extracted") / f"{(label or p.name)[:60]}-{key}"
    if target.is_dir():
        return target
    from tqdm.auto import tqdm

    with _open(p) as outer:
        if nested is not None:
            tf_ctx = _open(Path(f"{p}:{nested}"), fileobj=_extractfile(p, outer, nested))
            where: Path = Path(f"{p}:{nested}")
        else:
            tf_ctx, where = outer, p
        with tf_ctx as tf:
            infos: list[tuple[str, tarfile.TarInfo]] = []
            try:
                for info in tf:
                    name = check_member(where, info)
                    if not name or (prefix and not (name == prefix or name.startswith(prefix.rstrip("/") + "/"))):
                        continue
                    infos.append((name, info))
            except (tarfile.TarError, EOFError, OSError) as err:
                raise DamagedArchive(where, f"the archive is truncated or corrupt ({err}); download it again") from err
            total = sum(i.size for _, i in infos if i.isfile())
            with atomic_directory(target) as tmp:
                with tqdm(total=total, unit="B", unit_scale=True, desc=f"extracting {p.name}", leave=False,
                          disable=total < 50_000_000) as bar:
                    for name, info in infos:
                        dest = tmp / name
                        try:
                            if info.isdir():
                                dest.mkdir(parents=True, exist_ok=True)
                            elif info.isfile():
                                dest.parent.mkdir(parents=True, exist_ok=True)
                                src = tf.extractfile(info)
                                assert src is not None
                                with open(dest, "wb") as out:
                                    while chunk := src.read(1 << 20):
                                        out.write(chunk)
                                        bar.update(len(chunk))
                            elif info.issym():
                                dest.parent.mkdir(parents=True, exist_ok=True)
                                os.symlink(info.linkname, dest)
                        except (tarfile.TarError, EOFError) as err:
                            raise DamagedArchive(
                                where, f"member {name!r} is truncated ({err}); the archive is incomplete: download it again"
                            ) from err
    return target


def iter_archives(paths: Iterable[Path]) -> list[Path]:
    """Keep the paths that look like tar archives by name ('.tar', '.tgz', '.tar.gz').

    Examples
    --------
    >>> from pathlib import Path
    >>> [p.name for p in iter_archives([Path("a.tgz"), Path("b.txt"), Path("c.tar")])]
    ['a.tgz', 'c.tar']
    """
    return [p for p in paths if is_archive_name(p.name)]


def is_archive_name(name: str) -> bool:
    """True for names ending in '.tar', '.tgz' or '.tar.gz'.

    Examples
    --------
    >>> is_archive_name("x.caltables.tgz"), is_archive_name("x.fits")
    (True, False)
    """
    return name.endswith((".tar", ".tgz", ".tar.gz"))

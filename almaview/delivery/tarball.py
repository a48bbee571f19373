"""Tar archives of a delivery: list and read members without extracting, extract safely into the cache.

The archive hands out a project as tar files (``<project>_<OUS>_001_of_001.tar``,
``<project>_<OUS>_auxiliary.tar``, ``<project>_<EB>.asdm.sdm.tar``), and a
package holds gzipped tars of its own (``*.caltables.tgz``, ``*.weblog.tgz``,
``*.auxproducts.tgz``, ``*.flagversions.tgz``).  Everything here reads those
archives in place; the only thing ever written is a copy under the cache
directory, built atomically, never a byte inside the user's delivery.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import hashlib
import json
import lzma
import os
import shutil
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from ..cache import atomic_directory, atomic_write_bytes, cache_dir
from ..sizes import human_size
from .tarcheck import (  # noqa: F401  (re-exported)
    _DECOMPRESS_ERRORS,
    MAX_COMPONENT_BYTES,
    MAX_LINK_HOPS,
    MAX_NAME_BYTES,
    Member,
    _normalise,
    check_member,
    validate_members,
)
from ..errors import (
    DamagedArchive,
    NotEnoughSpace,
    PathNotFound,
    UnreadablePackageFile,
    UnsafeArchiveMember,
)

#: Version of the on-disk cache layout; bump to invalidate old extractions.
CACHE_VERSION = "2"


def _open(path: Path, fileobj: IO[bytes] | None = None) -> tarfile.TarFile:
    try:
        if fileobj is not None:
            return tarfile.open(fileobj=fileobj, mode="r:*")
        return tarfile.open(path, mode="r:*")
    except FileNotFoundError as err:
        raise PathNotFound(path, "does not exist") from err
    except IsADirectoryError as err:
        raise DamagedArchive(path, "is a directory, not a tar archive") from err
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DamagedArchive(
            path, f"is not a readable tar archive ({err}); it may be truncated (half-downloaded): download it again"
        ) from err


def _drain(where: Path, tf: tarfile.TarFile) -> None:
    """Read a compressed archive to its end so that its checksum (gzip CRC32, bzip2, xz) is verified."""
    f = tf.fileobj
    if isinstance(f, (gzip.GzipFile, bz2.BZ2File, lzma.LZMAFile)):
        try:
            while f.read(1 << 20):
                pass
        except _DECOMPRESS_ERRORS as err:
            raise DamagedArchive(
                where,
                f"fails its compression checksum ({err}): the data were corrupted in transfer or on disk; "
                "download or copy it again",
            ) from err


#: Declared size / compressed size above which a compressed archive larger than the cache's free space is a bomb.
BOMB_RATIO = 1000


def _bomb_guard(where: Path, tf: tarfile.TarFile, packed: int | None) -> Iterator[tarfile.TarInfo]:
    """The members of ``tf``; stop at the first header that makes a compressed archive a decompression bomb.

    A bomb declares far more bytes than it stores (gzip reaches ~1000:1 on zeros) and more than the
    cache could hold; listing it would otherwise decompress all of it just to find the next header.
    """
    compressed = isinstance(tf.fileobj, (gzip.GzipFile, bz2.BZ2File, lzma.LZMAFile))
    total, free = 0, None
    for info in tf:
        total += info.size
        if compressed and packed and total > BOMB_RATIO * packed:
            if free is None:
                free = shutil.disk_usage(cache_dir("extracted")).free
            if total > free:
                raise NotEnoughSpace(
                    where,
                    f"declares {human_size(total)} ({total} bytes) of members in {human_size(packed)} of compressed "
                    f"data, more than the {human_size(free)} free in almaview's cache: a decompression bomb; "
                    "refusing to read further",
                )
        yield info


def _scan(where: Path, tf: tarfile.TarFile, packed: int | None = None) -> list[tuple[str, tarfile.TarInfo]]:
    try:
        pairs = validate_members(where, _bomb_guard(where, tf, packed))
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError, ValueError) as err:
        raise DamagedArchive(
            where, f"the tar archive is truncated or corrupt ({err}); download or copy it again"
        ) from err
    _drain(where, tf)
    return pairs


def _members(path: Path, tf: tarfile.TarFile, packed: int | None = None) -> list[Member]:
    return [Member(name, int(info.size), info.isdir()) for name, info in _scan(path, tf, packed)]


def _stamp(path: Path) -> str:
    st = path.stat()
    key = f"{CACHE_VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _regular(p: Path, what: str) -> None:
    try:
        import stat as _st

        mode = p.stat().st_mode
    except FileNotFoundError:
        raise PathNotFound(p, f"does not exist (expected {what})") from None
    except OSError as err:
        raise DamagedArchive(p, f"cannot be read ({err.strerror}); expected {what}") from err
    if not _st.S_ISREG(mode):
        raise DamagedArchive(p, f"is not a regular file (a directory, FIFO or device); expected {what}")


def list_members(path: str | os.PathLike) -> list[Member]:
    """List the members of a tar/tgz file (headers only for plain tars), checking the whole list is safe.

    The listing of a compressed archive is remembered in the cache, so the
    second open does not decompress it again; a compressed archive is read to
    its end once, so a failing checksum is reported as
    :class:`~almaview.errors.DamagedArchive`.

    Examples
    --------
    >>> [m.name for m in list_members("2019.1.01234.S_uid___A001_X1_X2_auxiliary.tar")]  # doctest: +SKIP
    ['2019.1.01234.S/science_goal.uid___A001_X1_X0/...', ...]
    """
    p = Path(path)
    _regular(p, "a tar or tgz archive")
    compressed = not p.name.endswith(".tar")
    index = cache_dir("archives") / f"{_stamp(p)}.members.json" if compressed else None
    if index is not None and index.is_file():
        try:
            return [Member(*row) for row in json.loads(index.read_text())]
        except (ValueError, TypeError, OSError):
            pass
    with _open(p) as tf:
        members = _members(p, tf, p.stat().st_size)
    if index is not None:
        atomic_write_bytes(index, json.dumps([[m.name, m.size, m.is_dir] for m in members]).encode())
    return members


def list_nested_members(outer: str | os.PathLike, member: str) -> list[Member]:
    """List the members of an archive stored inside a plain tar, reading it as a stream.

    Examples
    --------
    >>> list_nested_members("x_auxiliary.tar", "p/calibration/a.caltables.tgz")  # doctest: +SKIP
    """
    p = Path(outer)
    _regular(p, "a tar archive")
    label = Path(f"{p}:{member}")
    with _open(p) as tf:
        f = _extractfile(p, tf, member)
        with _open(label, fileobj=f) as inner:
            return _members(label, inner)


def _extractfile(path: Path, tf: tarfile.TarFile, member: str, limit: int | None = None) -> IO[bytes]:
    try:
        for info in tf:
            if _normalise(info.name) == member and info.isfile():
                if limit is not None and info.size > limit:
                    raise UnreadablePackageFile(
                        Path(f"{path}:{member}"),
                        f"is {info.size} bytes, more than the {limit} bytes almaview "
                        "reads from a package text file; skipped",
                    )
                f = tf.extractfile(info)
                if f is not None:
                    return f
    except (tarfile.TarError, EOFError, zlib.error) as err:
        raise DamagedArchive(path, f"the archive is truncated or corrupt ({err}); download it again") from err
    raise DamagedArchive(path, f"has no file member {member!r}")


def read_member(path: str | os.PathLike, member: str, nested: str | None = None, *, limit: int | None = None) -> bytes:
    """Read one file out of a tar (optionally out of an archive inside it) without extracting anything.

    ``limit``: refuse members larger than this many bytes
    (:class:`~almaview.errors.UnreadablePackageFile`) instead of reading them.

    Examples
    --------
    >>> read_member("x_auxiliary.tar", "p/s/g/m/README")  # doctest: +SKIP
    b'...'
    """
    p = Path(path)
    _regular(p, "a tar or tgz archive")
    try:
        with _open(p) as tf:
            if nested is None:
                return _extractfile(p, tf, member, limit).read()
            f = _extractfile(p, tf, nested)
            with _open(Path(f"{p}:{nested}"), fileobj=f) as inner:
                return _extractfile(Path(f"{p}:{nested}"), inner, member, limit).read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        if isinstance(err, PathNotFound):
            raise
        raise DamagedArchive(p, f"could not read member {member!r} ({err}); the archive may be truncated") from err


def _check_space(where: Path, total: int, cache: Path) -> None:
    free = shutil.disk_usage(cache).free
    if total > free - (64 << 20):
        raise NotEnoughSpace(
            where,
            f"its members hold {human_size(total)} ({total} bytes) but {cache} has only {human_size(free)} "
            f"({free} bytes) free; refusing to extract (a decompression bomb, or a real archive too large "
            "for this disk: free space or set ALMAVIEW_CACHE_DIR to a larger disk)",
        )


def _under(name: str, prefix: str) -> bool:
    return not prefix or name == prefix or name.startswith(prefix.rstrip("/") + "/")


def extract_archive(path: str | os.PathLike, prefix: str = "", *, nested: str | None = None, label: str = "") -> Path:
    """Extract (part of) an archive into the cache once, atomically; return the extraction root.

    ``prefix`` limits extraction to members under that directory; ``nested``
    names an archive inside the plain tar ``path`` to extract instead.  The
    whole member list is checked first (:func:`validate_members`): unsafe
    members raise :class:`~almaview.errors.UnsafeArchiveMember`, members that
    would not fit in the cache :class:`~almaview.errors.NotEnoughSpace`,
    before anything is written.  Members are then written with tarfile's
    ``"data"`` filter (PEP 706) into a temporary directory renamed into place.
    A second call with an unchanged archive returns the existing directory.

    Examples
    --------
    >>> root = extract_archive("member.uid___A001_X1_X2.hifa_calimage.weblog.tgz")  # doctest: +SKIP
    >>> sorted(p.name for p in root.iterdir())                             # doctest: +SKIP
    ['pipeline-20200101T000000']
    """
    p = Path(path)
    _regular(p, "a tar or tgz archive")
    key = hashlib.sha256(f"{_stamp(p)}|{nested}|{prefix}".encode()).hexdigest()[:16]
    cache = cache_dir("extracted")
    target = cache / f"{(label or p.name)[:60]}-{key}"
    if target.is_dir():
        return target
    _extract(p, target, prefix, nested, "the cache")
    return target


#: The former name of :func:`extract_archive`.
extract = extract_archive


def extract_into(
    path: str | os.PathLike, target: str | os.PathLike, prefix: str = "", *, nested: str | None = None
) -> Path:
    """Extract (part of) an archive as a new directory ``target`` (e.g. a restore's working directory).

    The same checks and the same atomic build as :func:`extract_archive`: the whole
    member list is validated and the space compared before anything is
    written; ``target`` appears complete or not at all.  An existing
    ``target`` is refused (:class:`FileExistsError`), never overwritten.

    Examples
    --------
    >>> root = extract_into("uid___A002_X1_X2.ms.flagversions.tgz", "work/flagversions")  # doctest: +SKIP
    >>> [p.name for p in root.iterdir()]                                                  # doctest: +SKIP
    ['uid___A002_X1_X2.ms.flagversions']
    """
    p, target = Path(path), Path(target)
    _regular(p, "a tar or tgz archive")
    if target.exists() or target.is_symlink():
        raise FileExistsError(errno.EEXIST, "almaview extracts only into a new directory", os.fspath(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    _extract(p, target, prefix, nested, os.fspath(target.parent))
    return target


def _extract(p: Path, target: Path, prefix: str, nested: str | None, space_name: str) -> None:
    from tqdm.auto import tqdm

    with _open(p) as outer:
        if nested is not None:
            where: Path = Path(f"{p}:{nested}")
            tf_ctx = _open(where, fileobj=_extractfile(p, outer, nested))
        else:
            tf_ctx, where = outer, p
        with tf_ctx as tf:
            packed = p.stat().st_size if nested is None else None
            pairs = [(n, i) for n, i in _scan(where, tf, packed) if _under(n, prefix)]
            total = sum(i.size for _, i in pairs if i.isfile())
            _check_space(where, total, target.parent)

            def members(bar) -> Iterator[tarfile.TarInfo]:
                for _, info in pairs:
                    yield info
                    bar.update(info.size if info.isfile() else 0)

            with (
                atomic_directory(target) as tmp,
                tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    desc=f"extracting {p.name}",
                    leave=False,
                    disable=total < 50_000_000,
                ) as bar,
            ):
                try:
                    tf.extractall(tmp, members=members(bar), filter="data")
                except tarfile.FilterError as err:
                    raise UnsafeArchiveMember(
                        where, f"member refused by tarfile's data filter ({err}); refusing to extract"
                    ) from err
                except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError) as err:
                    raise DamagedArchive(
                        where, f"a member is truncated ({err}); the archive is incomplete: download it again"
                    ) from err
                except OSError as err:
                    if err.errno == errno.ENOSPC:
                        raise NotEnoughSpace(
                            where,
                            f"{space_name} ({target.parent}) filled up while extracting; free space "
                            "or set ALMAVIEW_CACHE_DIR to a larger disk",
                        ) from err
                    raise


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

"""The checks every tar member passes before almaview extracts a byte (:mod:`almaview.delivery.tarball`).

Names are normalised and bounded; links are resolved member by member and again once all are known; duplicate
and conflicting names are refused; hard links may point only to earlier files. Nothing here opens or writes
files: it judges a member list.
"""

from __future__ import annotations

import gzip
import lzma
import os
import posixpath
import tarfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import (
    ArchiveMemberNameTooLong,
    DuplicateArchiveMember,
    UnsafeArchiveMember,
)


#: Longest member name accepted, in bytes (Linux PATH_MAX is 4096; the cache path comes in front).
MAX_NAME_BYTES = 1024
#: Longest single path component accepted, in bytes (NAME_MAX on Linux and macOS file systems).
MAX_COMPONENT_BYTES = 255
#: Links followed while resolving one path before it is called a loop (Linux's MAXSYMLINKS).
MAX_LINK_HOPS = 40
_DECOMPRESS_ERRORS = (EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile, OSError, ValueError)


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

    Rejected on its own name: absolute paths, any '..' component, device/fifo
    files, links whose target leaves the archive, and names too long for a
    file system (:class:`~almaview.errors.ArchiveMemberNameTooLong`).  Links
    followed *through* other members are checked by :func:`validate_members`.

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
    if raw.startswith(("/", "\\")) or (len(raw) > 1 and raw[1] == ":"):
        raise UnsafeArchiveMember(
            archive,
            f"member {raw!r} has an absolute path; refusing to extract (the archive is not an ALMA "
            "delivery tar or was tampered with)",
        )
    if "\0" in raw or "\0" in info.linkname:
        raise UnsafeArchiveMember(archive, f"member {raw!r} has a NUL byte in its name; the archive was tampered with")
    if len(raw) * 4 > MAX_COMPONENT_BYTES:  # only then can a part exceed NAME_MAX (4 bytes per character at most)
        encoded = raw.encode("utf-8", "surrogateescape")
        longest = max((len(c) for c in encoded.split(b"/")), default=0)
    else:
        encoded, longest = b"", 0
    if len(encoded) > MAX_NAME_BYTES or longest > MAX_COMPONENT_BYTES:
        raise ArchiveMemberNameTooLong(
            archive,
            f"member {raw[:60]!r}... has a name of {len(encoded)} bytes (a part of {longest} bytes); "
            f"file systems accept at most {MAX_COMPONENT_BYTES} bytes per part and almaview "
            f"{MAX_NAME_BYTES} in all: the archive was not made by ALMA or was tampered with",
        )
    name = _normalise(posixpath.normpath(raw)) if raw not in ("", ".", "./") else ""
    if ".." in raw and (name == ".." or name.startswith("../") or ".." in raw.replace("\\", "/").split("/")):
        raise UnsafeArchiveMember(
            archive,
            f"member {raw!r} would be written outside the extraction directory ('..' in its path); refusing to extract",
        )
    if info.isdev() or info.isfifo():
        raise UnsafeArchiveMember(archive, f"member {raw!r} is a device or fifo file; refusing to extract")
    if not (info.isfile() or info.isdir() or info.issym() or info.islnk()):
        raise UnsafeArchiveMember(archive, f"member {raw!r} has an unknown type {info.type!r}; refusing to extract")
    if info.issym() or info.islnk():
        target = info.linkname
        base = posixpath.dirname(name) if info.issym() else ""
        resolved = posixpath.normpath(posixpath.join(base, target))
        if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
            raise UnsafeArchiveMember(
                archive,
                f"member {raw!r} is a link to {target!r}, which points outside the archive; refusing to extract",
            )
    return name


_ESCAPE, _LOOP = "escape", "loop"


class _Layout:
    """The tree an archive would build, member by member, with its symbolic links resolved (nothing on disk)."""

    def __init__(self, where: str | os.PathLike):
        self.where = where
        self.kinds: dict[str, str] = {}  # physical path -> 'directory' | 'file' | 'symbolic link'
        self.links: dict[str, str] = {}  # physical path of a symlink -> its target
        self.symlinks: list[tuple[str, list[str], str]] = []

    def resolve(self, parts: list[str], follow_last: bool = True) -> list[str] | str:
        """The physical path of ``parts`` (links followed), or _ESCAPE / _LOOP."""
        out: list[str] = []
        todo = list(reversed(parts))
        hops = 0
        while todo:
            c = todo.pop()
            if c in ("", "."):
                continue
            if c == "..":
                if not out:
                    return _ESCAPE
                out.pop()
                continue
            out.append(c)
            target = self.links.get("/".join(out)) if self.links else None
            if target is not None and (todo or follow_last):
                hops += 1
                if hops > MAX_LINK_HOPS:
                    return _LOOP
                out.pop()
                if target.startswith("/"):
                    return _ESCAPE
                todo.extend(reversed(target.split("/")))
        return out

    def add(self, info: tarfile.TarInfo) -> str:
        where, raw = self.where, info.name
        name = check_member(where, info)
        if not name:
            return ""
        parts = name.split("/")
        parent = self.resolve(parts[:-1])
        if parent == _ESCAPE:
            raise UnsafeArchiveMember(
                where,
                f"member {raw!r} would be written outside the extraction directory through the symbolic "
                "link(s) earlier in the archive that its path passes through; refusing to extract",
            )
        if parent == _LOOP:
            raise UnsafeArchiveMember(
                where, f"member {raw!r}: its path passes through a loop of symbolic links; refusing to extract"
            )
        assert isinstance(parent, list)
        for i in range(1, len(parent) + 1):
            key = "/".join(parent[:i])
            kind = self.kinds.get(key)
            if kind is None:
                self.kinds[key] = "directory"
            elif kind != "directory":
                raise DuplicateArchiveMember(
                    where,
                    f"member {raw!r} would be written below {key!r}, which the archive already holds as a "
                    f"{kind}; conflicting member names: the archive was tampered with or badly merged",
                )
        phys = "/".join(parent + [parts[-1]])
        kind = "directory" if info.isdir() else "symbolic link" if info.issym() else "file"
        prev = self.kinds.get(phys)
        if prev is not None and not (prev == kind == "directory"):
            raise DuplicateArchiveMember(
                where,
                f"member {raw!r} appears twice in the archive (as a {prev} and as a {kind}); the later one "
                "would silently replace the earlier: the archive was tampered with or appended to",
            )
        self.kinds[phys] = kind
        if info.issym():
            self._check_link(raw, parent, info.linkname)
            self.links[phys] = info.linkname
            self.symlinks.append((raw, parent, info.linkname))
        elif info.islnk():
            resolved = self.resolve(_normalise(posixpath.normpath(info.linkname)).split("/"))
            target = "/".join(resolved) if isinstance(resolved, list) else ""
            if self.kinds.get(target) != "file":
                raise UnsafeArchiveMember(
                    where,
                    f"member {raw!r} is a hard link to {info.linkname!r}, which is not a file stored earlier "
                    "in the archive; refusing to extract",
                )
        return name

    def _check_link(self, raw: str, parent: list[str], target: str) -> None:
        resolved = self.resolve(parent + target.split("/"))
        if resolved == _ESCAPE:
            raise UnsafeArchiveMember(
                self.where,
                f"member {raw!r} is a link to {target!r}, which points outside the archive once the "
                "symbolic links before it are followed; refusing to extract",
            )
        if resolved == _LOOP:
            raise UnsafeArchiveMember(
                self.where,
                f"member {raw!r} is a link to {target!r}, which is a loop of symbolic links; refusing to extract",
            )

    def finish(self) -> None:
        for raw, parent, target in self.symlinks:  # links defined later can change where earlier ones lead
            self._check_link(raw, parent, target)


def validate_members(archive: str | os.PathLike, infos: Iterable[tarfile.TarInfo]) -> list[tuple[str, tarfile.TarInfo]]:
    """Check a whole member list as extraction would build it; return (normalised name, member) pairs.

    Every member's path is resolved through the symbolic links stored before
    it (and every link again once all are known), so a chain of links that
    climbs out of the extraction directory is refused, as are duplicate or
    conflicting names and over-long names.  Nothing is written.

    Examples
    --------
    >>> import tarfile
    >>> def link(name, to):
    ...     i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = to; return i
    >>> [n for n, _ in validate_members("x.tar", [tarfile.TarInfo("d/f"), link("d/l", "f")])]
    ['d/f', 'd/l']
    >>> validate_members("x.tar", [link("a", "."), link("a/b", ".."), tarfile.TarInfo("a/b/evil")])
    Traceback (most recent call last):
    ...
    almaview.errors.UnsafeArchiveMember: 'x.tar': member 'a/b' is a link to '..', which points outside the archive ...
    """
    layout = _Layout(archive)
    out = []
    for info in infos:
        name = layout.add(info)
        if name:
            out.append((name, info))
    layout.finish()
    return out

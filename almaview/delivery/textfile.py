"""Read a package's text files defensively: regular files only, inside the package, size-limited, any encoding.

A delivery is data from outside.  A README may be a FIFO (reading it would
block forever), a link to ``/dev/zero`` (endless), a link to a file outside
the package, or simply huge; these give
:class:`~almaview.errors.UnreadablePackageFile`, which the package builder
reports as a problem and skips.  UTF-16 files (with or without a byte order
mark) are decoded.
"""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

from ..errors import PathNotFound, UnreadablePackageFile

#: Largest package text file almaview reads (README, calapply, cont.dat, flux.csv, manifest, AQUA report).
MAX_TEXT_BYTES = 10 * 1024 * 1024


def read_package_bytes(
    path: str | os.PathLike, root: str | os.PathLike | None = None, *, limit: int = MAX_TEXT_BYTES, head: bool = False
) -> bytes:
    """Read a file of a package when it is a regular file (inside ``root``, if given) of at most ``limit`` bytes.

    Never blocks on a FIFO or a device and never reads more than ``limit``
    bytes, even if the file grows while it is read.  ``head=True`` reads the
    first ``limit`` bytes of a larger file instead of refusing it.

    Examples
    --------
    >>> import os, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "README").write_text("Project code: 2019.1.01234.S")
    >>> read_package_bytes(d / "README", d)
    b'Project code: 2019.1.01234.S'
    >>> os.mkfifo(d / "fifo")
    >>> read_package_bytes(d / "fifo", d)
    Traceback (most recent call last):
    ...
    almaview.errors.UnreadablePackageFile: '.../fifo': is a FIFO (named pipe), not a regular file; skipped ...
    """
    p = Path(path)
    if root is not None and p.is_symlink():
        real = p.resolve()
        if not real.is_relative_to(Path(root).resolve()):
            raise UnreadablePackageFile(
                p,
                f"is a symbolic link to {os.fspath(real)!r}, outside the package; "
                "skipped (almaview reads nothing outside the delivery)",
            )
    try:
        st = p.stat()
    except FileNotFoundError:
        raise PathNotFound(p, "does not exist (a dangling link, or the package changed while it was read)") from None
    except OSError as err:
        raise UnreadablePackageFile(p, f"cannot be read ({err.strerror}); skipped") from err
    _check_regular(p, st.st_mode)
    if st.st_size > limit and not head:
        raise UnreadablePackageFile(
            p, f"is {st.st_size} bytes, more than the {limit} bytes almaview reads from a package text file; skipped"
        )
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as err:
        raise UnreadablePackageFile(p, f"cannot be opened ({err.strerror}); skipped") from err
    with os.fdopen(fd, "rb") as f:
        _check_regular(p, os.fstat(fd).st_mode)  # swapped for a FIFO between stat and open
        data = f.read(limit + 1)
    if head:
        return data[:limit]
    if len(data) > limit:
        raise UnreadablePackageFile(p, f"grew beyond {limit} bytes while it was read; skipped")
    return data


def _check_regular(p: Path, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = (
        "a FIFO (named pipe)"
        if stat.S_ISFIFO(mode)
        else "a character device"
        if stat.S_ISCHR(mode)
        else "a block device"
        if stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a directory"
        if stat.S_ISDIR(mode)
        else "not a regular file"
    )
    raise UnreadablePackageFile(p, f"is {kind}, not a regular file; skipped (reading it could block or never end)")


def decode_text(data: bytes) -> str:
    """Decode a package text file: UTF-8 (with or without BOM), UTF-16/32 by BOM or by their NUL pattern.

    Undecodable bytes are replaced, never fatal.

    Examples
    --------
    >>> decode_text("Project code: 2019.1.01234.S".encode("utf-16"))
    'Project code: 2019.1.01234.S'
    >>> decode_text(b"caf\\xc3\\xa9 \\xff")
    'café �'
    """
    for bom, enc in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(enc, errors="replace")
    head = data[:4096]
    if len(head) >= 4 and head.count(0) * 3 >= len(head):  # ASCII text stored as UTF-16 without a BOM
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd > 2 * even:
            return data.decode("utf-16-le", errors="replace")
        if even > 2 * odd:
            return data.decode("utf-16-be", errors="replace")
    return data.decode("utf-8", errors="replace")

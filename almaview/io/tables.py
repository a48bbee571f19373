"""One owner per CASA table: a cached read-only handle and one lock per table per process.

Every casacore table almaview reads goes through :func:`open_table`. For each table
path a process keeps

- one lock (:func:`table_lock`, re-entrant): casacore is not thread-safe, so every call
  on a table's handle happens while its lock is held;
- one open read-only handle, checked once when it is opened (files present, storage
  managers' data files present) and reused by every later read, e.g. every dask chunk.
  It is reopened only when the table changes on disk (``table.dat``'s size, inode or
  modification time of its files).

Nothing is written into the user's table. casacore creates ``table.lock`` next to a table
that has none (a copied or read-only-mounted MS), whatever lock option it is given, so
handles are opened on a *read-only view* (:func:`readonly_view`): a directory in
almaview's cache that mirrors the table's directory tree with symbolic links to its
files (and a copy of its ``table.lock``, which holds the row count of a table written
to since ``table.dat`` was). casacore's lock files land in the view; the delivery stays
byte-identical.

A :class:`TableRef` names a table by path and pickles as that path, so dask tasks carry
it to other processes, where it opens the process's own handle (ideas from dask-ms's
TableProxy and xarray-ms's table factory).

Why this module is long: the lock, the handle cache, the read-only views and their pruning share one guard and
one entry per table; split, each part would reach into the others' state.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from ..errors import DamagedTable

#: Most open handles a process keeps; the least recently used one is closed beyond this.
MAX_OPEN_HANDLES = 64

#: A ``table.lock`` bigger than this is not casacore's (it holds a few hundred bytes): not copied.
_MAX_LOCK_FILE_BYTES = 1 << 20

#: Views kept without checking; beyond this, views of tables that no longer exist are removed.
_KEEP_VIEWS = 128

#: Deepest directory nesting mirrored in a read-only view (subtables of subtables ...).
_MAX_VIEW_DEPTH = 6


class TableLock:
    """A re-entrant lock that also says whether any thread holds it (:meth:`locked`).

    Examples
    --------
    >>> lock = TableLock()
    >>> with lock, lock:          # re-entrant in one thread
    ...     lock.locked()
    True
    >>> lock.locked()
    False
    """

    __slots__ = ("_count", "_lock", "_owner")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._count = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock (again, if this thread holds it already); False if not taken in time."""
        me = threading.get_ident()
        if self._owner == me:
            self._count += 1
            return True
        if not self._lock.acquire(blocking, timeout):
            return False
        self._owner, self._count = me, 1
        return True

    def release(self) -> None:
        """Give back one acquisition; the lock is free when every one is given back."""
        if self._owner != threading.get_ident():
            raise RuntimeError("a table lock released by a thread that does not hold it")
        self._count -= 1
        if self._count == 0:
            self._owner = None
            self._lock.release()

    def locked(self) -> bool:
        """True while any thread holds the lock."""
        return self._lock.locked()

    def held_by_current_thread(self) -> bool:
        """True while the calling thread holds the lock."""
        return self._owner == threading.get_ident()

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


@dataclass
class _Entry:
    lock: TableLock = field(default_factory=TableLock)
    handle: Any = None
    stamp: tuple | None = None


_ENTRIES: OrderedDict[str, _Entry] = OrderedDict()
_GUARD = threading.Lock()


def _key(path: str | os.PathLike) -> str:
    return os.path.realpath(os.path.expanduser(os.fspath(path)))


def _entry(key: str) -> _Entry:
    with _GUARD:
        entry = _ENTRIES.get(key)
        if entry is None:
            entry = _ENTRIES[key] = _Entry()
        else:
            _ENTRIES.move_to_end(key)
        return entry


def table_lock(path: str | os.PathLike) -> TableLock:
    """The per-process lock of one table: hold it around any casacore call on that table.

    :func:`open_table` holds it for you; code that opens a table another way (e.g.
    ``casacore.images.image``) takes it explicitly. Re-entrant.

    Examples
    --------
    >>> table_lock("/data/a.ms") is table_lock("/data/a.ms/")
    True
    >>> table_lock("/data/a.ms") is table_lock("/data/b.ms")
    False
    """
    return _entry(_key(path)).lock


def _stamp(path: str) -> tuple | None:
    """What identifies one version of a table: name, size, inode and mtime of each of its files.

    ``table.dat`` alone is not enough: casacore rewrites only the storage managers' files
    and ``table.lock`` (its row count) when rows are added or removed. One ``scandir`` of
    the table's directory; None when ``table.dat`` is missing.
    """
    try:
        with os.scandir(path) as it:
            files = []
            for e in it:
                if e.name.startswith("table."):
                    st = e.stat()
                    files.append((e.name, st.st_size, st.st_ino, st.st_mtime_ns))
    except OSError:
        return None
    if not any(f[0] == "table.dat" for f in files):
        return None
    return tuple(sorted(files))


# ---------------------------------------------------------------------------------------------
# the read-only view


def _listing(directory: str) -> list[os.DirEntry]:
    with os.scandir(directory) as it:
        return [e for e in it if e.name != "table.lock" and not e.name.startswith(".table.lock.")]


def _mirror(src: str, dst: str, depth: int) -> None:
    os.makedirs(dst, exist_ok=True)
    for e in _listing(src):
        target = os.path.join(dst, e.name)
        if e.is_dir(follow_symlinks=False) and depth < _MAX_VIEW_DEPTH:
            _mirror(e.path, target, depth + 1)
            continue
        if e.name.startswith("table."):
            try:
                mode = e.stat().st_mode
            except OSError:  # a dangling link: casacore will say which file is missing
                mode = stat.S_IFREG
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise DamagedTable(
                    src,
                    f"{e.name} is not a regular file (a FIFO, socket or device): a CASA table holds only "
                    "files; the package was altered; almaview will not read from it",
                )
        os.symlink(e.path, target)


def _copy_lock_file(src: str, view: str) -> None:
    """Copy the table's own ``table.lock`` into the view (atomically).

    casacore keeps the current row count and change counters of a table that was
    written to in ``table.lock`` (``table.dat`` may still hold older ones), so the view
    needs a copy: casacore may write to that copy, never to the original.
    """
    lock = os.path.join(src, "table.lock")
    try:
        st = os.lstat(lock)
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_LOCK_FILE_BYTES:  # a link, FIFO or device: ignore
        return
    import shutil
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=".table.lock.", dir=view)
    os.close(fd)
    try:
        shutil.copyfile(lock, tmp)
        os.replace(tmp, os.path.join(view, "table.lock"))
    except OSError:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _view_is_current(src: str, view: str) -> bool:
    try:
        have = {e.name for e in _listing(view)}
        return {e.name for e in _listing(src)} <= have
    except OSError:
        return False


def readonly_view(path: str | os.PathLike) -> Path:
    """The directory casacore opens instead of the table: a mirror in almaview's cache.

    It holds symbolic links to the table's files (subtables mirrored the same way), so
    casacore reads the user's data but creates its ``table.lock`` files in the cache,
    never in the delivery. Built once per version of the table (atomically; concurrent
    processes share it) under ``<cache>/tables/``.

    Examples
    --------
    >>> view = readonly_view("uid___A002_Xc3_X1.ms")         # doctest: +SKIP
    >>> (view / "table.dat").resolve() == Path("uid___A002_Xc3_X1.ms/table.dat").resolve()   # doctest: +SKIP
    True
    """
    from ..cache import atomic_directory, cache_dir

    src = _key(path)
    digest = hashlib.sha1(repr((src, _stamp(src))).encode()).hexdigest()[:20]
    view = cache_dir("tables") / f"{digest}-{os.path.basename(src)[:60]}"
    if view.is_dir() and _view_is_current(src, str(view)):
        return view
    prune_views(view.parent)
    try:
        with atomic_directory(view) as tmp:
            _mirror(src, str(tmp), 0)
    except OSError as err:
        if not view.is_dir():
            raise DamagedTable(src, f"could not list the table's files to read it ({err})") from err
    if not _view_is_current(src, str(view)):  # a stale view of an older version won the rename
        import shutil

        shutil.rmtree(view, ignore_errors=True)
        with atomic_directory(view) as tmp:
            _mirror(src, str(tmp), 0)
    return view


def user_message(err: BaseException | str, path: str | os.PathLike) -> str:
    """casacore's message about a table, with the read-only view's directory replaced by
    the user's ``path`` (the view is almaview's business, not the user's).

    Examples
    --------
    >>> from almaview.cache import cache_dir
    >>> text = f"{cache_dir('tables')}/0123456789abcdef0123-a.ms/table.f0 could not be opened"
    >>> user_message(text, "/data/a.ms")
    '/data/a.ms/table.f0 could not be opened'
    """
    from ..cache import cache_dir

    prefix = re.escape(str(cache_dir("tables")) + os.sep) + r"[0-9a-f]{20}-[^/\s]*"
    text = re.sub(prefix, lambda _: os.fspath(path), str(err))
    return text + (_missing_lock_hint(path) if "row" in text.lower() else "")


def _missing_lock_hint(path: str | os.PathLike) -> str:
    """A hint when the table or one of its subtables has no table.lock: casacore keeps the row count
    of a table changed in place there, so a copy without it can be unreadable even to casacore."""
    root = os.fspath(path)
    try:
        with os.scandir(root) as it:
            dirs = [root] + [e.path for e in it if e.is_dir(follow_symlinks=False)]
    except OSError:
        return ""
    found = [d for d in dirs if os.path.isfile(os.path.join(d, "table.dat"))]
    missing = sorted(os.path.relpath(d, root) for d in found if not os.path.lexists(os.path.join(d, "table.lock")))
    if not missing:
        return ""
    where = ", ".join(("the table" if m == "." else m) for m in missing[:4]) + (" ..." if len(missing) > 4 else "")
    return (
        f" [no table.lock in {where}: casacore keeps the row count of a table changed in place there, "
        "so copy or extract tables together with their table.lock files]"
    )


def prune_views(directory: str | os.PathLike, keep: int = _KEEP_VIEWS) -> int:
    """Remove read-only views whose table is gone (their ``table.dat`` link dangles), once
    there are more than ``keep`` of them. Returns how many were removed.

    Examples
    --------
    >>> import tempfile
    >>> prune_views(tempfile.mkdtemp(), keep=0)
    0
    """
    import shutil

    try:
        with os.scandir(directory) as it:
            views = [e.path for e in it if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")]
    except OSError:
        return 0
    if len(views) <= keep:
        return 0
    removed = 0
    for v in views:
        dat = os.path.join(v, "table.dat")
        if os.path.islink(dat) and not os.path.exists(dat):
            shutil.rmtree(v, ignore_errors=True)
            removed += 1
    return removed


# ---------------------------------------------------------------------------------------------
# handles


def _open_handle(full: Path, view: Path, root: Path) -> Any:
    from casacore import tables

    from .table import check_storage_files

    try:
        t = tables.table(str(view), readonly=True, ack=False, lockoptions="usernoread")
    except RuntimeError as err:
        msg = user_message(err, root)
        raise DamagedTable(
            full,
            f"casacore could not open the table ({msg}); its files may be damaged or truncated "
            "(half-copied or half-untarred): copy or extract it again",
        ) from err
    try:
        check_storage_files(t, full)
    except DamagedTable as err:
        t.close()
        raise DamagedTable(full, user_message(err.reason, root)) from err.__cause__
    except BaseException:
        t.close()
        raise
    return t


def _evict() -> None:
    """Close least recently used handles beyond MAX_OPEN_HANDLES (skipping any in use)."""
    with _GUARD:
        open_keys = [k for k, e in _ENTRIES.items() if e.handle is not None]
        excess = len(open_keys) - MAX_OPEN_HANDLES
        victims = [_ENTRIES[k] for k in open_keys[: max(excess, 0)]]
    for entry in victims:
        if entry.lock.held_by_current_thread():  # an outer ``with open_table`` of this thread still uses it
            continue
        if entry.lock.acquire(blocking=False):
            try:
                _close(entry)
            finally:
                entry.lock.release()


def _close(entry: _Entry) -> None:
    if entry.handle is not None:
        try:
            entry.handle.close()
        except RuntimeError:
            pass
    entry.handle, entry.stamp = None, None


@contextmanager
def open_table(path: str | os.PathLike, subtable: str | None = None) -> Iterator[Any]:
    """The process's read-only handle of a CASA table (or one of its subtables), its lock held.

    The first call for a table checks it (:func:`~almaview.io.table.check_table_dir`, the
    storage managers' files) and opens it on its :func:`readonly_view`; later calls reuse
    that handle after one ``scandir`` of its directory. Do not close the handle, and do not use
    it after the ``with`` block. Raises :class:`~almaview.errors.PathNotFound`,
    :class:`~almaview.errors.NotATable` or :class:`~almaview.errors.DamagedTable`.

    Examples
    --------
    >>> with open_table("my.ms", "SPECTRAL_WINDOW") as t:   # doctest: +SKIP
    ...     t.getcol("NUM_CHAN")
    array([128, 128, 1920, 128], dtype=int32)
    """
    from .table import check_table_dir

    root_key = _key(path)
    full_key = os.path.join(root_key, subtable) if subtable else root_key
    entry = _entry(full_key)
    with entry.lock:
        stamp = _stamp(full_key)
        if entry.handle is None or stamp is None or stamp != entry.stamp:
            _close(entry)
            root = check_table_dir(path)
            full = root / subtable if subtable else root
            if subtable:
                check_table_dir(full)
            view = readonly_view(root) / subtable if subtable else readonly_view(root)
            _copy_lock_file(str(full), str(view))
            entry.handle, entry.stamp = _open_handle(full, view, root), _stamp(full_key)
            fresh = True
        else:
            fresh = False
        try:
            yield entry.handle
        except UnicodeDecodeError as err:  # python-casacore decodes table.info, keywords, strings as UTF-8
            bad = err.object[max(err.start - 16, 0) : err.end + 16] if isinstance(err.object, bytes) else b""
            raise DamagedTable(
                full_key,
                f"holds text that is not UTF-8 (byte {err.object[err.start : err.start + 1]!r} in {bad!r}): "
                "table.info, a keyword or a string column is damaged, or was written by a program "
                "using another encoding; almaview reads tables written by CASA",
            ) from err
    if fresh:
        _evict()


def close_tables(path: str | os.PathLike | None = None) -> int:
    """Close the process's cached handles: of one table (and its subtables), or all of them.

    Call it before another program rewrites a table almaview has open. Returns how many
    handles were closed.

    Examples
    --------
    >>> close_tables("/no/such.ms")
    0
    """
    prefix = None if path is None else _key(path)
    with _GUARD:
        entries = [
            e for k, e in _ENTRIES.items()
            if e.handle is not None and (prefix is None or k == prefix or k.startswith(prefix + os.sep))
        ]  # fmt: skip
    for entry in entries:
        with entry.lock:
            _close(entry)
    return len(entries)


def _forget_after_fork() -> None:  # a forked child must not share its parent's casacore handles
    global _GUARD
    _GUARD = threading.Lock()
    _ENTRIES.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(close_tables)


class TableRef:
    """A CASA table named by its path: pickles as the path, opens the process's own handle.

    Examples
    --------
    >>> import pickle
    >>> ref = TableRef("/data/a.ms")
    >>> pickle.loads(pickle.dumps(ref)) == ref
    True
    >>> with ref.open() as t:                 # doctest: +SKIP
    ...     t.nrows()
    """

    __slots__ = ("path", "subtable")

    def __init__(self, path: str | os.PathLike, subtable: str | None = None):
        self.path = os.fspath(path)
        self.subtable = subtable

    def __reduce__(self):
        return (TableRef, (self.path, self.subtable))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TableRef) and (self.path, self.subtable) == (other.path, other.subtable)

    def __hash__(self) -> int:
        return hash((self.path, self.subtable))

    def __repr__(self) -> str:
        return f"TableRef({self.path!r}" + (f", {self.subtable!r})" if self.subtable else ")")

    @property
    def lock(self) -> TableLock:
        """The per-process lock of the table (see :func:`table_lock`).

        Examples
        --------
        >>> TableRef("/data/a.ms").lock is table_lock("/data/a.ms")
        True
        """
        return table_lock(os.path.join(self.path, self.subtable) if self.subtable else self.path)

    def open(self):
        """The process's handle, its lock held, as a context manager (see :func:`open_table`).

        Examples
        --------
        >>> with TableRef("my.ms", "ANTENNA").open() as t:   # doctest: +SKIP
        ...     t.getcol("NAME")
        """
        return open_table(self.path, self.subtable)

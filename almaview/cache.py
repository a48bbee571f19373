"""Where almaview writes: a per-user cache directory, never the user's delivery.

``ALMAVIEW_CACHE_DIR`` overrides the platformdirs default (tests and CI use it
to keep every run self-contained).  Everything built here is built under a
temporary ``.partial`` name and renamed into place; a ``.partial`` left by a
process that was killed is removed by the next build in the same folder.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import platformdirs

from .errors import CacheNotWritable

_PARTIAL_RE = re.compile(r"^\.(?P<name>.*)\.pid(?P<pid>\d+)\.[a-z0-9_]{8}\.partial$")


def _root() -> tuple[Path, str]:
    env = os.environ.get("ALMAVIEW_CACHE_DIR")
    where = "ALMAVIEW_CACHE_DIR" if env else "the default cache directory (set ALMAVIEW_CACHE_DIR to choose another)"
    return Path(env or platformdirs.user_cache_dir("almaview")).expanduser().resolve(), where


def cache_dir(*parts: str) -> Path:
    """Return (and create) almaview's cache directory, or a subdirectory of it.

    Raises :class:`~almaview.errors.CacheNotWritable` when it is a file or
    cannot be created or written, naming ``ALMAVIEW_CACHE_DIR``.

    Examples
    --------
    >>> from almaview.cache import cache_dir
    >>> cache_dir("casa").name
    'casa'
    """
    root, where = _root()
    path = root.joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        raise CacheNotWritable(
            path,
            f"almaview's cache must be a directory, but {err.filename or path} is a file "
            f"({where}); point ALMAVIEW_CACHE_DIR at a directory",
        ) from err
    except OSError as err:
        raise CacheNotWritable(
            path,
            f"almaview's cache cannot be created ({err.strerror}; {where}); "
            "point ALMAVIEW_CACHE_DIR at a writable directory",
        ) from err
    if not path.is_dir():
        raise CacheNotWritable(path, f"almaview's cache must be a directory, but this is not one ({where})")
    if not os.access(path, os.W_OK | os.X_OK):
        raise CacheNotWritable(
            path, f"almaview's cache is not writable ({where}); point ALMAVIEW_CACHE_DIR at a writable directory"
        )
    return path


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphaned_partials(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Remove ``.partial`` directories (and files) left in ``folder`` by builds whose process no longer runs.

    ``name`` limits this to the builds of one target.  Returns what was
    removed.  Builds of live processes (including other threads of this one)
    are left alone.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> remove_orphaned_partials(tempfile.mkdtemp())
    []
    """
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for entry in names:
        m = _PARTIAL_RE.match(entry)
        if m and (name is None or m.group("name") == name) and not _alive(int(m.group("pid"))):
            p = Path(folder) / entry
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:  # a file built under a .partial name (e.g. a decompressed FITS: io/fitsgz.py)
                p.unlink(missing_ok=True)
            if not p.exists():
                removed.append(p)
    return removed


@contextmanager
def atomic_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Build a directory under a temporary name and rename it into place on success.

    A crash or an exception leaves no half-written ``target`` behind; if another
    process finished first, its result is kept and ours discarded.  The
    temporary name carries the process id, so a later build removes what a
    killed process left.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_directory(root / "out") as tmp:
    ...     _ = (tmp / "a.txt").write_text("x")
    >>> sorted(p.name for p in (root / "out").iterdir())
    ['a.txt']
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_orphaned_partials(target.parent, target.name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.pid{os.getpid()}.", suffix=".partial", dir=target.parent))
    try:
        yield tmp
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # a concurrent builder won
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def build_lock(target: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock for building ``target``: a second process building the same thing waits, then finds it.

    The lock is a file beside ``target`` (``.<name>.lock``), locked with ``fcntl.flock``
    (released by the system if the process dies). Where ``fcntl`` does not exist
    (Windows), builds are not serialised (each is still atomic).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with build_lock(root / "demo"):
    ...     (root / "demo").mkdir()
    >>> sorted(p.name for p in root.iterdir())
    ['.demo.lock', 'demo']
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(target.parent / f".{target.name}.lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a uniquely named temporary file and an atomic rename.

    Safe when several threads or processes write the same path at once: each
    writes its own temporary file and the last rename wins whole.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = atomic_write_bytes(pathlib.Path(tempfile.mkdtemp()) / "x.json", b"[]")
    >>> p.read_bytes()
    b'[]'
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def recipe_hash(paths, h=None):
    """Update (or start) a sha256 with the *code* of Python recipe files, not their layout.

    Each file is parsed and its syntax tree hashed without docstrings, so reformatting, comments or
    docs leave cached CASA builds valid; a changed statement rebuilds them.

    Examples
    --------
    >>> import hashlib, tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.py").write_text("x = [1,2]  # one\\n")
    >>> _ = (d / "b.py").write_text("'Doc.'\\nx = [\\n    1,\\n    2,\\n]\\n")
    >>> recipe_hash([d / "a.py"]).hexdigest() == recipe_hash([d / "b.py"]).hexdigest()
    True
    """
    import ast
    import hashlib

    h = h if h is not None else hashlib.sha256()
    for p in paths:
        tree = ast.parse(Path(p).read_bytes())
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (
                isinstance(body, list)
                and body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
        h.update(ast.dump(tree).encode())
    return h

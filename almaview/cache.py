"""Where almaview writes: a per-user cache directory, never the user's delivery.

``ALMAVIEW_CACHE_DIR`` overrides the platformdirs default (tests and CI use it
to keep every run self-contained).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import platformdirs


def cache_dir(*parts: str) -> Path:
    """Return (and create) almaview's cache directory, or a subdirectory of it.

    Examples
    --------
    >>> from almaview.cache import cache_dir
    >>> cache_dir("casa").name
    'casa'
    """
    root = os.environ.get("ALMAVIEW_CACHE_DIR") or platformdirs.user_cache_dir("almaview")
    path = Path(root).expanduser().resolve().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def atomic_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Build a directory under a temporary name and rename it into place on success.

    A crash or an exception leaves no half-written ``target`` behind; if another
    process finished first, its result is kept and ours discarded.

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
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
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

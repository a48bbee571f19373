"""Byte counts for people, and the free space a download, an extraction or a restore may use: one home each.

Examples
--------
>>> human_size(950), human_size(1_234_567), human_size(None)
('950 B', '1.2 MB', '?')
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["free_bytes", "human_size"]


def human_size(n: float | None) -> str:
    """A byte count in decimal units (kB = 1000 B, as the archive and ``du --si`` count): '1.2 GB'; '?' for None.

    Examples
    --------
    >>> human_size(0), human_size(999), human_size(1000), human_size(3.2e12), human_size(5e18)
    ('0 B', '999 B', '1.0 kB', '3.2 TB', '5000.0 PB')
    """
    if n is None:
        return "?"
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def free_bytes(path: str | os.PathLike) -> int:
    """Free bytes on the file system that holds ``path`` (or its nearest existing parent).

    Examples
    --------
    >>> free_bytes("/no/such/folder/yet") == free_bytes("/")
    True
    """
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free

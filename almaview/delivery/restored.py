"""Which EBs of a delivery almaview has restored: read from the registry in almaview's cache.

``almaview.restore`` writes the registry (``<cache>/restore/registry.json``:
delivery root -> EB uid -> restored, verified MS); the delivery's status reads it
here, so that an EB with no calibrated MS in the package but a restored one
counts as 'restored', not 'missing'.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..cache import cache_dir


def registry_path() -> Path:
    """The registry file (it may not exist yet).

    Examples
    --------
    >>> registry_path().name
    'registry.json'
    """
    return cache_dir("restore") / "registry.json"


def registry_key(root: str | os.PathLike) -> str:
    """The key of a delivery in the registry: its real path.

    Examples
    --------
    >>> registry_key("/") == os.path.realpath("/")
    True
    """
    return os.path.realpath(root)


def restored(root: str | os.PathLike) -> dict[str, Path]:
    """uid -> restored and verified MS (still on disk) for the delivery at ``root``.

    Examples
    --------
    >>> restored("/no/such/delivery")
    {}
    """
    try:
        entries = json.loads(registry_path().read_text()).get(registry_key(root), {})
    except (OSError, ValueError):
        return {}
    out = {}
    for uid, entry in entries.items():
        ms = Path(entry.get("ms", ""))
        if (ms / "table.dat").is_file():
            out[uid] = ms
    return out

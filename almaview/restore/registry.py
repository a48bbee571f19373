"""Where restored EBs are recorded: a state file in each work directory, and one registry in almaview's cache.

- ``<workdir>/almaview-restore.json``: what this work directory holds, per EB
  ('verified' with the MS path and the checks, or 'failed' with the reason). A
  run skips EBs that are 'verified' and whose MS is still there (resuming).
- ``<cache>/restore/registry.json``: delivery root -> EB uid -> restored MS, so
  that :func:`restored_ms` (and the delivery's status) find restored data from
  any work directory.

Both files are written whole to a temporary name and renamed (never half-written).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..delivery.restored import registry_key, registry_path
from ..delivery.restored import restored as restored_in

if TYPE_CHECKING:  # pragma: no cover
    from ..delivery.model import Delivery, ExecutionBlock

STATE_NAME = "almaview-restore.json"


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def load_state(workdir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The per-EB state of a work directory ({} when nothing ran there).

    Examples
    --------
    >>> load_state("/nonexistent")
    {}
    """
    return _read(Path(workdir) / STATE_NAME).get("ebs", {})


def update_state(workdir: str | os.PathLike, uid: str, **entry: Any) -> None:
    """Record ``entry`` (status, ms, checks, ...) for EB ``uid`` in the work directory's state file.

    Examples
    --------
    >>> update_state("scratch/work", "uid___A002_X1_X2", status="failed", reason="...")   # doctest: +SKIP
    """
    path = Path(workdir) / STATE_NAME
    data = _read(path)
    data.setdefault("ebs", {})[uid] = dict(entry, updated=time.strftime("%Y-%m-%dT%H:%M:%S"))
    _write(path, data)


def is_verified(workdir: str | os.PathLike, uid: str) -> Path | None:
    """The MS of EB ``uid`` if this work directory holds it restored and verified (and it still exists).

    Examples
    --------
    >>> is_verified("/nonexistent", "uid___A002_X1_X2") is None
    True
    """
    entry = load_state(workdir).get(uid) or {}
    ms = entry.get("ms")
    if entry.get("status") == "verified" and ms and Path(ms, "table.dat").is_file():
        return Path(ms)
    return None


_registry_path = registry_path
_key = registry_key


def register(
    delivery_root: str | os.PathLike,
    uid: str,
    ms: str | os.PathLike,
    *,
    workdir: str | os.PathLike,
    checks: list[str] | None = None,
) -> None:
    """Record that EB ``uid`` of the delivery at ``delivery_root`` was restored and verified into ``ms``.

    Examples
    --------
    >>> register("/data/2023.1.01234.S", "uid___A002_X1_X2", "/work/x.ms", workdir="/work")   # doctest: +SKIP
    """
    path = _registry_path()
    data = _read(path)
    data.setdefault(_key(delivery_root), {})[uid] = dict(
        ms=os.fspath(ms),
        workdir=os.fspath(workdir),
        checks=list(checks or []),
        verified=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    _write(path, data)


def unregister(delivery_root: str | os.PathLike, uid: str) -> None:
    """Forget a restored EB (its MS was removed or failed a new verification).

    Examples
    --------
    >>> unregister("/data/2023.1.01234.S", "uid___A002_X1_X2")   # doctest: +SKIP
    """
    path = _registry_path()
    data = _read(path)
    if data.get(_key(delivery_root), {}).pop(uid, None) is not None:
        _write(path, data)


def restored(delivery: "Delivery | str | os.PathLike") -> dict[str, Path]:
    """Every EB of the delivery restored and verified by almaview: uid -> the calibrated MS (still on disk).

    Examples
    --------
    >>> import almaview as av
    >>> av.restore.restored(av.open_delivery("2023.1.01234.S"))     # doctest: +SKIP
    {'uid___A002_X10ab2c3_X1f4a': PosixPath('~/.cache/almaview/restore/.../uid___A002_X10ab2c3_X1f4a.ms')}
    """
    return restored_in(delivery.root if hasattr(delivery, "root") else delivery)


def restored_ms(delivery: "Delivery | str | os.PathLike", eb: "ExecutionBlock | str") -> Path | None:
    """The MS almaview restored (and verified) for EB ``eb`` of ``delivery``, or None.

    This is the hook for the delivery's status: an EB without a calibrated MS in
    the package but with ``restored_ms(...)`` is 'restored'.

    Examples
    --------
    >>> import almaview as av
    >>> d = av.open_delivery("2023.1.01234.S")                     # doctest: +SKIP
    >>> av.restore.restored_ms(d, d.ebs[0])                         # doctest: +SKIP
    PosixPath('~/.cache/almaview/restore/2023.1.01234.S-3f2a9c1e/uid___A001_X3571_X8a/calibrated/uid___A002_X10ab2c3_X1f4a.ms')
    """
    uid = eb if isinstance(eb, str) else eb.uid
    return restored(delivery).get(uid)

"""What the explorer can show: a list of EBs (MS + caltables + their member OUS), from a delivery, an EB or an MS.

Thin adapters over :mod:`almaview.delivery`; no plotting and no widgets here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

#: caltable kinds each calibration panel shows
TSYS_KINDS = ("tsyscal",)
BANDPASS_KINDS = ("bandpass",)
GAIN_KINDS = ("phase", "amplitude", "gain", "fluxscale")


@dataclass
class EBSource:
    """One EB the explorer can show."""

    uid: str
    ms: str | None
    caltables: dict[str, str] = field(default_factory=dict)  #: name -> kind
    resolve: Callable[[str], str] | None = field(default=None, repr=False)  #: name -> real path (extracts)
    mous: Any = field(default=None, repr=False)

    def tables(self, kinds: tuple[str, ...]) -> list[str]:
        """Names of this EB's caltables of the given kinds, latest pipeline stage first (the weblog's default)."""
        from ..delivery.model import tables_of_kind

        return tables_of_kind(self.caltables, *kinds)

    def gain_tables(self) -> list[str]:
        """This EB's gain tables in the order the explorer offers them, the default first: the phase solutions
        (the weblog's hifa_timegaincal page, phase vs time per antenna; of the latest stage, solint='int' before
        'inf'), then amplitude, gain and fluxscale tables, latest stage first.

        Examples
        --------
        >>> eb = EBSource("x", None, {"x.ms.hifa_timegaincal.s17_3.spw0.solintinf.gacal.tbl": "amplitude",
        ...     "x.ms.hifa_timegaincal.s17_2.spw0.solintinf.gpcal.tbl": "phase",
        ...     "x.ms.hifa_timegaincal.s17_1.spw0.solintint.gpcal.tbl": "phase",
        ...     "x.ms.hifa_bandpass.s13_1.spw0.solintint.gpcal.tbl": "phase"})
        >>> [n.split(".")[3] for n in eb.gain_tables()]
        ['s17_1', 's17_2', 's13_1', 's17_3']
        """
        import re

        def stage(name: str) -> int:
            m = re.search(r"\.s(\d+)_\d+\.", name)
            return int(m.group(1)) if m else -1

        phase = self.tables(("phase",))  # latest stage first
        phase = sorted(phase, key=lambda n: (-stage(n), ".solintint." not in n))  # stable: sub-stage order kept
        return phase + self.tables(tuple(k for k in GAIN_KINDS if k != "phase"))

    def path(self, name: str) -> str:
        """The real path of a caltable (extracting it from its archive on first use)."""
        return self.resolve(name) if self.resolve is not None else name


def _is_table(p: Path) -> bool:
    return p.is_dir() and (p / "table.dat").is_file()


def sibling_caltables(ms: str | os.PathLike) -> dict[str, str]:
    """Caltables next to an MS whose names start with the MS name (pipeline naming): name -> real path.

    Examples
    --------
    >>> sibling_caltables("/no/such/uid.ms")
    {}
    """
    p = Path(ms)
    if not p.parent.is_dir():
        return {}
    return {c.name: os.fspath(c) for c in sorted(p.parent.glob(p.name + ".*")) if _is_table(c) and c != p}


def ebs_of(obj: Any) -> list[EBSource]:
    """The EBs an object offers: a Delivery, a MemberOUS, an ExecutionBlock, an MS path or a delivery path.

    Examples
    --------
    >>> [e.uid for e in ebs_of(av.open_delivery("2023.1.01234.S"))]   # doctest: +SKIP
    """
    from ..delivery.calapply import caltable_kind
    from ..delivery.model import Delivery, ExecutionBlock, MemberOUS

    if isinstance(obj, Delivery):
        return [e for m in obj.mous for e in ebs_of(m)]
    if isinstance(obj, MemberOUS):
        out = []
        for eb in obj.ebs:
            src = ebs_of(eb)[0]
            src.mous = obj
            out.append(src)
        return out
    if isinstance(obj, ExecutionBlock):
        return [EBSource(obj.uid, obj.calibrated_ms, obj.caltables.kinds(), lambda n, e=obj: e.caltables[n])]
    path = Path(os.fspath(obj))
    if _is_table(path):  # an MS (or a split)
        tables = sibling_caltables(path)
        uid = path.name.split(".ms")[0]
        return [EBSource(uid, os.fspath(path), {n: caltable_kind(n) for n in tables}, lambda n, t=tables: t[n])]
    from ..delivery import open_delivery

    return ebs_of(open_delivery(path))

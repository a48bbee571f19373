"""cont.dat editing and writing, and the tclean/uvcontsub ``spw`` selection string.

Reading reuses the delivery parser (:func:`almaview.delivery.auxfiles.parse_cont_dat`);
this module adds an editable model, a writer in the same format as hif_findcont,
and :func:`spw_selection`. A delivered file is never overwritten: writing to an
existing path needs ``overwrite=True`` and refuses anything inside a delivery's
``calibration/`` or ``product/`` folders.

Examples
--------
>>> r = ContinuumRanges.from_text("Field: M100\\n\\nSpectralWindow: 17\\n230.1~230.5GHz LSRK\\n")
>>> r = r.add("M100", 17, 231.0e9, 231.3e9)
>>> r.spw_selection("M100")
'17:230.1~230.5GHz;231~231.3GHz'
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ..errors import ContDatExists, PathNotFound

__all__ = ["ContinuumRanges", "ContDatExists", "read_cont_dat", "write_cont_dat", "format_cont_dat", "spw_selection"]


def _ghz(hz: float) -> str:
    return f"{hz / 1e9:.6f}".rstrip("0").rstrip(".")


@dataclass
class ContinuumRanges:
    """Continuum ranges per field and spw: ``{field: {spw: [(low_hz, high_hz), ...]}}``, one frame (LSRK).

    ``special`` keeps spws marked ALL or NONE: ``{field: {spw: 'ALL'}}``.
    """

    ranges: dict[str, dict[str, list[tuple[float, float]]]] = field(default_factory=dict)
    frame: str = "LSRK"
    special: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_text(cls, text: str) -> "ContinuumRanges":
        """Parse cont.dat text (with the delivery's parser).

        Examples
        --------
        >>> ContinuumRanges.from_text("Field: A\\n\\nSpectralWindow: 1\\nALL\\n").special
        {'A': {'1': 'ALL'}}
        """
        from ..delivery.auxfiles import parse_cont_dat

        return cls.from_rows(parse_cont_dat(text))

    @classmethod
    def from_rows(cls, rows: Iterable) -> "ContinuumRanges":
        """From parsed cont.dat lines (:class:`~almaview.delivery.model.ContinuumRange`, e.g. ``member.continuum``).

        Examples
        --------
        >>> from almaview.delivery.auxfiles import parse_cont_dat
        >>> ContinuumRanges.from_rows(parse_cont_dat("Field: A\\n\\nSpectralWindow: 1\\n1~2GHz LSRK\\n")).get("A", 1)
        [(1000000000.0, 2000000000.0)]
        """
        out = cls()
        for r in rows:
            spws = out.ranges.setdefault(r.field, {})
            if r.low is None:
                word = r.text.strip().split()[0].upper() if r.text.strip() else ""
                if word in ("ALL", "NONE"):
                    out.special.setdefault(r.field, {})[r.spw] = word
                continue
            spws.setdefault(r.spw, []).append((min(r.low, r.high), max(r.low, r.high)))
            if r.frame:
                out.frame = r.frame
        return out

    def copy(self) -> "ContinuumRanges":
        return ContinuumRanges(
            {f: {s: list(v) for s, v in d.items()} for f, d in self.ranges.items()},
            self.frame,
            {f: dict(d) for f, d in self.special.items()},
        )

    def get(self, field: str, spw: int | str) -> list[tuple[float, float]]:
        """Ranges (Hz) of one field and spw, sorted.

        Examples
        --------
        >>> ContinuumRanges({"A": {"1": [(2.0, 3.0), (0.0, 1.0)]}}).get("A", 1)
        [(0.0, 1.0), (2.0, 3.0)]
        """
        return sorted(self.ranges.get(field, {}).get(str(spw), []))

    def set(self, field: str, spw: int | str, ranges: Iterable[tuple[float, float]]) -> "ContinuumRanges":
        """A copy with the ranges of (field, spw) replaced (merged where they overlap).

        Examples
        --------
        >>> ContinuumRanges().set("A", 1, [(0.0, 2.0), (1.0, 3.0)]).get("A", 1)
        [(0.0, 3.0)]
        """
        out = self.copy()
        merged: list[tuple[float, float]] = []
        for lo, hi in sorted((min(a, b), max(a, b)) for a, b in ranges):
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
            else:
                merged.append((float(lo), float(hi)))
        out.ranges.setdefault(field, {})[str(spw)] = merged
        out.special.get(field, {}).pop(str(spw), None)
        return out

    def add(self, field: str, spw: int | str, low: float, high: float) -> "ContinuumRanges":
        """A copy with one more range (Hz).

        Examples
        --------
        >>> ContinuumRanges().add("A", 1, 1.0, 2.0).get("A", 1)
        [(1.0, 2.0)]
        """
        return self.set(field, spw, self.get(field, spw) + [(low, high)])

    def remove(self, field: str, spw: int | str, low: float, high: float) -> "ContinuumRanges":
        """A copy with the interval [low, high] (Hz) cut out of the ranges of (field, spw).

        Examples
        --------
        >>> ContinuumRanges().add("A", 1, 0.0, 10.0).remove("A", 1, 4.0, 6.0).get("A", 1)
        [(0.0, 4.0), (6.0, 10.0)]
        """
        lo, hi = min(low, high), max(low, high)
        kept: list[tuple[float, float]] = []
        for a, b in self.get(field, spw):
            if b <= lo or a >= hi:
                kept.append((a, b))
                continue
            if a < lo:
                kept.append((a, lo))
            if b > hi:
                kept.append((hi, b))
        return self.set(field, spw, kept)

    def to_text(self) -> str:
        """cont.dat text in hif_findcont's layout.

        Examples
        --------
        >>> print(ContinuumRanges().add("A", 1, 230.1e9, 230.4e9).to_text())
        Field: A
        <BLANKLINE>
        SpectralWindow: 1
        230.1~230.4GHz LSRK
        <BLANKLINE>
        """
        lines: list[str] = []
        fields = list(dict.fromkeys(list(self.ranges) + list(self.special)))
        for f in fields:
            lines += [f"Field: {f}", ""]
            spws = set(self.ranges.get(f, {})) | set(self.special.get(f, {}))
            for s in sorted(spws, key=lambda x: (len(x), x)):
                lines.append(f"SpectralWindow: {s}")
                if s in self.special.get(f, {}):
                    lines.append(self.special[f][s])
                for lo, hi in self.get(f, s):
                    lines.append(f"{_ghz(lo)}~{_ghz(hi)}GHz {self.frame}")
                lines.append("")
        return "\n".join(lines)

    def spw_selection(self, field: str, spws: Sequence[int | str] | None = None) -> str:
        """The tclean/uvcontsub ``spw`` string of one field, e.g. '0:230.1~230.4GHz;231~231.3GHz,1'.

        An ALL spw is selected whole; NONE spws and spws without ranges are left out.

        Examples
        --------
        >>> ContinuumRanges().add("A", 0, 230.1e9, 230.4e9).spw_selection("A")
        '0:230.1~230.4GHz'
        """
        wanted = None if spws is None else {str(s) for s in spws}
        per_spw = {s: v for s, v in self.ranges.get(field, {}).items() if v}
        for s, word in self.special.get(field, {}).items():
            if word == "ALL":
                per_spw[s] = []
        if wanted is not None:
            per_spw = {s: v for s, v in per_spw.items() if s in wanted}
        return spw_selection(per_spw)


def spw_selection(ranges: Mapping[int | str, Sequence[tuple[float, float]]]) -> str:
    """CASA spw selection from {spw: [(low_hz, high_hz), ...]}; an empty list selects the whole spw.

    Examples
    --------
    >>> spw_selection({0: [(230.1e9, 230.4e9), (231.0e9, 231.3e9)], 1: []})
    '0:230.1~230.4GHz;231~231.3GHz,1'
    """
    parts = []
    for s in sorted(ranges, key=lambda x: int(x)):
        rs = sorted(ranges[s])
        parts.append(str(s) if not rs else f"{s}:" + ";".join(f"{_ghz(lo)}~{_ghz(hi)}GHz" for lo, hi in rs))
    return ",".join(parts)


def read_cont_dat(path: str | os.PathLike) -> ContinuumRanges:
    """Read a cont.dat file.

    Examples
    --------
    >>> from almaview.imaging import read_cont_dat
    >>> read_cont_dat("cont.dat").spw_selection("IRAS16293-2422")   # doctest: +SKIP
    """
    p = Path(path)
    if not p.is_file():
        raise PathNotFound(p, "does not exist (expected a cont.dat text file)")
    return ContinuumRanges.from_text(p.read_text())


def format_cont_dat(ranges: ContinuumRanges) -> str:
    """cont.dat text of ``ranges`` (same as ``ranges.to_text()``).

    Examples
    --------
    >>> format_cont_dat(ContinuumRanges()) == ""
    True
    """
    return ranges.to_text()


def _inside_delivery(p: Path) -> bool:
    parts = [x.lower() for x in p.resolve().parts]
    return any(x.startswith("member.uid___") for x in parts) and any(x in ("calibration", "product") for x in parts)


def write_cont_dat(ranges: ContinuumRanges, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``ranges`` to ``path`` atomically; never over an existing file unless ``overwrite`` (and never
    into a delivery's calibration/ or product/ folder).

    Examples
    --------
    >>> from almaview.imaging import write_cont_dat
    >>> write_cont_dat(ranges, "my_cont.dat")   # doctest: +SKIP
    PosixPath('my_cont.dat')
    """
    p = Path(path)
    if _inside_delivery(p):
        raise ContDatExists(
            p,
            "is inside a delivery's calibration/ or product/ folder: almaview never writes "
            "into a delivery; choose a path outside the package",
        )
    if p.exists() and not overwrite:
        raise ContDatExists(p, "already exists: choose a new name or pass overwrite=True")
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    tmp.write_text(ranges.to_text())
    os.replace(tmp, p)
    return p

"""How big a restored MS will be, from the ASDM's own tables (channels x correlations x baselines x integrations).

An MS made by importasdm stores, per visibility value, DATA (complex64, 8 bytes)
and WEIGHT_SPECTRUM (float32, 4 bytes) and a FLAG bit; applycal adds
CORRECTED_DATA (8 bytes); split makes a copy with DATA (+ WEIGHT_SPECTRUM).
The ASDM's Main/ConfigDescription/DataDescription/SpectralWindow/Polarization
tables give the number of values without reading the binary data. When the
ASDM is absent (or unreadable), the estimate falls back on its size (or on
nothing: ``None``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_ROW = re.compile(r"<row>(.*?)</row>", re.S)

#: bytes per visibility value: DATA + WEIGHT_SPECTRUM + FLAG (1 bit), as importasdm writes them
IMPORT_BYTES = 8 + 4 + 1 / 8
CORRECTED_BYTES = 8
SPLIT_BYTES = 8 + 4 + 1 / 8
#: metadata per MS row (UVW, TIME, ids, WEIGHT/SIGMA per correlation, ...) and a safety margin
ROW_BYTES = 160
MARGIN = 1.15
#: MS size / ASDM size when only the ASDM's size is known (cross-correlations stored as 16/32-bit integers)
SIZE_RATIO_FALLBACK = 3.0


@dataclass
class Estimate:
    """A disk estimate for restoring one EB (bytes)."""

    values: int | None  #: visibility values (channels x correlations x baselines x integrations), None if unknown
    rows: int | None
    imported: int  #: the MS after importasdm
    calibrated: int  #: after applycal (CORRECTED_DATA added)
    split: int  #: the split copy (0 unless asked)
    basis: str  #: how it was estimated

    @property
    def total(self) -> int:
        return self.calibrated + self.split


def _field(row: str, tag: str) -> str | None:
    m = re.search(rf"<{tag}>\s*(.*?)\s*</{tag}>", row, re.S)
    return m.group(1) if m else None


def _ids(text: str | None) -> list[str]:
    """ASDM array syntax '1 4 A B C D' (ndim, n, values...) -> the values."""
    parts = (text or "").split()
    if len(parts) < 2:
        return parts
    return parts[2:]


def _rows(path: Path) -> list[str]:
    return _ROW.findall(path.read_text(errors="replace"))


def asdm_visibility_count(asdm: str | os.PathLike) -> tuple[int, int]:
    """(visibility values, MS rows) an importasdm of ``asdm`` will write, from its XML tables.

    Examples
    --------
    >>> values, rows = asdm_visibility_count("raw/uid___A002_X1_X2.asdm.sdm")   # doctest: +SKIP
    """
    asdm = Path(asdm)
    nchan = {_field(r, "spectralWindowId"): int(_field(r, "numChan") or 0) for r in _rows(asdm / "SpectralWindow.xml")}
    ncorr = {_field(r, "polarizationId"): int(_field(r, "numCorr") or 0) for r in _rows(asdm / "Polarization.xml")}
    dd = {}
    for r in _rows(asdm / "DataDescription.xml"):
        dd[_field(r, "dataDescriptionId")] = (
            nchan.get(_field(r, "spectralWindowId"), 0),
            ncorr.get(_field(r, "polOrHoloId"), 0),
        )
    configs = {}
    for r in _rows(asdm / "ConfigDescription.xml"):
        n_ant = int(_field(r, "numAntenna") or 0)
        mode = (_field(r, "correlationMode") or "CROSS_ONLY").strip()
        n_bl = n_ant * (n_ant - 1) // 2 if mode != "AUTO_ONLY" else 0
        n_auto = n_ant if mode in ("CROSS_AND_AUTO", "AUTO_ONLY") else 0
        dds = [dd.get(x, (0, 0)) for x in _ids(_field(r, "dataDescriptionId"))]
        per_row = sum((n_bl + n_auto) * c * p for c, p in dds)
        configs[_field(r, "configDescriptionId")] = (per_row, (n_bl + n_auto) * len(dds))
    values = rows = 0
    for r in _rows(asdm / "Main.xml"):
        n_int = int(_field(r, "numIntegration") or 1)
        per_value, per_rows = configs.get(_field(r, "configDescriptionId"), (0, 0))
        values += n_int * per_value
        rows += n_int * per_rows
    return values, rows


def directory_size(path: str | os.PathLike) -> int:
    """Bytes in the files under ``path`` (a file's own size for a file).

    Examples
    --------
    >>> directory_size("/nonexistent")
    0
    """
    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    total = 0
    for root, _, files in os.walk(p):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def estimate_restore(
    asdm: str | os.PathLike | None, *, split: bool = False, asdm_bytes: int | None = None
) -> Estimate | None:
    """Estimate the disk a restore of one EB needs (the imported MS, CORRECTED_DATA, and a split copy if asked).

    Examples
    --------
    >>> estimate_restore(None) is None
    True
    >>> estimate_restore(None, asdm_bytes=10**9).basis
    'ASDM size x 3.0 (ASDM tables not readable)'
    """
    if asdm is not None and Path(asdm, "Main.xml").is_file():
        try:
            values, rows = asdm_visibility_count(asdm)
        except (OSError, ValueError):
            values = rows = 0
        if values > 0:
            imported = int((values * IMPORT_BYTES + rows * ROW_BYTES) * MARGIN)
            calibrated = imported + int(values * CORRECTED_BYTES * MARGIN)
            sp = int((values * SPLIT_BYTES + rows * ROW_BYTES) * MARGIN) if split else 0
            return Estimate(
                values,
                rows,
                imported,
                calibrated,
                sp,
                f"{values:,} visibility values in {rows:,} rows (from the ASDM's tables)",
            )
        asdm_bytes = asdm_bytes if asdm_bytes is not None else directory_size(asdm)
    if asdm_bytes:
        imported = int(asdm_bytes * SIZE_RATIO_FALLBACK / 2)
        calibrated = int(asdm_bytes * SIZE_RATIO_FALLBACK)
        return Estimate(
            None,
            None,
            imported,
            calibrated,
            imported if split else 0,
            f"ASDM size x {SIZE_RATIO_FALLBACK} (ASDM tables not readable)",
        )
    return None

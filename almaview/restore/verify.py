"""Check a restored MS: it opens with almaview, calibrated data exist for the science spws and fields,
and the calibrators' amplitudes agree with the delivered ``flux.csv``.

The flux check averages the unflagged calibrated visibilities of each calibrator
(per spw, parallel hands, all baselines, channels and times; a vector average,
so noise does not bias it) and compares with flux.csv's Stokes I. Calibrators
are point sources at the phase centre, so a correct calibration gives their flux
density within a few percent (5% by default, ALMA's band 3-7 absolute accuracy).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AlmaviewError

if TYPE_CHECKING:  # pragma: no cover
    from ..delivery.model import ExecutionBlock, MemberOUS

FLUX_TOLERANCE = 0.05
_ROWS_PER_READ = 20000


@dataclass
class FluxCheck:
    """A calibrator's measured amplitude against flux.csv in one spw."""

    field: str
    spw: int
    expected_jy: float
    measured_jy: float | None
    origin: str = ""
    delivered_jy: float | None = None  #: the same average in the calibrated MS the delivery holds, when it holds one

    @property
    def ratio(self) -> float | None:
        return None if self.measured_jy is None else self.measured_jy / self.expected_jy

    def ok(self, tolerance: float = FLUX_TOLERANCE) -> bool:
        return self.ratio is not None and abs(self.ratio - 1) <= tolerance

    def matches_delivered(self, tolerance: float = 0.01) -> bool:
        """True when the delivery's own calibrated MS shows the same amplitude (the restore reproduced it)."""
        return (
            self.measured_jy is not None
            and self.delivered_jy is not None
            and abs(self.measured_jy / self.delivered_jy - 1) <= tolerance
        )


@dataclass
class Verification:
    """The result of :func:`verify_ms`: each check with a line of explanation, and the flux comparisons."""

    ms: str
    column: str | None  #: 'CORRECTED_DATA', or 'DATA' for a split MS
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    fluxes: list[FluxCheck] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(ok for _, ok, _ in self.checks)

    def lines(self) -> list[str]:
        out = [f"verification of {self.ms}: {'passed' if self.ok else 'FAILED'}"]
        out += [f"  [{'ok' if ok else 'FAIL'}] {name}: {why}" for name, ok, why in self.checks]
        out += [f"  warning: {w}" for w in self.warnings]
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())


def _field_ids(names: list[str], key: str) -> int | None:
    if key.isdigit():
        i = int(key)
        return i if i < len(names) else None
    return names.index(key) if key in names else None


def _vector_mean(t, column: str, field_id: int, ddids: list[int]) -> float | None:
    """|mean| of the unflagged parallel-hand values of ``column`` for a field and data descriptions."""
    total, count = 0j, 0
    sub = t.query(f"FIELD_ID=={field_id} && DATA_DESC_ID in {list(ddids)} && !FLAG_ROW", columns=f"{column},FLAG")
    try:
        for start in range(0, sub.nrows(), _ROWS_PER_READ):
            n = min(_ROWS_PER_READ, sub.nrows() - start)
            data = sub.getcol(column, start, n)
            flag = sub.getcol("FLAG", start, n)
            ncorr = data.shape[-1]
            par = [0, ncorr - 1] if ncorr in (2, 4) else list(range(ncorr))
            d, f = data[..., par], flag[..., par]
            total += d[~f].sum()
            count += int((~f).sum())
    finally:
        sub.close()
    return None if count == 0 else float(abs(total / count))


def _delivered_fluxes(ms: str, checks: list[FluxCheck]) -> None:
    """Fill ``delivered_jy`` of ``checks`` from a delivered calibrated MS (CORRECTED_DATA, or DATA when split)."""
    from casacore import tables

    try:
        with tables.table(ms, ack=False) as t:
            column = "CORRECTED_DATA" if "CORRECTED_DATA" in t.colnames() else "DATA"
            with tables.table(os.path.join(ms, "FIELD"), ack=False) as ft:
                names = [str(x) for x in ft.getcol("NAME")]
            with tables.table(os.path.join(ms, "DATA_DESCRIPTION"), ack=False) as dt:
                dd_spw = [int(x) for x in dt.getcol("SPECTRAL_WINDOW_ID")]
            for c in checks:
                if c.field in names:
                    ddids = [i for i, s in enumerate(dd_spw) if s == c.spw]
                    c.delivered_jy = _vector_mean(t, column, names.index(c.field), ddids) if ddids else None
    except RuntimeError:
        return


def verify_ms(
    ms: str | os.PathLike,
    *,
    eb: "ExecutionBlock | None" = None,
    member: "MemberOUS | None" = None,
    tolerance: float = FLUX_TOLERANCE,
) -> Verification:
    """Verify a restored (or delivered) calibrated MS of EB ``eb`` of ``member``.

    Checks: the MS opens with :func:`almaview.open_ms`; it has CORRECTED_DATA (or is a split
    MS with calibrated DATA); every science spw and every field of the member OUS has rows; the
    calibrators' amplitudes agree with the member's flux.csv rows for this EB within ``tolerance``.
    When a calibrator disagrees with flux.csv but the delivery also holds a calibrated MS for the EB
    showing the same amplitude (within 1%), the restore reproduced the delivered calibration: the
    check passes with a warning naming the flux.csv row that disagrees.

    Examples
    --------
    >>> v = verify_ms("work/uid___A001_X1_X2/calibrated/uid___A002_X1_X3.ms", eb=eb, member=m)  # doctest: +SKIP
    >>> v.ok, [round(f.ratio, 3) for f in v.fluxes]                                          # doctest: +SKIP
    (True, [1.001, 0.998, ...])
    """
    from casacore import tables

    from ..io.ms import open_ms

    ms = os.fspath(ms)
    v = Verification(ms=ms, column=None)
    try:
        tree = open_ms(ms)
        v.checks.append(
            (
                "opens",
                True,
                f"almaview.open_ms reads it ({len([k for k in tree.children if k.startswith('spw_')])} spw nodes)",
            )
        )
    except AlmaviewError as err:
        v.checks.append(("opens", False, f"almaview.open_ms failed: {err.reason}"))
        return v
    with tables.table(ms, ack=False) as t:
        cols = t.colnames()
        split_like = ms.endswith(".split.cal") or ms.endswith(".split")
        if "CORRECTED_DATA" in cols:
            v.column = "CORRECTED_DATA"
        elif split_like and "DATA" in cols:
            v.column = "DATA"
        if v.column is None:
            v.checks.append(("calibrated column", False, "no CORRECTED_DATA column: applycal did not run"))
            return v
        v.checks.append(("calibrated column", True, f"{v.column} present"))
        with tables.table(os.path.join(ms, "FIELD"), ack=False) as ft:
            names = [str(x) for x in ft.getcol("NAME")]
        with tables.table(os.path.join(ms, "DATA_DESCRIPTION"), ack=False) as dt:
            dd_spw = [int(x) for x in dt.getcol("SPECTRAL_WINDOW_ID")]
        q = tables.taql(f"select FIELD_ID, DATA_DESC_ID, gcount() as N from {ms!r} groupby FIELD_ID, DATA_DESC_ID")
        have = {(int(f), dd_spw[int(d)]) for f, d in zip(q.getcol("FIELD_ID"), q.getcol("DATA_DESC_ID"))}
        q.close()
        want_spws = sorted({int(s["spw_id"]) for s in (member.spws if member else []) if s.get("is_science", True)})
        want_fields = [f.name for f in (member.fields if member else [])]
        if not want_spws:
            want_spws = sorted({s for _, s in have})
        if not want_fields:
            want_fields = names
        missing = [
            f"{fl}/spw {s}" for fl in want_fields for s in want_spws if fl in names and (names.index(fl), s) not in have
        ]
        absent = [fl for fl in want_fields if fl not in names]
        ok = not missing and not absent
        why = (
            f"{len(want_fields)} fields x {len(want_spws)} science spws have rows"
            if ok
            else "missing: " + ", ".join(absent + missing)
        )
        v.checks.append(("science spws and fields", ok, why))
        uid = eb.uid if eb is not None else None
        rows = [f for f in (member.flux if member else []) if f.I and (uid is None or f.vis.startswith(uid))]
        from ..delivery.auxfiles import comment_field

        for f in rows:
            key = comment_field(f.comment) or f.field
            fid = _field_ids(names, key)
            if fid is None:
                fid = _field_ids(names, f.field)
            if fid is None or not f.spw.isdigit():
                continue
            ddids = [i for i, s in enumerate(dd_spw) if s == int(f.spw)]
            measured = _vector_mean(t, v.column, fid, ddids) if ddids else None
            origin = "catalogue" if "catalogue" in f.comment else "fluxscale" if "fluxscale" in f.comment else ""
            v.fluxes.append(FluxCheck(names[fid], int(f.spw), float(f.I), measured, origin))
    if v.fluxes:
        bad = [x for x in v.fluxes if not x.ok(tolerance)]
        delivered = eb.calibrated_ms if eb is not None else None
        if bad and delivered and os.path.realpath(delivered) != os.path.realpath(ms) and Path(delivered).is_dir():
            _delivered_fluxes(delivered, bad)
            explained = [x for x in bad if x.matches_delivered()]
            for x in explained:
                v.warnings.append(
                    f"{x.field} spw {x.spw}: {x.measured_jy:.4g} Jy against {x.expected_jy:.4g} Jy in flux.csv, but the "
                    f"delivery's own calibrated MS shows the same {x.delivered_jy:.4g} Jy: flux.csv disagrees with the "
                    "delivered calibration, not the restore (worth a note to the ALMA helpdesk)"
                )
            bad = [x for x in bad if x not in explained]
        worst = max(v.fluxes, key=lambda x: abs((x.ratio or 0) - 1))
        why = (
            f"{len(v.fluxes) - len(bad)}/{len(v.fluxes)} calibrator amplitudes within {tolerance:.0%} of "
            f"flux.csv or equal to the delivered calibrated MS (worst against flux.csv: {worst.field} spw "
            f"{worst.spw}: {worst.measured_jy or float('nan'):.4g} Jy vs {worst.expected_jy:.4g} Jy)"
        )
        v.checks.append(("calibrator fluxes", not bad, why))
    else:
        v.checks.append(("calibrator fluxes", True, "no flux.csv rows for this EB: not checked"))
    return v


def ms_is_complete(ms: str | os.PathLike) -> bool:
    """True when ``ms`` looks like a whole table (table.dat present).

    Examples
    --------
    >>> ms_is_complete("/nonexistent.ms")
    False
    """
    return Path(ms, "table.dat").is_file()


__all__ = ["verify_ms", "Verification", "FluxCheck", "FLUX_TOLERANCE", "ms_is_complete"]

"""``check(delivery) -> QAReport``: re-derive ALMA's QA2 criteria from the delivered data."""

from __future__ import annotations

import os
import re
from datetime import date, datetime
from pathlib import Path

from ..delivery.model import Caltable, Caltables, Delivery, ExecutionBlock, MemberOUS
from ..errors import AlmaviewError
from .bandpass import check_bandpass
from .flagging import check_flagging
from .fluxscale import check_fluxscale
from .gains import check_gains
from .images import check_images
from .limits import Limits
from .phase_transfer import check_phase_transfer
from .report import Finding, QAReport, not_checkable
from .tsys import check_tsys


def check(delivery: Delivery | str | os.PathLike, limits: Limits | None = None) -> QAReport:
    """Judge a delivery on the QA2 criteria (Tsys, gains, flux scale, phase transfer, bandpass, images,
    data volume), one finding per criterion and EB (or image, or calibrator), each with its evidence.

    ``delivery``: a :class:`~almaview.delivery.model.Delivery` or a path for :func:`almaview.open_delivery`.
    ``limits``: the thresholds (:class:`~almaview.qa.limits.Limits`; defaults say where they come from).
    Nothing is written into the delivery.

    Examples
    --------
    >>> import almaview as av
    >>> report = av.qa.check("2023.1.01234.S")        # doctest: +SKIP
    >>> report.verdict, len(report.table)             # doctest: +SKIP
    ('warning', 34)
    >>> report.evidence(report.table.query("verdict == 'fail'").index[0])    # doctest: +SKIP
    """
    if not isinstance(delivery, Delivery):
        from ..delivery import open_delivery

        delivery = open_delivery(delivery)
    limits = limits or Limits()
    findings: list[Finding] = []
    for mous in delivery.mous:
        findings += check_mous(mous, limits)
    return QAReport(
        project=delivery.project_code,
        findings=findings,
        delivery_date=_delivery_date(delivery),
        limits=limits,
        pi_name=delivery.pi_name,
        processed_date=_processed_date(delivery),
    )


def check_mous(mous: MemberOUS, limits: Limits) -> list[Finding]:
    """The findings of one member OUS: per-EB calibration criteria, flux scale, images.

    A Total Power member gets the single-dish criteria instead (:mod:`almaview.qa.singledish`).
    """
    from ..io.ms import open_ms

    if getattr(mous, "array", None) == "TP":
        from .singledish import check_tp_mous

        return check_tp_mous(mous, limits)

    findings: list[Finding] = []
    spw_freqs: dict[str, dict[int, float]] = {}
    for eb in mous.ebs:
        vis = None
        if eb.calibrated_ms:
            try:
                vis = open_ms(eb.calibrated_ms)
            except AlmaviewError as err:
                findings.append(not_checkable("data volume", eb.uid, "calibrated MS", str(err)))
        if vis is not None:
            spw_freqs[eb.uid] = _spw_centres(vis)
        findings += check_eb(eb, vis, limits, readme=mous.readme)
    findings += check_fluxscale(mous, spw_freqs, limits)
    findings += check_images(mous, limits)
    return findings


def check_eb(eb: ExecutionBlock, vis, limits: Limits, readme=None) -> list[Finding]:
    """The calibration findings of one EB (``vis``: its opened calibrated MS, or None).

    Examples
    --------
    >>> eb = execution_block("uid___A002_X1_X2", "uid.ms", ["uid.ms.h_tsyscal.s6_1.tsyscal.tbl"])   # doctest: +SKIP
    >>> check_eb(eb, av.open_ms(eb.calibrated_ms), Limits())                                      # doctest: +SKIP
    """
    out = []
    steps = (
        ("tsys", lambda: check_tsys(eb, limits)),
        ("gains", lambda: check_gains(eb, vis, limits)),
        ("phase transfer", lambda: check_phase_transfer(eb, vis, limits)),
        ("bandpass", lambda: check_bandpass(eb, limits)),
        ("data volume", lambda: check_flagging(eb, vis, limits, readme)),
    )
    for criterion, step in steps:
        try:
            out += step()
        except AlmaviewError as err:  # a damaged or unreadable table: say so, judge the rest
            out.append(not_checkable(criterion, eb.uid, "read", str(err)))
    return out


def execution_block(
    uid: str, calibrated_ms: str | os.PathLike | None, caltables: list[str | os.PathLike], mous: str = ""
) -> ExecutionBlock:
    """An :class:`ExecutionBlock` from loose paths (an EB outside a delivery), caltable kinds from their names.

    Examples
    --------
    >>> eb = execution_block("uid___A002_X1_X2", None, ["/x/uid.ms.h_tsyscal.s6_1.tsyscal.tbl"])
    >>> eb.caltables.kinds()
    {'uid.ms.h_tsyscal.s6_1.tsyscal.tbl': 'tsyscal'}
    """
    from ..delivery.calapply import caltable_kind

    tabs = [Caltable(Path(p).name, caltable_kind(Path(p).name), uid, os.fspath(p)) for p in caltables]
    return ExecutionBlock(
        uid=uid,
        mous=mous,
        calibrated_ms=None if calibrated_ms is None else os.fspath(calibrated_ms),
        caltables=Caltables(tabs),
    )


def _spw_centres(vis) -> dict[int, float]:
    out = {}
    for name, node in vis.children.items():
        m = re.fullmatch(r"spw_(\d+)", name)
        if m and "frequency" in node.ds.coords:
            f = node.ds["frequency"].values
            out[int(m.group(1))] = float((f.min() + f.max()) / 2)
    return out


def _delivery_date(delivery: Delivery) -> date | None:
    """The delivery date, where the package states one (``MemberOUS.delivery_date``), else None."""
    for m in delivery.mous:
        value = getattr(m, "delivery_date", None)
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                continue
    return None


def _processed_date(delivery: Delivery) -> date | None:
    """The latest processing date the package shows (CASA log names ``casa-YYYYMMDD-HHMMSS.log``), or None."""
    found = []
    for m in delivery.mous:
        for log in m.scripts.casa_logs:
            hit = re.search(r"casa-(\d{4})(\d{2})(\d{2})-\d{6}\.log", os.path.basename(log))
            if hit:
                try:
                    found.append(date(*map(int, hit.groups())))
                except ValueError:
                    continue
    return max(found) if found else None

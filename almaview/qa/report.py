"""The QA report: one finding per criterion and scope, a table, evidence plots, and a QA3-request draft."""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

VERDICTS = ("pass", "warning", "fail", "not checkable", "not applicable")
_RANK = {"not applicable": 0, "pass": 0, "not checkable": 1, "warning": 2, "fail": 3}
_COLOUR = {
    "pass": "#5cb85c",
    "warning": "#f0ad4e",
    "fail": "#d9534f",
    "not checkable": "#999999",
    "not applicable": "#bbbbbb",
}
#: 'sky calibration', 'baseline flatness' and 'jy/k' are the Total Power criteria (see :mod:`almaview.qa.singledish`)
CRITERIA = (
    "tsys",
    "gains",
    "flux scale",
    "phase transfer",
    "bandpass",
    "images",
    "data volume",
    "sky calibration",
    "baseline flatness",
    "jy/k",
)
QA3_WINDOW_MONTHS = 2
#: the pipeline's caltable names carry the task and stage that wrote them: uid.ms.hifa_timegaincal.s17_1.spw0...
_STAGE_IN_NAME = re.compile(r"\.((?:h|hif|hifa|hifv|hsd|hsdn)_[a-z0-9]+)\.s(\d+)_")


def worst(verdicts: list[str]) -> str:
    """The worst of several verdicts ('fail' > 'warning' > 'not checkable' > 'pass').

    Examples
    --------
    >>> worst(["pass", "warning"]), worst([]), worst(["not checkable", "pass"])
    ('warning', 'pass', 'not checkable')
    """
    return max(verdicts, key=_RANK.__getitem__, default="pass")


def grade(value: float, warn: float, fail: float, *, higher_is_worse: bool = True) -> str:
    """'pass', 'warning' or 'fail' for a figure against two limits.

    Examples
    --------
    >>> grade(1.0, 1.5, 2.0), grade(1.7, 1.5, 2.0), grade(4.0, 1.5, 2.0), grade(2.0, 20, 3, higher_is_worse=False)
    ('pass', 'warning', 'fail', 'fail')
    """
    if higher_is_worse:
        return "fail" if value > fail else "warning" if value > warn else "pass"
    return "fail" if value < fail else "warning" if value < warn else "pass"


@dataclass
class Evidence:
    """What to plot for a finding: a builder of :mod:`almaview.plots.qa_evidence`, its data and options."""

    builder: str
    data: pd.DataFrame
    options: dict[str, Any] = field(default_factory=dict)
    #: the explorer's view of the same table: (``almaview.plots`` builder, caltable path, its keyword arguments)
    detail: tuple[str, str, dict[str, Any]] | None = None


#: a finding's fields in the order of its table row (:meth:`Finding.row`, :meth:`QAReport.table`)
FINDING_COLUMNS = (
    "criterion",
    "scope",
    "aspect",
    "verdict",
    "figure",
    "units",
    "score",
    "threshold",
    "source",
    "why",
    "stage",
)


@dataclass
class Finding:
    """One row of the report: a criterion judged for one scope (an EB, an image, a calibrator)."""

    criterion: str  #: one of :data:`CRITERIA`
    scope: str  #: EB uid, image name, or calibrator
    aspect: str  #: what was measured ('median vs array', 'phase rms', 'cadence', ...)
    verdict: str  #: one of :data:`VERDICTS`
    figure: float | None  #: the measured figure the verdict is based on
    units: str
    threshold: str  #: the limits used, in words
    source: str  #: where the limits come from
    why: str  #: the explanation (outliers named), or why it is not checkable
    evidence: Evidence | None = field(default=None, repr=False)
    #: the ALMA pipeline's QA score (0-1) for this finding, where almaview computes it as the pipeline does
    score: float | None = None

    @property
    def stage(self) -> str:
        """The weblog stage the finding's caltable comes from, as the weblog names it ('17 hifa_timegaincal'), from
        the pipeline's caltable name (``<ms>.<task>.s<stage>_<n>...``); '' when the finding has no caltable.

        Examples
        --------
        >>> ev = Evidence("scatter", pd.DataFrame(), detail=("gains", "x.ms.hifa_timegaincal.s17_1.spw0.tbl", {}))
        >>> Finding("gains", "x", "phase rms", "pass", 1.0, "deg", "", "", "", ev).stage
        '17 hifa_timegaincal'
        """
        path = self.evidence.detail[1] if self.evidence is not None and self.evidence.detail else ""
        m = _STAGE_IN_NAME.search(os.path.basename(str(path)))
        return f"{int(m.group(2))} {m.group(1)}" if m else ""

    def row(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in FINDING_COLUMNS}


def not_checkable(criterion: str, scope: str, aspect: str, why: str) -> Finding:
    """A finding that could not be judged, with the reason."""
    return Finding(criterion, scope, aspect, "not checkable", None, "", "", "", why)


def not_applicable(criterion: str, scope: str, why: str) -> Finding:
    """A criterion that does not apply to this data (e.g. gain-phase rms for a Total Power EB).

    Examples
    --------
    >>> not_applicable("gains", "uid___A002_X1_X2", "Total Power: no interferometric gains").verdict
    'not applicable'
    """
    return Finding(criterion, scope, "applies to this array?", "not applicable", None, "", "", "", why)


def add_months(d: date, months: int) -> date:
    """The same day ``months`` later (clamped to the month's last day).

    Examples
    --------
    >>> add_months(date(2024, 12, 31), 2)
    datetime.date(2025, 2, 28)
    """
    import calendar

    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


@dataclass
class QAReport:
    """The re-derived QA of a delivery: ``table`` (one row per finding), ``evidence(row)``, ``to_markdown(path)``.

    Examples
    --------
    >>> import almaview as av
    >>> report = av.qa.check(av.open_delivery("2023.1.01234.S"))   # doctest: +SKIP
    >>> report.table[["criterion", "scope", "verdict", "figure"]]     # doctest: +SKIP
    >>> report.evidence(0)                                            # doctest: +SKIP
    >>> report.to_markdown("qa3-request.md")                          # doctest: +SKIP
    """

    project: str | None
    findings: list[Finding]
    delivery_date: date | None = None
    limits: Any = None
    pi_name: str | None = None
    processed_date: date | None = None  #: the latest CASA log of the package: the delivery came after it

    @property
    def table(self) -> pd.DataFrame:
        """One row per finding: criterion, scope, aspect, verdict, figure, units, the pipeline's QA score where
        almaview computes it as the pipeline does (Total Power baseline flatness, ...; else None), threshold, source,
        why, and the weblog stage of its caltable ('17 hifa_timegaincal', or '')."""
        return pd.DataFrame([f.row() for f in self.findings], columns=list(FINDING_COLUMNS))

    @property
    def verdict(self) -> str:
        """The worst verdict of the report."""
        return worst([f.verdict for f in self.findings])

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.verdict == "fail"]

    @property
    def qa3_deadline(self) -> date | None:
        """Last day to request QA3: two months after the delivery date (None when the date is unknown)."""
        return add_months(self.delivery_date, QA3_WINDOW_MONTHS) if self.delivery_date else None

    def _finding(self, row: int | pd.Series | Finding) -> Finding:
        if isinstance(row, Finding):
            return row
        if isinstance(row, pd.Series):
            row = int(row.name)
        return self.findings[int(row)]

    def evidence(self, row: int | pd.Series | Finding, detail: bool = False):
        """The evidence plot of a finding (a row index of ``table``, a row of it, or the Finding): a Panel.

        ``detail=True`` puts the explorer's view of the caltable under it (Tsys spectra, gains vs time,
        bandpass), restricted to the antennas the finding names; that opens the table (the summary does not).

        Examples
        --------
        >>> panel = report.evidence(report.table.index[0])     # doctest: +SKIP
        >>> panel.data.head()                                   # doctest: +SKIP
        >>> report.evidence(0, detail=True)                     # doctest: +SKIP
        """
        from .. import plots
        from ..plots import qa_evidence

        f = self._finding(row)
        if f.evidence is None:
            return qa_evidence.message(f"{f.criterion} · {f.scope}: {f.why}")
        builder = getattr(qa_evidence, f.evidence.builder)
        panel = builder(f.evidence.data, title=f"{f.criterion} · {f.aspect} · {f.scope}", **f.evidence.options)
        if not detail or f.evidence.detail is None:
            return panel
        from bokeh.layouts import column

        from ..io.caltable import open_caltable

        name, path, kwargs = f.evidence.detail
        more = getattr(plots, name)(open_caltable(path), **kwargs)
        return plots.Panel(
            column([panel.layout, more.layout]),
            panel.data,
            {**panel.sources, **{f"detail_{k}": v for k, v in more.sources.items()}},
            panel.title,
        )

    # ------------------------------------------------------------------ text
    def _counts(self) -> str:
        counts = {v: sum(f.verdict == v for f in self.findings) for v in VERDICTS}
        return ", ".join(f"{n} {v}" for v, n in counts.items() if n)

    def _dates(self) -> list[str]:
        if self.delivery_date is None:
            out = [
                "delivery date: unknown (not in the package; ALMA's delivery e-mail gives it); a QA3 request "
                f"is accepted within {QA3_WINDOW_MONTHS} months of delivery"
            ]
            if self.processed_date is not None:
                out.append(
                    f"processed {self.processed_date.isoformat()} (CASA log): the delivery came later, so the "
                    f"window closes no earlier than {add_months(self.processed_date, QA3_WINDOW_MONTHS)}"
                )
            return out
        return [
            f"delivery date: {self.delivery_date.isoformat()}; QA3 requests until "
            f"{self.qa3_deadline.isoformat()} ({QA3_WINDOW_MONTHS} months)"
        ]

    def __repr__(self) -> str:
        lines = [f"QA re-derived for {self.project or 'delivery'}: {self.verdict.upper()} ({self._counts()})"]
        lines += ["  " + s for s in self._dates()]
        for crit in CRITERIA:
            rows = [f for f in self.findings if f.criterion == crit]
            if not rows:
                continue
            counts = {v: sum(f.verdict == v for f in rows) for v in VERDICTS}
            lines.append(f"  {crit}: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n))
            for f in rows:
                fig = "" if f.figure is None else f" = {_fmt(f.figure)} {f.units}".rstrip()
                fig += "" if f.score is None else f" (pipeline score {f.score:.2f})"
                at = f" (weblog stage {f.stage})" if f.stage else ""
                lines.append(f"    [{f.verdict}] {f.scope} · {f.aspect}{fig}: {f.why}{at}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        out = [
            f"<div><b>QA re-derived for {e(self.project or 'delivery')}: "
            f"<span style='color:{_COLOUR[self.verdict]}'>{e(self.verdict.upper())}</span></b> "
            f"({e(self._counts())})<br><small>{e(' · '.join(self._dates()))}</small>",
            "<table><tr><th>criterion</th><th>scope</th><th>aspect</th><th>verdict</th><th>figure</th>"
            "<th>pipeline score</th><th>threshold</th><th>why</th><th>weblog stage</th></tr>",
        ]
        for f in self.findings:
            fig = "" if f.figure is None else f"{_fmt(f.figure)} {f.units}"
            score = "" if f.score is None else f"{f.score:.2f}"
            out.append(
                f"<tr><td>{e(f.criterion)}</td><td>{e(f.scope)}</td><td>{e(f.aspect)}</td>"
                f"<td style='background:{_COLOUR[f.verdict]};color:white'>{e(f.verdict)}</td>"
                f"<td>{e(fig)}</td><td>{score}</td><td title='{e(f.source)}'>{e(f.threshold)}</td><td>{e(f.why)}</td>"
                f"<td>{e(f.stage)}</td></tr>"
            )
        out.append("</table></div>")
        return "".join(out)

    # ------------------------------------------------------------------ markdown
    def to_markdown(self, path: str | os.PathLike) -> Path:
        """Write a QA3-request draft: the failing (and warning) criteria with figures and PNG evidence beside it.

        The PNGs go to ``<path stem>_evidence/``; returns the markdown path.

        Examples
        --------
        >>> report.to_markdown("scratch/qa3.md")       # doctest: +SKIP
        PosixPath('scratch/qa3.md')
        """
        path = Path(path)
        figdir = path.parent / f"{path.stem}_evidence"
        figdir.mkdir(parents=True, exist_ok=True)
        bad = [f for f in self.findings if f.verdict in ("fail", "warning")]
        lines = [f"# QA3 request draft: {self.project or 'delivery'}", ""]
        if self.pi_name:
            lines += [f"PI: {self.pi_name}", ""]
        lines += (
            ["## Dates", ""]
            + [f"- {s}" for s in self._dates()]
            + ["- a QA3 request re-opens the quality assessment and, if accepted, extends the proprietary period", ""]
        )
        lines += [
            "## Summary",
            "",
            f"almaview re-derived the QA2 criteria from the delivered data: **{self.verdict}** ({self._counts()}).",
            "",
        ]
        for title, wanted in (("Failing criteria", "fail"), ("Warnings", "warning")):
            rows = [f for f in bad if f.verdict == wanted]
            if not rows:
                continue
            lines += [f"## {title}", ""]
            for k, f in enumerate(rows):
                fig = "n/a" if f.figure is None else f"{_fmt(f.figure)} {f.units}".strip()
                lines += [
                    f"### {f.criterion}: {f.aspect} ({f.scope})",
                    "",
                    f"- measured: **{fig}**" + ("" if f.score is None else f" (pipeline score {f.score:.2f})"),
                    f"- threshold: {f.threshold} ({f.source})",
                    f"- {f.why}",
                    *([f"- weblog stage {f.stage}"] if f.stage else []),
                    "",
                ]
                png = figdir / f"{wanted}_{k:02d}_{_slug(f.criterion)}_{_slug(f.aspect)}.png"
                if f.evidence is not None and _write_png(f, png):
                    lines += [f"![{f.criterion} evidence]({figdir.name}/{png.name})", ""]
        lines += [
            "## All criteria",
            "",
            "| criterion | scope | aspect | verdict | figure | pipeline score | threshold |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for f in self.findings:
            fig = "" if f.figure is None else f"{_fmt(f.figure)} {f.units}"
            score = "" if f.score is None else f"{f.score:.2f}"
            lines.append(f"| {f.criterion} | {f.scope} | {f.aspect} | {f.verdict} | {fig} | {score} | {f.threshold} |")
        path.write_text("\n".join(lines) + "\n")
        return path


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in s.lower()).strip("-")


def _write_png(f: Finding, png: Path) -> bool:
    """A matplotlib rendering of the same evidence data (Bokeh PNG export needs a browser)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ev = f.evidence
    data, opt = ev.data, ev.options
    x, y, by = opt.get("x"), opt.get("y"), opt.get("by")
    if x is None or y is None or data.empty:
        return False
    fig, ax = plt.subplots(figsize=(7, 3.5))
    groups = data.groupby(by) if by else [("", data)]
    for name, g in groups:
        ax.plot(g[x].astype(str) if g[x].dtype == object else g[x], g[y], "o", label=f"{by} {name}" if by else None)
    for key, colour in (("warn", "#f0ad4e"), ("fail", "#d9534f")):
        if opt.get(key) is not None:
            ax.axhline(opt[key], color=colour, ls="--", lw=1, label=f"{key} {opt[key]:g}")
    ax.set_xlabel(opt.get("x_label", x))
    ax.set_ylabel(opt.get("y_label", y))
    ax.set_title(f"{f.criterion} · {f.aspect} · {f.scope}", fontsize=9)
    ax.legend(fontsize=7)
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right", fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)
    return True

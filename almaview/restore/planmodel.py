"""What a restore plan is: its steps, commands, per-EB plans and the whole :class:`RestorePlan` with its reprs.

:func:`almaview.restore.plan.plan` makes one; the engines run it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .casafind import CasaInstallation, short_version
from .estimate import Estimate

if TYPE_CHECKING:  # pragma: no cover
    from ..delivery.model import Delivery


def gb(n: float | None) -> str:
    """Bytes as the GB a person reads: 0.26 GB, 3.1 GB, 120 GB.

    Examples
    --------
    >>> gb(2.6e8), gb(3.1e9), gb(1.2e11)
    ('0.26 GB', '3.1 GB', '120 GB')
    """
    if n is None:
        return "? GB"
    g = n / 1e9
    if g < 1:
        return f"{g:.2f} GB"
    if g < 10:
        return f"{g:.1f} GB"
    return f"{g:.0f} GB"


@dataclass
class Step:
    """One thing a restore does: a CASA task call (``task`` + ``kwargs``) or an almaview action."""

    task: str  #: 'importasdm', 'flagmanager', 'applycal', 'split', or 'almaview:<action>'
    kwargs: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def text(self) -> str:
        """The call as a line of Python (what CASA's log and casa_commands.log show)."""
        if self.task.startswith("almaview:"):
            return f"# {self.task}: {self.note}"
        return f"{self.task}(" + ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items()) + ")"


@dataclass
class Command:
    """A shell command the restore runs, and from which directory."""

    argv: list[str]
    cwd: str
    what: str = ""

    def text(self) -> str:
        import shlex

        return f"cd {shlex.quote(self.cwd)} && {shlex.join(self.argv)}"


@dataclass
class EBPlan:
    """What restoring one EB needs, what it will run and create, and the verdict."""

    uid: str
    mous: str
    route: str | None  #: 'pipeline' or 'manual' (None when the delivery does not say)
    verdict: str  #: 'ready', 'restored', 'needs raw data: ...', 'needs CASA x.y ...', 'not enough disk: ...'
    asdm: str | None = None
    asdm_archive_name: str | None = None  #: the archive file to fetch when the raw data are missing
    output_ms: str | None = None  #: the calibrated MS the restore leaves (the one registered)
    split_ms: str | None = None
    staging_ms: str | None = None  #: where the MS is built before it is moved to ``output_ms``
    estimate: Estimate | None = None
    caltables: dict[str, str] = field(default_factory=dict)  #: name -> source (path or 'archive:member')
    flagversions: str | None = None  #: the delivered <eb>.ms.flagversions.tgz
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    delivered_ms: str | None = None  #: a calibrated MS the delivery already holds for this EB

    @property
    def ready(self) -> bool:
        return self.verdict == "ready"

    @property
    def restored(self) -> bool:
        return self.verdict == "restored"


@dataclass
class RestorePlan:
    """A checked restore plan: requirements, verdicts per EB, commands, outputs. Run it with :func:`run`.

    Examples
    --------
    >>> p = plan(d)                       # doctest: +SKIP
    >>> print(p)                          # doctest: +SKIP
    >>> p.ready, [e.verdict for e in p.ebs]   # doctest: +SKIP
    """

    delivery: "Delivery" = field(repr=False)
    workdir: str
    engine: str | None  #: 'modular', 'scriptforpi', or None when no suitable CASA is available
    casa_required: str | None
    pipeline_required: str | None
    installations: list[CasaInstallation]
    suitability: list[tuple[CasaInstallation, bool, str]]
    casa: CasaInstallation | None  #: the CASA the run will use
    free_bytes: int
    need_bytes: int
    memory_bytes: int | None
    ebs: list[EBPlan]
    commands: list[Command]
    split: bool = False
    in_delivery: bool = False
    messages: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        """True when at least one EB can be restored now."""
        return any(e.ready for e in self.ebs)

    @property
    def to_run(self) -> list[EBPlan]:
        return [e for e in self.ebs if e.ready]

    @property
    def log_path(self) -> Path:
        """The log to send to the ALMA helpdesk (appended by every run)."""
        return Path(self.workdir) / "almaview-restore.log"

    def lines(self) -> list[str]:
        d = self.delivery
        out = [
            f"Restore plan for {d.project_code or d.root} "
            f"({len(self.ebs)} EB{'s' if len(self.ebs) != 1 else ''}; work directory {self.workdir})"
        ]
        routes = sorted({(e.mous, e.route or "unknown") for e in self.ebs})
        for mous, route in routes:
            how = (
                "pipeline-calibrated: scriptForPI runs the pipeline's restore (hifa_restoredata) with the "
                "delivered caltables"
                if route == "pipeline"
                else "manually calibrated: scriptForPI runs each EB's scriptForCalibration.py"
                if route == "manual"
                else "calibration route unknown (no scripts, calapply.txt or README found)"
            )
            out.append(f"  route {mous}: {how}")
        need = f"CASA {short_version(self.casa_required) or '(unknown)'}"
        if self.pipeline_required:
            need += f" with pipeline {self.pipeline_required}"
        out.append(f"  needs: {need} (the versions that calibrated the delivery)")
        if not self.suitability:
            out.append(
                "  CASA found: none (no casa executable on PATH or in /opt, /usr/local, ~; no casatasks in this Python)"
            )
        for inst, ok, why in self.suitability:
            out.append(f"  CASA found: {inst.label} at {inst.path}: {'suitable' if ok else 'not suitable'}: {why}")
        eng = {
            "modular": "modular (pip casatasks: importasdm, flag versions, applycal of calapply.txt"
            + (", split" if self.split else "")
            + ")",
            "scriptforpi": f"scriptForPI with {self.casa.label if self.casa else 'CASA'}",
            None: "none: no suitable CASA",
        }[self.engine]
        out.append(f"  engine: {eng}")
        mem = "unknown" if self.memory_bytes is None else gb(self.memory_bytes)
        out.append(
            f"  disk: need ~{gb(self.need_bytes)} in {self.workdir}, have {gb(self.free_bytes)} free; "
            f"memory available: {mem}"
        )
        out += [f"  note: {m}" for m in self.messages]
        out.append("  EBs:")
        for e in self.ebs:
            size = f" (~{gb(e.estimate.total)})" if e.estimate else ""
            out.append(f"    {e.uid}  {e.verdict}")
            if e.output_ms and (e.ready or e.restored):
                out.append(f"      -> {e.output_ms}{size}" + (f" and {e.split_ms}" if e.split_ms else ""))
            out += [f"      note: {n}" for n in e.notes]
        if self.commands:
            out.append("  runs:")
            out += [f"    {c.text()}" for c in self.commands]
        for e in self.to_run:
            if e.steps:
                out.append(f"  steps for {e.uid} (in the subprocess, from {self.workdir}):")
                out += [f"    {s.text()}" for s in e.steps]
        out.append(f"  log for the ALMA helpdesk: {self.log_path}")
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        esc = html.escape
        colour = lambda v: (
            "#5cb85c"
            if v == "ready"
            else "#5bc0de"
            if v == "restored"  # noqa: E731
            else "#d9534f"
        )
        rows = "".join(
            f"<tr><td><code>{esc(e.uid)}</code></td><td>{esc(e.mous)}</td>"
            f"<td style='color:{colour(e.verdict)};font-weight:bold'>{esc(e.verdict)}</td>"
            f"<td>{esc(gb(e.estimate.total)) if e.estimate else ''}</td>"
            f"<td><code>{esc(e.output_ms or '')}</code></td></tr>"
            for e in self.ebs
        )
        casa = (
            "".join(
                f"<li>{esc(i.label)} <code>{esc(i.path)}</code>: "
                f"<b>{'suitable' if ok else 'not suitable'}</b> ({esc(why)})</li>"
                for i, ok, why in self.suitability
            )
            or "<li>none found</li>"
        )
        cmds = "\n".join([c.text() for c in self.commands] + [s.text() for e in self.to_run for s in e.steps])
        notes = "".join(
            f"<li>{esc(m)}</li>" for m in self.messages + [f"{e.uid}: {n}" for e in self.ebs for n in e.notes]
        )
        need = f"CASA {short_version(self.casa_required) or '?'}" + (
            f" + pipeline {self.pipeline_required}" if self.pipeline_required else ""
        )
        return (
            f"<div><b>Restore plan</b> for {esc(self.delivery.project_code or self.delivery.root)}"
            f" — engine: <b>{esc(self.engine or 'none')}</b>, needs {esc(need)}"
            f"<ul>{casa}</ul>"
            f"<p>Disk: need ~{esc(gb(self.need_bytes))}, have {esc(gb(self.free_bytes))} free in "
            f"<code>{esc(self.workdir)}</code>; memory available "
            f"{esc(gb(self.memory_bytes) if self.memory_bytes else 'unknown')}</p>"
            "<table><tr><th>EB</th><th>member OUS</th><th>verdict</th><th>size</th><th>output</th></tr>"
            f"{rows}</table>"
            + (f"<ul>{notes}</ul>" if notes else "")
            + (f"<details><summary>commands</summary><pre>{esc(cmds)}</pre></details>" if cmds else "")
            + f"<p>Log: <code>{esc(str(self.log_path))}</code></p></div>"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (``almaview restore --plan-only --json``)."""
        return dict(
            delivery=self.delivery.root,
            workdir=self.workdir,
            engine=self.engine,
            casa_required=self.casa_required,
            pipeline_required=self.pipeline_required,
            casa=[
                dict(kind=i.kind, version=i.version, path=i.path, pipeline=i.pipeline, suitable=ok, why=why)
                for i, ok, why in self.suitability
            ],
            free_bytes=self.free_bytes,
            need_bytes=self.need_bytes,
            memory_bytes=self.memory_bytes,
            ebs=[
                dict(
                    uid=e.uid,
                    mous=e.mous,
                    route=e.route,
                    verdict=e.verdict,
                    asdm=e.asdm,
                    fetch=e.asdm_archive_name,
                    output_ms=e.output_ms,
                    split_ms=e.split_ms,
                    estimate_bytes=e.estimate.total if e.estimate else None,
                    steps=[s.text() for s in e.steps],
                    notes=e.notes,
                )
                for e in self.ebs
            ],
            commands=[c.text() for c in self.commands],
            messages=self.messages,
        )

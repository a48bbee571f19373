"""Summaries of a Delivery: plain text (repr, ``almaview info``), HTML (Jupyter), JSON-ready dicts."""

from __future__ import annotations

import html
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .arrays import array_words
from .model import score_band
from .status import status_lines

_array_words = array_words  # the name report.py imports

if TYPE_CHECKING:  # pragma: no cover
    from .model import Delivery, ExecutionBlock, MemberOUS, QAStage


def _fmt(score: float | None) -> str:
    return "n/a" if score is None else f"{score:.2f}"


def _qa_stages(m: "MemberOUS") -> list["QAStage"]:
    return list(m.qa.aqua.stages) if m.qa.aqua else []


def _eb_dict(eb: "ExecutionBlock") -> dict[str, Any]:
    return {
        "uid": eb.uid,
        "raw_asdm": eb.raw_asdm,
        "raw_archive": eb.raw_archive,
        "raw_complete": eb.raw_complete,
        "calibrated_ms": eb.calibrated_ms,
        "calibrated_ms_all": list(eb.calibrated_ms_all),
        "caltables": eb.caltables.kinds(),
        "calapply": None
        if eb.calapply is None
        else {"path": eb.calapply.path, "vis": eb.calapply.vis, "calls": [asdict(c) for c in eb.calapply.calls]},
        "flag_templates": list(eb.flag_templates),
        "flagversions": list(eb.flagversions),
        "scripts": list(eb.scripts),
        "seen_in": list(eb.seen_in),
    }


def _mous_dict(m: "MemberOUS") -> dict[str, Any]:
    readme = None
    if m.readme is not None:
        readme = {k: v for k, v in asdict(m.readme).items() if k != "text"}
    return {
        "uid": m.uid,
        "group": m.group,
        "science_goal": m.science_goal,
        "path": m.path,
        "readme": readme,
        "readme_error": m.readme_error,
        "casa_version": m.casa_version,
        "pipeline_version": m.pipeline_version,
        "calibration_mode": m.calibration_mode,
        "array": m.array,
        "array_evidence": m.array_evidence,
        "ebs": [_eb_dict(eb) for eb in m.ebs],
        "spws": [
            {k: (v if isinstance(v, (str, int, float, bool, type(None))) else str(v)) for k, v in s.items()}
            for s in m.spws
        ],
        "fields": [asdict(f) for f in m.fields],
        "images": [asdict(im) for im in m.images],
        "other_products": list(m.other_products),
        "continuum": [asdict(c) for c in m.continuum],
        "flux": [asdict(f) for f in m.flux],
        "antenna_positions": list(m.antenna_positions),
        "aux_files": dict(m.aux_files),
        "qa": asdict(m.qa),
        "scripts": asdict(m.scripts),
        "calibrated_ms_other": list(m.calibrated_ms_other),
        "unknown_files": list(m.unknown_files),
        "unknown_reasons": dict(m.unknown_reasons),
        "other_files": {k: list(v) for k, v in m.other_files.items()},
    }


def delivery_to_dict(d: "Delivery") -> dict[str, Any]:
    """A JSON-ready dict of the whole delivery model plus its status lines.

    Examples
    --------
    >>> from almaview.delivery.model import Delivery
    >>> delivery_to_dict(Delivery(root="/x", entry="/x", layout="directory", project_code=None))["mous"]
    []
    """
    return {
        "project_code": d.project_code,
        "pi_name": d.pi_name,
        "title": d.title,
        "root": d.root,
        "entry": d.entry,
        "layout": d.layout,
        "science_goals": list(d.science_goals),
        "groups": list(d.groups),
        "archives": list(d.archives),
        "mous": [_mous_dict(m) for m in d.mous],
        "unknown_files": list(d.unknown_files),
        "group_products": {g: [asdict(im) for im in ims] for g, ims in d.group_products.items()},
        "status": status_lines(d),
    }


def _short(path: str | None) -> str:
    if not path:
        return "-"
    return path.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def delivery_text(d: "Delivery") -> str:
    """The terminal summary: project, PI, member OUSes, EBs, spws, fields with intents, images, QA, status."""
    out = [
        f"ALMA delivery {d.project_code or '(unknown project)'}"
        + (f": {d.title}" if d.title else "")
        + (f" (PI {d.pi_name})" if d.pi_name else "")
    ]
    out.append(f"  root: {d.root} [{d.layout}]")
    for m in d.mous:
        out.append(
            f"  member OUS {m.uid}  [{array_words(m.array)}]  (group {m.group or '-'}, "
            f"science goal {m.science_goal or '-'})"
        )
        r = m.readme
        bits = []
        if r is not None:
            bits.append(f"README {r.layout}")
            if r.configuration:
                bits.append(f"config {r.configuration}")
        if m.casa_version:
            bits.append(f"CASA {m.casa_version}")
        if m.pipeline_version:
            bits.append(f"pipeline {m.pipeline_version}")
        if m.calibration_mode:
            bits.append(f"{m.calibration_mode} calibration")
        if bits:
            out.append("    " + ", ".join(bits))
        out.append(f"    EBs ({len(m.ebs)}):")
        for eb in m.ebs:
            raw = "raw" if eb.raw_asdm else ("raw (tar)" if eb.raw_archive else "no raw")
            cal = _short(eb.calibrated_ms) if eb.calibrated_ms else "no calibrated MS"
            out.append(
                f"      {eb.uid}  {raw}; {cal}; {len(eb.caltables)} caltables"
                + (f"; calapply {len(eb.calapply.calls)} calls" if eb.calapply else "")
            )
        if m.spws:
            out.append("    spws: " + ", ".join(str(s.get("spw", s.get("spw_id", s.get("id", s)))) for s in m.spws))
        if m.fields:
            out.append("    fields:")
            for f in m.fields:
                out.append(
                    f"      {f.name}: {','.join(f.intents) or '-'}" + (f"  (spw {','.join(f.spws)})" if f.spws else "")
                )
        out.append(f"    images ({len(m.images)}):")
        for im in m.images:
            spw = "_".join(str(s) for s in im.spws)
            out.append(
                f"      {im.field or '?'} {im.role or '?'} spw{spw or '?'} {im.kind or '?'} "
                f"{im.stokes or ''} {(im.taylor + ' ') if im.taylor else ''}{im.image_type or '?'}".rstrip()
            )
        aqua = m.qa.aqua
        if aqua is not None:
            topics = ", ".join(f"{t.name} {_fmt(t.score)} ({t.band})" for t in aqua.topics)
            out.append(f"    QA scores: {topics}" if topics else "    QA scores:")
            for s in aqua.stages:
                out.append(
                    f"      stage {s.number} {s.name}: {_fmt(s.score)} ({s.band})"
                    + (f" - {s.reason}" if s.reason and s.score is not None and s.score <= 0.9 else "")
                )
        if m.qa.weblog_archives:
            out.append(f"    weblog: {_short(m.qa.weblog_archives[0])}")
        if m.other_files:
            out.append(
                "    also: " + ", ".join(f"{len(v)} {k.replace('_', ' ')}" for k, v in sorted(m.other_files.items()))
            )
        if m.unknown_files:
            out.append(f"    unknown files ({len(m.unknown_files)}):")
            for rel in m.unknown_files[:5]:
                out.append(f"      {m.unknown_reasons.get(rel) or rel}")
            if len(m.unknown_files) > 5:
                out.append(f"      ... and {len(m.unknown_files) - 5} more")
    # the group OUS's own products are listed under status (group_product_lines), once
    out.append("  status:")
    out += [f"    - {line}" for line in status_lines(d)]
    return "\n".join(out)


def _td(v: Any, style: str = "") -> str:
    return f"<td style='{style}'>{html.escape(str(v))}</td>" if style else f"<td>{html.escape(str(v))}</td>"


def _score_td(score: float | None) -> str:
    band, colour, hexcol = score_band(score)
    return (
        f"<td style='background:{hexcol};color:white;text-align:right' title='{band}'>{html.escape(_fmt(score))}</td>"
    )


def delivery_html(d: "Delivery") -> str:
    """A compact HTML summary (plain strings, no Jupyter import)."""
    e = html.escape
    h = [
        "<div class='almaview-delivery'>",
        f"<h3>ALMA delivery {e(d.project_code or '(unknown project)')}</h3>",
        "<p>"
        + (f"<b>{e(d.title)}</b><br>" if d.title else "")
        + (f"PI: {e(d.pi_name)}<br>" if d.pi_name else "")
        + f"<code>{e(d.root)}</code> ({e(d.layout)})</p>",
    ]
    for m in d.mous:
        h.append(f"<h4>member OUS {e(m.uid)} — {e(array_words(m.array))}</h4>")
        h.append(
            f"<p>CASA {e(m.casa_version or '?')}, pipeline {e(m.pipeline_version or '-')}, "
            f"{e(m.calibration_mode or '?')} calibration</p>"
        )
        h.append("<table><tr><th>EB</th><th>raw</th><th>calibrated MS</th><th>caltables</th><th>calapply</th></tr>")
        for eb in m.ebs:
            h.append(
                "<tr>"
                + _td(eb.uid)
                + _td("yes" if eb.raw_asdm else ("tar" if eb.raw_archive else "no"))
                + _td(_short(eb.calibrated_ms))
                + _td(len(eb.caltables))
                + _td(len(eb.calapply.calls) if eb.calapply else "-")
                + "</tr>"
            )
        h.append("</table>")
        if m.fields:
            h.append("<table><tr><th>field</th><th>intents</th><th>spws</th></tr>")
            for f in m.fields:
                h.append("<tr>" + _td(f.name) + _td(", ".join(f.intents)) + _td(", ".join(f.spws)) + "</tr>")
            h.append("</table>")
        if m.images:
            h.append(
                "<table><tr><th>field</th><th>role</th><th>spws</th><th>kind</th><th>stokes</th>"
                "<th>type</th><th>file</th></tr>"
            )
            for im in m.images:
                h.append(
                    "<tr>"
                    + _td(im.field or "?")
                    + _td(im.role or "?")
                    + _td(",".join(map(str, im.spws)))
                    + _td(im.kind or "?")
                    + _td(im.stokes or "")
                    + _td(((im.taylor + " ") if im.taylor else "") + (im.image_type or "?"))
                    + _td(im.name)
                    + "</tr>"
                )
            h.append("</table>")
        if m.qa.aqua is not None:
            h.append("<table><tr><th>QA</th><th>score</th><th>reason</th></tr>")
            for t in m.qa.aqua.topics:
                h.append("<tr>" + _td(t.name) + _score_td(t.score) + _td("") + "</tr>")
            for s in m.qa.aqua.stages:
                h.append("<tr>" + _td(f"{s.number} {s.name}") + _score_td(s.score) + _td(s.reason or "") + "</tr>")
            h.append("</table>")
    for group, images in d.group_products.items():
        h.append(f"<h4>group OUS {e(group)} — products made at group level</h4>")
        members = ", ".join(f"{m.uid} ({array_words(m.array)})" for m in d.combined_members(group)) or "-"
        h.append(f"<p>combining {e(members)}</p>")
        h.append("<table><tr><th>field</th><th>spws</th><th>kind</th><th>type</th><th>file</th></tr>")
        for im in images:
            h.append(
                "<tr>"
                + _td(im.field or "?")
                + _td(",".join(map(str, im.spws)))
                + _td(im.kind or "?")
                + _td(((im.taylor + " ") if im.taylor else "") + (im.image_type or "?"))
                + _td(im.name)
                + "</tr>"
            )
        h.append("</table>")
    h.append("<ul>" + "".join(f"<li>{e(line)}</li>" for line in status_lines(d)) + "</ul></div>")
    return "\n".join(h)

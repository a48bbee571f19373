"""``*.calapply.txt``: the applycal calls the pipeline used, one per line, read without executing them.

A pipeline delivery stores, for each EB, ``<eb>.ms.calapply.txt`` holding
``applycal(vis=..., field=..., intent=..., spw=..., antenna=..., gaintable=[...],
gainfield=[...], spwmap=[...], interp=[...], calwt=[...], ...)`` lines.  They
are parsed with :mod:`ast` (literals only), never evaluated.
"""

from __future__ import annotations

import ast
import os
import posixpath
import re
from typing import Any

from .model import Applycal, CalApply, TableApply

_KINDS = (
    # (kind, patterns searched in the lower-cased table name, first match wins)
    ("tsyscal", (".tsyscal.", ".tsys", "tsyscal")),
    ("wvr", (".wvr", "wvrcal", "wvrg")),
    ("antpos", (".ants.", "antpos", ".antpos")),
    ("bandpass", (".bcal.", ".bpcal.", "bandpass", ".bp.", ".bpass")),
    ("fluxscale", ("fluxscale", ".flux", ".fcal.")),
    ("delay", (".kcal.", ".delay", ".k.")),
    ("polarization", (".dcal.", ".xcal.", ".polcal", ".xyf", ".dterms")),
    ("phase", (".gpcal.", ".phase", ".phase_int", ".phase_inf", ".ph.", "_ph.")),
    ("amplitude", (".gacal.", ".ampli", ".amp", ".ap.")),
    ("gain", (".gcal.", ".gain", ".g.")),
    ("sdbaseline", ("bl.tbl", "sdbaseline")),
    ("sky", (".sky", "skycal")),
)


def caltable_kind(name: str) -> str:
    """Classify a caltable from its name: 'tsyscal', 'bandpass', 'phase', 'amplitude', 'wvr', ... or 'unknown'.

    Pipeline names carry a type suffix (``.tsyscal.tbl``, ``.bcal.tbl``, ``.gpcal.tbl``,
    ``.gacal.tbl``, ``.ants.tbl``); manual-era names end in ``.tsys``, ``.bandpass``,
    ``.phase_int``, ``.ampli_inf``, ``.flux_inf``, ``.wvr``, ``.antpos``.

    Examples
    --------
    >>> caltable_kind("uid___A002_X1_X2.ms.hifa_tsyscal.s6_1.tsyscal.tbl")
    'tsyscal'
    >>> caltable_kind("uid___A002_X1_X2.ms.hifa_bandpass.s12_5.spw16.channel.solintinf.bcal.tbl")
    'bandpass'
    >>> caltable_kind("uid___A002_X1_X2.ms.ampli_inf")
    'amplitude'
    """
    low = posixpath.basename(name.rstrip("/")).lower()
    # the suffix (last dotted part before .tbl) is decisive when it is a known pipeline type
    stem = low[:-4] if low.endswith(".tbl") else low
    suffix = stem.rsplit(".", 1)[-1]
    direct = {"tsyscal": "tsyscal", "bcal": "bandpass", "gpcal": "phase", "gacal": "amplitude", "ants": "antpos",
              "wvr": "wvr", "wvrcal": "wvr", "kcal": "delay", "fluxscale": "fluxscale", "tsys": "tsyscal",
              "bandpass": "bandpass", "antpos": "antpos", "dcal": "polarization", "xcal": "polarization",
              "gcal": "gain", "ampli_inf": "amplitude", "flux_inf": "fluxscale", "phase_int": "phase",
              "phase_inf": "phase", "skycal": "sky", "bl": "sdbaseline"}
    if suffix in direct:
        return direct[suffix]
    dotted = "." + low + "."
    for kind, patterns in _KINDS:
        if any(p in dotted for p in patterns):
            return kind
    return "unknown"


def _literal(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return ast.unparse(node)


def _as_list(value: Any, n: int) -> list[Any]:
    if isinstance(value, (list, tuple)):
        out = list(value)
    elif value in (None, ""):
        out = []
    else:
        out = [value]
    return out + [None] * (n - len(out))


def _calls(text: str) -> list[dict[str, Any]]:
    """Find every applycal(...) call, line by line (lines may be joined by the pipeline, so parse each)."""
    out = []
    # a call may span lines: join continuation lines by balancing parentheses
    buf, depth = "", 0
    for line in text.splitlines():
        if not buf and not re.match(r"^\s*(\w+\.)?applycal\s*\(", line):
            continue
        buf += line + "\n"
        depth += line.count("(") - line.count(")")
        if depth <= 0:
            try:
                tree = ast.parse(buf.strip(), mode="eval")
            except SyntaxError:
                buf, depth = "", 0
                continue
            call = tree.body
            if isinstance(call, ast.Call):
                out.append({kw.arg: _literal(kw.value) for kw in call.keywords if kw.arg})
            buf, depth = "", 0
    return out


def parse_calapply(text: str, path: str | os.PathLike = "") -> CalApply:
    """Parse a ``*.calapply.txt``: each applycal call with its tables, gainfield, interp, spwmap, calwt.

    Examples
    --------
    >>> ca = parse_calapply("applycal(vis='a.ms', field='J1', intent='BANDPASS', spw='17', "
    ...     "gaintable=['a.ms.hifa_tsyscal.s6_1.tsyscal.tbl'], gainfield=[''], interp=['linear,linear'], "
    ...     "spwmap=[[0, 1]], calwt=[False])")
    >>> ca.calls[0].intent, ca.calls[0].tables[0].kind, ca.calls[0].tables[0].spwmap
    ('BANDPASS', 'tsyscal', [0, 1])
    """
    calls = []
    vis = None
    for kw in _calls(text):
        tables = kw.get("gaintable") or []
        if isinstance(tables, str):
            tables = [tables]
        n = len(tables)
        gainfield = _as_list(kw.get("gainfield"), n)
        interp = _as_list(kw.get("interp"), n)
        calwt = kw.get("calwt", True)
        calwt = [calwt] * n if isinstance(calwt, bool) else _as_list(calwt, n)
        spwmap = kw.get("spwmap") or []
        if spwmap and all(isinstance(x, int) for x in spwmap):  # one map for all tables
            spwmap = [spwmap] * n
        spwmap = _as_list(spwmap, n)
        tas = []
        for i, t in enumerate(tables):
            base = posixpath.basename(str(t).rstrip("/"))
            tas.append(TableApply(
                table=base, kind=caltable_kind(base), gainfield=str(gainfield[i] or ""),
                interp=str(interp[i] or ""), spwmap=[int(x) for x in (spwmap[i] or [])],
                calwt=bool(True if calwt[i] is None else calwt[i]),
            ))
        vis = vis or (posixpath.basename(str(kw["vis"]).rstrip("/")) if kw.get("vis") else None)
        opts = {k: v for k, v in kw.items()
                if k not in {"vis", "field", "spw", "intent", "antenna", "gaintable", "gainfield", "interp",
                             "spwmap", "calwt"}}
        calls.append(Applycal(field=str(kw.get("field") or ""), spw=str(kw.get("spw") or ""),
                              intent=str(kw.get("intent") or ""), antenna=str(kw.get("antenna") or ""),
                              tables=tas, options=opts))
    return CalApply(path=os.fspath(path), vis=vis, calls=calls)

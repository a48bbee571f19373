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
    stem = low.removesuffix(".tbl")
    suffix = stem.rsplit(".", 1)[-1]
    direct = {
        "tsyscal": "tsyscal",
        "bcal": "bandpass",
        "gpcal": "phase",
        "gacal": "amplitude",
        "ants": "antpos",
        "wvr": "wvr",
        "wvrcal": "wvr",
        "kcal": "delay",
        "fluxscale": "fluxscale",
        "tsys": "tsyscal",
        "bandpass": "bandpass",
        "antpos": "antpos",
        "dcal": "polarization",
        "xcal": "polarization",
        "gcal": "gain",
        "ampli_inf": "amplitude",
        "flux_inf": "fluxscale",
        "phase_int": "phase",
        "phase_inf": "phase",
        "skycal": "sky",
        "bl": "sdbaseline",
    }
    if suffix in direct:
        return direct[suffix]
    dotted = "." + low + "."
    for kind, patterns in _KINDS:
        if any(p in dotted for p in patterns):
            return kind
    return "unknown"


#: applycal calls read from one file (a pipeline EB has tens); the rest of a larger file is reported, not parsed.
MAX_CALLS = 2000
#: Longest single applycal call read, in characters.
MAX_CALL_CHARS = 200_000


class _Code(str):
    """The source text of an argument that is not a literal (a name, a call): kept as text, never run."""


def _literal(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
        try:
            return _Code(ast.unparse(node))
        except (RecursionError, MemoryError, ValueError):
            return _Code("<unreadable expression>")


def _as_list(value: Any, n: int) -> list[Any]:
    if isinstance(value, (list, tuple)):
        out = list(value)
    elif value in (None, ""):
        out = []
    else:
        out = [value]
    return out + [None] * (n - len(out))


def _calls(text: str, problems: list[str] | None = None) -> list[tuple[int, dict[str, Any]]]:
    """Find every applycal(...) call with its line number (a call may span lines: parentheses are balanced)."""
    problems = [] if problems is None else problems
    out: list[tuple[int, dict[str, Any]]] = []
    buf: list[str] = []
    size, depth, start = 0, 0, 0
    for number, line in enumerate(text.splitlines(), 1):
        if not buf and not _CALL_RE.match(line):
            continue
        if not buf:
            start = number
            if len(out) >= MAX_CALLS:
                problems.append(f"more than {MAX_CALLS} applycal calls; lines from {number} on were not read")
                break
        buf.append(line)
        size += len(line)
        depth += line.count("(") - line.count(")")
        if size > MAX_CALL_CHARS:
            problems.append(
                f"line {start}: an applycal call longer than {MAX_CALL_CHARS} characters "
                "(unbalanced parentheses?); not read"
            )
            buf, size, depth = [], 0, 0
            continue
        if depth <= 0:
            src = "\n".join(buf).strip()
            buf, size, depth = [], 0, 0
            try:
                tree = ast.parse(src, mode="eval")
            except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
                problems.append(
                    f"line {start}: not a Python call ({type(err).__name__}: {getattr(err, 'msg', err)}); not read"
                )
                continue
            call = tree.body
            if isinstance(call, ast.Call):
                out.append((start, {kw.arg: _literal(kw.value) for kw in call.keywords if kw.arg}))
    if buf:
        problems.append(f"line {start}: an applycal call that never closes its parenthesis; not read")
    return out


_CALL_RE = re.compile(r"^\s*(\w+\.)?applycal\s*\(")


def _int_list(value: Any, what: str) -> list[int] | str:
    """The spw ids of one spwmap entry, or a sentence saying why it is not one."""
    if value in (None, "", []):
        return []
    if not isinstance(value, (list, tuple)):
        return f"{what} is {value!r}, expected a list of spw ids"
    for x in value:
        if isinstance(x, bool) or not isinstance(x, int):
            return f"{what} holds {x!r}, expected spw ids (integers)"
    return list(value)


def _tables(kw: dict[str, Any]) -> list[TableApply] | str:
    """The tables one applycal call applies, or a sentence saying why the call cannot be used."""
    for key in ("gaintable", "spwmap"):
        if isinstance(kw.get(key), _Code):
            return f"{key} is the expression {str(kw[key])[:80]!r}, not a literal list (it is never run)"
    tables = kw.get("gaintable") or []
    if isinstance(tables, str):
        tables = [tables]
    if not isinstance(tables, (list, tuple)) or not all(isinstance(t, str) and t.strip() for t in tables):
        return f"gaintable is {tables!r}, expected a list of caltable names"
    n = len(tables)
    gainfield = _as_list(kw.get("gainfield"), n)
    interp = _as_list(kw.get("interp"), n)
    calwt = kw.get("calwt", True)
    calwt = [calwt] * n if isinstance(calwt, bool) else _as_list(calwt, n)
    spwmap = kw.get("spwmap") or []
    if not isinstance(spwmap, (list, tuple)):
        return f"spwmap is {spwmap!r}, expected a list (one list of spw ids per gaintable)"
    if spwmap and all(isinstance(x, int) and not isinstance(x, bool) for x in spwmap):  # one map for all tables
        spwmap = [spwmap] * n
    if len(spwmap) > n:
        return f"spwmap has {len(spwmap)} entries for {n} gaintable(s)"
    spwmap = _as_list(spwmap, n)
    tas = []
    for i, t in enumerate(tables):
        base = posixpath.basename(str(t).rstrip("/"))
        ids = _int_list(spwmap[i], f"spwmap entry {i} ({base})")
        if isinstance(ids, str):
            return ids
        tas.append(
            TableApply(
                table=base,
                kind=caltable_kind(base),
                gainfield=str(gainfield[i] or ""),
                interp=str(interp[i] or ""),
                spwmap=ids,
                calwt=bool(True if calwt[i] is None else calwt[i]),
            )
        )
    return tas


def parse_calapply(text: str, path: str | os.PathLike = "") -> CalApply:
    """Parse a ``*.calapply.txt``: each applycal call with its tables, gainfield, interp, spwmap, calwt.

    Calls are read with :mod:`ast` (literals only), never executed.  A call
    with a malformed ``gaintable`` or ``spwmap`` (or one that is not Python)
    is left out and described in ``CalApply.problems``; the other calls are
    kept.

    Examples
    --------
    >>> ca = parse_calapply("applycal(vis='a.ms', field='J1', intent='BANDPASS', spw='17', "
    ...     "gaintable=['a.ms.hifa_tsyscal.s6_1.tsyscal.tbl'], gainfield=[''], interp=['linear,linear'], "
    ...     "spwmap=[[0, 1]], calwt=[False])")
    >>> ca.calls[0].intent, ca.calls[0].tables[0].kind, ca.calls[0].tables[0].spwmap
    ('BANDPASS', 'tsyscal', [0, 1])
    >>> parse_calapply("applycal(vis='a.ms', gaintable=['t.bcal.tbl'], spwmap=[['x']])").problems
    ["line 1: spwmap entry 0 (t.bcal.tbl) holds 'x', expected spw ids (integers); this applycal call is not used"]
    """
    calls = []
    problems: list[str] = []
    vis = None
    for number, kw in _calls(text, problems):
        tas = _tables(kw)
        if isinstance(tas, str):
            problems.append(f"line {number}: {tas}; this applycal call is not used")
            continue
        v = kw.get("vis")
        vis = vis or (posixpath.basename(str(v).rstrip("/")) if isinstance(v, str) and v else None)
        opts = {
            k: v
            for k, v in kw.items()
            if k
            not in {"vis", "field", "spw", "intent", "antenna", "gaintable", "gainfield", "interp", "spwmap", "calwt"}
        }
        calls.append(
            Applycal(
                field=str(kw.get("field") or ""),
                spw=str(kw.get("spw") or ""),
                intent=str(kw.get("intent") or ""),
                antenna=str(kw.get("antenna") or ""),
                tables=tas,
                options=opts,
            )
        )
    return CalApply(path=os.fspath(path), vis=vis, calls=calls, problems=problems)

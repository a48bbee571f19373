"""The member OUS README: ALMA's three layouts, read tolerantly.

Layouts recognised (``Readme.layout``):

``'cycle0-4'``
    A header block ``Atacama Large Millimeter/submillimeter Array (ALMA)``
    between ``#####`` rulers, ``Key: value`` lines (Cycle, Project code, SB
    name, PI name, Project title, Configuration, Proposed rms, Proposed beam
    size, CASA version used for reduction, QA2 Result, Comments from Reducer)
    followed by a prose description of the tar and its directory tree.
``'cycle5'``
    Blocks separated by dashed rulers; ``Key:`` padded to a column; the
    reducer's comments under their own ruler; ``Achieved beam`` / ``Achieved
    rms`` lines per field and spw.
``'cycle6+'``
    Starts ``ALMA Member ObsUnitSet README`` with ``=``-underlined sections
    (HOW TO, DATA CATEGORIES, FILES, ...), the project facts as ``Key: value``
    lines in their own section, and the reducer's comments as a section.

Unknown keys are kept verbatim in ``Readme.extra``; :func:`parse_readme` never
raises on content, :func:`parse_readme_strict` raises
:class:`~almaview.errors.ReadmeFormatError` when nothing is recognisable.
"""

from __future__ import annotations

import os
import re

from ..errors import ReadmeFormatError
from .model import Readme

_KEYS: dict[str, tuple[str, ...]] = {
    "project_code": ("project code", "project", "proposal code", "project id"),
    "pi_name": ("pi name", "pi", "principal investigator"),
    "title": ("project title", "title"),
    "sb_name": ("sb name", "scheduling block", "scheduling block name", "sb"),
    "configuration": ("configuration", "array configuration", "array"),
    "proposed_rms": ("proposed rms", "requested rms", "requested sensitivity", "proposed sensitivity"),
    "proposed_beam": (
        "proposed beam size",
        "proposed beam",
        "requested beam",
        "requested angular resolution",
        "requested beam size",
    ),
    "casa_version": (
        "casa version used for reduction",
        "casa version",
        "casa version used",
        "casa version used for calibration",
        "casa version used for imaging",
    ),
    "pipeline_version": ("pipeline version", "pipeline version used"),
    "qa2_result": ("qa2 result", "qa2 status", "qa2"),
    "cycle": ("cycle",),
    "mous": ("member ous", "member ous uid", "mous", "member obsunitset"),
    "reducer_comments": (
        "comments from reducer",
        "reducer's comments",
        "reducer comments",
        "comments from the reducer",
        "comments",
    ),
}
_LOOKUP = {alias: field for field, aliases in _KEYS.items() for alias in aliases}
_ACHIEVED = re.compile(r"^\s*achieved\s+(beam|rms|sensitivity|resolution)\b[^:]*:?\s*(.*)$", re.IGNORECASE)
#: 'Key: value' (the value is stripped in Python: a lazy '(.*?)\s*$' is quadratic on long blank tails)
_KV = re.compile(r"^\s{0,4}([A-Za-z][A-Za-z0-9 '()/_.-]{0,60}?)\s*:(.*)$")
_RULER = re.compile(r"^\s*([#=\-*~_])\1{3,}\s*$")
_HEADING = re.compile(r"^[A-Z][A-Z0-9 '&/()-]{2,}$")
_UNDERLINE = re.compile(r"^[=\-]{3,}$")
_RULER_CHARS = "#=-*~_"
#: Lines searched for fields: a real README has a few hundred; the rest of a huge file is kept in ``text``.
MAX_PARSED_LINES = 100_000


def _layout(lines: list[str]) -> str:
    head = "\n".join(lines[:15])
    if "ALMA Member ObsUnitSet README" in head or "ObsUnitSet README" in head:
        return "cycle6+"
    if "Atacama Large Millimeter/submillimeter Array" in head and any(
        l.strip().startswith("#####") for l in lines[:20]
    ):
        return "cycle0-4"
    if sum(1 for l in lines[:40] if re.match(r"^\s*-{10,}\s*$", l)) >= 2:
        return "cycle5"
    return "unknown"


def parse_readme(text: str, path: str | os.PathLike | None = None) -> Readme:
    """Parse a README in any of ALMA's layouts; unknown ``Key: value`` lines land in ``extra``.

    Never raises on content: an unrecognisable file gives a Readme with
    ``layout='unknown'`` and empty fields (see :func:`parse_readme_strict`).

    Examples
    --------
    >>> r = parse_readme("Project code: 2019.1.01234.S\\nPI name: A. Person\\nColour: blue\\n")
    >>> r.project_code, r.pi_name, r.extra
    ('2019.1.01234.S', 'A. Person', {'Colour': 'blue'})
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    r = Readme(layout=_layout(lines), path=None if path is None else os.fspath(path), text=text)
    comments: list[str] | None = None  # collecting the reducer's comments (joined once, when they end)

    def flush() -> None:
        if comments is not None:
            r.reducer_comments = "\n".join(comments).strip()

    section = ""
    parsed = lines[:MAX_PARSED_LINES]
    n = len(parsed)
    i = 0
    while i < n:  # cheap tests on each line before any regular expression: linear in the text
        line = parsed[i]
        stripped = line.strip()
        nxt = parsed[i + 1].strip() if i + 1 < n else ""
        underlined = (
            bool(stripped)
            and nxt[:1] in ("=", "-")
            and _UNDERLINE.match(nxt) is not None
            and abs(len(nxt) - len(stripped)) <= 3
        )
        # '=' underlined section headings (cycle6+) and bare upper-case headings
        is_heading = bool(stripped) and (
            (underlined and not (":" in line and _KV.match(line)))
            or (
                ":" not in stripped
                and len(stripped) < 50
                and stripped[0].isupper()
                and _HEADING.match(stripped) is not None
            )
        )
        if is_heading:
            flush()
            section = stripped.lower()
            comments = None
            if "comment" in section and "reducer" in section or section in ("comments", "reducer comments"):
                comments = []
                r.reducer_comments = ""
            r.sections.append(stripped)
            i += 2 if underlined else 1
            continue
        if stripped and stripped[0] in _RULER_CHARS and _RULER.match(line):
            flush()
            comments = None
            i += 1
            continue
        m_ach = _ACHIEVED.match(line) if stripped[:8].lower() == "achieved" else None
        if m_ach:
            what = m_ach.group(1).lower()
            target = r.achieved_beam if what in ("beam", "resolution") else r.achieved_rms
            target.append(stripped)
            i += 1
            continue
        m = _KV.match(line) if comments is None and ":" in line else None
        if m and not m.group(1).strip().lower().startswith(("http", "https")):
            key_raw, value = m.group(1).strip(), m.group(2).strip()
            field = _LOOKUP.get(key_raw.lower())
            if field == "reducer_comments":
                comments = [value] if value else []
                r.reducer_comments = value
            elif field is not None and getattr(r, field) in (None, ""):
                setattr(r, field, value)
            elif (
                field is None
                and value
                and not key_raw.lower().startswith(("note", "see"))
                and len(key_raw.split()) <= 10
            ):
                r.extra.setdefault(key_raw, value)
            i += 1
            continue
        if comments is not None:
            comments.append(line.rstrip())
        i += 1
    flush()
    if r.pi_name:
        m = re.match(r"^(.*?)\s*\(Username:\s*([^)]*)\)\s*$", r.pi_name)
        if m:
            r.pi_name, r.extra["PI username"] = m.group(1), m.group(2)
    if not r.mous:
        m_uid = re.search(r"uid://A001/X[0-9a-zA-Z]+/X[0-9a-zA-Z]+", "\n".join(lines[:20]))
        r.mous = m_uid.group(0) if m_uid else None
    if r.mous:
        r.mous = normalise_uid(r.mous)
    return r


def normalise_uid(uid: str) -> str:
    """Turn 'uid://A001/X1/X2' into 'uid___A001_X1_X2' (names on disk use the latter).

    Examples
    --------
    >>> normalise_uid("uid://A001/X1465/X2a3a")
    'uid___A001_X1465_X2a3a'
    """
    uid = uid.strip()
    if uid.startswith("uid://"):
        return "uid___" + uid[len("uid://") :].replace("/", "_")
    return uid


def parse_readme_strict(text: str, path: str | os.PathLike | None = None) -> Readme:
    """Like :func:`parse_readme`, but raise ReadmeFormatError when no known field is found.

    Examples
    --------
    >>> parse_readme_strict("hello world", path="README")
    Traceback (most recent call last):
    ...
    almaview.errors.ReadmeFormatError: 'README': follows none of ALMA's README layouts: no project code, PI name, title, configuration or CASA version found
    """
    r = parse_readme(text, path)
    if not any([r.project_code, r.pi_name, r.title, r.configuration, r.casa_version, r.sb_name]):
        raise ReadmeFormatError(
            path,
            "follows none of ALMA's README layouts: no project code, PI name, title, configuration or CASA version found",
        )
    return r


def missing_fields(r: Readme) -> list[str]:
    """Name the core README fields that are absent.

    Examples
    --------
    >>> missing_fields(parse_readme("Project code: 2019.1.01234.S"))
    ['PI name', 'project title', 'configuration', 'CASA version']
    """
    names = {
        "pi_name": "PI name",
        "title": "project title",
        "configuration": "configuration",
        "casa_version": "CASA version",
    }
    out = [] if r.project_code else ["project code"]
    return out + [label for field, label in names.items() if not getattr(r, field)]

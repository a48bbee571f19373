"""Auxiliary text products: ``cont.dat``, ``flux.csv``, ``antennapos.csv``.

``cont.dat`` (hif_findcont)::

    Field: NGC_1234

    SpectralWindow: 17
    230.100~230.500GHz LSRK
    231.000~232.000GHz LSRK

    SpectralWindow: 19
    ALL

``flux.csv``: ``ms,field,spw,I,Q,U,V,spix,uvmin,uvmax,comment`` (older files lack the uv columns).
``antennapos.csv``: ``name,antenna,xoffset,yoffset,zoffset,comment``.
Column names are matched case-insensitively; unknown columns are kept.
"""

from __future__ import annotations

import csv
import io
import math
import re

from .model import ContinuumRange, FluxDensity

_UNITS = {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9, "thz": 1e12}
_RANGE = re.compile(r"^\s*([0-9.eE+-]+)\s*~\s*([0-9.eE+-]+)\s*([kMGT]?Hz)\s*(\w+)?", re.IGNORECASE)


def parse_cont_dat(text: str) -> list[ContinuumRange]:
    """Parse cont.dat into one ContinuumRange per line (frequencies in Hz, with their frame).

    Lines that are not ranges are kept with ``low=high=None``; see
    :func:`cont_dat_problems` for ranges that cannot be right.

    Examples
    --------
    >>> r = parse_cont_dat("Field: M100\\n\\nSpectralWindow: 17\\n230.1~230.5GHz LSRK\\n")
    >>> r[0].field, r[0].spw, r[0].low, r[0].high, r[0].frame
    ('M100', '17', 230100000000.0, 230500000000.0, 'LSRK')
    """
    out: list[ContinuumRange] = []
    append = out.append
    fld, spw = "", ""
    match = _RANGE.match
    for line in text.splitlines():
        s = line.strip()
        if not s or s[0] == "#":
            continue
        if s[0] in _NUMBER_START:  # the common case first: one cheap test per line
            m = match(s)
            if m:
                scale = _UNITS[m.group(3).lower()]
                append(ContinuumRange(fld, spw, float(m.group(1)) * scale, float(m.group(2)) * scale, m.group(4), s))
                continue
        elif ":" in s:
            key, _, value = s.partition(":")
            key = key.strip().lower()
            if key == "field":
                fld = value.strip()
                continue
            if key in ("spectralwindow", "spectral window", "spw"):
                spw = value.strip().split()[0] if value.strip() else ""
                continue
        append(ContinuumRange(fld, spw, None, None, None, s))
    return out


_NUMBER_START = frozenset("0123456789.+-")


def cont_dat_problems(
    ranges: list[ContinuumRange], spws: dict[str, tuple[float, float]] | None = None, source: str = "cont.dat"
) -> list[str]:
    """Say which cont.dat lines cannot be right: reversed, infinite or non-positive, not understood, or outside the spw.

    ``spws`` maps an spw id to its (lowest, highest) frequency in Hz (e.g. from
    the MS); a range further than 100 km/s (Doppler, LSRK vs TOPO) outside
    its spw is reported.

    Examples
    --------
    >>> rs = parse_cont_dat("SpectralWindow: 17\\n230.5~230.1GHz LSRK\\n240.0~241.0GHz LSRK\\nNONE\\n")
    >>> for line in cont_dat_problems(rs, {"17": (229.0e9, 231.0e9)}):
    ...     print(line)
    cont.dat spw 17: range '230.5~230.1GHz LSRK' is reversed (start above end)
    cont.dat spw 17: range '240.0~241.0GHz LSRK' lies outside spw 17 (229.000000-231.000000 GHz)
    """
    out = []
    for r in ranges:
        where = f"{source} spw {r.spw}" if r.spw else source
        if r.low is None or r.high is None:
            if r.text.strip().upper() not in ("ALL", "NONE", "ALL LSRK", "NONE LSRK"):
                out.append(
                    f"{where}: line {r.text[:80]!r} is not a frequency range (expected e.g. "
                    "'230.1~230.5GHz LSRK', 'ALL' or 'NONE')"
                )
            continue
        if not (math.isfinite(r.low) and math.isfinite(r.high)):
            out.append(f"{where}: range {r.text[:80]!r} is not finite")
        elif r.low <= 0 or r.high <= 0:
            out.append(f"{where}: range {r.text[:80]!r} has a frequency at or below zero")
        elif r.low > r.high:
            out.append(f"{where}: range {r.text[:80]!r} is reversed (start above end)")
        elif spws is not None and r.spw in spws:
            lo, hi = spws[r.spw]
            margin = 100e3 / 299792458.0 * hi
            if r.low < lo - margin or r.high > hi + margin:
                out.append(
                    f"{where}: range {r.text[:80]!r} lies outside spw {r.spw} ({lo / 1e9:.6f}-{hi / 1e9:.6f} GHz)"
                )
    return out


def _float(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


def _rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), skipinitialspace=True)
    return [
        {(k or "").strip(): (v or "").strip() if isinstance(v, str) else "" for k, v in row.items()} for row in reader
    ]


def parse_flux_csv(text: str) -> list[FluxDensity]:
    """Parse flux.csv (calibrator flux densities per spw).

    Examples
    --------
    >>> f = parse_flux_csv("ms,field,spw,I,Q,U,V,spix,uvmin,uvmax,comment\\n"
    ...                    "a.ms,0,17,1.5,0,0,0,-0.7,0,0,\\"# field=J1924-2914\\"\\n")
    >>> f[0].spw, f[0].I, f[0].spix, f[0].extra
    ('17', 1.5, -0.7, {'uvmin': '0', 'uvmax': '0'})
    """
    out = []
    for row in _rows(text):
        low = {k.lower(): v for k, v in row.items()}
        known = {"ms", "vis", "field", "spw", "i", "q", "u", "v", "spix", "comment"}
        out.append(
            FluxDensity(
                vis=low.get("ms", low.get("vis", "")),
                field=low.get("field", ""),
                spw=low.get("spw", ""),
                I=_float(low.get("i")),
                Q=_float(low.get("q")),
                U=_float(low.get("u")),
                V=_float(low.get("v")),
                spix=_float(low.get("spix")),
                comment=low.get("comment", ""),
                extra={k: v for k, v in row.items() if k.lower() not in known},
            )
        )
    return out


def parse_antennapos_csv(text: str) -> list[dict[str, str]]:
    """Parse antennapos.csv into a list of rows (column names as in the file).

    Examples
    --------
    >>> parse_antennapos_csv("name,antenna,xoffset,yoffset,zoffset,comment\\na.ms,DA41,1e-4,0,0,x\\n")[0]["antenna"]
    'DA41'
    """
    return _rows(text)


def comment_field(comment: str) -> str | None:
    """Pull 'field=NAME' out of a flux.csv comment.

    Examples
    --------
    >>> comment_field("# field=J1924-2914 intents=AMPLITUDE")
    'J1924-2914'
    """
    m = re.search(r"field=(\S+)", comment)
    return m.group(1) if m else None

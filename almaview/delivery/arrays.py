"""Which array a member OUS observed with: the 12-m array, the 7-m array (ACA) or Total Power (TP).

A science goal's group often holds three member OUSs, one per array. The
package says which in several places; :func:`member_array` reads them in order
of how directly they say it: the calibrated MS (antenna names and dish
diameters, autocorrelation-only single-dish data), the README's scheduling
block name (``..._TM1``, ``..._7M``, ``..._TP``) and configuration, the product
names (single-dish images are ``*.sd.fits``) and the caltable names
(``hsd_*`` tasks).
"""

from __future__ import annotations

import os
import re

#: The arrays a member OUS can be, and how almaview writes them.
ARRAYS = ("12m", "7m", "TP")

_SB_SUFFIX = re.compile(r"_(TM\d|7M|TP)(?:_|$)", re.IGNORECASE)


def array_of_antennas(names: list[str], diameters: list[float], single_dish: bool, telescope: str = "ALMA") -> str:
    """'TP', '7m' or '12m' from an MS's antennas (or the telescope's name for other telescopes).

    Examples
    --------
    >>> array_of_antennas(["CM01", "CM02"], [7.0, 7.0], False)
    '7m'
    >>> array_of_antennas(["PM01", "PM02"], [12.0, 12.0], True)
    'TP'
    >>> array_of_antennas(["DA41", "DV02", "PM03"], [12.0] * 3, False)
    '12m'
    """
    if telescope and telescope.upper() not in ("ALMA", "ACA", "OSF"):
        return telescope.upper()
    if single_dish:
        return "TP"
    if diameters and max(diameters) < 10 or names and all(n.upper().startswith("CM") for n in names):
        return "7m"
    return "12m"


def array_words(array: str | None) -> str:
    """'12-m array', '7-m array (ACA)', 'Total Power array', or 'array unknown': how a member's array reads.

    Examples
    --------
    >>> array_words("TP")
    'Total Power array'
    """
    words = {"12m": "12-m array", "7m": "7-m array (ACA)", "TP": "Total Power array"}
    return words.get(array or "", f"{array} array" if array else "array unknown")


def _from_ms(ms: str) -> tuple[str, str] | None:
    from ..io import msmeta
    from ..io.table import open_table

    try:
        from pathlib import Path

        ants = msmeta.read_antennas(Path(ms))
        names = [str(n) for n in ants.antenna_name.values]
        dish = [float(d) for d in ants.ANTENNA_DISH_DIAMETER.values]
        with open_table(ms) as t:
            cols = set(t.colnames())
            n = min(t.nrows(), 2000)
            auto_only = bool(n) and bool((t.getcol("ANTENNA1", 0, n) == t.getcol("ANTENNA2", 0, n)).all())
        telescope = ""
        obs = msmeta.read_observation(Path(ms))
        telescope = next((str(s) for s in obs.telescope_name.values if str(s)), "")
    except Exception:  # noqa: BLE001  the MS is optional evidence; the package's text files still speak
        return None
    if not names or not dish:  # an ANTENNA table without rows says nothing about the array
        return None
    single_dish = auto_only and ("FLOAT_DATA" in cols or "DATA" in cols)
    arr = array_of_antennas(names, dish, single_dish, telescope)
    what = "autocorrelations only (FLOAT_DATA)" if single_dish else f"{len(names)} antennas of {max(dish):g} m"
    return arr, f"calibrated MS {os.path.basename(ms)}: {what}"


def member_array(m, *, read_ms: bool = True) -> tuple[str | None, str]:
    """(array, evidence) of a member OUS: '12m', '7m', 'TP' (another telescope's name for non-ALMA data), or None.

    Examples
    --------
    >>> from almaview.delivery.model import MemberOUS, Readme
    >>> m = MemberOUS(uid="uid___A001_X1_X2", group=None, science_goal=None, path=".",
    ...               readme=Readme(sb_name="IRAS1629_a_06_7M"))
    >>> member_array(m, read_ms=False)
    ('7m', "README: scheduling block 'IRAS1629_a_06_7M'")
    """
    if read_ms:
        for eb in m.ebs:
            if eb.calibrated_ms and os.path.isdir(eb.calibrated_ms):
                found = _from_ms(eb.calibrated_ms)
                if found is not None:
                    return found
    rd = m.readme
    if rd is not None and rd.sb_name:
        hit = _SB_SUFFIX.search(rd.sb_name)
        if hit:
            code = hit.group(1).upper()
            arr = "TP" if code == "TP" else "7m" if code == "7M" else "12m"
            return arr, f"README: scheduling block {rd.sb_name!r}"
    if rd is not None and rd.configuration:
        conf = rd.configuration.lower()
        if "total power" in conf:
            return "TP", f"README: configuration {rd.configuration!r}"
        if "7-m" in conf or "7m" in conf or "aca" in conf:
            return "7m", f"README: configuration {rd.configuration!r}"
    if any(getattr(i, "single_dish", False) or ".sd." in os.path.basename(i.name) for i in m.images):
        return "TP", "single-dish product names (*.sd.fits)"
    for eb in m.ebs:
        if any(".hsd_" in name for name in eb.caltables):
            return "TP", "single-dish pipeline caltables (hsd_*)"
    if rd is not None and rd.sb_name and "VLA" not in rd.sb_name.upper():
        return "12m", f"README: scheduling block {rd.sb_name!r} (no 7M/TP suffix)"
    return None, "nothing in the package says which array"

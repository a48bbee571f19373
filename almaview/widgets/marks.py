"""Mark, locate, flag (plotms's workflow): the points box-selected on a visibility panel as a table of what they
are (antennas, baseline, scan, field, spw, correlation, time or channels), and as ``flagdata`` commands written
to a flag template in the user's work area (the ``<EB>.flagtemplate.txt`` syntax that ``flagdata(mode='list')``
and scriptForPI read), never in the delivery.

Examples
--------
>>> import pandas as pd
>>> pts = pd.DataFrame({"time": pd.to_datetime(["2023-05-01T10:00:03"]), "antenna1": ["DA41"],
...                     "antenna2": ["DA42"], "baseline": ["DA41-DA42"], "correlation": ["XX"], "spw": [17],
...                     "scan": [5], "field": ["J1625-2527"], "amp": [1.0], "n": [4]})
>>> flag_commands(pts, time_bin_s=0.0)
["mode='manual' antenna='DA41&DA42' spw='17' scan='5' correlation='XX' timerange='2023/05/01/10:00:02.500~2023/05/01/10:00:03.500' reason='almaview:marked'"]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["MARK_COLUMNS", "flag_commands", "marked_table", "write_flag_template"]

#: what the table of marked points shows, when the panel has it
MARK_COLUMNS = (
    "baseline",
    "antenna1",
    "antenna2",
    "scan",
    "field",
    "spw",
    "correlation",
    "time",
    "frequency_ghz",
    "channels",
    "uvdist",
    "amp",
    "phase_deg",
    "n",
)
#: half-width (s) of the time range around an unaveraged point's timestamp: flagdata matches rows by their TIME
#: (the integration's centre), so any window inside one integration picks exactly that row
_HALF_INTEGRATION_S = 0.5


def marked_table(
    data: pd.DataFrame,
    indices: Sequence[int],
    *,
    chan_bin: int = 1,
    frequencies_ghz: dict[int, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The rows of a visibility panel's ``data`` at the selected point ``indices`` (the panel's points source is
    its table, row for row), with a ``channels`` column ('first~last' of the spw's channels averaged into each
    point) when the x axis is frequency and ``frequencies_ghz`` (spw -> the spw's channel frequencies) is given.

    Examples
    --------
    >>> t = pd.DataFrame({"frequency_ghz": [100.0, 100.4], "spw": [0, 0], "amp": [1.0, 2.0]})
    >>> marked_table(t, [1], chan_bin=2, frequencies_ghz={0: np.array([99.9, 100.1, 100.3, 100.5])})["channels"][0]
    '2~3'
    """
    idx = [int(i) for i in indices if 0 <= int(i) < len(data)]
    rows = data.iloc[sorted(set(idx))].reset_index(drop=True)
    if "frequency_ghz" in rows and frequencies_ghz:
        chans = []
        for f, spw in zip(rows["frequency_ghz"], rows["spw"]):
            freqs = np.asarray(frequencies_ghz.get(int(spw), []), dtype=float)
            if freqs.size == 0:
                chans.append("")
                continue
            nb = max(1, int(chan_bin))
            grp = np.arange(freqs.size) // nb
            centres = np.bincount(grp, weights=freqs) / np.bincount(grp)
            g = int(np.argmin(np.abs(centres - float(f))))
            first, last = g * nb, min((g + 1) * nb, int(freqs.size)) - 1
            chans.append(f"{first}~{last}")
        rows["channels"] = chans
    return rows[[c for c in MARK_COLUMNS if c in rows]]


def _casa_time(t: np.datetime64) -> str:
    s = pd.Timestamp(t)
    return s.strftime("%Y/%m/%d/%H:%M:%S.") + f"{s.microsecond // 1000:03d}"


def flag_commands(points: pd.DataFrame, *, time_bin_s: float = 0.0, reason: str = "almaview:marked") -> list[str]:
    """One ``flagdata`` manual command per marked point (duplicates dropped): ``antenna='A&B'`` (the baseline),
    ``spw`` (with ``:first~last`` channels on a frequency axis), ``scan``, ``correlation`` and, on a time axis,
    ``timerange`` covering the point (its averaging bin, or its integration). Points on a uv-distance axis carry no
    time: their command covers the baseline in that scan.

    Examples
    --------
    >>> pts = pd.DataFrame({"frequency_ghz": [100.0], "channels": ["8~11"], "antenna1": ["DA41"],
    ...                     "antenna2": ["DV02"], "correlation": ["YY"], "spw": [3]})
    >>> flag_commands(pts)
    ["mode='manual' antenna='DA41&DV02' spw='3:8~11' correlation='YY' reason='almaview:marked'"]
    """
    out: list[str] = []
    half = max(float(time_bin_s) / 2.0, _HALF_INTEGRATION_S)
    for _, p in points.iterrows():
        parts = ["mode='manual'", f"antenna='{p['antenna1']}&{p['antenna2']}'"]
        spw = str(int(p["spw"]))
        if p.get("channels"):
            spw += f":{p['channels']}"
        parts.append(f"spw='{spw}'")
        if "scan" in p and pd.notna(p["scan"]):
            parts.append(f"scan='{int(p['scan'])}'")
        if p.get("correlation"):
            parts.append(f"correlation='{p['correlation']}'")
        if "time" in p and pd.notna(p["time"]):
            t = np.datetime64(pd.Timestamp(p["time"]).to_datetime64(), "ns")
            dt = np.timedelta64(int(round(half * 1e9)), "ns")
            parts.append(f"timerange='{_casa_time(t - dt)}~{_casa_time(t + dt)}'")
        parts.append(f"reason='{reason}'")
        line = " ".join(parts)
        if line not in out:
            out.append(line)
    return out


def write_flag_template(
    commands: Sequence[str], workdir: str | os.PathLike, eb: str, *, delivery_root: str | os.PathLike | None = None
) -> Path:
    """Append ``commands`` (not already there) to ``<workdir>/<eb>.flagtemplate.txt`` and return its path.

    The file is what ``flagdata(vis=..., mode='list', inpfile=...)`` reads, and what scriptForPI applies when it
    sits next to the script as ``<EB>.flagtemplate.txt``. ``workdir`` inside the delivery (``delivery_root``, or
    any folder that looks like a package) raises :class:`almaview.errors.OutputInsideDelivery`: almaview never
    writes into a delivery. Written atomically (a temporary file renamed over the old one).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> p = write_flag_template(["mode='manual' antenna='DA41&DA42' spw='0' reason='x'"], d, "uid___A002_X1_X2")
    >>> p.name, p.read_text().count("mode='manual'")
    ('uid___A002_X1_X2.flagtemplate.txt', 1)
    """
    from ..imaging.tclean import check_output_folder

    folder = check_output_folder(workdir, delivery_root)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{eb}.flagtemplate.txt"
    old = (
        path.read_text().splitlines()
        if path.exists()
        else [
            f"# flagdata commands marked in almaview's explorer for {eb}: flagdata(vis=..., mode='list', inpfile=this)"
        ]
    )
    new = old + [c for c in commands if c not in old]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(new) + "\n")
    os.replace(tmp, path)
    return path

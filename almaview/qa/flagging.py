"""Data volume: fraction flagged per antenna and spw, antennas missing, fewer antennas than the array needs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..delivery.model import ExecutionBlock, Readme
from .limits import Limits
from .report import Evidence, Finding, grade, not_checkable

CRITERION = "data volume"


def flag_fraction(vis) -> pd.DataFrame:
    """Per (spw, antenna): flagged fraction of the visibilities of every baseline holding the antenna.

    Examples
    --------
    >>> flag_fraction(av.open_ms("uid.ms")).head()        # doctest: +SKIP
    """
    antennas = [str(a) for a in vis["antennas"].ds["antenna_name"].values]
    rows = []
    for name, node in vis.children.items():
        if not name.startswith("spw_"):
            continue
        ds = node.ds
        per_bl = ds["FLAG"].sum(("time", "frequency", "polarization")).values.astype(float)
        size = ds["FLAG"].sizes["time"] * ds["FLAG"].sizes["frequency"] * ds["FLAG"].sizes["polarization"]
        a1 = ds["baseline_antenna1_name"].values.astype(str)
        a2 = ds["baseline_antenna2_name"].values.astype(str)
        for ant in antennas:
            sel = (a1 == ant) | (a2 == ant)
            n = int(sel.sum())
            rows.append(dict(spw=int(ds.attrs["spw_id"]), antenna=ant,
                             fraction=float(per_bl[sel].sum() / (n * size)) if n else 1.0, baselines=n))
    return pd.DataFrame(rows)


def readme_antennas(readme: Readme | None) -> int | None:
    """The antenna count a README's configuration line states ('C-1 (12 antennas)'), if any.

    Examples
    --------
    >>> readme_antennas(Readme(configuration="C-1 (12 antennas)")), readme_antennas(Readme(configuration="C43-4"))
    (12, None)
    """
    m = re.search(r"(\d+)\s+antennas", (readme.configuration or "") if readme else "")
    return int(m.group(1)) if m else None


def check_flagging(eb: ExecutionBlock, vis, limits: Limits, readme: Readme | None = None) -> list[Finding]:
    """Judge the data volume of one EB: flagged fraction per antenna/spw and the number of usable antennas.

    Examples
    --------
    >>> [f.aspect for f in check_flagging(eb, av.open_ms(eb.calibrated_ms), Limits())]    # doctest: +SKIP
    ['flagged fraction', 'antennas']
    """
    if vis is None:
        return [not_checkable(CRITERION, eb.uid, "flagged fraction", "no calibrated MS for this EB in the package")]
    df = flag_fraction(vis)
    per_ant = df.groupby("antenna")["fraction"].min()
    missing = sorted(per_ant[per_ant >= 1.0].index)  # judged below, with the antenna count
    present = df[~df["antenna"].isin(missing)]
    if present.empty:
        return [not_checkable(CRITERION, eb.uid, "flagged fraction", "every antenna is entirely flagged")]
    worst = float(present["fraction"].max())
    verdict = grade(worst, limits.flag_fraction_warn, limits.flag_fraction_fail)
    bad = present[present["fraction"] > limits.flag_fraction_warn]
    why = "; ".join(f"{a} spw {','.join(str(s) for s in g['spw'])}: {100 * g['fraction'].max():.0f}% flagged"
                    for a, g in bad.groupby("antenna")) or (
        f"at most {100 * worst:.1f}% flagged per antenna and spw (overall {100 * present['fraction'].mean():.1f}%)")
    if missing:
        why += f"; not counted here, entirely flagged: {', '.join(missing)}"
    out = [Finding(CRITERION, eb.uid, "flagged fraction", verdict, worst, "fraction",
                   f"warning > {limits.flag_fraction_warn:g}, fail > {limits.flag_fraction_fail:g} per antenna and spw",
                   limits.source("flag_fraction_fail"), why,
                   Evidence("scatter", df, dict(x="antenna", y="fraction", by="spw", warn=limits.flag_fraction_warn,
                                                fail=limits.flag_fraction_fail, y_label="fraction flagged")))]
    usable = int((per_ant < 1.0).sum())
    needed = limits.min_antennas if limits.min_antennas is not None else readme_antennas(readme)
    source = limits.source("min_antennas") if limits.min_antennas is not None else "the README's configuration line"
    parts = [f"{usable} of {len(per_ant)} antennas have unflagged data"]
    verdict = "pass"
    if missing:
        parts.append(f"missing entirely (all data flagged or no baseline): {', '.join(missing)}")
        verdict = "warning"
    if needed is None:
        parts.append("the array's minimum is not stated in the package (set Limits.min_antennas)")
        verdict = "not checkable" if verdict == "pass" else verdict
    elif usable < needed:
        parts.append(f"fewer than the {needed} required")
        verdict = "fail"
    out.append(Finding(CRITERION, eb.uid, "antennas", verdict, float(usable), "antennas",
                       "" if needed is None else f"fail < {needed}", source if needed is not None else "",
                       "; ".join(parts),
                       Evidence("scatter", per_ant.rename("min_fraction").reset_index(),
                                dict(x="antenna", y="min_fraction", y_label="smallest flagged fraction over spws",
                                     fail=1.0))))
    return out

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
    """Per (spw, antenna): flagged fraction of the cross-correlations holding the antenna (1.0 when it has none).

    Counts come from the explorer's :func:`almaview.analysis.flag_fractions` (grid cells without a
    row count neither way); antennas of the ANTENNA table without any row get fraction 1 and ``total`` 0.

    Examples
    --------
    >>> flag_fraction(av.open_ms("uid.ms")).head()        # doctest: +SKIP
    """
    from ..analysis.flagging import flag_fractions

    antennas = [str(a) for a in vis["antennas"].ds["antenna_name"].values]
    counts = flag_fractions(vis)
    per = counts.groupby(["spw", "antenna"], as_index=False)[["flagged", "total"]].sum()
    spws = sorted(int(n.split("_")[1]) for n in vis.children if n.startswith("spw_") and n.split("_")[1].isdigit())
    full = pd.MultiIndex.from_product([spws, antennas], names=["spw", "antenna"]).to_frame(index=False)
    df = full.merge(per.astype({"spw": int, "antenna": str}), on=["spw", "antenna"], how="left").fillna(0)
    df["fraction"] = np.where(df["total"] > 0, df["flagged"] / df["total"].where(df["total"] > 0, 1), 1.0)
    return df


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
    why = "; ".join(
        f"{a} spw {','.join(str(s) for s in g['spw'])}: {100 * g['fraction'].max():.0f}% flagged"
        for a, g in bad.groupby("antenna")
    ) or (f"at most {100 * worst:.1f}% flagged per antenna and spw (overall {100 * present['fraction'].mean():.1f}%)")
    if missing:
        why += f"; not counted here, entirely flagged: {', '.join(missing)}"
    out = [
        Finding(
            CRITERION,
            eb.uid,
            "flagged fraction",
            verdict,
            worst,
            "fraction",
            f"warning > {limits.flag_fraction_warn:g}, fail > {limits.flag_fraction_fail:g} per antenna and spw",
            limits.source("flag_fraction_fail"),
            why,
            Evidence(
                "scatter",
                df,
                dict(
                    x="antenna",
                    y="fraction",
                    by="spw",
                    warn=limits.flag_fraction_warn,
                    fail=limits.flag_fraction_fail,
                    y_label="fraction flagged",
                ),
            ),
        )
    ]
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
    out.append(
        Finding(
            CRITERION,
            eb.uid,
            "antennas",
            verdict,
            float(usable),
            "antennas",
            "" if needed is None else f"fail < {needed}",
            source if needed is not None else "",
            "; ".join(parts),
            Evidence(
                "scatter",
                per_ant.rename("min_fraction").reset_index(),
                dict(x="antenna", y="min_fraction", y_label="smallest flagged fraction over spws", fail=1.0),
            ),
        )
    )
    return out

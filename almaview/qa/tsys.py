"""Tsys: per antenna and spw, the median Tsys and its spread against the array median."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..delivery.model import ExecutionBlock
from ..io.caltable import open_caltable
from ._common import tables_of_kind
from .limits import Limits
from .report import Evidence, Finding, grade, not_checkable

CRITERION = "tsys"


def tsys_per_antenna(tree) -> pd.DataFrame:
    """One row per (spw, antenna): median Tsys (K) over unflagged time/channel/receptor, 16-84% spread, ratio.

    ``ratio`` is the antenna's median over the array median (the median of the antennas' medians) of that spw.

    Examples
    --------
    >>> import almaview as av
    >>> tsys_per_antenna(av.open_caltable("uid.ms.h_tsyscal.s6_1.tsyscal.tbl")).head()   # doctest: +SKIP
    """
    rows = []
    for name, node in tree.children.items():
        ds = node.ds
        value = ds["value"].values
        flag = ds["flag"].values
        spw = int(ds.attrs.get("spw_id", name.split("_")[-1]))
        for a, ant in enumerate(ds["antenna_name"].values):
            v = value[:, a][~flag[:, a]]
            v = v[np.isfinite(v)]
            if v.size == 0:
                rows.append(dict(spw=spw, antenna=str(ant), median_k=np.nan, spread_k=np.nan, n=0))
                continue
            lo, hi = np.percentile(v, [16, 84])
            rows.append(
                dict(
                    spw=spw,
                    antenna=str(ant),
                    median_k=float(np.median(v)),
                    spread_k=float((hi - lo) / 2),
                    n=int(v.size),
                )
            )
    df = pd.DataFrame(rows)
    df["array_median_k"] = df.groupby("spw")["median_k"].transform(lambda s: np.nanmedian(s))
    df["ratio"] = df["median_k"] / df["array_median_k"]
    return df


def check_tsys(eb: ExecutionBlock, limits: Limits) -> list[Finding]:
    """Judge the Tsys of one EB: antennas/spws whose median Tsys is several times the array median.

    Examples
    --------
    >>> check_tsys(d.ebs[0], Limits())[0].verdict          # doctest: +SKIP
    'pass'
    """
    names = tables_of_kind(eb, "tsyscal")
    if not names:
        return [not_checkable(CRITERION, eb.uid, "median vs array", "no Tsys caltable for this EB in the package")]
    path = eb.caltables[names[0]]
    df = tsys_per_antenna(open_caltable(path))
    worst = float(df["ratio"].max())
    verdict = grade(worst, limits.tsys_ratio_warn, limits.tsys_ratio_fail)
    out = df[df["ratio"] > limits.tsys_ratio_warn]
    missing = sorted(set(df.loc[df["n"] == 0, "antenna"]))
    if out.empty:
        why = f"every antenna within {limits.tsys_ratio_warn:g}x the array median Tsys in every spw"
    else:
        why = "; ".join(
            f"{a} spw {','.join(str(s) for s in g['spw'])}: "
            f"{g['ratio'].max():.2f}x the array median ({g['median_k'].max():.0f} K)"
            for a, g in out.groupby("antenna")
        )
    if missing:
        why += f"; no unflagged Tsys for {', '.join(missing)}"
        verdict = "warning" if verdict == "pass" else verdict
    return [
        Finding(
            CRITERION,
            eb.uid,
            "median vs array",
            verdict,
            worst,
            "x array median",
            f"warning > {limits.tsys_ratio_warn:g}, fail > {limits.tsys_ratio_fail:g}",
            limits.source("tsys_ratio_fail"),
            why,
            Evidence(
                "scatter",
                df,
                dict(
                    x="antenna",
                    y="ratio",
                    by="spw",
                    warn=limits.tsys_ratio_warn,
                    fail=limits.tsys_ratio_fail,
                    y_label="median Tsys / array median",
                    hover=("median_k", "spread_k"),
                ),
                detail=("tsys", path, dict(antennas=sorted(set(out["antenna"])) or None)),
            ),
        )
    ]

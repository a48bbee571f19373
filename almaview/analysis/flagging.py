"""Flag statistics: the fraction of visibilities flagged per antenna, spw, field/intent and scan, from FLAG.

:func:`flag_fractions` reads FLAG once per spw (by time slices) and reduces it inside each slice to counts per
(integration, baseline); every grouping is then a sum of counts (:func:`fraction_by`). A baseline's samples
count for both its antennas.

Examples
--------
>>> import almaview as av
>>> ff = av.analysis.flag_fractions(av.open_ms("uid___A002_X1.ms"))   # doctest: +SKIP
>>> av.analysis.fraction_by(ff, ["antenna", "spw"])                   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from .trees import ms_spws, selected

__all__ = ["flag_fractions", "fraction_by"]

_CHUNK_BYTES = 64e6


def flag_fractions(
    vis: Any, spws: Sequence[int] | None = None, *, progress: Callable[[float], None] | None = None
) -> pd.DataFrame:
    """Flag counts per (spw, scan, field, intents, antenna): columns ``flagged``, ``total``, ``fraction``.

    Cross-correlations only; each baseline counts for both of its antennas.

    Examples
    --------
    >>> ff = flag_fractions(av.open_ms(eb.calibrated_ms))                          # doctest: +SKIP
    >>> ff.groupby("antenna")[["flagged", "total"]].sum().eval("flagged / total")  # doctest: +SKIP
    """
    spw_list = selected(ms_spws(vis), spws)
    frames = []
    for k, spw in enumerate(spw_list):
        ds = vis[f"spw_{spw}"].ds
        nt, nb = ds.sizes["time"], ds.sizes["baseline_id"]
        per_t = max(1, int(_CHUNK_BYTES // max(1, nb * ds.sizes["frequency"] * ds.sizes["polarization"])))
        counts = np.empty((nt, nb), dtype=np.int64)
        for s in range(0, nt, per_t):
            counts[s : s + per_t] = ds.FLAG.isel(time=slice(s, s + per_t)).values.sum(axis=(2, 3))
        per_cell = ds.sizes["frequency"] * ds.sizes["polarization"]
        # grid cells without a row (NaN and flagged by the reader) are no data: they count neither way
        if float(ds.attrs.get("grid_fill", 1.0)) < 1.0 and "EFFECTIVE_INTEGRATION_TIME" in ds:
            present = np.isfinite(ds.EFFECTIVE_INTEGRATION_TIME.values)
        else:
            present = np.ones((nt, nb), dtype=bool)
        counts = np.where(present, counts, 0)
        a1 = ds.baseline_antenna1_name.values.astype(str)
        a2 = ds.baseline_antenna2_name.values.astype(str)
        cross = a1 != a2
        keys = pd.DataFrame(
            {
                "scan": ds.scan_number.values,
                "field": ds.field_name.values.astype(str),
                "intents": ds.intents.values.astype(str),
            }
        )
        for ant_side in (a1, a2):
            ants = np.unique(ant_side[cross])
            for ant in ants:
                m = cross & (ant_side == ant)
                fl = counts[:, m].sum(axis=1)
                frames.append(keys.assign(spw=spw, antenna=ant, flagged=fl, total=present[:, m].sum(axis=1) * per_cell))
        if progress is not None:
            progress((k + 1) / len(spw_list))
    if not frames:
        return pd.DataFrame(columns=["spw", "scan", "field", "intents", "antenna", "flagged", "total", "fraction"])
    df = pd.concat(frames, ignore_index=True)
    df = df.groupby(["spw", "scan", "field", "intents", "antenna"], as_index=False)[["flagged", "total"]].sum()
    df = df[df["total"] > 0].reset_index(drop=True)
    df["fraction"] = df["flagged"] / df["total"]
    return df


def fraction_by(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Flag counts of :func:`flag_fractions` summed by ``by``, with their ``fraction``. Summed over antennas (no
    'antenna' in ``by``), each sample is counted once: :func:`flag_fractions` counts a baseline's samples for both
    its antennas, so those sums are halved (a scan's totals were twice its samples; the fraction was right).

    Examples
    --------
    >>> ff = pd.DataFrame({"antenna": ["DA41", "DA41", "DV02", "DV02"], "spw": [0, 1, 0, 1],
    ...                    "flagged": [1, 3, 1, 3], "total": [4, 4, 4, 4]})   # one baseline DA41-DV02
    >>> fraction_by(ff, ["antenna"])["fraction"].tolist()
    [0.5, 0.5]
    >>> fraction_by(ff, ["spw"])[["flagged", "total"]].values.tolist()
    [[1, 4], [3, 4]]
    """
    g = df.groupby(by, as_index=False)[["flagged", "total"]].sum()
    if "antenna" in df.columns and "antenna" not in by:  # every sample was counted for both its antennas
        g[["flagged", "total"]] = g[["flagged", "total"]] // 2
    g["fraction"] = g["flagged"] / g["total"]
    return g

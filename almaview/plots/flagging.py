"""Flagging: fraction of visibilities flagged per antenna, spw, field/intent and scan, from FLAG.

:func:`flag_fractions` reads FLAG once per spw (by time slices) and reduces it inside each slice to counts per
(integration, baseline); every grouping is then a sum of counts. A baseline's samples count for both its antennas.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from . import Panel
from ._common import column, figure, row, selected, table

__all__ = ["flag_fractions", "flag_summary"]

_CHUNK_BYTES = 64e6


def flag_fractions(vis: Any, spws: Sequence[int] | None = None, *,
                   progress: Callable[[float], None] | None = None) -> pd.DataFrame:
    """Flag counts per (spw, scan, field, intents, antenna): columns ``flagged``, ``total``, ``fraction``.

    Cross-correlations only; each baseline counts for both of its antennas.

    Examples
    --------
    >>> ff = flag_fractions(av.open_ms(eb.calibrated_ms))                          # doctest: +SKIP
    >>> ff.groupby("antenna")[["flagged", "total"]].sum().eval("flagged / total")  # doctest: +SKIP
    """
    from .overview import ms_spws

    spw_list = selected(ms_spws(vis), spws)
    frames = []
    for k, spw in enumerate(spw_list):
        ds = vis[f"spw_{spw}"].ds
        nt, nb = ds.sizes["time"], ds.sizes["baseline"]
        per_t = max(1, int(_CHUNK_BYTES // max(1, nb * ds.sizes["frequency"] * ds.sizes["polarization"])))
        counts = np.empty((nt, nb), dtype=np.int64)
        for s in range(0, nt, per_t):
            counts[s:s + per_t] = ds.FLAG.isel(time=slice(s, s + per_t)).values.sum(axis=(2, 3))
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
        keys = pd.DataFrame({"scan": ds.scan_number.values, "field": ds.field_name.values.astype(str),
                             "intents": ds.intents.values.astype(str)})
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


def _fraction(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    g = df.groupby(by, as_index=False)[["flagged", "total"]].sum()
    g["fraction"] = g["flagged"] / g["total"]
    return g


def flag_summary(fractions: pd.DataFrame) -> Panel:
    """Heatmaps (antenna x spw, scan x spw) and a table (per field/intent and spw) of flagged fractions.

    ``data``: the antenna x spw fractions with ``view`` = 'antenna', plus 'scan' and 'field' rows.

    Examples
    --------
    >>> p = flag_summary(flag_fractions(av.open_ms(eb.calibrated_ms)))   # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource, HoverTool, LinearColorMapper
    from bokeh.palettes import Reds256

    by_ant = _fraction(fractions, ["antenna", "spw"]).assign(view="antenna")
    by_scan = _fraction(fractions, ["scan", "spw"]).assign(view="scan")
    by_field = _fraction(fractions, ["field", "intents", "spw"]).assign(view="field")
    mapper = LinearColorMapper(palette=list(reversed(Reds256)), low=0.0, high=1.0)
    figs, sources = [], {}
    for name, df, key in (("antenna", by_ant, "antenna"), ("scan", by_scan, "scan")):
        d = df.assign(key=df[key].astype(str), spw_s=df["spw"].astype(str), pct=(100 * df["fraction"]).round(2))
        keys = [str(k) for k in sorted(df[key].unique(), key=lambda v: (str(type(v)), v))]
        spws = [str(s) for s in sorted(df["spw"].unique())]
        f = figure(f"Flagged fraction per {name} and spw", "spw", name, width=360,
                   height=max(220, 40 + 18 * len(keys)), x_range=spws, y_range=list(reversed(keys)),
                   tools="hover,tap,save,reset")
        src = ColumnDataSource({c: d[c].tolist() for c in ("key", "spw_s", "fraction", "pct", "flagged", "total")})
        f.rect("spw_s", "key", 1, 1, source=src, fill_color={"field": "fraction", "transform": mapper},
               line_color="white")
        f.select_one(HoverTool).tooltips = [(name, "@key"), ("spw", "@spw_s"), ("flagged", "@pct{0.00}%"),
                                            ("samples", "@flagged / @total")]
        figs.append(f)
        sources[name] = src
    tab_df = by_field.assign(percent=(100 * by_field["fraction"]).round(2))[["field", "intents", "spw", "percent",
                                                                              "flagged", "total"]]
    tab, tsrc = table(tab_df)
    sources["field"] = tsrc
    data = pd.concat([by_ant, by_scan, by_field], ignore_index=True)
    return Panel(column([row(figs), tab]), data, sources, title="Flagging")

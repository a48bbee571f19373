"""Flagging: fraction of visibilities flagged per antenna, spw, field/intent and scan, as heatmaps and a table.

The counts come from :func:`almaview.analysis.flag_fractions` (re-exported here for old code).
"""

from __future__ import annotations

import pandas as pd

from ..analysis.flagging import flag_fractions  # noqa: F401 (re-exported)
from ..analysis.flagging import fraction_by

from . import Panel
from ._common import bound_hovers, column, figure, row, table

__all__ = ["flag_fractions", "flag_summary"]


def flag_summary(fractions: pd.DataFrame) -> Panel:
    """Heatmaps (antenna x spw, scan x spw) and a table (per field/intent and spw) of flagged fractions.

    ``data``: the antenna x spw fractions with ``view`` = 'antenna', plus 'scan' and 'field' rows.

    Examples
    --------
    >>> p = flag_summary(flag_fractions(av.open_ms(eb.calibrated_ms)))   # doctest: +SKIP
    """
    from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper
    from bokeh.palettes import Reds256

    by_ant = fraction_by(fractions, ["antenna", "spw"]).assign(view="antenna")
    by_scan = fraction_by(fractions, ["scan", "spw"]).assign(view="scan")
    by_field = fraction_by(fractions, ["field", "intents", "spw"]).assign(view="field")
    mapper = LinearColorMapper(palette=list(reversed(Reds256)), low=0.0, high=1.0)
    figs, sources = [], {}
    for name, df, key in (("antenna", by_ant, "antenna"), ("scan", by_scan, "scan")):
        d = df.assign(key=df[key].astype(str), spw_s=df["spw"].astype(str), pct=(100 * df["fraction"]).round(2))
        keys = [str(k) for k in sorted(df[key].unique(), key=lambda v: (str(type(v)), v))]
        spws = [str(s) for s in sorted(df["spw"].unique())]
        f = figure(
            f"Flagged fraction per {name} and spw",
            "spw",
            name,
            width=360,
            height=max(220, 40 + 18 * len(keys)),
            x_range=spws,
            y_range=list(reversed(keys)),
            tools="hover,tap,save,reset",
        )
        src = ColumnDataSource({c: d[c].tolist() for c in ("key", "spw_s", "fraction", "pct", "flagged", "total")})
        f.rect(
            "spw_s", "key", 1, 1, source=src, fill_color={"field": "fraction", "transform": mapper}, line_color="white"
        )
        f.add_layout(ColorBar(color_mapper=mapper, title="flagged fraction", width=10), "right")
        f.select_one(HoverTool).tooltips = [
            (name, "@key"),
            ("spw", "@spw_s"),
            ("flagged", "@pct{0.00}%"),
            ("samples", "@flagged / @total"),
        ]
        # the key of the colours, outside the data (0 = nothing flagged, 1 = all)
        f.add_layout(ColorBar(color_mapper=mapper, title="flagged fraction", width=10), "right")
        figs.append(bound_hovers(f))
        sources[name] = src
    tab_df = by_field.assign(percent=(100 * by_field["fraction"]).round(2))[
        ["field", "intents", "spw", "percent", "flagged", "total"]
    ]
    tab, tsrc = table(tab_df)
    sources["field"] = tsrc
    data = pd.concat([by_ant, by_scan, by_field], ignore_index=True)
    return Panel(column([row(figs), tab]), data, sources, title="Flagging", kind="flag_summary")

"""QA: the weblog's stage list with scores in the weblog's colour bands, reasons, and links to the stage pages.

Input: the AQUA report (:class:`~almaview.delivery.model.AquaReport`, scores and reasons) and/or the weblog index
(:class:`~almaview.delivery.weblog.Weblog`, stage pages and PNG plots). Colours come from
:func:`almaview.delivery.model.score_band` (the pipeline's documented bands).
"""

from __future__ import annotations

import html
import os
from typing import Any

import pandas as pd

from ..delivery.model import score_band
from . import Panel
from ._common import column, figure, hover_tool

__all__ = ["qa_stages", "qa_table"]


def qa_table(aqua: Any = None, weblog: Any = None) -> pd.DataFrame:
    """One row per stage: number, task, score, band, colour (hex), reason, page (path or ''), plots (count).

    Examples
    --------
    >>> from almaview.delivery.model import AquaReport, QAStage
    >>> rep = AquaReport(path="x.xml", stages=[QAStage(3, "hifa_importdata", 0.5, "a warning")])
    >>> qa_table(rep)[["number", "task", "band", "colour"]].values.tolist()
    [[3, 'hifa_importdata', 'warning', '#f0ad4e']]
    """
    rows: dict[int, dict[str, Any]] = {}
    for s in getattr(aqua, "stages", None) or []:
        if s.number is None:
            continue
        rows[s.number] = {
            "number": s.number,
            "task": s.name,
            "score": s.score,
            "reason": s.reason or "",
            "page": "",
            "plots": 0,
        }
    for s in getattr(weblog, "stages", None) or []:
        r = rows.setdefault(
            s.number, {"number": s.number, "task": s.task, "score": s.score, "reason": "", "page": "", "plots": 0}
        )
        if r["score"] is None:
            r["score"] = s.score
        r["task"] = r["task"] or s.task
        r["page"] = os.fspath(s.page) if s.page is not None else ""
        r["plots"] = len(s.plots)
    df = pd.DataFrame([rows[k] for k in sorted(rows)], columns=["number", "task", "score", "reason", "page", "plots"])
    bands = [score_band(None if pd.isna(s) else float(s)) for s in df["score"]]
    df.insert(3, "band", [b[0] for b in bands])
    df.insert(4, "colour", [b[2] for b in bands])
    return df


def qa_stages(aqua: Any = None, weblog: Any = None, *, link_prefix: str | None = None) -> Panel:
    """The stage list (score badges in the weblog's colours, reasons, page links) and a score bar chart.

    ``link_prefix``: how stage pages are linked ('' to link plain paths, e.g. in a standalone file). Default
    (None): no link (a browser page, e.g. JupyterLab, blocks ``file://`` links); a tap on a stage's bar selects it
    (``sources['scores'].selected``), and the explorer shows that stage's page in its weblog viewer.

    Examples
    --------
    >>> m = av.open_delivery("2023.1.01234.S").mous[0]   # doctest: +SKIP
    >>> qa_stages(m.qa.aqua, m.weblog).data.head()      # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource, Div

    df = qa_table(aqua, weblog)
    trs = []
    for r in df.itertuples():
        score = "—" if pd.isna(r.score) else f"{r.score:.2f}"
        plots = f" ({r.plots} plots)" if r.plots else ""
        if not r.page:
            link = ""
        elif link_prefix is None:
            link = f"page{plots}: tap its bar"
        else:
            link = f"<a href='{html.escape(link_prefix + r.page)}' target='_blank'>page</a>{plots}"
        trs.append(
            f"<tr class='almaview-qa-{r.band.replace(' ', '-')}'><td>{r.number}</td>"
            f"<td>{html.escape(r.task)}</td><td><span style='background:{r.colour};color:white;"
            f"padding:1px 6px;border-radius:8px'>{score}</span></td><td>{html.escape(r.reason)}</td>"
            f"<td>{link}</td></tr>"
        )
    tab = Div(
        text="<table class='almaview-qa' style='border-collapse:collapse;font-size:12px'>"
        "<tr><th>stage</th><th>task</th><th>score</th><th>reason</th><th>weblog</th></tr>" + "".join(trs) + "</table>",
        sizing_mode="stretch_width",
    )
    src = ColumnDataSource(
        {
            "stage": [str(n) for n in df["number"]],
            "score": df["score"].astype(float).fillna(0.0),
            "colour": df["colour"].tolist(),
            "task": df["task"].tolist(),
            "band": df["band"].tolist(),
            "reason": df["reason"].tolist(),
        }
    )
    f = figure(
        "QA score per stage",
        "stage",
        "score",
        width=760,
        height=220,
        x_range=src.data["stage"],
        y_range=(0, 1.05),
        tools="tap,save,reset",
    )
    r = f.vbar(x="stage", top="score", width=0.8, color="colour", source=src)
    f.add_tools(
        hover_tool([r], tooltips=[("stage", "@stage @task"), ("score", "@score{0.00} (@band)"), ("reason", "@reason")])
    )
    return Panel(column([f, tab]), df, {"scores": src}, title="QA", kind="qa_stages")

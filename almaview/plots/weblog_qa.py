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


#: a stage link: looks like a link, opens the stage's weblog page (the explorer's viewer, or the report's frame)
_LINK_STYLE = "color:#1f77b4;text-decoration:underline;cursor:pointer"


def _stage_frame(doc: str) -> str:
    """A stage page (a self-contained, sanitised document) in a sandboxed frame: nothing in it runs."""
    return (
        "<iframe class='almaview-stage-frame' sandbox='' referrerpolicy='no-referrer' "
        "style='display:block;box-sizing:border-box;width:100%;min-width:600px;height:640px;border:1px solid #ccc' "
        f'srcdoc="{html.escape(doc, quote=True)}"></iframe>'
    )


def qa_stages(
    aqua: Any = None, weblog: Any = None, *, link_prefix: str | None = None, pages: dict[int, str] | None = None
) -> Panel:
    """The stage list (score badges in the weblog's colours, reasons, each stage a link to its weblog page) and a
    score bar chart.

    The table and the chart share one source (``sources['scores']``): a click on a stage's row (its stage link) or
    its bar selects it (``sources['scores'].selected``). The explorer shows that stage's page in its weblog viewer
    (JupyterLab blocks ``file://`` links: the widget serves the page). ``pages`` (stage number -> the page as a
    self-contained document, :meth:`~almaview.delivery.weblog.Weblog.stage_html`) makes a page without a kernel,
    e.g. the standalone report: the selected stage's page is shown under the table in a sandboxed frame.
    ``link_prefix``: the stage link is a plain ``<a href>`` to ``link_prefix + page path`` instead.

    Examples
    --------
    >>> from almaview.delivery.model import AquaReport, QAStage
    >>> rep = AquaReport(path="x.xml", stages=[QAStage(17, "hifa_timegaincal", 0.5, "phase rms")])
    >>> p = qa_stages(rep, pages={17: "<p>stage 17</p>"})
    >>> p.sources["scores"].data["stage_link"][0]
    "<span title='open the weblog page of stage 17' style='color:#1f77b4;text-decoration:underline;cursor:pointer'>17 hifa_timegaincal</span>"
    >>> p.sources["table"] is p.sources["scores"], "&lt;p&gt;stage 17&lt;/p&gt;" in p.sources["scores"].data["page_frame"][0]
    (True, True)
    """
    from bokeh.models import ColumnDataSource, CustomJS, DataTable, Div, HTMLTemplateFormatter, StringFormatter
    from bokeh.models import TableColumn

    df = qa_table(aqua, weblog)
    links, badges, frames, notes = [], [], [], []
    for r in df.itertuples():
        score = "—" if pd.isna(r.score) else f"{r.score:.2f}"
        label = f"{r.number} {html.escape(r.task)}"
        if link_prefix is not None and r.page:
            links.append(f"<a href='{html.escape(link_prefix + r.page)}' target='_blank'>{label}</a>")
        else:
            links.append(f"<span title='open the weblog page of stage {r.number}' style='{_LINK_STYLE}'>{label}</span>")
        badges.append(
            f"<span style='background:{r.colour};color:white;padding:1px 6px;border-radius:8px'>{score}</span>"
        )
        page = (pages or {}).get(int(r.number))
        frames.append(_stage_frame(page) if page else "")
        notes.append(f"{r.plots} plots" if r.plots else "")
    src = ColumnDataSource(
        {
            "stage": [str(n) for n in df["number"]],
            "score": df["score"].astype(float).fillna(0.0),
            "colour": df["colour"].tolist(),
            "task": df["task"].tolist(),
            "band": df["band"].tolist(),
            "reason": df["reason"].tolist(),
            "stage_link": links,
            "badge": badges,
            "plots": notes,
            "page_frame": frames,
        }
    )
    html_cell = HTMLTemplateFormatter(template="<%= value %>")
    tab = DataTable(
        source=src,
        columns=[
            TableColumn(field="stage_link", title="stage (click: its weblog page)", formatter=html_cell, width=230),
            TableColumn(field="badge", title="score", formatter=html_cell, width=60),
            TableColumn(field="reason", title="reason", formatter=StringFormatter(), width=520),
            TableColumn(field="plots", title="weblog", formatter=StringFormatter(), width=80),
        ],
        index_position=None,
        width=900,
        height=min(640, 28 * (len(df) + 1) + 4),
        sizing_mode="stretch_width",
        css_classes=["almaview-qa"],
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
    children = [f, tab]
    if pages:
        viewer = Div(
            text="<p style='color:#777;font-size:12px'>Click a stage (its row or its bar) to show its weblog page "
            "here.</p>",
            sizing_mode="stretch_width",
            css_classes=["almaview-stage-viewer"],
            # the page under the table is as wide as the table (Bokeh's Div sizes its text box to the content)
            stylesheets=[":host { width: 100%; } .bk-clearfix { width: 100%; }"],
        )
        src.selected.js_on_change(
            "indices",
            CustomJS(
                args={"src": src, "viewer": viewer},
                code="const i = src.selected.indices; if (i.length) { const k = Math.min(...i);"
                " viewer.text = src.data.page_frame[k] || ('<p><i>no weblog page for stage ' + src.data.stage[k]"
                " + '</i></p>'); }",
            ),
        )
        children.append(viewer)
    return Panel(column(children), df, {"scores": src, "table": src}, title="QA", kind="qa_stages")

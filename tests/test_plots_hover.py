"""Bounded hover: no plot's hover can list more than a handful of points, however dense the scatter under it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from bokeh.models import DataRenderer, HoverTool, Plot

from almaview.plots import flagging, qa_evidence
from almaview.plots import overview as po

#: the most rows a user may see in all of one hover's tooltips (Bokeh cuts each renderer's tooltip to ``limit``)
MOST = 8


def _listed_at_most(layout) -> list[tuple[int, int]]:
    """(limit, hovered renderers) of every HoverTool in ``layout``."""
    out = []
    for plot in layout.select({"type": Plot}):
        for tool in plot.toolbar.tools:
            if isinstance(tool, HoverTool):
                rs = (
                    tool.renderers
                    if tool.renderers != "auto"
                    else [r for r in plot.renderers if isinstance(r, DataRenderer)]
                )
                assert tool.limit is not None, f"unbounded hover in {plot.title.text if plot.title else plot}"
                out.append((tool.limit, len(rs)))
    return out


def test_dense_scatter_hover_lists_at_most_a_few_points():
    # 30 000 points on 3 groups, all stacked on 10 x positions: the cursor over one x hits ~1 000 points per group
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "scan": np.repeat(np.arange(10), 3000),
            "ratio": rng.normal(1, 1e-4, 30000),
            "eb": np.tile(["a", "b", "c"], 10000),
        }
    )
    hit = (df["scan"] == 4).sum()  # what an unbounded hover would list at scan 4
    assert hit == 3000
    bounds = _listed_at_most(qa_evidence.scatter(df, x="scan", y="ratio", by="eb").layout)
    assert bounds and all(limit * n <= MOST for limit, n in bounds)


def test_flag_summary_hover_is_bounded():
    fr = pd.DataFrame(
        {
            "antenna": [f"DA{i:02d}" for i in range(40)] * 2,
            "spw": [17] * 40 + [19] * 40,
            "fraction": np.linspace(0, 1, 80),
            "flagged": np.arange(80),
            "total": [100] * 80,
            "scan": [4] * 80,
            "field": ["J1924-2914"] * 80,
            "intents": ["BANDPASS"] * 80,
        }
    )
    bounds = _listed_at_most(flagging.flag_summary(fr).layout)
    assert bounds and all(limit * n <= MOST for limit, n in bounds)


def test_ms_panels_hovers_are_bounded(alma_eb):
    import almaview as av

    vis = av.open_ms(alma_eb.ms)
    for panel in (po.uv_coverage(vis), po.elevation(vis), po.antenna_positions(vis)):
        bounds = _listed_at_most(panel.layout)
        assert bounds and all(limit * n <= MOST for limit, n in bounds), panel.kind


def test_every_plot_builder_makes_hovers_through_the_bounded_factory():
    # a new builder that calls HoverTool(...) directly would list every point under the cursor again
    root = Path(__file__).resolve().parents[1] / "almaview" / "plots"
    direct = {
        p.name for p in root.glob("*.py") if p.name != "_common.py" and re.search(r"\bHoverTool\(", p.read_text())
    }
    assert direct == set()

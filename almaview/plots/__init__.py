"""Plot builders: pure functions from xarray/pandas objects to Bokeh models.

No IO and no widgets here. Every builder returns a :class:`Panel`: the Bokeh
layout, the tidy table of exactly what was plotted (so tests and users can
check values against an independent computation), and the named
ColumnDataSources that widgets update in place.

Examples
--------
>>> import almaview as av
>>> panel = av.plots.tsys(av.open_caltable("uid.ms.h_tsyscal.s6_1.tsyscal.tbl"))   # doctest: +SKIP
>>> panel.data.head()                                                               # doctest: +SKIP
>>> panel                                                                           # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Panel", "tsys", "bandpass", "gains", "eb_summary", "antenna_positions", "uv_coverage", "elevation",
           "amp_phase", "reduce_visibilities", "flux", "flag_fractions", "flag_summary", "qa_stages"]

#: builder name -> module (imported on first use: ``import almaview.plots`` stays cheap)
_LAZY = {
    "tsys": "caltables", "bandpass": "caltables", "gains": "caltables",
    "eb_summary": "overview", "antenna_positions": "overview", "uv_coverage": "overview", "elevation": "overview",
    "amp_phase": "visibilities", "reduce_visibilities": "visibilities", "flux": "visibilities",
    "flag_fractions": "flagging", "flag_summary": "flagging",
    "qa_stages": "weblog_qa",
    "image_plane": "image", "region_spectrum": "image", "moment": "image", "spectrum_plot": "image",
    "beam_plot": "image", "comparison": "image",
    "continuum_ranges_plot": "continuum",
}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'almaview.plots' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


@dataclass
class Panel:
    """A built plot: ``layout`` (Bokeh LayoutDOM), ``data`` (what was plotted), ``sources`` (for in-place updates).

    ``data`` is a pandas DataFrame for tables of points; image panels hold an ``xarray.Dataset`` of the shown
    pixel grid (``.to_dataframe()`` gives the table), comparisons an ``xarray.DataTree`` (one node per image).

    Examples
    --------
    >>> from bokeh.plotting import figure
    >>> fig = figure()
    >>> p = Panel(fig, pd.DataFrame({"x": [1], "y": [2]}))
    >>> list(p.data.columns)
    ['x', 'y']
    """

    layout: Any
    data: Any  # pd.DataFrame | xr.Dataset | xr.DataTree
    sources: dict[str, Any] = field(default_factory=dict)
    title: str = ""

    def _repr_mimebundle_(self, include=None, exclude=None):  # pragma: no cover - exercised in the browser tests
        from bokeh.embed import file_html
        from bokeh.resources import INLINE

        html = file_html(self.layout, INLINE, title=self.title or "almaview")
        srcdoc = html.replace("&", "&amp;").replace('"', "&quot;")
        return {"text/html": f'<iframe srcdoc="{srcdoc}" style="width:100%;height:520px;border:0"></iframe>'}

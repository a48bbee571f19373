"""Plot builders: pure functions from data to Bokeh models.

This layer owns how things are drawn: figures, colours, legends, axes and units, grids of panels (one per spw
or antenna, like plotms's iteraxis and the weblog's pages), hover and in-place updates. It owns no reading and
no reductions: those are :mod:`almaview.analysis` (builders given a lazy tree call it, or take its tables
directly), and no widgets (:mod:`almaview.widgets` composes these panels).

Every builder returns a :class:`Panel`: the Bokeh layout, the tidy table of exactly what was plotted (so tests
and users can check values against an independent computation), the named ColumnDataSources that widgets
update in place, and its ``kind`` (which builder made it).

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

from .._lazy import lazy_attributes


__all__ = [
    "Panel",
    "tsys",
    "bandpass",
    "gains",
    "delay",
    "caltable",
    "eb_summary",
    "antenna_positions",
    "uv_coverage",
    "elevation",
    "amp_phase",
    "flux",
    "flag_summary",
    "qa_stages",
]

#: builder name -> its module (imported on first use: ``import almaview.plots`` stays cheap)
_LAZY = {
    "tsys": ".caltables",
    "bandpass": ".caltables",
    "gains": ".caltables",
    "delay": ".caltables",
    "caltable": ".caltables",
    "eb_summary": ".overview",
    "antenna_positions": ".overview",
    "uv_coverage": ".overview",
    "elevation": ".overview",
    "amp_phase": ".visibilities",
    "flux": ".visibilities",
    "flag_summary": ".flagging",
    "qa_stages": ".weblog_qa",
    "image_plane": ".image",
    "comparison": ".image",
    "sky_panels": ".image_compare",
    "spectra_plot": ".image_compare",
    "spectrum_plot": ".spectrum",
    "beam_plot": ".spectrum",
    "continuum_ranges_plot": ".continuum",
    "tp_spectra": ".singledish",
    "tp_power_vs_time": ".singledish",
    "tp_map_coverage": ".singledish",
}

#: reductions that used to live here -> their home in almaview.analysis (deprecated aliases)
_MOVED = {
    "reduce_visibilities": "almaview.analysis",
    "flag_fractions": "almaview.analysis",
    "region_spectrum": "almaview.analysis",
    "moment": "almaview.analysis",
}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, moved=_MOVED)


@dataclass
class Panel:
    """A built plot: ``layout`` (Bokeh LayoutDOM), ``data`` (what was plotted), ``sources`` (for in-place updates),
    ``title``, and ``kind``: the builder that made it ('tsys', 'bandpass', 'gains', 'delay', 'amp_phase', ...),
    so callers dispatch on it instead of parsing titles.

    ``data`` is a pandas DataFrame for tables of points; image panels hold an ``xarray.Dataset`` of the shown
    pixel grid (``.to_dataframe()`` gives the table), comparisons an ``xarray.DataTree`` (one node per image).

    Examples
    --------
    >>> from bokeh.plotting import figure
    >>> fig = figure()
    >>> import pandas as pd
    >>> p = Panel(fig, pd.DataFrame({"x": [1], "y": [2]}))
    >>> list(p.data.columns)
    ['x', 'y']
    >>> Panel(fig, pd.DataFrame(), kind="tsys").kind
    'tsys'

    """

    layout: Any
    data: Any  # pd.DataFrame | xr.Dataset | xr.DataTree
    sources: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    kind: str = ""

    def _ipython_display_(self) -> None:  # pragma: no cover - exercised in the browser tests
        # Shown like bokeh.io.show: a div that grows with the panel (a fixed-height frame cut tall panels) and
        # BokehJS published once per page, not inlined in every panel. Display is the Jupyter layer's job.
        from ..widgets._bokeh import show_standalone

        show_standalone(self.layout)

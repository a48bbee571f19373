"""The continuum-range editor's figure: a spectrum (one step line per EB) with cont.dat ranges as vertical strips.

Pure: a spectrum table (:func:`almaview.imaging.ms_spectrum`, or any table with ``frequency`` in Hz and a value
column) and ranges in Hz in, a :class:`~almaview.plots.Panel` out. The ranges live in the ColumnDataSource
``sources['ranges']`` (``left``/``right`` in GHz), edited in the browser by a BoxEditTool: shift-drag adds a
range, drag moves one, tap + Backspace deletes it. ``xbox_select`` selects channels of ``sources['spectrum']``
(for the widget's "add selection" / "remove selection").

Examples
--------
>>> import pandas as pd
>>> from almaview.plots.continuum import continuum_ranges_plot
>>> s = pd.DataFrame({"frequency": [230.0e9, 230.1e9, 230.2e9], "amplitude": [1.0, 5.0, 1.0]})
>>> p = continuum_ranges_plot(s, [(229.95e9, 230.05e9)])
>>> p.sources["ranges"].data["left"], p.data["in_range"].tolist()
([229.95], [True, False, False])
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from . import Panel
from ._common import PALETTE, hover_tool

__all__ = ["continuum_ranges_plot", "ranges_data", "step_lines", "channel_halfwidth"]

RANGE_COLOUR = "#ff7f0e"


def channel_halfwidth(freqs_hz: np.ndarray) -> float:
    """Half the median channel spacing (Hz) of a frequency axis (0 for a single channel).

    Examples
    --------
    >>> channel_halfwidth(np.array([1.0, 3.0, 5.0]))
    1.0
    """
    f = np.sort(np.asarray(freqs_hz, dtype=float))
    return float(np.median(np.diff(f)) / 2) if f.size > 1 else 0.0


def ranges_data(ranges: Sequence[tuple[float, float]]) -> dict[str, list[float]]:
    """The ``ranges`` source's columns for ranges in Hz: ``left``/``right`` in GHz, sorted.

    Examples
    --------
    >>> ranges_data([(230.2e9, 230.1e9)])
    {'left': [230.1], 'right': [230.2]}
    """
    r = sorted((min(a, b) / 1e9, max(a, b) / 1e9) for a, b in ranges)
    return {"left": [a for a, _ in r], "right": [b for _, b in r]}


def step_lines(spectrum: pd.DataFrame, y: str = "amplitude", by: str = "eb") -> dict[str, list]:
    """Staircase outlines (one per ``by`` group) of a spectrum: ``xs`` (GHz), ``ys``, ``label``, ``colour``.

    Each channel is drawn flat over its width (edges halfway to its neighbours), as a step plot would.

    Examples
    --------
    >>> d = step_lines(pd.DataFrame({"frequency": [1e9, 2e9], "amplitude": [1.0, 2.0]}))
    >>> d["xs"][0], d["ys"][0]
    ([0.5, 1.5, 1.5, 2.5], [1.0, 1.0, 2.0, 2.0])
    """
    out: dict[str, list] = {"xs": [], "ys": [], "label": [], "colour": []}
    groups = spectrum.groupby(by, sort=True) if by in spectrum else [("", spectrum)]
    for i, (label, g) in enumerate(groups):
        g = g.sort_values("frequency")
        f = g["frequency"].to_numpy(dtype=float) / 1e9
        v = g[y].to_numpy(dtype=float)
        if f.size == 0:
            continue
        half = np.diff(f) / 2
        lo = np.concatenate([[f[0] - (half[0] if half.size else 0.0)], f[1:] - half])
        hi = np.concatenate([f[:-1] + half, [f[-1] + (half[-1] if half.size else 0.0)]])
        out["xs"].append(np.stack([lo, hi], axis=1).ravel().tolist())
        out["ys"].append(np.repeat(v, 2).tolist())
        out["label"].append(str(label))
        out["colour"].append(PALETTE[i % len(PALETTE)])
    return out


def _in_ranges(freqs_hz: np.ndarray, ranges: Sequence[tuple[float, float]]) -> np.ndarray:
    inside = np.zeros(freqs_hz.size, bool)
    for a, b in ranges:
        inside |= (freqs_hz >= min(a, b)) & (freqs_hz <= max(a, b))
    return inside


def continuum_ranges_plot(
    spectrum: pd.DataFrame,
    ranges: Sequence[tuple[float, float]] = (),
    *,
    title: str = "continuum ranges",
    y: str = "amplitude",
    width: int = 760,
    height: int = 320,
) -> Panel:
    """Spectrum (step lines per EB) vs frequency (GHz) with continuum ranges (Hz) as editable vertical strips.

    ``sources``: 'ranges' (``left``/``right`` GHz; a BoxEditTool edits it), 'spectrum' (one point per channel
    and EB: ``x`` GHz, ``y``, ``channel``, ``eb``; ``xbox_select`` selects its channels), 'lines' (the step
    outlines). ``data`` is the spectrum as plotted, with ``x`` (GHz) and ``in_range`` (channel centre inside a
    range).

    Examples
    --------
    >>> s = pd.DataFrame({"frequency": [1e9, 2e9], "amplitude": [0.0, 1.0], "units": "Jy"})
    >>> sorted(continuum_ranges_plot(s, [(1.2e9, 1.5e9)]).sources)
    ['lines', 'ranges', 'spectrum']
    """
    from bokeh.models import BoxEditTool, BoxSelectTool, ColumnDataSource

    from ._common import figure

    df = spectrum.reset_index(drop=True).copy()
    if y not in df:
        y = "value" if "value" in df else y
    freqs = df["frequency"].to_numpy(dtype=float) if len(df) else np.zeros(0)
    df["x"] = freqs / 1e9
    df["in_range"] = _in_ranges(freqs, ranges)
    unit = str(df["units"].iloc[0]) if "units" in df and len(df) else ""
    frame = str(spectrum.attrs.get("frame", "")) if hasattr(spectrum, "attrs") else ""
    xlabel = f"frequency (GHz, {frame or 'frame not given'})"
    fig = figure(
        title,
        xlabel,
        f"{y.replace('_', ' ')}{' (' + unit + ')' if unit else ''}",
        width=width,
        height=height,
        tools="pan,wheel_zoom,box_zoom,reset,save",
    )
    rsrc = ColumnDataSource(ranges_data(ranges), name="ranges")
    strips = fig.vstrip(
        x0="left",
        x1="right",
        source=rsrc,
        fill_color=RANGE_COLOUR,
        fill_alpha=0.25,
        line_color=RANGE_COLOUR,
        line_alpha=0.6,
        name="ranges",
    )
    lines = ColumnDataSource(step_lines(df, y), name="lines")
    fig.multi_line("xs", "ys", source=lines, line_color="colour", line_width=1.5, legend_field="label")
    spec = ColumnDataSource(
        {
            "x": df["x"].to_numpy(),
            "y": df[y].to_numpy(dtype=float),
            "channel": df["channel"].to_numpy() if "channel" in df else np.arange(len(df)),
            "eb": df["eb"].astype(str).to_numpy() if "eb" in df else np.full(len(df), ""),
        },
        name="spectrum",
    )
    points = fig.scatter(
        "x",
        "y",
        source=spec,
        size=3,
        fill_alpha=0.0,
        line_alpha=0.0,
        selection_fill_color="black",
        selection_fill_alpha=1.0,
        selection_line_alpha=0.0,
        nonselection_fill_alpha=0.0,
        nonselection_line_alpha=0.0,
        name="channels",
    )
    edit = BoxEditTool(
        renderers=[strips],
        empty_value=0.0,
        description="continuum ranges: shift-drag to add, drag to move, tap + Backspace to delete",
    )
    select = BoxSelectTool(renderers=[points], dimensions="width", description="select channels (x range)")
    fig.add_tools(
        edit,
        select,
        hover_tool([points], tooltips=[("channel", "@channel"), ("EB", "@eb"), ("GHz", "@x{0.000000}"), (y, "@y")]),
    )
    fig.toolbar.active_drag = edit  # shift-drag adds a range, drag moves one; the box select is one click away
    fig.toolbar.active_tap = edit  # tap a range, then Backspace deletes it
    if fig.legend:
        fig.legend.location = "top_left"
        fig.legend.click_policy = "hide"
        fig.legend.label_text_font_size = "8pt"
    return Panel(fig, df, {"ranges": rsrc, "spectrum": spec, "lines": lines}, title=title, kind="continuum_ranges")

"""Spectra of images and MSs (with continuum ranges shaded), and the beam/sensitivity vs robust plot.

Examples
--------
>>> s = pd.DataFrame({"frequency": [1e9, 2e9], "value": [0.0, 1.0], "units": "Jy"})
>>> spectrum_plot(s).sources["spectrum"].data["x"].tolist()
[1.0, 2.0]
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from . import Panel

__all__ = ["spectrum_plot", "beam_plot"]


def spectrum_plot(
    spectrum: pd.DataFrame,
    *,
    ranges: Sequence[tuple[float, float]] = (),
    axis: str = "frequency",
    title: str = "spectrum",
    width: int = 520,
) -> Panel:
    """A spectrum (from :func:`almaview.analysis.region_spectrum` or an MS average) with continuum ranges (Hz,
    in the spectrum's frame) shaded; the x axis names the frame (``spectrum.attrs['frame']``, e.g. LSRK).

    ``sources['ranges']`` holds the shaded boxes (left, right in GHz) for a BoxEditTool.

    Examples
    --------
    >>> s = pd.DataFrame({"frequency": [1e9, 2e9], "value": [0.0, 1.0], "units": "Jy"})
    >>> spectrum_plot(s, ranges=[(1.2e9, 1.5e9)]).sources["ranges"].data["left"]
    [1.2]
    """
    from bokeh.models import BoxAnnotation, ColumnDataSource  # noqa: F401
    from bokeh.plotting import figure

    unit = str(spectrum["units"].iloc[0]) if "units" in spectrum and len(spectrum) else ""
    xcol = axis if axis in spectrum else "frequency"
    xs = spectrum[xcol].to_numpy() / (1e9 if xcol == "frequency" else 1.0)
    src = ColumnDataSource({"x": xs, "value": spectrum["value"].to_numpy()}, name="spectrum")
    frame = str(getattr(spectrum, "attrs", {}).get("frame", "") or "frame not given")
    fig = figure(
        width=width,
        height=260,
        title=title,
        x_axis_label=f"frequency (GHz, {frame})" if xcol == "frequency" else f"velocity (km/s, {frame})",
        y_axis_label=unit,
        tools="pan,wheel_zoom,box_zoom,reset,save,xbox_select",
    )
    fig.step("x", "value", source=src, mode="center")
    r = [(min(a, b) / 1e9, max(a, b) / 1e9) for a, b in ranges]
    vals = spectrum["value"].to_numpy(dtype=float)
    top = float(np.nanmax(vals)) if vals.size and np.isfinite(vals).any() else 1.0
    bottom = float(np.nanmin(vals)) if vals.size and np.isfinite(vals).any() else 0.0
    rsrc = ColumnDataSource(
        {
            "left": [a for a, _ in r],
            "right": [b for _, b in r],
            "x": [(a + b) / 2 for a, b in r],
            "width": [b - a for a, b in r],
            "y": [(top + bottom) / 2] * len(r),
            "height": [top - bottom or 1.0] * len(r),
        },
        name="ranges",
    )
    fig.rect(
        "x", "y", width="width", height="height", source=rsrc, fill_color="orange", fill_alpha=0.25, line_color=None
    )
    return Panel(fig, spectrum.assign(x=xs), {"spectrum": src, "ranges": rsrc}, title=title, kind="spectrum")


def beam_plot(
    table: pd.DataFrame,
    *,
    requested_beam: float | None = None,
    requested_rms: float | None = None,
    natural_rms: float | None = None,
    width: int = 420,
) -> Panel:
    """Beam (major/minor, arcsec) and relative sensitivity vs robust, from :func:`almaview.imaging.sweep`,
    with the README's requested beam and rms drawn in (rms needs ``natural_rms`` to be placed).

    Examples
    --------
    >>> t = pd.DataFrame({"robust": [-2.0, 2.0], "major": [1.0, 2.0], "minor": [0.8, 1.6],
    ...                   "relative_sensitivity": [2.0, 1.0], "uvtaper_arcsec": [None, None]})
    >>> list(beam_plot(t, requested_beam=1.5).data.columns)[:3]
    ['robust', 'major', 'minor']
    """
    from bokeh.layouts import row
    from bokeh.models import ColumnDataSource, Span
    from bokeh.plotting import figure

    t = table[pd.to_numeric(table["robust"], errors="coerce").notna()].copy()
    t["robust"] = t["robust"].astype(float)
    f1 = figure(width=width, height=280, title="beam vs robust", x_axis_label="robust", y_axis_label="FWHM (arcsec)")
    f2 = figure(
        width=width,
        height=280,
        title="noise vs robust",
        x_axis_label="robust",
        y_axis_label="noise / natural" if natural_rms is None else "predicted rms (Jy/beam)",
    )
    colours = ["navy", "firebrick", "green", "purple"]
    sources = {}
    for i, (taper, g) in enumerate(t.groupby(t["uvtaper_arcsec"].fillna(0.0), sort=True)):
        label = "no taper" if taper == 0 else f'taper {taper:g}"'
        s = ColumnDataSource(g.assign(noise=g.relative_sensitivity * (natural_rms or 1.0)))
        c = colours[i % len(colours)]
        f1.line("robust", "major", source=s, color=c, legend_label=f"major, {label}")
        f1.line("robust", "minor", source=s, color=c, line_dash="dashed", legend_label=f"minor, {label}")
        f2.line("robust", "noise", source=s, color=c, legend_label=label)
        f2.scatter("robust", "noise", source=s, color=c)
        sources[label] = s
    if requested_beam:
        f1.add_layout(Span(location=requested_beam, dimension="width", line_color="orange", line_width=2))
    if requested_rms and natural_rms:
        f2.add_layout(Span(location=requested_rms, dimension="width", line_color="orange", line_width=2))
    return Panel(row(f1, f2), t, sources, title="beam and sensitivity vs robust", kind="beam")

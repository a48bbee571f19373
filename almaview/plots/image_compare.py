"""Images of one source from different arrays side by side, matched on the sky, and their spectra at one position.

- :func:`sky_panels`: one :func:`~almaview.plots.image.image_plane` per image (its own colour scale and colour
  bar in its own unit, its own RA/Dec labels from its own WCS), with pan/zoom linked through the sky: each
  panel's offsets are its own image's, and the browser moves every other panel's ranges by the offset between
  the images' centres (astropy WCS), so the panels show the same piece of sky however their grids differ.
- :func:`spectra_plot`: the spectra of :func:`almaview.analysis.sky_spectra.spectra_at`, one line per image with
  a legend entry naming the image and its unit, updated in place for another position.

Pure: the images' planes are read by :mod:`almaview.analysis`; nothing here reacts to clicks (that is
:mod:`almaview.widgets.sky_compare`).

Examples
--------
>>> import almaview as av
>>> panel = sky_panels({"TP": av.open_image("tp.sd.fits"), "12m+7m": av.open_image("int.fits")})   # doctest: +SKIP
>>> panel.data["shifts"]                                                                            # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np  # noqa: F401 (the docstring examples use it)
import pandas as pd
import xarray as xr

from ..analysis.image import pixel_scale_arcsec
from ..analysis.sky_spectra import sky_position, sky_to_pixel
from . import Panel
from .image import image_plane

__all__ = ["sky_panels", "sky_offsets", "offset_position", "spectra_plot", "update_spectra", "LINK_JS", "COLOURS"]

#: One colour per image, in order (Okabe-Ito: distinguishable for colour-blind readers).
COLOURS = ("#000000", "#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")

#: On a range's start/end change: every other panel's range = this one's, moved by the difference of the panels'
#: sky shifts. The tolerance stops the echo (the others' changes come back here equal within rounding).
LINK_JS = """
const start = cb_obj.start - shifts[me], end = cb_obj.end - shifts[me];
for (let i = 0; i < ranges.length; i++) {
  if (i === me) continue;
  const s = start + shifts[i], e = end + shifts[i], r = ranges[i];
  const tol = 1e-9 * Math.max(1.0, Math.abs(e - s));
  if (Math.abs(r.start - s) > tol || Math.abs(r.end - e) > tol) r.setv({start: s, end: e});
}
"""


def _centre(image: xr.DataArray) -> tuple[float, float]:
    """The pixel at offset (0, 0) of an image panel (see :func:`almaview.plots.sky.geometry`)."""
    return image.sizes["x"] / 2.0, image.sizes["y"] / 2.0


def sky_offsets(image: xr.DataArray, ra: float, dec: float) -> tuple[float, float]:
    """The offsets (arcsec, east to the left) of the sky position ``ra``, ``dec`` (ICRS, deg) in the frame of an
    :func:`~almaview.plots.image.image_plane` of ``image`` (offset 0 at its centre).

    Examples
    --------
    >>> from astropy.wcs import WCS
    >>> w = WCS(naxis=2); w.wcs.ctype = ["RA---SIN", "DEC--SIN"]; w.wcs.crval = [10.0, -20.0]
    >>> w.wcs.crpix = [5.0, 5.0]; w.wcs.cdelt = [-1e-3, 1e-3]; w.wcs.radesys = "ICRS"
    >>> im = xr.DataArray(np.zeros((8, 8)), dims=("y", "x"), attrs={"wcs": w})
    >>> [round(v, 2) + 0.0 for v in sky_offsets(im, 10.0, -19.999)]
    [0.0, 3.6]
    """
    x, y = sky_to_pixel(image, ra, dec)
    cx, cy = _centre(image)
    dx, dy = pixel_scale_arcsec(image)
    return float(-(x - cx) * dx), float((y - cy) * dy)


def offset_position(image: xr.DataArray, ox: float, oy: float) -> tuple[float, float]:
    """The sky position (ICRS RA, Dec in deg) at offsets ``ox``, ``oy`` (arcsec) of an image panel of ``image``.

    Examples
    --------
    >>> from astropy.wcs import WCS
    >>> w = WCS(naxis=2); w.wcs.ctype = ["RA---SIN", "DEC--SIN"]; w.wcs.crval = [10.0, -20.0]
    >>> w.wcs.crpix = [5.0, 5.0]; w.wcs.cdelt = [-1e-3, 1e-3]; w.wcs.radesys = "ICRS"
    >>> im = xr.DataArray(np.zeros((8, 8)), dims=("y", "x"), attrs={"wcs": w})
    >>> [round(v, 6) for v in offset_position(im, 0.0, 3.6)]
    [10.0, -19.999]
    """
    cx, cy = _centre(image)
    dx, dy = pixel_scale_arcsec(image)
    return sky_position(image, cx - ox / dx, cy + oy / dy)


def sky_panels(
    images: Mapping[str, xr.DataArray],
    *,
    channels: Mapping[str, int] | None = None,
    max_pixels: int = 512,
    width: int | None = None,
    palette: str = "Inferno256",
) -> Panel:
    """Images side by side (a Bokeh row of :func:`~almaview.plots.image.image_plane` figures), each with its own
    colour scale and unit, linked in pan/zoom through the sky (see the module docstring); a cross marks the
    position in ``sources[f"{name}_marker"]`` (empty until set).

    ``data`` is a DataFrame, one row per image: name, channel, ``shift_x``/``shift_y`` (arcsec: where the first
    image's centre lies in this image's offsets), ``ra``/``dec`` of the image's centre, ``units``.
    ``sources``: ``f"{name}_{source}"`` for every image_plane source, and the markers.

    Examples
    --------
    >>> import almaview as av
    >>> p = sky_panels({"a": av.open_image("a.fits"), "b": av.open_image("b.fits")})   # doctest: +SKIP
    >>> p.data.set_index("name").loc["b", ["shift_x", "shift_y"]]                       # doctest: +SKIP
    """
    from bokeh.layouts import row
    from bokeh.models import ColumnDataSource, CustomJS

    if not images:
        raise ValueError("sky_panels needs at least one image")
    names = list(images)
    channels = dict(channels or {})
    width = width or max(300, 960 // len(names))
    first = images[names[0]]
    ref = sky_position(first, *_centre(first))
    panels, rows = [], []
    for i, name in enumerate(names):
        image = images[name]
        ch = int(channels.get(name, 0))
        p = image_plane(image, ch, max_pixels=max_pixels, width=width, palette=palette, title=f"{name} · channel {ch}")
        sx, sy = sky_offsets(image, *ref)
        mark = ColumnDataSource({"x": [], "y": []}, name=f"{name}_marker")
        p.layout.scatter("x", "y", source=mark, marker="cross", size=18, line_width=3, color="#00FFFF")
        p.sources["marker"] = mark
        p.layout.name = f"sky_panel_{i}"
        panels.append(p)
        rows.append(
            {
                "name": name,
                "channel": ch,
                "shift_x": sx,
                "shift_y": sy,
                "ra": sky_position(image, *_centre(image))[0],
                "dec": sky_position(image, *_centre(image))[1],
                "units": str(image.attrs.get("units", "")),
            }
        )
    table = pd.DataFrame(rows)
    # Start every panel on the first image's field, each in its own offsets.
    x0, x1 = panels[0].layout.x_range.start, panels[0].layout.x_range.end
    y0, y1 = panels[0].layout.y_range.start, panels[0].layout.y_range.end
    for p, r in zip(panels[1:], rows[1:]):
        p.layout.x_range.update(start=x0 + r["shift_x"], end=x1 + r["shift_x"])
        p.layout.y_range.update(start=y0 + r["shift_y"], end=y1 + r["shift_y"])
    for axis, key in (("x_range", "shift_x"), ("y_range", "shift_y")):
        ranges = [getattr(p.layout, axis) for p in panels]
        for i, rng in enumerate(ranges):
            cb = CustomJS(args={"ranges": ranges, "shifts": [float(r[key]) for r in rows], "me": i}, code=LINK_JS)
            rng.js_on_change("start", cb)
            rng.js_on_change("end", cb)
    sources = {f"{n}_{k}": v for n, p in zip(names, panels) for k, v in p.sources.items()}
    layout = row(*(p.layout for p in panels))
    panel = Panel(layout, table, sources, title="sky comparison", kind="sky_comparison")
    panel.panels = dict(zip(names, panels))  # the image panels by name (update_plane works on each)
    return panel


def spectra_plot(
    spectra: pd.DataFrame, *, names: Sequence[str] | None = None, title: str = "spectra", width: int = 900
) -> Panel:
    """The spectra of several images at one position (a table like :func:`~almaview.analysis.spectra_at`'s), one
    line per image, legend '<image> (<unit>)', x in GHz (each image's own spectral coordinate). ``names`` fixes
    the lines (and legend entries) so another position updates ``sources[f"spectrum_{name}"]`` in place; an
    image without rows (outside its field) keeps its legend entry with no line.

    Examples
    --------
    >>> t = pd.DataFrame({"image": ["a", "a", "b", "b"], "frequency": [1e9, 2e9, 1e9, 2e9],
    ...                   "value": [1.0, 2.0, 3.0, 4.0], "units": ["Jy/beam"] * 2 + ["K"] * 2, "frame": "LSRK"})
    >>> p = spectra_plot(t)
    >>> [item.label["value"] for item in p.layout.legend[0].items]
    ['a (Jy/beam)', 'b (K)']
    """
    from bokeh.models import ColumnDataSource, Legend, LegendItem

    from ._common import figure

    names = list(names) if names is not None else list(dict.fromkeys(spectra["image"]))
    frames = sorted({str(f) for f in spectra.get("frame", pd.Series(dtype=str)) if f})
    fig = figure(
        title,
        f"frequency (GHz, {'/'.join(frames) or 'frame not given'})",
        "value (each image's unit: see the legend)",
        width=width,
        height=300,
        tools="pan,box_zoom,wheel_zoom,reset,save",
    )
    sources, items = {}, []
    for i, name in enumerate(names):
        part = spectra[spectra["image"] == name]
        unit = str(part["units"].iloc[0]) if len(part) else ""
        src = ColumnDataSource(
            {"x": part["frequency"].to_numpy(dtype=float) / 1e9, "value": part["value"].to_numpy(dtype=float)},
            name=f"spectrum_{name}",
        )
        r = fig.step("x", "value", source=src, mode="center", line_color=COLOURS[i % len(COLOURS)], line_width=2)
        sources[f"spectrum_{name}"] = src
        items.append(LegendItem(label=f"{name} ({unit})" if unit else name, renderers=[r]))
    legend = Legend(items=items, click_policy="hide", location="top_left")
    fig.add_layout(legend, "right")
    data = spectra.assign(x=spectra["frequency"].to_numpy(dtype=float) / 1e9) if len(spectra) else spectra
    return Panel(fig, data, sources, title=title, kind="spectra")


def update_spectra(panel: Panel, spectra: pd.DataFrame, *, title: str | None = None) -> Panel:
    """Show ``spectra`` (same images as the panel's) in a :func:`spectra_plot` panel, in place; legend labels
    follow the units.

    Examples
    --------
    >>> t = pd.DataFrame({"image": ["a"], "frequency": [1e9], "value": [1.0], "units": ["Jy/beam"], "frame": ""})
    >>> p = spectra_plot(t)
    >>> update_spectra(p, t.assign(value=[5.0])).sources["spectrum_a"].data["value"].tolist()
    [5.0]
    """
    legend = panel.layout.legend[0]
    for item in legend.items:
        name = item.renderers[0].data_source.name[len("spectrum_") :]
        part = spectra[spectra["image"] == name]
        item.renderers[0].data_source.data = {
            "x": part["frequency"].to_numpy(dtype=float) / 1e9,
            "value": part["value"].to_numpy(dtype=float),
        }
        if len(part) and str(part["units"].iloc[0]):
            item.label = {"value": f"{name} ({part['units'].iloc[0]})"}
    if title is not None:
        panel.layout.title.text = panel.title = title
    panel.data = spectra.assign(x=spectra["frequency"].to_numpy(dtype=float) / 1e9) if len(spectra) else spectra
    return panel

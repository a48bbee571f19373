"""Image viewer builders: pure functions from image DataArrays (``almaview.open_image``) to Bokeh Panels.

No IO here beyond computing the lazy slices the caller hands in: :func:`image_plane`
computes one channel (decimated to at most ``max_pixels`` per side), never the cube.
Colour stretch and colour map live in the browser (a ColorMapper and a CustomJS
callback) so changing them needs no kernel round-trip.

Examples
--------
>>> import almaview as av
>>> from almaview.plots.image import image_plane
>>> panel = image_plane(av.open_image("cube.pbcor.fits"), channel=30)   # doctest: +SKIP
>>> panel.data.head()                                                   # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from . import Panel

__all__ = ["image_plane", "region_spectrum", "moment", "spectrum_plot", "comparison", "beam_plot",
           "plane_slice", "STRETCHES", "velocity_axis"]

STRETCHES = ("linear", "sqrt", "log", "asinh", "percentile")
_C = 299_792_458.0
_GAUSS = math.pi / (4.0 * math.log(2.0))


def _spectral(image: xr.DataArray) -> str | None:
    return next((d for d in ("frequency", "velocity") if d in image.dims), None)


def plane_slice(image: xr.DataArray, channel: int = 0, stokes: int = 0, max_pixels: int = 1024) -> xr.DataArray:
    """The lazy 2-D (y, x) slice shown for ``channel``, decimated so neither side exceeds ``max_pixels``.

    Examples
    --------
    >>> img = xr.DataArray(np.zeros((1, 2, 4000, 10)), dims=("stokes", "frequency", "y", "x"))
    >>> plane_slice(img, channel=1).shape
    (1000, 10)
    """
    sel: dict[str, Any] = {}
    if "stokes" in image.dims:
        sel["stokes"] = stokes
    spec = _spectral(image)
    if spec:
        sel[spec] = channel
    plane = image.isel(sel)
    step = max(1, math.ceil(max(plane.sizes["y"], plane.sizes["x"]) / max_pixels))
    if step > 1:
        plane = plane.isel(y=slice(None, None, step), x=slice(None, None, step))
    return plane


def velocity_axis(frequency: np.ndarray, restfreq: float, convention: str = "radio") -> np.ndarray:
    """Velocities (km/s) of frequencies (Hz) for a rest frequency, radio or optical convention.

    Examples
    --------
    >>> velocity_axis(np.array([230.538e9]), 230.538e9).tolist()
    [0.0]
    """
    f = np.asarray(frequency, dtype=float)
    if convention == "optical":
        return _C * (restfreq / f - 1.0) / 1e3
    return _C * (1.0 - f / restfreq) / 1e3


def _beam(image: xr.DataArray, channel: int) -> tuple[float, float, float]:
    out = []
    for name in ("beam_major", "beam_minor", "beam_pa"):
        if name not in image.coords:
            return (math.nan, math.nan, math.nan)
        c = image.coords[name]
        sel = {d: (channel if d in ("frequency", "velocity") else 0) for d in c.dims}
        out.append(float(c.isel(sel).values))
    return tuple(out)  # type: ignore[return-value]


def _pixel_arcsec(image: xr.DataArray) -> tuple[float, float]:
    from astropy.wcs.utils import proj_plane_pixel_scales

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scales = proj_plane_pixel_scales(image.attrs["wcs"].celestial) * 3600.0
    return float(scales[0]), float(scales[1])


def _robust_rms(values: np.ndarray) -> float:
    v = values[np.isfinite(values)]
    if not v.size:
        return math.nan
    return 1.482602218505602 * float(np.median(np.abs(v - np.median(v))))


def image_plane(image: xr.DataArray, channel: int = 0, *, stokes: int = 0, stretch: str = "linear",
                palette: str = "Inferno256", max_pixels: int = 1024, rms: float | None = None,
                mask: xr.DataArray | None = None, pb: xr.DataArray | None = None,
                pb_levels: Sequence[float] = (0.2, 0.5), width: int = 520, title: str | None = None) -> Panel:
    """One channel of an image: colour-mapped plane, colour bar in the image unit, beam ellipse, scale bar,
    RA/Dec axes (offsets in arcsec from the centre, with RA/Dec in the hover), hover value and SNR,
    mask and pb contours.

    ``data`` holds every shown pixel: x, y (pixel indices in the full image), ra, dec (deg), value, snr.
    ``sources``: 'image', 'beam', 'mask', 'pb'; ``layout.select_one({'name': 'mapper'})`` is the colour mapper.

    Examples
    --------
    >>> import almaview as av
    >>> p = image_plane(av.open_image("cont.pbcor.fits"))      # doctest: +SKIP
    >>> p.data[["ra", "dec", "value"]].iloc[0]                 # doctest: +SKIP
    """
    from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper, LogColorMapper
    from bokeh.plotting import figure

    if stretch not in STRETCHES:
        raise ValueError(f"stretch {stretch!r}: expected one of {', '.join(STRETCHES)}")
    plane = plane_slice(image, channel, stokes, max_pixels)
    values = np.asarray(plane.values, dtype=np.float64)
    ny, nx = values.shape
    step = max(1, math.ceil(max(image.sizes["y"], image.sizes["x"]) / max_pixels))
    yi = np.arange(ny) * step
    xi = np.arange(nx) * step
    wcs = image.attrs["wcs"].celestial
    xx, yy = np.meshgrid(xi, yi)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ra, dec = wcs.pixel_to_world_values(xx, yy)
    noise = rms if rms is not None else _robust_rms(values)
    unit = str(image.attrs.get("units", ""))
    dx, dy = _pixel_arcsec(image)
    cx, cy = image.sizes["x"] / 2.0, image.sizes["y"] / 2.0
    # Offsets in arcsec, east to the left: x offset = -(x - cx) * dx.
    left, right = (cx - (-0.5)) * dx, -(xi[-1] + step - 0.5 - cx) * dx
    bottom, top = (-0.5 - cy) * dy, (yi[-1] + step - 0.5 - cy) * dy
    finite = values[np.isfinite(values)]
    lo, hi = (float(np.nanpercentile(finite, 0.5)), float(np.nanpercentile(finite, 99.5))) if finite.size else (0, 1)
    if stretch == "percentile" or lo >= hi:
        lo, hi = (lo, hi) if lo < hi else (lo - 1, lo + 1)
    else:
        lo, hi = float(finite.min()), float(finite.max())
    mapper: Any
    if stretch == "log":
        mapper = LogColorMapper(palette=palette, low=max(hi * 1e-3, 1e-12), high=max(hi, 1e-12), name="mapper",
                                nan_color="rgba(0,0,0,0)")
    else:
        mapper = LinearColorMapper(palette=palette, low=lo, high=hi, name="mapper", nan_color="rgba(0,0,0,0)")
    display = _stretch(values, stretch, lo, hi)
    # The x axis runs east to the left (reversed range): column 0 (east edge) sits at the largest offset.
    src = ColumnDataSource({"image": [display[:, ::-1]], "raw": [values[:, ::-1]], "x": [right], "y": [bottom],
                            "dw": [left - right], "dh": [top - bottom]}, name="image")
    fig = figure(width=width, height=int(width * (top - bottom) / max(abs(right - left), 1e-9)) + 40,
                 x_range=(left, right), y_range=(bottom, top), match_aspect=True,
                 title=title or f"{image.name} · channel {channel}", x_axis_label="ΔRA (arcsec, east left)",
                 y_axis_label="ΔDec (arcsec)", tools="pan,wheel_zoom,box_zoom,reset,save,tap,box_select")
    renderer = fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=src, color_mapper=mapper)
    # Hover: a pixel-centre grid source (decimated to <= 128 per side for the browser's sake).
    hs = max(1, math.ceil(max(nx, ny) / 128))
    sub = (slice(None, None, hs), slice(None, None, hs))
    hover_src = ColumnDataSource({
        "ox": (-(xx[sub] - cx) * dx).ravel(), "oy": ((yy[sub] - cy) * dy).ravel(),
        "ra": ra[sub].ravel(), "dec": dec[sub].ravel(), "value": values[sub].ravel(),
        "snr": (values[sub] / noise).ravel() if noise and noise > 0 else np.full(values[sub].size, np.nan),
        "px": xx[sub].ravel(), "py": yy[sub].ravel()}, name="hover")
    dots = fig.scatter("ox", "oy", source=hover_src, size=max(2, int(width / 128 / 2)), alpha=0.0)
    fig.add_tools(HoverTool(renderers=[dots], tooltips=[
        ("RA", "@ra{0.000000}°"), ("Dec", "@dec{0.000000}°"), ("value", f"@value{{0.000e}} {unit}"),
        ("SNR", "@snr{0.0}"), ("pixel", "(@px, @py)")]))
    fig.add_layout(ColorBar(color_mapper=mapper, title=unit, width=12), "right")
    # Beam ellipse (bottom left) and scale bar (bottom right).
    bmaj, bmin, bpa = _beam(image, channel)
    beam_src = ColumnDataSource({"x": [left - 0.1 * (left - right)], "y": [bottom + 0.1 * (top - bottom)],
                                 "w": [bmin], "h": [bmaj], "angle": [math.radians(-bpa) if bpa == bpa else 0.0]},
                                name="beam")
    if bmaj == bmaj:
        fig.ellipse("x", "y", width="w", height="h", angle="angle", source=beam_src, fill_color=None,
                    line_color="white", line_width=2)
    span = abs(left - right)
    bar = float(f"{span / 5:.1g}")
    fig.line([right + 0.05 * span + bar, right + 0.05 * span], [bottom + 0.06 * (top - bottom)] * 2,
             line_color="white", line_width=3)
    fig.text([right + 0.05 * span + bar], [bottom + 0.08 * (top - bottom)], text=[f'{bar:g}"'],
             text_color="white", text_font_size="10pt")
    sources = {"image": src, "beam": beam_src, "hover": hover_src}
    for name, over, levels, colour in (("mask", mask, (0.5,), "cyan"), ("pb", pb, tuple(pb_levels), "white")):
        if over is None:
            continue
        ov = np.asarray(plane_slice(over, min(channel, over.sizes.get(_spectral(over) or "", 1) - 1), 0,
                                    max_pixels).values, dtype=float)
        xs, ys = _contours(np.nan_to_num(ov, nan=0.0), levels, lambda c: -(c * step - cx) * dx,
                           lambda r: (r * step - cy) * dy)
        s = ColumnDataSource({"xs": xs, "ys": ys}, name=name)
        fig.multi_line("xs", "ys", source=s, line_color=colour, line_width=1.5,
                       line_dash="solid" if name == "mask" else "dashed")
        sources[name] = s
    data = pd.DataFrame({"x": xx.ravel(), "y": yy.ravel(), "ra": ra.ravel(), "dec": dec.ravel(),
                         "value": values.ravel(), "snr": values.ravel() / noise if noise else np.nan})
    renderer.name = "plane"
    return Panel(fig, data, sources, title=fig.title.text)


def _stretch(values: np.ndarray, stretch: str, lo: float, hi: float) -> np.ndarray:
    """Apply a stretch in Python for the initial display (the widget's JS callback does the same)."""
    if stretch in ("linear", "percentile", "log"):
        return values
    t = np.clip((values - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    t = np.sqrt(t) if stretch == "sqrt" else np.arcsinh(10 * t) / np.arcsinh(10)
    return lo + t * (hi - lo)


def _contours(a: np.ndarray, levels: Sequence[float], fx: Any, fy: Any) -> tuple[list, list]:
    from contourpy import contour_generator

    gen = contour_generator(z=a)
    xs, ys = [], []
    for lev in levels:
        for line in gen.lines(lev):
            xs.append(fx(line[:, 0]).tolist())
            ys.append(fy(line[:, 1]).tolist())
    return xs, ys


def region_spectrum(image: xr.DataArray, *, x: int | None = None, y: int | None = None,
                    box: tuple[int, int, int, int] | None = None, circle: tuple[float, float, float] | None = None,
                    stokes: int = 0, restfreq: float | None = None, convention: str = "radio") -> pd.DataFrame:
    """Spectrum at a pixel (image unit, e.g. Jy/beam) or summed over a region (Jy = sum / beam area in pixels).

    ``box`` = (x0, y0, x1, y1) inclusive pixel corners; ``circle`` = (x, y, radius) in pixels. Reads only
    the region's pixels of every channel. Columns: channel, frequency (Hz), velocity (km/s), value, units.

    Examples
    --------
    >>> import almaview as av
    >>> region_spectrum(av.open_image("cube.fits"), box=(60, 60, 68, 68))   # doctest: +SKIP
    """
    spec = _spectral(image)
    if spec is None:
        raise ValueError("region_spectrum needs an image with a spectral axis")
    img = image.isel(stokes=stokes) if "stokes" in image.dims else image
    unit = str(image.attrs.get("units", ""))
    if x is not None and y is not None:
        values = np.asarray(img.isel(x=int(x), y=int(y)).values, dtype=float)
    else:
        if box is not None:
            x0, y0, x1, y1 = (int(v) for v in box)
            x0, x1 = sorted((x0, x1))
            y0, y1 = sorted((y0, y1))
            cut = img.isel(x=slice(x0, x1 + 1), y=slice(y0, y1 + 1))
            sel = np.ones((y1 - y0 + 1, x1 - x0 + 1), dtype=bool)
        elif circle is not None:
            cxp, cyp, r = circle
            x0, x1 = int(math.floor(cxp - r)), int(math.ceil(cxp + r))
            y0, y1 = int(math.floor(cyp - r)), int(math.ceil(cyp + r))
            x0, y0 = max(x0, 0), max(y0, 0)
            cut = img.isel(x=slice(x0, x1 + 1), y=slice(y0, y1 + 1))
            yy, xx = np.mgrid[y0:y0 + cut.sizes["y"], x0:x0 + cut.sizes["x"]]
            sel = (xx - cxp) ** 2 + (yy - cyp) ** 2 <= r * r
        else:
            raise ValueError("give x and y, box or circle")
        data = np.asarray(cut.transpose(spec, "y", "x").values, dtype=float)
        summed = np.nansum(np.where(sel, data, 0.0), axis=(1, 2))
        beam_pix = _beam_area_pixels(image)
        if unit.lower().replace(" ", "") == "jy/beam" and np.all(np.isfinite(beam_pix)):
            values = summed / beam_pix
            unit = "Jy"
        else:
            values = summed
    freq = np.asarray(image[spec].values, dtype=float)
    rest = restfreq or float(image.attrs.get("restfreq", np.nan))
    vel = velocity_axis(freq, rest, convention) if spec == "frequency" and rest == rest else freq / 1e3
    return pd.DataFrame({"channel": np.arange(freq.size), "frequency": freq, "velocity": vel, "value": values,
                         "units": unit})


def _beam_area_pixels(image: xr.DataArray) -> np.ndarray:
    dx, dy = _pixel_arcsec(image)
    spec = _spectral(image)
    n = image.sizes[spec]
    out = np.empty(n)
    for c in range(n):
        bmaj, bmin, _ = _beam(image, c)
        out[c] = _GAUSS * bmaj * bmin / (dx * dy)
    return out


def moment(image: xr.DataArray, order: int, *, channels: slice | None = None, threshold: float | None = None,
           rms: float | None = None, nsigma: float = 3.0, stokes: int = 0,
           restfreq: float | None = None) -> xr.DataArray:
    """Moment 0 (integrated, unit x km/s), 1 (intensity-weighted velocity, km/s) or 8 (peak) over ``channels``.

    Pixels below ``threshold`` (default ``nsigma`` x ``rms``; rms = robust rms of the cube's first and last
    channels when not given) are left out. Lazy: returns a dask-backed DataArray; reduction per channel chunk.

    Examples
    --------
    >>> import almaview as av
    >>> m0 = moment(av.open_image("cube.fits"), 0, channels=slice(20, 40), rms=0.005)   # doctest: +SKIP
    >>> m0.compute()                                                                 # doctest: +SKIP
    """
    spec = _spectral(image)
    if spec is None:
        raise ValueError("moments need an image with a spectral axis")
    img = image.isel(stokes=stokes) if "stokes" in image.dims else image
    if channels is not None:
        img = img.isel({spec: channels})
    if threshold is None:
        if rms is None:
            ends = image.isel({spec: [0, image.sizes[spec] - 1]})
            if "stokes" in ends.dims:
                ends = ends.isel(stokes=stokes)
            rms = _robust_rms(np.asarray(ends.values, dtype=float).ravel())
        threshold = nsigma * rms
    freq = np.asarray(img[spec].values, dtype=float)
    rest = restfreq or float(image.attrs.get("restfreq", np.nan))
    vel = velocity_axis(freq, rest) if spec == "frequency" else freq / 1e3
    dv = float(np.abs(np.median(np.diff(vel)))) if vel.size > 1 else 1.0
    v = xr.DataArray(vel, dims=(spec,))
    kept = img.where(img >= threshold, 0.0)
    unit = str(image.attrs.get("units", ""))
    if order == 0:
        out = kept.sum(spec) * dv
        units = f"{unit} km/s"
    elif order == 1:
        out = (kept * v).sum(spec) / kept.sum(spec).where(lambda s: s != 0)
        units = "km/s"
    elif order == 8:
        out = img.max(spec)
        units = unit
    else:
        raise ValueError(f"moment {order}: expected 0, 1 or 8")
    out = out.drop_vars([c for c in out.coords if c in ("beam_major", "beam_minor", "beam_pa")], errors="ignore")
    return out.assign_attrs(units=units, wcs=image.attrs.get("wcs"), moment=order, threshold=threshold,
                            restfreq=rest)


def spectrum_plot(spectrum: pd.DataFrame, *, ranges: Sequence[tuple[float, float]] = (), axis: str = "frequency",
                  title: str = "spectrum", width: int = 520) -> Panel:
    """A spectrum (from :func:`region_spectrum` or an MS average) with continuum ranges (Hz) shaded.

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
    fig = figure(width=width, height=260, title=title, x_axis_label="frequency (GHz)" if xcol == "frequency"
                 else "velocity (km/s)", y_axis_label=unit, tools="pan,wheel_zoom,box_zoom,reset,save,xbox_select")
    fig.step("x", "value", source=src, mode="center")
    r = [(min(a, b) / 1e9, max(a, b) / 1e9) for a, b in ranges]
    vals = spectrum["value"].to_numpy(dtype=float)
    top = float(np.nanmax(vals)) if vals.size and np.isfinite(vals).any() else 1.0
    bottom = float(np.nanmin(vals)) if vals.size and np.isfinite(vals).any() else 0.0
    rsrc = ColumnDataSource({"left": [a for a, _ in r], "right": [b for _, b in r],
                             "x": [(a + b) / 2 for a, b in r], "width": [b - a for a, b in r],
                             "y": [(top + bottom) / 2] * len(r), "height": [top - bottom or 1.0] * len(r)},
                            name="ranges")
    fig.rect("x", "y", width="width", height="height", source=rsrc, fill_color="orange", fill_alpha=0.25,
             line_color=None)
    return Panel(fig, spectrum.assign(x=xs), {"spectrum": src, "ranges": rsrc}, title=title)


def beam_plot(table: pd.DataFrame, *, requested_beam: float | None = None, requested_rms: float | None = None,
              natural_rms: float | None = None, width: int = 420) -> Panel:
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
    f2 = figure(width=width, height=280, title="noise vs robust", x_axis_label="robust",
                y_axis_label="noise / natural" if natural_rms is None else "predicted rms (Jy/beam)")
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
    return Panel(row(f1, f2), t, sources, title="beam and sensitivity vs robust")


def comparison(left: xr.DataArray, right: xr.DataArray, channel: int = 0, **kwargs: Any) -> Panel:
    """Two images side by side with linked pan/zoom and a shared colour mapper (the left image's range).

    Examples
    --------
    >>> import almaview as av
    >>> comparison(av.open_image("delivered.fits"), av.open_image("reimaged.fits"))   # doctest: +SKIP
    """
    from bokeh.layouts import row

    a = image_plane(left, channel, **kwargs)
    b = image_plane(right, min(channel, right.sizes.get(_spectral(right) or "", 1) - 1), **kwargs)
    fa, fb = a.layout, b.layout
    fb.x_range = fa.x_range
    fb.y_range = fa.y_range
    mapper = fa.select_one({"name": "mapper"})
    for r in fb.select({"name": "plane"}):
        r.glyph.color_mapper = mapper
    for cb in fb.right:
        if hasattr(cb, "color_mapper"):
            cb.color_mapper = mapper
    data = pd.concat([a.data.assign(panel="left"), b.data.assign(panel="right")], ignore_index=True)
    return Panel(row(fa, fb), data, {**{f"left_{k}": v for k, v in a.sources.items()},
                                     **{f"right_{k}": v for k, v in b.sources.items()}}, title="comparison")

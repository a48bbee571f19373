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

__all__ = ["image_plane", "update_plane", "world_axis_table", "format_ra", "format_dec", "WORLD_TICK_JS", "prepare_plane", "read_plane", "plane_limits", "stretch_values",
           "stretch_palette", "colour_controls", "region_spectrum", "moment", "spectrum_plot", "comparison", "beam_plot",
           "plane_slice", "STRETCHES", "CLIPS", "PALETTES", "velocity_axis"]

STRETCHES = ("linear", "sqrt", "log", "asinh", "percentile")
PALETTES = ("Inferno256", "Viridis256", "Greys256", "Magma256", "Cividis256")
_C = 299_792_458.0
_GAUSS = math.pi / (4.0 * math.log(2.0))


def _spectral(image: xr.DataArray) -> str | None:
    return next((d for d in ("frequency", "velocity") if d in image.dims), None)


def plane_slice(image: xr.DataArray, channel: int = 0, stokes: int = 0, max_pixels: int = 1024) -> xr.DataArray:
    """The lazy 2-D (y, x) slice shown for ``channel``, decimated so neither side exceeds ``max_pixels``.

    Examples
    --------
    >>> img = xr.DataArray(np.zeros((1, 2, 4000, 10)), dims=("stokes", "frequency", "y", "x"))
    >>> plane_slice(img, channel=1).shape   # every 4th pixel on both axes
    (1000, 3)
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


def _robust_rms(values: np.ndarray, max_samples: int | None = None) -> float:
    v = values[np.isfinite(values)]
    if max_samples and v.size > max_samples:  # a regular subsample: plenty for a MAD, 4x cheaper on 1024^2
        v = v[:: math.ceil(v.size / max_samples)]
    if not v.size:
        return math.nan
    return 1.482602218505602 * float(np.median(np.abs(v - np.median(v))))


def read_plane(image: xr.DataArray, channel: int = 0, stokes: int = 0,
               max_pixels: int = 1024) -> tuple[np.ndarray, int, tuple[float, float]]:
    """The shown plane as a float32 (y, x) array decimated to at most ``max_pixels`` per side, the step, and
    the (min, max) of the full-resolution plane (NaN when it holds no finite pixel).

    Reads one plane of the file (the channel's chunk), nothing else; planes above 4096 x 4096 pixels are
    read decimated (then min/max are the decimated plane's).

    Examples
    --------
    >>> img = xr.DataArray(np.arange(8.0).reshape(1, 2, 2, 2), dims=("stokes", "frequency", "y", "x"))
    >>> values, step, (low, high) = read_plane(img, channel=1, max_pixels=1)
    >>> values.tolist(), step, low, high
    ([[4.0]], 2, 4.0, 7.0)
    """
    step = max(1, math.ceil(max(image.sizes["y"], image.sizes["x"]) / max_pixels))
    if image.sizes["y"] * image.sizes["x"] > 4096 * 4096:
        full = _compute(plane_slice(image, channel, stokes, max_pixels))
        values = full
    else:
        full = _compute(plane_slice(image, channel, stokes, max(image.sizes["y"], image.sizes["x"])))
        values = np.ascontiguousarray(full[::step, ::step]) if step > 1 else full
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN plane
        extremes = (float(np.nanmin(full)), float(np.nanmax(full))) if full.size else (math.nan, math.nan)
    return values, step, extremes


def _compute(plane: xr.DataArray) -> np.ndarray:
    """A plane's values as float32, read here (one chunk: no scheduler, no distributed client round trip)."""
    data = plane.data
    if hasattr(data, "dask"):
        data = data.compute(scheduler="sync" if data.npartitions == 1 else "threads")
    return np.asarray(data, dtype=np.float32)


#: Colour-limit choices: percent of the plane's finite pixels inside (low, high); 100 = min..max.
CLIPS = (100.0, 99.9, 99.5, 99.0, 98.0, 95.0, 90.0)
#: Entries of a stretched palette (a stretch is a resampling of the base palette on a linear mapper).
PALETTE_SIZE = 1024
_LOG_A = 1000.0
_RMS_SAMPLES = 1 << 18
_ASINH_A = 0.1


def plane_limits(values: np.ndarray, clips: Sequence[float] = CLIPS) -> dict[str, list[float]]:
    """Colour limits of a plane for each clip (percent of finite pixels kept, symmetric tails).

    Returns ``{"clip": [...], "low": [...], "high": [...]}`` (the widget's 'limits' source).

    Examples
    --------
    >>> lim = plane_limits(np.arange(1001, dtype=float), clips=(100.0, 99.0))
    >>> lim["low"], lim["high"]
    ([0.0, 5.0], [1000.0, 995.0])
    """
    finite = values[np.isfinite(values)]
    clips = [float(c) for c in clips]
    if not finite.size:
        return {"clip": clips, "low": [0.0] * len(clips), "high": [1.0] * len(clips)}
    qs = sorted({q for c in clips for q in ((100.0 - c) / 2.0, 100.0 - (100.0 - c) / 2.0)})
    pct = dict(zip(qs, np.percentile(finite, qs).astype(float).tolist()))
    low, high = [], []
    for c in clips:
        lo, hi = pct[(100.0 - c) / 2.0], pct[100.0 - (100.0 - c) / 2.0]
        if not lo < hi:
            lo, hi = lo - 1.0, lo + 1.0
        low.append(lo)
        high.append(hi)
    return {"clip": clips, "low": low, "high": high}


def stretch_values(t: np.ndarray, stretch: str) -> np.ndarray:
    """The stretch of normalised values ``t`` in [0, 1] (astropy.visualization's definitions:
    sqrt, log with a=1000, asinh with a=0.1; 'linear' and 'percentile' are the identity).

    Examples
    --------
    >>> stretch_values(np.array([0.0, 0.25, 1.0]), "sqrt").tolist()
    [0.0, 0.5, 1.0]
    """
    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    if stretch == "sqrt":
        return np.sqrt(t)
    if stretch == "log":
        return np.log(_LOG_A * t + 1.0) / np.log(_LOG_A + 1.0)
    if stretch == "asinh":
        return np.arcsinh(t / _ASINH_A) / np.arcsinh(1.0 / _ASINH_A)
    if stretch in ("linear", "percentile"):
        return t
    raise ValueError(f"stretch {stretch!r}: expected one of {', '.join(STRETCHES)}")


def stretch_palette(palette: str | Sequence[str], stretch: str, n: int = PALETTE_SIZE) -> list[str]:
    """A palette of ``n`` colours that shows ``stretch`` on a *linear* colour mapper: entry i (value
    t = (i + 0.5) / n of the way from low to high) takes the base colour at ``stretch(t)``.

    The browser computes the same (:data:`STRETCH_JS`), so changing stretch needs no kernel.

    Examples
    --------
    >>> stretch_palette(["#000000", "#ffffff"], "sqrt", n=4)
    ['#000000', '#ffffff', '#ffffff', '#ffffff']
    """
    base = _palette(palette)
    t = (np.arange(n) + 0.5) / n
    k = np.minimum(len(base) - 1, np.floor(stretch_values(t, stretch) * len(base)).astype(int))
    return [base[i] for i in k]


def _palette(palette: str | Sequence[str]) -> list[str]:
    if isinstance(palette, str):
        from bokeh import palettes

        return list(getattr(palettes, palette))
    return list(palette)


#: The browser's side of :func:`stretch_palette` and :func:`plane_limits`: sets every mapper's palette and
#: limits from the controls (palette, stretch, clip, upper) and the shown plane's 'limits' source.
STRETCH_JS = """
const base = palettes[palette.value];
const st = stretch.value;
const n = %d, la = %r, aa = %r;
function f(t) {
  t = Math.min(1, Math.max(0, t));
  if (st === "sqrt") return Math.sqrt(t);
  if (st === "log") return Math.log(la * t + 1) / Math.log(la + 1);
  if (st === "asinh") return Math.asinh(t / aa) / Math.asinh(1 / aa);
  return t;
}
const pal = [];
for (let i = 0; i < n; i++) {
  pal.push(base[Math.min(base.length - 1, Math.floor(f((i + 0.5) / n) * base.length))]);
}
const d = limits.data;
let j = 0;
for (let i = 0; i < d.clip.length; i++) { if (Math.abs(d.clip[i] - Number(clip.value)) < 1e-9) j = i; }
const lo = d.low[j];
const hi = lo + upper.value * (d.high[j] - lo);
const top = hi > lo ? hi : lo + 1e-12;
for (const m of mappers) {
  const cur = m.palette || [];
  const attrs = cur.length === pal.length && cur.every((c, i) => c === pal[i]) ? {} : {palette: pal};
  if (m.low !== lo) attrs.low = lo;
  if (m.high !== top) attrs.high = top;
  if (!Object.keys(attrs).length) continue;
  if (!m.setv) { Object.assign(m, attrs); continue; }
  // Silently, then one change signal: a plain setv recolours the whole plane once per changed property and
  // once more for the mapper's own re-emit (3-4 times for low + high). The kernel does not need these values.
  m.setv(attrs, {silent: true});
  m.change.emit();
}
""" % (PALETTE_SIZE, _LOG_A, _ASINH_A)


def colour_controls(mappers: Sequence[Any], limits: Any, *, palette: str = "Inferno256", stretch: str = "linear",
                    clip: float = 100.0, palettes: Sequence[str] = PALETTES) -> tuple[Any, dict[str, Any]]:
    """Bokeh controls (colour map, stretch, clip, upper limit) acting in the browser on ``mappers``,
    with the colour limits of the ``limits`` source (:func:`plane_limits`). Returns (row, controls).

    Examples
    --------
    >>> from bokeh.models import ColumnDataSource, LinearColorMapper
    >>> lim = ColumnDataSource(plane_limits(np.arange(10.0)))
    >>> layout, c = colour_controls([LinearColorMapper()], lim)
    >>> sorted(c)
    ['clip', 'palette', 'stretch', 'upper']
    """
    from bokeh import palettes as bp
    from bokeh.layouts import row
    from bokeh.models import CustomJS, Select, Slider

    c = {
        "palette": Select(title="colour map", value=palette, options=list(palettes), width=130),
        "stretch": Select(title="stretch", value="linear" if stretch == "percentile" else stretch,
                          options=[s for s in STRETCHES if s != "percentile"], width=100),
        "clip": Select(title="clip", value=_clip_key(clip), options=[(_clip_key(v), "min–max" if v == 100 else
                                                                      f"{v:g} %") for v in CLIPS], width=100),
        "upper": Slider(title="upper limit (fraction)", start=0.02, end=1.0, value=1.0, step=0.01, width=200),
    }
    table = {p: list(getattr(bp, p)) for p in palettes}
    cb = CustomJS(args=dict(mappers=list(mappers), limits=limits, palettes=table, **c), code=STRETCH_JS)
    for name in ("palette", "stretch", "clip"):
        c[name].js_on_change("value", cb)
    c["upper"].js_on_change("value", cb)
    limits.js_on_change("data", cb)
    return row(*c.values()), c


def _clip_key(clip: float) -> str:
    return f"{float(clip):g}"


def _lazy_world(wcs: Any, xi: np.ndarray, yi: np.ndarray, chunk: int = 256) -> tuple[Any, Any]:
    """RA, Dec (deg) on the (yi, xi) pixel grid as dask arrays: computed only for the blocks read."""
    import dask.array as da

    def block(lon: bool, block_info: dict | None = None) -> np.ndarray:
        (y0, y1), (x0, x1) = block_info[None]["array-location"]
        xx, yy = np.meshgrid(xi[x0:x1], yi[y0:y1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            world = wcs.pixel_to_world_values(xx, yy)
        return np.asarray(world[0 if lon else 1], dtype=np.float64)

    import uuid

    chunks = da.core.normalize_chunks((chunk, chunk), (yi.size, xi.size))
    token = uuid.uuid4().hex  # a fresh name: tokenizing the WCS would cost more than the grid
    ra = da.map_blocks(block, True, chunks=chunks, dtype=np.float64, meta=np.empty((0, 0)), name=f"ra-{token}")
    dec = da.map_blocks(block, False, chunks=chunks, dtype=np.float64, meta=np.empty((0, 0)), name=f"dec-{token}")
    return ra, dec


def _geometry(image: xr.DataArray, step: int, nx: int, ny: int) -> dict[str, float]:
    dx, dy = _pixel_arcsec(image)
    cx, cy = image.sizes["x"] / 2.0, image.sizes["y"] / 2.0
    xlast, ylast = (nx - 1) * step, (ny - 1) * step
    # Offsets in arcsec, east to the left: x offset = -(x - cx) * dx.
    return {"dx": dx, "dy": dy, "cx": cx, "cy": cy, "step": step,
            "left": (cx + 0.5) * dx, "right": -(xlast + step - 0.5 - cx) * dx,
            "bottom": (-0.5 - cy) * dy, "top": (ylast + step - 0.5 - cy) * dy}


def world_axis_table(image: xr.DataArray, axis: str, samples: int = 257) -> dict[str, list[float]]:
    """RA (``axis='x'``, along the centre row) or Dec (``'y'``, along the centre column) in degrees at offsets
    (arcsec, the image axes' units) spanning three times the image, from the image's WCS (astropy).

    The axes' tick labels interpolate this table in the browser (:data:`WORLD_TICK_JS`): exact world coordinates
    for any projection, without shipping a WCS to JavaScript. RA is unwrapped (continuous through 0h).

    Examples
    --------
    >>> import almaview as av
    >>> t = world_axis_table(av.open_image("cont.pbcor.fits"), "x")   # doctest: +SKIP
    >>> t["offset"][128], t["world"][128]                            # doctest: +SKIP
    (0.0, 248.09)
    """
    g = _geometry(image, 1, image.sizes["x"], image.sizes["y"])
    n = image.sizes[axis]
    pix = np.linspace(-n, 2 * n, samples)
    wcs = image.attrs["wcs"].celestial
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if axis == "x":
            world = wcs.pixel_to_world_values(pix, np.full_like(pix, g["cy"]))[0]
            offset = -(pix - g["cx"]) * g["dx"]
            world = np.degrees(np.unwrap(np.radians(world)))
        else:
            world = wcs.pixel_to_world_values(np.full_like(pix, g["cx"]), pix)[1]
            offset = (pix - g["cy"]) * g["dy"]
    order = np.argsort(offset)
    return {"offset": offset[order].tolist(), "world": np.asarray(world, dtype=float)[order].tolist()}


def format_ra(deg: float, decimals: int = 2) -> str:
    """Right ascension as ``hh:mm:ss.ss`` (what :data:`WORLD_TICK_JS` shows; rounded once, so never 60 s).

    Examples
    --------
    >>> format_ra(248.0912345)
    '16:32:21.90'
    """
    total = round(((deg % 360.0) / 15.0) * 3600.0, decimals) % 86400.0
    h, rest = divmod(total, 3600.0)
    m, sec = divmod(rest, 60.0)
    return f"{int(h):02d}:{int(m):02d}:{sec:0{3 + decimals}.{decimals}f}"


def format_dec(deg: float, decimals: int = 1) -> str:
    """Declination as ``+dd:mm:ss.s`` (what :data:`WORLD_TICK_JS` shows).

    Examples
    --------
    >>> format_dec(-24.4712345)
    '-24:28:16.4'
    """
    sign = "-" if deg < 0 else "+"
    total = round(abs(deg) * 3600.0, decimals)
    d, rest = divmod(total, 3600.0)
    m, sec = divmod(rest, 60.0)
    return f"{sign}{int(d):02d}:{int(m):02d}:{sec:0{3 + decimals}.{decimals}f}"


#: Body of a Bokeh CustomJSTickFormatter: ``tick`` (offset, arcsec) -> RA or Dec text, by linear interpolation
#: of ``table`` (:func:`world_axis_table`); ``kind`` is 'ra' or 'dec'. Same rounding as format_ra/format_dec.
WORLD_TICK_JS = """
const xs = table.offset, ws = table.world;
let lo = 0, hi = xs.length - 1;
if (tick <= xs[0]) { hi = 1; } else if (tick >= xs[hi]) { lo = hi - 1; }
else { while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (xs[mid] <= tick) { lo = mid; } else { hi = mid; } } }
const w = ws[lo] + (ws[hi] - ws[lo]) * (tick - xs[lo]) / (xs[hi] - xs[lo]);
const pad = (v, n) => String(v).padStart(n, '0');
const split = (total, d) => {
  const h = Math.floor(total / 3600), m = Math.floor((total - 3600 * h) / 60);
  const s = (total - 3600 * h - 60 * m).toFixed(d);
  return pad(h, 2) + ':' + pad(m, 2) + ':' + s.padStart(3 + d, '0');
};
const round = (v, d) => Math.round(v * 10 ** d) / 10 ** d;
if (kind === 'ra') {
  return split(round((((w % 360) + 360) % 360) / 15 * 3600, 2) % 86400, 2);
}
return (w < 0 ? '-' : '+') + split(round(Math.abs(w) * 3600, 1), 1);
"""


def _world_axes(fig: Any, image: xr.DataArray) -> None:
    """Label the offset axes with RA/Dec (the frame of the WCS) through :data:`WORLD_TICK_JS`."""
    from bokeh.models import CustomJSTickFormatter

    wcs = image.attrs["wcs"].celestial
    frame = str(getattr(wcs.wcs, "radesys", "") or "ICRS").strip() or "ICRS"
    fig.xaxis.formatter = CustomJSTickFormatter(args=dict(table=world_axis_table(image, "x"), kind="ra"),
                                                code=WORLD_TICK_JS)
    fig.yaxis.formatter = CustomJSTickFormatter(args=dict(table=world_axis_table(image, "y"), kind="dec"),
                                                code=WORLD_TICK_JS)
    fig.xaxis.axis_label = f"RA ({frame})"
    fig.yaxis.axis_label = f"Dec ({frame})"
    fig.xaxis.major_label_orientation = 0.35


def _is_celestial(image: xr.DataArray) -> bool:
    wcs = image.attrs.get("wcs")
    return wcs is not None and getattr(wcs, "has_celestial", False) and wcs.celestial.naxis == 2


def _noise(values: np.ndarray, rms: float | None, mask_plane: np.ndarray | None) -> float:
    if rms is not None:
        return float(rms)
    if mask_plane is not None and mask_plane.shape == values.shape:
        return _robust_rms(values[~(np.nan_to_num(mask_plane, nan=0.0) > 0)], _RMS_SAMPLES)
    return _robust_rms(values, _RMS_SAMPLES)


def _overlay_plane(over: xr.DataArray, channel: int, max_pixels: int) -> np.ndarray:
    spec = _spectral(over)
    c = min(channel, over.sizes[spec] - 1) if spec else 0
    return _compute(plane_slice(over, c, 0, max_pixels))


def image_plane(image: xr.DataArray, channel: int = 0, *, stokes: int = 0, stretch: str = "linear",
                clip: float | None = None, palette: str = "Inferno256", max_pixels: int = 1024,
                rms: float | None = None, mask: xr.DataArray | None = None, pb: xr.DataArray | None = None,
                pb_levels: Sequence[float] = (0.2, 0.5), width: int = 520, title: str | None = None) -> Panel:
    """One channel of an image: colour-mapped plane, colour bar in the image unit, beam ellipse, scale bar,
    RA/Dec axes (data in offsets in arcsec from the centre; tick labels in RA/Dec of the image's frame), hover
    RA, Dec, value and SNR,
    mask and pb contours.

    Reads one plane (decimated to at most ``max_pixels`` per side). The mapper is linear from the plane's
    ``clip`` limits (percent of pixels kept; 100 = min..max, 99.5 for ``stretch='percentile'``); the stretch
    is in the mapper's palette (:func:`stretch_palette`), so the browser can change it without the kernel.

    ``data`` is an ``xarray.Dataset`` on the shown (decimated) grid: ``value`` (float32, image unit),
    ``snr`` (value / rms; rms = robust rms outside ``mask``, or ``rms``), coords ``x``, ``y`` (pixel indices
    in the full image) and ``ra``, ``dec`` (deg, lazy: computed when read); ``data.to_dataframe()`` is the
    table. ``sources``: 'image', 'hover' (<= 128 per side, with RA/Dec), 'beam', 'limits', 'mask', 'pb';
    ``layout.select_one({'name': 'mapper'})`` is the colour mapper. :func:`update_plane` shows another
    channel in place.

    Examples
    --------
    >>> import almaview as av
    >>> p = image_plane(av.open_image("cont.pbcor.fits"), stretch="asinh")   # doctest: +SKIP
    >>> p.data.sel(x=40, y=70)[["value", "snr"]]                             # doctest: +SKIP
    """
    from bokeh.models import ColorBar, ColumnDataSource, HoverTool, LinearColorMapper
    from bokeh.plotting import figure

    if stretch not in STRETCHES:
        raise ValueError(f"stretch {stretch!r}: expected one of {', '.join(STRETCHES)}")
    clip = float(clip if clip is not None else (99.5 if stretch == "percentile" else 100.0))
    values, step, extremes = read_plane(image, channel, stokes, max_pixels)
    ny, nx = values.shape
    g = _geometry(image, step, nx, ny)
    left, right, bottom, top = g["left"], g["right"], g["bottom"], g["top"]
    unit = str(image.attrs.get("units", ""))
    clips = sorted(set(CLIPS) | {clip}, reverse=True)
    limits = ColumnDataSource(plane_limits(values, clips), name="limits")
    j = clips.index(clip)
    mapper = LinearColorMapper(palette=stretch_palette(palette, stretch), low=limits.data["low"][j],
                               high=limits.data["high"][j], name="mapper", nan_color="rgba(0,0,0,0)")
    # The x axis runs east to the left (reversed range): column 0 (east edge) sits at the largest offset.
    src = ColumnDataSource({"image": [np.ascontiguousarray(values[:, ::-1])], "x": [right], "y": [bottom],
                            "dw": [left - right], "dh": [top - bottom]}, name="image")
    # Square pixels: the frame (not the whole figure, with its colour bar and axes) has the image's aspect.
    frame = int(width * 0.78)
    fig = figure(frame_width=frame, frame_height=max(40, int(frame * (top - bottom) / max(abs(right - left), 1e-9))),
                 x_range=(left, right), y_range=(bottom, top),
                 title=title or _title(image, channel), x_axis_label="ΔRA (arcsec, east left)",
                 y_axis_label="ΔDec (arcsec)", tools="pan,wheel_zoom,box_zoom,reset,save,tap,box_select")
    fig.tags = [{"stretch": stretch, "clip": clip, "stokes": stokes, "max_pixels": max_pixels,
                 "shape": [int(image.sizes["y"]), int(image.sizes["x"])],
                 "pb_levels": list(pb_levels), "fixed_rms": rms}]
    renderer = fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=src, color_mapper=mapper)
    renderer.name = "plane"
    if _is_celestial(image):
        _world_axes(fig, image)
    # Hover: a pixel-centre grid source (decimated to <= 128 per side for the browser's sake); RA/Dec only here.
    hs = max(1, math.ceil(max(nx, ny) / 128))
    hx, hy = np.meshgrid(np.arange(0, nx, hs) * step, np.arange(0, ny, hs) * step)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hra, hdec = image.attrs["wcs"].celestial.pixel_to_world_values(hx, hy)
    hover_src = ColumnDataSource({"ox": (-(hx - g["cx"]) * g["dx"]).ravel(), "oy": ((hy - g["cy"]) * g["dy"]).ravel(),
                                  "ra": hra.ravel(), "dec": hdec.ravel(), "px": hx.ravel(), "py": hy.ravel(),
                                  "value": np.zeros(hx.size), "snr": np.zeros(hx.size)}, name="hover")
    dots = fig.scatter("ox", "oy", source=hover_src, size=max(2, int(width / 128 / 2)), alpha=0.0,
                       selection_alpha=0.0, nonselection_alpha=0.0)
    for tool in fig.tools:  # clicks and boxes select the invisible grid, never the image (it would dim)
        if type(tool).__name__ in ("TapTool", "BoxSelectTool"):
            tool.renderers = [dots]
    fig.add_tools(HoverTool(renderers=[dots], tooltips=[
        ("RA", "@ra{0.000000}°"), ("Dec", "@dec{0.000000}°"), ("value", f"@value{{0.000e}} {unit}"),
        ("SNR", "@snr{0.0}"), ("pixel", "(@px, @py)")]))
    fig.add_layout(ColorBar(color_mapper=mapper, title=unit, width=12), "right")
    # Beam ellipse (bottom left) and scale bar (bottom right).
    beam_src = ColumnDataSource({"x": [left - 0.1 * (left - right)], "y": [bottom + 0.1 * (top - bottom)],
                                 "w": [math.nan], "h": [math.nan], "angle": [0.0]}, name="beam")
    fig.ellipse("x", "y", width="w", height="h", angle="angle", source=beam_src, fill_color=None,
                line_color="white", line_width=2)
    span = abs(left - right)
    bar = float(f"{span / 5:.1g}")
    fig.line([right + 0.05 * span + bar, right + 0.05 * span], [bottom + 0.06 * (top - bottom)] * 2,
             line_color="white", line_width=3)
    fig.text([right + 0.05 * span + bar], [bottom + 0.08 * (top - bottom)], text=[f'{bar:g}"'],
             text_color="white", text_font_size="10pt")
    sources = {"image": src, "beam": beam_src, "hover": hover_src, "limits": limits}
    for name, over, colour in (("mask", mask, "cyan"), ("pb", pb, "white")):
        if over is None:
            continue
        s = ColumnDataSource({"xs": [], "ys": []}, name=name)
        fig.multi_line("xs", "ys", source=s, line_color=colour, line_width=1.5,
                       line_dash="solid" if name == "mask" else "dashed")
        sources[name] = s
    panel = Panel(fig, xr.Dataset(), sources, title=fig.title.text)
    _fill(panel, image, channel, values, step, extremes, mask=mask, pb=pb, rms=rms, set_limits=False)
    return panel


def _mapper(fig: Any) -> Any:
    """The plane's colour mapper (found through the renderers: cheaper than a full model search)."""
    for r in fig.renderers:
        if r.name == "plane":
            return r.glyph.color_mapper
    return fig.select_one({"name": "mapper"})


def short_name(name: Any) -> str:
    """An image's name without what every product of a member shares (the ``member.uid___…`` prefix, ``.fits``),
    so figure titles fit.

    Examples
    --------
    >>> short_name("member.uid___A001_X3571_X8a.IRAS16293-2422_sci.spw0.cube.I.pbcor.fits")
    'IRAS16293-2422_sci.spw0.cube.I.pbcor'
    """
    import re

    text = re.sub(r"\.fits(\.gz)?$", "", str(name))
    return re.sub(r"^(member|oussid)\.uid___[A-Za-z0-9]+_[A-Za-z0-9]+_[A-Za-z0-9]+\.", "", text)


def _title(image: xr.DataArray, channel: int) -> str:
    name = short_name(image.name)
    spec = _spectral(image)
    return f"{name} · channel {channel}" if spec and image.sizes[spec] > 1 else name


def prepare_plane(image: xr.DataArray, channel: int, *, stokes: int = 0, max_pixels: int = 1024,
                  clips: Sequence[float] = CLIPS) -> dict[str, Any]:
    """The channel-dependent work of :func:`update_plane` that needs no panel (read the plane, its colour limits
    for ``clips``): computed ahead (e.g. the next channel, in a thread, while the browser draws) and handed to
    ``update_plane(..., prepared=...)``.

    Examples
    --------
    >>> img = xr.DataArray(np.arange(8.0).reshape(1, 2, 2, 2), dims=("stokes", "frequency", "y", "x"))
    >>> p = prepare_plane(img, 1, clips=(100.0,))
    >>> p["values"].tolist(), p["limits"]["low"], p["limits"]["high"]
    ([[4.0, 5.0], [6.0, 7.0]], [4.0], [7.0])
    """
    values, step, extremes = read_plane(image, channel, stokes, max_pixels)
    return {"channel": int(channel), "stokes": stokes, "max_pixels": max_pixels, "values": values, "step": step,
            "extremes": extremes, "clips": [float(c) for c in clips], "limits": plane_limits(values, clips),
            "noise": _robust_rms(values, _RMS_SAMPLES),  # the noise when no mask and no fixed rms are given
            "shown": np.ascontiguousarray(values[:, ::-1])}


def update_plane(panel: Panel, image: xr.DataArray, channel: int, *, mask: xr.DataArray | None = None,
                 pb: xr.DataArray | None = None, rms: float | None = None, title: str | None = None,
                 prepared: dict[str, Any] | None = None, max_pixels: int | None = None) -> Panel:
    """Show ``channel`` of ``image`` in a panel built by :func:`image_plane`, in place: reads one plane and
    updates only the sources (image, hover values/SNR, beam, limits, mask/pb contours), the mapper limits,
    the title and ``panel.data``; figures are never rebuilt. ``image`` must have the panel's geometry.
    ``prepared``: :func:`prepare_plane` of this image and channel, computed ahead (used when it matches).
    ``max_pixels``: show this channel decimated to another size than the panel's (e.g. 512 while a Play
    runs: a quarter of the bytes and of the browser's colour mapping); the hover keeps its grid.

    Examples
    --------
    >>> import almaview as av
    >>> cube = av.open_image("cube.pbcor.fits")                    # doctest: +SKIP
    >>> p = image_plane(cube, 0)                                   # doctest: +SKIP
    >>> update_plane(p, cube, 30).layout.title.text                # doctest: +SKIP
    'cube.pbcor.fits · channel 30'
    """
    tags = panel.layout.tags[0]
    shown_pixels = int(max_pixels or tags["max_pixels"])
    shape = [int(image.sizes["y"]), int(image.sizes["x"])]
    if shape != list(tags.get("shape", shape)):
        raise ValueError(f"{image.name}: image shape {tuple(shape)} differs from the panel's "
                         f"{tuple(tags['shape'])}; build a new panel")
    clips = list(panel.sources["limits"].data["clip"])
    if not (prepared and prepared["channel"] == int(channel) and prepared["stokes"] == tags["stokes"]
            and prepared["max_pixels"] == shown_pixels and prepared["clips"] == clips):
        prepared = prepare_plane(image, channel, stokes=tags["stokes"], max_pixels=shown_pixels, clips=clips)
    values, step, extremes = prepared["values"], prepared["step"], prepared["extremes"]
    src = panel.sources["image"]
    if "shape" not in tags and values.shape != src.data["image"][0].shape:
        raise ValueError(f"{image.name}: plane shape {values.shape} differs from the panel's; build a new panel")
    if values.shape == src.data["image"][0].shape:
        src.data["image"] = [prepared["shown"]]
    else:  # another decimation: the plane's corners move by up to a pixel
        g = _geometry(image, step, values.shape[1], values.shape[0])
        src.data.update(image=[prepared["shown"]], x=[g["right"]], y=[g["bottom"]], dw=[g["left"] - g["right"]],
                        dh=[g["top"] - g["bottom"]])
    if rms is None:
        rms = tags["fixed_rms"]
    if rms is None and mask is None:
        rms = prepared["noise"]  # the plane's robust rms, computed ahead
    _fill(panel, image, channel, values, step, extremes, mask=mask, pb=pb, rms=rms, set_limits=True,
          limits=prepared["limits"], max_pixels=shown_pixels)
    panel.layout.title.text = panel.title = title or _title(image, channel)
    return panel


def _fill(panel: Panel, image: xr.DataArray, channel: int, values: np.ndarray, step: int,
          extremes: tuple[float, float], *,
          mask: xr.DataArray | None, pb: xr.DataArray | None, rms: float | None, set_limits: bool,
          limits: dict[str, list[float]] | None = None, max_pixels: int | None = None) -> None:
    """Everything of a panel that depends on the channel, except the image column (set by the caller)."""
    fig, sources, tags = panel.layout, panel.sources, panel.layout.tags[0]
    ny, nx = values.shape
    g = _geometry(image, step, nx, ny)
    shown_pixels = max_pixels or tags["max_pixels"]
    mask_plane = _overlay_plane(mask, channel, shown_pixels) if mask is not None else None
    noise = _noise(values, rms, mask_plane)
    # The hover grid's pixels (full-image indices) in the shown plane: exact values at the panel's decimation,
    # the nearest shown pixel at another one. float32: half the bytes to the browser.
    px = np.asarray(sources["hover"].data["px"], dtype=np.int64)
    py = np.asarray(sources["hover"].data["py"], dtype=np.int64)
    hv = values[np.minimum(py // step, ny - 1), np.minimum(px // step, nx - 1)]
    sources["hover"].data.update(value=hv, snr=hv / noise if noise and noise > 0 else np.full(hv.size, np.nan))
    if set_limits:  # mapper first: the limits change then runs the browser's callback with the user's choices
        clips = list(sources["limits"].data["clip"])
        lim = limits if limits is not None else plane_limits(values, clips)
        j = clips.index(tags["clip"])
        _mapper(fig).update(low=lim["low"][j], high=lim["high"][j])
        sources["limits"].data = lim
    bmaj, bmin, bpa = _beam(image, channel)
    sources["beam"].data.update(w=[bmin], h=[bmaj], angle=[math.radians(-bpa) if bpa == bpa else 0.0])
    for name, over, levels in (("mask", mask, (0.5,)), ("pb", pb, tuple(tags["pb_levels"]))):
        if over is None or name not in sources:
            continue
        ov = mask_plane if name == "mask" else _overlay_plane(over, channel, shown_pixels)
        xs, ys = _contours(np.nan_to_num(np.asarray(ov, dtype=float), nan=0.0), levels,
                           lambda c: -(c * step - g["cx"]) * g["dx"], lambda r: (r * step - g["cy"]) * g["dy"])
        sources[name].data = {"xs": xs, "ys": ys}
    xi, yi = np.arange(nx) * step, np.arange(ny) * step
    old = panel.data
    if "ra" in old.coords and old.sizes.get("x") == nx and old.sizes.get("y") == ny and old.attrs.get("step") == step:
        ra, dec = old.coords["ra"].data, old.coords["dec"].data  # same grid: the lazy RA/Dec stay
    else:
        ra, dec = _lazy_world(image.attrs["wcs"].celestial, xi, yi)
    unit = str(image.attrs.get("units", ""))
    panel.data = xr.Dataset(
        {"value": (("y", "x"), values, {"units": unit}),
         "snr": (("y", "x"), values / np.float32(noise) if noise and noise > 0 else np.full_like(values, np.nan))},
        coords={"y": yi, "x": xi, "ra": (("y", "x"), ra, {"units": "deg"}), "dec": (("y", "x"), dec, {"units": "deg"})},
        attrs={"channel": int(channel), "rms": noise, "step": step, "units": unit, "image": str(image.name),
               "min": extremes[0], "max": extremes[1],
               "beam_major": bmaj, "beam_minor": bmin, "beam_pa": bpa})


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
    # One isel per read (stokes with the pixels): dask folds a single selection into the file read, not a chain.
    pick = {"stokes": stokes} if "stokes" in image.dims else {}
    img = image
    unit = str(image.attrs.get("units", ""))
    if x is not None and y is not None:
        values = np.asarray(img.isel(x=int(x), y=int(y), **pick).values, dtype=float)
    else:
        if box is not None:
            x0, y0, x1, y1 = (int(v) for v in box)
            x0, x1 = sorted((x0, x1))
            y0, y1 = sorted((y0, y1))
            cut = img.isel(x=slice(x0, x1 + 1), y=slice(y0, y1 + 1), **pick)
            sel = np.ones((y1 - y0 + 1, x1 - x0 + 1), dtype=bool)
        elif circle is not None:
            cxp, cyp, r = circle
            x0, x1 = int(math.floor(cxp - r)), int(math.ceil(cxp + r))
            y0, y1 = int(math.floor(cyp - r)), int(math.ceil(cyp + r))
            x0, y0 = max(x0, 0), max(y0, 0)
            cut = img.isel(x=slice(x0, x1 + 1), y=slice(y0, y1 + 1), **pick)
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


def comparison(*images: xr.DataArray, channel: int = 0, names: Sequence[str] | None = None,
               **kwargs: Any) -> Panel:
    """Two or more images side by side with linked pan/zoom and one shared colour mapper (limits of the
    first image), e.g. the delivered and a re-imaged continuum. ``kwargs`` go to :func:`image_plane`.

    ``data`` is an ``xarray.DataTree`` with one node per image (``names``, default 'image0', 'image1', ...);
    ``sources`` are prefixed with the node name ('image0_image', 'image1_hover', ...) and hold the first
    image's 'limits'.

    Examples
    --------
    >>> import almaview as av
    >>> comparison(av.open_image("delivered.fits"), av.open_image("reimaged.fits"))   # doctest: +SKIP
    """
    from bokeh.layouts import row

    if len(images) < 2:
        raise ValueError(f"comparison needs two or more images, got {len(images)}")
    names = list(names) if names is not None else [f"image{i}" for i in range(len(images))]
    if len(names) != len(images):
        raise ValueError(f"{len(names)} names for {len(images)} images")
    # Side by side in a notebook's width (~900 px): narrower frames, and one colour bar (the mapper is shared).
    kwargs.setdefault("width", max(280, 760 // len(images)))
    panels = [image_plane(img, min(channel, img.sizes.get(_spectral(img) or "", 1) - 1), **kwargs) for img in images]
    first = panels[0].layout
    mapper = first.select_one({"name": "mapper"})
    for p in panels[1:]:
        fig = p.layout
        fig.x_range = first.x_range
        fig.y_range = first.y_range
        for r in fig.select({"name": "plane"}):
            for g in (r.glyph, r.selection_glyph, r.nonselection_glyph, r.hover_glyph, r.muted_glyph):
                if hasattr(g, "color_mapper"):
                    g.color_mapper = mapper
        for cb in fig.right:
            if hasattr(cb, "color_mapper"):
                cb.color_mapper = mapper
    for p in panels[:-1]:
        p.layout.right = [r for r in p.layout.right if not hasattr(r, "color_mapper")]
    sources = {f"{n}_{k}": v for n, p in zip(names, panels) for k, v in p.sources.items()}
    sources["limits"] = panels[0].sources["limits"]
    tree = xr.DataTree.from_dict({n: p.data for n, p in zip(names, panels)})
    return Panel(row(*(p.layout for p in panels)), tree, sources, title="comparison")

"""Image panels: one channel of an image (colour-mapped plane, colour bar, beam, scale bar, RA/Dec axes, hover
with value and SNR, mask and pb contours), updated in place for another channel; side-by-side comparisons.

Pure drawing: the plane is read by :mod:`almaview.analysis.image` (one channel, decimated), its colour limits and
noise by :mod:`almaview.analysis.statistics`. Colour stretch and colour map live in the browser
(:mod:`almaview.plots.colour`), the RA/Dec labels in :mod:`almaview.plots.sky`. The reductions and helpers this
module used to hold keep their old names here (re-exported).

Examples
--------
>>> import almaview as av
>>> from almaview.plots.image import image_plane
>>> panel = image_plane(av.open_image("cube.pbcor.fits"), channel=30)   # doctest: +SKIP
>>> panel.data.head()                                                   # doctest: +SKIP

Why this module is long: building a plane's figure and updating it in place for another channel must agree on every
source, mapper and renderer; they are kept side by side so a change to one is seen in the other.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy as np
import xarray as xr

from ..analysis.image import (
    RMS_SAMPLES,
    channel_beam,
    moment,
    overlay_plane,
    plane_noise,  # noqa: F401
    plane_slice,
    read_plane,
    region_spectrum,
    spectral_axis,
    velocity_axis,
)
from ..analysis.statistics import CLIPS, plane_limits, plane_limits_and_rms, robust_rms
from . import Panel
from ._common import hover_tool
from .colour import (
    PALETTE_SIZE,
    PALETTES,
    STRETCH_JS,
    STRETCHES,
    clip_key,
    colour_controls,  # noqa: F401
    stretch_palette,
    stretch_values,
)
from .sky import WORLD_TICK_JS, format_dec, format_ra, geometry, is_celestial, lazy_world, world_axes  # noqa: F401
from .sky import world_axis_table  # noqa: F401
from .spectrum import beam_plot, spectrum_plot  # noqa: F401

__all__ = [
    "image_plane",
    "update_plane",
    "prepare_plane",
    "comparison",
    "short_name",
    "image_title",
    "colourbar_mapper",
    "encode_plane",
    "PLANE_DECODE_JS",
    "PLANE_COLOUR_JS",
    "PAINTLESS_GRID_JS",
    "PLANE_PUT_JS",
    # re-exported from their new homes (analysis, colour, sky, spectrum) for old code:
    "world_axis_table",
    "format_ra",
    "format_dec",
    "WORLD_TICK_JS",
    "read_plane",
    "plane_limits",
    "stretch_values",
    "stretch_palette",
    "colour_controls",
    "region_spectrum",
    "moment",
    "spectrum_plot",
    "beam_plot",
    "plane_slice",
    "STRETCHES",
    "CLIPS",
    "PALETTES",
    "velocity_axis",
    "spectral_axis",
]


def image_plane(
    image: xr.DataArray,
    channel: int = 0,
    *,
    stokes: int = 0,
    stretch: str = "linear",
    clip: float | None = None,
    palette: str = "Inferno256",
    max_pixels: int = 1024,
    rms: float | None = None,
    mask: xr.DataArray | None = None,
    pb: xr.DataArray | None = None,
    pb_levels: Sequence[float] = (0.2, 0.5),
    width: int = 520,
    title: str | None = None,
) -> Panel:
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
    from bokeh.models import ColorBar, ColumnDataSource, LinearColorMapper
    from bokeh.plotting import figure

    if stretch not in STRETCHES:
        raise ValueError(f"stretch {stretch!r}: expected one of {', '.join(STRETCHES)}")
    clip = float(clip if clip is not None else (99.5 if stretch == "percentile" else 100.0))
    values, step, extremes = read_plane(image, channel, stokes, max_pixels)
    ny, nx = values.shape
    g = geometry(image, step, nx, ny)
    left, right, bottom, top = g["left"], g["right"], g["bottom"], g["top"]
    unit = str(image.attrs.get("units", ""))
    clips = sorted(set(CLIPS) | {clip}, reverse=True)
    limits = ColumnDataSource(plane_limits(values, clips, RMS_SAMPLES), name="limits")
    j = clips.index(clip)
    mapper = LinearColorMapper(
        palette=stretch_palette(palette, stretch),
        low=limits.data["low"][j],
        high=limits.data["high"][j],
        name="mapper",
        nan_color="rgba(0,0,0,0)",
    )
    # The x axis runs east to the left (reversed range): column 0 (east edge) sits at the largest offset.
    src = ColumnDataSource(
        {
            "image": [np.ascontiguousarray(values[:, ::-1])],
            "x": [right],
            "y": [bottom],
            "dw": [left - right],
            "dh": [top - bottom],
        },
        name="image",
    )
    # Square pixels: the frame (not the whole figure, with its colour bar and axes) has the image's aspect.
    frame = int(width * 0.78)
    fig = figure(
        frame_width=frame,
        frame_height=max(40, int(frame * (top - bottom) / max(abs(right - left), 1e-9))),
        x_range=(left, right),
        y_range=(bottom, top),
        title=title or image_title(image, channel),
        x_axis_label="ΔRA (arcsec, east left)" if is_celestial(image) else "x (pixels, reversed)",
        y_axis_label="ΔDec (arcsec)" if is_celestial(image) else "y (pixels)",
        tools="pan,wheel_zoom,box_zoom,reset,save,tap,box_select",
    )
    fig.tags = [
        {
            "stretch": stretch,
            "clip": clip,
            "stokes": stokes,
            "max_pixels": max_pixels,
            "shape": [int(image.sizes["y"]), int(image.sizes["x"])],
            "pb_levels": list(pb_levels),
            "fixed_rms": rms,
        }
    ]
    renderer = fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=src, color_mapper=mapper)
    renderer.name = "plane"
    if is_celestial(image):
        world_axes(fig, image)
    # Hover: a pixel-centre grid source (decimated to <= 128 per side for the browser's sake); RA/Dec only here.
    hs = max(1, math.ceil(max(nx, ny) / 128))
    hx, hy = np.meshgrid(np.arange(0, nx, hs) * step, np.arange(0, ny, hs) * step)
    if is_celestial(image):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hra, hdec = image.attrs["wcs"].celestial.pixel_to_world_values(hx, hy)
    else:  # no sky axes (a detector image, unnamed axes): pixels only
        hra = hdec = np.full(hx.shape, np.nan)
    hover_src = ColumnDataSource(
        {
            "ox": (-(hx - g["cx"]) * g["dx"]).ravel(),
            "oy": ((hy - g["cy"]) * g["dy"]).ravel(),
            "ra": hra.ravel(),
            "dec": hdec.ravel(),
            "px": hx.ravel(),
            "py": hy.ravel(),
            "value": np.zeros(hx.size),
            "snr": np.zeros(hx.size),
        },
        name="hover",
    )
    dots = fig.scatter(
        "ox",
        "oy",
        source=hover_src,
        size=max(2, int(width / 128 / 2)),
        alpha=0.0,
        selection_alpha=0.0,
        nonselection_alpha=0.0,
    )
    for tool in fig.tools:  # clicks and boxes select the invisible grid, never the image (it would dim)
        if type(tool).__name__ in ("TapTool", "BoxSelectTool"):
            tool.renderers = [dots]
    fig.add_tools(
        hover_tool(
            [dots],
            tooltips=[
                ("RA", "@ra{0.000000}°"),
                ("Dec", "@dec{0.000000}°"),
                ("value", f"@value{{0.000e}} {unit}"),
                ("SNR", "@snr{0.0}"),
                ("pixel", "(@px, @py)"),
            ],
        )
    )
    # The colour bar has its own mapper (same palette and limits): when the kernel sends a new channel, the page's
    # colour callback sets the plane's mapper silently (the new plane is coloured once, when it arrives) and this
    # one normally (the bar redraws: 256 colours, not a million pixels).
    bar_mapper = LinearColorMapper(
        palette=mapper.palette, low=mapper.low, high=mapper.high, name="colourbar_mapper", nan_color="rgba(0,0,0,0)"
    )
    fig.add_layout(ColorBar(color_mapper=bar_mapper, title=unit, width=12), "right")
    # Beam ellipse (bottom left) and scale bar (bottom right).
    beam_src = ColumnDataSource(
        {
            "x": [left - 0.1 * (left - right)],
            "y": [bottom + 0.1 * (top - bottom)],
            "w": [math.nan],
            "h": [math.nan],
            "angle": [0.0],
        },
        name="beam",
    )
    # Visible on any background: a dark translucent fill and a dark halo under a white edge (on a white/saturated
    # plane the dark halo and fill show, on a black one the white edge does).
    fig.ellipse(
        "x",
        "y",
        width="w",
        height="h",
        angle="angle",
        source=beam_src,
        fill_color="black",
        fill_alpha=0.45,
        line_color="black",
        line_width=4,
        name="beam_halo",
    )
    fig.ellipse(
        "x",
        "y",
        width="w",
        height="h",
        angle="angle",
        source=beam_src,
        fill_color=None,
        line_color="white",
        line_width=2,
        name="beam_edge",
    )
    span = abs(left - right)
    bar = float(f"{span / 5:.1g}")
    fig.line(
        [right + 0.05 * span + bar, right + 0.05 * span],
        [bottom + 0.06 * (top - bottom)] * 2,
        line_color="white",
        line_width=3,
    )
    fig.text(
        [right + 0.05 * span + bar],
        [bottom + 0.08 * (top - bottom)],
        text=[f'{bar:g}"'],
        text_color="white",
        text_font_size="10pt",
    )
    sources = {"image": src, "beam": beam_src, "hover": hover_src, "limits": limits}
    for name, over, colour in (("mask", mask, "cyan"), ("pb", pb, "white")):
        if over is None:
            continue
        s = ColumnDataSource({"xs": [], "ys": []}, name=name)
        fig.multi_line(
            "xs", "ys", source=s, line_color=colour, line_width=1.5, line_dash="solid" if name == "mask" else "dashed"
        )
        sources[name] = s
    panel = Panel(fig, xr.Dataset(), sources, title=fig.title.text, kind="image_plane")
    _fill(panel, image, channel, values, step, extremes, mask=mask, pb=pb, rms=rms)
    return panel


#: Codes of :func:`encode_plane`: 0 is a blank (NaN/inf) pixel, 1..65535 the finite values from min to max.
PLANE_CODES = 65535


def encode_plane(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """A plane as uint16 codes for the page (half the bytes of float32): ``(codes, offset, scale)`` with code 0 a
    blank (NaN/inf) pixel and ``value = offset + (code - 1) * scale`` for codes 1..65535, offset the plane's
    minimum and scale (max - min) / 65534, so a decoded value is within half a code (1/131068 of the range) of
    the value, plus the float32 arithmetic's rounding (at most 65535 * 2**-23, 0.008 of a code). The page
    decodes them back to float32 (:data:`PLANE_DECODE_JS`) before it colours them.

    Examples
    --------
    >>> codes, offset, scale = encode_plane(np.array([[0.0, np.nan], [0.5, 1.0]], dtype=np.float32))
    >>> codes.tolist(), offset, scale == 1 / 65534
    ([[1, 0], [32768, 65535]], 0.0, True)
    """
    a = np.asarray(values)
    finite = np.isfinite(a)
    blanks = not finite.all()
    if blanks and not finite.any():
        return np.zeros(a.shape, dtype=np.uint16), 0.0, 1.0
    with warnings.catch_warnings():  # (no copy of the finite pixels: NaN-skipping min/max, inf made NaN first)
        warnings.simplefilter("ignore", RuntimeWarning)
        b = np.where(finite, a, np.nan) if blanks and np.isinf(a).any() else a
        lo, hi = float(np.nanmin(b)), float(np.nanmax(b))
    scale = (hi - lo) / (PLANE_CODES - 1) if hi > lo else 1.0
    # float32 arithmetic (codes < 2^16 keep 1/256 of a code in its 24-bit mantissa): ~4x faster than float64.
    # Rounded to the nearest code by the cast's truncation of (value - lo) / scale + 1.5 (>= 1: no negative
    # values; a tie rounds up where np.rint would round to even: still within scale / 2): four passes, not six.
    with np.errstate(invalid="ignore"):
        t = np.subtract(a, np.float32(lo), dtype=np.float32)
        t *= np.float32(1.0 / scale)
        t += np.float32(1.5)
        if blanks:
            t[~finite] = 0.0
    return t.astype(np.uint16), lo, float(scale)


#: The page's side of :func:`encode_plane` (args: ``src``, the 'image' source; ``limits``, the panel's 'limits' source):
#: wraps the source's ``setv`` once so a patch whose data holds 'image' (uint16 codes) with 'image_offset' and
#: 'image_scale' stores the decoded float32 plane (a Float32 NDArray of the codes' shape) before any view colours it;
#: hover and tests read float values. Before a new plane is stored, the colour callbacks of ``limits`` (the
#: colour controls': the mapper's limits for the new plane, set silently) run synchronously: BokehJS runs a
#: ``js_on_change`` callback in a later microtask, after the whole patch is applied, so the new plane was coloured
#: with the previous channel's limits and, the mapper being set silently, stayed so (the colour bar showed the new
#: ones). Run here again, the callback finds the mapper already set and only redraws the bar.
PLANE_DECODE_JS = """
const callbacks = () => {
  if (typeof limits === "undefined" || limits == null) return [];
  const all = limits.js_property_callbacks;
  const list = all instanceof Map ? all.get("change:data") : (all != null ? all["change:data"] : undefined);
  return list != null ? list : [];
};
if (!src.__almaview_plane_decode) {
  src.__almaview_plane_decode = true;
  for (const cb of callbacks()) if (typeof cb.compile === "function") cb.compile();  // (async, once)
  const setv = src.setv;
  const column = (data, key) => (data instanceof Map ? data.get(key) : data[key]);
  src.setv = function (attrs, options) {
    const data = attrs instanceof Map ? attrs.get("data") : (attrs != null ? attrs.data : undefined);
    if (data != null && column(data, "image") != null) {  // the mapper's limits for the new plane, first
      for (const cb of callbacks()) {
        if (cb._state != null && typeof cb.execute_sync === "function") cb.execute_sync(limits);
      }
    }
    const offs = data != null ? column(data, "image_offset") : undefined;
    const scales = data != null ? column(data, "image_scale") : undefined;
    const col = data != null ? column(data, "image") : undefined;
    if (offs != null && scales != null && col != null && col.length) {
      const codes = col[0], off = Number(offs[0]), sc = Number(scales[0]), n = codes.length;
      const old = column(src.data, "image");
      const Plane = old != null && old.length && old[0].dtype === "float32" ? old[0].constructor : null;
      // each code's value once (a 65536-entry table, 0 = NaN), then each pixel takes its code's value: the same
      // float32 as computing off + (c - 1) * sc per pixel, ~2.5x faster (no branch, no arithmetic per pixel).
      // Plain typed arrays in the loop (indexing an NDArray subclass is several times slower), then the NDArray as
      // a view of the decoded buffer (no copy)
      const keys = new Float32Array(65536);
      keys[0] = NaN;
      for (let k = 1; k < 65536; k++) keys[k] = off + (k - 1) * sc;
      const c16 = new Uint16Array(codes.buffer, codes.byteOffset, n), f32 = new Float32Array(n);
      for (let i = 0; i < n; i++) f32[i] = keys[c16[i]];
      const plane = Plane !== null ? new Plane(f32.buffer, codes.shape) : f32;
      // the codes stay with the plane: PLANE_COLOUR_JS colours it through a table of the 65536 values (keys)
      Object.defineProperty(plane, "__almaview_codes", {value: {codes: c16, off, sc, keys}, enumerable: false});
      if (data instanceof Map) {
        data.set("image", [plane]); data.delete("image_offset"); data.delete("image_scale");
      } else {
        data.image = [plane]; delete data.image_offset; delete data.image_scale;
      }
    }
    return setv.call(this, attrs, options);
  };
}
"""


#: The page's colouring of a decoded plane (args: ``mapper``, the plane's LinearColorMapper): wraps the mapper's
#: ``rgba_mapper`` once so a plane that carries its uint16 codes (:data:`PLANE_DECODE_JS`) is coloured through a
#: table: BokehJS's own mapper colours the 65536 values the codes stand for (decoded as the plane's pixels were), then
#: each pixel takes its code's colour. The same bytes as BokehJS colouring the 10^6 floats (the same values through the
#: same mapper), for ~1/15 of the per-pixel work (~35 ms of a 1024^2 change). Any other input (a plane without codes,
#: a mapper without both limits, whose colours would depend on the data) goes through BokehJS unchanged.
PLANE_COLOUR_JS = """
if (mapper != null && !mapper.__almaview_table) {
  let owner = Object.getPrototypeOf(mapper), desc;
  while (owner != null && !(desc = Object.getOwnPropertyDescriptor(owner, "rgba_mapper"))) {
    owner = Object.getPrototypeOf(owner);
  }
  if (desc != null && typeof desc.get === "function") {
    mapper.__almaview_table = {hits: 0};
    Object.defineProperty(mapper, "rgba_mapper", {
      configurable: true,
      get() {
        const inner = desc.get.call(this), self = this;
        return {
          v_compute(xs) {
            const coded = xs != null ? xs.__almaview_codes : undefined;
            if (coded === undefined || coded.codes.length !== xs.length || self.low == null || self.high == null) {
              return inner.v_compute(xs);
            }
            const {codes, keys} = coded;
            const table = new Uint32Array(inner.v_compute(keys).buffer);
            const out = new Uint32Array(codes.length);
            for (let i = 0, n = codes.length; i < n; i++) out[i] = table[codes[i]];
            self.__almaview_table.hits++;
            return new Uint8ClampedArray(out.buffer);
          },
        };
      },
    });
  }
}
"""


#: The page's hand-over of a coloured plane to its canvas (args: ``plane``, the image renderer): BokehJS's image view
#: reads the canvas's pixels back (``getImageData``, 4 MB for 1024^2) only to overwrite them all with the colours; here
#: the colours go to ``putImageData`` directly (an ``ImageData`` over the same bytes: no read-back, no copy). The same
#: pixels on the canvas; installed on the renderer's glyph views once they exist (document_ready, then at the first
#: data change, before the view colours the new plane).
PLANE_PUT_JS = """
const index = typeof window !== "undefined" && window.Bokeh ? window.Bokeh.index : null;
if (index != null && typeof index.find === "function" && typeof ImageData === "function") {
  for (const view of index.find(plane)) {
    const glyph = view.glyph;
    if (glyph == null || glyph.__almaview_put || typeof glyph._set_image_data_from_buffer !== "function") continue;
    glyph.__almaview_put = {hits: 0};
    const original = glyph._set_image_data_from_buffer;
    glyph._set_image_data_from_buffer = function (i, buf8) {
      const w = this.image_width[i], h = this.image_height[i];
      if (!(buf8 instanceof Uint8ClampedArray || buf8 instanceof Uint8Array) || buf8.length !== 4 * w * h) {
        return original.call(this, i, buf8);
      }
      const canvas = this._get_or_create_canvas(i);
      const ctx = canvas.getContext("2d", {willReadFrequently: true});
      const rgba = new Uint8ClampedArray(buf8.buffer, buf8.byteOffset, buf8.length);
      ctx.putImageData(new ImageData(rgba, w, h), 0, 0);
      this.image_data[i] = canvas;
      glyph.__almaview_put.hits++;
    };
  }
}
"""


#: The page's hover grid (args: ``grid``, the renderer of the 'hover' source) kept for hit testing but not painted:
#: its glyph views' ``_paint`` becomes a no-op (its markers are fully transparent; drawing 128 x 128 of them cost
#: 10-20 % of a channel change). Hover, tap and box selection use the spatial index, not the paint.
PAINTLESS_GRID_JS = """
const index = typeof window !== "undefined" && window.Bokeh ? window.Bokeh.index : null;
if (index != null && typeof index.find === "function") {
  for (const view of index.find(grid)) {
    const glyph = view.glyph;
    if (glyph != null && !glyph.__almaview_paintless) {
      glyph.__almaview_paintless = true;
      glyph._paint = () => {};
    }
  }
}
"""


def _mapper(fig: Any) -> Any:
    """The plane's colour mapper (found through the renderers: cheaper than a full model search)."""
    for r in fig.renderers:
        if r.name == "plane":
            return r.glyph.color_mapper
    return fig.select_one({"name": "mapper"})


def colourbar_mapper(fig: Any) -> Any:
    """The colour bar's own mapper of an :func:`image_plane` figure (None when the bar shares the plane's).

    Examples
    --------
    >>> colourbar_mapper(image_plane(av.open_image("cont.fits")).layout).name   # doctest: +SKIP
    'colourbar_mapper'
    """
    for r in fig.right:
        m = getattr(r, "color_mapper", None)
        if m is not None and m.name == "colourbar_mapper":
            return m
    return None


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


def image_title(image: xr.DataArray, channel: int) -> str:
    """An image panel's title: the image's short name and, for cubes, the channel.

    Examples
    --------
    >>> image_title(xr.DataArray(np.zeros((3, 2, 2)), dims=("frequency", "y", "x"), name="a.cube.fits"), 1)
    'a.cube · channel 1'
    """
    name = short_name(image.name)
    spec = spectral_axis(image)
    return f"{name} · channel {channel}" if spec and image.sizes[spec] > 1 else name


def prepare_plane(
    image: xr.DataArray, channel: int, *, stokes: int = 0, max_pixels: int = 1024, clips: Sequence[float] = CLIPS
) -> dict[str, Any]:
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
    limits, noise = plane_limits_and_rms(values, clips, RMS_SAMPLES)  # one sort of the plane's sample for both
    return {
        "channel": int(channel),
        "stokes": stokes,
        "max_pixels": max_pixels,
        "values": values,
        "step": step,
        "extremes": extremes,
        "clips": [float(c) for c in clips],
        "limits": limits,
        "noise": noise,  # the noise when no mask and no fixed rms are given
        "shown": np.ascontiguousarray(values[:, ::-1]),
    }


def update_plane(
    panel: Panel,
    image: xr.DataArray,
    channel: int,
    *,
    mask: xr.DataArray | None = None,
    pb: xr.DataArray | None = None,
    rms: float | None = None,
    title: str | None = None,
    prepared: dict[str, Any] | None = None,
    max_pixels: int | None = None,
    on_plane: Any = None,
) -> Panel:
    """Show ``channel`` of ``image`` in a panel built by :func:`image_plane`, in place: reads one plane and
    updates only the sources (image, hover values/SNR, beam, limits, mask/pb contours), the mapper limits,
    the title and ``panel.data``; figures are never rebuilt. ``image`` must have the panel's geometry.
    ``prepared``: :func:`prepare_plane` of this image and channel, computed ahead (used when it matches).
    ``max_pixels``: show this channel decimated to another size than the panel's (e.g. 512 while a Play
    runs: a quarter of the bytes and of the browser's colour mapping); the hover keeps its grid.
    ``on_plane``: called with no argument once the colour limits and the plane are set, before the rest (hover
    values, beam, contours, ``panel.data``, title): the image viewer sends the plane to the page there, so the page
    paints it while the kernel computes the rest.

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
        raise ValueError(
            f"{image.name}: image shape {tuple(shape)} differs from the panel's "
            f"{tuple(tags['shape'])}; build a new panel"
        )
    clips = list(panel.sources["limits"].data["clip"])
    if not (
        prepared
        and prepared["channel"] == int(channel)
        and prepared["stokes"] == tags["stokes"]
        and prepared["max_pixels"] == shown_pixels
        and prepared["clips"] == clips
    ):
        prepared = prepare_plane(image, channel, stokes=tags["stokes"], max_pixels=shown_pixels, clips=clips)
    values, step, extremes = prepared["values"], prepared["step"], prepared["extremes"]
    src = panel.sources["image"]
    if "shape" not in tags and values.shape != src.data["image"][0].shape:
        raise ValueError(f"{image.name}: plane shape {values.shape} differs from the panel's; build a new panel")
    if rms is None:
        rms = tags["fixed_rms"]
    if rms is None and mask is None:
        rms = prepared["noise"]  # the plane's robust rms, computed ahead
    # The limits first: in the page's patch they come before the plane (the colour callback sets the mapper
    # silently), then the plane, coloured once with the new limits.
    _set_limits(panel, prepared["limits"])
    if values.shape == src.data["image"][0].shape:
        src.data["image"] = [prepared["shown"]]
    else:  # another decimation: the plane's corners move by up to a pixel
        g = geometry(image, step, values.shape[1], values.shape[0])
        src.data.update(
            image=[prepared["shown"]],
            x=[g["right"]],
            y=[g["bottom"]],
            dw=[g["left"] - g["right"]],
            dh=[g["top"] - g["bottom"]],
        )
    if on_plane is not None:
        on_plane()
    _fill(panel, image, channel, values, step, extremes, mask=mask, pb=pb, rms=rms, max_pixels=shown_pixels)
    panel.layout.title.text = panel.title = title or image_title(image, channel)
    return panel


def _set_limits(panel: Panel, lim: dict[str, list[float]]) -> None:
    """A new plane's colour limits: the plane's mapper first, the colour bar's, then the 'limits' source (whose
    change runs the page's colour callback with the user's clip and upper limit)."""
    fig, sources, tags = panel.layout, panel.sources, panel.layout.tags[0]
    j = list(sources["limits"].data["clip"]).index(tags["clip"])
    _mapper(fig).update(low=lim["low"][j], high=lim["high"][j])
    bar = colourbar_mapper(fig)
    if bar is not None:
        bar.update(low=lim["low"][j], high=lim["high"][j])
    sources["limits"].data = lim


def _fill(
    panel: Panel,
    image: xr.DataArray,
    channel: int,
    values: np.ndarray,
    step: int,
    extremes: tuple[float, float],
    *,
    mask: xr.DataArray | None,
    pb: xr.DataArray | None,
    rms: float | None,
    max_pixels: int | None = None,
) -> None:
    """Everything of a panel that depends on the channel, except the image column and the colour limits (set by
    the caller)."""
    sources, tags = panel.sources, panel.layout.tags[0]
    ny, nx = values.shape
    shown_pixels = max_pixels or tags["max_pixels"]
    mask_plane = overlay_plane(mask, channel, shown_pixels) if mask is not None else None
    noise = plane_noise(values, rms, mask_plane)
    # The hover grid's pixels (full-image indices) in the shown plane: exact values at the panel's decimation,
    # the nearest shown pixel at another one. float32: half the bytes to the browser.
    px = np.asarray(sources["hover"].data["px"], dtype=np.int64)
    py = np.asarray(sources["hover"].data["py"], dtype=np.int64)
    hv = values[np.minimum(py // step, ny - 1), np.minimum(px // step, nx - 1)]
    sources["hover"].data.update(value=hv, snr=hv / noise if noise and noise > 0 else np.full(hv.size, np.nan))
    bmaj, bmin, bpa = channel_beam(image, channel)
    sources["beam"].data.update(w=[bmin], h=[bmaj], angle=[math.radians(-bpa) if bpa == bpa else 0.0])
    for name, over, levels in (("mask", mask, (0.5,)), ("pb", pb, tuple(tags["pb_levels"]))):
        if over is None or name not in sources:
            continue
        ov = mask_plane if name == "mask" else overlay_plane(over, channel, shown_pixels)
        g = geometry(image, step, nx, ny)  # (only for contours: the pixel scale is a WCS computation, ~1 ms)
        xs, ys = _contours(
            np.nan_to_num(np.asarray(ov, dtype=float), nan=0.0),
            levels,
            lambda c: -(c * step - g["cx"]) * g["dx"],
            lambda r: (r * step - g["cy"]) * g["dy"],
        )
        sources[name].data = {"xs": xs, "ys": ys}
    old = panel.data
    same_grid = "ra" in old.coords and old.sizes.get("x") == nx and old.sizes.get("y") == ny
    coords: Any = old.coords  # same grid: the coordinates (lazy RA/Dec) and their indexes as they are
    if not (same_grid and old.attrs.get("step") == step):
        xi, yi = np.arange(nx) * step, np.arange(ny) * step
        if is_celestial(image):
            ra, dec = lazy_world(image.attrs["wcs"].celestial, xi, yi)
        else:
            ra = dec = np.full((ny, nx), np.nan)
        coords = {
            "y": yi,
            "x": xi,
            "ra": (("y", "x"), ra, {"units": "deg"}),
            "dec": (("y", "x"), dec, {"units": "deg"}),
        }
    unit = str(image.attrs.get("units", ""))
    panel.data = xr.Dataset(
        {
            "value": (("y", "x"), values, {"units": unit}),
            "snr": (("y", "x"), values / np.float32(noise) if noise and noise > 0 else np.full_like(values, np.nan)),
        },
        coords=coords,
        attrs={
            "channel": int(channel),
            "rms": noise,
            "step": step,
            "units": unit,
            "image": str(image.name),
            "min": extremes[0],
            "max": extremes[1],
            "beam_major": bmaj,
            "beam_minor": bmin,
            "beam_pa": bpa,
        },
    )


def _contours(a: np.ndarray, levels: Sequence[float], fx: Any, fy: Any) -> tuple[list, list]:
    from contourpy import contour_generator

    gen = contour_generator(z=a)
    xs, ys = [], []
    for lev in levels:
        for line in gen.lines(lev):
            xs.append(fx(line[:, 0]).tolist())
            ys.append(fy(line[:, 1]).tolist())
    return xs, ys


def comparison(*images: xr.DataArray, channel: int = 0, names: Sequence[str] | None = None, **kwargs: Any) -> Panel:
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
    panels = [
        image_plane(img, min(channel, img.sizes.get(spectral_axis(img) or "", 1) - 1), **kwargs) for img in images
    ]
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
    return Panel(row(*(p.layout for p in panels)), tree, sources, title="comparison", kind="comparison")

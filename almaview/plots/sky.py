"""Sky axes of image panels: offsets in arcsec from the image centre, labelled with RA/Dec in the image's frame.

Tick labels interpolate a table of world coordinates in the browser (:data:`WORLD_TICK_JS`), computed from the
image's WCS with astropy: exact for any projection, without shipping a WCS to JavaScript.

Examples
--------
>>> format_ra(248.0912345), format_dec(-24.4712345)
('16:32:21.90', '-24:28:16.4')
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from ..analysis.image import pixel_scale_arcsec

__all__ = [
    "lazy_world",
    "geometry",
    "world_axis_table",
    "format_ra",
    "format_dec",
    "WORLD_TICK_JS",
    "world_axes",
    "is_celestial",
]


def lazy_world(wcs: Any, xi: np.ndarray, yi: np.ndarray, chunk: int = 256) -> tuple[Any, Any]:
    """RA, Dec (deg) on the (yi, xi) pixel grid as dask arrays: computed only for the blocks read.

    Examples
    --------
    >>> from astropy.wcs import WCS
    >>> w = WCS(naxis=2); w.wcs.ctype = ["RA---SIN", "DEC--SIN"]; w.wcs.crval = [10.0, -20.0]
    >>> ra, dec = lazy_world(w, np.arange(3), np.arange(2)); ra.shape
    (2, 3)
    """
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


def geometry(image: xr.DataArray, step: int, nx: int, ny: int) -> dict[str, float]:
    """Pixel sizes (arcsec), centre pixel and the shown plane's edges as offsets (arcsec, east to the left)
    for a plane of ``nx`` x ``ny`` shown pixels taken every ``step`` pixels.

    Examples
    --------
    >>> geometry(av.open_image("cont.fits"), 1, 128, 128)["left"]   # doctest: +SKIP
    """
    dx, dy = pixel_scale_arcsec(image)
    cx, cy = image.sizes["x"] / 2.0, image.sizes["y"] / 2.0
    xlast, ylast = (nx - 1) * step, (ny - 1) * step
    # Offsets in arcsec, east to the left: x offset = -(x - cx) * dx.
    return {
        "dx": dx,
        "dy": dy,
        "cx": cx,
        "cy": cy,
        "step": step,
        "left": (cx + 0.5) * dx,
        "right": -(xlast + step - 0.5 - cx) * dx,
        "bottom": (-0.5 - cy) * dy,
        "top": (ylast + step - 0.5 - cy) * dy,
    }


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
    g = geometry(image, 1, image.sizes["x"], image.sizes["y"])
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


def world_axes(fig: Any, image: xr.DataArray) -> None:
    """Label the offset axes of ``fig`` with RA/Dec (the frame of the WCS) through :data:`WORLD_TICK_JS`.

    Examples
    --------
    >>> world_axes(fig, av.open_image("cont.fits"))   # doctest: +SKIP
    """
    from bokeh.models import CustomJSTickFormatter

    wcs = image.attrs["wcs"].celestial
    frame = str(getattr(wcs.wcs, "radesys", "") or "ICRS").strip() or "ICRS"
    fig.xaxis.formatter = CustomJSTickFormatter(
        args=dict(table=world_axis_table(image, "x"), kind="ra"), code=WORLD_TICK_JS
    )
    fig.yaxis.formatter = CustomJSTickFormatter(
        args=dict(table=world_axis_table(image, "y"), kind="dec"), code=WORLD_TICK_JS
    )
    fig.xaxis.axis_label = f"RA ({frame})"
    fig.yaxis.axis_label = f"Dec ({frame})"
    fig.xaxis.major_label_orientation = 0.35


def is_celestial(image: xr.DataArray) -> bool:
    """Whether the image has a 2-D celestial WCS (RA/Dec axes can be drawn).

    Examples
    --------
    >>> is_celestial(xr.DataArray(np.zeros((2, 2)), dims=("y", "x")))
    False
    """
    wcs = image.attrs.get("wcs")
    return wcs is not None and getattr(wcs, "has_celestial", False) and wcs.celestial.naxis == 2

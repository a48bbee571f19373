"""Image reductions: planes, spectra of pixels and regions, moments, beams and pixel scales.

Everything here takes the lazy DataArray of :func:`almaview.open_image` and reads only what it needs
(one plane, one region of every channel, one channel chunk at a time for moments). The plots
(:mod:`almaview.plots.image`) show what these return.

Examples
--------
>>> import almaview as av
>>> from almaview.analysis.image import region_spectrum, moment
>>> cube = av.open_image("cube.pbcor.fits")             # doctest: +SKIP
>>> region_spectrum(cube, box=(60, 60, 68, 68)).head()   # doctest: +SKIP
>>> moment(cube, 0, channels=slice(20, 40)).compute()    # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..constants import GAUSSIAN_BEAM_FACTOR, SPEED_OF_LIGHT
from .statistics import robust_rms

__all__ = [
    "spectral_axis",
    "plane_slice",
    "read_plane",
    "compute_plane",
    "overlay_plane",
    "velocity_axis",
    "channel_beam",
    "pixel_scale_arcsec",
    "beam_area_pixels",
    "region_spectrum",
    "spectral_frame",
    "moment",
    "plane_noise",
    "RMS_SAMPLES",
]

#: values used for a plane's robust rms (a regular subsample above this: 4x cheaper on 1024^2)
RMS_SAMPLES = 1 << 18


def spectral_axis(image: xr.DataArray) -> str | None:
    """The name of the image's spectral dimension ('frequency' or 'velocity'), None for a 2-D image.

    Examples
    --------
    >>> spectral_axis(xr.DataArray(np.zeros((2, 3, 3)), dims=("frequency", "y", "x")))
    'frequency'
    >>> spectral_axis(xr.DataArray(np.zeros((3, 3)), dims=("y", "x"))) is None
    True
    """
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
    spec = spectral_axis(image)
    if spec:
        sel[spec] = channel
    for d in image.dims:  # any other axis (unnamed, 'axis4' of an old header): its first plane
        if d not in sel and d not in ("y", "x"):
            sel[d] = 0
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
        return SPEED_OF_LIGHT * (restfreq / f - 1.0) / 1e3
    return SPEED_OF_LIGHT * (1.0 - f / restfreq) / 1e3


def channel_beam(image: xr.DataArray, channel: int) -> tuple[float, float, float]:
    """(major, minor, position angle) of the restoring beam at ``channel`` (arcsec, arcsec, deg); NaNs without one.

    Examples
    --------
    >>> img = xr.DataArray(np.zeros((2, 2)), dims=("y", "x"),
    ...                    coords={"beam_major": 1.2, "beam_minor": 0.8, "beam_pa": 30.0})
    >>> channel_beam(img, 0)
    (1.2, 0.8, 30.0)
    """
    out = []
    for name in ("beam_major", "beam_minor", "beam_pa"):
        if name not in image.coords:
            return (math.nan, math.nan, math.nan)
        c = image.coords[name].variable  # (indexed as numpy: an isel per value cost ~0.3 ms per channel change)
        out.append(float(np.asarray(c.values)[tuple(channel if d in ("frequency", "velocity") else 0 for d in c.dims)]))
    return tuple(out)  # type: ignore[return-value]


def pixel_scale_arcsec(image: xr.DataArray) -> tuple[float, float]:
    """(x, y) pixel sizes in arcsec from the image's celestial WCS (``attrs['wcs']``); (1, 1) without sky axes.

    Examples
    --------
    >>> from astropy.wcs import WCS
    >>> w = WCS(naxis=2); w.wcs.ctype = ["RA---SIN", "DEC--SIN"]; w.wcs.cdelt = [-1e-4, 1e-4]
    >>> [round(v, 6) for v in pixel_scale_arcsec(xr.DataArray(np.zeros((2, 2)), dims=("y", "x"), attrs={"wcs": w}))]
    [0.36, 0.36]
    """
    from astropy.wcs.utils import proj_plane_pixel_scales

    wcs = image.attrs.get("wcs")
    if wcs is None or not wcs.has_celestial:
        return 1.0, 1.0  # no sky axes (a detector image, unnamed axes): one unit per pixel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scales = proj_plane_pixel_scales(wcs.celestial) * 3600.0
    return float(scales[0]), float(scales[1])


def read_plane(
    image: xr.DataArray, channel: int = 0, stokes: int = 0, max_pixels: int = 1024
) -> tuple[np.ndarray, int, tuple[float, float]]:
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
        full = compute_plane(plane_slice(image, channel, stokes, max_pixels))
        values = full
    else:
        full = compute_plane(plane_slice(image, channel, stokes, max(image.sizes["y"], image.sizes["x"])))
        values = np.ascontiguousarray(full[::step, ::step]) if step > 1 else full
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN plane
        extremes = (float(np.nanmin(full)), float(np.nanmax(full))) if full.size else (math.nan, math.nan)
    return values, step, extremes


def compute_plane(plane: xr.DataArray) -> np.ndarray:
    """A (lazy) plane's values as float32, read here (one chunk: no scheduler, no distributed round trip).

    Examples
    --------
    >>> compute_plane(xr.DataArray(np.ones((2, 2)), dims=("y", "x"))).dtype
    dtype('float32')
    """
    data = plane.data
    if hasattr(data, "dask"):
        data = data.compute(scheduler="sync" if data.npartitions == 1 else "threads")
    return np.asarray(data, dtype=np.float32)


def overlay_plane(over: xr.DataArray, channel: int, max_pixels: int) -> np.ndarray:
    """The plane of a mask or primary beam shown over ``channel`` (its last channel when it has fewer).

    Examples
    --------
    >>> pb = xr.DataArray(np.ones((1, 4, 4)), dims=("frequency", "y", "x"))
    >>> overlay_plane(pb, channel=5, max_pixels=2).shape
    (2, 2)
    """
    spec = spectral_axis(over)
    c = min(channel, over.sizes[spec] - 1) if spec else 0
    return compute_plane(plane_slice(over, c, 0, max_pixels))


def plane_noise(values: np.ndarray, rms: float | None = None, mask_plane: np.ndarray | None = None) -> float:
    """The noise of a shown plane: ``rms`` when given, else the robust rms of the pixels outside ``mask_plane``.

    Examples
    --------
    >>> plane_noise(np.zeros((2, 2)), rms=0.5)
    0.5
    >>> plane_noise(np.array([[1.0, 2.0], [3.0, 100.0]]), mask_plane=np.array([[0, 0], [0, 1]]))
    1.482602218505602
    """
    if rms is not None:
        return float(rms)
    if mask_plane is not None and mask_plane.shape == values.shape:
        return robust_rms(values[~(np.nan_to_num(mask_plane, nan=0.0) > 0)], RMS_SAMPLES)
    return robust_rms(values, RMS_SAMPLES)


def beam_area_pixels(image: xr.DataArray) -> np.ndarray:
    """The restoring beam's area in pixels per channel (pi / (4 ln 2) x major x minor / pixel area).

    Examples
    --------
    >>> beam_area_pixels(av.open_image("cube.fits"))[:2]   # doctest: +SKIP
    array([28.3, 28.3])
    """
    dx, dy = pixel_scale_arcsec(image)
    spec = spectral_axis(image)
    n = image.sizes[spec] if spec else 1
    out = np.empty(n)
    for c in range(n):
        bmaj, bmin, _ = channel_beam(image, c)
        out[c] = GAUSSIAN_BEAM_FACTOR * bmaj * bmin / (dx * dy)
    return out


def region_spectrum(
    image: xr.DataArray,
    *,
    x: int | None = None,
    y: int | None = None,
    box: tuple[int, int, int, int] | None = None,
    circle: tuple[float, float, float] | None = None,
    stokes: int = 0,
    restfreq: float | None = None,
    convention: str = "radio",
) -> pd.DataFrame:
    """Spectrum at a pixel (image unit, e.g. Jy/beam) or summed over a region (Jy = sum / beam area in pixels).

    ``box`` = (x0, y0, x1, y1) inclusive pixel corners; ``circle`` = (x, y, radius) in pixels. Reads only
    the region's pixels of every channel. Columns: channel, frequency (Hz), velocity (km/s), value, units;
    ``attrs['frame']`` is the spectral frame of the image (e.g. 'LSRK') when the WCS gives one.

    Examples
    --------
    >>> import almaview as av
    >>> region_spectrum(av.open_image("cube.fits"), box=(60, 60, 68, 68))   # doctest: +SKIP
    """
    spec = spectral_axis(image)
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
            yy, xx = np.mgrid[y0 : y0 + cut.sizes["y"], x0 : x0 + cut.sizes["x"]]
            sel = (xx - cxp) ** 2 + (yy - cyp) ** 2 <= r * r
        else:
            raise ValueError("give x and y, box or circle")
        data = np.asarray(cut.transpose(spec, "y", "x").values, dtype=float)
        summed = np.nansum(np.where(sel, data, 0.0), axis=(1, 2))
        beam_pix = beam_area_pixels(image)
        if unit.lower().replace(" ", "") == "jy/beam" and np.all(np.isfinite(beam_pix)):
            values = summed / beam_pix
            unit = "Jy"
        else:
            values = summed
    freq = np.asarray(image[spec].values, dtype=float)
    rest = restfreq or float(image.attrs.get("restfreq", np.nan))
    vel = velocity_axis(freq, rest, convention) if spec == "frequency" and rest == rest else freq / 1e3
    out = pd.DataFrame(
        {"channel": np.arange(freq.size), "frequency": freq, "velocity": vel, "value": values, "units": unit}
    )
    frame = spectral_frame(image)
    if frame:
        out.attrs["frame"] = frame
    return out


def spectral_frame(image: xr.DataArray) -> str:
    """The spectral reference frame of an image ('LSRK', 'TOPO', 'BARY', ...), '' when its WCS names none.

    Examples
    --------
    >>> from astropy.wcs import WCS
    >>> w = WCS(naxis=3); w.wcs.ctype = ["RA---SIN", "DEC--SIN", "FREQ"]; w.wcs.specsys = "LSRK"
    >>> spectral_frame(xr.DataArray(np.zeros((1, 1, 1)), dims=("frequency", "y", "x"), attrs={"wcs": w}))
    'LSRK'
    """
    frame = str(image.attrs.get("specsys", "") or "")
    wcs = image.attrs.get("wcs")
    if not frame and wcs is not None:
        frame = str(getattr(getattr(wcs, "wcs", None), "specsys", "") or "")
    return frame.strip().upper()


def moment(
    image: xr.DataArray,
    order: int,
    *,
    channels: slice | None = None,
    threshold: float | None = None,
    rms: float | None = None,
    nsigma: float = 3.0,
    stokes: int = 0,
    restfreq: float | None = None,
) -> xr.DataArray:
    """Moment 0 (integrated, unit x km/s), 1 (intensity-weighted velocity, km/s) or 8 (peak) over ``channels``.

    Pixels below ``threshold`` (default ``nsigma`` x ``rms``; rms = robust rms of the cube's first and last
    channels when not given) are left out. Lazy: returns a dask-backed DataArray; reduction per channel chunk.

    Examples
    --------
    >>> import almaview as av
    >>> m0 = moment(av.open_image("cube.fits"), 0, channels=slice(20, 40), rms=0.005)   # doctest: +SKIP
    >>> m0.compute()                                                                 # doctest: +SKIP
    """
    spec = spectral_axis(image)
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
            rms = robust_rms(np.asarray(ends.values, dtype=float).ravel())
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
    return out.assign_attrs(units=units, wcs=image.attrs.get("wcs"), moment=order, threshold=threshold, restfreq=rest)

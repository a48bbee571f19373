"""Image statistics: robust rms, peak, SNR and beam area, for images from :func:`open_image`.

The rms is robust: 1.4826 x the median absolute deviation from the median, taken
over the finite pixels outside ``mask`` (e.g. the clean mask, the emission) and,
for cubes, on the ``line_free`` channels only. It needs the selected pixels in
memory at once (exact median); the peak is a chunked dask reduction.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import xarray as xr

from ..constants import GAUSSIAN_BEAM_FACTOR, MAD_TO_SIGMA  # noqa: F401 (one home: almaview.constants)
from ..errors import NoFinitePixels

_SPECTRAL_DIMS = ("frequency", "velocity")

LineFree = slice | Sequence[int] | Sequence[bool] | np.ndarray | Sequence[tuple[float, float]]


@dataclass(frozen=True)
class ImageStatistics:
    """Statistics of one image; ``units`` is the image's brightness unit (e.g. 'Jy/beam')."""

    rms: float
    peak: float
    snr: float
    units: str
    n_pixels: int
    peak_position: dict[str, int] = field(default_factory=dict)
    peak_world: dict[str, Any] = field(default_factory=dict)
    beam_major_arcsec: float = math.nan
    beam_minor_arcsec: float = math.nan
    beam_pa_deg: float = math.nan
    beam_area_sr: float = math.nan
    beam_area_pixels: float = math.nan

    def as_dict(self) -> dict[str, Any]:
        """The statistics as a plain dict.

        Examples
        --------
        >>> ImageStatistics(rms=1.0, peak=5.0, snr=5.0, units="Jy/beam", n_pixels=10).as_dict()["snr"]
        5.0
        """
        return asdict(self)


def image_statistics(
    image: xr.DataArray | str | os.PathLike,
    mask: xr.DataArray | np.ndarray | str | os.PathLike | None = None,
    line_free: LineFree | None = None,
) -> ImageStatistics:
    """Robust rms (MAD outside ``mask``, on ``line_free`` channels), peak, SNR and beam area of an image.

    ``mask``: pixels that are True / non-zero are *excluded* from the rms (a
    clean mask, an emission mask); a DataArray, an array broadcastable to the
    image, or a path to a mask image. ``line_free``: channels of the spectral
    axis to use for the rms: a slice, channel indices, a boolean array, or a
    list of ``(f_low, f_high)`` frequency ranges in Hz. The peak is the maximum
    over the whole image; the beam is the one of the peak's plane (per-plane
    beams) or the single restoring beam.

    Raises :class:`~almaview.errors.NoFinitePixels` when every pixel is NaN or blank.

    Examples
    --------
    >>> import almaview as av
    >>> cube = av.open_image("member.uid___A001_X1.spw25.cube.I.pbcor.fits")   # doctest: +SKIP
    >>> s = av.image_statistics(cube, line_free=[(2.301e11, 2.302e11)])        # doctest: +SKIP
    >>> round(s.snr, 1), s.units                                              # doctest: +SKIP
    (42.0, 'Jy/beam')
    """
    import dask
    import dask.array as da

    from .image import open_image

    if not isinstance(image, xr.DataArray):
        image = open_image(image)
    excluded = _mask_like(mask, image)
    rms_part = image
    if line_free is not None:
        index = _line_free_index(image, line_free)
        spectral = _spectral_dim(image)
        rms_part = image.isel({spectral: index})
        if excluded is not None:
            excluded = excluded.isel({spectral: index})
    if excluded is not None:
        rms_part = rms_part.where(~excluded)
    data = image.data if isinstance(image.data, da.Array) else da.from_array(np.asarray(image.data))
    flat = data.reshape(-1)
    try:
        sample, peak, argpeak = dask.compute(rms_part.data, da.nanmax(flat), da.nanargmax(flat))
    except ValueError as err:  # numpy/dask: "All-NaN slice encountered"
        if "nan" not in str(err).lower():
            raise
        raise NoFinitePixels(
            image.attrs.get("source", image.name),
            "no finite pixels: every pixel is NaN or blank, so there is no peak or rms "
            "(an empty mosaic field, a fully masked or blanked image)",
        ) from err

    values = np.asarray(sample, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size:
        median = float(np.median(values))
        rms = MAD_TO_SIGMA * float(np.median(np.abs(values - median)))
    else:
        rms = math.nan
    peak = float(peak)
    position = dict(zip(image.dims, (int(i) for i in np.unravel_index(int(argpeak), image.shape))))
    world = _world_at(image, position)

    bmaj, bmin, bpa = (_beam_at(image, name, position) for name in ("beam_major", "beam_minor", "beam_pa"))
    area_sr = GAUSSIAN_BEAM_FACTOR * math.radians(bmaj / 3600.0) * math.radians(bmin / 3600.0)
    pixel_sr = _pixel_area_sr(image)
    return ImageStatistics(
        rms=rms,
        peak=peak,
        snr=peak / rms if rms > 0 else math.nan,
        units=str(image.attrs.get("units", "")),
        n_pixels=int(values.size),
        peak_position=position,
        peak_world=world,
        beam_major_arcsec=bmaj,
        beam_minor_arcsec=bmin,
        beam_pa_deg=bpa,
        beam_area_sr=area_sr,
        beam_area_pixels=area_sr / pixel_sr if pixel_sr > 0 else math.nan,
    )


def _spectral_dim(image: xr.DataArray) -> str:
    for d in _SPECTRAL_DIMS:
        if d in image.dims:
            return d
    raise ValueError(f"line_free needs a spectral axis; the image has dims {image.dims}")


def _line_free_index(image: xr.DataArray, line_free: LineFree) -> Any:
    spectral = _spectral_dim(image)
    n = image.sizes[spectral]
    if isinstance(line_free, slice):
        return line_free
    items = list(line_free)
    if items and all(isinstance(r, (tuple, list)) and len(r) == 2 for r in items):
        freq = np.asarray(image[spectral].values, dtype=float)
        keep = np.zeros(n, dtype=bool)
        for lo, hi in items:
            lo, hi = min(lo, hi), max(lo, hi)
            keep |= (freq >= lo) & (freq <= hi)
        return np.flatnonzero(keep)
    arr = np.asarray(items)
    if arr.dtype == bool:
        if arr.size != n:
            raise ValueError(f"line_free has {arr.size} booleans; the {spectral} axis has {n} channels")
        return np.flatnonzero(arr)
    return arr.astype(int)


def _mask_like(mask: Any, image: xr.DataArray) -> xr.DataArray | None:
    """The exclusion mask as a boolean DataArray on the image's dims (coords ignored)."""
    if mask is None:
        return None
    if isinstance(mask, (str, os.PathLike)):
        from .image import open_image

        mask = open_image(mask)
    if isinstance(mask, xr.DataArray):
        var = mask.variable
        extra = [d for d in var.dims if d not in image.dims]
        if extra:
            var = var.isel({d: 0 for d in extra})
        var = var.set_dims(dict(image.sizes)).transpose(*image.dims)
        data = var.data
    else:
        data = np.broadcast_to(np.asarray(mask), image.shape)
    truth = xr.DataArray(data, dims=image.dims)
    return truth.fillna(0) != 0


def _world_at(image: xr.DataArray, position: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("ra", "dec", "lon", "lat"):
        if name in image.coords:
            c = image.coords[name]
            out[name] = float(np.asarray(c.isel({d: position[d] for d in c.dims}).values))
    for name in ("frequency", "velocity", "stokes"):
        if name in image.coords and name in image.dims:
            v = image.coords[name].values[position[name]]
            out[name] = v if isinstance(v, str) else float(v)
    return out


def _beam_at(image: xr.DataArray, name: str, position: dict[str, int]) -> float:
    if name not in image.coords:
        return math.nan
    c = image.coords[name]
    return float(np.asarray(c.isel({d: position[d] for d in c.dims if d in position}).values))


def _pixel_area_sr(image: xr.DataArray) -> float:
    wcs = image.attrs.get("wcs")
    if wcs is None or not getattr(wcs, "has_celestial", False):
        return math.nan
    import warnings

    from astropy.wcs.utils import proj_plane_pixel_area

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FITSFixedWarning on re-deriving the celestial WCS
        return float(proj_plane_pixel_area(wcs.celestial)) * (math.pi / 180.0) ** 2

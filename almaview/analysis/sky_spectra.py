"""Images compared at the same sky position: pixels <-> world coordinates through each image's own WCS (astropy),
the spectrum of every image at one position, and the channel of each cube nearest a frequency.

Images of one source from different arrays (Total Power, 12-m + 7-m, their feathered combination) have different
grids, pixel sizes, centres and even celestial frames: a position is carried between them as a sky coordinate
(``astropy.coordinates.SkyCoord``), never as a pixel index.

Examples
--------
>>> import almaview as av
>>> from almaview.analysis.sky_spectra import spectra_at
>>> images = {"TP": av.open_image("tp.cube.I.sd.fits"), "12m": av.open_image("cube.pbcor.fits")}   # doctest: +SKIP
>>> spectra_at(images, 248.0941, -24.4768).groupby("image").value.max()                            # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from .image import spectral_axis, spectral_frame

__all__ = ["sky_position", "sky_to_pixel", "spectra_at", "nearest_channel"]


def _celestial(image: xr.DataArray):
    wcs = image.attrs.get("wcs")
    if wcs is None or not getattr(wcs, "has_celestial", False) or wcs.celestial.naxis != 2:
        from ..errors import NotAnImage

        raise NotAnImage(
            image.attrs.get("source") or str(image.name),
            "has no celestial (RA/Dec) WCS: its pixels cannot be matched with another image's by sky position",
        )
    return wcs.celestial


def sky_position(image: xr.DataArray, x: float, y: float) -> tuple[float, float]:
    """(RA, Dec) in degrees, ICRS, of the (0-based, fractional) pixel ``x``, ``y`` of ``image`` (astropy WCS).

    Examples
    --------
    >>> from astropy.wcs import WCS
    >>> w = WCS(naxis=2); w.wcs.ctype = ["RA---SIN", "DEC--SIN"]; w.wcs.crval = [10.0, -20.0]
    >>> w.wcs.crpix = [5.0, 5.0]; w.wcs.cdelt = [-1e-3, 1e-3]; w.wcs.radesys = "ICRS"
    >>> im = xr.DataArray(np.zeros((9, 9)), dims=("y", "x"), attrs={"wcs": w})
    >>> [round(v, 6) for v in sky_position(im, 4.0, 4.0)]
    [10.0, -20.0]
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sky = _celestial(image).pixel_to_world(float(x), float(y)).icrs
    return float(sky.ra.deg), float(sky.dec.deg)


def sky_to_pixel(image: xr.DataArray, ra: float, dec: float) -> tuple[float, float]:
    """The fractional (0-based) pixel ``(x, y)`` of ``image`` at ICRS ``ra``, ``dec`` (degrees), through the
    image's own WCS and celestial frame (FK5, ICRS, galactic, ... converted by astropy).

    Examples
    --------
    >>> from astropy.wcs import WCS
    >>> w = WCS(naxis=2); w.wcs.ctype = ["RA---SIN", "DEC--SIN"]; w.wcs.crval = [10.0, -20.0]
    >>> w.wcs.crpix = [5.0, 5.0]; w.wcs.cdelt = [-1e-3, 1e-3]; w.wcs.radesys = "ICRS"
    >>> im = xr.DataArray(np.zeros((9, 9)), dims=("y", "x"), attrs={"wcs": w})
    >>> [round(v, 3) for v in sky_to_pixel(im, 10.0, -19.999)]
    [4.0, 5.0]
    """
    from astropy.coordinates import SkyCoord

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, y = _celestial(image).world_to_pixel(SkyCoord(ra, dec, unit="deg", frame="icrs"))
    return float(x), float(y)


def nearest_channel(image: xr.DataArray, frequency: float) -> int:
    """The channel of ``image`` whose spectral coordinate is nearest ``frequency`` (the axis's unit: Hz for a
    frequency axis); 0 for an image without a spectral axis.

    Examples
    --------
    >>> im = xr.DataArray(np.zeros((3, 1, 1)), dims=("frequency", "y", "x"), coords={"frequency": [1e9, 2e9, 3e9]})
    >>> nearest_channel(im, 2.2e9)
    1
    """
    spec = spectral_axis(image)
    if spec is None:
        return 0
    values = np.asarray(image[spec].values, dtype=float)
    return int(np.nanargmin(np.abs(values - float(frequency))))


def spectra_at(images: Mapping[str, xr.DataArray], ra: float, dec: float, *, stokes: int = 0) -> pd.DataFrame:
    """The spectrum of every image at the sky position ``ra``, ``dec`` (ICRS, degrees): each image's pixel nearest
    that position (its own WCS), all its channels, in its own unit.

    Long table: image, channel, frequency (Hz, the image's spectral coordinate), value, units, frame, x, y (the
    pixel read), offset_arcsec (how far the pixel centre is from the position). An image that does not cover
    the position gives no rows; ``attrs['outside']`` lists those.

    Examples
    --------
    >>> import almaview as av
    >>> t = spectra_at({"TP": av.open_image("tp.sd.fits"), "int": av.open_image("int.fits")}, 248.09, -24.48)  # doctest: +SKIP
    >>> sorted(set(t.image))                                                                                     # doctest: +SKIP
    ['TP', 'int']
    """
    rows, outside = [], []
    for name, image in images.items():
        x, y = sky_to_pixel(image, ra, dec)
        ix, iy = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
        if not (0 <= ix < image.sizes["x"] and 0 <= iy < image.sizes["y"]) or not np.isfinite(x + y):
            outside.append(name)
            continue
        spec = spectral_axis(image)
        pick = {"x": ix, "y": iy}
        if "stokes" in image.dims:
            pick["stokes"] = stokes
        values = np.atleast_1d(np.asarray(image.isel(pick).values, dtype=float))
        freq = np.asarray(image[spec].values, dtype=float) if spec else np.array([np.nan])
        pra, pdec = sky_position(image, ix, iy)
        offset = float(
            np.degrees(
                np.arccos(
                    np.clip(
                        np.sin(np.radians(dec)) * np.sin(np.radians(pdec))
                        + np.cos(np.radians(dec)) * np.cos(np.radians(pdec)) * np.cos(np.radians(ra - pra)),
                        -1.0,
                        1.0,
                    )
                )
            )
            * 3600.0
        )
        rows.append(
            pd.DataFrame(
                {
                    "image": name,
                    "channel": np.arange(values.size),
                    "frequency": freq if freq.size == values.size else np.full(values.size, np.nan),
                    "value": values,
                    "units": str(image.attrs.get("units", "")),
                    "frame": spectral_frame(image),
                    "x": ix,
                    "y": iy,
                    "offset_arcsec": offset,
                }
            )
        )
    columns = ["image", "channel", "frequency", "value", "units", "frame", "x", "y", "offset_arcsec"]
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)
    out.attrs["outside"] = outside
    out.attrs["ra"], out.attrs["dec"] = float(ra), float(dec)
    return out

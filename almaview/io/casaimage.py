"""CASA image directories for :func:`almaview.io.image.open_image`: the coordinate record as a FITS-like header,
the beams, and the plane readers (``casacore.images`` and, for a damaged image, the table itself).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import (
    DataWarning,
    NotAnImage,
)
from .fitsimage import _STOKES_LABELS, normalise_unit
from .table import open_table


def _casa_image_spec(root: Path) -> dict[str, Any]:
    from casacore import images

    from .tables import readonly_view

    table_only = False
    try:
        im = images.image(str(readonly_view(root)))  # casacore's lock files go to the cache, not the image
    except RuntimeError as err:
        # casacore's image class also needs the 'logtable' subtable, which copies often leave behind;
        # the pixels ('map' column) and the coordinates are in the table itself: read them from there.
        shape, coords, info, units, dtype = _casa_table_image(root, err)
        table_only = True
    else:
        shape = tuple(int(n) for n in im.shape())
        coords = im.coordinates().dict()
        info = im.imageinfo()
        units = normalise_unit(str(im.unit()))
        dtype = np.dtype("complex64") if "omplex" in str(im.datatype()) else np.dtype("float32")
        del im
    with open_table(root) as t:  # a default mask (e.g. tclean's primary-beam cut) turns pixels to NaN
        keywords = t.keywordnames()
        has_mask = "Image_defaultmask" in keywords or ("masks" in keywords and bool(t.getkeyword("masks")))
    if table_only and has_mask:
        warnings.warn(
            f"{root}: read without casacore's image class (no logtable); its pixel mask is not applied",
            DataWarning,
            stacklevel=3,
        )
    header, stokes_labels, frequencies = _casa_coords_to_header(coords, shape)
    from astropy.wcs import WCS, FITSFixedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header)
    beam = None
    beams = None
    if "restoringbeam" in info:
        b = info["restoringbeam"]
        beam = (_arcsec(b["major"]), _arcsec(b["minor"]), _deg(b["positionangle"]))
    elif "perplanebeams" in info:
        ppb = info["perplanebeams"]
        nchan, npol = int(ppb.get("nChannels", 1)), int(ppb.get("nStokes", 1))
        beams = np.full((nchan, npol, 3), np.nan)
        for c in range(nchan):
            for s in range(npol):
                b = ppb.get(f"*{c * npol + s}")
                if b is not None:
                    beams[c, s] = (_arcsec(b["major"]), _arcsec(b["minor"]), _deg(b["positionangle"]))
    return {
        "format": "casa",
        "path": root,
        "shape": shape,
        "dtype": dtype,
        "wcs": wcs,
        "units": units,
        "beam": beam,
        "beams": beams,
        "has_mask": has_mask,
        "table_only": table_only,
        "stokes_labels": stokes_labels,
        "frequencies": frequencies,
        "attrs": {
            "object": str(info.get("objectname", "")),
            "telescope": str(coords.get("telescope", "")),
            "restfreq": float(header.get("RESTFRQ", np.nan)),
            "specsys": str(header.get("SPECSYS", "")),
        },
    }


def _casa_table_image(root: Path, err: Exception) -> tuple[tuple[int, ...], dict, dict, str, np.dtype]:
    """Shape, coordinates, image info, units and dtype of a CASA image read as a table ('map' column)."""
    with open_table(root) as t:
        keywords = t.keywordnames()
        if "map" not in t.colnames() or "coords" not in keywords or t.nrows() < 1:
            raise NotAnImage(root, f"casacore could not open the CASA image ({err}); it may be damaged") from err
        shape = tuple(int(n) for n in re.findall(r"\d+", str(t.getcolshapestring("map", nrow=1)[0])))
        coords = dict(t.getkeyword("coords"))
        info = dict(t.getkeyword("imageinfo")) if "imageinfo" in keywords else {}
        units = normalise_unit(str(t.getkeyword("units"))) if "units" in keywords else ""
        dtype = np.dtype("complex64") if "complex" in str(t.coldatatype("map")).lower() else np.dtype("float32")
    return shape, coords, info, units, dtype


def _arcsec(q: dict[str, Any]) -> float:
    from astropy import units as u

    return float((q["value"] * u.Unit(q["unit"])).to_value(u.arcsec))


def _deg(q: dict[str, Any]) -> float:
    from astropy import units as u

    return float((q["value"] * u.Unit(q["unit"])).to_value(u.deg))


_CASA_SPECSYS = {
    "LSRK": "LSRK",
    "LSRD": "LSRD",
    "BARY": "BARYCENT",
    "TOPO": "TOPOCENT",
    "GEO": "GEOCENTR",
    "GALACTO": "GALACTOC",
    "LGROUP": "LOCALGRP",
    "CMB": "CMBDIPOL",
    "REST": "SOURCE",
}


def _casa_coords_to_header(
    coords: dict[str, Any], shape: tuple[int, ...]
) -> tuple[dict[str, Any], list[str] | None, np.ndarray | None]:
    """A FITS-WCS header (pixel axes in CASA order = FITS order) from a casacore coordinate record."""
    from astropy import units as u

    naxis = len(shape)
    header: dict[str, Any] = {"NAXIS": naxis}
    for i in range(naxis):
        header[f"NAXIS{i + 1}"] = shape[naxis - 1 - i]
        header[f"CTYPE{i + 1}"] = "LINEAR"
        header[f"CRVAL{i + 1}"] = 0.0
        header[f"CDELT{i + 1}"] = 1.0
        header[f"CRPIX{i + 1}"] = 1.0
    stokes_labels = None
    frequencies = None
    names = [
        k
        for k in coords
        if any(k.startswith(p) for p in ("direction", "spectral", "stokes", "linear"))
        and isinstance(coords[k], dict)
        and f"pixelmap{k.lstrip('abcdefghijklmnopqrstuvwxyz')}" in coords
    ]
    for name in names:
        n = name.lstrip("abcdefghijklmnopqrstuvwxyz")
        axes = [int(a) for a in coords[f"pixelmap{n}"]]
        c = coords[name]
        if name.startswith("direction"):
            system = str(c.get("system", "J2000")).upper()
            proj = str(c.get("projection", "SIN"))
            if system == "GALACTIC":
                lon, lat = "GLON", "GLAT"
            elif system == "ECLIPTIC":
                lon, lat = "ELON", "ELAT"
            else:
                lon, lat = "RA", "DEC"
                header["RADESYS"] = {"J2000": "FK5", "ICRS": "ICRS", "B1950": "FK4"}.get(system, "FK5")
                if system in ("J2000", "B1950"):
                    header["EQUINOX"] = 2000.0 if system == "J2000" else 1950.0
            units = c.get("units", ["rad", "rad"])
            for j, (a, ctype) in enumerate(zip(axes, (lon, lat))):
                k = a + 1
                scale = u.Unit(units[j]).to(u.deg)
                header[f"CTYPE{k}"] = f"{ctype:-<5}{proj}"  # 'RA---SIN', 'DEC--SIN', 'GLON-SIN'
                header[f"CRVAL{k}"] = float(c["crval"][j]) * scale
                header[f"CDELT{k}"] = float(c["cdelt"][j]) * scale
                header[f"CRPIX{k}"] = float(c["crpix"][j]) + 1.0
                header[f"CUNIT{k}"] = "deg"
            pc = np.asarray(c.get("pc", np.eye(2)))
            for r, ar in enumerate(axes):
                for s, as_ in enumerate(axes):
                    header[f"PC{ar + 1}_{as_ + 1}"] = float(pc[r, s])
            lat_axis = axes[1] + 1
            for m, v in enumerate(np.asarray(c.get("projection_parameters", []), dtype=float)):
                header[f"PV{lat_axis}_{m + 1}"] = float(v)
            if "longpole" in c:
                header["LONPOLE"] = float(c["longpole"])
            if "latpole" in c:
                header["LATPOLE"] = float(c["latpole"])
        elif name.startswith("spectral"):
            k = axes[0] + 1
            tab = c.get("tabular")
            # A spectral axis imported from an old FITS (a moment map's VELO axis) may hold only the table.
            w = c.get("wcs") or (tab if isinstance(tab, dict) else {})
            header[f"CTYPE{k}"] = "FREQ"
            header[f"CRVAL{k}"] = float(np.atleast_1d(w.get("crval", 0.0))[0])
            header[f"CDELT{k}"] = float(np.atleast_1d(w.get("cdelt", 1.0))[0]) or 1.0  # 0 for one channel
            header[f"CRPIX{k}"] = float(np.atleast_1d(w.get("crpix", 0.0))[0]) + 1.0
            header[f"CUNIT{k}"] = "Hz"
            header["SPECSYS"] = _CASA_SPECSYS.get(str(c.get("system", "")).upper(), str(c.get("system", "")))
            if c.get("restfreq"):
                header["RESTFRQ"] = float(c["restfreq"])
            nchan = shape[naxis - 1 - axes[0]]
            if isinstance(tab, dict) and len(np.atleast_1d(tab.get("worldvalues", []))) == nchan and nchan > 1:
                world = np.asarray(tab["worldvalues"], dtype=float)
                if not np.allclose(np.diff(world), np.diff(world)[0], rtol=1e-9, atol=0):
                    frequencies = world  # non-linear axis: the tabulated values are the truth
        elif name.startswith("stokes"):
            k = axes[0] + 1
            stokes_labels = [str(s) for s in c.get("stokes", [])]
            codes = [_STOKES_LABELS.get(s, 0) for s in stokes_labels]
            header[f"CTYPE{k}"] = "STOKES"
            header[f"CRVAL{k}"] = float(codes[0]) if codes else 1.0
            header[f"CDELT{k}"] = float(codes[1] - codes[0]) if len(codes) > 1 else 1.0
            header[f"CRPIX{k}"] = 1.0
    return header, stokes_labels, frequencies


class _CasaPlaneReader:
    """Reads a block of a CASA image with getdata(blc, trc, inc); masked pixels become NaN.

    ``key`` is a tuple of slices in the image's (numpy) axis order; casacore calls hold the
    per-process lock of the image (casacore is not thread-safe).
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype, has_mask: bool):
        self.path, self.shape, self.dtype, self.has_mask = path, shape, dtype, has_mask
        self.ndim = len(shape)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        from casacore import images

        from .tables import readonly_view, table_lock

        ranges = [range(*k.indices(n)) for k, n in zip(key, self.shape)]
        if any(len(r) == 0 for r in ranges):
            return np.empty([len(r) for r in ranges], dtype=self.dtype)
        blc = [r[0] for r in ranges]
        trc = [r[-1] for r in ranges]
        flip = [r.step < 0 for r in ranges]
        if any(flip):  # casacore reads ascending: read the ascending span, then reverse those axes
            blc = [min(r[0], r[-1]) for r in ranges]
            trc = [max(r[0], r[-1]) for r in ranges]
        inc = [abs(r.step) for r in ranges]
        try:
            with table_lock(str(self.path)):
                im = images.image(str(readonly_view(self.path)))
                data = np.asarray(im.getdata(blc=blc, trc=trc, inc=inc), dtype=self.dtype)
                mask = None
                if self.has_mask and np.issubdtype(self.dtype, np.floating):
                    mask = im.getmask(blc=blc, trc=trc, inc=inc)  # True = masked (invalid)
                del im
        except RuntimeError as err:
            raise NotAnImage(self.path, f"could not read image data ({err}); the image may be damaged") from err
        if mask is not None and mask.any():
            data = np.where(mask, np.nan, data).astype(self.dtype)
        if any(flip):
            data = data[tuple(slice(None, None, -1) if f else slice(None) for f in flip)]
        return data


class _CasaTableReader:
    """Reads a block of a CASA image through the table system (``getcellslice`` of the 'map' column), for
    an image casacore's image class refuses (a copy without its logtable). Masks are not applied."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype):
        self.path, self.shape, self.dtype = path, shape, dtype
        self.ndim = len(shape)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        ranges = [range(*k.indices(n)) for k, n in zip(key, self.shape)]
        if any(len(r) == 0 for r in ranges):
            return np.empty([len(r) for r in ranges], dtype=self.dtype)
        blc = [min(r[0], r[-1]) for r in ranges]
        trc = [max(r[0], r[-1]) for r in ranges]
        inc = [abs(r.step) for r in ranges]
        try:
            with open_table(self.path) as t:
                data = np.asarray(t.getcellslice("map", 0, blc, trc, inc), dtype=self.dtype)
        except RuntimeError as err:
            raise NotAnImage(self.path, f"could not read image data ({err}); the image may be damaged") from err
        flip = [r.step < 0 for r in ranges]
        if any(flip):
            data = data[tuple(slice(None, None, -1) if f else slice(None) for f in flip)]
        return data

"""Images (FITS, FITS.gz, CASA image directories) as lazy xarray DataArrays.

:func:`open_image` reads metadata only. The pixels are an xarray ``BackendArray``
(:class:`ImagePixels`) that reads exactly the region a selection asks for: FITS
through numpy slicing of astropy's memory map (``section`` for gzipped files),
CASA images through ``casacore.images`` ``getdata(blc, trc, inc)``. By default
they are wrapped in a dask array with one chunk per plane (per channel and
Stokes) for reductions (moments, statistics, distributed); dask fuses a later
``.isel`` into each chunk's read, so a one-pixel spectrum reads one pixel per
plane. ``chunks=None`` skips dask: ``.isel(...).values`` is then a single read.

Dims are named for their axes, in the file's (numpy) order: ``stokes``,
``frequency`` (or ``velocity``), ``y``, ``x``. World coordinates come from
astropy's WCS: ``ra``/``dec`` (deg, 2-D on ``(y, x)``, lazy), ``frequency``
(Hz), ``stokes`` labels. The restoring beam is in the coordinates
``beam_major``/``beam_minor`` (arcsec) and ``beam_pa`` (deg): scalars for one
beam, along ``frequency`` (and ``stokes``) for per-plane beams. The WCS
itself (FITS pixel-axis order, i.e. x first) is ``image.attrs["wcs"]`` so a viewer
can convert pixel <-> world.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from ..errors import (
    AlmaviewError,
    DataWarning,
    InvalidImageHeader,
    NotAnImage,
    PathNotFound,
)
from .table import check_table_dir, open_table, table_kind

__all__ = ["open_image", "ImagePixels", "image_statistics", "ImageStatistics", "STOKES_CODES"]

#: FITS/casacore Stokes codes -> labels.
STOKES_CODES: dict[int, str] = {
    1: "I",
    2: "Q",
    3: "U",
    4: "V",
    -1: "RR",
    -2: "LL",
    -3: "RL",
    -4: "LR",
    -5: "XX",
    -6: "YY",
    -7: "XY",
    -8: "YX",
}
_STOKES_LABELS = {v: k for k, v in STOKES_CODES.items()}

#: Largest plane (pixels) kept as one dask chunk; bigger planes are split spatially.
_MAX_PLANE_CHUNK = 4096 * 4096
_SPATIAL_CHUNK = 2048


def open_image(path: str | os.PathLike, chunks: dict[str, int] | str | None = "auto") -> xr.DataArray:
    """Open a FITS image (plain or .gz) or a CASA image directory as a lazy DataArray.

    ``chunks``: ``"auto"`` (default) or ``{}``: dask, one chunk per plane (planes larger
    than 4096x4096 split into 2048-pixel tiles); a dict overrides dims, e.g.
    ``{"frequency": 16}``; ``None``: no dask, the DataArray is lazily indexed (xarray's
    backend machinery) and ``.isel(...).values`` reads the selected pixels in one read,
    the fastest way to a spectrum or a box (``.chunk()`` it for big reductions). Either
    way a selection reads only its pixels, never whole planes.

    Raises :class:`~almaview.errors.PathNotFound`, :class:`~almaview.errors.NotAnImage`
    (a table-only, truncated or corrupt FITS, a text file, an MS, a caltable, any
    other table), :class:`~almaview.errors.NotATable` / :class:`~almaview.errors.DamagedTable`
    for a directory that is not a (complete) CASA table.

    Examples
    --------
    >>> import almaview as av
    >>> cube = av.open_image("member.uid___A001_X1.spw25.cube.I.pbcor.fits")    # doctest: +SKIP
    >>> cube.dims                                                             # doctest: +SKIP
    ('stokes', 'frequency', 'y', 'x')
    >>> plane = cube.isel(stokes=0, frequency=120).compute()                  # reads one plane   # doctest: +SKIP
    >>> cube.attrs["units"], float(cube.beam_major[120])                      # doctest: +SKIP
    ('Jy/beam', 0.52)
    >>> lazy = av.open_image("member.uid___A001_X1.spw25.cube.I.pbcor.fits", chunks=None)   # doctest: +SKIP
    >>> lazy.isel(stokes=0, y=1000, x=1000).values.shape                      # reads nchan pixels   # doctest: +SKIP
    (480,)
    """
    if chunks is not None and not isinstance(chunks, dict) and chunks != "auto":
        raise ValueError(f"chunks={chunks!r}: expected 'auto', a dict of dim -> size, or None (no dask)")
    p = Path(path).expanduser()
    if not p.exists():
        raise PathNotFound(p, "does not exist")
    if p.is_dir():
        root = check_table_dir(p)
        kind = table_kind(root)
        if kind == "ms":
            raise NotAnImage(root, "is a measurement set, not an image: use almaview.open_ms to read it")
        if kind == "caltable":
            raise NotAnImage(root, "is a calibration table, not an image: use almaview.open_caltable to read it")
        if kind != "image":
            raise NotAnImage(root, "is a CASA table but not a CASA image (no 'coords' keyword)")
        spec = _casa_image_spec(root)
    else:
        spec = _fits_image_spec(p.resolve())
    from astropy.wcs import FITSFixedWarning

    with warnings.catch_warnings():
        # dask tokenizes (copies) the WCS, and astropy re-announces its header fixes each time.
        warnings.simplefilter("ignore", FITSFixedWarning)
        return _build(spec, chunks)


# --------------------------------------------------------------------------- FITS


def _fits_image_spec(path: Path) -> dict[str, Any]:
    from astropy.io import fits

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with fits.open(path, memmap=True, lazy_load_hdus=False) as hdul:
                index, hdu = _first_image_hdu(path, hdul)
                header = hdu.header.copy()
                _check_ascii(path, header, caught)
                bitpix = _check_bitpix(path, header)
                shape = tuple(int(n) for n in hdu.shape)
                compressed = isinstance(hdu, fits.CompImageHDU)
                info = hdu.fileinfo()
                beams = _fits_beams(path, hdul)
                wcs = _fits_wcs(path, header, len(shape), hdul)
    except AlmaviewError:
        raise
    except Exception as err:  # astropy raises OSError, ValueError, VerifyError, UnicodeDecodeError, ...
        raise NotAnImage(
            path, f"is not a readable FITS image ({type(err).__name__}: {err}); expected a FITS file with image data"
        ) from err

    nbytes = abs(bitpix) // 8 * int(np.prod(shape))
    available = _uncompressed_size(path)
    needed = int(info["datLoc"]) + nbytes
    if not compressed and available is not None and available < needed:  # tile-compressed data are smaller
        raise NotAnImage(
            path,
            f"is a truncated FITS file: the image data needs {needed} bytes, the file holds {available} "
            "(the download or copy was interrupted)",
        )
    beam = None
    if all(k in header for k in ("BMAJ", "BMIN")):
        try:
            beam = (float(header["BMAJ"]) * 3600.0, float(header["BMIN"]) * 3600.0, float(header.get("BPA", 0.0)))
        except (TypeError, ValueError) as err:
            raise InvalidImageHeader(
                path, f"BMAJ/BMIN/BPA are not numbers ({err}); expected the beam in degrees"
            ) from err
    return {
        "format": "fits",
        "path": path,
        "hdu": index,
        "shape": shape,
        "dtype": _fits_dtype(bitpix, header),
        "wcs": wcs,
        "header": header,
        "units": normalise_unit(str(header.get("BUNIT", "")).strip()),
        "beam": beam,
        "beams": beams,
        "stokes_labels": None,
        "frequencies": None,
        "attrs": {
            "object": str(header.get("OBJECT", "")).strip(),
            "telescope": str(header.get("TELESCOP", "")).strip(),
            "restfreq": _restfreq(header),
            "specsys": str(header.get("SPECSYS", "")).strip() or str(wcs.wcs.specsys).strip(),
        },
    }


def _restfreq(header: Any) -> float:
    for key in ("RESTFRQ", "RESTFREQ"):
        try:
            if key in header and float(header[key]) > 0:
                return float(header[key])
        except (TypeError, ValueError):
            pass
    return float("nan")


def _check_ascii(path: Path, header: Any, caught: list) -> None:
    """astropy replaces non-ASCII header bytes by '?' with a warning: refuse such a header, naming the cards."""
    if not any("non-ASCII" in str(w.message) for w in caught):
        return
    cards = [c.keyword or "(blank)" for c in header.cards if "?" in str(c.value) + str(c.comment)]
    where = f" (in {', '.join(dict.fromkeys(cards))})" if cards else ""
    raise InvalidImageHeader(
        path,
        f"has non-ASCII bytes in its header{where}: FITS headers are plain ASCII, so the keywords cannot be "
        "trusted (the header was edited with a text editor or written in another encoding)",
    )


_BITPIX = (8, 16, 32, 64, -32, -64)


def _check_bitpix(path: Path, header: Any) -> int:
    value = header.get("BITPIX")
    try:
        bitpix = int(value)
    except (TypeError, ValueError):
        bitpix = None
    if bitpix not in _BITPIX:
        raise InvalidImageHeader(
            path,
            f"BITPIX = {value!r} is not a FITS data type; expected one of {', '.join(map(str, _BITPIX))} "
            "(the header was edited by hand or written by a broken program)",
        )
    return bitpix


#: Legacy (AIPS, GIPSY, old CASA) spellings of units -> the FITS standard's.
_LEGACY_UNITS = {
    "DEG": "deg",
    "DEGREE": "deg",
    "DEGREES": "deg",
    "RAD": "rad",
    "ARCSEC": "arcsec",
    "ARCMIN": "arcmin",
    "HZ": "Hz",
    "KHZ": "kHz",
    "MHZ": "MHz",
    "GHZ": "GHz",
    "M": "m",
    "KM": "km",
    "S": "s",
    "SEC": "s",
    "JY": "Jy",
    "MJY": "mJy",
    "UJY": "uJy",
    "BEAM": "beam",
    "K": "K",
    "KELVIN": "K",
    "MK": "mK",
    "PIXEL": "pixel",
    "PIX": "pixel",
    "SR": "sr",
    "M/S": "m/s",
    "KM/S": "km/s",
}


def normalise_unit(text: str) -> str:
    """A brightness or axis unit in the FITS standard's spelling: legacy upper-case words are fixed.

    Units astropy parses are kept as they are (``'Jy/beam'``, ``'K'``); upper-case legacy spellings
    (``'JY/BEAM'``, ``'DEG'``, ``'M/S'``, ``'JY/BEAM.KM/S'``) become ``'Jy/beam'``, ``'deg'``,
    ``'m/s'``, ``'Jy/beam.km/s'``. Anything else is returned unchanged.

    Examples
    --------
    >>> normalise_unit("JY/BEAM"), normalise_unit("DEG"), normalise_unit("JY/BEAM.KM/S"), normalise_unit("K")
    ('Jy/beam', 'deg', 'Jy/beam.km/s', 'K')
    """
    from astropy import units as u

    text = str(text).strip()
    if not text or text != text.upper() or not re.search("[A-Z]", text):
        return text
    if text in _LEGACY_UNITS:
        return _LEGACY_UNITS[text]
    words = re.split(r"([A-Za-z]+)", text)
    fixed = "".join(_LEGACY_UNITS.get(w, w) if w.isalpha() else w for w in words)
    try:
        u.Unit(fixed, format="fits") if "beam" not in fixed else u.Unit(fixed.replace("beam", "m"))
    except ValueError:
        return text
    return fixed


def _fits_wcs(path: Path, header: Any, naxis: int, hdul: Any) -> Any:
    """astropy's WCS of an image header, after repairing legacy unit spellings (astropy's ``WCS.fix``
    handles AIPS spectral axes such as VELO-LSR/FELO-HEL and old date keywords). A header it cannot
    use raises :class:`~almaview.errors.InvalidImageHeader` naming the keyword."""
    from astropy.wcs import WCS

    header = header.copy()
    for i in range(1, naxis + 1):
        key = f"CUNIT{i}"
        if key in header:
            header[key] = normalise_unit(str(header[key]))
    has_cd = any(re.fullmatch(r"CD\d+_\d+", str(k)) for k in header)
    for i in range(1, naxis + 1):
        key = f"CDELT{i}"
        if has_cd or key not in header:
            continue
        try:
            step = float(header[key])
        except (TypeError, ValueError) as err:
            raise InvalidImageHeader(
                path, f"{key} = {header[key]!r} is not a number; expected the pixel increment of the axis"
            ) from err
        if step == 0.0 and int(header.get(f"NAXIS{i}", 1)) <= 1:
            header[key] = 1.0  # a degenerate axis: its one pixel is at CRVAL whatever the increment
        elif step == 0.0 or not math.isfinite(step):
            ctype = str(header.get(f"CTYPE{i}", "")).strip() or "unnamed"
            raise InvalidImageHeader(
                path,
                f"{key} = {step}: axis {i} ({ctype}) has no usable pixel size, so its pixels have no world "
                "coordinates (a singular WCS); expected a finite, non-zero increment",
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wcs = WCS(header, fobj=hdul, naxis=naxis)
    except Exception as err:  # wcslib: InvalidTransformError, SingularMatrixError, InconsistentAxisTypesError...
        raise InvalidImageHeader(path, _wcs_problem(err, header, naxis)) from err
    w = wcs.wcs
    matrix = np.asarray(w.cd if w.has_cd() else w.get_pc() * np.asarray(w.cdelt)[None, :], dtype=float)
    if matrix.size and (not np.isfinite(matrix).all() or abs(np.linalg.det(matrix)) == 0.0):
        keys = "CD" if w.has_cd() else "PC/CDELT"
        raise InvalidImageHeader(
            path,
            f"has a singular WCS matrix ({keys} keywords: {np.round(matrix, 12).tolist()}): two axes depend "
            "on each other, so pixels have no world coordinates; expected an invertible PC or CD matrix",
        )
    return wcs


def _wcs_problem(err: Exception, header: Any, naxis: int) -> str:
    """What is wrong with a header astropy's WCS refused, naming the keyword when the message does."""
    text = " ".join(str(err).split())
    name = type(err).__name__
    keys = re.findall(
        r"\b(CUNIT\d+|CTYPE\d+|CDELT\d+|CRPIX\d+|CRVAL\d+|PV\d+_\d+|PC\d+_\d+|CD\d+_\d+|"
        r"RESTFRQ|RESTFREQ|SPECSYS|EQUINOX|RADESYS)\b",
        text,
    )
    if "Inconsistent" in name or "inconsistent" in text.lower() or "axis type" in text.lower():
        ctypes = ", ".join(f"CTYPE{i} = {str(header.get(f'CTYPE{i}', '')).strip()!r}" for i in range(1, naxis + 1))
        return (
            f"has inconsistent axis types ({ctypes}): expected one longitude and one latitude axis of the same "
            f"system, at most one spectral axis ({name}: {text})"
        )
    if "Singular" in name or "singular" in text.lower():
        return (
            f"has a singular WCS matrix (the PC/CD matrix or CDELT values make two axes dependent): "
            f"pixels have no world coordinates ({name}: {text})"
        )
    where = f"keyword {', '.join(dict.fromkeys(keys))}" if keys else "its WCS keywords"
    return f"has a header astropy's WCS cannot use, in {where}: {text}; the keyword is not valid FITS WCS"


def _first_image_hdu(path: Path, hdul: Any) -> tuple[int, Any]:
    from astropy.io import fits

    for i, hdu in enumerate(hdul):
        if isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
            if hdu.header.get("NAXIS", 0) >= 2 and all(n > 0 for n in (hdu.shape or ())):
                return i, hdu
    kinds = ", ".join(f"{type(h).__name__}" for h in hdul) or "no HDUs"
    raise NotAnImage(path, f"holds no image data (HDUs: {kinds}); expected a FITS image with at least 2 axes")


def _fits_dtype(bitpix: int, header: Any) -> np.dtype:
    scaled = header.get("BSCALE", 1) != 1 or header.get("BZERO", 0) != 0 or "BLANK" in header
    if bitpix == -64 or (scaled and bitpix in (32, 64)):
        return np.dtype("float64")
    if bitpix == -32 or scaled:
        return np.dtype("float32")
    return np.dtype({8: "uint8", 16: "int16", 32: "int32", 64: "int64"}[bitpix])


def _uncompressed_size(path: Path) -> int | None:
    """Bytes the FITS stream holds: the file size, or a gzip's recorded size (mod 2**32)."""
    with open(path, "rb") as f:
        magic = f.read(2)
        if magic != b"\x1f\x8b":
            return path.stat().st_size
        size = path.stat().st_size
        if size < 18:
            return 0
        f.seek(-4, os.SEEK_END)
        isize = int.from_bytes(f.read(4), "little")
    # ISIZE is the size modulo 2**32; good enough to catch truncation of files < 4 GiB.
    return isize if size < 2**32 else None


def _fits_beams(path: Path, hdul: Any) -> np.ndarray | None:
    """Per-plane beams from CASA's BEAMS table: array (nchan, npol, 3) of (major", minor", pa deg)."""
    from astropy import units as u

    if "BEAMS" not in hdul:
        return None
    table = hdul["BEAMS"]
    try:
        data = table.data
        header = table.header
        chan = np.asarray(data["CHAN"], dtype=int)
        pol = np.asarray(data["POL"], dtype=int)
        nchan = int(header.get("NCHAN", int(np.max(chan)) + 1))
        npol = int(header.get("NPOL", int(np.max(pol)) + 1))
        out = np.full((nchan, npol, 3), np.nan)
        for k, (name, target) in enumerate((("BMAJ", u.arcsec), ("BMIN", u.arcsec), ("BPA", u.deg))):
            unit = ""
            for j in range(1, int(header.get("TFIELDS", 0)) + 1):
                if str(header.get(f"TTYPE{j}", "")).strip() == name:
                    unit = normalise_unit(str(header.get(f"TUNIT{j}", "")).strip())
            scale = u.Unit(unit).to(target) if unit else 1.0  # CASA writes arcsec, arcsec, deg
            out[chan, pol, k] = np.asarray(data[name], dtype=float) * scale
    except Exception as err:  # missing columns, channels beyond NCHAN, a unit that is no angle
        raise InvalidImageHeader(
            path,
            f"has a BEAMS table almaview cannot read ({type(err).__name__}: {err}); expected CASA's per-plane "
            "beam table with columns BMAJ, BMIN, BPA (angles), CHAN, POL",
        ) from err
    return out


class _FitsPlaneReader:
    """Reads a block of a FITS image: numpy slicing of astropy's memory map for plain files
    (only the region's pages are touched; astropy's ``section`` is ~20x slower for a small box
    through a big cube), astropy's ``section`` for gzipped or tile-compressed files.

    Scaling (BSCALE/BZERO) and BLANK are applied here, on the block, because astropy
    refuses to memory-map scaled data.
    """

    def __init__(self, path: Path, hdu: int, shape: tuple[int, ...], dtype: np.dtype, header: Any):
        self.path, self.hdu, self.shape, self.dtype = path, hdu, shape, dtype
        self.ndim = len(shape)
        self.bscale = float(header.get("BSCALE", 1.0))
        self.bzero = float(header.get("BZERO", 0.0))
        self.blank = header.get("BLANK") if int(header["BITPIX"]) > 0 else None
        with open(path, "rb") as f:  # a plain file is memory-mapped; a gzip goes through section
            self.memmap = f.read(2) != b"\x1f\x8b"

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        from astropy.io import fits

        try:
            with fits.open(self.path, memmap=True, do_not_scale_image_data=True) as hdul:
                hdu = hdul[self.hdu]
                if self.memmap and not isinstance(hdu, fits.CompImageHDU):
                    raw = np.array(hdu.data[key])  # memmap: touches only the region's pages; copy before close
                else:
                    raw = np.asarray(hdu.section[key])  # gzip / tile-compressed: astropy's section
        except Exception as err:
            raise NotAnImage(self.path, f"could not read image data ({type(err).__name__}: {err})") from err
        if self.bscale == 1.0 and self.bzero == 0.0 and self.blank is None:
            return raw.astype(self.dtype, copy=False)
        block = raw.astype(self.dtype) * self.dtype.type(self.bscale) + self.dtype.type(self.bzero)
        if self.blank is not None and np.issubdtype(self.dtype, np.floating):
            block[raw == self.blank] = np.nan
        return block


# --------------------------------------------------------------------------- CASA


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


# --------------------------------------------------------------------------- lazy pixels


class ImagePixels(BackendArray):
    """The pixels of one image as an xarray ``BackendArray``, axes in the DataArray's (canonical) order.

    ``.isel``/``.sel`` on a DataArray wrapping it (through ``LazilyIndexedArray``) read exactly the
    requested region: integers and slices (with steps) go to the file reader as they are (FITS:
    slicing of the memory map; CASA: ``getdata(blc, trc, inc)``); index arrays read their bounding
    span, then xarray picks the elements. ``perm[i]`` is the file axis behind DataArray axis ``i``.
    Picklable (holds the path, opens the file per read). With dask (``open_image``'s default) each
    chunk is a getter on this array and dask fuses a later selection into it.

    Examples
    --------
    >>> import almaview as av
    >>> cube = av.open_image("cube.fits", chunks=None)       # doctest: +SKIP
    >>> type(cube.variable._data.array).__name__             # doctest: +SKIP
    'ImagePixels'
    >>> cube.isel(stokes=0, y=100, x=120).values.shape       # reads nchan pixels   # doctest: +SKIP
    (480,)
    """

    def __init__(self, reader: Any, perm: tuple[int, ...], token: str):
        self.reader = reader
        self.perm = tuple(int(a) for a in perm)
        self.shape = tuple(int(reader.shape[a]) for a in self.perm)
        self.dtype = np.dtype(reader.dtype)
        self.token = token

    def __dask_tokenize__(self) -> tuple:
        return ("almaview.ImagePixels", self.token, self.perm)

    def __getitem__(self, key: Any) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._getitem)

    def _getitem(self, key: tuple) -> np.ndarray:
        file_key: list[slice] = [slice(None)] * len(self.perm)
        keep = []  # DataArray axes that stay (slices); integers drop theirs
        for i, k in enumerate(key):
            if isinstance(k, (int, np.integer)):
                n = self.shape[i]
                k = int(k) + n if k < 0 else int(k)
                file_key[self.perm[i]] = slice(k, k + 1)
            else:
                file_key[self.perm[i]] = k
                keep.append(i)
        block = np.asarray(self.reader[tuple(file_key)])
        block = block.transpose(self.perm)  # file order -> DataArray order
        return block.reshape([block.shape[i] for i in keep])


# --------------------------------------------------------------------------- DataArray


_SPECTRAL_PREFIXES = ("FREQ", "VRAD", "VOPT", "VELO", "FELO")


def _axis_dims(wcs: Any, naxis: int) -> list[str]:
    """Dim names in numpy order: the celestial pair (astropy's ``lng``/``lat`` axes, any frame: RA/Dec,
    GLON/GLAT, HPLN/HPLT, ...) is ``x``/``y``; the spectral axis ``frequency`` or ``velocity``; ``stokes``.
    An image without a celestial pair (unnamed axes, ``PIXEL``, ``LINEAR``, a 2-D moment map of an old
    program) takes its first two other axes as ``x``/``y``; other axes keep their lower-case CTYPE word,
    or ``axis<N>`` (FITS axis number) when unnamed, made unique.

    Examples
    --------
    >>> from astropy.wcs import WCS
    >>> w = WCS(naxis=3); w.wcs.ctype = ["RA---SIN", "DEC--SIN", "VELO-LSR"]; _ = w.wcs.set()
    >>> _axis_dims(w, 3)
    ['velocity', 'y', 'x']
    >>> _axis_dims(WCS(naxis=2), 2)
    ['y', 'x']
    """
    w = wcs.wcs
    ctypes = [str(t).strip().upper() for t in w.ctype][:naxis]
    ctypes += [""] * (naxis - len(ctypes))
    lng, lat = (int(w.lng), int(w.lat)) if wcs.has_celestial else (-1, -1)
    fits_names: list[str] = []
    for k, c in enumerate(ctypes):
        if k == lng:
            fits_names.append("x")
        elif k == lat:
            fits_names.append("y")
        elif c.startswith("FREQ"):
            fits_names.append("frequency")
        elif c.startswith(_SPECTRAL_PREFIXES):
            fits_names.append("velocity")
        elif c.startswith("STOKES"):
            fits_names.append("stokes")
        else:
            word = re.sub(r"[^a-z0-9_]", "", c.split("-")[0].lower())
            fits_names.append(word if word and not word[0].isdigit() else "")
    if "x" not in fits_names and "y" not in fits_names:
        plane = [k for k, n in enumerate(fits_names) if n not in ("frequency", "velocity", "stokes")][:2]
        if len(plane) == 2:
            fits_names[plane[0]], fits_names[plane[1]] = "x", "y"
    seen: set[str] = set()
    for k, n in enumerate(fits_names):
        if not n or n in seen:
            n = f"axis{k + 1}"
        seen.add(n)
        fits_names[k] = n
    return fits_names[::-1]


def _default_chunks(shape: tuple[int, ...], dims: list[str]) -> tuple[int, ...]:
    plane = 1
    for n, d in zip(shape, dims):
        if d in ("x", "y"):
            plane *= n
    out = []
    for n, d in zip(shape, dims):
        if d in ("x", "y"):
            out.append(n if plane <= _MAX_PLANE_CHUNK else min(n, _SPATIAL_CHUNK))
        else:
            out.append(1)
    return tuple(out)


def _celestial_block(block: np.ndarray, wcs: Any, lon: bool, block_info: dict | None = None) -> np.ndarray:
    loc = block_info[None]["array-location"]
    (y0, y1), (x0, x1) = loc
    yy, xx = np.mgrid[y0:y1, x0:x1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ra, dec = wcs.pixel_to_world_values(xx, yy)
    return np.asarray(ra if lon else dec, dtype=np.float64)


def _build(spec: dict[str, Any], chunks: dict[str, int] | str | None) -> xr.DataArray:
    wcs = spec["wcs"]
    shape = spec["shape"]
    naxis = len(shape)
    ctypes = [str(t) for t in wcs.wcs.ctype]
    dims = _axis_dims(wcs, naxis)
    chunk_shape = list(_default_chunks(shape, dims))
    if isinstance(chunks, dict):
        for d, n in chunks.items():
            if d in dims:
                chunk_shape[dims.index(d)] = n
    if spec["format"] == "fits":
        reader: Any = _FitsPlaneReader(spec["path"], spec["hdu"], shape, spec["dtype"], spec["header"])
    else:
        reader = (
            _CasaTableReader(spec["path"], shape, spec["dtype"])
            if spec.get("table_only")
            else _CasaPlaneReader(spec["path"], shape, spec["dtype"], spec.get("has_mask", True))
        )
    order = _canonical_order(dims)
    perm = tuple(dims.index(d) for d in order)
    token = f"{spec['path']}-{os.path.getmtime(spec['path'])}"
    pixels = xr.Variable(tuple(order), indexing.LazilyIndexedArray(ImagePixels(reader, perm, token)))

    coords: dict[str, Any] = {}
    for i, d in enumerate(dims):
        fits_axis = naxis - 1 - i  # 0-based WCS axis
        n = shape[i]
        if d in ("frequency", "velocity"):
            if d == "frequency" and spec.get("frequencies") is not None:
                values = np.asarray(spec["frequencies"], dtype=float)
            else:
                values = _axis_world(wcs, fits_axis, n)
            unit = str(wcs.wcs.cunit[fits_axis]) or ("Hz" if d == "frequency" else "m/s")
            target = "Hz" if d == "frequency" else "m/s"
            if unit != target:
                from astropy import units as u

                values = (values * u.Unit(unit)).to_value(u.Unit(target))
                unit = target
            coords[d] = (d, values, {"units": unit})
        elif d == "stokes":
            labels = spec.get("stokes_labels")
            if not labels or len(labels) != n:
                codes = np.round(_axis_world(wcs, fits_axis, n)).astype(int)
                labels = [STOKES_CODES.get(int(c), str(int(c))) for c in codes]
            coords[d] = (d, np.array(labels, dtype=object))
    if "x" in dims and "y" in dims and wcs.has_celestial:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            celestial = wcs.celestial
        yi, xi = dims.index("y"), dims.index("x")
        plane_chunks = (chunk_shape[yi], chunk_shape[xi])
        template = da.zeros((shape[yi], shape[xi]), chunks=plane_chunks, dtype=np.float64)
        lon = da.map_blocks(_celestial_block, template, celestial, True, dtype=np.float64)
        lat = da.map_blocks(_celestial_block, template, celestial, False, dtype=np.float64)
        lon_name = "ra" if ctypes[naxis - 1 - xi].upper().startswith("RA") else "lon"
        lat_name = "dec" if ctypes[naxis - 1 - yi].upper().startswith("DEC") else "lat"
        coords[lon_name] = (("y", "x"), lon, {"units": "deg"})
        coords[lat_name] = (("y", "x"), lat, {"units": "deg"})

    beam_attrs = ({"units": "arcsec"}, {"units": "arcsec"}, {"units": "deg"})
    beam_names = ("beam_major", "beam_minor", "beam_pa")
    if spec.get("beams") is not None and "frequency" in dims:
        beams = spec["beams"]  # (nchan, npol, 3)
        nchan = shape[dims.index("frequency")]
        if beams.shape[0] == nchan:
            if "stokes" in dims and beams.shape[1] == shape[dims.index("stokes")] and beams.shape[1] > 1:
                bdims: tuple[str, ...] = ("frequency", "stokes")
                values = [beams[:, :, k] for k in range(3)]
            else:
                bdims = ("frequency",)
                values = [beams[:, 0, k] for k in range(3)]
            order = [d for d in dims if d in bdims]
            for name, v, a in zip(beam_names, values, beam_attrs):
                arr = xr.DataArray(v, dims=bdims).transpose(*order)
                coords[name] = (tuple(order), arr.values, a)
    elif spec.get("beam") is not None:
        for name, v, a in zip(beam_names, spec["beam"], beam_attrs):
            coords[name] = ((), float(v), a)

    attrs = {
        "units": spec["units"],
        "wcs": wcs,
        "source": str(spec["path"]),
        "format": spec["format"],
        **{k: v for k, v in spec["attrs"].items() if v == v and v != ""},
    }
    if chunks is not None:
        # dask through xarray's own path (getter tasks on the BackendArray): dask fuses a later
        # .isel into the read, so a selection of a chunked image still reads only its pixels.
        # Only the pixels become dask; the coordinates stay as they are.
        from dask.base import tokenize

        plane = {d: chunk_shape[dims.index(d)] for d in order}
        name = f"almaview-image-{tokenize(token, order, sorted(plane.items()))}"  # one name per file and chunking
        pixels = pixels.chunk(plane, from_array_kwargs={"name": name})
    return xr.DataArray(pixels, coords=coords, attrs=attrs, name=Path(spec["path"]).name)


def _canonical_order(dims: list[str]) -> list[str]:
    """stokes, spectral, any other axis, y, x: the same order for FITS and CASA images."""
    head = [d for d in ("stokes", "frequency", "velocity") if d in dims]
    tail = [d for d in ("y", "x") if d in dims]
    return head + [d for d in dims if d not in head and d not in tail] + tail


def _axis_world(wcs: Any, axis: int, n: int) -> np.ndarray:
    """World values along one WCS axis (0-based) at pixels 0..n-1, other axes at their reference pixel."""
    pix = np.tile(np.asarray(wcs.wcs.crpix, dtype=float) - 1.0, (n, 1))
    pix[:, axis] = np.arange(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        world = wcs.all_pix2world(pix, 0)
    return np.asarray(world[:, axis], dtype=float)


from .imagestats import ImageStatistics, image_statistics  # noqa: E402  (re-exported)

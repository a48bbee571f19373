"""FITS images for :func:`almaview.io.image.open_image`: the header checks, WCS, beams and the plane reader.

Plain and gzipped FITS; astropy reads the header and memory-maps the pixels (a gzip's pixels are decompressed once
into the cache and memory-mapped from there: ``io/fitsgz.py``).
"""

from __future__ import annotations

import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .fitsgz import _state_without_map, gunzipped_data
from ..errors import (
    AlmaviewError,
    InvalidImageHeader,
    NotAnImage,
)

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
    through a big cube), of the cache's decompressed copy for gzipped files (``io/fitsgz.py``),
    astropy's ``section`` for tile-compressed files (and gzipped ones the cache cannot hold).

    Scaling (BSCALE/BZERO) and BLANK are applied here, on the block, because astropy
    refuses to memory-map scaled data.
    """

    def __init__(self, path: Path, hdu: int, shape: tuple[int, ...], dtype: np.dtype, header: Any):
        self.path, self.hdu, self.shape, self.dtype = path, hdu, shape, dtype
        self.ndim = len(shape)
        self.bscale = float(header.get("BSCALE", 1.0))
        self.bzero = float(header.get("BZERO", 0.0))
        self.blank = header.get("BLANK") if int(header["BITPIX"]) > 0 else None
        self.bitpix = int(header["BITPIX"])
        with open(path, "rb") as f:  # a plain file is memory-mapped; a gzip is decompressed once into the cache
            self.memmap = f.read(2) != b"\x1f\x8b"
        self._gz: Any = None  # the gzip's cached copy (a memory map), False when it cannot be cached

    def __getstate__(self) -> dict:
        return _state_without_map(self)

    def _gunzipped(self) -> Any:
        if self._gz is None:
            self._gz = gunzipped_data(self.path, self.hdu, self.shape, self.bitpix)
            if self._gz is None:
                self._gz = False
        return self._gz

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        try:
            cached = False if self.memmap else self._gunzipped()
            if cached is not False:
                raw = np.array(cached[key])  # the gzip's copy in the cache (see io/fitsgz.py)
            else:
                raw = self._read_with_astropy(key)
        except AlmaviewError:
            raise
        except Exception as err:
            raise NotAnImage(self.path, f"could not read image data ({type(err).__name__}: {err})") from err
        if self.bscale == 1.0 and self.bzero == 0.0 and self.blank is None:
            return raw.astype(self.dtype, copy=False)
        block = raw.astype(self.dtype) * self.dtype.type(self.bscale) + self.dtype.type(self.bzero)
        if self.blank is not None and np.issubdtype(self.dtype, np.floating):
            block[raw == self.blank] = np.nan
        return block

    def _read_with_astropy(self, key: tuple[slice, ...]) -> np.ndarray:
        from astropy.io import fits

        with fits.open(self.path, memmap=True, do_not_scale_image_data=True) as hdul:
            hdu = hdul[self.hdu]
            if self.memmap and not isinstance(hdu, fits.CompImageHDU):
                # memmap: touches only the region's pages; copied before close, in native byte order in the same
                # pass (FITS is big-endian: a copy then a swap was two passes, ~2.5 vs ~0.9 ms per 1024^2 plane)
                region = hdu.data[key]
                return region.astype(region.dtype.newbyteorder("="))
            return np.asarray(hdu.section[key])  # gzip (not cacheable) / tile-compressed: astropy's section

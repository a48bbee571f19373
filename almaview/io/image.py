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
    NotAnImage,
    PathNotFound,
)
from .casaimage import _casa_image_spec, _CasaPlaneReader, _CasaTableReader
from .fitsimage import _STOKES_LABELS, STOKES_CODES, _fits_image_spec, _FitsPlaneReader, normalise_unit  # noqa: F401
from .table import check_table_dir, table_kind

__all__ = ["open_image", "ImagePixels", "image_statistics", "ImageStatistics", "STOKES_CODES"]


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

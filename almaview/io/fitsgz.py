"""A gzipped FITS image's pixels, decompressed once into almaview's cache and memory-mapped from there.

ALMA delivers primary beams and clean masks as ``.fits.gz``. A gzip stream has no random access: reaching a plane
deep in a cube means decompressing everything before it, and astropy's ``section`` starts again from the first
byte whenever a read goes backwards. Reading a cube plane by plane (dask computes chunks in its own order, often
from the last plane down) therefore decompressed the file once per plane: the demo's ``almaview qa`` spent 29 of its
35 CPU s in zlib. Here the image HDU's data bytes are decompressed once, streamed into the cache directory
(``<cache>/fits-gunzip``, written under a temporary name and renamed into place; never next to the delivery) and
read through a memory map, like a plain FITS file. The copy is keyed by the file's path, inode, size and mtime, so
a changed file gets a new one, and every later process (kernel restarts, the CLI, the report) reuses it.

Bounds (hostile and broken input): only the bytes the header declares for the image are written, and only when
the cache's disk has room for them plus ``HEADROOM``; a stream that ends before the image data does raises
:class:`~almaview.errors.NotAnImage` naming the file. When there is no room, the cache is not writable or the HDU
is tile-compressed, :func:`gunzipped_data` returns None and the caller reads through astropy's ``section``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CacheNotWritable, NotAnImage

HEADROOM = 256 * 2**20  #: free bytes left on the cache's disk after a copy
_CHUNK = 4 * 2**20
_RAW_DTYPES = {8: "u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}
_GUARD = threading.Lock()
_LOCKS: dict[str, threading.Lock] = {}


def _key(path: Path, hdu: int) -> str:
    st = path.stat()
    ident = f"{path.resolve()}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}\0{hdu}"
    return hashlib.sha256(ident.encode()).hexdigest()[:24]


def gunzipped_data(path: str | os.PathLike, hdu: int, shape: tuple[int, ...], bitpix: int) -> np.ndarray | None:
    """A read-only memory map of HDU ``hdu``'s data (raw, big-endian values as stored: BSCALE/BZERO/BLANK not
    applied) of the gzipped FITS file ``path``, decompressed once into the cache; None when it cannot be cached
    (no room, cache not writable, tile-compressed HDU): read through astropy's ``section`` then.

    Examples
    --------
    >>> import gzip, tempfile, pathlib
    >>> from astropy.io import fits
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> cube = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    >>> fits.PrimaryHDU(cube).writeto(folder / "pb.fits.gz")
    >>> data = gunzipped_data(folder / "pb.fits.gz", 0, cube.shape, -32)
    >>> data[1, 2].tolist(), data.dtype.str
    ([20.0, 21.0, 22.0, 23.0], '>f4')
    """
    path = Path(path)
    dtype = np.dtype(_RAW_DTYPES[int(bitpix)])
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    try:
        folder = _folder()
    except CacheNotWritable:
        return None
    key = _key(path, hdu)
    target = folder / f"{key}.raw"
    with _GUARD:
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        if not (target.is_file() and target.stat().st_size == nbytes):
            if shutil.disk_usage(folder).free < nbytes + HEADROOM:
                return None
            offset = _data_offset(path, hdu)
            if offset is None:
                return None
            _decompress(path, offset, nbytes, target)
    if nbytes == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(target, dtype=dtype, mode="r", shape=tuple(shape))


def _folder() -> Path:
    from ..cache import cache_dir, remove_orphaned_partials

    folder = cache_dir("fits-gunzip")
    remove_orphaned_partials(folder)
    return folder


def _data_offset(path: Path, hdu: int) -> int | None:
    """Where HDU ``hdu``'s data starts in the decompressed stream (astropy reads only the headers up to it)."""
    from astropy.io import fits

    with fits.open(path, do_not_scale_image_data=True) as hdul:
        h = hdul[hdu]
        if isinstance(h, fits.CompImageHDU):
            return None
        return int(h.fileinfo()["datLoc"])


def _decompress(path: Path, offset: int, nbytes: int, target: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.pid{os.getpid()}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, gzip.open(path, "rb") as stream:
            stream.seek(offset)
            left = nbytes
            while left:
                block = stream.read(min(_CHUNK, left))
                if not block:
                    raise NotAnImage(
                        path,
                        f"the gzip stream ends {left:,} bytes before the end of the image data its header declares "
                        "(a truncated download?): download the file again",
                    )
                out.write(block)
                left -= len(block)
        os.replace(tmp, target)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise NotAnImage(path, f"could not decompress the image data ({type(err).__name__}: {err})") from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _state_without_map(reader: Any) -> dict:
    """A plane reader's pickled state: the memory map is reopened by path in the other process.

    Examples
    --------
    >>> class R: pass
    >>> r = R(); r.path, r._gz = "x.fits.gz", object()
    >>> _state_without_map(r)
    {'path': 'x.fits.gz', '_gz': None}
    """
    state = dict(reader.__dict__)
    state["_gz"] = None
    return state

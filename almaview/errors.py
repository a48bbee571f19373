"""Errors almaview raises: one base class, one subclass per kind of problem.

Every message names the path involved, what was expected there, and the
likely cause, so that a scientist can act on it without reading a traceback.
"""

from __future__ import annotations

import os


class AlmaviewError(Exception):
    """Base class of every error almaview raises on purpose.

    Examples
    --------
    >>> import almaview as av
    >>> try:
    ...     av.open_ms("/no/such/file.ms")
    ... except av.AlmaviewError as err:
    ...     print(type(err).__name__)
    PathNotFound
    """

    def __init__(self, path: str | os.PathLike | None, message: str):
        self.path = None if path is None else os.fspath(path)
        self.reason = message
        super().__init__(f"{self.path!r}: {message}" if self.path is not None else message)


class PathNotFound(AlmaviewError, FileNotFoundError):
    """The path does not exist."""


class NotATable(AlmaviewError):
    """A directory (or file) that is not a CASA table."""


class DamagedTable(AlmaviewError):
    """A CASA table whose files are missing, empty or unreadable (half-copied or half-untarred)."""


class NotAMeasurementSet(AlmaviewError):
    """A CASA table that is not a measurement set (e.g. a caltable or an image)."""


class NotACaltable(AlmaviewError):
    """A CASA table that is not a calibration table (e.g. a measurement set)."""


class UnsupportedCaltable(AlmaviewError):
    """A calibration table almaview cannot read (unknown VisCal type, pre-3.4 CAL_DESC layout)."""


class NotAnImage(AlmaviewError):
    """A FITS file or CASA table that holds no image."""


class NotADelivery(AlmaviewError):
    """A path that is not (inside) an ALMA delivery package."""


class DamagedArchive(AlmaviewError):
    """A tar/tgz that is truncated, corrupt, or holds unsafe members."""


class UnsafeArchiveMember(DamagedArchive):
    """A tar member with an absolute path, '..', a link leaving the archive, or a device file."""


class ReadmeFormatError(AlmaviewError):
    """A README that follows none of ALMA's known layouts."""


class CasaNotAvailable(AlmaviewError):
    """CASA (casatools/casatasks) is needed but not installed."""

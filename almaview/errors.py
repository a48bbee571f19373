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


class EmptyMeasurementSet(AlmaviewError):
    """A measurement set whose main table has no rows (no visibilities to show)."""


class NotACaltable(AlmaviewError):
    """A CASA table that is not a calibration table (e.g. a measurement set)."""


class UnsupportedCaltable(AlmaviewError):
    """A calibration table almaview cannot read (unknown VisCal type, pre-3.4 CAL_DESC layout)."""


class NotAnImage(AlmaviewError):
    """A FITS file or CASA table that holds no image."""


class InvalidImageHeader(NotAnImage):
    """An image whose header describes no usable world coordinates (singular CDELT, inconsistent axis types,
    a keyword astropy's WCS repair cannot fix): the message names the keyword."""


class NoFinitePixels(AlmaviewError, ValueError):
    """An image (or the selected part of it) whose pixels are all NaN or blank: nothing to take statistics of."""


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


class DuplicateArchiveMember(UnsafeArchiveMember):
    """A tar holding one name twice, or as both a file and a directory (the later one would silently win)."""


class ArchiveMemberNameTooLong(UnsafeArchiveMember):
    """A tar member whose name is longer than a file system accepts (a component over 255 bytes)."""


class NotEnoughSpace(AlmaviewError):
    """An archive whose members would not fit in the free space of almaview's cache (e.g. a decompression bomb)."""


class CacheNotWritable(AlmaviewError):
    """almaview's cache directory (``ALMAVIEW_CACHE_DIR``) is a file, or cannot be created or written."""


class UnreadablePackageFile(AlmaviewError):
    """A package text file that is not a regular file (a FIFO, a device), leaves the package, or is too large."""


class UnsafeWeblogPath(AlmaviewError):
    """A weblog link or image that points outside the weblog's own directory, or at something not a regular file."""


# --- imaging -------------------------------------------------------------------------------------------------------


class InvalidImagingParameter(AlmaviewError, ValueError):
    """An imaging parameter (cell, taper, field, spw, robust) that cannot be used with this data."""


class SpectrumSelectionError(AlmaviewError, ValueError):
    """The field, spw, data column or frame asked for is not in the measurement set."""


class ContDatExists(AlmaviewError, FileExistsError):
    """Writing cont.dat would replace an existing (possibly delivered) file."""


class TcleanFailed(AlmaviewError):
    """tclean (run by almaview in a subprocess) failed or was stopped."""


class OutputInsideDelivery(AlmaviewError):
    """Re-imaging products would be written inside a delivery (almaview never writes into one)."""


class DegenerateUVCoverage(AlmaviewError, ValueError):
    """A uv coverage that cannot give a synthesized beam (one baseline, one integration of a linear array):
    its samples lie along one direction, so the beam would be larger than the image."""


# --- restore -------------------------------------------------------------------------------------------------------


class RestoreError(AlmaviewError):
    """Restoring calibrated data failed or cannot start."""


class RestoreNotReady(RestoreError):
    """No EB of the plan can be restored (raw data, CASA or disk missing); the plan says what is needed."""


class RestoreFailed(RestoreError):
    """CASA failed while restoring an EB; the message names the EB, the step and the log to send to the helpdesk."""


class RestoreStopped(RestoreError):
    """The run was stopped by the user; EBs already verified are kept and the plan can be run again."""


class VerificationFailed(RestoreError):
    """A restored MS did not pass verification (missing columns, or calibrator fluxes off flux.csv)."""


class RestoreStepFailed(RestoreFailed):
    """One CASA step of a restore (importasdm, flag restore, applycal, split) failed; the log says which."""


# --- archive -------------------------------------------------------------------------------------------------------


class ArchiveError(AlmaviewError):
    """A problem talking to the ALMA archive (``almaview.archive``); ``path`` is the URL or file involved."""


class ArchiveUnreachable(ArchiveError):
    """The archive (TAP, DataLink or a download URL) did not answer: network down, mirror down, wrong URL."""


class UnknownIdentifier(ArchiveError):
    """A project code, member OUS uid or EB uid that the archive does not know (or that is malformed)."""


class AuthenticationRequired(ArchiveError):
    """The archive answered 401/403: the data are proprietary; log in with ``almaview.archive.login``."""


class TransferIncomplete(ArchiveError):
    """A download stopped before (or went past) the archive's size for the file; the ``.part`` file is kept."""


class NotEnoughDisk(ArchiveError):
    """The files to fetch do not fit in the free space of the destination."""


# --- plots ---------------------------------------------------------------------------------------------------------


class CaltableKindMismatch(AlmaviewError, ValueError):
    """A calibration table given to a panel made for another kind (e.g. a delay table to the bandpass panel)."""


# --- long work -----------------------------------------------------------------------------------------------------


class Cancelled(AlmaviewError):
    """Long work (a reduction, a download, an extraction) was stopped by the user."""


# --- warnings ------------------------------------------------------------------------------------------------------


class AlmaviewWarning(UserWarning):
    """Base class of every warning almaview issues: something was read or shown with a caveat.

    Filter them all with ``warnings.simplefilter("ignore", almaview.errors.AlmaviewWarning)``.

    Examples
    --------
    >>> import warnings
    >>> from almaview.errors import AlmaviewWarning, DataWarning
    >>> issubclass(DataWarning, AlmaviewWarning)
    True
    """


class DataWarning(AlmaviewWarning):
    """The data hold something unusual that almaview skipped or simplified (rows without a spw, duplicate rows)."""


class PackageWarning(AlmaviewWarning):
    """A delivery holds a part almaview could not use (a malformed line, a file skipped); the rest still opens."""


class FeatherFailed(AlmaviewError):
    """CASA's feather (combining interferometer and single-dish images) failed; the message holds its last output."""

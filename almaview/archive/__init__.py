"""The ALMA archive: find a project's data, list what it holds, fetch only what is needed.

This is the delivery-level layer that talks to the archive (no Jupyter here;
the browser widget is :class:`almaview.widgets.ArchiveBrowser`).  Queries go
through ``astroquery.alma`` (TAP for the ObsCore table, DataLink for the file
listings); downloads are plain HTTP with ``Range`` resume, size checks and
atomic renames, into a folder that :func:`almaview.open_delivery` reads as it is.

The mirror is ``archive_url=`` on every call, else the environment variable
``ALMAVIEW_ARCHIVE_URL``, else astroquery's own default (the ALMA science
portal, which redirects to the ESO, NRAO or NAOJ mirror).

Examples
--------
>>> from almaview import archive
>>> archive.search(project="2017.1.01185.S")                     # doctest: +SKIP
>>> archive.files("uid://A001/X12a3/Xe9")[["name", "kind", "size"]]  # doctest: +SKIP
>>> folder = archive.fetch("2017.1.01185.S", what=("readme", "auxiliary"))   # doctest: +SKIP
"""

from __future__ import annotations

from .._lazy import lazy_attributes

__all__ = ["fetch", "files", "login", "resolve_url", "search"]

# imported on first use: `almaview --help` loads neither pandas nor astroquery
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {"search": ".query", "files": ".listing", "fetch": ".download", "login": ".client", "resolve_url": ".client"},
)

"""almaview: explore ALMA delivered data lazily in Jupyter.

The openers are imported on first use, so ``import almaview`` stays cheap and
does no work (no CASA, no Jupyter).

Examples
--------
>>> import almaview as av
>>> vis = av.open_ms("uid___A002_Xc3_X1.ms")            # doctest: +SKIP
>>> vis["spw_0"].ds.VISIBILITY_CORRECTED                  # doctest: +SKIP
"""

from __future__ import annotations

from ._lazy import lazy_attributes
from .errors import (  # noqa: F401  (the error types are part of the API)
    AlmaviewError,
    CasaNotAvailable,
    DamagedArchive,
    DamagedTable,
    NotACaltable,
    NotADelivery,
    NotAMeasurementSet,
    NotATable,
    NotAnImage,
    PathNotFound,
    ReadmeFormatError,
    UnsafeArchiveMember,
    UnsupportedCaltable,
)

__version__ = "0.1.0"

_LAZY = {
    "open_ms": ".io.ms",
    "open_caltable": ".io.caltable",
    "open_image": ".io.image",
    "image_statistics": ".io.image",
    "open_delivery": ".delivery",
    "demo": ".demo",
    "casa": ".casa",
    "analysis": ".analysis",
    "plots": ".plots",
    "explore": ".widgets",
    "widgets": ".widgets",
    "compare_images": ".widgets.sky_compare:compare_images",
    "qa": ".qa",
    "restore": ".restore",
    "imaging": ".imaging",
    "sampledata": ".sampledata",
    "archive": ".archive",
}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

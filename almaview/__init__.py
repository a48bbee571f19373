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

import importlib
from typing import Any

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
    "open_ms": "almaview.io.ms",
    "open_caltable": "almaview.io.caltable",
    "open_image": "almaview.io.image",
    "image_statistics": "almaview.io.image",
    "open_delivery": "almaview.delivery",
    "demo": "almaview.demo",
    "casa": "almaview.casa",
    "plots": "almaview.plots",
    "explore": "almaview.widgets",
    "widgets": "almaview.widgets",
    "qa": "almaview.qa",
    "restore": "almaview.restore",
    "imaging": "almaview.imaging",
    "sampledata": "almaview.sampledata",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'almaview' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if module.endswith("." + name) else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

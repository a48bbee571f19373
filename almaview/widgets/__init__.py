"""The widget layer: :func:`explore` (the explorer app) and its parts. Imported on first use of ``av.explore``.

Examples
--------
>>> import almaview as av
>>> ex = av.explore(av.open_delivery("2023.1.01234.S"))   # doctest: +SKIP
>>> ex.selection                                            # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

from .._lazy import lazy_attributes
from ._bokeh import load_bokehjs  # BokehJS loading and the BokehModel helpers live in _bokeh.py

__all__ = [
    "explore",
    "load_bokehjs",
    "ImageViewer",
    "compare",
    "ContinuumEditor",
    "reimage",
    "ReimagePanel",
    "ArchiveBrowser",
    "CompareViewer",
    "compare_images",
]


#: public name -> its module, imported on first use (``import almaview.widgets`` stays cheap)
_LAZY = {
    "ImageViewer": ".image_viewer",  # the image/cube viewer
    "compare": ".image_viewer",  # side-by-side comparison of two images
    "CompareViewer": ".sky_compare",  # images of several arrays matched on the sky, with spectra
    "compare_images": ".sky_compare",
    "ArchiveBrowser": ".archive_browser",  # search the ALMA archive, fetch, open
    "ContinuumEditor": ".contdat_editor",  # the cont.dat editor
    "reimage": ".reimage",  # the re-imaging panel (the module is callable)
    "ReimagePanel": ".reimage",
}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)


def explore(obj: Any, *, eb: str | None = None, tab: str = "overview") -> Any:
    """The explorer for a delivery, a member OUS, an EB, or a path (delivery folder or measurement set).

    Pick an EB, spws, antennas, field/intent, correlation and data column: every panel follows (overview,
    Tsys, bandpass, gains, visibilities, flux, flagging, QA, delivery/weblog browser). Returns the widget;
    ``explorer.selection`` holds the selection, ``explorer.panels[name].data`` what each panel plots.

    Examples
    --------
    >>> import almaview as av
    >>> ex = av.explore(av.demo.build())              # doctest: +SKIP
    >>> ex.controls["antennas"].value = ("DA41",)     # doctest: +SKIP
    >>> ex.selection["antennas"]                      # doctest: +SKIP
    ['DA41']
    """
    from .app import Explorer

    load_bokehjs()
    if isinstance(obj, (str, os.PathLike)):
        from pathlib import Path

        p = Path(obj)
        if not (p / "table.dat").is_file():
            from ..delivery import open_delivery

            obj = open_delivery(p)
    return Explorer(obj, eb=eb, tab=tab)

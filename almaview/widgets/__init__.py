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


def __getattr__(name: str) -> Any:
    if name in ("ImageViewer", "compare"):  # the image/cube viewer and side-by-side comparison
        from . import image_viewer

        return getattr(image_viewer, name)
    if name in ("CompareViewer", "compare_images"):  # images of several arrays matched on the sky, with spectra
        from . import compare as _compare

        return getattr(_compare, name)
    if name == "ArchiveBrowser":  # search the ALMA archive, fetch, open
        from .archive_browser import ArchiveBrowser

        return ArchiveBrowser
    if name == "ContinuumEditor":  # the cont.dat editor
        from .contdat_editor import ContinuumEditor

        return ContinuumEditor
    if name in ("reimage", "ReimagePanel"):  # the re-imaging panel (imported on first use; the module is callable)
        import importlib

        module = importlib.import_module(f"{__name__}.reimage")
        return module if name == "reimage" else module.ReimagePanel
    raise AttributeError(f"module 'almaview.widgets' has no attribute {name!r}")


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

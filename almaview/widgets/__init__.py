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

__all__ = ["explore", "load_bokehjs", "ImageViewer", "compare", "ContinuumEditor", "reimage", "ReimagePanel"]


def __getattr__(name: str) -> Any:
    if name in ("ImageViewer", "compare"):  # the image/cube viewer and side-by-side comparison
        from . import image_viewer

        return getattr(image_viewer, name)
    if name == "ContinuumEditor":  # the cont.dat editor
        from .contdat_editor import ContinuumEditor

        return ContinuumEditor
    if name in ("reimage", "ReimagePanel"):  # the re-imaging panel (imported on first use; the module is callable)
        import importlib

        module = importlib.import_module(f"{__name__}.reimage")
        return module if name == "reimage" else module.ReimagePanel
    raise AttributeError(f"module 'almaview.widgets' has no attribute {name!r}")

_LOADED: set[str] = set()  # the browser sessions (kernel clients) BokehJS was published to


def _client_session(kernel: Any) -> str:
    """The id of the browser connection that sent the running request ('' when unknown).

    Each JupyterLab page (a reload, a second tab) connects with a new client session id, and a new page has no
    BokehJS until it is published again.
    """
    try:
        parent = kernel.get_parent("shell") if hasattr(kernel, "get_parent") else getattr(kernel, "_parent_header", {})
        return str((parent or {}).get("header", {}).get("session", ""))
    except Exception:  # an exotic kernel: fall back to once per kernel
        return ""


def load_bokehjs(force: bool = False) -> bool:
    """Load BokehJS inline (from the installed bokeh, never a CDN) into the running notebook, once per browser page.

    jupyter_bokeh's BokehModel in JupyterLab 4 fails to render ("Cannot read properties of undefined") until
    BokehJS is on the page; :func:`explore` and the other widgets call this. A reloaded page or a second tab on
    the same kernel is a new client session and gets BokehJS again. Returns True when it published the scripts.

    Examples
    --------
    >>> load_bokehjs()   # outside a notebook kernel: nothing to do
    False
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return False
    session = _client_session(shell.kernel)
    if session in _LOADED and not force:
        return False
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(INLINE, hide_banner=True)
    _LOADED.add(session)
    return True


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

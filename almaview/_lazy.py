"""One lazy loader for every package ``__init__`` (PEP 562): public names imported on first use.

``import almaview`` must stay cheap (no CASA, no Jupyter, no Bokeh), so packages
name their public objects in a table instead of importing them.

Examples
--------
>>> getattr_, dir_ = lazy_attributes("almaview", {"open_ms": ".io.ms", "plots": ".plots"})
>>> getattr_("open_ms").__name__
'open_ms'
>>> getattr_("plots").__name__
'almaview.plots'
>>> "open_ms" in dir_()
True
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, table: Mapping[str, str], moved: Mapping[str, str] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``table`` maps a public name to the module that holds it.

    A module path may be relative to ``package`` (``".io.ms"``). The value is the
    module's attribute of the same name, or the module itself when the path ends
    with that name (``"plots": ".plots"``); ``"module:attr"`` names another
    attribute. Each value is cached in the package's namespace after the first use.
    ``moved`` maps names that now live elsewhere to their new module (absolute, e.g.
    ``"almaview.analysis"``): they still resolve, with a :class:`DeprecationWarning`
    at every use, for one release; :func:`dir` does not list them.

    Examples
    --------
    >>> getattr_, _ = lazy_attributes("almaview", {"stats": ".io.image:image_statistics"})
    >>> getattr_("stats").__name__
    'image_statistics'
    >>> getattr_("nothing")
    Traceback (most recent call last):
    ...
    AttributeError: module 'almaview' has no attribute 'nothing'
    >>> import warnings
    >>> old, _ = lazy_attributes("almaview.plots", {}, moved={"flag_fractions": "almaview.analysis"})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     old("flag_fractions").__module__, caught[0].category.__name__
    ('almaview.analysis.flagging', 'DeprecationWarning')
    """

    def __getattr__(name: str) -> Any:
        if moved and name in moved:
            import warnings

            new = moved[name]
            warnings.warn(
                f"{package}.{name} moved to {new}.{name}; the old name will go in the next release",
                DeprecationWarning,
                stacklevel=2,
            )
            return getattr(importlib.import_module(new), name)
        spec = table.get(name)
        if spec is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, _, attr = spec.partition(":")
        module = (
            importlib.import_module(module_name, package)
            if module_name.startswith(".")
            else importlib.import_module(module_name)
        )
        if attr:
            value = getattr(module, attr)
        elif module.__name__.endswith("." + name):
            value = module
        else:
            value = getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__

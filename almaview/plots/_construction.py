"""Bokeh models built without the default models Bokeh makes and throws away (:func:`quick_models`).

Bokeh's property setter reads a property's old value before it sets the new one, and for a property whose default
is a model (``GlyphRenderer.view``, ``CDSView.filter``, ``Plot.toolbar``, ``Plot.x_range``...) reading the old
value builds that default model, whole, with its own defaults. Passing such a property to a constructor
(``GlyphRenderer(view=CDSView(filter=f))``) therefore builds a default ``CDSView`` and two ``AllIndices`` only to
drop them: on the demo's report, 13,070 model constructions of which 7,240 were kept.

Inside ``with quick_models():``, in the current thread only:

- a property set while its model is being constructed (before Bokeh's ``__init__`` has finished: no document, no
  callbacks, no theme yet) skips that read when the property's default is a model not yet made: the value is
  validated and stored as Bokeh stores it. Every other set (after construction, in a document, with callbacks)
  goes through Bokeh's own setter;
- what Bokeh recomputes for every property of every new model and that depends on the class alone (whether a
  default is made per instance, the class's overridden defaults: a walk over its MRO, the validation of a default
  value such as ``tags=[]``, the same value each time) is taken once per class;
- a model's theme values are read from the instance (Bokeh's ``getattr`` with a default goes through
  ``HasProps.__getattr__`` when there are none, the usual case).

Same models, same values: tests/test_plots_construction.py compares the demo report's documents both ways. Model
constructions cost about half (the demo report: 13,070 made for 7,217 kept, then 9,574). Written for Bokeh 3.4
to 3.x; on any other version, or when an internal it relies on is missing, ``quick_models()`` changes nothing.

Examples
--------
>>> from bokeh.models import CDSView, ColumnDataSource, GlyphRenderer, IndexFilter, Scatter
>>> with quick_models():
...     r = GlyphRenderer(data_source=ColumnDataSource(), glyph=Scatter(), view=CDSView(filter=IndexFilter([0])))
>>> r.view.filter.indices
[0]
"""

from __future__ import annotations

import contextvars
import threading
from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["quick_models", "supported"]

_ACTIVE: contextvars.ContextVar[bool] = contextvars.ContextVar("almaview_quick_models", default=False)
#: (model class, property name) -> whether the property's default is a model made per instance
_MODEL_DEFAULT: dict[tuple[type, str], bool] = {}
_INSTALLED: list[Any] = []  # [Bokeh's own functions] once installed
_LOCK = threading.Lock()


def supported() -> bool:
    """Whether the installed Bokeh is one :func:`quick_models` knows (3.4 or later 3.x, with the internals it uses).

    Examples
    --------
    >>> isinstance(supported(), bool)
    True
    """
    try:
        import bokeh
        from bokeh.core.has_props import HasProps
        from bokeh.core.property.descriptors import PropertyDescriptor
        from bokeh.core.property.instance import InstanceDefault  # noqa: F401
    except ImportError:
        return False
    try:
        major, minor = (int(p) for p in bokeh.__version__.split(".")[:2])
    except ValueError:
        return False
    return (
        major == 3
        and minor >= 4
        and all(hasattr(PropertyDescriptor, a) for a in ("_set_value", "_get_default", "class_default"))
        and hasattr(HasProps, "_overridden_defaults")
        and getattr(HasProps, "_initialized", None) is False
    )


def _model_default(cls: type, descriptor: Any) -> bool:
    key = (cls, descriptor.name)
    known = _MODEL_DEFAULT.get(key)
    if known is not None:
        return known
    from bokeh.core.property.instance import InstanceDefault
    from bokeh.model import Model

    default = cls._overridden_defaults().get(descriptor.name, descriptor.property._default)
    if isinstance(default, InstanceDefault):
        known = True
    elif callable(default):  # a factory: a model or a container? make one, once per class and property
        known = isinstance(descriptor.class_default(cls), Model)
    else:
        known = False
    _MODEL_DEFAULT[key] = known
    return known


def _install() -> None:
    with _LOCK:
        if not _INSTALLED:
            _patch()


def _patch() -> None:
    from bokeh.core.has_props import HasProps
    from bokeh.core.property.descriptors import PropertyDescriptor

    bokeh_set = PropertyDescriptor.__set__

    def __set__(self: Any, obj: Any, value: Any, *, setter: Any = None) -> None:
        if (
            _ACTIVE.get()
            and not obj._initialized  # inside the model's __init__: no document, no callbacks, no theme yet
            and hasattr(obj, "_property_values")
            and self.name not in obj._property_values
            and self.name not in obj._unstable_default_values
            and not getattr(obj, "_callbacks", None)
            and obj.themed_values() is None
            and _model_default(type(obj), self)
        ):
            # what Bokeh's setter does when the old value is a default model just made: validate, store
            self._set_value(obj, self.property.prepare_value(obj, self.name, value))
            return
        bokeh_set(self, obj, value, setter=setter)

    bokeh_unstable = PropertyDescriptor.has_unstable_default
    unstable: dict[tuple[type, str], bool] = {}

    def has_unstable_default(self: Any, obj: Any) -> bool:
        if not _ACTIVE.get():
            return bokeh_unstable(self, obj)
        key = (type(obj), self.name)
        known = unstable.get(key)
        if known is None:
            known = unstable[key] = bokeh_unstable(self, obj)
        return known

    bokeh_overridden = HasProps._overridden_defaults.__func__  # type: ignore[attr-defined]
    overridden: dict[type, dict[str, Any]] = {}

    def _overridden_defaults(cls: type) -> dict[str, Any]:
        if not _ACTIVE.get():
            return bokeh_overridden(cls)
        known = overridden.get(cls)
        if known is None:
            known = overridden[cls] = bokeh_overridden(cls)
        return known

    bokeh_themed = HasProps.themed_values

    def themed_values(self: Any) -> dict[str, Any] | None:
        if not _ACTIVE.get():
            return bokeh_themed(self)
        # Bokeh's getattr(self, "__themed_values__", None) goes through HasProps.__getattr__ when unset (the usual)
        return vars(self).get("__themed_values__")

    from copy import copy

    from bokeh.core.property.bases import Property
    from bokeh.core.property.singletons import Intrinsic, Undefined

    bokeh_themed_default = Property.themed_default
    checked: dict[tuple[int, type, str], Any] = {}  # (property, class, name) -> the property, its default valid

    def themed_default(self: Any, cls: type, name: str, theme_overrides: Any, *, no_eval: bool = False) -> Any:
        if (
            not _ACTIVE.get()
            or no_eval
            or (theme_overrides is not None and name in theme_overrides)
            or type(self).prepare_value is not Property.prepare_value
        ):
            return bokeh_themed_default(self, cls, name, theme_overrides, no_eval=no_eval)
        overrides = cls._overridden_defaults()
        default = overrides[name] if name in overrides else self._default
        if callable(default) or default is Undefined or default is Intrinsic:  # a model factory: made as Bokeh does
            return bokeh_themed_default(self, cls, name, theme_overrides)
        key = (id(self), cls, name)
        if key not in checked:  # validated once (a class's default is the same value each time)
            value = bokeh_themed_default(self, cls, name, theme_overrides)
            checked[key] = self  # (kept: its id stays its own)
            return value
        return self.wrap(self.transform(copy(default)))  # prepare_value of a valid value, without validating it

    themed_default.__doc__ = bokeh_themed_default.__doc__
    __set__.__doc__ = bokeh_set.__doc__
    has_unstable_default.__doc__ = bokeh_unstable.__doc__
    _overridden_defaults.__doc__ = bokeh_overridden.__doc__
    themed_values.__doc__ = HasProps.themed_values.__doc__
    _INSTALLED.append((bokeh_set, bokeh_unstable, bokeh_overridden, bokeh_themed, bokeh_themed_default))
    PropertyDescriptor.__set__ = __set__  # type: ignore[method-assign]
    PropertyDescriptor.has_unstable_default = has_unstable_default  # type: ignore[method-assign]
    HasProps._overridden_defaults = classmethod(_overridden_defaults)  # type: ignore[method-assign,assignment]
    HasProps.themed_values = themed_values  # type: ignore[method-assign]
    Property.themed_default = themed_default  # type: ignore[method-assign]


@contextmanager
def quick_models() -> Iterator[bool]:
    """Within the block, Bokeh models are constructed without building the default models of the properties they
    are given (see the module's docstring); yields whether that is in effect (False on an unknown Bokeh).

    Examples
    --------
    >>> from bokeh.models import CDSView, IndexFilter
    >>> with quick_models():
    ...     v = CDSView(filter=IndexFilter([1, 2]))
    >>> v.filter.indices, v.properties_with_values(include_defaults=False).keys() == {"filter"}
    ([1, 2], True)
    """
    if not supported():
        yield False
        return
    _install()
    token = _ACTIVE.set(True)
    try:
        yield True
    finally:
        _ACTIVE.reset(token)

"""The one shape of every almaview app: state in traitlets, controls as views of it, reactions declared per key.

- The public selection keys ARE trait names, tagged ``state=True`` (``spw``, ``antennas``, ``time_bin_s``, ...):
  ``app.spw = [17]`` in a notebook, a widget control in the page and :meth:`AppBase.select` in a test all change
  the same thing.
- A control is bound to its trait (:meth:`AppBase.bind`): a two-way link with optional transforms (a
  SelectMultiple's tuple <-> the trait's list), so the control's label can say "time avg (s)" while the state
  says ``time_bin_s``.
- ``@reacts("field")`` marks a method that keeps the other keys consistent when a key changes (e.g. the intents
  offered for a field). Changes made together — :meth:`AppBase.select`, a reaction's own changes, or any
  ``with app.batch():`` block — are collected, and :meth:`AppBase.apply` runs ONCE with every key that really
  changed: one refresh, not one per key, and no hand-made mute flags.

Examples
--------
>>> import traitlets
>>> class Counter(AppBase):
...     n = traitlets.Int(0).tag(state=True)
...     doubled = traitlets.Int(0).tag(state=True)
...     @reacts("n")
...     def _double(self):
...         self.doubled = 2 * self.n
...     def apply(self, changed):
...         self.seen.append(sorted(changed))
>>> c = Counter()
>>> c.seen = []
>>> c.select(n=3).state
{'doubled': 6, 'n': 3}
>>> c.seen
[['doubled', 'n']]
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as W
import traitlets

__all__ = ["AppBase", "reacts"]


def reacts(*keys: str) -> Callable:
    """Mark an :class:`AppBase` method to run (with no arguments) when one of the state ``keys`` changed, before
    :meth:`AppBase.apply`; what it changes joins the same batch.

    Do not name it ``_<key>_changed``: traitlets calls such methods itself (its old observer convention).

    Examples
    --------
    >>> @reacts("field")
    ... def _intents_for_field(self): ...
    >>> _intents_for_field._almaview_reacts
    ('field',)
    """

    def mark(fn: Callable) -> Callable:
        fn._almaview_reacts = keys
        return fn

    return mark


class AppBase(W.VBox):
    """The base of almaview's apps: an ipywidgets VBox whose state is its ``state=True`` traits.

    Subclasses declare the state traits, bind controls to them (:meth:`bind`), mark reactions with
    :func:`reacts` and implement :meth:`apply` (redraw what the changed keys affect).

    Examples
    --------
    >>> import traitlets
    >>> class App(AppBase):
    ...     spw = traitlets.List(traitlets.Int()).tag(state=True)
    >>> app = App()
    >>> spw = W.SelectMultiple(options=[1, 3])
    >>> app.bind("spw", spw, to_control=tuple, from_control=list).select(spw=[3]).state
    {'spw': [3]}
    >>> spw.value
    (3,)
    """

    def __init__(self, **kwargs: Any) -> None:
        self._depth = 0
        self._pending: set[str] = set()
        self._applied: dict[str, Any] = {}
        self._links: list[Any] = []
        self.controls: dict[str, W.Widget] = getattr(self, "controls", {})
        super().__init__(**kwargs)
        self._reactions: dict[str, list[Callable[[], None]]] = {}
        seen: set[str] = set()
        for klass in type(self).__mro__:
            for name, fn in vars(klass).items():
                if name in seen:
                    continue
                seen.add(name)
                for key in getattr(fn, "_almaview_reacts", ()):
                    self._reactions.setdefault(key, []).append(getattr(self, name))
        self.observe(self._collect, names=self.state_keys())
        self._applied = self.state

    # ------------------------------------------------------------------ state
    @classmethod
    def state_keys(cls) -> list[str]:
        """The names of the state traits (the public selection keys), sorted.

        Examples
        --------
        >>> AppBase.state_keys()
        []
        """
        return sorted(cls.class_trait_names(state=True))

    @property
    def state(self) -> dict[str, Any]:
        """The state as plain values (a copy).

        Examples
        --------
        >>> AppBase().state
        {}
        """
        return {k: _copy(getattr(self, k)) for k in self.state_keys()}

    def select(self, **keys: Any) -> AppBase:
        """Set state keys together: one :meth:`apply` for all of them (what tests and notebooks call, headless).

        Unknown keys raise ``KeyError`` naming the known ones; a value a control does not offer raises the
        control's ``TraitError``.

        Examples
        --------
        >>> AppBase().select(spw=[3])
        Traceback (most recent call last):
        ...
        KeyError: "unknown selection key 'spw'; this app has: (none)"
        """
        known = set(self.state_keys())
        for key in keys:
            if key not in known:
                raise KeyError(f"unknown selection key {key!r}; this app has: {', '.join(sorted(known)) or '(none)'}")
        with self.batch(), self.hold_trait_notifications():
            for key, value in keys.items():
                setattr(self, key, value)
        return self

    @contextlib.contextmanager
    def batch(self) -> Iterator[AppBase]:
        """Collect the state changes made inside; at the end run the reactions and then :meth:`apply` once.

        Examples
        --------
        >>> app = AppBase()
        >>> with app.batch():
        ...     pass
        """
        self._depth += 1
        try:
            yield self
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._flush()

    def _collect(self, change: dict) -> None:
        self._pending.add(change["name"])
        if self._depth == 0:
            self._flush()

    def _flush(self) -> None:
        seen: set[str] = set()
        self._depth += 1  # what reactions change joins this flush
        try:
            rounds = 0
            while self._pending:
                names, self._pending = self._pending, set()
                seen |= names
                for name in sorted(names):
                    for react in self._reactions.get(name, ()):
                        react()
                rounds += 1
                if rounds > 20:  # reactions that keep changing each other: a bug in the app, said plainly
                    raise RuntimeError(f"{type(self).__name__}: state reactions do not settle ({sorted(names)})")
        finally:
            self._depth -= 1
        now = self.state
        changed = {k for k in seen if now.get(k) != self._applied.get(k)}
        self._applied = now
        if changed:
            self.apply(changed)

    def apply(self, changed: set[str]) -> None:
        """Show what the ``changed`` state keys affect (the subclass's redraw). The base does nothing.

        Examples
        --------
        >>> AppBase().apply({"spw"})
        """

    # ------------------------------------------------------------------ controls
    def bind(
        self,
        key: str,
        control: W.Widget,
        *,
        to_control: Callable | None = None,
        from_control: Callable | None = None,
        name: str | None = None,
    ) -> AppBase:
        """Bind ``control.value`` to the state trait ``key`` both ways (transforms optional), and keep the control
        in ``controls`` under ``name`` (default: its description or the key).

        Examples
        --------
        >>> import traitlets
        >>> class App(AppBase):
        ...     time_bin_s = traitlets.Float(0.0).tag(state=True)
        >>> app = App().bind("time_bin_s", W.FloatText(description="time avg (s)"))
        >>> app.controls["time avg (s)"].value = 30.0
        >>> app.time_bin_s
        30.0
        """
        transform = (to_control or _same, from_control or _same)
        # the control follows the state first: the state is the truth, the control a view of it
        self._links.append(traitlets.link((self, key), (control, "value"), transform=transform))
        self.controls[name or getattr(control, "description", "") or key] = control
        return self

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        from ._bokeh import load_bokehjs

        load_bokehjs()  # a reloaded page (a new client) has no BokehJS until it is published again
        return super()._repr_mimebundle_(**kwargs)

    def close(self) -> None:
        """Close the app: its links, then the widget."""
        for link in getattr(self, "_links", ()):  # (none when the subclass failed before AppBase.__init__ ran)
            link.unlink()
        self._links = []
        super().close()


def _same(value: Any) -> Any:
    return value


def _copy(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value

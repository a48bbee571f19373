"""The spw nodes of almaview's trees (:func:`almaview.open_ms`, :func:`almaview.open_caltable`) and selections.

Examples
--------
>>> import almaview as av
>>> ms_spws(av.open_ms("uid___A002_X1.ms"))   # doctest: +SKIP
[0, 1, 2, 3]
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

from ..constants import CALTABLE_RENAMED

__all__ = ["ms_spws", "caltable_spws", "selected", "current_names"]


def _spw_ids(tree: Any, *, skip_pol: bool) -> list[int]:
    out = []
    for name in tree.children:
        if not name.startswith("spw_") or (skip_pol and "_pol" in name):
            continue
        try:
            out.append(int(name[4:].split("_")[0]))
        except ValueError:
            continue
    return sorted(set(out))


def ms_spws(vis: Any) -> list[int]:
    """The spw ids with a ``spw_<id>`` node in an :func:`~almaview.open_ms` tree, in order.

    Examples
    --------
    >>> import xarray as xr
    >>> ms_spws(xr.DataTree.from_dict({"spw_3": xr.Dataset(), "spw_1": xr.Dataset(), "antennas": xr.Dataset()}))
    [1, 3]
    """
    return _spw_ids(vis, skip_pol=True)


def caltable_spws(ct: Any) -> list[int]:
    """The spw ids of a caltable DataTree (:func:`~almaview.open_caltable`), in order.

    Examples
    --------
    >>> import xarray as xr
    >>> caltable_spws(xr.DataTree.from_dict({"spw_17": xr.Dataset(), "spw_19": xr.Dataset()}))
    [17, 19]
    """
    return _spw_ids(ct, skip_pol=False)


def selected(values: Sequence[Any], wanted: Sequence[Any] | None) -> list[Any]:
    """``values`` restricted to ``wanted`` (all when ``wanted`` is None), keeping ``values``' order.

    Examples
    --------
    >>> selected(["a", "b", "c"], ["c", "a"])
    ['a', 'c']
    >>> selected([1, 2], None)
    [1, 2]
    """
    if wanted is None:
        return list(values)
    w = {str(v) for v in wanted}
    return [v for v in values if str(v) in w]


def current_names(ds: Any) -> Any:
    """A caltable node with the current names: one that still has almaview 0.1's (the ``antenna`` dimension, e.g. a
    tree saved to disk or built by hand) comes back renamed (:data:`almaview.constants.CALTABLE_RENAMED`), with a
    :class:`DeprecationWarning`, until almaview 0.3; a current node comes back as it is.

    Examples
    --------
    >>> import xarray as xr
    >>> old = xr.Dataset({"flag": (("time", "antenna"), [[False, True]])}, coords={"antenna": ["DA41", "DA42"]})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     new = current_names(old)
    >>> new.flag.dims, caught[0].category.__name__
    (('time', 'antenna_name'), 'DeprecationWarning')
    >>> current_names(new) is new
    True
    """
    old = {k: v for k, v in CALTABLE_RENAMED.items() if k in ds.variables and v not in ds.variables}
    if not old:
        return ds
    warnings.warn(
        "this caltable tree has almaview 0.1's names; the caltable trees now use xradio's MSv4 names: "
        + ", ".join(f"{k!r} -> {v!r}" for k, v in old.items())
        + " (open the table again with almaview.open_caltable, or rename it: ds.rename(antenna='antenna_name'))",
        DeprecationWarning,
        stacklevel=3,
    )
    return ds.rename(old)

"""The spw nodes of almaview's trees (:func:`almaview.open_ms`, :func:`almaview.open_caltable`) and selections.

Examples
--------
>>> import almaview as av
>>> ms_spws(av.open_ms("uid___A002_X1.ms"))   # doctest: +SKIP
[0, 1, 2, 3]
"""

from __future__ import annotations

from typing import Any, Sequence

__all__ = ["ms_spws", "caltable_spws", "selected"]


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

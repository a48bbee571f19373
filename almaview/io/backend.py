"""The ``almaview`` xarray backend: ``xr.open_datatree(path, engine="almaview")``.

Measurement sets open through :func:`almaview.io.ms.build_tree` (lazily indexed;
pass ``chunks=`` to xarray for dask), calibration tables through
:func:`almaview.io.caltable.open_caltable`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

import xarray as xr
from xarray.backends import BackendEntrypoint

from ..errors import AlmaviewError


def _kind(path: Any) -> str | None:
    """'ms' / 'caltable' / 'image' / 'table' for a CASA table directory, None for anything else."""
    try:
        p = Path(os.fspath(path)).expanduser()
    except TypeError:
        return None
    if not (p.is_dir() and (p / "table.dat").is_file()):
        return None
    from .table import table_kind

    try:
        return table_kind(p)
    except Exception:  # a damaged table is not ours to claim here; open_* will explain
        return None


def _open_tree(path: str | os.PathLike) -> xr.DataTree:
    from .table import table_kind

    kind = table_kind(path)
    if kind == "caltable":
        from .caltable import open_caltable  # written separately; imported only when needed

        return open_caltable(path)
    from .ms import build_tree

    return build_tree(path)  # raises NotAMeasurementSet for images and other tables


def _drop(tree: xr.DataTree, drop_variables: Iterable[str] | None) -> xr.DataTree:
    if not drop_variables:
        return tree
    drop = set(drop_variables)
    return tree.map_over_datasets(lambda ds: ds.drop_vars([v for v in ds.variables if v in drop]))


class AlmaviewBackendEntrypoint(BackendEntrypoint):
    """xarray backend for CASA measurement sets and calibration tables.

    Examples
    --------
    >>> import xarray as xr
    >>> tree = xr.open_datatree("uid___A002_Xc3_X1.ms", engine="almaview", chunks={})   # doctest: +SKIP
    >>> ds = xr.open_dataset("uid___A002_Xc3_X1.ms", engine="almaview", group="spw_17")  # doctest: +SKIP
    """

    description = "CASA measurement sets and calibration tables (almaview, python-casacore)"
    url = "https://github.com/almaview/almaview"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "group")

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """True for CASA table directories holding a measurement set or a caltable.

        Examples
        --------
        >>> AlmaviewBackendEntrypoint().guess_can_open("/no/such.ms")
        False
        """
        return _kind(filename_or_obj) in ("ms", "caltable")

    def open_datatree(
        self, filename_or_obj: Any, *, drop_variables: Iterable[str] | None = None, **kwargs: Any
    ) -> xr.DataTree:
        """Open the whole table as a DataTree (metadata nodes plus one node per spw).

        Examples
        --------
        >>> AlmaviewBackendEntrypoint().open_datatree("my.ms")   # doctest: +SKIP
        """
        return _drop(_open_tree(filename_or_obj), drop_variables)

    def open_groups_as_dict(
        self, filename_or_obj: Any, *, drop_variables: Iterable[str] | None = None, **kwargs: Any
    ) -> dict[str, xr.Dataset]:
        """Every node as a Dataset, keyed by its path ('/', '/antennas', '/spw_0', ...).

        Examples
        --------
        >>> sorted(AlmaviewBackendEntrypoint().open_groups_as_dict("my.ms"))   # doctest: +SKIP
        ['/', '/antennas', '/fields', '/observation', '/scans', '/spw_0', '/spws']
        """
        tree = self.open_datatree(filename_or_obj, drop_variables=drop_variables)
        return {node.path: node.to_dataset(inherit=False) for node in tree.subtree}

    def open_dataset(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: Iterable[str] | None = None,
        group: str | None = None,
    ) -> xr.Dataset:
        """One node as a Dataset: ``group`` names it ('spw_17', 'antennas', ...).

        Without ``group``, the only spw node when there is exactly one.

        Examples
        --------
        >>> AlmaviewBackendEntrypoint().open_dataset("my.ms", group="spw_0")   # doctest: +SKIP
        """
        tree = self.open_datatree(filename_or_obj, drop_variables=drop_variables)
        if group is None:
            spw_nodes = [name for name in tree.children if name.startswith("spw_")]
            if len(spw_nodes) != 1:
                raise AlmaviewError(
                    filename_or_obj,
                    f"holds {len(spw_nodes)} data nodes ({', '.join(spw_nodes) or 'none'}): "
                    "say which with group=..., or use xr.open_datatree",
                )
            group = spw_nodes[0]
        name = group.strip("/")
        if name and name not in tree:
            raise AlmaviewError(filename_or_obj, f"has no group {group!r}; it has {', '.join(tree.children)}")
        node = tree[name] if name else tree
        return node.to_dataset(inherit=True)

"""The demo delivery: a realistic ALMA QA2 package built with CASA, almaview's built-in default data.

``build(dir)`` writes ``<dir>/2023.1.01234.S/`` with the archive's layout and
names (science goal / group / member OUS directories holding ``calibrated/
calibration/ log/ product/ qa/ raw/ script/`` and a README), and an index of
every file written (``<dir>/almaview-demo.json``). The member OUSs:

- ``uid___A001_X3571_X8a``: two ALMA-like EBs simulated, calibrated and imaged
  with CASA (different seeds and start times), packaged as the pipeline does:
  session caltables tgz, ``calapply.txt``, flagversions, auxproducts
  (``cont.dat``, ``flux.csv``, ``antennapos.csv``), FITS products (continuum and
  cube: pbcor, pb, mask), a weblog tgz with per-stage pages and PNGs drawn from
  the real tables and images, an AQUA report, the manifest, the pipeline
  scripts, ``casa_commands.log`` with the tclean calls that ran, raw ASDMs
  (exportasdm of each EB's DATA) and the calibrated MSs as the PI restores them
  (``calibrated/<EB>.ms``, DATA + CORRECTED_DATA, as scriptForPI leaves
  pipeline-calibrated data).
- ``uid___A001_X3571_X8e``: the real VLA observation of NGC 5921 (casadata),
  calibrated and imaged with CASA the classic way, packaged as a manually
  reduced member OUS (``<EB>.calibration.tgz``, scriptForCalibration/Imaging,
  ``calibrated/<EB>.ms.split.cal``). Its raw data are not converted to an ASDM
  (exportasdm cannot write its irregular integrations); the README says so.
- ``uid___A001_X3571_X8b`` (7-m) and ``uid___A001_X3571_X8c`` (Total Power) in the
  same group (:mod:`almaview.demo.group`), and the group OUS's own products: the
  12-m and 7-m EBs imaged jointly, ``group.<GOUS>.*.fits`` in ``group.<GOUS>/product/``
  (:mod:`almaview.demo.group_products`).

The build is deterministic (fixed seeds, fixed timestamps in every text file
and archive header; the CASA log is the one file that carries wall-clock
times) and cached: a second call with the same recipe returns at once.

Examples
--------
>>> import almaview as av
>>> project = av.demo.build()            # doctest: +SKIP
>>> d = av.open_delivery(project)        # doctest: +SKIP
>>> [eb.uid for eb in d.ebs]             # doctest: +SKIP
['uid___A002_X10ab2c3_X1f4a', 'uid___A002_X10ab2c3_X2b07', 'uid___A002_X5921_X1']
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from ..cache import atomic_directory, build_lock, cache_dir, recipe_hash
from ..errors import AlmaviewError
from .project import PROJECT
from .tree import INDEX_NAME

__all__ = ["build", "index", "source_version", "INDEX_NAME", "PROJECT"]


def source_version() -> str:
    """A hash of the demo's and the sample data's recipes: a changed recipe rebuilds the demo.

    Examples
    --------
    >>> len(source_version())
    12
    """
    from .. import sampledata

    h = hashlib.sha256(sampledata.source_version().encode())
    return recipe_hash(sorted(Path(__file__).parent.glob("*.py")), h).hexdigest()[:12]


def index(project_dir: str | os.PathLike) -> dict:
    """The index of a built demo (every file written, the measured facts, the build timings).

    Examples
    --------
    >>> sorted(index(build("scratch/demo")))        # doctest: +SKIP
    ['build_seconds', 'cpu_seconds', 'cpu_timings', 'facts', 'files', 'project', 'timings', 'version']
    """
    path = Path(project_dir).parent / INDEX_NAME
    if not path.is_file():
        raise AlmaviewError(project_dir, f"is not an almaview demo delivery: {path} is missing")
    return json.loads(path.read_text())


def build(dir: str | os.PathLike | None = None, *, progress: bool = True, isolate: bool = True) -> Path:
    """Build the demo delivery into ``dir`` (default: almaview's cache, a folder per recipe) and return its project.

    ``dir`` must be new, empty, or a previous demo build (rebuilt when the
    recipe changed, returned at once otherwise). Takes about 3-4 minutes on two
    cores; shows a progress bar unless ``progress=False``. CASA runs in a child
    process unless ``isolate=False`` (see :func:`almaview.casa.run_isolated`).

    Examples
    --------
    >>> import almaview as av
    >>> project = av.demo.build("scratch/almaview-demo")     # doctest: +SKIP
    >>> project.name                                        # doctest: +SKIP
    '2023.1.01234.S'
    """
    version = source_version()
    # in the cache, one folder per recipe: a build for another recipe (another checkout, another process)
    # never removes this one while it is in use
    root = Path(dir).expanduser().resolve() if dir is not None else cache_dir("demos") / version
    marker = root / INDEX_NAME
    if marker.is_file():
        try:
            old = json.loads(marker.read_text()).get("version")
        except (OSError, ValueError):
            old = None
        if old == version and (root / PROJECT).is_dir():
            return (root / PROJECT).resolve()
        shutil.rmtree(root)  # our own stale build (the index proves it)
    elif root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise AlmaviewError(
            root,
            "already holds files that are not an almaview demo; give a new or empty "
            "directory (the demo never overwrites other data)",
        )
    if isolate:
        from .. import casa

        casa.run_isolated("almaview.demo:build", str(root), progress=progress, isolate=False)
        return (root / PROJECT).resolve()
    from .assemble import build_into

    with build_lock(root):  # another process building the same recipe: wait for it, then use its build
        if not (root / PROJECT).is_dir():
            with atomic_directory(root) as tmp:
                build_into(tmp, version=version, progress=progress)
    return (root / PROJECT).resolve()

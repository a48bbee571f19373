"""pytest fixtures of small python-casacore tables (no CASA): import them into a test module with
``from mstables.fixtures import small_ms, small_caltable  # noqa: F401``.

Session-scoped originals are written once; tests that change a table take a copy (``*_copy``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from . import remove_lock_files, write_caltable, write_ms


@pytest.fixture(scope="session")
def small_ms(tmp_path_factory):
    """A 5-antenna, 2-spw ALMA-like MS (6 integrations, DATA and CORRECTED_DATA), no lock files."""
    w = write_ms(tmp_path_factory.mktemp("mstables") / "uid___A002_X1_X2.ms")
    remove_lock_files(w.path)
    return w


@pytest.fixture(scope="session")
def small_caltable(tmp_path_factory):
    """A 4-antenna, 2-spw gain (G Jones) table, no lock files."""
    w = write_caltable(
        tmp_path_factory.mktemp("mstables") / "uid___A002_X1_X2.ms.hifa_timegaincal.s18_2.spw0_1.solintint.gpcal.tbl"
    )
    remove_lock_files(w.path)
    return w


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copytree(src, dst, symlinks=True)
    remove_lock_files(dst)
    return dst


@pytest.fixture
def small_ms_copy(small_ms, tmp_path) -> Path:
    """A private copy of ``small_ms`` a test may change."""
    return _copy(small_ms.path, tmp_path)


@pytest.fixture
def small_caltable_copy(small_caltable, tmp_path) -> Path:
    """A private copy of ``small_caltable`` a test may change."""
    return _copy(small_caltable.path, tmp_path)

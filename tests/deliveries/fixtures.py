"""Pytest fixtures for the delivery tests (import them by name into a test module).

``conftest.py`` belongs to someone else, so these live here:
``from deliveries.fixtures import cache, pipeline_pkg, unchanged  # noqa: F401``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from . import Spec, tree_digest, write_archive_tars, write_pipeline_delivery


@pytest.fixture(autouse=False)
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A private almaview cache for one test."""
    d = tmp_path / "almaview-cache"
    monkeypatch.setenv("ALMAVIEW_CACHE_DIR", str(d))
    return d


@pytest.fixture(scope="module")
def _pipeline_pkg_built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Spec, Path]:
    base = tmp_path_factory.mktemp("pkg")
    spec = write_pipeline_delivery(base)
    write_archive_tars(spec, base / "tars")
    for staging in base.glob(".staging-*"):
        shutil.rmtree(staging)
    return spec, base


@pytest.fixture
def pipeline_pkg(_pipeline_pkg_built, cache):
    """The sample pipeline delivery (untarred in ``spec.root``, tars in ``base/'tars'``), checked unchanged after the test."""
    spec, base = _pipeline_pkg_built
    before = tree_digest(base)
    yield spec, base
    after = tree_digest(base)
    assert after == before, f"the delivery tree changed: {sorted(set(after.items()) ^ set(before.items()))[:5]}"


@pytest.fixture
def copy_pkg(_pipeline_pkg_built, tmp_path, cache):
    """A private copy of the sample delivery, for tests that damage it first."""
    spec, base = _pipeline_pkg_built
    dst = tmp_path / "copy"
    shutil.copytree(base, dst, symlinks=True)
    rel = spec.member_dir.relative_to(base)
    new = Spec(**{**spec.__dict__, "root": dst / spec.root.relative_to(base), "member_dir": dst / rel})
    return new, dst


@pytest.fixture
def unchanged():
    """Call ``unchanged(path)`` to have ``path`` checked byte-for-byte unchanged at teardown."""
    roots: list[tuple[Path, dict]] = []

    def watch(path: Path) -> Path:
        roots.append((path, tree_digest(path)))
        return path

    yield watch
    for path, before in roots:
        after = tree_digest(path)
        assert after == before, f"{path} changed: {sorted(set(after.items()) ^ set(before.items()))[:5]}"

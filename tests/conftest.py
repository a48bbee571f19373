"""Shared fixtures: realistic data built once per session with real CASA.

Data live in pytest's cache directory, keyed by a hash of the recipe
(``almaview.sampledata``), so a second run reuses them and a changed recipe
rebuilds them. almaview's own cache (CASA's site config and logs, extracted
tarballs) also goes there, never into the user's home.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    root = Path(config.rootpath) / ".pytest_cache" / "almaview-cache"
    os.environ.setdefault("ALMAVIEW_CACHE_DIR", str(root))


#: Fixtures built with CASA (directly or through another of them): a test using any is marked ``casa``.
CASA_FIXTURES = frozenset({"sampledata_dir", "alma_eb", "ngc5921", "alma_eb_wide", "demo_delivery"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that uses a CASA-built fixture ``casa``: ``-m "not casa"`` is the quick loop.

    A fixture counts when the test requests it, or names it as a parameter value (the
    ``request.getfixturevalue(name)`` pattern)."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        named = {v for v in params.values() if isinstance(v, str)}
        if CASA_FIXTURES.intersection(getattr(item, "fixturenames", ())) or CASA_FIXTURES & named:
            item.add_marker(pytest.mark.casa)


@pytest.fixture(scope="session")
def sampledata_dir(request: pytest.FixtureRequest) -> Path:
    from almaview import sampledata

    return Path(request.config.cache.mkdir("almaview-sampledata")) / sampledata.source_version()


@pytest.fixture(scope="session")
def alma_eb(sampledata_dir: Path):
    """A small ALMA-like EB (12 antennas, 4 spws, 4 ALMA intents), calibrated and imaged by CASA."""
    from almaview import sampledata

    return sampledata.build_alma_eb(sampledata_dir / "alma_eb_small", progress=False)


@pytest.fixture(scope="session")
def ngc5921(sampledata_dir: Path):
    """The real VLA NGC 5921 observation from casadata, calibrated and imaged by CASA."""
    from almaview import sampledata

    return sampledata.build_ngc5921(sampledata_dir / "ngc5921", progress=False)


@pytest.fixture(scope="session")
def alma_eb_wide(sampledata_dir: Path):
    """A 43-antenna ALMA-like EB with ~6x the rows of ``alma_eb`` but few channels (raw data, uncalibrated).

    For scaling checks (open time vs number of rows) without a benchmark-sized build.
    """
    from almaview import sampledata
    from almaview.sampledata import simulate

    spws = tuple(simulate.SpwSetup(s.name, s.centre_hz, 8, s.width_hz * s.nchan / 8) for s in simulate.alma_spws())
    return sampledata.build_alma_eb(
        sampledata_dir / "alma_eb_wide",
        scale="large",
        calibrate=False,
        progress=False,
        spws=spws,
        scans=simulate.alma_scans(1, 60.0),
    )


@pytest.fixture(scope="session")
def tp_eb(request: pytest.FixtureRequest):
    """An ALMA Total Power EB (3 PM antennas, FLOAT_DATA, ON/OFF raster) calibrated and imaged by CASA (~30 s)."""
    from almaview import sampledata

    root = Path(request.config.cache.mkdir("almaview-sampledata")) / sampledata.source_version("singledish.py")
    return sampledata.build_tp_eb(root / "tp_eb", progress=False)


@pytest.fixture(scope="session")
def demo_delivery() -> Path:
    """The demo delivery (project directory), built once in the session's almaview cache.

    Notebook kernels inherit ALMAVIEW_CACHE_DIR, so ``av.demo.build()`` in a notebook returns this same build.
    """
    from almaview import demo

    return demo.build(progress=False)

"""Fixtures of the archive tests: the archive stand-in (tests/archive/standin.py) serving the demo delivery."""

from __future__ import annotations

from pathlib import Path

import pytest

from .standin import StandIn

DEMO_MOUS = "uid___A001_X3571_X8a"
DEMO_EBS = ["uid___A002_X10ab2c3_X1f4a", "uid___A002_X10ab2c3_X2b07"]


def demo_members(demo_delivery: Path, target: str | None = None) -> list[str]:
    """The demo's member OUS uids, read from its folders (and, with ``target``, those with products of it)."""
    out = []
    for member in sorted(demo_delivery.glob("science_goal.*/group.*/member.*")):
        if target is None or any(target in p.name for p in (member / "product").glob("*")):
            out.append(member.name.split(".", 1)[1])
    return out


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def _standin(demo_delivery: Path):
    from almaview import demo
    from almaview.cache import cache_dir

    s = StandIn(demo_delivery, cache_dir("archive-standin") / demo.source_version()).start()
    yield s
    s.stop()


@pytest.fixture
def standin(_standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """The archive stand-in on 127.0.0.1, faults cleared; ALMAVIEW_ARCHIVE_URL unset (tests pass archive_url=)."""
    monkeypatch.delenv("ALMAVIEW_ARCHIVE_URL", raising=False)
    _standin.reset()
    yield _standin
    _standin.reset()


@pytest.fixture
def served(standin: StandIn):
    """name -> the stand-in's file of that name (what the archive would send)."""
    return lambda name: standin.tar_dir / name

"""The real ALMA archive (opt-in: ``ALMAVIEW_REMOTE_TESTS=1``; skipped without network)."""

from __future__ import annotations

import os
import socket

import pytest

pytestmark = pytest.mark.remote


def _online(host: str = "almascience.eso.org") -> bool:
    try:
        socket.create_connection((host, 443), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def real_archive() -> str:
    if os.environ.get("ALMAVIEW_REMOTE_TESTS") != "1":
        pytest.skip("talks to the real ALMA archive: set ALMAVIEW_REMOTE_TESTS=1 to run it")
    if not _online():
        pytest.skip("no network: almascience.eso.org:443 is unreachable")
    return "https://almascience.eso.org"


def test_real_archive_lists_a_public_member_ous_and_fetches_its_readme(real_archive, tmp_path):
    from almaview import archive

    found = archive.search(project="2017.1.01185.S", archive_url=real_archive)
    assert "uid___A001_X12a3_Xe9" in set(found.mous)
    t = archive.files("uid://A001/X12a3/Xe9", archive_url=real_archive)
    top = t[t.within.isna()]
    assert {"readme", "product", "auxiliary", "raw"} <= set(top.kind) and (top["size"] > 0).all()
    folder = archive.fetch(
        "uid://A001/X12a3/Xe9", what=("readme",), dest=tmp_path, archive_url=real_archive, progress=False
    )
    readme = next(folder.glob("*README*"))
    assert readme.stat().st_size == int(top[top.kind == "readme"]["size"].iloc[0])

"""ArchiveBrowser headless: search -> parts and sizes -> fetch with progress -> stop -> resume -> open."""

from __future__ import annotations

import filecmp

import pytest

from almaview.widgets.archive_browser import ArchiveBrowser

from .conftest import DEMO_EBS, DEMO_MOUS, demo_members

PROJECT = "2023.1.01234.S"


def test_search_pick_fetch_open(standin, served, tmp_path, demo_delivery):
    b = ArchiveBrowser(archive_url=standin.url, dest=tmp_path / PROJECT, poll_interval=0.05)
    results = b.search(PROJECT)
    assert list(results.mous) == demo_members(demo_delivery) and b.mous == DEMO_MOUS
    assert DEMO_MOUS in b.controls["results"].value
    labels = {cb.part: cb.description for cb in b.controls["parts"].children}
    assert sorted(labels) == sorted(["readme", "auxiliary", "product"] + [f"raw:{e}" for e in DEMO_EBS])
    assert b.parts == ["readme", "auxiliary"]  # the triage parts by default
    aux = f"{PROJECT}_{DEMO_MOUS}_auxiliary.tar"
    readme = f"member.{DEMO_MOUS}.README.txt"
    assert b._selected_bytes() == served(aux).stat().st_size + served(readme).stat().st_size
    b.select(parts=["readme", "auxiliary", f"raw:{DEMO_EBS[0]}"])
    raw = f"{PROJECT}_{DEMO_EBS[0]}.asdm.sdm.tar"
    total = sum(served(n).stat().st_size for n in (aux, readme, raw))
    assert b._selected_bytes() == total and "total:" in b.controls["total"].value
    b.fetch()
    assert b.wait(60) == "done", b.message
    assert b.done_bytes == b.total_bytes == total and b.controls["progress"].value == 1.0
    for n in (aux, readme, raw):
        assert filecmp.cmp(tmp_path / PROJECT / n, served(n), shallow=False)
    d = b.open_folder()
    assert d.mous[0].weblog is not None and "almaview fetch" in d.status()


def test_stop_then_resume(standin, served, tmp_path):
    b = ArchiveBrowser(archive_url=standin.url, dest=tmp_path, poll_interval=0.05)
    b.search(DEMO_MOUS)
    b.select(parts=["product"])
    standin.throttle = 1_000_000
    b.fetch()
    product = f"{PROJECT}_{DEMO_MOUS}_001_of_001.tar"
    import time

    deadline = time.time() + 20
    while b.done_bytes < 200_000 and time.time() < deadline:
        time.sleep(0.05)
    b.stop()
    assert b.wait(20) == "stopped"
    assert not (tmp_path / product).exists() and (tmp_path / (product + ".part")).exists()
    standin.throttle = None
    b.fetch()
    assert b.wait(60) == "done"
    assert filecmp.cmp(tmp_path / product, served(product), shallow=False)


def test_errors_show_in_the_widget(standin, tmp_path):
    b = ArchiveBrowser(archive_url=standin.url, dest=tmp_path)
    b.controls["query"].value = "2099.1.99999.S"
    b.controls["search"].click()
    assert b.state == "idle" and "nothing found" in b.message  # an unknown project: an empty search
    standin.make_proprietary(DEMO_MOUS, "2027-06-01T00:00:00.000")
    b.search(DEMO_MOUS)
    b.fetch()
    assert b.wait(30) == "error" and "AuthenticationRequired" in b.message and "2027-06-01" in b.message
    with pytest.raises(ValueError, match="unknown parts"):
        b.select(parts=["everything"])

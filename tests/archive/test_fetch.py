"""fetch(): subsets, resume with Range, truncation, 401, unreachable, disk space, stop; open_delivery on the result."""

from __future__ import annotations

import filecmp
import threading
import time
from pathlib import Path

import pytest

import almaview as av
from almaview import archive
from almaview.archive import download
from almaview.errors import (
    ArchiveUnreachable,
    AuthenticationRequired,
    Cancelled,
    NotEnoughDisk,
    TransferIncomplete,
)

from .conftest import DEMO_EBS, DEMO_MOUS, closed_port

PROJECT = "2023.1.01234.S"
AUX = f"{PROJECT}_{DEMO_MOUS}_auxiliary.tar"
PRODUCT = f"{PROJECT}_{DEMO_MOUS}_001_of_001.tar"
README = f"member.{DEMO_MOUS}.README.txt"


def _downloads(standin) -> list[tuple[str, str]]:
    return [
        (path.rsplit("/", 1)[-1], rng)
        for method, path, rng in standin.requests
        if path.startswith("/dataPortal/") and method == "GET"
    ]


def test_default_parts_byte_identical_and_raw_left_alone(standin, served, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = archive.fetch(DEMO_MOUS, archive_url=standin.url, progress=False)
    assert folder == tmp_path / PROJECT  # default dest: ./<project code>/
    assert sorted(p.name for p in folder.iterdir()) == sorted([AUX, PRODUCT, README])
    for p in folder.iterdir():
        assert filecmp.cmp(p, served(p.name), shallow=False)
    # again: every file is complete, nothing is downloaded
    standin.requests.clear()
    assert archive.fetch(DEMO_MOUS, archive_url=standin.url, progress=False) == folder
    assert _downloads(standin) == []


def test_raw_only_when_asked_and_only_the_ebs_asked(standin, served, tmp_path):
    folder = archive.fetch(
        DEMO_MOUS, what=("raw",), ebs=[DEMO_EBS[1]], dest=tmp_path / "d", archive_url=standin.url, progress=False
    )
    name = f"{PROJECT}_{DEMO_EBS[1]}.asdm.sdm.tar"
    assert [p.name for p in folder.iterdir()] == [name]
    assert filecmp.cmp(folder / name, served(name), shallow=False)


def test_resume_after_a_cut_transfer_uses_range(standin, served, tmp_path):
    size = served(AUX).stat().st_size
    standin.cut_once[AUX] = size // 2
    folder = archive.fetch(DEMO_MOUS, what=("auxiliary",), dest=tmp_path, archive_url=standin.url, progress=False)
    assert _downloads(standin) == [(AUX, ""), (AUX, f"bytes={size // 2}-")]
    assert filecmp.cmp(folder / AUX, served(AUX), shallow=False)
    assert not list(folder.glob("*.part"))


def test_resume_from_a_part_file_left_by_an_earlier_run(standin, served, tmp_path):
    part = tmp_path / (PRODUCT + ".part")
    part.write_bytes(served(PRODUCT).read_bytes()[:1_000_000])
    archive.fetch(DEMO_MOUS, what=("product",), dest=tmp_path, archive_url=standin.url, progress=False)
    assert _downloads(standin) == [(PRODUCT, "bytes=1000000-")]
    assert filecmp.cmp(tmp_path / PRODUCT, served(PRODUCT), shallow=False) and not part.exists()


def test_truncated_transfer_is_an_error_and_never_a_file_under_the_final_name(standin, served, tmp_path):
    size = served(AUX).stat().st_size
    standin.cut_always[AUX] = 123_456
    with pytest.raises(TransferIncomplete) as err:
        archive.fetch(DEMO_MOUS, what=("auxiliary",), dest=tmp_path, archive_url=standin.url, progress=False)
    assert f"123456 of {size} bytes" in str(err.value) and AUX in str(err.value)
    assert not (tmp_path / AUX).exists()
    assert (tmp_path / (AUX + ".part")).stat().st_size == 123_456
    assert len(_downloads(standin)) == 1 + download.RETRIES
    # the archive is fine again: the next fetch resumes from the kept .part
    standin.cut_always.clear()
    standin.requests.clear()
    archive.fetch(DEMO_MOUS, what=("auxiliary",), dest=tmp_path, archive_url=standin.url, progress=False)
    assert _downloads(standin) == [(AUX, "bytes=123456-")]
    assert filecmp.cmp(tmp_path / AUX, served(AUX), shallow=False)


def test_401_names_the_file_the_project_and_the_release_date(standin, tmp_path):
    standin.make_proprietary(DEMO_MOUS, "2027-06-01T00:00:00.000")
    with pytest.raises(AuthenticationRequired) as err:
        archive.fetch(DEMO_MOUS, what=("readme",), dest=tmp_path, archive_url=standin.url, progress=False)
    text = str(err.value)
    assert README in text and PROJECT in text and "until 2027-06-01" in text and "archive.login" in text
    assert not (tmp_path / README).exists()


def test_unreachable_archive(standin, tmp_path):
    table = archive.files(DEMO_MOUS, archive_url=standin.url)
    standin.down = True
    with pytest.raises(ArchiveUnreachable) as err:
        archive.fetch(
            DEMO_MOUS, what=("readme",), dest=tmp_path, archive_url=standin.url, listing=table, progress=False
        )
    assert standin.url in str(err.value) and "another mirror" in str(err.value)
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(ArchiveUnreachable, match=url):
        archive.fetch(DEMO_MOUS, dest=tmp_path, archive_url=url, progress=False)


def test_not_enough_disk_is_checked_before_the_first_byte(standin, served, tmp_path, monkeypatch):
    need = served(AUX).stat().st_size + served(README).stat().st_size
    monkeypatch.setattr(download, "free_bytes", lambda path: need - 1)
    dest = tmp_path / "new"
    with pytest.raises(NotEnoughDisk) as err:
        archive.fetch(DEMO_MOUS, what=("readme", "auxiliary"), dest=dest, archive_url=standin.url, progress=False)
    assert f"need {need} bytes" in str(err.value) and f"only {need - 1} bytes" in str(err.value)
    assert str(dest) in str(err.value)
    assert not dest.exists() and _downloads(standin) == []


def test_stop_keeps_only_a_part_file_and_a_rerun_completes(standin, served, tmp_path):
    standin.throttle = 2_000_000  # bytes/s: the product tar takes ~2.5 s
    stop = threading.Event()
    result: dict = {}

    def run():
        try:
            archive.fetch(
                DEMO_MOUS, what=("product",), dest=tmp_path, archive_url=standin.url, progress=False, stop=stop
            )
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            result["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    part = tmp_path / (PRODUCT + ".part")
    deadline = time.time() + 10
    while not (part.exists() and part.stat().st_size > 200_000) and time.time() < deadline:
        time.sleep(0.02)
    stop.set()
    t.join(10)
    assert isinstance(result.get("error"), Cancelled)
    assert not (tmp_path / PRODUCT).exists() and 0 < part.stat().st_size < served(PRODUCT).stat().st_size
    standin.throttle = None
    archive.fetch(DEMO_MOUS, what=("product",), dest=tmp_path, archive_url=standin.url, progress=False)
    assert filecmp.cmp(tmp_path / PRODUCT, served(PRODUCT), shallow=False)


def test_parallel_two_is_faster_than_one_on_two_files(standin, tmp_path):
    standin.throttle = 8_000_000  # per connection, as a mirror's per-stream limit
    times = {}
    for parallel in (1, 2):
        t0 = time.perf_counter()
        archive.fetch(
            DEMO_MOUS,
            what=("auxiliary", "product"),
            dest=tmp_path / str(parallel),
            parallel=parallel,
            archive_url=standin.url,
            progress=False,
        )
        times[parallel] = time.perf_counter() - t0
    assert times[2] < 0.8 * times[1], times


def _summary(d) -> dict:
    m = next(m for m in d.mous if m.uid == DEMO_MOUS)
    return {
        "project": d.project_code,
        "mous": m.uid,
        "path": m.path,
        "ebs": sorted(eb.uid for eb in m.ebs),
        "caltables": {eb.uid: eb.caltables.kinds() for eb in m.ebs},
        "images": sorted(im.name for im in m.images),
        "readme": (m.readme.pi_name, m.readme.casa_version) if m.readme else None,
        "stages": [(s.number, s.score) for s in m.weblog.stages] if m.weblog else None,
        "aqua": m.qa.aqua is not None,
        "scripts": sorted(Path(s).name for s in m.scripts.script_for_pi),
    }


def test_open_delivery_on_the_fetched_folder_matches_the_untarred_demo(standin, tmp_path, demo_delivery):
    folder = archive.fetch(DEMO_MOUS, dest=tmp_path / PROJECT, archive_url=standin.url, progress=False)
    fetched = av.open_delivery(folder, read_ms=False)
    assert fetched.layout == "tars"
    untarred = _summary(av.open_delivery(demo_delivery, read_ms=False))
    got = _summary(fetched)
    assert got == untarred
    assert got["stages"] and got["caltables"] and got["images"] and got["readme"]


def test_triage_after_the_auxiliary_tar_alone(standin, tmp_path, capsys):
    import shlex

    from almaview.cli import main

    folder = archive.fetch(
        DEMO_MOUS, what=("readme", "auxiliary"), dest=tmp_path / PROJECT, archive_url=standin.url, progress=False
    )
    d = av.open_delivery(folder, read_ms=False)
    m = d.mous[0]
    assert m.readme is not None and m.weblog is not None and len(m.weblog.stages) > 10
    assert all(eb.caltables.kinds() for eb in m.ebs) and m.qa.aqua is not None
    assert not m.images
    status = d.status()
    command = f"almaview fetch {DEMO_MOUS} --what product --dest {folder}"
    assert f"`{command}`" in status
    assert f"almaview fetch {DEMO_MOUS} --what raw --dest {folder}" in status
    # the command status names does what it says
    assert main(shlex.split(command)[1:] + ["--archive-url", standin.url, "--no-progress"]) == 0
    assert av.open_delivery(folder, read_ms=False).mous[0].images

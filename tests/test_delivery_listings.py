"""Real package listings: every file of a real ALMA package is classified, in a tree and in the archive's tars.

One listing is the archive's own answer: the DataLink responses for the Cycle 5
manual package 2017.1.01185.S that astroquery records in its test data (names,
sizes, MIME types as the archive gave them). The others (Cycle 3 manual, Cycle 7
pipeline, Cycle 10 with 12-m, 7-m and Total Power members in one group) are in
``tests/deliveries/listings/`` (see its README for where they come from).

Each listing becomes a tree with stand-in contents: sparse files of the listed
size, archives as small valid tgz. The expectations below are written from the
names by hand (what ALMA's documentation says each file is), not by almaview.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

import almaview as av
from deliveries import readme_sample

LISTINGS = Path(__file__).parent / "deliveries" / "listings"


# --- the archive's recorded answer for 2017.1.01185.S (Cycle 5, manual calibration and imaging) --------------


def _datalink_rows() -> list[tuple[str, int, str]]:
    """(file name, content length, semantics) of every downloadable row, read with astropy's VOTable parser."""
    from astropy.io.votable import parse_single_table

    pytest.importorskip("astroquery")
    data = resources.files("astroquery.alma.tests") / "data"
    rows = []
    for name in ("alma-datalink.xml", "alma-datalink-recurse-aux.xml", "alma-datalink-recurse-this.xml"):
        with resources.as_file(data / name) as path:
            table = parse_single_table(str(path)).to_table()
        for row in table:
            url = str(row["access_url"] or "")
            if not url.startswith("http") or "dataPortal/" not in url:
                continue
            size = row["content_length"]
            rows.append(
                (url.rsplit("/", 1)[-1], int(size) if size is not None and size == size else 0, str(row["semantics"]))
            )
    return rows


# where ALMA's QA2 packages keep each kind of file (from the archive's package description, by hand)
def _cycle5_folder(name: str) -> str | None:
    n = name.lower()
    if n.endswith(".tar") or n.endswith("readme.txt"):
        return None  # the outer tars and the README beside them
    if "scriptfor" in n:
        return "script"
    if n.endswith(".log.tgz"):
        return "log"
    if ".calibration" in n:
        return "calibration"
    if "qa0" in n or "qa2" in n or "__textfile" in n or "product_rename" in n:
        return "qa"
    return "product"


PROJECT5, SG5, GROUP5, MOUS5 = "2017.1.01185.S", "uid___A001_X12a3_Xe7", "uid___A001_X12a3_Xe8", "uid___A001_X12a3_Xe9"


def _cycle5_listing() -> list[tuple[str, int]]:
    base = f"science_goal.{SG5}/group.{GROUP5}/member.{MOUS5}"
    out, seen = [], set()
    for name, size, _ in _datalink_rows():
        folder = _cycle5_folder(name)
        if folder is None or name in seen:
            continue
        seen.add(name)
        out.append((f"{base}/{folder}/{name}", size))
    out.append((f"{base}/member.{MOUS5}.README.txt", 0))
    return out


def _read_tsv(name: str) -> list[tuple[str, int]]:
    rows = []
    for line in (LISTINGS / name).read_text().splitlines():
        path, size = line.split("\t")
        rows.append((path, int(size)))
    return rows


# --- building a tree and the archive's tars from a listing ---------------------------------------------------


def _tgz_bytes(label: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = f"stand-in for {label}\n".encode()
        info = tarfile.TarInfo("standin.txt")
        info.size = len(data)
        info.mtime = 1_600_000_000
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _write_tree(root: Path, listing: list[tuple[str, int]], max_size: int | None = None) -> Path:
    for rel, size in listing:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        name = path.name.lower()
        if name.endswith(".tgz") or name.endswith(".tar.gz"):
            path.write_bytes(_tgz_bytes(path.name))
        elif "readme" in name:
            path.write_text(readme_sample("cycle5"))
        else:
            with open(path, "wb") as fh:  # a sparse file of the listed size: no disk used
                fh.truncate(size if max_size is None else min(size, max_size))
    return root


def _write_archive_tars(project: Path, out: Path) -> Path:
    """The archive's split: per member OUS a product tar (product/) and an auxiliary tar (everything else)."""
    out.mkdir(parents=True, exist_ok=True)
    code = project.name
    for member in sorted(project.glob("science_goal.*/group.*/member.*")):
        mous = member.name.split(".", 1)[1]
        files = sorted(p for p in member.rglob("*") if p.is_file())
        parts = {
            "001_of_001": [p for p in files if p.relative_to(member).parts[0] == "product"],
            "auxiliary": [p for p in files if p.relative_to(member).parts[0] != "product"],
        }
        for label, chosen in parts.items():
            with tarfile.open(out / f"{code}_{mous}_{label}.tar", "w") as tar:
                for p in chosen:
                    tar.add(p, arcname=f"{code}/{p.relative_to(project)}")
    return out


def tree_digest(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with its type, size and modification time (the sparse stand-ins are GBs of zeros:
    hashing them would only measure the disk)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), root)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def _open_listing(tmp_path: Path, code: str, listing: list[tuple[str, int]]):
    project = _write_tree(tmp_path / code, listing)
    before = tree_digest(project)
    d = av.open_delivery(project, read_ms=False)
    assert tree_digest(project) == before
    return project, d


def _file_count(listing) -> int:
    return len(listing)


def _unknown(d) -> list[str]:
    return [f for m in d.mous for f in m.unknown_files] + list(d.unknown_files)


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("ALMAVIEW_CACHE_DIR", str(tmp_path / "cache"))


# --- the tests ----------------------------------------------------------------------------------------------


def test_cycle5_manual_from_the_archives_own_listing(tmp_path):
    listing = _cycle5_listing()
    assert len(listing) >= 50  # the recorded answer lists 48 auxiliary files and 6 products
    project, d = _open_listing(tmp_path, PROJECT5, listing)
    (m,) = d.mous
    assert m.uid == MOUS5
    assert not _unknown(d), m.unknown_reasons
    # the four EBs, from their calibration scripts, caltable archives and QA0 reports
    assert sorted(eb.uid for eb in m.ebs) == [
        "uid___A002_Xd28a9e_X71b8",
        "uid___A002_Xd28a9e_X7b4d",
        "uid___A002_Xd29c1f_X1f74",
        "uid___A002_Xd29c1f_X5cf",
    ]
    assert m.calibration_mode == "manual"
    assert len(m.other_files["calibration_plots"]) == 4
    assert len(m.other_files["log_archive"]) == 6  # 4 per EB, 1 imaging, 1 for the whole OUS
    assert len(m.other_files["qa2_part"]) == 16  # 3 PNG parts and a text file per EB
    assert len(m.other_files["product_rename"]) == 1
    assert len(m.qa.qa0_reports) == 8 and len(m.qa.qa2_reports) == 2
    assert len(m.scripts.calibration) == 4 and len(m.scripts.imaging) == 2 and len(m.scripts.script_for_pi) == 1
    # the products: one vocabulary (a manual '.image.pbcor' is a pbcor, a '.mask.tgz' a mask)
    types = Counter((im.kind, im.image_type, im.format) for im in m.images)
    assert types == Counter(
        {
            ("mfs", "pbcor", "fits"): 1,
            ("mfs", "mask", "casa"): 1,
            ("mfs", "pb", "fits"): 1,
            ("cube", "pbcor", "fits"): 1,
            ("cube", "mask", "casa"): 1,
            ("cube", "pb", "fits"): 1,
        }
    )
    assert all(im.manual and im.field == "50_kms_cloud" and im.role == "sci" for im in m.images)
    sizes = {im.name: im.size for im in m.images if im.format == "fits"}  # stand-in tgz have sizes of their own
    listed = {p.rsplit("/", 1)[-1]: s for p, s in listing}
    assert len(sizes) == 4 and all(sizes[n] == listed[n] > 0 for n in sizes)


def test_cycle5_manual_as_the_archives_tars(tmp_path):
    listing = _cycle5_listing()
    project = _write_tree(tmp_path / "tree" / PROJECT5, listing, max_size=4096)  # tar writes the zeros out
    tars = _write_archive_tars(project, tmp_path / "tars")
    assert sorted(p.name for p in tars.iterdir()) == [
        f"{PROJECT5}_{MOUS5}_001_of_001.tar",
        f"{PROJECT5}_{MOUS5}_auxiliary.tar",
    ]
    before = tree_digest(tars)
    d_tars = av.open_delivery(tars, read_ms=False)
    d_tree = av.open_delivery(project, read_ms=False)
    assert tree_digest(tars) == before
    assert d_tars.layout == "tars"
    (mt,), (md,) = d_tars.mous, d_tree.mous
    assert not _unknown(d_tars)
    assert [eb.uid for eb in mt.ebs] == [eb.uid for eb in md.ebs]
    assert sorted(im.name for im in mt.images) == sorted(im.name for im in md.images)
    assert {k: len(v) for k, v in mt.other_files.items()} == {k: len(v) for k, v in md.other_files.items()}


def test_cycle3_manual(tmp_path):
    listing = _read_tsv("cycle3_manual.tsv")
    _, d = _open_listing(tmp_path, "2015.1.00123.S", listing)
    (m,) = d.mous
    assert len(_unknown(d)) / _file_count(listing) < 0.01, m.unknown_reasons
    assert sorted(eb.uid for eb in m.ebs) == ["uid___A002_Xb0b76d_X1a2", "uid___A002_Xb0b76d_X2f3"]
    assert m.calibration_mode == "manual"
    assert len(m.other_files["calibration_plots"]) == 2 and len(m.other_files["log_archive"]) == 3
    assert len(m.scripts.calibration) == 3  # two EB scripts and the flux calibration script
    images = {(im.field, im.kind, im.image_type) for im in m.images}
    assert images == {
        ("HL_Tau", "cont", "pbcor"),
        ("HL_Tau", "cont", "pb"),
        ("HL_Tau", "cont", "mask"),
        ("HL_Tau", "cube", "pbcor"),
        ("HL_Tau", "cube", "pb"),
    }


def test_cycle7_pipeline(tmp_path):
    listing = _read_tsv("cycle7_pipeline.tsv")
    _, d = _open_listing(tmp_path, "2019.1.00456.S", listing)
    (m,) = d.mous
    assert not _unknown(d), m.unknown_reasons
    assert [eb.uid for eb in m.ebs] == ["uid___A002_Xe3a5fd_X1c8f"]
    assert m.calibration_mode == "pipeline"
    # casa_commands.log sits in script/ in Cycle 7 packages
    assert len(m.scripts.casa_commands) == 1 and m.scripts.casa_commands[0].endswith(".casa_commands.log")
    # the auxiliary caltables archive is read like the main one (its tables join the EB's); its calapply is listed
    assert "auxcaltables_archive" not in m.other_files and len(m.other_files["auxcalapply"]) == 1
    assert len(m.other_files["pprequest"]) == 1
    calibrators = [im for im in m.images if im.role in ("bp", "ph", "check")]
    assert len(calibrators) == 36 and {im.role for im in calibrators} == {"bp", "ph", "check"}
    cubes = [im for im in m.images if im.kind == "cube"]
    assert Counter(im.image_type for im in cubes) == {"pbcor": 4, "pb": 4, "mask": 3}  # one mask is missing


def test_cycle10_group_with_12m_7m_and_tp(tmp_path):
    listing = _read_tsv("cycle10_group.tsv")
    _, d = _open_listing(tmp_path, "2023.1.00789.S", listing)
    assert not _unknown(d), [m.unknown_reasons for m in d.mous]
    assert len(d.mous) == 3 and d.groups == ["uid___A001_X3621_X3d66"]
    by_uid = {m.uid: m for m in d.mous}
    twelve, seven, tp = (
        by_uid[u] for u in ("uid___A001_X3621_X3d68", "uid___A001_X3621_X3d6a", "uid___A001_X3621_X3d6c")
    )
    assert (len(twelve.ebs), len(seven.ebs), len(tp.ebs)) == (2, 3, 2)
    # JSON and PL driver records are kept by kind
    assert len(twelve.other_files["pipeline_record"]) == 3  # time tracker, self-calibration, PL driver
    # multi-term continuum: one vocabulary
    cont = {(im.image_type, im.taylor) for im in twelve.images if im.kind == "cont"}
    assert cont == {
        ("pbcor", "tt0"),
        ("pbcor", "tt1"),
        ("pb", "tt0"),
        ("alpha", None),
        ("alpha.error", None),
        ("mask", None),
    }
    # the Total Power cubes and their weights
    assert {(im.image_type, im.single_dish) for im in tp.images} == {("image", True), ("weight", True)}
    # products imaged at group level belong to the group, which says what it combines
    (group,) = d.group_products
    assert len(d.group_products[group]) == 4
    assert all(im.naming == "group" for im in d.group_products[group])
    assert {m.uid for m in d.group_members(group)} == set(by_uid)
    # interferometric cubes made at group level combine the 12-m and 7-m members, not the TP one
    assert [m.uid for m in d.combined_members(group)] == [twelve.uid, seven.uid]
    line = next(ln for ln in d.status().splitlines() if ln.startswith(f"group OUS {group}"))
    assert "4 image(s)" in line and "M100 cube spw16: pb, pbcor" in line and tp.uid not in line

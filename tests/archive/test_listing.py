"""Listing: search() and files() through astroquery against the stand-in replaying the archive's recorded answers."""

from __future__ import annotations

import posixpath
import tarfile
import time
from urllib.parse import urlparse

import astropy.units as u
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import votable
from astropy.table import Table

from almaview import archive
from almaview.errors import ArchiveUnreachable, UnknownIdentifier

from .conftest import DEMO_EBS, DEMO_MOUS, closed_port, demo_members
from .standin import recorded


def _votable_rows(name: str) -> list[dict]:
    t = votable.parse_single_table(recorded(name)).to_table()
    rows = []
    for r in t:
        url = r["access_url"]
        if hasattr(url, "mask") or not str(url) or str(url) == "--":
            continue
        rows.append(
            {
                "name": posixpath.basename(urlparse(str(url)).path),
                "size": int(r["content_length"]),
                "semantics": str(r["semantics"]),
            }
        )
    return rows


def test_files_of_a_recorded_mous_are_the_archives_answer(standin):
    got = archive.files("uid://A001/X12a3/Xe9", archive_url=standin.url)
    top = got[got.within.isna()]
    expected = _votable_rows("alma-datalink.xml")
    assert sorted(zip(top.name, top["size"].astype(int))) == sorted((r["name"], r["size"]) for r in expected)
    kinds = dict(zip(top.name, top.kind))
    assert kinds["member.uid___A001_X12a3_Xe9.README.txt"] == "readme"
    assert kinds["2017.1.01185.S_uid___A001_X12a3_Xe9_001_of_001.tar"] == "product"
    assert kinds["2017.1.01185.S_uid___A001_X12a3_Xe9_auxiliary.tar"] == "auxiliary"
    raw = top[top.kind == "raw"]
    assert sorted(raw.eb) == sorted(
        r["name"].split("_", 1)[1].removesuffix(".asdm.sdm.tar") for r in expected if r["semantics"] == "#progenitor"
    )
    assert set(top.project) == {"2017.1.01185.S"} and set(top.mous) == {"uid___A001_X12a3_Xe9"}
    # what the archive lists inside the tars, with the tar that holds it
    for tar, doc in (
        ("2017.1.01185.S_uid___A001_X12a3_Xe9_001_of_001.tar", "alma-datalink-recurse-this.xml"),
        ("2017.1.01185.S_uid___A001_X12a3_Xe9_auxiliary.tar", "alma-datalink-recurse-aux.xml"),
    ):
        inner = got[got.within == tar]
        assert sorted(zip(inner.name, inner["size"].astype(int))) == sorted(
            (r["name"], r["size"]) for r in _votable_rows(doc)
        )
    assert (
        got[got.within.notna()].kind
        == got[got.within.notna()].within.map(lambda w: "auxiliary" if w.endswith("_auxiliary.tar") else "product")
    ).all()


def test_files_of_the_demo_are_the_served_tars(standin, served):
    t0 = time.perf_counter()
    got = archive.files(DEMO_MOUS, archive_url=standin.url)
    assert time.perf_counter() - t0 < 2.0
    top = got[got.within.isna()]
    for r in top.itertuples():
        assert r.size == served(r.name).stat().st_size
        assert r.url.startswith(standin.url + "/dataPortal/")
    assert sorted(top.kind) == ["auxiliary", "product", "raw", "raw", "readme"]
    assert sorted(top[top.kind == "raw"].eb) == DEMO_EBS
    # the listing inside each tar is what tarfile finds in it
    for tar in top[top.kind.isin(["product", "auxiliary"])].name:
        with tarfile.open(served(tar)) as tf:
            members = sorted((posixpath.basename(m.name), m.size) for m in tf.getmembers() if m.isfile())
        inner = got[got.within == tar]
        assert sorted(zip(inner.name, inner["size"].astype(int))) == members


def test_files_of_a_project_lists_every_member_ous_and_an_eb_only_its_raw(standin, demo_delivery):
    proj = archive.files("2023.1.01234.S", archive_url=standin.url)
    assert sorted(set(proj.mous)) == demo_members(demo_delivery)
    one = archive.files(DEMO_EBS[1], archive_url=standin.url)
    assert list(one[one.kind == "raw"].eb) == [DEMO_EBS[1]]
    assert set(one.mous) == {DEMO_MOUS} and "auxiliary" in set(one.kind)


@pytest.mark.parametrize(
    "ident,why",
    [
        ("2099.1.99999.S", "knows no project code"),
        ("uid://A001/X9999/X1", "lists no files"),
        ("uid___A002_X0_X0", "knows no execution block"),
        ("M83", "neither a project code"),
    ],
)
def test_unknown_identifiers(standin, ident, why):
    with pytest.raises(UnknownIdentifier, match=why) as err:
        archive.files(ident, archive_url=standin.url)
    assert err.value.path is not None


def test_unreachable_archive_names_the_url_and_another_mirror(standin):
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(ArchiveUnreachable) as err:
        archive.files(DEMO_MOUS, archive_url=url)
    assert url in str(err.value) and "try another mirror" in str(err.value) and "almascience.eso.org" in str(err.value)
    standin.down = True
    with pytest.raises(ArchiveUnreachable, match=standin.url):
        archive.search(project="2023.1.01234.S", archive_url=standin.url)


def test_search_by_project_is_the_recorded_obscore_row(standin):
    row = Table.read(recorded("alma-onerow.txt"), format="ascii")[0]
    got = archive.search(project="2017.1.00079.S", archive_url=standin.url)
    assert len(got) == 1
    r = got.iloc[0]
    assert r.mous == "uid___A001_X1295_X35" and r.group == "uid___A001_X1295_X34" and r.targets == "M83"
    assert r.bands == "3" and r.array == "12m" and r.public and r.qa2_passed
    lo, hi = sorted((row["em_max"] * u.m).to(u.GHz, u.spectral()).value for _ in (0,)) + [
        (row["em_min"] * u.m).to(u.GHz, u.spectral()).value
    ]
    assert r.freq_min_ghz == pytest.approx(lo) and r.freq_max_ghz == pytest.approx(hi)
    assert r.resolution_arcsec == pytest.approx(row["spatial_resolution"])
    assert str(r.release_date.date()) == "2020-03-03"


def test_search_by_source_band_and_position(standin, demo_delivery):
    from astropy.io import fits

    by_name = archive.search(source="IRAS16293-2422", archive_url=standin.url)
    observed = demo_members(demo_delivery, "IRAS16293-2422")  # the 12-m, 7-m and TP members
    assert list(by_name.mous) == observed and len(observed) == 3 and set(by_name.bands) == {"6"}
    assert archive.search(source="M83", band=6, archive_url=standin.url).empty
    assert list(archive.search(source="M83", band=3, archive_url=standin.url).mous) == ["uid___A001_X1295_X35"]
    image = next(demo_delivery.glob(f"*/*/member.{DEMO_MOUS}/product/*cont*pbcor.fits"))
    h = fits.getheader(image)
    near = SkyCoord(h["CRVAL1"] * u.deg, h["CRVAL2"] * u.deg).directional_offset_by(0 * u.deg, 10 * u.arcsec)
    assert list(archive.search(position=near, radius=0.5 * u.arcmin, archive_url=standin.url).mous) == observed
    m83 = SkyCoord(row_ra := 204.2471, -29.8689, unit="deg")
    assert row_ra and list(archive.search(position=m83, radius=1, archive_url=standin.url).mous) == [
        "uid___A001_X1295_X35"
    ]


def test_archive_url_comes_from_the_environment(standin, monkeypatch):
    monkeypatch.setenv("ALMAVIEW_ARCHIVE_URL", standin.url + "/")
    assert archive.resolve_url() == standin.url
    assert DEMO_MOUS in set(archive.files("2023.1.01234.S").mous)
    assert any(path == "/tap/sync" for _, path, _ in standin.requests)

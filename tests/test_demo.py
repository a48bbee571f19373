"""The demo delivery: real ALMA layout and names, README facts against the FITS images, archives, caching,
and the delivery parser finding everything the demo wrote.

Expected values come from independent paths: ALMA's naming rules written here as
regular expressions, astropy on the FITS products, tarfile/ElementTree/ast on
the archives and texts, python-casacore and CASA on the tables.
"""

from __future__ import annotations

import ast
import json
import os
import re
import tarfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from almaview.demo.project import TP

PROJECT_RE = re.compile(r"^\d{4}\.\d\.\d{5}\.[SLTPAV]$")
UID = r"uid___A00[12]_X[0-9a-f]+_X[0-9a-f]+"
MEMBER_SUBDIRS = {"calibrated", "calibration", "log", "product", "qa", "raw", "script"}
PRODUCT_RE = re.compile(
    rf"^member\.(?P<ous>{UID})\.(?P<field>.+)_sci\.spw(?P<spws>[0-9_]+)\."
    r"(?P<kind>cont|cube)\.I\.(?P<type>pbcor|pb|mask)\.fits(\.gz)?$"
)
ACHIEVED_BEAM = re.compile(
    r"^Achieved beam \((?P<field>[^,]+), (?P<kind>\w+) (?P<spw>spw[0-9_]+)\): "
    r"(?P<maj>[0-9.]+) x (?P<min>[0-9.]+) arcsec, PA (?P<pa>-?[0-9.]+) deg$"
)
ACHIEVED_RMS = re.compile(
    r"^Achieved rms \((?P<field>[^,]+), (?P<kind>\w+) (?P<spw>spw[0-9_]+)\): "
    r"(?P<rms>[0-9.]+) mJy/beam"
)
CO21_GHZ = 230.538
# Tests that use the built demo are marked casa and slow (1-3 minutes on two cores the first time, ~600 MB in
# pytest's cache; later runs reuse it): deselect them with -m "not slow".


@pytest.fixture(scope="session")
def demo(demo_delivery: Path) -> Path:
    """The demo delivery, built once per session (see tests/conftest.py)."""
    return demo_delivery


@pytest.fixture(scope="session")
def index(demo: Path) -> dict:
    return json.loads((demo.parent / "almaview-demo.json").read_text())


def _members(demo: Path) -> list[Path]:
    return sorted(demo.glob("science_goal.*/group.*/member.*"))


def _alma_member(demo: Path) -> Path:
    return next(m for m in _members(demo) if any((m / "raw").iterdir()))


# ------------------------------------------------------------------------------------------ layout
@pytest.mark.casa
@pytest.mark.slow
def test_tree_has_real_layout(demo: Path) -> None:
    assert PROJECT_RE.match(demo.name)
    assert [p.name for p in demo.iterdir()] == [next(demo.glob("science_goal.*")).name]
    members = _members(demo)
    assert len(members) == 4  # 12-m, VLA (NGC 5921), 7-m, TP: one group
    for level in members[0].relative_to(demo).parts:
        assert re.fullmatch(rf"(science_goal|group|member)\.{UID}", level), level
    for m in members:
        ous = m.name[len("member.") :]
        assert MEMBER_SUBDIRS <= {p.name for p in m.iterdir() if p.is_dir()}
        assert (m / f"member.{ous}.README.txt").is_file()
        products = sorted(p.name for p in (m / "product").iterdir())
        if ous == TP.uid:  # single-dish products: <...>.<kind>.I.sd.fits, no pb or mask
            assert products and all(
                re.fullmatch(rf"member\.{ous}\..+_sci\.spw\d+\.(cube|cont)\.I\.sd\.fits", n) for n in products
            ), products
            assert (m / "qa" / f"{ous}.qa2_report.pdf").is_file()
            continue
        assert products and all(PRODUCT_RE.match(n) and PRODUCT_RE.match(n)["ous"] == ous for n in products)
        assert {PRODUCT_RE.match(n)["type"] for n in products} == {"pbcor", "pb", "mask"}
        assert all(n.endswith(".fits") == (PRODUCT_RE.match(n)["type"] == "pbcor") for n in products)
        assert (m / "script" / f"member.{ous}.scriptForPI.py").is_file()
        assert (m / "qa" / f"{ous}.qa2_report.pdf").is_file()


@pytest.mark.casa
@pytest.mark.slow
def test_alma_member_has_pipeline_files(demo: Path) -> None:
    m = _alma_member(demo)
    ous = m.name[len("member.") :]
    raw = sorted((m / "raw").iterdir())
    assert len(raw) == 2 and all(re.fullmatch(rf"{UID}\.asdm\.sdm", p.name) for p in raw)
    assert all((p / "ASDM.xml").is_file() and (p / "Main.xml").is_file() for p in raw)
    ebs = [p.name[: -len(".asdm.sdm")] for p in raw]
    cal = {p.name for p in (m / "calibration").iterdir()}
    for n, eb in enumerate(ebs, start=1):
        assert {
            f"{eb}.ms.calapply.txt",
            f"{eb}.ms.flagversions.tgz",
            f"{eb}.flagtemplate.txt",
            f"{ous}.session_{n}.caltables.tgz",
            f"{ous}.session_{n}.auxcaltables.tgz",
        } <= cal
        assert (m / "calibrated" / f"{eb}.ms" / "table.dat").is_file()
    assert {f"{ous}.hifa_calimage.auxproducts.tgz", f"{ous}.hifa_calimage.pipeline_manifest.xml"} <= cal
    qa = {p.name for p in (m / "qa").iterdir()}
    assert qa == {
        f"{ous}.hifa_calimage.weblog.tgz",
        f"{ous}.hifa_calimage.pipeline_aquareport.xml",
        f"{ous}.qa2_report.pdf",
    }
    assert (m / "qa" / f"{ous}.qa2_report.pdf").read_bytes().startswith(b"%PDF-")
    script = {p.name for p in (m / "script").iterdir()}
    assert {f"{ous}.hifa_calimage.casa_piperestorescript.py", f"{ous}.hifa_calimage.casa_pipescript.py"} <= script
    assert (m / "log" / f"{ous}.hifa_calimage.casa_commands.log").is_file()
    assert any(re.fullmatch(r"casa-\d{8}-\d{6}\.log", p.name) for p in (m / "log").iterdir())
    with tarfile.open(m / "calibration" / f"{ebs[0]}.ms.flagversions.tgz") as tar:
        assert f"{ebs[0]}.ms.flagversions/FLAG_VERSION_LIST" in tar.getnames()


@pytest.mark.casa
@pytest.mark.slow
def test_scripts_are_python_and_commands_log_holds_the_tclean_calls(demo: Path) -> None:
    m = _alma_member(demo)
    for p in (m / "script").glob("*.py"):
        ast.parse(p.read_text(), filename=str(p))
    log = next((m / "log").glob("*casa_commands.log")).read_text()
    calls = [ast.parse(line, mode="eval").body for line in log.splitlines() if line.startswith("tclean(")]
    assert len(calls) == 2
    for call in calls:
        kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
        assert len(kw["vis"]) == 2 and kw["field"] == "IRAS16293-2422"
        kind = "cube" if kw["specmode"] == "cube" else "cont"
        spws = "spw" + kw["spw"][0].replace(",", "_")
        # the product that call made is in product/
        assert list((m / "product").glob(f"*_sci.{spws}.{kind}.I.pbcor.fits")), (kind, spws)


# ------------------------------------------------------------------------------------------ README
def _astropy_stats(pbcor: Path, pb: Path, mask: Path) -> tuple[tuple[float, float, float], float]:
    from astropy.io import fits

    with fits.open(pbcor) as h:
        data, header = h[0].data.astype(float), h[0].header
    with fits.open(pb) as h:
        pbd = h[0].data.astype(float)
    with fits.open(mask) as h:
        maskd = h[0].data.astype(float)
    flat = data * pbd  # the image before primary-beam correction
    sel = np.isfinite(flat) & (pbd >= 0.2) & (maskd < 0.5)
    rms = float(np.sqrt(np.mean(flat[sel] ** 2)))
    beam = (header["BMAJ"] * 3600, header["BMIN"] * 3600, header["BPA"])
    return beam, rms


@pytest.mark.casa
@pytest.mark.slow
def test_readme_achieved_beam_and_rms_match_the_fits_images(demo: Path) -> None:
    checked = 0
    for m in _members(demo):
        text = next(m.glob("member.*.README.txt")).read_text()
        assert text.startswith("ALMA Member ObsUnitSet README\n")
        if m.name == f"member.{TP.uid}":  # single-dish products: checked in test_demo_group
            continue
        assert re.search(r"^Project code:\s+" + re.escape(demo.name) + "$", text, re.M)
        beams = {(b["field"], b["kind"], b["spw"]): b for b in map(ACHIEVED_BEAM.match, text.splitlines()) if b}
        rmss = {(r["field"], r["kind"], r["spw"]): r for r in map(ACHIEVED_RMS.match, text.splitlines()) if r}
        assert beams and beams.keys() == rmss.keys()
        for (field, kind, spw), b in beams.items():
            stem = f"{m.name}.{field}_sci.{spw}.{kind}.I"
            prod = m / "product"
            beam, rms = _astropy_stats(
                prod / f"{stem}.pbcor.fits", prod / f"{stem}.pb.fits.gz", prod / f"{stem}.mask.fits.gz"
            )
            assert float(b["maj"]) == pytest.approx(beam[0], abs=6e-4)
            assert float(b["min"]) == pytest.approx(beam[1], abs=6e-4)
            assert float(b["pa"]) == pytest.approx(beam[2], abs=0.06)
            assert float(rmss[(field, kind, spw)]["rms"]) == pytest.approx(rms * 1e3, rel=2e-3)
            checked += 1
    assert checked == 5  # 12-m continuum and cube, NGC 5921 cube, 7-m continuum and cube


# ------------------------------------------------------------------------------------------ calibration
def _tables_in_tgz(path: Path) -> set[str]:
    with tarfile.open(path) as tar:
        return {n.split("/")[0] for n in tar.getnames() if n.endswith("/table.dat") and n.count("/") == 1}


@pytest.mark.casa
@pytest.mark.slow
def test_calapply_tables_exist_in_the_caltables_archives(demo: Path, tmp_path: Path) -> None:
    from casacore import tables

    m = _alma_member(demo)
    in_archives = set()
    for tgz in (m / "calibration").glob("*caltables.tgz"):
        in_archives |= _tables_in_tgz(tgz)
    assert len(in_archives) == 20  # the 10 tables almaview.sampledata.calibrate makes, per EB
    applied = set()
    for txt in (m / "calibration").glob("*.ms.calapply.txt"):
        eb = txt.name[: -len(".ms.calapply.txt")]
        lines = [ast.parse(line, mode="eval").body for line in txt.read_text().splitlines() if line.strip()]
        assert {call.func.id for call in lines} == {"applycal"}
        intents = set()
        for call in lines:
            kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
            assert os.path.basename(kw["vis"]) == f"{eb}.ms"
            assert len(kw["gaintable"]) == len(kw["gainfield"]) == len(kw["interp"]) == len(kw["calwt"])
            applied |= {os.path.basename(g) for g in kw["gaintable"]}
            intents.add(kw["intent"])
        assert intents == {"BANDPASS", "AMPLITUDE", "PHASE", "TARGET"}
    assert applied and applied <= in_archives
    # the tables are real CASA caltables
    tgz = next((m / "calibration").glob("*.session_1.caltables.tgz"))
    with tarfile.open(tgz) as tar:
        tar.extractall(tmp_path, filter="data")
    for name in _tables_in_tgz(tgz):
        with tables.table(str(tmp_path / name), ack=False) as t:
            assert t.nrows() > 0 and "VisCal" in t.getkeywords()


@pytest.mark.casa
@pytest.mark.slow
def test_auxproducts_cont_dat_avoids_the_line_and_flux_csv_matches_the_truth(demo: Path) -> None:
    m = _alma_member(demo)
    with tarfile.open(next((m / "calibration").glob("*auxproducts.tgz"))) as tar:
        files = {n: tar.extractfile(n).read().decode() for n in tar.getnames()}
    assert set(files) == {"cont.dat", "flux.csv", "antennapos.csv"}
    spw, ranges = None, {}
    for line in files["cont.dat"].splitlines():
        if line.startswith("Field:"):
            assert line == "Field: IRAS16293-2422"
        elif line.startswith("SpectralWindow:"):
            spw = int(line.split(":")[1])
        elif line.strip():
            mm = re.fullmatch(r"([0-9.]+)~([0-9.]+)GHz LSRK", line)
            assert mm, line
            ranges.setdefault(spw, []).append((float(mm[1]), float(mm[2])))
    assert sorted(ranges) == [0, 1, 2, 3] and len(ranges[0]) == 2
    # The line as the delivered LSRK cube shows it (astropy read): its centroid, not the rest frequency --
    # the sky emits CO(2-1) Doppler-shifted by ~15 MHz from 230.538 GHz in LSRK.
    from astropy.io import fits
    from astropy.wcs import WCS

    with fits.open(next((m / "product").glob("*.cube.I.pbcor.fits"))) as h:
        cube = np.nan_to_num(h[0].data[0].astype(float))
        freq = WCS(h[0].header).spectral.pixel_to_world_values(np.arange(cube.shape[0])) / 1e9
    spectrum = cube.sum(axis=(1, 2))
    strong = spectrum > 0.5 * spectrum.max()
    centre = float((freq[strong] * spectrum[strong]).sum() / spectrum[strong].sum())
    assert abs(centre - CO21_GHZ) > 0.005  # shifted: a cont.dat around the rest frequency would clip the wing
    for lo, hi in ranges[0]:
        assert hi <= centre - 0.012 or lo >= centre + 0.012  # 3 sigma of the simulated line
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(files["flux.csv"])))
    assert list(rows[0]) == ["ms", "field", "spw", "I", "Q", "U", "V", "spix", "uvmin", "uvmax", "comment"]
    phase = [float(r["I"]) for r in rows if "field=J1625-2527" in r["comment"]]
    assert len(phase) == 8 and np.allclose(phase, 0.45, rtol=0.1)  # the simulated phase calibrator: 0.45 Jy
    ants = list(csv.DictReader(io.StringIO(files["antennapos.csv"])))
    assert ants and all(float(a["xoffset"]) == pytest.approx(2e-6) for a in ants)


# ------------------------------------------------------------------------------------------ QA
@pytest.mark.casa
@pytest.mark.slow
def test_weblog_archive_holds_every_stage_with_scores_and_plots(demo: Path) -> None:
    m = _alma_member(demo)
    with tarfile.open(next((m / "qa").glob("*.weblog.tgz"))) as tar:
        names = tar.getnames()
        top = names[0].split("/")[0]
        assert re.fullmatch(r"pipeline-\d{8}T\d{6}", top)
        by_task = tar.extractfile(f"{top}/html/t1-4.html").read().decode()
        pngs = {n: tar.extractfile(n).read(8) for n in names if n.endswith(".png")}
    assert f"{top}/html/index.html" in names
    rows = re.findall(r"sidebar_stage(\d+).*?aria-valuenow=\"([0-9.]+)\"", by_task)
    stages = {int(n): float(s) for n, s in rows}
    assert sorted(stages) == list(range(1, len(stages) + 1)) and len(stages) >= 20
    for n in stages:
        assert f"{top}/html/stage{n}/t2-4m_details.html" in names
    plotted = {int(re.search(r"/stage(\d+)/", n)[1]) for n in pngs}
    assert {6, 13, 16, 17, 23, 25} <= plotted  # Tsys s6, bandpass s13, fluxscale s16, gains s17, images
    assert all(head == b"\x89PNG\r\n\x1a\n" for head in pngs.values())
    # the AQUA report carries the same stages and scores
    aqua = ET.parse(next((m / "qa").glob("*pipeline_aquareport.xml"))).getroot()
    xml_stages = {int(s.get("Number")): float(s.get("Score")) for s in aqua.find("QaPerStage")}
    assert xml_stages == pytest.approx(stages)
    assert aqua.findtext("ProjectStructure/ProposalCode") == demo.name
    assert {t.tag for t in aqua.find("QaPerTopic")} == {"Dataset", "Flagging", "Calibration", "Imaging"}
    assert all(s.findall("Metric") and s.find("Metric").get("Reason") for s in aqua.find("QaPerStage"))


@pytest.mark.casa
@pytest.mark.slow
def test_raw_asdm_reads_back_with_importasdm(demo: Path, tmp_path: Path) -> None:
    from casacore import tables

    from almaview import casa

    m = _alma_member(demo)
    asdm = sorted((m / "raw").iterdir())[0]
    eb = asdm.name[: -len(".asdm.sdm")]
    out = tmp_path / f"{eb}.ms"
    casa.casatasks().importasdm(asdm=str(asdm), vis=str(out), process_flags=False, with_pointing_correction=False)
    with tables.table(str(out), ack=False) as a, tables.table(str(m / "calibrated" / f"{eb}.ms"), ack=False) as b:
        assert a.nrows() == b.nrows()
        assert np.allclose(np.unique(a.getcol("TIME")), np.unique(b.getcol("TIME")), atol=1e-3)


# ------------------------------------------------------------------------------------------ build
@pytest.mark.casa
@pytest.mark.slow
def test_second_build_returns_at_once(demo: Path) -> None:
    from almaview import demo as demo_mod

    started = time.perf_counter()
    again = demo_mod.build(demo.parent, progress=False)
    assert time.perf_counter() - started < 1.0
    assert again == demo


def test_build_refuses_a_directory_holding_other_files(tmp_path: Path) -> None:
    from almaview import demo as demo_mod
    from almaview.errors import AlmaviewError

    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(AlmaviewError, match="not an almaview demo"):
        demo_mod.build(tmp_path, progress=False)
    assert (tmp_path / "thesis.tex").read_text() == "precious"


def test_archives_are_deterministic(tmp_path: Path) -> None:
    from almaview.demo.tree import write_tgz

    src = tmp_path / "t.tbl"
    src.mkdir()
    (src / "table.dat").write_bytes(b"x" * 100)
    write_tgz(tmp_path / "a.tgz", [("t.tbl", src)])
    os.utime(src / "table.dat", (0, 12345))
    time.sleep(0.01)
    write_tgz(tmp_path / "b.tgz", [("t.tbl", src)])
    assert (tmp_path / "a.tgz").read_bytes() == (tmp_path / "b.tgz").read_bytes()


@pytest.mark.casa
@pytest.mark.slow
def test_files_carry_no_build_date_or_build_path(demo: Path, index: dict) -> None:
    from astropy.io import fits

    today = time.strftime("%Y-%m-%d")
    for e in index["files"]:
        p = demo / e["path"]
        if e["category"] != "casa_log" and p.is_file() and p.suffix in (".txt", ".xml", ".py", ".log"):
            text = p.read_text()
            assert today not in text and ".partial" not in text and "_work" not in text, p
        if e["category"] == "image":
            header = fits.getheader(p)
            assert not header["DATE"].startswith(today) and "HISTORY" not in header, p
        if e["category"] == "raw_asdm":
            asdm_xml = (p / "ASDM.xml").read_text(encoding="iso-8859-1")
            assert today not in asdm_xml
            uid = "uid://" + e["eb"][len("uid___") :].replace("_", "/")
            assert re.search(rf'entityId="{uid}"[^>]*entityTypeName="ASDM"', asdm_xml), p


# ------------------------------------------------------------------------------------------ index vs disk vs parser
def _walk(demo: Path) -> set[str]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(demo):
        here = Path(dirpath)
        for d in list(dirnames):
            if (here / d / "table.dat").exists() or d.endswith(".asdm.sdm"):
                out.add((here / d).relative_to(demo).as_posix())
                dirnames.remove(d)
        out |= {(here / f).relative_to(demo).as_posix() for f in filenames}
    return out


@pytest.mark.casa
@pytest.mark.slow
def test_index_lists_every_file_written(demo: Path, index: dict) -> None:
    assert {e["path"] for e in index["files"]} == _walk(demo)


@pytest.mark.casa
@pytest.mark.slow
def test_open_delivery_finds_everything_the_demo_wrote(demo: Path, index: dict) -> None:
    import almaview as av

    d = av.open_delivery(demo)
    files = index["files"]
    assert d.project_code == demo.name
    assert {m.uid for m in d.mous} == {e["mous"] for e in files if e["mous"]}
    group_files = [e for e in files if not e["mous"]]  # the group OUS's own products (12-m + 7-m imaged jointly)
    assert {e["category"] for e in group_files} == {"image"}
    assert sorted(Path(e["path"]).name for e in group_files) == sorted(
        Path(i.source).name for ims in d.group_products.values() for i in ims
    )
    for m in d.mous:
        mine = [e for e in files if e["mous"] == m.uid]
        assert m.readme is not None and m.readme.layout == "cycle6+" and m.readme.project_code == demo.name
        assert len(m.readme.achieved_beam) == len(m.readme.achieved_rms) == len(index["facts"][m.uid]["images"])
        assert {eb.uid for eb in m.ebs} == {e["eb"] for e in mine if e["eb"]}
        for eb in m.ebs:
            tables = set()
            for e in mine:
                if e["eb"] == eb.uid and e["category"] == "caltables_archive":
                    tables |= set(e["members"])
            assert set(eb.caltables) == tables
            assert eb.calibrated_ms is not None and Path(eb.calibrated_ms).is_dir()
        assert {Path(i.source).name for i in m.images} == {
            Path(e["path"]).name for e in mine if e["category"] == "image"
        }
        assert not m.unknown_files
        assert [Path(q).name for q in m.qa.qa2_reports] == [f"{m.uid}.qa2_report.pdf"]
    alma = next(m for m in d.mous if index["facts"][m.uid]["kind"] == "alma")
    for eb in alma.ebs:
        assert eb.raw_asdm is not None and eb.raw_complete and eb.calapply is not None and eb.flagversions
    assert set(alma.aux_files) == {"cont.dat", "flux.csv", "antennapos.csv"}
    assert alma.qa.aqua is not None and alma.qa.manifest is not None and alma.calibration_mode == "pipeline"
    weblog = alma.weblog
    expected = [s["number"] for s in index["facts"][alma.uid]["stages"]]
    assert [s.number for s in weblog.stages] == expected
    for s, mine in zip(weblog.stages, index["facts"][alma.uid]["stages"]):
        assert s.task == mine["task"] and s.score == pytest.approx(mine["score"], abs=0.005)
        assert sorted(p.name for p in s.plots) == sorted(mine["plots"])
    assert not d.unknown_files


@pytest.mark.casa
@pytest.mark.slow
def test_open_delivery_reports_no_problems(demo: Path) -> None:
    import almaview as av

    assert av.open_delivery(demo).problems == []

"""open_delivery on realistic sample trees written by tests/deliveries (expectations come from the writer)."""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from pathlib import Path

import pytest

import almaview as av
from almaview.errors import NotADelivery, PathNotFound
from deliveries import BP, CHECK, EBS, MOUS, PH, SCI, tree_digest, write_manual_delivery, write_pipeline_delivery
from deliveries.fixtures import _pipeline_pkg_built, cache, copy_pkg, pipeline_pkg, unchanged  # noqa: F401


def _extracted(cache: Path) -> list[str]:
    d = cache / "extracted"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def _open(path, **kw):
    return av.open_delivery(path, read_ms=False, **kw)


# ------------------------------------------------------------------ complete parse


def test_every_eb_caltable_image_and_stage_found(pipeline_pkg):
    spec, base = pipeline_pkg
    d = _open(spec.root)
    assert d.project_code == spec.project
    assert d.layout == "directory"
    assert [m.uid for m in d.mous] == [MOUS]
    m = d.mous[0]
    assert m.group == "uid___A001_X1465_X2a39" and m.science_goal == "uid___A001_X1465_X2a38"
    assert d.science_goals == ["uid___A001_X1465_X2a38"] and d.groups == ["uid___A001_X1465_X2a39"]
    assert sorted(eb.uid for eb in d.ebs) == sorted(spec.ebs)
    for eb in d.ebs:
        assert eb.caltables.kinds() == spec.caltables[eb.uid], eb.uid
        assert (eb.raw_asdm is not None) == (eb.uid in spec.raw)
        if eb.uid in spec.calibrated:
            assert Path(eb.calibrated_ms).name == spec.calibrated[eb.uid]
            assert Path(eb.calibrated_ms).is_dir()
        else:
            assert eb.calibrated_ms is None
        assert len(eb.flagversions) == 1 and eb.flagversions[0].endswith(f"{eb.uid}.ms.flagversions.tgz")
        assert len(eb.flag_templates) == 1
        calls = eb.calapply.calls
        assert [(c.field, c.intent, c.spw, [t.table for t in c.tables]) for c in calls] == spec.calapply[eb.uid]
        assert {"raw", "manifest", "calapply", "caltables"} & set(eb.seen_in)
    # images: every one found and classified as ALMA's naming says
    got = {im.name: im for im in d.images}
    assert set(got) == set(spec.images)
    for name, exp in spec.images.items():
        im = got[name]
        assert {k: getattr(im, k) for k in exp} == exp, name
        assert im.compressed == name.endswith(".gz")
    # auxiliary products from inside the auxproducts tgz
    assert [(c.field, c.spw, c.low, c.high, c.frame) for c in m.continuum] == spec.cont
    assert [(f.extra and f.comment and BP, f.spw, f.I) for f in m.flux] == spec.flux
    assert [row["antenna"] for row in m.antenna_positions] == spec.antennas
    # QA: AQUA topics and stages, QA reports, manifest
    aqua = m.qa.aqua
    assert {t.name: t.score for t in aqua.topics if t.score is not None} == spec.aqua_topics
    assert [(s.number, s.name, s.score) for s in aqua.stages] == spec.stages
    assert aqua.stages[2].reason == "hifa_tsyscal metric for stage 3"
    assert len(m.qa.qa2_reports) == 1 and len(m.qa.qa0_reports) == 1 and m.qa.manifest
    # scripts, logs and versions
    assert len(m.scripts.script_for_pi) == 1 and len(m.scripts.restorescript) == 1
    assert len(m.scripts.pipescript) == 1 and len(m.scripts.casa_commands) == 1 and len(m.scripts.casa_logs) == 1
    assert m.casa_version == "6.5.4.9" and m.pipeline_version == "2023.1.0.124"
    assert m.calibration_mode == "pipeline"
    # README
    assert m.readme.layout == "cycle6+" and m.readme.pi_name == "Marie Curie" and m.readme_error is None
    # fields with intents (from calapply when no MS is read)
    fields = {f.name: set(f.intents) for f in m.fields}
    assert fields[BP] >= {"BANDPASS", "AMPLITUDE"} and fields[SCI] == {"TARGET"}
    assert "PHASE" in fields[PH] and "CHECK" in fields[CHECK]
    assert [s["spw"] for s in m.spws] == ["17", "19"]


def test_weblog_index_stages_scores_colours_and_plots(pipeline_pkg, cache):
    spec, base = pipeline_pkg
    d = _open(spec.root)
    wl = d.mous[0].weblog
    assert [(s.number, s.task, s.score) for s in wl.stages] == spec.stages
    assert [s.colour for s in wl.stages] == ["green", "green", "blue", "yellow", "red"]
    for s in wl.stages:
        assert sorted(p.name for p in s.plots) == sorted(spec.stage_plots[s.number])
        assert s.page is not None and s.page.name == "t2-4m_details.html" and s.page.is_file()
    assert wl.index.name == "index.html" and wl.by_task.name == "t1-4.html"
    assert wl.html.is_relative_to(cache)  # extracted into the cache, never into the delivery


def test_caltable_extracted_into_cache_on_first_use_and_reused(pipeline_pkg, cache):
    spec, base = pipeline_pkg
    d = _open(spec.root)
    eb = d.eb(EBS[0])
    assert _extracted(cache) == []  # opening extracted nothing
    path = Path(eb.caltables["tsyscal"])
    assert path.is_relative_to(cache) and (path / "table.dat").is_file()
    assert path.name == f"{EBS[0]}.ms.h_tsyscal.s6_1.tsyscal.tbl"
    from casacore import tables

    with tables.table(str(path), ack=False) as t:  # independent reader: the stand-in's keyword
        assert t.getkeyword("VisCal") == "B TSYS"
    mtime = path.stat().st_mtime_ns
    d2 = _open(spec.root)
    assert Path(d2.eb(EBS[0]).caltables["tsyscal"]) == path and path.stat().st_mtime_ns == mtime
    with pytest.raises(KeyError, match="matches 2 caltables"):
        eb.caltables["phase"]  # the phase-up table and the timegaincal one


@pytest.mark.parametrize(
    "inner",
    [
        "",
        "science_goal.uid___A001_X1465_X2a38",
        "science_goal.uid___A001_X1465_X2a38/group.uid___A001_X1465_X2a39",
        "science_goal.uid___A001_X1465_X2a38/group.uid___A001_X1465_X2a39/member.uid___A001_X1465_X2a3a/calibration",
    ],
)
def test_nested_entry_points(pipeline_pkg, inner):
    spec, base = pipeline_pkg
    d = _open(spec.root / inner)
    assert d.root == os.fspath(spec.root)
    assert d.project_code == spec.project and sorted(e.uid for e in d.ebs) == sorted(EBS)
    assert len(d.images) == len(spec.images)


def test_tar_folder_read_without_extraction(pipeline_pkg, cache):
    spec, base = pipeline_pkg
    tars = base / "tars"
    d = _open(tars)
    assert d.layout == "tars" and d.project_code == spec.project
    assert sorted(e.uid for e in d.ebs) == sorted(EBS)
    for eb in d.ebs:
        assert eb.caltables.kinds() == spec.caltables[eb.uid]
        assert (eb.raw_archive is not None) == (eb.uid in spec.raw)
        assert eb.raw_asdm is None and eb.calibrated_ms is None
    assert {im.name for im in d.images} == set(spec.images)
    assert d.mous[0].readme.pi_name == "Marie Curie"
    assert [row["antenna"] for row in d.mous[0].antenna_positions] == spec.antennas
    assert _extracted(cache) == []  # members were read in place
    assert "still in its archive tar files" in d.status()
    # a tar file path opens its folder
    d2 = _open(tars / f"{spec.project}_{MOUS}_auxiliary.tar")
    assert d2.root == os.fspath(tars)
    # things inside the tars come out on demand, into the cache
    assert Path(d.eb(EBS[1]).caltables["bcal"]).is_relative_to(cache)
    assert [s.number for s in d.mous[0].weblog.stages] == [s[0] for s in spec.stages]


def test_unknown_files_listed_never_an_error(pipeline_pkg):
    spec, base = pipeline_pkg
    d = _open(spec.root)
    assert [Path(u).name for u in d.mous[0].unknown_files] == spec.unknown
    assert any(Path(p).name.endswith("product_notes.txt") for p in d.mous[0].other_products)


def test_manual_delivery(tmp_path, cache, unchanged):
    spec = write_manual_delivery(tmp_path)
    shutil.rmtree(tmp_path / ".staging-manual")
    unchanged(spec.root)
    d = _open(spec.root)
    m = d.mous[0]
    assert m.readme.layout == "cycle0-4" and m.readme.casa_version == "4.5.3"
    assert m.calibration_mode == "manual" and m.casa_version == "4.5.3"
    (eb,) = d.ebs
    assert eb.caltables.kinds() == spec.caltables[eb.uid]
    assert len(eb.scripts) == 1 and len(m.scripts.imaging) == 1
    (im,) = d.images
    assert (im.field, im.kind, im.image_type, im.naming) == ("HD_163296", "cont", "pbcor", "unknown")
    assert "restore them with `almaview restore" in d.status() and "casa -c" in d.status()


# ------------------------------------------------------------------ status lines


def test_status_says_what_is_missing_and_what_to_do(pipeline_pkg):
    spec, base = pipeline_pkg
    st = _open(spec.root).status()
    assert "calibrated MS missing for 2 of 3 EBs; raw ASDMs present for 1 of them" in st
    assert "casa --pipeline -c member.uid___A001_X1465_X2a3a.scriptForPI.py" in st
    assert f"fetch {spec.project}_{EBS[2]}.asdm.sdm.tar from the archive" in st


def test_status_counts_an_eb_restored_by_almaview(pipeline_pkg, cache, tmp_path):
    from casacore import tables

    from almaview.restore.registry import register

    spec, base = pipeline_pkg
    d = _open(spec.root)
    eb = next(e for e in d.ebs if not e.calibrated_ms and e.raw_asdm)
    ms = tmp_path / f"{eb.uid}.ms"  # a stand-in table: the registry only needs it to exist
    tables.table(str(ms), tables.maketabdesc([tables.makescacoldesc("X", 0)]), nrow=1, ack=False).close()
    register(spec.root, eb.uid, ms, workdir=tmp_path)
    st = _open(spec.root).status()
    assert f"restored by almaview (1 EB): {eb.uid} -> {ms}" in st
    assert "calibrated MS missing for 1 of 3 EBs" in st


def test_repr_and_html(pipeline_pkg):
    spec, base = pipeline_pkg
    d = _open(spec.root)
    text = repr(d)
    for needle in (spec.project, "Marie Curie", MOUS, *EBS, "NGC_1234: TARGET", "hifa_bandpass: 0.50 (warning)"):
        assert needle in text
    html = d._repr_html_()
    assert "<table>" in html and "#d9534f" in html and "#5cb85c" in html  # red and green QA cells
    assert "<script" not in html


# ------------------------------------------------------------------ bad input


def test_not_a_delivery(tmp_path, cache):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("hello")
    with pytest.raises(NotADelivery, match="is not an ALMA delivery") as err:
        _open(tmp_path / "x")
    assert str(tmp_path / "x") in str(err.value)
    with pytest.raises(NotADelivery, match="is a file"):
        _open(tmp_path / "x" / "notes.txt")
    with pytest.raises(PathNotFound):
        _open(tmp_path / "nope")


def test_empty_directory(tmp_path, cache):
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotADelivery, match="empty directory"):
        _open(tmp_path / "empty")


def test_half_extracted_asdm_and_ms(copy_pkg, unchanged):
    spec, base = copy_pkg
    (spec.member_dir / "raw" / f"{EBS[1]}.asdm.sdm" / "ASDM.xml").unlink()
    (spec.member_dir / "calibrated" / f"{EBS[0]}.ms.split.cal" / "table.dat").unlink()
    unchanged(base)
    d = _open(spec.root)
    assert d.eb(EBS[1]).raw_complete is False
    st = d.status()
    assert f"raw ASDM {spec.member_dir / 'raw' / (EBS[1] + '.asdm.sdm')} is incomplete (ASDM.xml missing" in st
    assert "is incomplete (table.dat missing)" in st


def test_half_downloaded_tar_is_a_status_line(copy_pkg, unchanged):
    spec, base = copy_pkg
    tar = base / "tars" / f"{spec.project}_{MOUS}_auxiliary.tar"
    data = tar.read_bytes()
    tar.write_bytes(data[: len(data) // 3 + 100])
    unchanged(base)
    d = _open(base / "tars")
    assert any(f"archive {tar} cannot be used" in p and "truncated" in p for p in d.problems)
    assert {im.name for im in d.images} == set(spec.images)  # the product tar still reads


def test_truncated_caltables_tgz(copy_pkg, unchanged, cache):
    spec, base = copy_pkg
    tgz = spec.member_dir / "calibration" / f"{MOUS}.session_2.caltables.tgz"
    tgz.write_bytes(tgz.read_bytes()[:300])
    unchanged(base)
    d = _open(spec.root)
    assert any(f"caltables archive {tgz} cannot be read" in p for p in d.problems), d.problems
    assert len(d.eb(EBS[2]).caltables) == 0 and len(d.eb(EBS[0]).caltables) == 7
    assert not any(cache.rglob("*.partial"))


def test_unsafe_member_in_delivery_tar(copy_pkg, unchanged):
    spec, base = copy_pkg
    evil = base / "tars" / f"{spec.project}_uid___A002_Xe1f219_X999.asdm.sdm.tar"
    with tarfile.open(evil, "w") as tf:
        info = tarfile.TarInfo("../../x")
        info.size = 0
        tf.addfile(info)
    unchanged(base)
    d = _open(base / "tars")
    assert any("'../../x'" in p and "outside" in p for p in d.problems)
    assert not (base.parent / "x").exists()


def test_readme_problems_become_status_lines(tmp_path, cache, unchanged):
    spec = write_pipeline_delivery(tmp_path / "a", readme="missing_fields", with_weblog=False)
    unchanged(spec.root)
    st = _open(spec.root).status()
    assert "lacks: PI name, configuration, CASA version" in st
    spec2 = write_pipeline_delivery(tmp_path / "b", readme="unknown", with_weblog=False)
    d = _open(spec2.root)
    assert "follows none of ALMA's README layouts" in d.status()
    assert d.mous[0].readme.extra == {"Colour of the sky": "blue"}


def test_read_only_delivery(copy_pkg, cache):
    # (as root the permission bits do not stop writes; the digest check still proves nothing was written)
    spec, base = copy_pkg
    modes = {}
    for p in [base, *base.rglob("*")]:
        if not p.is_symlink():
            modes[p] = p.stat().st_mode
            p.chmod(stat.S_IMODE(p.stat().st_mode) & ~0o222)
    try:
        before = tree_digest(base)
        d = _open(spec.root)
        assert len(d.ebs) == 3
        assert len(d.mous[0].weblog.stages) == len(spec.stages)
        assert Path(d.eb(EBS[0]).caltables["bandpass"]).is_relative_to(cache)
        assert tree_digest(base) == before
    finally:
        for p, mode in sorted(modes.items(), key=lambda kv: -len(kv[0].parts)):
            p.chmod(stat.S_IMODE(mode) | 0o200)


def test_mixed_untarred_project_with_raw_tars_beside(tmp_path, cache, unchanged):
    spec = write_pipeline_delivery(tmp_path / "dl", raw=(), with_weblog=False)
    # the raw ASDM tars were downloaded next to the untarred project but not untarred yet
    member_rel = spec.member_dir.relative_to(spec.root.parent)
    for eb in EBS[:2]:
        src = tmp_path / "stage" / str(member_rel) / "raw" / f"{eb}.asdm.sdm"
        src.mkdir(parents=True)
        (src / "ASDM.xml").write_text("<ASDM/>")
        with tarfile.open(tmp_path / "dl" / f"{spec.project}_{eb}.asdm.sdm.tar", "w") as tf:
            tf.add(src, arcname=f"{member_rel}/raw/{eb}.asdm.sdm")
    unchanged(tmp_path / "dl")
    d = _open(spec.root / "science_goal.uid___A001_X1465_X2a38")
    assert d.layout == "mixed" and d.root == os.fspath(spec.root)
    assert [(e.uid, e.raw_asdm, e.raw_archive is not None, e.raw_complete) for e in d.ebs] == [
        (EBS[0], None, True, True),
        (EBS[1], None, True, True),
        (EBS[2], None, False, None),
    ]
    assert f"raw ASDMs of 1 EB are still tar files ({spec.project}_{EBS[1]}.asdm.sdm.tar)" in d.status()


def test_tars_in_a_folder_named_like_the_project(pipeline_pkg, tmp_path, cache):
    spec, base = pipeline_pkg
    folder = tmp_path / spec.project
    folder.mkdir()
    for t in (base / "tars").iterdir():
        os.symlink(t, folder / t.name)
    d = _open(folder)
    assert d.layout == "tars" and sorted(e.uid for e in d.ebs) == sorted(EBS)


def test_calibrated_ms_without_antennas_does_not_stop_the_package(pipeline_pkg):
    """The stand-in MSs of this package have an empty ANTENNA table: the array is then taken from the README
    (scheduling block name), not a crash (a max() over no dishes raised ValueError inside open_delivery)."""
    spec, base = pipeline_pkg
    d = av.open_delivery(spec.root)  # read_ms=True: the calibrated MSs are opened
    (m,) = d.mous
    assert m.array == "12m" and "README" in m.array_evidence

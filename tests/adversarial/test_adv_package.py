"""Hostile or broken parts of a delivery: each is reported as a problem and the rest of the package opens.

Malformed calapply lines, impossible cont.dat ranges, unsafe archives inside the package, an MS with
no rows; the delivery is byte-identical afterwards.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import almaview as av
from almaview.errors import UnsafeArchiveMember

EB1, EB2 = "uid___A002_Xe1f219_X6d0", "uid___A002_Xe1f219_X7ee"


def _calapply(pkg, eb=EB1):
    return pkg.calibration / f"{eb}.ms.calapply.txt"


@pytest.mark.parametrize(
    "bad,why",
    [
        ("spwmap=[['a', 'b']]", "spwmap entry 0 .* holds 'a', expected spw ids"),
        ("spwmap=5", "spwmap is 5, expected a list"),
        ("spwmap=[[0, 1], [2], [3]]", "spwmap has 3 entries for 1 gaintable"),
        ("spwmap=[[0.5]]", "holds 0.5, expected spw ids"),
        ("gaintable=5", "gaintable is 5, expected a list of caltable names"),
        ("gaintable=[['nested']]", "expected a list of caltable names"),
        ("gaintable=[__import__('os').system('touch pwned')]", "not a literal list \\(it is never run\\)"),
        ("spwmap=[[0] * 4]", "not a literal list"),
    ],
    ids=[
        "spwmap-strings",
        "spwmap-int",
        "spwmap-too-many",
        "spwmap-float",
        "gaintable-int",
        "gaintable-nested",
        "gaintable-code",
        "spwmap-expression",
    ],
)
def test_malformed_calapply_line_is_a_problem(package, unchanged, bad, why, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    good = _calapply(package).read_text().splitlines()[0]
    args = {
        "vis": "'a.ms'",
        "field": "'NGC_1234'",
        "intent": "'TARGET'",
        "gaintable": "['t.tsyscal.tbl']",
        "spwmap": "[[17, 17, 19, 19]]",
    }
    key, value = bad.split("=", 1)
    args[key] = value
    line = "applycal(" + ", ".join(f"{k}={v}" for k, v in args.items()) + ")"
    _calapply(package).write_text(good + "\n" + line + "\n")
    unchanged(package.base)
    d = av.open_delivery(package.project, read_ms=False)
    eb = next(e for e in d.ebs if e.uid == EB1)
    assert len(eb.calapply.calls) == 1 and eb.calapply.calls[0].intent == "BANDPASS", "the good line is kept"
    assert any(
        f"{EB1}.ms.calapply.txt, line 2" in p and pytest.importorskip("re").search(why, p) for p in d.problems
    ), d.problems
    other = next(e for e in d.ebs if e.uid == EB2)
    assert len(other.calapply.calls) == 2 and d.mous[0].readme.project_code == "2019.1.01234.S"
    assert not (tmp_path / "pwned").exists(), "nothing in a calapply file is run"


@pytest.mark.parametrize(
    "text,why",
    [
        ("applycal(vis='a.ms', gaintable=['t.tbl']\n", "never closes its parenthesis"),
        ("applycal(vis='a.ms' gaintable=['t.tbl'])\n", "not a Python call"),
        ("applycal(" + "[" * 300 + "]" * 300 + ")\n", "not a Python call"),
    ],
    ids=["unclosed", "syntax-error", "too-deeply-nested"],
)
def test_calapply_that_is_not_python(package, unchanged, text, why):
    _calapply(package).write_text(text + _calapply(package).read_text())
    unchanged(package.base)
    d = av.open_delivery(package.project, read_ms=False)
    assert any("line 1" in p and why in p for p in d.problems), d.problems
    assert len(next(e for e in d.ebs if e.uid == EB2).calapply.calls) == 2


@pytest.fixture
def package_with_ms(package):
    """The package with a small calibrated MS written by python-casacore (spw 0: 16 x 1 MHz at 230 GHz)."""
    from mstables import remove_lock_files, write_ms

    (package.member / "calibrated").mkdir()
    ms = write_ms(package.member / "calibrated" / f"{EB1}.ms.split.cal", n_antennas=3, n_times=2)
    remove_lock_files(ms.path)
    return package, ms.path


def _spw_edges(ms, spw: int) -> tuple[float, float]:
    from casacore.tables import table

    with table(f"{ms}/SPECTRAL_WINDOW", ack=False) as t:  # independent of almaview: channel edges from casacore
        f, w = t.getcell("CHAN_FREQ", spw), np.abs(t.getcell("CHAN_WIDTH", spw))
    return float((f - w / 2).min()), float((f + w / 2).max())


def test_cont_dat_ranges_that_cannot_be_right(package_with_ms, unchanged):
    package, ms = package_with_ms
    lo, hi = _spw_edges(ms, 0)
    inside = f"{(lo + 2e6) / 1e9:.6f}~{(lo + 5e6) / 1e9:.6f}GHz LSRK"
    above = f"{(hi + 50e6) / 1e9:.6f}~{(hi + 80e6) / 1e9:.6f}GHz LSRK"
    (package.calibration / "cont.dat").write_text(
        "Field: NGC_1234\n\nSpectralWindow: 0\n"
        f"{inside}\n{above}\n230.010~230.002GHz LSRK\n1e999~2e999GHz LSRK\n0~230.001GHz LSRK\nbanana\n"
    )
    unchanged(package.base)
    d = av.open_delivery(package.project)
    problems = [p for p in d.problems if "cont.dat spw 0" in p]
    assert [p.split(": ", 1)[1].split(" ")[-1] for p in problems] != []
    text = "\n".join(problems)
    assert f"'{above}' lies outside spw 0 ({lo / 1e9:.6f}-{hi / 1e9:.6f} GHz)" in text
    assert "'230.010~230.002GHz LSRK' is reversed" in text and "'1e999~2e999GHz LSRK' is not finite" in text
    assert "'0~230.001GHz LSRK' has a frequency at or below zero" in text and "'banana' is not a frequency" in text
    assert inside not in text and len(problems) == 5
    assert len(d.mous[0].continuum) == 6, "every line is still listed"


def _hostile_tgz(path, make_tar):
    return make_tar(
        path,
        [
            ("file", "ok.tbl/table.dat", b"T"),
            ("sym", "ok.tbl/a", "."),
            ("sym", "ok.tbl/a/up", ".."),
            ("sym", "ok.tbl/a/up/up2", ".."),
            ("file", "ok.tbl/up2/victim.txt", b"x"),
        ],
        "w:gz",
    )


def test_unsafe_caltables_archive_inside_the_package(package, unchanged, make_tar, cache):
    _hostile_tgz(package.calibration / f"{EB1}.ms.hifa_calimage.caltables.tgz", make_tar)
    unchanged(package.base)
    d = av.open_delivery(package.project, read_ms=False)
    assert any("caltables archive" in p and "points outside the archive" in p for p in d.problems), d.problems
    assert len(d.ebs) == 2 and not list(cache.rglob("victim.txt"))


def test_unsafe_weblog_archive_refused_when_opened(package, unchanged, make_tar, cache):
    make_tar(
        package.member / "qa" / "uid___A001_X1465_X2a38.hifa_calimage.weblog.tgz",
        [
            ("dir", "pipeline-1/html"),
            ("file", "pipeline-1/html/index.html", b"<html/>"),
            ("sym", "pipeline-1/html/l", "."),
            ("sym", "pipeline-1/html/l/out", "../../.."),
            ("file", "pipeline-1/html/out/victim.txt", b"x"),
        ],
        "w:gz",
    )
    unchanged(package.base)
    d = av.open_delivery(package.project, read_ms=False)
    with pytest.raises(UnsafeArchiveMember, match="weblog.tgz"):
        _ = d.mous[0].weblog
    assert not list(cache.rglob("index.html")) and not list(cache.rglob("victim.txt"))


def test_sixteen_thousand_caltables_list_in_a_second(package, unchanged, cache):
    """An archive of 16,000 caltables (table.dat + table.f0 each): the listing was quadratic (~12 s here)."""
    import io
    import tarfile

    tgz = package.calibration / f"{EB1}.ms.hifa_calimage.caltables.tgz"
    with tarfile.open(tgz, "w:gz", compresslevel=1) as tf:
        for i in range(16_000):
            for f in ("table.dat", "table.f0"):
                ti = tarfile.TarInfo(f"{EB1}.ms.hifa_timegaincal.s{i}_1.gpcal.tbl/{f}")
                ti.size = 4
                tf.addfile(ti, io.BytesIO(b"abcd"))
    unchanged(package.base)
    t0 = time.process_time()
    d = av.open_delivery(package.project, read_ms=False)
    cold = time.process_time() - t0
    t0 = time.process_time()
    d = av.open_delivery(package.project, read_ms=False)
    warm = time.process_time() - t0
    with tarfile.open(tgz) as tf:
        expected = {n.split("/")[0] for n in tf.getnames()}
    assert set(next(e for e in d.ebs if e.uid == EB1).caltables) == expected
    assert warm < 1.0, f"listing 16,000 caltables (index cached) took {warm:.2f} s CPU"
    assert cold < 6.0, f"first listing (decompress + validate) took {cold:.2f} s CPU"


def test_qa_check_on_an_ms_with_no_rows(package, unchanged):
    from casacore.tables import table
    from mstables import remove_lock_files, write_ms

    (package.member / "calibrated").mkdir()
    ms = write_ms(package.member / "calibrated" / f"{EB1}.ms.split.cal", nrows=0)
    remove_lock_files(ms.path)
    with table(str(ms.path), ack=False) as t:
        assert t.nrows() == 0
    remove_lock_files(ms.path)
    unchanged(package.base)
    report = av.qa.check(package.project)
    row = report.table[(report.table.scope == EB1) & (report.table.criterion == "data volume")].iloc[0]
    assert row.verdict == "not checkable" and "has no rows" in row.why and ms.path.name in row.why


def _laughs(root: str) -> str:
    entities = "".join(f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "lol") * 10}">' for i in range(1, 10))
    return f'<?xml version="1.0"?>\n<!DOCTYPE {root} [{entities}]>\n<{root}>&lol9;</{root}>\n'


@pytest.mark.parametrize(
    "what,name,root",
    [
        ("pipeline manifest", "uid___A001_X1465_X2a38.hifa_calimage.pipeline_manifest.xml", "ProjectStructure"),
        ("AQUA report", "uid___A001_X1465_X2a38.hifa_calimage.pipeline_aquareport.xml", "PipelineAquaReport"),
    ],
    ids=["manifest", "aqua"],
)
def test_billion_laughs_xml(package, unchanged, what, name, root):
    (package.member / "qa" / name).write_text(_laughs(root))
    unchanged(package.base)
    t0 = time.process_time()
    d = av.open_delivery(package.project, read_ms=False)
    assert time.process_time() - t0 < 5 and len(d.ebs) == 2
    assert any(p.startswith(what) and "amplification" in p for p in d.problems), d.problems


def test_external_entity_in_manifest_is_not_read(package, unchanged, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("uid___A002_Xdeadbe_X1")
    xml = (
        f'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY s SYSTEM "file://{secret}">]>\n'
        '<ProjectStructure><ous><asdm name="&s;"/></ous></ProjectStructure>\n'
    )
    (package.member / "qa" / "uid___A001_X1465_X2a38.hifa_calimage.pipeline_manifest.xml").write_text(xml)
    unchanged(package.base)
    d = av.open_delivery(package.project, read_ms=False)
    assert "uid___A002_Xdeadbe_X1" not in [eb.uid for eb in d.ebs] and len(d.ebs) == 2
    assert any(p.startswith("pipeline manifest") and "external entity" in p for p in d.problems), d.problems


def test_oversized_member_of_an_auxproducts_archive(package, unchanged, make_tar):
    """A cont.dat of 11 MiB inside the auxproducts tgz is refused by its header size, not read."""
    from almaview.delivery.textfile import MAX_TEXT_BYTES

    big = b"230.1~230.5GHz LSRK\n" * ((MAX_TEXT_BYTES + (1 << 20)) // 20)
    (package.calibration / "cont.dat").unlink()
    make_tar(
        package.member / "product" / "uid___A001_X1465_X2a38.hifa_calimage.auxproducts.tgz",
        [("file", "uid___A001_X1465_X2a38.cont.dat", big)],
        "w:gz",
    )
    unchanged(package.base)
    d = av.open_delivery(package.project, read_ms=False)
    assert any("auxiliary products archive" in p and "more than the" in p for p in d.problems), d.problems
    assert d.mous[0].continuum == [] and len(d.ebs) == 2


def test_hostile_delivery_tar_beside_a_good_one(tmp_path, cache, unchanged, make_tar):
    """A folder of archive tars where the product tar carries a link chain: reported; the auxiliary tar still opens."""
    readme = b"Project code: 2019.1.01234.S\nPI name: A. Person\nProject title: x\n"
    member = (
        "2019.1.01234.S/science_goal.uid___A001_X1465_X2a36/group.uid___A001_X1465_X2a37/member.uid___A001_X1465_X2a38"
    )
    tars = tmp_path / "download"
    make_tar(
        tars / "2019.1.01234.S_uid___A001_X1465_X2a38_auxiliary.tar",
        [
            ("file", f"{member}/README", readme),
            (
                "file",
                f"{member}/calibration/{EB1}.ms.calapply.txt",
                f"applycal(vis='{EB1}.ms', gaintable=['{EB1}.ms.hifa_tsyscal.s6_1.tsyscal.tbl'])\n".encode(),
            ),
        ],
    )
    make_tar(
        tars / "2019.1.01234.S_uid___A001_X1465_X2a38_001_of_001.tar",
        [
            ("sym", f"{member}/product/l", "."),
            ("sym", f"{member}/product/l/up", "../../../../../.."),
            ("file", f"{member}/product/up/victim.fits", b"SIMPLE"),
        ],
    )
    unchanged(tars)
    d = av.open_delivery(tars, read_ms=False)
    assert d.layout == "tars" and d.mous[0].readme.project_code == "2019.1.01234.S"
    assert [eb.uid for eb in d.ebs] == [EB1]
    assert any("001_of_001.tar cannot be used" in p and "points outside the archive" in p for p in d.problems)
    assert not list(cache.rglob("victim.fits"))

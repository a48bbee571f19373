"""The demo group: 12-m, 7-m (ACA) and Total Power member OUSs built with CASA; the delivery, CLI, report and QA
say which array each member is and judge each by its own criteria. Expected values come from python-casacore,
astropy and the csv module."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from casacore import tables

import almaview as av
from almaview.demo.project import ACA, ALMA, GROUP, LINE_SIGMA_HZ, SCIENCE_GOAL, TP, VLA

pytestmark = [pytest.mark.casa, pytest.mark.slow]


@pytest.fixture(scope="module")
def delivery(demo_delivery: Path):
    return av.open_delivery(demo_delivery)


def _member(d, plan):
    return next(m for m in d.mous if m.uid == plan.uid)


def test_the_group_holds_the_three_arrays(delivery, demo_delivery):
    groups = {m.group for m in delivery.mous}
    assert len(groups) == 1
    assert {m.uid: m.array for m in delivery.mous} == {ALMA.uid: "12m", ACA.uid: "7m", TP.uid: "TP", VLA.uid: "VLA"}
    # independently: the MSs' antennas and data columns
    aca_ms = _member(delivery, ACA).ebs[0].calibrated_ms
    with tables.table(aca_ms + "/ANTENNA", ack=False) as t:
        assert all(n.startswith("CM") for n in t.getcol("NAME")) and set(t.getcol("DISH_DIAMETER")) == {7.0}
    tp_ms = _member(delivery, TP).ebs[0].calibrated_ms
    with tables.table(tp_ms, ack=False) as t:
        assert "FLOAT_DATA" in t.colnames() and np.all(t.getcol("ANTENNA1") == t.getcol("ANTENNA2"))
    with tables.table(tp_ms + "/ANTENNA", ack=False) as t:
        assert all(n.startswith("PM") for n in t.getcol("NAME"))
    for m in delivery.mous:
        assert "calibrated MS" in m.array_evidence


def test_without_reading_the_ms_the_readme_says_the_array(demo_delivery):
    d = av.open_delivery(demo_delivery, read_ms=False)
    arrays = {m.uid: m.array for m in d.mous}
    assert arrays[ACA.uid] == "7m" and arrays[TP.uid] == "TP" and arrays[ALMA.uid] == "12m"


def test_tp_products_and_jyperk_are_named_as_the_single_dish_pipeline_names_them(delivery, demo_delivery):
    tp = _member(delivery, TP)
    names = sorted(Path(i.source).name for i in tp.images)
    assert names == [
        f"member.{TP.uid}.IRAS16293-2422_sci.spw0.cube.I.sd.fits",
        f"member.{TP.uid}.IRAS16293-2422_sci.spw1.cont.I.sd.fits",
    ]
    assert {k for k in tp.ebs[0].caltables} >= {
        f"{TP.ebs[0].uid}.ms.h_tsyscal.s3_1.tsyscal.tbl"
    }  # hsd_calimage stage 3
    assert any(".hsd_skycal." in n for n in tp.ebs[0].caltables)
    assert "jyperk.csv" in tp.aux_files
    cube = av.open_image(next(i.source for i in tp.images if i.kind == "cube"))
    assert cube.attrs["units"] == "Jy/beam" and 25 < float(cube.beam_major) < 35


def test_info_lists_every_member_with_its_array(demo_delivery, capsys):
    from almaview.cli import main

    assert main(["info", str(demo_delivery)]) == 0
    out = capsys.readouterr().out
    for plan, words in ((ALMA, "12-m array"), (ACA, "7-m array (ACA)"), (TP, "Total Power array")):
        line = next(ln for ln in out.splitlines() if f"member OUS {plan.uid}" in ln)
        assert words in line
    assert main(["info", str(demo_delivery), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert {m["uid"]: m["array"] for m in got["mous"]}[TP.uid] == "TP"


def test_report_lists_every_member_with_its_array(delivery, tmp_path):
    from almaview.report import build_report

    html = build_report(delivery, tmp_path / "report.html", progress=False).read_text()
    for plan, words in ((ALMA, "12-m array"), (ACA, "7-m array (ACA)"), (TP, "Total Power array")):
        assert f"member OUS {plan.uid}: {words}" in html
    assert f"group OUS {GROUP}: 3 image(s) made at group level" in html


def _fits_beam_area(path) -> float:
    from astropy.io import fits

    h = fits.getheader(path)
    return h["BMAJ"] * h["BMIN"] * 3600**2


def _pb_radius_arcsec(path, level: float = 0.5) -> float:
    """Radius (arcsec) of the pb >= level region of a pb FITS image, from its pixel count (astropy)."""
    from astropy.io import fits

    h, pb = fits.getheader(path), fits.getdata(path)[0, 0]
    return float(np.sqrt(np.sum(np.nan_to_num(pb) >= level) / np.pi) * abs(h["CDELT2"]) * 3600)


def test_group_products_are_the_joint_12m_7m_cube_where_the_pipeline_puts_them(delivery, demo_delivery, capsys):
    """group.<GOUS>/product/group.<GOUS>.<field>_sci.spw0.cube.I.{pbcor,pb,mask}.fits[.gz]; its beam lies between
    the 12-m and 7-m cubes' beams, its primary beam between the 12-m and 7-m ones (astropy on the members' FITS),
    and it is deconvolved: the flux summed round the source at the line peak (sum / beam area) is the line's
    injected peak flux density (1.5 Jy + 0.02 Jy, a point source: sampledata.simulate's component list), as it is in
    the 12-m member's cube. A dirty image sums to a fraction of it (the dirty beam's integral is ~0)."""
    from astropy.io import fits

    from almaview.cli import main

    assert list(delivery.group_products) == [GROUP]
    images = delivery.group_products[GROUP]
    stem = f"group.{GROUP}.IRAS16293-2422_sci.spw0.cube.I"
    assert sorted(i.name for i in images) == sorted(f"{stem}.{t}" for t in ("mask.fits.gz", "pb.fits.gz", "pbcor.fits"))
    where = demo_delivery / f"science_goal.{SCIENCE_GOAL}" / f"group.{GROUP}" / "product"
    assert all(Path(i.source).parent == where for i in images)
    assert all(i.naming == "group" and i.mous is None and i.kind == "cube" for i in images)
    assert {m.uid for m in delivery.combined_members(GROUP)} == {ALMA.uid, ACA.uid}
    by_type = {i.image_type: i.source for i in images}

    def member_cube(plan, image_type):
        return next(i.source for i in _member(delivery, plan).images if i.kind == "cube" and i.image_type == image_type)

    joint, b12, b7 = (
        _fits_beam_area(p) for p in (by_type["pbcor"], member_cube(ALMA, "pbcor"), member_cube(ACA, "pbcor"))
    )
    assert b12 < joint < b7
    r_joint, r12, r7 = (_pb_radius_arcsec(p) for p in (by_type["pb"], member_cube(ALMA, "pb"), member_cube(ACA, "pb")))
    print(f"pb >= 0.5 radius: 12-m {r12:.1f}, joint {r_joint:.1f}, 7-m {r7:.1f} arcsec")
    assert r12 < r_joint < r7
    # deconvolved: flux round the source at the line peak, in the joint cube and (the same way) in the 12-m cube
    fluxes, expected = [], []
    for path in (by_type["pbcor"], member_cube(ALMA, "pbcor")):
        h, data = fits.getheader(path), fits.getdata(path)[0]
        peak_channel = int(np.nanargmax(np.nanmax(data, axis=(1, 2))))
        yy, xx = np.mgrid[0 : data.shape[1], 0 : data.shape[2]]
        near = np.hypot(yy - h["CRPIX2"] + 1, xx - h["CRPIX1"] + 1) * abs(h["CDELT2"]) * 3600 < 5.0
        beam_px = np.pi / (4 * np.log(2)) * h["BMAJ"] * h["BMIN"] / abs(h["CDELT1"] * h["CDELT2"])
        fluxes.append(float(np.nansum(np.where(near, data[peak_channel], 0)) / beam_px))
        # the sky at the line peak: the line's point source (1.5 Jy Gaussian of sigma LINE_SIGMA_HZ on 0.02 Jy)
        # averaged over one channel centred on it (a channel half a width off reads 10 % less: the tolerance), plus
        # the 2" continuum Gaussian (80 mJy at 240 GHz, spectral index 2.5)
        nu = h["CRVAL3"] + (peak_channel + 1 - h["CRPIX3"]) * h["CDELT3"]
        across = np.linspace(-0.5, 0.5, 201) * h["CDELT3"]
        line = 0.02 + 1.5 * np.mean(np.exp(-0.5 * (across / LINE_SIGMA_HZ) ** 2))
        expected.append(line + 0.08 * (nu / 240e9) ** 2.5)
    print(f"flux within 5 arcsec at the line peak: joint {fluxes[0]:.3f} Jy (sky {expected[0]:.3f}), "
          f"12-m {fluxes[1]:.3f} Jy (sky {expected[1]:.3f})")  # fmt: skip
    assert fluxes[0] == pytest.approx(expected[0], rel=0.15)
    assert fluxes[0] == pytest.approx(fluxes[1], rel=0.15)
    mask = fits.getdata(by_type["mask"])
    assert 0 < np.sum(mask > 0) < mask.size / 10  # a clean mask round the source
    # d.status(), almaview info and its JSON say so
    line = next(ln for ln in delivery.status().splitlines() if ln.startswith(f"group OUS {GROUP}"))
    assert "3 image(s)" in line and f"{ALMA.uid} (12-m array)" in line and f"{ACA.uid} (7-m array (ACA))" in line
    assert TP.uid not in line and VLA.uid not in line
    assert main(["info", str(demo_delivery)]) == 0
    assert line in capsys.readouterr().out
    assert f"group OUS {GROUP}" in delivery._repr_html_()


def test_qa_judges_tp_by_its_own_criteria(delivery, demo_delivery):
    report = av.qa.check(delivery)
    rows = report.table
    tp = rows[rows.scope.str.contains(TP.ebs[0].uid) | rows.scope.str.contains(TP.uid)]
    by = {c: tp[tp.criterion == c] for c in set(tp.criterion)}
    for c in ("gains", "phase transfer", "bandpass", "flux scale"):
        assert set(by[c].verdict) == {"not applicable"}
    assert set(by["sky calibration"].verdict) == {"pass"}
    assert set(by["jy/k"].verdict) == {"pass"}
    # Jy/K median: the csv module on jyperk.csv from the auxproducts archive
    archive = next(Path(p) for p in (demo_delivery / _member(delivery, TP).path / "calibration").glob("*auxproducts*"))
    with tarfile.open(archive) as tar:
        text = tar.extractfile(next(m for m in tar.getmembers() if m.name.endswith("jyperk.csv"))).read().decode()
    factors = [float(r["Factor"]) for r in csv.DictReader(io.StringIO(text))]
    assert float(by["jy/k"].figure.iloc[0]) == pytest.approx(np.median(factors))
    flat = by["baseline flatness"]
    assert len(flat) == 1 and flat.verdict.iloc[0] in ("pass", "warning")
    # interferometric members get no single-dish criteria
    alma = rows[rows.scope.str.contains(ALMA.ebs[0].uid)]
    assert not set(alma.criterion) & {"sky calibration", "baseline flatness", "jy/k"}
    assert "not applicable" not in set(alma.verdict)


def test_tp_ms_of_the_delivery_opens_as_spectra(delivery):
    tp_ms = _member(delivery, TP).ebs[0].calibrated_ms
    ds = av.open_ms(tp_ms)["spw_0"].ds
    with tables.table(tp_ms, ack=False) as t:
        row = t.nrows() - 5
        ant = t.getcell("ANTENNA1", row)
        ti = int(
            np.flatnonzero(
                ds.time.values == np.datetime64(int(round((t.getcell("TIME", row) - 3506716800.0) * 1e9)), "ns")
            )[0]
        )
        spw = t.getcell("DATA_DESC_ID", row)
        ds = av.open_ms(tp_ms)[f"spw_{spw}"].ds
        np.testing.assert_array_equal(
            ds.SPECTRUM.isel(time=ti, antenna_name=int(ant)).values, t.getcell("FLOAT_DATA", row)
        )


def test_explorer_single_dish_tab(delivery):
    ex = av.explore(delivery)
    try:
        ex.open_item("eb", _member(delivery, TP).ebs[0].uid)
        ex.show("single dish")
        panel = ex.panels["single dish"]
        assert set(panel.data.kind) == {"ON", "OFF", "calibrated"}
        ex.open_item("eb", _member(delivery, ALMA).ebs[0].uid)
        ex.show("single dish")
        assert "interferometric" in ex._views["single dish"].children[0].value
    finally:
        ex.close()


def test_heuristics_use_each_arrays_dish(delivery):
    """12-m + 7-m together are imaged over the 7 m primary beam (1.13 lambda/D, D from the MSs' ANTENNA tables)."""
    from almaview.imaging import heuristic_parameters

    ms12 = _member(delivery, ALMA).ebs[0].calibrated_ms
    ms7 = _member(delivery, ACA).ebs[0].calibrated_ms
    target = "IRAS16293-2422"
    p12 = heuristic_parameters(ms12, field=target, spw="1")
    p7 = heuristic_parameters(ms7, field=target, spw="1")
    joint = heuristic_parameters([ms12, ms7], field=target, spw="1")

    def fov(p):
        return p.params["imsize"][0] * float(p.params["cell"][0].removesuffix("arcsec"))

    with tables.table(ms7 + "/ANTENNA", ack=False) as t7, tables.table(ms12 + "/ANTENNA", ack=False) as t12:
        ratio = t12.getcol("DISH_DIAMETER").max() / t7.getcol("DISH_DIAMETER").max()
    assert fov(p7) / fov(p12) == pytest.approx(ratio, rel=0.35)  # imsizes are rounded to fast FFT sizes
    assert fov(joint) >= 0.9 * fov(p7)
    # two dish diameters in the ANTENNA tables: the mosaic gridder (each baseline with its own primary beam)
    assert ratio != 1 and joint.params["gridder"] == "mosaic"
    assert p12.params["gridder"] == p7.params["gridder"] == "standard"
    assert float(joint.params["cell"][0].removesuffix("arcsec")) <= float(p7.params["cell"][0].removesuffix("arcsec"))


def test_tp_readme_achieved_beam_and_rms_match_the_fits(delivery, demo_delivery):
    from astropy.io import fits

    tp = _member(delivery, TP)
    lines = tp.readme.achieved_beam + tp.readme.achieved_rms
    for im in tp.images:
        h, data = fits.getheader(im.source), fits.getdata(im.source)[0]
        tag = f"({'IRAS16293-2422'}, {im.kind} spw{im.spws[0]})"
        beam = next(ln for ln in tp.readme.achieved_beam if tag in ln)
        assert f"{h['BMAJ'] * 3600:.3f} x {h['BMIN'] * 3600:.3f} arcsec" in beam
        if im.kind == "cube":
            rms = np.sqrt(np.nanmean(np.square(data[np.r_[0:10, -10:0]])))
            line = next(ln for ln in tp.readme.achieved_rms if tag in ln)
            assert float(line.split(":")[1].split()[0]) == pytest.approx(rms * 1e3, rel=2e-3)
    assert len(lines) == 4


def test_every_pipeline_member_has_its_weblog_aqua_report_and_manifest(delivery, demo_delivery):
    """12-m and 7-m: hifa_calimage; TP: hsd_calimage with the single-dish pipeline's stages. The AQUA report's
    Jy/K metric of the TP member is the median of jyperk.csv (csv module); the 7-m raw ASDM names its EB."""
    recipes = {ALMA.uid: "hifa_calimage", ACA.uid: "hifa_calimage", TP.uid: "hsd_calimage"}
    for uid, recipe in recipes.items():
        m = next(x for x in delivery.mous if x.uid == uid)
        qa_dir = demo_delivery / m.path / "qa"
        assert (qa_dir / f"{uid}.{recipe}.weblog.tgz").is_file(), sorted(p.name for p in qa_dir.iterdir())
        assert (qa_dir / f"{uid}.{recipe}.pipeline_aquareport.xml").is_file()
        assert (demo_delivery / m.path / "calibration" / f"{uid}.{recipe}.pipeline_manifest.xml").is_file()
        stages = m.qa.aqua.stages
        weblog = m.weblog
        assert weblog is not None and len(stages) > 10
        tasks = [s.name for s in stages]
        if uid == TP.uid:
            assert tasks[0] == "hsd_importdata" and "hsd_k2jycal" in tasks and "hsd_imaging" in tasks
            assert not [t for t in tasks if t.startswith("hifa_")]
        else:
            assert tasks[0] == "hifa_importdata" and "hifa_timegaincal" in tasks
    tp = _member(delivery, TP)
    archive = next((demo_delivery / tp.path / "calibration").glob("*hsd_calimage.auxproducts.tgz"))
    with tarfile.open(archive) as tar:
        text = tar.extractfile(next(m for m in tar.getmembers() if m.name.endswith("jyperk.csv"))).read().decode()
    factors = [float(r["Factor"]) for r in csv.DictReader(io.StringIO(text))]
    k2jy = next(s for s in tp.qa.aqua.stages if s.name == "hsd_k2jycal")
    assert k2jy.score == 1.0
    aqua_text = next((demo_delivery / tp.path / "qa").glob("*aquareport.xml")).read_text()
    assert f'Name="JyPerK" Value="{np.median(factors):.1f}"' in aqua_text
    aca_asdm = demo_delivery / _member(delivery, ACA).path / "raw" / f"{ACA.ebs[0].uid}.asdm.sdm" / "ASDM.xml"
    assert ACA.ebs[0].uid.replace("uid___", "uid://").replace("_", "/") in aca_asdm.read_text(encoding="iso-8859-1")


def test_browser_shows_each_members_weblog_stages(delivery):
    ex = av.explore(delivery)
    try:
        ex.show("browser")
        tree = {n["id"]: n for n in ex.browser.tree}
        for plan in (ALMA, ACA, TP):
            node = tree[f"mous:{plan.uid}"]
            labels = [c["label"] for c in node["children"]]
            assert "weblog stages" in labels, (plan.uid, labels)
    finally:
        ex.close()

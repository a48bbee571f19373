"""The small parsers: image names, calapply, cont.dat/flux.csv/antennapos.csv, AQUA, manifest, weblog, QA bands."""

from __future__ import annotations

import pytest

from almaview.delivery.aqua import parse_aqua
from almaview.delivery.auxfiles import parse_antennapos_csv, parse_cont_dat, parse_flux_csv
from almaview.delivery.calapply import caltable_kind, parse_calapply
from almaview.delivery.manifest import parse_manifest
from almaview.delivery.model import score_band
from almaview.delivery.products import classify_image
from deliveries import image_expectations


@pytest.mark.parametrize("name,exp", sorted(image_expectations().items()))
def test_pipeline_image_names(name, exp):
    im = classify_image(name)
    assert {k: getattr(im, k) for k in exp} == exp


@pytest.mark.parametrize(
    "name,field,role,spws,kind,itype,taylor",
    [
        (
            "uid___A001_X87d_X1ad.s25_0.Orion_KL_sci.spw25_27.cont.I.iter1.image.pbcor.fits",
            "Orion_KL",
            "sci",
            (25, 27),
            "cont",
            "pbcor",
            None,
        ),
        (
            "member.uid___A001_X1465_X2a3a.Field_A_sci.spw5.cube.I.manual.pbcor.fits",
            "Field_A",
            "sci",
            (5,),
            "cube",
            "pbcor",
            None,
        ),
        (
            "member.uid___A001_X1465_X2a3a.J0522-3627_check.spw16_18.mfs.I.tt0.fits",
            "J0522-3627",
            "check",
            (16, 18),
            "mfs",
            "image",
            "tt0",
        ),
    ],
)
def test_older_and_variant_image_names(name, field, role, spws, kind, itype, taylor):
    im = classify_image(name)
    assert (im.field, im.role, im.spws, im.kind, im.image_type, im.taylor) == (field, role, spws, kind, itype, taylor)


# Names as the archive lists them (DataLink listings of real packages, the pipeline's export names); the image
# types follow one vocabulary whatever the order of the tokens.
@pytest.mark.parametrize(
    "name,itype,taylor,extra",
    [
        # Cycle 5 manual package 2017.1.01185.S (the archive's listing recorded in astroquery's test data)
        (
            "member.uid___A001_X12a3_Xe9.50_kms_cloud_sci.spw0_1_2_3_4_5_6_7_8_9_10_11_12_13_14_15.mfs.I.manual.image."
            "pbcor.fits",
            "pbcor",
            None,
            {"manual": True, "format": "fits", "compressed": False},
        ),
        (
            "member.uid___A001_X12a3_Xe9.50_kms_cloud_sci.spw0_4_8_12.cube.I.manual.mask.tgz",
            "mask",
            None,
            {"manual": True, "format": "casa"},
        ),
        (
            "member.uid___A001_X12a3_Xe9.50_kms_cloud_sci.spw0_4_8_12.cube.I.manual.pb.fits.gz",
            "pb",
            None,
            {"compressed": True, "format": "fits"},
        ),
        # Cycle 4 manual: the band in the name
        (
            "member.uid___A001_X879_Xea.Mira_sci.spw0_1_2_3.mfs.I.manual.B6.image.pbcor.fits",
            "pbcor",
            None,
            {"band": 6, "manual": True},
        ),
        # Cycle 11 multi-term continuum
        ("member.uid___A001_X3788_X7af3.NGC_253_sci.spw16_18_20_22.cont.I.alpha.fits", "alpha", None, {}),
        ("member.uid___A001_X3788_X7af3.NGC_253_sci.spw16_18_20_22.cont.I.alpha.error.fits", "alpha.error", None, {}),
        ("member.uid___A001_X3788_X7af3.NGC_253_sci.spw16_18_20_22.cont.I.pb.tt0.fits.gz", "pb", "tt0", {}),
        ("member.uid___A001_X3788_X7af3.NGC_253_sci.spw16_18_20_22.cont.I.tt1.pbcor.fits", "pbcor", "tt1", {}),
        # the check source's short role, and a Total Power cube
        ("member.uid___A001_X2d20_X3ee5.J1733-1304_chk.spw16.mfs.I.pbcor.fits", "pbcor", None, {"role": "check"}),
        ("member.uid___A001_X3621_X3d6c.M100_sci.spw17.cube.I.sd.fits", "image", None, {"single_dish": True}),
        # a product imaged at group level
        ("group.uid___A001_X3621_X3d66.M100_sci.spw17.cube.I.pbcor.fits", "pbcor", None, {"naming": "group"}),
    ],
)
def test_one_vocabulary_of_image_types(name, itype, taylor, extra):
    im = classify_image(name)
    assert (im.image_type, im.taylor) == (itype, taylor)
    assert {k: getattr(im, k) for k in extra} == extra


@pytest.mark.parametrize(
    "name,folder,category",
    [
        ("uid___A002_Xd28a9e_X71b8.calibration.plots.tgz", "calibration", "calibration_plots"),
        ("uid___A002_Xd28a9e_X71b8.calibration.tgz", "calibration", "caltables_archive"),
        ("member.uid___A001_X12a3_Xe9.calimage.product_rename.txt", "qa", "product_rename"),
        ("member.uid___A001_X12a3_Xe9.scriptForImagingPrep.py", "script", "script_imaging"),
        ("uid___A002_Xd28a9e_X71b8.ms.scriptForCalibration.py", "script", "script_cal"),
        ("member.uid___A001_X12a3_Xe9.2017.1.01185.S_uid___A001_X12a3_Xe9.log.tgz", "log", "log_archive"),
        ("member.uid___A001_X12a3_Xe9.Imaging.log.tgz", "log", "log_archive"),
        ("member.uid___A001_X12a3_Xe9.uid___A002_Xd28a9e_X71b8.log.tgz", "log", "log_archive"),
        ("member.uid___A001_X12a3_Xe9.uid___A002_Xd28a9e_X71b8__qa2_part3.png", "qa", "qa2_part"),
        ("member.uid___A001_X12a3_Xe9.uid___A002_Xd28a9e_X71b8__textfile.txt", "qa", "qa2_part"),
        ("uid___A002_Xd28a9e_X71b8.qa0_report.html", "qa", "qa0"),
        ("member.uid___A001_X12a3_Xe9.qa2_report.pdf", "qa", "qa2"),
        ("uid___A001_X1289_X1a1.session_2.auxcaltables.tgz", "calibration", "auxcaltables_archive"),
        ("uid___A002_Xc8ed16_X9f5c_target.ms.auxcalapply.txt", "calibration", "auxcalapply"),
        ("uid___A001_X3621_X3d68.s1.caltables.tgz", "calibration", "caltables_archive"),
        ("member.uid___A001_X1289_X1a1.hifa_calimage.calimage.pipeline_manifest.xml", "script", "manifest"),
        ("uid___A001_X3788_X7af3.hifa_calimage.pprequest.xml", "script", "pprequest"),
        ("PPR_uid___A001_X3788_X7af4.xml", "script", "pprequest"),
        ("uid___A001_X3621_X3d68.hifa_calimage_selfcal.timetracker.json", "qa", "pipeline_record"),
        ("pipeline_stats_uid___A001_X3788_X7af3.json", "qa", "pipeline_record"),
        ("PLDriver_report.xml", "log", "pipeline_record"),
        ("uid___A001_X2d20_X3ee5.pldriver_report.xml", "log", "pipeline_record"),
        ("uid___A001_X3621_X3d6c.hsd_calimage.auxproducts.tgz", "calibration", "auxproducts_archive"),
        ("jyperk.csv", "calibration", "jyperk"),
        ("member.uid___A001_X1465_X2a3a.NGC_1234.admit.tar.gz", "product", "admit"),
        ("uid___A002_X1_X2.flagtargetstemplate.txt", "calibration", "flag_template"),
        ("casa-20221005-173548.log", "log", "casa_log"),
        ("uid___A001_X1470_X2ef.hifa_calimage.casa_commands.log", "script", "casa_commands"),
    ],
)
def test_every_real_file_name_has_a_category(name, folder, category):
    from almaview.delivery.names import CATEGORIES, classify_file

    kind = classify_file(name, folder)
    assert kind.category == category
    assert kind.category in CATEGORIES


def test_unknown_files_say_why():
    from almaview.delivery.names import classify_file

    kind = classify_file("holiday.jpg", "product")
    assert kind.category == "product_other"
    kind = classify_file("holiday.jpg", "qa")
    assert kind.category == "unknown" and "holiday.jpg" in kind.reason and "qa/" in kind.reason


def test_non_images_are_not_classified():
    assert classify_image("cont.dat") is None
    assert classify_image("member.uid___A001_X1_X2.README.txt") is None


@pytest.mark.parametrize(
    "name,kind",
    [
        ("uid___A002_X1_X2.ms.hifa_tsyscal.s6_1.tsyscal.tbl", "tsyscal"),
        ("uid___A002_X1_X2.ms.hifa_bandpass.s12_3.spw0_1.solintinf.bcal.tbl", "bandpass"),
        ("uid___A002_X1_X2.ms.hifa_bandpass.s12_2.spw0_1.solintinf.kcal.tbl", "delay"),
        ("uid___A002_X1_X2.ms.hifa_gfluxscale.s15_4.spw0_1.solintinf.fluxscale.gacal.tbl", "amplitude"),
        ("uid___A002_X1_X2.ms.hifa_timegaincal.s17_1.spw0.solintint.gpcal.tbl", "phase"),
        ("uid___A002_X1_X2.ms.hifa_wvrgcalflag.s7_2.wvr.tbl", "wvr"),
        ("uid___A002_X1_X2.ms.hifa_antpos.s5_1.ants.tbl", "antpos"),
        ("uid___A002_X1_X2.ms.split.tsys", "tsyscal"),
        ("uid___A002_X1_X2.ms.split.phase_int", "phase"),
        ("uid___A002_X1_X2.ms.split.flux_inf", "fluxscale"),
        ("mystery_table", "unknown"),
    ],
)
def test_caltable_kinds(name, kind):
    assert caltable_kind(name) == kind


def test_calapply_lines():
    text = (
        "# comment line\n"
        "applycal(vis='/w/uid___A002_X1_X2.ms', field='J1924-2914', intent='AMPLITUDE,BANDPASS', spw='17,19', "
        "antenna='0~9', gaintable=['/w/a.tsyscal.tbl', '/w/b.bcal.tbl'], gainfield=['', 'J1924-2914'], "
        "spwmap=[[0, 1, 2, 17, 17], []], interp=['linear,linear', 'nearest'], calwt=[False, True], "
        "applymode='calflagstrict', flagbackup=False)\n"
        "applycal(vis='/w/uid___A002_X1_X2.ms', field='NGC_1234', intent='TARGET', spw='17',\n"
        "         gaintable=['/w/c.gpcal.tbl'], calwt=True)\n"
    )
    ca = parse_calapply(text, "x.calapply.txt")
    assert ca.vis == "uid___A002_X1_X2.ms" and ca.tables == ["a.tsyscal.tbl", "b.bcal.tbl", "c.gpcal.tbl"]
    c0, c1 = ca.calls
    assert (c0.field, c0.intent, c0.spw, c0.antenna) == ("J1924-2914", "AMPLITUDE,BANDPASS", "17,19", "0~9")
    assert [(t.table, t.kind, t.gainfield, t.interp, t.spwmap, t.calwt) for t in c0.tables] == [
        ("a.tsyscal.tbl", "tsyscal", "", "linear,linear", [0, 1, 2, 17, 17], False),
        ("b.bcal.tbl", "bandpass", "J1924-2914", "nearest", [], True),
    ]
    assert c0.options == {"applymode": "calflagstrict", "flagbackup": False}
    assert (c1.field, c1.tables[0].calwt, c1.tables[0].interp) == ("NGC_1234", True, "")


def test_calapply_never_executes():
    ca = parse_calapply("applycal(vis=__import__('os').system('touch /tmp/pwned'), gaintable=['x.tbl'])\n")
    assert ca.calls[0].tables[0].table == "x.tbl"  # the call is read as text; nothing ran


def test_cont_dat_units_and_frames():
    text = (
        "Field: M100\n\nSpectralWindow: 0\n114.5~114.9GHz LSRK\n115500.0~115600.0MHz TOPO\n\n"
        "SpectralWindow: 1\nALL\n\nField: J1924\n\nSpectralWindow: 0\nNONE\n"
    )
    r = parse_cont_dat(text)
    assert [(c.field, c.spw, c.low, c.high, c.frame) for c in r] == [
        ("M100", "0", 114.5e9, 114.9e9, "LSRK"),
        ("M100", "0", 115.5e9, 115.6e9, "TOPO"),
        ("M100", "1", None, None, None),
        ("J1924", "0", None, None, None),
    ]
    assert r[2].text == "ALL"


def test_flux_and_antennapos_csv():
    f = parse_flux_csv('ms,field,spw,I,Q,U,V,spix,comment\nx.ms,1,17,0.85,0,0,0,-0.3,"# field=J1 intents=PHASE"\n')
    assert (f[0].vis, f[0].field, f[0].spw, f[0].I, f[0].spix) == ("x.ms", "1", "17", 0.85, -0.3)
    assert f[0].extra == {}
    a = parse_antennapos_csv("name,antenna,xoffset,yoffset,zoffset,comment\nx.ms,DV01,0.1,0.2,0.3,c\n")
    assert a == [
        {"name": "x.ms", "antenna": "DV01", "xoffset": "0.1", "yoffset": "0.2", "zoffset": "0.3", "comment": "c"}
    ]


def test_aqua_element_names_matched_case_insensitively():
    xml = (
        '<?xml version="1.0"?><pipelineaquareport xmlns="urn:x"><qasummary><casaversion>6.2.1</casaversion>'
        "<PIPELINEVERSION>2021.2.0.128</PIPELINEVERSION><finalscore>0.75</finalscore></qasummary>"
        '<QAPERSTAGE><stage number="7" name="hifa_wvrgcalflag" score="0.5"><metric name="PhaseRmsRatio" '
        'value="1.1" qascore="0.5" reason="WVR did not improve phase rms"/></stage></QAPERSTAGE>'
        '<qapertopic><CALIBRATION score="0.5"><stage number="7" name="hifa_wvrgcalflag" score="0.5"/>'
        "</CALIBRATION></qapertopic></pipelineaquareport>"
    )
    r = parse_aqua(xml)
    assert (r.casa_version, r.pipeline_version, r.final_score) == ("6.2.1", "2021.2.0.128", 0.75)
    (s,) = r.stages
    assert (s.number, s.name, s.score, s.reason) == (7, "hifa_wvrgcalflag", 0.5, "WVR did not improve phase rms")
    assert (s.metrics[0].name, s.metrics[0].value) == ("PhaseRmsRatio", "1.1")
    assert [(t.name, t.score, [x.number for x in t.stages]) for t in r.topics] == [("CALIBRATION", 0.5, [7])]


def test_manifest():
    m = parse_manifest(
        '<piperesults><ous name="uid___A001_X1_X2"><pipeline_version name="2022.2.0.64"/>'
        '<session name="session_1"><caltables name="c.tgz"/><asdm name="uid___A002_X3_X4">'
        '<applycmds name="uid___A002_X3_X4.ms.calapply.txt"/></asdm></session>'
        '<session name="session_2"><asdm name="uid___A002_X3_X5"/></session></ous></piperesults>'
    )
    assert m.asdms == {"uid___A002_X3_X4": "session_1", "uid___A002_X3_X5": "session_2"}
    assert m.pipeline_version == "2022.2.0.64" and m.files["caltables"] == ["c.tgz"]


@pytest.mark.parametrize(
    "score,band,colour",
    [
        (1.0, "good", "green"),
        (0.91, "good", "green"),
        (0.90, "below standard", "blue"),
        (0.67, "below standard", "blue"),
        (0.66, "warning", "yellow"),
        (0.34, "warning", "yellow"),
        (0.33, "error", "red"),
        (0.0, "error", "red"),
        (-0.1, "error", "red"),
        (None, "unknown", "grey"),
    ],
)
def test_score_bands_follow_the_pipeline(score, band, colour):
    # pipeline docs (QA_scores.md): <=0.33 error/red, <=0.66 warning/yellow, <=0.90 suboptimal/blue, else green
    assert score_band(score)[:2] == (band, colour)

"""The re-imaging panel, headless: the call and the predicted beam follow the controls, bad input gives a
message (not an exception), the output folder is never inside the delivery, a run on the ALMA-like EB shows
the comparison, and a stopped run leaves nothing.

Expected values: predict_beam called directly, the call parsed back with ast, astropy reads of the FITS
tclean wrote.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import numpy as np
import pytest

import almaview as av

FIELD = "IRAS16293-2422"


def _call(panel) -> dict:
    node = ast.parse(panel.call, mode="eval").body
    assert node.func.id == "tclean"
    return {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}


@pytest.fixture(scope="module")
def demo(demo_delivery):
    return av.open_delivery(demo_delivery)


@pytest.fixture()
def panel(demo, tmp_path):
    from almaview.widgets.reimage import ReimagePanel

    return ReimagePanel(demo, kind="cont", output=str(tmp_path / "out"))


def test_robust_change_updates_call_and_predicted_beam(panel, demo, monkeypatch):
    from almaview.imaging import beam, predict_beam

    before = _call(panel)
    assert before["robust"] == 0.5 and before["field"] == FIELD
    read = beam.uv_coverage
    monkeypatch.setattr(beam, "uv_coverage", lambda *a, **k: pytest.fail("the uv coverage was read again"))
    panel.controls["robust"].value = -1.0
    monkeypatch.setattr(beam, "uv_coverage", read)
    after = _call(panel)
    assert after["robust"] == -1.0 and after["imagename"] != before["imagename"]
    assert {k for k in after if after[k] != before.get(k)} <= {"robust", "imagename", "threshold"}
    member = next(m for m in demo.mous if any(i.field == FIELD for i in m.images))
    vis = [eb.calibrated_ms for eb in member.ebs]
    direct = predict_beam(
        vis, field=FIELD, spw=before["spw"][0], robust=-1.0, cell=before["cell"], imsize=before["imsize"]
    )
    got = panel.prediction.beam
    np.testing.assert_allclose(
        [got.major, got.minor, got.pa, got.relative_sensitivity],
        [direct.major, direct.minor, direct.pa, direct.relative_sensitivity],
        rtol=1e-9,
    )
    assert f'{direct.major:.2f}" × {direct.minor:.2f}"' in panel.prediction_html.value


def test_invalid_uvtaper_gives_a_message_not_an_exception(panel):
    call = panel.call
    panel.controls["uvtaper"].value = "wide please"
    assert "uvtaper" in panel.message and "1arcsec" in panel.message
    assert panel.call == call and panel.controls["run"].disabled  # the last valid call is shown, not run
    panel.controls["uvtaper"].value = "1.5arcsec"
    assert panel.message == "" and _call(panel)["uvtaper"] == ["1.5arcsec"] and not panel.controls["run"].disabled
    assert panel.prediction.beam.uvtaper_arcsec == 1.5


def test_output_folder_inside_the_delivery_is_refused(panel, demo):
    inside = Path(demo.root) / "reimaged"
    panel.controls["output folder"].value = str(inside)
    assert "never writes into a delivery" in panel.message and str(inside) in panel.message
    assert panel.controls["run"].disabled
    panel.controls["run"].click()
    assert panel.run is None and not inside.exists()
    panel.controls["output folder"].value = "reimaging"
    assert panel.message == "" and not panel.controls["run"].disabled


def test_kind_cube_and_cont_dat(panel):
    from almaview.imaging import ms_frame_selection

    panel.controls["use cont.dat"].value = True
    spw = _call(panel)["spw"]
    ranges = panel.plan.continuum_ranges()
    # cont.dat is LSRK; each MS gets the ranges in its own (TOPO) frame, as the pipeline does
    vis = _call(panel)["vis"]
    assert spw == [ms_frame_selection(ranges, v, field=FIELD, spws=["1", "2", "3"]) for v in vis] and ":" in spw[0]
    assert spw[0] != ranges.spw_selection(FIELD, ["1", "2", "3"])
    panel.controls["kind"].value = "cube"
    cube = _call(panel)
    assert cube["specmode"] == "cube" and cube["spw"] == ["0", "0"] and panel.controls["use cont.dat"].disabled
    panel.controls["nchan"].value = 10
    assert _call(panel)["nchan"] == 10


def _eb_member(alma_eb):
    """A member OUS holding the ALMA-like EB and its images (no casa_commands.log: heuristics)."""
    from almaview.delivery.model import ExecutionBlock, ImageProduct, MemberOUS

    uid = "uid___A001_X3571_X8a"
    images = [
        ImageProduct(Path(p).name, str(p), uid, FIELD, "sci", spws, kind, "I", t)
        for kind, spws in (("cont", (1, 2, 3)), ("cube", (0,)))
        for t, p in (
            ("pbcor", alma_eb.images[f"{kind}_pbcor_fits"]),
            ("pb", alma_eb.images[f"{kind}_pb_fits"]),
            ("mask", alma_eb.images[f"{kind}_mask_fits"]),
        )
    ]
    eb = ExecutionBlock(alma_eb.eb_uid, uid, calibrated_ms=str(alma_eb.ms))
    return MemberOUS(uid, None, None, f"member.{uid}", ebs=[eb], images=images)


@pytest.mark.skipif(not av.casa.available(), reason="re-imaging runs CASA's tclean")
def test_run_shows_the_comparison_and_stop_leaves_nothing(alma_eb, tmp_path):
    from astropy.io import fits

    from almaview.widgets.reimage import ReimagePanel

    panel = ReimagePanel(_eb_member(alma_eb), kind="cont", output=str(tmp_path / "small"), poll_interval=0.2)
    assert panel.plan.base.origin == "heuristics"
    c = panel.controls
    c["imsize"].value, c["cell"].value, c["niter"].value, c["robust"].value = 64, "0.5arcsec", 20, 1.0
    params = _call(panel)
    assert params["imsize"] == [64, 64] and params["cell"] == ["0.5arcsec"] and params["robust"] == 1.0
    c["run"].click()
    assert panel.wait(timeout=600) == "done", panel.message
    fits_path = panel.run.products["image.pbcor.fits"]
    assert Path(fits_path).parent == tmp_path / "small"
    source = panel.comparison.sources["reimaged_image"]
    with fits.open(fits_path) as h:
        plane = h[0].data[0, 0].astype(np.float32)
    shown = np.asarray(source.data["image"][0])
    np.testing.assert_array_equal(shown, plane[:, ::-1])  # RA increases to the left
    assert len(panel.result.children) == 2 and "delivered" in panel.result.children[0].value
    assert panel.progress.bar_style == "success" and not c["run"].disabled and c["stop"].disabled

    long = ReimagePanel(_eb_member(alma_eb), kind="cube", output=str(tmp_path / "stopped"), poll_interval=0.2)
    lc = long.controls
    lc["imsize"].value, lc["cell"].value, lc["niter"].value, lc["nsigma"].value = 512, "0.1arcsec", 100000, 0
    lc["run"].click()
    time.sleep(6)
    assert long.run.state == "running" and not lc["stop"].disabled
    lc["stop"].click()
    assert long.run.state == "stopped" and "stopped" in long.status.value
    assert list((tmp_path / "stopped").iterdir()) == []
    assert long.comparison is None


# ---------------------------------------------------------------- joint 12-m + 7-m imaging (issue 16)

C_LIGHT = 299_792_458.0


def _calibrated_ms(demo, array: str) -> list[str]:
    """The calibrated MSs of the demo's member OUS of ``array``, listed from its folder (not from almaview's model)."""
    member = next(m for m in demo.mous if m.array == array)
    folder = Path(demo.root) / member.path / "calibrated"
    return sorted(str(p) for p in folder.iterdir() if (p / "table.dat").is_file())


def test_joint_12m_7m_call_lists_both_members_ms_and_images_the_7m_primary_beam(demo, tmp_path):
    from casacore import tables

    from almaview.imaging import predict_beam
    from almaview.widgets.reimage import ReimagePanel

    panel = ReimagePanel(demo, kind="cont", output=str(tmp_path / "out"))
    options = panel.controls["members"].options
    assert [label.split(" · ")[0] for label, _ in options] == ["12m", "7m"]  # no TP: tclean images interferometers
    alone = _call(panel)
    assert sorted(alone["vis"]) == _calibrated_ms(demo, "12m")
    panel.controls["members"].value = tuple(uid for _, uid in options)
    assert panel.members == [uid for _, uid in options] and panel.plan.joint
    joint = _call(panel)
    both = _calibrated_ms(demo, "12m") + _calibrated_ms(demo, "7m")
    assert sorted(joint["vis"]) == sorted(both)
    assert joint["field"] == FIELD and joint["spw"] == "1,2,3" and "12m+7m" in joint["imagename"]
    # the field of view covers the 7 m primary beam (FWHM 1.13 lambda / D; D and lambda from the MSs' tables)
    with tables.table(both[-1] + "/ANTENNA", ack=False) as t:
        dish = float(t.getcol("DISH_DIAMETER").min())
    with tables.table(both[-1] + "/SPECTRAL_WINDOW", ack=False) as t:
        f_low = min(float(t.getcell("CHAN_FREQ", i).min()) for i in (1, 2, 3))
    fwhm_7m = np.degrees(1.13 * C_LIGHT / f_low / dish) * 3600
    cell = float(joint["cell"][0].removesuffix("arcsec"))
    assert dish == 7.0 and joint["imsize"][0] * cell >= fwhm_7m
    assert joint["imsize"][0] * cell > alone["imsize"][0] * float(alone["cell"][0].removesuffix("arcsec"))
    # the predicted beam is the joint coverage's, and the text says the rms is an estimate combined from both
    direct = predict_beam(both, field=FIELD, spw="1,2,3", robust=0.5, cell=joint["cell"], imsize=joint["imsize"])
    np.testing.assert_allclose([panel.prediction.beam.major, panel.prediction.beam.minor], [direct.major, direct.minor])
    assert "joint" in panel.prediction_html.value and "combined" in panel.prediction.delivered_origin
    # back to the 12-m alone: the 12-m call again
    panel.select(members=[options[0][1]])
    assert _call(panel) == alone


def _casa_measure(images: list[str]) -> tuple[list[tuple[float, float]], list[float], float]:
    """CASA's own answer in a child process (imhead, imsmooth, imstat; not python-casacore's): each image's beam
    (major, minor arcsec), and its peak (Jy/beam) once convolved to one circular beam 1.1 x the largest major axis
    (imsmooth targetres); returns (beams, smoothed peaks, that beam)."""
    import json
    import os
    import subprocess
    import sys

    from almaview import casa

    casa.configure()
    code = (
        "import json, sys\nfrom almaview import casa\nt = casa.casatasks()\nbeams = []\n"
        "for p in json.loads(sys.argv[1]):\n"
        "    b = [t.imhead(imagename=p, mode='get', hdkey=k) for k in ('beammajor', 'beamminor')]\n"
        "    beams.append([q['value'] * (60.0 if q['unit'] == 'arcmin' else 3600.0 if q['unit'] == 'deg' else 1.0)"
        " for q in b])\n"
        "common = 1.1 * max(b[0] for b in beams)\npeaks = []\n"
        "for p in json.loads(sys.argv[1]):\n"
        "    t.imsmooth(imagename=p, kernel='gauss', targetres=True, major=f'{common}arcsec', minor=f'{common}arcsec',"
        " pa='0deg', outfile=p + '.common', overwrite=True)\n"
        "    peaks.append(float(t.imstat(imagename=p + '.common')['max'][0]))\n"
        "print('MEASURED' + json.dumps([beams, peaks, common]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(images)], capture_output=True, text=True, env=env, timeout=600
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("MEASURED")), None)
    assert line is not None, proc.stderr[-2000:]
    beams, peaks, common = json.loads(line[len("MEASURED") :])
    return [tuple(b) for b in beams], peaks, common


@pytest.mark.skipif(not av.casa.available(), reason="joint imaging runs CASA's tclean")
def test_joint_tclean_lies_between_same_cell_tcleans_of_each_array(demo, tmp_path):
    """The joint 12-m + 7-m call against tcleans of each array alone made here with the same call (cell, imsize,
    weighting, gridder, mask, threshold; only ``vis`` differs): the joint beam lies between the 12-m-only and the
    7-m-only beams, and on the source the joint image's peak agrees with the 12-m-only image's within 10 % once both
    are convolved to one beam (the continuum source is a 2" x 1.2" Gaussian, so peaks at their own beams differ by
    the beams' size; convolved to one beam they measure the same flux scale)."""
    from almaview.imaging import reimaging_plan, run_tclean

    plan = reimaging_plan(demo, kind="cont", members=["12m", "7m"])
    assert plan.base.params["gridder"] == "mosaic"  # two dish diameters: the pipeline's gridder heuristic
    joint = plan.parameters(
        niter=1000, imsize=[96, 96], nsigma=None, threshold="1mJy", mask="circle[[48pix,48pix],16pix]"
    ).with_(spw="1")  # one continuum spw: a third of the gridding (three mosaic-gridder runs in this test)
    runs = {"joint": joint}
    for array in ("12m", "7m"):
        runs[array] = joint.with_(vis=_calibrated_ms(demo, array), imagename=f"{joint.params['imagename']}.{array}only")
    images = []
    for name, params in runs.items():
        run = run_tclean(params, tmp_path / name, progress=False, export=("image.pbcor",))
        assert run.state == "done", name
        images.append(str(run.products["image.pbcor"]))
    beams, peaks, common = _casa_measure(images)
    (j_maj, j_min), (a_maj, a_min), (c_maj, c_min) = beams
    area_joint, area_12m, area_7m = j_maj * j_min, a_maj * a_min, c_maj * c_min
    print(
        f"beam areas (arcsec^2): 12-m {area_12m:.2f}, joint {area_joint:.2f}, 7-m {area_7m:.2f}; peaks at a common "
        f'{common:.2f}" beam: joint {peaks[0] * 1e3:.2f}, 12-m {peaks[1] * 1e3:.2f}, 7-m {peaks[2] * 1e3:.2f} mJy/beam'
    )
    assert area_12m < area_joint < area_7m
    assert a_maj <= j_maj <= c_maj and a_min <= j_min <= c_min
    assert peaks[0] == pytest.approx(peaks[1], rel=0.10)

"""feather: CASA's feather in a subprocess; the feathered cube keeps the TP flux (astropy sums), output outside deliveries."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

import almaview as av


def _beam_pixels(h):
    return np.pi / (4 * np.log(2)) * h["BMAJ"] * h["BMIN"] / abs(h["CDELT1"] * h["CDELT2"])


def test_feather_keeps_the_single_dish_flux(alma_eb, tp_eb, tmp_path):
    run = av.imaging.feather(
        alma_eb.images["cube_fits"], tp_eb.images["cube_fits"], outdir=tmp_path / "out", progress=False
    )
    out = run.products["image.fits"]
    assert run.state == "done" and out.parent == tmp_path / "out"
    assert not [p for p in (tmp_path / "out").iterdir() if "partial" in p.name]
    fh, fdata = fits.getheader(out), fits.getdata(out)[0]
    th, tdata = fits.getheader(tp_eb.images["cube_fits"]), fits.getdata(tp_eb.images["cube_fits"])[0]
    assert fdata.shape == fits.getdata(alma_eb.images["cube_fits"])[0].shape  # on the 12-m grid
    flux_f = np.nansum(fdata, axis=(1, 2)) / _beam_pixels(fh)
    wf, wt = WCS(fh).celestial, WCS(th).celestial
    yy, xx = np.mgrid[0 : tdata.shape[1], 0 : tdata.shape[2]]
    fx, fy = wf.world_to_pixel(wt.pixel_to_world(xx, yy))
    inside = (fx >= -0.5) & (fx < fh["NAXIS1"] - 0.5) & (fy >= -0.5) & (fy < fh["NAXIS2"] - 0.5)
    flux_tp = np.nansum(np.where(inside, tdata, 0), axis=(1, 2)) / _beam_pixels(th)
    line = flux_tp > 0.3 * np.nanmax(flux_tp)
    assert line.sum() >= 3
    assert flux_f[line].sum() == pytest.approx(flux_tp[line].sum(), rel=0.10)
    # sdfactor scales the single-dish part: the feathered flux follows it
    run2 = av.imaging.feather(
        alma_eb.images["cube_fits"], tp_eb.images["cube_fits"], outdir=tmp_path / "out2", sdfactor=0.5, progress=False
    )
    f2 = np.nansum(fits.getdata(run2.products["image.fits"])[0], axis=(1, 2)) / _beam_pixels(fh)
    assert f2[line].sum() == pytest.approx(0.5 * flux_tp[line].sum(), rel=0.15)


def test_feather_refuses_an_output_inside_a_delivery_and_missing_inputs(tp_eb, tmp_path):
    from almaview.imaging.tclean import OutputInsideDelivery

    inside = tmp_path / "science_goal.uid___A001_X1_X2" / "group.uid___A001_X1_X3" / "combined"
    with pytest.raises(OutputInsideDelivery):
        av.imaging.feather(tp_eb.images["cube_fits"], tp_eb.images["cube_fits"], outdir=inside, progress=False)
    with pytest.raises(av.errors.PathNotFound, match="interferometer image"):
        av.imaging.feather(tmp_path / "nope.fits", tp_eb.images["cube_fits"], outdir=tmp_path / "o", progress=False)


def test_feather_can_be_stopped_and_leaves_nothing(alma_eb, tp_eb, tmp_path):
    run = av.imaging.feather(alma_eb.images["cube_fits"], tp_eb.images["cube_fits"], outdir=tmp_path / "o", wait=False)
    assert run.poll() == "running"
    run.stop()
    assert run.state == "stopped"
    assert list((tmp_path / "o").iterdir()) == []


def test_a_failing_feather_is_a_typed_error(tp_eb, tmp_path):
    bad = tmp_path / "bad.fits"
    fits.PrimaryHDU(np.zeros((4, 4), np.float32)).writeto(bad)  # no sky coordinates: CASA cannot feather it
    with pytest.raises(av.errors.FeatherFailed, match="feather failed"):
        av.imaging.feather(bad, tp_eb.images["cube_fits"], outdir=tmp_path / "o", progress=False)
    assert not any((tmp_path / "o").iterdir())

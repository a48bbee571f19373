"""Image viewer builders against astropy reads and numpy reductions of the same FITS pixels."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest


@pytest.fixture(scope="module")
def cube(alma_eb):
    return alma_eb.images["cube_image_fits"]


def _fits(path):
    from astropy.io import fits
    from astropy.wcs import WCS

    with fits.open(path) as h:
        data = np.asarray(h[0].data, dtype=float)
        header = h[0].header.copy()
        if "BEAMS" in h:  # per-channel beams (arcsec), CASA's BEAMS table
            b = h["BEAMS"].data
            header["XBMAJ"] = ",".join(str(float(v)) for v in b["BMAJ"])
            beams = (np.asarray(b["BMAJ"], float), np.asarray(b["BMIN"], float))
        else:
            beams = (np.full(data.shape[-3], header["BMAJ"] * 3600), np.full(data.shape[-3], header["BMIN"] * 3600))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcs = WCS(header).celestial
    header = dict(header)
    header["beams"] = beams
    return data, header, wcs


def test_plane_values_and_world_coordinates_match_astropy(cube):
    import almaview as av
    from almaview.plots.image import image_plane

    data, header, wcs = _fits(cube)
    panel = image_plane(av.open_image(cube), channel=7, stretch="asinh")
    row = panel.data.sel(x=40, y=70)  # the shown grid (lazy RA/Dec: computed for this block only)
    assert float(row.value) == pytest.approx(data[0, 7, 70, 40], rel=1e-6)
    ra, dec = wcs.pixel_to_world_values(40, 70)
    assert float(row.ra) == pytest.approx(float(ra), abs=1e-9) and float(row.dec) == pytest.approx(float(dec), abs=1e-9)
    vals = data[0, 7][np.isfinite(data[0, 7])]
    mad = 1.482602218505602 * np.median(np.abs(vals - np.median(vals)))
    assert float(row.snr) == pytest.approx(data[0, 7, 70, 40] / mad, rel=1e-5)
    table = panel.data.to_dataframe()  # the tidy table on demand: every shown pixel
    assert len(table) == data.shape[2] * data.shape[3]
    hover = panel.sources["hover"].data  # RA/Dec in the hover equal astropy's at the hover pixels
    hra, hdec = wcs.pixel_to_world_values(np.asarray(hover["px"]), np.asarray(hover["py"]))
    np.testing.assert_allclose(hover["ra"], hra, atol=1e-9)
    np.testing.assert_allclose(hover["dec"], hdec, atol=1e-9)
    np.testing.assert_allclose(hover["value"], data[0, 7][np.asarray(hover["py"]), np.asarray(hover["px"])], rtol=1e-6)
    assert panel.layout.select_one({"name": "mapper"}) is not None
    assert panel.sources["beam"].data["h"][0] == pytest.approx(header["beams"][0][7], rel=1e-6)


def test_region_spectrum_equals_numpy_sum_over_beam_area(cube):
    import almaview as av
    from almaview.plots.image import region_spectrum

    data, header, _ = _fits(cube)
    img = av.open_image(cube)
    s = region_spectrum(img, box=(50, 55, 60, 66))
    bmaj, bmin = header["beams"]
    beam_pix = math.pi / (4 * math.log(2)) * bmaj * bmin / (abs(header["CDELT1"]) * header["CDELT2"] * 3600**2)
    expected = data[0, :, 55:67, 50:61].sum(axis=(1, 2)) / beam_pix
    np.testing.assert_allclose(s.value, expected, rtol=1e-5)
    assert (s.units == "Jy").all()
    pix = region_spectrum(img, x=64, y=62)
    np.testing.assert_allclose(pix.value, data[0, :, 62, 64], rtol=1e-6)
    c = 299792458.0
    np.testing.assert_allclose(pix.velocity, c * (1 - pix.frequency / header["RESTFRQ"]) / 1e3)


def test_moment0_equals_numpy_reduction(cube):
    import almaview as av
    from almaview.plots.image import moment

    data, header, _ = _fits(cube)
    m0 = moment(av.open_image(cube), 0, channels=slice(5, 20), threshold=0.01).compute()
    chunk = data[0, 5:20]
    freq = header["CRVAL3"] + (np.arange(data.shape[1]) + 1 - header["CRPIX3"]) * header["CDELT3"]
    dv = abs(299792458.0 * header["CDELT3"] / header["RESTFRQ"]) / 1e3
    expected = np.where(chunk >= 0.01, chunk, 0).sum(axis=0) * dv
    np.testing.assert_allclose(m0.values, expected, rtol=1e-4)
    assert freq.size == data.shape[1]
    m8 = moment(av.open_image(cube), 8, channels=slice(5, 20), threshold=0.0).compute()
    np.testing.assert_allclose(m8.values, chunk.max(axis=0), rtol=1e-6)


def test_overlays_comparison_and_decimation(alma_eb):
    import almaview as av
    from almaview.plots.image import comparison, image_plane, plane_slice

    img = av.open_image(alma_eb.images["cont_image_fits"])
    panel = image_plane(img, mask=av.open_image(alma_eb.images["cont_mask_fits"]),
                        pb=av.open_image(alma_eb.images["cont_pb_fits"]))
    assert panel.sources["mask"].data["xs"] and panel.sources["pb"].data["xs"]
    both = comparison(img, av.open_image(alma_eb.images["cont_pbcor_fits"]))
    left, right = both.layout.children
    assert left.x_range is right.x_range and left.y_range is right.y_range
    assert plane_slice(img, max_pixels=32).sizes["x"] <= 32

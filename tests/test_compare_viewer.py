"""The comparison viewer on the demo group: the Total Power, 12-m and 7-m cubes (three grids: 16, 64 and 128
pixels across, different pixel sizes) and a cropped copy of the 12-m cube (another centre), side by side.

A click at a position on one panel gives every image's spectrum at that sky position. Expected values come from
astropy alone: each FITS file's header (WCS) turns the clicked offsets into a sky position and that position into
each file's pixel, whose values over all channels are read with ``astropy.io.fits``.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

import almaview as av

pytestmark = pytest.mark.casa  # the demo delivery is built with CASA


@pytest.fixture(scope="module")
def cubes(demo_delivery, tmp_path_factory):
    d = av.open_delivery(demo_delivery)
    arrays = {m.array: m for m in d.mous}
    tp = next(i.source for i in arrays["TP"].images if i.kind == "cube")
    c12 = next(i.source for i in arrays["12m"].images if i.kind == "cube" and i.image_type == "pbcor")
    c7 = next(i.source for i in arrays["7m"].images if i.kind == "cube" and i.image_type == "pbcor")
    # a crop of the 12-m cube: same sky, another centre pixel (astropy slices the WCS with the data)
    crop = tmp_path_factory.mktemp("compare") / "crop12m.fits"
    with fits.open(c12) as h:
        w = WCS(h[0].header)
        data = h[0].data[..., 10:100, 30:120]
        hdr = w[..., 10:100, 30:120].to_header()
        for key in ("BUNIT", "BMAJ", "BMIN", "BPA", "RESTFRQ", "SPECSYS"):
            if key in h[0].header:
                hdr[key] = h[0].header[key]
        fits.PrimaryHDU(data, hdr).writeto(crop)
    return {"TP": tp, "12m": c12, "7m": c7, "12m crop": str(crop)}


def _astropy_pixel(path: str, sky) -> tuple[int, int]:
    w = WCS(fits.getheader(path)).celestial
    x, y = w.world_to_pixel(sky)
    return int(np.floor(float(x) + 0.5)), int(np.floor(float(y) + 0.5))


def _astropy_spectrum(path: str, x: int, y: int) -> np.ndarray:
    data = np.asarray(fits.getdata(path), dtype=np.float64)
    data = data.reshape((-1,) + data.shape[-3:])[0]  # (frequency, y, x) of the first Stokes
    return data[:, y, x]


def test_a_click_gives_every_image_s_spectrum_at_that_sky_position(cubes):
    v = av.compare_images(**cubes)
    assert v.names == list(cubes) and set(v.state) == {"channel", "position"}
    # a click 6" east and 5" south of the TP map's centre, as the page sends it (offsets on the TP panel)
    ox, oy = 6.0, -5.0
    v.click("TP", ox, oy)
    h = fits.getheader(cubes["TP"])
    wt = WCS(h).celestial
    px = h["NAXIS1"] / 2.0 - ox / (abs(h["CDELT1"]) * 3600.0)
    py = h["NAXIS2"] / 2.0 + oy / (abs(h["CDELT2"]) * 3600.0)
    sky = wt.pixel_to_world(px, py).icrs
    assert v.position == pytest.approx([sky.ra.deg, sky.dec.deg], abs=1e-9)
    got = v.spectra
    assert sorted(set(got.image)) == sorted(cubes) and not got.attrs["outside"]
    pixels = {}
    for name, path in cubes.items():
        x, y = pixels[name] = _astropy_pixel(path, sky)
        part = got[got.image == name]
        assert (part.x.iloc[0], part.y.iloc[0]) == (x, y), name
        np.testing.assert_allclose(part.value.to_numpy(), _astropy_spectrum(path, x, y), rtol=1e-6, equal_nan=True)
    # matched by sky position, not by pixel index: the grids' pixels differ
    assert len(set(pixels.values())) == len(pixels)
    assert pixels["12m crop"] == (pixels["12m"][0] - 30, pixels["12m"][1] - 10)
    # one spectra plot, a legend entry per image with its unit; a marker on every panel at the clicked sky position
    items = v.spectrum_panel.layout.legend[0].items
    assert [i.label["value"] for i in items] == [f"{n} ({fits.getheader(p)['BUNIT']})" for n, p in cubes.items()]
    for name, path in cubes.items():
        hdr = fits.getheader(path)
        x, y = WCS(hdr).celestial.world_to_pixel(sky)
        marker = v.panel.panels[name].sources["marker"].data
        assert marker["x"][0] == pytest.approx(-(float(x) - hdr["NAXIS1"] / 2.0) * abs(hdr["CDELT1"]) * 3600, abs=1e-6)
        assert marker["y"][0] == pytest.approx((float(y) - hdr["NAXIS2"] / 2.0) * abs(hdr["CDELT2"]) * 3600, abs=1e-6)


def test_panels_are_linked_through_the_sky_and_follow_the_channel_by_frequency(cubes):
    v = av.compare_images(**cubes)
    table = v.panel.data.set_index("name")
    # where the 12-m cube's centre lies in the crop's offsets, by astropy
    h12, hc = fits.getheader(cubes["12m"]), fits.getheader(cubes["12m crop"])
    centre = WCS(h12).celestial.pixel_to_world(h12["NAXIS1"] / 2.0, h12["NAXIS2"] / 2.0)
    cx, cy = WCS(hc).celestial.world_to_pixel(centre)
    dx = abs(hc["CDELT1"]) * 3600.0
    assert table.loc["12m crop", "shift_x"] == pytest.approx(-(float(cx) - hc["NAXIS1"] / 2.0) * dx, abs=1e-6)
    assert table.loc["12m crop", "shift_y"] == pytest.approx((float(cy) - hc["NAXIS2"] / 2.0) * dx, abs=1e-6)
    assert abs(table.loc["12m crop", "shift_x"]) > 1.0  # a real shift, not zero
    # every x range carries the link to every other (pan/zoom in the page), with these shifts
    ranges = [p.layout.x_range for p in v.panel.panels.values()]
    for i, r in enumerate(ranges):
        cbs = r.js_property_callbacks["change:start"]
        assert cbs and cbs[0].args["me"] == i and cbs[0].args["ranges"] == ranges
        assert cbs[0].args["shifts"] == pytest.approx(list(table.shift_x))
    # starting views show the same sky: ranges differ by the shifts
    first = ranges[0]
    for r, s in zip(ranges, table.shift_x):
        assert (r.start - first.start, r.end - first.end) == pytest.approx((s, s), abs=1e-9)
    # channel 20 of the first image (TP): each cube shows its channel nearest in frequency (FITS headers)
    v.select(channel=20)
    f0 = WCS(fits.getheader(cubes["TP"])).spectral.pixel_to_world(20).to_value("Hz")  # the first image sets it
    for name, path in cubes.items():
        hdr = fits.getheader(path)
        freqs = WCS(hdr).spectral.pixel_to_world(np.arange(hdr["NAXIS3"])).to_value("Hz")
        ch = int(np.argmin(np.abs(freqs - f0)))
        data = np.asarray(fits.getdata(path), dtype=np.float64).reshape(
            (-1,) + (hdr["NAXIS3"], hdr["NAXIS2"], hdr["NAXIS1"])
        )
        shown = v.panel.panels[name].data.value.values
        np.testing.assert_allclose(shown, data[0, ch], rtol=1e-6, equal_nan=True)
        assert v.panel.panels[name].layout.title.text == f"{name} · channel {ch}"


def test_a_position_outside_an_image_says_so_and_bad_names_raise(cubes):
    v = av.compare_images(**cubes)
    h = fits.getheader(cubes["TP"])
    corner = WCS(h).celestial.pixel_to_world(1, 1).icrs  # inside the TP map, outside the interferometer fields
    v.select(position=[corner.ra.deg, corner.dec.deg])
    assert set(v.spectra.attrs["outside"]) == {"12m", "12m crop", "7m"} and set(v.spectra.image) == {"TP"}
    assert "outside the field of" in v.controls["where"].value
    with pytest.raises(KeyError, match="no image 'nope'"):
        v.click("nope", 0, 0)
    with pytest.raises(av.errors.NotAnImage, match="celestial"):
        import xarray as xr

        from almaview.analysis.sky_spectra import spectra_at

        spectra_at({"flat": xr.DataArray(np.zeros((2, 2)), dims=("y", "x"), name="flat")}, 0.0, 0.0)


def test_continuum_images_give_their_values_at_the_position(demo_delivery):
    d = av.open_delivery(demo_delivery)
    arrays = {m.array: m for m in d.mous}
    paths = {
        a: next(i.source for i in arrays[a].images if i.kind == "cont" and i.image_type == "pbcor")
        for a in ("12m", "7m")
    }
    v = av.compare_images(**paths)
    assert v.nchan == 1 and v.controls["channel"].disabled
    v.click("12m", 1.0, 2.0)
    ra, dec = v.position
    for name, path in paths.items():
        x, y = WCS(fits.getheader(path)).celestial.world_to_pixel(SkyCoord(ra, dec, unit="deg", frame="icrs"))
        value = float(
            np.asarray(fits.getdata(path), dtype=np.float64).reshape(-1, *fits.getdata(path).shape[-2:])[0][
                int(np.floor(float(y) + 0.5)), int(np.floor(float(x) + 0.5))
            ]
        )
        assert v.spectra.set_index("image").loc[name, "value"] == pytest.approx(value, rel=1e-6)
        assert f"{name}: {value:.4g} Jy/beam" in v.controls["where"].value


def test_compare_function_is_not_shadowed_by_the_comparison_module():
    """av.widgets.compare (two images, one colour scale) stays the function after compare_images is used."""
    import almaview.widgets as w

    assert callable(w.compare_images)
    import almaview.widgets.sky_compare  # noqa: F401  (the module behind compare_images)

    assert callable(w.compare) and w.compare.__module__ == "almaview.widgets.image_viewer"

"""Real FITS and CASA images from other projects' packages: open_image, image_statistics, the image plot
and the image viewer on each, compared with astropy's and python-casacore's own reads of the same file.

Files almaview cannot support (tables, header-only files, random groups, a WCS astropy refuses, an
all-NaN image) give a typed almaview error that names the file and says why.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from .conftest import PACKAGES

MAD_TO_SIGMA = 1.482602218505602


def _id(package: str, member: str) -> str:
    if package == "casadata":
        import importlib.metadata

        return f"casadata=={importlib.metadata.version('casadata')}:{member}"
    return f"{package}=={PACKAGES[package]}:{member}"


AST = "astropy/io/fits/tests/data/"
#: (package, member, HDU astropy reads the image from, the file's axes in numpy order, units almaview gives)
FITS_IMAGES = [
    ("astropy", AST + "scale.fits", 0, ("y", "x"), ""),  # BSCALE/BZERO int16
    ("astropy", AST + "comp.fits", 1, ("y", "x"), ""),  # tile-compressed (RICE) extension
    ("astropy", AST + "test0.fits", 1, ("y", "x"), ""),  # image in the first extension (HST)
    ("astropy", AST + "o4sp040b0_raw.fits", 1, ("y", "x"), "COUNTS"),  # ANGLE/LAMBDA axes (STIS)
    ("astropy", AST + "arange.fits", 0, ("axis3", "y", "x"), ""),  # three unnamed axes
    ("astropy", AST + "fixed-1890.fits", 0, ("y", "x"), ""),  # PIXEL axes, uint16 via BZERO
    ("astropy", AST + "double_ext.fits", 1, ("y", "x"), ""),
    ("astropy", "astropy/io/fits/hdu/compressed/tests/data/m13_rice.fits", 1, ("y", "x"), ""),
    ("astropy", "astropy/io/fits/hdu/compressed/tests/data/compressed_with_nan.fits", 1, ("y", "x"), ""),
    ("astropy", "astropy/modeling/tests/data/1904-66_AZP.fits", 0, ("y", "x"), "Jy/beam"),  # 'JY/BEAM', AZP
    ("reproject", "reproject/tests/data/aia_171_level1.fits", 0, ("y", "x"), ""),  # solar HPLN/HPLT
    ("reproject", "reproject/tests/data/equatorial_3d.fits", 0, ("velocity", "y", "x"), ""),
    ("reproject", "reproject/tests/data/galactic_2d.fits", 0, ("y", "x"), ""),  # GLON/GLAT
    ("reproject", "reproject/tests/data/image_with_distortion_map.fits", 0, ("y", "x"), ""),  # lookup distortion
    ("reproject", "reproject/tests/data/secchi_l0_a.fits", 0, ("y", "x"), "DN"),
    ("spectral-cube", "spectral_cube/tests/data/example_cube.fits", 0, ("axis4", "velocity", "y", "x"), "Jy/beam"),
    ("astrodendro", "astrodendro/tests/benchmark_data/3d.fits", 0, ("axis3", "y", "x"), ""),  # no CTYPEs
    ("astrodendro", "astrodendro/io/tests/data/dendro.fits", 1, ("y", "x"), ""),
    ("casadata", "demo/Images/test_image.fits", 0, ("velocity", "y", "x"), "Jy/beam"),  # CUNIT 'DEG', VELO
    ("casadata", "demo/Images/imagetestimage.fits", 0, ("y", "x"), "Jy/beam"),
]

#: (package, member, almaview error class, words the message must hold)
NOT_SUPPORTED = [
    ("astropy", AST + "tb.fits", "NotAnImage", "holds no image data"),
    ("astropy", AST + "random_groups.fits", "NotAnImage", "holds no image data"),  # uv data, not an image
    ("astropy", AST + "zerowidth.fits", "NotAnImage", "holds no image data"),
    ("astropy", "astropy/wcs/tests/data/sip.fits", "NotAnImage", "holds no image data"),  # header only
    ("astropy", "astropy/wcs/tests/data/dist.fits", "NotAnImage", "at least 2 axes"),  # a 1-D lookup table
    ("astropy", "astropy/wcs/tests/data/header_newlines.fits", "InvalidImageHeader", "PV1_5"),
    ("radio-beam", "radio_beam/tests/data/NGC0925.bima.mmom0.fits.gz", "NotAnImage", "holds no image data"),
    ("radio-beam", "radio_beam/tests/data/m33_beams_bintable.fits.gz", "NotAnImage", "holds no image data"),
    ("reproject", "reproject/healpix/tests/data/bayestar.fits.gz", "NotAnImage", "holds no image data"),  # HEALPix
    (
        "casa-formats-io",
        "casa_formats_io/casa_low_level_io/tests/data/floatarray.image",
        "DamagedTable",
        "no data files",
    ),
    ("spectral-cube", "spectral_cube/tests/data/example_cube.lmv", "NotAnImage", "not a readable FITS image"),
]


def _astropy_image(path, hdu):
    """Pixels (float64, scaled, BLANK -> NaN), header and WCS as astropy reads them."""
    from astropy.io import fits
    from astropy.wcs import WCS

    with fits.open(path) as hdul:
        data = np.asarray(hdul[hdu].data, dtype=np.float64)
        header = hdul[hdu].header.copy()
        fixed = header.copy()
        for k in ("CUNIT1", "CUNIT2", "CUNIT3"):  # the corpus's legacy spellings, repaired here by hand
            legacy = {"DEG": "deg", "M/S": "m/s"}
            if str(fixed.get(k, "")).strip() in legacy:
                fixed[k] = legacy[str(fixed[k]).strip()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wcs = WCS(fixed, fobj=hdul)
    return data, header, wcs


@pytest.mark.parametrize("package,member,hdu,file_dims,units", FITS_IMAGES, ids=[_id(p, m) for p, m, *_ in FITS_IMAGES])
def test_fits_image_matches_astropy(corpus, package, member, hdu, file_dims, units):
    import almaview as av

    f = corpus(package, member)
    data, header, wcs = _astropy_image(f.path, hdu)
    image = av.open_image(f.path)
    assert image.attrs["units"] == units
    assert set(image.dims) == set(file_dims) and image.dims[-2:] == ("y", "x")
    got = np.asarray(image.transpose(*file_dims).values, dtype=np.float64)
    np.testing.assert_array_equal(got, data)
    # the celestial coordinates are astropy's (any frame: RA/Dec, Galactic, helioprojective)
    if wcs.has_celestial:
        lon = "ra" if "ra" in image.coords else "lon"
        lat = "dec" if "dec" in image.coords else "lat"
        ny, nx = image.sizes["y"], image.sizes["x"]
        y, x = ny // 3, (2 * nx) // 3
        world = wcs.celestial.pixel_to_world_values(x, y)
        assert float(image[lon].isel(y=y, x=x)) == pytest.approx(
            float(world[0]) % 360.0 if lon == "ra" else float(world[0]), abs=1e-9
        )
        assert float(image[lat].isel(y=y, x=x)) == pytest.approx(float(world[1]), abs=1e-9)
    # a spectral axis carries world values in SI (m/s or Hz), as astropy's spectral WCS gives them
    spectral = next((d for d in ("frequency", "velocity") if d in image.dims), None)
    if spectral:
        axis = wcs.wcs.spec
        n = image.sizes[spectral]
        pix = np.tile(np.asarray(wcs.wcs.crpix, float) - 1.0, (n, 1))
        pix[:, axis] = np.arange(n)
        expected = wcs.all_pix2world(pix, 0)[:, axis] * wcs.wcs.cunit[axis].to(
            "m/s" if spectral == "velocity" else "Hz"
        )
        np.testing.assert_allclose(image[spectral].values, expected, rtol=1e-9)
        assert image[spectral].attrs["units"] == ("m/s" if spectral == "velocity" else "Hz")
    if "BMAJ" in header:
        assert float(image.beam_major) == pytest.approx(header["BMAJ"] * 3600.0, rel=1e-9)


@pytest.mark.parametrize("package,member,hdu,file_dims,units", FITS_IMAGES, ids=[_id(p, m) for p, m, *_ in FITS_IMAGES])
def test_statistics_plot_and_viewer_on_real_fits(corpus, package, member, hdu, file_dims, units):
    import almaview as av
    from almaview.plots.image import image_plane
    from almaview.widgets import ImageViewer

    f = corpus(package, member)
    data, _, _ = _astropy_image(f.path, hdu)
    image = av.open_image(f.path)
    stats = av.image_statistics(image)
    finite = data[np.isfinite(data)]
    assert stats.peak == pytest.approx(float(finite.max()), rel=1e-6)
    assert stats.rms == pytest.approx(
        MAD_TO_SIGMA * float(np.median(np.abs(finite - np.median(finite)))), rel=1e-5, abs=1e-12
    )
    assert stats.n_pixels == finite.size
    # the plotted plane: first plane along every non-image axis, values equal astropy's
    panel = image_plane(image, channel=0, max_pixels=4096)
    lead = tuple(0 for _ in file_dims[:-2])
    plane = data[lead] if lead else data
    if image.dims.index("y") != len(image.dims) - 2:
        plane = plane.T
    shown = panel.data["value"].transpose("y", "x").values
    np.testing.assert_allclose(shown, plane, rtol=1e-6, equal_nan=True)
    viewer = ImageViewer(image)
    if viewer.spectral == "velocity":  # a velocity axis is labelled in km/s, never as a frequency
        label = viewer.channel_label(0)
        v0 = float(image.velocity.values[0]) / 1e3
        assert "GHz" not in label and f"{v0:.2f} km/s" in label


@pytest.mark.parametrize("package,member,error,words", NOT_SUPPORTED, ids=[_id(p, m) for p, m, *_ in NOT_SUPPORTED])
def test_unsupported_files_give_a_typed_error_naming_the_file(corpus, package, member, error, words):
    import almaview as av
    from almaview import errors

    f = corpus(package, member)
    with pytest.raises(errors.AlmaviewError) as info:
        av.open_image(f.path)
    assert type(info.value).__name__ == error, info.value
    assert str(f.path.name) in str(info.value) and words in str(info.value)


def test_all_nan_image_statistics_say_no_finite_pixels(corpus):
    import almaview as av
    from almaview import errors

    f = corpus("astropy", AST + "blank.fits")
    data, _, _ = _astropy_image(f.path, 0)
    assert not np.isfinite(data).any()  # astropy: BLANK everywhere
    image = av.open_image(f.path)
    assert np.isnan(image.values).all()
    with pytest.raises(errors.NoFinitePixels, match="no finite pixels") as info:
        av.image_statistics(image)
    assert "blank.fits" in str(info.value)


CASA_IMAGES = [
    ("casadata", "demo/Images/test_image", None),
    ("radio-beam", "radio_beam/tests/data/NGC0925.bima.mmom0.image.tar.gz", "NGC0925.bima.mmom0.image"),
]


@pytest.mark.parametrize("package,member,inner", CASA_IMAGES, ids=[_id(p, m) for p, m, _ in CASA_IMAGES])
def test_casa_image_matches_casacore(request, corpus, package, member, inner):
    from casacore import images

    import almaview as av

    from .conftest import unpacked_tar

    path = corpus(package, member).path if inner is None else unpacked_tar(request.config, package, member) / inner
    im = images.image(str(path))
    expected = np.asarray(im.getdata(), dtype=np.float64)
    mask = np.asarray(im.getmask())
    info = im.imageinfo()
    unit = im.unit()
    spectral = None
    if "frequency" in _casa_axis_kinds(im):  # casacore's own pixel -> world conversion of every channel
        axes = [a for a, n in enumerate(_casa_axis_kinds(im)) if n == "frequency"]
        spectral = [
            im.toworld([k if a == axes[0] else 0 for a in range(len(im.shape()))])[axes[0]]
            for k in range(im.shape()[axes[0]])
        ]
    del im
    expected[mask] = np.nan
    image = av.open_image(path)
    np.testing.assert_array_equal(np.asarray(image.values, dtype=np.float64), expected)  # same (numpy) axis order
    assert image.attrs["units"].lower() == unit.lower()
    if "restoringbeam" in info:
        from astropy import units as u

        major = info["restoringbeam"]["major"]
        assert float(image.beam_major) == pytest.approx((major["value"] * u.Unit(major["unit"])).to_value(u.arcsec))
    if spectral is not None:
        np.testing.assert_allclose(image.frequency.values, spectral, rtol=1e-12)


def _casa_axis_kinds(im):
    """Per numpy axis of a casacore image: 'frequency' for the spectral axis, else the coordinate name."""
    coords = im.coordinates().dict()
    naxis = len(im.shape())
    kinds = ["other"] * naxis
    for key, value in coords.items():
        if key.startswith("pixelmap"):
            n = key[len("pixelmap") :]
            name = next(
                (
                    k
                    for k in coords
                    if k.endswith(n) and not k.startswith(("pixelmap", "worldmap", "worldreplace", "pixelreplace"))
                ),
                "",
            )
            for a in value:
                kinds[naxis - 1 - int(a)] = "frequency" if name.startswith("spectral") else name
    return kinds


LOGTABLE_LESS = [
    "spectral_cube/tests/data/basic.image",
    "spectral_cube/tests/data/basic_bigendian.image",
    "spectral_cube/tests/data/nomask.image",
]


@pytest.mark.parametrize("member", LOGTABLE_LESS, ids=[_id("spectral-cube", m) for m in LOGTABLE_LESS])
def test_casa_image_copied_without_its_logtable(corpus, member):
    """casacore's image class refuses these (their logtable subtable was not packaged); the table holds the
    pixels and coordinates, so almaview reads them from the table: values vs python-casacore's getcell."""
    from casacore.tables import table

    import almaview as av

    path = corpus("spectral-cube", member).path
    with table(str(path), ack=False) as t:
        expected = t.getcell("map", 0)
        coords = t.getkeyword("coords")
        info = t.getkeyword("imageinfo")
        units = t.getkeyword("units")
    image = av.open_image(path)
    np.testing.assert_array_equal(np.asarray(image.values), expected)
    np.testing.assert_array_equal(np.asarray(image.isel(x=slice(None, None, -2), y=1).values), expected[..., 1, ::-2])
    assert image.attrs["units"] == units
    assert float(image.beam_major) == info["restoringbeam"]["major"]["value"]
    spectral = coords["spectral2"]  # these files hold the axis as a table of world values
    np.testing.assert_allclose(image.frequency.values, spectral["tabular"]["worldvalues"], rtol=1e-12)

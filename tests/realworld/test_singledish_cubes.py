"""Single-dish cubes with real headers (pvextractor's W51 cube: GBT-like, K, VELO-LSR, a 500" beam;
spectral-cube's Galactic cube: K, FREQ, a 23" beam) and a VLA one in JY/BEAM with a VOPT axis in km/s:
open_image gives their units, beam and spectral axis as astropy (FITS) and casacore (the cube imported by
CASA's importfits) give them.

The headers are the packages' own; only the axis lengths are cut (the WCS is unchanged) and the pixels are
seeded noise, so the files stay small.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from .conftest import PACKAGES

HEADERS = [
    ("pvextractor", "pvextractor/tests/data/w51.hdr", "K", "velocity"),
    ("spectral-cube", "spectral_cube/tests/data/cubewcs1.hdr", "K", "frequency"),
    ("spectral-cube", "spectral_cube/tests/data/header_jybeam.hdr", "Jy/beam", "velocity"),
]
IDS = [f"{p}=={PACKAGES[p]}:{m}" for p, m, *_ in HEADERS]


def _cube(header_file: Path, out: Path) -> Path:
    from astropy.io import fits

    header = fits.Header.fromtextfile(str(header_file))
    shape = []
    for i in range(int(header["NAXIS"]), 0, -1):
        n = min(int(header[f"NAXIS{i}"]), 12 if i < 3 else 6)
        header[f"NAXIS{i}"] = n
        shape.append(n)
    header["BITPIX"] = -32
    data = np.random.default_rng(7).normal(size=shape).astype(np.float32)
    fits.PrimaryHDU(data, header=header).writeto(out, overwrite=True)
    return out


@pytest.mark.parametrize("package,member,units,spectral", HEADERS, ids=IDS)
def test_single_dish_fits_cube(corpus, tmp_path, package, member, units, spectral):
    from astropy.io import fits
    from astropy.wcs import WCS

    import almaview as av

    path = _cube(corpus(package, member).path, tmp_path / "cube.fits")
    header = fits.getheader(path)
    cube = av.open_image(path)
    assert cube.attrs["units"] == units
    assert float(cube.beam_major) == pytest.approx(header["BMAJ"] * 3600.0, rel=1e-9)
    assert float(cube.beam_minor) == pytest.approx(header["BMIN"] * 3600.0, rel=1e-9)
    assert spectral in cube.dims
    fixed = header.copy()
    if str(fixed.get("CUNIT3", "")).strip() == "":
        fixed["CUNIT3"] = "m/s" if spectral == "velocity" else "Hz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcs = WCS(fixed)
    k = wcs.wcs.spec
    n = cube.sizes[spectral]
    pix = np.zeros((n, wcs.naxis))
    pix[:, k] = np.arange(n)
    world = wcs.all_pix2world(pix, 0)[:, k] * wcs.wcs.cunit[k].to("m/s" if spectral == "velocity" else "Hz")
    np.testing.assert_allclose(cube[spectral].values, world, rtol=1e-9)
    np.testing.assert_array_equal(np.asarray(cube.values).ravel(), fits.getdata(path).ravel())


@pytest.mark.casa
@pytest.mark.parametrize("package,member,units,spectral", HEADERS[:2], ids=IDS[:2])
def test_single_dish_casa_cube(corpus, request, package, member, units, spectral):
    """The same cube as a CASA image (importfits, with the beam in its imageinfo as tsdimaging writes it):
    K and the beam as casacore reads them, the spectral axis as casacore converts it."""
    from casacore import images

    import almaview as av
    from almaview import casa

    from .conftest import corpus_root

    if not casa.available():
        pytest.skip("CASA is not installed")
    work = Path(tempfile.mkdtemp(dir=corpus_root(request.config)))
    try:
        fits_path = _cube(corpus(package, member).path, work / "cube.fits")
        casa.run_isolated("casatasks:importfits", fitsimage=str(fits_path), imagename=str(work / "cube.image"))
        # importfits keeps a beam only for per-beam units; tsdimaging writes K cubes with their beam: put it
        # into the image's imageinfo record as tsdimaging does (python-casacore, on this test's own copy)
        from astropy.io import fits
        from casacore.tables import table

        h = fits.getheader(fits_path)
        with table(str(work / "cube.image"), readonly=False, ack=False) as t:
            info = dict(t.getkeyword("imageinfo"))
            info["restoringbeam"] = {
                "major": {"unit": "arcsec", "value": h["BMAJ"] * 3600.0},
                "minor": {"unit": "arcsec", "value": h["BMIN"] * 3600.0},
                "positionangle": {"unit": "deg", "value": 0.0},
            }
            t.putkeyword("imageinfo", info)
        im = images.image(str(work / "cube.image"))
        beam = im.imageinfo()["restoringbeam"]
        unit = im.unit()
        shape = im.shape()
        cube = av.open_image(work / "cube.image")
        assert cube.attrs["units"] == unit == units
        assert beam["major"]["unit"] == "arcsec"
        assert float(cube.beam_major) == pytest.approx(beam["major"]["value"], rel=1e-6)
        k = cube.dims.index("frequency")  # CASA's order is almaview's canonical one: the same numpy axis
        world = [im.toworld([c if i == k else 0 for i in range(len(shape))])[k] for c in range(shape[k])]
        del im
        np.testing.assert_allclose(cube.frequency.values, world, rtol=1e-12)
    finally:
        shutil.rmtree(work, ignore_errors=True)

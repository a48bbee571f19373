"""Gzipped FITS cubes (ALMA's ``.pb.fits.gz`` / ``.mask.fits.gz``): decompressed once into the cache, read through a
memory map, values equal to astropy's own full read, nothing written next to the file."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pytest
from astropy.io import fits

import almaview as av
from almaview.errors import NotAnImage
from almaview.io import fitsgz

NCHAN = 12


def _cube(path, *, scaled: bool = False, seed: int = 3):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((1, NCHAN, 24, 20)).astype(np.float32)
    h = fits.Header()
    h.update(
        CTYPE1="RA---SIN", CRVAL1=248.09, CDELT1=-1e-4, CRPIX1=11, CUNIT1="deg",
        CTYPE2="DEC--SIN", CRVAL2=-24.47, CDELT2=1e-4, CRPIX2=13, CUNIT2="deg",
        CTYPE3="FREQ", CRVAL3=230.0e9, CDELT3=0.5e6, CRPIX3=1, CUNIT3="Hz",
        CTYPE4="STOKES", CRVAL4=1, CDELT4=1, CRPIX4=1, BUNIT="Jy/beam",
        BMAJ=1e-4, BMIN=8e-5, BPA=10.0,
    )  # fmt: skip
    hdu = fits.PrimaryHDU(data, h)
    if scaled:  # 16-bit integers with BSCALE/BZERO, as some tools write masks and beams
        hdu.scale("int16", bscale=1e-3, bzero=0.5)
    hdu.writeto(path)
    return fits.getdata(path).astype(np.float32)[0]  # astropy applies the scaling: the independent answer


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("ALMAVIEW_CACHE_DIR", str(root))
    return root


@pytest.mark.parametrize("scaled", [False, True])
def test_planes_in_any_order_equal_astropy_and_the_file_is_decompressed_once(tmp_path, cache, monkeypatch, scaled):
    delivery = tmp_path / "product"
    delivery.mkdir()
    path = delivery / "member.uid___A001_X1.spw25.cube.I.pb.fits.gz"
    expected = _cube(path, scaled=scaled)
    before = {p.name: p.stat().st_mtime_ns for p in delivery.iterdir()}
    opened = []
    real_open = gzip.open
    monkeypatch.setattr(fitsgz.gzip, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))

    image = av.open_image(path)
    for k in reversed(range(NCHAN)):  # backwards: a gzip stream read through astropy's section restarts each time
        np.testing.assert_array_equal(image.isel(frequency=k).values.squeeze(), expected[k])  # (y, x) as astropy
    assert len(opened) == 1, opened  # one decompression for the whole cube
    copies = list((cache / "fits-gunzip").iterdir())
    assert (
        len(copies) == 1
        and copies[0].suffix == ".raw"
        and copies[0].stat().st_size == expected.size * (2 if scaled else 4)
    )
    assert {p.name: p.stat().st_mtime_ns for p in delivery.iterdir()} == before  # nothing written next to it

    again = av.open_image(path)  # another reader (a new process would do the same): the copy is reused
    np.testing.assert_array_equal(again.isel(frequency=3).values.squeeze(), image.isel(frequency=3).values.squeeze())
    assert len(opened) == 1


def test_a_changed_file_gets_a_new_copy(tmp_path, cache):
    path = tmp_path / "x.mask.fits.gz"
    _cube(path, seed=1)
    first = av.open_image(path).isel(frequency=0).values
    os.unlink(path)
    expected = _cube(path, seed=2)
    second = av.open_image(path).isel(frequency=0).values
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(second.squeeze(), expected[0])


def test_no_room_in_the_cache_falls_back_to_astropy_section(tmp_path, cache, monkeypatch):
    path = tmp_path / "x.pb.fits.gz"
    expected = _cube(path)
    monkeypatch.setattr(fitsgz, "HEADROOM", 2**62)  # "no disk has that much free"
    image = av.open_image(path)
    np.testing.assert_array_equal(image.isel(frequency=5).values.squeeze(), expected[5])
    assert not list((cache / "fits-gunzip").glob("*.raw"))


def test_a_truncated_gzip_is_a_typed_error_naming_the_file(tmp_path, cache):
    good = tmp_path / "good.fits.gz"
    _cube(good)
    raw = gzip.decompress(good.read_bytes())
    bad = tmp_path / "cut.pb.fits.gz"
    bad.write_bytes(gzip.compress(raw[: len(raw) // 2]))  # a valid gzip that ends halfway through the data
    with pytest.raises(NotAnImage) as err:
        av.open_image(bad).isel(frequency=NCHAN - 1).values
    assert "cut.pb.fits.gz" in str(err.value)
    assert not list((cache / "fits-gunzip").glob("*")), "no partial or wrong-size copy is left in the cache"

"""Hostile and broken FITS images: each gives a typed almaview error naming the file and the keyword (never a
raw astropy/numpy exception), legacy headers open and are labelled right, and the file is never changed."""

from __future__ import annotations

import numpy as np
import pytest


def _image(path, header_cards=(), data=None, extra_hdus=()):
    """A small RA/Dec/FREQ cube written by astropy, with ``header_cards`` applied (None deletes a key)."""
    from astropy.io import fits

    data = np.arange(2 * 6 * 5, dtype=np.float32).reshape(2, 6, 5) if data is None else data
    hdu = fits.PrimaryHDU(data)
    h = hdu.header
    for k, v in (
        ("CTYPE1", "RA---SIN"),
        ("CTYPE2", "DEC--SIN"),
        ("CTYPE3", "FREQ"),
        ("CUNIT1", "deg"),
        ("CUNIT2", "deg"),
        ("CUNIT3", "Hz"),
        ("CRVAL1", 248.0),
        ("CRVAL2", -24.0),
        ("CRVAL3", 230e9),
        ("CDELT1", -1e-4),
        ("CDELT2", 1e-4),
        ("CDELT3", 1e6),
        ("CRPIX1", 3.0),
        ("CRPIX2", 3.0),
        ("CRPIX3", 1.0),
        ("BUNIT", "Jy/beam"),
        ("BMAJ", 2e-4),
        ("BMIN", 1e-4),
        ("BPA", 30.0),
    ):
        h[k] = v
    for k, v in header_cards:
        if v is None:
            del h[k]
        else:
            h[k] = v
    fits.HDUList([hdu, *extra_hdus]).writeto(path)
    return path


def _patch(path, old: bytes, new: bytes):
    raw = path.read_bytes()
    assert raw.count(old) == 1 and len(old) == len(new)
    path.write_bytes(raw.replace(old, new))


def _open_error(path, unchanged):
    import almaview as av
    from almaview import errors

    unchanged(path)
    with pytest.raises(errors.AlmaviewError) as info:
        av.open_image(path)
    assert path.name in str(info.value)
    return info.value


def test_singular_cdelt_names_the_keyword(tmp_path, unchanged):
    from almaview import errors

    err = _open_error(_image(tmp_path / "cdelt0.fits", [("CDELT2", 0.0)]), unchanged)
    assert isinstance(err, errors.InvalidImageHeader) and "CDELT2" in str(err) and "singular" in str(err)


def test_degenerate_axis_with_zero_cdelt_still_opens(tmp_path, unchanged):
    """A one-pixel axis with CDELT = 0 (written by some programs for Stokes or a moment map) is harmless."""
    import almaview as av

    path = _image(tmp_path / "one_channel.fits", [("CDELT3", 0.0)], data=np.ones((1, 6, 5), np.float32))
    unchanged(path)
    image = av.open_image(path)
    assert image.frequency.values.tolist() == [230e9]


def test_singular_pc_matrix(tmp_path, unchanged):
    from almaview import errors

    cards = [("PC1_1", 1.0), ("PC1_2", 1.0), ("PC2_1", 1.0), ("PC2_2", 1.0)]
    err = _open_error(_image(tmp_path / "pc.fits", cards), unchanged)
    assert isinstance(err, errors.InvalidImageHeader) and "singular" in str(err)


@pytest.mark.parametrize("ctypes", [("RA---SIN", "RA---SIN"), ("RA---SIN", "GLAT-SIN"), ("DEC--SIN", "DEC--SIN")])
def test_inconsistent_axis_types(tmp_path, unchanged, ctypes):
    from almaview import errors

    cards = [("CTYPE1", ctypes[0]), ("CTYPE2", ctypes[1])]
    err = _open_error(_image(tmp_path / "axes.fits", cards), unchanged)
    assert isinstance(err, errors.InvalidImageHeader)
    assert "CTYPE1" in str(err) and "CTYPE2" in str(err) and "inconsistent axis types" in str(err)


def test_unknown_unit_names_the_keyword(tmp_path, unchanged):
    from almaview import errors

    err = _open_error(_image(tmp_path / "unit.fits", [("CUNIT3", "furlong")]), unchanged)
    assert isinstance(err, errors.InvalidImageHeader) and "CUNIT3" in str(err)


def test_cdelt_that_is_not_a_number(tmp_path, unchanged):
    from almaview import errors

    err = _open_error(_image(tmp_path / "text.fits", [("CDELT1", "wide")]), unchanged)
    assert isinstance(err, errors.InvalidImageHeader) and "CDELT1" in str(err) and "not a number" in str(err)


def test_invalid_bitpix(tmp_path, unchanged):
    from almaview import errors

    path = _image(tmp_path / "bitpix.fits")
    _patch(path, b"BITPIX  =                  -32", b"BITPIX  =                   12")
    err = _open_error(path, unchanged)
    assert isinstance(err, errors.NotAnImage) and "BITPIX" in str(err)


def test_non_ascii_header(tmp_path, unchanged):
    from almaview import errors

    path = _image(tmp_path / "latin1.fits", [("OBJECT", "NGC 253")])
    _patch(path, b"'NGC 253 '", "'NGC 2\xe93 '".encode("latin-1"))
    err = _open_error(path, unchanged)
    assert isinstance(err, errors.InvalidImageHeader) and "non-ASCII" in str(err) and "OBJECT" in str(err)


def test_nan_only_image_statistics_say_no_finite_pixels(tmp_path, unchanged):
    import almaview as av
    from almaview import errors

    path = _image(tmp_path / "nan.fits", data=np.full((2, 6, 5), np.nan, np.float32))
    unchanged(path)
    with pytest.raises(errors.NoFinitePixels, match="no finite pixels") as info:
        av.image_statistics(av.open_image(path))
    assert "nan.fits" in str(info.value)


def test_truncated_data(tmp_path, unchanged):
    from almaview import errors

    path = _image(tmp_path / "cut.fits", data=np.ones((40, 60, 50), np.float32))
    path.write_bytes(path.read_bytes()[: 2880 * 20])
    err = _open_error(path, unchanged)
    assert isinstance(err, errors.NotAnImage) and "truncated" in str(err)


def test_beams_table_without_its_columns(tmp_path, unchanged):
    from astropy.io import fits

    from almaview import errors

    beams = fits.BinTableHDU.from_columns([fits.Column(name="BMAJ", format="E", array=np.ones(2))], name="BEAMS")
    err = _open_error(_image(tmp_path / "beams.fits", extra_hdus=[beams]), unchanged)
    assert isinstance(err, errors.InvalidImageHeader) and "BEAMS" in str(err)


def test_legacy_aips_header_opens_and_is_labelled_in_km_s(tmp_path, unchanged):
    """Upper-case units, a VELO-LSR axis in M/S and 'JY/BEAM': repaired, velocities in m/s, label in km/s."""
    import almaview as av
    from almaview.widgets import ImageViewer

    cards = [
        ("CTYPE3", "VELO-LSR"),
        ("CUNIT3", "M/S"),
        ("CRVAL3", 5000.0),
        ("CDELT3", -2000.0),
        ("CUNIT1", "DEG"),
        ("CUNIT2", "DEG"),
        ("BUNIT", "JY/BEAM"),
        ("VELREF", 257),
    ]
    path = _image(tmp_path / "aips.fits", cards)
    unchanged(path)
    image = av.open_image(path)
    assert image.dims == ("velocity", "y", "x") and image.attrs["units"] == "Jy/beam"
    np.testing.assert_allclose(image.velocity.values, [5000.0, 3000.0])
    assert float(image.beam_major) == pytest.approx(0.72)
    label = ImageViewer(image).channel_label(1)
    assert "3.00 km/s" in label and "GHz" not in label

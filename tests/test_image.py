"""open_image / image_statistics: pixels against astropy and casacore at the same world coordinate, beams, errors."""

from __future__ import annotations

import gzip
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from astropy.stats import mad_std
from astropy.wcs import WCS

import almaview as av
from almaview.errors import DamagedTable, NotAnImage, NotATable, PathNotFound

FITS_KEYS = ["cont_fits", "cont_image_fits", "cube_fits", "cube_image_fits"]


def _header_wcs(path: Path) -> tuple[np.ndarray, WCS, fits.Header]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fits.open(path) as hdul:
            return hdul[0].data.copy(), WCS(hdul[0].header), hdul[0].header.copy()


def _nearest_sky_pixel(image, ra: float, dec: float) -> tuple[int, int]:
    """(y, x) of the pixel whose ra/dec coordinate is nearest the requested position."""
    d2 = ((image.ra.values - ra) * math.cos(math.radians(dec))) ** 2 + (image.dec.values - dec) ** 2
    y, x = np.unravel_index(int(np.argmin(d2)), d2.shape)
    return int(y), int(x)


@pytest.mark.parametrize("key", FITS_KEYS)
def test_fits_pixel_at_world_coordinate_equals_astropy(alma_eb, key):
    path = alma_eb.images[key]
    data, wcs, header = _header_wcs(path)  # numpy order (stokes, chan, y, x); WCS order (x, y, chan, stokes)
    nchan = data.shape[1]
    # a world position: a pixel off-centre, converted independently with astropy
    px, py, pchan = data.shape[3] // 2 + 5, data.shape[2] // 2 - 3, nchan - 1
    ra, dec, freq, _ = wcs.pixel_to_world_values(px, py, pchan, 0)

    image = av.open_image(path)
    assert image.dims == ("stokes", "frequency", "y", "x")
    assert image.attrs["units"] == header["BUNIT"].strip()
    y, x = _nearest_sky_pixel(image, float(ra), float(dec))
    got = image.sel(frequency=float(freq), method="nearest").isel(stokes=0, y=y, x=x).values
    # astropy's answer: world -> pixel, then the array
    wx, wy, wchan, _ = (int(round(float(v))) for v in wcs.world_to_pixel_values(ra, dec, freq, 1))
    np.testing.assert_array_equal(got, data[0, wchan, wy, wx])
    assert image.frequency.attrs["units"] == "Hz"
    np.testing.assert_allclose(image.frequency.values[wchan], freq, rtol=1e-12)
    assert list(image.stokes.values) == ["I"]


@pytest.mark.parametrize("key", ["cont", "cube"])
def test_casa_pixel_at_world_coordinate_equals_casacore(alma_eb, key):
    from casacore import images

    path = alma_eb.images[key]
    im = images.image(str(path))
    shape = im.shape()  # numpy order, e.g. (chan, stokes, y, x)
    pixel = [shape[0] - 1, 0, shape[2] // 2 + 7, shape[3] // 2 - 4]
    freq, _, dec_rad, ra_rad = im.toworld(pixel)
    expected = im.getdata(blc=pixel, trc=pixel).ravel()[0]

    image = av.open_image(path)
    assert image.dims == ("stokes", "frequency", "y", "x")
    assert image.attrs["units"] == im.unit()
    y, x = _nearest_sky_pixel(image, math.degrees(ra_rad) % 360.0, math.degrees(dec_rad))
    got = image.sel(frequency=freq, method="nearest").isel(stokes=0, y=y, x=x).values
    assert (y, x) == (pixel[2], pixel[3])
    assert got == expected
    np.testing.assert_allclose(image.frequency.values[pixel[0]], freq, rtol=1e-12)
    # the WCS in attrs converts pixel <-> world like casacore does
    world = image.attrs["wcs"].pixel_to_world_values(pixel[3], pixel[2], 0, pixel[0])
    np.testing.assert_allclose(float(world[0]) % 360.0, math.degrees(ra_rad) % 360.0, atol=1e-9)
    np.testing.assert_allclose(float(world[1]), math.degrees(dec_rad), atol=1e-9)


def test_casa_and_fits_export_agree(alma_eb):
    casa_img = av.open_image(alma_eb.images["cube"])
    fits_img = av.open_image(alma_eb.images["cube_image_fits"])
    np.testing.assert_array_equal(casa_img.isel(frequency=2).values, fits_img.isel(frequency=2).values)
    np.testing.assert_allclose(casa_img.ra.values, fits_img.ra.values, atol=1e-9)
    np.testing.assert_allclose(casa_img.dec.values, fits_img.dec.values, atol=1e-9)


def test_per_channel_beams_equal_fits_beams_table(alma_eb):
    path = alma_eb.images["cube_fits"]
    with fits.open(path) as hdul:
        beams = hdul["BEAMS"].data
        units = [hdul["BEAMS"].columns[n].unit for n in ("BMAJ", "BMIN", "BPA")]
        order = np.argsort(beams["CHAN"])
        bmaj, bmin, bpa = beams["BMAJ"][order], beams["BMIN"][order], beams["BPA"][order]
    assert units == ["arcsec", "arcsec", "deg"]
    image = av.open_image(path)
    assert image.beam_major.dims == ("frequency",)
    np.testing.assert_allclose(image.beam_major.values, bmaj, rtol=1e-6)
    np.testing.assert_allclose(image.beam_minor.values, bmin, rtol=1e-6)
    np.testing.assert_allclose(image.beam_pa.values, bpa, rtol=1e-6)
    assert image.beam_major.attrs["units"] == "arcsec" and image.beam_pa.attrs["units"] == "deg"


def test_casa_per_plane_beams_equal_casa(alma_eb):
    from almaview import casa

    ia = casa.casatools().image()
    ia.open(str(alma_eb.images["cube"]))
    try:
        image = av.open_image(alma_eb.images["cube"])
        for chan in (0, image.sizes["frequency"] - 1):
            beam = ia.restoringbeam(channel=chan, polarization=0)
            assert beam["major"]["unit"] == "arcsec"
            np.testing.assert_allclose(image.beam_major.values[chan], beam["major"]["value"], rtol=1e-6)
            np.testing.assert_allclose(image.beam_minor.values[chan], beam["minor"]["value"], rtol=1e-6)
    finally:
        ia.close()


def test_single_beam_from_header(alma_eb):
    _, _, header = _header_wcs(alma_eb.images["cont_fits"])
    image = av.open_image(alma_eb.images["cont_fits"])
    assert image.beam_major.dims == ()
    np.testing.assert_allclose(float(image.beam_major), header["BMAJ"] * 3600.0, rtol=1e-9)
    np.testing.assert_allclose(float(image.beam_minor), header["BMIN"] * 3600.0, rtol=1e-9)
    np.testing.assert_allclose(float(image.beam_pa), header["BPA"], rtol=1e-9)


def test_gzipped_fits_equals_plain(alma_eb, tmp_path):
    plain = alma_eb.images["cube_fits"]
    gz = tmp_path / (plain.name + ".gz")
    with open(plain, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    a = av.open_image(plain)
    b = av.open_image(gz)
    np.testing.assert_array_equal(a.isel(frequency=1).values, b.isel(frequency=1).values)
    np.testing.assert_array_equal(a.beam_major.values, b.beam_major.values)


@pytest.mark.parametrize("key", ["cube_fits", "cube"])
def test_only_the_requested_plane_is_read(alma_eb, key, monkeypatch):
    from almaview.io import image as image_module

    calls: list[tuple] = []
    for cls in (image_module._FitsPlaneReader, image_module._CasaPlaneReader):
        original = cls.__getitem__

        def spy(self, k, _original=original):
            calls.append(k)
            return _original(self, k)

        monkeypatch.setattr(cls, "__getitem__", spy)
    image = av.open_image(alma_eb.images[key])
    assert calls == []  # opening reads no pixels
    assert image.chunks is not None
    plane = image.isel(stokes=0, frequency=3).values
    assert plane.shape == (image.sizes["y"], image.sizes["x"])
    assert len(calls) == 1


def _astropy_pixels(path: Path) -> np.ndarray:
    """The whole image, read by astropy (numpy order: stokes, chan, y, x)."""
    with fits.open(path, memmap=False) as hdul:
        return np.asarray(hdul[0].data, dtype=np.float32)


def _casacore_pixels(path: Path) -> np.ndarray:
    """The whole CASA image read by python-casacore, masked pixels NaN, as (stokes, chan, y, x)."""
    from casacore import images

    im = images.image(str(path))
    data = np.asarray(im.getdata(), dtype=np.float32)
    mask = im.getmask()
    data = np.where(mask, np.nan, data)
    names = []  # casacore's axis names in numpy order, e.g. ['Frequency', ['Stokes'], ['Declination', ...]]
    for axes in im.coordinates().get_axes():
        names += [axes] if isinstance(axes, str) else list(axes)
    del im
    order = [
        names.index("Stokes"),
        names.index("Frequency"),
        names.index("Declination"),
        names.index("Right Ascension"),
    ]
    return data.transpose(order)


# (key of alma_eb.images, how to read the expected pixels independently)
PIXEL_SOURCES = [("cube_fits", "astropy"), ("cube", "export"), ("cube", "casacore")]


@pytest.mark.parametrize("chunks", [None, "auto"])
@pytest.mark.parametrize("key,reference", PIXEL_SOURCES)
def test_spectrum_and_box_equal_independent_read(alma_eb, key, reference, chunks):
    """A pixel spectrum, a box, strided and reversed slices and index lists equal the same pixels of a full
    independent read: astropy for FITS; for the CASA image astropy's read of CASA's FITS export, and casacore."""
    if reference == "astropy":
        expected = _astropy_pixels(alma_eb.images[key])
    elif reference == "export":
        expected = _astropy_pixels(alma_eb.images["cube_image_fits"])
    else:
        expected = _casacore_pixels(alma_eb.images[key])
    image = av.open_image(alma_eb.images[key], chunks=chunks)
    assert (image.chunks is None) == (chunks is None)
    assert image.shape == expected.shape
    ny, nx = expected.shape[2:]
    y, x = ny // 2 + 9, nx // 3
    np.testing.assert_array_equal(image.isel(stokes=0, y=y, x=x).values, expected[0, :, y, x])
    box = image.isel(stokes=0, y=slice(y - 10, y + 12), x=slice(x - 7, x + 20)).values
    np.testing.assert_array_equal(box, expected[0, :, y - 10 : y + 12, x - 7 : x + 20])
    np.testing.assert_array_equal(
        image.isel(frequency=-1, y=slice(None, None, -3), x=slice(5, None, 4)).values, expected[:, -1, ::-3, 5::4]
    )
    picks = [3, 0, 40, 40, 7]
    np.testing.assert_array_equal(image.isel(stokes=0, frequency=picks, y=y).values, expected[0, picks, y, :])
    np.testing.assert_array_equal(
        image.isel(stokes=[0], x=[x, 2], y=[y, y + 1]).values, expected[[0]][:, :, [y, y + 1]][:, :, :, [x, 2]]
    )
    # vectorized (pointwise) indexing: a diagonal of pixels
    yi = xr.DataArray([1, 5, 9], dims="p")
    np.testing.assert_array_equal(
        image.isel(stokes=0, y=yi, x=yi + 2).transpose("p", "frequency").values, expected[0, :, [1, 5, 9], [3, 7, 11]]
    )


def _element_counter(monkeypatch) -> list[int]:
    """Number of elements each read asks the file for, counted below almaview: numpy slicing of astropy's
    memory map (FITS) and casacore's getdata (CASA images)."""
    from astropy.io.fits.hdu.image import _ImageBaseHDU
    from casacore import images

    counts: list[int] = []
    data_property = _ImageBaseHDU.__dict__["data"]

    class Counted:
        def __init__(self, array):
            self.array = array

        def __getitem__(self, key):
            out = self.array[key]
            counts.append(int(np.size(out)))
            return out

        def __getattr__(self, name):
            return getattr(self.array, name)

    monkeypatch.setattr(
        _ImageBaseHDU,
        "data",
        property(
            lambda hdu: Counted(data_property.__get__(hdu, type(hdu))), data_property.__set__, data_property.__delete__
        ),
    )
    getdata = images.image.getdata

    def counted_getdata(self, *args, **kwargs):
        out = getdata(self, *args, **kwargs)
        counts.append(int(out.size))
        return out

    monkeypatch.setattr(images.image, "getdata", counted_getdata)
    return counts


@pytest.mark.parametrize("chunks", [None, "auto", {"frequency": 8}])
@pytest.mark.parametrize("key", ["cube_fits", "cube"])
def test_a_selection_reads_only_its_pixels(alma_eb, key, chunks, monkeypatch):
    """A one-pixel spectrum asks the file for nchan elements (not nchan x ny x nx), a box for nchan x box."""
    image = av.open_image(alma_eb.images[key], chunks=chunks)
    nchan, ny, nx = image.sizes["frequency"], image.sizes["y"], image.sizes["x"]
    counts = _element_counter(monkeypatch)
    spectrum = image.isel(stokes=0, y=ny // 2, x=nx // 2).values
    assert spectrum.shape == (nchan,) and np.isfinite(spectrum).any()
    assert sum(counts) == nchan
    if chunks is None:
        assert len(counts) == 1  # one read, not one per plane
    counts.clear()
    image.isel(stokes=0, y=slice(10, 30), x=slice(40, 45)).values
    assert sum(counts) == nchan * 20 * 5
    counts.clear()
    image.isel(stokes=0, frequency=2).values
    assert counts == [ny * nx]
    if chunks is None:  # lazy indexing composes chained selections into one read (dask fuses only one step)
        counts.clear()
        chained = image.isel(stokes=0).isel(frequency=slice(2, 9)).isel(y=5).isel(x=7).values
        assert counts == [7] and chained.shape == (7,)


@pytest.mark.parametrize("key", ["cube_fits", "cube"])
def test_pickled_image_reads_the_same_pixels(alma_eb, key):
    """Dask distributed ships the image by pickling: both the lazy and the dask image survive it."""
    import pickle

    for chunks in (None, "auto"):
        image = av.open_image(alma_eb.images[key], chunks=chunks)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # astropy re-announces its header fixes when the WCS is unpickled
            again = pickle.loads(pickle.dumps(image))
        np.testing.assert_array_equal(again.isel(stokes=0, x=20, y=30).values, image.isel(stokes=0, x=20, y=30).values)


def test_lazy_image_chunks_and_reduces_like_dask(alma_eb):
    """chunks=None is lazy but complete: .chunk() gives dask, and a reduction equals astropy's."""
    expected = _astropy_pixels(alma_eb.images["cube_fits"])
    lazy = av.open_image(alma_eb.images["cube_fits"], chunks=None)
    assert lazy.chunks is None
    summed = lazy.chunk({"frequency": 4}).sum("frequency")
    assert summed.chunks is not None
    np.testing.assert_allclose(summed.values, np.nansum(expected, axis=1), rtol=1e-5, atol=1e-6)
    default = av.open_image(alma_eb.images["cube_fits"])
    assert default.chunks[1] == (1,) * expected.shape[1]  # default: one chunk per plane
    assert all(v.chunks is None for n, v in default.coords.items() if n.startswith("beam_"))


def test_casa_reads_hold_the_image_lock(alma_eb, monkeypatch):
    """casacore is not thread-safe: every CASA image read holds io.ms.table_lock of the image."""
    from casacore import images

    from almaview.io.ms import table_lock

    path = alma_eb.images["cube"]
    expected = _casacore_pixels(path)
    held = []
    getdata = images.image.getdata

    def checked(self, *args, **kwargs):
        held.append(table_lock(str(Path(path).resolve())).locked())
        return getdata(self, *args, **kwargs)

    monkeypatch.setattr(images.image, "getdata", checked)
    image = av.open_image(path)
    import dask

    with dask.config.set(scheduler="threads", num_workers=4):
        total = float(image.sum())
    assert held and all(held)
    assert total == pytest.approx(float(np.nansum(expected.astype(np.float64))), rel=1e-5)


def test_bad_chunks_argument(alma_eb):
    with pytest.raises(ValueError, match="chunks"):
        av.open_image(alma_eb.images["cube_fits"], chunks="planes")


def test_scaled_integer_fits_without_spectral_axis(tmp_path):
    """A 2-D 16-bit image with BSCALE/BZERO/BLANK: values as astropy scales them, blanks as NaN."""
    raw = np.arange(20 * 30, dtype=np.int16).reshape(20, 30)
    raw[5, 6] = -32768
    hdu = fits.PrimaryHDU(raw)
    hdu.header.update(
        {
            "CTYPE1": "RA---TAN",
            "CTYPE2": "DEC--TAN",
            "CRVAL1": 10.0,
            "CRVAL2": -30.0,
            "CDELT1": -1e-4,
            "CDELT2": 1e-4,
            "CRPIX1": 15,
            "CRPIX2": 10,
            "BUNIT": "K",
            "BSCALE": 2.0,
            "BZERO": 1.0,
            "BLANK": -32768,
        }
    )
    path = tmp_path / "scaled.fits"
    hdu.writeto(path)
    expected = fits.getdata(path, memmap=False)  # astropy applies BSCALE/BZERO and BLANK
    image = av.open_image(path)
    assert image.dims == ("y", "x") and image.attrs["units"] == "K"
    np.testing.assert_array_equal(image.values, expected)
    assert np.isnan(image.values[5, 6])
    ra, dec = WCS(hdu.header).pixel_to_world_values(7, 3)
    assert image.ra.values[3, 7] == pytest.approx(float(ra)) and image.dec.values[3, 7] == pytest.approx(float(dec))


# --------------------------------------------------------------------------- statistics


def test_statistics_match_astropy(alma_eb):
    path = alma_eb.images["cont_image_fits"]
    data, wcs, header = _header_wcs(path)
    with fits.open(alma_eb.images["cont_mask_fits"]) as hdul:
        mask = hdul[0].data != 0
    stats = av.image_statistics(av.open_image(path), mask=alma_eb.images["cont_mask_fits"])
    outside = data[~mask & np.isfinite(data)]
    expected_rms = mad_std(outside)
    assert stats.rms == pytest.approx(expected_rms, rel=1e-6)
    assert stats.n_pixels == outside.size
    assert stats.peak == pytest.approx(float(np.nanmax(data)), rel=1e-7)
    assert stats.snr == pytest.approx(float(np.nanmax(data)) / expected_rms, rel=1e-6)
    assert stats.units == header["BUNIT"].strip()
    # beam area: Gaussian, from the header beam and astropy's pixel scale
    bmaj, bmin = math.radians(header["BMAJ"]), math.radians(header["BMIN"])
    area_sr = math.pi * bmaj * bmin / (4 * math.log(2))
    pix_sr = abs(math.radians(header["CDELT1"]) * math.radians(header["CDELT2"]))
    assert stats.beam_area_sr == pytest.approx(area_sr, rel=1e-9)
    assert stats.beam_area_pixels == pytest.approx(area_sr / pix_sr, rel=1e-6)


def test_beam_area_equals_casa(alma_eb):
    from almaview import casa

    ia = casa.casatools().image()
    ia.open(str(alma_eb.images["cont"]))
    try:
        area = ia.beamarea()
    finally:
        ia.close()
    stats = av.image_statistics(alma_eb.images["cont"])
    assert stats.beam_area_pixels == pytest.approx(area["pixels"], rel=1e-6)
    assert stats.beam_area_sr == pytest.approx(area["arcsec2"] * (math.pi / 180 / 3600) ** 2, rel=1e-6)


def test_statistics_on_line_free_channels(alma_eb):
    path = alma_eb.images["cube_image_fits"]
    data, _, _ = _header_wcs(path)
    nchan = data.shape[1]
    free = list(range(0, nchan // 4)) + list(range(nchan - nchan // 4, nchan))
    image = av.open_image(path)
    stats = av.image_statistics(image, line_free=free)
    sample = data[:, free]
    assert stats.rms == pytest.approx(mad_std(sample[np.isfinite(sample)]), rel=1e-6)
    # the same channels given as frequency ranges (Hz)
    f = image.frequency.values
    ranges = [(f[free[0]], f[nchan // 4 - 1]), (f[nchan - nchan // 4], f[-1])]
    assert av.image_statistics(image, line_free=ranges).rms == pytest.approx(stats.rms, rel=1e-12)
    # per-plane beams: the beam of the peak's channel
    peak_chan = stats.peak_position["frequency"]
    assert stats.beam_major_arcsec == pytest.approx(float(image.beam_major[peak_chan]))


# --------------------------------------------------------------------------- errors


def test_missing_path(tmp_path):
    with pytest.raises(PathNotFound) as err:
        av.open_image(tmp_path / "nope.fits")
    assert str(tmp_path / "nope.fits") in str(err.value)


def test_table_only_fits(tmp_path):
    path = tmp_path / "table_only.fits"
    cols = fits.ColDefs([fits.Column(name="A", format="E", array=np.arange(3, dtype=np.float32))])
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(path)
    with pytest.raises(NotAnImage) as err:
        av.open_image(path)
    assert str(path) in str(err.value) and "no image" in str(err.value)


def test_truncated_fits(alma_eb, tmp_path):
    src = alma_eb.images["cube_fits"]
    path = tmp_path / "truncated.fits"
    path.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(NotAnImage) as err:
        av.open_image(path)
    assert str(path) in str(err.value) and "truncated" in str(err.value)


def test_truncated_gzip_fits(alma_eb, tmp_path):
    src = alma_eb.images["cube_fits"]
    whole = gzip.compress(src.read_bytes())
    path = tmp_path / "truncated.fits.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(NotAnImage) as err:
        av.open_image(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("content", [b"this is a README, not a FITS file\n", b"", b"SIMPLE  =    T" + b" " * 50])
def test_text_file_named_fits(tmp_path, content):
    path = tmp_path / "notes.fits"
    path.write_bytes(content)
    with pytest.raises(NotAnImage) as err:
        av.open_image(path)
    assert str(path) in str(err.value)


def test_measurement_set_is_not_an_image(alma_eb):
    with pytest.raises(NotAnImage) as err:
        av.open_image(alma_eb.ms)
    assert str(alma_eb.ms.resolve()) in str(err.value) and "open_ms" in str(err.value)


def test_caltable_is_not_an_image(alma_eb):
    path = alma_eb.caltables["bandpass"]
    with pytest.raises(NotAnImage) as err:
        av.open_image(path)
    assert str(path.resolve()) in str(err.value) and "open_caltable" in str(err.value)


def test_directory_that_is_not_a_table(tmp_path):
    with pytest.raises(NotATable) as err:
        av.open_image(tmp_path)
    assert str(tmp_path) in str(err.value)


def test_damaged_casa_image(alma_eb, tmp_path):
    broken = tmp_path / "broken.image"
    shutil.copytree(alma_eb.images["cont"], broken)
    for f in broken.glob("table.f0*"):
        f.unlink()
    with pytest.raises(DamagedTable) as err:
        av.open_image(broken)
    assert str(broken) in str(err.value)

"""Image viewer builders against astropy reads and numpy reductions of the same FITS pixels."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from bokeh.models import GlyphRenderer


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
    panel = image_plane(
        img, mask=av.open_image(alma_eb.images["cont_mask_fits"]), pb=av.open_image(alma_eb.images["cont_pb_fits"])
    )
    assert panel.sources["mask"].data["xs"] and panel.sources["pb"].data["xs"]
    both = comparison(img, av.open_image(alma_eb.images["cont_pbcor_fits"]))
    left, right = both.layout.children
    assert left.x_range is right.x_range and left.y_range is right.y_range
    assert plane_slice(img, max_pixels=32).sizes["x"] <= 32


def _plane_of(path, channel):
    from astropy.io import fits

    with fits.open(path) as h:
        return np.asarray(h[0].data[0, channel], dtype=float)


def test_initial_stretch_and_clip_match_numpy_and_astropy(cube):
    import almaview as av
    from astropy.visualization import AsinhStretch, LogStretch, SqrtStretch
    from bokeh import palettes

    from almaview.plots.image import image_plane, stretch_palette

    base = list(palettes.Viridis256)
    t = (np.arange(1024) + 0.5) / 1024
    for name, ref in (("sqrt", SqrtStretch()), ("log", LogStretch(a=1000)), ("asinh", AsinhStretch(a=0.1))):
        expected = [base[min(255, int(v * 256))] for v in ref(t, clip=True)]
        assert stretch_palette("Viridis256", name) == expected, name
    assert stretch_palette("Viridis256", "linear") == [c for c in base for _ in range(4)]
    plane = _plane_of(cube, 12)
    finite = plane[np.isfinite(plane)]
    panel = image_plane(av.open_image(cube), 12, stretch="sqrt", clip=99.0, palette="Viridis256")
    mapper = panel.layout.select_one({"name": "mapper"})
    assert mapper.palette == stretch_palette("Viridis256", "sqrt")
    assert mapper.low == pytest.approx(np.percentile(finite, 0.5), rel=1e-5)
    assert mapper.high == pytest.approx(np.percentile(finite, 99.5), rel=1e-5)
    full = image_plane(av.open_image(cube), 12)  # default: min..max, linear
    m = full.layout.select_one({"name": "mapper"})
    assert (m.low, m.high) == (pytest.approx(finite.min()), pytest.approx(finite.max()))
    shown = full.sources["image"].data["image"][0]
    assert shown.dtype == np.float32  # the browser payload
    np.testing.assert_allclose(shown[:, ::-1], plane, rtol=1e-6)


def test_region_spectrum_circle_equals_numpy(cube):
    import almaview as av
    from almaview.plots.image import region_spectrum

    data, header, _ = _fits(cube)
    s = region_spectrum(av.open_image(cube), circle=(63.5, 60.2, 6.3))
    yy, xx = np.mgrid[0 : data.shape[2], 0 : data.shape[3]]
    inside = (xx - 63.5) ** 2 + (yy - 60.2) ** 2 <= 6.3**2
    bmaj, bmin = header["beams"]
    beam_pix = math.pi / (4 * math.log(2)) * bmaj * bmin / (abs(header["CDELT1"]) * header["CDELT2"] * 3600**2)
    expected = np.nansum(data[0][:, inside], axis=1) / beam_pix
    np.testing.assert_allclose(s.value, expected, rtol=1e-5)
    assert inside.sum() > 100  # a real region, not a pixel


def test_update_plane_reads_the_channel_and_mask_follows(alma_eb, cube):
    import almaview as av
    from almaview.plots.image import image_plane, update_plane

    img = av.open_image(cube)
    # A per-channel mask (the fixture's clean mask is the same in every channel): emission above 0.3 Jy/beam.
    flux = np.stack([_plane_of(cube, c) for c in range(img.sizes["frequency"])])
    mask_np = np.nan_to_num(flux) > 0.3
    mask = av.open_image(alma_eb.images["cube_mask_fits"])
    mask = mask.copy(data=mask_np[None].astype(np.float32))
    counts = mask_np.sum(axis=(1, 2))
    a, b = int(np.argmin(counts)), int(np.argmax(counts))
    assert counts[b] > counts[a]
    panel = image_plane(img, a, mask=mask)
    xs_a = panel.sources["mask"].data["xs"]
    fig, image_src = panel.layout, panel.sources["image"]
    update_plane(panel, img, b, mask=mask)
    assert panel.layout is fig and panel.sources["image"] is image_src  # in place, no new figure
    np.testing.assert_allclose(image_src.data["image"][0][:, ::-1], flux[b], rtol=1e-6)
    assert panel.data.attrs["channel"] == b and panel.layout.title.text.endswith(f"channel {b}")
    xs_b, ys_b = panel.sources["mask"].data["xs"], panel.sources["mask"].data["ys"]
    assert xs_b != xs_a
    # The contour encloses exactly the masked pixels: its extent (pixels) matches the numpy mask's.
    dx = abs(_fits(cube)[1]["CDELT1"]) * 3600
    cx, cy = img.sizes["x"] / 2.0, img.sizes["y"] / 2.0
    px = np.concatenate([cx - np.asarray(x) / dx for x in xs_b])
    py = np.concatenate([cy + np.asarray(y) / dx for y in ys_b])
    yy, xx = np.nonzero(mask_np[b])
    assert px.min() == pytest.approx(xx.min() - 0.5, abs=0.51) and px.max() == pytest.approx(xx.max() + 0.5, abs=0.51)
    assert py.min() == pytest.approx(yy.min() - 0.5, abs=0.51) and py.max() == pytest.approx(yy.max() + 0.5, abs=0.51)
    beams = _fits(cube)[1]["beams"]
    assert panel.sources["beam"].data["h"][0] == pytest.approx(beams[0][b], rel=1e-6)


def test_comparison_of_three_images_links_ranges_and_mapper(alma_eb):
    import almaview as av
    from almaview.plots.image import comparison

    imgs = [av.open_image(alma_eb.images[k]) for k in ("cont_pbcor_fits", "cont_image_fits", "cont_pb_fits")]
    both = comparison(*imgs)
    figs = both.layout.children
    assert len(figs) == 3
    mapper = figs[0].select_one({"name": "mapper"})
    for f in figs[1:]:
        assert f.x_range is figs[0].x_range and f.y_range is figs[0].y_range
        assert all(r.glyph.color_mapper is mapper for r in f.select({"name": "plane"}))
    assert len(list(both.layout.select({"name": "mapper"}))) == 1  # no glyph (selection, muted ...) keeps its own
    flat = _plane_of(alma_eb.images["cont_image_fits"], 0)
    got = both.data["image1"].to_dataset().value.values
    np.testing.assert_allclose(got[np.isfinite(got)], flat[np.isfinite(flat)], rtol=1e-6)
    with pytest.raises(ValueError):
        comparison(imgs[0])


def test_browser_stretch_code_matches_python_when_node_is_available():
    """The CustomJS body (STRETCH_JS) run by Node.js on stand-in models gives Python's palettes and limits."""
    import json
    import shutil
    import subprocess

    from bokeh import palettes

    from almaview.plots.image import STRETCH_JS, plane_limits, stretch_palette

    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the browser-side stretch is covered by the browser tests")
    values = np.random.default_rng(3).normal(size=5000)
    lim = plane_limits(values)
    cases = [(s, c, u) for s in ("linear", "sqrt", "log", "asinh") for c, u in ((100.0, 1.0), (99.5, 0.5))]
    script = f"""
    const out = [];
    for (const [st, cl, up] of {json.dumps(cases)}) {{
      const mappers = [{{}}];
      const palette = {{value: "Magma256"}}, stretch = {{value: st}};
      const clip = {{value: String(cl)}}, upper = {{value: up}};
      const limits = {{data: {json.dumps(lim)}}};
      const palettes = {{Magma256: {json.dumps(list(palettes.Magma256))}}};
      (function() {{ {STRETCH_JS} }})();
      out.push(mappers[0]);
    }}
    console.log(JSON.stringify(out));
    """
    got = json.loads(subprocess.run([node, "-e", script], capture_output=True, text=True, check=True).stdout)
    for (st, cl, up), m in zip(cases, got):
        j = lim["clip"].index(cl)
        assert m["palette"] == stretch_palette("Magma256", st), st
        assert m["low"] == pytest.approx(lim["low"][j])
        assert m["high"] == pytest.approx(lim["low"][j] + up * (lim["high"][j] - lim["low"][j]))


def test_axis_tick_labels_are_the_world_coordinates_astropy_gives(cube):
    """The RA/Dec tick labels: the table interpolated at an offset equals astropy's world coordinate of that
    offset's pixel (to 1 mas), the texts equal astropy's sexagesimal strings, and the browser code (run by Node
    when present) prints exactly what the Python twins print."""
    import json
    import shutil
    import subprocess

    from astropy.coordinates import Angle

    import almaview as av
    from almaview.plots.image import WORLD_TICK_JS, format_dec, format_ra, image_plane, world_axis_table

    img = av.open_image(cube)
    _, header, wcs = _fits(cube)
    nx, ny = img.sizes["x"], img.sizes["y"]
    dx, dy = abs(header["CDELT1"]) * 3600, abs(header["CDELT2"]) * 3600
    rng = np.random.default_rng(5)
    xt, yt = world_axis_table(img, "x"), world_axis_table(img, "y")
    offsets = rng.uniform(-0.6, 0.6, 25) * nx * dx
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ra = wcs.pixel_to_world_values(nx / 2 - offsets / dx, np.full(offsets.size, ny / 2))[0]
        dec = wcs.pixel_to_world_values(np.full(offsets.size, nx / 2), ny / 2 + offsets / dy)[1]
    got_ra, got_dec = np.interp(offsets, xt["offset"], xt["world"]), np.interp(offsets, yt["offset"], yt["world"])
    np.testing.assert_allclose((got_ra - ra) * 3600 * np.cos(np.radians(dec.mean())), 0, atol=1e-3)
    np.testing.assert_allclose((got_dec - dec) * 3600, 0, atol=1e-3)
    for a, d in zip(ra[:5], dec[:5]):
        assert format_ra(a) == Angle(a, "deg").to_string(unit="hourangle", sep=":", precision=2, pad=True)
        assert format_dec(d) == Angle(d, "deg").to_string(unit="deg", sep=":", precision=1, pad=True, alwayssign=True)
    fig = image_plane(img, 0).layout
    assert fig.xaxis[0].formatter.args["kind"] == "ra" and fig.yaxis[0].formatter.args["kind"] == "dec"
    assert fig.xaxis[0].axis_label.startswith("RA") and fig.yaxis[0].axis_label.startswith("Dec")

    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the tick-label code is checked by the Python twins only")
    script = f"""
    const out = [];
    for (const [kind, table, ticks] of [["ra", {json.dumps(xt)}, {json.dumps(offsets.tolist())}],
                                        ["dec", {json.dumps(yt)}, {json.dumps(offsets.tolist())}]]) {{
      for (const tick of ticks) out.push((function(tick, table, kind) {{ {WORLD_TICK_JS} }})(tick, table, kind));
    }}
    console.log(JSON.stringify(out));
    """
    got = json.loads(subprocess.run([node, "-e", script], capture_output=True, text=True, check=True).stdout)
    assert got == [format_ra(v) for v in got_ra] + [format_dec(v) for v in got_dec]


def _luminance(hex_or_name):
    """WCAG relative luminance of a CSS colour (named via matplotlib's table, independent of Bokeh)."""
    from matplotlib.colors import to_rgb

    c = np.array(to_rgb(hex_or_name))
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2])


def _contrast(a, b):
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_beam_ellipse_is_visible_on_any_background(cube):
    # The beam is drawn with at least one outline of WCAG contrast >= 4.5 against every colour the plane can show
    # (each end of the colour map, and plain white/black), and a filled interior, so it never vanishes.
    import almaview as av
    from almaview.plots.image import image_plane

    panel = image_plane(av.open_image(cube), channel=7)
    beam = panel.sources["beam"]
    glyphs = [r.glyph for r in panel.layout.select({"type": GlyphRenderer}) if r.data_source is beam]
    edges = [g.line_color for g in glyphs if g.line_color is not None]
    assert len(edges) >= 2 and any(g.fill_color is not None and g.fill_alpha > 0 for g in glyphs)
    palette = panel.layout.select_one({"name": "mapper"}).palette
    for background in (palette[0], palette[-1], "white", "black"):
        assert max(_contrast(e, background) for e in edges) >= 4.5, background


def test_encoded_plane_decodes_within_half_a_code():
    from almaview.plots.image import PLANE_CODES, encode_plane

    rng = np.random.default_rng(7)
    v = rng.normal(3.0, 0.02, (512, 640)).astype(np.float32)
    v[100:110, 200:220] = 40.0  # a bright source stretches the range
    v[::31, ::17] = np.nan
    v[5, 5], v[6, 6] = np.inf, -np.inf
    codes, offset, scale = encode_plane(v)
    finite = np.isfinite(v)
    assert codes.dtype == np.uint16 and codes.shape == v.shape
    assert (codes[~finite] == 0).all() and (codes[finite] >= 1).all()  # 0: blank, as the page decodes it
    assert offset == float(v[finite].min()) and scale == pytest.approx((v[finite].max() - offset) / (PLANE_CODES - 1))
    decoded = offset + (codes[finite].astype(np.float64) - 1.0) * scale  # the page's PLANE_DECODE_JS formula
    # half a code, and float32 arithmetic's rounding of (value - min) / scale (2^-24 relative of 65534 codes)
    assert np.abs(decoded - v[finite].astype(np.float64)).max() <= scale * (0.5 + 65535 * 2.0**-23)
    assert codes[finite].min() == 1 and codes[finite].max() == PLANE_CODES

"""The image viewer widget: slider named 'channel', labels from the header, channel change reads the right plane."""

from __future__ import annotations

import numpy as np
import pytest


def test_viewer_channel_change_and_labels(alma_eb):
    from astropy.io import fits

    from almaview.widgets.image_viewer import ImageViewer

    path = alma_eb.images["cube_image_fits"]
    v = ImageViewer(path)
    box = v.widget()
    slider = v.controls["channel"]
    assert slider in box.children[0].children
    assert slider.description == "channel"
    slider.value = 3
    with fits.open(path) as h:
        expected = h[0].data[0, 3]
        restfreq = h[0].header["RESTFRQ"]
        f3 = h[0].header["CRVAL3"] + (3 + 1 - h[0].header["CRPIX3"]) * h[0].header["CDELT3"]
    got = v.panel.sources["image"].data["image"][0][:, ::-1]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[np.isfinite(got)], expected[np.isfinite(expected)], rtol=1e-6)
    label = v.controls["label"].value
    assert f"{f3 / 1e9:.6f} GHz" in label
    assert f"{299792458.0 * (1 - f3 / restfreq) / 1e3:.2f} km/s" in label
    assert v.statistics()["peak"] == pytest.approx(np.nanmax(expected), rel=1e-6)


def _cube(path):
    from astropy.io import fits

    with fits.open(path) as h:
        return np.asarray(h[0].data[0], dtype=float), h[0].header.copy(), h["BEAMS"].data if "BEAMS" in h else None


def _beam_pixels(header, beams):
    import math

    return (
        math.pi
        / (4 * math.log(2))
        * np.asarray(beams["BMAJ"], float)
        * np.asarray(beams["BMIN"], float)
        / (abs(header["CDELT1"]) * header["CDELT2"] * 3600**2)
    )


def test_flat_noise_toggle_shows_pbcor_times_pb(alma_eb):
    from almaview.widgets.image_viewer import ImageViewer

    im = alma_eb.images
    pbcor, _, _ = _cube(im["cube_pbcor_fits"])
    pb, _, _ = _cube(im["cube_pb_fits"])
    flat_casa, _, _ = _cube(im["cube_image_fits"])
    v = ImageViewer(im["cube_pbcor_fits"], pb=im["cube_pb_fits"])
    box = v.widget()
    mode = v.controls["mode"]
    assert mode.layout.display != "none" and mode.options == ("pbcor", "flat noise")
    v.controls["channel"].value = 21
    got = v.panel.sources["image"].data["image"][0][:, ::-1]
    np.testing.assert_allclose(got, pbcor[21], rtol=1e-6)
    mode.value = "flat noise"
    got = v.panel.sources["image"].data["image"][0][:, ::-1]
    expected = pbcor[21] * pb[21]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[np.isfinite(got)], expected[np.isfinite(expected)], rtol=1e-6)
    ok = np.isfinite(got)  # and it is CASA's own flat-noise image (to float32 rounding)
    np.testing.assert_allclose(got[ok], flat_casa[21][ok], rtol=1e-4, atol=1e-6)
    # Given the flat-noise image itself, the toggle shows it.
    w = ImageViewer(im["cube_pbcor_fits"], flat=im["cube_image_fits"])
    w.set_mode("flat noise")
    np.testing.assert_allclose(
        w.panel.sources["image"].data["image"][0][:, ::-1], flat_casa[w.channel], rtol=1e-6, equal_nan=True
    )
    assert ImageViewer(im["cube_pbcor_fits"]).widget().children[1].children[0].layout.display == "none"
    assert box.children[0].children[0] is v.controls["channel"]


def test_play_is_linked_to_the_channel_slider_and_controls_have_classes(alma_eb):
    from almaview.widgets.image_viewer import ImageViewer

    v = ImageViewer(alma_eb.images["cube_pbcor_fits"])
    box = v.widget()
    play, slider = v.controls["play"], v.controls["channel"]
    assert any(link.source == (play, "value") and link.target == (slider, "value") for link in v.links)
    assert (play.min, play.max) == (slider.min, slider.max) == (0, v.nchan - 1)
    assert [c for c in box.children[0].children] == [slider, play, v.controls["label"]]
    for name in ("channel", "play", "mode", "region", "moment", "moment-channels", "nsigma"):
        key = name.replace("-", " ")
        assert f"almaview-control-{name}" in v.controls[key]._dom_classes
    assert "radio" in v.controls["label"].value and "LSRK" in v.controls["label"].value


def test_spectra_from_tap_box_and_circle_equal_numpy(alma_eb):
    from bokeh.events import SelectionGeometry, Tap

    from almaview.widgets.image_viewer import ImageViewer

    path = alma_eb.images["cube_pbcor_fits"]
    data, header, beams = _cube(path)
    beam_pix = _beam_pixels(header, beams)
    v = ImageViewer(path, ranges=[(230.50e9, 230.51e9)])
    v.widget()
    fig = v.panel.layout
    hover = v.panel.sources["hover"].data
    at = {(int(x), int(y)): (ox, oy) for x, y, ox, oy in zip(hover["px"], hover["py"], hover["ox"], hover["oy"])}
    fig._trigger_event(Tap(fig, x=at[(64, 62)][0], y=at[(64, 62)][1]))  # a click on the pixel's centre
    np.testing.assert_allclose(v.spectrum_panel.data.value, data[:, 62, 64], rtol=1e-6)
    assert v.spectrum_panel.sources["ranges"].data["left"] == [230.50]
    v.controls["region"].value = "box"
    (ox0, oy0), (ox1, oy1) = at[(50, 55)], at[(60, 66)]
    fig._trigger_event(SelectionGeometry(fig, geometry={"type": "rect", "x0": ox0, "y0": oy0, "x1": ox1, "y1": oy1}))
    expected = np.nansum(data[:, 55:67, 50:61], axis=(1, 2)) / beam_pix
    np.testing.assert_allclose(v.spectrum_panel.data.value, expected, rtol=1e-5)
    assert (v.spectrum_panel.data.units == "Jy").all()
    v.controls["region"].value = "circle"  # the circle inscribed in the box: centre (55, 60.5), radius 5
    fig._trigger_event(SelectionGeometry(fig, geometry={"type": "rect", "x0": ox0, "y0": oy0, "x1": ox1, "y1": oy1}))
    yy, xx = np.mgrid[0 : data.shape[1], 0 : data.shape[2]]
    inside = (xx - 55.0) ** 2 + (yy - 60.5) ** 2 <= 5.0**2
    np.testing.assert_allclose(v.spectrum_panel.data.value, np.nansum(data[:, inside], axis=1) / beam_pix, rtol=1e-5)
    direct = v.spectrum(circle=(55.0, 60.5, 5.0)).data.value  # the Python API gives the same
    np.testing.assert_allclose(direct, v.spectrum_panel.data.value)
    np.testing.assert_allclose(v.spectrum(box=(50, 55, 60, 66)).data.value, expected, rtol=1e-5)


def test_moment_widget_equals_moment_and_statistics(alma_eb):
    import almaview as av
    from almaview.plots.image import moment
    from almaview.widgets.image_viewer import ImageViewer

    path = alma_eb.images["cube_pbcor_fits"]
    v = ImageViewer(path, mask=alma_eb.images["cube_mask_fits"])
    v.widget()
    c = v.controls
    c["moment order"].value, c["moment channels"].value, c["nsigma"].value = 1, (20, 40), 4.0
    c["moment"].click()
    expected = moment(av.open_image(path), 1, channels=slice(20, 41), nsigma=4.0).compute().values
    got = v.moment_panel.data.value.values
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[np.isfinite(got)], expected[np.isfinite(expected)], rtol=1e-6)
    assert v.moment_panel.data.attrs["units"] == "km/s"
    _, _, beams = _cube(path)  # the map shows the beam of the range's middle channel
    assert v.moment_panel.sources["beam"].data["h"][0] == pytest.approx(float(beams["BMAJ"][30]), rel=1e-6)
    # Statistics of the shown channel: rms = MAD outside the clean mask, peak of the plane (astropy reads).
    data, _, _ = _cube(path)
    mask, _, _ = _cube(alma_eb.images["cube_mask_fits"])
    plane = data[v.channel]
    out = plane[(mask[v.channel] == 0) & np.isfinite(plane)]
    rms = 1.482602218505602 * np.median(np.abs(out - np.median(out)))
    s = v.statistics()
    assert s["rms"] == pytest.approx(rms, rel=1e-5)
    assert s["peak"] == pytest.approx(np.nanmax(plane), rel=1e-6)
    assert s["snr"] == pytest.approx(np.nanmax(plane) / rms, rel=1e-5)


def test_compare_widget_links_ranges_and_shares_mapper(alma_eb):
    from almaview.widgets.image_viewer import ImageViewer, compare

    im = alma_eb.images
    box = compare(im["cube_pbcor_fits"], im["cube_image_fits"])
    a, b = box.panel.layout.children
    assert a.x_range is b.x_range and a.y_range is b.y_range
    assert b.select_one({"name": "plane"}).glyph.color_mapper is a.select_one({"name": "mapper"})
    slider = box.children[0]
    assert slider.description == "channel"
    slider.value = 9
    flat, _, _ = _cube(im["cube_image_fits"])
    got = b.select_one({"name": "image"}).data["image"][0][:, ::-1]
    np.testing.assert_allclose(got, flat[9], rtol=1e-6, equal_nan=True)
    v = ImageViewer(im["cube_pbcor_fits"])
    other = v.compare(im["cube_image_fits"])
    assert len(other.panel.layout.children) == 2


def test_channel_steps_send_the_plane_first_whose_plane_is_the_file_s_and_prefetch_gives_the_same(alma_eb):
    """Play-like steps (prefetched planes) and a jump: each change goes to the page as two Bokeh PATCH-DOCs, the
    first with the colour limits then the plane (uint16 codes with their offset and scale: half the bytes of float32),
    sent before the kernel computes the rest, the second with the hover values and the title (never the plane again).
    The plane decodes to the channel's plane read with astropy within half a code step; the mapper's low/high stay
    out of both (the page's colour callback sets them); hover value/SNR and the limits follow the channel."""
    import json

    from astropy.io import fits

    from almaview.widgets.image_viewer import ImageViewer

    path = alma_eb.images["cube_image_fits"]
    with fits.open(path) as h:
        cube = np.asarray(h[0].data[0], dtype=np.float32)
    v = ImageViewer(path)
    v.widget()
    view, slider = v._bokeh_view, v.controls["channel"]
    sent = []
    view.send = lambda content, buffers=None: sent.append((content, buffers))
    for target in (4, 5, 6, 7, 2):  # 6 and 7 come from the prefetch of the step before
        sent.clear()
        if target in (6, 7):  # after a +1 step the next channel is being read ahead
            assert (v.mode, target) in v._prefetch
        slider.value = target
        starts = [i for i, (c, _) in enumerate(sent) if "payload" in c and '"msgtype"' in c["payload"]]
        assert [json.loads(sent[i][0]["payload"])["msgtype"] for i in starts] == ["PATCH-DOC"] * 2, starts
        first, second = (json.loads(sent[i + 2][0]["payload"])["events"] for i in starts)
        ids = {name: v.panel.sources[name].id for name in ("image", "limits", "hover")}
        order = [name for e in first for name, i in ids.items() if (e.get("model") or {}).get("id") == i]
        assert order == ["limits", "image"], order  # the page colours the plane with its own limits
        later = {name for e in second for name, i in ids.items() if (e.get("model") or {}).get("id") == i}
        assert later == {"hover"} and any(e.get("attr") == "text" for e in second), later
        for events in (first, second):
            changed = {(e.get("kind"), e.get("attr")) for e in events}
            assert ("ModelChanged", "low") not in changed and ("ModelChanged", "high") not in changed
        content = {"events": first}
        expected = cube[target]
        got, scale = _sent_plane(sent[: starts[1]], content, v.panel.sources["image"].id)
        got = got.reshape(expected.shape)[:, ::-1]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        finite = expected[np.isfinite(expected)]
        assert scale == pytest.approx((float(finite.max()) - float(finite.min())) / 65534, rel=1e-6)
        # uint16 codes: each value within half a code step (1/131068 of the plane's range) of the file's
        np.testing.assert_allclose(
            got[np.isfinite(got)], finite, rtol=0, atol=scale * 0.5 + 1e-6 * np.abs(finite).max()
        )
        hover = v.panel.sources["hover"].data
        hv = expected[np.asarray(hover["py"]), np.asarray(hover["px"])]
        np.testing.assert_array_equal(np.asarray(hover["value"])[np.isfinite(hv)], hv[np.isfinite(hv)])
        lim = v.panel.sources["limits"].data
        finite = expected[np.isfinite(expected)]
        assert lim["high"][lim["clip"].index(100.0)] == pytest.approx(float(finite.max()), rel=1e-6)
        rms = 1.482602218505602 * np.median(np.abs(finite - np.median(finite)))
        assert v.statistics()["rms"] == pytest.approx(float(rms), rel=1e-5)


def _sent_plane(sent: list, content: dict, model_id: str) -> tuple[np.ndarray, float]:
    """The plane a PATCH-DOC sent for the model ``model_id`` as uint16 codes with 'image_offset' and 'image_scale'
    (0 = blank, value = offset + (code - 1) * scale), decoded here with numpy; and the scale."""
    events = [e for e in content["events"] if (e.get("model") or {}).get("id") == model_id]
    entries = {}
    for e in events:
        data = e.get("data") or {}
        if data.get("type") == "map":
            entries.update({k: v for k, v in data["entries"]})
    (plane,) = entries["image"]
    assert plane["dtype"] == "uint16", plane["dtype"]
    codes = _sent_array(sent, content, model_id, dtype=np.uint16)
    offset, scale = float(entries["image_offset"][0]), float(entries["image_scale"][0])
    got = np.where(codes == 0, np.nan, offset + (codes.astype(np.float64) - 1) * scale).astype(np.float32)
    return got, scale


def _sent_array(sent: list, content: dict, model_id: str, dtype: type = np.float32) -> np.ndarray:
    """The array a PATCH-DOC sent for the model ``model_id``: its buffer, found by the ref in the event, or its bytes
    inline (base64 of a gzip stream, as BokehJS reads them: small arrays travel inside the content)."""
    import base64
    import gzip
    import json

    buffers, ref = {}, None
    for c, b in sent:
        if b:
            buffers[ref] = b[0]
        elif "payload" in c:
            try:
                ref = json.loads(c["payload"]).get("id")
            except (ValueError, AttributeError):
                ref = None
    ids, inline = [], []

    def refs(node):
        if isinstance(node, dict):
            if node.get("type") == "bytes" and isinstance(node.get("data"), dict) and "id" in node["data"]:
                ids.append(node["data"]["id"])
            elif node.get("type") == "bytes" and isinstance(node.get("data"), str):
                inline.append(gzip.decompress(base64.b64decode(node["data"])))
            for value in node.values():
                refs(value)
        elif isinstance(node, list):
            for value in node:
                refs(value)

    refs([e for e in content["events"] if (e.get("model") or {}).get("id") == model_id])
    found = [buffers[i] for i in ids if i in buffers] + inline
    assert len(found) == 1, (ids, list(buffers), len(inline))
    return np.frombuffer(found[0], dtype=dtype)


def test_play_shows_smaller_planes_and_the_full_plane_when_it_stops(alma_eb):
    """While Play runs the planes are decimated to play_pixels (astropy's every-other pixel here); the image keeps
    its extent, the hover its grid (nearest shown pixel); stopping shows the full plane again."""
    from astropy.io import fits

    from almaview.widgets.image_viewer import ImageViewer

    path = alma_eb.images["cube_image_fits"]
    with fits.open(path) as h:
        cube = np.asarray(h[0].data[0], dtype=np.float32)
    ny, nx = cube.shape[1:]
    v = ImageViewer(path, play_pixels=max(ny, nx) // 2)
    v.widget()
    src, hover = v.panel.sources["image"], v.panel.sources["hover"]
    extent = (src.data["x"][0], src.data["dw"][0], src.data["y"][0], src.data["dh"][0])
    v.controls["play"].playing = True
    v.controls["channel"].value = 9
    shown = src.data["image"][0][:, ::-1]
    np.testing.assert_array_equal(shown, cube[9, ::2, ::2])
    if nx % 2 == 0 and ny % 2 == 0:
        assert (src.data["x"][0], src.data["dw"][0], src.data["y"][0], src.data["dh"][0]) == pytest.approx(extent)
    px, py = np.asarray(hover.data["px"]), np.asarray(hover.data["py"])
    np.testing.assert_array_equal(np.asarray(hover.data["value"]), cube[9][(py // 2) * 2, (px // 2) * 2])
    v.controls["play"].playing = False
    np.testing.assert_array_equal(src.data["image"][0][:, ::-1], cube[9])
    np.testing.assert_array_equal(np.asarray(hover.data["value"]), cube[9][py, px])
    assert (src.data["x"][0], src.data["dw"][0], src.data["y"][0], src.data["dh"][0]) == pytest.approx(extent)


def test_figure_events_reach_the_kernel_from_the_page(alma_eb):
    """The page sends a Tap or SelectionGeometry to the kernel only when the figure subscribed to it in the
    document the page received (a subscription made after the BokehModel was built never reaches the page)."""
    import json

    from almaview.widgets.image_viewer import ImageViewer

    path = alma_eb.images["cube_pbcor_fits"]
    data, _, _ = _cube(path)
    v = ImageViewer(path)
    v.widget()
    bundle = json.loads(v._bokeh_view.get_state()["render_bundle"])
    (doc,) = bundle["docs_json"].values()
    fig_id = v.panel.layout.id
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("id") == fig_id and "attributes" in node:
                found.append(node["attributes"].get("subscribed_events", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert found, "the figure is not in the document sent to the page"
    events = json.dumps(found[0])
    assert '"tap"' in events and '"selectiongeometry"' in events, events
    # a spectrum is shown from the start (the centre pixel), and a later one updates the same figure in place
    first = v.spectrum_panel
    ny, nx = data.shape[1:]
    np.testing.assert_allclose(first.data.value, data[:, ny // 2, nx // 2], rtol=1e-6)
    src = first.sources["spectrum"]
    assert v.show_spectrum(x=10, y=12) is first and first.sources["spectrum"] is src
    np.testing.assert_allclose(src.data["value"], data[:, 12, 10], rtol=1e-6)
    assert "(10, 12)" in first.layout.title.text


def test_state_keys_drive_the_viewer_like_its_controls(alma_eb):
    """ImageViewer on AppBase: select(channel=, mode=) is one redraw (one plane sent: the plane's patch, then the
    rest's) and the controls follow;
    the control and the state are the same thing; bad values raise and change nothing."""
    import json

    import traitlets
    from astropy.io import fits

    from almaview.widgets.image_viewer import ImageViewer

    im = alma_eb.images
    v = ImageViewer(im["cube_pbcor_fits"], pb=im["cube_pb_fits"])
    assert v.state == {"channel": v.nchan // 2, "mode": "pbcor", "playing": False, "region": "pixel"}
    v.widget()
    sent = []
    v._bokeh_view.send = lambda content, buffers=None: sent.append(content)
    v.select(channel=3, mode="flat noise")
    headers = [json.loads(c["payload"]) for c in sent if "payload" in c and '"msgtype"' in c["payload"]]
    assert [h["msgtype"] for h in headers] == ["PATCH-DOC"] * 2
    planes = [c for c in sent if "payload" in c and '"uint16"' in c["payload"]]
    assert len(planes) == 1, planes
    assert (v.controls["channel"].value, v.controls["mode"].value) == (3, "flat noise")
    with fits.open(im["cube_pbcor_fits"]) as a, fits.open(im["cube_pb_fits"]) as b:
        expected = (np.asarray(a[0].data[0, 3], float) * np.asarray(b[0].data[0, 3], float)).astype(np.float32)
    got = v.panel.sources["image"].data["image"][0][:, ::-1]
    np.testing.assert_allclose(got[np.isfinite(got)], expected[np.isfinite(expected)], rtol=1e-5)
    v.controls["region"].value = "box"
    assert v.region == "box" and type(v.panel.layout.toolbar.active_drag).__name__ == "BoxSelectTool"
    with pytest.raises(traitlets.TraitError, match="channels 0"):
        v.select(channel=v.nchan)
    with pytest.raises(ValueError, match="channels 0"):
        v.set_channel(-1)
    assert v.channel == 3 and v.controls["label"].value == v.channel_label(3)


def test_patch_message_inlines_small_buffers_and_bokeh_reads_the_same_values():
    """A channel change's patch: the small arrays (hover values, SNR) inside the JSON content, the big one (the plane)
    as a binary buffer, so 3 + 2 comm messages instead of 3 + 2 x 3; Bokeh's own receiving side (the message
    reassembled from its wire fragments and applied to a copy of the document) gets the same arrays."""
    import json

    from bokeh.document import Document
    from bokeh.models import ColumnDataSource
    from bokeh.protocol.messages.patch_doc import patch_doc

    from almaview.widgets._bokeh import INLINE_BYTES, patch_message

    rng = np.random.default_rng(2)
    big = ColumnDataSource({"image": [np.zeros((512, 512), np.uint16)]}, name="big")
    small = ColumnDataSource({"value": np.zeros(4096, np.float32), "snr": np.zeros(4096, np.float32)}, name="small")
    doc = Document()
    doc.add_root(big)
    doc.add_root(small)
    copy = Document.from_json(doc.to_json())
    events = []
    doc.on_change(lambda e: events.append(e))
    plane = rng.integers(0, 65535, (512, 512)).astype(np.uint16)
    value, snr = rng.normal(size=4096).astype(np.float32), rng.normal(size=4096).astype(np.float32)
    doc.hold("combine")
    big.data["image"] = [plane]
    small.data.update(value=value, snr=snr)
    doc.unhold()
    assert plane.nbytes > INLINE_BYTES >= value.nbytes
    msg = patch_message(events)
    assert msg.header["num_buffers"] == 1 and len(msg.buffers) == 1  # only the plane travels as a buffer
    frames = [msg.header_json, msg.metadata_json, msg.content_json]
    frames += [x for b in msg.buffers for x in (json.dumps(b.ref), b.to_bytes())]
    assert len(frames) == 5  # Bokeh's own message: 3 + 2 x 3 = 9
    received = patch_doc.assemble(*frames[:3])
    received.assemble_buffer(json.loads(frames[3]), frames[4])
    received.apply_to_document(copy)
    got = {m.name: m for m in copy.roots}
    np.testing.assert_array_equal(np.asarray(got["big"].data["image"][0]).reshape(512, 512), plane)
    np.testing.assert_array_equal(np.asarray(got["small"].data["value"]), value)
    np.testing.assert_array_equal(np.asarray(got["small"].data["snr"]), snr)

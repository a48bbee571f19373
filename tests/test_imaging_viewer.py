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

"""One definition of an image's dynamic range (issue 14): peak / robust rms of the noise outside the clean mask, as
the ALMA pipeline's imaging heuristics take it. The viewer, the image statistics and the QA finding all give that
figure, checked against numpy/astropy on CASA-made images."""

from __future__ import annotations

import numpy as np
import pytest


def _fits(path):
    from astropy.io import fits

    with fits.open(path) as h:
        return np.squeeze(h[0].data.astype(np.float64))


def _peak_over_rms(plane: np.ndarray, mask: np.ndarray | None) -> float:
    from astropy.stats import mad_std

    noise = plane[np.isfinite(plane) & (True if mask is None else mask == 0)]
    return float(np.nanmax(plane) / mad_std(noise))


def test_viewer_dynamic_range_is_peak_over_rms_outside_the_mask(alma_eb):
    from almaview.analysis.statistics import DYNAMIC_RANGE_DEFINITION
    from almaview.widgets.image_viewer import ImageViewer

    path, mask_path = alma_eb.images["cube_pbcor_fits"], alma_eb.images["cube_mask_fits"]
    v = ImageViewer(path, mask=mask_path)
    v.widget()
    v.controls["channel"].value = 30
    expected = _peak_over_rms(_fits(path)[30], _fits(mask_path)[30])
    s = v.statistics()
    assert s["dynamic_range"] == pytest.approx(expected, rel=1e-5)
    assert s["dynamic_range"] == pytest.approx(s["snr"], rel=1e-12)  # the peak's SNR: the same figure
    assert "dynamic range (peak / rms)" in v._stats_html()
    assert "peak / rms" in DYNAMIC_RANGE_DEFINITION


def test_dynamic_range_of_image_statistics_equals_numpy(alma_eb):
    import almaview as av
    from almaview.analysis.statistics import dynamic_range

    path, mask_path = alma_eb.images["cont_pbcor_fits"], alma_eb.images["cont_mask_fits"]
    stats = av.image_statistics(av.open_image(path), mask=mask_path)
    expected = _peak_over_rms(_fits(path), _fits(mask_path))
    assert dynamic_range(stats.peak, stats.rms) == pytest.approx(expected, rel=1e-5)
    # a flat image has no noise: no dynamic range rather than a division by zero
    assert np.isnan(dynamic_range(1.0, 0.0)) and np.isnan(dynamic_range(1.0, float("nan")))

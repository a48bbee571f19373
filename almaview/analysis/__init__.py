"""Reductions between io and plots: what is computed from the data before anything is drawn.

This layer owns
- visibility averaging (:mod:`~almaview.analysis.visibilities`: :func:`reduce_visibilities`, plotms's vector
  averages vs time, frequency or uv distance, read by time slices with progress and cancellation);
- flag statistics (:mod:`~almaview.analysis.flagging`: :func:`flag_fractions`, :func:`fraction_by`);
- image planes, spectra, moments and beams (:mod:`~almaview.analysis.image`); several images at one sky position
  (:mod:`~almaview.analysis.sky_spectra`: pixels <-> world through each image's WCS, spectra at a position);
- small statistics used everywhere (:mod:`~almaview.analysis.statistics`: robust rms, colour limits, phase RMS);
- an EB's metadata reduced for its overview (:mod:`~almaview.analysis.overview`);
- calibration solutions in each table kind's own terms, as the weblog shows them
  (:mod:`~almaview.analysis.caltables`: Tsys in K, bandpass per channel, gains, delays in ns, phase RMS);
- spectral frames (:mod:`~almaview.analysis.frames`: cont.dat's LSRK ranges in an MS's frame);
- the spw nodes of almaview's trees and caltable trees with almaview 0.1's names renamed (:mod:`~almaview.analysis.trees`);
- single-dish spectra ON/OFF/calibrated, power vs time, pointing offsets (:mod:`~almaview.analysis.singledish`).

It takes what :mod:`almaview.io` opens (lazy xarray) and returns pandas/xarray/numpy; it imports no Bokeh and
no widgets. :mod:`almaview.plots` draws what it returns.

Examples
--------
>>> import almaview as av
>>> ds = av.open_ms("uid___A002_X1.ms")["spw_0"].ds                            # doctest: +SKIP
>>> t = av.analysis.reduce_visibilities(ds, x="time", intents=["BANDPASS"])    # doctest: +SKIP
>>> av.plots.amp_phase(t)                                                      # doctest: +SKIP
"""

from __future__ import annotations

from .._lazy import lazy_attributes

#: public name -> module (imported on first use: ``import almaview.analysis`` stays cheap)
_LAZY = {
    "reduce_visibilities": ".visibilities",
    "available_columns": ".visibilities",
    "select_times": ".visibilities",
    "select_baselines": ".visibilities",
    "X_AXES": ".visibilities",
    "calibrator_amplitudes": ".visibilities",
    "flag_fractions": ".flagging",
    "fraction_by": ".flagging",
    "read_plane": ".image",
    "plane_slice": ".image",
    "region_spectrum": ".image",
    "moment": ".image",
    "velocity_axis": ".image",
    "spectral_axis": ".image",
    "channel_beam": ".image",
    "pixel_scale_arcsec": ".image",
    "beam_area_pixels": ".image",
    "spectral_frame": ".image",
    "sky_position": ".sky_spectra",
    "sky_to_pixel": ".sky_spectra",
    "spectra_at": ".sky_spectra",
    "nearest_channel": ".sky_spectra",
    "robust_rms": ".statistics",
    "plane_limits": ".statistics",
    "plane_limits_and_rms": ".statistics",
    "phase_rms": ".statistics",
    "wrap_deg": ".statistics",
    "time_table": ".overview",
    "onsource_table": ".overview",
    "eb_facts": ".overview",
    "uv_points": ".overview",
    "elevation_table": ".overview",
    "baseline_counts": ".overview",
    "baseline_lengths": ".overview",
    "ms_spws": ".trees",
    "caltable_spws": ".trees",
    "current_names": ".trees",
    "scans_with_intent": ".overview",
    "tsys_spectra": ".caltables",
    "bandpass_solutions": ".caltables",
    "gain_solutions": ".caltables",
    "delay_solutions": ".caltables",
    "caltable_kind": ".caltables",
    "phase_rms_table": ".caltables",
    "solution_mode": ".caltables",
    "ranges_in_ms_frame": ".frames",
    "ms_frame": ".frames",
    "tp_mean_spectra": ".singledish",
    "tp_power_series": ".singledish",
    "tp_pointing_offsets": ".singledish",
    "spectrum_flatness": ".singledish",
    "binned_flatness": ".singledish",
    "flatness_bins": ".singledish",
    "tp_elevations": ".singledish",
    "on_off_elevation_difference": ".singledish",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

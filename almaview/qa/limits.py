"""The thresholds QA uses, each with where it comes from (ALMA's published figures, the pipeline, or almaview).

Every threshold is a field of :class:`Limits`; pass your own to :func:`almaview.qa.check`
to judge with different ones. :data:`SOURCES` says, per field, where the default comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

#: ALMA receiver bands: (band, low GHz, high GHz); band 2 overlaps band 3, band 3 wins there.
ALMA_BANDS = (
    (1, 35.0, 50.0),
    (3, 84.0, 116.0),
    (2, 67.0, 116.0),
    (4, 125.0, 163.0),
    (5, 163.0, 211.0),
    (6, 211.0, 275.0),
    (7, 275.0, 373.0),
    (8, 385.0, 500.0),
    (9, 602.0, 720.0),
    (10, 787.0, 950.0),
)

QA2_REQUIREMENTS = "ALMA Science Portal, 'What are the current QA2 requirements?' (Cycle 7 onwards)"
QA2_CYCLE1 = "ALMA Science Portal, QA2 criteria adopted for Cycles 1-2 (the less stringent tolerances)"
HANDBOOK_FLUX = "ALMA Technical Handbook: absolute flux accuracy 5% (bands 1-5), 10% (6-8), 20% (9-10)"
ALMAVIEW = "almaview default (configurable: almaview.qa.Limits)"


def alma_band(frequency_hz: float) -> int | None:
    """The ALMA band of a sky frequency, or None outside ALMA's bands.

    Examples
    --------
    >>> alma_band(230.5e9), alma_band(345e9), alma_band(1.4e9)
    (6, 7, None)
    """
    ghz = frequency_hz / 1e9
    for band, low, high in ALMA_BANDS:
        if low <= ghz <= high:
            return band
    return None


def rms_tolerance(band: int | None) -> tuple[float, float]:
    """(pass, relaxed) limits on achieved/requested rms for a band: QA2's tolerance and the Cycle 1-2 relaxed one.

    Examples
    --------
    >>> rms_tolerance(6), rms_tolerance(7), rms_tolerance(9)
    ((1.1, 1.4), (1.15, 1.5), (1.2, 1.6))
    """
    if band in (7, 8):
        return (1.15, 1.5)
    if band in (9, 10):
        return (1.2, 1.6)
    return (1.1, 1.4)


def flux_accuracy(band: int | None) -> float:
    """ALMA's stated absolute flux accuracy for a band (fraction).

    Examples
    --------
    >>> flux_accuracy(3), flux_accuracy(6), flux_accuracy(9)
    (0.05, 0.1, 0.2)
    """
    if band is None or band <= 5:
        return 0.05
    if band <= 8:
        return 0.10
    return 0.20


@dataclass(frozen=True)
class Limits:
    """Thresholds of every criterion: a figure beyond ``*_warn`` is a warning, beyond ``*_fail`` a failure.

    Examples
    --------
    >>> Limits().tsys_ratio_fail
    2.0
    >>> Limits(tsys_ratio_fail=3.0).tsys_ratio_fail
    3.0
    """

    #: antenna median Tsys / array median Tsys (per spw)
    tsys_ratio_warn: float = 1.5
    tsys_ratio_fail: float = 2.0
    #: in-scan RMS of the antenna-based phase solutions on the phase calibrator (deg)
    phase_rms_warn_deg: float = 30.0
    phase_rms_fail_deg: float = 50.0
    #: antenna phase RMS / array median phase RMS that makes an antenna an outlier (warning)
    phase_rms_outlier: float = 3.0
    #: fractional RMS of the amplitude solutions on the phase calibrator (across its scans)
    amp_rms_warn: float = 0.10
    amp_rms_fail: float = 0.20
    #: bracketing phase-calibrator interval of a target scan / typical cycle
    cadence_ratio_warn: float = 1.25
    cadence_ratio_fail: float = 1.5
    #: phase change between consecutive phase-calibrator scans (deg)
    phase_jump_warn_deg: float = 60.0
    phase_jump_fail_deg: float = 90.0
    #: bandpass solution SNR (median over channels, per antenna and spw)
    bandpass_snr_warn: float = 20.0
    bandpass_snr_fail: float = 3.0
    #: bandpass step (platforming, sub-band jump): fraction of the amplitude and multiple of the jump scatter
    bandpass_step_frac: float = 0.03
    bandpass_step_sigma: float = 8.0
    #: calibrator spectral index range that is physically sane
    spectral_index_min: float = -2.0
    spectral_index_max: float = 1.0
    #: beam area / requested beam area (circle of the README's beam size)
    beam_area_warn: float = 1.2
    beam_area_fail: float = 1.5
    #: the primary-beam level down to which image noise is measured
    image_pb_limit: float = 0.3
    #: most negative feature (in rms) beyond which, if also a fraction of the peak, it is an artefact
    negative_sigma_warn: float = 5.0
    negative_fraction_warn: float = 0.05
    #: peak / rms of the target below which it is not detected
    target_snr_warn: float = 5.0
    #: fraction flagged per antenna and spw
    flag_fraction_warn: float = 0.3
    flag_fraction_fail: float = 0.9
    #: fewest unflagged antennas (None: the README's configuration count, if it gives one)
    min_antennas: int | None = None
    #: Total Power: fraction of (antenna, spw) with an unflagged sky (OFF) solution
    sky_solved_warn: float = 1.0
    sky_solved_fail: float = 0.5
    #: Total Power: the pipeline's baseline-flatness score (1 = flat) at or below which it is a warning / a fail
    baseline_flat_warn: float = 0.9
    baseline_flat_fail: float = 0.66
    #: Total Power: Jy/K factors of 12 m antennas (bands 3-7 lie within this range) and their spread
    jyperk_min: float = 30.0
    jyperk_max: float = 65.0
    jyperk_spread_warn: float = 0.15

    def source(self, name: str) -> str:
        """Where the default of a threshold comes from."""
        return SOURCES.get(name, ALMAVIEW)

    def as_dict(self) -> dict[str, float | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


SOURCES = {
    "jyperk_min": "almaview default: ALMA 12 m Jy/K factors of bands 3-7 (about 35-60 Jy/K, the pipeline's "
    "Jy/K database)",
    "jyperk_max": "almaview default: ALMA 12 m Jy/K factors of bands 3-7 (about 35-60 Jy/K, the pipeline's "
    "Jy/K database)",
    "baseline_flat_warn": "ALMA pipeline hsd_baseline score_sd_baseline_quality: 'Moderate' at or below 0.9, "
    "'Poor' at or below 0.66",
    "baseline_flat_fail": "ALMA pipeline hsd_baseline score_sd_baseline_quality: 'Moderate' at or below 0.9, "
    "'Poor' at or below 0.66",
    "tsys_ratio_fail": "ALMA pipeline hifa_tsysflag 'nmedian' test: Tsys above 2x the median is flagged",
    "bandpass_snr_warn": "ALMA pipeline hifa_bandpass minbpsnr=20 (below it the pipeline smooths in frequency)",
    "bandpass_snr_fail": "CASA bandpass minsnr=3 (solutions below are flagged)",
    "beam_area_warn": QA2_CYCLE1,
    "beam_area_fail": QA2_CYCLE1,
}

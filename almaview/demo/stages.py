"""The pipeline stages of the demo's ``hifa_calimage`` run, with QA scores computed from what CASA produced.

The stage numbers agree with the caltable names (``s6`` Tsys, ``s8`` antpos,
``s13`` bandpass, ``s16`` fluxscale, ``s17`` time-dependent gains) and with the
imaging stages named in the products. Scores follow the pipeline's bands
(<=0.33 red, <=0.66 yellow, <=0.9 blue, else green) and every score carries
the metric it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: (number, task, description, QA topic)
STAGES: tuple[tuple[int, str, str, str], ...] = (
    (1, "hifa_importdata", "Register measurement sets with the pipeline", "Dataset"),
    (2, "hifa_flagdata", "ALMA deterministic flagging", "Flagging"),
    (3, "hifa_fluxcalflag", "Flag spectral features on solar system flux calibrators", "Flagging"),
    (4, "hif_rawflagchans", "Flag channels in raw data", "Flagging"),
    (5, "hif_refant", "Select reference antennas", "Calibration"),
    (6, "h_tsyscal", "Calculate Tsys calibration", "Calibration"),
    (7, "hifa_tsysflag", "Flag Tsys calibration", "Flagging"),
    (8, "hifa_antpos", "Correct for antenna position offsets", "Calibration"),
    (9, "hif_setmodels", "Set calibrator source models", "Calibration"),
    (10, "hifa_wvrgcalflag", "Generate a WVR calibration table (no WVR data: skipped)", "Calibration"),
    (11, "hif_lowgainflag", "Flag antennas with low gain", "Flagging"),
    (12, "hifa_bandpassflag", "Phase-up bandpass calibration + flagging", "Flagging"),
    (13, "hifa_bandpass", "Phase-up bandpass calibration", "Calibration"),
    (14, "hifa_spwphaseup", "Compute phase calibration spw map and per spw phase offsets", "Calibration"),
    (15, "hifa_gfluxscaleflag", "Phased-up flux scale calibration + flagging", "Flagging"),
    (16, "hifa_gfluxscale", "Transfer flux scale from flux calibrator", "Calibration"),
    (17, "hifa_timegaincal", "Gain calibration", "Calibration"),
    (18, "hifa_targetflag", "Flag target source outliers", "Flagging"),
    (19, "hif_applycal", "Apply calibrations from context", "Calibration"),
    (
        20,
        "hifa_imageprecheck",
        "Calculate the theoretical sensitivity and beam of the representative source",
        "Imaging",
    ),
    (21, "hif_makeimlist", "Set-up parameters for target continuum imaging", "Imaging"),
    (22, "hif_findcont", "Detect continuum frequency ranges", "Imaging"),
    (23, "hif_makeimages", "Make target continuum images", "Imaging"),
    (24, "hif_makeimlist", "Set-up parameters for target cube imaging", "Imaging"),
    (25, "hif_makeimages", "Make target cubes", "Imaging"),
    (26, "hifa_exportdata", "Prepare pipeline data products for export", "Dataset"),
)

#: stage numbers that hold plots
PLOT_STAGES = {"tsys": 6, "bandpass": 13, "fluxscale": 16, "gain": 17, "cont": 23, "cube": 25}
IMAGING_STAGES = {"cont": 23, "cube": 25}


@dataclass
class Metric:
    """One QA metric of a stage (as written in the AQUA report)."""

    name: str
    value: str
    score: float
    reason: str
    asdm: str = ""


@dataclass
class Stage:
    """One pipeline stage: number, task, description, QA score and reason, plots."""

    number: int
    task: str
    description: str
    topic: str
    metrics: list[Metric] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)  #: PNG names inside stage<N>/
    notes: list[str] = field(default_factory=list)  #: HTML paragraphs for the details page

    @property
    def score(self) -> float:
        return min((m.score for m in self.metrics), default=1.0)

    @property
    def reason(self) -> str:
        worst = min(self.metrics, key=lambda m: m.score, default=None)
        return worst.reason if worst else "No QA issues"


def score_band(score: float) -> str:
    """'error', 'warning', 'suboptimal' or 'optimal', as the pipeline colours scores.

    Examples
    --------
    >>> [score_band(s) for s in (0.2, 0.5, 0.8, 1.0)]
    ['error', 'warning', 'suboptimal', 'optimal']
    """
    if score <= 0.33:
        return "error"
    if score <= 0.66:
        return "warning"
    if score <= 0.9:
        return "suboptimal"
    return "optimal"


def make_stages(facts: dict) -> list[Stage]:
    """Build the stage list with metrics from measured ``facts`` (see almaview.demo.build).

    ``facts`` keys used: 'ebs' (list of dicts with uid, flagged_fraction,
    tsys_median_k, antpos_antennas, phase_rms_deg, n_antennas), 'fluxes' (list of
    (field, spw, flux, err)), 'images' (list of dicts with kind, rms_jy,
    beam_arcsec, proposed_rms_jy, proposed_beam_arcsec), 'refant', 'n_cont_ranges'.
    """
    stages = [Stage(n, task, desc, topic) for n, task, desc, topic in STAGES]
    by = {s.number: s for s in stages}
    # a metric goes to the stage of the task that measures it (looked up by task, so renumbering cannot move it)
    task = {t: by[n] for n, t, _, _ in reversed(STAGES)}  # a task run twice (hif_makeimages): its first stage
    ebs = facts["ebs"]
    for s in stages:
        s.metrics.append(Metric("QA", "ok", 1.0, "No QA issues"))
    for eb in ebs:
        uid = eb["uid"]
        by[1].metrics.append(Metric("MissingIntents", "0", 1.0, f"All required intents found in {uid}", uid))
        frac = eb["flagged_fraction"]
        by[2].metrics.append(
            Metric(
                "%HighestFlagged",
                f"{100 * frac:.2f}",
                1.0 if frac < 0.05 else 0.8,
                f"{100 * frac:.2f}% of {uid} flagged",
                uid,
            )
        )
        by[6].metrics.append(
            Metric(
                "TsysMedian",
                f"{eb['tsys_median_k']:.1f}",
                1.0,
                f"Median Tsys {eb['tsys_median_k']:.0f} K in {uid}",
                uid,
            )
        )
        n = len(eb["antpos_antennas"])
        task["hifa_antpos"].metrics.append(
            Metric(
                "NumCorrectedAntennas",
                str(n),
                0.9 if n else 1.0,
                f"Position corrections applied to {n} antenna(s) of {uid}: {', '.join(eb['antpos_antennas'])}"
                if n
                else f"No corrections for {uid}",
                uid,
            )
        )
        ph = eb["phase_rms_deg"]
        score = 1.0 if ph < 30 else (0.8 if ph < 50 else 0.5)
        by[17].metrics.append(
            Metric(
                "PhaseRms", f"{ph:.1f}", score, f"Phase calibrator phase rms {ph:.1f} deg (int solutions) in {uid}", uid
            )
        )
        by[4].metrics.append(Metric("NumFlaggedChannels", "0", 1.0, f"No channels flagged in {uid}", uid))
        by[7].metrics.append(Metric("NumTsysFlagged", "0", 1.0, f"No Tsys outliers in {uid}", uid))
    task["hif_refant"].metrics.append(Metric("RefAnt", facts["refant"], 1.0, f"Reference antenna {facts['refant']}"))
    for fld, spw, flux, err in facts["fluxes"]:
        snr = flux / err if err > 0 else float("inf")
        task["hifa_gfluxscale"].metrics.append(
            Metric("FluxSNR", f"{snr:.0f}", 1.0 if snr > 20 else 0.7, f"{fld} spw {spw}: {flux:.3f} +- {err:.3f} Jy")
        )
    by[22].metrics.append(
        Metric("ContinuumRanges", str(facts["n_cont_ranges"]), 1.0, f"{facts['n_cont_ranges']} continuum ranges found")
    )
    for im in facts["images"]:
        ratio = im["rms_jy"] / im["proposed_rms_jy"]
        score = 1.0 if ratio <= 1.0 else (0.8 if ratio <= 1.5 else 0.5)
        st = by[IMAGING_STAGES[im["kind"]]]
        st.metrics.append(
            Metric(
                "RmsRatio",
                f"{ratio:.2f}",
                score,
                f"{im['kind']}: rms {1e3 * im['rms_jy']:.3f} mJy/beam is {ratio:.2f} x the "
                f"requested {1e3 * im['proposed_rms_jy']:.2f} mJy/beam",
            )
        )
        bmaj = im["beam_arcsec"][0]
        if im["kind"] == "cont":
            req = im["proposed_beam_arcsec"]
            bscore = 1.0 if bmaj <= 1.2 * req else 0.85
            by[20].metrics.append(
                Metric(
                    "BeamRatio",
                    f"{bmaj / req:.2f}",
                    bscore,
                    f"Predicted beam {bmaj:.2f} arcsec vs requested {req:.2f} arcsec",
                )
            )
    for s in stages:  # drop the placeholder when real metrics exist
        if len(s.metrics) > 1:
            s.metrics = s.metrics[1:]
    return stages

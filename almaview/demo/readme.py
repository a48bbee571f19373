"""The member OUS README in ALMA's Cycle 6+ layout, with the achieved beam and rms measured on the images."""

from __future__ import annotations

from .project import PI_NAME, PIPELINE_VERSION, PROJECT, TITLE, MousPlan, uid_url

_HEAD = """\
ALMA Member ObsUnitSet README
=============================
A brief description of the main actions, categories and files of the ALMA data at the Member Observing Unit Set (OUS) level.


HOW TO
======
* Get the FITS products:
     Download and untar the product/*001_of_001.tar file or download files individually from the 'product' category

* Check the quality or processing of the data:
     Download and untar the auxiliary/*auxiliary.tar or download the qa/*.qa2_report.pdf and qa/*.weblog.tgz individually
     from the 'auxiliary' category

* Create the calibrated Measurement Sets (MS):
     1) Download and untar the *auxiliary.tar and *asdm.tar files
     2) Install the latest CASA software (or for manually reduced data the CASA version given below)
     3) Change into the 'script' subdirectory, and run 'casa --pipeline -c *scriptForPI.py'


DATA CATEGORIES
===============
* auxiliary                             calibration tables, scripts, logs and quality assurance reports

* product                               FITS products for science targets and calibrators (potentially incomplete)

* raw                                   uncalibrated raw data that were used to make the final products


FILES
=====
Depending on the type of data or processing, not all of the following files may be present.

Main science imaging products:

     product/*_sci*cont*pbcor.fits      primary beam corrected aggregate interferometric continuum images
     product/*_sci*cube*pbcor.fits      primary beam corrected interferometric spectral line cubes
     product/*pb.fits.gz                primary beam response of each product
     product/*mask.fits.gz              clean masks used to make each product

Quality assurance and processing:

     qa/*qa2_report.pdf                 QA2 report: the observations, achieved sensitivity and resolution
     qa/*weblog.tgz                     pipeline weblog (untar and open pipeline-*/html/index.html)
     qa/*aquareport.xml                 pipeline QA scores per stage and topic
     calibration/*caltables.tgz         calibration tables applied to the raw data
     calibration/*calapply.txt          how the calibration tables were applied, per EB
     calibration/*auxproducts.tgz       cont.dat (continuum ranges), flux.csv, antennapos.csv
     script/*scriptForPI.py             restores the calibrated MSs from raw/ and calibration/
     log/*casa_commands.log             the CASA task calls that were made
     calibrated/                        the calibrated MSs, restored by the PI
"""


def achieved_lines(
    field: str, kind: str, spw_tag: str, beam: tuple[float, float, float], rms_jy: float, channel_width_hz: float | None
) -> list[str]:
    """The 'Achieved beam' and 'Achieved rms' lines of one product.

    Examples
    --------
    >>> for line in achieved_lines("M100", "cube", "spw0", (1.234567, 0.98, 45.0), 0.0012345, 1.953e6):
    ...     print(line)
    Achieved beam (M100, cube spw0): 1.235 x 0.980 arcsec, PA 45.0 deg
    Achieved rms (M100, cube spw0): 1.2345 mJy/beam per 1953.000 kHz channel
    """
    per = f" per {channel_width_hz / 1e3:.3f} kHz channel" if channel_width_hz else ""
    return [
        f"Achieved beam ({field}, {kind} {spw_tag}): {beam[0]:.3f} x {beam[1]:.3f} arcsec, PA {beam[2]:.1f} deg",
        f"Achieved rms ({field}, {kind} {spw_tag}): {rms_jy * 1e3:.4f} mJy/beam{per}",
    ]


def readme_text(
    mous: MousPlan, *, casa_version: str, qa2: str, comments: list[str], achieved: list[str], pipeline: bool = True
) -> str:
    """The whole README text.

    Examples
    --------
    >>> from almaview.demo.project import ALMA
    >>> text = readme_text(ALMA, casa_version="6.7.0", qa2="PASS", comments=["fine"], achieved=[])
    >>> text.splitlines()[0]
    'ALMA Member ObsUnitSet README'
    >>> [line for line in text.splitlines() if line.startswith("Project code:")]
    ['Project code:                    2023.1.01234.S']
    """
    facts = [
        ("Project code", PROJECT),
        ("Member OUS", uid_url(mous.uid)),
        ("SB name", mous.sb_name),
        ("PI name", PI_NAME),
        ("Project title", TITLE),
        ("Configuration", mous.configuration),
        ("Proposed rms", mous.proposed_rms),
        ("Proposed beam size", mous.proposed_beam),
        ("CASA version used for reduction", casa_version),
        ("Pipeline version", PIPELINE_VERSION if pipeline else "none (manual calibration and imaging)"),
        (
            "Calibration and imaging",
            "pipeline" if pipeline else "manual (scriptForCalibration.py, scriptForImaging.py)",
        ),
        ("QA2 Result", qa2),
    ]
    width = max(len(k) for k, _ in facts) + 2
    lines = [
        _HEAD,
        "",
        "PROJECT DETAILS",
        "===============",
        *[f"{k + ':':<{width}}{v}" for k, v in facts],
        "",
        "",
        "COMMENTS FROM REDUCER",
        "=====================",
        *comments,
        "",
        "",
        "ACHIEVED SENSITIVITY AND RESOLUTION",
        "===================================",
        "(measured on the delivered images: rms outside the clean mask where the primary beam response is",
        " at least 0.2, in the image before primary beam correction)",
        *achieved,
        "",
    ]
    return "\n".join(lines)

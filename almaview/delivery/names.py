"""The vocabulary of ALMA package file names: one home for what each delivered file is.

Real packages name things differently by cycle, calibration route (pipeline or
manual) and array. The names below were learned from the pipeline's export
tasks (interferometric and single-dish), the archive's DataLink listings of real
packages (e.g. the Cycle 5 manual package 2017.1.01185.S whose listing
astroquery records in its test data) and ALMA's QA2 data-product notes:

========================  ==================================================================================
category                  examples (``<OUS>`` a member OUS uid, ``<EB>`` an execution block uid)
========================  ==================================================================================
readme                    ``member.<OUS>.README.txt``, ``README``
calapply                  ``<EB>.ms.calapply.txt``
auxcalapply               ``<EB>_target.ms.auxcalapply.txt`` (Cycles 5-7: the auxiliary caltables' applycal)
caltables_archive         ``<OUS>.session_1.caltables.tgz``, ``<OUS>.s1.caltables.tgz``, ``<EB>.calibration.tgz``
auxcaltables_archive      ``<OUS>.session_1.auxcaltables.tgz`` (Cycles 5-7)
calibration_plots         ``<EB>.calibration.plots.tgz`` (manual route)
flagversions              ``<EB>.ms.flagversions.tgz``
flag_template             ``<EB>.flagtemplate.txt``, ``.flagtsystemplate.txt``, ``.flagtargetstemplate.txt``
auxproducts_archive       ``<OUS>.hifa_calimage.auxproducts.tgz`` (cont.dat, flux.csv, antennapos.csv, ...)
cont.dat, flux.csv,       the auxiliary products, loose
antennapos.csv, jyperk    (``jyperk.csv``: the Jy/K factors of a Total Power delivery)
weblog_archive            ``<OUS>.hifa_calimage.weblog.tgz``, ``<OUS>.hsd_calimage.weblog.tgz``
manifest                  ``<OUS>.hifa_calimage.pipeline_manifest.xml`` (and ``...calimage.calimage.pipeline_...``)
aqua                      ``<OUS>.hifa_calimage.pipeline_aquareport.xml``
pprequest                 ``<OUS>.hifa_calimage.pprequest.xml``, ``PPR_<uid>.xml``
pipeline_record           ``*.timetracker.json``, ``*.selfcal.json``, ``pipeline_stats_<OUS>.json``,
                          ``PLDriver_report.xml`` / ``*.pldriver_report.xml``, ``applycalQA_outliers.txt``
image                     FITS products (see :mod:`almaview.delivery.products`), and CASA images in a
                          tgz (``...mfs.I.manual.mask.tgz``)
product_rename            ``member.<OUS>.calimage.product_rename.txt``
admit                     ADMIT products (North American added value): ``*.admit.tar.gz``, ``*_admit.zip``
log_archive               ``member.<OUS>.<EB>.log.tgz`` (per EB), ``member.<OUS>.Imaging.log.tgz``,
                          ``member.<OUS>.<project>_<OUS>.log.tgz``
casa_log, casa_commands   ``casa-<date>.log``, ``<OUS>.hifa_calimage.casa_commands.log``
qa0, qa2                  ``<EB>.qa0_report.pdf|html``, ``member.<OUS>.qa2_report.pdf|html``
qa2_part                  ``member.<OUS>.<EB>__qa2_part1.png``, ``member.<OUS>.<EB>__textfile.txt``
script_pi, pipescript,    ``member.<OUS>.scriptForPI.py``, ``<OUS>.hifa_calimage.casa_pipescript.py``,
restorescript, script_cal ``<OUS>.hifa_calimage.casa_piperestorescript.py``, ``<EB>.ms.scriptForCalibration.py``,
script_imaging            ``scriptForFluxCalibration.py``, ``scriptForPolCalibration.py``,
                          ``scriptForSDcalibration.py``, ``member.<OUS>.scriptForImaging.py``, ``...ImagingPrep.py``
========================  ==================================================================================

Anything else is ``unknown``, with the reason (:func:`classify_file` returns it).
Every pattern here is a plain suffix/substring test or an anchored regular
expression without nested repetition, so classifying is linear in the name.

Examples
--------
>>> classify_file("uid___A002_Xd28a9e_X71b8.calibration.plots.tgz", "calibration").category
'calibration_plots'
>>> classify_file("member.uid___A001_X12a3_Xe9.uid___A002_Xd28a9e_X71b8__qa2_part1.png", "qa").category
'qa2_part'
>>> classify_file("notes.docx", "misc")
FileKind(category='unknown', reason="'notes.docx' in misc/ matches no ALMA delivery name (README, calibration, product, QA, script or log file)")
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["FileKind", "classify_file", "is_archive_name", "ARCHIVE_SUFFIXES", "CATEGORIES", "MODELLED"]

ARCHIVE_SUFFIXES = (".tgz", ".tar.gz", ".tar", ".zip", ".tar.bz2", ".tbz2")

_EB = re.compile(r"uid___a002_x[0-9a-f]+_x[0-9a-f]+")
_QA2_PART = re.compile(r"__(qa2_part\d+\.png|textfile\.txt)$")
_LOG_ARCHIVE = re.compile(r"\.log\.(tgz|tar\.gz|tar)$")


class FileKind(NamedTuple):
    """What a delivered file is: its ``category`` and, for ``unknown``, the ``reason``."""

    category: str
    reason: str = ""


#: every category :func:`classify_file` can return, with what it means (for listings and docs)
CATEGORIES = {
    "readme": "the member OUS README",
    "calapply": "applycal instructions of one EB (pipeline)",
    "auxcalapply": "applycal instructions of the auxiliary caltables (Cycles 5-7)",
    "caltables_archive": "calibration tables (tgz)",
    "auxcaltables_archive": "auxiliary calibration tables (tgz, Cycles 5-7)",
    "calibration_plots": "calibration plots of the manual route (tgz)",
    "flagversions": "saved flag versions of one EB",
    "flag_template": "flag commands (flagdata list mode) of one EB",
    "auxproducts_archive": "auxiliary products (cont.dat, flux.csv, antennapos.csv, ...) in a tgz",
    "cont.dat": "line-free frequency ranges per field and spw",
    "flux.csv": "calibrator flux densities",
    "antennapos.csv": "antenna position corrections",
    "jyperk": "Jy/K conversion factors (Total Power)",
    "weblog_archive": "the pipeline weblog (tgz)",
    "manifest": "the pipeline manifest",
    "aqua": "the pipeline's AQUA QA report (XML)",
    "pprequest": "the pipeline processing request",
    "pipeline_record": "a pipeline record (time tracker, self-calibration, statistics, PL driver, QA settings)",
    "image": "an image product (FITS, or a CASA image in a tgz)",
    "product_rename": "the list of product renames made at delivery",
    "admit": "ADMIT products (North American added value)",
    "product_other": "another file in product/",
    "log_archive": "CASA logs of one EB, of imaging, or of the whole OUS (tgz)",
    "casa_log": "a CASA log",
    "casa_commands": "the CASA commands the pipeline ran",
    "qa0": "QA0 report of one EB",
    "qa2": "the QA2 report",
    "qa2_part": "a part of the QA2 report (plots, text) of one EB",
    "script_pi": "scriptForPI.py: rebuilds the calibrated MSs",
    "pipescript": "the pipeline script",
    "restorescript": "the pipeline restore script",
    "script_cal": "a manual calibration script",
    "script_imaging": "a manual imaging script",
    "script_other": "another script",
    "unknown": "not an ALMA delivery name",
}

#: categories that the delivery model reads into fields of its own; the rest are listed by category
MODELLED = frozenset(
    {
        "readme",
        "calapply",
        "caltables_archive",
        "auxcaltables_archive",
        "flagversions",
        "flag_template",
        "auxproducts_archive",
        "cont.dat",
        "flux.csv",
        "antennapos.csv",
        "weblog_archive",
        "manifest",
        "aqua",
        "image",
        "product_other",
        "casa_log",
        "casa_commands",
        "qa0",
        "qa2",
        "script_pi",
        "pipescript",
        "restorescript",
        "script_cal",
        "script_imaging",
        "script_other",
        "unknown",
    }
)


def is_archive_name(name: str) -> bool:
    """True for the archive file names packages use (tgz, tar, tar.gz, zip, tar.bz2).

    Examples
    --------
    >>> is_archive_name("x.caltables.tgz"), is_archive_name("x.fits.gz")
    (True, False)
    """
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _archive_kind(n: str, folder: str) -> FileKind | None:
    if "weblog" in n:
        return FileKind("weblog_archive")
    if "admit" in n:
        return FileKind("admit")
    if "auxproducts" in n or "aux_products" in n:
        return FileKind("auxproducts_archive")
    if "auxcaltables" in n:
        return FileKind("auxcaltables_archive")
    if "flagversions" in n:
        return FileKind("flagversions")
    if ".calibration.plots." in n or n.endswith(("_plots.tgz", ".plots.tgz")):
        return FileKind("calibration_plots")
    if _LOG_ARCHIVE.search(n):
        return FileKind("log_archive")
    if "caltables" in n or ".calibration." in n or n.endswith((".calibration.tgz", "_calibration.tgz")):
        return FileKind("caltables_archive")
    # CASA images tarred into the product folder: ...mfs.I.manual.mask.tgz, ...cube.I.pb.tgz
    stem = n
    for suffix in ARCHIVE_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if stem.rsplit(".", 1)[-1] in _IMAGE_TYPE_TOKENS and (folder == "product" or ".spw" in stem):
        return FileKind("image")
    if folder == "calibration":
        return FileKind("caltables_archive")
    if folder == "product":
        return FileKind("product_other")
    return None


# the last token of a CASA image (directory) name, when tarred
_IMAGE_TYPE_TOKENS = {
    "image",
    "pbcor",
    "pb",
    "mask",
    "residual",
    "model",
    "psf",
    "sumwt",
    "weight",
    "alpha",
    "error",
    "tt0",
    "tt1",
    "tt2",
}


def classify_file(name: str, folder: str = "") -> FileKind:
    """Say what a delivered file (not a CASA table directory) is, from its name and top-level folder.

    ``folder`` is the member OUS sub-folder it sits in (``calibration``, ``product``,
    ``qa``, ``script``, ``log``, ``raw``, ``calibrated``; empty at the member's top).

    Examples
    --------
    >>> classify_file("uid___A001_X3621_X3d68.s1.caltables.tgz", "calibration").category
    'caltables_archive'
    >>> classify_file("member.uid___A001_X12a3_Xe9.Imaging.log.tgz", "log").category
    'log_archive'
    >>> classify_file("member.uid___A001_X12a3_Xe9.calimage.product_rename.txt", "qa").category
    'product_rename'
    >>> classify_file("uid___A001_X3788_X7af3.hifa_calimage.pprequest.xml", "script").category
    'pprequest'
    """
    n = name.lower()
    folder = folder.lower()
    if n.startswith("readme") or n.endswith(("readme.txt", ".readme", ".readme.txt")):
        return FileKind("readme")
    if n.endswith(".auxcalapply.txt"):
        return FileKind("auxcalapply")
    if n.endswith(".calapply.txt"):
        return FileKind("calapply")
    if n.endswith((".fits", ".fits.gz", ".fit", ".fits.fz")):
        return FileKind("image")
    if is_archive_name(n):
        kind = _archive_kind(n, folder)
        if kind is not None:
            return kind
        return FileKind(
            "unknown",
            f"{name!r} in {folder or 'the member'}/ is an archive whose name says neither "
            "calibration, weblog, products nor logs",
        )
    if _QA2_PART.search(n):
        return FileKind("qa2_part")
    if "product_rename" in n:
        return FileKind("product_rename")
    if "flag" in n and "template" in n:
        return FileKind("flag_template")
    if n.endswith(".xml"):
        if "pipeline_manifest" in n:
            return FileKind("manifest")
        if "aquareport" in n:
            return FileKind("aqua")
        if n.endswith(".pprequest.xml") or n.startswith("ppr_") or n.startswith("ppr-"):
            return FileKind("pprequest")
        if "pldriver_report" in n:
            return FileKind("pipeline_record")
    if n.endswith(".json") and ("timetracker" in n or "selfcal" in n or "pipeline_stats" in n):
        return FileKind("pipeline_record")
    if n == "applycalqa_outliers.txt" or n.endswith(".applycalqa_outliers.txt"):
        return FileKind("pipeline_record")
    if n == "cont.dat" or n.endswith((".cont.dat", "_cont.dat")):
        return FileKind("cont.dat")
    if n.endswith("flux.csv"):
        return FileKind("flux.csv")
    if n.endswith("antennapos.csv"):
        return FileKind("antennapos.csv")
    if n.startswith("jyperk") or ".jyperk" in n or "_jyperk" in n:
        return FileKind("jyperk")
    if "qa0_report" in n or ("qa0" in n and n.endswith((".pdf", ".html", ".htm", ".txt"))):
        return FileKind("qa0")
    if "qa2" in n and n.endswith((".pdf", ".html", ".htm", ".txt")):
        return FileKind("qa2")
    if "scriptforpi" in n:
        return FileKind("script_pi")
    if "casa_piperestorescript" in n:
        return FileKind("restorescript")
    if "casa_pipescript" in n:
        return FileKind("pipescript")
    if "scriptfor" in n and "calibration" in n and n.endswith(".py"):
        return FileKind("script_cal")
    if "scriptforimaging" in n:
        return FileKind("script_imaging")
    if "casa_commands" in n:
        return FileKind("casa_commands")
    if n.endswith(".log") and ("casa" in n or folder == "log"):
        return FileKind("casa_log")
    if n.endswith(".py") and folder in ("script", "log"):
        return FileKind("script_other")
    if folder == "product":
        return FileKind("product_other")
    return FileKind(
        "unknown",
        f"{name!r} in {folder + '/' if folder else 'the member OUS'} matches no ALMA "
        "delivery name (README, calibration, product, QA, script or log file)",
    )


def eb_of(name: str) -> str | None:
    """The EB uid a file name carries (``uid___A002_...``), if any.

    Examples
    --------
    >>> eb_of("member.uid___A001_X12a3_Xe9.uid___A002_Xd28a9e_X71b8.log.tgz")
    'uid___A002_Xd28a9e_X71b8'
    """
    m = _EB.search(name.lower())
    if m is None:
        return None
    return name[m.start() : m.end()]

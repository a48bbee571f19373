"""The pipeline's QA products of one member OUS: the weblog archive, the AQUA report and the manifest.

One home for every pipeline-processed member of the demo: the 12-m and 7-m members (``hifa_calimage``) and the
Total Power member (``hsd_calimage``, its stages from :func:`sd_stages`). Plots are drawn by the caller into
``<html>/stage<N>/`` before :func:`package_pipeline_qa` writes the pages around them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import aqua, weblog
from ..sampledata.singledish import HSD_STAGES  # noqa: F401  (one home: the recipe names its tables by them)
from .calibration import caltable_archive_name
from .project import RECIPE
from .stages import Metric, Stage
from .tree import write_tgz

#: The single-dish pipeline's recipe (the TP member's weblog, AQUA, manifest and auxproducts names)
SD_RECIPE = "hsd_calimage"

#: Stage numbers of the TP weblog that hold plots
SD_PLOT_STAGES = {"tsys": 3, "cube": 13}
#: Jy/K factors of a 12 m antenna in band 6 that the single-dish QA accepts (median 43 Jy/K, +-20 %)
JYPERK_RANGE = (34.0, 52.0)


def sd_stages(
    *, eb: str, tsys_median_k: float, jy_per_k: list[float], off_rows: int, cube_rms_jy: float
) -> list[Stage]:
    """The TP member's stages with metrics measured on what CASA produced: Tsys, the sky (OFF) table, the Jy/K
    factors against :data:`JYPERK_RANGE`, the cube's rms.

    Examples
    --------
    >>> st = sd_stages(eb="uid___A002_X1_X2", tsys_median_k=80, jy_per_k=[43.0, 60.0], off_rows=10, cube_rms_jy=0.05)
    >>> [(s.task, s.score) for s in st if s.score < 1]
    [('hsd_k2jycal', 0.5)]
    """
    stages = [Stage(n, task, desc, topic) for n, (task, desc, topic) in enumerate(HSD_STAGES, start=1)]
    by = {s.task: s for s in stages}
    by["hsd_importdata"].metrics.append(Metric("MissingIntents", "0", 1.0, f"All required intents found in {eb}", eb))
    by["h_tsyscal"].metrics.append(
        Metric("TsysMedian", f"{tsys_median_k:.1f}", 1.0, f"Median Tsys {tsys_median_k:.0f} K in {eb}", eb)
    )
    by["hsd_skycal"].metrics.append(
        Metric("SkyRows", str(off_rows), 1.0 if off_rows else 0.0, f"{off_rows} OFF-source sky spectra in {eb}", eb)
    )
    lo, hi = JYPERK_RANGE
    out = [f for f in jy_per_k if not lo <= f <= hi]
    by["hsd_k2jycal"].metrics.append(
        Metric(
            "JyPerK",
            f"{np.median(jy_per_k):.1f}",
            0.5 if out else 1.0,
            f"{len(out)} Jy/K factor(s) outside {lo:g}-{hi:g} Jy/K" if out else f"All Jy/K factors in {lo:g}-{hi:g}",
            eb,
        )
    )
    by["hsd_imaging"].metrics.append(
        Metric("ImageRms", f"{1e3 * cube_rms_jy:.1f}", 1.0, f"cube rms {1e3 * cube_rms_jy:.1f} mJy/beam")
    )
    for s in stages:
        if not s.metrics:
            s.metrics.append(Metric("QA", "ok", 1.0, "No QA issues"))
    return stages


def member_session(eb: str, mous: str) -> dict:
    """The manifest's ``session_1`` of a one-EB member OUS: its caltables archive and calapply file, no auxiliary
    tables, flag versions or templates (the 7-m and TP members of the demo).

    Examples
    --------
    >>> s = member_session("uid___A002_X1_X2", "uid___A001_X1_X3")
    >>> s["name"], s["calapply"], s["flagtemplates"]
    ('session_1', 'uid___A002_X1_X2.ms.calapply.txt', [])
    """
    return dict(
        name="session_1",
        eb=eb,
        caltables=caltable_archive_name(mous, 1, aux=False),
        auxcaltables="",
        flagversions="",
        calapply=f"{eb}.ms.calapply.txt",
        flagtemplates=[],
    )


def package_pipeline_qa(
    dirs: dict[str, Path],
    idx,
    mous: str,
    stages: list[Stage],
    *,
    ebs: list[dict],
    casa_version: str,
    wl_root: Path,
    sessions: list[dict],
    files: dict[str, list[str]],
    duration_s: float,
    recipe: str = RECIPE,
) -> str:
    """Write the weblog pages under ``wl_root`` (plots already in its ``stage<N>/``), archive them as
    ``qa/<OUS>.<recipe>.weblog.tgz``, and write ``qa/<OUS>.<recipe>.pipeline_aquareport.xml`` and
    ``calibration/<OUS>.<recipe>.pipeline_manifest.xml`` (listing ``files`` besides the three above).
    Returns the weblog archive's name.

    Examples
    --------
    >>> package_pipeline_qa(d, idx, ACA.uid, stages, ebs=eb_facts, casa_version="6.7", wl_root=work / "weblog",
    ...                     sessions=sessions, files={}, duration_s=3600)   # doctest: +SKIP
    'uid___A001_X3571_X8b.hifa_calimage.weblog.tgz'
    """
    weblog.write_weblog(wl_root, stages, mous=mous, ebs=ebs, casa_version=casa_version, recipe=recipe)
    wl_name = f"{mous}.{recipe}.weblog.tgz"
    top = wl_root / weblog.weblog_dirname()
    members = write_tgz(dirs["qa"] / wl_name, [(top.name, top)])
    idx.add(
        dirs["qa"] / wl_name,
        "weblog_archive",
        mous=mous,
        members=sorted({m.split("/")[2] for m in members if m.count("/") >= 3 and "/stage" in m}),
    )
    aqua_name = f"{mous}.{recipe}.pipeline_aquareport.xml"
    idx.write_text(
        dirs["qa"] / aqua_name,
        aqua.aqua_xml(stages, mous=mous, casa_version=casa_version, duration_s=duration_s, recipe=recipe),
        "aqua",
        mous=mous,
    )
    listed = {"weblog": [wl_name], "aquareport": [aqua_name], "casa_commands": [f"{mous}.{recipe}.casa_commands.log"]}
    idx.write_text(
        dirs["calibration"] / f"{mous}.{recipe}.pipeline_manifest.xml",
        aqua.manifest_xml(mous=mous, sessions=sessions, casa_version=casa_version, files=listed | files, recipe=recipe),
        "manifest",
        mous=mous,
    )
    return wl_name

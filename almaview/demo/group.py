"""The demo group's 7-m (ACA) and Total Power member OUSs, packaged beside the 12-m one.

- ``uid___A001_X3571_X8b`` (7-m): one ACA EB simulated with the ACA configuration
  (``aca.cycle10.cfg``, CM antennas, a 7 m dish's Jy/K), calibrated like the 12-m
  EBs and imaged by tclean (continuum and cube).
- ``uid___A001_X3571_X8c`` (TP): one Total Power EB (PM antennas, FLOAT_DATA,
  ON/OFF raster; :mod:`almaview.sampledata.singledish`) calibrated with ``sdcal``
  (Tsys, position-switch sky) and Jy/K factors, baseline-subtracted and imaged
  by ``tsdimaging``; products named ``*.cube.I.sd.fits`` as the single-dish
  pipeline names them, the Jy/K factors in ``jyperk.csv``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from . import calibration, readme, scripts, weblog
from .imaging import export_fits, export_products
from .pipeline_qa import HSD_STAGES, SD_PLOT_STAGES, SD_RECIPE, member_session, package_pipeline_qa, sd_stages
from .project import ACA, RECIPE, TP
from .stages import PLOT_STAGES, make_stages
from .qa2report import write_qa2_report
from .tree import Index, member_dirs, move, write_tgz


def build_aca_eb(outdir: Path, *, seed: int, eb_uid: str, mous: str, reference_time: str, n_antennas: int = 10):
    """A 7-m EB: :func:`almaview.sampledata.build_alma_eb` with the ACA configuration (``aca.cycle10.cfg``), CM
    antenna names and a 7 m dish's Jy/K (noise (12/7)^2 times the 12 m one), run in this process (the demo's child).

    The 12-m recipe (:mod:`almaview.sampledata.simulate`) stays as it is; its antenna names and Jy/K are swapped
    for this build only.
    """
    from .. import sampledata
    from ..sampledata import simulate

    saved = simulate._ANTENNA_NAMES, simulate._K_JY_PER_K
    simulate._ANTENNA_NAMES = [f"CM{k:02d}" for k in range(1, 13)]
    simulate._K_JY_PER_K = saved[1] * (12 / 7) ** 2
    try:
        return sampledata.build_alma_eb(
            outdir,
            seed=seed,
            eb_uid=eb_uid,
            mous=mous,
            image=False,
            progress=False,
            reference_time=reference_time,
            config="aca.cycle10.cfg",
            n_antennas=n_antennas,
            isolate=False,
        )
    finally:
        simulate._ANTENNA_NAMES, simulate._K_JY_PER_K = saved


def _eb_times(ms: Path, eb: str) -> dict:
    """uid, start, end (ISO, from OBSERVATION.TIME_RANGE) and the number of antennas of an MS."""
    from datetime import datetime, timedelta

    from casacore import tables

    with tables.table(str(ms / "OBSERVATION"), ack=False) as t:
        t0, t1 = t.getcell("TIME_RANGE", 0)
    with tables.table(str(ms / "ANTENNA"), ack=False) as t:
        n = t.nrows()
    iso = lambda s: (datetime(1858, 11, 17) + timedelta(seconds=float(s))).isoformat(timespec="seconds")  # noqa: E731
    return dict(uid=eb, start=iso(t0), end=iso(t1), n_antennas=n)


def package_aca(
    project: Path,
    idx: Index,
    sample,
    products,
    *,
    target: str,
    casa_version: str,
    date: str,
    keep_work: bool,
    work: Path,
) -> None:
    """The 7-m member OUS: raw ASDM, caltables, calapply, FITS products, weblog, AQUA report, manifest,
    casa_commands.log, scriptForPI, README, calibrated MS."""
    plan = ACA.ebs[0]
    eb, mous = plan.uid, ACA.uid
    d = member_dirs(project, ACA)
    applied = [sample.caltables[r] for r in calibration.APPLIED_ROLES]
    name = calibration.caltable_archive_name(mous, 1, aux=False)
    write_tgz(d["calibration"] / name, [(p.name, p) for p in applied])
    idx.add(d["calibration"] / name, "caltables_archive", mous=mous, eb=eb, members=[p.name for p in applied])
    idx.write_text(
        d["calibration"] / f"{eb}.ms.calapply.txt",
        calibration.calapply_text(eb, mous, sample.calapply, sorted(sample.spws), len(sample.antennas)),
        "calapply",
        mous=mous,
        eb=eb,
    )
    images, _ = export_products(products, d["product"], idx, project, mous, date)
    for im in images:  # what the 7-m SB asked for (project.ACA)
        im.update(proposed_rms_jy=30e-3 if im["kind"] == "cube" else 2e-3, proposed_beam_arcsec=6.0)
    _aca_pipeline_products(
        d, idx, project, sample, products, images, target=target, casa_version=casa_version, work=work
    )
    achieved = []
    for p in products:
        achieved += readme.achieved_lines(p.field, p.kind, p.spw_tag, p.beam_arcsec, p.rms_jy, p.channel_width_hz)
    idx.write_text(
        d["script"] / f"member.{mous}.scriptForPI.py",
        scripts.script_for_pi(mous, [eb], pipeline=True),
        "script_pi",
        mous=mous,
    )
    comments = [
        "The 7-m (ACA) member OUS of the almaview demo group: one EB simulated with CASA's simulator (ACA",
        "configuration aca.cycle10.cfg, 10 CM antennas of 7 m), corrupted with known gains, bandpasses and Tsys,",
        "calibrated and imaged with casatasks like the 12-m EBs; the weblog and AQUA report in qa/ were written by",
        f"almaview.demo. raw/ holds the EB's ASDM (exportasdm); the calibrated MS is calibrated/{eb}.ms.",
    ]
    _member_documents(
        d, idx, ACA, eb, sample.ms, comments, achieved, casa_version, keep_work,
        calibration="pipeline steps (hifa_calimage order) run with casatasks",
    )  # fmt: skip
    idx.facts[mous] = dict(
        kind="aca",
        array="7m",
        ebs=[eb],
        target=target,
        images=images,
        antennas=list(sample.antennas),
        caltables={eb: sorted(t.name for t in sample.caltables.values())},
    )


def _aca_pipeline_products(d, idx, project, sample, products, images, *, target, casa_version, work) -> None:
    """The 7-m member's raw ASDM (exportasdm), weblog, AQUA report, manifest and casa_commands.log, as the 12-m's."""
    from .. import casa
    from .assemble import _ms_facts, _relative, _stamp_asdm

    eb, mous = ACA.ebs[0].uid, ACA.uid
    phase_cal = next(f for f, intent in sample.fields.items() if intent.startswith("CALIBRATE_PHASE"))
    facts = dict(uid=eb, **_ms_facts(sample.ms, sample.caltables, sample.antennas, phase_cal))
    asdm = d["raw"] / f"{eb}.asdm.sdm"
    casa.casatasks().exportasdm(vis=str(sample.ms), asdm=str(asdm), datacolumn="data", verbose=False)
    _stamp_asdm(asdm, eb, facts["end"])
    idx.add(asdm, "raw_asdm", mous=mous, eb=eb)
    field_id = facts["fields"].index(target)
    cont_dat = calibration.cont_dat_text(
        target,
        calibration.spw_lsrk_edges(sample.ms, field_id, sorted(sample.spws)),
        calibration.line_lsrk_hz(sample.ms, field_id, min(sample.spws)),
    )
    results = calibration.fluxscale_results(eb, sample.fluxscale)
    stages = make_stages(
        dict(
            ebs=[facts],
            fluxes=[(f, spw, fl, err) for _, f, spw, _, fl, err in results],
            images=images,
            refant=sample.refant,
            n_cont_ranges=sum(1 for line in cont_dat.splitlines() if "GHz" in line),
        )
    )
    wl_root = work / "weblog_7m"
    html = wl_root / weblog.weblog_dirname() / "html"
    plots = {
        PLOT_STAGES["tsys"]: [weblog.plot_tsys(sample.caltables["tsys"], eb, weblog.stage_dir(html, "tsys"))],
        PLOT_STAGES["bandpass"]: [
            weblog.plot_bandpass(sample.caltables["bandpass"], eb, weblog.stage_dir(html, "bandpass"))
        ],
        PLOT_STAGES["gain"]: [weblog.plot_gain_phase(sample.caltables["phase"], eb, weblog.stage_dir(html, "gain"))],
        PLOT_STAGES["fluxscale"]: [
            weblog.plot_fluxes(
                [(e, f, nu, fl, err) for e, f, _, nu, fl, err in results], weblog.stage_dir(html, "fluxscale")
            )
        ],
    }
    for p, im in zip(products, images):
        plots[PLOT_STAGES[p.kind]] = [
            weblog.plot_image(
                project / im["fits"]["pbcor"],
                project / im["fits"]["mask"],
                f"{p.field} {p.kind} {p.spw_tag} (7-m)",
                weblog.stage_dir(html, p.kind),
                f"{p.fits_stem(mous)}.png",
            )
        ]
    for s in stages:
        s.plots = plots.get(s.number, [])
    package_pipeline_qa(
        d,
        idx,
        mous,
        stages,
        ebs=[facts],
        casa_version=casa_version,
        wl_root=wl_root,
        sessions=[member_session(eb, mous)],
        files={},
        duration_s=2 * 3600 + 611,
    )
    sections = scripts.calibration_calls(
        eb,
        {k: p.name for k, p in sample.caltables.items()},
        sample.fields,
        sample.calapply,
        sample.refant,
        sample.fluxscale,
    ) + [("hif_makeimages", [("tclean", _relative(p.call, work))]) for p in products]
    idx.write_text(
        d["log"] / f"{mous}.{RECIPE}.casa_commands.log", scripts.casa_commands_log(sections), "casa_commands", mous=mous
    )


def _tp_pipeline_products(d, idx, tp, images, *, casa_version, work) -> None:
    """The TP member's weblog (hsd_calimage stages, Tsys plot) and AQUA report and manifest."""
    from casacore import tables

    eb, mous = TP.ebs[0].uid, TP.uid
    with tables.table(str(tp.caltables["tsys"]), ack=False) as t:  # spws of 240 and 64 channels: cell by cell
        tsys_median = float(np.median(np.concatenate([np.ravel(t.getcell("FPARAM", r)) for r in range(t.nrows())])))
    with tables.table(str(tp.caltables["sky"]), ack=False) as t:
        off_rows = t.nrows()
    factors = [float(line.split(",")[-1]) for line in tp.products["jyperk_csv"].read_text().splitlines()[1:] if line]
    cube = next(im for im in images if im["kind"] == "cube")
    stages = sd_stages(
        eb=eb, tsys_median_k=tsys_median, jy_per_k=factors, off_rows=off_rows, cube_rms_jy=cube["rms_jy"]
    )
    wl_root = work / "weblog_tp"
    html = wl_root / weblog.weblog_dirname() / "html"
    tsys_dir = html / f"stage{SD_PLOT_STAGES['tsys']}"
    tsys_dir.mkdir(parents=True, exist_ok=True)
    stages[SD_PLOT_STAGES["tsys"] - 1].plots = [weblog.plot_tsys(tp.caltables["tsys"], eb, tsys_dir)]
    ebs = [dict(_eb_times(tp.ms, eb), fields=list(tp.fields))]
    package_pipeline_qa(
        d,
        idx,
        mous,
        stages,
        ebs=ebs,
        casa_version=casa_version,
        wl_root=wl_root,
        sessions=[member_session(eb, mous)],
        files={"auxproducts": [calibration.auxproducts_name(mous, SD_RECIPE)]},
        duration_s=3600 + 977,
        recipe=SD_RECIPE,
    )


def package_tp(project: Path, idx: Index, tp, *, casa_version: str, date: str, keep_work: bool, work: Path) -> None:
    """The TP member OUS: sd caltables + calapply + jyperk.csv, the .sd.fits products, weblog, AQUA report,
    manifest, scripts, README, MS."""
    from astropy.io import fits as afits

    plan = TP.ebs[0]
    eb, mous = plan.uid, TP.uid
    d = member_dirs(project, TP)
    tables = [tp.caltables[r] for r in ("tsys", "sky", "jyperk")]
    name = calibration.caltable_archive_name(mous, 1, aux=False)
    write_tgz(d["calibration"] / name, [(p.name, p) for p in tables])
    idx.add(d["calibration"] / name, "caltables_archive", mous=mous, eb=eb, members=[p.name for p in tables])
    calls = [dict(ap, intent="OBSERVE_TARGET#ON_SOURCE") for ap in tp.calapply]
    idx.write_text(
        d["calibration"] / f"{eb}.ms.calapply.txt",
        calibration.calapply_text(eb, mous, calls, sorted(tp.spws), len(tp.antennas)),
        "calapply",
        mous=mous,
        eb=eb,
    )
    aux = calibration.auxproducts_name(mous, SD_RECIPE)
    write_tgz(d["calibration"] / aux, [("jyperk.csv", tp.products["jyperk_csv"])])
    idx.add(d["calibration"] / aux, "auxproducts_archive", mous=mous, members=["jyperk.csv"])
    images, achieved = [], []
    field = next(iter(tp.fields))
    for kind, spw in (("cube", "0"), ("cont", "1")):
        src = tp.images[kind]
        fits = d["product"] / src.with_suffix(".fits").name  # member.<mous>.<field>_sci.spw<k>.<kind>.I.sd.fits
        export_fits(src, fits, date)
        idx.add(fits, "image", mous=mous)
        with afits.open(fits) as hdul:
            h, data = hdul[0].header, hdul[0].data
            beam = (h.get("BMAJ", 0) * 3600, h.get("BMIN", 0) * 3600, h.get("BPA", 0))
            unit = h.get("BUNIT", "")
            # rms: line-free channels of the cube (the first and last ten); the continuum map away from the source
            if kind == "cube":
                sample_px = data[0, np.r_[0:10, -10:0]]
            else:
                yy, xx = np.mgrid[0 : data.shape[-2], 0 : data.shape[-1]]
                far = np.hypot(yy - data.shape[-2] / 2, xx - data.shape[-1] / 2) > data.shape[-1] / 3
                sample_px = data[0, 0][far]
            rms = float(np.sqrt(np.nanmean(np.square(sample_px))))
            width = abs(float(h["CDELT3"])) if kind == "cube" and "CDELT3" in h else None
        achieved += readme.achieved_lines(field, kind, f"spw{spw}", beam, rms, width)
        images.append(
            dict(
                kind=kind,
                field=field,
                spw_tag=f"spw{spw}",
                rms_jy=rms,
                beam_arcsec=list(beam),
                units=unit,
                channel_width_hz=width,
                fits={"image": fits.relative_to(project).as_posix()},
            )
        )
    _tp_pipeline_products(d, idx, tp, images, casa_version=casa_version, work=work)
    idx.write_text(
        d["script"] / f"member.{mous}.scriptForPI.py",
        scripts.script_for_pi(mous, [eb], pipeline=True),
        "script_pi",
        mous=mous,
    )
    calls_log = json.loads(Path(tp.products["imaging_calls"]).read_text())
    idx.write_text(
        d["log"] / f"{mous}.{SD_RECIPE}.casa_commands.log",
        scripts.casa_commands_log(
            [("hsd_baseline", [tuple(c) for c in calls_log[:1]]), ("hsd_imaging", [tuple(c) for c in calls_log[1:]])]
        ),
        "casa_commands",
        mous=mous,
    )
    comments = [
        "The Total Power member OUS of the almaview demo group: one TP EB (3 PM antennas, autocorrelations in",
        "FLOAT_DATA, an on-the-fly raster of the target with OFF-source integrations, Tsys in SYSCAL) made with",
        "CASA's simulator, calibrated with sdcal (Tsys, position-switch sky) and the Jy/K factors of",
        "jyperk.csv (gencal amp, applycal), baseline-subtracted with sdbaseline and imaged with tsdimaging, in the",
        "order of the single-dish pipeline (" + ", ".join(dict.fromkeys(t for t, _, _ in HSD_STAGES)) + ").",
        "No single-dish pipeline ran: the weblog and AQUA report in qa/ were written by almaview.demo from the real",
        "caltables and images. raw/ is empty: exportasdm cannot write single-dish (FLOAT_DATA) data;",
        f"calibrated/{eb}.ms holds FLOAT_DATA (raw) and CORRECTED_DATA (calibrated, Jy) of the target.",
    ]
    _member_documents(
        d, idx, TP, eb, tp.ms, comments, achieved, casa_version, keep_work,
        calibration="single-dish pipeline steps (hsd_calimage order) run with casatasks",
    )  # fmt: skip
    idx.facts[mous] = dict(
        kind="tp",
        array="TP",
        ebs=[eb],
        target=next(iter(tp.fields)),
        images=images,
        antennas=list(tp.antennas),
        jyperk=tp.products["jyperk_csv"].read_text(),
        caltables={eb: sorted(t.name for t in tp.caltables.values())},
    )


def _member_documents(
    d: dict, idx: Any, member: Any, eb: str, ms: Path, comments: list[str], achieved: list[str],
    casa_version: str, keep_work: bool, *, calibration: str,
) -> None:  # fmt: skip
    """A member's README and QA2 report, and its calibrated MS moved (or copied) into calibrated/."""
    mous = member.uid
    idx.write_text(
        d["member"] / f"member.{mous}.README.txt",
        readme.readme_text(member, casa_version=casa_version, qa2="PASS", comments=comments, achieved=achieved),
        "readme",
        mous=mous,
    )
    qa2 = write_qa2_report(
        d["qa"] / f"{mous}.qa2_report.pdf",
        member,
        ebs=[_eb_times(ms, eb)],
        achieved=achieved,
        previews=[],
        casa_version=casa_version,
        calibration=calibration,
    )
    idx.add(qa2, "qa2_report", mous=mous)
    target_ms = d["calibrated"] / f"{eb}.ms"
    shutil.copytree(ms, target_ms) if keep_work else move(ms, target_ms)
    idx.add(target_ms, "calibrated_ms", mous=mous, eb=eb)

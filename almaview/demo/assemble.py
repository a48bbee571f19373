"""Assemble the demo delivery in a directory (the steps behind :func:`almaview.demo.build`).

Why this module is long: :func:`build_into` is the demo's recipe, read top to bottom (simulate, calibrate, image,
package each member with its timings); the packaging helpers it shares live in :mod:`almaview.demo.group` and
:mod:`almaview.demo.pipeline_qa`.
"""

from __future__ import annotations

import re
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .. import casa
from . import calibration, readme, scripts, weblog
from .imaging import ImageProduct, export_products, make_images, measure
from .pipeline_qa import package_pipeline_qa
from .project import ACA, ALMA, LINE_HZ, PROJECT, RECIPE, TP, VLA, processing_time, uid_url
from .stages import PLOT_STAGES, make_stages
from .qa2report import write_qa2_report
from .tree import Index, member_dirs, move, write_tgz

#: DATE of every FITS product: when the (pretend) pipeline exported them.
FITS_DATE = processing_time(3 * 3600).isoformat(timespec="milliseconds")

_STEPS = (
    "ALMA EB 1",
    "ALMA EB 2",
    "NGC 5921 (VLA)",
    "tclean",
    "package ALMA OUS",
    "weblog",
    "package VLA OUS",
    "7-m EB",
    "7-m tclean",
    "TP EB (sdcal, sdbaseline, tsdimaging)",
    "package 7-m and TP OUSs",
    "group tclean (12-m + 7-m cube)",
)


class _Log:
    """The slice of CASA's log written while the demo was built."""

    def __init__(self):
        self.path = Path(casa.casatasks().casalog.logfile())
        self.start = self.path.stat().st_size if self.path.exists() else 0

    def text(self) -> str:
        if not self.path.exists():
            return ""
        with open(self.path, "rb") as f:
            f.seek(self.start)
            return f.read().decode("utf-8", "replace")


def _ms_facts(ms: Path, ct: dict[str, Path], antennas: list[str], phase_field: str) -> dict:
    """Measured numbers of one calibrated EB for QA scores and the weblog overview."""
    from casacore import tables

    with tables.table(str(ms), ack=False) as t:
        q = tables.taql("select gsum(ntrue(FLAG)) as n, gsum(nelements(FLAG)) as m from $t")
        frac = float(q.getcol("n")[0]) / float(q.getcol("m")[0])
    with tables.table(str(ms / "OBSERVATION"), ack=False) as t:
        t0, t1 = t.getcell("TIME_RANGE", 0)
    with tables.table(str(ms / "FIELD"), ack=False) as t:
        names = list(t.getcol("NAME"))
    iso = lambda s: (datetime(1858, 11, 17) + timedelta(seconds=float(s))).isoformat(timespec="seconds")  # noqa: E731
    tsys = []
    with tables.table(str(ct["tsys"]), ack=False) as t:
        for spw in sorted(set(int(s) for s in t.getcol("SPECTRAL_WINDOW_ID"))):
            sub = t.query(f"SPECTRAL_WINDOW_ID=={spw}")
            tsys.append(np.median(sub.getcol("FPARAM")))
            sub.close()
    with tables.table(str(ct["antpos"]), ack=False) as t:
        par, ant = t.getcol("FPARAM")[:, 0, :], t.getcol("ANTENNA1")
        corrected = [antennas[a] for a, p in zip(ant, par) if np.any(p != 0)]
    with tables.table(str(ct["phase"]), ack=False) as t:
        sub = t.query(f"FIELD_ID=={names.index(phase_field)} && !all(FLAG)")
        ph, ph_ant = np.degrees(np.angle(sub.getcol("CPARAM"))), sub.getcol("ANTENNA1")
        sub.close()
    for a in set(ph_ant):  # scatter about each antenna's median phase
        ph[ph_ant == a] -= np.median(ph[ph_ant == a], axis=0, keepdims=True)
    return dict(
        flagged_fraction=frac,
        start=iso(t0),
        end=iso(t1),
        fields=names,
        n_antennas=len(antennas),
        tsys_median_k=float(np.median(tsys)),
        antpos_antennas=corrected,
        phase_rms_deg=float(np.sqrt(np.mean(((ph + 180) % 360 - 180) ** 2))),
    )


def _stamp_asdm(asdm: Path, eb: str, created: str) -> None:
    """Give ASDM.xml the EB's uid and a creation time at the end of the observation (not the build's clock)."""
    path = asdm / "ASDM.xml"
    text = path.read_bytes().decode("iso-8859-1")
    text = re.sub(
        r"<TimeOfCreation>[^<]*</TimeOfCreation>",
        f"<TimeOfCreation> {created}.000000000 </TimeOfCreation>",
        text,
        count=1,
    )
    text = re.sub(r'(<Entity entityId=")[^"]*("[^>]*entityTypeName="ASDM")', rf"\g<1>{uid_url(eb)}\g<2>", text, count=1)
    path.write_bytes(text.encode("iso-8859-1"))


def _relative(call: dict, work: Path) -> dict:
    """Paths of the build area replaced by names as the package knows them."""

    def fix(v):
        if isinstance(v, list):
            return [fix(x) for x in v]
        if isinstance(v, str) and v.startswith(str(work)):
            return Path(v).name
        return v

    return {k: fix(v) for k, v in call.items()}


def build_into(root: Path, *, version: str, progress: bool = True, work: Path | None = None) -> Path:
    """Write the demo into ``root`` (an empty directory); return the project directory."""
    from .. import sampledata
    from ..sampledata import simulate

    started = time.perf_counter()
    timings: dict[str, float] = {}
    cpu_timings: dict[str, float] = {}  # CPU seconds of this process (CASA runs in it): the cost on a shared machine
    bar = tqdm(total=len(_STEPS), desc="almaview demo", unit="step", disable=not progress)
    tick = [time.perf_counter(), time.process_time()]

    def step(name: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        timings[name] = round(now - tick[0], 2)
        cpu_timings[name] = round(cpu - tick[1], 2)
        tick[:] = [now, cpu]
        bar.update()
        following = _STEPS.index(name) + 1
        if following < len(_STEPS):
            bar.set_postfix_str(_STEPS[following])  # (the steps that say more say it next)

    tasks = casa.casatasks()
    ct_tools = casa.casatools()
    casa_version = ct_tools.version_string()
    log = _Log()
    keep_work = work is not None  # a persistent work area (development): copy out of it, keep it
    work = work if work is not None else root / "_work"
    project = root / PROJECT
    idx = Index(project)

    # ---------------------------------------------------------------- the ALMA member OUS: data
    samples = []
    for i, plan in enumerate(ALMA.ebs):
        bar.set_postfix_str(f"simulate + calibrate {plan.uid}")
        samples.append(
            sampledata.build_alma_eb(
                work / plan.uid,
                seed=plan.seed,
                eb_uid=plan.uid,
                mous=f"member.{ALMA.uid}",
                image=False,
                progress=False,
                reference_time=plan.reference_time,
            )
        )
        step(_STEPS[i])
    bar.set_postfix_str("NGC 5921: import, calibrate, image")
    ngc = sampledata.build_ngc5921(work / "ngc5921", image=False, progress=False)
    step(_STEPS[2])

    target = next(f for f, intent in samples[0].fields.items() if intent.startswith("OBSERVE_TARGET"))
    phase_cal = next(f for f, intent in samples[0].fields.items() if intent.startswith("CALIBRATE_PHASE"))
    bar.set_postfix_str("tclean continuum and cube over both EBs")
    products = make_images(
        [s.ms for s in samples],
        target,
        work / "images",
        cont_spw="1,2,3",
        cube_spw="0",
        imsize=128,
        cell="0.25arcsec",
        cube_nchan=60,
        cube_width=4,
        restfreq=f"{LINE_HZ / 1e9}GHz",
        stage={"cont": 23, "cube": 25},
        mous=ALMA.uid,
        thresholds={"cont": "0.5mJy", "cube": "15mJy"},
    )
    step(_STEPS[3])

    # ---------------------------------------------------------------- the ALMA member OUS: package
    bar.set_postfix_str("raw ASDMs, caltables, products")
    d = member_dirs(project, ALMA)
    mous = ALMA.uid
    eb_facts, flux_rows, flux_points, fluxes, antpos_text = [], [], [], [], []
    sessions, cal_sections = [], []
    cont_edges = None
    for n, (plan, s) in enumerate(zip(ALMA.ebs, samples), start=1):
        eb = plan.uid
        asdm = d["raw"] / f"{eb}.asdm.sdm"
        facts = _ms_facts(s.ms, s.caltables, s.antennas, phase_cal)
        tasks.exportasdm(vis=str(s.ms), asdm=str(asdm), datacolumn="data", verbose=False)
        _stamp_asdm(asdm, eb, facts["end"])
        idx.add(asdm, "raw_asdm", mous=mous, eb=eb)
        eb_facts.append(dict(uid=eb, **facts))
        field_ids = {name: i for i, name in enumerate(facts["fields"])}
        if cont_edges is None:
            cont_edges = calibration.spw_lsrk_edges(s.ms, field_ids[target], sorted(s.spws))
            line_lsrk = calibration.line_lsrk_hz(s.ms, field_ids[target], min(s.spws))
        # calibration tables: applied ones and auxiliary ones, one session per EB
        applied = [s.caltables[r] for r in calibration.APPLIED_ROLES]
        aux = [p for r, p in s.caltables.items() if r not in calibration.APPLIED_ROLES]
        ca_name = calibration.caltable_archive_name(mous, n, aux=False)
        aux_name = calibration.caltable_archive_name(mous, n, aux=True)
        write_tgz(d["calibration"] / ca_name, [(p.name, p) for p in applied])
        idx.add(d["calibration"] / ca_name, "caltables_archive", mous=mous, eb=eb, members=[p.name for p in applied])
        write_tgz(d["calibration"] / aux_name, [(p.name, p) for p in aux])
        idx.add(d["calibration"] / aux_name, "caltables_archive", mous=mous, eb=eb, members=[p.name for p in aux])
        calapply = f"{eb}.ms.calapply.txt"
        idx.write_text(
            d["calibration"] / calapply,
            calibration.calapply_text(eb, mous, s.calapply, sorted(s.spws), len(s.antennas)),
            "calapply",
            mous=mous,
            eb=eb,
        )
        templates = []
        for kind, name in (("flag", f"{eb}.flagtemplate.txt"), ("tsys", f"{eb}.flagtsystemplate.txt")):
            idx.write_text(
                d["calibration"] / name, calibration.flag_template_text(eb, kind), "flag_template", mous=mous, eb=eb
            )
            templates.append(name)
        tasks.flagmanager(
            vis=str(s.ms),
            mode="save",
            versionname="Pipeline_Final",
            comment="Flagging state after the hifa_calimage run",
            merge="replace",
        )
        fv = f"{eb}.ms.flagversions.tgz"
        write_tgz(d["calibration"] / fv, [(f"{eb}.ms.flagversions", Path(f"{s.ms}.flagversions"))])
        idx.add(d["calibration"] / fv, "flagversions", mous=mous, eb=eb)
        sessions.append(
            dict(
                name=f"session_{n}",
                eb=eb,
                caltables=ca_name,
                auxcaltables=aux_name,
                flagversions=fv,
                calapply=calapply,
                flagtemplates=templates,
            )
        )
        # auxiliary products
        flux_layout = simulate.alma_fields()
        ref = next(f for f in flux_layout if f.intent.startswith("CALIBRATE_FLUX"))
        spw_freqs = {int(k): f for k, f in zip(s.fluxscale["spwID"], s.fluxscale["freq"])}
        flux_rows += calibration.flux_csv_rows(
            f"{eb}.ms", s.fluxscale, field_ids, s.fields, (ref.name, ref.flux_jy, ref.spectral_index, 240e9), spw_freqs
        )
        for _, fld, spw, f, fl, err in calibration.fluxscale_results(eb, s.fluxscale):
            flux_points.append((eb, fld, f, fl, err))
            fluxes.append((fld, spw, fl, err))
        antpos_text.append(calibration.antennapos_csv_text(f"{eb}.ms", s.caltables["antpos"], s.antennas))
        cal_sections += scripts.calibration_calls(
            eb, {k: p.name for k, p in s.caltables.items()}, s.fields, s.calapply, s.refant, s.fluxscale
        )
    cont_dat = calibration.cont_dat_text(target, cont_edges, line_lsrk)
    antpos = antpos_text[0] + "".join(t.split("\n", 1)[1] for t in antpos_text[1:])
    aux_name = calibration.auxproducts_name(mous)
    write_tgz(
        d["calibration"] / aux_name,
        [
            ("cont.dat", cont_dat.encode()),
            ("flux.csv", calibration.flux_csv_text(flux_rows).encode()),
            ("antennapos.csv", antpos.encode()),
        ],
    )
    idx.add(
        d["calibration"] / aux_name,
        "auxproducts_archive",
        mous=mous,
        members=["cont.dat", "flux.csv", "antennapos.csv"],
    )

    # FITS products
    image_facts, export_calls = export_products(products, d["product"], idx, project, mous, FITS_DATE)
    export_calls = [_relative(c, work) | {"fitsimage": Path(c["fitsimage"]).name} for c in export_calls]
    achieved, fits_by_kind = [], {}
    for p, facts in zip(products, image_facts):
        fits_by_kind[p.kind] = facts["fits"]
        achieved += readme.achieved_lines(p.field, p.kind, p.spw_tag, p.beam_arcsec, p.rms_jy, p.channel_width_hz)
        facts.update(proposed_rms_jy=5e-3 if p.kind == "cube" else 0.5e-3, proposed_beam_arcsec=1.5)
    step(_STEPS[4])

    # ---------------------------------------------------------------- weblog, AQUA, manifest, scripts, README
    bar.set_postfix_str("weblog plots and pages")
    wl_root = work / "weblog"
    html = wl_root / weblog.weblog_dirname() / "html"
    plots: dict[int, list[str]] = {}
    for plan, s in zip(ALMA.ebs, samples):
        plots.setdefault(PLOT_STAGES["tsys"], []).append(
            weblog.plot_tsys(s.caltables["tsys"], plan.uid, weblog.stage_dir(html, "tsys"))
        )
        plots.setdefault(PLOT_STAGES["bandpass"], []).append(
            weblog.plot_bandpass(s.caltables["bandpass"], plan.uid, weblog.stage_dir(html, "bandpass"))
        )
        plots.setdefault(PLOT_STAGES["gain"], []).append(
            weblog.plot_gain_phase(s.caltables["phase"], plan.uid, weblog.stage_dir(html, "gain"))
        )
    plots[PLOT_STAGES["fluxscale"]] = [weblog.plot_fluxes(flux_points, weblog.stage_dir(html, "fluxscale"))]
    for p in products:
        files = fits_by_kind[p.kind]
        plots[PLOT_STAGES[p.kind]] = [
            weblog.plot_image(
                project / files["pbcor"],
                project / files["mask"],
                f"{p.field} {p.kind} {p.spw_tag}" + (" (peak over channels)" if p.kind == "cube" else ""),
                weblog.stage_dir(html, p.kind),
                f"{p.fits_stem(mous)}.png",
            )
        ]
    stages = make_stages(
        dict(
            ebs=eb_facts,
            fluxes=fluxes,
            images=image_facts,
            refant=samples[0].refant,
            n_cont_ranges=sum(1 for line in cont_dat.splitlines() if "GHz" in line),
        )
    )
    for s in stages:
        s.plots = plots.get(s.number, [])
    for p in products:
        st = next(s for s in stages if s.number == PLOT_STAGES[p.kind])
        st.notes.append(f"tclean call: <code>{scripts.call_text('tclean', _relative(p.call, work))}</code>")
    package_pipeline_qa(
        d,
        idx,
        mous,
        stages,
        ebs=eb_facts,
        casa_version=casa_version,
        wl_root=wl_root,
        sessions=sessions,
        files={
            "auxproducts": [aux_name],
            "casa_pipescript": [f"{mous}.{RECIPE}.casa_pipescript.py"],
            "restorescript": [f"{mous}.{RECIPE}.casa_piperestorescript.py"],
        },
        duration_s=3 * 3600 + 1234,
    )
    eb_uids = [p.uid for p in ALMA.ebs]
    idx.write_text(
        d["script"] / f"member.{mous}.scriptForPI.py",
        scripts.script_for_pi(mous, eb_uids, pipeline=True),
        "script_pi",
        mous=mous,
    )
    idx.write_text(
        d["script"] / f"{mous}.{RECIPE}.casa_piperestorescript.py",
        scripts.restorescript(eb_uids),
        "restorescript",
        mous=mous,
    )
    idx.write_text(
        d["script"] / f"{mous}.{RECIPE}.casa_pipescript.py",
        scripts.pipescript(stages, eb_uids),
        "pipescript",
        mous=mous,
    )
    imaging_calls = [("tclean", _relative(p.call, work)) for p in products]
    sections = cal_sections + [
        ("hif_makeimages", imaging_calls[:1]),
        ("hif_makeimages", imaging_calls[1:]),
        ("hifa_exportdata", [("exportfits", c) for c in export_calls]),
    ]
    idx.write_text(
        d["log"] / f"{mous}.{RECIPE}.casa_commands.log", scripts.casa_commands_log(sections), "casa_commands", mous=mous
    )
    comments = [
        "This member OUS is the almaview demo: two ALMA-like execution blocks simulated with CASA's simulator",
        "(ALMA cycle 10 configuration, 12 antennas, band 6, CO(2-1) at 230.538 GHz on spw 0), corrupted with",
        "known gains, delays, bandpasses and Tsys, then calibrated and imaged with casatasks in the order of the",
        "ALMA pipeline's hifa_calimage recipe. No ALMA pipeline ran; the weblog, AQUA report and manifest were",
        "written by almaview.demo from the real caltables and images.",
        "The cube is not continuum subtracted (the continuum is weak next to the line).",
        "The calibrated MSs in calibrated/ are named <EB>.ms (DATA and CORRECTED_DATA), as scriptForPI leaves",
        "pipeline-calibrated data.",
    ]
    idx.write_text(
        d["member"] / f"member.{mous}.README.txt",
        readme.readme_text(ALMA, casa_version=casa_version, qa2="PASS", comments=comments, achieved=achieved),
        "readme",
        mous=mous,
    )
    previews = [html / f"stage{PLOT_STAGES[p.kind]}" / f"{p.fits_stem(mous)}.png" for p in products]
    qa2 = write_qa2_report(
        d["qa"] / f"{mous}.qa2_report.pdf",
        ALMA,
        ebs=eb_facts,
        achieved=achieved,
        previews=previews,
        casa_version=casa_version,
        calibration=f"pipeline ({RECIPE})",
    )
    idx.add(qa2, "qa2_report", mous=mous)
    for plan, s in zip(ALMA.ebs, samples):  # last: the calibrated MSs move into the package
        target_ms = d["calibrated"] / f"{plan.uid}.ms"
        if keep_work:
            shutil.copytree(s.ms, target_ms)
        else:
            move(s.ms, target_ms)
        idx.add(target_ms, "calibrated_ms", mous=mous, eb=plan.uid)
    idx.facts[mous] = dict(
        kind="alma",
        ebs=eb_uids,
        target=target,
        images=image_facts,
        eb_facts=eb_facts,
        stages=[dict(number=s.number, task=s.task, score=s.score, plots=s.plots) for s in stages],
        caltables={p.uid: sorted(t.name for t in s.caltables.values()) for p, s in zip(ALMA.ebs, samples)},
    )
    step(_STEPS[5])

    # ---------------------------------------------------------------- the VLA member OUS (NGC 5921), manual style
    bar.set_postfix_str("NGC 5921 member OUS")
    _package_vla(project, idx, ngc, casa_version, work)
    step(_STEPS[6])

    _group_members(project, idx, work, target, casa_version, keep_work, step)

    idx.write_text(
        d["log"] / f"casa-{processing_time(0).strftime('%Y%m%d-%H%M%S')}.log", log.text(), "casa_log", mous=mous
    )
    if not keep_work:
        shutil.rmtree(work)
    bar.close()
    total = time.perf_counter() - started
    idx.save(
        root / "almaview-demo.json",
        version=version,
        project=PROJECT,
        build_seconds=round(total, 1),
        timings=timings,
        cpu_seconds=round(time.process_time(), 1),
        cpu_timings=cpu_timings,
    )
    return project


def _group_members(
    project: Path, idx: Index, work: Path, target: str, casa_version: str, keep_work: bool, step
) -> None:
    """The 7-m and TP member OUSs of the same group (see :mod:`almaview.demo.group`) and the group's joint 12-m + 7-m
    products (:mod:`almaview.demo.group_products`)."""
    from .. import sampledata
    from .group import build_aca_eb, package_aca, package_tp
    from .group_products import image_group, package_group

    plan = ACA.ebs[0]
    aca = build_aca_eb(
        work / plan.uid, seed=plan.seed, eb_uid=plan.uid, mous=f"member.{ACA.uid}", reference_time=plan.reference_time
    )
    step(_STEPS[7])
    products = make_images(
        [aca.ms],
        target,
        work / "images_7m",
        cont_spw="1,2,3",
        cube_spw="0",
        imsize=64,
        cell="1arcsec",
        cube_nchan=60,
        cube_width=4,
        restfreq=f"{LINE_HZ / 1e9}GHz",
        stage={"cont": 23, "cube": 25},
        mous=ACA.uid,
        thresholds={"cont": "2mJy", "cube": "60mJy"},
    )
    step(_STEPS[8])
    tp = sampledata.build_tp_eb(
        work / "tp", eb_uid=TP.ebs[0].uid, mous=f"member.{TP.uid}", progress=False, isolate=False
    )
    step(_STEPS[9])
    package_aca(
        project,
        idx,
        aca,
        products,
        target=target,
        casa_version=casa_version,
        date=FITS_DATE,
        keep_work=keep_work,
        work=work,
    )
    package_tp(project, idx, tp, casa_version=casa_version, date=FITS_DATE, keep_work=keep_work, work=work)
    step(_STEPS[10])
    # the group's own products: 12-m and 7-m imaged together from their calibrated MSs, now in the package
    joint = image_group(project, target, work)
    package_group(project, idx, joint, date=FITS_DATE, work=work)
    step(_STEPS[11])


def _package_vla(project: Path, idx: Index, ngc, casa_version: str, work: Path) -> None:
    """NGC 5921 as a manually reduced member OUS."""
    tasks = casa.casatasks()
    plan = VLA.ebs[0]
    eb, mous = plan.uid, VLA.uid
    d = member_dirs(project, VLA)
    split_ms = d["calibrated"] / f"{eb}.ms.split.cal"
    tasks.split(vis=str(ngc.ms), outputvis=str(split_ms), datacolumn="corrected", keepflags=True)
    idx.add(split_ms, "calibrated_ms", mous=mous, eb=eb)
    names = {"bandpass": f"{eb}.ms.bandpass", "gain": f"{eb}.ms.gain_inf", "fluxscale": f"{eb}.ms.flux_inf"}
    arc = f"{eb}.calibration.tgz"
    write_tgz(d["calibration"] / arc, [(names[k], p) for k, p in ngc.caltables.items()])
    idx.add(d["calibration"] / arc, "caltables_archive", mous=mous, eb=eb, members=sorted(names.values()))
    vis = f"{eb}.ms"
    calls = [
        ("flagdata", dict(vis=vis, mode="manual", autocorr=True, flagbackup=False)),
        ("setjy", dict(vis=vis, field="1331+305*", standard="Perley-Butler 2017", usescratch=True)),
        (
            "bandpass",
            dict(
                vis=vis,
                caltable=names["bandpass"],
                field="0",
                solint="inf",
                combine="scan",
                refant="15",
                bandtype="B",
                solnorm=True,
            ),
        ),
        (
            "gaincal",
            dict(
                vis=vis,
                caltable=names["gain"],
                field="0,1",
                spw="0:6~56",
                solint="inf",
                gaintype="G",
                calmode="ap",
                refant="15",
                gaintable=[names["bandpass"]],
            ),
        ),
        (
            "fluxscale",
            dict(vis=vis, caltable=names["gain"], fluxtable=names["fluxscale"], reference="1331*", transfer="1445*"),
        ),
        (
            "applycal",
            dict(
                vis=vis,
                field="0",
                gaintable=[names["fluxscale"], names["bandpass"]],
                gainfield=["0", ""],
                interp=["nearest", ""],
                flagbackup=False,
            ),
        ),
        (
            "applycal",
            dict(
                vis=vis,
                field="1,2",
                gaintable=[names["fluxscale"], names["bandpass"]],
                gainfield=["1", ""],
                interp=["linear", ""],
                flagbackup=False,
            ),
        ),
    ]
    idx.write_text(
        d["script"] / f"{eb}.ms.scriptForCalibration.py",
        scripts.script_for_calibration(eb, calls),
        "script_cal",
        mous=mous,
        eb=eb,
    )
    field = "N5921_2"
    stem = work / "ngc5921_images" / "ngc5921.cube"
    stem.parent.mkdir(parents=True, exist_ok=True)
    tclean = dict(
        vis=str(split_ms),
        field="2",
        spw="0:5~56",
        datacolumn="data",
        imagename=str(stem),
        specmode="cube",
        nchan=-1,
        imsize=128,
        cell="15arcsec",
        weighting="briggs",
        robust=0.5,
        niter=200,
        threshold="5mJy",
        usemask="user",
        mask="circle[[64pix,64pix],20pix]",
        pbcor=True,
        restfreq="1420.405752MHz",
        outframe="LSRK",
        restoringbeam="common",
        interactive=False,
    )
    tasks.tclean(**tclean)
    im = measure(ImageProduct(kind="cube", field=field, spw="0", stem=stem, call=tclean))
    tclean = dict(tclean, vis=split_ms.name, imagename=stem.name)
    idx.write_text(
        d["script"] / "scriptForImaging.py",
        "# ALMA-style imaging script for NGC 5921 (VLA data, imaged with CASA)\n\n"
        + scripts.call_text("tclean", tclean)
        + "\n",
        "script_imaging",
        mous=mous,
    )
    idx.write_text(
        d["script"] / f"member.{mous}.scriptForPI.py",
        scripts.script_for_pi(mous, [eb], pipeline=False),
        "script_pi",
        mous=mous,
    )
    vla_images, _ = export_products([im], d["product"], idx, project, mous, FITS_DATE)
    files = vla_images[0]["fits"]
    achieved = readme.achieved_lines(field, "cube", im.spw_tag, im.beam_arcsec, im.rms_jy, im.channel_width_hz)
    preview = weblog.plot_image(
        project / files["pbcor"],
        project / files["mask"],
        f"{field} cube {im.spw_tag} (peak over channels)",
        work,
        f"{im.fits_stem(mous)}.png",
    )
    from casacore import tables

    with tables.table(str(split_ms / "OBSERVATION"), ack=False) as t:
        t0, t1 = t.getcell("TIME_RANGE", 0)
    with tables.table(str(split_ms / "ANTENNA"), ack=False) as t:
        n_ant = t.nrows()
    iso = lambda s: (datetime(1858, 11, 17) + timedelta(seconds=float(s))).isoformat(timespec="seconds")  # noqa: E731
    qa2 = write_qa2_report(
        d["qa"] / f"{mous}.qa2_report.pdf",
        VLA,
        ebs=[dict(uid=eb, start=iso(t0), end=iso(t1), n_antennas=n_ant)],
        achieved=achieved,
        previews=[work / preview],
        casa_version=casa_version,
        calibration="manual (scripts)",
    )
    idx.add(qa2, "qa2_report", mous=mous)
    comments = [
        "This member OUS holds a VLA observation filed in an ALMA-style package: the real VLA D-configuration",
        "HI observation of NGC 5921 shipped with casadata (demo/NGC5921.fits), imported, calibrated (bandpass,",
        "gains, fluxscale on 1331+305) and imaged with casatasks the classic way. It is packaged as a manually",
        f"reduced member OUS; the EB uid {eb} is invented. raw/ is empty: exportasdm cannot write this",
        "observation's irregular integrations, and the original data are casadata's UVFITS file.",
        f"The calibrated MS is calibrated/{eb}.ms.split.cal (calibrated data in its DATA column).",
    ]
    idx.write_text(
        d["member"] / f"member.{mous}.README.txt",
        readme.readme_text(
            VLA, casa_version=casa_version, qa2="PASS", comments=comments, achieved=achieved, pipeline=False
        ),
        "readme",
        mous=mous,
    )
    idx.facts[mous] = dict(
        kind="vla",
        ebs=[eb],
        target=field,
        caltables={eb: sorted(names.values())},
        images=vla_images,
    )

"""Test helpers that WRITE sample ALMA delivery trees (into tmp_path) and record what they wrote.

The record (:class:`Spec`) is the independent expectation the tests compare the
parser against: it comes from the writer, never from almaview's parser.

CASA tables in these trees are stand-ins made with python-casacore (an empty MS
from ``default_ms``, tiny tables with a ``VisCal`` keyword for caltables): the
tests that use them are about naming and layout only.  The real demo delivery
built with CASA is tested elsewhere.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent

PROJECT = "2019.1.01234.S"
SG = "uid___A001_X1465_X2a38"
GROUP = "uid___A001_X1465_X2a39"
MOUS = "uid___A001_X1465_X2a3a"
EBS = ["uid___A002_Xe1f219_X6d0", "uid___A002_Xe1f219_X7ee", "uid___A002_Xe2a2f3_X1b5"]
SESSION = {EBS[0]: "session_1", EBS[1]: "session_1", EBS[2]: "session_2"}
SCI = "NGC_1234"
BP, PH, CHECK = "J1924-2914", "J1733-1304", "J1751-1950"
SPWS = [17, 19]


def readme_sample(name: str) -> str:
    """Text of one committed README sample ('cycle0-4', 'cycle5', 'cycle6', 'unknown', 'missing_fields')."""
    return (HERE / f"readme_{name}.txt").read_text()


@dataclass
class Spec:
    """What a builder wrote: the expectations for the parser."""

    root: Path
    project: str = PROJECT
    mous: str = MOUS
    member_dir: Path | None = None
    ebs: list[str] = field(default_factory=list)
    raw: set[str] = field(default_factory=set)
    calibrated: dict[str, str] = field(default_factory=dict)  # eb -> MS name
    caltables: dict[str, dict[str, str]] = field(default_factory=dict)  # eb -> {name: kind}
    calapply: dict[str, list[tuple[str, str, str, list[str]]]] = field(default_factory=dict)
    images: dict[str, dict] = field(default_factory=dict)  # file name -> expected classification
    stages: list[tuple[int, str, float]] = field(default_factory=list)
    stage_plots: dict[int, list[str]] = field(default_factory=dict)
    aqua_topics: dict[str, float] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    cont: list[tuple[str, str, float, float, str]] = field(default_factory=list)
    flux: list[tuple[str, str, float]] = field(default_factory=list)
    antennas: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- small writers


def _casacore_table(path: Path, viscal: str | None) -> None:
    """A tiny stand-in CASA table (python-casacore) with a VisCal keyword for caltables."""
    from casacore import tables

    desc = tables.maketabdesc([tables.makescacoldesc("TIME", 0.0), tables.makescacoldesc("SPECTRAL_WINDOW_ID", 0)])
    t = tables.table(str(path), desc, nrow=2, ack=False)
    if viscal:
        t.putkeyword("VisCal", viscal)
        t.putinfo({"type": "Calibration", "subType": viscal, "readme": ""})
    t.close()


def _stand_in_ms(path: Path) -> None:
    """An empty measurement set (python-casacore default_ms): a layout stand-in, not data."""
    from casacore import tables

    t = tables.default_ms(str(path))
    t.close()


def _asdm(path: Path, complete: bool = True) -> None:
    path.mkdir(parents=True)
    if complete:
        (path / "ASDM.xml").write_text("<ASDM/>\n")
    (path / "Main.xml").write_text("<MainTable/>\n")
    (path / "ASDMBinary").mkdir()
    (path / "ASDMBinary" / "uid___A002_Xe1f219_X6d1").write_bytes(b"\0" * 64)


def _tgz(path: Path, files: dict[str, bytes], dirs_from: dict[str, Path] | None = None) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_600_000_000
            tf.addfile(info, io.BytesIO(data))
        for arc, src in (dirs_from or {}).items():
            tf.add(src, arcname=arc)


def _fits(path: Path, shape=(1, 1, 4, 4)) -> None:
    import numpy as np
    from astropy.io import fits

    data = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    hdu = fits.PrimaryHDU(data)
    hdu.header["BUNIT"] = "Jy/beam"
    if path.name.endswith(".gz"):
        buf = io.BytesIO()
        hdu.writeto(buf)
        import gzip

        path.write_bytes(gzip.compress(buf.getvalue(), mtime=0))
    else:
        hdu.writeto(path)


# ---------------------------------------------------------------- the pipeline delivery


def _caltable_names(eb: str) -> dict[str, str]:
    spw = "spw" + "_".join(map(str, SPWS))
    return {
        f"{eb}.ms.hifa_antpos.s5_1.ants.tbl": "antpos",
        f"{eb}.ms.h_tsyscal.s6_1.tsyscal.tbl": "tsyscal",
        f"{eb}.ms.hifa_wvrgcalflag.s7_2.wvr.tbl": "wvr",
        f"{eb}.ms.hifa_bandpass.s12_2.{spw}.solintint.gpcal.tbl": "phase",  # phase-up, not applied
        f"{eb}.ms.hifa_bandpass.s12_5.{spw}.channel.solintinf.bcal.tbl": "bandpass",
        f"{eb}.ms.hifa_timegaincal.s17_1.{spw}.solintint.gpcal.tbl": "phase",
        f"{eb}.ms.hifa_timegaincal.s17_3.{spw}.solintinf.gacal.tbl": "amplitude",
    }


def _calapply_text(eb: str, names: dict[str, str]) -> tuple[str, list[tuple[str, str, str, list[str]]]]:
    by_kind = {}
    for n, k in names.items():
        if "s12_2" in n:
            continue
        by_kind[k] = n
    common = [by_kind["antpos"], by_kind["tsyscal"], by_kind["wvr"], by_kind["bandpass"]]
    calls = [
        (f"{BP}", "AMPLITUDE,BANDPASS", "17,19", common + [by_kind["phase"], by_kind["amplitude"]]),
        (f"{PH},{CHECK}", "PHASE,CHECK", "17,19", common + [by_kind["phase"], by_kind["amplitude"]]),
        (SCI, "TARGET", "17,19", common + [by_kind["phase"], by_kind["amplitude"]]),
    ]
    lines = []
    for fieldname, intent, spw, tables in calls:
        n = len(tables)
        lines.append(
            f"applycal(vis='/data/pipeline/working/{eb}.ms', field='{fieldname}', intent='{intent}', spw='{spw}', "
            f"antenna='0~42', gaintable={['/data/pipeline/working/' + t for t in tables]!r}, "
            f"gainfield={[''] * (n - 2) + ['', '']!r}, spwmap={[[] for _ in range(n)]!r}, "
            f"interp={['', 'linear,linear', 'nearest', 'linear,linearflag', 'linear,linear', 'linear,linear']!r}, "
            f"calwt={[False, False, True, True, False, True]!r}, parang=False, applymode='calflagstrict', "
            f"flagbackup=False)"
        )
    return "\n".join(lines) + "\n", calls


def _weblog_tree(base: Path, stages: list[tuple[int, str, float]]) -> dict[int, list[str]]:
    html = base / "pipeline-20200315T101112.345" / "html"
    html.mkdir(parents=True)
    (html / "index.html").write_text("<html><body><h1>Pipeline weblog</h1></body></html>\n")
    (html / "t1-1.html").write_text("<html><body>Observation overview</body></html>\n")
    rows = []
    plots: dict[int, list[str]] = {}
    for number, task, score in stages:
        badge = "alert-success" if score > 0.9 else "alert-info" if score > 0.66 else "alert-warning"
        rows.append(
            f'<tr>\n<td><span class="glyphicon glyphicon-ok"></span> <a href="t2-4m.html?sidebar=sidebar_stage{number}">'
            f'{number}. <strong>{task}</strong>: {task.split("_")[1]} summary</a><span class="pull-right"></span></td>\n'
            f'<td><div class="progress"><div class="progress-bar" role="progressbar" aria-valuenow="{score}" '
            f'aria-valuemin="0" aria-valuemax="1" style="width:{score * 100:.0f}%;"><span class="sr-only">'
            f"Score = {score}</span></div></div></td>\n"
            f'<td><span class="badge {badge}">{score:.2f}</span></td>\n<td>0:00:0{number}</td>\n</tr>'
        )
        stage = html / f"stage{number}"
        stage.mkdir()
        (stage / "t2-4m_details.html").write_text(f"<html><body><h1>{number}. {task}</h1></body></html>\n")
        names = [f"{task}_summary.png"] + ([f"{task}_{EBS[0]}_spw17.png"] if number % 2 else [])
        for n in names:
            (stage / n).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(8))
        plots[number] = names
    (html / "t1-4.html").write_text(
        '<html><body><table class="table">\n<thead><tr><th>Task</th><th>QA Score</th><th></th>'
        "<th>Duration</th></tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody></table></body></html>\n"
    )
    return plots


STAGES = [
    (1, "hifa_importdata", 1.0),
    (2, "hifa_flagdata", 0.95),
    (3, "hifa_tsyscal", 0.8),
    (4, "hifa_bandpass", 0.5),
    (5, "hifa_timegaincal", 0.2),
]


def _aqua_xml(stages) -> str:
    st = "\n".join(
        f'    <Stage Number="{n}" Name="{t}" Score="{s}">\n'
        f'      <Metric Name="%Flagged" Value="{(1 - s) * 10:.1f}" QaScore="{s}" Asdm="{EBS[0]}" '
        f'Reason="{t} metric for stage {n}"/>\n    </Stage>'
        for n, t, s in stages
    )
    return f"""<?xml version="1.0" ?>
<PipelineAquaReport>
  <ProjectStructure>
    <ProposalCode>{PROJECT}</ProposalCode>
    <ProcessingRequestEntityId>Undefined</ProcessingRequestEntityId>
    <ProcessingProcedure>hifa_calimage</ProcessingProcedure>
  </ProjectStructure>
  <QaSummary>
    <ReportDate>2020-03-15 11:00:00</ReportDate>
    <ProcessingTime>1:02:03</ProcessingTime>
    <CasaVersion>6.5.4-9</CasaVersion>
    <PipelineVersion>2023.1.0.124</PipelineVersion>
    <FinalScore>Undefined</FinalScore>
  </QaSummary>
  <QaPerStage>
{st}
  </QaPerStage>
  <QaPerTopic>
    <Dataset Score="1.0"/>
    <Flagging Score="0.95"/>
    <Calibration Score="0.2"/>
    <Imaging Score="Undefined"/>
  </QaPerTopic>
</PipelineAquaReport>
"""


def _manifest_xml(ebs: list[str]) -> str:
    sessions: dict[str, list[str]] = {}
    for eb in ebs:
        sessions.setdefault(SESSION[eb], []).append(eb)
    body = ""
    for s, members in sessions.items():
        body += f'    <session name="{s}">\n      <caltables name="{MOUS}.{s}.caltables.tgz"/>\n'
        for eb in members:
            body += (
                f'      <asdm name="{eb}">\n        <finalflags name="{eb}.ms.flagversions.tgz"/>\n'
                f'        <applycmds name="{eb}.ms.calapply.txt"/>\n      </asdm>\n'
            )
        body += "    </session>\n"
    return (
        f'<?xml version="1.0" ?>\n<piperesults name="pipeline-20200315T101112">\n  <ous name="{MOUS}">\n'
        f'    <casaversion name="6.5.4.9"/>\n    <pipeline_version name="2023.1.0.124"/>\n'
        f'    <procedure name="hifa_calimage"/>\n{body}'
        f'    <aux_products_file name="{MOUS}.hifa_calimage.auxproducts.tgz"/>\n  </ous>\n</piperesults>\n'
    )


def image_expectations() -> dict[str, dict]:
    """Image files of the sample delivery with the classification ALMA's naming implies."""
    p = f"member.{MOUS}."
    sp = "_".join(map(str, SPWS))
    e = {}

    def add(name, fieldname, role, spws, kind, stokes, itype, taylor=None, naming="member"):
        e[name] = dict(
            field=fieldname,
            role=role,
            spws=tuple(spws),
            kind=kind,
            stokes=stokes,
            image_type=itype,
            taylor=taylor,
            naming=naming,
        )

    add(f"{p}{SCI}_sci.spw{sp}.cont.I.pbcor.fits", SCI, "sci", SPWS, "cont", "I", "pbcor")
    add(f"{p}{SCI}_sci.spw{sp}.cont.I.pb.fits.gz", SCI, "sci", SPWS, "cont", "I", "pb")
    add(f"{p}{SCI}_sci.spw{sp}.cont.I.mask.fits.gz", SCI, "sci", SPWS, "cont", "I", "mask")
    add(f"{p}{SCI}_sci.spw{sp}.cont.I.tt0.pbcor.fits", SCI, "sci", SPWS, "cont", "I", "pbcor", "tt0")
    add(f"{p}{SCI}_sci.spw{sp}.cont.I.tt1.pbcor.fits", SCI, "sci", SPWS, "cont", "I", "pbcor", "tt1")
    add(f"{p}{SCI}_sci.spw{sp}.cont.I.alpha.fits", SCI, "sci", SPWS, "cont", "I", "alpha")
    add(f"{p}{SCI}_sci.spw{sp}.cont.I.alpha.error.fits", SCI, "sci", SPWS, "cont", "I", "alpha.error")
    for s in SPWS:
        add(f"{p}{SCI}_sci.spw{s}.cube.I.pbcor.fits", SCI, "sci", [s], "cube", "I", "pbcor")
        add(f"{p}{SCI}_sci.spw{s}.cube.I.pb.fits.gz", SCI, "sci", [s], "cube", "I", "pb")
        add(f"{p}{SCI}_sci.spw{s}.mfs.I.pbcor.fits", SCI, "sci", [s], "mfs", "I", "pbcor")
    add(f"{p}{BP}_bp.spw{sp}.mfs.I.pbcor.fits", BP, "bp", SPWS, "mfs", "I", "pbcor")
    add(f"{p}{PH}_ph.spw{sp}.mfs.I.pbcor.fits", PH, "ph", SPWS, "mfs", "I", "pbcor")
    add(f"{p}{CHECK}_check.spw{sp}.mfs.I.pbcor.fits", CHECK, "check", SPWS, "mfs", "I", "pbcor")
    add(f"{MOUS}.{SCI}_sci.spw{sp}.cont.I.residual.fits", SCI, "sci", SPWS, "cont", "I", "residual", naming="legacy")
    return e


def write_pipeline_delivery(
    base: Path,
    *,
    calibrated: tuple[str, ...] = (EBS[0],),
    raw: tuple[str, ...] = (EBS[0], EBS[1]),
    readme: str = "cycle6",
    with_weblog: bool = True,
) -> Spec:
    """Write an untarred Cycle 6+ pipeline delivery of 3 EBs under ``base``; return what was written.

    By default EB 1 is calibrated (stand-in ``.ms.split.cal``), EBs 1-2 have raw ASDMs, EB 3 has neither.
    """
    root = base / PROJECT
    member = root / f"science_goal.{SG}" / f"group.{GROUP}" / f"member.{MOUS}"
    spec = Spec(root=root, member_dir=member, ebs=list(EBS))
    for d in ("calibration", "product", "qa", "script", "log", "raw", "calibrated"):
        (member / d).mkdir(parents=True, exist_ok=True)
    (member / f"member.{MOUS}.README.txt").write_text(readme_sample(readme))
    # raw and calibrated data
    for eb in raw:
        _asdm(member / "raw" / f"{eb}.asdm.sdm")
        spec.raw.add(eb)
    for eb in calibrated:
        name = f"{eb}.ms.split.cal"
        _stand_in_ms(member / "calibrated" / name)
        spec.calibrated[eb] = name
    # calibration
    cal = member / "calibration"
    staging = base / ".staging-caltables"
    for session in sorted(set(SESSION.values())):
        sdir = staging / session
        sdir.mkdir(parents=True)
        for eb in [e for e in EBS if SESSION[e] == session]:
            names = _caltable_names(eb)
            spec.caltables[eb] = dict(names)
            for n, kind in names.items():
                _casacore_table(
                    sdir / n,
                    {"tsyscal": "B TSYS", "bandpass": "B Jones", "wvr": "T WVR", "antpos": "KAntPos Jones"}.get(
                        kind, "G Jones"
                    ),
                )
        _tgz(cal / f"{MOUS}.{session}.caltables.tgz", {}, {p.name: p for p in sorted(sdir.iterdir())})
    for eb in EBS:
        text, calls = _calapply_text(eb, _caltable_names(eb))
        (cal / f"{eb}.ms.calapply.txt").write_text(text)
        spec.calapply[eb] = calls
        _tgz(cal / f"{eb}.ms.flagversions.tgz", {f"{eb}.ms.flagversions/FLAG_VERSION_LIST": b"Pipeline_Final : x\n"})
        (cal / f"{eb}.flagtemplate.txt").write_text("# flagging template\nmode='manual' antenna='DV08'\n")
    (cal / f"{MOUS}.hifa_calimage.pipeline_manifest.xml").write_text(_manifest_xml(EBS))
    cont = (
        f"Field: {SCI}\n\nSpectralWindow: 17\n230.100~230.500GHz LSRK\n231.000~231.250GHz LSRK\n\n"
        f"SpectralWindow: 19\n232.500~233.000GHz LSRK\n"
    )
    spec.cont = [
        (SCI, "17", 230.1e9, 230.5e9, "LSRK"),
        (SCI, "17", 231.0e9, 231.25e9, "LSRK"),
        (SCI, "19", 232.5e9, 233.0e9, "LSRK"),
    ]
    flux = "ms,field,spw,I,Q,U,V,spix,uvmin,uvmax,comment\n"
    for spw, i in zip(SPWS, (1.52, 1.49)):
        flux += f'{EBS[0]}.ms,0,{spw},{i},0.0,0.0,0.0,-0.62,0.0,0.0,"# field={BP} intents=AMPLITUDE,BANDPASS"\n'
        spec.flux.append((BP, str(spw), i))
    antpos = "name,antenna,xoffset,yoffset,zoffset,comment\n"
    for ant in ("DA41", "DV08"):
        antpos += f'{EBS[0]}.ms,{ant},1.0e-04,-2.0e-04,3.0e-05,"# rms offset 0.1 mm"\n'
        spec.antennas.append(ant)
    _tgz(
        cal / f"{MOUS}.hifa_calimage.auxproducts.tgz",
        {"cont.dat": cont.encode(), "flux.csv": flux.encode(), "antennapos.csv": antpos.encode()},
    )
    # products
    for name, exp in image_expectations().items():
        _fits(member / "product" / name)
        spec.images[name] = exp
    (member / "product" / f"member.{MOUS}.product_notes.txt").write_text("notes\n")
    # QA
    qa = member / "qa"
    spec.stages = list(STAGES)
    if with_weblog:
        wstage = base / ".staging-weblog"
        spec.stage_plots = _weblog_tree(wstage, STAGES)
        _tgz(qa / f"{MOUS}.hifa_calimage.weblog.tgz", {}, {p.name: p for p in wstage.iterdir()})
    (qa / f"{MOUS}.hifa_calimage.pipeline_aquareport.xml").write_text(_aqua_xml(STAGES))
    spec.aqua_topics = {"Dataset": 1.0, "Flagging": 0.95, "Calibration": 0.2}
    (qa / f"{MOUS}.qa2_report.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (qa / f"{EBS[0]}.qa0_report.html").write_text("<html>QA0 pass</html>\n")
    # scripts and logs
    sc = member / "script"
    (sc / f"member.{MOUS}.scriptForPI.py").write_text("# scriptForPI\n")
    (sc / f"{MOUS}.hifa_calimage.casa_piperestorescript.py").write_text("__rethrow_casa_exceptions = True\n")
    lg = member / "log"
    (lg / "casa-20200315-101112.log").write_text(
        "2020-03-15 10:11:12\tINFO\t::casa\tCASA Version CASA 6.5.4-9   (Pipeline 2023.1.0.124)\n"
    )
    (lg / f"{MOUS}.hifa_calimage.casa_commands.log").write_text("# casa commands\n")
    (lg / f"{MOUS}.hifa_calimage.casa_pipescript.py").write_text("hifa_importdata(vis=[...])\n")
    # a file the parser does not know
    (member / "notes_from_PI.docx").write_bytes(b"PK\x03\x04")
    spec.unknown = ["notes_from_PI.docx"]
    return spec


def write_archive_tars(spec: Spec, out: Path) -> list[Path]:
    """Pack a written delivery into the archive's tar files in ``out`` (as the ALMA archive hands them out)."""
    out.mkdir(parents=True, exist_ok=True)
    rel_member = spec.member_dir.relative_to(spec.root.parent)
    tars = []

    def pack(name: str, subdirs: list[str], extra_files: list[str] = ()) -> None:
        path = out / name
        with tarfile.open(path, "w") as tf:
            for sd in subdirs:
                src = spec.member_dir / sd
                if src.exists():
                    tf.add(src, arcname=str(rel_member / sd))
            for f in extra_files:
                tf.add(spec.member_dir / f, arcname=str(rel_member / f))
        tars.append(path)

    readme = f"member.{spec.mous}.README.txt"
    pack(f"{spec.project}_{spec.mous}_001_of_001.tar", ["product"], [readme])
    pack(f"{spec.project}_{spec.mous}_auxiliary.tar", ["calibration", "script", "qa", "log"], [readme])
    for eb in sorted(spec.raw):
        pack(f"{spec.project}_{eb}.asdm.sdm.tar", [f"raw/{eb}.asdm.sdm"])
    return tars


def write_manual_delivery(base: Path) -> Spec:
    """A Cycle 3 manually calibrated delivery: old README, scriptForCalibration, manual caltables, legacy images."""
    project, sg, grp, mous = "2015.1.00456.S", "uid___A001_X2fe_X10", "uid___A001_X2fe_X11", "uid___A001_X2fe_X12"
    eb = "uid___A002_Xb1d975_X2d2"
    root = base / project
    member = root / f"science_goal.{sg}" / f"group.{grp}" / f"member.{mous}"
    for d in ("calibration", "product", "qa", "script", "log", "raw"):
        (member / d).mkdir(parents=True)
    (member / "README").write_text(readme_sample("cycle0-4"))
    spec = Spec(root=root, project=project, mous=mous, member_dir=member, ebs=[eb])
    _asdm(member / "raw" / eb)  # Cycle 3 raw ASDM directories carried no .asdm.sdm suffix
    spec.raw.add(eb)
    staging = base / ".staging-manual"
    staging.mkdir()
    names = {
        f"{eb}.ms.tsys": "tsyscal",
        f"{eb}.ms.wvr": "wvr",
        f"{eb}.ms.bandpass": "bandpass",
        f"{eb}.ms.phase_int": "phase",
        f"{eb}.ms.ampli_inf": "amplitude",
        f"{eb}.ms.flux_inf": "fluxscale",
        f"{eb}.ms.antpos": "antpos",
    }
    for n in names:
        _casacore_table(staging / n, "G Jones")
    _tgz(member / "calibration" / f"{eb}.calibration.tgz", {}, {n: staging / n for n in names})
    spec.caltables[eb] = names
    (member / "script" / f"{eb}.ms.scriptForCalibration.py").write_text("# manual calibration\n")
    (member / "script" / "scriptForImaging.py").write_text("# imaging\n")
    (member / "script" / f"{mous}.scriptForPI.py").write_text("# scriptForPI\n")
    (member / "qa" / f"{mous}.qa2_report.pdf").write_bytes(b"%PDF-1.4\n")
    _fits(member / "product" / "HD_163296.cont.image.pbcor.fits")
    spec.images["HD_163296.cont.image.pbcor.fits"] = dict(
        field="HD_163296", kind="cont", image_type="pbcor", naming="unknown"
    )
    return spec


# ---------------------------------------------------------------- tree hashing


def tree_digest(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with its type, mode and content hash (symlinks not followed)."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = p.relative_to(root).as_posix()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_mtime_ns)
            else:
                out[rel] = (
                    "file",
                    stat.S_IMODE(st.st_mode),
                    st.st_mtime_ns,
                    hashlib.sha256(p.read_bytes()).hexdigest(),
                )
    return out

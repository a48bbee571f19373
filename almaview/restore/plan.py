"""Plan a restore: the route, what it needs (CASA, raw data, disk, memory), and what it would run, per EB.

Planning reads the delivery's metadata and the ASDMs' XML tables; it never
writes into the delivery and extracts nothing.

Examples
--------
>>> import almaview as av
>>> p = av.restore.plan(av.open_delivery("2023.1.01234.S"))      # doctest: +SKIP
>>> p                                                             # doctest: +SKIP
>>> [e.verdict for e in p.ebs]                                    # doctest: +SKIP
['ready', 'ready', 'needs raw data: fetch 2023.1.01234.S_uid___A002_X5921_X1.asdm.sdm.tar from the ALMA archive']
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cache import cache_dir
from ..constants import INTENTS
from ..errors import NotADelivery
from ..sizes import free_bytes
from . import registry
from .casafind import CasaInstallation, find_casa, short_version
from .errors import RestoreError
from .estimate import estimate_restore
from .planmodel import Command, EBPlan, RestorePlan, Step, gb  # noqa: F401  (re-exported)

if TYPE_CHECKING:  # pragma: no cover
    from ..delivery.model import Delivery, ExecutionBlock, MemberOUS

ENGINES = ("auto", "modular", "scriptforpi")

#: pipeline intent names in calapply.txt -> CASA intent patterns in an MS (from the one table, almaview.constants;
#: AMPLITUDE is CALIBRATE_FLUX, POLARIZATION matches every CALIBRATE_POL* intent, FLUX is an old alias)
INTENT_PATTERNS = {
    **{short: f"*{alma}*" for alma, short in reversed(INTENTS.items())},
    "FLUX": "*CALIBRATE_FLUX*",
    "POLARIZATION": "*CALIBRATE_POL*",
}

#: importasdm options of the pipeline's hifa_importdata / hifa_restoredata
IMPORT_OPTIONS = dict(
    asis="Antenna Station Receiver Source CalAtmosphere CalWVR CorrelatorMode SBSummary",
    ocorr_mode="ca",
    bdfflags=True,
    process_flags=True,
    lazy=False,
    savecmds=False,
)

#: the flag version the pipeline saves after calibration (restored before applycal)
FINAL_FLAGVERSION = "Pipeline_Final"

#: memory below which a restore is likely to fail or swap (bytes); CASA's guide asks >= 8 GB per process
MEMORY_MIN = 4 * 2**30
MEMORY_RECOMMENDED = 8 * 2**30


def intent_pattern(intent: str) -> str:
    """calapply.txt's intent ('BANDPASS', 'PHASE,TARGET', or ALMA's own names) -> a CASA intent selection.

    Examples
    --------
    >>> intent_pattern("BANDPASS")
    '*CALIBRATE_BANDPASS*'
    >>> intent_pattern("PHASE,TARGET")
    '*CALIBRATE_PHASE*,*OBSERVE_TARGET*'
    >>> intent_pattern("CALIBRATE_FLUX#ON_SOURCE")
    'CALIBRATE_FLUX#ON_SOURCE'
    """
    out = []
    for part in (p.strip() for p in intent.split(",") if p.strip()):
        out.append(INTENT_PATTERNS.get(part.upper(), part))
    return ",".join(out)


def available_memory() -> int | None:
    """Bytes of memory available to a new process (MemAvailable on Linux; free pages elsewhere).

    Examples
    --------
    >>> (available_memory() or 1) > 0
    True
    """
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


# ---------------------------------------------------------------- planning


def default_workdir(delivery: "Delivery") -> Path:
    """almaview's cache: ``<cache>/restore/<project>-<hash of the delivery path>``.

    Examples
    --------
    >>> default_workdir(d).parent.name          # doctest: +SKIP
    'restore'
    """
    tag = hashlib.sha256(os.path.realpath(delivery.root).encode()).hexdigest()[:8]
    return cache_dir("restore") / f"{delivery.project_code or 'delivery'}-{tag}"


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _select(delivery: "Delivery", ebs: list[str] | None) -> list[tuple["MemberOUS", "ExecutionBlock"]]:
    pairs = [(m, eb) for m in delivery.mous for eb in m.ebs]
    if ebs is None:
        return pairs
    chosen = []
    for key in ebs:
        matches = [(m, eb) for m, eb in pairs if eb.uid == key or eb.uid.endswith(key)]
        if len(matches) != 1:
            raise RestoreError(
                delivery.root,
                f"EB {key!r} matches {len(matches)} EBs of the delivery; known: {[eb.uid for _, eb in pairs]}",
            )
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def _raw_problem(d: "Delivery", eb: "ExecutionBlock") -> str | None:
    tar = f"{d.project_code or '<project>'}_{eb.uid}.asdm.sdm.tar"
    if eb.raw_asdm and eb.raw_complete is not False:
        return None
    if eb.raw_asdm and eb.raw_complete is False:
        return (
            f"needs raw data: {eb.raw_asdm} is incomplete (ASDM.xml missing: half-extracted or half-copied); "
            f"untar {tar} again"
        )
    if eb.raw_archive:
        return (
            f"needs raw data: untar {os.path.basename(eb.raw_archive)} so that raw/ holds "
            f"{eb.uid}.asdm.sdm (in {os.path.dirname(eb.raw_archive)})"
        )
    return f"needs raw data: fetch {tar} from the ALMA archive"


def _modular_steps(
    eb: "ExecutionBlock", staging: Path, output: Path, split_ms: Path | None, flagversions: str | None
) -> tuple[list[Step], list[str]]:
    notes: list[str] = []
    steps = [
        Step(
            "importasdm",
            dict(asdm=eb.raw_asdm, vis=str(staging), **IMPORT_OPTIONS),
            "raw ASDM -> MS (DATA), as the pipeline imports it",
        )
    ]
    if flagversions:
        steps.append(
            Step(
                "almaview:flagversions",
                dict(archive=flagversions, vis=str(staging)),
                f"extract {os.path.basename(flagversions)} next to the MS",
            )
        )
        steps.append(
            Step(
                "flagmanager",
                dict(vis=str(staging), mode="restore", versionname=FINAL_FLAGVERSION, merge="replace"),
                "the flags the pipeline ended with (checked against the MS's rows first)",
            )
        )
    else:
        notes.append("no flagversions archive delivered: only the online flags of the ASDM are applied")
    for call in eb.calapply.calls if eb.calapply else []:
        kw: dict[str, Any] = dict(vis=str(staging))
        if call.field:
            kw["field"] = call.field
        if call.intent:
            kw["intent"] = intent_pattern(call.intent)
        if call.spw:
            kw["spw"] = call.spw
        if call.antenna:
            kw["antenna"] = call.antenna
        kw.update(
            gaintable=[t.table for t in call.tables],
            gainfield=[t.gainfield for t in call.tables],
            interp=[t.interp for t in call.tables],
            spwmap=[list(t.spwmap) for t in call.tables],
            calwt=[t.calwt for t in call.tables],
            applymode=str(call.options.get("applymode", "calflagstrict")),
            flagbackup=False,
        )
        steps.append(Step("applycal", kw, "as in calapply.txt (gaintable names resolved to the extracted tables)"))
    if split_ms is not None:
        steps.append(
            Step(
                "split",
                dict(
                    vis=str(staging),
                    outputvis=str(staging.parent / split_ms.name),
                    datacolumn="corrected",
                    keepflags=True,
                ),
                f"the calibrated data alone (DATA = corrected), moved to {split_ms} at the end",
            )
        )
    steps.append(
        Step(
            "almaview:publish",
            dict(staging=str(staging), output=str(output)),
            f"move the finished MS to {output} (never a half-written MS there)",
        )
    )
    return steps, notes


def plan(
    delivery: "Delivery | str | os.PathLike",
    *,
    ebs: list[str] | None = None,
    workdir: str | os.PathLike | None = None,
    engine: str = "auto",
    split: bool = False,
    in_delivery: bool = False,
) -> RestorePlan:
    """Check what restoring the delivery's calibrated data needs and say, per EB, whether it can run now.

    ``ebs``: uids (or unique suffixes) to restore; all EBs by default. ``workdir``: where the
    MSs are built (default: almaview's cache); never inside the delivery unless ``in_delivery``
    (then scriptForPI runs in the delivery's ``script/`` directory, as ALMA documents it).
    ``engine``: 'auto' (scriptForPI with a suitable monolithic CASA, else the modular route with
    the pip casatasks), 'scriptforpi' or 'modular'. ``split``: also split the calibrated data.

    Examples
    --------
    >>> import almaview as av
    >>> p = av.restore.plan(av.open_delivery("2023.1.01234.S"), ebs=["X1f4a"])    # doctest: +SKIP
    >>> p.ebs[0].verdict                                                         # doctest: +SKIP
    'ready'
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    if not hasattr(delivery, "mous"):
        from ..delivery import open_delivery

        delivery = open_delivery(delivery)
    d = delivery
    if not d.mous:
        raise NotADelivery(d.root, "holds no member OUS: nothing to restore")
    if d.layout == "tars":
        raise RestoreError(
            d.root,
            "the package is still in its archive tar files: untar them first "
            f'(cd {d.root} && for f in *.tar; do tar -xf "$f"; done), then plan again',
        )
    root = Path(d.root)
    if in_delivery:
        work = root
    else:
        work = Path(workdir).expanduser().absolute() if workdir is not None else default_workdir(d)
        if _inside(work, root):
            raise RestoreError(
                work,
                f"is inside the delivery {d.root}: almaview never writes into a delivery "
                "unless asked (in_delivery=True); choose a work directory outside it",
            )
    pairs = _select(d, ebs)
    members = {m.uid: m for m, _ in pairs}
    routes = {m.uid: m.calibration_mode for m in members.values()}
    casa_required = next((m.casa_version for m in members.values() if m.casa_version), None)
    pl = next(
        (m.pipeline_version for m in members.values() if m.pipeline_version and m.calibration_mode == "pipeline"), None
    )
    installs = find_casa()
    suit = []
    for inst in installs:
        route = "pipeline" if "pipeline" in routes.values() else next(iter(routes.values()), None)
        ok, why = inst.suitability(casa_required, route=route)
        suit.append((inst, ok, why))
    mono = [i for i, ok, _ in suit if ok and i.kind == "monolithic"]
    pip = [i for i, ok, _ in suit if ok and i.kind == "pip"]
    chosen: CasaInstallation | None = None
    eng: str | None = None
    if engine in ("auto", "scriptforpi") and mono:
        eng, chosen = "scriptforpi", mono[0]
    elif engine in ("auto", "modular") and pip:
        eng, chosen = "modular", pip[0]
    messages: list[str] = []
    if in_delivery:
        messages.append("in_delivery: outputs go into the delivery's calibrated/ directory (as scriptForPI does)")
    need_casa = f"needs CASA {short_version(casa_required) or '(version unknown: see the README)'}" + (
        f" with pipeline {pl}" if pl else ""
    )
    if eng is None:
        what = {"scriptforpi": "a monolithic CASA", "modular": "the pip casatasks", "auto": "CASA"}[engine]
        messages.append(
            f"no suitable {what} found: install CASA {short_version(casa_required) or ''}"
            + (" with the pipeline" if pl else "")
            + " from https://casa.nrao.edu/casa_obtaining.shtml"
            " (monolithic, with the pipeline for pipeline-calibrated data)"
        )

    plans: list[EBPlan] = []
    commands: list[Command] = []
    for m, eb in pairs:
        base = work / (m.path if in_delivery else m.uid)
        out_dir = base / "calibrated"
        route = m.calibration_mode
        e = EBPlan(
            uid=eb.uid,
            mous=m.uid,
            route=route,
            verdict="ready",
            asdm=eb.raw_asdm,
            asdm_archive_name=f"{d.project_code or '<project>'}_{eb.uid}.asdm.sdm.tar",
            delivered_ms=eb.calibrated_ms,
        )
        e.caltables = {name: eb.caltables.get_table(name).source for name in eb.caltables}
        e.flagversions = next((f for f in eb.flagversions if f.endswith(".tgz") or f.endswith(".tar.gz")), None)
        if eb.calibrated_ms:
            e.notes.append(f"the delivery already holds a calibrated MS for this EB: {eb.calibrated_ms}")
        if eng == "modular" or (eng is None and route == "pipeline"):
            e.output_ms = str(out_dir / f"{eb.uid}.ms")
            e.staging_ms = str(base / "working" / f"{eb.uid}.ms")
            e.split_ms = str(out_dir / f"{eb.uid}.ms.split.cal") if split else None
        else:
            e.output_ms = str(out_dir / (f"{eb.uid}.ms" if route == "pipeline" else f"{eb.uid}.ms.split.cal"))
        e.estimate = estimate_restore(eb.raw_asdm, split=split)
        done = registry.is_verified(work, eb.uid)
        raw = _raw_problem(d, eb)
        if done is not None:
            e.verdict, e.output_ms = "restored", str(done)
            e.notes.append("already restored and verified in this work directory: a run skips it")
        elif raw:
            e.verdict = raw
        elif eng is None:
            e.verdict = need_casa
        elif eng == "modular":
            missing = [t for t in (eb.calapply.tables if eb.calapply else []) if t not in eb.caltables]
            if route != "pipeline" or eb.calapply is None:
                e.verdict = (
                    need_casa + " (monolithic): this EB was calibrated manually "
                    "(scriptForCalibration.py), which the modular engine does not replay"
                )
            elif missing:
                e.verdict = (
                    f"needs calibration tables: {', '.join(missing)} named in "
                    f"{os.path.basename(eb.calapply.path)} are not in the delivery (download the "
                    "calibration products)"
                )
            else:
                e.steps, notes = _modular_steps(
                    eb, Path(e.staging_ms), Path(e.output_ms), Path(e.split_ms) if e.split_ms else None, e.flagversions
                )
                e.notes += notes
                if any(s.task == "applycal" and "intent" in s.kwargs for s in e.steps):
                    e.notes.append(
                        "applycal selects by field and intent as calapply.txt says; if the imported MS "
                        "carries no such intents (an ASDM without calibration intents in its State "
                        "table), field selection alone is used and the log says so"
                    )
        elif eng == "scriptforpi":
            scripts = [s for s in m.scripts.script_for_pi]
            if not scripts:
                e.verdict = (
                    f"needs scriptForPI.py: the delivery's {m.path}/script has none (download the auxiliary tar)"
                )
        plans.append(e)

    # disk: all EBs still to restore must fit together
    pending = [e for e in plans if e.ready]
    need = sum(e.estimate.total for e in pending if e.estimate)
    free = free_bytes(work)
    if pending and need > free:
        for e in pending:
            e.verdict = f"not enough disk: need ~{gb(need)}, have {gb(free)} in {work}"
    if any(e.ready and e.estimate is None for e in plans):
        messages.append("the size of some EBs could not be estimated (ASDM tables unreadable)")
    mem = available_memory()
    if mem is not None and mem < MEMORY_MIN:
        messages.append(
            f"only {gb(mem)} of memory available: CASA needs >= {gb(MEMORY_RECOMMENDED)} "
            "to restore comfortably; close other programs or use a bigger machine"
        )

    python = sys.executable
    if eng == "modular" and any(e.ready for e in plans):
        commands.append(
            Command(
                [python, "-m", "almaview.restore.engines.modular", str(work / "job.json")],
                str(work),
                "the modular engine, in a subprocess (CASA's log in the work directory)",
            )
        )
    elif eng == "scriptforpi":
        from .engines.scriptforpi import member_command

        for mous in dict.fromkeys(e.mous for e in plans if e.ready):
            commands.append(member_command(chosen, members[mous], work, in_delivery=in_delivery))
    return RestorePlan(
        delivery=d,
        workdir=str(work),
        engine=eng,
        casa_required=casa_required,
        pipeline_required=pl,
        installations=installs,
        suitability=suit,
        casa=chosen,
        free_bytes=free,
        need_bytes=need,
        memory_bytes=mem,
        ebs=plans,
        commands=commands,
        split=split,
        in_delivery=in_delivery,
        messages=messages,
    )

"""Calibrate a simulated ALMA EB with casatasks, the way the ALMA pipeline does.

Tsys (gencal from SYSCAL), antenna positions, phase-up, delay, bandpass,
time-dependent phase and amplitude gains, fluxscale, then applycal per field.
Tables are named as the pipeline names them:
``<eb>.ms.<task>.s<stage>_<n>.<spws>.<solint>.<kind>.tbl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import casa
from .simulate import Layout


@dataclass
class CalApply:
    """One applycal call: what the delivery's ``*.calapply.txt`` records."""

    field: str
    intent: str
    gaintable: list[str]
    gainfield: list[str]
    interp: list[str]
    spwmap: list[list[int]]
    calwt: list[bool]


def _name(ms: Path, task: str, stage: str, spws: str, solint: str | None, kind: str) -> str:
    parts = [ms.name, task, stage]
    if spws:
        parts.append(spws)
    if solint:
        parts.append(solint)
    return ".".join(parts + [kind, "tbl"])


def calibrate(ms: Path, layout: Layout, refant: str, outdir: Path) -> tuple[dict[str, Path], list[CalApply], dict]:
    """Run the calibration chain; return the caltables by role, the applycal calls and fluxscale's answer."""
    tasks = casa.casatasks()
    spws = "spw" + "_".join(str(i) for i in range(len(layout.spws)))
    by_intent = {f.intent.split("#")[0]: f.name for f in layout.fields}
    bp, flux, ph = by_intent["CALIBRATE_BANDPASS"], by_intent["CALIBRATE_FLUX"], by_intent["CALIBRATE_PHASE"]
    target = by_intent["OBSERVE_TARGET"]
    cals = ",".join([bp, flux, ph])
    ct = {
        "antpos": _name(ms, "hifa_antpos", "s5_1", "", None, "ants"),
        "tsys": _name(ms, "h_tsyscal", "s6_1", "", None, "tsyscal"),
        "phaseup": _name(ms, "hifa_bandpass", "s12_1", spws, "solintint", "gpcal"),
        "delay": _name(ms, "hifa_bandpass", "s12_2", spws, "solintinf", "kcal"),
        "bandpass": _name(ms, "hifa_bandpass", "s12_3", spws, "solintinf", "bcal"),
        "phase": _name(ms, "hifa_timegaincal", "s17_1", spws, "solintint", "gpcal"),
        "amp": _name(ms, "hifa_timegaincal", "s17_3", spws, "solintinf", "gacal"),
        "fluxscale": _name(ms, "hifa_gfluxscale", "s15_4", spws, "solintinf", "fluxscale.gacal"),
    }
    ct = {k: outdir / v for k, v in ct.items()}
    vis = str(ms)

    # Models: flux and bandpass calibrators are known (catalogue); the phase calibrator starts at 1 Jy.
    tasks.setjy(vis=vis, field=ph, standard="manual", fluxdensity=[1.0, 0, 0, 0], usescratch=True)

    tasks.gencal(vis=vis, caltable=str(ct["tsys"]), caltype="tsys")
    # A tiny (2 micron) position correction for one pad: the table ALMA ships, without disturbing the truth.
    tasks.gencal(vis=vis, caltable=str(ct["antpos"]), caltype="antpos", antenna=refant, parameter=[2e-6, 0, 0])
    pre = [str(ct["tsys"]), str(ct["antpos"])]
    tasks.gaincal(vis=vis, caltable=str(ct["phaseup"]), field=bp, solint="int", calmode="p", refant=refant,
                  minsnr=2.0, gaintable=pre)
    tasks.gaincal(vis=vis, caltable=str(ct["delay"]), field=bp, solint="inf", combine="scan", gaintype="K",
                  refant=refant, gaintable=pre + [str(ct["phaseup"])])
    tasks.bandpass(vis=vis, caltable=str(ct["bandpass"]), field=bp, solint="inf", combine="scan", refant=refant,
                   bandtype="B", solnorm=True, minsnr=2.0, gaintable=pre + [str(ct["phaseup"]), str(ct["delay"])])
    post = pre + [str(ct["delay"]), str(ct["bandpass"])]
    tasks.gaincal(vis=vis, caltable=str(ct["phase"]), field=cals, solint="int", calmode="p", refant=refant,
                  minsnr=2.0, gaintable=post)
    tasks.gaincal(vis=vis, caltable=str(ct["amp"]), field=cals, solint="inf", gaintype="T", calmode="a",
                  refant=refant, minsnr=2.0, gaintable=post + [str(ct["phase"])])
    fluxes = tasks.fluxscale(vis=vis, caltable=str(ct["amp"]), fluxtable=str(ct["fluxscale"]), reference=flux,
                             transfer=[bp, ph])

    applies = []
    for f in layout.fields:
        own = f.name if not f.intent.startswith("OBSERVE_TARGET") else ph
        ap = CalApply(
            field=f.name, intent=f.intent,
            gaintable=[str(ct[k]) for k in ("tsys", "antpos", "delay", "bandpass", "phase", "fluxscale")],
            gainfield=["", "", "", "", own, own],
            interp=["linear,linear", "", "", "linear,linear", "linear", "linear"],
            spwmap=[[], [], [], [], [], []],
            calwt=[True, False, False, False, False, True],
        )
        tasks.applycal(vis=vis, field=f.name, gaintable=ap.gaintable, gainfield=ap.gainfield, interp=ap.interp,
                       calwt=ap.calwt, flagbackup=False)
        applies.append(ap)
    return ct, applies, fluxes

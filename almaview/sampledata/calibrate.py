"""Calibrate a simulated ALMA EB with casatasks, the way the ALMA pipeline does.

Tsys (gencal from SYSCAL), antenna positions, phase-up, delay, bandpass,
fluxscale (hifa_gfluxscale: its own phase/amplitude gains, then fluxscale; the
derived fluxes become the calibrators' models), the time-dependent phase and
amplitude gains that are applied (hifa_timegaincal), then applycal per field.
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
    cals = ",".join([bp, flux, ph])
    ct = {
        "tsys": _name(ms, "h_tsyscal", "s6_1", "", None, "tsyscal"),
        "antpos": _name(ms, "hifa_antpos", "s8_1", "", None, "ants"),
        "phaseup": _name(ms, "hifa_bandpass", "s13_1", spws, "solintint", "gpcal"),
        "delay": _name(ms, "hifa_bandpass", "s13_2", spws, "solintinf", "kcal"),
        "bandpass": _name(ms, "hifa_bandpass", "s13_3", spws, "solintinf", "bcal"),
        "fluxscale_phase": _name(ms, "hifa_gfluxscale", "s16_1", spws, "solintint", "gpcal"),
        "fluxscale_amp": _name(ms, "hifa_gfluxscale", "s16_2", spws, "solintinf", "gacal"),
        "fluxscale": _name(ms, "hifa_gfluxscale", "s16_3", spws, "solintinf", "fluxscale.gacal"),
        "phase": _name(ms, "hifa_timegaincal", "s17_1", spws, "solintint", "gpcal"),
        "amp": _name(ms, "hifa_timegaincal", "s17_3", spws, "solintinf", "gacal"),
    }
    ct = {k: outdir / v for k, v in ct.items()}
    vis = str(ms)

    # Models (hif_setmodels): the flux calibrator from the catalogue; the others at 1 Jy until fluxscale.
    for cal in (bp, ph):
        tasks.setjy(vis=vis, field=cal, standard="manual", fluxdensity=[1.0, 0, 0, 0], usescratch=True)

    tasks.gencal(vis=vis, caltable=str(ct["tsys"]), caltype="tsys")
    # A tiny (2 micron) position correction for one pad: the table ALMA ships, without disturbing the truth.
    tasks.gencal(vis=vis, caltable=str(ct["antpos"]), caltype="antpos", antenna=refant, parameter=[2e-6, 0, 0])
    pre = [str(ct["tsys"]), str(ct["antpos"])]
    tasks.gaincal(
        vis=vis,
        caltable=str(ct["phaseup"]),
        field=bp,
        solint="int",
        calmode="p",
        refant=refant,
        minsnr=2.0,
        gaintable=pre,
    )
    tasks.gaincal(
        vis=vis,
        caltable=str(ct["delay"]),
        field=bp,
        solint="inf",
        combine="scan",
        gaintype="K",
        refant=refant,
        gaintable=pre + [str(ct["phaseup"])],
    )
    tasks.bandpass(
        vis=vis,
        caltable=str(ct["bandpass"]),
        field=bp,
        solint="inf",
        combine="scan",
        refant=refant,
        bandtype="B",
        solnorm=True,
        minsnr=2.0,
        gaintable=pre + [str(ct["phaseup"]), str(ct["delay"])],
    )
    post = pre + [str(ct["delay"]), str(ct["bandpass"])]

    # hifa_gfluxscale: phase and amplitude gains on the calibrators, then fluxscale against the flux calibrator.
    tasks.gaincal(
        vis=vis,
        caltable=str(ct["fluxscale_phase"]),
        field=cals,
        solint="int",
        calmode="p",
        refant=refant,
        minsnr=2.0,
        gaintable=post,
    )
    tasks.gaincal(
        vis=vis,
        caltable=str(ct["fluxscale_amp"]),
        field=cals,
        solint="inf",
        gaintype="T",
        calmode="a",
        refant=refant,
        minsnr=2.0,
        gaintable=post + [str(ct["fluxscale_phase"])],
    )
    fluxes = tasks.fluxscale(
        vis=vis, caltable=str(ct["fluxscale_amp"]), fluxtable=str(ct["fluxscale"]), reference=flux, transfer=[bp, ph]
    )
    # The derived flux densities become the calibrators' models (as the pipeline's setjy does) ...
    for fid, res in fluxes.items():
        if isinstance(res, dict) and res.get("fieldName") in (bp, ph):
            index = [res["spidx"][1]] if len(res.get("spidx", [])) > 1 else [0.0]
            tasks.setjy(
                vis=vis,
                field=res["fieldName"],
                standard="manual",
                fluxdensity=[res["fitFluxd"], 0, 0, 0],
                spix=index,
                reffreq=f"{res['fitRefFreq']}Hz",
                usescratch=True,
            )
    # ... and hifa_timegaincal solves the gains that are applied.
    tasks.gaincal(
        vis=vis,
        caltable=str(ct["phase"]),
        field=cals,
        solint="int",
        calmode="p",
        refant=refant,
        minsnr=2.0,
        gaintable=post,
    )
    tasks.gaincal(
        vis=vis,
        caltable=str(ct["amp"]),
        field=cals,
        solint="inf",
        gaintype="T",
        calmode="a",
        refant=refant,
        minsnr=2.0,
        gaintable=post + [str(ct["phase"])],
    )

    applies = []
    for f in layout.fields:
        own = f.name if not f.intent.startswith("OBSERVE_TARGET") else ph
        ap = CalApply(
            field=f.name,
            intent=f.intent,
            gaintable=[str(ct[k]) for k in ("tsys", "antpos", "delay", "bandpass", "phase", "amp")],
            gainfield=["", "", "", "", own, own],
            interp=["linear,linear", "", "", "linear,linear", "linear", "linear"],
            spwmap=[[], [], [], [], [], []],
            calwt=[True, False, False, False, False, True],
        )
        tasks.applycal(
            vis=vis,
            field=f.name,
            gaintable=ap.gaintable,
            gainfield=ap.gainfield,
            interp=ap.interp,
            calwt=ap.calwt,
            flagbackup=False,
        )
        applies.append(ap)
    return ct, applies, fluxes

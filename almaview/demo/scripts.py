"""Scripts and logs of the demo: scriptForPI, the pipeline scripts, casa_commands.log, manual-era scripts.

``casa_commands.log`` lists the CASA calls that built the demo, in the order
they ran: the calibration calls almaview.sampledata made (its recipe, with the
pipeline table names; the ``s<N>`` in a table name is the pipeline stage that
would have made it) and the tclean/exportfits calls this package made, keyword
for keyword.
"""

from __future__ import annotations

from .project import PROJECT, RECIPE
from .stages import STAGES, Stage


def call_text(task: str, kwargs: dict) -> str:
    """Format a CASA call as the pipeline logs it: ``task(key=value, ...)`` with Python literals.

    Examples
    --------
    >>> call_text("tclean", {"vis": ["a.ms"], "niter": 200, "pbcor": True})
    "tclean(vis=['a.ms'], niter=200, pbcor=True)"
    """
    return f"{task}(" + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"


def casa_commands_log(sections: list[tuple[str, list[tuple[str, dict]]]]) -> str:
    """``# <pipeline task>`` and ``# <its description>`` headers, each followed by the CASA calls made for it,
    in the order they ran.

    Examples
    --------
    >>> print(casa_commands_log([("hif_makeimages", [("tclean", {"niter": 0})])]), end="")
    # hif_makeimages
    # Make target continuum images
    tclean(niter=0)
    <BLANKLINE>
    """
    describe = {}
    for _, task, description, _ in STAGES:
        describe.setdefault(task, description)
    out = []
    for header, calls in sections:
        out.append(f"# {header}")
        if header in describe:
            out.append(f"# {describe[header]}")
        out += [call_text(t, kw) for t, kw in calls]
        out.append("")
    return "\n".join(out) + "\n"


def calibration_calls(
    eb: str,
    cal: dict[str, str],
    fields: dict[str, str],
    calapply: list[dict],
    refant: str,
    fluxscale: dict | None = None,
) -> list[tuple[str, list[tuple[str, dict]]]]:
    """The calibration calls of one EB, stage by stage (the recipe of almaview.sampledata.calibrate)."""
    derived = [
        (
            r["fieldName"],
            r["fitFluxd"],
            (r.get("spidx") or [0, 0])[1] if len(r.get("spidx") or []) > 1 else 0.0,
            r["fitRefFreq"],
        )
        for r in (fluxscale or {}).values()
        if isinstance(r, dict) and "fitFluxd" in r
    ]
    vis = f"{eb}.ms"
    by_intent = {intent.split("#")[0]: name for name, intent in fields.items()}
    bp, flux, ph = by_intent["CALIBRATE_BANDPASS"], by_intent["CALIBRATE_FLUX"], by_intent["CALIBRATE_PHASE"]
    cals = ",".join([bp, flux, ph])
    pre = [cal["tsys"], cal["antpos"]]
    post = pre + [cal["delay"], cal["bandpass"]]
    return [
        (
            "hif_setmodels",
            [
                (
                    "setjy",
                    dict(vis=vis, field=cal_field, standard="manual", fluxdensity=[1.0, 0, 0, 0], usescratch=True),
                )
                for cal_field in (bp, ph)
            ],
        ),
        ("h_tsyscal", [("gencal", dict(vis=vis, caltable=cal["tsys"], caltype="tsys"))]),
        (
            "hifa_antpos",
            [
                (
                    "gencal",
                    dict(vis=vis, caltable=cal["antpos"], caltype="antpos", antenna=refant, parameter=[2e-6, 0, 0]),
                )
            ],
        ),
        (
            "hifa_bandpass",
            [
                (
                    "gaincal",
                    dict(
                        vis=vis,
                        caltable=cal["phaseup"],
                        field=bp,
                        solint="int",
                        calmode="p",
                        refant=refant,
                        minsnr=2.0,
                        gaintable=pre,
                    ),
                ),
                (
                    "gaincal",
                    dict(
                        vis=vis,
                        caltable=cal["delay"],
                        field=bp,
                        solint="inf",
                        combine="scan",
                        gaintype="K",
                        refant=refant,
                        gaintable=pre + [cal["phaseup"]],
                    ),
                ),
                (
                    "bandpass",
                    dict(
                        vis=vis,
                        caltable=cal["bandpass"],
                        field=bp,
                        solint="inf",
                        combine="scan",
                        refant=refant,
                        bandtype="B",
                        solnorm=True,
                        minsnr=2.0,
                        gaintable=pre + [cal["phaseup"], cal["delay"]],
                    ),
                ),
            ],
        ),
        (
            "hifa_gfluxscale",
            [
                (
                    "gaincal",
                    dict(
                        vis=vis,
                        caltable=cal["fluxscale_phase"],
                        field=cals,
                        solint="int",
                        calmode="p",
                        refant=refant,
                        minsnr=2.0,
                        gaintable=post,
                    ),
                ),
                (
                    "gaincal",
                    dict(
                        vis=vis,
                        caltable=cal["fluxscale_amp"],
                        field=cals,
                        solint="inf",
                        gaintype="T",
                        calmode="a",
                        refant=refant,
                        minsnr=2.0,
                        gaintable=post + [cal["fluxscale_phase"]],
                    ),
                ),
                (
                    "fluxscale",
                    dict(
                        vis=vis,
                        caltable=cal["fluxscale_amp"],
                        fluxtable=cal["fluxscale"],
                        reference=flux,
                        transfer=[bp, ph],
                    ),
                ),
            ]
            + [
                (
                    "setjy",
                    dict(
                        vis=vis,
                        field=name,
                        standard="manual",
                        fluxdensity=[flux_jy, 0, 0, 0],
                        spix=[index],
                        reffreq=f"{reffreq}Hz",
                        usescratch=True,
                    ),
                )
                for name, flux_jy, index, reffreq in derived
            ],
        ),
        (
            "hifa_timegaincal",
            [
                (
                    "gaincal",
                    dict(
                        vis=vis,
                        caltable=cal["phase"],
                        field=cals,
                        solint="int",
                        calmode="p",
                        refant=refant,
                        minsnr=2.0,
                        gaintable=post,
                    ),
                ),
                (
                    "gaincal",
                    dict(
                        vis=vis,
                        caltable=cal["amp"],
                        field=cals,
                        solint="inf",
                        gaintype="T",
                        calmode="a",
                        refant=refant,
                        minsnr=2.0,
                        gaintable=post + [cal["phase"]],
                    ),
                ),
            ],
        ),
        (
            "hif_applycal",
            [
                (
                    "applycal",
                    dict(
                        vis=vis,
                        field=a["field"],
                        gaintable=a["gaintable"],
                        gainfield=a["gainfield"],
                        interp=a["interp"],
                        calwt=a["calwt"],
                        flagbackup=False,
                    ),
                )
                for a in calapply
            ],
        ),
    ]


def pipescript(stages: list[Stage], ebs: list[str]) -> str:
    """``<OUS>.hifa_calimage.casa_pipescript.py``: the pipeline tasks in order.

    Examples
    --------
    >>> from almaview.demo.stages import Stage
    >>> print(pipescript([Stage(1, "hifa_importdata", "x", "Dataset")], ["uid___A002_X1_X2"]))  # doctest: +ELLIPSIS
    # This CASA pipescript is meant for use with CASA 6.7 and pipeline 2025.1.0.0-almaview-demo.
    ...
        hifa_importdata(vis=['uid___A002_X1_X2'], session=['session_1'])
    ...
    """
    vis = [e for e in ebs]
    sessions = [f"session_{i + 1}" for i in range(len(ebs))]
    lines = [
        "# This CASA pipescript is meant for use with CASA 6.7 and pipeline 2025.1.0.0-almaview-demo.",
        "# almaview demo: no ALMA pipeline ran; casatasks made the equivalent calls (see casa_commands.log).",
        "context = h_init()",
        f"context.set_state('ProjectSummary', 'proposal_code', '{PROJECT}')",
        "try:",
    ]
    for s in stages:
        if s.task == "hifa_importdata":
            lines.append(f"    hifa_importdata(vis={vis!r}, session={sessions!r})")
        elif s.number == 21:
            lines.append("    hif_makeimlist(specmode='cont')")
        elif s.number == 24:
            lines.append("    hif_makeimlist(specmode='cube')")
        elif s.task == "hifa_exportdata":
            lines.append("    hifa_exportdata()")
        else:
            lines.append(f"    {s.task}()")
    lines += ["finally:", "    h_save()", ""]
    return "\n".join(lines)


def restorescript(ebs: list[str]) -> str:
    """``<OUS>.hifa_calimage.casa_piperestorescript.py``.

    Examples
    --------
    >>> "hifa_restoredata(vis=['uid___A002_X1_X2']" in restorescript(["uid___A002_X1_X2"])
    True
    """
    sessions = [f"session_{i + 1}" for i in range(len(ebs))]
    return (
        "__rethrow_casa_exceptions = True\nh_init()\ntry:\n"
        f"    hifa_restoredata(vis={ebs!r}, session={sessions!r}, ocorr_mode='ca')\n"
        "    hif_statwt()\nfinally:\n    h_save()\n"
    )


def script_for_pi(mous: str, ebs: list[str], *, pipeline: bool) -> str:
    """``member.<OUS>.scriptForPI.py``: restore the calibrated MSs into ``calibrated/``.

    Examples
    --------
    >>> "hifa_calimage.casa_piperestorescript.py" in script_for_pi("uid___A001_X1_X2", ["uid___A002_X1_X2"],
    ...                                                             pipeline=True)
    True
    """
    head = (
        f"# ALMA Data Reduction Script: scriptForPI for member OUS {mous} of {PROJECT}\n"
        "# Run from the 'script' directory: casa --pipeline -c " + f"member.{mous}.scriptForPI.py\n"
        "# (almaview demo: this script documents the restore; the calibrated MSs are already in calibrated/.)\n\n"
        "import os\nimport shutil\nimport glob\n\n"
        f"asdms = {ebs!r}\n"
        "for asdm in asdms:\n"
        "    if not os.path.exists('../raw/%s.asdm.sdm' % asdm):\n"
        "        raise RuntimeError('ASDM %s is missing from ../raw: download and untar its .asdm.sdm.tar' % asdm)\n\n"
        "os.makedirs('../calibrated/working', exist_ok=True)\nos.chdir('../calibrated/working')\n"
    )
    if pipeline:
        body = (
            "for f in glob.glob('../../calibration/*'):\n    os.symlink(f, os.path.basename(f))\n"
            f"exec(open('../../script/{mous}.{RECIPE}.casa_piperestorescript.py').read())\n"
            "for asdm in asdms:\n    shutil.move(asdm + '.ms', '../' + asdm + '.ms')\n"
        )
    else:
        body = (
            "for asdm in asdms:\n"
            "    importasdm(asdm='../../raw/%s.asdm.sdm' % asdm, vis=asdm + '.ms')\n"
            "    exec(open('../../script/%s.ms.scriptForCalibration.py' % asdm).read())\n"
            "    split(vis=asdm + '.ms', outputvis='../%s.ms.split.cal' % asdm, datacolumn='corrected')\n"
        )
    return head + body + "os.chdir('../../script')\n"


def script_for_calibration(eb: str, calls: list[tuple[str, dict]]) -> str:
    """A manual-era ``<EB>.ms.scriptForCalibration.py`` holding the calls that calibrated the EB.

    Examples
    --------
    >>> "bandpass(vis='x.ms')" in script_for_calibration("x", [("bandpass", {"vis": "x.ms"})])
    True
    """
    lines = [f"# ALMA Data Reduction Script (manual calibration) for {eb}", "", "thesteps = []", ""]
    for i, (task, kw) in enumerate(calls):
        lines += [f"# Step {i}: {task}", call_text(task, kw), ""]
    return "\n".join(lines)

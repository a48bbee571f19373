"""A small ALMA-like EB with known problems, for checking that QA catches them.

Built with the same real tools as the clean sample EB (CASA's simulator,
casatasks calibration), with a modified truth and observing plan:

- antenna :data:`TSYS_ANTENNA` has four times its own Tsys (every spw);
- antenna :data:`NOISY_ANTENNA` has a large and fast atmospheric phase (150 deg, 50 s period);
- the plan skips the phase-calibrator scan between the second and third target scans;
- after calibration, flagdata flags every visibility of :data:`FLAGGED_ANTENNA`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .. import casa
from ..cache import atomic_directory

TSYS_ANTENNA = 3  # DA44
NOISY_ANTENNA = 5  # DA46
FLAGGED_ANTENNA = 7  # DA48
_MANIFEST = "faulty.json"


def build_faulty_eb(outdir: str | os.PathLike, *, isolate: bool = True) -> dict:
    """Simulate and calibrate the faulty EB into ``outdir`` (cached); return its paths and names.

    Returns a dict: ``ms``, ``antennas``, ``caltables`` (role -> path), ``eb_uid``.

    Examples
    --------
    >>> from almaview.sampledata.faults import build_faulty_eb
    >>> eb = build_faulty_eb("scratch/faulty")        # doctest: +SKIP
    >>> eb["antennas"][TSYS_ANTENNA]                   # doctest: +SKIP
    'DA44'
    """
    outdir = Path(outdir).resolve()
    if (outdir / _MANIFEST).is_file():
        return _load(outdir)
    if isolate:
        casa.run_isolated("almaview.sampledata.faults:build_faulty_eb", str(outdir), isolate=False)
        return _load(outdir)
    from casacore import tables

    from . import simulate
    from .calibrate import calibrate

    spws = (
        simulate.SpwSetup("X1045362913#ALMA_RB_06#BB_1#SW-01#FULL_RES", 230.53e9, 32, 1.953125e6),
        simulate.SpwSetup("X1045362913#ALMA_RB_06#BB_2#SW-01#FULL_RES", 232.0e9, 16, 15.625e6),
    )
    plan = [
        ("J1924-2914", 60.0),
        ("J1517-2422", 36.0),
        ("J1625-2527", 30.0),
        ("IRAS16293-2422", 90.0),
        ("J1625-2527", 30.0),
        ("IRAS16293-2422", 90.0),
        ("IRAS16293-2422", 90.0),  # the phase-calibrator scan before this one is missing
        ("J1625-2527", 30.0),
        ("IRAS16293-2422", 90.0),
        ("J1625-2527", 30.0),
    ]
    scans, t = [], 0.0
    for name, dur in plan:
        scans.append(simulate.Scan(name, t, dur))
        t += dur + 12.0
    layout = simulate.default_layout(
        "small", n_antennas=8, spws=spws, scans=tuple(scans), seed=11, eb_uid="uid___A002_Xfa017_X1bad"
    )
    with atomic_directory(outdir) as tmp, casa.working_directory(tmp):
        ms = tmp / f"{layout.eb_uid}.ms"
        simulate.simulate_structure(ms, layout)
        simulate.predict_model(ms, layout, tmp)
        with tables.table(str(ms / "ANTENNA"), ack=False) as tb:
            antennas = list(tb.getcol("NAME"))
        with tables.table(str(ms), ack=False) as tb:
            t_ref = float(tb.getcol("TIME", 0, 1)[0])
        truth = simulate.make_truth(layout, antennas, t_ref)
        for k in range(len(truth.tsys)):
            truth.tsys[k][TSYS_ANTENNA] *= 4.0
        truth.phase_drift_amp[NOISY_ANTENNA] = np.radians(150.0)
        truth.phase_drift_period_s[NOISY_ANTENNA] = 50.0
        simulate.corrupt(ms, layout, truth)
        simulate.write_syscal(ms, layout, truth)
        caltables, _, _ = calibrate(ms, layout, antennas[0], tmp)
        casa.casatasks().flagdata(vis=str(ms), mode="manual", antenna=antennas[FLAGGED_ANTENNA], flagbackup=False)
        (tmp / _MANIFEST).write_text(
            json.dumps(
                {
                    "ms": ms.name,
                    "antennas": antennas,
                    "caltables": {k: v.name for k, v in caltables.items()},
                    "eb_uid": layout.eb_uid,
                }
            )
        )
    return _load(outdir)


def _load(outdir: Path) -> dict:
    d = json.loads((outdir / _MANIFEST).read_text())
    d["ms"] = outdir / d["ms"]
    d["caltables"] = {k: outdir / v for k, v in d["caltables"].items()}
    return d

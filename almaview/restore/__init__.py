"""Restore calibrated data from a delivery's raw ASDMs and calibration: planned, visible, resumable, verified.

ALMA ships most PIs raw ASDMs, calibration tables and scriptForPI.py rather than
calibrated MSs. ``plan`` checks what a restore needs (route, CASA version, raw
data, disk, memory) and says per EB whether it can run; ``run`` does it in a
subprocess with a progress bar, skips EBs already restored, verifies each
calibrated MS against the delivered flux.csv and records it
(:func:`restored_ms`).

Examples
--------
>>> import almaview as av
>>> d = av.open_delivery("2023.1.01234.S")                 # doctest: +SKIP
>>> p = av.restore.plan(d, workdir="/scratch/restore")     # doctest: +SKIP
>>> p                                                       # doctest: +SKIP
>>> result = av.restore.run(p)                              # doctest: +SKIP
>>> av.restore.restored_ms(d, d.ebs[0])                     # doctest: +SKIP
"""

from __future__ import annotations

from .casafind import CasaInstallation, find_casa
from .errors import RestoreError, RestoreFailed, RestoreNotReady, RestoreStopped, VerificationFailed
from .plan import EBPlan, RestorePlan, plan
from .registry import restored, restored_ms
from .run import RestoreResult, RestoreRun, run, start
from .verify import Verification, verify_ms

__all__ = [
    "plan",
    "run",
    "start",
    "verify_ms",
    "restored_ms",
    "restored",
    "find_casa",
    "RestorePlan",
    "EBPlan",
    "RestoreRun",
    "RestoreResult",
    "Verification",
    "CasaInstallation",
    "RestoreError",
    "RestoreNotReady",
    "RestoreFailed",
    "RestoreStopped",
    "VerificationFailed",
]

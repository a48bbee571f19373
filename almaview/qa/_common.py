"""Helpers shared by the criteria: finding an EB's caltables, its calibrator fields, phase arithmetic."""

from __future__ import annotations

import re

import numpy as np
import xarray as xr

from ..delivery.model import ExecutionBlock


def tables_of_kind(eb: ExecutionBlock, kind: str, *, exclude: str | None = None) -> list[str]:
    """Names of the EB's caltables of a kind, latest pipeline stage first (no extraction).

    Examples
    --------
    >>> tables_of_kind(eb, "phase")      # doctest: +SKIP
    ['uid.ms.hifa_timegaincal.s17_1.spw0.solintint.gpcal.tbl', 'uid.ms.hifa_bandpass.s12_1...']
    """
    names = [n for n, k in eb.caltables.kinds().items() if k == kind and not (exclude and exclude in n)]
    return sorted(names, key=_stage, reverse=True)


def _stage(name: str) -> tuple[int, int, str]:
    m = re.search(r"\.s(\d+)_(\d+)\.", name)
    return (int(m.group(1)), int(m.group(2)), name) if m else (-1, -1, name)


def scans_table(vis: xr.DataTree):
    """The MS's scans node as a DataFrame: scan, field, intents, start, end (datetime64)."""
    import pandas as pd

    s = vis["scans"].ds
    return pd.DataFrame({
        "scan": s["scan_number"].values.astype(int), "field": s["field_name"].values.astype(str),
        "intents": s["intents"].values.astype(str), "start": s["start"].values, "end": s["end"].values,
    })


def fields_with_intent(vis: xr.DataTree, intent: str) -> list[str]:
    """Fields observed with an intent (e.g. 'CALIBRATE_PHASE'), in scan order."""
    scans = scans_table(vis)
    return list(dict.fromkeys(scans.loc[scans["intents"].str.contains(intent), "field"]))


def wrap_deg(x: np.ndarray) -> np.ndarray:
    """Angles wrapped into [-180, 180).

    Examples
    --------
    >>> wrap_deg(np.array([190.0, -190.0, 30.0])).tolist()
    [-170.0, 170.0, 30.0]
    """
    return (np.asarray(x) + 180.0) % 360.0 - 180.0


def circular_mean_deg(x: np.ndarray) -> float:
    """The mean direction of angles in degrees.

    Examples
    --------
    >>> round(circular_mean_deg(np.array([170.0, -170.0])), 6)
    180.0
    """
    return float(np.degrees(np.angle(np.mean(np.exp(1j * np.radians(x))))) % 360.0) if len(x) else float("nan")

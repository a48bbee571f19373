"""Helpers shared by the criteria: finding an EB's caltables, its calibrator fields, phase arithmetic."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..analysis.statistics import wrap_deg  # noqa: F401 (one home: analysis)
from ..delivery.model import ExecutionBlock


def tables_of_kind(eb: ExecutionBlock, kind: str, *, exclude: str | None = None) -> list[str]:
    """Names of the EB's caltables of a kind, latest pipeline stage first (no extraction).

    Examples
    --------
    >>> tables_of_kind(eb, "phase")      # doctest: +SKIP
    ['uid.ms.hifa_timegaincal.s17_1.spw0.solintint.gpcal.tbl', 'uid.ms.hifa_bandpass.s12_1...']
    """
    return eb.caltables.of_kind(kind, exclude=exclude)


def scans_table(vis: xr.DataTree):
    """The MS's scans node as a DataFrame: scan, field, intents, start, end (datetime64)."""
    import pandas as pd

    s = vis["scans"].ds
    return pd.DataFrame(
        {
            "scan": s["scan_number"].values.astype(int),
            "field": s["field_name"].values.astype(str),
            "intents": s["intents"].values.astype(str),
            "start": s["start"].values,
            "end": s["end"].values,
        }
    )


def fields_with_intent(vis: xr.DataTree, intent: str) -> list[str]:
    """Fields observed with an intent (e.g. 'CALIBRATE_PHASE'), in scan order."""
    scans = scans_table(vis)
    return list(dict.fromkeys(scans.loc[scans["intents"].str.contains(intent), "field"]))


def circular_mean_deg(x: np.ndarray) -> float:
    """The mean direction of angles in degrees.

    Examples
    --------
    >>> round(circular_mean_deg(np.array([170.0, -170.0])), 6)
    180.0
    """
    return float(np.degrees(np.angle(np.mean(np.exp(1j * np.radians(x))))) % 360.0) if len(x) else float("nan")

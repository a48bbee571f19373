"""Gains: RMS of the antenna-based phase and amplitude solutions on the phase calibrator, per antenna and spw."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..delivery.model import ExecutionBlock
from ..io.caltable import open_caltable
from ._common import circular_mean_deg, fields_with_intent, tables_of_kind, wrap_deg
from .limits import Limits
from .report import Evidence, Finding, grade, not_checkable

CRITERION = "gains"


def phase_table_for(eb: ExecutionBlock, fields: list[str]):
    """The latest phase caltable holding solutions on one of ``fields`` (opened; ``attrs['path']``), or None."""
    for name in tables_of_kind(eb, "phase") + tables_of_kind(eb, "gain"):
        tree = open_caltable(eb.caltables[name])
        if any(np.isin(node.ds["field_name"].values.astype(str), fields).any() for node in tree.children.values()):
            return tree
    return None


def phase_solutions(tree, fields: list[str]) -> pd.DataFrame:
    """Unflagged phase solutions (deg) on ``fields``: spw, antenna, receptor, scan, time, phase, amp (long table)."""
    frames = []
    for node in tree.children.values():
        ds = node.ds
        keep = np.isin(ds["field_name"].values.astype(str), fields)
        if not keep.any():
            continue
        g, flag = ds["gain"].values[keep], ds["flag"].values[keep]  # (time, antenna_name, receptor)
        t, scan = ds["time"].values[keep], ds["scan_number"].values[keep]
        ti, ai, ri = np.nonzero(~flag)
        frames.append(
            pd.DataFrame(
                {
                    "spw": int(ds.attrs["spw_id"]),
                    "antenna": ds["antenna_name"].values[ai].astype(str),
                    "receptor": ds["receptor"].values[ri].astype(str),
                    "scan": scan[ti].astype(int),
                    "time": t[ti],
                    "phase_deg": np.degrees(np.angle(g[ti, ai, ri])),
                    "amp": np.abs(g[ti, ai, ri]),
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def phase_rms(sol: pd.DataFrame) -> pd.DataFrame:
    """Per (spw, antenna): RMS (deg) of the phase solutions about their scan's circular mean, receptors pooled.

    Scans with one solution carry no in-scan information and are skipped; ``n`` counts the solutions used.
    """
    s = sol.copy()
    key = ["spw", "antenna", "receptor", "scan"]
    s["n_in_scan"] = s.groupby(key)["phase_deg"].transform("size")
    s = s[s["n_in_scan"] > 1]
    s["dev"] = wrap_deg(s["phase_deg"] - s.groupby(key)["phase_deg"].transform(circular_mean_deg))
    out = (
        s.groupby(["spw", "antenna"])
        .agg(phase_rms_deg=("dev", lambda d: float(np.sqrt(np.mean(d**2)))), n=("dev", "size"))
        .reset_index()
    )
    return out


def amp_rms(sol: pd.DataFrame) -> pd.DataFrame:
    """Per (spw, antenna): fractional RMS (std/mean) of the amplitude solutions, receptors pooled."""
    out = (
        sol.groupby(["spw", "antenna"])
        .agg(amp_rms=("amp", lambda a: float(np.std(a) / np.mean(a)) if len(a) > 1 else np.nan), n=("amp", "size"))
        .reset_index()
    )
    return out


def check_gains(eb: ExecutionBlock, vis, limits: Limits) -> list[Finding]:
    """Judge the phase and amplitude solutions on the phase calibrator of one EB.

    Examples
    --------
    >>> [f.aspect for f in check_gains(d.ebs[0], av.open_ms(d.ebs[0].calibrated_ms), Limits())]   # doctest: +SKIP
    ['phase rms', 'amplitude rms']
    """
    if vis is None:
        return [not_checkable(CRITERION, eb.uid, "phase rms", "no calibrated MS: the phase calibrator is unknown")]
    phasecal = fields_with_intent(vis, "CALIBRATE_PHASE")
    if not phasecal:
        return [not_checkable(CRITERION, eb.uid, "phase rms", "no scan with intent CALIBRATE_PHASE in the MS")]
    return [_phase_finding(eb, phasecal, limits), _amp_finding(eb, phasecal, limits)]


def _phase_finding(eb: ExecutionBlock, phasecal: list[str], limits: Limits) -> Finding:
    tree = phase_table_for(eb, phasecal)
    if tree is None:
        return not_checkable(CRITERION, eb.uid, "phase rms", f"no phase caltable with solutions on {phasecal}")
    df = phase_rms(phase_solutions(tree, phasecal))
    if df.empty:
        return not_checkable(
            CRITERION, eb.uid, "phase rms", "one solution per scan (solint longer than the scan): no in-scan phase RMS"
        )
    df["array_median_deg"] = df.groupby("spw")["phase_rms_deg"].transform("median")
    worst = float(df["phase_rms_deg"].max())
    verdict = grade(worst, limits.phase_rms_warn_deg, limits.phase_rms_fail_deg)
    bad = df[df["phase_rms_deg"] > limits.phase_rms_warn_deg]
    outl = df[(df["phase_rms_deg"] > limits.phase_rms_outlier * df["array_median_deg"]) & (df["phase_rms_deg"] > 10)]
    parts = [
        f"{a} spw {','.join(str(s) for s in g['spw'])}: {g['phase_rms_deg'].max():.1f} deg"
        for a, g in bad.groupby("antenna")
    ]
    extra = sorted(set(outl["antenna"]) - set(bad["antenna"]))
    if extra:
        verdict = "warning" if verdict == "pass" else verdict
        parts.append(f"outliers (> {limits.phase_rms_outlier:g}x the array median): {', '.join(extra)}")
    why = "; ".join(parts) or (
        f"every antenna below {limits.phase_rms_warn_deg:g} deg "
        f"(array median {df['phase_rms_deg'].median():.1f} deg) on {', '.join(phasecal)}"
    )
    return Finding(
        CRITERION,
        eb.uid,
        "phase rms",
        verdict,
        worst,
        "deg",
        f"warning > {limits.phase_rms_warn_deg:g} deg, fail > {limits.phase_rms_fail_deg:g} deg "
        f"(in-scan, about each scan's mean)",
        limits.source("phase_rms_fail_deg"),
        why,
        Evidence(
            "scatter",
            df,
            dict(
                x="antenna",
                y="phase_rms_deg",
                by="spw",
                warn=limits.phase_rms_warn_deg,
                fail=limits.phase_rms_fail_deg,
                y_label="phase RMS (deg)",
            ),
            detail=("gains", tree.attrs["path"], dict(antennas=sorted(set(bad["antenna"]) | set(extra)) or None)),
        ),
    )


def _amp_finding(eb: ExecutionBlock, phasecal: list[str], limits: Limits) -> Finding:
    tree = None
    for name in tables_of_kind(eb, "amplitude", exclude="fluxscale"):
        t = open_caltable(eb.caltables[name])
        if any(np.isin(n.ds["field_name"].values.astype(str), phasecal).any() for n in t.children.values()):
            tree = t
            break
    if tree is None:
        return not_checkable(CRITERION, eb.uid, "amplitude rms", f"no amplitude caltable with solutions on {phasecal}")
    df = amp_rms(phase_solutions(tree, phasecal)).dropna(subset=["amp_rms"])
    if df.empty:
        return not_checkable(CRITERION, eb.uid, "amplitude rms", "fewer than two amplitude solutions per antenna")
    worst = float(df["amp_rms"].max())
    verdict = grade(worst, limits.amp_rms_warn, limits.amp_rms_fail)
    bad = df[df["amp_rms"] > limits.amp_rms_warn]
    why = "; ".join(
        f"{a} spw {','.join(str(s) for s in g['spw'])}: {100 * g['amp_rms'].max():.1f}%"
        for a, g in bad.groupby("antenna")
    ) or (f"every antenna below {100 * limits.amp_rms_warn:g}% (array median {100 * df['amp_rms'].median():.1f}%)")
    return Finding(
        CRITERION,
        eb.uid,
        "amplitude rms",
        verdict,
        worst,
        "fraction",
        f"warning > {limits.amp_rms_warn:g}, fail > {limits.amp_rms_fail:g} (std/mean over scans)",
        limits.source("amp_rms_fail"),
        why,
        Evidence(
            "scatter",
            df,
            dict(
                x="antenna",
                y="amp_rms",
                by="spw",
                warn=limits.amp_rms_warn,
                fail=limits.amp_rms_fail,
                y_label="amplitude RMS / mean",
            ),
        ),
    )

"""Phase transfer: phase-calibrator scans around every target scan, and how much the phase moves between them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..delivery.model import ExecutionBlock
from ._common import circular_mean_deg, fields_with_intent, scans_table, wrap_deg
from .gains import phase_solutions, phase_table_for
from .limits import Limits
from .report import Evidence, Finding, grade, not_checkable

CRITERION = "phase transfer"


def cadence(scans: pd.DataFrame) -> pd.DataFrame:
    """One row per target scan: the phase-calibrator scans before/after it, the interval they span, and
    whether another target scan sits between them (``bracketed`` False).

    ``interval_s`` is from the start of the preceding to the start of the following phase-calibrator scan;
    ``cycle_s`` is the typical cycle (median interval between consecutive phase-calibrator scans).

    Examples
    --------
    >>> cadence(scans_table(av.open_ms(ms)))[["scan", "interval_s", "ratio"]]    # doctest: +SKIP
    """
    s = scans.sort_values("start").reset_index(drop=True)
    is_ph = s["intents"].str.contains("CALIBRATE_PHASE").to_numpy()
    is_t = s["intents"].str.contains("OBSERVE_TARGET").to_numpy()
    ph_start = s.loc[is_ph, "start"].to_numpy()
    cycle = (
        float(np.median(np.diff(ph_start).astype("timedelta64[ns]").astype(float) / 1e9)) if is_ph.sum() > 1 else np.nan
    )
    rows = []
    idx = np.arange(len(s))
    for i in idx[is_t]:
        before = idx[(idx < i) & is_ph]
        after = idx[(idx > i) & is_ph]
        b = before[-1] if len(before) else None
        a = after[0] if len(after) else None
        between = [int(s.loc[j, "scan"]) for j in idx[is_t] if j != i and (b is None or j > b) and (a is None or j < a)]
        interval = (
            ((s.loc[a, "start"] - s.loc[b, "start"]) / np.timedelta64(1, "s"))
            if (a is not None and b is not None)
            else np.nan
        )
        rows.append(
            dict(
                scan=int(s.loc[i, "scan"]),
                field=s.loc[i, "field"],
                phasecal_before=None if b is None else int(s.loc[b, "scan"]),
                phasecal_after=None if a is None else int(s.loc[a, "scan"]),
                other_targets_between=between,
                interval_s=float(interval),
                cycle_s=cycle,
                ratio=float(interval / cycle) if cycle and np.isfinite(interval) else np.nan,
                bracketed=b is not None and a is not None and not between,
            )
        )
    return pd.DataFrame(rows)


def scan_phase_jumps(sol: pd.DataFrame) -> pd.DataFrame:
    """Per (spw, antenna, receptor) and consecutive phase-calibrator scans: the change of the scan-mean phase (deg)."""
    means = (
        sol.groupby(["spw", "antenna", "receptor", "scan"])["phase_deg"]
        .apply(lambda p: circular_mean_deg(p.to_numpy()))
        .reset_index()
    )
    rows = []
    for (spw, ant, rec), g in means.groupby(["spw", "antenna", "receptor"]):
        g = g.sort_values("scan")
        d = wrap_deg(np.diff(g["phase_deg"].to_numpy()))
        for s0, s1, dd in zip(g["scan"].to_numpy()[:-1], g["scan"].to_numpy()[1:], d):
            rows.append(
                dict(
                    spw=int(spw), antenna=ant, receptor=rec, scan_from=int(s0), scan_to=int(s1), jump_deg=float(abs(dd))
                )
            )
    return pd.DataFrame(rows)


def check_phase_transfer(eb: ExecutionBlock, vis, limits: Limits) -> list[Finding]:
    """Judge the phase-calibrator cadence around target scans and the phase change between calibrator scans.

    Examples
    --------
    >>> [f.aspect for f in check_phase_transfer(eb, av.open_ms(eb.calibrated_ms), Limits())]    # doctest: +SKIP
    ['cadence', 'phase change']
    """
    if vis is None:
        return [not_checkable(CRITERION, eb.uid, "cadence", "no calibrated MS: scans unknown")]
    scans = scans_table(vis)
    cad = cadence(scans)
    out = []
    if cad.empty:
        out.append(not_checkable(CRITERION, eb.uid, "cadence", "no OBSERVE_TARGET scan in this EB"))
    elif not np.isfinite(cad["cycle_s"].iloc[0]):
        out.append(not_checkable(CRITERION, eb.uid, "cadence", "fewer than two phase-calibrator scans"))
    else:
        worst = float(np.nanmax(cad["ratio"])) if cad["ratio"].notna().any() else np.inf
        verdict = grade(worst, limits.cadence_ratio_warn, limits.cadence_ratio_fail)
        parts = []
        for _, r in cad[~cad["bracketed"]].iterrows():
            verdict = "fail"
            if r["other_targets_between"]:
                parts.append(
                    f"target scan {r['scan']} shares its calibrator interval with target scan(s) "
                    f"{', '.join(map(str, r['other_targets_between']))}: a phase-calibrator scan is missing"
                )
            else:
                side = "before" if r["phasecal_before"] is None else "after"
                parts.append(f"target scan {r['scan']} has no phase-calibrator scan {side} it (extrapolated phases)")
        long = cad[cad["ratio"] > limits.cadence_ratio_warn]
        if not long.empty:
            parts.append(
                "calibrator interval "
                + ", ".join(f"{r.interval_s:.0f} s around scan {r.scan}" for r in long.itertuples())
                + f" vs a typical cycle of {cad['cycle_s'].iloc[0]:.0f} s"
            )
        why = "; ".join(parts) or (
            f"every target scan between two phase-calibrator scans; cycle {cad['cycle_s'].iloc[0]:.0f} s"
        )
        out.append(
            Finding(
                CRITERION,
                eb.uid,
                "cadence",
                verdict,
                worst,
                "x typical cycle",
                f"warning > {limits.cadence_ratio_warn:g}, fail > {limits.cadence_ratio_fail:g}, "
                f"fail if a target scan is not between two phase-calibrator scans",
                limits.source("cadence_ratio_fail"),
                why,
                Evidence(
                    "scatter",
                    cad.drop(columns=["other_targets_between"]),
                    dict(
                        x="scan",
                        y="ratio",
                        warn=limits.cadence_ratio_warn,
                        fail=limits.cadence_ratio_fail,
                        y_label="calibrator interval / typical cycle",
                        hover=("interval_s", "phasecal_before", "phasecal_after"),
                    ),
                ),
            )
        )
    phasecal = fields_with_intent(vis, "CALIBRATE_PHASE")
    tree = phase_table_for(eb, phasecal) if phasecal else None
    if tree is None:
        out.append(not_checkable(CRITERION, eb.uid, "phase change", "no phase solutions on a phase calibrator"))
        return out
    jumps = scan_phase_jumps(phase_solutions(tree, phasecal))
    if jumps.empty:
        out.append(not_checkable(CRITERION, eb.uid, "phase change", "fewer than two phase-calibrator scans solved"))
        return out
    worst = float(jumps["jump_deg"].max())
    bad = jumps[jumps["jump_deg"] > limits.phase_jump_warn_deg]
    why = "; ".join(
        f"{a}: up to {g['jump_deg'].max():.0f} deg between scans "
        f"{int(g.loc[g['jump_deg'].idxmax(), 'scan_from'])}-{int(g.loc[g['jump_deg'].idxmax(), 'scan_to'])}"
        for a, g in bad.groupby("antenna")
    ) or (f"every antenna changes by at most {worst:.0f} deg between consecutive calibrator scans")
    per_ant = jumps.groupby(["spw", "antenna"])["jump_deg"].max().reset_index()
    out.append(
        Finding(
            CRITERION,
            eb.uid,
            "phase change",
            grade(worst, limits.phase_jump_warn_deg, limits.phase_jump_fail_deg),
            worst,
            "deg",
            f"warning > {limits.phase_jump_warn_deg:g} deg, fail > {limits.phase_jump_fail_deg:g} deg "
            "between consecutive calibrator scans",
            limits.source("phase_jump_fail_deg"),
            why,
            Evidence(
                "scatter",
                per_ant,
                dict(
                    x="antenna",
                    y="jump_deg",
                    by="spw",
                    warn=limits.phase_jump_warn_deg,
                    fail=limits.phase_jump_fail_deg,
                    y_label="largest phase change (deg)",
                ),
            ),
        )
    )
    return out

"""Bandpass: SNR of the solutions, and residual structure (platforming, steps) per antenna and spw."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..constants import MAD_TO_SIGMA
from ..delivery.model import ExecutionBlock
from ..io.caltable import open_caltable
from ._common import tables_of_kind
from .limits import Limits
from .report import Evidence, Finding, grade, not_checkable

CRITERION = "bandpass"


def bandpass_quality(tree, min_channels: int = 32) -> pd.DataFrame:
    """Per (spw, antenna): median SNR of the unflagged channels and the largest step in the amplitude.

    ``step``: the largest jump between adjacent channels of the antenna's |B| divided by the array's median
    shape (each antenna normalised by its median |B|; this removes the band shape every antenna shares, such
    as the baseband roll-off), on the channels inside the outer 1/16 of the band at each edge;
    ``step_sigma``: that jump over the robust scatter (1.4826 MAD) of all adjacent-channel jumps. A smooth
    ripple moves every jump a little; platforming or a step between sub-bands is one jump far out of the
    scatter. Spws with fewer than ``min_channels`` channels are not judged for steps. Receptors pooled
    (the larger of the two).
    """
    rows = []
    for node in tree.children.values():
        ds = node.ds
        g, flag, snr = ds["gain"].values, ds["flag"].values, ds["snr"].values  # (time, antenna, chan, receptor)
        nchan = g.shape[2]
        edge = max(1, nchan // 16)
        inner = np.zeros(nchan, bool)
        inner[edge : nchan - edge] = True
        amp_all = np.where(flag, np.nan, np.abs(g))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-flagged antennas: NaN, judged below
            norm = amp_all / np.nanmedian(amp_all, axis=2, keepdims=True)
            shape = np.nanmedian(norm, axis=1, keepdims=True)  # (time, 1, chan, receptor)
            rel = norm / shape
        for a, ant in enumerate(ds["antenna_name"].values):
            ok = ~flag[:, a]
            row = dict(spw=int(ds.attrs["spw_id"]), antenna=str(ant), snr=np.nan, step=np.nan, step_sigma=np.nan)
            if ok.any():
                row["snr"] = float(np.median(snr[:, a][ok]))
            for t in range(g.shape[0]) if nchan >= min_channels else ():
                for r in range(g.shape[3]):
                    good = ok[t, :, r] & inner
                    if good.sum() < min_channels // 2:
                        continue
                    amp = rel[t, a, good, r]
                    jumps = np.abs(np.diff(amp))
                    scatter = MAD_TO_SIGMA * np.median(np.abs(jumps - np.median(jumps)))
                    k = int(np.argmax(jumps))
                    if not np.isfinite(row["step"]) or jumps[k] > row["step"]:
                        row["step"], row["step_sigma"] = (
                            float(jumps[k]),
                            float(jumps[k] / scatter) if scatter else np.inf,
                        )
            rows.append(row)
    return pd.DataFrame(rows)


def check_bandpass(eb: ExecutionBlock, limits: Limits) -> list[Finding]:
    """Judge the bandpass solutions of one EB: SNR per antenna/spw, and residual structure.

    Examples
    --------
    >>> [f.aspect for f in check_bandpass(eb, Limits())]    # doctest: +SKIP
    ['solution snr', 'steps']
    """
    names = tables_of_kind(eb, "bandpass")
    if not names:
        return [not_checkable(CRITERION, eb.uid, "solution snr", "no bandpass caltable for this EB in the package")]
    path = eb.caltables[names[0]]
    df = bandpass_quality(open_caltable(path))
    worst = float(df["snr"].min())
    verdict = grade(worst, limits.bandpass_snr_warn, limits.bandpass_snr_fail, higher_is_worse=False)
    low = df[df["snr"] < limits.bandpass_snr_warn]
    why = "; ".join(
        f"spw {s}: median SNR {g['snr'].min():.1f} (lowest, {g.loc[g['snr'].idxmin(), 'antenna']})"
        for s, g in low.groupby("spw")
    )
    if why and verdict == "warning":
        why += f" is below the pipeline's {limits.bandpass_snr_warn:g} (it would smooth in frequency)"
    missing = sorted(set(df.loc[df["snr"].isna(), "antenna"]))
    if missing:
        why = "; ".join(filter(None, [why, f"no unflagged solutions for {', '.join(missing)}"]))
        verdict = "warning" if verdict == "pass" else verdict
    why = why or f"every antenna and spw above SNR {limits.bandpass_snr_warn:g} (lowest {worst:.1f})"
    out = [
        Finding(
            CRITERION,
            eb.uid,
            "solution snr",
            verdict,
            worst,
            "snr (lowest median)",
            f"warning < {limits.bandpass_snr_warn:g}, fail < {limits.bandpass_snr_fail:g}",
            f"{limits.source('bandpass_snr_warn')}; {limits.source('bandpass_snr_fail')}",
            why,
            Evidence(
                "scatter",
                df,
                dict(
                    x="antenna",
                    y="snr",
                    by="spw",
                    warn=limits.bandpass_snr_warn,
                    fail=limits.bandpass_snr_fail,
                    y_label="median SNR",
                ),
                detail=("bandpass", path, dict(antennas=sorted(set(low["antenna"])) or None)),
            ),
        )
    ]
    st = df.dropna(subset=["step"])
    if st.empty:
        out.append(not_checkable(CRITERION, eb.uid, "steps", "no spw with enough unflagged channels to judge"))
        return out
    lim = limits.bandpass_step_frac
    bad = st[(st["step"] > lim) & (st["step_sigma"] > limits.bandpass_step_sigma)]
    worst_s = float(st["step"].max())
    why = "; ".join(
        f"{a} spw {','.join(str(s) for s in g['spw'])}: a {100 * g['step'].max():.1f}% jump "
        f"({g['step_sigma'].max():.0f}x the channel-to-channel scatter)"
        for a, g in bad.groupby("antenna")
    ) or (f"no step: the largest channel-to-channel jump is {100 * worst_s:.2f}% of the amplitude")
    out.append(
        Finding(
            CRITERION,
            eb.uid,
            "steps",
            "warning" if not bad.empty else "pass",
            worst_s,
            "fraction",
            f"warning > {lim:g} and > {limits.bandpass_step_sigma:g}x the jump scatter",
            limits.source("bandpass_step_frac"),
            why,
            Evidence(
                "scatter",
                st,
                dict(x="antenna", y="step", by="spw", warn=lim, y_label="largest jump / median amplitude"),
                detail=("bandpass", path, dict(antennas=sorted(set(bad["antenna"])) or None)),
            ),
        )
    )
    return out
    lim = limits.bandpass_structure_frac
    bad = st[(st["structure"] > lim) & (st["structure"] > limits.bandpass_structure_warn * st["noise"])]
    worst_s = float(st["structure"].max())
    why = "; ".join(
        f"{a} spw {','.join(str(s) for s in g['spw'])}: {100 * g['structure'].max():.1f}% "
        f"({g['structure'].max() / g['noise'].max():.1f}x the noise)"
        for a, g in bad.groupby("antenna")
    ) or (f"residuals about a running median at most {100 * worst_s:.2f}% of the amplitude")
    out.append(
        Finding(
            CRITERION,
            eb.uid,
            "residual structure",
            "warning" if not bad.empty else "pass",
            worst_s,
            "fraction",
            f"warning > {lim:g} and > {limits.bandpass_structure_warn:g}x the noise (1/SNR)",
            limits.source("bandpass_structure_frac"),
            why,
            Evidence(
                "scatter",
                st,
                dict(x="antenna", y="structure", by="spw", warn=lim, y_label="residual rms / median amplitude"),
            ),
        )
    )
    return out

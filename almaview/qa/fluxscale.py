"""Flux scale: derived calibrator fluxes (flux.csv) across spws (spectral index) and across EBs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..delivery.model import MemberOUS
from .limits import HANDBOOK_FLUX, Limits, alma_band, flux_accuracy
from .report import Evidence, Finding, grade, not_checkable

CRITERION = "flux scale"


def flux_table(mous: MemberOUS, spw_freqs: dict[str, dict[int, float]]) -> pd.DataFrame:
    """flux.csv as a table: eb, field, spw, frequency_hz, flux_jy, origin ('fluxscale', 'catalogue', or '').

    ``spw_freqs`` maps an EB uid to {spw id: centre frequency in Hz} (from its MS).
    """
    rows = []
    for f in mous.flux:
        eb = f.vis.split(".ms")[0]
        m = re.search(r"field=(\S+)", f.comment or "")
        origin = re.search(r"origin=(\S+)", f.comment or "")
        try:
            spw = int(f.spw)
        except ValueError:
            continue
        freq = spw_freqs.get(eb, {}).get(spw)
        if f.I is None or freq is None:
            continue
        rows.append(
            dict(
                eb=eb,
                field=m.group(1) if m else str(f.field),
                spw=spw,
                frequency_hz=freq,
                flux_jy=float(f.I),
                origin=origin.group(1) if origin else "",
            )
        )
    return pd.DataFrame(rows, columns=["eb", "field", "spw", "frequency_hz", "flux_jy", "origin"])


def fit_spectral_index(freq_hz: np.ndarray, flux: np.ndarray) -> tuple[float, float, float]:
    """Least-squares power law S = S0 (nu/nu0)^alpha in log space: (alpha, S at nu0 = mean freq, max |resid|).

    Examples
    --------
    >>> a, s0, r = fit_spectral_index(np.array([1e11, 2e11]), np.array([2.0, 1.0]))
    >>> round(a, 6), round(r, 12)
    (-1.0, 0.0)
    """
    x = np.log(freq_hz / np.mean(freq_hz))
    y = np.log(flux)
    alpha, c = np.polyfit(x, y, 1)
    resid = flux / np.exp(c + alpha * x) - 1
    return float(alpha), float(np.exp(c)), float(np.max(np.abs(resid)))


def check_fluxscale(mous: MemberOUS, spw_freqs: dict[str, dict[int, float]], limits: Limits) -> list[Finding]:
    """Judge the derived calibrator fluxes of a member OUS: spectral-index sanity per EB, agreement across EBs.

    Examples
    --------
    >>> [f.scope for f in check_fluxscale(d.mous[0], freqs, Limits())]     # doctest: +SKIP
    """
    df = flux_table(mous, spw_freqs)
    if df.empty:
        why = "no flux.csv in the package" if not mous.flux else "flux.csv rows do not match a calibrated MS's spws"
        return [not_checkable(CRITERION, mous.uid, "spectral index", why)]
    derived = df[df["origin"] != "catalogue"]  # catalogue rows are the model, not a measurement
    out = []
    fits = []
    for (eb, field), g in derived.groupby(["eb", "field"]):
        if len(g) < 2:
            continue
        alpha, s0, resid = fit_spectral_index(g["frequency_hz"].to_numpy(), g["flux_jy"].to_numpy())
        fits.append(
            dict(
                eb=eb,
                field=field,
                alpha=alpha,
                flux_jy=s0,
                resid=resid,
                band=alma_band(float(g["frequency_hz"].mean())),
            )
        )
    fits = pd.DataFrame(fits)
    if fits.empty:
        out.append(not_checkable(CRITERION, mous.uid, "spectral index", "fewer than two spws per calibrator"))
    else:
        for field, g in fits.groupby("field"):
            insane = g[(g["alpha"] < limits.spectral_index_min) | (g["alpha"] > limits.spectral_index_max)]
            acc = flux_accuracy(g["band"].iloc[0])
            rough = g[g["resid"] > acc]
            verdict = "fail" if not insane.empty else "warning" if not rough.empty else "pass"
            worst = (
                g.loc[
                    (g["alpha"] - g["alpha"].clip(limits.spectral_index_min, limits.spectral_index_max)).abs().idxmax(),
                    "alpha",
                ]
                if not insane.empty
                else g["alpha"].iloc[int(np.argmax(g["alpha"].abs()))]
            )
            parts = [
                f"{r.eb}: alpha {r.alpha:+.2f}, spws within {100 * r.resid:.1f}% of the power law"
                for r in g.itertuples()
            ]
            out.append(
                Finding(
                    CRITERION,
                    field,
                    "spectral index",
                    verdict,
                    float(worst),
                    "alpha",
                    f"fail outside [{limits.spectral_index_min:g}, {limits.spectral_index_max:g}]; "
                    f"warning if a spw departs > {100 * acc:g}% from the power law",
                    f"{limits.source('spectral_index_min')}; {HANDBOOK_FLUX}",
                    "; ".join(parts),
                    Evidence(
                        "scatter",
                        derived[derived["field"] == field],
                        dict(
                            x="frequency_hz",
                            y="flux_jy",
                            by="eb",
                            x_label="frequency (Hz)",
                            y_label="derived flux (Jy)",
                        ),
                    ),
                )
            )
    for field, g in derived.groupby("field"):
        ebs = sorted(set(g["eb"]))
        if len(ebs) < 2:
            out.append(not_checkable(CRITERION, field, "across EBs", f"observed in one EB only ({ebs[0]})"))
            continue
        g = g.assign(ratio=g["flux_jy"] / g.groupby("spw")["flux_jy"].transform("median"))
        dev = float((g["ratio"] - 1).abs().max())
        acc = flux_accuracy(alma_band(float(g["frequency_hz"].mean())))
        worst_row = g.loc[(g["ratio"] - 1).abs().idxmax()]
        why = (
            f"{len(ebs)} EBs agree within {100 * dev:.1f}% per spw"
            if dev <= acc
            else f"{worst_row['eb']} spw {worst_row['spw']}: {worst_row['flux_jy']:.3f} Jy is "
            f"{100 * (worst_row['ratio'] - 1):+.1f}% from the median of the EBs"
        )
        out.append(
            Finding(
                CRITERION,
                field,
                "across EBs",
                grade(dev, acc, 2 * acc),
                dev,
                "fraction",
                f"warning > {acc:g} (flux accuracy of the band), fail > {2 * acc:g}",
                HANDBOOK_FLUX,
                why,
                Evidence(
                    "scatter",
                    g,
                    dict(x="spw", y="ratio", by="eb", warn=1 + acc, fail=1 + 2 * acc, y_label="flux / median over EBs"),
                ),
            )
        )
    return out

"""Calibration solutions reduced as the pipeline weblog shows them, one kind of table (VisCal type) each.

Each function takes the DataTree of :func:`almaview.open_caltable` and returns a tidy DataFrame, in the table's
own terms: Tsys in K per channel (B TSYS), bandpass gain per channel (B Jones), complex gains per solution
(G/T Jones), delays in ns (K Jones). A table of another kind raises
:class:`~almaview.errors.CaltableKindMismatch` naming the table and its kind.

Names: the trees are over xradio's ``antenna_name`` (:mod:`almaview.io.msv4`); the frames are what a plot shows,
not dumps of a tree, so their columns are the plots' words, as in every other frame of almaview (flag fractions,
reduced visibilities, QA tables): ``antenna`` (holding the tree's ``antenna_name`` values), ``spw``, ``receptor``.

Conventions (the weblog's):
- Tsys spectra: mean over solution times and receptors of the unflagged solutions; the median over antennas;
  an antenna is an outlier when its median Tsys exceeds ``outlier_factor`` x the median of all antennas' medians.
- Phase RMS (hifa_timegaincal's phase-offset QA): per spw, antenna and receptor, the sample standard deviation
  (ddof=1) of the unflagged solution phases in degrees on the phase calibrator's scans; per spw, the robust
  scatter 1.4826 x MAD of all of them (``Stot``).

Examples
--------
>>> import almaview as av
>>> ct = av.open_caltable("uid.ms.hifa_timegaincal.s17_1.spw0.solintint.gpcal.tbl")   # doctest: +SKIP
>>> g = gain_solutions(ct)                                                           # doctest: +SKIP
>>> phase_rms_table(g, phase_scans=[4, 7, 10])                                       # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..constants import MAD_TO_SIGMA
from ..constants import ANTENNA_DIM
from ..errors import CaltableKindMismatch
from .trees import caltable_spws, current_names, selected

__all__ = [
    "KIND_OF_VISCAL",
    "caltable_kind",
    "require_kind",
    "tsys_spectra",
    "bandpass_solutions",
    "gain_solutions",
    "delay_solutions",
    "phase_rms_table",
    "solution_mode",
    "phase_scatter",
]

#: VisCal type -> the panel that shows it
KIND_OF_VISCAL = {
    "B TSYS": "tsys",
    "B Jones": "bandpass",
    "G Jones": "gains",
    "T Jones": "gains",
    "K Jones": "delay",
    "KAntPos Jones": "antpos",
}
_WHAT = {
    "tsys": "Tsys spectra (B TSYS)",
    "bandpass": "bandpass solutions per channel (B Jones)",
    "gains": "gain solutions vs time (G or T Jones)",
    "delay": "delays in ns (K Jones)",
    "antpos": "antenna position corrections (KAntPos Jones)",
}


def caltable_kind(ct: Any) -> str | None:
    """The panel kind of a caltable tree from its VisCal type: 'tsys', 'bandpass', 'gains', 'delay', 'antpos';
    None when the tree does not say (e.g. a tree built by hand).

    Examples
    --------
    >>> import xarray as xr
    >>> caltable_kind(xr.DataTree(xr.Dataset(attrs={"viscal": "K Jones"})))
    'delay'
    """
    viscal = ct.attrs.get("viscal")
    return KIND_OF_VISCAL.get(str(viscal)) if viscal else None


def require_kind(ct: Any, *kinds: str) -> None:
    """Raise :class:`~almaview.errors.CaltableKindMismatch` unless the table is of one of ``kinds`` (or unknown).

    Examples
    --------
    >>> import xarray as xr
    >>> k = xr.DataTree(xr.Dataset(attrs={"viscal": "K Jones", "caltable": "x.kcal.tbl", "path": "/d/x.kcal.tbl"}))
    >>> require_kind(k, "bandpass")
    Traceback (most recent call last):
    ...
    almaview.errors.CaltableKindMismatch: '/d/x.kcal.tbl': x.kcal.tbl is a K Jones table (delays in ns (K Jones)), \
not bandpass solutions per channel (B Jones); show it with almaview.plots.delay (or almaview.plots.caltable)
    """
    kind = caltable_kind(ct)
    if kind is None or kind in kinds:
        return
    name = ct.attrs.get("caltable", "this table")
    want = " or ".join(_WHAT.get(k, k) for k in kinds)
    right = f"almaview.plots.{kind}" if kind != "antpos" else "a table listing (no plot)"
    raise CaltableKindMismatch(
        ct.attrs.get("path", name),
        f"{name} is a {ct.attrs.get('viscal')} table "
        f"({_WHAT.get(kind, kind)}), not {want}; show it with {right} "
        "(or almaview.plots.caltable)",
    )


def _nodes(ct: Any, spws: Sequence[int] | None, antennas: Sequence[str] | None):
    """(spw, antennas, the node over those antennas) of the selected spws (antennas in the table's order)."""
    for spw in selected(caltable_spws(ct), spws):
        ds = current_names(ct[f"spw_{spw}"].ds)
        ants = selected([str(a) for a in ds[ANTENNA_DIM].values], antennas)
        yield spw, ants, ds.sel({ANTENNA_DIM: ants})


def _frame(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The frames concatenated, or an empty frame with these columns when there are none.

    Examples
    --------
    >>> list(_frame([], ["spw", "antenna"]).columns), len(_frame([pd.DataFrame({"spw": [0, 1]})] * 2, ["spw"]))
    (['spw', 'antenna'], 4)
    """
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _quiet():
    w = warnings.catch_warnings()
    w.__enter__()
    warnings.simplefilter("ignore", RuntimeWarning)
    return w


def tsys_spectra(
    ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None, *, outlier_factor: float = 1.5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tsys (K) as the weblog shows it: (data, summary).

    ``data`` rows have ``view`` = 'spectrum' (spw, antenna, channel, frequency_ghz, tsys, outlier: mean over
    times and receptors), 'median' (antenna='median': the median spectrum over antennas) or 'time' (spw, antenna,
    time, field, tsys: mean over channels and receptors). ``summary``: spw, antenna, median_tsys, outlier.

    Examples
    --------
    >>> data, summary = tsys_spectra(av.open_caltable("x.tsyscal.tbl"), spws=[17])   # doctest: +SKIP
    """
    require_kind(ct, "tsys")
    rows, summary, time_rows = [], [], []
    for spw, ants, sub in _nodes(ct, spws, antennas):
        val = np.where(sub.flag.values, np.nan, sub.value.values.astype(float))  # (time, antenna, freq, receptor)
        w = _quiet()
        try:
            spec = np.nanmean(val, axis=(0, 3))  # (antenna, freq)
            per_time = np.nanmean(val, axis=(2, 3))  # (time, antenna)
            med_ant = np.nanmedian(spec, axis=1)
            ref = np.nanmedian(med_ant)
            median_spec = np.nanmedian(spec, axis=0)
        finally:
            w.__exit__(None, None, None)
        freq = np.asarray(sub.frequency.values, dtype=float) / 1e9
        chan = np.arange(freq.size)
        outliers = {a for a, m in zip(ants, med_ant) if np.isfinite(m) and m > outlier_factor * ref}
        for i, a in enumerate(ants):
            rows.append(
                pd.DataFrame(
                    {
                        "view": "spectrum",
                        "spw": spw,
                        "antenna": a,
                        "channel": chan,
                        "frequency_ghz": freq,
                        "tsys": spec[i],
                        "outlier": a in outliers,
                    }
                )
            )
            summary.append({"spw": spw, "antenna": a, "median_tsys": med_ant[i], "outlier": a in outliers})
        rows.append(
            pd.DataFrame(
                {
                    "view": "median",
                    "spw": spw,
                    "antenna": "median",
                    "channel": chan,
                    "frequency_ghz": freq,
                    "tsys": median_spec,
                    "outlier": False,
                }
            )
        )
        for i, a in enumerate(ants):
            time_rows.append(
                pd.DataFrame(
                    {
                        "view": "time",
                        "spw": spw,
                        "antenna": a,
                        "time": sub.time.values,
                        "tsys": per_time[:, i],
                        "field": sub.field_name.values.astype(str),
                    }
                )
            )
    tdf = _frame(time_rows, ["view", "spw", "antenna", "time", "tsys", "field"])
    data = pd.concat(rows + [tdf], ignore_index=True) if rows else tdf
    sdf = pd.DataFrame(summary, columns=["spw", "antenna", "median_tsys", "outlier"])
    data.attrs["units"] = "K"
    return data, sdf


def bandpass_solutions(
    ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None
) -> pd.DataFrame:
    """Bandpass solutions per channel: one row per (spw, antenna, receptor, time, channel) with frequency_ghz,
    amp (``|gain|``), phase_deg (``angle(gain)``), flagged.

    Examples
    --------
    >>> bandpass_solutions(av.open_caltable("x.bcal.tbl"), spws=[17]).head()   # doctest: +SKIP
    """
    require_kind(ct, "bandpass")
    frames = []
    for spw, ants, sub in _nodes(ct, spws, antennas):
        g = sub.gain.values if "gain" in sub else sub.value.values.astype(complex)
        t, a, c, r = np.meshgrid(
            np.arange(g.shape[0]), np.arange(g.shape[1]), np.arange(g.shape[2]), np.arange(g.shape[3]), indexing="ij"
        )
        frames.append(
            pd.DataFrame(
                {
                    "spw": spw,
                    "antenna": np.asarray(ants, dtype=object)[a.ravel()],
                    "receptor": sub.receptor.values.astype(str)[r.ravel()],
                    "time": sub.time.values[t.ravel()],
                    "channel": c.ravel(),
                    "frequency_ghz": (np.asarray(sub.frequency.values, dtype=float) / 1e9)[c.ravel()],
                    "amp": np.abs(g).ravel().astype(float),
                    "phase_deg": np.degrees(np.angle(g)).ravel().astype(float),
                    "flagged": sub.flag.values.ravel(),
                }
            )
        )
    return _frame(
        frames, ["spw", "antenna", "receptor", "time", "channel", "frequency_ghz", "amp", "phase_deg", "flagged"]
    )


def gain_solutions(ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None) -> pd.DataFrame:
    """Complex gain solutions vs time: one row per (spw, antenna, receptor, time) with field, scan, amp,
    phase_deg, flagged (a channelised table is averaged over its unflagged channels first).

    Examples
    --------
    >>> gain_solutions(av.open_caltable("x.gpcal.tbl"), antennas=["DA41"]).head()   # doctest: +SKIP
    """
    require_kind(ct, "gains", "bandpass")
    frames = []
    for spw, ants, sub in _nodes(ct, spws, antennas):
        g = sub.gain.values if "gain" in sub else sub.value.values.astype(complex)
        if g.ndim == 4:  # frequency-dependent table: average over channels
            w = _quiet()
            try:
                g = np.nanmean(np.where(sub.flag.values, np.nan, g), axis=2)
            finally:
                w.__exit__(None, None, None)
            fl = ~np.isfinite(g)
        else:
            fl = sub.flag.values
        t, a, r = np.meshgrid(np.arange(g.shape[0]), np.arange(g.shape[1]), np.arange(g.shape[2]), indexing="ij")
        frames.append(
            pd.DataFrame(
                {
                    "spw": spw,
                    "antenna": np.asarray(ants, dtype=object)[a.ravel()],
                    "receptor": sub.receptor.values.astype(str)[r.ravel()],
                    "time": sub.time.values[t.ravel()],
                    "field": sub.field_name.values.astype(str)[t.ravel()],
                    "scan": sub.scan_number.values[t.ravel()],
                    "amp": np.abs(g).ravel().astype(float),
                    "phase_deg": np.degrees(np.angle(g)).ravel().astype(float),
                    "flagged": np.asarray(fl).ravel(),
                }
            )
        )
    return _frame(frames, ["spw", "antenna", "receptor", "time", "field", "scan", "amp", "phase_deg", "flagged"])


def delay_solutions(ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None) -> pd.DataFrame:
    """Delays (ns) of a K Jones table: one row per (spw, antenna, receptor, time) with field, scan, delay_ns,
    flagged.

    Examples
    --------
    >>> delay_solutions(av.open_caltable("x.kcal.tbl")).groupby("antenna").delay_ns.mean()   # doctest: +SKIP
    """
    require_kind(ct, "delay")
    frames = []
    for spw, ants, sub in _nodes(ct, spws, antennas):
        v = sub.value.values.astype(float)
        if v.ndim == 4:  # a delay per channel is not a K table's layout, but keep the first channel's meaning
            v = v[:, :, 0, :]
        fl = sub.flag.values if sub.flag.values.ndim == 3 else sub.flag.values[:, :, 0, :]
        t, a, r = np.meshgrid(np.arange(v.shape[0]), np.arange(v.shape[1]), np.arange(v.shape[2]), indexing="ij")
        frames.append(
            pd.DataFrame(
                {
                    "spw": spw,
                    "antenna": np.asarray(ants, dtype=object)[a.ravel()],
                    "receptor": sub.receptor.values.astype(str)[r.ravel()],
                    "time": sub.time.values[t.ravel()],
                    "field": sub.field_name.values.astype(str)[t.ravel()],
                    "scan": sub.scan_number.values[t.ravel()],
                    "delay_ns": v.ravel(),
                    "flagged": np.asarray(fl).ravel(),
                }
            )
        )
    out = _frame(frames, ["spw", "antenna", "receptor", "time", "field", "scan", "delay_ns", "flagged"])
    out.attrs["units"] = "ns"
    return out


def solution_mode(gains: pd.DataFrame, tol: float = 1e-4) -> str:
    """What a gain table solved for: 'phase' (all unflagged amplitudes 1: gaincal calmode='p'), 'amplitude'
    (all phases 0: calmode='a'), or 'both'.

    Examples
    --------
    >>> solution_mode(pd.DataFrame({"amp": [1.0, 1.0], "phase_deg": [10.0, -3.0], "flagged": [False, False]}))
    'phase'
    >>> solution_mode(pd.DataFrame({"amp": [0.9, 1.1], "phase_deg": [0.0, 0.0], "flagged": [False, False]}))
    'amplitude'
    """
    ok = gains[~gains["flagged"].astype(bool)]
    if not len(ok):
        return "both"
    if np.allclose(ok["amp"].to_numpy(dtype=float), 1.0, atol=tol):
        return "phase"
    if np.allclose(ok["phase_deg"].to_numpy(dtype=float), 0.0, atol=tol):
        return "amplitude"
    return "both"


def phase_rms_table(gains: pd.DataFrame, phase_scans: Sequence[int] | None = None) -> pd.DataFrame:
    """Phase RMS as hifa_timegaincal's weblog computes it: per (spw, antenna, receptor), the sample standard
    deviation (ddof=1) of the unflagged solution phases (deg) on ``phase_scans`` (the phase calibrator's scans;
    all scans when None). Columns: spw, antenna, receptor, phase_rms_deg, solutions.

    Examples
    --------
    >>> g = pd.DataFrame({"spw": 0, "antenna": "DA41", "receptor": "X", "scan": [4, 4, 5, 9],
    ...                   "phase_deg": [10.0, 20.0, 30.0, 100.0], "flagged": False})
    >>> t = phase_rms_table(g, phase_scans=[4, 5])
    >>> float(t.phase_rms_deg.iloc[0]), int(t.solutions.iloc[0])
    (10.0, 3)
    """
    ok = gains[~gains["flagged"].astype(bool)]
    if phase_scans is not None:
        ok = ok[ok["scan"].isin(list(phase_scans))]
    cols = ["spw", "antenna", "receptor", "phase_rms_deg", "solutions"]
    if not len(ok):
        return pd.DataFrame(columns=cols)
    g = ok.groupby(["spw", "antenna", "receptor"], sort=True)["phase_deg"]
    out = pd.concat([g.std(ddof=1).rename("phase_rms_deg"), g.size().rename("solutions")], axis=1).reset_index()
    return out[cols]


def phase_scatter(gains: pd.DataFrame, phase_scans: Sequence[int] | None = None) -> pd.Series:
    """Per spw, the weblog's ``Stot``: 1.4826 x MAD of all unflagged phases (deg) on ``phase_scans``.

    Examples
    --------
    >>> g = pd.DataFrame({"spw": 0, "scan": 1, "phase_deg": [1.0, 2.0, 3.0, 4.0, 100.0], "flagged": False})
    >>> phase_scatter(g).round(4).tolist()
    [1.4826]
    """
    ok = gains[~gains["flagged"].astype(bool)]
    if phase_scans is not None:
        ok = ok[ok["scan"].isin(list(phase_scans))]
    return (
        ok.groupby("spw")["phase_deg"]
        .apply(lambda p: MAD_TO_SIGMA * float(np.median(np.abs(p - np.median(p)))))
        .rename("phase_scatter_deg")
    )

"""Visibility averaging, plotms's core: vector averages of unflagged samples vs time, frequency or uv distance.

:func:`reduce_visibilities` takes one spw node of :func:`almaview.open_ms` and returns a small tidy DataFrame
(one row per plotted point) that :func:`almaview.plots.amp_phase` shows. It reads each needed column once, by
time slices, with progress and cancellation, so a caller (the explorer) can run it in the background.

Examples
--------
>>> import almaview as av
>>> ds = av.open_ms("uid___A002_X1.ms")["spw_0"].ds                            # doctest: +SKIP
>>> av.analysis.reduce_visibilities(ds, x="frequency", intents=["BANDPASS"])   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..constants import DATA_COLUMNS, SPEED_OF_LIGHT, intent_names
from ..errors import Cancelled
from .trees import ms_spws, selected

__all__ = [
    "reduce_visibilities",
    "available_columns",
    "select_times",
    "select_baselines",
    "bin_times",
    "time_runs",
    "calibrator_amplitudes",
    "DATA_COLUMNS",
    "X_AXES",
    "XCOLUMN",
    "Cancelled",
]

X_AXES = ("time", "frequency", "uvdist")
#: x axis -> the column of :func:`reduce_visibilities`'s table that holds it
XCOLUMN = {"time": "time", "frequency": "frequency_ghz", "uvdist": "uvdist"}
_CHUNK_BYTES = 48e6


def time_runs(idx: np.ndarray, size: int) -> list[slice]:
    """Contiguous runs of sorted indices, each cut to at most ``size`` long (slices read only their rows).

    Examples
    --------
    >>> time_runs(np.array([0, 1, 2, 5, 6]), 2)
    [slice(0, 2, None), slice(2, 3, None), slice(5, 7, None)]
    """
    runs = []
    if idx.size == 0:
        return runs
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    for part in np.split(idx, breaks):
        for s in range(0, part.size, size):
            seg = part[s : s + size]
            runs.append(slice(int(seg[0]), int(seg[-1]) + 1))
    return runs


def available_columns(ds: Any) -> list[str]:
    """Data-column choices this spw node can serve.

    Examples
    --------
    >>> available_columns(av.open_ms("uid.ms")["spw_0"].ds)   # doctest: +SKIP
    ['data', 'corrected', 'model', 'corrected-model']
    """
    return [k for k, v in DATA_COLUMNS.items() if all(n in ds for n in v)]


def select_times(
    ds: Any,
    fields: Sequence[str] | None = None,
    intents: Sequence[str] | None = None,
    scans: Sequence[int] | None = None,
) -> np.ndarray:
    """Indices along ``time`` of the integrations on the given fields / intents / scans.

    An intent matches as a substring of the MS's intents ('TARGET', 'CALIBRATE_FLUX') or as the pipeline's
    name of one of them ('AMPLITUDE' for CALIBRATE_FLUX and CALIBRATE_AMPLI; :data:`almaview.constants.INTENTS`).

    Examples
    --------
    >>> select_times(ds, intents=["TARGET"])   # doctest: +SKIP
    """
    keep = np.ones(ds.sizes["time"], dtype=bool)
    if fields is not None:
        keep &= np.isin(ds.field_name.values.astype(str), [str(f) for f in fields])
    if intents is not None:
        uniq, inv = np.unique(ds.intents.values.astype(str), return_inverse=True)
        hit = np.array([any(i in s or i in intent_names(s) for i in intents) for s in uniq], dtype=bool)
        keep &= hit[inv.ravel()] if uniq.size else np.zeros(keep.size, dtype=bool)
    if scans is not None:
        keep &= np.isin(ds.scan_number.values, list(scans))
    return np.flatnonzero(keep)


def select_baselines(ds: Any, antennas: Sequence[str] | None = None, *, autocorr: bool = False) -> np.ndarray:
    """Indices along ``baseline`` that involve any of ``antennas`` (all when None), cross-correlations by default.

    Examples
    --------
    >>> select_baselines(ds, ["DA41"])   # doctest: +SKIP
    """
    a1 = ds.baseline_antenna1_name.values.astype(str)
    a2 = ds.baseline_antenna2_name.values.astype(str)
    keep = np.ones(a1.size, dtype=bool) if autocorr else a1 != a2
    if antennas is not None:
        want = [str(a) for a in antennas]
        keep &= np.isin(a1, want) | np.isin(a2, want)
    return np.flatnonzero(keep)


def bin_times(times: np.ndarray, scans: np.ndarray, width_s: float) -> np.ndarray:
    """A bin id per integration: bins of ``width_s`` seconds starting at each scan's first integration.

    Examples
    --------
    >>> t = np.array(["2024-01-01T00:00:00", "2024-01-01T00:00:06", "2024-01-01T00:00:12"], dtype="datetime64[ns]")
    >>> bin_times(t, np.array([1, 1, 2]), 10.0).tolist()
    [0, 0, 1]
    """
    if not width_s or width_s <= 0:
        return np.arange(times.size)
    t = times.astype("datetime64[ns]").astype("int64") / 1e9
    out = np.empty(times.size, dtype=np.int64)
    nxt = 0
    for s in pd.unique(scans):
        m = scans == s
        b = np.floor((t[m] - t[m].min()) / width_s).astype(np.int64)
        out[m] = b + nxt
        nxt += int(b.max()) + 1
    return out


def reduce_visibilities(
    ds: Any,
    *,
    column: str = "corrected",
    x: str = "time",
    fields: Sequence[str] | None = None,
    intents: Sequence[str] | None = None,
    scans: Sequence[int] | None = None,
    antennas: Sequence[str] | None = None,
    correlations: Sequence[str] | None = None,
    time_bin_s: float = 0.0,
    chan_bin: int = 1,
    uv_units: str = "klambda",
    avg_baselines: bool = False,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    chunk_bytes: float = _CHUNK_BYTES,
) -> pd.DataFrame:
    """Average one spw's visibilities for plotting (vector averages of unflagged samples).

    Returns one row per plotted point: ``x`` column (``time``, ``frequency_ghz`` or ``uvdist``), ``amp``,
    ``phase_deg``, ``n`` (samples averaged), ``antenna1``, ``antenna2``, ``baseline``, ``antenna`` (= antenna1),
    ``correlation``, ``spw``, and for time/uvdist ``scan``, ``field``. Points with no unflagged sample are dropped.
    ``uv_units``: 'klambda' (at each channel-averaged point's mean frequency) or 'm'. ``avg_baselines``: one vector
    average over all selected baselines (plotms's avgbaseline; ``baseline`` 'all', ``antenna1``/``antenna2`` '*'),
    e.g. a spectrum or a time series for an overview; not with ``x='uvdist'``.
    ``progress(fraction)`` is called after each slice; ``cancel()`` returning True raises :class:`Cancelled`.
    ``chunk_bytes``: the size of a time slice's read (smaller: ``cancel`` is asked more often, for a few percent
    more time).

    Examples
    --------
    >>> ds = av.open_ms(eb.calibrated_ms)["spw_0"].ds                                    # doctest: +SKIP
    >>> t = reduce_visibilities(ds, x="time", intents=["BANDPASS"], antennas=["DA41"])  # doctest: +SKIP
    >>> t[["time", "baseline", "correlation", "amp"]].head()                            # doctest: +SKIP
    """
    if x not in X_AXES:
        raise ValueError(f"x must be one of {X_AXES}, not {x!r}")
    if column not in DATA_COLUMNS:
        raise ValueError(f"column must be one of {list(DATA_COLUMNS)}, not {column!r}")
    if avg_baselines and x == "uvdist":
        raise ValueError("avg_baselines: each baseline has its own uv distance (average over time instead)")
    names = DATA_COLUMNS[column]
    missing = [n for n in names if n not in ds]
    if missing:
        raise ValueError(f"this MS has no {', '.join(missing)} (column {column!r}); available: {available_columns(ds)}")
    spw = int(ds.attrs.get("spw_id", -1))
    tsel = select_times(ds, fields, intents, scans)
    bsel = select_baselines(ds, antennas)
    pols = [str(p) for p in ds.polarization.values]
    psel = np.array([i for i, p in enumerate(pols) if correlations is None or p in set(correlations)], dtype=int)
    nchan = ds.sizes["frequency"]
    freq = ds.frequency.values.astype(float)
    row_bytes = max(1, bsel.size * nchan * max(psel.size, 1) * (9 * len(names) + 1))
    runs = time_runs(tsel, max(1, int(chunk_bytes // row_bytes)))
    want = list(names) + ["FLAG"] + (["UVW"] if x == "uvdist" else [])
    cols = ["time", "frequency_ghz", "uvdist"]
    if tsel.size == 0 or bsel.size == 0 or psel.size == 0:
        return pd.DataFrame(
            columns=[c for c in cols if c == XCOLUMN[x]]
            + [
                "amp",
                "phase_deg",
                "n",
                "antenna1",
                "antenna2",
                "baseline",
                "antenna",
                "correlation",
                "spw",
                "scan",
                "field",
            ]
        )
    sums, counts, uvws = [], [], []
    fsum = np.zeros((bsel.size, nchan, psel.size), dtype=complex)
    fcnt = np.zeros((bsel.size, nchan, psel.size), dtype=np.int64)
    for k, sl in enumerate(runs):
        if cancel is not None and cancel():
            raise Cancelled(None, "the visibility read was cancelled (a newer selection superseded it)")
        block = ds[want].isel(time=sl).compute()
        v = block[names[0]].values[:, bsel][..., psel]
        if len(names) == 2:
            v = v - block[names[1]].values[:, bsel][..., psel]
        good = ~block["FLAG"].values[:, bsel][..., psel] & np.isfinite(v)
        v = np.where(good, v, 0)
        if x == "frequency":
            fsum += v.sum(axis=0)
            fcnt += good.sum(axis=0)
        else:
            sums.append(v.sum(axis=2))  # (t, b, p) over channels
            counts.append(good.sum(axis=2))
            if x == "uvdist":
                uvws.append(block["UVW"].values[:, bsel])
        if progress is not None:
            progress((k + 1) / len(runs))
    a1 = ds.baseline_antenna1_name.values.astype(str)[bsel]
    a2 = ds.baseline_antenna2_name.values.astype(str)[bsel]
    bl = np.char.add(np.char.add(a1, "-"), a2)
    if avg_baselines:  # the vector sums and counts of every baseline, added: one "baseline"
        fsum, fcnt = fsum.sum(axis=0, keepdims=True), fcnt.sum(axis=0, keepdims=True)
        sums = [v.sum(axis=1, keepdims=True) for v in sums]
        counts = [c.sum(axis=1, keepdims=True) for c in counts]
        a1, a2, bl = np.array(["*"]), np.array(["*"]), np.array(["all"])
    nbl = bl.size
    corr = np.asarray(pols, dtype=object)[psel]
    if x == "frequency":
        nb = -(-nchan // max(1, int(chan_bin)))
        grp = np.arange(nchan) // max(1, int(chan_bin))
        s = np.zeros((nbl, nb, psel.size), dtype=complex)
        n = np.zeros((nbl, nb, psel.size), dtype=np.int64)
        np.add.at(s, (slice(None), grp), fsum)
        np.add.at(n, (slice(None), grp), fcnt)
        fghz = np.bincount(grp, weights=freq) / np.bincount(grp) / 1e9
        b, c, p = np.meshgrid(np.arange(nbl), np.arange(nb), np.arange(psel.size), indexing="ij")
        out = pd.DataFrame(
            {
                "frequency_ghz": fghz[c.ravel()],
                "_s": s.ravel(),
                "n": n.ravel(),
                "antenna1": a1[b.ravel()],
                "antenna2": a2[b.ravel()],
                "baseline": bl[b.ravel()],
                "correlation": corr[p.ravel()],
            }
        )
    else:
        S, N = np.concatenate(sums), np.concatenate(counts)  # (t, b, p)
        times = ds.time.values[tsel]
        scan = ds.scan_number.values[tsel]
        field = ds.field_name.values.astype(str)[tsel]
        bins = bin_times(times, scan, time_bin_s)
        ub, inv = np.unique(bins, return_inverse=True)
        s = np.zeros((ub.size,) + S.shape[1:], dtype=complex)
        n = np.zeros((ub.size,) + S.shape[1:], dtype=np.int64)
        np.add.at(s, inv, S)
        np.add.at(n, inv, N)
        tnum = times.astype("datetime64[ns]").astype("int64")
        tmean = (np.bincount(inv, weights=tnum) / np.bincount(inv)).astype("int64").astype("datetime64[ns]")
        first = np.unique(inv, return_index=True)[1]
        t, b, p = np.meshgrid(np.arange(ub.size), np.arange(nbl), np.arange(psel.size), indexing="ij")
        out = pd.DataFrame(
            {
                "time": tmean[t.ravel()],
                "_s": s.ravel(),
                "n": n.ravel(),
                "antenna1": a1[b.ravel()],
                "antenna2": a2[b.ravel()],
                "baseline": bl[b.ravel()],
                "correlation": corr[p.ravel()],
                "scan": scan[first][t.ravel()],
                "field": field[first][t.ravel()],
            }
        )
        if x == "uvdist":
            U = np.concatenate(uvws)  # (t, b, 3)
            uvsum = np.zeros((ub.size, bsel.size, 2))
            np.add.at(uvsum, inv, U[..., :2])
            uvm = uvsum / np.bincount(inv)[:, None, None]
            dist = np.sqrt((uvm**2).sum(-1))  # (bins, b) metres
            if uv_units == "klambda":
                dist = dist * freq.mean() / SPEED_OF_LIGHT / 1e3
            out.insert(0, "uvdist", dist[t.ravel(), b.ravel()])
            out = out.drop(columns="time")
    out = out[out["n"] > 0].reset_index(drop=True)
    mean = out.pop("_s").to_numpy() / out["n"].to_numpy()
    out.insert(1, "amp", np.abs(mean))
    out.insert(2, "phase_deg", np.degrees(np.angle(mean)))
    out["antenna"] = out["antenna1"]
    out["spw"] = spw
    out.attrs.update(
        {
            "x": x,
            "column": column,
            "uv_units": uv_units,
            "spw": spw,
            "frame": str(ds.frequency.attrs.get("frame", "") or "").upper(),
            "antennas": [str(a) for a in antennas] if antennas is not None else [],
        }
    )
    return out


def calibrator_amplitudes(
    vis: Any,
    spws: Sequence[int] | None = None,
    fields: Sequence[str] | None = None,
    intents: Sequence[str] = ("FLUX", "AMPLI", "BANDPASS", "PHASE"),
    *,
    column: str = "corrected",
    uv_units: str = "klambda",
    time_bin_s: float = 0.0,
) -> pd.DataFrame:
    """Per-integration (or ``time_bin_s`` averaged), channel-averaged visibilities vs uv distance of the calibrators:
    ``column`` (kind 'data') and the model (kind 'model'), for every spw of an MS tree (what
    :func:`almaview.plots.flux` draws).

    Examples
    --------
    >>> t = calibrator_amplitudes(av.open_ms("uid.ms"), spws=[1])   # doctest: +SKIP
    >>> t.groupby(["field", "kind"]).amp.median()                  # doctest: +SKIP
    """
    frames = []
    for spw in selected(ms_spws(vis), spws):
        ds = vis[f"spw_{spw}"].ds
        for kind, col in (("data", column), ("model", "model")):
            if col not in available_columns(ds):
                continue
            t = reduce_visibilities(
                ds,
                column=col,
                x="uvdist",
                fields=fields,
                intents=list(intents),
                uv_units=uv_units,
                time_bin_s=time_bin_s,
            )
            frames.append(t.assign(kind=kind))
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["uvdist", "amp", "phase_deg", "field", "kind", "spw", "baseline"])
    )

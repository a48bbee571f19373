"""The target spectrum of a measurement set: visibilities averaged over time, baselines and the parallel hands,
on channel frequencies converted to the frame of cont.dat (LSRK).

ALMA MSs label channels in TOPO; hif_findcont writes cont.dat in LSRK. :func:`ms_spectrum` converts each EB's
channel frequencies with casacore measures (the Doppler factor of the field direction at the midpoint of the
field's integrations, seen from the array centre), so the spectrum and the delivered ranges share one axis.

The average is a dask reduction over the lazy :func:`almaview.open_ms` tree: only the field's integrations are
read (one slice per run of consecutive times), each chunk reads the data, FLAG and WEIGHT columns once and is
reduced to per-channel sums inside the chunk.

Examples
--------
>>> from almaview.imaging import ms_spectrum
>>> s = ms_spectrum("uid___A002_X1.ms", field="IRAS16293-2422", spw=0)   # doctest: +SKIP
>>> s.loc[s.amplitude.idxmax(), "frequency"] / 1e9                        # doctest: +SKIP
230.5375
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..constants import DATA_COLUMNS as _DATA_COLUMNS
from ..errors import SpectrumSelectionError

__all__ = [
    "ms_spectrum",
    "ms_frame_selection",
    "convert_frequencies",
    "doppler_factor",
    "SpectrumSelectionError",
    "PARALLEL_HANDS",
    "DATA_COLUMNS",
]

#: correlations averaged into the spectrum (parallel hands; single-pol and Stokes I data too)
PARALLEL_HANDS = ("XX", "YY", "RR", "LL", "I")

#: ``column=`` word -> data variable of :func:`almaview.open_ms`
DATA_COLUMNS = {k: v[0] for k, v in _DATA_COLUMNS.items() if len(v) == 1}  # one table: almaview.constants

#: frames casacore converts between (MFrequency)
FRAMES = ("TOPO", "GEO", "BARY", "LSRK", "LSRD", "GALACTO", "LGROUP", "CMB")


def convert_frequencies(
    frequencies: Any,
    *,
    from_frame: str,
    to_frame: str,
    ra: float,
    dec: float,
    time_mjd_s: float,
    position_itrf: Sequence[float],
) -> np.ndarray:
    """Convert frequencies (Hz) between spectral frames with casacore measures.

    ``ra``/``dec`` (rad, ICRS) is the field direction, ``time_mjd_s`` the epoch in CASA MJD seconds (UTC) and
    ``position_itrf`` the observatory (x, y, z in metres, ITRF). A frame change is a Doppler factor that does
    not depend on frequency: it is computed once (at the mean frequency) and applied to every channel.

    Examples
    --------
    >>> f = convert_frequencies([230.5e9], from_frame="TOPO", to_frame="TOPO", ra=0.0, dec=0.0,
    ...                         time_mjd_s=5.2e9, position_itrf=(2225015.3, -5440016.4, -2481631.3))
    >>> float(f[0])
    230500000000.0
    """
    f = np.asarray(frequencies, dtype=np.float64)
    src, dst = from_frame.upper(), to_frame.upper()
    for fr in (src, dst):
        if fr not in FRAMES:
            raise SpectrumSelectionError(None, f"unknown spectral frame {fr!r}: use one of {', '.join(FRAMES)}")
    if src == dst or f.size == 0:
        return f.copy()
    return f * doppler_factor(
        float(np.nanmean(f)),
        from_frame=src,
        to_frame=dst,
        ra=ra,
        dec=dec,
        time_mjd_s=time_mjd_s,
        position_itrf=position_itrf,
    )


def doppler_factor(
    frequency: float,
    *,
    from_frame: str,
    to_frame: str,
    ra: float,
    dec: float,
    time_mjd_s: float,
    position_itrf: Sequence[float],
) -> float:
    """``f_to / f_from`` for one frequency (Hz): the factor that takes ``from_frame`` frequencies to ``to_frame``.

    Examples
    --------
    >>> k = doppler_factor(230.5e9, from_frame="TOPO", to_frame="LSRK", ra=4.3, dec=-0.43, time_mjd_s=5.2e9,
    ...                    position_itrf=(2225015.3, -5440016.4, -2481631.3))
    >>> abs(k - 1) < 2e-4          # |v| < 60 km/s
    True
    """
    from casacore.measures import measures

    dm = measures()
    x, y, z = (float(v) for v in position_itrf)
    dm.do_frame(dm.position("ITRF", f"{x}m", f"{y}m", f"{z}m"))
    dm.do_frame(dm.epoch("UTC", f"{time_mjd_s / 86400.0!r}d"))
    dm.do_frame(dm.direction("ICRS", f"{ra!r}rad", f"{dec!r}rad"))
    out = dm.measure(dm.frequency(from_frame.upper(), f"{frequency!r}Hz"), to_frame.upper())
    return float(out["m0"]["value"]) / frequency


def _open(ms_or_tree: Any):
    import xarray as xr

    if isinstance(ms_or_tree, xr.DataTree):
        return ms_or_tree
    from ..io.ms import open_ms

    return open_ms(ms_or_tree)


def _eb_name(tree: Any) -> str:
    path = str(tree.attrs.get("path", ""))
    name = os.path.basename(path.rstrip("/"))
    return name.split(".ms")[0] if name else str(tree.attrs.get("execblock_uid", "eb"))


def _runs(idx: np.ndarray) -> list[tuple[int, int]]:
    """[(start, stop), ...] slices covering the ascending indices ``idx``."""
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [idx.size]])
    return [(int(idx[a]), int(idx[b - 1]) + 1) for a, b in zip(starts, stops)]


def _block_sums(vis: np.ndarray, flag: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per-channel sums of one (time, baseline_id, frequency, polarization) block: rows Σ w V (complex), Σ w |V|,
    Σ w, n (unflagged samples with positive weight and finite data), stacked as a (4, nchan) complex array.

    Products in the data's precision (complex64), sums in double; about 8x faster than float64 intermediates.

    Examples
    --------
    >>> v = np.ones((1, 2, 3, 2), np.complex64); f = np.zeros(v.shape, bool); f[0, 0] = True
    >>> _block_sums(v, f, np.ones(v.shape, np.float32))[:, 0].real.tolist()
    [2.0, 2.0, 2.0, 2.0]
    """
    good = ~flag & (weight > 0) & np.isfinite(vis.real) & np.isfinite(vis.imag)
    w = np.where(good, weight, np.float32(0)).astype(np.float32, copy=False)
    v = np.where(good, vis, np.complex64(0))
    nchan = vis.shape[2]
    wv = (w * v).transpose(2, 0, 1, 3).reshape(nchan, -1)
    wa = (w * np.abs(v)).transpose(2, 0, 1, 3).reshape(nchan, -1)
    out = np.empty((4, nchan), np.complex128)
    out[0] = wv.sum(axis=1, dtype=np.complex128)
    out[1] = wa.sum(axis=1, dtype=np.float64)
    out[2] = w.transpose(2, 0, 1, 3).reshape(nchan, -1).sum(axis=1, dtype=np.float64)
    out[3] = good.transpose(2, 0, 1, 3).reshape(nchan, -1).sum(axis=1)
    return out


def _sums(vis, flag, weight) -> list:
    """Delayed per-block sums of three equally chunked dask arrays: [(channel offset, delayed (4, nchan))]."""
    import dask

    blocks = []
    offsets = np.concatenate([[0], np.cumsum(vis.chunks[2])])
    for (key, v), f, w in zip(np.ndenumerate(vis.to_delayed()), flag.to_delayed().ravel(), weight.to_delayed().ravel()):
        blocks.append((int(offsets[key[2]]), dask.delayed(_block_sums)(v, f, w)))
    return blocks


def _frame_factor(
    tree: Any, field: str, spw: int | str, frame: str, idx: np.ndarray | None = None
) -> tuple[str, float, float]:
    """(native frame, f_frame / f_native, epoch in MJD s) for spw ``spw`` of ``field``: the Doppler factor at the
    midpoint of the field's first and last integration (``idx``: its time indices in the spw node)."""
    from ..io.msmeta import CASA_UNIX_EPOCH_S

    path = str(tree.attrs.get("path", ""))
    ds = tree[f"spw_{spw}"].ds
    if idx is None:
        idx = np.flatnonzero(ds.field_name.values == field)
        if idx.size == 0:
            raise SpectrumSelectionError(path, f"field {field!r} has no integrations in spw {spw}")
    freqs = ds.frequency.values.astype(np.float64)
    native = str(ds.frequency.attrs.get("frame", "TOPO")).upper()
    t_unix = ds.time.values[idx].astype("datetime64[ns]").astype(np.int64) / 1e9
    t_mid = float((t_unix.min() + t_unix.max()) / 2) + CASA_UNIX_EPOCH_S
    if native == frame.upper():
        return native, 1.0, t_mid
    fields = tree["fields"].ds
    fid = int(np.flatnonzero(fields.field_name.values == field)[0])
    ra, dec = (float(x) for x in fields.FIELD_PHASE_CENTER.values[fid])
    centre = tree["antennas"].ds.attrs.get("array_centre")
    if native in ("", "UNKNOWN") or centre is None or not np.isfinite([ra, dec]).all():
        raise SpectrumSelectionError(
            path,
            f"cannot convert spw {spw} from {native or 'an unknown frame'} to "
            f"{frame}: the MS lacks the frame, the field direction or antenna "
            "positions; ask for frame='TOPO' (the MS's own labels)",
        )
    factor = doppler_factor(
        float(np.mean(freqs)), from_frame=native, to_frame=frame, ra=ra, dec=dec, time_mjd_s=t_mid, position_itrf=centre
    )
    return native, factor, t_mid


def _one(tree: Any, field: str, spw: int | str, column: str, frame: str) -> pd.DataFrame:
    import dask

    path = str(tree.attrs.get("path", ""))
    node = f"spw_{spw}"
    if node not in tree.children:
        have = ", ".join(n[4:] for n in tree.children if n.startswith("spw_"))
        raise SpectrumSelectionError(path, f"has no spw {spw} (it has spw {have})")
    ds = tree[node].ds
    word = column.lower()
    if word not in DATA_COLUMNS:
        raise SpectrumSelectionError(path, f"unknown column {column!r}: use one of {', '.join(DATA_COLUMNS)}")
    var = DATA_COLUMNS[word]
    if var not in ds and word == "corrected" and "VISIBILITY" in ds:
        var = "VISIBILITY"  # a split (*.ms.split.cal) keeps the calibrated data in DATA
    if var not in ds:
        have = ", ".join(k for k, v in DATA_COLUMNS.items() if v in ds)
        raise SpectrumSelectionError(path, f"spw {spw} has no {column} column (it has {have or 'none'})")
    names = ds.field_name.values
    idx = np.flatnonzero(names == field)
    if idx.size == 0:
        have = ", ".join(dict.fromkeys(str(n) for n in names))
        raise SpectrumSelectionError(path, f"field {field!r} has no integrations in spw {spw} (fields: {have})")
    pols = [i for i, p in enumerate(ds.polarization.values) if str(p) in PARALLEL_HANDS]
    pols = pols or list(range(ds.sizes["polarization"]))
    parts = []
    for a, b in _runs(idx):
        sub = ds[[var, "FLAG", "WEIGHT"]].isel(time=slice(a, b), polarization=pols)
        if not all(sub[v].chunks for v in sub.data_vars):  # a tree opened without dask: one block per run
            sub = sub.chunk()
        parts += _sums(sub[var].data, sub.FLAG.data, sub.WEIGHT.data)
    nchan = ds.sizes["frequency"]
    total = np.zeros((4, nchan), np.complex128)
    for (offset, _), block in zip(parts, dask.compute(*[p for _, p in parts])):
        total[:, offset : offset + block.shape[1]] += block
    swv, swa, sw, n = total[0], total[1].real, total[2].real, np.rint(total[3].real)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(sw > 0, swv / np.where(sw > 0, sw, 1), np.nan + 0j)
        scalar = np.where(sw > 0, swa / np.where(sw > 0, sw, 1), np.nan)

    freqs = ds.frequency.values.astype(np.float64)
    native, factor, t_mid = _frame_factor(tree, field, spw, frame, idx)
    units = "Jy" if word in ("corrected", "model") else "uncalibrated"
    df = pd.DataFrame(
        {
            "eb": _eb_name(tree),
            "spw": int(spw),
            "channel": np.arange(freqs.size),
            "frequency": freqs * factor,
            "frequency_native": freqs,
            "amplitude": np.abs(mean),
            "phase": np.degrees(np.angle(mean)),
            "amplitude_scalar": scalar,
            "n_samples": n.astype(np.int64),
            "weight_sum": sw,
            "units": units,
        }
    )
    df.attrs.update(
        frame=frame.upper(),
        native_frame=native,
        doppler_factor=factor,
        time_mjd_s=t_mid,
        field=field,
        column=ds[var].attrs.get("column", var),
        path=path,
    )
    return df


def ms_spectrum(
    ms_or_tree: Any, *, field: str, spw: int | str, column: str = "corrected", frame: str = "LSRK"
) -> pd.DataFrame:
    """The spectrum of ``field`` in ``spw``: visibilities averaged over the field's integrations, baselines and
    parallel hands (XX, YY), weighted by WEIGHT (or WEIGHT_SPECTRUM), flagged samples left out.

    ``ms_or_tree`` is an MS path, an :func:`almaview.open_ms` tree, or a list of them (several EBs): the result
    holds one spectrum per EB (column ``eb``), each on its own channel frequencies in ``frame``. EBs are not
    averaged together: their LSRK channel grids differ (different days) and regridding would smear narrow lines
    by up to a channel; plotted together they also show an EB that disagrees.

    Columns: ``eb``, ``spw``, ``channel``, ``frequency`` (Hz, in ``frame``), ``frequency_native`` (Hz, the MS's
    own frame, TOPO for ALMA), ``amplitude`` (vector average: \\|Σ w V\\| / Σ w), ``phase`` (deg),
    ``amplitude_scalar`` (Σ w \\|V\\| / Σ w), ``n_samples`` (unflagged time × baseline × correlation samples),
    ``weight_sum``, ``units``. ``column`` is 'corrected' (falls back to DATA when the MS is a split without
    CORRECTED_DATA), 'data' or 'model'. ``df.attrs`` holds the frame, the Doppler factor and the epoch used
    (the midpoint of the field's first and last integration in the EB).

    Raises :class:`SpectrumSelectionError` naming the MS when the field, spw or column is not there.

    Examples
    --------
    >>> import almaview as av
    >>> s = av.imaging.ms_spectrum(eb.calibrated_ms, field="IRAS16293-2422", spw=0)   # doctest: +SKIP
    >>> s[["channel", "frequency", "amplitude", "n_samples"]].head()                 # doctest: +SKIP
    """
    items = list(ms_or_tree) if isinstance(ms_or_tree, (list, tuple)) else [ms_or_tree]
    if not items:
        raise SpectrumSelectionError(None, "no measurement set given")
    frames = [_one(_open(x), field, spw, column, frame) for x in items]
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    out.attrs = dict(frames[0].attrs)
    if len(frames) > 1:
        out.attrs["per_eb"] = {f["eb"].iloc[0]: dict(f.attrs) for f in frames}
    return out


def ms_frame_selection(ranges: Any, ms_or_tree: Any, *, field: str, spws: Sequence[int | str] | None = None) -> str:
    """The ``spw`` selection of ``field`` from cont.dat ranges (LSRK) converted to the MS's own frame (TOPO).

    CASA tasks read frequency ranges in an ``spw`` selection in the frame of the MS's SPECTRAL_WINDOW table
    (TOPO for ALMA); the pipeline converts cont.dat's LSRK ranges per MS for that reason. Each spw uses the
    Doppler factor of :func:`ms_spectrum` (field direction, midpoint of the field's integrations, array centre).
    ``ranges`` is a :class:`~almaview.imaging.ContinuumRanges`; ALL spws are selected whole, NONE ones left out.

    Examples
    --------
    >>> from almaview.imaging import read_cont_dat
    >>> ms_frame_selection(read_cont_dat("cont.dat"), "uid___A002_X1.ms", field="IRAS16293-2422")  # doctest: +SKIP
    '0:230.471405~230.536703GHz;230.568705~230.588592GHz,1:...'
    """
    from .contdat import spw_selection

    tree = _open(ms_or_tree)
    wanted = None if spws is None else {str(s) for s in spws}
    per_spw: dict[str, list[tuple[float, float]]] = {}
    for s, rs in ranges.ranges.get(field, {}).items():
        if rs and (wanted is None or s in wanted):
            if f"spw_{s}" not in tree.children:
                raise SpectrumSelectionError(tree.attrs.get("path"), f"has no spw {s} (named in the cont.dat)")
            _, factor, _ = _frame_factor(tree, field, s, ranges.frame)  # f_lsrk / f_topo
            per_spw[s] = [(lo / factor, hi / factor) for lo, hi in rs]
    for s, word in ranges.special.get(field, {}).items():
        if word == "ALL" and (wanted is None or s in wanted):
            per_spw[s] = []
    return spw_selection(per_spw)

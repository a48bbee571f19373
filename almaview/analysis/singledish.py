"""Reductions of single-dish (Total Power) spectra: mean spectra ON/OFF/calibrated, power vs time, pointing offsets.

Input is a spw node of a single-dish MS as :func:`almaview.open_ms` gives it (SPECTRUM /
SPECTRUM_CORRECTED over ``(time, antenna_name, frequency, polarization)``, per-time ``intents``,
POINTING_DIRECTION); outputs are pandas tables that :mod:`almaview.plots.singledish` draws.

Examples
--------
>>> import almaview as av
>>> spw = av.open_ms("uid___A002_X10ab2c3_X3c11.ms")["spw_0"].ds           # doctest: +SKIP
>>> av.analysis.tp_mean_spectra(spw, "PM01").groupby("kind").value.max()   # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ON, OFF, ATM = "OBSERVE_TARGET#ON_SOURCE", "OBSERVE_TARGET#OFF_SOURCE", "CALIBRATE_ATMOSPHERE#OFF_SOURCE"
#: intent -> the short name the tables and panels use
INTENT_NAMES = {ON: "ON", OFF: "OFF", ATM: "atmosphere"}


def intent_name(intent: str) -> str:
    """'ON', 'OFF', 'atmosphere', or the intent itself.

    Examples
    --------
    >>> intent_name("OBSERVE_TARGET#OFF_SOURCE")
    'OFF'
    """
    return INTENT_NAMES.get(str(intent), str(intent) or "other")


def pick_antenna(ds, antenna: str | None) -> str:
    """``antenna`` if the node has it (KeyError naming the ones it has otherwise), else its first antenna.

    Examples
    --------
    >>> pick_antenna(spw, None)          # doctest: +SKIP
    'PM01'
    """
    names = [str(a) for a in ds.antenna_name.values]
    if antenna is None:
        return names[0]
    if antenna not in names:
        raise KeyError(f"antenna {antenna!r} is not in this spw; it has {', '.join(names)}")
    return antenna


def _values(da, flag) -> np.ndarray:
    values = np.asarray(da.values, dtype=float)
    return values if flag is None else np.where(np.asarray(flag.values), np.nan, values)


def tp_mean_spectra(ds, antenna: str | None = None) -> pd.DataFrame:
    """Mean spectra of one antenna: raw ON and OFF power, and the calibrated ON spectrum (SPECTRUM_CORRECTED).

    Rows: kind ('ON', 'OFF', 'calibrated'), frequency_ghz, value (mean over the integrations of that kind and
    the polarizations; flagged samples left out).

    Examples
    --------
    >>> tp_mean_spectra(spw, "PM02").query("kind == 'OFF'").value.mean()   # doctest: +SKIP
    """
    sub = ds.sel(antenna_name=pick_antenna(ds, antenna))
    intents = np.asarray(sub.intents.values).astype(str)
    freq = sub.frequency.values / 1e9
    flag = sub.FLAG if "FLAG" in sub else None
    rows = []
    for kind, intent, var in (
        ("ON", ON, "SPECTRUM"),
        ("OFF", OFF, "SPECTRUM"),
        ("calibrated", ON, "SPECTRUM_CORRECTED"),
    ):
        sel = np.flatnonzero(intents == intent)
        if sel.size == 0 or var not in sub:
            continue
        with np.errstate(all="ignore"):
            mean = np.nanmean(
                _values(sub[var].isel(time=sel), None if flag is None else flag.isel(time=sel)), axis=(0, 2)
            )
        rows.append(pd.DataFrame({"kind": kind, "frequency_ghz": freq, "value": mean}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["kind", "frequency_ghz", "value"])


def tp_power_series(ds, antenna: str | None = None) -> pd.DataFrame:
    """Raw power (mean over channels and polarizations) of one antenna at every integration.

    Rows: time, power, intent, kind ('ON', 'OFF', 'atmosphere').

    Examples
    --------
    >>> tp_power_series(spw, "PM01").groupby("kind").power.mean()         # doctest: +SKIP
    """
    sub = ds.sel(antenna_name=pick_antenna(ds, antenna))
    with np.errstate(all="ignore"):
        power = np.nanmean(_values(sub.SPECTRUM, sub.FLAG if "FLAG" in sub else None), axis=(1, 2))
    intents = np.asarray(sub.intents.values).astype(str)
    return pd.DataFrame(
        {"time": sub.time.values, "power": power, "intent": intents, "kind": [intent_name(i) for i in intents]}
    )


def tp_pointing_offsets(ds, centre: tuple[float, float] | None = None) -> tuple[pd.DataFrame, tuple[float, float]]:
    """Every antenna's pointing offsets (arcsec) from ``centre`` (RA, Dec rad; default the median ON direction).

    Returns (rows: antenna, time, kind, ra_offset_arcsec (times cos dec), dec_offset_arcsec; the centre used).

    Examples
    --------
    >>> table, centre = tp_pointing_offsets(spw)                           # doctest: +SKIP
    """
    if "POINTING_DIRECTION" not in ds:
        raise KeyError("this spw has no POINTING_DIRECTION (the MS has no POINTING rows)")
    direction = np.asarray(ds.POINTING_DIRECTION.values, dtype=float)  # (time, antenna, 2)
    intents = np.asarray(ds.intents.values).astype(str)
    if centre is None:
        on = intents == ON
        pick = direction[on] if on.any() else direction
        centre = (float(np.nanmedian(pick[..., 0])), float(np.nanmedian(pick[..., 1])))
    ra0, dec0 = centre
    rows = []
    for j, ant in enumerate(ds.antenna_name.values):
        dra = np.angle(np.exp(1j * (direction[:, j, 0] - ra0))) * np.cos(dec0)
        ddec = direction[:, j, 1] - dec0
        rows.append(
            pd.DataFrame(
                {
                    "antenna": str(ant),
                    "time": ds.time.values,
                    "kind": [intent_name(i) for i in intents],
                    "ra_offset_arcsec": np.degrees(dra) * 3600,
                    "dec_offset_arcsec": np.degrees(ddec) * 3600,
                }
            )
        )
    return pd.concat(rows, ignore_index=True), centre


def spectrum_flatness(spectrum: np.ndarray, bin_channels: int = 8) -> tuple[float, float]:
    """(largest |bin mean| / expected scatter of a bin mean, rms) over the first and last quarter of ``spectrum``.

    The rms comes from channel-to-channel differences, so a slope or offset does not hide itself.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> flat = rng.normal(0, 1, 256)
    >>> bool(spectrum_flatness(flat)[0] <= 3)
    True
    >>> bool(spectrum_flatness(flat + np.linspace(-3, 3, 256))[0] > 5)
    True
    """
    s = np.asarray(spectrum, dtype=float)
    q = max(len(s) // 4, bin_channels)
    free = [s[:q], s[-q:]]
    rms = float(np.nanstd(np.concatenate([np.diff(f) for f in free])) / np.sqrt(2))
    worst = 0.0
    for part in free:
        for k in range(0, len(part) - bin_channels + 1, bin_channels):
            m = np.nanmean(part[k : k + bin_channels])
            worst = max(worst, abs(m) / (rms / np.sqrt(bin_channels)) if rms > 0 else np.inf)
    return worst, rms

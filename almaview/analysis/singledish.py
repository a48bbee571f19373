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

from dataclasses import dataclass

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


@dataclass(frozen=True)
class BinnedFlatness:
    """The binned statistics of a baseline-subtracted spectrum that the single-dish pipeline scores.

    ``min_ratio``, ``max_ratio``, ``diff_ratio``: the lowest and highest bin mean and their difference, each
    divided by ``rms`` (the standard deviation of the unmasked channels); ``nbin`` bins were used (``nbin_factor``
    times the default); ``bin_means`` holds NaN for the bins left out (a masked channel in them). When fewer than
    two bins are usable the ratios are NaN and ``valid`` is False.
    """

    min_ratio: float
    max_ratio: float
    diff_ratio: float
    rms: float
    nbin: int
    nbin_factor: int
    bin_means: tuple[float, ...]
    valid: bool


def flatness_bins(n_channels: int, nbin: int) -> list[tuple[int, int]]:
    """The channel ranges (first, last, inclusive) of the pipeline's flatness bins.

    The bin width is ``w = n_channels / nbin`` (a float); bin ``i`` ends at channel ``floor((i + 1) w)`` (the last
    bin at the last channel) and starts one channel after the previous bin's end (bin 0 at channel 0). So the first
    bin holds one channel more than ``w`` and the last one fewer when ``w`` is whole.

    Examples
    --------
    >>> flatness_bins(20, 4)
    [(0, 5), (6, 10), (11, 15), (16, 19)]
    """
    width = n_channels / nbin
    out, first = [], 0
    for i in range(nbin):
        last = min(int(np.floor((i + 1) * width)), n_channels - 1)
        out.append((first, last))
        first = last + 1
    return out


def binned_flatness(spectrum, mask=None) -> BinnedFlatness:
    """Baseline flatness of a spectrum as the ALMA single-dish pipeline's ``hsd_baseline`` measures it.

    Re-implements the statistic of the pipeline's ``BaselineSubtractionQualityManager.analyze_flatness``
    (``pipeline/hsd/tasks/baseline/plotter.py``; its score is :func:`almaview.qa.singledish.pipeline_flatness_score`):

    - ``mask`` (True = left out) marks the channels that are not baseline: the pipeline masks the edge channels,
      the lines it detected and its deviation mask; non-finite channels are left out here too;
    - ``rms``: the standard deviation (ddof 0) of the unmasked channels;
    - the spectrum is cut into 20 bins when it has 512 channels or more, else 10 (:func:`flatness_bins`); a bin
      with any masked channel is left out, the others give their mean; with fewer than two usable bins the number
      of bins is doubled once;
    - ratios: (lowest bin mean, highest bin mean, highest - lowest) / ``rms``.

    White noise gives a ``diff_ratio`` of about ``3 / sqrt(channels per bin)`` (the range of 10 bin means); a
    slope or a ripple of the size of the noise raises it above 1.8, where the pipeline's score starts to drop.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> noise = rng.normal(0, 1, 240)
    >>> round(binned_flatness(noise).diff_ratio, 2), binned_flatness(noise).nbin
    (0.86, 10)
    >>> slope = np.arange(100.0)                          # a pure slope: diff 90, rms sqrt((100**2 - 1) / 12)
    >>> round(binned_flatness(slope).diff_ratio, 3)
    3.118
    """
    s = np.asarray(spectrum, dtype=float).ravel()
    n = s.size
    left_out = ~np.isfinite(s)
    if mask is not None:
        left_out |= np.asarray(mask, dtype=bool).ravel()
    good = s[~left_out]
    rms = float(np.std(good)) if good.size else float("nan")
    nbin = 20 if n >= 512 else 10
    factor = 1
    means = _bin_means(s, left_out, nbin)
    if np.isfinite(rms) and np.isfinite(means).sum() < 2:
        factor = 2
        nbin *= factor
        means = _bin_means(s, left_out, nbin)
    usable = means[np.isfinite(means)]
    if not (np.isfinite(rms) and rms > 0) or usable.size < 2:
        nan = float("nan")
        return BinnedFlatness(nan, nan, nan, rms, nbin, factor, tuple(means.tolist()), False)
    lo, hi = float(usable.min()), float(usable.max())
    return BinnedFlatness(lo / rms, hi / rms, (hi - lo) / rms, rms, nbin, factor, tuple(means.tolist()), True)


def _bin_means(s: np.ndarray, left_out: np.ndarray, nbin: int) -> np.ndarray:
    if nbin >= s.size:  # the pipeline needs more channels than bins
        return np.full(nbin, np.nan)
    return np.array(
        [np.nan if left_out[a : b + 1].any() else float(s[a : b + 1].mean()) for a, b in flatness_bins(s.size, nbin)]
    )


def tp_elevations(ds, positions) -> pd.DataFrame:
    """The elevation (deg) of every antenna at every integration of a single-dish spw node.

    From the node's ``POINTING_DIRECTION`` (RA/Dec in its ``frame``) seen from each antenna's ITRF position
    (``positions``: the ``antennas`` node's ``ANTENNA_POSITION``, (antenna_name, 3) in m) at the integration's
    time, with astropy's AltAz (no refraction; UT1 from astropy's bundled tables, never downloaded: a missing
    UT1-UTC moves an elevation by well under an arcsecond). Rows: antenna, time, kind ('ON', 'OFF', ...),
    flagged (every channel and polarization flagged), elevation_deg.

    Examples
    --------
    >>> tree = av.open_ms("uid___A002_X10ab2c3_X3c11.ms")                              # doctest: +SKIP
    >>> tp_elevations(tree["spw_0"].ds, tree["antennas"].ds.ANTENNA_POSITION).head()   # doctest: +SKIP
    """
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord
    from astropy.time import Time
    from astropy.utils import iers

    if "POINTING_DIRECTION" not in ds:
        raise KeyError("this spw has no POINTING_DIRECTION (the MS has no POINTING rows)")
    direction = np.asarray(ds.POINTING_DIRECTION.values, dtype=float)  # (time, antenna, 2) rad
    frame = str(ds.POINTING_DIRECTION.attrs.get("frame", "ICRS")).upper()
    sky_frame = "fk5" if frame == "J2000" else "icrs" if frame == "ICRS" else frame.lower()
    times = Time(ds.time.values, scale="utc")
    kinds = [intent_name(i) for i in np.asarray(ds.intents.values).astype(str)]
    flagged = (
        np.asarray(ds.FLAG.values).all(axis=(2, 3))
        if "FLAG" in ds
        else np.zeros((ds.sizes["time"], ds.sizes["antenna_name"]), bool)
    )
    rows = []
    with iers.conf.set_temp("auto_download", False), iers.conf.set_temp("iers_degraded_accuracy", "ignore"):
        for j, ant in enumerate(ds.antenna_name.values):
            xyz = np.asarray(positions.sel(antenna_name=ant).values, dtype=float)
            where = EarthLocation.from_geocentric(*xyz, unit=u.m)
            sky = SkyCoord(direction[:, j, 0] * u.rad, direction[:, j, 1] * u.rad, frame=sky_frame)
            alt = sky.transform_to(AltAz(obstime=times, location=where)).alt.deg
            rows.append(
                pd.DataFrame(
                    {
                        "antenna": str(ant),
                        "time": ds.time.values,
                        "kind": kinds,
                        "flagged": flagged[:, j],
                        "elevation_deg": alt,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def on_off_elevation_difference(elevations: pd.DataFrame, cal_times) -> pd.DataFrame:
    """ON minus OFF elevation, as the single-dish pipeline's ``hsd_skycal`` measures it for one antenna.

    Re-implements ``compute_elevation_difference`` of the pipeline's ``pipeline/hsd/tasks/skycal/skycal.py``:
    the OFF elevation of a sky solution is that of the unflagged OFF integration nearest to the solution's time
    (``cal_times``, the sky caltable's TIME of that antenna and spw); every unflagged ON integration is compared
    with the latest solution before it ('preceding') and the earliest at or after it ('subsequent').

    ``elevations``: one antenna's rows of :func:`tp_elevations`. Rows: time, side ('preceding' or
    'subsequent'), difference_deg (ON - OFF).

    Examples
    --------
    >>> t = pd.to_datetime(["2024-05-17 05:20:00", "2024-05-17 05:20:10", "2024-05-17 05:20:20"])
    >>> el = pd.DataFrame({"time": t, "kind": ["OFF", "ON", "OFF"], "flagged": False,
    ...                    "elevation_deg": [50.0, 50.5, 51.5]})
    >>> on_off_elevation_difference(el, t[[0, 2]]).difference_deg.tolist()
    [0.5, -1.0]
    """
    el = elevations[~elevations.flagged.astype(bool)]
    off = el[el.kind == "OFF"]
    on = el[el.kind == "ON"]
    cols = ["time", "side", "difference_deg"]
    cal = np.asarray(pd.to_datetime(np.asarray(cal_times)).values, dtype="datetime64[ns]")
    if off.empty or on.empty or cal.size == 0:
        return pd.DataFrame(columns=cols)
    off_t = off.time.values.astype("datetime64[ns]").astype(np.int64)
    off_el = off.elevation_deg.values
    cal_ns = cal.astype(np.int64)
    el_cal = off_el[[int(np.argmin(np.abs(off_t - t))) for t in cal_ns]]
    rows = []
    for t, e in zip(on.time.values.astype("datetime64[ns]"), on.elevation_deg.values):
        dt = cal_ns - t.astype(np.int64)
        before, after = np.flatnonzero(dt < 0), np.flatnonzero(dt >= 0)
        if before.size:
            rows.append((t, "preceding", float(e - el_cal[before[np.argmax(cal_ns[before])]])))
        if after.size:
            rows.append((t, "subsequent", float(e - el_cal[after[np.argmin(cal_ns[after])]])))
    return pd.DataFrame(rows, columns=cols)

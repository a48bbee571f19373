"""Calibration tables as the weblog plots them, made interactive: Tsys (B TSYS), bandpass (B Jones), gains (G/T Jones).

Each builder takes the DataTree of :func:`almaview.open_caltable` (one ``spw_<id>`` node per spw) and returns a
:class:`~almaview.plots.Panel` whose ``data`` holds exactly the plotted values.

Conventions (the pipeline weblog's):
- Tsys spectra are averaged over solution times and receptors, unflagged solutions only; the median spectrum over
  antennas is drawn in black; an antenna is an outlier when its median Tsys exceeds ``outlier_factor`` times the
  median of all antennas' medians (drawn red and listed).
- Bandpass amplitude is ``|gain|``, phase ``angle(gain)`` in degrees, per channel; flagged channels are grey crosses.
- Gain phase RMS per antenna and spw is the RMS of the unflagged phases about their circular mean, in degrees.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from . import Panel
from ._common import (FLAGGED_COLOUR, MEDIAN_COLOUR, OUTLIER_COLOUR, colours_for, column, columns_of, figure, row,
                      selected, table, wrap_deg)

__all__ = ["tsys", "bandpass", "gains", "phase_rms", "caltable_spws"]


def caltable_spws(ct: Any) -> list[int]:
    """The spw ids of a caltable DataTree, in order.

    Examples
    --------
    >>> caltable_spws(av.open_caltable("bandpass.bcal"))   # doctest: +SKIP
    [0, 1, 2, 3]
    """
    out = []
    for name in ct.children:
        if name.startswith("spw_"):
            try:
                out.append(int(name[4:].split("_")[0]))
            except ValueError:
                continue
    return sorted(set(out))


def _nodes(ct: Any, spws: Sequence[int] | None):
    for spw in selected(caltable_spws(ct), spws):
        yield spw, ct[f"spw_{spw}"].ds


def _ghz(f: np.ndarray) -> np.ndarray:
    return np.asarray(f, dtype=float) / 1e9


# ------------------------------------------------------------------------------------------------ Tsys


def tsys(ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None, *,
         outlier_factor: float = 1.5) -> Panel:
    """Tsys vs frequency per spw (antennas overlaid, median in black, outliers red), Tsys vs time, median table.

    ``data`` rows have ``view`` = 'spectrum' (spw, antenna, frequency_ghz, tsys, outlier),
    'time' (spw, antenna, time, tsys: mean over channels and receptors) or 'median' (spw, antenna='median', ...).

    Examples
    --------
    >>> p = tsys(av.open_caltable(eb.caltables["tsyscal"]), spws=[0], antennas=["DA41", "DA42"])  # doctest: +SKIP
    >>> p.data.query("view == 'spectrum'").groupby("antenna").tsys.median()                       # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource, HoverTool

    rows, sources, spec_figs, summary = [], {}, [], []
    time_fig = figure("Tsys vs time (mean over channels, receptors)", "time (UTC)", "Tsys (K)", x_datetime=True)
    time_rows = []
    for spw, ds in _nodes(ct, spws):
        ants = selected([str(a) for a in ds.antenna.values], antennas)
        sub = ds.sel(antenna=ants)
        val = np.where(sub.flag.values, np.nan, sub.value.values.astype(float))  # (time, antenna, freq, receptor)
        with np.errstate(all="ignore"), _quiet():
            spec = np.nanmean(val, axis=(0, 3))  # (antenna, freq)
            per_time = np.nanmean(val, axis=(2, 3))  # (time, antenna)
            med_ant = np.nanmedian(spec, axis=1)
            ref = np.nanmedian(med_ant)
            median_spec = np.nanmedian(spec, axis=0)
        freq = _ghz(sub.frequency.values)
        outliers = [a for a, m in zip(ants, med_ant) if np.isfinite(m) and m > outlier_factor * ref]
        cmap = colours_for(ants)
        for i, a in enumerate(ants):
            rows.append(pd.DataFrame({"view": "spectrum", "spw": spw, "antenna": a, "frequency_ghz": freq,
                                      "tsys": spec[i], "outlier": a in outliers}))
            summary.append({"spw": spw, "antenna": a, "median_tsys": med_ant[i], "outlier": a in outliers})
        rows.append(pd.DataFrame({"view": "median", "spw": spw, "antenna": "median", "frequency_ghz": freq,
                                  "tsys": median_spec, "outlier": False}))
        times = sub.time.values
        for i, a in enumerate(ants):
            time_rows.append(pd.DataFrame({"view": "time", "spw": spw, "antenna": a, "time": times,
                                           "tsys": per_time[:, i], "field": sub.field_name.values.astype(str),
                                           "color": cmap[a]}))
        f = figure(f"Tsys spw {spw}" + (f" — outliers: {', '.join(outliers)}" if outliers else ""),
                   "frequency (GHz)", "Tsys (K)", width=420)
        lines = {"xs": [freq] * len(ants), "ys": [s for s in spec], "antenna": ants,
                 "color": [OUTLIER_COLOUR if a in outliers else cmap[a] for a in ants],
                 "width": [2.5 if a in outliers else 1.0 for a in ants],
                 "median_tsys": [float(m) for m in med_ant]}
        src = ColumnDataSource(lines)
        r = f.multi_line("xs", "ys", source=src, line_color="color", line_width="width", line_alpha=0.8)
        f.add_tools(HoverTool(renderers=[r], tooltips=[("antenna", "@antenna"), ("median Tsys", "@median_tsys{0.0} K")]))
        msrc = ColumnDataSource({"x": freq, "y": median_spec})
        f.line("x", "y", source=msrc, line_color=MEDIAN_COLOUR, line_width=3, legend_label="median")
        f.legend.location = "top_left"
        sources[f"spectra_spw{spw}"] = src
        sources[f"median_spw{spw}"] = msrc
        spec_figs.append(f)
    tdf = pd.concat(time_rows, ignore_index=True) if time_rows else pd.DataFrame(
        columns=["view", "spw", "antenna", "time", "tsys", "field", "color"])
    tsrc = ColumnDataSource(columns_of(tdf, ["time", "tsys", "antenna", "spw", "field", "color"]))
    r = time_fig.scatter("time", "tsys", source=tsrc, color="color", size=5)
    time_fig.add_tools(HoverTool(renderers=[r], tooltips=[("antenna", "@antenna"), ("spw", "@spw"), ("field", "@field"),
                                                          ("Tsys", "@tsys{0.0} K"), ("time", "@time{%F %T}")],
                                 formatters={"@time": "datetime"}))
    sources["time"] = tsrc
    sdf = pd.DataFrame(summary, columns=["spw", "antenna", "median_tsys", "outlier"])
    if len(sdf):
        sdf["median_tsys"] = sdf["median_tsys"].round(2)
    tab, ssrc = table(sdf)
    sources["medians"] = ssrc
    layout = column([row(spec_figs[i:i + 2]) for i in range(0, len(spec_figs), 2)] + [time_fig, tab])
    data = pd.concat(rows + [tdf.drop(columns="color")], ignore_index=True) if rows else tdf
    return Panel(layout, data, sources, title=f"Tsys — {ct.attrs.get('caltable', '')}")


# ------------------------------------------------------------------------------------------------ bandpass


def bandpass(ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None) -> Panel:
    """Bandpass amplitude and phase vs frequency per antenna and spw; flagged channels as grey crosses.

    ``data``: one row per (spw, antenna, receptor, time, channel): frequency_ghz, amp, phase_deg, flagged.

    Examples
    --------
    >>> p = bandpass(av.open_caltable(eb.caltables["bandpass"]), spws=[0], antennas=["DA41"])  # doctest: +SKIP
    >>> p.data[["antenna", "frequency_ghz", "amp"]].head()                                   # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource, HoverTool

    frames = []
    for spw, ds in _nodes(ct, spws):
        ants = selected([str(a) for a in ds.antenna.values], antennas)
        sub = ds.sel(antenna=ants)
        g = sub.gain.values if "gain" in sub else sub.value.values.astype(complex)
        fl = sub.flag.values
        t, a, c, r = np.meshgrid(np.arange(g.shape[0]), np.arange(g.shape[1]), np.arange(g.shape[2]),
                                 np.arange(g.shape[3]), indexing="ij")
        frames.append(pd.DataFrame({
            "spw": spw, "antenna": np.asarray(ants, dtype=object)[a.ravel()],
            "receptor": sub.receptor.values.astype(str)[r.ravel()], "time": sub.time.values[t.ravel()],
            "channel": c.ravel(), "frequency_ghz": _ghz(sub.frequency.values)[c.ravel()],
            "amp": np.abs(g).ravel().astype(float), "phase_deg": np.degrees(np.angle(g)).ravel().astype(float),
            "flagged": fl.ravel()}))
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["spw", "antenna", "receptor", "time", "channel", "frequency_ghz", "amp", "phase_deg", "flagged"])
    cmap = colours_for(data["antenna"]) if len(data) else {}
    data_c = data.assign(color=[cmap.get(a, "#000") for a in data["antenna"]])
    ok, bad = data_c[~data_c.flagged.astype(bool)], data_c[data_c.flagged.astype(bool)]
    cols = ["frequency_ghz", "amp", "phase_deg", "antenna", "receptor", "spw", "channel", "color"]
    src, fsrc = ColumnDataSource(columns_of(ok, cols)), ColumnDataSource(columns_of(bad, cols))
    amp = figure("Bandpass amplitude", "frequency (GHz)", "amplitude", width=620)
    ph = figure("Bandpass phase", "frequency (GHz)", "phase (deg)", width=620, x_range=amp.x_range)
    tips = [("antenna", "@antenna"), ("receptor", "@receptor"), ("spw", "@spw"), ("channel", "@channel"),
            ("amp", "@amp{0.000}"), ("phase", "@phase_deg{0.0}°")]
    for f, y in ((amp, "amp"), (ph, "phase_deg")):
        r = f.scatter("frequency_ghz", y, source=src, color="color", size=3)
        f.scatter("frequency_ghz", y, source=fsrc, color=FLAGGED_COLOUR, marker="x", size=6, legend_label="flagged")
        f.add_tools(HoverTool(renderers=[r], tooltips=tips))
        f.legend.location = "top_left"
    return Panel(column([amp, ph]), data, {"points": src, "flagged": fsrc},
                 title=f"Bandpass — {ct.attrs.get('caltable', '')}")


# ------------------------------------------------------------------------------------------------ gains


def phase_rms(phase_deg: np.ndarray) -> float:
    """RMS (deg) of phases about their circular mean; NaNs ignored.

    Examples
    --------
    >>> round(phase_rms(np.array([10.0, -10.0, 10.0, -10.0])), 6)
    10.0
    >>> round(phase_rms(np.array([179.0, -179.0])), 6)
    1.0
    """
    p = np.radians(np.asarray(phase_deg, dtype=float))
    p = p[np.isfinite(p)]
    if p.size == 0:
        return float("nan")
    mean = np.angle(np.mean(np.exp(1j * p)))
    d = np.angle(np.exp(1j * (p - mean)))
    return float(np.degrees(np.sqrt(np.mean(d ** 2))))


def gains(ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None) -> Panel:
    """Gain phase and amplitude vs time per antenna, coloured by spw, with a per-antenna phase RMS table.

    ``data``: one row per (spw, antenna, receptor, time) with amp, phase_deg, flagged, field, scan.

    Examples
    --------
    >>> p = gains(av.open_caltable(eb.caltables.get_table("s17_1").path()), antennas=["DA42"])  # doctest: +SKIP
    >>> p.sources["rms"].data["phase_rms_deg"]                                                  # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource, HoverTool

    frames = []
    for spw, ds in _nodes(ct, spws):
        ants = selected([str(a) for a in ds.antenna.values], antennas)
        sub = ds.sel(antenna=ants)
        g = sub.gain.values if "gain" in sub else sub.value.values.astype(complex)
        if g.ndim == 4:  # frequency-dependent table: average over channels
            g = np.nanmean(np.where(sub.flag.values, np.nan, g), axis=2)
            fl = ~np.isfinite(g)
        else:
            fl = sub.flag.values
        t, a, r = np.meshgrid(np.arange(g.shape[0]), np.arange(g.shape[1]), np.arange(g.shape[2]), indexing="ij")
        frames.append(pd.DataFrame({
            "spw": spw, "antenna": np.asarray(ants, dtype=object)[a.ravel()],
            "receptor": sub.receptor.values.astype(str)[r.ravel()], "time": sub.time.values[t.ravel()],
            "field": sub.field_name.values.astype(str)[t.ravel()], "scan": sub.scan_number.values[t.ravel()],
            "amp": np.abs(g).ravel().astype(float), "phase_deg": np.degrees(np.angle(g)).ravel().astype(float),
            "flagged": np.asarray(fl).ravel()}))
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["spw", "antenna", "receptor", "time", "field", "scan", "amp", "phase_deg", "flagged"])
    cmap = colours_for(data["spw"]) if len(data) else {}
    ok = data[~data.flagged.astype(bool)].assign(color=lambda d: [cmap[s] for s in d["spw"]])
    cols = ["time", "amp", "phase_deg", "antenna", "receptor", "spw", "field", "scan", "color"]
    src = ColumnDataSource(columns_of(ok, cols))
    ph = figure("Gain phase vs time (colour: spw)", "time (UTC)", "phase (deg)", x_datetime=True, width=620)
    amp = figure("Gain amplitude vs time (colour: spw)", "time (UTC)", "amplitude", x_datetime=True, width=620,
                 x_range=ph.x_range)
    tips = [("antenna", "@antenna"), ("spw", "@spw"), ("receptor", "@receptor"), ("field", "@field"),
            ("scan", "@scan"), ("amp", "@amp{0.000}"), ("phase", "@phase_deg{0.0}°"), ("time", "@time{%T}")]
    for f, y in ((ph, "phase_deg"), (amp, "amp")):
        r = f.scatter("time", y, source=src, color="color", size=4)
        f.add_tools(HoverTool(renderers=[r], tooltips=tips, formatters={"@time": "datetime"}))
    rms = (ok.groupby(["antenna", "spw"], sort=True)["phase_deg"].apply(phase_rms).rename("phase_rms_deg")
           .reset_index()) if len(ok) else pd.DataFrame(columns=["antenna", "spw", "phase_rms_deg"])
    rms["phase_rms_deg"] = rms["phase_rms_deg"].astype(float).round(2)
    tab, rsrc = table(rms)
    return Panel(column([ph, amp, tab]), data, {"points": src, "rms": rsrc},
                 title=f"Gains — {ct.attrs.get('caltable', '')}")


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)

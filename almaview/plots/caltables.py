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

from ..analysis.statistics import phase_rms  # noqa: F401 (re-exported)
from ..analysis.trees import caltable_spws  # noqa: F401 (re-exported)
from . import Panel
from ._common import (FLAGGED_COLOUR, MEDIAN_COLOUR, OUTLIER_COLOUR, RASTER_THRESHOLD, colours_for, column,
                      columns_of, empty_raster, figure, image_layer, raster_data, row, selected, table)

__all__ = ["tsys", "bandpass", "gains", "phase_rms", "caltable_spws", "tsys_data", "bandpass_data", "gains_data",
           "refresh"]


def _nodes(ct: Any, spws: Sequence[int] | None):
    for spw in selected(caltable_spws(ct), spws):
        yield spw, ct[f"spw_{spw}"].ds


def _ghz(f: np.ndarray) -> np.ndarray:
    return np.asarray(f, dtype=float) / 1e9


# ------------------------------------------------------------------------------------------------ Tsys


def tsys_data(ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None, *,
              outlier_factor: float = 1.5) -> tuple[pd.DataFrame, dict[str, dict], dict[str, Any]]:
    """What :func:`tsys` plots, without Bokeh models: (data, source data by name, {'outliers', 'summary'}).

    Examples
    --------
    >>> data, sources, meta = tsys_data(av.open_caltable("x.tsyscal.tbl"), spws=[0])   # doctest: +SKIP
    """
    rows, sdata, summary, time_rows, outl = [], {}, [], [], {}
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
        outl[spw] = outliers
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
        sdata[f"spectra_spw{spw}"] = {"xs": [freq] * len(ants), "ys": [s for s in spec], "antenna": ants,
                                      "color": [OUTLIER_COLOUR if a in outliers else cmap[a] for a in ants],
                                      "width": [2.5 if a in outliers else 1.0 for a in ants],
                                      "median_tsys": [float(m) for m in med_ant]}
        sdata[f"median_spw{spw}"] = {"x": freq, "y": median_spec}
    tdf = pd.concat(time_rows, ignore_index=True) if time_rows else pd.DataFrame(
        columns=["view", "spw", "antenna", "time", "tsys", "field", "color"])
    sdata["time"] = columns_of(tdf, ["time", "tsys", "antenna", "spw", "field", "color"])
    sdf = pd.DataFrame(summary, columns=["spw", "antenna", "median_tsys", "outlier"])
    if len(sdf):
        sdf["median_tsys"] = sdf["median_tsys"].round(2)
    sdata["medians"] = columns_of(sdf)
    data = pd.concat(rows + [tdf.drop(columns="color")], ignore_index=True) if rows else tdf
    return data, sdata, {"outliers": outl, "summary": sdf}


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

    data, sdata, meta = tsys_data(ct, spws, antennas, outlier_factor=outlier_factor)
    sources, spec_figs = {}, []
    for spw, outliers in meta["outliers"].items():
        f = figure(f"Tsys spw {spw}" + (f" — outliers: {', '.join(outliers)}" if outliers else ""),
                   "frequency (GHz)", "Tsys (K)", width=420)
        src = ColumnDataSource(sdata[f"spectra_spw{spw}"])
        r = f.multi_line("xs", "ys", source=src, line_color="color", line_width="width", line_alpha=0.8)
        f.add_tools(HoverTool(renderers=[r], tooltips=[("antenna", "@antenna"), ("median Tsys", "@median_tsys{0.0} K")]))
        msrc = ColumnDataSource(sdata[f"median_spw{spw}"])
        f.line("x", "y", source=msrc, line_color=MEDIAN_COLOUR, line_width=3, legend_label="median")
        f.legend.location = "top_left"
        sources[f"spectra_spw{spw}"] = src
        sources[f"median_spw{spw}"] = msrc
        spec_figs.append(f)
    time_fig = figure("Tsys vs time (mean over channels, receptors)", "time (UTC)", "Tsys (K)", x_datetime=True)
    tsrc = ColumnDataSource(sdata["time"])
    r = time_fig.scatter("time", "tsys", source=tsrc, color="color", size=5)
    time_fig.add_tools(HoverTool(renderers=[r], tooltips=[("antenna", "@antenna"), ("spw", "@spw"), ("field", "@field"),
                                                          ("Tsys", "@tsys{0.0} K"), ("time", "@time{%F %T}")],
                                 formatters={"@time": "datetime"}))
    sources["time"] = tsrc
    tab, ssrc = table(meta["summary"])
    sources["medians"] = ssrc
    layout = column([row(spec_figs[i:i + 2]) for i in range(0, len(spec_figs), 2)] + [time_fig, tab])
    return Panel(layout, data, sources, title=f"Tsys — {ct.attrs.get('caltable', '')}", kind="tsys")


# ------------------------------------------------------------------------------------------------ bandpass


def bandpass_data(ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None, *,
                  raster_threshold: int = RASTER_THRESHOLD) -> tuple[pd.DataFrame, dict[str, dict]]:
    """What :func:`bandpass` plots, without Bokeh models: (data, source data by name).

    Examples
    --------
    >>> data, sources = bandpass_data(av.open_caltable("x.bcal.tbl"), spws=[0])   # doctest: +SKIP
    """
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
    big = len(ok) > raster_threshold
    sdata = {"points": columns_of(ok.iloc[:0] if big else ok, cols), "flagged": columns_of(bad, cols),
             "amp_image": raster_data(ok["frequency_ghz"].to_numpy(), ok["amp"].to_numpy()) if big else empty_raster(),
             "phase_image": (raster_data(ok["frequency_ghz"].to_numpy(), ok["phase_deg"].to_numpy()) if big
                             else empty_raster())}
    return data, sdata


def bandpass(ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None, *,
             raster_threshold: int = RASTER_THRESHOLD) -> Panel:
    """Bandpass amplitude and phase vs frequency per antenna and spw; flagged channels as grey crosses.

    ``data``: one row per (spw, antenna, receptor, time, channel): frequency_ghz, amp, phase_deg, flagged.

    Examples
    --------
    >>> p = bandpass(av.open_caltable(eb.caltables["bandpass"]), spws=[0], antennas=["DA41"])  # doctest: +SKIP
    >>> p.data[["antenna", "frequency_ghz", "amp"]].head()                                   # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource, HoverTool

    data, sdata = bandpass_data(ct, spws, antennas, raster_threshold=raster_threshold)
    src, fsrc = ColumnDataSource(sdata["points"]), ColumnDataSource(sdata["flagged"])
    amp = figure("Bandpass amplitude", "frequency (GHz)", "amplitude", width=620)
    ph = figure("Bandpass phase", "frequency (GHz)", "phase (deg)", width=620, x_range=amp.x_range)
    tips = [("antenna", "@antenna"), ("receptor", "@receptor"), ("spw", "@spw"), ("channel", "@channel"),
            ("amp", "@amp{0.000}"), ("phase", "@phase_deg{0.0}°")]
    images = {}
    for f, y in ((amp, "amp"), (ph, "phase_deg")):
        r = f.scatter("frequency_ghz", y, source=src, color="color", size=3)
        f.scatter("frequency_ghz", y, source=fsrc, color=FLAGGED_COLOUR, marker="x", size=6, legend_label="flagged")
        f.add_tools(HoverTool(renderers=[r], tooltips=tips))
        f.legend.location = "top_left"
        key = "amp_image" if y == "amp" else "phase_image"
        images[key] = ColumnDataSource(sdata[key])
        image_layer(f, images[key])
    return Panel(column([amp, ph]), data, {"points": src, "flagged": fsrc, **images},
                 title=f"Bandpass — {ct.attrs.get('caltable', '')}", kind="bandpass")


# ------------------------------------------------------------------------------------------------ gains


def gains_data(ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None
               ) -> tuple[pd.DataFrame, dict[str, dict]]:
    """What :func:`gains` plots, without Bokeh models: (data, source data by name).

    Examples
    --------
    >>> data, sources = gains_data(av.open_caltable("x.gpcal.tbl"), antennas=["DA41"])   # doctest: +SKIP
    """
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
    rms = (ok.groupby(["antenna", "spw"], sort=True)["phase_deg"].apply(phase_rms).rename("phase_rms_deg")
           .reset_index()) if len(ok) else pd.DataFrame(columns=["antenna", "spw", "phase_rms_deg"])
    rms["phase_rms_deg"] = rms["phase_rms_deg"].astype(float).round(2)
    return data, {"points": columns_of(ok, cols), "rms": columns_of(rms)}


def gains(ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None) -> Panel:
    """Gain phase and amplitude vs time per antenna, coloured by spw, with a per-antenna phase RMS table.

    ``data``: one row per (spw, antenna, receptor, time) with amp, phase_deg, flagged, field, scan.

    Examples
    --------
    >>> p = gains(av.open_caltable(eb.caltables.get_table("s17_1").path()), antennas=["DA42"])  # doctest: +SKIP
    >>> p.sources["rms"].data["phase_rms_deg"]                                                  # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource, HoverTool

    data, sdata = gains_data(ct, spws, antennas)
    src = ColumnDataSource(sdata["points"])
    ph = figure("Gain phase vs time (colour: spw)", "time (UTC)", "phase (deg)", x_datetime=True, width=620)
    amp = figure("Gain amplitude vs time (colour: spw)", "time (UTC)", "amplitude", x_datetime=True, width=620,
                 x_range=ph.x_range)
    tips = [("antenna", "@antenna"), ("spw", "@spw"), ("receptor", "@receptor"), ("field", "@field"),
            ("scan", "@scan"), ("amp", "@amp{0.000}"), ("phase", "@phase_deg{0.0}°"), ("time", "@time{%T}")]
    for f, y in ((ph, "phase_deg"), (amp, "amp")):
        r = f.scatter("time", y, source=src, color="color", size=4)
        f.add_tools(HoverTool(renderers=[r], tooltips=tips, formatters={"@time": "datetime"}))
    tab, rsrc = table(pd.DataFrame(sdata["rms"]))
    return Panel(column([ph, amp, tab]), data, {"points": src, "rms": rsrc},
                 title=f"Gains — {ct.attrs.get('caltable', '')}", kind="gains")


_DATA = {"tsys": tsys_data, "bandpass": bandpass_data, "gains": gains_data}


def refresh(panel: Panel, ct: Any, spws: Sequence[int] | None = None,
            antennas: Sequence[str] | None = None) -> bool:
    """Update a caltable panel's sources in place for a new spw/antenna selection (no Bokeh models built).

    Returns False (and changes nothing) when the new selection needs other figures (e.g. other spws for Tsys):
    build a new panel then.

    Examples
    --------
    >>> p = tsys(ct, spws=[0]); refresh(p, ct, spws=[0], antennas=["DA41"])   # doctest: +SKIP
    True
    """
    fn = _DATA.get(panel.kind)
    if fn is None:
        return False
    out = fn(ct, spws, antennas)
    data, sdata = out[0], out[1]
    if set(sdata) != set(panel.sources) or any(set(sdata[k]) != set(panel.sources[k].data) for k in sdata):
        return False
    for k, d in sdata.items():
        panel.sources[k].data = d
    panel.data = data
    return True


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)

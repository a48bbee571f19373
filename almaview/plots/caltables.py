"""Calibration tables as the weblog plots them, made interactive, each kind (VisCal type) in its own terms:
Tsys in K per channel (B TSYS), bandpass amplitude and phase per channel (B Jones), gain phase (and amplitude,
unless the table is phase-only) vs time (G/T Jones), delays in ns (K Jones). :func:`caltable` picks the panel
from the table's kind; a panel given another kind raises :class:`~almaview.errors.CaltableKindMismatch`.

Each builder takes the DataTree of :func:`almaview.open_caltable` (the numbers come from
:mod:`almaview.analysis.caltables`) and returns a :class:`~almaview.plots.Panel` whose ``data`` holds exactly the
plotted values. ``iterate`` ('spw', 'antenna' or 'none') makes one panel per spw or antenna on a grid with shared
axes, like plotms's iteraxis and the weblog's pages; every colour has a legend outside the data (click to hide);
titles name the table's EB, spw, fields and antennas.
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from ..analysis.caltables import (
    bandpass_solutions,
    caltable_kind,
    delay_solutions,
    gain_solutions,
    phase_rms_table,
    require_kind,
    solution_mode,
    tsys_spectra,
)
from ..analysis.statistics import phase_rms  # noqa: F401 (re-exported)
from ..analysis.trees import caltable_spws  # noqa: F401 (re-exported)
from . import Panel
from ._common import (
    hover_tool,
    FLAGGED_COLOUR,
    MEDIAN_COLOUR,
    OUTLIER_COLOUR,
    RASTER_THRESHOLD,
    colours_for,
    column,
    columns_of,
    empty_raster,
    figure,
    image_layer,
    raster_data,
    table,
)
from .grid import by_category, check_iterate, grid, legend_outside, who

__all__ = [
    "tsys",
    "bandpass",
    "gains",
    "delay",
    "caltable",
    "phase_rms",
    "caltable_spws",
    "tsys_data",
    "bandpass_data",
    "gains_data",
    "refresh",
]

_TIME_TIPS = {"@time": "datetime"}


def _eb(ct: Any) -> str:
    eb = ct.attrs.get("eb") or ct.attrs.get("ms_name") or ""
    return f"EB {eb} · " if eb else ""


def _frame(ct: Any) -> str:
    """The frame of a caltable's channel frequencies (its SPECTRAL_WINDOW's; TOPO for ALMA when not given)."""
    for name in ct.children:
        f = ct[name].ds.coords.get("frequency")
        if f is not None and f.attrs.get("frame"):
            return str(f.attrs["frame"]).upper()
    return "TOPO"


def _fields(df: pd.DataFrame) -> str:
    if "field" not in df or not len(df):
        return ""
    f = sorted({str(v) for v in df["field"] if str(v)})
    return (" · " + (", ".join(f) if len(f) <= 3 else f"{len(f)} fields")) if f else ""


def _strs(df: pd.DataFrame, *cols: str) -> pd.DataFrame:
    """Copies of ``cols`` as strings (``<col>_s``), for Bokeh's GroupFilter."""
    return df.assign(**{f"{c}_s": df[c].astype(str) for c in cols})


def _lines(df: pd.DataFrame, by: list[str], keep: list[str]) -> dict[str, list]:
    """Multi-line source data: one row per ``by`` group with ``xs`` (GHz), ``ys`` (Tsys), ``channels`` and ``keep``
    (a filtered view of a multi-line source draws whole lines; Bokeh cannot filter a connected Line glyph)."""
    out: dict[str, list] = {"xs": [], "ys": [], "channels": [], **{k: [] for k in keep}}
    if not len(df):
        return out
    for _, g in df.groupby(by, sort=False):
        g = g.sort_values("frequency_ghz")
        out["xs"].append(g["frequency_ghz"].to_numpy())
        out["ys"].append(g["tsys"].to_numpy(dtype=float))
        out["channels"].append(g["channel"].to_numpy())
        for k in keep:
            v = g[k].iloc[0]
            out[k].append(v.item() if hasattr(v, "item") else v)
    return out


def _panels(data: pd.DataFrame, iterate: str, spws: Sequence[int], ants: Sequence[str]) -> list[tuple[str, dict]]:
    """(title part, where-filter) of each grid panel."""
    if iterate == "spw":
        return [(f"spw {s}", {"spw_s": str(s)}) for s in spws]
    if iterate == "antenna":
        return [(a, {"antenna_s": a}) for a in ants]
    return [("", {})]


# ------------------------------------------------------------------------------------------------ Tsys


def tsys_data(
    ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None, *, outlier_factor: float = 1.5
) -> tuple[pd.DataFrame, dict[str, dict], dict[str, Any]]:
    """What :func:`tsys` plots, without Bokeh models: (data, source data by name, {'outliers', 'summary'}).

    Examples
    --------
    >>> data, sources, meta = tsys_data(av.open_caltable("x.tsyscal.tbl"), spws=[0])   # doctest: +SKIP
    """
    data, summary = tsys_spectra(ct, spws, antennas, outlier_factor=outlier_factor)
    ants = list(dict.fromkeys(summary["antenna"])) if len(summary) else []
    cmap = colours_for(ants)
    spec = _strs(data[data["view"] == "spectrum"], "spw", "antenna")
    spec = spec.assign(color=[OUTLIER_COLOUR if o else cmap.get(a, "#000") for a, o in zip(spec.antenna, spec.outlier)])
    med = _strs(data[data["view"] == "median"], "spw")
    tdf = _strs(data[data["view"] == "time"], "spw", "antenna")
    tdf = tdf.assign(color=[cmap.get(a, "#000") for a in tdf["antenna"]])
    sdf = summary.copy()
    if len(sdf):
        sdf["median_tsys"] = sdf["median_tsys"].astype(float).round(2)
    outl = {int(s): sorted(g.loc[g.outlier, "antenna"]) for s, g in summary.groupby("spw")} if len(summary) else {}
    sdata = {
        "spectra": _lines(spec, ["spw", "antenna"], ["antenna", "spw", "spw_s", "antenna_s", "outlier", "color"]),
        "median": _lines(med, ["spw"], ["spw", "spw_s"]),
        "time": columns_of(tdf, ["time", "tsys", "antenna", "spw", "field", "spw_s", "antenna_s", "color"]),
        "medians": columns_of(sdf),
    }
    return data, sdata, {"outliers": outl, "summary": sdf, "antennas": ants, "colours": cmap}


def tsys(
    ct: Any,
    spws: Sequence[int] | None = None,
    antennas: Sequence[str] | None = None,
    *,
    outlier_factor: float = 1.5,
    iterate: str = "spw",
) -> Panel:
    """Tsys (K) vs frequency, one panel per spw (``iterate='spw'``, the weblog's page) or per antenna, antennas
    in colour with a legend (outliers red and named in the title), the median spectrum in black; Tsys vs time;
    the per-antenna median table.

    ``data`` rows have ``view`` = 'spectrum' (spw, antenna, channel, frequency_ghz, tsys, outlier),
    'time' (spw, antenna, time, tsys: mean over channels and receptors) or 'median' (spw, antenna='median', ...).

    Examples
    --------
    >>> p = tsys(av.open_caltable(eb.caltables["tsyscal"]), spws=[17], antennas=["DA41", "DA42"])  # doctest: +SKIP
    >>> p.data.query("view == 'spectrum'").groupby("antenna").tsys.median()                        # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource

    check_iterate(iterate)
    data, sdata, meta = tsys_data(ct, spws, antennas, outlier_factor=outlier_factor)
    spw_list = sorted(meta["outliers"])
    ants, cmap = meta["antennas"], meta["colours"]
    src, msrc = ColumnDataSource(sdata["spectra"]), ColumnDataSource(sdata["median"])
    figs = []
    for part, where in _panels(data, iterate, spw_list, ants):
        outl = sorted({a for s in spw_list for a in meta["outliers"][s] if where.get("spw_s", str(s)) == str(s)})
        shown = [a for a in ants if where.get("antenna_s", a) == a]
        f = figure(
            f"Tsys · {_eb(ct)}{part or 'all spws'}{_fields(data[data.view == 'time'])} · {who(shown)}"
            + (f" — outliers: {', '.join(outl)}" if outl else ""),
            f"frequency (GHz, {_frame(ct)})",
            "Tsys (K)",
            width=460,
            height=300,
        )
        items = by_category(
            f,
            "multi_line",
            src,
            "xs",
            "ys",
            "antenna_s",
            shown,
            {a: (OUTLIER_COLOUR if a in outl else cmap[a]) for a in shown},
            where=where,
            line_width=1.2,
            line_alpha=0.85,
        )
        f.add_tools(
            hover_tool(
                [r for _, r in items],
                tooltips=[
                    ("antenna", "@antenna"),
                    ("spw", "@spw"),
                    ("frequency", "$x{0.0000} GHz"),
                    ("Tsys", "$y{0.0} K"),
                ],
            )
        )
        if iterate != "antenna":
            med = by_category(
                f,
                "multi_line",
                msrc,
                "xs",
                "ys",
                "spw_s",
                [s for s in spw_list if where.get("spw_s", str(s)) == str(s)],
                {s: MEDIAN_COLOUR for s in spw_list},
                line_width=3,
            )
            items.append(("median", [r for _, r in med]))
        legend_outside(f, items, title="antenna")
        figs.append(f)
    tf = figure(
        f"Tsys vs time (mean over channels, receptors) · {_eb(ct)}{who(ants)}",
        "time (UTC)",
        "Tsys (K)",
        x_datetime=True,
        width=620,
    )
    tsrc = ColumnDataSource(sdata["time"])
    titems = by_category(tf, "scatter", tsrc, "time", "tsys", "antenna_s", ants, cmap, size=5)
    tf.add_tools(
        hover_tool(
            [r for _, r in titems],
            tooltips=[
                ("antenna", "@antenna"),
                ("spw", "@spw"),
                ("field", "@field"),
                ("Tsys", "@tsys{0.0} K"),
                ("time", "@time{%F %T}"),
            ],
            formatters=_TIME_TIPS,
        )
    )
    legend_outside(tf, titems, title="antenna")
    tab, ssrc = table(meta["summary"])
    layout = column([grid(figs, share_x=iterate != "spw" or len(figs) == 1), tf, tab])
    return Panel(
        layout,
        data,
        {"spectra": src, "median": msrc, "time": tsrc, "medians": ssrc},
        title=f"Tsys — {ct.attrs.get('caltable', '')}",
        kind="tsys",
    )


# ------------------------------------------------------------------------------------------------ bandpass


def bandpass_data(
    ct: Any,
    spws: Sequence[int] | None = None,
    antennas: Sequence[str] | None = None,
    *,
    raster_threshold: int = RASTER_THRESHOLD,
) -> tuple[pd.DataFrame, dict[str, dict]]:
    """What :func:`bandpass` plots, without Bokeh models: (data, source data by name).

    Examples
    --------
    >>> data, sources = bandpass_data(av.open_caltable("x.bcal.tbl"), spws=[0])   # doctest: +SKIP
    """
    data = bandpass_solutions(ct, spws, antennas)
    cmap = colours_for(data["antenna"]) if len(data) else {}
    data_c = _strs(data, "spw", "antenna").assign(color=[cmap.get(a, "#000") for a in data["antenna"]])
    ok, bad = data_c[~data_c.flagged.astype(bool)], data_c[data_c.flagged.astype(bool)]
    cols = ["frequency_ghz", "amp", "phase_deg", "antenna", "receptor", "spw", "channel", "color", "spw_s", "antenna_s"]
    big = len(ok) > raster_threshold
    sdata = {"points": columns_of(ok.iloc[:0] if big else ok, cols), "flagged": columns_of(bad, cols)}
    for s in sorted(set(data["spw"])):
        o = ok[ok["spw"] == s]
        for y, key in (("amp", "amp_image"), ("phase_deg", "phase_image")):
            sdata[f"{key}_spw{s}"] = (
                raster_data(o["frequency_ghz"].to_numpy(), o[y].to_numpy()) if big else empty_raster()
            )
    return data, sdata


def bandpass(
    ct: Any,
    spws: Sequence[int] | None = None,
    antennas: Sequence[str] | None = None,
    *,
    raster_threshold: int = RASTER_THRESHOLD,
    iterate: str = "spw",
) -> Panel:
    """Bandpass amplitude and phase (deg) per channel, one panel pair per spw (or per antenna), antennas in
    colour with a legend; flagged channels as grey crosses. Above ``raster_threshold`` points each panel shows a
    2-D histogram (sources 'amp_image_spw<N>', 'phase_image_spw<N>').

    ``data``: one row per (spw, antenna, receptor, time, channel): frequency_ghz, amp, phase_deg, flagged.

    Examples
    --------
    >>> p = bandpass(av.open_caltable(eb.caltables["bandpass"]), spws=[17], antennas=["DA41"])  # doctest: +SKIP
    >>> p.data[["antenna", "channel", "amp"]].head()                                         # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource

    check_iterate(iterate)
    data, sdata = bandpass_data(ct, spws, antennas, raster_threshold=raster_threshold)
    src, fsrc = ColumnDataSource(sdata["points"]), ColumnDataSource(sdata["flagged"])
    spw_list = sorted(set(data["spw"]))
    ants = list(dict.fromkeys(data["antenna"]))
    cmap = colours_for(ants)
    tips = [
        ("antenna", "@antenna"),
        ("receptor", "@receptor"),
        ("spw", "@spw"),
        ("channel", "@channel"),
        ("amp", "@amp{0.000}"),
        ("phase", "@phase_deg{0.0}°"),
    ]
    sources = {"points": src, "flagged": fsrc}
    amp_figs, ph_figs = [], []
    # one panel per spw even when iterating over antennas: spws do not share a frequency axis
    parts = (
        [(f"spw {s} · {a}", {"spw_s": str(s), "antenna_s": a}) for a in ants for s in spw_list]
        if iterate == "antenna"
        else _panels(data, iterate, spw_list, ants)
    )
    for part, where in parts:
        shown = [a for a in ants if where.get("antenna_s", a) == a]
        for figs, y, label, key in (
            (amp_figs, "amp", "amplitude", "amp_image"),
            (ph_figs, "phase_deg", "phase (deg)", "phase_image"),
        ):
            f = figure(
                f"Bandpass {label.split(' ')[0]} · {_eb(ct)}{part or 'all spws'} · {who(shown)}",
                f"frequency (GHz, {_frame(ct)})",
                label,
                width=460,
                height=280,
            )
            items = by_category(f, "scatter", src, "frequency_ghz", y, "antenna_s", shown, cmap, where=where, size=3)
            fl = by_category(
                f,
                "scatter",
                fsrc,
                "frequency_ghz",
                y,
                "spw_s",
                [where["spw_s"]] if "spw_s" in where else [str(s) for s in spw_list],
                {str(s): FLAGGED_COLOUR for s in spw_list},
                marker="x",
                size=6,
            )
            f.add_tools(hover_tool([r for _, r in items], tooltips=tips))
            legend_outside(f, items + [("flagged", [r for _, r in fl])], title="antenna")
            if "spw_s" in where:
                img = ColumnDataSource(sdata[f"{key}_spw{where['spw_s']}"])
                image_layer(f, img)
                sources[f"{key}_spw{where['spw_s']}"] = img
            figs.append(f)
    for a, p in zip(amp_figs, ph_figs):
        p.x_range = a.x_range
    ncols = 2
    layout = column([grid(amp_figs, ncols=ncols, share_x=False), grid(ph_figs, ncols=ncols, share_x=False)])
    return Panel(layout, data, sources, title=f"Bandpass — {ct.attrs.get('caltable', '')}", kind="bandpass")


# ------------------------------------------------------------------------------------------------ gains


def gains_data(
    ct: Any,
    spws: Sequence[int] | None = None,
    antennas: Sequence[str] | None = None,
    *,
    phase_scans: Sequence[int] | None = None,
) -> tuple[pd.DataFrame, dict[str, dict]]:
    """What :func:`gains` plots, without Bokeh models: (data, source data by name).

    Examples
    --------
    >>> data, sources = gains_data(av.open_caltable("x.gpcal.tbl"), antennas=["DA41"])   # doctest: +SKIP
    """
    data = gain_solutions(ct, spws, antennas)
    cmap = colours_for(data["spw"]) if len(data) else {}
    ok = _strs(data[~data.flagged.astype(bool)], "spw", "antenna").assign(color=lambda d: [cmap[s] for s in d["spw"]])
    cols = ["time", "amp", "phase_deg", "antenna", "receptor", "spw", "field", "scan", "color", "spw_s", "antenna_s"]
    rms = phase_rms_table(data, phase_scans)
    if len(rms):
        rms["phase_rms_deg"] = rms["phase_rms_deg"].astype(float).round(2)
    return data, {"points": columns_of(ok, cols), "rms": columns_of(rms)}


def gains(
    ct: Any,
    spws: Sequence[int] | None = None,
    antennas: Sequence[str] | None = None,
    *,
    iterate: str = "antenna",
    phase_scans: Sequence[int] | None = None,
    ncols: int = 3,
) -> Panel:
    """Gain phase (deg) vs time, one panel per antenna (the weblog's hifa_timegaincal page; ``iterate``), spws in
    colour with a legend; amplitude vs time too unless the table is phase-only (gaincal calmode='p'); an
    amplitude-only table shows only amplitudes. The phase RMS table is the weblog's: the standard deviation of
    the solution phases on the phase calibrator's scans (``phase_scans``, e.g. from
    ``vis["scans"]``; all scans when None), per spw, antenna and receptor.

    ``data``: one row per (spw, antenna, receptor, time) with amp, phase_deg, flagged, field, scan;
    ``data.attrs['mode']`` is 'phase', 'amplitude' or 'both'.

    Examples
    --------
    >>> p = gains(av.open_caltable(eb.caltables.get_table("s17_1").path()), antennas=["DA42"])  # doctest: +SKIP
    >>> p.sources["rms"].data["phase_rms_deg"]                                                  # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource

    check_iterate(iterate)
    data, sdata = gains_data(ct, spws, antennas, phase_scans=phase_scans)
    mode = solution_mode(data)
    data.attrs["mode"] = mode
    src = ColumnDataSource(sdata["points"])
    spw_list = sorted(set(data["spw"]))
    ants = list(dict.fromkeys(data["antenna"]))
    colour_col, values = ("spw_s", [str(s) for s in spw_list]) if iterate != "spw" else ("antenna_s", ants)
    cmap = {str(s): c for s, c in colours_for(spw_list).items()} if iterate != "spw" else colours_for(ants)
    tips = [
        ("antenna", "@antenna"),
        ("spw", "@spw"),
        ("receptor", "@receptor"),
        ("field", "@field"),
        ("scan", "@scan"),
        ("amp", "@amp{0.000}"),
        ("phase", "@phase_deg{0.0}°"),
        ("time", "@time{%T}"),
    ]
    rows = []
    ys = [("phase_deg", "phase (deg)", "phase")] if mode != "amplitude" else []
    ys += [("amp", "amplitude", "amplitude")] if mode != "phase" else []
    for y, label, word in ys:
        figs = []
        for part, where in _panels(data, iterate, spw_list, ants):
            shown = [a for a in ants if where.get("antenna_s", a) == a]
            f = figure(
                f"Gain {word} · {_eb(ct)}{part or who(shown)}{_fields(data)}",
                "time (UTC)",
                label,
                x_datetime=True,
                width=420,
                height=260,
            )
            items = by_category(f, "scatter", src, "time", y, colour_col, values, cmap, where=where, size=4)
            f.add_tools(hover_tool([r for _, r in items], tooltips=tips, formatters=_TIME_TIPS))
            legend_outside(
                f,
                [(f"spw {v}" if colour_col == "spw_s" else v, r) for v, r in items],
                title="spw" if colour_col == "spw_s" else "antenna",
            )
            figs.append(f)
        if rows:
            for f, g in zip(figs, rows[0][1]):
                f.x_range = g.x_range
        rows.append((y, figs))
    tab, rsrc = table(pd.DataFrame(sdata["rms"]))
    layout = column([grid(figs, ncols=ncols) for _, figs in rows] + [tab])
    panel = Panel(
        layout, data, {"points": src, "rms": rsrc}, title=f"Gains — {ct.attrs.get('caltable', '')}", kind="gains"
    )
    panel.phase_scans = None if phase_scans is None else list(phase_scans)  # type: ignore[attr-defined]
    return panel


# ------------------------------------------------------------------------------------------------ delay


def delay(ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None) -> Panel:
    """Delays (ns) of a K Jones table per antenna, one panel per spw, receptors in colour with a legend.

    ``data``: one row per (spw, antenna, receptor, time) with delay_ns, flagged, field, scan.

    Examples
    --------
    >>> p = delay(av.open_caltable(eb.caltables["delay"]))   # doctest: +SKIP
    >>> p.data.groupby("antenna").delay_ns.mean()            # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource, FactorRange

    data = delay_solutions(ct, spws, antennas)
    ok = _strs(data[~data.flagged.astype(bool)], "spw", "receptor")
    src = ColumnDataSource(
        columns_of(ok, ["antenna", "receptor", "spw", "delay_ns", "field", "scan", "spw_s", "receptor_s"])
    )
    ants = list(dict.fromkeys(data["antenna"]))
    recs = list(dict.fromkeys(data["receptor"]))
    cmap = colours_for(recs)
    figs = []
    for s in sorted(set(data["spw"])):
        f = figure(
            f"Delay · {_eb(ct)}spw {s}{_fields(data)} · {who(ants)}",
            "antenna",
            "delay (ns)",
            x_range=FactorRange(*ants),
            width=460,
            height=280,
        )
        items = by_category(
            f, "scatter", src, "antenna", "delay_ns", "receptor_s", recs, cmap, where={"spw_s": str(s)}, size=7
        )
        f.add_tools(
            hover_tool(
                [r for _, r in items],
                tooltips=[
                    ("antenna", "@antenna"),
                    ("receptor", "@receptor"),
                    ("spw", "@spw"),
                    ("delay", "@delay_ns{0.000} ns"),
                ],
            )
        )
        f.xaxis.major_label_orientation = 0.9
        legend_outside(f, items, title="receptor")
        figs.append(f)
    return Panel(
        grid(figs, share_x=True), data, {"points": src}, title=f"Delay — {ct.attrs.get('caltable', '')}", kind="delay"
    )


def caltable(ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None, **kw: Any) -> Panel:
    """The panel for a caltable's kind (VisCal type): :func:`tsys`, :func:`bandpass`, :func:`gains` or
    :func:`delay`. Antenna-position tables have no plot (a typed error says so).

    Examples
    --------
    >>> caltable(av.open_caltable(eb.caltables["delay"])).kind   # doctest: +SKIP
    'delay'
    """
    kind = caltable_kind(ct) or "gains"
    builder = {"tsys": tsys, "bandpass": bandpass, "gains": gains, "delay": delay}.get(kind)
    if builder is None:
        require_kind(ct, "tsys", "bandpass", "gains", "delay")
    return builder(ct, spws, antennas, **kw)


_DATA = {"tsys": tsys_data, "bandpass": bandpass_data, "gains": gains_data}


def refresh(panel: Panel, ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None) -> bool:
    """Update a caltable panel's sources in place for a new selection (no Bokeh models built).

    Returns False (and changes nothing) when the new selection needs other figures or other legend entries
    (other spws or antennas): build a new panel then.

    Examples
    --------
    >>> p = tsys(ct, spws=[0]); refresh(p, ct, spws=[0])   # doctest: +SKIP
    True
    """
    fn = _DATA.get(panel.kind)
    if fn is None:
        return False
    kw = {"phase_scans": getattr(panel, "phase_scans", None)} if panel.kind == "gains" else {}
    out = fn(ct, spws, antennas, **kw)
    data, sdata = out[0], out[1]
    old = panel.data

    def keys_of(d: pd.DataFrame, c: str) -> set[str]:
        return set(map(str, d[c])) - {"median"} if c in d else set()

    same = all(keys_of(data, c) == keys_of(old, c) for c in ("spw", "antenna"))
    keys = [k for k in sdata if k in panel.sources]
    if not same or any(set(sdata[k]) != set(panel.sources[k].data) for k in keys):
        return False
    for k in keys:
        panel.sources[k].data = sdata[k]
    panel.data = data
    return True

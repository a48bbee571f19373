"""Calibration tables as the weblog plots them, made interactive, each kind (VisCal type) in its own terms:
Tsys in K per channel (B TSYS), bandpass amplitude and phase per channel (B Jones), gain phase (and amplitude,
unless the table is phase-only) vs time (G/T Jones), delays in ns (K Jones). :func:`caltable` picks the panel
from the table's kind; a panel given another kind raises :class:`~almaview.errors.CaltableKindMismatch`.

Each builder takes the DataTree of :func:`almaview.open_caltable` (the numbers come from
:mod:`almaview.analysis.caltables`) and returns a :class:`~almaview.plots.Panel` whose ``data`` holds exactly the
plotted values. ``iterate`` ('spw', 'antenna' or 'none') makes one panel per spw or antenna on a grid with shared
axes, like plotms's iteraxis and the weblog's pages; every colour has a legend outside the data (click to hide);
titles name the table's EB, spw, fields and antennas.

Why this module is long: one builder per VisCal kind (Tsys, bandpass, gains, amp/phase), each short; they share the
slot grids of :mod:`almaview.plots.slots` and the frames of :mod:`almaview.plots.caltable_frames`.
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from ..analysis.caltables import caltable_kind, delay_solutions, require_kind
from ..analysis.statistics import phase_rms  # noqa: F401 (re-exported)
from ..analysis.trees import caltable_spws  # noqa: F401 (re-exported)
from . import Panel
from ._common import (
    RASTER_THRESHOLD,
    colours_for,
    column,
    columns_of,
    empty_raster,
    figure,
    hover_tool,
    image_layer,
    table,
)
from .caltable_frames import (
    DEFAULT_ITERATE,
    bandpass_frame,
    eb_words,
    field_words,
    freq_frame,
    gains_frame,
    strs,
    table_extent,
    tsys_frame,
)
from .grid import by_category, check_iterate, grid, legend_outside, who
from .slots import Layer, Slot, SlotGrid, fill, fits, slot_grid

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
    "reserve_of",
    "decoded",
    "DEFAULT_ITERATE",
]

_TIME_TIPS = {"@time": "datetime"}
#: a coded column's name in the page's hover (``names`` is the CustomJSHover's argument)
_NAME_JS = "return names[value] ?? '';"

# (helpers shared with the frames; old private names kept for the delay panel below)
_eb, _frame, _fields, _strs = eb_words, freq_frame, field_words, strs


def _room(n: int, caps: dict[str, int], reserve: tuple[int, int] | None, figs_by: str, cats_by: dict[str, str]):
    """The grid's room: what the selection needs, or (``reserve``) what the whole table could ask for."""
    if reserve is None:
        return n, caps
    n_spw, n_ant = reserve
    per = {"spw": n_spw, "antenna": n_ant, "spw x antenna": n_spw * n_ant, "none": 1}
    return max(n, per[figs_by]), {k: max(v, per[cats_by.get(k, "none")]) for k, v in caps.items()}


def _caps(slots: list[Slot], names: Sequence[str]) -> dict[str, int]:
    return {k: max([len(s.entries.get(k, [])) for s in slots] + [1]) for k in names}


def _fixed(layout: Any) -> Any:
    """A grid of figures at their own width (gridplot stretches them to the output's width, and an explorer tab
    drawn while hidden has no width yet: each figure's frame was squeezed to a sliver beside its legend)."""
    from bokeh.models import GridPlot, Plot

    # the grid's own children (a select() walks every model of every figure: half the time of a gains page)
    figs = [c for c, *_ in layout.children] if isinstance(layout, GridPlot) else layout.select({"type": Plot})
    for fig in figs:
        fig.sizing_mode = None
    layout.sizing_mode = None
    return layout


def _finish(panel: Panel, grids: dict[str, SlotGrid], iterate: str, **attrs: Any) -> Panel:
    panel.grids = grids  # type: ignore[attr-defined]
    panel.iterate = iterate  # type: ignore[attr-defined]
    for k, v in attrs.items():
        setattr(panel, k, v)
    return panel


# ------------------------------------------------------------------------------------------------ Tsys


def tsys_data(
    ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None, *, outlier_factor: float = 1.5
) -> tuple[pd.DataFrame, dict[str, dict], dict[str, Any]]:
    """What :func:`tsys` plots, without Bokeh models: (data, source data by name, {'outliers', 'summary'}).

    Examples
    --------
    >>> data, sources, meta = tsys_data(av.open_caltable("x.tsyscal.tbl"), spws=[0])   # doctest: +SKIP
    """
    fr = tsys_frame(ct, spws, antennas, outlier_factor=outlier_factor)
    return fr.data, fr.sdata, fr.meta


def tsys(
    ct: Any,
    spws: Sequence[int] | None = None,
    antennas: Sequence[str] | None = None,
    *,
    outlier_factor: float = 1.5,
    iterate: str = "spw",
    reserve: bool = False,
) -> Panel:
    """Tsys (K) vs frequency, one panel per spw (``iterate='spw'``, the weblog's page) or per antenna, antennas
    in colour with a legend (outliers red and named in the title), the median spectrum in black; Tsys vs time;
    the per-antenna median table. ``reserve=True`` builds room for every spw and antenna of the table, so that
    :func:`refresh` shows any later selection in place.

    ``data`` rows have ``view`` = 'spectrum' (spw, antenna, channel, frequency_ghz, tsys, outlier),
    'time' (spw, antenna, time, tsys: mean over channels and receptors) or 'median' (spw, antenna='median', ...).

    Examples
    --------
    >>> p = tsys(av.open_caltable(eb.caltables["tsyscal"]), spws=[17], antennas=["DA41", "DA42"])  # doctest: +SKIP
    >>> p.data.query("view == 'spectrum'").groupby("antenna").tsys.median()                        # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource

    check_iterate(iterate)
    fr = tsys_frame(ct, spws, antennas, iterate=iterate, outlier_factor=outlier_factor)
    srcs = {k: ColumnDataSource(v) for k, v in fr.sdata.items() if k != "medians"}
    layers = [Layer("spectra", "spectra", "multi_line", "xs", "ys", props={"line_width": 1.2, "line_alpha": 0.85})]
    if iterate != "antenna":
        layers.append(Layer("median", "median", "multi_line", "xs", "ys", props={"line_width": 3}, hover=False))
    slots = fr.slots["spectra"]
    room = reserve_of(ct) if reserve else None
    n, caps = _room(
        len(slots),
        _caps(slots, [ly.name for ly in layers]),
        room,
        iterate,
        {"spectra": "none" if iterate == "antenna" else "antenna"},
    )
    frame = _frame(ct)
    spectra = slot_grid(
        srcs,
        layers,
        n,
        caps,
        lambda k: figure("", f"frequency (GHz, {frame})", "Tsys (K)", width=460, height=300),
        legend_title="antenna",
        tooltips=[("antenna", "@antenna"), ("spw", "@spw"), ("frequency", "$x{0.0000} GHz"), ("Tsys", "$y{0.0} K")],
    )
    fill(spectra, slots)
    tcaps = _room(1, _caps(fr.slots["time"], ["time"]), room, "none", {"time": "antenna"})[1]
    times = slot_grid(
        srcs,
        [Layer("time", "time", "scatter", "time", "tsys", props={"size": 5})],
        1,
        tcaps,
        lambda k: figure("", "time (UTC)", "Tsys (K)", x_datetime=True, width=620),
        legend_title="antenna",
        tooltips=[
            ("antenna", "@antenna"),
            ("spw", "@spw"),
            ("field", "@field"),
            ("Tsys", "@tsys{0.0} K"),
            ("time", "@time{%F %T}"),
        ],
        formatters=_TIME_TIPS,
    )
    fill(times, fr.slots["time"])
    tab, ssrc = table(fr.meta["summary"])
    srcs["medians"] = ssrc
    layout = column([_fixed(grid(spectra.figures, share_x=iterate != "spw" or n == 1)), times.figures[0], tab])
    panel = Panel(layout, fr.data, srcs, title=f"Tsys — {ct.attrs.get('caltable', '')}", kind="tsys")
    return _finish(panel, {"spectra": spectra, "time": times}, iterate, outlier_factor=outlier_factor)


def reserve_of(ct: Any) -> tuple[int, int]:
    """(spws, antennas) of the whole table: the room :func:`tsys`/:func:`bandpass`/:func:`gains` build with
    ``reserve=True``.

    Examples
    --------
    >>> reserve_of(av.open_caltable("x.tsyscal.tbl"))   # doctest: +SKIP
    (4, 12)
    """
    return table_extent(ct)


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
    fr = bandpass_frame(ct, spws, antennas, raster_threshold=raster_threshold)
    return fr.data, fr.sdata


def bandpass(
    ct: Any,
    spws: Sequence[int] | None = None,
    antennas: Sequence[str] | None = None,
    *,
    raster_threshold: int = RASTER_THRESHOLD,
    iterate: str = "spw",
    reserve: bool = False,
) -> Panel:
    """Bandpass amplitude and phase (deg) per channel, one panel pair per spw (or per spw and antenna), antennas
    in colour with a legend; flagged channels as grey crosses. Above ``raster_threshold`` points each panel shows
    a 2-D histogram (sources 'amp_image_<k>', 'phase_image_<k>' for panel k). ``reserve``: as :func:`tsys`.

    ``data``: one row per (spw, antenna, receptor, time, channel): frequency_ghz, amp, phase_deg, flagged.

    Examples
    --------
    >>> p = bandpass(av.open_caltable(eb.caltables["bandpass"]), spws=[17], antennas=["DA41"])  # doctest: +SKIP
    >>> p.data[["antenna", "channel", "amp"]].head()                                         # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource, CustomJSHover

    check_iterate(iterate)
    fr = bandpass_frame(ct, spws, antennas, iterate=iterate, raster_threshold=raster_threshold)
    srcs = {k: ColumnDataSource(v) for k, v in fr.sdata.items() if "_image_" not in k}
    hovers = {c: CustomJSHover(args={"names": list(v)}, code=_NAME_JS) for c, v in fr.meta["names"].items()}
    tips = [
        ("antenna", "@antenna_i{custom}"),
        ("receptor", "@receptor_i{custom}"),
        ("spw", "@spw"),
        ("channel", "@channel"),
        ("amp", "@amp{0.000}"),
        ("phase", "@phase_deg{0.0}°"),
    ]
    slots = fr.slots["amp"]
    figs_by = {"antenna": "spw x antenna", "spw": "spw", "none": "none"}[iterate]
    room = reserve_of(ct) if reserve else None
    n, caps = _room(
        len(slots),
        _caps(slots, ["points", "flagged"]),
        room,
        figs_by,
        {"points": "none" if iterate == "antenna" else "antenna"},
    )
    frame = _frame(ct)
    grids = {}
    for name, y, label in (("amp", "amp", "amplitude"), ("phase", "phase_deg", "phase (deg)")):
        layers = [
            Layer("points", "points", "scatter", "frequency_ghz", y, props={"size": 3}),
            Layer(
                "flagged",
                "flagged",
                "scatter",
                "frequency_ghz",
                y,
                cat="flag",
                props={"marker": "x", "size": 6},
                hover=False,
            ),
        ]
        g = slot_grid(
            srcs,
            layers,
            n,
            caps,
            lambda k: figure("", f"frequency (GHz, {frame})", label, width=460, height=280),
            legend_title="antenna",
            tooltips=tips,
            formatters={f"@{c}_i": h for c, h in hovers.items()},
        )
        for k, f in enumerate(g.figures):
            img = ColumnDataSource(fr.sdata.get(f"{name}_image_{k}", empty_raster()))
            image_layer(f, img)
            srcs[f"{name}_image_{k}"] = img
        fill(g, fr.slots[name])
        grids[name] = g
    for a, p in zip(grids["amp"].figures, grids["phase"].figures):
        p.x_range = a.x_range
    layout = column([_fixed(grid(grids[g].figures, ncols=2, share_x=False)) for g in ("amp", "phase")])
    panel = Panel(layout, fr.data, srcs, title=f"Bandpass — {ct.attrs.get('caltable', '')}", kind="bandpass")
    return _finish(panel, grids, iterate, raster_threshold=raster_threshold, hovers=hovers)


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
    fr = gains_frame(ct, spws, antennas, phase_scans=phase_scans)
    return fr.data, fr.sdata


def gains(
    ct: Any,
    spws: Sequence[int] | None = None,
    antennas: Sequence[str] | None = None,
    *,
    iterate: str = "antenna",
    phase_scans: Sequence[int] | None = None,
    ncols: int = 2,
    reserve: bool = False,
) -> Panel:
    """Gain phase (deg) vs time, one panel per antenna (the weblog's hifa_timegaincal page; ``iterate``), spws in
    colour with a legend; amplitude vs time too unless the table is phase-only (gaincal calmode='p'); an
    amplitude-only table shows only amplitudes. The phase RMS table is the weblog's: the standard deviation of
    the solution phases on the phase calibrator's scans (``phase_scans``, e.g. from
    ``vis["scans"]``; all scans when None), per spw, antenna and receptor. ``reserve``: as :func:`tsys`.

    ``data``: one row per (spw, antenna, receptor, time) with amp, phase_deg, flagged, field, scan;
    ``data.attrs['mode']`` is 'phase', 'amplitude' or 'both'.

    Examples
    --------
    >>> p = gains(av.open_caltable(eb.caltables.get_table("s17_1").path()), antennas=["DA42"])  # doctest: +SKIP
    >>> p.sources["rms"].data["phase_rms_deg"]                                                  # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource

    check_iterate(iterate)
    fr = gains_frame(ct, spws, antennas, iterate=iterate, phase_scans=phase_scans)
    srcs = {"points": ColumnDataSource(fr.sdata["points"])}
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
    room = reserve_of(ct) if reserve else None
    grids, rows = {}, []
    for y, slots in fr.slots.items():
        n, caps = _room(
            len(slots), _caps(slots, ["points"]), room, iterate, {"points": "antenna" if iterate == "spw" else "spw"}
        )
        label = "phase (deg)" if y == "phase_deg" else "amplitude"
        g = slot_grid(
            srcs,
            [Layer("points", "points", "scatter", "time", y, props={"size": 4})],
            n,
            caps,
            lambda k, label=label: figure("", "time (UTC)", label, x_datetime=True, width=420, height=260),
            legend_title=fr.meta["legend_title"],
            tooltips=tips,
            formatters=_TIME_TIPS,
        )
        fill(g, slots)
        if rows:
            for f, h in zip(g.figures, rows[0].figures):
                f.x_range = h.x_range
        grids[y] = g
        rows.append(g)
    tab, rsrc = table(fr.meta["rms"])
    srcs["rms"] = rsrc
    layout = column([_fixed(grid(g.figures, ncols=ncols)) for g in rows] + [tab])
    panel = Panel(layout, fr.data, srcs, title=f"Gains — {ct.attrs.get('caltable', '')}", kind="gains")
    scans = None if phase_scans is None else list(phase_scans)
    return _finish(panel, grids, iterate, phase_scans=scans, mode=fr.meta["mode"])


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


_FRAMES = {"tsys": tsys_frame, "bandpass": bandpass_frame, "gains": gains_frame}


def refresh(panel: Panel, ct: Any, spws: Sequence[int] | None = None, antennas: Sequence[str] | None = None) -> bool:
    """Show a new selection in a caltable panel's figures (no Bokeh models built): new source data, and per figure
    its title, legend labels, colours and visibility (:func:`almaview.plots.slots.fill`).

    Returns False (and changes nothing) when the selection needs more figures or legend entries than the panel
    has room for (build a new one, e.g. with ``reserve=True``), or when a gain table's mode differs.

    Examples
    --------
    >>> p = tsys(ct, spws=[0]); refresh(p, ct, spws=[1])   # doctest: +SKIP
    True
    """
    fn, grids = _FRAMES.get(panel.kind), getattr(panel, "grids", None)
    if fn is None or grids is None:
        return False
    kw: dict[str, Any] = {"iterate": panel.iterate}
    if panel.kind == "gains":
        kw["phase_scans"] = getattr(panel, "phase_scans", None)
    elif panel.kind == "tsys":
        kw["outlier_factor"] = getattr(panel, "outlier_factor", 1.5)
    else:
        kw["raster_threshold"] = getattr(panel, "raster_threshold", RASTER_THRESHOLD)
    fr = fn(ct, spws, antennas, **kw)
    if panel.kind == "gains" and fr.meta["mode"] != getattr(panel, "mode", None):
        return False
    if set(fr.slots) != set(grids) or not all(fits(grids[g], fr.slots[g]) for g in grids):
        return False
    for k, src in panel.sources.items():
        new = fr.sdata.get(k)
        if new is None and "_image_" in k:
            new = empty_raster()  # a figure slot beyond the selection
        if new is not None and (len(new.get("image", [None])) or len(src.data.get("image", [None]))):
            src.data = new  # (an empty raster already empty sends nothing)
    for g, slots in fr.slots.items():
        fill(grids[g], slots)
    for c, h in getattr(panel, "hovers", {}).items():
        names = list(fr.meta["names"][c])
        if list(h.args.get("names", [])) != names:
            h.args = {"names": names}
    panel.data = fr.data
    return True


def decoded(panel: Panel, column: str, source: str = "points") -> list[str]:
    """The names of a coded column (``antenna``, ``receptor``) of a :func:`bandpass` panel's source, point by point,
    as the page's hover shows them.

    Examples
    --------
    >>> decoded(bandpass(ct, spws=[0]), "antenna")[:2]   # doctest: +SKIP
    ['DA41', 'DA41']
    """
    names = panel.hovers[column].args["names"]  # type: ignore[attr-defined]
    return [names[i] if i >= 0 else "" for i in panel.sources[source].data[f"{column}_i"]]

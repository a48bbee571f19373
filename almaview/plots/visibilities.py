"""Calibrated visibilities, plotms's core: amplitude and phase vs time, frequency or uv distance; flux (data vs model).

Two steps, so that a caller (the explorer) can run the read in the background with progress and cancellation:

1. :func:`almaview.analysis.reduce_visibilities` — xarray in, a small tidy DataFrame out (vector averages of the
   unflagged samples; it lives in the analysis layer and is re-exported here for old code).
2. :func:`amp_phase` — that DataFrame in, a :class:`~almaview.plots.Panel` out (linked amplitude and phase
   figures; above ~100k points a 2-D histogram image that keeps a hover with the counts).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..analysis.visibilities import (
    DATA_COLUMNS,
    XCOLUMN,
    Cancelled,
    available_columns,  # noqa: F401 (re-exported)
    calibrator_amplitudes,
    reduce_visibilities,
    select_baselines,
    select_times,
)
from . import Panel
from ._common import (
    MEDIAN_COLOUR,
    hover_tool,
    RASTER_THRESHOLD,
    colours_for,
    column,
    columns_of,
    empty_raster,
    figure,
    image_layer,
    raster_data,
)
from .grid import by_category, check_iterate, grid, legend_outside, who

__all__ = [
    "reduce_visibilities",
    "amp_phase",
    "refresh",
    "Refresh",
    "decoded",
    "flux",
    "DATA_COLUMNS",
    "X_AXES",
    "COLOUR_BY",
    "Cancelled",
]

X_AXES = ("time", "frequency", "uvdist")
COLOUR_BY = ("antenna", "baseline", "spw", "scan", "field", "correlation")


def _xcol(x: str) -> str:
    return XCOLUMN[x]


def _xlabel(x: str, uv_units: str = "klambda", frame: str = "") -> str:
    return {
        "time": "time (UTC)",
        "frequency": f"frequency (GHz, {frame or 'TOPO'})",
        "uvdist": "uv distance (kλ)" if uv_units == "klambda" else "uv distance (m)",
    }[x]


def _amp_label(table: pd.DataFrame) -> str:
    column = table.attrs.get("column", "corrected")
    return "amplitude (Jy)" if column in ("corrected", "model", "corrected-model") else "amplitude (uncalibrated)"


#: above this many colour categories the key is left out (the colours stay; hover names each point)
MAX_LEGEND = 40
#: hover columns sent to the page as small integer codes and named there (a CustomJSHover over the names)
CODED = ("baseline", "correlation", "field")

# The points of figure ``k`` (column 'panel') in colour category ``cat`` (column 'cat'): one renderer per legend
# entry. ``cat`` -1 matches nothing (an empty slot).
_SLOT_JS = """
const p = source.get_column("panel"), c = source.get_column("cat"), out = [];
if (p == null || c == null) return out;
for (let i = 0; i < c.length; i++) { if (c[i] === cat && p[i] === panel) out.push(i); }
return out;
"""
# The points of figure ``k`` drawn without a legend entry (more categories than the key shows): all or none.
_REST_JS = """
const p = source.get_column("panel"), out = [];
if (!all || p == null) return out;
for (let i = 0; i < p.length; i++) { if (p[i] === panel) out.push(i); }
return out;
"""
_NAME_JS = "return names[value] ?? '';"


def _codes(values: Any, names: Sequence[Any]) -> np.ndarray:
    """Each value's index in ``names`` (int8 up to 127 names, else int16; -1 when absent).

    Examples
    --------
    >>> _codes(["b", "a", "c"], ["a", "b"]).tolist()
    [1, 0, -1]
    """
    return pd.Index(list(names)).get_indexer(values).astype(np.int8 if len(names) < 127 else np.int16)


def _distinct(values: pd.Series) -> set[Any]:
    """The distinct values of a column, as Python objects (``set(series)`` boxes every row: 95 ms for the three coded
    columns of the demo's 13,860 points, against ~3 ms).

    Examples
    --------
    >>> sorted(_distinct(pd.Series([3, 1, 3])))
    [1, 3]
    """
    return set(values.drop_duplicates().tolist())


def _shown(table: pd.DataFrame, colour_by: str) -> list[Any]:
    """The colour categories of ``table``, sorted (the legend's entries)."""
    return (
        sorted(_distinct(table[colour_by]), key=lambda v: (str(type(v)), v))
        if colour_by in table and len(table)
        else []
    )


class _Encoded:
    """What an :func:`amp_phase` panel's page needs for ``table``: the points source's columns (numbers as float32,
    categories as int8/int16 codes: a tenth of the bytes of string columns), the names of the coded columns, the
    legend entries and titles. Pure: no Bokeh model."""

    def __init__(self, table: pd.DataFrame, x: str, colour_by: str, categories: Sequence[Any] | None, spws: list,
                 raster_threshold: int):  # fmt: skip
        xc = _xcol(x)
        big = len(table) > raster_threshold
        pts = table.iloc[:0] if big else table
        self.categories = list(categories) if categories is not None else _shown(table, colour_by)
        self.colours = colours_for(self.categories)  # stable colours: a category keeps its colour across changes
        self.shown = _shown(table, colour_by)
        self.names = {c: sorted(set(map(str, _distinct(table[c])))) if c in table else [] for c in CODED}
        cols: dict[str, Any] = {}
        cols[xc] = pts[xc].to_numpy() if x != "uvdist" else pts[xc].to_numpy(np.float32)
        cols["amp"] = pts["amp"].to_numpy(np.float32)
        cols["phase_deg"] = pts["phase_deg"].to_numpy(np.float32)
        for c in CODED:
            if c in pts:
                cols[f"{c}_i"] = _codes(pts[c].astype(str), self.names[c])
        for c, dtype in (("spw", np.int16), ("scan", np.int16), ("n", np.int32)):
            if c in pts:
                cols[c] = pts[c].to_numpy(dtype)
        cols["cat"] = _codes(pts[colour_by], self.categories) if colour_by in pts else np.full(len(pts), -1, np.int8)
        cols["panel"] = _codes(pts["spw"], spws) if spws != [None] and "spw" in pts else np.zeros(len(pts), np.int8)
        self.points = cols
        self.images = (
            {y: raster_data(table[xc].to_numpy(), table[y].to_numpy()) for y in ("amp", "phase_deg")}
            if big
            else {"amp": empty_raster(), "phase_deg": empty_raster()}
        )

    def entries(self, cap: int) -> list[tuple[str, str, int]] | None:
        """The legend's entries (label, colour, category code) if ``cap`` slots hold them, else None."""
        if not self.shown or len(self.shown) > min(cap, MAX_LEGEND):
            return None
        index = {v: i for i, v in enumerate(self.categories)}
        return [(str(v), self.colours[v], index[v]) for v in self.shown]


def _title(table: pd.DataFrame, what: str, spw: Any = None) -> str:
    eb = table.attrs.get("eb", "")
    parts = [what] + ([f"EB {eb}"] if eb else [])
    spws = [spw] if spw is not None else sorted(_distinct(table["spw"])) if "spw" in table and len(table) else []
    if spws:
        parts.append("spw " + ", ".join(str(s) for s in spws))
    if "field" in table and len(table):
        f = sorted({str(v) for v in _distinct(table["field"])})
        parts.append(", ".join(f) if len(f) <= 3 else f"{len(f)} fields")
    chosen = table.attrs.get("antennas") or []
    if chosen:
        parts.append("baselines of " + who(chosen))
    elif "antenna1" in table and len(table):
        parts.append(who(sorted(_distinct(table["antenna1"]) | _distinct(table["antenna2"]))))
    return " · ".join(parts)


def amp_phase(
    table: pd.DataFrame,
    *,
    x: str | None = None,
    colour_by: str = "antenna",
    cont_ranges: Sequence[tuple[float, float]] | None = None,
    title: str = "",
    raster_threshold: int = RASTER_THRESHOLD,
    iterate: str = "none",
    categories: Sequence[Any] | None = None,
) -> Panel:
    """Amplitude and phase vs ``x`` (linked x ranges) from :func:`almaview.analysis.reduce_visibilities`'s table.

    ``colour_by``: one of :data:`COLOUR_BY`, with a key outside the data (click an entry to hide it; up to
    :data:`MAX_LEGEND` entries). ``iterate='spw'``: one amplitude/phase pair per spw (spws never share a
    frequency axis), like plotms's iteraxis. ``cont_ranges``: (low, high) in Hz **in the table's frame** (the
    MS's, named on the axis; convert cont.dat's LSRK ranges with
    :func:`almaview.analysis.frames.ranges_in_ms_frame`), shaded on frequency plots. Above ``raster_threshold``
    points each figure shows a 2-D histogram image instead of points. Amplitudes of calibrated columns are in Jy.
    Sources: 'amp', 'phase' (points, shared), 'amp_image', 'phase_image', 'cont'.

    ``categories``: every colour category later tables may show (default: the table's): the key has room for them
    and each keeps its colour, so that :func:`refresh` shows another selection in the same figures. The points
    source holds numbers as float32 and categories as integer codes (``baseline_i`` etc.: ``panel.names`` and the
    hover name them).

    Examples
    --------
    >>> p = amp_phase(reduce_visibilities(ds, x="frequency"), colour_by="baseline")   # doctest: +SKIP
    """
    from bokeh.models import BoxAnnotation, CDSView, ColumnDataSource, CustomJSFilter, CustomJSHover, Legend
    from bokeh.models import LegendItem, LinearColorMapper
    from bokeh.transform import transform

    x = x or table.attrs.get("x", "time")
    if colour_by not in COLOUR_BY:
        raise ValueError(f"colour_by must be one of {COLOUR_BY}, not {colour_by!r}")
    check_iterate(iterate)
    xc = _xcol(x)
    data = table
    spws = sorted(_distinct(data["spw"])) if iterate == "spw" and "spw" in data and len(data) else [None]
    enc = _Encoded(data, x, colour_by, categories, spws, raster_threshold)
    src = ColumnDataSource(enc.points)
    dt = x == "time"
    xlabel = _xlabel(x, table.attrs.get("uv_units", "klambda"), table.attrs.get("frame", ""))
    hovers = {c: CustomJSHover(args={"names": enc.names[c]}, code=_NAME_JS) for c in CODED if f"{c}_i" in enc.points}
    tips = [(c, f"@{c}_i{{custom}}") for c in ("baseline", "correlation") if c in hovers]
    tips += [(c, f"@{c}") for c in ("spw", "scan") if c in enc.points]
    tips += [("field", "@field_i{custom}")] if "field" in hovers else []
    tips += [("amp", "@amp{0.0000}"), ("phase", "@phase_deg{0.0}°"), ("samples", "@n")]
    formatters: dict[str, Any] = {f"@{c}_i": h for c, h in hovers.items()}
    if dt:
        tips.append(("time", "@time{%F %T}"))
        formatters["@time"] = "datetime"
    cap = min(len(enc.categories), MAX_LEGEND)
    entries = enc.entries(cap)
    palette = [enc.colours[v] for v in enc.categories] or ["#1f77b4"]
    mapper = LinearColorMapper(palette=palette, low=-0.5, high=len(palette) - 0.5)
    images, amp_figs, ph_figs, slots, rests, items = {}, [], [], [], [], []
    for k, spw in enumerate(spws):
        width = 640 if spw is None else 460
        amp = figure(title or _title(data, f"Amplitude vs {x}", spw), xlabel, _amp_label(table), x_datetime=dt,
                     width=width)  # fmt: skip
        ph = figure(_title(data, f"Phase vs {x}", spw), xlabel, "phase (deg)", x_datetime=dt, width=width,
                    x_range=amp.x_range)  # fmt: skip
        fig_slots, fig_items = [], []
        for f, y in ((amp, "amp"), (ph, "phase_deg")):
            rs, its = [], []
            for j in range(cap):
                label, colour, code = entries[j] if entries and j < len(entries) else ("", "#1f77b4", -1)
                flt = CustomJSFilter(args={"panel": k, "cat": code}, code=_SLOT_JS)
                r = f.scatter(xc, y, source=src, view=CDSView(filter=flt), color=colour, size=3, alpha=0.7)
                rs.append(r)
                its.append(LegendItem(label=label, renderers=[r], visible=bool(entries) and j < len(entries)))
            rest = CustomJSFilter(args={"panel": k, "all": entries is None}, code=_REST_JS)
            others = f.scatter(
                xc, y, source=src, view=CDSView(filter=rest), color=transform("cat", mapper), size=3, alpha=0.7
            )
            f.add_tools(hover_tool(rs + [others], tooltips=tips, formatters=formatters))
            if cap:
                f.add_layout(
                    Legend(items=its, click_policy="hide", title=colour_by, label_text_font_size="8pt",
                           glyph_height=12, spacing=0, nrows=min(24, cap)),
                    "right",
                )  # fmt: skip
            fig_slots.append(rs)
            fig_items.append(its)
            rests.append(others)
            if spw is None:
                img = ColumnDataSource(enc.images[y])
                image_layer(f, img)
                images[y] = img
        slots.append(fig_slots)
        items.append(fig_items)
        amp_figs.append(amp)
        ph_figs.append(ph)
    if not images:
        images = {"amp": ColumnDataSource(empty_raster()), "phase_deg": ColumnDataSource(empty_raster())}
    cont = ColumnDataSource({"low": [], "high": []})
    if x == "frequency" and cont_ranges:
        lows = [lo / 1e9 for lo, hi in cont_ranges if lo is not None]
        highs = [hi / 1e9 for lo, hi in cont_ranges if lo is not None]
        cont.data = {"low": lows, "high": highs}
        for amp in amp_figs:
            for lo, hi in zip(lows, highs):
                amp.add_layout(BoxAnnotation(left=lo, right=hi, fill_color="#2ca02c", fill_alpha=0.12))
    layout = (
        column([amp_figs[0], ph_figs[0]])
        if spws == [None]
        else column([grid(amp_figs, share_x=False), grid(ph_figs, share_x=False)])
    )
    panel = Panel(
        layout,
        data,
        {"amp": src, "phase": src, "amp_image": images["amp"], "phase_image": images["phase_deg"], "cont": cont},
        title=title or f"amp/phase vs {x}",
        kind="amp_phase",
    )
    panel.colours = enc.colours  # type: ignore[attr-defined]
    panel.colour_by = colour_by  # type: ignore[attr-defined]  (a new colour-by needs new legend entries)
    panel.names = enc.names  # type: ignore[attr-defined]  (the names of the coded columns)
    panel.x, panel.spws, panel.fixed_title = x, spws, bool(title)  # type: ignore[attr-defined]
    panel.raster_threshold = raster_threshold  # type: ignore[attr-defined]
    panel._models = {  # type: ignore[attr-defined]  (what refresh() patches)
        "figures": list(zip(amp_figs, ph_figs)), "slots": slots, "items": items, "rests": rests,
        "hovers": hovers, "mapper": mapper, "cap": cap,
    }  # fmt: skip
    return panel


def decoded(panel: Panel, column: str) -> list[str]:
    """The names of a coded column of an :func:`amp_phase` panel's points source (``baseline``, ``correlation``,
    ``field``), point by point, as the page's hover shows them.

    Examples
    --------
    >>> decoded(amp_phase(table), "baseline")[:2]   # doctest: +SKIP
    ['DA41-DA42', 'DA41-DA43']
    """
    names = panel.names[column]  # type: ignore[attr-defined]
    return [names[i] if i >= 0 else "" for i in panel.sources["amp"].data[f"{column}_i"]]


class Refresh:
    """A new table for an :func:`amp_phase` panel, encoded (see :func:`refresh`): apply with :meth:`apply`."""

    def __init__(self, panel: Panel, table: pd.DataFrame, enc: _Encoded, spws: list):
        self.panel, self.data, self.enc, self.spws = panel, table, enc, spws

    def apply(self) -> None:
        """Copy the new data and words into the panel's models (in the kernel thread that owns the document)."""
        _apply(self)


def refresh(panel: Panel, table: pd.DataFrame, *, categories: Sequence[Any] | None = None) -> Refresh | None:
    """``table`` shown in ``panel``'s figures without new Bokeh models, or None when it does not fit (another x
    axis, more figures or legend entries than the panel has room for, shaded continuum ranges). The encoding is
    done here (it may run in a worker thread); :meth:`Refresh.apply` patches the models: the points source's data
    (one property), the titles, the legend's labels, colours and visibility, the hover's names.

    Examples
    --------
    >>> r = refresh(panel, other_table); r.apply() if r else None   # doctest: +SKIP
    """
    models = getattr(panel, "_models", None)
    x = table.attrs.get("x", getattr(panel, "x", None))
    if models is None or x != panel.x or len(panel.sources["cont"].data["low"]):
        return None
    iterate = panel.spws != [None]
    spws = sorted(_distinct(table["spw"])) if iterate and "spw" in table and len(table) else [None]
    if iterate and (spws == [None] or len(spws) > len(panel.spws)):
        return None
    if iterate:
        spws = spws + [s for s in panel.spws if s not in spws][: len(panel.spws) - len(spws)]  # (hidden figures)
    enc = _Encoded(table, x, panel.colour_by, categories, spws, panel.raster_threshold)
    if enc.entries(models["cap"]) is None and len(enc.shown) <= MAX_LEGEND and enc.shown:
        return None  # a key that needs more entries than the panel has
    return Refresh(panel, table, enc, spws)


def _set(model: Any, **props: Any) -> None:
    for k, v in props.items():  # only what differs: an unchanged property sends nothing to the page
        if getattr(model, k) != v:
            setattr(model, k, v)


def _apply(r: Refresh) -> None:
    from bokeh.core.property.vectorization import value

    p, enc, m = r.panel, r.enc, r.panel._models  # type: ignore[attr-defined]
    src = p.sources["amp"]
    src.data = enc.points
    for name, y in (("amp_image", "amp"), ("phase_image", "phase_deg")):
        if len(enc.images[y]["image"]) or len(p.sources[name].data["image"]):
            p.sources[name].data = enc.images[y]
    for c, h in m["hovers"].items():
        if list(h.args.get("names", [])) != enc.names[c]:
            h.args = {"names": enc.names[c]}
    palette = [enc.colours[v] for v in enc.categories] or ["#1f77b4"]
    if list(m["mapper"].palette) != palette:
        m["mapper"].update(palette=palette, high=len(palette) - 0.5)
    entries = enc.entries(m["cap"])
    present = _distinct(r.data["spw"]) if "spw" in r.data else set()
    n_shown = sum(1 for s in r.spws if s is not None and s in present)
    for k, (amp, ph) in enumerate(m["figures"]):
        spw = r.spws[k] if k < len(r.spws) else None
        if not p.fixed_title:  # type: ignore[attr-defined]
            _set(amp.title, text=_title(r.data, f"Amplitude vs {p.x}", spw))  # type: ignore[attr-defined]
        _set(ph.title, text=_title(r.data, f"Phase vs {p.x}", spw))  # type: ignore[attr-defined]
        if spw is not None:
            for f in (amp, ph):
                _set(f, visible=k < n_shown)
        for i in range(2):
            for j, (rd, it) in enumerate(zip(m["slots"][k][i], m["items"][k][i])):
                on = entries is not None and j < len(entries)
                label, colour, code = entries[j] if on else ("", rd.glyph.fill_color, -1)
                flt = rd.view.filter
                if flt.args.get("cat") != code or flt.args.get("panel") != k:
                    flt.args = {"panel": k, "cat": code}
                if on and getattr(it.label, "value", None) != label:
                    it.label = value(label)
                _set(it, visible=on)
                _set(rd.glyph, fill_color=colour, line_color=colour)
            rest = m["rests"][2 * k + i].view.filter
            if rest.args.get("all") != (entries is None):
                rest.args = {"panel": k, "all": entries is None}
    p.data, p.names, p.colours = r.data, enc.names, enc.colours  # type: ignore[attr-defined]


def flux(
    vis: Any | pd.DataFrame,
    spws: Sequence[int] | None = None,
    fields: Sequence[str] | None = None,
    intents: Sequence[str] = ("FLUX", "AMPLI", "BANDPASS", "PHASE"),
    *,
    column: str = "corrected",
    uv_units: str = "klambda",
    time_bin_s: float = 0.0,
) -> Panel:
    """Amplitude vs uv distance for each calibrator: data (``column``, coloured by field) vs model (black).

    ``vis``: the table of :func:`almaview.analysis.calibrator_amplitudes` (or an MS tree, reduced with it:
    per-integration, or ``time_bin_s`` averaged, channel-averaged vector averages, both correlations). ``data`` has a ``kind`` column
    ('data' or 'model').

    Examples
    --------
    >>> p = flux(av.open_ms(eb.calibrated_ms), spws=[1])   # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource

    data = (
        vis
        if isinstance(vis, pd.DataFrame)
        else calibrator_amplitudes(vis, spws, fields, intents, column=column, uv_units=uv_units, time_bin_s=time_bin_s)
    )
    cmap = colours_for(data["field"]) if len(data) else {}
    f = figure(
        _title(data, "Amplitude vs uv distance (calibrators; black: model)"),
        _xlabel("uvdist", uv_units),
        "amplitude (Jy)",
        width=640,
    )
    srcs, items = {}, []
    for kind in ("data", "model"):
        d = data[data["kind"] == kind] if len(data) else data
        if kind == "data":  # coloured by field; the model is black (one colour: no column of "black" per point)
            d = d.assign(color=[cmap[v] for v in d["field"]])
        names = ["uvdist", "amp", "field", "spw", "baseline"] + (["color"] if kind == "data" else [])
        src = ColumnDataSource(columns_of(d, names))
        r = f.scatter(
            "uvdist",
            "amp",
            source=src,
            color="color" if kind == "data" else MEDIAN_COLOUR,
            size=3 if kind == "data" else 2,
            alpha=0.6 if kind == "data" else 1.0,
        )
        f.add_tools(
            hover_tool(
                [r],
                tooltips=[
                    ("", kind),
                    ("field", "@field"),
                    ("spw", "@spw"),
                    ("baseline", "@baseline"),
                    ("amp", "@amp{0.000}"),
                ],
            )
        )
        srcs[kind] = src
        items.append((f"{kind} ({', '.join(sorted(cmap))})" if kind == "data" and cmap else kind, r))
    legend_outside(f, items, title="column")
    return Panel(f, data, srcs, title="Flux calibrators", kind="flux")

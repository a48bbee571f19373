"""Plot builders for single-dish (Total Power) data: spectra ON/OFF/calibrated, power vs time, map coverage.

Each builder takes a spw node of a single-dish MS (:func:`almaview.open_ms`), has
:mod:`almaview.analysis.singledish` reduce it, and draws the table it returns; the
:class:`almaview.plots.Panel`'s ``data`` is that table. Tsys of a TP EB is its ``B TSYS``
caltable: :func:`almaview.plots.tsys`.

Examples
--------
>>> import almaview as av
>>> spw = av.open_ms("uid___A002_X10ab2c3_X3c11.ms")["spw_0"].ds          # doctest: +SKIP
>>> av.plots.tp_spectra(spw, antenna="PM01").data.head()                     # doctest: +SKIP
"""

from __future__ import annotations

from ..analysis.singledish import pick_antenna, tp_mean_spectra, tp_pointing_offsets, tp_power_series
from . import Panel
from ._common import PALETTE, bound_hovers, figure, hover_tool

#: the short intent names of :mod:`almaview.analysis.singledish` -> colour
KIND_COLOUR = {"ON": PALETTE[0], "OFF": PALETTE[1], "atmosphere": PALETTE[2], "calibrated": "black"}


#: a spectrum's ``units`` attr -> what its axis says
_QUANTITY = {"count": "power", "K": "antenna temperature Ta*", "Jy": "flux density", "Jy/beam": "intensity"}


def spectrum_axis_label(units: str) -> str:
    """The axis label of a single-dish spectrum in ``units`` (the ``units`` attr :func:`almaview.open_ms` gives
    SPECTRUM and SPECTRUM_CORRECTED).

    Examples
    --------
    >>> spectrum_axis_label("count"), spectrum_axis_label("K"), spectrum_axis_label("Jy"), spectrum_axis_label("")
    ('power (counts)', 'antenna temperature Ta* (K)', 'flux density (Jy)', 'power (no units recorded)')
    """
    if not units:
        return "power (no units recorded)"
    return f"{_QUANTITY.get(units, 'value')} ({'counts' if units == 'count' else units})"


def _units(ds, var: str) -> str:
    return str(ds[var].attrs.get("units", "")) if var in ds else ""


def tp_spectra(ds, antenna: str | None = None) -> Panel:
    """Mean spectra of one antenna: raw ON and OFF power (left) and the calibrated ON spectrum (right), each
    axis in its data's units (:func:`spectrum_axis_label`).

    ``data``: :func:`almaview.analysis.singledish.tp_mean_spectra` (kind, frequency_ghz, value).

    Examples
    --------
    >>> p = tp_spectra(av.open_ms("tp.ms")["spw_0"].ds, antenna="PM02")       # doctest: +SKIP
    >>> p.data.query("kind == 'OFF'").value.mean()                            # doctest: +SKIP
    """
    from bokeh.layouts import row
    from bokeh.models import ColumnDataSource

    ant = pick_antenna(ds, antenna)
    data = tp_mean_spectra(ds, ant)
    spw = ds.attrs.get("spw_id", "")
    # two side by side within a notebook's output width (two default-width figures were cut off on the right)
    raw_units = _units(ds, "SPECTRUM")
    # SPECTRUM is raw power unless the MS was written from calibrated data (an sdbaseline or split output)
    what = "raw power" if raw_units in ("count", "") else f"SPECTRUM ({ds.SPECTRUM.attrs.get('column', '')})"
    raw = figure(f"{ant} spw {spw}: {what}", "frequency (GHz)", spectrum_axis_label(raw_units), width=440)
    cal_label = spectrum_axis_label(_units(ds, "SPECTRUM_CORRECTED"))
    cal = figure(f"{ant} spw {spw}: calibrated ON", "frequency (GHz)", cal_label, width=440)
    sources = {}
    for kind in ("ON", "OFF", "calibrated"):
        part = data[data.kind == kind]
        if part.empty:
            continue
        src = ColumnDataSource({"x": part.frequency_ghz.values, "y": part.value.values})
        (cal if kind == "calibrated" else raw).line(
            "x",
            "y",
            source=src,
            color=KIND_COLOUR[kind],
            legend_label=kind if kind != "calibrated" else "calibrated ON",
        )
        sources[kind] = src
    for f in (raw, cal):
        f.add_tools(hover_tool(tooltips=[("GHz", "@x{0.0000}"), ("value", "@y{0.000}")]))
        if f.renderers:
            f.legend.click_policy = "hide"
    return Panel(bound_hovers(row(raw, cal)), data, sources, title=f"TP spectra {ant}", kind="tp_spectra")


def tp_power_vs_time(ds, antenna: str | None = None) -> Panel:
    """Raw power (mean over channels and polarizations) vs time of one antenna, coloured ON / OFF / atmosphere.

    ``data``: :func:`almaview.analysis.singledish.tp_power_series` (time, power, intent, kind).

    Examples
    --------
    >>> p = tp_power_vs_time(av.open_ms("tp.ms")["spw_1"].ds)                 # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource

    ant = pick_antenna(ds, antenna)
    data = tp_power_series(ds, ant)
    f = figure(
        f"{ant} spw {ds.attrs.get('spw_id', '')}: power vs time (ON/OFF pattern)",
        "time (UTC)",
        spectrum_axis_label(_units(ds, "SPECTRUM")),
        x_datetime=True,
        width=760,
    )
    sources = {}
    for kind in dict.fromkeys(data.kind):
        part = data[data.kind == kind]
        src = ColumnDataSource({"x": part.time.values, "y": part.power.values})
        f.scatter("x", "y", source=src, color=KIND_COLOUR.get(kind, PALETTE[7]), size=4, legend_label=kind)
        sources[kind] = src
    f.add_tools(hover_tool(tooltips=[("time", "@x{%H:%M:%S}"), ("power", "@y{0.000}")], formatters={"@x": "datetime"}))
    if f.renderers:
        f.legend.click_policy = "hide"
    return Panel(bound_hovers(f), data, sources, title=f"TP power vs time {ant}", kind="tp_power_vs_time")


def tp_map_coverage(ds, centre: tuple[float, float] | None = None) -> Panel:
    """Where the antennas pointed while ON source: offsets (arcsec) from ``centre`` (RA, Dec rad; default the
    median ON direction), one colour per antenna; the title gives the OFF position.

    ``data``: :func:`almaview.analysis.singledish.tp_pointing_offsets` (every integration, ON and OFF).

    Examples
    --------
    >>> p = tp_map_coverage(av.open_ms("tp.ms")["spw_0"].ds)                  # doctest: +SKIP
    >>> p.data.query("kind == 'ON'").ra_offset_arcsec.abs().max()            # doctest: +SKIP
    """
    from bokeh.models import ColumnDataSource

    data, _ = tp_pointing_offsets(ds, centre)
    f = figure(
        "map coverage (ON source)",
        "RA offset (arcsec, east left)",
        "Dec offset (arcsec)",
        width=460,
        height=420,
        match_aspect=True,
    )
    f.x_range.flipped = True
    sources = {}
    for k, ant in enumerate(dict.fromkeys(data.antenna)):
        part = data[(data.antenna == ant) & (data.kind == "ON")]
        src = ColumnDataSource({"x": part.ra_offset_arcsec.values, "y": part.dec_offset_arcsec.values})
        f.scatter("x", "y", source=src, color=PALETTE[k % len(PALETTE)], size=5, alpha=0.7, legend_label=ant)
        sources[ant] = src
    f.add_tools(hover_tool(tooltips=[("offset", "(@x{0.0}, @y{0.0}) arcsec")]))
    if f.renderers:
        f.legend.click_policy = "hide"
    off = data[data.kind == "OFF"]
    if len(off):
        # short enough for the figure's width: a longer title is cut off in the page
        f.title.text += f"; OFF at ({off.ra_offset_arcsec.median():.0f}, {off.dec_offset_arcsec.median():.0f})″"
    return Panel(bound_hovers(f), data, sources, title="TP map coverage", kind="tp_map_coverage")

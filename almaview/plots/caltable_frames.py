"""What each caltable panel shows, figure slot by figure slot, without Bokeh models: the source data (every row
tagged with its figure slot ``panel`` and legend slot ``cat``, small integers sent to the page as typed arrays), and per grid the :class:`~almaview.plots.slots.Slot`
of each figure (title, legend entries and their colours). :mod:`almaview.plots.caltables` builds the figures
from a frame once and fills them from the next frames (:func:`almaview.plots.caltables.refresh`).

Colours follow :func:`~almaview.plots._common.colours_for` over the selected antennas (spws for gains), outlier
antennas' Tsys in red; titles name the table's EB, the spw or antenna of the figure, fields and antennas.

Examples
--------
>>> f = tsys_frame(av.open_caltable("x.tsyscal.tbl"), spws=[17])     # doctest: +SKIP
>>> [s.title for s in f.slots["spectra"]]                            # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..analysis.caltables import bandpass_solutions, gain_solutions, phase_rms_table, tsys_spectra
from ..analysis.trees import caltable_spws, current_names
from ..constants import ANTENNA_DIM
from ._common import (
    FLAGGED_COLOUR,
    MEDIAN_COLOUR,
    OUTLIER_COLOUR,
    RASTER_THRESHOLD,
    colours_for,
    columns_of,
    empty_raster,
    raster_data,
)
from .grid import who
from .slots import PANEL, Slot, code_dtype, slot_index

__all__ = ["Frame", "DEFAULT_ITERATE", "tsys_frame", "bandpass_frame", "gains_frame", "table_extent"]

#: each caltable builder's own panels (the weblog's pages): Tsys and bandpass per spw, gains per antenna
DEFAULT_ITERATE = {"tsys": "spw", "bandpass": "spw", "gains": "antenna"}


@dataclass
class Frame:
    """One selection of a caltable panel: ``data`` (what is plotted), ``sdata`` (source name -> data),
    ``slots`` (grid name -> the slot of each figure) and ``meta`` (outliers, summary, mode...).

    Examples
    --------
    >>> Frame(pd.DataFrame(), {}, {"spectra": []}).slots
    {'spectra': []}
    """

    data: pd.DataFrame
    sdata: dict[str, dict]
    slots: dict[str, list[Slot]]
    meta: dict[str, Any] = field(default_factory=dict)


def table_extent(ct: Any) -> tuple[int, int]:
    """(spws, antennas) of a caltable: the most figures or legend entries any selection of it can ask for.

    Examples
    --------
    >>> table_extent(av.open_caltable("x.tsyscal.tbl"))   # doctest: +SKIP
    (4, 12)
    """
    spws = caltable_spws(ct)
    ants: set[str] = set()
    for s in spws:
        ds = current_names(ct[f"spw_{s}"].ds)
        if ANTENNA_DIM in ds.coords:
            ants.update(str(a) for a in ds[ANTENNA_DIM].values)
    return len(spws), len(ants)


def eb_words(ct: Any) -> str:
    """'EB <uid> · ' for a title, or nothing."""
    eb = ct.attrs.get("eb") or ct.attrs.get("ms_name") or ""
    return f"EB {eb} · " if eb else ""


def freq_frame(ct: Any) -> str:
    """The frame of a caltable's channel frequencies (its SPECTRAL_WINDOW's; TOPO for ALMA when not given)."""
    for name in ct.children:
        f = ct[name].ds.coords.get("frequency")
        if f is not None and f.attrs.get("frame"):
            return str(f.attrs["frame"]).upper()
    return "TOPO"


def field_words(df: pd.DataFrame) -> str:
    """' · <fields>' for a title, or nothing."""
    if "field" not in df or not len(df):
        return ""
    f = sorted({str(v) for v in df["field"] if str(v)})
    return (" · " + (", ".join(f) if len(f) <= 3 else f"{len(f)} fields")) if f else ""


def strs(df: pd.DataFrame, *cols: str) -> pd.DataFrame:
    """Copies of ``cols`` as strings (``<col>_s``), for Bokeh's GroupFilter."""
    return df.assign(**{f"{c}_s": df[c].astype(str) for c in cols})


def _lines(df: pd.DataFrame, by: list[str], keep: list[str]) -> dict[str, list]:
    """Multi-line source data: one row per ``by`` group with ``xs`` (GHz), ``ys`` (Tsys) and ``keep`` (a filtered
    view of a multi-line source draws whole lines; Bokeh cannot filter a connected Line glyph). Channel numbers
    stay in the panel's ``data``: each array of a line is a message to the page, so only what is drawn goes."""
    out: dict[str, list] = {"xs": [], "ys": [], **{k: [] for k in keep}}
    if not len(df):
        return out
    for _, g in df.groupby(by, sort=False):
        g = g.sort_values("frequency_ghz")
        out["xs"].append(g["frequency_ghz"].to_numpy())
        out["ys"].append(g["tsys"].to_numpy(dtype=float))
        for k in keep:
            v = g[k].iloc[0]
            out[k].append(v.item() if hasattr(v, "item") else v)
    return out


def _keys(iterate: str, spws: Sequence[int], ants: Sequence[str]) -> tuple[list[str], list[tuple], list[str]]:
    """(columns, key of each figure, title part of each figure) for ``iterate``."""
    if iterate == "spw":
        return ["spw"], [(s,) for s in spws], [f"spw {s}" for s in spws]
    if iterate == "antenna":
        return ["antenna"], [(a,) for a in ants], list(ants)
    return [], [()], [""]


def _cat(df: pd.DataFrame, column: str, values: Sequence[Any]) -> np.ndarray:
    """Each row's legend slot: the index of its ``column`` value in ``values`` (-1 when absent), as small ints."""
    return pd.Index([str(v) for v in values]).get_indexer(df[column].astype(str)).astype(code_dtype(len(values)))


# ------------------------------------------------------------------------------------------------ Tsys


def tsys_frame(
    ct: Any,
    spws: Sequence[int] | None = None,
    antennas: Sequence[str] | None = None,
    *,
    iterate: str = "spw",
    outlier_factor: float = 1.5,
) -> Frame:
    """Tsys spectra per figure (spw, antenna or all), antennas in colour (outliers red), the median spectrum;
    Tsys vs time (one figure); the per-antenna median table. Grids: 'spectra', 'time'.

    Examples
    --------
    >>> tsys_frame(av.open_caltable("x.tsyscal.tbl"), iterate="antenna").meta["antennas"]   # doctest: +SKIP
    """
    data, summary = tsys_spectra(ct, spws, antennas, outlier_factor=outlier_factor)
    ants = list(dict.fromkeys(summary["antenna"])) if len(summary) else []
    cmap = colours_for(ants)
    outl = {int(s): sorted(g.loc[g.outlier, "antenna"]) for s, g in summary.groupby("spw")} if len(summary) else {}
    spw_list = sorted(outl)
    cols, keys, parts = _keys(iterate, spw_list, ants)
    spec = data[data["view"] == "spectrum"]
    spec = spec.assign(
        panel=slot_index(spec, cols, keys),
        cat=np.zeros(len(spec), np.int8) if iterate == "antenna" else _cat(spec, "antenna", ants),
    )
    med = data[data["view"] == "median"]
    med = med.assign(
        panel=slot_index(med, cols, keys) if iterate != "antenna" else np.full(len(med), -1, np.int8),
        cat=np.zeros(len(med), np.int8),
    )
    tdf = data[data["view"] == "time"]
    tdf = tdf.assign(panel=np.zeros(len(tdf), np.int8), cat=_cat(tdf, "antenna", ants))
    sdf = summary.copy()
    if len(sdf):
        sdf["median_tsys"] = sdf["median_tsys"].astype(float).round(2)
    sdata = {
        "spectra": _lines(spec, ["spw", "antenna"], ["antenna", "spw", PANEL, "cat"]),
        "median": _lines(med, ["spw"], ["spw", PANEL, "cat"]),
        "time": columns_of(tdf, ["time", "tsys", "antenna", "spw", "field", PANEL, "cat"]),
        "medians": columns_of(sdf),
    }
    fields = field_words(data[data.view == "time"])
    slots = []
    for key, part in zip(keys, parts):
        where = dict(zip(cols, key))
        shown = [a for a in ants if where.get("antenna", a) == a]
        out = sorted({a for s in spw_list for a in outl[s] if where.get("spw", s) == s})
        title = f"Tsys · {eb_words(ct)}{part or 'all spws'}{fields} · {who(shown)}"
        entries = {"spectra": [(a, OUTLIER_COLOUR if a in out else cmap[a]) for a in shown]}
        if iterate != "antenna":
            entries["median"] = [("median", MEDIAN_COLOUR)]
        slots.append(Slot(title + (f" — outliers: {', '.join(out)}" if out else ""), entries))
    time_slot = Slot(
        f"Tsys vs time (mean over channels, receptors) · {eb_words(ct)}{who(ants)}",
        {"time": [(a, cmap[a]) for a in ants]},
    )
    meta = {"outliers": outl, "summary": sdf, "antennas": ants, "colours": cmap}
    return Frame(data, sdata, {"spectra": slots, "time": [time_slot]}, meta)


# ------------------------------------------------------------------------------------------------ bandpass


def bandpass_frame(
    ct: Any,
    spws: Sequence[int] | None = None,
    antennas: Sequence[str] | None = None,
    *,
    iterate: str = "spw",
    raster_threshold: int = RASTER_THRESHOLD,
) -> Frame:
    """Bandpass amplitude and phase per figure (spw, spw x antenna, or all), antennas in colour, flagged channels
    grey; above ``raster_threshold`` points each figure's points as a 2-D histogram (sources 'amp_image_<k>',
    'phase_image_<k>' for figure slot k). Grids: 'amp', 'phase'. The points' antenna and receptor are codes
    (``antenna_i``, ``receptor_i``) into ``meta['names']``.

    Examples
    --------
    >>> bandpass_frame(av.open_caltable("x.bcal.tbl"), spws=[0]).slots["amp"][0].title   # doctest: +SKIP
    """
    data = bandpass_solutions(ct, spws, antennas)
    ants = list(dict.fromkeys(data["antenna"]))
    cmap = colours_for(ants) if len(data) else {}
    spw_list = sorted(set(data["spw"]))
    if iterate == "antenna":  # one figure per spw even so: spws do not share a frequency axis
        cols = ["spw", "antenna"]
        keys = [(s, a) for a in ants for s in spw_list]
        parts = [f"spw {s} · {a}" for s, a in keys]
    else:
        cols, keys, parts = _keys(iterate, spw_list, ants)
    recs = sorted({str(r) for r in data["receptor"]})
    d = data.assign(
        panel=slot_index(data, cols, keys),
        cat=np.zeros(len(data), np.int8) if iterate == "antenna" else _cat(data, "antenna", ants),
        flag=np.zeros(len(data), np.int8),
        antenna_i=_cat(data, "antenna", ants),  # the hover's names, as codes (a string a point was most of a patch)
        receptor_i=_cat(data, "receptor", recs),
        spw=data["spw"].astype(np.int16),
        channel=data["channel"].astype(np.int32),
        amp=data["amp"].astype(np.float32),  # drawn and hovered to 4 digits (the panel's data keeps float64)
        phase_deg=data["phase_deg"].astype(np.float32),
    )
    ok, bad = d[~d.flagged.astype(bool)], d[d.flagged.astype(bool)]
    cols_out = ["frequency_ghz", "amp", "phase_deg", "antenna_i", "receptor_i", "spw", "channel", PANEL, "cat", "flag"]
    big = len(ok) > raster_threshold
    sdata = {"points": columns_of(ok.iloc[:0] if big else ok, cols_out), "flagged": columns_of(bad, cols_out)}
    for k in range(len(keys)):
        o = ok[ok[PANEL] == k]
        for y, name in (("amp", "amp_image"), ("phase_deg", "phase_image")):
            sdata[f"{name}_{k}"] = (
                raster_data(o["frequency_ghz"].to_numpy(), o[y].to_numpy()) if big else empty_raster()
            )
    slots: dict[str, list[Slot]] = {"amp": [], "phase": []}
    for key, part in zip(keys, parts):
        where = dict(zip(cols, key))
        shown = [a for a in ants if where.get("antenna", a) == a]
        entries = {"points": [(a, cmap[a]) for a in shown], "flagged": [("flagged", FLAGGED_COLOUR)]}
        for grid, word in (("amp", "amplitude"), ("phase", "phase")):
            slots[grid].append(Slot(f"Bandpass {word} · {eb_words(ct)}{part or 'all spws'} · {who(shown)}", entries))
    return Frame(data, sdata, slots, {"antennas": ants, "big": big, "names": {"antenna": ants, "receptor": recs}})


# ------------------------------------------------------------------------------------------------ gains


def gains_frame(
    ct: Any,
    spws: Sequence[int] | None = None,
    antennas: Sequence[str] | None = None,
    *,
    iterate: str = "antenna",
    phase_scans: Sequence[int] | None = None,
) -> Frame:
    """Gain phase and/or amplitude vs time per figure (antenna, spw or all), spws in colour (antennas when
    iterating over spws), the phase RMS table (the weblog's: on ``phase_scans``). Grids: 'phase_deg', 'amp'
    (those the table's mode has: ``meta['mode']``).

    Examples
    --------
    >>> gains_frame(av.open_caltable("x.gpcal.tbl")).meta["mode"]   # doctest: +SKIP
    'phase'
    """
    from ..analysis.caltables import solution_mode

    data = gain_solutions(ct, spws, antennas)
    mode = solution_mode(data)
    data.attrs["mode"] = mode
    spw_list = sorted(set(data["spw"]))
    ants = list(dict.fromkeys(data["antenna"]))
    if iterate != "spw":
        colour_col, values = "spw", [str(s) for s in spw_list]
        cmap = {str(s): c for s, c in colours_for(spw_list).items()}
        labels = [f"spw {v}" for v in values]
    else:
        colour_col, values, cmap, labels = "antenna", ants, colours_for(ants), list(ants)
    cols, keys, parts = _keys(iterate, spw_list, ants)
    ok = data[~data.flagged.astype(bool)]
    ok = ok.assign(panel=slot_index(ok, cols, keys), cat=_cat(ok, colour_col, values))
    names = ["time", "amp", "phase_deg", "antenna", "receptor", "spw", "field", "scan"]
    rms = phase_rms_table(data, phase_scans)
    if len(rms):
        rms["phase_rms_deg"] = rms["phase_rms_deg"].astype(float).round(2)
    sdata = {"points": columns_of(ok, names + [PANEL, "cat"]), "rms": columns_of(rms)}
    grids = [("phase_deg", "phase")] if mode != "amplitude" else []
    grids += [("amp", "amplitude")] if mode != "phase" else []
    entries = {"points": [(lab, cmap[v]) for lab, v in zip(labels, values)]}
    fields = field_words(data)
    slots = {
        y: [
            Slot(f"Gain {word} · {eb_words(ct)}{part or who(ants)}{fields}", entries)
            for (key, part) in zip(keys, parts)
        ]
        for y, word in grids
    }
    title = "spw" if colour_col == "spw" else "antenna"
    return Frame(data, sdata, slots, {"mode": mode, "legend_title": title, "rms": rms})

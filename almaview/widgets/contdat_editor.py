"""The continuum-range editor: the target spectrum per spw (from the MS) with the delivered cont.dat ranges, edited
in the plot, written to a new cont.dat (same format; never over the delivered one), and shown as the equivalent
tclean/uvcontsub ``spw`` selection string.

Thin: the spectrum comes from :func:`almaview.imaging.ms_spectrum`, the figure from
:func:`almaview.plots.continuum.continuum_ranges_plot`, the model and writer from :mod:`almaview.imaging.contdat`.
Edits made in the browser (BoxEditTool on the 'ranges' source) reach Python through jupyter_bokeh's BokehModel
(``source.on_change('data', ...)``); BokehJS is loaded inline, never from a CDN.

Controls (``editor.controls``; CSS class ``almaview-control-<name>``, spaces and dots as dashes): 'field',
'spw', 'add selection', 'remove selection', 'reset to delivered', 'write to', 'overwrite', 'write cont.dat',
'spw selection'.

Examples
--------
>>> import almaview as av
>>> from almaview.widgets.contdat_editor import ContinuumEditor
>>> ed = ContinuumEditor(av.open_delivery("2023.1.01234.S"))        # doctest: +SKIP
>>> ed.selection                                                      # doctest: +SKIP
'0:230.456706~230.522GHz;230.554~230.573886GHz,1:230.985266~232.985138GHz,...'
>>> ed.write("my_cont.dat")                                           # doctest: +SKIP
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any, Sequence

import ipywidgets as W
import traitlets

from ..errors import AlmaviewError
from ..imaging.contdat import ContDatExists, ContinuumRanges, read_cont_dat, write_cont_dat
from ._base import AppBase

__all__ = ["ContinuumEditor"]


def _css(name: str) -> str:
    return "almaview-control-" + name.replace(" ", "-").replace(".", "-").replace("(", "").replace(")", "")


def _resolve(source: Any, cont_dat: Any) -> tuple[list[str], ContinuumRanges, str | None]:
    """(MS paths, delivered ranges, where the delivered cont.dat is) from what the user gave."""
    from ..delivery.model import Delivery, MemberOUS

    if isinstance(source, (str, os.PathLike)) and not (Path(source) / "table.dat").is_file():
        from ..delivery import open_delivery

        source = open_delivery(source)
    if isinstance(source, Delivery):
        members = [m for m in source.mous if any(e.calibrated_ms for e in m.ebs)]
        if not members:
            raise AlmaviewError(
                source.root,
                "no member OUS of this delivery has a calibrated measurement set; "
                "restore the calibration first (almaview restore)",
            )
        source = next((m for m in members if any(r.low is not None for r in m.continuum)), members[0])
    if isinstance(source, MemberOUS):
        ms = [e.calibrated_ms for e in source.ebs if e.calibrated_ms]
        if not ms:
            raise AlmaviewError(
                source.path,
                "this member OUS has no calibrated measurement set; restore the calibration first (almaview restore)",
            )
        if cont_dat is not None:
            return ms, read_cont_dat(cont_dat), os.fspath(cont_dat)
        return ms, ContinuumRanges.from_rows(source.continuum), source.aux_files.get("cont.dat")
    if isinstance(source, tuple) and len(source) == 2 and cont_dat is None:
        source, cont_dat = source
    ms = [os.fspath(p) for p in source] if isinstance(source, (list, tuple)) else [os.fspath(source)]
    if cont_dat is None:
        return ms, ContinuumRanges(), None
    return ms, read_cont_dat(cont_dat), os.fspath(cont_dat)


class ContinuumEditor(AppBase):
    """Edit continuum ranges on the target spectrum of a delivery, a member OUS, or ``(ms_path(s), cont.dat)``.

    An :class:`~almaview.widgets._base.AppBase`: the state is the ``field`` and ``spw`` shown (``select(field=...,
    spw=...)`` sets both with one redraw; the dropdowns are views of them).

    ``field`` defaults to the first field of the delivered cont.dat (else the first target field), ``spw`` to the
    first spw of that field with ranges. Python API: ``ranges`` (:class:`~almaview.imaging.ContinuumRanges`, the
    edited state), ``delivered`` (as delivered), ``selection`` (tclean/uvcontsub ``spw`` string of the field),
    ``write(path)``, ``spectrum`` (the table plotted), ``panel``, ``controls``.

    Examples
    --------
    >>> ed = ContinuumEditor(("uid___A002_X1.ms", "cont.dat"), field="IRAS16293-2422")   # doctest: +SKIP
    >>> ed.controls["spw"].value = 1                                                      # doctest: +SKIP
    >>> ed.write("scratch/cont.dat")                                                      # doctest: +SKIP
    """

    field = traitlets.Unicode("").tag(state=True)
    spw = traitlets.Int(0).tag(state=True)

    def __init__(
        self,
        source: Any,
        *,
        field: str | None = None,
        spw: int | None = None,
        cont_dat: str | os.PathLike | None = None,
        column: str = "corrected",
        frame: str = "LSRK",
        **kw: Any,
    ):
        super().__init__(**kw)
        from ..io.ms import open_ms

        self.ms, self.delivered, self.delivered_path = _resolve(source, cont_dat)
        self.trees = [open_ms(p) for p in self.ms]
        self.column, self.frame = column, frame
        self.ranges: ContinuumRanges = self.delivered.copy()
        self._spectra: dict[tuple[str, int], Any] = {}
        self._pushed: Any = None  # the ranges data the kernel last sent to the plot (not an edit when it comes back)
        self.last_written: Path | None = None
        self.add_class("almaview-contdat-editor")
        fields = self._fields()
        if field is not None and field not in fields:
            raise AlmaviewError(
                self.ms[0],
                f"field {field!r} is neither in the cont.dat nor a target of the MS (fields: {', '.join(fields)})",
            )
        field = field if field is not None else fields[0]
        self._build_controls(fields, field, spw)  # sets the state (field, spw) and binds the dropdowns to it
        from ..plots.continuum import continuum_ranges_plot

        self.panel = continuum_ranges_plot(self.spectrum, self.current_ranges(), title=self._title())
        self.panel.sources["ranges"].on_change("data", self._ranges_edited)
        from ._bokeh import bokeh_view, load_bokehjs

        load_bokehjs()
        self.view = bokeh_view(self.panel.layout)
        self.view.add_class("almaview-panel-continuum")
        c = self.controls
        self.children = [
            W.HBox([c["field"], c["spw"]]),
            self.view,
            W.HBox([c["add selection"], c["remove selection"], c["reset to delivered"]]),
            W.HBox([c["write to"], c["overwrite"], c["write cont.dat"]]),
            c["spw selection"],
            self.status,
        ]
        self._show_selection()

    # ------------------------------------------------------------------ state

    def _fields(self) -> list[str]:
        names = list(dict.fromkeys(list(self.delivered.ranges) + list(self.delivered.special)))
        if names:
            return names
        scans = self.trees[0]["scans"].ds
        targets = [f for f, i in zip(scans.field_name.values, scans.intents.values) if "OBSERVE_TARGET" in str(i)]
        names = list(dict.fromkeys(n for f in targets for n in str(f).split(",")))
        return names or [str(n) for n in self.trees[0]["fields"].ds.field_name.values]

    def _spws(self) -> list[int]:
        return sorted(int(n[4:]) for n in self.trees[0].children if n.startswith("spw_") and n[4:].isdigit())

    @property
    def spectrum(self) -> Any:
        """The spectrum (:func:`almaview.imaging.ms_spectrum`) of the field and spw shown, computed once."""
        from ..imaging.spectrum import ms_spectrum

        key = (self.field, self.spw)
        if key not in self._spectra:
            self._spectra[key] = ms_spectrum(
                self.trees, field=self.field, spw=self.spw, column=self.column, frame=self.frame
            )
        return self._spectra[key]

    def current_ranges(self) -> list[tuple[float, float]]:
        """The (edited) ranges of the field and spw shown, in Hz."""
        return self.ranges.get(self.field, self.spw)

    @property
    def selection(self) -> str:
        """The tclean/uvcontsub ``spw`` selection of the field shown, from the edited ranges (frequencies in
        the cont.dat frame, LSRK)."""
        return self.ranges.spw_selection(self.field)

    @property
    def topo_selection(self) -> dict[str, str]:
        """Per EB (MS name): the ``spw`` selection of the field in the MS's own frame (TOPO), which CASA tasks
        read frequency selections in (see :func:`almaview.imaging.ms_frame_selection`)."""
        from ..imaging.spectrum import ms_frame_selection

        return {Path(p).name: ms_frame_selection(self.ranges, t, field=self.field) for p, t in zip(self.ms, self.trees)}

    def write(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the edited ranges as cont.dat to ``path`` (never over the delivered file, never into a delivery).

        Raises :class:`~almaview.imaging.ContDatExists` for the delivered file, a path inside a delivery, or an
        existing file without ``overwrite``.

        Examples
        --------
        >>> editor.write("scratch/cont.dat")   # doctest: +SKIP
        PosixPath('scratch/cont.dat')
        """
        p = Path(path).expanduser()
        if self.delivered_path:
            delivered = Path(self.delivered_path)
            archive = Path(self.delivered_path.rsplit(":", 1)[0])
            if not delivered.exists() and archive.is_file():  # 'calibration/x.auxproducts.tgz:cont.dat'
                delivered = archive
            if p.resolve() == delivered.resolve():
                raise ContDatExists(p, "is the delivered cont.dat: almaview never writes over it; choose a new path")
        self.last_written = write_cont_dat(self.ranges, p, overwrite=overwrite)
        return self.last_written

    # ------------------------------------------------------------------ controls

    def _build_controls(self, fields: Sequence[str], field: str, spw: int | None) -> None:
        style = {"description_width": "initial"}
        c: dict[str, W.Widget] = {}
        c["field"] = W.Dropdown(description="field", options=list(fields), style=style)
        spws = self._spws()
        with_ranges = [
            s
            for s in spws
            if self.delivered.get(field, s)
            or s in {int(x) for x in self.delivered.special.get(field, {}) if x.isdigit()}
        ]
        if spw is None:
            spw = (with_ranges or spws)[0]
        elif spw not in spws:
            raise AlmaviewError(self.ms[0], f"has no spw {spw} (spws: {', '.join(map(str, spws))})")
        c["spw"] = W.Dropdown(description="spw", options=spws, style=style, layout=W.Layout(width="140px"))
        c["add selection"] = W.Button(
            description="add selection",
            icon="plus",
            tooltip="add the channels selected in the plot (box select) as a range",
        )
        c["remove selection"] = W.Button(
            description="remove selection",
            icon="minus",
            tooltip="cut the channels selected in the plot out of the ranges",
        )
        c["reset to delivered"] = W.Button(
            description="reset to delivered",
            icon="undo",
            tooltip="this field and spw: back to the delivered cont.dat ranges",
            layout=W.Layout(width="auto"),
        )
        c["write to"] = W.Text(
            description="write to",
            placeholder="path of the new cont.dat (outside the delivery)",
            value="cont_edited.dat",
            style=style,
            layout=W.Layout(width="420px"),
        )
        c["overwrite"] = W.Checkbox(
            description="overwrite",
            value=False,
            indent=False,
            tooltip="replace an existing file at 'write to' (never the delivered cont.dat)",
        )
        c["write cont.dat"] = W.Button(description="write cont.dat", icon="save", button_style="primary")
        c["spw selection"] = W.HTML(description="spw selection", style=style)
        for name, w in c.items():
            w.add_class(_css(name))
        self.controls.update(c)
        self.status = W.HTML()
        self.status.add_class("almaview-status")
        with self.hold_trait_notifications():  # before the panel exists: nothing to redraw yet
            self.field, self.spw = field, int(spw)
        self.bind("field", c["field"]).bind("spw", c["spw"])
        c["add selection"].on_click(lambda _: self.add_selection())
        c["remove selection"].on_click(lambda _: self.remove_selection())
        c["reset to delivered"].on_click(lambda _: self.reset())
        c["write cont.dat"].on_click(lambda _: self._write_clicked())

    def _title(self) -> str:
        return f"{self.field} · spw {self.spw} · {len(self.ms)} EB(s) · ranges in {self.ranges.frame}"

    def _push_ranges(self) -> None:
        from ..plots.continuum import ranges_data

        self._pushed = ranges_data(self.current_ranges())
        self.panel.sources["ranges"].data = dict(self._pushed)
        self._show_selection()

    def _show_selection(self) -> None:
        text = html.escape(self.selection) or "(no ranges)"
        try:
            topo = self.topo_selection
        except AlmaviewError as err:
            topo = {"(not converted)": str(err)}
        rows = "".join(
            f"<br>{html.escape(name)} (TOPO, for CASA tasks on this MS): <code>{html.escape(sel)}</code>"
            for name, sel in topo.items()
        )
        self.controls[
            "spw selection"
        ].value = (
            f"<div style='word-break:break-all'>{self.ranges.frame} (as in cont.dat): <code>{text}</code>{rows}</div>"
        )

    def apply(self, changed: set[str]) -> None:
        """A new field or spw: its spectrum and ranges in the same figure (the sources updated in place).

        Examples
        --------
        >>> editor.select(spw=2).panel.title   # doctest: +SKIP
        """
        if getattr(self, "panel", None) is not None:
            self._shown_changed()

    def _shown_changed(self) -> None:
        from ..plots.continuum import continuum_ranges_plot

        try:
            new = continuum_ranges_plot(self.spectrum, self.current_ranges(), title=self._title())
        except AlmaviewError as err:
            self._error(err)
            return
        self._pushed = dict(new.sources["ranges"].data)
        for name in ("spectrum", "lines", "ranges"):
            self.panel.sources[name].selected.indices = []
            self.panel.sources[name].data = dict(new.sources[name].data)
        self.panel.data = new.data
        self.panel.layout.title.text = self.panel.title = new.layout.title.text
        self.status.value = ""
        self._show_selection()

    def _ranges_edited(self, attr: str, old: Any, new: Any) -> None:
        """The 'ranges' source changed in the browser (BoxEditTool): take its left/right (GHz) as the ranges."""
        data = self.panel.sources["ranges"].data
        if self._pushed is not None and _same_columns(data, self._pushed):
            return  # what the kernel itself just showed (a new field/spw, merged ranges): not an edit
        self._pushed = None  # an edit: the next data equal to an older push is an edit too
        pairs = []
        for lo, hi in zip(data.get("left", []), data.get("right", [])):
            try:
                lo, hi = float(lo), float(hi)
            except (TypeError, ValueError):
                continue
            if lo == lo and hi == hi and lo != hi:
                pairs.append((lo * 1e9, hi * 1e9))
        self.ranges = self.ranges.set(self.field, self.spw, pairs)
        shown = sorted((min(a, b), max(a, b)) for a, b in pairs)
        if shown != self.current_ranges():  # overlapping boxes were merged: show what will be written
            self._push_ranges()
        else:
            self._show_selection()

    def _selected_span(self) -> tuple[float, float] | None:
        """(low, high) Hz of the channels selected in the plot, edges included; None without a selection."""
        import numpy as np

        from ..plots.continuum import channel_halfwidth

        idx = list(self.panel.sources["spectrum"].selected.indices)
        if not idx:
            self.status.value = "select channels in the plot first (box select tool), then press the button"
            return None
        df = self.panel.data
        chosen = df.iloc[sorted(idx)]
        half = (
            max(channel_halfwidth(g["frequency"].to_numpy()) for _, g in df.groupby("eb"))
            if "eb" in df
            else channel_halfwidth(df["frequency"].to_numpy())
        )
        f = chosen["frequency"].to_numpy(dtype=float)
        return float(np.min(f) - half), float(np.max(f) + half)

    def add_selection(self, span: tuple[float, float] | None = None) -> None:
        """Add the selected channels (or ``span``, Hz) as a range of the field and spw shown."""
        span = span or self._selected_span()
        if span is None:
            return
        self.ranges = self.ranges.add(self.field, self.spw, *span)
        self.panel.sources["spectrum"].selected.indices = []
        self.status.value = ""
        self._push_ranges()

    def remove_selection(self, span: tuple[float, float] | None = None) -> None:
        """Cut the selected channels (or ``span``, Hz) out of the ranges of the field and spw shown."""
        span = span or self._selected_span()
        if span is None:
            return
        self.ranges = self.ranges.remove(self.field, self.spw, *span)
        self.panel.sources["spectrum"].selected.indices = []
        self.status.value = ""
        self._push_ranges()

    def reset(self) -> None:
        """The field and spw shown back to the delivered ranges (ALL/NONE marks included)."""
        f, s = self.field, str(self.spw)
        out = self.ranges.set(f, s, self.delivered.get(f, s))
        word = self.delivered.special.get(f, {}).get(s)
        if word:
            out.special.setdefault(f, {})[s] = word
        if not self.delivered.get(f, s) and s not in self.delivered.ranges.get(f, {}):
            out.ranges.get(f, {}).pop(s, None)
        self.ranges = out
        self.status.value = ""
        self._push_ranges()

    def _write_clicked(self) -> None:
        target = self.controls["write to"].value.strip()
        if not target:
            self.status.value = "give the path of the new cont.dat in 'write to'"
            return
        try:
            out = self.write(target, overwrite=self.controls["overwrite"].value)
        except AlmaviewError as err:
            self._error(err)
            return
        self.status.value = f"wrote <code>{html.escape(str(out.resolve()))}</code>"

    def _error(self, err: Exception) -> None:
        self.status.value = (
            f"<span class='almaview-error' style='color:#b00'>{html.escape(type(err).__name__)}: "
            f"{html.escape(str(err))}</span>"
        )


def _same_columns(a: Any, b: Any) -> bool:
    """Whether two ColumnDataSource data dicts hold the same columns and values."""
    if set(a) != set(b):
        return False
    return all(list(a[k]) == list(b[k]) for k in a)

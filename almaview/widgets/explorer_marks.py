"""The explorer's mark, locate, flag: the points box-selected on the visibilities panel listed as a table, and
"add to flags" writing them as ``flagdata`` commands to a flag template in the user's work area (never the
delivery). The tables and commands are made by :mod:`almaview.widgets.marks`; this is the wiring.

Examples
--------
>>> ex.show("visibilities"); ex.wait(); ex.mark([0, 1])   # doctest: +SKIP
>>> ex.add_to_flags()                                      # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as W

__all__ = ["ExplorerMarks"]


class ExplorerMarks:
    """Mark and flag, mixed into :class:`~almaview.widgets.app.Explorer` (uses its ``panels``, ``controls``,
    ``workdir``, ``delivery`` and ``_say``)."""

    def _marks_box(self) -> W.Widget:
        self._marks_html = W.HTML("<i>Box-select points on the plot (box select tool) to list them here.</i>")
        self._marks_html.add_class("almaview-marked")
        self.controls["add to flags"] = W.Button(
            description="add to flags",
            icon="flag",
            disabled=True,
            tooltip="write flagdata commands for the marked points to a flag template in your work area",
        )
        self.controls["add to flags"].add_class("almaview-control-add-to-flags")
        self.controls["add to flags"].on_click(lambda _: self._add_to_flags_clicked())
        return W.VBox([self._marks_html, self.controls["add to flags"]])

    def mark(self, indices: Any, *, panel: Any = None) -> Any:
        """Mark the visibilities panel's points at ``indices`` (what a box selection in the page sends): returns
        and shows the table of what they are (baseline, antennas, scan, field, spw, correlation, time or
        channels). ``explorer.marked`` keeps it for :meth:`add_to_flags`. ``panel``: the visibilities panel the
        indices belong to (default: the one shown now).

        Examples
        --------
        >>> ex.show("visibilities"); ex.wait()   # doctest: +SKIP
        >>> ex.mark([0, 1, 2])                   # doctest: +SKIP
        """
        from .marks import marked_table

        panel = panel if panel is not None else self.panels.get("visibilities")
        if panel is None:
            raise ValueError("no visibilities panel yet: show('visibilities') and wait() first")
        freqs = None
        if "frequency_ghz" in panel.data:
            vis = self.vis()
            freqs = {int(s): vis[f"spw_{int(s)}"].ds.frequency.values / 1e9 for s in panel.data["spw"].unique()}
        self.marked = marked_table(panel.data, list(indices), chan_bin=int(self.chan_bin), frequencies_ghz=freqs)
        n = len(self.marked)
        shown = self.marked.head(50).to_html(index=False, border=0, classes="almaview-marked-table")
        more = f"<br><i>… and {n - 50} more</i>" if n > 50 else ""
        self._marks_html.value = (
            f"<b>{n} marked point{'s' if n != 1 else ''}</b>{shown}{more}"
            if n
            else "<i>Box-select points on the plot (box select tool) to list them here.</i>"
        )
        self.controls["add to flags"].disabled = n == 0
        return self.marked

    def add_to_flags(self) -> Path:
        """Append flagdata commands for the marked points to ``<workdir>/<EB>.flagtemplate.txt`` (the syntax
        ``flagdata(mode='list')`` and scriptForPI read) and return the file's path. Never inside the delivery:
        a ``workdir`` there raises :class:`almaview.errors.OutputInsideDelivery`.

        Examples
        --------
        >>> ex.mark([0]); ex.add_to_flags()   # doctest: +SKIP
        PosixPath('almaview-work/uid___A002_X1_X2.flagtemplate.txt')
        """
        from .marks import flag_commands, write_flag_template

        if self.marked is None or not len(self.marked):
            raise ValueError("nothing marked: box-select points on the visibilities panel (or call mark())")
        time_bin = float(self.time_bin_s) if self.x == "time" else 0.0
        commands = flag_commands(self.marked, time_bin_s=time_bin)
        root = self.delivery.root if self.delivery is not None else None
        return write_flag_template(commands, self.workdir, self.eb, delivery_root=root)

    def _add_to_flags_clicked(self) -> None:
        try:
            path = self.add_to_flags()
        except Exception as err:  # shown, not raised: a callback has nobody to raise to
            self._say(f"add to flags: {type(err).__name__}: {err}", error=True)
            return
        self._say(f"{len(self.marked)} marked point(s) added to {path}")

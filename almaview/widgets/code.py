"""'Copy as code': the almaview calls that make an explorer panel with the current selection, so an exploration
becomes a script.

The text is plain Python that runs on its own (``import almaview as av`` and the paths of the EB's MS and
caltables) and ends with ``panel``, the same :class:`~almaview.plots.Panel` the explorer shows.

Examples
--------
>>> print(panel_code("tsys", {"spws": [17], "antennas": None}, ms="uid.ms", caltable="uid.tsyscal.tbl"), end="")
import almaview as av
<BLANKLINE>
ct = av.open_caltable('uid.tsyscal.tbl')
panel = av.plots.tsys(ct, spws=[17], antennas=None)
panel
"""

from __future__ import annotations

from typing import Any

__all__ = ["panel_code"]

_CALTABLE_BUILDERS = {"tsys": "tsys", "bandpass": "bandpass", "gains": "gains"}


def panel_code(
    tab: str, selection: dict[str, Any], *, ms: str | None = None, caltable: str | None = None, iterate: bool = False
) -> str:
    """The almaview calls that make the explorer's ``tab`` panel for ``selection`` (:attr:`Explorer.selection`).

    ``ms``: the EB's measurement set; ``caltable``: the table a calibration tab shows; ``iterate``: the builder
    takes ``iterate=`` (one panel per spw/antenna). Tabs without a builder of their own (qa, browser) get a
    comment saying where their content comes from.

    Examples
    --------
    >>> code = panel_code("flagging", {"spws": [0, 1]}, ms="uid.ms")
    >>> "av.analysis.flag_fractions(vis, [0, 1])" in code
    True
    """
    sel = dict(selection)
    spws = sel.get("spws")
    ants = sel.get("antennas")
    fields = [sel["field"]] if sel.get("field") else None
    it = f", iterate={sel['iterate']!r}" if iterate and sel.get("iterate") else ""
    head = "import almaview as av\n\n"
    if tab in _CALTABLE_BUILDERS:
        if caltable is None:
            return f"# this EB has no {tab} caltable in the package\n"
        return (
            head + f"ct = av.open_caltable({caltable!r})\n"
            f"panel = av.plots.{_CALTABLE_BUILDERS[tab]}(ct, spws={spws!r}, antennas={ants!r}{it})\npanel\n"
        )
    if ms is None:
        return "# this EB has no calibrated measurement set in the package\n"
    if tab == "overview":
        return (
            head + "from almaview.plots import overview as ov\n\n"
            f"vis = av.open_ms({ms!r})\n"
            f"parts = ov.overview(vis, {spws!r}, {fields!r}, {ants!r})\n"
            "panel = av.plots.Panel(ov.overview_layout(parts), parts['summary'].data, kind='overview')\n"
            "panel\n"
        )
    if tab == "visibilities":
        args = [
            f"column={sel.get('column', 'corrected')!r}",
            f"x={sel.get('x', 'time')!r}",
            f"fields={fields!r}",
            f"intents={[sel['intent']] if sel.get('intent') else None!r}",
            f"correlations={[sel['correlation']] if sel.get('correlation') else None!r}",
            f"time_bin_s={float(sel.get('time_bin_s', 0.0))!r}",
            f"chan_bin={int(sel.get('chan_bin', 1))!r}",
            f"uv_units={sel.get('uv_units', 'klambda')!r}",
        ]
        lines = [
            head.rstrip("\n"),
            "import pandas as pd",
            "",
            f"vis = av.open_ms({ms!r})",
            f"spws = {spws!r} or av.analysis.ms_spws(vis)",
            "table = pd.concat([av.analysis.reduce_visibilities(",
            ("    vis[f'spw_{spw}'].ds, " + ", ".join(args[:4]) + ","),
            ("    " + ", ".join(args[4:]) + ")"),
            "    for spw in spws], ignore_index=True)",
        ]
        if ants:
            lines.append(f"table = table[table.antenna1.isin({ants!r}) | table.antenna2.isin({ants!r})]")
        lines += [
            f"panel = av.plots.amp_phase(table, x={sel.get('x', 'time')!r}, "
            f"colour_by={sel.get('colour_by', 'antenna')!r}{it})",
            "panel",
            "",
        ]
        return "\n".join(lines)
    if tab == "flux":
        return head + f"vis = av.open_ms({ms!r})\npanel = av.plots.flux(vis, {spws!r}, {fields!r})\npanel\n"
    if tab == "flagging":
        return (
            head + f"vis = av.open_ms({ms!r})\n"
            f"panel = av.plots.flag_summary(av.analysis.flag_fractions(vis, {spws!r}))\npanel\n"
        )
    if tab == "qa":
        return (
            head + "d = av.open_delivery('...')   # the delivery\n"
            "m = d.mous[0]\npanel = av.plots.qa_stages(m.qa.aqua, m.weblog)\npanel\n"
        )
    return "# the delivery and weblog browser has no plot builder: av.explore(d).show('browser')\n"

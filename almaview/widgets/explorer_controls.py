"""The explorer's controls, views of its state: built and bound to the traits, laid out in wrapping rows, and the
reactions that keep the choices consistent (what an EB offers, the intents observed on a field, the colour-by
choices of an x axis, the antenna search).

Examples
--------
>>> ex.controls["spw"].options       # doctest: +SKIP
>>> ex.controls["intent"].options    # doctest: +SKIP
"""

from __future__ import annotations

import ipywidgets as W

from ._base import reacts

__all__ = ["ExplorerControls", "ITERATE"]

#: what "iterate over" offers: each builder's own default (the weblog's page: Tsys and bandpass per spw, gains per
#: antenna), one panel per spw (plotms's iteraxis), per antenna, or one panel
ITERATE = (("as the weblog", ""), ("spw", "spw"), ("antenna", "antenna"), ("none", "none"))


def _intent_names(intents: str) -> list[str]:
    from ..constants import intent_names

    return intent_names(intents)


class ExplorerControls:
    """Controls and their reactions, mixed into :class:`~almaview.widgets.app.Explorer`."""

    def _build_controls(self) -> None:
        style = {"description_width": "initial"}
        T = tuple
        self.bind("eb", W.Dropdown(description="eb", options=[(e.uid, e.uid) for e in self.ebs], style=style))
        self.bind(
            "spw",
            W.SelectMultiple(description="spw", rows=5, style=style, layout=W.Layout(width="260px")),
            to_control=T,
            from_control=list,
        )
        self.bind(
            "antennas",
            W.SelectMultiple(description="antennas", rows=5, style=style, layout=W.Layout(width="200px")),
            to_control=T,
            from_control=list,
        )
        self.bind("field", W.Dropdown(description="field", options=[("all fields", "")], style=style))
        self.bind("intent", W.Dropdown(description="intent", options=[("all intents", "")], style=style))
        self.bind("correlation", W.Dropdown(description="correlation", options=[("all", "")], style=style))
        self.bind(
            "column",
            W.Dropdown(
                description="data column",
                options=[("CORRECTED", "corrected")],
                style=style,
                layout=W.Layout(width="220px"),
            ),
        )
        self.bind(
            "x",
            W.Dropdown(
                description="x axis",
                options=["time", "frequency", "uvdist"],
                style=style,
                layout=W.Layout(width="160px"),
            ),
        )
        self.bind(
            "uv_units",
            W.Dropdown(
                description="uv units",
                options=[("kλ", "klambda"), ("m", "m")],
                style=style,
                layout=W.Layout(width="130px"),
                disabled=True,
            ),
        )
        self.bind(
            "colour_by",
            W.Dropdown(description="colour by", options=["antenna"], style=style, layout=W.Layout(width="190px")),
        )
        self.bind(
            "time_bin_s",
            W.BoundedFloatText(
                description="time avg (s)", min=0.0, max=1e5, step=10, style=style, layout=W.Layout(width="150px")
            ),
        )
        self.bind(
            "chan_bin",
            W.BoundedIntText(
                description="channel avg", min=1, max=100000, style=style, layout=W.Layout(width="140px"), disabled=True
            ),
        )
        self.bind(
            "gain_table", W.Dropdown(description="gain table", options=[], style=style, layout=W.Layout(width="330px"))
        )
        self.bind(
            "iterate",
            W.Dropdown(description="iterate over", options=list(ITERATE), style=style, layout=W.Layout(width="190px")),
        )
        c = self.controls
        c["search"] = W.Text(description="search", placeholder="DA4", style=style, layout=W.Layout(width="130px"))
        c["all antennas"] = W.Button(description="all", tooltip="select all antennas", layout=W.Layout(width="60px"))
        for name, w in c.items():
            w.add_class("almaview-control-" + name.replace(" ", "-").replace("(", "").replace(")", ""))
        c["all antennas"].on_click(lambda _: setattr(self, "antennas", []))
        c["search"].observe(lambda ch: self._filter_antennas(), "value")

    @reacts("x")
    def _offer_for_x(self) -> None:
        """Colour-by choices and the averaging controls that apply to the x axis."""
        x = self.x
        opts = ["antenna", "baseline", "spw", "correlation"] + ([] if x == "frequency" else ["scan", "field"])
        old = self.colour_by
        self.controls["colour by"].options = opts
        self.colour_by = old if old in opts else "antenna"
        self.controls["channel avg"].disabled = x != "frequency"
        self.controls["time avg (s)"].disabled = x == "frequency"
        self.controls["uv units"].disabled = x != "uvdist"

    @reacts("eb")
    def _offer_for_eb(self) -> None:
        """A new EB: the choices it offers, and the default selection in them."""
        from ..analysis.trees import ms_spws
        from ..analysis.visibilities import available_columns

        c = self.controls
        vis = self.vis()
        spws = ms_spws(vis)
        labels = dict(zip(vis["spws"].ds.spw_id.values.tolist(), vis["spws"].ds.spw_label.values.tolist()))
        c["spw"].options = [(str(labels.get(s, f"spw {s}")), s) for s in spws]
        self.spw = list(spws[:1])
        self._antenna_names = [str(a) for a in vis["antennas"].ds.antenna_name.values]
        c["search"].value = ""
        c["antennas"].options = self._antenna_names
        self.antennas = []
        ds = vis[f"spw_{spws[0]}"].ds
        self._field_intents = {}
        for f, it in zip(vis["scans"].ds.field_name.values.astype(str), vis["scans"].ds.intents.values.astype(str)):
            self._field_intents.setdefault(f, set()).update(_intent_names(it))
        c["field"].options = [("all fields", "")] + [(f, f) for f in self._field_intents]
        self.field = ""
        self._intent_options()
        pols = [str(p) for p in ds.polarization.values]
        c["correlation"].options = [("all", "")] + [(p, p) for p in pols]
        self.correlation = ""
        cols = available_columns(ds)
        if not cols:  # a single-dish EB: no visibilities (its spectra are in the 'single dish' tab)
            c["data column"].options = [("none (single dish)", "")]
            self.column = ""
        else:
            c["data column"].options = [(k.upper(), k) for k in cols]
            self.column = "corrected" if "corrected" in cols else cols[0]
        eb = self.eb_source
        gtabs = eb.gain_tables()  # the phase solutions first: the weblog's gain page
        c["gain table"].options = [(f"{eb.caltables[n]}: {n}", n) for n in gtabs]
        self.gain_table = gtabs[0] if gtabs else None

    @reacts("field")
    def _intent_options(self) -> None:
        """Only the intents observed on the field are offered: no empty combinations."""
        f = self.field
        intents = sorted(self._field_intents.get(f, set())) if f else sorted(set().union(*self._field_intents.values()))
        old = self.intent
        self.controls["intent"].options = [("all intents", "")] + [(i, i) for i in intents]
        self.intent = old if old in intents else ""

    def _filter_antennas(self) -> None:
        """The antenna list shows the names matching the search (and the selected ones): a view, not state."""
        q = self.controls["search"].value.strip().lower()
        keep = list(self.antennas)
        with self.batch():
            self.controls["antennas"].options = [a for a in self._antenna_names if q in a.lower() or a in keep]
            self.antennas = keep  # (a new options list may have cleared the control's value)

    def _control_rows(self) -> list[W.Widget]:
        """The controls in wrapping rows (selection; axes and averaging; progress and status)."""
        c = self.controls
        wrap = W.Layout(flex_flow="row wrap", align_items="flex-start", width="100%")  # wraps at any width
        return [
            W.HBox(
                [
                    c["eb"],
                    c["spw"],
                    W.VBox([c["antennas"], W.HBox([c["search"], c["all antennas"]])]),
                    W.VBox([c["field"], c["intent"], c["correlation"]]),
                ],
                layout=wrap,
            ),
            W.HBox(
                [
                    c["data column"],
                    c["x axis"],
                    c["uv units"],
                    c["colour by"],
                    c["time avg (s)"],
                    c["channel avg"],
                    c["gain table"],
                    c["iterate over"],
                ],
                layout=wrap,
            ),
            W.HBox([self.progress, self.status], layout=wrap),
        ]

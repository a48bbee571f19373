"""The re-imaging panel: choose weighting, taper, iterations and continuum ranges, see the exact tclean call and
the predicted beam and rms as you change them, run tclean (a separate process; the kernel stays free), stop it,
and compare the result with the delivered image (linked pan/zoom).

Thin: state and wiring. The call, the prediction and the run come from :mod:`almaview.imaging.tclean`
(:class:`~almaview.imaging.tclean.ReimagingPlan`, :func:`~almaview.imaging.run_tclean`), the comparison from
:func:`almaview.plots.image.comparison`. The uv coverage is read once per field/spw (cached by the plan).

Examples
--------
>>> import almaview as av
>>> panel = av.widgets.reimage(av.open_delivery("2023.1.01234.S"))   # doctest: +SKIP
>>> panel.controls["robust"].value = -0.5                            # doctest: +SKIP
>>> panel.call                                                       # doctest: +SKIP

Why this module is long: :class:`ReimagePanel` is one app (its controls, the call it shows, the prediction, the run
and the comparison) whose reactions share its state; the work is done in :mod:`almaview.imaging`.
"""

from __future__ import annotations

import html
import threading
import types
import time
from pathlib import Path
from typing import Any, Sequence

import ipywidgets as W
import traitlets

from ..errors import AlmaviewError
from ._base import AppBase, reacts

__all__ = ["ReimagePanel", "reimage"]

DECONVOLVERS = ("hogbom", "clark", "multiscale", "mtmfs")


def _css(name: str) -> str:
    return "almaview-control-" + name.replace(" ", "-").replace("(", "").replace(")", "").replace(".", "")


class ReimagePanel(AppBase):
    """Re-image a member OUS (or the first suitable one of a delivery) of ``kind`` 'cont' or 'cube', alone or
    jointly with the group's other interferometric members (12-m + 7-m: the ``members`` key).

    The state (the public selection keys, :meth:`select` sets several at once): ``kind``, ``field``, ``members``
    (uids), ``robust``, ``uvtaper``, ``niter``, ``nsigma``, ``cell``, ``imsize``, ``deconvolver``, ``specmode``,
    ``nchan``, ``width``, ``spectral_start`` (tclean's ``start``), ``use_contdat``, ``output``. ``controls`` (by description): kind, field,
    members, robust, uvtaper, niter, nsigma, deconvolver, specmode, nchan, width, start, use cont.dat, output
    folder, run, stop. ``call`` is the tclean call shown, ``prediction`` the predicted beam/rms, ``run`` the
    :class:`~almaview.imaging.TcleanRun`, ``comparison`` the Bokeh Panel shown when a run is done, ``message`` the
    last error/notice (text, never a traceback).

    Examples
    --------
    >>> import almaview as av
    >>> panel = ReimagePanel(av.open_delivery(av.demo.build()))               # doctest: +SKIP
    >>> panel.select(members=[m.uid for m in panel.partners], robust=-0.5)    # doctest: +SKIP
    >>> panel.call                                                            # doctest: +SKIP
    """

    kind = traitlets.Unicode("cont").tag(state=True)
    field = traitlets.Unicode("").tag(state=True)
    members = traitlets.List(traitlets.Unicode()).tag(state=True)
    robust = traitlets.Float(0.5).tag(state=True)
    uvtaper = traitlets.Unicode("").tag(state=True)
    niter = traitlets.Int(0).tag(state=True)
    nsigma = traitlets.Float(2.0).tag(state=True)
    cell = traitlets.Unicode("").tag(state=True)
    imsize = traitlets.Int(128).tag(state=True)
    deconvolver = traitlets.Unicode("hogbom").tag(state=True)
    specmode = traitlets.Unicode("cube").tag(state=True)
    nchan = traitlets.Int(-1).tag(state=True)
    width = traitlets.Unicode("").tag(state=True)
    #: tclean's ``start`` (the trait cannot be called ``start``: that is the method that runs tclean)
    spectral_start = traitlets.Unicode("").tag(state=True)
    use_contdat = traitlets.Bool(False).tag(state=True)
    output = traitlets.Unicode("").tag(state=True)

    def __init__(
        self,
        member_or_delivery: Any,
        *,
        kind: str = "cont",
        field: str | None = None,
        output: str | None = None,
        poll_interval: float = 0.5,
        members: Sequence[Any] | None = None,
    ):
        from ..imaging.tclean import _resolve_members, imaging_partners, reimaging_plan

        plan = reimaging_plan(member_or_delivery, kind=kind, field=field, members=members)
        #: the member OUSs that can be imaged with the first one (same group, interferometric, a shared field)
        self.partners = list(plan.members)
        if hasattr(member_or_delivery, "mous"):
            self.partners += [m for m in imaging_partners(member_or_delivery, plan.member) if m not in plan.members]
        self.source = member_or_delivery
        self.poll_interval = poll_interval
        self.plan = plan
        self._plans: dict[tuple, Any] = {self._plan_key(plan.kind, plan.field, plan.members): plan}
        self._resolve = _resolve_members
        self.params: Any = None
        self.prediction: Any = None
        self.run: Any = None
        self.comparison: Any = None
        self.message = ""
        self.timings: dict[str, float] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._output_refused = False
        super().__init__()
        from ._bokeh import load_bokehjs

        load_bokehjs()  # now, from the kernel's thread: the comparison arrives later from the follower thread
        with self.batch():
            self.kind, self.field = plan.kind, plan.field
            self.members = [m.uid for m in plan.members]
            self.output = output or self._default_output()
            self._build()
            self._reset_to_plan()
        if self.params is None and not self.message:  # nothing changed from the traits' defaults: compute once
            self.update()

    @staticmethod
    def _plan_key(kind: str, field: str, members: Sequence[Any]) -> tuple:
        return (kind, field, tuple(m.uid for m in members))

    def _default_output(self) -> str:
        arrays = "+".join(str(m.array or m.uid) for m in self.plan.members) if self.plan.joint else ""
        return str(Path("reimaging") / (f"{self.plan.field}_{self.plan.kind}" + (f"_{arrays}" if arrays else "")))

    @property
    def widget(self) -> ReimagePanel:
        """The panel itself (an ipywidgets VBox; kept for code written when the panel held one)."""
        return self

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        style = {"description_width": "initial"}
        c: dict[str, Any] = {}
        self.bind("kind", W.ToggleButtons(description="kind", options=["cont", "cube"], style=style))
        self.bind("field", W.Dropdown(description="field", options=self._field_options(), style=style))
        labels = [(f"{m.array or '?'} · {m.uid}", m.uid) for m in self.partners]
        self.bind(
            "members",
            W.SelectMultiple(
                description="members",
                options=labels,
                rows=min(max(len(labels), 1), 4),
                style=style,
                layout=W.Layout(width="380px", display="" if len(labels) > 1 else "none"),
                tooltip="image these member OUSs together (12-m + 7-m): every member's calibrated MSs in vis",
            ),
            to_control=tuple,
            from_control=list,
        )
        self.bind(
            "robust",
            W.FloatSlider(
                description="robust",
                min=-2.0,
                max=2.0,
                step=0.1,
                continuous_update=False,
                readout_format=".1f",
                style=style,
            ),
        )
        self.bind(
            "uvtaper",
            W.Text(
                description="uvtaper",
                placeholder="e.g. 1arcsec (empty: none)",
                style=style,
                continuous_update=False,
                layout=W.Layout(width="260px"),
            ),
        )
        self.bind(
            "niter",
            W.BoundedIntText(description="niter", min=0, max=10**9, style=style, layout=W.Layout(width="170px")),
        )
        self.bind(
            "nsigma",
            W.BoundedFloatText(
                description="nsigma",
                min=0.0,
                max=1000.0,
                step=0.5,
                style=style,
                layout=W.Layout(width="150px"),
                tooltip="threshold = nsigma x predicted rms (0: keep the pipeline's)",
            ),
        )
        self.bind(
            "cell", W.Text(description="cell", style=style, continuous_update=False, layout=W.Layout(width="170px"))
        )
        self.bind(
            "imsize",
            W.BoundedIntText(description="imsize", min=16, max=16384, style=style, layout=W.Layout(width="150px")),
        )
        self.bind(
            "deconvolver",
            W.Dropdown(
                description="deconvolver", options=list(DECONVOLVERS), style=style, layout=W.Layout(width="220px")
            ),
        )
        self.bind(
            "specmode",
            W.Dropdown(
                description="specmode", options=["cube", "cubedata"], style=style, layout=W.Layout(width="200px")
            ),
        )
        self.bind("nchan", W.IntText(description="nchan", style=style, layout=W.Layout(width="130px")))
        self.bind(
            "width", W.Text(description="width", style=style, continuous_update=False, layout=W.Layout(width="150px"))
        )
        self.bind(
            "spectral_start",
            W.Text(description="start", style=style, continuous_update=False, layout=W.Layout(width="170px")),
        )
        self.bind("use_contdat", W.Checkbox(description="use cont.dat", indent=False))
        self.bind(
            "output",
            W.Text(description="output folder", style=style, continuous_update=False, layout=W.Layout(width="420px")),
        )
        c = self.controls
        c["run"] = W.Button(description="run", button_style="primary", icon="play")
        c["stop"] = W.Button(description="stop", button_style="danger", icon="stop", disabled=True)
        for name, w in c.items():
            w.add_class(_css(name))
        self.call_text = W.Textarea(
            description="tclean call", disabled=True, style=style, layout=W.Layout(width="100%", height="140px")
        )
        self.call_text.add_class(_css("tclean call"))
        self.prediction_html = W.HTML()
        self.message_html = W.HTML()
        self.progress = W.IntProgress(description="progress", min=0, max=10, value=0, style=style)
        self.progress.add_class(_css("progress"))
        self.status = W.Label("")
        self.result = W.VBox([])
        self.cube_box = W.HBox([c["specmode"], c["nchan"], c["width"], c["start"]])
        c["run"].on_click(lambda _: self.start())
        c["stop"].on_click(lambda _: self.stop())
        self.children = [
            W.HBox([c["kind"], c["field"], c["members"]]),
            W.HBox([c["robust"], c["uvtaper"], c["nsigma"]]),
            W.HBox([c["niter"], c["cell"], c["imsize"], c["deconvolver"], c["use cont.dat"]]),
            self.cube_box,
            self.prediction_html,
            self.call_text,
            W.HBox([c["output folder"], c["run"], c["stop"]]),
            W.HBox([self.progress, self.status]),
            self.message_html,
            self.result,
        ]
        self.add_class("almaview-reimage")

    def _field_options(self) -> list[str]:
        from ..imaging.tclean import _fields

        return _fields(self.plan.member, self.plan.kind) or [self.plan.field]

    def _reset_to_plan(self) -> None:
        """The choices follow the plan's starting call (pipeline's or heuristic) after a kind/field/members change."""
        p = self.plan.base.params
        c = self.controls
        robust, taper = self.plan.pipeline_weighting
        cell = p.get("cell", "")
        imsize = p.get("imsize", 128)
        dec = p.get("deconvolver", "hogbom")
        if dec not in c["deconvolver"].options:
            c["deconvolver"].options = list(c["deconvolver"].options) + [dec]
        cube = self.plan.kind == "cube"
        self.robust = robust if isinstance(robust, float) else 0.5
        self.uvtaper = str(taper or "")
        self.niter = int(p.get("niter", 0) or 0)
        self.cell = str(cell[0] if isinstance(cell, list) and cell else cell)
        self.imsize = int(imsize[0] if isinstance(imsize, list) else imsize)
        self.deconvolver = dec
        self.specmode = p.get("specmode", "cube") if cube and p.get("specmode") in ("cube", "cubedata") else "cube"
        self.nchan = int(p.get("nchan", -1)) if cube else -1
        self.width = str(p.get("width", "")) if cube else ""
        self.spectral_start = str(p.get("start", "")) if cube else ""
        self.use_contdat = False
        self.cube_box.layout.display = None if cube else "none"
        c["use cont.dat"].disabled = cube or self.plan.continuum_ranges() is None

    # ------------------------------------------------------------------ state
    @reacts("kind", "field", "members")
    def _plan_changed(self) -> None:
        from ..imaging.tclean import ReimagingPlan

        if not self.members:  # nothing chosen: the reference member again
            self.members = [self.plan.member.uid]
            return
        old = self.plan
        try:
            chosen = self._resolve(self.source, [m for m in self.partners if m.uid in self.members])
            key = self._plan_key(self.kind, self.field, chosen)
            if key not in self._plans:
                new = ReimagingPlan(chosen[0], kind=self.kind, field=self.field, root=old.root, also=chosen[1:])
                new._coverage = old._coverage  # the same uv data: one read per field/spw/MS set
                self._plans[key] = new
        except AlmaviewError as err:
            self._show_message(_what_to_do(err))
            return
        if self._plans[key] is old:
            return
        default = self.output == self._default_output()
        self.plan = self._plans[key]
        self.controls["field"].options = self._field_options()
        if default or self.output.startswith("reimaging"):
            self.output = self._default_output()
        self._reset_to_plan()

    def apply(self, changed: set[str]) -> None:
        """Recompute what the changed keys affect: the output folder check alone, else the call and prediction
        (:class:`~almaview.widgets._base.AppBase` calls it once per batch of changes).

        Examples
        --------
        >>> panel.select(robust=-0.5, niter=100)   # doctest: +SKIP
        >>> panel.call                             # doctest: +SKIP
        """
        if changed <= {"output"}:
            self._check_output()
        else:
            self.update()

    @property
    def call(self) -> str:
        """The tclean call shown (exact text)."""
        return self.call_text.value

    def choices(self) -> dict[str, Any]:
        """The current choices as keywords of :meth:`ReimagingPlan.parameters`.

        Examples
        --------
        >>> panel.choices()["robust"]   # doctest: +SKIP
        0.5
        """
        out: dict[str, Any] = dict(
            robust=round(float(self.robust), 3),
            uvtaper=self.uvtaper.strip(),
            niter=int(self.niter),
            deconvolver=self.deconvolver,
        )
        p = self.plan.base.params
        cell, imsize = self.cell.strip(), int(self.imsize)
        base_cell = p.get("cell", "")
        if cell and cell != str(base_cell[0] if isinstance(base_cell, list) and base_cell else base_cell):
            out["cell"] = [cell]
        base_imsize = p.get("imsize", 0)
        if imsize != int(base_imsize[0] if isinstance(base_imsize, list) else base_imsize or 0):
            out["imsize"] = [imsize, imsize]
        nsigma = float(self.nsigma)
        out["nsigma"] = nsigma if nsigma > 0 else None
        if self.plan.kind == "cube":
            out["specmode"] = self.specmode
            out["nchan"] = int(self.nchan)
            for name, key in (("width", "width"), ("start", "spectral_start")):
                text = getattr(self, key).strip()
                if text:
                    out[name] = int(text) if text.lstrip("-").isdigit() else text
        elif self.use_contdat:
            out["contdat"] = self.plan.continuum_ranges()
        return out

    def _show_message(self, text: str, error: bool = True) -> None:
        self.message = text
        colour = "#b00020" if error else "#1b5e20"
        self.message_html.value = f'<span style="color:{colour}">{html.escape(text)}</span>' if text else ""

    def update(self) -> None:
        """Recompute the call and the predicted beam/rms from the state (called after every change)."""
        t0 = time.perf_counter()
        try:
            ch = self.choices()
            self.prediction = self.plan.predict(
                robust=ch["robust"], uvtaper=ch["uvtaper"], cell=ch.get("cell"), imsize=ch.get("imsize")
            )
            params = self.plan.parameters(**ch)
            if params.params.get("deconvolver") == "mtmfs" and int(params.params.get("nterms", 1)) < 2:
                params = params.with_(nterms=2)
        except AlmaviewError as err:
            self.params = None  # "run" stays off until the choices make a valid call again
            self.controls["run"].disabled = True
            self._show_message(_what_to_do(err))
            self.timings["update"] = time.perf_counter() - t0
            return
        self.params = params
        self.call_text.value = params.call()
        pred = self.prediction
        rms = "unknown" if pred.predicted_rms is None else f"{pred.predicted_rms * 1e3:.3g} mJy/beam"
        joint = (
            f"<b>joint</b> {html.escape(' + '.join(str(m.array or m.uid) for m in self.plan.members))} · "
            if self.plan.joint
            else ""
        )
        self.prediction_html.value = (
            f'{joint}<b>predicted beam</b> {pred.beam.major:.2f}" × {pred.beam.minor:.2f}" PA {pred.beam.pa:.0f}° · '
            f"<b>predicted rms</b> {rms} · threshold {html.escape(str(params.params.get('threshold', '')))}"
            f"<br><small>{html.escape(pred.summary())}</small>"
        )
        self._show_message("")
        self._check_output()
        self.timings["update"] = time.perf_counter() - t0

    def _check_output(self) -> Path | None:
        try:
            out = self.plan.check_output(self.output.strip() or ".")
        except AlmaviewError as err:
            self._show_message(_what_to_do(err))
            self._output_refused = True
            self.controls["run"].disabled = True
            return None
        if self._output_refused:
            self._output_refused = False
            self._show_message("")
        running = self.run is not None and self.run.state == "running"
        self.controls["run"].disabled = running or self.params is None
        return out

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        """Start tclean with the call shown (what "run" does); progress is followed in a background thread."""
        from ..imaging.tclean import run_tclean

        if self.run is not None and self.run.state == "running":
            return
        self.update()
        out = self._check_output()
        if out is None or self.params is None:
            return
        self.comparison = None
        self.result.children = ()
        self.progress.value, self.progress.max, self.progress.bar_style = 0, 10, ""
        self._t_start = time.perf_counter()
        try:
            self.run = run_tclean(self.params, out, wait=False, progress=False)
        except AlmaviewError as err:
            self._show_message(_what_to_do(err))
            return
        self.status.value = f"running tclean into {out} ..."
        self._show_message("")
        self.controls["run"].disabled = True
        self.controls["stop"].disabled = False
        self._thread = threading.Thread(target=self._follow, name="almaview-reimage", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the running tclean (what "stop" does): nothing is left in the output folder."""
        run = self.run
        if run is None:
            return
        with self._lock:
            run.stop()
        self.wait(timeout=30)

    def wait(self, timeout: float | None = None) -> str | None:
        """Block until the follower thread ends (the comparison is shown when the run finished); the run's state.

        Examples
        --------
        >>> panel.controls["run"].click(); panel.wait()   # doctest: +SKIP
        'done'
        """
        if self._thread is not None:
            self._thread.join(timeout)
        return None if self.run is None else self.run.state

    def _follow(self) -> None:
        run = self.run
        state = "running"
        try:
            while state == "running":
                time.sleep(self.poll_interval)
                with self._lock:
                    state = run.poll()
                cycles = run.major_cycles
                if cycles >= self.progress.max:
                    self.progress.max = cycles + 5
                self.progress.value = cycles
                peak = "" if run.peak_residual is None else f" · peak residual {run.peak_residual:.3g} Jy/beam"
                self.status.value = f"major cycle {cycles}{peak}" if state == "running" else self.status.value
            if state == "done":
                self.progress.value = self.progress.max
                self.progress.bar_style = "success"
                self._show_comparison()
                self.timings["run_to_comparison"] = time.perf_counter() - self._t_start
                self.status.value = (
                    f"done in {self.timings['run_to_comparison']:.1f} s: {len(run.products)} products in {run.outdir}"
                )
            else:
                self.progress.bar_style = "warning"
                self.status.value = "stopped: nothing was written in the output folder"
        except AlmaviewError as err:
            self.progress.bar_style = "danger"
            self.status.value = "failed"
            self._show_message(_what_to_do(err))
        except Exception as err:  # noqa: BLE001 - shown in the widget, not lost in a thread
            self.progress.bar_style = "danger"
            self.status.value = "failed"
            self._show_message(f"{type(err).__name__}: {err}")
        finally:
            self.controls["stop"].disabled = True
            self.controls["run"].disabled = False

    def _show_comparison(self) -> None:
        from ..io.image import open_image
        from ..plots.image import comparison

        products = self.run.products
        key = next(
            (k for k in ("image.pbcor.fits", "image.tt0.pbcor.fits", "image.fits", "image.tt0.fits") if k in products),
            None,
        )
        if key is None:
            raise AlmaviewError(self.run.outdir, "tclean finished but exported no image FITS file")
        reimaged = open_image(products[key])
        self.reimaged = reimaged
        delivered = self.plan.delivered
        if delivered is None:
            from ..plots.image import image_plane

            self.comparison = image_plane(reimaged, reimaged.sizes.get("frequency", 1) // 2)
            note = "no delivered image of this kind/field to compare with"
        else:
            left = open_image(delivered.source)
            channel = left.sizes.get("frequency", 1) // 2
            self.comparison = comparison(left, reimaged, channel=channel, names=["delivered", "reimaged"])
            note = f"left: delivered {Path(delivered.source).name} · right: {Path(products[key]).name}"
        self.result.children = (W.HTML(f"<small>{html.escape(note)}</small>"), _bokeh(self.comparison.layout))


def _bokeh(layout: Any) -> Any:
    from ._bokeh import bokeh_view

    return bokeh_view(layout)


def _what_to_do(err: AlmaviewError) -> str:
    text = str(err)
    if "uvtaper" in text:
        return f"{text}. Type a taper such as 1arcsec or 0.5arcsec, or leave it empty for none."
    return text


def reimage(
    member_or_delivery: Any,
    *,
    kind: str = "cont",
    field: str | None = None,
    output: str | None = None,
    members: Sequence[Any] | None = None,
) -> ReimagePanel:
    """The re-imaging panel for a delivery (path or ``av.open_delivery``) or a member OUS; ``members`` (uids or
    array names, e.g. ``["12m", "7m"]``) starts it on joint imaging of those member OUSs.

    Examples
    --------
    >>> import almaview as av
    >>> av.widgets.reimage("2023.1.01234.S", kind="cube")   # doctest: +SKIP
    """
    from ..delivery import open_delivery
    import os

    if isinstance(member_or_delivery, (str, os.PathLike)):
        member_or_delivery = open_delivery(member_or_delivery)
    return ReimagePanel(member_or_delivery, kind=kind, field=field, output=output, members=members)


class _CallableModule(types.ModuleType):
    """``av.widgets.reimage(...)`` works whether the name resolves to this module or to :func:`reimage`."""

    def __call__(self, *args: Any, **kwargs: Any) -> ReimagePanel:
        return reimage(*args, **kwargs)


import sys as _sys  # noqa: E402

_sys.modules[__name__].__class__ = _CallableModule

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
"""

from __future__ import annotations

import html
import threading
import types
import time
from pathlib import Path
from typing import Any

import ipywidgets as W

from ..errors import AlmaviewError

__all__ = ["ReimagePanel", "reimage"]

DECONVOLVERS = ("hogbom", "clark", "multiscale", "mtmfs")


def _css(name: str) -> str:
    return "almaview-control-" + name.replace(" ", "-").replace("(", "").replace(")", "").replace(".", "")


class ReimagePanel:
    """Re-image a member OUS (or the first suitable one of a delivery) of ``kind`` 'cont' or 'cube'.

    ``controls`` (by description): kind, field, robust, uvtaper, niter, nsigma, deconvolver, specmode, nchan,
    width, start, use cont.dat, output folder, run, stop. ``call`` is the tclean call shown, ``prediction`` the
    predicted beam/rms, ``run`` the :class:`~almaview.imaging.TcleanRun`, ``comparison`` the Bokeh Panel shown
    when a run is done, ``message`` the last error/notice (text, never a traceback).
    """

    def __init__(
        self,
        member_or_delivery: Any,
        *,
        kind: str = "cont",
        field: str | None = None,
        output: str | None = None,
        poll_interval: float = 0.5,
    ):
        from ..imaging.tclean import reimaging_plan

        self.source = member_or_delivery
        self.poll_interval = poll_interval
        self.plan = reimaging_plan(member_or_delivery, kind=kind, field=field)
        self._plans: dict[tuple[str, str], Any] = {(self.plan.kind, self.plan.field): self.plan}
        self.params: Any = None
        self.prediction: Any = None
        self.run: Any = None
        self.comparison: Any = None
        self.message = ""
        self.timings: dict[str, float] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._updating = False
        self._output_refused = False
        from ._bokeh import load_bokehjs

        load_bokehjs()  # now, from the kernel's thread: the comparison arrives later from the follower thread
        self._build(output)
        self._reset_controls()
        self.update()

    # ------------------------------------------------------------------ layout
    def _build(self, output: str | None) -> None:
        style = {"description_width": "initial"}
        c: dict[str, Any] = {}
        c["kind"] = W.ToggleButtons(description="kind", options=["cont", "cube"], value=self.plan.kind, style=style)
        c["field"] = W.Dropdown(description="field", options=self._field_options(), value=self.plan.field, style=style)
        c["robust"] = W.FloatSlider(
            description="robust",
            min=-2.0,
            max=2.0,
            step=0.1,
            value=0.5,
            continuous_update=False,
            readout_format=".1f",
            style=style,
        )
        c["uvtaper"] = W.Text(
            description="uvtaper",
            placeholder="e.g. 1arcsec (empty: none)",
            style=style,
            continuous_update=False,
            layout=W.Layout(width="260px"),
        )
        c["niter"] = W.BoundedIntText(
            description="niter", min=0, max=10**9, value=0, style=style, layout=W.Layout(width="170px")
        )
        c["nsigma"] = W.BoundedFloatText(
            description="nsigma",
            min=0.0,
            max=1000.0,
            step=0.5,
            value=2.0,
            style=style,
            layout=W.Layout(width="150px"),
            tooltip="threshold = nsigma x predicted rms (0: keep the pipeline's)",
        )
        c["cell"] = W.Text(description="cell", style=style, continuous_update=False, layout=W.Layout(width="170px"))
        c["imsize"] = W.BoundedIntText(
            description="imsize", min=16, max=16384, value=128, style=style, layout=W.Layout(width="150px")
        )
        c["deconvolver"] = W.Dropdown(
            description="deconvolver", options=list(DECONVOLVERS), style=style, layout=W.Layout(width="220px")
        )
        c["specmode"] = W.Dropdown(
            description="specmode",
            options=["cube", "cubedata"],
            value="cube",
            style=style,
            layout=W.Layout(width="200px"),
        )
        c["nchan"] = W.IntText(description="nchan", value=-1, style=style, layout=W.Layout(width="130px"))
        c["width"] = W.Text(description="width", style=style, continuous_update=False, layout=W.Layout(width="150px"))
        c["start"] = W.Text(description="start", style=style, continuous_update=False, layout=W.Layout(width="170px"))
        c["use cont.dat"] = W.Checkbox(description="use cont.dat", value=False, indent=False)
        c["output folder"] = W.Text(
            description="output folder",
            style=style,
            continuous_update=False,
            value=output or str(Path("reimaging") / f"{self.plan.field}_{self.plan.kind}"),
            layout=W.Layout(width="420px"),
        )
        c["run"] = W.Button(description="run", button_style="primary", icon="play")
        c["stop"] = W.Button(description="stop", button_style="danger", icon="stop", disabled=True)
        for name, w in c.items():
            w.add_class(_css(name))
        self.controls = c
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
        for name in (
            "robust",
            "uvtaper",
            "niter",
            "nsigma",
            "cell",
            "imsize",
            "deconvolver",
            "specmode",
            "nchan",
            "width",
            "start",
            "use cont.dat",
        ):
            c[name].observe(lambda ch: self.update(), "value")
        c["kind"].observe(lambda ch: self._plan_changed(), "value")
        c["field"].observe(lambda ch: self._plan_changed(), "value")
        c["output folder"].observe(lambda ch: self._check_output(), "value")
        c["run"].on_click(lambda _: self.start())
        c["stop"].on_click(lambda _: self.stop())
        self.widget = W.VBox(
            [
                W.HBox([c["kind"], c["field"]]),
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
        )
        self.widget.add_class("almaview-reimage")

    def _field_options(self) -> list[str]:
        from ..imaging.tclean import _fields

        return _fields(self.plan.member, self.plan.kind) or [self.plan.field]

    def _reset_controls(self) -> None:
        """Controls follow the plan's starting call (pipeline's or heuristic) after a kind/field change."""
        p = self.plan.base.params
        c = self.controls
        self._updating = True
        try:
            robust, taper = self.plan.pipeline_weighting
            c["robust"].value = robust if isinstance(robust, float) else 0.5
            c["uvtaper"].value = str(taper or "")
            c["niter"].value = int(p.get("niter", 0) or 0)
            cell = p.get("cell", "")
            c["cell"].value = str(cell[0] if isinstance(cell, list) and cell else cell)
            imsize = p.get("imsize", 128)
            c["imsize"].value = int(imsize[0] if isinstance(imsize, list) else imsize)
            dec = p.get("deconvolver", "hogbom")
            if dec not in c["deconvolver"].options:
                c["deconvolver"].options = list(c["deconvolver"].options) + [dec]
            c["deconvolver"].value = dec
            cube = self.plan.kind == "cube"
            c["specmode"].value = (
                p.get("specmode", "cube") if cube and p.get("specmode") in ("cube", "cubedata") else "cube"
            )
            c["nchan"].value = int(p.get("nchan", -1)) if cube else -1
            c["width"].value = str(p.get("width", "")) if cube else ""
            c["start"].value = str(p.get("start", "")) if cube else ""
            self.cube_box.layout.display = None if cube else "none"
            ranges = self.plan.continuum_ranges()
            c["use cont.dat"].disabled = cube or ranges is None
            c["use cont.dat"].value = False
        finally:
            self._updating = False

    # ------------------------------------------------------------------ state
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
        c = self.controls
        out: dict[str, Any] = dict(
            robust=round(float(c["robust"].value), 3),
            uvtaper=c["uvtaper"].value.strip(),
            niter=int(c["niter"].value),
            deconvolver=c["deconvolver"].value,
        )
        p = self.plan.base.params
        cell, imsize = c["cell"].value.strip(), int(c["imsize"].value)
        base_cell = p.get("cell", "")
        if cell and cell != str(base_cell[0] if isinstance(base_cell, list) and base_cell else base_cell):
            out["cell"] = [cell]
        base_imsize = p.get("imsize", 0)
        if imsize != int(base_imsize[0] if isinstance(base_imsize, list) else base_imsize or 0):
            out["imsize"] = [imsize, imsize]
        nsigma = float(c["nsigma"].value)
        out["nsigma"] = nsigma if nsigma > 0 else None
        if self.plan.kind == "cube":
            out["specmode"] = c["specmode"].value
            out["nchan"] = int(c["nchan"].value)
            for name in ("width", "start"):
                text = c[name].value.strip()
                if text:
                    out[name] = int(text) if text.lstrip("-").isdigit() else text
        elif c["use cont.dat"].value:
            out["contdat"] = self.plan.continuum_ranges()
        return out

    def _show_message(self, text: str, error: bool = True) -> None:
        self.message = text
        colour = "#b00020" if error else "#1b5e20"
        self.message_html.value = f'<span style="color:{colour}">{html.escape(text)}</span>' if text else ""

    def update(self) -> None:
        """Recompute the call and the predicted beam/rms from the controls (called on every change)."""
        if self._updating:
            return
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
        self.prediction_html.value = (
            f'<b>predicted beam</b> {pred.beam.major:.2f}" × {pred.beam.minor:.2f}" PA {pred.beam.pa:.0f}° · '
            f"<b>predicted rms</b> {rms} · threshold {html.escape(str(params.params.get('threshold', '')))}"
            f"<br><small>{html.escape(pred.summary())}</small>"
        )
        self._show_message("")
        self._check_output()
        self.timings["update"] = time.perf_counter() - t0

    def _plan_changed(self) -> None:
        from ..imaging.tclean import ReimagingPlan

        kind, field = self.controls["kind"].value, self.controls["field"].value
        key = (kind, field)
        try:
            if key not in self._plans:
                old = self.plan
                new = ReimagingPlan(old.member, kind=kind, field=field, root=old.root)
                new._coverage = old._coverage  # the same uv data: one read per field/spw
                self._plans[key] = new
        except AlmaviewError as err:
            self._show_message(_what_to_do(err))
            return
        self.plan = self._plans[key]
        folder = self.controls["output folder"]
        if folder.value.startswith("reimaging"):
            folder.value = str(Path("reimaging") / f"{self.plan.field}_{self.plan.kind}")
        self._reset_controls()
        self.update()

    def _check_output(self) -> Path | None:
        try:
            out = self.plan.check_output(self.controls["output folder"].value.strip() or ".")
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

    def _ipython_display_(self) -> None:  # pragma: no cover - exercised in the browser
        from IPython.display import display

        from ._bokeh import load_bokehjs

        load_bokehjs()  # a reloaded page (a new client) has no BokehJS until it is published again
        display(self.widget)


def _bokeh(layout: Any) -> Any:
    from ._bokeh import bokeh_view

    return bokeh_view(layout)


def _what_to_do(err: AlmaviewError) -> str:
    text = str(err)
    if "uvtaper" in text:
        return f"{text}. Type a taper such as 1arcsec or 0.5arcsec, or leave it empty for none."
    return text


def reimage(
    member_or_delivery: Any, *, kind: str = "cont", field: str | None = None, output: str | None = None
) -> ReimagePanel:
    """The re-imaging panel for a delivery (path or ``av.open_delivery``) or a member OUS.

    Examples
    --------
    >>> import almaview as av
    >>> av.widgets.reimage("2023.1.01234.S", kind="cube")   # doctest: +SKIP
    """
    from ..delivery import open_delivery
    import os

    if isinstance(member_or_delivery, (str, os.PathLike)):
        member_or_delivery = open_delivery(member_or_delivery)
    return ReimagePanel(member_or_delivery, kind=kind, field=field, output=output)


class _CallableModule(types.ModuleType):
    """``av.widgets.reimage(...)`` works whether the name resolves to this module or to :func:`reimage`."""

    def __call__(self, *args: Any, **kwargs: Any) -> ReimagePanel:
        return reimage(*args, **kwargs)


import sys as _sys  # noqa: E402

_sys.modules[__name__].__class__ = _CallableModule

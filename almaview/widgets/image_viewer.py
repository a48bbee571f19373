"""The image viewer widget: channel slider and play (frequency/velocity label), stretch, clip and colour map in
the browser, pb-corrected / flat-noise toggle, statistics, pixel/box/circle -> spectrum with cont.dat ranges
shaded, moment maps, and side-by-side comparison of images.

Thin: state and wiring only; the figures come from :mod:`almaview.plots.image`. BokehJS is loaded
inline (no CDN). Changing the colour map, stretch, clip or limits is a Bokeh JS callback (no kernel
round-trip); a channel change re-reads one plane and updates the ColumnDataSources in place, sent to the page
as two Bokeh patches (never echoed back): the colour limits and the plane (uint16 codes) as soon as they are read, then
the hover values, beam, contours and title; the next channel is read ahead in a thread during Play.
``benchmarks/bench_viewer_browser.py`` measures where a channel change's time goes in JupyterLab.

Examples
--------
>>> from almaview.widgets.image_viewer import ImageViewer
>>> v = ImageViewer("member.uid___A001_X1.IRAS16293-2422_sci.spw0.cube.I.pbcor.fits")   # doctest: +SKIP
>>> v                                                                                   # doctest: +SKIP

Why this module is long: :class:`ImageViewer` is one app whose state, reactions, prefetching, region events and page
layout read together; the drawing, reading and statistics it composes live in plots/ and analysis/.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from typing import Any, Sequence

import numpy as np
import xarray as xr

from ..plots import Panel
import traitlets

from ._base import AppBase
from ._bokeh import NO_ECHO_JS, batched_view, bokeh_view, load_bokehjs, no_echo  # noqa: F401 (NO_ECHO_JS: old name)
from ._bokeh import _batched_model_class
from ..analysis import image as aimage
from ..analysis.statistics import dynamic_range
from ..plots import image as pimage

__all__ = ["ImageViewer", "PALETTES", "REGIONS", "compare"]

PALETTES = pimage.PALETTES
#: Region modes for spectra: a clicked pixel, a drawn box, the circle inscribed in a drawn box.
REGIONS = ("pixel", "box", "circle")
MODES = ("pbcor", "flat noise")


def _open(obj: Any) -> xr.DataArray | None:
    from ..io.image import open_image

    if obj is None or isinstance(obj, xr.DataArray):
        return obj
    return open_image(obj)


def _flat_from_pb(image: xr.DataArray, pb: xr.DataArray) -> xr.DataArray:
    """pbcor x pb (the flat-noise image), lazily, plane by plane; a pb with one channel serves every channel."""
    spec = aimage.spectral_axis(image)
    pbd = pb
    if "stokes" in pbd.dims and "stokes" in image.dims and pbd.sizes["stokes"] != image.sizes["stokes"]:
        pbd = pbd.isel(stokes=[0] * image.sizes["stokes"])
    pspec = aimage.spectral_axis(pbd)
    if spec and pspec and pbd.sizes[pspec] != image.sizes[spec]:
        pbd = pbd.isel({pspec: [0] * image.sizes[spec]})
    if pbd.sizes["y"] != image.sizes["y"] or pbd.sizes["x"] != image.sizes["x"]:
        from ..errors import AlmaviewError

        raise AlmaviewError(
            f"{pb.name}: the pb is {pbd.sizes['y']}x{pbd.sizes['x']} pixels, the image "
            f"{image.sizes['y']}x{image.sizes['x']}; give the pb of the same image (or flat=)"
        )
    order = [d for d in image.dims if d in pbd.dims]
    data = pbd.transpose(*order).data
    for i, d in enumerate(image.dims):
        if d not in pbd.dims:
            data = np.expand_dims(data, i)
    out = image.copy(data=image.data * data)
    return out.rename(f"{image.name} × pb")


def _bokeh_view(layout: Any, source: Any, mappers: Sequence[Any] = ()) -> Any:
    """A jupyter_bokeh view of ``layout`` that sends the changes of a ``batch()`` as one patch (see
    :func:`almaview.widgets._bokeh.batched_view`)."""
    return batched_view(layout, source, mappers)


def _plane_view(layout: Any, source: Any, mappers: Sequence[Any] = (), grid: Any = None, limits: Any = None) -> Any:
    """:func:`_bokeh_view` whose patches send ``source``'s 'image' plane as uint16 codes with their offset and scale
    (:func:`almaview.plots.image.encode_plane`: half the bytes of float32), decoded to float32 in the page
    (:data:`almaview.plots.image.PLANE_DECODE_JS`) before it is coloured, through a table of its codes' colours
    (:data:`almaview.plots.image.PLANE_COLOUR_JS`, with ``mappers[0]``, the plane's mapper). The kernel's source keeps
    float32. ``limits``: the panel's 'limits' source, whose colour callbacks run in the page before a new plane is
    stored, so the plane is coloured with its own channel's limits (not the previous channel's)."""
    from bokeh.models import CustomJS, GlyphRenderer

    layout = no_echo(layout, source)
    decode = CustomJS(args={"src": source, "limits": limits}, code=pimage.PLANE_DECODE_JS)
    layout.document.js_on_event("document_ready", decode)
    if mappers:  # the plane's mapper colours coded planes through a table of their 65536 values
        colour = CustomJS(args={"mapper": mappers[0]}, code=pimage.PLANE_COLOUR_JS)
        layout.document.js_on_event("document_ready", colour)
    plane = next((r for r in layout.select({"type": GlyphRenderer}) if r.name == "plane"), None)
    if plane is not None:  # the coloured plane goes to its canvas without reading the canvas back
        put = CustomJS(args={"plane": plane}, code=pimage.PLANE_PUT_JS)
        layout.document.js_on_event("document_ready", put)
        source.js_on_change("data", put)
    if grid is not None:  # the invisible hover grid is hit-tested, never painted (once its views exist)
        paintless = CustomJS(args={"grid": grid}, code=pimage.PAINTLESS_GRID_JS)
        layout.document.js_on_event("document_ready", paintless)
        grid.data_source.js_on_change("data", paintless)
    return _plane_model_class()(layout, source, mappers=mappers)


@functools.cache
def _plane_model_class() -> type:
    from bokeh.document.events import ColumnDataChangedEvent

    class PlaneBokehModel(_batched_model_class()):
        """A batched view whose patches of the plane source carry the plane as uint16 codes (see :func:`_plane_view`)."""

        def __init__(self, model: Any, source: Any, mappers: Sequence[Any] = (), **kwargs: Any) -> None:
            self._plane_source = source
            super().__init__(model, mappers=mappers, **kwargs)

        def _send_patch(self, events: list) -> None:
            super()._send_patch([self._encoded(e) for e in events])

        def _encoded(self, event: Any) -> Any:
            if not isinstance(event, ColumnDataChangedEvent) or event.model is not self._plane_source:
                return event
            data = event.data if event.data is not None else event.model.data
            cols = list(event.cols) if event.cols is not None else list(data)
            if "image" not in cols or not len(data["image"]):
                return event
            new = {c: data[c] for c in cols if c in data}
            codes, offset, scale = pimage.encode_plane(np.asarray(new["image"][0]))
            new.update(image=[codes], image_offset=[offset], image_scale=[scale])
            return ColumnDataChangedEvent(
                event.document, event.model, event.attr, data=new, cols=list(new), setter=event.setter
            )

    return PlaneBokehModel


def _show(out: Any, panel: Panel) -> None:
    """Replace an Output widget's content with a panel (no print: works in a callback and outside a kernel)."""
    out.outputs = ()  # (clear_output would print terminal escapes outside a kernel)
    out.append_display_data(bokeh_view(panel.layout))


class ImageViewer(AppBase):
    """A viewer of one image (FITS or CASA; a path or :func:`almaview.open_image`'s DataArray).

    An :class:`~almaview.widgets._base.AppBase`: the state is ``channel``, ``mode`` ('pbcor' / 'flat noise'),
    ``region`` (what a click or a drawn box gives a spectrum of: 'pixel', 'box', 'circle') and ``playing`` (the
    Play widget runs: smaller planes); ``select(channel=..., mode=...)`` sets several at once, the controls are
    views of these keys. The widget's children are built on first display (or :meth:`widget`).

    ``mask``/``pb``: overlays (mask contour per channel, pb contours at ``pb_levels``). ``flat``: the
    flat-noise image; when only ``pb`` is given, flat noise = image × pb (lazy). Either offers a
    pb-corrected / flat-noise toggle. ``ranges``: cont.dat ``[(low_hz, high_hz), ...]`` shaded on spectra.
    ``restfreq`` overrides the header's; ``convention`` 'radio' or 'optical'. ``rms`` fixes the noise used
    for SNR and moment thresholds (default: robust rms of the shown channel outside the mask).

    Examples
    --------
    >>> v = ImageViewer("cube.pbcor.fits", pb="cube.pb.fits", mask="cube.mask.fits")   # doctest: +SKIP
    >>> v.set_channel(30); v.statistics()["rms"]                                      # doctest: +SKIP
    >>> v.spectrum(circle=(64, 64, 5)).data.value.max()                               # doctest: +SKIP
    """

    channel = traitlets.Int(0).tag(state=True)
    mode = traitlets.Unicode("pbcor").tag(state=True)
    region = traitlets.Unicode("pixel").tag(state=True)
    playing = traitlets.Bool(False).tag(state=True)

    def __init__(
        self,
        image: xr.DataArray | str | os.PathLike,
        *,
        mask: Any = None,
        pb: Any = None,
        flat: Any = None,
        ranges: Sequence[tuple[float, float]] = (),
        restfreq: float | None = None,
        convention: str = "radio",
        max_pixels: int = 1024,
        stretch: str = "linear",
        clip: float | None = None,
        palette: str = "Inferno256",
        rms: float | None = None,
        pb_levels: Sequence[float] = (0.2, 0.5),
        play_pixels: int | None = 512,
    ):
        self.image = _open(image)
        self.mask = _open(mask)
        self.pb = _open(pb)
        flat_image = self._flat_given = _open(flat)
        self._spectral_views: dict[str, xr.DataArray] = {}
        if flat_image is None and self.pb is not None:
            flat_image = _flat_from_pb(self.image, self.pb)
        self.flat = flat_image
        self.ranges = list(ranges)
        self.restfreq = restfreq or float(self.image.attrs.get("restfreq", np.nan))
        if convention not in ("radio", "optical"):
            raise ValueError(f"convention {convention!r}: expected 'radio' or 'optical'")
        self.convention = convention
        self.max_pixels = max_pixels
        #: While the Play widget runs, planes are shown decimated to this size (the full ``max_pixels`` plane
        #: again when it stops): a quarter of the bytes and of the browser's work per frame. None: never.
        self.play_pixels = play_pixels
        self.rms = rms
        self.palette = palette
        self.spectral = aimage.spectral_axis(self.image)
        self.nchan = self.image.sizes[self.spectral] if self.spectral else 1
        start = self.nchan // 2
        self._shown_channel = start  # the channel the panel shows (the prefetch reads ahead from it)
        self.panel = pimage.image_plane(
            self.image,
            start,
            mask=self.mask,
            pb=self.pb,
            max_pixels=max_pixels,
            stretch=stretch,
            clip=clip,
            palette=palette,
            rms=rms,
            pb_levels=pb_levels,
        )
        self.controls: dict[str, Any] = {}  #: the widget's controls by name, once :meth:`widget` was called
        self.moment_panel: Panel | None = None  #: the last moment map shown by the widget
        self.spectrum_panel: Panel | None = None  #: the last spectrum shown by the widget
        self._spectrum_view: Any = None  # the BokehModel showing spectrum_panel (updated in place)
        self.links: list[Any] = []  #: browser-side links (play -> channel slider), once :meth:`widget` was called
        self._widget: Any = None
        self._bokeh_view: Any = None
        self._prefetch: dict[tuple[str, int], Any] = {}  # (mode, channel) -> Future of prepare_plane
        self._pool: Any = None
        self._read_lock = threading.Lock()
        super().__init__()  # the state starts as the panel was built: channel nchan // 2 (its default)
        self.add_class("almaview-image-viewer")

    # ------------------------------------------------------------------ state
    @property
    def shown(self) -> xr.DataArray:
        """The image shown: the pb-corrected image or (mode 'flat noise') the flat-noise one."""
        return self.flat if self.mode == "flat noise" and self.flat is not None else self.image

    def channel_label(self, channel: int) -> str:
        """'230.538000 GHz · 0.00 km/s (LSRK, radio)' for a channel.

        Examples
        --------
        >>> ImageViewer.channel_label  # doctest: +ELLIPSIS
        <function ...>
        """
        if not self.spectral:
            return "continuum"
        f = float(self.image[self.spectral].values[channel])
        frame = self.image.attrs.get("specsys", "")
        if self.spectral == "velocity":  # a velocity axis (VRAD/VOPT/VELO-LSR): its values are m/s, not Hz
            return f"{f / 1e3:.2f} km/s ({frame})" if frame else f"{f / 1e3:.2f} km/s"
        if not (f > 0 and math.isfinite(f)):
            return f"{f:g} Hz ({frame})" if frame else f"{f:g} Hz"
        if self.spectral == "frequency" and self.restfreq == self.restfreq and self.restfreq > 0:
            v = float(aimage.velocity_axis(np.array([f]), self.restfreq, self.convention)[0])
            return f"{f / 1e9:.6f} GHz · {v:.2f} km/s ({frame}, {self.convention})"
        return f"{f / 1e9:.6f} GHz ({frame})"

    @traitlets.default("channel")
    def _middle_channel(self) -> int:
        return self.nchan // 2

    @traitlets.validate("channel")
    def _valid_channel(self, proposal: dict) -> int:
        channel = int(proposal["value"])
        if not 0 <= channel < self.nchan:
            raise traitlets.TraitError(f"channel {channel}: the image has channels 0..{self.nchan - 1}")
        return channel

    @traitlets.validate("mode")
    def _valid_mode(self, proposal: dict) -> str:
        mode = proposal["value"]
        if mode not in MODES:
            raise traitlets.TraitError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
        if mode == "flat noise" and self.flat is None:
            raise traitlets.TraitError("no flat-noise image: give flat= (the .image) or pb= (flat noise = pbcor x pb)")
        return mode

    @traitlets.validate("region")
    def _valid_region(self, proposal: dict) -> str:
        if proposal["value"] not in REGIONS:
            raise traitlets.TraitError(f"region {proposal['value']!r}: expected one of {', '.join(REGIONS)}")
        return proposal["value"]

    def set_channel(self, channel: int) -> None:
        """Show ``channel``: reads one (decimated) plane and updates the figure's sources in place.

        Examples
        --------
        >>> v = ImageViewer("cube.pbcor.fits")   # doctest: +SKIP
        >>> v.set_channel(12)                    # doctest: +SKIP
        """
        channel = int(channel)
        if not 0 <= channel < self.nchan:
            raise ValueError(f"channel {channel}: the image has channels 0..{self.nchan - 1}")
        self.channel = channel

    def set_mode(self, mode: str) -> None:
        """Show the pb-corrected ('pbcor') or the flat-noise ('flat noise') image.

        Examples
        --------
        >>> v = ImageViewer("cube.pbcor.fits", pb="cube.pb.fits")   # doctest: +SKIP
        >>> v.set_mode("flat noise")                                # doctest: +SKIP
        """
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
        if mode == "flat noise" and self.flat is None:
            raise ValueError("no flat-noise image: give flat= (the .image) or pb= (flat noise = pbcor x pb)")
        self.mode = mode

    def apply(self, changed: set[str]) -> None:
        """Show what the changed keys affect: a new plane for ``channel``/``mode`` (and for ``playing`` when the
        shown size changes), the drag tool for ``region``; labels and statistics follow. Two Bokeh patches: the plane
        with its colour limits first (the page paints it while the kernel computes the rest), then the rest.

        Examples
        --------
        >>> v = ImageViewer("cube.pbcor.fits", pb="cube.pb.fits"); v.widget()   # doctest: +SKIP
        >>> v.select(channel=30, mode="flat noise")                              # doctest: +SKIP
        """
        if "region" in changed:
            self._region_mode(self.region)
        replot = bool(changed & {"channel", "mode"})
        if "playing" in changed and not self.playing and self.panel.data.attrs.get("step") != self._full_step():
            replot = True  # Play stopped: the full plane again
        if replot:
            step = self.channel - self._shown_channel
            if self._bokeh_view is not None:
                with self._bokeh_view.batch():
                    self._update()
            else:
                self._update()
            self._shown_channel = self.channel
            if "label" in self.controls:
                self.controls["label"].value = self.channel_label(self.channel)
            if "stats" in self.controls:
                self.controls["stats"].value = self._stats_html()
            if "channel" in changed and self._widget is not None:
                self._prefetch_next(step)

    def _shown_pixels(self) -> int:
        if self.playing and self.play_pixels and self.play_pixels < self.max_pixels:
            return int(self.play_pixels)
        return int(self.max_pixels)

    def _update(self) -> None:
        prepared = self._prefetched(self.mode, self.channel)
        with self._read_lock:
            if prepared is None:
                prepared = self._prepare(self._plane_view(), self.channel, self._shown_pixels())
            pimage.update_plane(
                self.panel,
                self.shown,
                self.channel,
                mask=self.mask,
                pb=self.pb,
                rms=self.rms,
                prepared=prepared,
                max_pixels=self._shown_pixels(),
                # the plane and its limits go to the page as soon as they are set (their own patch): the page
                # decodes, colours and paints it while the kernel computes hover values, beam, contours, title
                on_plane=getattr(self._bokeh_view, "flush", None),
            )

    def _prepare(self, image: xr.DataArray, channel: int, pixels: int) -> dict:
        """:func:`almaview.plots.image.prepare_plane` of ``image`` (a view of the shown one) with the panel's
        Stokes and colour clips."""
        tags = self.panel.layout.tags[0]
        clips = list(self.panel.sources["limits"].data["clip"])
        return pimage.prepare_plane(image, channel, stokes=tags["stokes"], max_pixels=pixels, clips=clips)

    def _plane_view(self) -> xr.DataArray:
        """The shown image to read planes from: its no-dask view (:meth:`_spectral_view`; one read of the plane,
        ~40 % less time than through a dask graph), except the flat-noise image made from pbcor x pb, which stays
        the lazy product. Only the pixels come from it; names, beams and coordinates from :attr:`shown`."""
        if self.mode == "flat noise" and self._flat_given is None and self.pb is not None:
            return self.shown
        return self._spectral_view()

    # ------------------------------------------------------------------ prefetch (the widget's channel changes)
    def _full_step(self) -> int:
        return max(1, math.ceil(max(self.image.sizes["y"], self.image.sizes["x"]) / self.max_pixels))

    def _prefetched(self, mode: str, channel: int) -> dict | None:
        future = self._prefetch.pop((mode, channel), None)
        if future is None:
            return None
        try:
            return future.result()
        except Exception:  # the prefetch failed: update_plane reads the plane itself (and raises what it raises)
            return None

    def _prefetch_next(self, step: int) -> None:
        """Prepare (read, colour limits) the channel ``step`` away in a thread while the browser draws this one:
        the next change of a Play or of arrow keys then skips the read (~35 ms of a 2048^2 plane). After a jump
        (a typed channel: no next channel to guess) nothing is read ahead: on two cores the read would only
        compete with the browser decoding and painting this one."""
        if abs(step) != 1:
            return
        channel = self.channel + step
        if not 0 <= channel < self.nchan or (self.mode, channel) in self._prefetch:
            return
        import concurrent.futures

        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="almaview-prefetch")
        for key in [k for k in self._prefetch if k[0] != self.mode or abs(k[1] - self.channel) > 2]:
            self._prefetch.pop(key).cancel()
        image, pixels = self._plane_view(), self._shown_pixels()

        def work() -> dict:
            with self._read_lock:  # one read at a time: readers need not be thread-safe
                return self._prepare(image, channel, pixels)

        self._prefetch[(self.mode, channel)] = self._pool.submit(work)

    def statistics(self) -> dict[str, float]:
        """Robust rms (MAD, outside the mask), peak, SNR, beam and dynamic range (peak / rms, one definition) of the
        shown channel; peak and minimum from the full-resolution plane, rms from the shown (decimated) one.

        Examples
        --------
        >>> ImageViewer("cont.pbcor.fits").statistics()["snr"]   # doctest: +SKIP
        """
        a = self.panel.data.attrs
        rms, peak = float(a["rms"]), float(a["max"])
        return {
            "rms": rms,
            "peak": peak,
            "snr": peak / rms if rms else math.nan,
            "beam_major": a["beam_major"],
            "beam_minor": a["beam_minor"],
            "beam_pa": a["beam_pa"],
            "dynamic_range": dynamic_range(peak, rms),  # peak / rms: almaview.analysis.statistics
        }

    def spectrum(
        self,
        *,
        x: int | None = None,
        y: int | None = None,
        box: tuple[int, int, int, int] | None = None,
        circle: tuple[float, float, float] | None = None,
    ) -> Panel:
        """Spectrum of the shown image at a pixel (image unit) or summed over a box (x0, y0, x1, y1) or circle
        (x, y, r) in pixels (Jy, via the beam area), with the cont.dat ranges shaded.
        See :func:`almaview.plots.image.region_spectrum`.

        Examples
        --------
        >>> ImageViewer("cube.pbcor.fits").spectrum(box=(60, 60, 68, 68)).data.value   # doctest: +SKIP
        """
        s = aimage.region_spectrum(
            self._spectral_view(), x=x, y=y, box=box, circle=circle, restfreq=self.restfreq, convention=self.convention
        )
        where = (
            f"pixel ({x}, {y})"
            if box is None and circle is None
            else f"box {tuple(box)}"
            if box is not None
            else f"circle {tuple(round(float(v), 1) for v in circle)}"
        )
        return pimage.spectrum_plot(s, ranges=self.ranges, title=f"spectrum at {where}")

    def _spectral_view(self) -> xr.DataArray:
        """The shown image re-opened for spectra: without dask (``chunks=None``), so a pixel's or a region's
        spectrum is one read of exactly those pixels (~10 ms on a 2048x2048x480 cube, against ~1 s through
        480 per-plane dask tasks). The flat-noise view made from pbcor x pb stays dask, chunked along the
        spectrum (all channels x 16 rows), since the product of two lazy arrays needs it. Arrays without a
        source file are used as they are."""
        key = self.mode
        if key not in self._spectral_views:

            def reopen(a: xr.DataArray | None, chunks: Any) -> xr.DataArray | None:
                if a is None or not a.attrs.get("source") or not self.spectral:
                    return a
                from ..io.image import open_image

                try:
                    b = open_image(a.attrs["source"], chunks=chunks)
                except Exception:  # e.g. a DataArray whose 'source' was moved: the given view still works
                    return a
                return b if b.dims == a.dims and b.shape == a.shape else a

            if self.mode == "flat noise" and self._flat_given is None and self.pb is not None:
                along = {self.spectral: -1, "y": 16, "x": -1}
                view = _flat_from_pb(reopen(self.image, along), reopen(self.pb, along))
            else:
                view = reopen(self.shown, None)
            self._spectral_views[key] = view
        return self._spectral_views[key]

    def moment_map(self, order: int = 0, channels: tuple[int, int] | None = None, nsigma: float = 3.0) -> xr.DataArray:
        """Moment ``order`` (0, 1, 8) of the shown image over ``channels`` (first, last; inclusive) with the
        threshold ``nsigma`` x rms (``rms`` given to the viewer, else :func:`almaview.plots.image.moment`'s
        robust rms of the first and last channels). Computed (reads the channels of the range).

        Examples
        --------
        >>> ImageViewer("cube.pbcor.fits").moment_map(0, channels=(20, 40), nsigma=4)   # doctest: +SKIP
        """
        first, last = channels if channels is not None else (0, self.nchan - 1)
        m = aimage.moment(
            self.shown,
            order,
            channels=slice(int(first), int(last) + 1),
            rms=self.rms,
            nsigma=nsigma,
            restfreq=self.restfreq,
        )
        # The beam of the range's middle channel, so the map's panel draws it (moment() drops per-channel beams).
        beam = aimage.channel_beam(self.shown, (int(first) + int(last)) // 2)
        m = m.assign_coords({k: v for k, v in zip(("beam_major", "beam_minor", "beam_pa"), beam) if v == v})
        return m.compute().rename(f"moment {order} · channels {first}–{last}")

    # ------------------------------------------------------------------ widget
    def widget(self) -> Any:
        """The ipywidgets layout (built once). Top row: channel slider (description 'channel'), play, label;
        then the pbcor/flat-noise toggle and the region mode; the figure with colour controls (browser-side);
        statistics; spectrum; moment controls. ``controls`` holds the widgets by name.

        Examples
        --------
        >>> ImageViewer("cube.pbcor.fits").widget()   # doctest: +SKIP
        """
        if self._widget is not None:
            return self._widget
        import ipywidgets as w
        from bokeh.events import SelectionGeometry, Tap
        from bokeh.layouts import column

        load_bokehjs()
        mapper = self.panel.layout.select_one({"name": "mapper"})
        bar = pimage.colourbar_mapper(self.panel.layout)
        tags = self.panel.layout.tags[0]
        colour, self.bokeh_controls = pimage.colour_controls(
            [mapper],
            self.panel.sources["limits"],
            palette=self.palette,
            stretch=tags["stretch"],
            clip=tags["clip"],
            bars=[bar],
        )
        # The page sends a figure's events (Tap, SelectionGeometry) only when they are among the figure's
        # ``subscribed_events`` at the time it renders: a subscription made after the BokehModel is built is a
        # patch sent before any view exists, lost, and clicks in the page never reach the kernel.
        self.panel.layout.on_event(Tap, lambda event: self._on_tap(event))
        self.panel.layout.on_event(SelectionGeometry, lambda event: self._on_geometry(event))
        hover = self.panel.sources.get("hover")
        grid = next((r for r in self.panel.layout.renderers if getattr(r, "data_source", None) is hover), None)
        bokeh_view = self._bokeh_view = _plane_view(
            column(self.panel.layout, colour),
            self.panel.sources["image"],
            [m for m in (mapper, bar) if m is not None],
            grid=grid,
            limits=self.panel.sources["limits"],
        )
        c: dict[str, Any] = {}
        last = max(self.nchan - 1, 0)
        c["channel"] = w.IntSlider(
            value=self.channel,  # (bound to the state below)
            min=0,
            max=last,
            description="channel",
            continuous_update=False,
            disabled=self.nchan <= 1,
        )
        c["play"] = w.Play(
            value=self.channel, min=0, max=last, step=1, interval=400, description="play", disabled=self.nchan <= 1
        )
        self.links = [w.jslink((c["play"], "value"), (c["channel"], "value"))]
        c["label"] = w.Label(self.channel_label(self.channel), layout=w.Layout(width="330px"))
        c["mode"] = w.ToggleButtons(
            options=list(MODES),
            value=self.mode,
            description="image",
            tooltips=["pb-corrected (flux right, noise rises to the edge)", "flat noise (pbcor x pb)"],
            layout=w.Layout(display="" if self.flat is not None else "none"),
        )
        c["region"] = w.ToggleButtons(
            options=list(REGIONS),
            value="pixel",
            description="spectrum of",
            tooltips=["click a pixel", "draw a box (box select tool)", "draw a box: its inscribed circle"],
        )
        c["stats"] = w.HTML(self._stats_html())
        c["spectrum"] = w.Output()
        c["moment order"] = w.Dropdown(
            options=[("0 (integrated)", 0), ("1 (velocity)", 1), ("8 (peak)", 8)],
            value=0,
            description="moment",
            layout=w.Layout(width="220px"),
        )
        c["moment channels"] = w.IntRangeSlider(
            value=(0, last), min=0, max=last, description="channels", continuous_update=False, disabled=self.nchan <= 1
        )
        c["nsigma"] = w.BoundedFloatText(
            value=3.0,
            min=0.0,
            max=1000.0,
            step=0.5,
            description="threshold (σ)",
            style={"description_width": "initial"},
            layout=w.Layout(width="170px"),
        )
        c["moment"] = w.Button(
            description="moment", tooltip="moment map of the channel range above nsigma x rms", disabled=self.nchan <= 1
        )
        c["moment view"] = w.Output()
        for name, widget in c.items():
            widget.add_class("almaview-control-" + name.replace(" ", "-"))
        self.controls.update(c)
        # the controls are views of the state: channel <-> slider, mode <-> toggle, region <-> toggle,
        # playing <-> the Play widget's 'playing'
        self.bind("channel", c["channel"])
        self.bind("mode", c["mode"], name="mode")
        self.bind("region", c["region"], name="region")
        self._links.append(traitlets.link((self, "playing"), (c["play"], "playing")))

        def on_moment(_: Any) -> None:
            self.show_moment(c["moment order"].value, c["moment channels"].value, c["nsigma"].value)

        c["moment"].on_click(on_moment)
        top = w.HBox([c["channel"], c["play"], c["label"]])
        top.add_class("almaview-image-viewer-top")
        self.children = [
            top,
            w.HBox([c["mode"], c["region"]]),
            bokeh_view,
            c["stats"],
            c["spectrum"],
            w.HBox([c["moment order"], c["moment channels"], c["nsigma"], c["moment"]]),
            c["moment view"],
        ]
        self._widget = self
        if self.spectral:  # the centre pixel's spectrum: a click then only sends new data to this figure
            self.show_spectrum(x=self.image.sizes["x"] // 2, y=self.image.sizes["y"] // 2)
        return self

    def show_spectrum(self, **region: Any) -> Panel | None:
        """Compute :meth:`spectrum` of ``region`` (``x=, y=``, ``box=`` or ``circle=``) and show it under the
        figure: the first one as a new figure, the next ones in place (new data in the same Bokeh sources: one
        small patch, no new BokehJS document). What a click or a drawn box in the page calls.

        Examples
        --------
        >>> v = ImageViewer("cube.pbcor.fits"); v.widget()        # doctest: +SKIP
        >>> v.show_spectrum(x=64, y=62).data.value.max()          # doctest: +SKIP
        """
        out = self.controls.get("spectrum")
        if not self.spectral:
            if out is not None:
                out.outputs = ()
                out.append_stdout("This image has no spectral axis: no spectrum to show.\n")
            return None
        new = self.spectrum(**region)
        old, view = self.spectrum_panel, self._spectrum_view
        if old is not None and view is not None and set(old.sources) == set(new.sources):
            with view.batch():
                for key, src in new.sources.items():
                    old.sources[key].data = dict(src.data)
                old.layout.title.text = new.layout.title.text
                old.layout.yaxis.axis_label = new.layout.yaxis.axis_label
            old.data, old.title = new.data, new.title
            return old
        self.spectrum_panel = new
        if out is not None:
            self._spectrum_view = _bokeh_view(new.layout, new.sources["spectrum"])
            out.outputs = ()  # (clear_output would print terminal escapes outside a kernel)
            out.append_display_data(self._spectrum_view)
        return new

    def _on_tap(self, event: Any) -> None:
        """A click on the figure: the spectrum at the pixel under the cursor (region mode 'pixel')."""
        if self.region != "pixel":
            return
        px = self._pixel_from_offset(event.x, event.y)
        if px is not None:
            self.show_spectrum(x=px[0], y=px[1])

    def _on_geometry(self, event: Any) -> None:
        """A box drawn with the box-select tool: the spectrum of the box or of its inscribed circle."""
        mode = self.region if self._widget is not None else "box"
        g = event.geometry
        if mode == "pixel" or g.get("type") != "rect" or not event.final:
            return
        region = self._region_from_offsets(g["x0"], g["y0"], g["x1"], g["y1"], mode)
        if region is not None:
            self.show_spectrum(**region)

    def _region_mode(self, mode: str) -> None:
        """'box'/'circle': the figure's box-select tool becomes the active drag (a drag draws the region);
        'pixel': pan again."""
        from bokeh.models import BoxSelectTool, PanTool

        want = BoxSelectTool if mode in ("box", "circle") else PanTool
        tool = next((t for t in self.panel.layout.tools if type(t) is want), None)
        if tool is not None:
            self.panel.layout.toolbar.active_drag = tool

    def show_moment(self, order: int, channels: tuple[int, int], nsigma: float) -> Panel:
        """Compute :meth:`moment_map` and show it (``image_plane`` of the map) under the widget's moment controls.

        Examples
        --------
        >>> v = ImageViewer("cube.pbcor.fits"); v.widget()          # doctest: +SKIP
        >>> v.show_moment(0, (20, 40), 3.0).data.value              # doctest: +SKIP
        """
        m = self.moment_map(order, channels, nsigma)
        self.moment_panel = pimage.image_plane(
            m, max_pixels=self.max_pixels, palette=self.palette, title=f"{m.name} (> {nsigma:g} σ) · {self.shown.name}"
        )
        if "moment view" in self.controls:
            _show(self.controls["moment view"], self.moment_panel)
        return self.moment_panel

    def _pixel_from_offset(self, ox: float, oy: float) -> tuple[int, int] | None:
        dx, dy = aimage.pixel_scale_arcsec(self.image)
        cx, cy = self.image.sizes["x"] / 2.0, self.image.sizes["y"] / 2.0
        x = int(round(cx - ox / dx))
        y = int(round(cy + oy / dy))
        if 0 <= x < self.image.sizes["x"] and 0 <= y < self.image.sizes["y"]:
            return x, y
        return None

    def _region_from_offsets(self, ox0: float, oy0: float, ox1: float, oy1: float, kind: str) -> dict[str, Any] | None:
        """A drawn box (offsets, arcsec) as a pixel box (clipped to the image) or its inscribed circle."""
        dx, dy = aimage.pixel_scale_arcsec(self.image)
        cx, cy = self.image.sizes["x"] / 2.0, self.image.sizes["y"] / 2.0
        xs = sorted((cx - ox0 / dx, cx - ox1 / dx))
        ys = sorted((cy + oy0 / dy, cy + oy1 / dy))
        if kind == "circle":
            r = min(xs[1] - xs[0], ys[1] - ys[0]) / 2.0
            return {"circle": ((xs[0] + xs[1]) / 2.0, (ys[0] + ys[1]) / 2.0, max(r, 0.5))}
        nx, ny = self.image.sizes["x"], self.image.sizes["y"]
        x0, x1 = max(int(round(xs[0])), 0), min(int(round(xs[1])), nx - 1)
        y0, y1 = max(int(round(ys[0])), 0), min(int(round(ys[1])), ny - 1)
        if x1 < x0 or y1 < y0:
            return None
        return {"box": (x0, y0, x1, y1)}

    def _stats_html(self) -> str:
        s = self.statistics()
        unit = self.image.attrs.get("units", "")
        where = "outside the mask" if self.mask is not None else "shown channel"
        return (
            f"rms {s['rms']:.3g} {unit} ({'given' if self.rms is not None else where}) · "
            f"peak {s['peak']:.3g} {unit} · SNR {s['snr']:.1f} · "
            f'beam {s["beam_major"]:.2f}" × {s["beam_minor"]:.2f}" PA {s["beam_pa"]:.0f}° · '
            f"dynamic range (peak / rms) {s['dynamic_range']:.1f}"
        )

    def compare(self, *others: xr.DataArray | str | os.PathLike, **kwargs: Any) -> Any:
        """This image side by side with ``others`` (linked pan/zoom, shared colour scale): see :func:`compare`.

        Examples
        --------
        >>> ImageViewer("cont.pbcor.fits").compare("reimaged.pbcor.fits")   # doctest: +SKIP
        """
        return compare(self.shown, *others, channel=self.channel, max_pixels=self.max_pixels, **kwargs)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:  # pragma: no cover - exercised in the browser tests
        self.widget()  # the children are built on first display
        return super()._repr_mimebundle_(**kwargs)


def compare(
    *images: xr.DataArray | str | os.PathLike, channel: int = 0, names: Sequence[str] | None = None, **kwargs: Any
) -> Any:
    """Two or more images side by side: linked pan/zoom, one colour mapper with browser-side colour map,
    stretch, clip and limits (:func:`almaview.plots.image.comparison`), and a channel slider when they are
    cubes (each image shows its own channel, clipped to its range). Returns the ipywidgets box; its
    ``panel`` attribute is the comparison Panel.

    Examples
    --------
    >>> box = compare("cont.pbcor.fits", "reimaged.pbcor.fits")   # doctest: +SKIP
    >>> box.panel.data["image1"].value                             # doctest: +SKIP
    """
    import ipywidgets as w
    from bokeh.layouts import column

    arrays = [_open(i) for i in images]
    names = list(names) if names is not None else [str(a.name) for a in arrays]
    if len(set(names)) != len(names):
        names = [f"image{i}" for i in range(len(arrays))]
    panel = pimage.comparison(*arrays, channel=channel, names=names, **kwargs)
    load_bokehjs()
    first = panel.layout.children[0]
    mapper = first.select_one({"name": "mapper"})
    colour, _ = pimage.colour_controls(
        [mapper], panel.sources["limits"], stretch=first.tags[0]["stretch"], clip=first.tags[0]["clip"]
    )
    view = _bokeh_view(column(panel.layout, colour), panel.sources[f"{names[0]}_image"], [mapper])
    nchan = max((a.sizes[aimage.spectral_axis(a)] if aimage.spectral_axis(a) else 1) for a in arrays)
    slider = w.IntSlider(
        value=min(channel, nchan - 1),
        min=0,
        max=nchan - 1,
        description="channel",
        continuous_update=False,
        disabled=nchan <= 1,
    )
    slider.add_class("almaview-control-channel")

    def on_channel(change: dict) -> None:
        with view.batch():
            _compare_channel(change)

    def _compare_channel(change: dict) -> None:
        for name, arr, fig in zip(names, arrays, panel.layout.children):
            spec = aimage.spectral_axis(arr)
            c = min(int(change["new"]), arr.sizes[spec] - 1) if spec else 0
            sub = Panel(
                fig,
                panel.data[name].to_dataset(),
                {k[len(name) + 1 :]: v for k, v in panel.sources.items() if k.startswith(f"{name}_")},
            )
            pimage.update_plane(sub, arr, c)
            panel.data[name] = sub.data

    slider.observe(on_channel, names="value")
    box = w.VBox([slider, view])
    box.add_class("almaview-image-compare")
    box.panel = panel
    return box

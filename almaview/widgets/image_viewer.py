"""The image viewer widget: channel slider (frequency/velocity label), stretch and colour map in the browser,
statistics, click/box -> spectrum with cont.dat ranges shaded, moments.

Thin: state and wiring only; the figures come from :mod:`almaview.plots.image`. BokehJS is loaded
inline (no CDN). Changing the colour map or the colour limits is a Bokeh JS callback (no kernel
round-trip); a channel change re-reads one plane and updates the ColumnDataSources in place.

Examples
--------
>>> from almaview.widgets.image_viewer import ImageViewer
>>> v = ImageViewer("member.uid___A001_X1.IRAS16293-2422_sci.spw0.cube.I.pbcor.fits")   # doctest: +SKIP
>>> v                                                                                   # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence

import numpy as np
import xarray as xr

from ..plots import image as pimage

__all__ = ["ImageViewer", "PALETTES"]

PALETTES = ("Inferno256", "Viridis256", "Greys256", "Magma256", "Cividis256")


def _load_bokehjs() -> None:
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(INLINE, hide_banner=True)


class ImageViewer:
    """A viewer of one image (FITS or CASA), with optional ``mask``/``pb`` overlays and cont.dat ``ranges``.

    ``ranges``: ``[(low_hz, high_hz), ...]`` shaded on spectra. ``restfreq`` overrides the header's.
    """

    def __init__(self, image: xr.DataArray | str | os.PathLike, *, mask: Any = None, pb: Any = None,
                 ranges: Sequence[tuple[float, float]] = (), restfreq: float | None = None,
                 convention: str = "radio", max_pixels: int = 1024):
        from ..io.image import open_image

        self.image = image if isinstance(image, xr.DataArray) else open_image(image)
        self.mask = mask if (mask is None or isinstance(mask, xr.DataArray)) else open_image(mask)
        self.pb = pb if (pb is None or isinstance(pb, xr.DataArray)) else open_image(pb)
        self.ranges = list(ranges)
        self.restfreq = restfreq or float(self.image.attrs.get("restfreq", np.nan))
        self.convention = convention
        self.max_pixels = max_pixels
        self.spectral = pimage._spectral(self.image)
        self.nchan = self.image.sizes[self.spectral] if self.spectral else 1
        self.channel = self.nchan // 2
        self.panel = pimage.image_plane(self.image, self.channel, mask=self.mask, pb=self.pb, max_pixels=max_pixels)
        self._widget: Any = None

    # ------------------------------------------------------------------ state
    def channel_label(self, channel: int) -> str:
        """'230.5380 GHz · 0.00 km/s (LSRK, radio)' for a channel.

        Examples
        --------
        >>> ImageViewer.channel_label  # doctest: +ELLIPSIS
        <function ...>
        """
        if not self.spectral:
            return "continuum"
        f = float(self.image[self.spectral].values[channel])
        frame = self.image.attrs.get("specsys", "")
        if self.spectral == "frequency" and self.restfreq == self.restfreq:
            v = float(pimage.velocity_axis(np.array([f]), self.restfreq, self.convention)[0])
            return f"{f / 1e9:.6f} GHz · {v:.2f} km/s ({frame}, {self.convention})"
        return f"{f / 1e9:.6f} GHz ({frame})"

    def set_channel(self, channel: int) -> None:
        """Show ``channel``: reads one (decimated) plane and updates the figure's sources in place."""
        self.channel = int(channel)
        new = pimage.image_plane(self.image, self.channel, max_pixels=self.max_pixels)
        for name in ("image", "hover", "beam"):
            self.panel.sources[name].data = dict(new.sources[name].data)
        self.panel.data = new.data
        self.panel.layout.title.text = new.layout.title.text

    def statistics(self) -> dict[str, float]:
        """Robust rms, peak, SNR, beam and dynamic range of the shown channel."""
        values = self.panel.data["value"].to_numpy()
        rms = pimage._robust_rms(values)
        peak = float(np.nanmax(values)) if np.isfinite(values).any() else math.nan
        low = float(np.nanmin(values)) if np.isfinite(values).any() else math.nan
        bmaj, bmin, bpa = pimage._beam(self.image, self.channel)
        return {"rms": rms, "peak": peak, "snr": peak / rms if rms else math.nan, "beam_major": bmaj,
                "beam_minor": bmin, "beam_pa": bpa, "dynamic_range": peak / abs(low) if low else math.nan}

    def spectrum(self, *, x: int | None = None, y: int | None = None,
                 box: tuple[int, int, int, int] | None = None) -> Any:
        """Spectrum at a pixel or over a box (see :func:`almaview.plots.image.region_spectrum`) as a Panel."""
        s = pimage.region_spectrum(self.image, x=x, y=y, box=box, restfreq=self.restfreq, convention=self.convention)
        return pimage.spectrum_plot(s, ranges=self.ranges)

    # ------------------------------------------------------------------ widget
    def widget(self) -> Any:
        """The ipywidgets layout (built once): slider description='channel', palette, limits, stats, spectrum."""
        if self._widget is not None:
            return self._widget
        import ipywidgets as w
        from bokeh.models import CustomJS, Select, Slider
        from bokeh.layouts import column, row
        from jupyter_bokeh import BokehModel

        _load_bokehjs()
        mapper = self.panel.layout.select_one({"name": "mapper"})
        palette = Select(title="colour map", value="Inferno256", options=list(PALETTES))
        from bokeh import palettes

        table = {p: getattr(palettes, p) for p in PALETTES}
        palette.js_on_change("value", CustomJS(args=dict(m=mapper, table=table),
                                               code="m.palette = table[cb_obj.value];"))
        lo, hi = float(mapper.low), float(mapper.high)
        span = hi - lo if hi > lo else 1.0
        clip = Slider(title="upper limit (fraction of peak)", start=0.05, end=1.0, value=1.0, step=0.01)
        clip.js_on_change("value", CustomJS(args=dict(m=mapper, lo=lo, span=span),
                                            code="m.high = lo + cb_obj.value * span;"))
        bokeh_view = BokehModel(column(self.panel.layout, row(palette, clip)))
        slider = w.IntSlider(value=self.channel, min=0, max=max(self.nchan - 1, 0), description="channel",
                             continuous_update=False, disabled=self.nchan <= 1)
        label = w.Label(self.channel_label(self.channel))
        stats = w.HTML(self._stats_html())
        spec_box = w.Output()

        def on_channel(change: dict) -> None:
            self.set_channel(change["new"])
            label.value = self.channel_label(self.channel)
            stats.value = self._stats_html()

        slider.observe(on_channel, names="value")

        def on_tap(event: Any) -> None:  # a click: spectrum at the pixel under the cursor
            px = self._pixel_from_offset(event.x, event.y)
            if px is None:
                return
            spec_box.clear_output()
            with spec_box:
                from IPython.display import display

                display(BokehModel(self.spectrum(x=px[0], y=px[1]).layout))

        self.panel.layout.on_event("tap", on_tap)
        self._widget = w.VBox([w.HBox([slider, label]), bokeh_view, stats, spec_box])
        return self._widget

    def _pixel_from_offset(self, ox: float, oy: float) -> tuple[int, int] | None:
        dx, dy = pimage._pixel_arcsec(self.image)
        cx, cy = self.image.sizes["x"] / 2.0, self.image.sizes["y"] / 2.0
        x = int(round(cx - ox / dx))
        y = int(round(cy + oy / dy))
        if 0 <= x < self.image.sizes["x"] and 0 <= y < self.image.sizes["y"]:
            return x, y
        return None

    def _stats_html(self) -> str:
        s = self.statistics()
        unit = self.image.attrs.get("units", "")
        return (f"rms {s['rms']:.3g} {unit} · peak {s['peak']:.3g} {unit} · SNR {s['snr']:.1f} · "
                f"beam {s['beam_major']:.2f}\" × {s['beam_minor']:.2f}\" PA {s['beam_pa']:.0f}° · "
                f"dynamic range {s['dynamic_range']:.1f}")

    def _ipython_display_(self) -> None:  # pragma: no cover - exercised in the browser tests
        from IPython.display import display

        display(self.widget())

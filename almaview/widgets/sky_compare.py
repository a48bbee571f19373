"""The comparison viewer: images of one source from different arrays (Total Power, 12-m + 7-m, feathered) side by
side on the sky, and the spectra of all of them at a clicked position.

Thin: state and wiring. The panels come from :func:`almaview.plots.image_compare.sky_panels` (each image its own
colour scale and unit; pan/zoom linked through the sky in the browser), the spectra from
:func:`almaview.analysis.sky_spectra.spectra_at` (each image's pixel at the clicked sky position, through its own
WCS) drawn by :func:`almaview.plots.image_compare.spectra_plot`.

State (the public selection keys): ``channel`` (of the first image; every other cube shows its channel nearest in
frequency) and ``position`` ([RA, Dec] in degrees, ICRS; empty: none). A click on any panel sets ``position``.

Examples
--------
>>> import almaview as av
>>> v = av.compare_images(tp="tp.cube.I.sd.fits", joint="12m7m.cube.pbcor.fits", feathered="feather.fits")  # doctest: +SKIP
>>> v.select(position=[248.0941, -24.4768]).spectra.groupby("image").value.max()                           # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

import ipywidgets as W
import traitlets
import xarray as xr

from ._base import AppBase, reacts

__all__ = ["CompareViewer", "compare_images"]


def _open(obj: Any) -> xr.DataArray:
    if isinstance(obj, xr.DataArray):
        return obj
    from ..io.image import open_image

    return open_image(obj)


class CompareViewer(AppBase):
    """Images side by side, matched on the sky, with the spectra of all of them at a clicked position.

    ``images``: name -> image (a path or :func:`almaview.open_image`'s DataArray), in display order; the first
    image sets the channel slider and the starting field. ``max_pixels``: the planes are shown decimated to this.

    Public: ``select(channel=..., position=[ra, dec])``, :meth:`click` (a click at panel offsets, what a click in
    the page calls), ``spectra`` (the table plotted), ``panel`` (the image panels), ``spectrum_panel``,
    ``controls``.

    Examples
    --------
    >>> v = CompareViewer({"TP": "tp.sd.fits", "12m+7m": "int.pbcor.fits"})     # doctest: +SKIP
    >>> v.click("TP", 0.0, 0.0).spectra.image.unique()                           # doctest: +SKIP
    """

    channel = traitlets.Int(0).tag(state=True)
    position = traitlets.List(traitlets.Float()).tag(state=True)

    def __init__(self, images: dict[str, Any], *, channel: int | None = None, max_pixels: int = 512, **kwargs: Any):
        from ..analysis.image import spectral_axis
        from ..analysis.sky_spectra import nearest_channel
        from ..plots.image_compare import sky_panels, spectra_plot

        if not images:
            raise ValueError("compare_images needs at least one image")
        self.images = {str(k): _open(v) for k, v in images.items()}
        self.names = list(self.images)
        first = self.images[self.names[0]]
        self._spec = spectral_axis(first)
        self.nchan = first.sizes[self._spec] if self._spec else 1
        start = self.nchan // 2 if channel is None else int(channel)
        self._nearest = nearest_channel
        channels = self._channels(start)
        self.panel = sky_panels(self.images, channels=channels, max_pixels=max_pixels)
        import pandas as pd

        self.spectra = pd.DataFrame(columns=["image", "channel", "frequency", "value", "units", "frame"])
        self.spectrum_panel = spectra_plot(self.spectra, names=self.names, title="click an image: its spectra here")
        super().__init__(**kwargs)
        from bokeh.events import Tap
        from bokeh.layouts import column

        from ._bokeh import bokeh_view, load_bokehjs

        load_bokehjs()
        # Subscribe before the BokehModel exists: the page sends only the events subscribed when it renders.
        for name, p in self.panel.panels.items():
            p.layout.on_event(Tap, lambda event, name=name: self.click(name, event.x, event.y))
        self.view = bokeh_view(column(self.panel.layout, self.spectrum_panel.layout))
        self.view.add_class("almaview-compare-view")
        slider = W.IntSlider(
            min=0,
            max=max(self.nchan - 1, 0),
            description="channel",
            continuous_update=False,
            disabled=self.nchan <= 1,
        )
        self.bind("channel", slider)
        self.controls["label"] = W.Label(layout=W.Layout(width="420px"))
        self.controls["where"] = W.HTML("click a position in any image: the spectra of all images there")
        for name, w in self.controls.items():
            w.add_class("almaview-control-" + name)
        with self.batch():
            self.channel = start
        self.controls["label"].value = self._label()
        self.children = [W.HBox([slider, self.controls["label"]]), self.view, self.controls["where"]]
        self.add_class("almaview-compare")

    # ------------------------------------------------------------------ state
    def _channels(self, channel: int) -> dict[str, int]:
        """Each image's channel for ``channel`` of the first: the one nearest in frequency (0 for 2-D images)."""
        first = self.images[self.names[0]]
        if not self._spec:
            return {n: 0 for n in self.names}
        freq = float(first[self._spec].values[channel])
        return {n: self._nearest(im, freq) for n, im in self.images.items()}

    def _label(self) -> str:
        if not self._spec:
            return "continuum"
        f = float(self.images[self.names[0]][self._spec].values[self.channel])
        shown = self._channels(self.channel)
        return f"{f / 1e9:.6f} GHz · " + ", ".join(f"{n}: ch {c}" for n, c in shown.items())

    @reacts("channel")
    def _check_channel(self) -> None:
        if not 0 <= self.channel < self.nchan:
            raise ValueError(f"channel {self.channel}: the first image has channels 0..{self.nchan - 1}")

    def apply(self, changed: set[str]) -> None:
        """Show the changed keys: new planes for ``channel``, new spectra and markers for ``position``
        (:class:`~almaview.widgets._base.AppBase` calls it once per batch of changes).

        Examples
        --------
        >>> v.select(channel=12, position=[248.0953, -24.4768]).spectra   # doctest: +SKIP
        """
        if "channel" in changed:
            from ..plots.image import update_plane

            for name, ch in self._channels(self.channel).items():
                p = self.panel.panels[name]
                update_plane(p, self.images[name], ch, title=f"{name} · channel {ch}")
            if "label" in self.controls:
                self.controls["label"].value = self._label()
        if "position" in changed:
            self._show_position()

    def _show_position(self) -> None:
        from ..analysis.sky_spectra import spectra_at
        from ..plots.image_compare import sky_offsets, update_spectra

        if len(self.position) != 2:
            for p in self.panel.panels.values():
                p.sources["marker"].data = {"x": [], "y": []}
            return
        ra, dec = self.position
        self.spectra = spectra_at(self._spectral_views(), ra, dec)
        for name, p in self.panel.panels.items():
            ox, oy = sky_offsets(self.images[name], ra, dec)
            p.sources["marker"].data = {"x": [ox], "y": [oy]}
        where = f"RA {ra:.6f}° Dec {dec:.6f}° (ICRS)"
        update_spectra(self.spectrum_panel, self.spectra, title=f"spectra at {where}")
        outside = self.spectra.attrs.get("outside", [])
        note = f" · outside the field of: {', '.join(outside)}" if outside else ""
        if len(self.spectra) and self.spectra.groupby("image").size().max() == 1:  # continuum images: the values
            note = (
                " · "
                + ", ".join(f"{r.image}: {r.value:.4g} {r.units}" for r in self.spectra.itertuples(index=False))
                + note
            )
        if "where" in self.controls:
            self.controls["where"].value = f"spectra at {where}{note}"

    def _spectral_views(self) -> dict[str, xr.DataArray]:
        """The images re-opened without dask (``chunks=None``): a pixel's spectrum is then one read of those pixels,
        not one dask task per plane (the image viewer does the same)."""
        if getattr(self, "_views", None) is None:
            from ..io.image import open_image

            views = {}
            for name, a in self.images.items():
                try:
                    b = open_image(a.attrs["source"], chunks=None) if a.attrs.get("source") else a
                except Exception:  # a DataArray whose 'source' was moved: the given one still works
                    b = a
                views[name] = b if b.dims == a.dims and b.shape == a.shape else a
            self._views = views
        return self._views

    def click(self, name: str, ox: float, oy: float) -> CompareViewer:
        """A click at offsets ``ox``, ``oy`` (arcsec, the panel's axes) of the panel of image ``name``: sets
        ``position`` to the sky position there (that image's WCS), and every image's spectrum is read there.

        Examples
        --------
        >>> v.click("TP", 12.0, -3.5).position   # doctest: +SKIP
        """
        from ..plots.image_compare import offset_position

        if name not in self.images:
            raise KeyError(f"no image {name!r}; the images are {', '.join(self.names)}")
        ra, dec = offset_position(self.images[name], float(ox), float(oy))
        return self.select(position=[ra, dec])


def compare_images(*images: Any, names: list[str] | None = None, **named: Any) -> CompareViewer:
    """Images of one source side by side, matched on the sky (linked pan/zoom, each its own colour scale and unit);
    a click on any shows the spectra of all of them at that sky position, in one plot with a legend.

    Give images as positional arguments (names from ``names`` or the file names) or as keywords (the keyword is the
    name): e.g. the Total Power cube, the 12-m + 7-m cube and their feathered combination. Keywords other than
    images: ``channel``, ``max_pixels``.

    Examples
    --------
    >>> import almaview as av
    >>> av.compare_images(TP="tp.cube.I.sd.fits", int="12m7m.pbcor.fits", feathered="feather.fits")   # doctest: +SKIP
    """
    options = {k: named.pop(k) for k in ("channel", "max_pixels") if k in named}
    table: dict[str, Any] = {}
    if names is not None and len(names) != len(images):
        raise ValueError(f"{len(names)} names for {len(images)} images")
    for i, image in enumerate(images):
        if names is not None:
            name = str(names[i])
        elif isinstance(image, xr.DataArray):
            name = str(image.name or f"image{i}")
        else:
            name = os.path.basename(os.fspath(image))
        table[name if name not in table else f"{name} ({i})"] = image
    table.update(named)
    return CompareViewer(table, **options)

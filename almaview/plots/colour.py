"""Colour for image panels: stretches (astropy.visualization's definitions) as resampled palettes on a linear
mapper, and browser-side controls (colour map, stretch, clip, upper limit) that need no kernel round trip.

Examples
--------
>>> stretch_palette(["#000000", "#ffffff"], "sqrt", n=4)
['#000000', '#ffffff', '#ffffff', '#ffffff']
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..analysis.statistics import CLIPS

__all__ = [
    "STRETCHES",
    "PALETTES",
    "PALETTE_SIZE",
    "stretch_values",
    "stretch_palette",
    "STRETCH_JS",
    "colour_controls",
    "clip_key",
]

STRETCHES = ("linear", "sqrt", "log", "asinh", "percentile")
PALETTES = ("Inferno256", "Viridis256", "Greys256", "Magma256", "Cividis256")
#: Entries of a stretched palette (a stretch is a resampling of the base palette on a linear mapper).
PALETTE_SIZE = 1024
_LOG_A = 1000.0
_ASINH_A = 0.1


def stretch_values(t: np.ndarray, stretch: str) -> np.ndarray:
    """The stretch of normalised values ``t`` in [0, 1] (astropy.visualization's definitions:
    sqrt, log with a=1000, asinh with a=0.1; 'linear' and 'percentile' are the identity).

    Examples
    --------
    >>> stretch_values(np.array([0.0, 0.25, 1.0]), "sqrt").tolist()
    [0.0, 0.5, 1.0]
    """
    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    if stretch == "sqrt":
        return np.sqrt(t)
    if stretch == "log":
        return np.log(_LOG_A * t + 1.0) / np.log(_LOG_A + 1.0)
    if stretch == "asinh":
        return np.arcsinh(t / _ASINH_A) / np.arcsinh(1.0 / _ASINH_A)
    if stretch in ("linear", "percentile"):
        return t
    raise ValueError(f"stretch {stretch!r}: expected one of {', '.join(STRETCHES)}")


def stretch_palette(palette: str | Sequence[str], stretch: str, n: int = PALETTE_SIZE) -> list[str]:
    """A palette of ``n`` colours that shows ``stretch`` on a *linear* colour mapper: entry i (value
    t = (i + 0.5) / n of the way from low to high) takes the base colour at ``stretch(t)``.

    The browser computes the same (:data:`STRETCH_JS`), so changing stretch needs no kernel.

    Examples
    --------
    >>> stretch_palette(["#000000", "#ffffff"], "sqrt", n=4)
    ['#000000', '#ffffff', '#ffffff', '#ffffff']
    """
    base = _palette(palette)
    t = (np.arange(n) + 0.5) / n
    k = np.minimum(len(base) - 1, np.floor(stretch_values(t, stretch) * len(base)).astype(int))
    return [base[i] for i in k]


def _palette(palette: str | Sequence[str]) -> list[str]:
    if isinstance(palette, str):
        from bokeh import palettes

        return list(getattr(palettes, palette))
    return list(palette)


#: The browser's side of :func:`stretch_palette` and :func:`plane_limits`: sets every mapper's palette and
#: limits from the controls (palette, stretch, clip, upper) and the shown plane's 'limits' source.
STRETCH_JS = """
const base = palettes[palette.value];
const st = stretch.value;
const n = %d, la = %r, aa = %r;
function f(t) {
  t = Math.min(1, Math.max(0, t));
  if (st === "sqrt") return Math.sqrt(t);
  if (st === "log") return Math.log(la * t + 1) / Math.log(la + 1);
  if (st === "asinh") return Math.asinh(t / aa) / Math.asinh(1 / aa);
  return t;
}
const pal = [];
for (let i = 0; i < n; i++) {
  pal.push(base[Math.min(base.length - 1, Math.floor(f((i + 0.5) / n) * base.length))]);
}
const d = limits.data;
let j = 0;
for (let i = 0; i < d.clip.length; i++) { if (Math.abs(d.clip[i] - Number(clip.value)) < 1e-9) j = i; }
const lo = d.low[j];
const hi = lo + upper.value * (d.high[j] - lo);
const top = hi > lo ? hi : lo + 1e-12;
// New limits from the kernel (a new channel): the plane follows in the same patch and is coloured once when it
// arrives, so a mapper whose colour bar has its own mapper is set silently (no recolouring of the old plane).
const from_kernel = typeof cb_obj !== "undefined" && cb_obj === limits;
const bar_of = (typeof bars === "undefined") ? [] : bars;
for (let k = 0; k < mappers.length; k++) {
  const m = mappers[k];
  const bar = bar_of[k] || null;
  const cur = m.palette || [];
  const attrs = cur.length === pal.length && cur.every((c, i) => c === pal[i]) ? {} : {palette: pal};
  if (m.low !== lo) attrs.low = lo;
  if (m.high !== top) attrs.high = top;
  if (bar !== null && bar.setv) {  // the bar: 256 colours, redrawn on every change
    bar.setv({palette: pal, low: lo, high: top}, {silent: true});
    bar.change.emit();
  }
  if (!Object.keys(attrs).length) continue;
  if (!m.setv) { Object.assign(m, attrs); continue; }
  // Silently, then one change signal: a plain setv recolours the whole plane once per changed property and
  // once more for the mapper's own re-emit (3-4 times for low + high). The kernel does not need these values.
  m.setv(attrs, {silent: true});
  if (!(from_kernel && bar !== null)) m.change.emit();
}
""" % (PALETTE_SIZE, _LOG_A, _ASINH_A)


def colour_controls(
    mappers: Sequence[Any],
    limits: Any,
    *,
    palette: str = "Inferno256",
    stretch: str = "linear",
    clip: float = 100.0,
    palettes: Sequence[str] = PALETTES,
    bars: Sequence[Any] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Bokeh controls (colour map, stretch, clip, upper limit) acting in the browser on ``mappers``,
    with the colour limits of the ``limits`` source (:func:`plane_limits`). Returns (row, controls).

    ``bars``: per mapper, the mapper of its colour bar when the bar has its own (None otherwise; see
    :func:`almaview.plots.image.colourbar_mapper`): the bar follows every change, and new limits sent by the
    kernel set the plane's mapper silently (the new plane, in the same patch, is coloured once).

    Examples
    --------
    >>> from bokeh.models import ColumnDataSource, LinearColorMapper
    >>> from almaview.analysis.statistics import plane_limits
    >>> lim = ColumnDataSource(plane_limits(np.arange(10.0)))
    >>> layout, c = colour_controls([LinearColorMapper()], lim)
    >>> sorted(c)
    ['clip', 'palette', 'stretch', 'upper']
    """
    from bokeh import palettes as bp
    from bokeh.layouts import row
    from bokeh.models import CustomJS, Select, Slider

    c = {
        "palette": Select(title="colour map", value=palette, options=list(palettes), width=130),
        "stretch": Select(
            title="stretch",
            value="linear" if stretch == "percentile" else stretch,
            options=[s for s in STRETCHES if s != "percentile"],
            width=100,
        ),
        "clip": Select(
            title="clip",
            value=clip_key(clip),
            options=[(clip_key(v), "min–max" if v == 100 else f"{v:g} %") for v in CLIPS],
            width=100,
        ),
        "upper": Slider(title="upper limit (fraction)", start=0.02, end=1.0, value=1.0, step=0.01, width=200),
    }
    table = {p: list(getattr(bp, p)) for p in palettes}
    bar_list = list(bars) if bars is not None else [None] * len(mappers)
    cb = CustomJS(args=dict(mappers=list(mappers), bars=bar_list, limits=limits, palettes=table, **c), code=STRETCH_JS)
    for name in ("palette", "stretch", "clip"):
        c[name].js_on_change("value", cb)
    c["upper"].js_on_change("value", cb)
    limits.js_on_change("data", cb)
    return row(*c.values()), c


def clip_key(clip: float) -> str:
    """The clip control's value for a clip percentage.

    Examples
    --------
    >>> clip_key(99.50), clip_key(100)
    ('99.5', '100')
    """
    return f"{float(clip):g}"

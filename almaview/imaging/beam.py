"""Predicted synthesized beam and sensitivity for a weighting choice, from the real uv coverage.

:func:`predict_beam` does what imaging does, without imaging: it reads the
target's UVW, WEIGHT and FLAG (once, reduced in chunks to a few sub-bands per
spw), puts every visibility at ``(u, v) * frequency / c`` on the uv grid of the
chosen ``cell`` and ``imsize`` (cell size ``1 / (imsize * cell)``), turns the
gridded weight density into uniform or Briggs imaging weights (Briggs 1995, as
CASA's ``weighting='briggs'``), applies an optional Gaussian ``uvtaper``, grids
the imaging weights (and their Hermitian conjugates) and FFTs them into the PSF.
The beam is a Gaussian fitted to the PSF's main lobe above 0.35 of the peak
(tclean's ``psfcutoff``). The sensitivity relative to natural weighting is
``sqrt(sum(W**2 / w) * sum(w)) / sum(W)`` (``w`` data weights, ``W`` imaging
weights), the quantity the imager tool's ``apparentsens`` reports.

:func:`sweep` repeats the weighting step (the uv data are read once) over
robust values and tapers and returns a DataFrame. Speed: the imaging weight of a
sample is its data weight times a function of its density cell (and of its own
u, v for a taper), so the samples (~1e7 for a 3 GB EB) are binned once per
(density cell, PSF cell) pair (~1e3-1e5); a robust value then costs work on the
pairs, an rfft of the PSF grid and a fit on a cut-out around the peak.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..constants import GAUSSIAN_BEAM_FACTOR
from ..errors import DegenerateUVCoverage, InvalidImagingParameter
from .uvcoverage import _ARCSEC, C_LIGHT, UVCoverage, default_cell_imsize, fast_fft_size, uv_coverage

__all__ = [
    "BeamPrediction",
    "UVCoverage",
    "InvalidImagingParameter",
    "predict_beam",
    "sweep",
    "uv_coverage",
    "to_arcsec",
    "fast_fft_size",
    "default_cell_imsize",
]

#: tclean's default psfcutoff: PSF pixels above this fraction of the peak, in the main lobe, are fitted.
PSF_CUTOFF = 0.35
_FWHM_TO_SIGMA = 1.0 / math.sqrt(8.0 * math.log(2.0))


@dataclass(frozen=True)
class BeamPrediction:
    """A predicted synthesized beam: FWHM major/minor (arcsec), PA (deg, east of north), and sensitivity.

    ``relative_sensitivity`` is the point-source noise relative to natural weighting
    (1.0 = natural; larger = noisier). ``cell_arcsec``/``imsize`` are the grid used.
    """

    major: float
    minor: float
    pa: float
    relative_sensitivity: float
    robust: float | None
    weighting: str
    uvtaper_arcsec: float | None
    cell_arcsec: float
    imsize: int
    n_visibilities: int

    @property
    def area_arcsec2(self) -> float:
        """Gaussian beam area, pi/(4 ln 2) * major * minor (arcsec^2)."""
        return GAUSSIAN_BEAM_FACTOR * self.major * self.minor

    def as_dict(self) -> dict[str, Any]:
        """The prediction as a plain dict.

        Examples
        --------
        >>> BeamPrediction(1.0, 0.8, 10.0, 1.1, 0.5, "briggs", None, 0.2, 128, 10).as_dict()["major"]
        1.0
        """
        return asdict(self)


# --------------------------------------------------------------------------- units


def to_arcsec(value: Any, what: str = "angle") -> float:
    """An angle as arcsec from a number (arcsec), a CASA string ('0.1arcsec', '2mas', '1.5deg'), or a Quantity.

    Examples
    --------
    >>> to_arcsec("0.1arcsec"), to_arcsec("15mas"), to_arcsec(0.25)
    (0.1, 0.015, 0.25)
    """
    if value is None:
        raise InvalidImagingParameter(None, f"{what} is missing")
    if hasattr(value, "unit") and hasattr(value, "to_value"):
        from astropy import units as u

        try:
            return float(value.to_value(u.arcsec))
        except u.UnitConversionError as err:
            raise InvalidImagingParameter(None, f"{what} {value!r} is not an angle") from err
    if isinstance(value, (list, tuple)) and value:
        return to_arcsec(value[0], what)
    if isinstance(value, (int, float, np.floating, np.integer)):
        return float(value)
    text = str(value).strip()
    m = re.fullmatch(r"([0-9.eE+-]+)\s*([a-zA-Z\"']*)", text)
    if not m:
        raise InvalidImagingParameter(None, f"{what} {value!r} is not an angle such as '0.1arcsec'")
    scale = {
        "": 1.0,
        "arcsec": 1.0,
        '"': 1.0,
        "asec": 1.0,
        "mas": 1e-3,
        "marcsec": 1e-3,
        "arcmin": 60.0,
        "amin": 60.0,
        "'": 60.0,
        "deg": 3600.0,
        "rad": 180.0 / math.pi * 3600.0,
    }.get(m.group(2).lower())
    if scale is None:
        raise InvalidImagingParameter(None, f"{what} {value!r}: unknown angle unit {m.group(2)!r}")
    return float(m.group(1)) * scale


# --------------------------------------------------------------------------- weighting and PSF


def _on_grid(i: np.ndarray, n: int) -> np.ndarray:
    """0 < i < n (CASA keeps cells strictly inside the density grid)."""
    return (i > 0) & (i < n)


class _UVGrid:
    """The uv samples of a coverage binned once on the grids of one image (cell, imsize).

    Each sample has a density cell (CASA's imaging-weight grid: cell = truncation of
    ``u / du + n / 2``, ``du = 1 / (n * cell)``, kept when strictly inside on both axes)
    and a PSF cell (the nearest cell of the ``oversample``-times finer FFT grid). Its
    imaging weight is its data weight times a factor of its density cell's total (and,
    with a taper, of its own u, v), so the samples are summed once per (density cell,
    PSF cell) pair and a weighting then costs work on the pairs (~1e4-1e5), not on the
    samples (~1e7). The density grid counts every sample and its Hermitian conjugate.
    """

    #: Largest (density cell, PSF cell) key range summed with one bincount; beyond it, np.unique.
    MAX_DENSE_KEYS = 2**24

    def __init__(self, cov: UVCoverage, cell_arcsec: float, imsize: int, oversample: int = 2):
        n = self.n = int(imsize)
        big = self.N = fast_fft_size(n * oversample)
        h = n // 2
        du = 1.0 / (n * cell_arcsec * _ARCSEC)
        dp = 1.0 / (big * cell_arcsec * _ARCSEC)
        x = cov.u / du
        y = cov.v / du
        w = cov.weight
        # Integer casts truncate; truncation and floor agree on every cell the strict inside test keeps.
        # The conjugate (-u, -v) falls in its own density cell (truncation is not symmetric about 0).
        iu = (h - x).astype(np.int32)
        iv = (h - y).astype(np.int32)
        flat = np.where(_on_grid(iu, n) & _on_grid(iv, n), iv * n + iu, n * n)
        density = np.bincount(flat, weights=w, minlength=n * n + 1)[: n * n]
        iu = (x + h).astype(np.int32)
        iv = (y + h).astype(np.int32)
        del x, y, flat
        inside = _on_grid(iu, n) & _on_grid(iv, n)
        self.n_visibilities = int(np.count_nonzero(inside))
        # PSF cell relative to the first PSF cell of the density cell: a few values per axis.
        pu = np.rint(cov.u / dp).astype(np.int32) - ((iu - h) * big) // n
        pv = np.rint(cov.v / dp).astype(np.int32) - ((iv - h) * big) // n
        lo, span = [], []
        for a in (iu, iv, pu, pv):
            first = int(a.min(where=inside, initial=np.iinfo(np.int32).max))
            lo.append(first)
            span.append(max(int(a.max(where=inside, initial=first)) - first + 1, 1))
        nkeys = span[0] * span[1] * span[2] * span[3]
        dtype = np.int32 if nkeys < 2**31 else np.int64
        key = ((iv - lo[1]).astype(dtype) * span[0] + (iu - lo[0])) * span[3] + (pv - lo[3])
        key = key * span[2] + (pu - lo[2])
        del iu, iv, pu, pv
        if nkeys <= self.MAX_DENSE_KEYS:
            key = np.where(inside, key, nkeys)  # off the grid: one extra bin, dropped
            sums = np.bincount(key, weights=w, minlength=nkeys + 1)[:nkeys]
            keys = np.flatnonzero(sums)
            self._sum = lambda values: np.bincount(key, weights=values, minlength=nkeys + 1)[keys]
            self.pair_weight = sums[keys]
        else:
            keys, inverse = np.unique(key[inside], return_inverse=True)
            self._sum = lambda values: np.bincount(inverse, weights=values[inside], minlength=keys.size)
            self.pair_weight = self._sum(w)
        cells, rel = np.divmod(keys, span[2] * span[3])
        cv, cu = np.divmod(cells, span[0])
        cu, cv = cu + lo[0], cv + lo[1]
        rv, ru = np.divmod(rel, span[2])
        pu = ru + lo[2] + ((cu - h) * big) // n
        pv = rv + lo[3] + ((cv - h) * big) // n
        density += np.bincount(cv * n + cu, weights=self.pair_weight, minlength=n * n)
        self.density = density
        self.pair_density = density[cv * n + cu]
        self.pair_psf = (pv % big) * big + pu % big
        self.pair_psf_conj = ((-pv) % big) * big + (-pu) % big
        self._cov = cov
        self._tapers: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def taper_sums(self, uvtaper_arcsec: float | None) -> tuple[np.ndarray, np.ndarray]:
        """Per pair: sum of w * t and of w * t**2 (t the Gaussian taper at each sample's u, v)."""
        if not uvtaper_arcsec:
            return self.pair_weight, self.pair_weight
        if uvtaper_arcsec not in self._tapers:
            theta = uvtaper_arcsec * _ARCSEC
            u = self._cov.u.astype(np.float64)
            v = self._cov.v.astype(np.float64)
            t = np.exp(-((math.pi * theta) ** 2) * (u * u + v * v) / (4.0 * math.log(2.0)))
            wt = self._cov.weight * t
            self._tapers[uvtaper_arcsec] = (self._sum(wt), self._sum(wt * t))
        return self._tapers[uvtaper_arcsec]

    def factor(self, weighting: str, robust: float | None) -> np.ndarray:
        """Per pair: imaging weight / data weight (CASA's natural, uniform, Briggs)."""
        dk = self.pair_density
        if weighting == "natural":
            return np.ones_like(dk)
        if weighting == "uniform":
            return 1.0 / np.where(dk > 0, dk, 1.0)
        grid = self.density
        f2 = (5.0 * 10.0 ** (-float(robust))) ** 2 / (float(np.dot(grid, grid)) / float(grid.sum()))
        return 1.0 / (1.0 + dk * f2)

    def psf(self, pair_W: np.ndarray) -> np.ndarray:
        """Normalised PSF (m, l), centre at [N//2, N//2], from the per-pair imaging weights (both halves)."""
        big = self.N
        grid = np.bincount(self.pair_psf, weights=pair_W, minlength=big * big)
        grid += np.bincount(self.pair_psf_conj, weights=pair_W, minlength=big * big)
        half = np.fft.rfft2(grid.reshape(big, big)).real  # the grid is Hermitian: its transform is real
        psf = np.empty((big, big))
        psf[:, : big // 2 + 1] = half
        psf[:, big // 2 + 1 :] = half[(-np.arange(big)) % big, big // 2 - 1 : 0 : -1]
        psf = np.fft.fftshift(psf)
        return psf / psf[big // 2, big // 2]


def fit_psf(psf: np.ndarray, cell_arcsec: float, cutoff: float = PSF_CUTOFF) -> tuple[float, float, float]:
    """Fit an elliptical Gaussian (peak 1) to the PSF's main lobe above ``cutoff``: (major", minor", PA deg).

    ``psf`` is indexed (m, l) = (north, east) with the peak at the centre pixel.

    Examples
    --------
    >>> y, x = np.mgrid[-20:21, -20:21] * 0.1
    >>> g = np.exp(-4 * np.log(2) * ((x / 1.0) ** 2 + (y / 0.5) ** 2))   # major 1" along east: PA 90
    >>> [round(v, 3) for v in fit_psf(g, 0.1)]
    [1.0, 0.5, 90.0]
    """
    from scipy import ndimage, optimize

    cy, cx = psf.shape[0] // 2, psf.shape[1] // 2
    half = 20
    while True:
        sub = psf[max(cy - half, 0) : cy + half + 1, max(cx - half, 0) : cx + half + 1]
        labels, _ = ndimage.label(sub > cutoff)
        lobe = labels == labels[min(half, cy), min(half, cx)]
        edge = lobe[0].any() or lobe[-1].any() or lobe[:, 0].any() or lobe[:, -1].any()
        if not edge or half >= min(cy, cx):
            break
        half *= 2
    jj, ii = np.nonzero(lobe)
    m = (jj - min(half, cy)) * cell_arcsec
    ll = (ii - min(half, cx)) * cell_arcsec
    z = sub[jj, ii]
    # Moments give the starting point.
    cov = np.cov(np.vstack([ll, m]), aweights=z)
    evals, evecs = np.linalg.eigh(cov)
    start_pa = math.atan2(evecs[0, 1], evecs[1, 1])
    scale = 2.0 * math.sqrt(2.0 * math.log(2.0))
    start = [
        max(math.sqrt(max(evals[1], 1e-12)) * scale * 1.5, cell_arcsec),
        max(math.sqrt(max(evals[0], 1e-12)) * scale * 1.5, cell_arcsec),
        start_pa,
    ]

    def model(p: np.ndarray) -> np.ndarray:
        a, b, pa = p
        x1 = ll * math.sin(pa) + m * math.cos(pa)
        y1 = ll * math.cos(pa) - m * math.sin(pa)
        return np.exp(-4.0 * math.log(2.0) * ((x1 / a) ** 2 + (y1 / b) ** 2))

    res = optimize.least_squares(lambda p: model(p) - z, start, method="lm")
    a, b, pa = res.x
    a, b = abs(a), abs(b)
    if b > a:
        a, b, pa = b, a, pa + math.pi / 2
    pa_deg = (math.degrees(pa) + 90.0) % 180.0 - 90.0
    if pa_deg <= -90.0 + 1e-9:
        pa_deg += 180.0  # CASA's range (-90, 90]
    return float(a), float(b), float(pa_deg)


#: Largest image side the default heuristics may choose (a VLBI array's primary beam over its cell is ~1e6).
MAX_DEFAULT_IMSIZE = 16384


def _resolve(cov: UVCoverage, cell: Any, imsize: Any) -> tuple[float, int]:
    _check_coverage(cov)
    default_cell, default_imsize = default_cell_imsize(cov)
    cell_arcsec = default_cell if cell is None else to_arcsec(cell, "cell")
    if cell_arcsec <= 0:
        raise InvalidImagingParameter(None, f"cell must be positive, got {cell!r}")
    if imsize is None:
        n = (
            default_imsize
            if cell is None
            else fast_fft_size(int(math.ceil(default_imsize * default_cell / cell_arcsec)))
        )
        if n > MAX_DEFAULT_IMSIZE:
            longest = float(np.hypot(cov.u, cov.v).max()) * C_LIGHT / cov.max_frequency / 1e3
            raise InvalidImagingParameter(
                cov.sources[0] if cov.sources else None,
                f"the default image grid for field {cov.field!r} would be {n} x {n} pixels of {cell_arcsec:g} arcsec "
                f"(baselines up to {longest:.0f} km, {cov.dish_diameter:g} m dishes: the primary beam spans "
                f"{n} beams); give cell= and imsize= for the region to image",
            )
    else:
        n = int(imsize[0] if isinstance(imsize, (list, tuple)) else imsize)
    if n < 16:
        raise InvalidImagingParameter(None, f"imsize {n} is too small (at least 16 pixels)")
    return cell_arcsec, n


def _check_coverage(cov: UVCoverage) -> None:
    """Refuse a coverage whose samples lie along one direction of the uv plane (no beam along the other).

    The weighted second moments of (u, v) give the rms uv extent along the least sampled direction;
    along it the natural beam would be ~ 2.355 / (2 pi rms) radians wide: no finite beam when zero.
    """
    w = cov.weight.astype(np.float64)
    u = cov.u.astype(np.float64)
    v = cov.v.astype(np.float64)
    total = float(w.sum())
    if total <= 0 or cov.n == 0:
        raise DegenerateUVCoverage(
            cov.sources[0] if cov.sources else None,
            f"field {cov.field!r} has no unflagged visibility with a non-zero weight",
        )
    moments = np.array([[np.dot(w, u * u), np.dot(w, u * v)], [np.dot(w, u * v), np.dot(w, v * v)]]) / total
    low, high = np.linalg.eigvalsh(moments)
    if not high > 0 or low <= high * 1e-8:
        what = "one sample pair" if np.unique(np.round(np.c_[u, v], 3), axis=0).shape[0] <= 1 else "one line"
        raise DegenerateUVCoverage(
            cov.sources[0] if cov.sources else None,
            f"the uv coverage of field {cov.field!r} ({cov.n} samples) lies on {what} through the origin "
            "(one baseline, or one integration of a linear array): it constrains the beam along one direction "
            "only, so there is no synthesized beam; image more baselines or a longer track",
        )


def _check_beam(cov: UVCoverage, major: float, minor: float, pa: float, cell_arcsec: float, n: int) -> None:
    if not (math.isfinite(major) and major < n * cell_arcsec):
        raise DegenerateUVCoverage(
            cov.sources[0] if cov.sources else None,
            f"the uv coverage of field {cov.field!r} ({cov.n} samples) gives a beam of {major:.3g} x {minor:.3g} "
            f"arcsec (PA {pa:.0f} deg), larger than the {n} x {cell_arcsec:g} arcsec image: the samples lie "
            "nearly along one direction of the uv plane (few baselines, a short track); no usable beam",
        )


def _weighting(robust: Any) -> tuple[str, float | None]:
    if robust is None or robust == "briggs":
        return "briggs", 0.5
    if isinstance(robust, str):
        if robust in ("natural", "uniform"):
            return robust, None
        raise InvalidImagingParameter(None, f"robust {robust!r}: expected a number in [-2, 2], 'natural' or 'uniform'")
    r = float(robust)
    if not -2.0 <= r <= 2.0:
        raise InvalidImagingParameter(None, f"robust {r} is outside CASA's range [-2, 2]")
    return "briggs", r


def _predict(
    cov: UVCoverage, robust: Any, uvtaper: Any, cell_arcsec: float, n: int, grid: _UVGrid | None = None
) -> BeamPrediction:
    weighting, r = _weighting(robust)
    taper = None if uvtaper in (None, "", [], 0) else to_arcsec(uvtaper, "uvtaper")
    if grid is None:
        grid = _UVGrid(cov, cell_arcsec, n)
    g = grid.factor(weighting, r)
    wt, wt2 = grid.taper_sums(taper)
    W = g * wt  # per pair: sum of the imaging weights
    major, minor, pa = fit_psf(grid.psf(W), cell_arcsec)
    _check_beam(cov, major, minor, pa, cell_arcsec, n)
    # noise relative to natural: sqrt(sum(W**2 / w) * sum(w)) / sum(W), summed per pair
    rel = math.sqrt(float(np.dot(g * g, wt2)) * float(grid.pair_weight.sum())) / float(W.sum())
    return BeamPrediction(major, minor, pa, rel, r, weighting, taper, cell_arcsec, n, grid.n_visibilities)


def predict_beam(
    ms_or_paths: Any,
    *,
    field: str | int,
    spw: Any = None,
    robust: float | str = 0.5,
    uvtaper: Any = None,
    cell: Any = None,
    imsize: int | Sequence[int] | None = None,
) -> BeamPrediction:
    """Predict the synthesized beam and the sensitivity relative to natural weighting, without imaging.

    ``robust``: a Briggs robust in [-2, 2], or 'natural' / 'uniform'. ``uvtaper``:
    image-plane FWHM of a Gaussian taper (arcsec number, '0.5arcsec' or a Quantity).
    ``cell`` and ``imsize`` are the image grid the weighting uses (as tclean's);
    by default the pipeline-like heuristics of :func:`default_cell_imsize`.

    Examples
    --------
    >>> import almaview as av
    >>> b = av.imaging.predict_beam("uid___A002_X1.ms", field="IRAS16293-2422", spw="1,2,3",
    ...                             robust=0.5, cell="0.25arcsec", imsize=128)       # doctest: +SKIP
    >>> round(b.major, 2), round(b.minor, 2), round(b.relative_sensitivity, 2)     # doctest: +SKIP
    (2.05, 1.47, 1.12)
    """
    cov = ms_or_paths if isinstance(ms_or_paths, UVCoverage) else uv_coverage(ms_or_paths, field=field, spw=spw)
    cell_arcsec, n = _resolve(cov, cell, imsize)
    return _predict(cov, robust, uvtaper, cell_arcsec, n)


def sweep(
    ms_or_paths: Any,
    *,
    field: str | int,
    spw: Any = None,
    robust: Iterable[float | str] = (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, "natural"),
    uvtaper: Iterable[Any] = (None,),
    cell: Any = None,
    imsize: Any = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Predicted beam and relative sensitivity over robust values (and tapers): one row per combination.

    The uv coverage is read once. Columns: robust, weighting, uvtaper_arcsec, major, minor, pa,
    area_arcsec2, relative_sensitivity, cell_arcsec, imsize.

    Examples
    --------
    >>> import almaview as av
    >>> table = av.imaging.sweep("uid___A002_X1.ms", field="IRAS16293-2422", spw="1,2,3")   # doctest: +SKIP
    >>> table[["robust", "major", "relative_sensitivity"]]                                  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    cov = ms_or_paths if isinstance(ms_or_paths, UVCoverage) else uv_coverage(ms_or_paths, field=field, spw=spw)
    cell_arcsec, n = _resolve(cov, cell, imsize)
    combos = [(r, t) for t in uvtaper for r in robust]
    grid = _UVGrid(cov, cell_arcsec, n)
    rows = []
    for r, t in tqdm(combos, desc="beam prediction", disable=not progress):
        p = _predict(cov, r, t, cell_arcsec, n, grid)
        d = p.as_dict()
        d["robust"] = r if isinstance(r, str) else float(r)
        d["area_arcsec2"] = p.area_arcsec2
        rows.append(d)
    cols = [
        "robust",
        "weighting",
        "uvtaper_arcsec",
        "major",
        "minor",
        "pa",
        "area_arcsec2",
        "relative_sensitivity",
        "cell_arcsec",
        "imsize",
        "n_visibilities",
    ]
    return pd.DataFrame(rows)[cols]

"""The uv coverage that beam prediction and the imaging heuristics start from.

:func:`uv_coverage` reads a target's UVW, WEIGHT and FLAG once (in aligned dask blocks, a few sub-bands per spw)
into a :class:`UVCoverage`; :func:`default_cell_imsize` derives tclean's cell and image size from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from ..errors import InvalidImagingParameter

C_LIGHT = 299_792_458.0
_ARCSEC = math.pi / 180.0 / 3600.0


def fast_fft_size(n: int) -> int:
    """The smallest even n' >= n whose only prime factors are 2, 3, 5 (sizes FFTs, and CASA, like).

    Examples
    --------
    >>> fast_fft_size(127), fast_fft_size(1000), fast_fft_size(1001)
    (128, 1000, 1024)
    """
    m = max(2, int(n))
    while True:
        if m % 2 == 0:
            k = m
            for p in (2, 3, 5):
                while k % p == 0:
                    k //= p
            if k == 1:
                return m
        m += 1


@dataclass
class UVCoverage:
    """Unflagged visibilities of one field, reduced to sub-bands: u, v in wavelengths, weight = sum of weights.

    ``dish_diameter`` (m; the smallest of the MSs', so joint 12-m + 7-m coverage images the 7 m primary beam) and
    ``max_frequency`` (Hz) feed the cell/imsize heuristics.
    """

    u: np.ndarray
    v: np.ndarray
    weight: np.ndarray
    field: str
    spws: tuple[int, ...]
    dish_diameter: float
    min_frequency: float
    max_frequency: float
    sources: tuple[str, ...] = ()
    #: every dish diameter of the MSs (m): more than one (12-m + 7-m) takes tclean's mosaic gridder
    dish_diameters: tuple[float, ...] = ()

    @property
    def n(self) -> int:
        return int(self.u.size)


# --------------------------------------------------------------------------- reading


def _trees(ms_or_paths: Any) -> list[Any]:
    from ..io.ms import open_ms

    items = ms_or_paths if isinstance(ms_or_paths, (list, tuple)) else [ms_or_paths]
    return [x if hasattr(x, "children") else open_ms(x) for x in items]


def _parse_spw(spw: Any) -> list[int] | None:
    if spw is None or spw == "" or spw == "*":
        return None
    if isinstance(spw, (int, np.integer)):
        return [int(spw)]
    if isinstance(spw, str):
        out = []
        for part in spw.split(","):
            part = part.split(":")[0].strip()
            if "~" in part:
                a, b = part.split("~")
                out.extend(range(int(a), int(b) + 1))
            elif part:
                out.append(int(part))
        return out
    return [int(s) for s in spw]


def _aligned_blocks(*arrays: Any) -> Iterable[tuple[Any, ...]]:
    """Delayed blocks of dask arrays over (time, baseline_id, ...), chunked alike on time and baseline_id, whole beyond."""
    first = arrays[0]
    out = []
    for arr in arrays:
        chunks = {0: first.chunks[0], 1: first.chunks[1], **{d: -1 for d in range(2, arr.ndim)}}
        out.append(arr.rechunk(chunks).to_delayed().reshape(-1))
    return zip(*out)


#: Correlations that carry Stokes I (tclean's Stokes I image uses the parallel hands only).
PARALLEL_HANDS = ("RR", "LL", "XX", "YY", "I")


def _coverage_block(
    flag: np.ndarray,
    weight: np.ndarray,
    uvw: np.ndarray,
    k: int,
    centres: np.ndarray,
    parallel: tuple[int, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One chunk's Stokes I samples: u, v (wavelengths) and summed weight per (row, group of ``k`` channels).

    ``flag`` (time, baseline_id, chan, pol); ``weight`` the same or (time, baseline_id, pol) for per-row
    WEIGHT; ``uvw`` (time, baseline_id, 2) in m. Cells without a row are flagged (and NaN).

    tclean's rules for a Stokes I image: a (row, channel) enters imaging only when none of its
    correlations is flagged (a sample with, e.g., only RL flagged is dropped whole: CASA's imaging
    weights flag a channel of a row when any correlation is flagged); its weight is the sum of the
    parallel-hand weights (``parallel``: their indices; None = every correlation). Autocorrelations
    (u = v = 0) are not imaged.
    """
    flag = np.asarray(flag)
    weight = np.nan_to_num(np.asarray(weight, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if weight.ndim == 3:
        weight = weight[:, :, None, :]
    pols = range(flag.shape[-1]) if parallel is None else parallel
    groups = np.zeros(np.broadcast_shapes(flag.shape[:-1], weight.shape[:-1]), np.float32)
    for p in pols:
        groups += np.maximum(weight[..., p], np.float32(0))
    groups[flag.any(axis=-1)] = 0.0
    nt, nb, nc = groups.shape
    if k > 1:
        pad = (-nc) % k
        if pad:
            groups = np.concatenate([groups, np.zeros((nt, nb, pad), np.float32)], axis=2)
        groups = groups.reshape(nt, nb, -1, k).sum(axis=3)
    uvw = np.asarray(uvw, dtype=float).reshape(nt * nb, 2)
    groups = groups.reshape(nt * nb, -1)
    cross = np.isfinite(uvw[:, :1]) & ((uvw[:, :1] != 0.0) | (uvw[:, 1:2] != 0.0))
    rows, chans = np.nonzero((groups > 0) & cross)
    scale = centres[chans] / C_LIGHT
    return ((uvw[rows, 0] * scale).astype(np.float32), (uvw[rows, 1] * scale).astype(np.float32), groups[rows, chans])


def uv_coverage(
    ms_or_paths: Any, *, field: str | int, spw: Any = None, max_fractional_width: float = 1e-4
) -> UVCoverage:
    """Read the Stokes I uv coverage of ``field`` (UVW, WEIGHT, FLAG once), one sample per (row, channel group).

    The samples are the ones tclean images for Stokes I: a (row, channel) with any correlation
    flagged is left out whole, its weight is the sum of the parallel hands' (RR+LL, XX+YY), and
    autocorrelations are not imaged (see ``_coverage_block``).

    Channels are summed in groups no wider than ``max_fractional_width`` of the frequency
    (1e-4: a 1 km baseline moves by < 1/50 of a uv cell of a 30 arcsec image), so
    narrow-channel spws cost what wide-channel ones cost; wide channels stay single.

    ``ms_or_paths``: an MS path, an opened DataTree, or a list of them (several EBs).
    ``spw``: None (every spw with data on the field), an id, a list, or a CASA string '1,2,3'.

    Examples
    --------
    >>> from almaview.imaging import uv_coverage
    >>> cov = uv_coverage("uid___A002_X1.ms", field="IRAS16293-2422", spw="1,2,3")   # doctest: +SKIP
    >>> cov.n                                                                         # doctest: +SKIP
    """
    import dask

    trees = _trees(ms_or_paths)
    wanted = _parse_spw(spw)
    pieces: list[Any] = []
    spws_used: set[int] = set()
    dish, fmin, fmax = [], [], []
    name = None
    sources = []
    for tree in trees:
        path = tree.attrs.get("path", "")
        sources.append(path)
        fields = tree["fields"].ds
        names = [str(n) for n in fields.field_name.values]
        if isinstance(field, (int, np.integer)) or (isinstance(field, str) and field.isdigit()):
            fid = int(field)
            if fid not in [int(i) for i in fields.field_id.values]:
                raise InvalidImagingParameter(path, f"has no field id {fid} (fields: {', '.join(names)})")
            name = names[[int(i) for i in fields.field_id.values].index(fid)]
        else:
            if field not in names:
                raise InvalidImagingParameter(path, f"has no field {field!r} (fields: {', '.join(names)})")
            name = str(field)
        dish.append(float(np.nanmax(tree["antennas"].ds.ANTENNA_DISH_DIAMETER.values)))
        spw_nodes = {int(tree[k].ds.attrs["spw_id"]): k for k in tree.children if k.startswith("spw_")}
        ids = sorted(spw_nodes) if wanted is None else wanted
        for s in ids:
            if s not in spw_nodes:
                raise InvalidImagingParameter(path, f"has no spw {s} (spws: {', '.join(map(str, sorted(spw_nodes)))})")
            ds = tree[spw_nodes[s]].ds
            on = np.asarray(ds.field_name.values) == name
            if not on.any():
                continue
            spws_used.add(s)
            nchan = ds.sizes["frequency"]
            freq = np.asarray(ds.frequency.values, dtype=float)
            fmin.append(freq.min())
            fmax.append(freq.max())
            step = abs(float(np.median(np.diff(freq)))) if nchan > 1 else 0.0
            k = max(1, int(max_fractional_width * float(freq.mean()) // step)) if step > 0 else 1
            k = min(k, nchan)
            centres = np.asarray(ds.frequency.coarsen(frequency=k, boundary="pad").mean().values, dtype=float)
            # WEIGHT without WEIGHT_SPECTRUM is one value per (row, polarization): read it so, not per channel.
            weight = ds.WEIGHT.isel(frequency=0) if ds.WEIGHT.attrs.get("column") == "WEIGHT" else ds.WEIGHT
            uvw = ds.UVW.isel(uvw_label=slice(0, 2))
            labels = [str(x) for x in ds.polarization.values] if "polarization" in ds.coords else []
            parallel = tuple(i for i, x in enumerate(labels) if x in PARALLEL_HANDS) or None
            # Slices of the field's time runs (not a list) so that only those rows are read.
            times = np.flatnonzero(on)
            breaks = np.flatnonzero(np.diff(times) > 1)
            for a, b in zip(np.r_[times[0], times[breaks + 1]], np.r_[times[breaks], times[-1]] + 1):
                run = slice(int(a), int(b))
                blocks = _aligned_blocks(
                    ds.FLAG.isel(time=run).data, weight.isel(time=run).data, uvw.isel(time=run).data
                )
                pieces.extend(dask.delayed(_coverage_block)(f, w, x, k, centres, parallel) for f, w, x in blocks)
    if not pieces:
        raise InvalidImagingParameter(
            sources[0] if sources else None, f"holds no visibilities of field {field!r} in spw {spw!r}"
        )
    computed = dask.compute(*pieces)
    us, vs, ws = zip(*computed)
    u, v, w = np.concatenate(us), np.concatenate(vs), np.concatenate(ws)
    if u.size == 0:
        raise InvalidImagingParameter(sources[0], f"every visibility of field {field!r} in spw {spw!r} is flagged")
    # the smallest dish sets the field of view: 12-m + 7-m data are imaged over the 7 m primary beam
    return UVCoverage(
        u, v, w, str(name), tuple(sorted(spws_used)), min(dish), min(fmin), max(fmax), tuple(sources),
        tuple(sorted(set(dish))),
    )  # fmt: skip


# --------------------------------------------------------------------------- heuristics


def default_cell_imsize(cov: UVCoverage, *, pb_level: float = 0.2, pixels_per_beam: float = 5.0) -> tuple[float, int]:
    """Pipeline-like cell (arcsec) and imsize: cell ~ beam minor / 5, imsize covering the PB to ``pb_level``.

    The beam is estimated from the 90th percentile uv distance (1/uv90 rad, ~ the
    robust=0.5 beam); the PB is a Gaussian of FWHM 1.13 lambda/D at the lowest
    frequency. imsize is rounded up to a fast FFT size.

    Examples
    --------
    >>> cov = UVCoverage(np.array([1e5, -2e5]), np.array([5e4, 1e5]), np.ones(2), "f", (0,), 12.0, 230e9, 231e9)
    >>> cell, imsize = default_cell_imsize(cov)
    >>> round(cell, 2), imsize
    (0.19, 216)
    """
    uvdist = np.hypot(cov.u, cov.v)
    beam = 1.0 / float(np.percentile(uvdist, 90)) / _ARCSEC
    cell = float(f"{beam / pixels_per_beam:.2g}")
    pb_fwhm = 1.13 * C_LIGHT / cov.min_frequency / cov.dish_diameter / _ARCSEC
    diameter = 2.0 * pb_fwhm / 2.0 * math.sqrt(math.log(1.0 / pb_level) / math.log(2.0))
    return cell, fast_fft_size(int(math.ceil(diameter / cell)))

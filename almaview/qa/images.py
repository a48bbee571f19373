"""Images: achieved rms and beam of each delivered image vs the README's proposed values, S/N, negative features.

The rms is measured where ALMA measures it: on the flat-noise image (pbcor x pb), outside the clean mask,
where the primary beam is at least ``Limits.image_pb_limit``; for cubes over every channel (robust MAD, so
line channels inside the mask do not bias it) and scaled to the README's bandwidth when it gives one.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from ..analysis.statistics import dynamic_range, robust_rms
from ..delivery.model import ImageProduct, MemberOUS
from ..io.image import image_statistics, open_image
from .limits import QA2_CYCLE1, QA2_REQUIREMENTS, Limits, alma_band, rms_tolerance
from .report import Evidence, Finding, grade, not_checkable

CRITERION = "images"

_FLUX = {"jy": 1.0, "mjy": 1e-3, "ujy": 1e-6, "µjy": 1e-6, "μjy": 1e-6}
_FREQ = {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9}
_ANGLE = {"arcsec": 1.0, "mas": 1e-3, "arcmin": 60.0, "deg": 3600.0, '"': 1.0}


def parse_proposed_rms(text: str | None) -> list[dict]:
    """The README's proposed rms as entries {rms_jy, bandwidth_hz, tag}.

    Examples
    --------
    >>> parse_proposed_rms("5.0 mJy/beam per 1.953 MHz channel (cube); 0.5 mJy/beam (continuum)")
    [{'rms_jy': 0.005, 'bandwidth_hz': 1953000.0, 'tag': 'cube'}, {'rms_jy': 0.0005, 'bandwidth_hz': None, 'tag': 'continuum'}]
    """
    out = []
    for part in re.split(r"[;,]\s*(?=\d)", text or ""):
        m = re.search(r"([0-9.]+(?:[eE][-+]?\d+)?)\s*([muµμ]?Jy)", part)
        if not m:
            continue
        bw = re.search(r"per\s+([0-9.]+)\s*([kMG]?Hz)", part)
        tag = re.search(r"\(([^)]+)\)", part)
        out.append(
            dict(
                rms_jy=float(m.group(1)) * _FLUX[m.group(2).lower()],
                bandwidth_hz=float(bw.group(1)) * _FREQ[bw.group(2).lower()] if bw else None,
                tag=tag.group(1).strip().lower() if tag else None,
            )
        )
    return out


def parse_proposed_beam(text: str | None) -> float | None:
    """The README's proposed beam in arcsec (geometric mean of 'a x b'), or None.

    Examples
    --------
    >>> parse_proposed_beam("1.5 arcsec"), parse_proposed_beam("0.4 x 0.1 arcsec"), parse_proposed_beam(None)
    (1.5, 0.2, None)
    """
    if not text:
        return None
    nums = [float(x) for x in re.findall(r"[0-9]*\.?[0-9]+", text)][:2]
    unit = re.search(r"(arcsec|mas|arcmin|deg|\")", text)
    if not nums:
        return None
    scale = _ANGLE[unit.group(1)] if unit else 1.0
    return float(math.sqrt(nums[0] * nums[-1]) * scale) if len(nums) == 2 and "x" in text else nums[0] * scale


def _proposed_for(entries: list[dict], kind: str | None) -> dict | None:
    words = {"cube": ("cube", "line", "spectral"), "cont": ("cont", "continuum", "aggregate")}.get(kind or "", ())
    tagged = [e for e in entries if e["tag"] and any(w in e["tag"] for w in words)]
    if tagged:
        return tagged[0]
    untagged = [e for e in entries if not e["tag"]]
    return untagged[0] if len(untagged) == 1 else (entries[0] if len(entries) == 1 else None)


def _sibling(images: list[ImageProduct], im: ImageProduct, image_type: str) -> ImageProduct | None:
    for o in images:
        if (
            o.image_type == image_type
            and o.field == im.field
            and o.spws == im.spws
            and o.kind == im.kind
            and o.taylor == im.taylor
            and o.mous == im.mous
        ):
            return o
    return None


def channel_rms(cube, max_bytes: int = 64 * 2**20) -> pd.DataFrame:
    """Robust rms (1.4826 x MAD over the finite pixels) of every channel of ``cube`` (dim ``frequency``): a row per
    channel with finite pixels (``channel``, ``frequency_hz``, ``rms``). Channels are read in batches of about
    ``max_bytes`` (one dask compute per batch, not per channel), so a cube never needs to fit in memory.

    Examples
    --------
    >>> import xarray as xr
    >>> cube = xr.DataArray(np.arange(18.0).reshape(2, 3, 3), dims=("frequency", "y", "x"),
    ...                     coords={"frequency": [1e11, 1.1e11]})
    >>> cube[1] = np.nan
    >>> channel_rms(cube).round(4).to_dict("records")
    [{'channel': 0, 'frequency_hz': 100000000000.0, 'rms': 2.9652}]
    """
    freq = np.asarray(cube["frequency"].values, dtype=float)
    nchan = cube.sizes["frequency"]
    plane_bytes = max(1, 8 * int(np.prod([n for d, n in cube.sizes.items() if d != "frequency"])))
    batch = max(1, int(max_bytes // plane_bytes))
    rows = []
    for k0 in range(0, nchan, batch):
        part = cube.isel(frequency=slice(k0, k0 + batch)).transpose("frequency", ...)
        block = np.asarray(part.values).reshape(part.sizes["frequency"], -1)
        for i, plane in enumerate(block):
            rms = robust_rms(plane)  # NaN: no finite pixel in the channel, left out
            if math.isfinite(rms):
                rows.append(dict(channel=k0 + i, frequency_hz=float(freq[k0 + i]), rms=rms))
    return pd.DataFrame(rows, columns=["channel", "frequency_hz", "rms"])


def measure_image(pbcor, pb=None, mask=None, pb_limit: float = 0.3) -> dict:
    """rms (robust, flat-noise image outside the mask where pb >= pb_limit), peak, most negative, beam, channel width.

    Examples
    --------
    >>> measure_image(av.open_image("x.pbcor.fits"), av.open_image("x.pb.fits.gz"))["rms"]   # doctest: +SKIP
    """
    flat = pbcor
    outside = ~np.isfinite(pbcor.data)
    if pb is not None:
        flat = pbcor.copy(data=pbcor.data * pb.data)
        outside = outside | (pb.data < pb_limit) | ~np.isfinite(pb.data)
    flat = flat.copy(data=np.where(outside, np.nan, flat.data))  # peak and minimum: anywhere in the region
    clean_mask = (mask.data > 0) if mask is not None else None  # excluded from the rms only
    stats = image_statistics(flat, mask=clean_mask)
    width = None
    if "frequency" in flat.dims and flat.sizes["frequency"] > 1:
        width = float(np.median(np.abs(np.diff(flat["frequency"].values))))
    freq = float(np.mean(flat["frequency"].values)) if "frequency" in flat.coords else None
    planes = None
    if "frequency" in flat.dims:  # per-channel rms: the evidence for cubes
        noise = flat if clean_mask is None else flat.copy(data=np.where(clean_mask, np.nan, flat.data))
        planes = channel_rms(noise)
    return dict(
        planes=planes if planes is not None else pd.DataFrame(columns=["channel", "frequency_hz", "rms"]),
        rms=stats.rms,
        peak=stats.peak,
        minimum=float(flat.min().values),
        units=stats.units,
        beam_major=stats.beam_major_arcsec,
        beam_minor=stats.beam_minor_arcsec,
        channel_width_hz=width,
        frequency_hz=freq,
    )


def check_images(mous: MemberOUS, limits: Limits) -> list[Finding]:
    """Judge every primary-beam-corrected science image of a member OUS against its README.

    Examples
    --------
    >>> report_rows = check_images(d.mous[0], Limits())     # doctest: +SKIP
    """
    out = []
    readme = mous.readme
    entries = parse_proposed_rms(readme.proposed_rms if readme else None)
    beam_req = parse_proposed_beam(readme.proposed_beam if readme else None)
    for im in mous.images:
        if im.image_type != "pbcor" or im.role not in (None, "sci"):
            continue
        scope = im.name
        if ":" in im.source and not im.source.startswith("/"):
            out.append(not_checkable(CRITERION, scope, "rms vs proposed", f"still inside {im.source.split(':')[0]}"))
            continue
        pb = _sibling(mous.images, im, "pb")
        mask = _sibling(mous.images, im, "mask")
        img = open_image(im.source)
        m = measure_image(
            img, open_image(pb.source) if pb else None, open_image(mask.source) if mask else None, limits.image_pb_limit
        )
        where = f"on pbcor x pb where pb >= {limits.image_pb_limit:g}" if pb else "on the pbcor image (no pb found)"
        where += ", outside the clean mask" if mask else ", no clean mask found"
        band = alma_band(m["frequency_hz"]) if m["frequency_hz"] else None
        out.append(_rms_finding(scope, im, m, entries, band, where))
        out.append(_beam_finding(scope, m, beam_req, limits))
        out += _snr_findings(scope, m, limits, where)
    if not out:
        out.append(not_checkable(CRITERION, mous.uid, "rms vs proposed", "no primary-beam-corrected science image"))
    return out


def _rms_finding(scope, im, m, entries, band, where) -> Finding:
    prop = _proposed_for(entries, im.kind)
    if prop is None:
        return not_checkable(
            CRITERION,
            scope,
            "rms vs proposed",
            f"the README's proposed rms gives no value for a {im.kind or 'this'} image",
        )
    rms = m["rms"]
    note = ""
    if prop["bandwidth_hz"] and m["channel_width_hz"]:
        rms = rms * math.sqrt(m["channel_width_hz"] / prop["bandwidth_hz"])
    if prop["bandwidth_hz"] and m["channel_width_hz"] and abs(m["channel_width_hz"] / prop["bandwidth_hz"] - 1) > 0.01:
        note = f" (scaled from {m['channel_width_hz'] / 1e6:.4g} MHz channels to {prop['bandwidth_hz'] / 1e6:.4g} MHz)"
    ratio = rms / prop["rms_jy"]
    ok, relaxed = rms_tolerance(band)
    why = (
        f"rms {1e3 * rms:.4g} mJy/beam{note} vs proposed {1e3 * prop['rms_jy']:.4g} mJy/beam, {where}; "
        f"band {band if band else 'unknown (ALMA band 3-6 tolerance used)'}"
    )
    scale = rms / m["rms"]
    planes = m["planes"]
    if len(planes) > 1:  # a cube: the rms of every channel against the proposed one (the figure: all channels)
        data = planes.assign(ratio=planes["rms"] * scale / prop["rms_jy"])
        opts = dict(
            x="frequency_hz",
            y="ratio",
            x_label="frequency (Hz)",
            warn=ok,
            fail=relaxed,
            y_label="channel rms / proposed",
            hover=("channel", "rms"),
        )
    else:
        data = pd.DataFrame([dict(image=scope, quantity="rms", ratio=ratio, measured=rms, proposed=prop["rms_jy"])])
        opts = dict(x="quantity", y="ratio", warn=ok, fail=relaxed, y_label="achieved / proposed")
    return Finding(
        CRITERION,
        scope,
        "rms vs proposed",
        grade(ratio, ok, relaxed),
        ratio,
        "x proposed",
        f"pass <= {ok:g}, warning <= {relaxed:g}, fail above",
        f"{QA2_REQUIREMENTS} (pass); {QA2_CYCLE1} (warning)",
        why,
        Evidence("scatter", data, opts),
    )


def _beam_finding(scope, m, beam_req, limits: Limits) -> Finding:
    if beam_req is None or not np.isfinite(m["beam_major"]):
        why = "no proposed beam in the README" if beam_req is None else "the image has no restoring beam"
        return not_checkable(CRITERION, scope, "beam vs proposed", why)
    area = m["beam_major"] * m["beam_minor"] / beam_req**2
    why = (
        f"beam {m['beam_major']:.3g} x {m['beam_minor']:.3g} arcsec (geometric mean "
        f"{math.sqrt(m['beam_major'] * m['beam_minor']):.3g}) vs proposed {beam_req:.3g} arcsec; "
        "the README gives no acceptable range (minAR/maxAR), so area ratio limits are used"
    )
    data = pd.DataFrame(
        [
            dict(
                image=scope,
                quantity="beam area",
                ratio=area,
                major=m["beam_major"],
                minor=m["beam_minor"],
                proposed=beam_req,
            )
        ]
    )
    return Finding(
        CRITERION,
        scope,
        "beam vs proposed",
        grade(area, limits.beam_area_warn, limits.beam_area_fail),
        area,
        "x proposed area",
        f"warning > {limits.beam_area_warn:g}, fail > {limits.beam_area_fail:g}",
        limits.source("beam_area_fail"),
        why,
        Evidence(
            "scatter",
            data,
            dict(
                x="quantity",
                y="ratio",
                warn=limits.beam_area_warn,
                fail=limits.beam_area_fail,
                y_label="beam area / proposed",
            ),
        ),
    )


def _snr_findings(scope, m, limits: Limits, where) -> list[Finding]:
    rms, peak, neg = m["rms"], m["peak"], -m["minimum"]
    snr = dynamic_range(peak, rms)  # the peak's SNR is the image's dynamic range (peak / rms)
    data = pd.DataFrame([dict(feature="peak", sigma=peak / rms), dict(feature="most negative", sigma=neg / rms)])
    snr_f = Finding(
        CRITERION,
        scope,
        "target S/N",
        "pass" if snr >= limits.target_snr_warn else "warning",
        snr,
        "peak/rms",
        f"warning < {limits.target_snr_warn:g}",
        limits.source("target_snr_warn"),
        f"peak {1e3 * peak:.4g} mJy/beam over rms {1e3 * rms:.4g} mJy/beam ({where}); "
        f"the image's dynamic range (peak / rms) is {snr:.1f}",
        Evidence("scatter", data, dict(x="feature", y="sigma", y_label="|feature| / rms")),
    )
    bad = neg / rms > limits.negative_sigma_warn and neg / peak > limits.negative_fraction_warn
    neg_f = Finding(
        CRITERION,
        scope,
        "negative features",
        "warning" if bad else "pass",
        neg / peak,
        "x peak",
        f"warning if beyond {limits.negative_sigma_warn:g} rms and {limits.negative_fraction_warn:g} x peak",
        limits.source("negative_sigma_warn"),
        f"most negative {-1e3 * neg:.4g} mJy/beam = {neg / rms:.1f} rms = {100 * neg / peak:.1f}% of the peak",
        Evidence(
            "scatter", data, dict(x="feature", y="sigma", warn=limits.negative_sigma_warn, y_label="|feature| / rms")
        ),
    )
    return [snr_f, neg_f]

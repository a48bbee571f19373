"""Spectral frames: cont.dat ranges (LSRK) in the frame an MS's spectra are plotted in (the MS's own, TOPO for
ALMA), with casacore measures (:func:`almaview.imaging.spectrum.doppler_factor`).

A frame change is a Doppler factor that does not depend on frequency; it is evaluated for the field's direction at
the midpoint of its integrations in the spw, at the array centre (what the pipeline does per MS).

Examples
--------
>>> import almaview as av
>>> vis = av.open_ms("uid___A002_X1.ms")                                                          # doctest: +SKIP
>>> ranges_in_ms_frame([(230.47e9, 230.53e9)], vis, spw=0, field="IRAS16293-2422", frame="LSRK")  # doctest: +SKIP
([(230469873215.1, 230529858152.9)], 'TOPO')
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["ms_frame", "ranges_in_ms_frame"]


def ms_frame(ds: Any) -> str:
    """The spectral frame of an MS spw node's frequencies ('TOPO' for ALMA; '' when the MS does not say).

    Examples
    --------
    >>> import xarray as xr
    >>> ms_frame(xr.Dataset(coords={"frequency": ("frequency", [1.0], {"frame": "TOPO"})}))
    'TOPO'
    """
    return str(ds.frequency.attrs.get("frame", "") or "").upper() if "frequency" in ds.coords else ""


def ranges_in_ms_frame(
    ranges: Sequence[tuple[float, float]], vis: Any, *, spw: int, field: str | None = None, frame: str = "LSRK"
) -> tuple[list[tuple[float, float]], str]:
    """``ranges`` (Hz, in ``frame``, e.g. cont.dat's LSRK) converted to the frame of spw ``spw``'s frequencies,
    and that frame's name. ``field``: whose direction and integrations set the Doppler factor (the first field of
    the spw when None). Unchanged when the frames agree.

    Examples
    --------
    >>> ranges_in_ms_frame([(1.0e11, 1.1e11)], vis, spw=0, field="J1", frame="TOPO")   # doctest: +SKIP
    ([(100000000000.0, 110000000000.0)], 'TOPO')
    """
    from ..imaging.spectrum import doppler_factor
    from ..io.msmeta import CASA_UNIX_EPOCH_S

    ds = vis[f"spw_{spw}"].ds
    native = ms_frame(ds) or "TOPO"
    out = [(float(lo), float(hi)) for lo, hi in ranges]
    if native == frame.upper() or not out:
        return out, native
    names = ds.field_name.values.astype(str)
    fields = vis["fields"].ds
    known = fields.field_name.values.astype(str)
    if field is None or field not in known or not (names == field).any():
        field = str(names[0])  # the field is not observed in this spw: the spw's first field stands in
    idx = np.flatnonzero(names == field)
    t = ds.time.values[idx].astype("datetime64[ns]").astype(np.int64) / 1e9
    t_mid = float((t.min() + t.max()) / 2) + CASA_UNIX_EPOCH_S
    fid = int(np.flatnonzero(known == field)[0])
    ra, dec = (float(x) for x in fields.FIELD_PHASE_CENTER.values[fid])
    centre = vis["antennas"].ds.attrs["array_centre"]
    k = doppler_factor(
        float(np.mean(ds.frequency.values)),
        from_frame=native,
        to_frame=frame.upper(),
        ra=ra,
        dec=dec,
        time_mjd_s=t_mid,
        position_itrf=centre,
    )  # f_frame / f_native
    return [(lo / k, hi / k) for lo, hi in out], native

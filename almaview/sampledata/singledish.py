"""Simulate and calibrate an ALMA Total Power (single-dish) execution block with CASA.

The MS looks like what ``importasdm`` writes for the TP array: PM antennas
(``alma/simmos/aca.tp.cfg``), autocorrelations only, the data in ``FLOAT_DATA``
(no DATA column), a raster (on-the-fly) map of the science target with
OFF-source integrations between raster rows (STATE intents
``OBSERVE_TARGET#ON_SOURCE`` / ``#OFF_SOURCE``), an atmospheric calibration scan
(``CALIBRATE_ATMOSPHERE#OFF_SOURCE``) with Tsys spectra in SYSCAL, and the
antennas' directions in POINTING. CASA's simulator writes the structure;
the powers are computed here from the same sky as the 12-m sample
(:func:`almaview.sampledata.simulate._target_components`: a compact CO(2-1)
source and a weak continuum envelope), seen through a 12 m antenna's
Gaussian beam, as ``P = g (Tsys + Ta)`` ON and ``P = g Tsys`` OFF plus
radiometer noise.

Calibration follows the ALMA single-dish pipeline (``hsd_*`` tasks):
``sdcal`` Tsys and position-switch sky tables, a Jy/K factor per antenna, spw and
polarization applied with ``gencal(caltype='amp')`` (gain = 1/sqrt(factor)),
``applycal``, ``sdbaseline`` and ``tsdimaging``.

Flux scale of the cube: the calibrated spectra are in Jy per *primary* beam (a point source at the
beam centre reads its flux density), and ``tsdimaging`` keeps that scale while it records the
effective beam, the primary beam convolved with the SF gridding kernel (29.5" against
1.13 lambda / D = 25.3" at 230.5 GHz). A flux summed over the cube with the recorded beam is
therefore (25.3 / 29.5)^2 = 0.73 of the injected one (the CO(2-1) line's 1.5 Jy peak reads
1.1 Jy); with the primary beam it is the injected flux (tests/test_singledish.py checks both).

Why this module is long: it is one CASA recipe (simulate, Tsys, sky, Jy/K, apply, baseline, image), read top to
bottom; every step is a short CASA call with the checks that it did what it should.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import casa
from .simulate import SpwSetup, open_simulator, stamp_alma_subtables

#: Jy/K of a 12 m ALMA antenna in band 6 (what the delivery's jyperk.csv lists, per antenna and spw).
JY_PER_K = 43.0
#: FWHM of a 12 m antenna's beam: 1.13 lambda / D.
BEAM_FACTOR = 1.13


@dataclass
class TPLayout:
    """What to observe with the TP array: antennas, spws, the raster and the OFF position."""

    n_antennas: int = 3
    integration_s: float = 1.008
    spws: tuple[SpwSetup, ...] = ()
    target: str = "IRAS16293-2422"
    ra: str = "16h32m22.88s"
    dec: str = "-24d28m36.5s"
    map_size_arcsec: float = 72.0
    row_spacing_arcsec: float = 8.0
    off_offset_arcsec: tuple[float, float] = (600.0, 0.0)
    rows_per_off: int = 2
    n_off: int = 4
    reference_time: str = "2024/05/17/05:20:00"
    eb_uid: str = "uid___A002_X10ab2c3_X3c11"
    sb_uid: str = "uid://A001/X3571/X89"
    project: str = "2023.1.01234.S"
    observer: str = "apipi"
    seed: int = 21
    noise_scale: float = 0.05
    jy_per_k: dict = field(default_factory=dict)


def tp_spws() -> tuple[SpwSetup, ...]:
    """A CO(2-1) spw (the 12-m line spw's frequencies) and a continuum spw, with TP's spw names."""
    return (
        SpwSetup("X1045362913#ALMA_RB_06#BB_1#SW-01#FULL_RES", 230.53e9, 240, 117.1875e6 / 240),
        SpwSetup("X1045362913#ALMA_RB_06#BB_2#SW-01#FULL_RES", 232.0e9, 64, 31.25e6),
    )


def default_tp_layout(**overrides) -> TPLayout:
    """The TP observation plan of almaview's sample data.

    Examples
    --------
    >>> default_tp_layout().n_antennas
    3
    """
    base = dict(spws=tp_spws())
    base.update(overrides)
    return TPLayout(**base)


def raster_plan(layout: TPLayout) -> list[tuple[int, str, float, float, float]]:
    """Every integration: (scan, intent, start offset s, RA offset arcsec, Dec offset arcsec).

    Scan 1 is the atmospheric calibration (at the OFF position), scans 2.. alternate
    OFF integrations and raster rows along RA, rows stepping in Dec.

    Examples
    --------
    >>> plan = raster_plan(default_tp_layout())
    >>> plan[0][1]
    'CALIBRATE_ATMOSPHERE#OFF_SOURCE'
    """
    step = layout.row_spacing_arcsec
    half = layout.map_size_arcsec / 2
    xs = np.arange(-half, half + 1e-6, step)
    ys = np.arange(-half, half + 1e-6, step)
    dt = layout.integration_s
    out, t = [], 0.0
    offx, offy = layout.off_offset_arcsec
    for _ in range(4):
        out.append((1, "CALIBRATE_ATMOSPHERE#OFF_SOURCE", t, offx, offy))
        t += dt
    t += 10.0
    scan = 2
    rows = list(enumerate(ys))
    for chunk in range(0, len(rows), layout.rows_per_off):
        for _ in range(layout.n_off):
            out.append((scan, "OBSERVE_TARGET#OFF_SOURCE", t, offx, offy))
            t += dt
        t += 2.0
        for k, y in rows[chunk : chunk + layout.rows_per_off]:
            for x in xs if k % 2 == 0 else xs[::-1]:
                out.append((scan, "OBSERVE_TARGET#ON_SOURCE", t, float(x), float(y)))
                t += dt
            t += 1.0
        t += 2.0
    for _ in range(layout.n_off):  # a last OFF after the map
        out.append((scan, "OBSERVE_TARGET#OFF_SOURCE", t, offx, offy))
        t += dt
    return out


def simulate_structure(ms: Path, layout: TPLayout) -> None:
    """Write the TP MS's rows with CASA's simulator (autocorrelations of PM antennas), FLOAT_DATA zero."""
    sm, me = open_simulator(
        ms,
        "aca.tp.cfg",
        layout.n_antennas,
        [f"PM{n:02d}" for n in range(1, 100)],
        layout.spws,
        integration_s=layout.integration_s,
        reference_time=layout.reference_time,
        autocorr_weight=1.0,
    )
    try:
        sm.setfield(sourcename=layout.target, sourcedirection=me.direction("J2000", layout.ra, layout.dec))
        for _scan, intent, t0, _x, _y in raster_plan(layout):
            for spw in layout.spws:
                sm.observe(
                    layout.target,
                    spw.name,
                    starttime=f"{t0}s",
                    stoptime=f"{t0 + layout.integration_s}s",
                    state_obs_mode=intent,
                    project=layout.project,
                    observer=layout.observer,
                )
    finally:
        sm.close()
    # Autocorrelations only: the simulator's storage managers cannot remove rows, split can select them.
    full = ms.with_name(ms.name + ".all")
    if full.exists():
        shutil.rmtree(full)
    ms.rename(full)
    casa.casatasks().split(vis=str(full), outputvis=str(ms), antenna="*&&&", datacolumn="data", keepflags=True)
    shutil.rmtree(full)
    _to_single_dish(ms, layout)


def _to_single_dish(ms: Path, layout: TPLayout) -> None:
    """Keep autocorrelations only, hold the data in FLOAT_DATA (as importasdm writes TP data), number scans."""
    from casacore import tables

    plan = raster_plan(layout)
    with tables.table(str(ms), readonly=False, ack=False) as t:
        drop = [c for c in ("DATA", "MODEL_DATA", "CORRECTED_DATA") if c in t.colnames()]
        t.removecols(drop)
        desc = tables.makearrcoldesc(
            "FLOAT_DATA", 0.0, ndim=2, valuetype="float", keywords={"UNIT": ""}, comment="The single-dish data (power)"
        )
        t.addcols(
            tables.maketabdesc([desc]),
            dminfo={"TYPE": "TiledShapeStMan", "NAME": "TiledFloatData", "SPEC": {"DEFAULTTILESHAPE": [2, 64, 64]}},
        )
        time = t.getcol("TIME")
        t0 = time.min() - layout.integration_s / 2
        starts = np.array([p[2] for p in plan])
        k = np.clip(np.searchsorted(starts, time - t0 + 1e-3, side="right") - 1, 0, len(plan) - 1)
        t.putcol("SCAN_NUMBER", np.array([plan[i][0] for i in k], np.int32))
        n = t.nrows()
        t.putcol("WEIGHT", np.ones((n, 2), np.float32))
        t.putcol("SIGMA", np.ones((n, 2), np.float32))
    stamp_alma_subtables(ms, layout)


def _offset_direction(ra0: float, dec0: float, dx_arcsec: np.ndarray, dy_arcsec: np.ndarray):
    """RA/Dec (rad) at tangent-plane offsets (arcsec) from (ra0, dec0): the inverse SIN projection."""
    x, y = np.radians(np.asarray(dx_arcsec) / 3600), np.radians(np.asarray(dy_arcsec) / 3600)
    rho = np.hypot(x, y)
    c = np.arcsin(np.clip(rho, 0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        dec = np.arcsin(np.cos(c) * np.sin(dec0) + np.where(rho > 0, y * np.sin(c) * np.cos(dec0) / rho, 0))
    ra = ra0 + np.arctan2(x * np.sin(c), rho * np.cos(dec0) * np.cos(c) - y * np.sin(dec0) * np.sin(c))
    return ra, dec


def write_pointing(ms: Path, layout: TPLayout) -> None:
    """POINTING: every antenna's direction at every integration (raster position or OFF position)."""
    from casacore import tables

    with tables.table(str(ms / "FIELD"), ack=False) as f:
        ra0, dec0 = f.getcell("PHASE_DIR", 0)[0]
    with tables.table(str(ms), ack=False) as t:
        utimes = np.unique(t.getcol("TIME"))
        n_ant = int(t.getcol("ANTENNA1").max()) + 1
    plan = raster_plan(layout)
    dx = np.array([p[3] for p in plan])
    dy = np.array([p[4] for p in plan])
    ra, dec = _offset_direction(ra0, dec0, dx, dy)
    assert utimes.size == len(plan), (utimes.size, len(plan))
    with tables.table(str(ms / "POINTING"), readonly=False, ack=False) as p:
        if p.nrows():
            p.removerows(list(range(p.nrows())))
        n = utimes.size * n_ant
        p.addrows(n)
        time = np.repeat(utimes, n_ant)
        ant = np.tile(np.arange(n_ant), utimes.size)
        direction = np.stack([np.repeat(ra, n_ant), np.repeat(dec, n_ant)], axis=-1)[:, None, :]  # (row, 1, 2)
        p.putcol("TIME", time)
        p.putcol("INTERVAL", np.full(n, layout.integration_s))
        p.putcol("ANTENNA_ID", ant.astype(np.int32))
        p.putcol("NUM_POLY", np.zeros(n, np.int32))
        p.putcol("TIME_ORIGIN", time)
        p.putcol("DIRECTION", direction)
        p.putcol("TARGET", direction)
        p.putcol("TRACKING", np.ones(n, bool))
        p.putcol("NAME", [layout.target] * n)


@dataclass
class TPTruth:
    """What the simulation put in: per-antenna receiver gains, Tsys spectra and Jy/K factors."""

    antennas: list[str]
    gain: np.ndarray  # (antenna, receptor) counts per K
    tsys: list[np.ndarray]  # per spw: (antenna, channel, receptor) K
    jy_per_k: np.ndarray  # (spw, antenna, receptor)

    def as_arrays(self) -> dict[str, np.ndarray]:
        out = {"antennas": np.array(self.antennas), "gain": self.gain, "jy_per_k": self.jy_per_k}
        for k, ts in enumerate(self.tsys):
            out[f"tsys_spw{k}"] = ts
        return out


def make_truth(layout: TPLayout, antennas: list[str]) -> TPTruth:
    """Receiver gains, Tsys and Jy/K factors, reproducibly from the layout's seed."""
    rng = np.random.default_rng(layout.seed)
    n = len(antennas)
    tsys = []
    for spw in layout.spws:
        x = np.linspace(-1, 1, spw.nchan)
        t0 = rng.uniform(70, 95, (n, 1, 2))
        tsys.append((t0 * (1 + 0.06 * x[None, :, None] ** 2)).astype(np.float32))
    jyk = JY_PER_K * rng.uniform(0.95, 1.05, (len(layout.spws), n, 2))
    return TPTruth(antennas=antennas, gain=rng.uniform(0.5, 2.0, (n, 2)), tsys=tsys, jy_per_k=jyk)


def sky_jy(layout: TPLayout, spw: SpwSetup, ra: np.ndarray, dec: np.ndarray, line_hz: float = 230.538e9):
    """Flux density (Jy) a 12 m antenna pointed at (ra, dec) collects, per channel: (n, chan).

    The target's components (``simulate._target_components``): a 0.08 Jy continuum envelope
    (spectral index 2.5 at 240 GHz) and the compact CO(2-1) source, both far smaller than the
    beam, each weighted by the Gaussian beam at its offset.
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    centre = SkyCoord(layout.ra, layout.dec, frame="fk5")
    comps = []
    for dra, ddec, kind in ((0.8, -0.5, "cont"), (-1.0, 0.6, "line")):
        c = centre.spherical_offsets_by(dra * u.arcsec, ddec * u.arcsec)
        comps.append((c.ra.rad, c.dec.rad, kind))
    nu = spw.frequencies
    fwhm = BEAM_FACTOR * 2.99792458e8 / nu / 12.0  # rad, per channel
    out = np.zeros((np.size(ra), nu.size))
    for cra, cdec, kind in comps:
        r = np.arccos(np.clip(np.sin(dec) * np.sin(cdec) + np.cos(dec) * np.cos(cdec) * np.cos(ra - cra), -1, 1))
        beam = np.exp(-4 * np.log(2) * (r[:, None] / fwhm[None, :]) ** 2)
        if kind == "cont":
            flux = 0.08 * (nu / 240e9) ** 2.5
        else:
            flux = 0.02 + 1.5 * np.exp(-0.5 * ((nu - line_hz) / 4.0e6) ** 2)
        out += beam * flux[None, :]
    return out


def fill_data(ms: Path, layout: TPLayout, truth: TPTruth) -> None:
    """FLOAT_DATA = g (Tsys + Ta) + noise (ON) or g Tsys + noise (OFF, atmosphere), per row."""
    from casacore import tables

    rng = np.random.default_rng(layout.seed + 1)
    with tables.table(str(ms / "DATA_DESCRIPTION"), ack=False) as dd:
        spw_of_ddid = dd.getcol("SPECTRAL_WINDOW_ID")
    with tables.table(str(ms / "STATE"), ack=False) as st:
        modes = list(st.getcol("OBS_MODE"))
    with tables.table(str(ms / "POINTING"), ack=False) as p:
        ptime, pant, pdir = p.getcol("TIME"), p.getcol("ANTENNA_ID"), p.getcol("DIRECTION")[:, 0, :]
    with tables.table(str(ms), readonly=False, ack=False) as t:
        for dd_id, k in enumerate(spw_of_ddid):
            spw = layout.spws[int(k)]
            sub = t.query(f"DATA_DESC_ID=={dd_id}")
            try:
                time, ant, state = sub.getcol("TIME"), sub.getcol("ANTENNA1"), sub.getcol("STATE_ID")
                key = {(round(tt, 3), a): i for i, (tt, a) in enumerate(zip(ptime, pant))}
                pi = np.array([key[(round(tt, 3), a)] for tt, a in zip(time, ant)])
                ra, dec = pdir[pi, 0], pdir[pi, 1]
                on = np.array(["ON_SOURCE" in modes[s] and "OBSERVE_TARGET" in modes[s] for s in state])
                ta = (
                    sky_jy(layout, spw, ra, dec)[:, :, None] / truth.jy_per_k[int(k)][ant][:, None, :]
                )  # (row, chan, rec)
                tsys = truth.tsys[int(k)][ant]
                power = tsys + np.where(on[:, None, None], ta, 0.0)
                sigma = power / np.sqrt(spw.width_hz * layout.integration_s) * layout.noise_scale
                data = truth.gain[ant][:, None, :] * (power + sigma * rng.standard_normal(power.shape))
                sub.putcol("FLOAT_DATA", data.astype(np.float32))
            finally:
                sub.close()


def write_syscal(ms: Path, layout: TPLayout, truth: TPTruth) -> None:
    """SYSCAL: the Tsys spectra measured in the atmospheric calibration scan (scan 1)."""
    from casacore import tables

    with tables.table(str(ms), ack=False) as t:
        time, scan = t.getcol("TIME"), t.getcol("SCAN_NUMBER")
    t_atm = float(time[scan == 1].mean())
    desc = tables.complete_ms_desc("SYSCAL")
    keep = {
        k: desc[k]
        for k in ("ANTENNA_ID", "FEED_ID", "INTERVAL", "SPECTRAL_WINDOW_ID", "TIME", "TSYS_SPECTRUM", "TSYS_FLAG")
    }
    td = tables.maketabdesc([tables.makecoldesc(k, v) for k, v in keep.items()])
    path = ms / "SYSCAL"
    n_ant, n_spw = len(truth.antennas), len(layout.spws)
    with tables.table(str(path), td, nrow=n_ant * n_spw, ack=False) as sc:
        r = 0
        for k in range(n_spw):
            for a in range(n_ant):
                sc.putcell("ANTENNA_ID", r, a)
                sc.putcell("FEED_ID", r, 0)
                sc.putcell("SPECTRAL_WINDOW_ID", r, k)
                sc.putcell("TIME", r, t_atm)
                sc.putcell("INTERVAL", r, float(np.ptp(time[scan == 1]) + layout.integration_s))
                sc.putcell("TSYS_SPECTRUM", r, truth.tsys[k][a].astype(np.float32))
                sc.putcell("TSYS_FLAG", r, False)
                r += 1
    with tables.table(str(ms), readonly=False, ack=False) as t:
        t.putkeyword("SYSCAL", f"Table: {path}")


def jyperk_csv_text(ms_name: str, layout: TPLayout, truth: TPTruth) -> str:
    """The delivery's Jy/K factors file (``jyperk.csv``: MS, antenna, spw, polarization, factor).

    Examples
    --------
    >>> t = make_truth(default_tp_layout(), ["PM01", "PM02", "PM03"])
    >>> jyperk_csv_text("x.ms", default_tp_layout(), t).splitlines()[0]
    'MS,Antenna,Spwid,Polarization,Factor'
    """
    lines = ["MS,Antenna,Spwid,Polarization,Factor"]
    for k in range(len(layout.spws)):
        for a, name in enumerate(truth.antennas):
            for r, pol in enumerate(("XX", "YY")):
                lines.append(f"{ms_name},{name},{k},{pol},{truth.jy_per_k[k, a, r]:.4f}")
    return "\n".join(lines) + "\n"


#: The single-dish pipeline's stages (hsd_calimage), in order, as its weblog lists them: (task, description, topic).
HSD_STAGES: tuple[tuple[str, str, str], ...] = (
    ("hsd_importdata", "Register measurement sets with the pipeline", "Dataset"),
    ("hsd_flagdata", "ALMA deterministic flagging", "Flagging"),
    ("h_tsyscal", "Calculate Tsys calibration", "Calibration"),
    ("hsd_tsysflag", "Flag Tsys calibration", "Flagging"),
    ("hsd_skycal", "Generate sky (OFF) calibration table", "Calibration"),
    ("hsd_k2jycal", "Generate Kelvin to Jansky conversion table", "Calibration"),
    ("hsd_applycal", "Apply calibrations from context", "Calibration"),
    ("hsd_atmcor", "Apply offline correction of atmospheric transmission model", "Calibration"),
    ("hsd_baseline", "Generate baseline subtraction tables", "Calibration"),
    ("hsd_blflag", "Flag data by baseline RMS and statistics", "Flagging"),
    ("hsd_baseline", "Generate baseline subtraction tables (second pass)", "Calibration"),
    ("hsd_blflag", "Flag data by baseline RMS and statistics (second pass)", "Flagging"),
    ("hsd_imaging", "Generate single dish images", "Imaging"),
    ("hsd_exportdata", "Prepare pipeline data products for export", "Dataset"),
)


def hsd_stage(task: str) -> int:
    """The stage number of ``task`` (its first occurrence) in the single-dish pipeline's weblog.

    Examples
    --------
    >>> hsd_stage("h_tsyscal"), hsd_stage("hsd_skycal"), hsd_stage("hsd_k2jycal")
    (3, 5, 6)
    """
    return next(n for n, (t, _, _) in enumerate(HSD_STAGES, start=1) if t == task)


def caltable_names(ms: Path, n_spw: int) -> dict[str, Path]:
    """The single-dish pipeline's table names: ``<ms>.<task>.s<stage>_<n>.<kind>.tbl``, the stage as its weblog
    numbers it (:data:`HSD_STAGES`)."""
    spws = "spw" + "_".join(str(i) for i in range(n_spw))
    return {
        "tsys": ms.parent / f"{ms.name}.h_tsyscal.s{hsd_stage('h_tsyscal')}_1.tsyscal.tbl",
        "sky": ms.parent / f"{ms.name}.hsd_skycal.s{hsd_stage('hsd_skycal')}_1.{spws}.ps.tbl",
        "jyperk": ms.parent / f"{ms.name}.hsd_k2jycal.s{hsd_stage('hsd_k2jycal')}_1.{spws}.ampcal.tbl",
    }


def calibrate_tp(ms: Path, layout: TPLayout, truth: TPTruth, outdir: Path) -> tuple[dict[str, Path], dict]:
    """hsd_skycal / h_tsyscal / hsd_k2jycal / hsd_applycal with casatasks; return the tables and the applycal call."""
    tasks = casa.casatasks()
    ct = caltable_names(outdir / ms.name, len(layout.spws))
    vis = str(ms)
    tasks.sdcal(infile=vis, calmode="tsys", outfile=str(ct["tsys"]))
    tasks.sdcal(infile=vis, calmode="ps", outfile=str(ct["sky"]), intent="OBSERVE_TARGET#OFF_SOURCE")
    # Jy/K: gencal 'amp' gains g = 1/sqrt(factor) (applycal divides an autocorrelation by g^2), one call per
    # antenna and spw into the same table (gencal multiplies new gains into an existing table).
    for k in range(len(layout.spws)):
        for a, name in enumerate(truth.antennas):
            tasks.gencal(
                vis=vis,
                caltable=str(ct["jyperk"]),
                caltype="amp",
                spw=str(k),
                antenna=name,
                pol="X,Y",
                parameter=[float(v) for v in 1.0 / np.sqrt(truth.jy_per_k[k, a])],
            )
    call = dict(
        vis=vis,
        applymode="calflagstrict",
        intent="OBSERVE_TARGET#ON_SOURCE",
        gaintable=[str(ct["tsys"]), str(ct["sky"]), str(ct["jyperk"])],
        gainfield=["", "", ""],
        interp=["linear,linear", "linear", "nearest"],
        spwmap=[[], [], []],
        calwt=[True, False, False],
    )
    tasks.applycal(flagbackup=False, **call)
    return ct, call


def baseline_and_image(ms: Path, layout: TPLayout, outdir: Path, *, mous: str) -> tuple[Path, dict[str, Path], list]:
    """hsd_baseline (sdbaseline, a line-free polynomial) and hsd_imaging (tsdimaging), named as the pipeline names them.

    Returns the baselined MS, the images ('cube' CASA image, 'cube_fits', 'cont', 'cont_fits') and the calls made.
    """
    tasks = casa.casatasks()
    line = layout.spws[0]
    nu = line.frequencies
    # line-free channels: outside +-30 MHz of the CO(2-1) line
    free = np.flatnonzero(np.abs(nu - 230.538e9) > 30e6)
    runs = np.split(free, np.flatnonzero(np.diff(free) != 1) + 1)
    mask0 = ";".join(f"{r[0]}~{r[-1]}" for r in runs if r.size)
    bl = outdir / f"{ms.name}_bl"
    if bl.exists():
        shutil.rmtree(bl)
    call_bl = dict(
        infile=str(ms),
        datacolumn="corrected",
        outfile=str(bl),
        spw=f"0:{mask0},1",
        maskmode="list",
        blfunc="poly",
        order=1,
        intent="OBSERVE_TARGET#ON_SOURCE",
        overwrite=True,
    )
    tasks.sdbaseline(**call_bl)
    images: dict[str, Path] = {}
    calls = [("sdbaseline", call_bl)]
    from astropy.coordinates import SkyCoord

    c = SkyCoord(layout.ra, layout.dec, frame="fk5")
    centre = (
        f"J2000 {c.ra.to_string(unit='hourangle', sep='hms', precision=3)} "
        f"{c.dec.to_string(sep='dms', precision=2, alwayssign=True)}"
    )
    for kind, spw, extra in (
        ("cube", "0", dict(mode="channel", nchan=60, start=0, width=4)),  # the 12-m cube's channels
        ("cont", "1", dict(mode="channel", nchan=1, start=0, width=64)),
    ):
        stem = outdir / "images" / f"{mous}.{layout.target}_sci.spw{spw}.{kind}.I.sd"
        stem.parent.mkdir(parents=True, exist_ok=True)
        for p in stem.parent.glob(stem.name + "*"):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        call = dict(
            infiles=[str(bl)],
            outfile=str(stem),
            overwrite=True,
            field=layout.target,
            spw=spw,
            intent="OBSERVE_TARGET#ON_SOURCE",
            gridfunction="SF",
            convsupport=6,
            imsize=[32, 32],
            cell="3arcsec",
            phasecenter=centre,
            stokes="I",
            outframe="LSRK",
            restfreq="230.538GHz",
            brightnessunit="Jy/beam",
            minweight=0.1,
            **extra,
        )
        tasks.tsdimaging(**call)
        images[kind] = Path(f"{stem}.image")  # tsdimaging writes <outfile>.image and <outfile>.weight
        fits = Path(f"{stem}.fits")
        tasks.exportfits(imagename=str(images[kind]), fitsimage=str(fits), overwrite=True, dropdeg=False)
        images[f"{kind}_fits"] = fits
        calls.append(("tsdimaging", call))
    return bl, images, calls


def _rel(v, root: Path):
    """Build paths inside ``root`` as bare names (for recorded task calls)."""
    if isinstance(v, list):
        return [_rel(x, root) for x in v]
    return Path(v).name if isinstance(v, str) and v.startswith(str(root)) else v


def build_tp_eb(
    outdir: str | os.PathLike,
    *,
    image: bool = True,
    progress: bool = True,
    isolate: bool = True,
    mous: str = "member.uid___A001_X3571_X8c",
    **layout_overrides,
):
    """Simulate, calibrate, baseline-subtract and image an ALMA Total Power EB into ``outdir`` (cached).

    Returns a :class:`almaview.sampledata.SampleEB` whose ``ms`` is the raw TP MS after applycal
    (FLOAT_DATA + CORRECTED_DATA), ``caltables`` the 'tsys', 'sky' and 'jyperk' tables,
    ``images`` the tsdimaging cube/continuum images (CASA and FITS), ``products['baselined_ms']``
    the sdbaseline output and ``products['jyperk_csv']`` the Jy/K factors file.

    Examples
    --------
    >>> tp = build_tp_eb("scratch/tp")          # doctest: +SKIP
    >>> sorted(tp.caltables)                      # doctest: +SKIP
    ['jyperk', 'sky', 'tsys']
    """
    import json
    import time

    from tqdm.auto import tqdm

    from ..cache import atomic_directory
    from . import _MANIFEST, SampleEB, _cached

    outdir = Path(outdir).resolve()
    hit = _cached(outdir)
    if hit is not None:
        return hit
    if isolate:
        casa.run_isolated(
            "almaview.sampledata.singledish:build_tp_eb",
            str(outdir),
            image=image,
            progress=progress,
            isolate=False,
            mous=mous,
            **layout_overrides,
        )
        return _cached(outdir)
    started = time.perf_counter()
    layout = default_tp_layout(**layout_overrides)
    steps = ["simulate", "pointing + data", "sdcal + applycal"] + (["sdbaseline + tsdimaging"] if image else [])
    bar = tqdm(total=len(steps), desc="ALMA TP EB", disable=not progress, unit="step")
    with atomic_directory(outdir) as tmp, casa.working_directory(tmp):
        ms = tmp / f"{layout.eb_uid}.ms"
        bar.set_postfix_str("simulator")
        simulate_structure(ms, layout)
        bar.update()
        from casacore import tables

        with tables.table(str(ms / "ANTENNA"), ack=False) as t:
            antennas = list(t.getcol("NAME"))
        truth = make_truth(layout, antennas)
        write_pointing(ms, layout)
        fill_data(ms, layout, truth)
        write_syscal(ms, layout, truth)
        np.savez(tmp / "truth.npz", **truth.as_arrays())
        bar.update()
        bar.set_postfix_str("sdcal, gencal, applycal")
        caltables, call = calibrate_tp(ms, layout, truth, tmp)
        bar.update()
        csv = tmp / "jyperk.csv"
        csv.write_text(jyperk_csv_text(ms.name, layout, truth))
        products = {"jyperk_csv": csv}
        images: dict[str, Path] = {}
        if image:
            bar.set_postfix_str("sdbaseline, tsdimaging")
            bl, images, calls = baseline_and_image(ms, layout, tmp, mous=mous)
            (tmp / "imaging_calls.json").write_text(
                json.dumps([(task, {k: _rel(v, tmp) for k, v in c.items()}) for task, c in calls], indent=1)
            )
            products["imaging_calls"] = tmp / "imaging_calls.json"
            products["baselined_ms"] = bl
            bar.update()
        bar.close()
        call = dict(call, field=layout.target)
        eb = SampleEB(
            root=tmp,
            ms=ms,
            caltables=caltables,
            images=images,
            refant="",
            antennas=antennas,
            spws={k: s.nchan for k, s in enumerate(layout.spws)},
            fields={layout.target: "OBSERVE_TARGET#ON_SOURCE"},
            calapply=[{k: v for k, v in call.items() if k != "vis"}],
            build_seconds=time.perf_counter() - started,
            eb_uid=layout.eb_uid,
            truth_file=tmp / "truth.npz",
            products=products,
        )
        d = eb._to_json()
        for ap in d["calapply"]:
            ap["gaintable"] = [os.path.relpath(g, tmp) for g in ap["gaintable"]]
        (tmp / _MANIFEST).write_text(json.dumps(d, indent=1))
    return _cached(outdir)

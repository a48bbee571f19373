"""Simulate an ALMA-like execution block with CASA's simulator.

The MS has the structure of real ALMA data: an ALMA antenna configuration
from casadata, ALMA-named antennas and pads, spws named as ALMA names them,
STATE.OBS_MODE intents, and rows ordered as importasdm writes them (time
major, one block of rows per spw in each integration). The sky model is
predicted by CASA (``ft`` of a component list per field); the corruptions
(per-antenna complex gains, delays, bandpasses, Tsys) and the thermal noise are
applied here with numpy and saved as the truth.

Why this module is long: it is one CASA recipe (antennas, spws, scans, sky model, corruptions, noise), read top to
bottom, with the truth it writes beside the MS.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import casa

# ALMA's antenna name families, in the order the simulated pads get them.
_ANTENNA_NAMES = (
    [f"DA{n}" for n in range(41, 66)] + [f"DV{n:02d}" for n in range(1, 26)] + [f"PM{n:02d}" for n in range(1, 5)]
)
_K_JY_PER_K = 35.0  # 2k/(eta A) for a 12 m ALMA antenna: SEFD = K * Tsys
MJD_TO_UNIX = 3506716800.0


@dataclass(frozen=True)
class SpwSetup:
    """One simulated spectral window."""

    name: str
    centre_hz: float
    nchan: int
    width_hz: float

    @property
    def frequencies(self) -> np.ndarray:
        start = self.centre_hz - self.width_hz * (self.nchan / 2 - 0.5)
        return start + self.width_hz * np.arange(self.nchan)


@dataclass(frozen=True)
class FieldSetup:
    """One simulated field (a calibrator or the science target)."""

    name: str
    ra: str
    dec: str
    intent: str
    flux_jy: float  # at 240 GHz
    spectral_index: float
    calcode: str = ""


@dataclass(frozen=True)
class Scan:
    field: str
    start_s: float
    duration_s: float


@dataclass
class Layout:
    """What to simulate: the observation plan."""

    n_antennas: int = 12
    config: str = "alma.cycle10.1.cfg"
    integration_s: float = 6.048
    spws: tuple[SpwSetup, ...] = ()
    fields: tuple[FieldSetup, ...] = ()
    scans: tuple[Scan, ...] = ()
    reference_time: str = "2024/05/14/05:30:00"
    eb_uid: str = "uid___A002_Xf2a5b1_X3e7"
    sb_uid: str = "uid://A001/X3571/X85"
    project: str = "2023.1.01234.S"
    observer: str = "apipi"
    line_centre_hz: float = 230.538e9  # CO(2-1)
    seed: int = 0
    extras: dict = field(default_factory=dict)


def alma_spws(scale: str = "small") -> tuple[SpwSetup, ...]:
    """Four band-6 spws: an FDM spectral-line spw on CO(2-1) and three continuum spws."""
    line_nchan = 1920 if scale == "large" else 240
    return (
        SpwSetup("X1045362913#ALMA_RB_06#BB_1#SW-01#FULL_RES", 230.53e9, line_nchan, 117.1875e6 / line_nchan),
        SpwSetup("X1045362913#ALMA_RB_06#BB_2#SW-01#FULL_RES", 232.0e9, 128, 15.625e6),
        SpwSetup("X1045362913#ALMA_RB_06#BB_3#SW-01#FULL_RES", 245.0e9, 64, 31.25e6),
        SpwSetup("X1045362913#ALMA_RB_06#BB_4#SW-01#FULL_RES", 247.0e9, 256, 7.8125e6),
    )


def alma_fields() -> tuple[FieldSetup, ...]:
    """Bandpass, flux and phase calibrators and a science target, with ALMA intents."""
    return (
        FieldSetup("J1924-2914", "19h24m51.056s", "-29d14m30.12s", "CALIBRATE_BANDPASS#ON_SOURCE", 3.2, -0.6, "B"),
        FieldSetup("J1517-2422", "15h17m41.813s", "-24d22m19.48s", "CALIBRATE_FLUX#ON_SOURCE", 1.8, -0.5, "F"),
        FieldSetup("J1625-2527", "16h25m46.892s", "-25d27m38.33s", "CALIBRATE_PHASE#ON_SOURCE", 0.45, -0.7, "P"),
        FieldSetup("IRAS16293-2422", "16h32m22.88s", "-24d28m36.5s", "OBSERVE_TARGET#ON_SOURCE", 0.0, 0.0, ""),
    )


def alma_scans(n_cycles: int = 3, target_s: float = 120.0) -> tuple[Scan, ...]:
    """Bandpass, flux, then phase-cal / target cycles ending on the phase calibrator."""
    plan = [("J1924-2914", 90.0), ("J1517-2422", 60.0)]
    for _ in range(n_cycles):
        plan += [("J1625-2527", 30.0), ("IRAS16293-2422", target_s)]
    plan.append(("J1625-2527", 30.0))
    scans, t = [], 0.0
    for name, dur in plan:
        scans.append(Scan(name, t, dur))
        t += dur + 12.0  # slew and setup between scans
    return tuple(scans)


def default_layout(scale: str = "small", **overrides) -> Layout:
    """The observation plan of almaview's sample EBs: 'small' (tests) or 'large' (benchmarks)."""
    if scale == "large":
        base = dict(n_antennas=43, spws=alma_spws("large"), fields=alma_fields(), scans=alma_scans(2, 150.0))
    else:
        base = dict(n_antennas=12, spws=alma_spws("small"), fields=alma_fields(), scans=alma_scans(3, 120.0))
    base.update(overrides)
    return Layout(**base)


def read_config(name: str, n: int):
    """``n`` antennas spread over casadata's ``alma/simmos/<name>``: local xyz (m), dish diameters (m), pad names.

    Examples
    --------
    >>> xyz, diam, pads = read_config("aca.tp.cfg", 3)
    >>> diam
    [12.0, 12.0, 12.0]
    """
    import casadata

    path = os.path.join(casadata.datapath, "alma", "simmos", name)
    rows = [ln.split() for ln in open(path) if ln.strip() and not ln.startswith("#")]
    idx = np.unique(np.linspace(0, len(rows) - 1, n).round().astype(int))
    chosen = [rows[i] for i in idx]
    xyz = np.array([[float(r[0]), float(r[1]), float(r[2])] for r in chosen])
    pads = [r[4] for r in chosen]
    diam = [float(r[3]) for r in chosen]
    return xyz, diam, pads


def open_simulator(
    ms: Path,
    config: str,
    n_antennas: int,
    names: list[str],
    spws,
    *,
    integration_s: float,
    reference_time: str,
    autocorr_weight: float,
):
    """CASA's simulator, open on a new ``ms`` (an old one is removed) with the array, spectral and time setup:
    ``n_antennas`` of the casadata configuration ``config`` named from ``names``, ALMA's position, the ``spws``
    (XX YY), perfect X Y feeds, the integration time from ``reference_time`` (UTC) and the weight of
    autocorrelations (0: none, as interferometers; 1: total power). Returns (simulator, measures); the caller
    adds fields, observes and closes the simulator. The one home of the simulator setup of every simulated EB
    (12-m, 7-m, TP).

    Examples
    --------
    >>> sm, me = open_simulator(Path("tp.ms"), "aca.tp.cfg", 3, ["PM01", "PM02", "PM03"], tp_spws(),
    ...                         integration_s=1.008, reference_time="2024/05/17/05:20:00",
    ...                         autocorr_weight=1.0)   # doctest: +SKIP
    """
    ct = casa.casatools()
    sm, me = ct.simulator(), ct.measures()
    if ms.exists():
        shutil.rmtree(ms)
    sm.open(str(ms))
    try:
        _setup(sm, me, config, n_antennas, names, spws, integration_s, reference_time, autocorr_weight)
    except BaseException:
        sm.close()
        raise
    return sm, me


def _setup(sm, me, config, n_antennas, names, spws, integration_s, reference_time, autocorr_weight) -> None:
    xyz, diam, pads = read_config(config, n_antennas)
    used = list(names[: len(pads)])
    sm.setconfig(
        telescopename="ALMA",
        x=xyz[:, 0],
        y=xyz[:, 1],
        z=xyz[:, 2],
        dishdiameter=diam,
        mount=["alt-az"],
        antname=used,
        padname=pads,
        coordsystem="local",
        referencelocation=me.observatory("ALMA"),
    )
    for spw in spws:
        sm.setspwindow(
            spwname=spw.name,
            freq=f"{spw.frequencies[0]}Hz",
            deltafreq=f"{spw.width_hz}Hz",
            freqresolution=f"{spw.width_hz}Hz",
            nchannels=spw.nchan,
            stokes="XX YY",
        )
    sm.setfeed(mode="perfect X Y")
    sm.setlimits(shadowlimit=0.01, elevationlimit="3deg")
    sm.setauto(autocorrwt=autocorr_weight)
    sm.settimes(integrationtime=f"{integration_s}s", usehourangle=False, referencetime=me.epoch("utc", reference_time))
    return used


def integration_times(layout: Layout) -> list[tuple[int, float]]:
    """(scan index, start offset in s) of every integration of the plan."""
    out = []
    for k, scan in enumerate(layout.scans):
        n = int(round(scan.duration_s / layout.integration_s))
        out += [(k, scan.start_s + i * layout.integration_s) for i in range(n)]
    return out


def simulate_structure(ms: Path, layout: Layout) -> None:
    """Write an empty-data MS with the plan's antennas, spws, fields, intents and row order."""
    sm, me = open_simulator(
        ms,
        layout.config,
        layout.n_antennas,
        _ANTENNA_NAMES,
        layout.spws,
        integration_s=layout.integration_s,
        reference_time=layout.reference_time,
        autocorr_weight=0.0,
    )
    try:
        for f in layout.fields:
            sm.setfield(sourcename=f.name, sourcedirection=me.direction("J2000", f.ra, f.dec), calcode=f.calcode)
        intents = {f.name: f.intent for f in layout.fields}
        # One observe call per integration and spw gives importasdm's row order.
        for k, t0 in integration_times(layout):
            scan = layout.scans[k]
            for spw in layout.spws:
                sm.observe(
                    scan.field,
                    spw.name,
                    starttime=f"{t0}s",
                    stoptime=f"{t0 + layout.integration_s}s",
                    state_obs_mode=intents[scan.field],
                    project=layout.project,
                    observer=layout.observer,
                )
    finally:
        sm.close()
    _fix_scans_and_observation(ms, layout)


def _fix_scans_and_observation(ms: Path, layout: Layout) -> None:
    """Number scans as the plan says (the simulator starts a scan per call) and fill OBSERVATION."""
    from casacore import tables

    with tables.table(str(ms), readonly=False, ack=False) as t:
        time = t.getcol("TIME")
        t0 = time.min() - layout.integration_s / 2
        offsets = time - t0
        starts = np.array([s.start_s for s in layout.scans])
        scan = np.searchsorted(starts, offsets + 1e-3, side="right")  # 1-based scan numbers
        t.putcol("SCAN_NUMBER", scan.astype(np.int32))
        t.putcol("WEIGHT", np.ones((t.nrows(), 2), np.float32))
        t.putcol("SIGMA", np.ones((t.nrows(), 2), np.float32))
    stamp_alma_subtables(ms, layout)


def stamp_alma_subtables(ms: Path, layout) -> None:
    """What the simulator leaves unlike an ALMA MS: one POLARIZATION row shared by every spw (the simulator
    writes one per spw; ALMA and exportasdm share one XX,YY setup), and the OBSERVATION row's telescope,
    observer, project and SCHEDULE (SB and EB uids of ``layout``: a :class:`Layout` or a TP layout).

    Examples
    --------
    >>> stamp_alma_subtables(Path("x.ms"), default_layout())   # doctest: +SKIP
    """
    from casacore import tables

    with tables.table(str(ms / "DATA_DESCRIPTION"), readonly=False, ack=False) as dd:
        dd.putcol("POLARIZATION_ID", np.zeros(dd.nrows(), np.int32))
    with tables.table(str(ms / "POLARIZATION"), readonly=False, ack=False) as pol:
        pol.removerows(list(range(1, pol.nrows())))
    with tables.table(str(ms / "OBSERVATION"), readonly=False, ack=False) as obs:
        obs.putcol("TELESCOPE_NAME", ["ALMA"] * obs.nrows())
        obs.putcol("OBSERVER", [layout.observer] * obs.nrows())
        obs.putcol("PROJECT", [layout.project] * obs.nrows())
        eb = layout.eb_uid.replace("uid___", "uid://").replace("_", "/")
        for r in range(obs.nrows()):
            obs.putcell("SCHEDULE", r, [f"SchedulingBlock {layout.sb_uid}", f"ExecBlock {eb}"])


def predict_model(ms: Path, layout: Layout, workdir: Path) -> None:
    """Fill MODEL_DATA per field from a CASA component list (``ft``)."""
    ct, tasks = casa.casatools(), casa.casatasks()
    for f in layout.fields:
        cl = ct.componentlist()
        clpath = workdir / f"{f.name}.cl"
        if clpath.exists():
            shutil.rmtree(clpath)
        if f.intent.startswith("OBSERVE_TARGET"):
            _target_components(cl, f, layout)
        else:
            cl.addcomponent(
                dir=f"J2000 {f.ra} {f.dec}",
                flux=f.flux_jy,
                fluxunit="Jy",
                freq="240GHz",
                shape="point",
                spectrumtype="spectral index",
                index=f.spectral_index,
            )
        cl.rename(str(clpath))
        cl.close()
        for _ in range(FT_TRIES):
            tasks.ft(vis=str(ms), field=f.name, complist=str(clpath), usescratch=True)
            bad = nonfinite_model_rows(ms, f.name)
            if not bad:
                break
        else:
            from ..errors import AlmaviewError

            raise AlmaviewError(
                ms,
                f"CASA's ft left MODEL_DATA non-finite in {bad} rows of field {f.name!r} after {FT_TRIES} tries; "
                "build the data again",
            )


#: CASA's ft (casatools 6.7) has once written NaN into MODEL_DATA for one integration of a field (22 rows of one
#: spw, in one of several builds of the same recipe): the simulation would carry it into DATA and the images
FT_TRIES = 3


def nonfinite_model_rows(ms: Path, field_name: str) -> int:
    """How many rows of field ``field_name`` hold a NaN or infinite MODEL_DATA value (TaQL, per row: spws of
    different channel counts need no common shape; TaQL's ``isfinite`` calls nan+0j finite, so isnan/isinf).

    Examples
    --------
    >>> import almaview as av  # doctest: +SKIP
    >>> nonfinite_model_rows(av.sampledata.path("small"), "J1924-2914")  # doctest: +SKIP
    0
    """
    import casacore.tables as pt

    with pt.table(str(ms / "FIELD"), ack=False) as fld:
        ids = [i for i, name in enumerate(fld.getcol("NAME")) if name == field_name]
    if not ids:
        return 0
    with pt.table(str(ms), ack=False) as t:
        q = t.query(f"FIELD_ID IN {ids} && (any(isnan(MODEL_DATA)) || any(isinf(MODEL_DATA)))", columns="ROWID() AS r")
        try:
            return q.nrows()
        finally:
            q.close()


def _target_components(cl, f: FieldSetup, layout: Layout) -> None:
    """A dusty envelope (Gaussian continuum) and a compact CO(2-1) line source."""
    ct = casa.casatools()
    me, qa = ct.measures(), ct.quanta()
    centre = me.direction("J2000", f.ra, f.dec)

    def offset(dra_arcsec: float, ddec_arcsec: float) -> str:
        d = me.shift(
            centre,
            offset=qa.quantity(np.hypot(dra_arcsec, ddec_arcsec), "arcsec"),
            pa=qa.quantity(np.degrees(np.arctan2(dra_arcsec, ddec_arcsec)), "deg"),
        )
        return f"J2000 {d['m0']['value']}rad {d['m1']['value']}rad"

    cl.addcomponent(
        dir=offset(0.8, -0.5),
        flux=0.08,
        fluxunit="Jy",
        freq="240GHz",
        shape="Gaussian",
        majoraxis="2.0arcsec",
        minoraxis="1.2arcsec",
        positionangle="35deg",
        spectrumtype="spectral index",
        index=2.5,
    )
    freqs = np.linspace(229.9e9, 231.2e9, 661)
    line = 0.02 + 1.5 * np.exp(-0.5 * ((freqs - layout.line_centre_hz) / 4.0e6) ** 2)
    cl.addcomponent(dir=offset(-1.0, 0.6), flux=float(line[0]), fluxunit="Jy", freq=f"{freqs[0]}Hz", shape="point")
    cl.setspectrum(which=1, type="tabular", tabularfreqs=freqs, tabularflux=line, tabularframe="LSRK")


@dataclass
class Truth:
    """The corruptions applied to the simulated data (what calibration must find)."""

    antennas: list[str]
    gain_amp: np.ndarray  # (antenna, receptor)
    gain_phase0: np.ndarray  # (antenna, receptor) rad
    phase_drift_amp: np.ndarray  # (antenna,) rad
    phase_drift_period_s: np.ndarray  # (antenna,)
    spw_phase: np.ndarray  # (spw, antenna) rad, per-spw offsets (phase-up)
    delay_s: np.ndarray  # (antenna,)
    bandpass: list[np.ndarray]  # per spw: (antenna, channel, receptor) complex, unit mean amplitude
    tsys: list[np.ndarray]  # per spw: (antenna, channel, receptor) K
    t_ref: float  # MJD seconds of phase zero

    def gain(self, time_mjd_s: np.ndarray, spw: int) -> np.ndarray:
        """Complex gain (time, antenna, receptor) at the given times, without delay and bandpass."""
        dt = np.asarray(time_mjd_s)[:, None] - self.t_ref
        drift = self.phase_drift_amp[None, :] * np.sin(2 * np.pi * dt / self.phase_drift_period_s[None, :])
        phase = self.gain_phase0[None, :, :] + (drift + self.spw_phase[spw][None, :])[:, :, None]
        return self.gain_amp[None, :, :] * np.exp(1j * phase)

    def as_arrays(self) -> dict[str, np.ndarray]:
        out = {
            "antennas": np.array(self.antennas),
            "gain_amp": self.gain_amp,
            "gain_phase0": self.gain_phase0,
            "phase_drift_amp": self.phase_drift_amp,
            "phase_drift_period_s": self.phase_drift_period_s,
            "spw_phase": self.spw_phase,
            "delay_s": self.delay_s,
            "t_ref": np.array(self.t_ref),
        }
        for k, (bp, ts) in enumerate(zip(self.bandpass, self.tsys)):
            out[f"bandpass_spw{k}"] = bp
            out[f"tsys_spw{k}"] = ts
        return out


def make_truth(layout: Layout, antennas: list[str], t_ref: float) -> Truth:
    """Draw the per-antenna corruptions, reproducibly from the layout's seed."""
    rng = np.random.default_rng(layout.seed)
    n = len(antennas)
    bandpass, tsys = [], []
    for spw in layout.spws:
        x = np.linspace(-1, 1, spw.nchan)
        ripple = 1 + 0.04 * np.sin(
            2 * np.pi * (rng.uniform(1, 3, (n, 1, 2)) * x[None, :, None] + rng.uniform(0, 6.3, (n, 1, 2)))
        )
        edge = 1 - 0.25 * np.abs(x[None, :, None]) ** 8
        phase = np.radians(rng.normal(0, 4, (n, 1, 2))) * x[None, :, None] ** 2
        bp = ripple * edge * np.exp(1j * phase)
        bandpass.append(bp / np.abs(bp).mean(axis=1, keepdims=True))
        t0 = rng.uniform(70, 110, (n, 1, 2)) * (1 + 0.3 * (spw.centre_hz - 230e9) / 20e9)
        ts = t0 * (1 + 0.08 * x[None, :, None] ** 2) + 4 * np.exp(-0.5 * ((x[None, :, None] - 0.3) / 0.05) ** 2)
        tsys.append(ts.astype(np.float32))
    return Truth(
        antennas=antennas,
        gain_amp=rng.uniform(0.85, 1.15, (n, 2)),
        gain_phase0=rng.uniform(-np.pi, np.pi, (n, 2)),
        phase_drift_amp=np.radians(rng.uniform(5, 40, n)),
        phase_drift_period_s=rng.uniform(900, 2400, n),
        spw_phase=np.radians(rng.normal(0, 15, (len(layout.spws), n))),
        delay_s=rng.normal(0, 0.15e-9, n),
        bandpass=bandpass,
        tsys=tsys,
        t_ref=t_ref,
    )


def corrupt(ms: Path, layout: Layout, truth: Truth, *, chunk_bytes: float = 64e6) -> None:
    """DATA = corrupted MODEL_DATA + thermal noise, in correlation-coefficient units (divided by sqrt(Tsys_i Tsys_j)).

    CASA's Tsys calibration multiplies by sqrt(Tsys_i Tsys_j), after which the
    data are the corrupted sky in Jy and the gain tables solve for ``truth``.
    """
    from casacore import tables

    rng = np.random.default_rng(layout.seed + 1)
    with tables.table(str(ms / "DATA_DESCRIPTION"), ack=False) as dd:
        spw_of_ddid = dd.getcol("SPECTRAL_WINDOW_ID")
    with tables.table(str(ms), readonly=False, ack=False) as t:
        has_corrected = "CORRECTED_DATA" in t.colnames()
        for dd_id, k in enumerate(spw_of_ddid):
            spw = layout.spws[int(k)]
            nu = spw.frequencies
            dly = np.exp(2j * np.pi * (truth.delay_s[:, None] * (nu[None, :] - spw.centre_hz)))  # (ant, chan)
            b = truth.bandpass[k] * dly[:, :, None]  # (ant, chan, rec)
            tsys = truth.tsys[k]
            sub = t.query(f"DATA_DESC_ID=={dd_id}")  # one spw's rows: equal shapes
            rows_per_chunk = max(1, int(chunk_bytes // (spw.nchan * 2 * 16)))
            try:
                for start in range(0, sub.nrows(), rows_per_chunk):
                    n = min(rows_per_chunk, sub.nrows() - start)
                    model = sub.getcol("MODEL_DATA", start, n)  # (row, chan, pol)
                    a1, a2 = sub.getcol("ANTENNA1", start, n), sub.getcol("ANTENNA2", start, n)
                    g = truth.gain(sub.getcol("TIME", start, n), int(k))  # (row, ant, rec)
                    rows = np.arange(n)
                    jones1 = g[rows, a1][:, None, :] * b[a1]
                    jones2 = g[rows, a2][:, None, :] * b[a2]
                    tsys_pair = np.sqrt(tsys[a1] * tsys[a2])  # (row, chan, rec)
                    sigma = _K_JY_PER_K * tsys_pair / np.sqrt(2 * spw.width_hz * layout.integration_s)
                    noise = sigma * (rng.standard_normal(sigma.shape) + 1j * rng.standard_normal(sigma.shape))
                    data = ((jones1 * np.conj(jones2) * model + noise) / tsys_pair).astype(np.complex64)
                    sub.putcol("DATA", data, start, n)
                    if has_corrected:
                        sub.putcol("CORRECTED_DATA", data, start, n)
            finally:
                sub.close()


def write_syscal(ms: Path, layout: Layout, truth: Truth) -> None:
    """Add the SYSCAL subtable ALMA fills from its atmosphere scans (TSYS_SPECTRUM per antenna and spw)."""
    from casacore import tables

    with tables.table(str(ms), ack=False) as t:
        time, scan = t.getcol("TIME"), t.getcol("SCAN_NUMBER")
    # Tsys is measured at the start of every calibrator/target scan, as ALMA does around each source.
    scan_starts = [time[scan == s].min() for s in np.unique(scan)]
    desc = tables.complete_ms_desc("SYSCAL")
    keep = {
        k: desc[k]
        for k in ("ANTENNA_ID", "FEED_ID", "INTERVAL", "SPECTRAL_WINDOW_ID", "TIME", "TSYS_SPECTRUM", "TSYS_FLAG")
    }
    td = tables.maketabdesc([tables.makecoldesc(k, v) for k, v in keep.items()])
    path = ms / "SYSCAL"
    n_ant, n_spw = len(truth.antennas), len(layout.spws)
    nrow = len(scan_starts) * n_ant * n_spw
    with tables.table(str(path), td, nrow=nrow, ack=False) as sc:
        r = 0
        for t0 in scan_starts:
            for k in range(n_spw):
                for a in range(n_ant):
                    sc.putcell("ANTENNA_ID", r, a)
                    sc.putcell("FEED_ID", r, 0)
                    sc.putcell("SPECTRAL_WINDOW_ID", r, k)
                    sc.putcell("TIME", r, t0)
                    sc.putcell("INTERVAL", r, layout.integration_s)
                    sc.putcell(
                        "TSYS_SPECTRUM", r, truth.tsys[k][a].astype(np.float32)
                    )  # numpy (chan, rec) = casacore [rec, chan]
                    sc.putcell("TSYS_FLAG", r, False)
                    r += 1
    with tables.table(str(ms), readonly=False, ack=False) as t:
        t.putkeyword("SYSCAL", f"Table: {path}")

"""The ``calibration/`` directory of a pipeline-style member OUS, from what CASA actually produced.

- ``<OUS>.session_<n>.caltables.tgz``: the tables applied to the data (Tsys,
  antenna positions, delay, bandpass, time-dependent phase, flux-scaled
  amplitude); ``<OUS>.session_<n>.auxcaltables.tgz``: the intermediate ones
  (bandpass phase-up, hifa_gfluxscale's phase, amplitude and fluxscale tables). One session per EB.
- ``<EB>.ms.calapply.txt``: one ``applycal(...)`` line per field and intent,
  as the pipeline's calibration state is exported.
- ``<EB>.ms.flagversions.tgz``: the MS's ``.flagversions`` directory.
- ``<EB>.flagtemplate.txt``, ``<EB>.flagtsystemplate.txt``: the (empty) manual flag templates.
- ``<OUS>.hifa_calimage.auxproducts.tgz``: ``cont.dat``, ``flux.csv``, ``antennapos.csv``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..constants import INTENTS, pipeline_intent  # noqa: F401 (pipeline_intent re-exported)
from .project import GROUP, LINE_HZ, LINE_SIGMA_HZ, PROJECT, RECIPE, SCIENCE_GOAL

#: Where the pretend pipeline ran (paths inside calapply.txt are absolute, as the pipeline writes them).
WORKING_DIR = (
    f"/lustre/naasc/sciops/comm/pipeline/{PROJECT}_2024_05_16T08_15_02.000/"
    f"SOUS_{SCIENCE_GOAL}/GOUS_{GROUP}/MOUS_{{mous}}/working"
)

#: caltable roles (almaview.sampledata names) shipped in caltables.tgz; the others go to auxcaltables.tgz
APPLIED_ROLES = ("tsys", "antpos", "delay", "bandpass", "phase", "amp")

#: ALMA intents -> the pipeline's intent names in calapply.txt (one table: almaview.constants)
PIPELINE_INTENT = INTENTS


def calapply_text(eb_uid: str, mous: str, calapply: list[dict], spws: list[int], n_antennas: int) -> str:
    """The ``<EB>.ms.calapply.txt`` text: one applycal line per applycal call that was made.

    Examples
    --------
    >>> line = calapply_text("uid___A002_X1_X2", "uid___A001_X1_X3", [dict(
    ...     field="J1924-2914", intent="CALIBRATE_BANDPASS#ON_SOURCE", gaintable=["t/a.tsyscal.tbl"],
    ...     gainfield=[""], interp=["linear,linear"], spwmap=[[]], calwt=[True])], [0, 1], 12)
    >>> "intent='BANDPASS'" in line and "a.tsyscal.tbl'" in line and "antenna='0~11'" in line
    True
    """
    work = WORKING_DIR.format(mous=mous)
    lines = []
    for ap in calapply:
        tables = [f"{work}/{Path(g).name}" for g in ap["gaintable"]]
        lines.append(
            f"applycal(vis='{work}/{eb_uid}.ms', field='{ap['field']}', intent='{pipeline_intent(ap['intent'])}', "
            f"spw='{','.join(str(s) for s in spws)}', antenna='0~{n_antennas - 1}', gaintable={tables!r}, "
            f"gainfield={list(ap['gainfield'])!r}, spwmap={[list(s) for s in ap['spwmap']]!r}, "
            f"interp={list(ap['interp'])!r}, calwt={list(ap['calwt'])!r}, applymode='calflagstrict', "
            f"flagbackup=False)"
        )
    return "\n".join(lines) + "\n"


def _ranges_ghz(edges: tuple[float, float], exclude: list[tuple[float, float]]) -> list[tuple[float, float]]:
    lo, hi = edges
    out, start = [], lo
    for a, b in sorted(exclude):
        if b <= start or a >= hi:
            continue
        if a > start:
            out.append((start, a))
        start = max(start, b)
    if start < hi:
        out.append((start, hi))
    return out


def cont_dat_text(field: str, spw_lsrk_edges: dict[int, tuple[float, float]], line_hz: float = LINE_HZ) -> str:
    """cont.dat with the line-free ranges of each spw (LSRK): everything except +-4 sigma around the line.

    ``line_hz``: the line's centre in LSRK (see :func:`line_lsrk_hz`; the simulated sky emits it at a fixed
    TOPO frequency, so its LSRK centre is Doppler-shifted from the rest frequency).

    Examples
    --------
    >>> print(cont_dat_text("SRC", {0: (230.47e9, 230.59e9), 1: (231.9e9, 232.1e9)}))
    Field: SRC
    <BLANKLINE>
    SpectralWindow: 0
    230.470000~230.522000GHz LSRK
    230.554000~230.590000GHz LSRK
    <BLANKLINE>
    SpectralWindow: 1
    231.900000~232.100000GHz LSRK
    <BLANKLINE>
    """
    line = (line_hz - 4 * LINE_SIGMA_HZ, line_hz + 4 * LINE_SIGMA_HZ)
    out = [f"Field: {field}", ""]
    for spw in sorted(spw_lsrk_edges):
        out.append(f"SpectralWindow: {spw}")
        for a, b in _ranges_ghz(spw_lsrk_edges[spw], [line]):
            out.append(f"{a / 1e9:.6f}~{b / 1e9:.6f}GHz LSRK")
        out.append("")
    return "\n".join(out)


def line_lsrk_hz(ms: Path, field_id: int, spw: int, topo_hz: float = LINE_HZ) -> float:
    """The LSRK frequency of ``topo_hz`` (TOPO, as the simulator places the line) for ``field_id`` in ``ms``.

    The ratio of CASA's LSRK and TOPO channel frequencies (ms.cvelfreqs) is the Doppler factor.
    """
    from .. import casa

    tool = casa.casatools().ms()
    tool.open(str(ms))
    try:
        lsrk = tool.cvelfreqs(spwids=[spw], fieldids=[field_id], mode="channel", outframe="LSRK")
        topo = tool.cvelfreqs(spwids=[spw], fieldids=[field_id], mode="channel", outframe="TOPO")
    finally:
        tool.close()
        tool.done()
    return float(topo_hz * (lsrk[0] / topo[0]))


def spw_lsrk_edges(ms: Path, field_id: int, spws: list[int]) -> dict[int, tuple[float, float]]:
    """Each spw's frequency range in LSRK for ``field_id`` (via casatools ms.cvelfreqs)."""
    from .. import casa

    tool = casa.casatools().ms()
    out = {}
    tool.open(str(ms))
    try:
        for spw in spws:
            f = tool.cvelfreqs(spwids=[spw], fieldids=[field_id], mode="channel", outframe="LSRK")
            width = abs(f[1] - f[0]) if len(f) > 1 else 0.0
            out[spw] = (float(min(f) - width / 2), float(max(f) + width / 2))
    finally:
        tool.close()
        tool.done()
    return out


def flux_csv_rows(
    ms_name: str,
    fluxscale: dict,
    fields: dict[str, int],
    intents: dict[str, str],
    reference: tuple[str, float, float, float],
    spw_freqs: dict[int, float],
) -> list[list]:
    """flux.csv rows: the flux calibrator's catalogue model and fluxscale's derived flux densities.

    ``reference`` is (field, flux density in Jy at ref_hz, spectral index, ref_hz).
    """
    rows = []
    name, s0, alpha, f0 = reference
    for spw, freq in sorted(spw_freqs.items()):
        rows.append(
            [
                ms_name,
                fields[name],
                spw,
                round(s0 * (freq / f0) ** alpha, 5),
                0.0,
                0.0,
                0.0,
                alpha,
                0.0,
                0.0,
                f"# field={name} intents={pipeline_intent(intents[name])} origin=catalogue",
            ]
        )
    for key, res in sorted(fluxscale.items()):
        if not (key.isdigit() and isinstance(res, dict) and "fieldName" in res):
            continue
        spix = float(np.asarray(res.get("spidx", [0.0, 0.0]))[1]) if len(res.get("spidx", [])) > 1 else 0.0
        for spw in sorted(spw_freqs):
            fl = res.get(str(spw), {}).get("fluxd")
            if fl is None or fl[0] <= 0:
                continue
            fname = res["fieldName"]
            rows.append(
                [
                    ms_name,
                    int(key),
                    spw,
                    round(float(fl[0]), 5),
                    0.0,
                    0.0,
                    0.0,
                    round(spix, 4),
                    0.0,
                    0.0,
                    f"# field={fname} intents={pipeline_intent(intents[fname])} origin=fluxscale",
                ]
            )
    return rows


def flux_csv_text(rows: list[list]) -> str:
    """Write flux.csv rows under the pipeline's header.

    Examples
    --------
    >>> print(flux_csv_text([["a.ms", 0, 1, 1.5, 0, 0, 0, -0.7, 0, 0, "# field=J1 intents=BANDPASS"]]), end="")
    ms,field,spw,I,Q,U,V,spix,uvmin,uvmax,comment
    a.ms,0,1,1.5,0,0,0,-0.7,0,0,# field=J1 intents=BANDPASS
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["ms", "field", "spw", "I", "Q", "U", "V", "spix", "uvmin", "uvmax", "comment"])
    w.writerows(rows)
    return buf.getvalue()


def antennapos_csv_text(ms_name: str, ants_table: Path, antennas: list[str]) -> str:
    """antennapos.csv from the antpos caltable: one row per corrected antenna (offsets in metres)."""
    from casacore import tables

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "antenna", "xoffset", "yoffset", "zoffset", "comment"])
    with tables.table(str(ants_table), ack=False) as t:
        ant = t.getcol("ANTENNA1")
        par = t.getcol("FPARAM")[:, 0, :]  # (row, 3)
    for a, p in zip(ant, par):
        if np.any(p != 0):
            w.writerow(
                [
                    ms_name,
                    antennas[a],
                    f"{p[0]:.6e}",
                    f"{p[1]:.6e}",
                    f"{p[2]:.6e}",
                    "# pad position correction from the array configuration database",
                ]
            )
    return buf.getvalue()


def flag_template_text(eb_uid: str, kind: str) -> str:
    """An empty manual flag template as the pipeline exports it.

    Examples
    --------
    >>> flag_template_text("uid___A002_X1_X2", "tsys").splitlines()[0]
    '# User Tsys flagging commands file for the calibration pipeline'
    """
    what = "Tsys flagging" if kind == "tsys" else "flagging"
    return (
        f"# User {what} commands file for the calibration pipeline\n#\n"
        f"# Examples\n# Note: Do not put spaces inside the reason string !\n#\n"
        f"# mode='manual' antenna='DV01' reason='QA2:applycal_amp_vs_time'\n"
        f"# ({eb_uid}: no manual flags were needed)\n"
    )


def caltable_archive_name(mous: str, session: int, aux: bool) -> str:
    """'<OUS>.session_<n>.caltables.tgz' or '...auxcaltables.tgz'.

    Examples
    --------
    >>> caltable_archive_name("uid___A001_X1_X2", 2, True)
    'uid___A001_X1_X2.session_2.auxcaltables.tgz'
    """
    return f"{mous}.session_{session}.{'auxcaltables' if aux else 'caltables'}.tgz"


def auxproducts_name(mous: str, recipe: str = RECIPE) -> str:
    """'<OUS>.hifa_calimage.auxproducts.tgz'.

    Examples
    --------
    >>> auxproducts_name("uid___A001_X1_X2")
    'uid___A001_X1_X2.hifa_calimage.auxproducts.tgz'
    """
    return f"{mous}.{recipe}.auxproducts.tgz"


def fluxscale_results(eb: str, fluxscale: dict) -> list[tuple[str, str, int, float, float, float]]:
    """Every derived flux density of a ``fluxscale`` result: (eb, field, spw, frequency Hz, flux Jy, error Jy).

    Examples
    --------
    >>> fs = {"spwID": [0], "freq": [2.3e11], "1": {"fieldName": "J1", "0": {"fluxd": [1.2], "fluxdErr": [0.01]}}}
    >>> fluxscale_results("uid___A002_X1_X2", fs)
    [('uid___A002_X1_X2', 'J1', 0, 230000000000.0, 1.2, 0.01)]
    """
    spw_freqs = {int(k): float(f) for k, f in zip(fluxscale["spwID"], fluxscale["freq"])}
    out = []
    for key, res in fluxscale.items():
        if key.isdigit() and isinstance(res, dict) and "fieldName" in res:
            for spw, f in spw_freqs.items():
                out.append(
                    (
                        eb,
                        res["fieldName"],
                        spw,
                        f,
                        float(res[str(spw)]["fluxd"][0]),
                        float(res[str(spw)]["fluxdErr"][0]),
                    )
                )
    return out

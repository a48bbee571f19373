"""A pipeline weblog for the demo: ``pipeline-<timestamp>/html/`` with the home, overview and by-task pages,
one ``stage<N>/`` directory per stage, and PNG plots drawn from the real caltables and images.

Pages follow the pipeline's layout: ``index.html`` (home), ``t1-1.html``
(observation overview), ``t1-4.html`` (by task: one row per stage linking
``t2-4m.html?sidebar=sidebar_stage<N>``, with the QA score in a progress bar),
``t2-4m.html`` and ``stage<N>/t2-4m_details.html``. Plots use matplotlib (Agg).
"""

from __future__ import annotations

import html
import warnings
from pathlib import Path

import numpy as np

from .project import PIPELINE_VERSION, PROJECT, RECIPE, weblog_dirname
from .stages import PLOT_STAGES, Stage, score_band

_BAND_CLASS = {"optimal": "success", "suboptimal": "info", "warning": "warning", "error": "danger"}

_STYLE = (
    "body{font-family:Helvetica,Arial,sans-serif;margin:1.5em;color:#222} table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left} .progress{width:120px;background:#eee}"
    ".progress-bar{color:#fff;padding:0 4px} .progress-bar-success{background:#5cb85c}"
    ".progress-bar-info{background:#5bc0de} .progress-bar-warning{background:#f0ad4e}"
    ".progress-bar-danger{background:#d9534f} img{max-width:640px;margin:4px;border:1px solid #ddd}"
)


def _page(title: str, body: str, depth: int = 0) -> str:
    up = "../" * depth
    nav = (
        f'<p><a href="{up}index.html">Home</a> | <a href="{up}t1-1.html">Overview</a> | '
        f'<a href="{up}t1-4.html">By Task</a></p>'
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
        f"<style>{_STYLE}</style>\n</head>\n<body>\n{nav}\n{body}\n</body>\n</html>\n"
    )


def _progress(score: float) -> str:
    cls = _BAND_CLASS[score_band(score)]
    return (
        f'<div class="progress"><div class="progress-bar progress-bar-{cls}" role="progressbar" '
        f'aria-valuenow="{score:.2f}" aria-valuemin="0" aria-valuemax="1" '
        f'style="width:{100 * score:.0f}%">{score:.2f}</div></div>'
    )


# ------------------------------------------------------------------ plots
def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> str:
    fig.savefig(path, dpi=72, metadata={"Software": None})
    _plt().close(fig)
    return path.name


def _spectra_per_spw(ct, eb: str, out: Path, *, values, ylabel: str, title: str, name: str) -> str:
    """One panel per spw, one line per antenna: ``values(ds)`` gives (antenna_name, frequency) for a caltable node."""
    plt = _plt()
    nodes = sorted((n for n in ct.children if n.startswith("spw_")), key=lambda n: int(n.split("_")[1]))
    fig, axes = plt.subplots(1, len(nodes), figsize=(3 * len(nodes), 3), squeeze=False)
    for ax, node in zip(axes[0], nodes):
        ds = ct[node].ds
        f = ds.frequency.values / 1e9
        for row in values(ds).transpose("antenna_name", "frequency").values:
            ax.plot(f, row, lw=0.6)
        ax.set_title(f"spw {node.split('_')[1]}", fontsize=9)
        ax.set_xlabel("Frequency (GHz)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel(ylabel, fontsize=8)
    fig.suptitle(f"{eb}: {title}", fontsize=9)
    fig.tight_layout()
    return _save(fig, out / f"{eb}-{name}.png")


def plot_tsys(table: Path, eb: str, out: Path) -> str:
    """Tsys vs frequency, one panel per spw, one line per antenna (first receptor, median over scans)."""
    from ..io.caltable import open_caltable

    def median_tsys(ds):
        return ds.value.where(~ds.flag).isel(receptor=0).median("time")

    return _spectra_per_spw(
        open_caltable(table),
        eb,
        out,
        values=median_tsys,
        ylabel="Tsys (K)",
        title="Tsys vs frequency (median over scans)",
        name="tsys_vs_freq",
    )


def plot_bandpass(table: Path, eb: str, out: Path) -> str:
    """Bandpass amplitude vs frequency, one panel per spw, one line per antenna (first receptor)."""
    from ..io.caltable import open_caltable

    def amplitude(ds):
        return abs(ds.gain).where(~ds.flag).isel(receptor=0).median("time")

    return _spectra_per_spw(
        open_caltable(table),
        eb,
        out,
        values=amplitude,
        ylabel="Amplitude",
        title="bandpass amplitude vs frequency",
        name="bandpass_amp_vs_freq",
    )


def plot_gain_phase(table: Path, eb: str, out: Path) -> str:
    """Gain phase vs time for spw 0, one colour per antenna, calibrator scans only."""
    from ..io.caltable import open_caltable

    plt = _plt()
    ds = open_caltable(table)["spw_0"].ds
    minutes = (ds.time - ds.time.min()) / np.timedelta64(60, "s")
    phase = np.degrees(np.angle(ds.gain.where(~ds.flag).isel(receptor=0).transpose("time", "antenna_name").values))
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for column in phase.T:
        ax.plot(minutes.values, column, ".", ms=2)
    ax.set_xlabel(f"Minutes since first solution ({', '.join(sorted(set(ds.field_name.values.tolist())))})", fontsize=8)
    ax.set_ylabel("Phase (deg)", fontsize=8)
    ax.set_ylim(-180, 180)
    ax.set_title(f"{eb}: phase vs time, spw 0 (solint=int)", fontsize=9)
    fig.tight_layout()
    return _save(fig, out / f"{eb}-phase_vs_time.png")


def plot_fluxes(points: list[tuple[str, str, float, float, float]], out: Path) -> str:
    """Derived flux density vs frequency: points are (eb, field, frequency Hz, flux Jy, error Jy)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for key in sorted(set((p[0], p[1]) for p in points)):
        sel = [p for p in points if (p[0], p[1]) == key]
        ax.errorbar(
            [p[2] / 1e9 for p in sel],
            [p[3] for p in sel],
            yerr=[p[4] for p in sel],
            fmt="o",
            ms=3,
            label=f"{key[1]} ({key[0][-6:]})",
        )
    ax.set_xlabel("Frequency (GHz)", fontsize=8)
    ax.set_ylabel("Flux density (Jy)", fontsize=8)
    ax.legend(fontsize=6)
    ax.set_title("hifa_gfluxscale: derived flux densities", fontsize=9)
    fig.tight_layout()
    return _save(fig, out / "flux_vs_freq.png")


def _beam_ellipse(ax, header, nx: int):
    from matplotlib.patches import Ellipse

    cd = abs(header["CDELT1"])
    w, h = header["BMIN"] / cd, header["BMAJ"] / cd
    ax.add_patch(Ellipse((0.1 * nx, 0.1 * nx), w, h, angle=header.get("BPA", 0.0), fc="none", ec="w"))


def plot_image(pbcor_fits: Path, mask_fits: Path, title: str, out: Path, name: str) -> str:
    """Image preview (peak over channels for a cube) with the clean mask contour and the beam."""
    from astropy.io import fits

    plt = _plt()
    with fits.open(pbcor_fits) as hdul:
        data, header = np.asarray(hdul[0].data, dtype=float), hdul[0].header
    with fits.open(mask_fits) as hdul:
        mask = np.asarray(hdul[0].data, dtype=float)
    with warnings.catch_warnings():  # pixels outside the primary beam are NaN in every channel
        warnings.simplefilter("ignore", RuntimeWarning)
        plane = np.nanmax(data.reshape(-1, data.shape[-2], data.shape[-1]), axis=0)
    mplane = np.nanmax(mask.reshape(-1, mask.shape[-2], mask.shape[-1]), axis=0)
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    im = ax.imshow(plane * 1e3, origin="lower", cmap="inferno")
    ax.contour(mplane, levels=[0.5], colors="c", linewidths=0.7)
    _beam_ellipse(ax, header, plane.shape[0])
    fig.colorbar(im, ax=ax, label="mJy/beam")
    ax.set_title(title, fontsize=8)
    ax.set_xlabel("pixel", fontsize=8)
    fig.tight_layout()
    return _save(fig, out / name)


# ------------------------------------------------------------------ pages
def _stage_page(s: Stage) -> str:
    rows = "".join(
        f"<tr><td>{_progress(m.score)}</td><td>{html.escape(m.name)}</td><td>{html.escape(m.value)}</td>"
        f"<td>{html.escape(m.asdm)}</td><td>{html.escape(m.reason)}</td></tr>\n"
        for m in s.metrics
    )
    plots = "".join(f'<a href="{p}"><img src="{p}" alt="{html.escape(p)}"></a>\n' for p in s.plots)
    notes = "".join(f"<p>{n}</p>\n" for n in s.notes)
    body = (
        f"<h1>{s.number}. {s.task}: {html.escape(s.description)}</h1>\n"
        f"<h2>Task QA score {s.score:.2f}</h2>\n{notes}"
        f'<table class="table"><tr><th>Score</th><th>Metric</th><th>Value</th><th>Measurement set</th>'
        f"<th>Reason</th></tr>\n{rows}</table>\n{plots}"
    )
    return _page(f"Stage {s.number}: {s.task}", body, depth=1)


def _by_task(stages: list[Stage]) -> str:
    rows = "".join(
        f'<tr><td><a href="t2-4m.html?sidebar=sidebar_stage{s.number}&amp;ms=all&amp;subpage=t2-4m_details.html">'
        f"{s.number}. <strong>{s.task}</strong>: {html.escape(s.description)}</a></td>"
        f"<td>{_progress(s.score)}</td><td>{html.escape(s.reason)}</td></tr>\n"
        for s in stages
    )
    return _page(
        "By Task",
        '<h1>Task Summaries</h1>\n<table class="table"><tr><th>Task</th><th>QA Score</th>'
        f"<th>Reason</th></tr>\n{rows}</table>",
    )


def write_weblog(
    root: Path, stages: list[Stage], *, mous: str, ebs: list[dict], casa_version: str, recipe: str = RECIPE
) -> Path:
    """Write the weblog's html tree under ``root/pipeline-<timestamp>/html``; return that html directory.

    ``recipe``: ``hifa_calimage`` (12-m, 7-m) or ``hsd_calimage`` (TP). ``ebs`` holds dicts with 'uid', 'start', 'end' (ISO strings), 'n_antennas', 'fields'.
    """
    top = root / weblog_dirname() / "html"
    top.mkdir(parents=True, exist_ok=True)
    home = (
        f'<h1>Pipeline Summary</h1>\n<table class="table">'
        f"<tr><th>Project</th><td>{PROJECT}</td></tr><tr><th>OUS status entity</th><td>{mous}</td></tr>"
        f"<tr><th>Recipe</th><td>{recipe}</td></tr><tr><th>CASA version</th><td>{casa_version}</td></tr>"
        f"<tr><th>Pipeline version</th><td>{PIPELINE_VERSION}</td></tr></table>\n"
        "<p>The almaview demo delivery: casatasks ran the pipeline's calibration and imaging steps on simulated "
        "data; this weblog was written by almaview.demo, not by the ALMA pipeline.</p>"
    )
    (top / "index.html").write_text(_page("Pipeline Summary", home))
    rows = "".join(
        f"<tr><td>{e['uid']}</td><td>{e['start']}</td><td>{e['end']}</td><td>{e['n_antennas']}</td>"
        f"<td>{html.escape(', '.join(e['fields']))}</td></tr>\n"
        for e in ebs
    )
    (top / "t1-1.html").write_text(
        _page(
            "Overview",
            '<h1>Observation Overview</h1>\n<table class="table">'
            "<tr><th>Measurement set</th><th>Start (UTC)</th><th>End (UTC)</th>"
            f"<th>Antennas</th><th>Fields</th></tr>\n{rows}</table>",
        )
    )
    (top / "t1-4.html").write_text(_by_task(stages))
    side = "".join(
        f'<li id="sidebar_stage{s.number}"><a href="stage{s.number}/t2-4m_details.html">{s.number}. {s.task}</a></li>\n'
        for s in stages
    )
    (top / "t2-4m.html").write_text(_page("Task details", f"<ul>\n{side}</ul>"))
    for s in stages:
        d = top / f"stage{s.number}"
        d.mkdir(exist_ok=True)
        (d / "t2-4m_details.html").write_text(_stage_page(s))
    return top


def stage_dir(html_dir: Path, key: str) -> Path:
    """The stage<N> directory for a plot kind ('tsys', 'bandpass', 'gain', 'fluxscale', 'cont', 'cube')."""
    d = html_dir / f"stage{PLOT_STAGES[key]}"
    d.mkdir(parents=True, exist_ok=True)
    return d

"""The standalone report: one self-contained interactive HTML file per delivery (Bokeh standalone, BokehJS
inlined, no kernel, works offline) with the overview, calibration and QA panels of every EB.

Size is bounded: panels with more than ``max_points`` points are thinned (uv coverage keeps every
``k``-th integration; bandpass keeps the first antennas) and the page says so. The QA tab holds each weblog
stage's page (sanitised, images inlined up to a budget): a click on a stage shows its page in the report.

Examples
--------
>>> from almaview.report import build_report
>>> build_report("2023.1.01234.S", "report.html")   # doctest: +SKIP
PosixPath('report.html')
"""

from __future__ import annotations

import html
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

__all__ = ["build_report", "report_panels", "page_html", "tabbed_page_html", "stage_pages"]

from .report_page import page_html, tabbed_page_html  # the page (re-exported: where they were)

MAX_POINTS = 40_000


def _note(text: str) -> Any:
    from bokeh.models import Div

    return Div(text=f"<p style='color:#777;font-size:12px'>{html.escape(text)}</p>")


#: a stage page's images inlined in the report up to this many bytes (a real weblog's plots would make the report
#: hundreds of MB; the rest keep their names)
STAGE_IMAGE_BUDGET = 400_000


def stage_pages(weblog: Any, *, image_budget: int = STAGE_IMAGE_BUDGET) -> dict[int, str]:
    """Each weblog stage's page as a self-contained, sanitised document (stage number -> HTML), for the report's QA
    tab: a click on a stage shows its page in the report itself (no link into a cache directory that the reader
    of a sent report does not have). A page that cannot be read is left out (its stage says so when clicked).

    Examples
    --------
    >>> stage_pages(None)
    {}
    >>> m = av.open_delivery("2023.1.01234.S").mous[0]   # doctest: +SKIP
    >>> "Content-Security-Policy" in stage_pages(m.weblog)[17]   # doctest: +SKIP
    True
    """
    from .errors import AlmaviewError

    out: dict[int, str] = {}
    for s in getattr(weblog, "stages", None) or []:
        try:
            out[s.number] = weblog.stage_html(s.number, image_budget=image_budget)
        except (AlmaviewError, OSError, KeyError, ValueError):
            continue
    return out


def _safe(name: str, make: Callable[[], Any]) -> Any:
    """A panel, or a note saying why it could not be made (one bad table must not sink the report)."""
    try:
        return make()
    except Exception as err:  # reported in the page
        return _note(f"{name}: not available ({type(err).__name__}: {err})")


def report_panels(eb: Any, *, max_points: int = MAX_POINTS) -> list[tuple[str, Any]]:
    """The (title, Bokeh layout) sections of one EB: overview, Tsys, bandpass, gains.

    ``eb`` is an :class:`~almaview.widgets.sources.EBSource`.

    Examples
    --------
    >>> from almaview.widgets.sources import ebs_of
    >>> [t for t, _ in report_panels(ebs_of(d)[0])]   # doctest: +SKIP
    ['overview', 'Tsys', 'bandpass', 'gains']
    """
    from .io.caltable import open_caltable
    from .io.ms import open_ms
    from .plots import caltables as pc
    from .plots import overview as ov
    from .plots._common import column, row
    from .widgets.sources import BANDPASS_KINDS, GAIN_KINDS, TSYS_KINDS

    out: list[tuple[str, Any]] = []
    if eb.ms is not None:
        vis = open_ms(eb.ms)

        def overview() -> Any:
            spws = ov.ms_spws(vis)
            uv = ov.uv_coverage(vis, spws[:1])
            notes = []
            if len(uv.data) > max_points:
                ds = vis[f"spw_{spws[0]}"].ds
                step = -(-len(uv.data) // max_points)
                keep = set(ds.time.values[::step].tolist())
                thin = uv.data[uv.data["time"].isin(keep)]
                notes.append(
                    _note(
                        f"uv coverage: every {step}th integration of spw {spws[0]} "
                        f"({len(thin)} of {len(uv.data)} points)"
                    )
                )
                from .plots._common import columns_of, colours_for

                cmap = colours_for(thin["spw"])
                uv.sources["points"].data = columns_of(
                    thin.assign(color=[cmap[s] for s in thin["spw"]]),
                    ["u_klambda", "v_klambda", "spw", "field", "baseline", "color"],
                )
                from .plots._common import empty_raster

                uv.sources["image"].data = empty_raster()
            return column(
                [
                    ov.eb_summary(vis).layout,
                    row([ov.antenna_positions(vis).layout, uv.layout]),
                    ov.elevation(vis).layout,
                    *notes,
                ]
            )

        out.append(("overview", _safe("overview", overview)))
    for title, kinds, builder in (
        ("Tsys", TSYS_KINDS, pc.tsys),
        ("bandpass", BANDPASS_KINDS, pc.bandpass),
        ("gains", GAIN_KINDS, pc.gains),
    ):
        names = eb.gain_tables() if title == "gains" else eb.tables(kinds)  # gains: the phase solutions first
        if not names:
            continue
        if title == "gains":  # the pipeline's final phase and amplitude tables (timegaincal), else all
            final = [n for n in names if "timegaincal" in n] or names
            names = final

        def make(names: list[str] = names, builder: Any = builder, title: str = title) -> Any:
            parts = []
            for n in names:
                ct = open_caltable(eb.path(n))
                ants = None
                if title == "bandpass":
                    per_ant = sum(ct[f"spw_{s}"].ds.gain.size for s in pc.caltable_spws(ct)) // max(
                        1, ct[f"spw_{pc.caltable_spws(ct)[0]}"].ds.sizes["antenna_name"]
                    )
                    if per_ant and per_ant * ct[f"spw_{pc.caltable_spws(ct)[0]}"].ds.sizes["antenna_name"] > max_points:
                        first = ct[f"spw_{pc.caltable_spws(ct)[0]}"].ds.antenna_name.values.astype(str)
                        ants = list(first[: max(1, max_points // per_ant)])
                # gains: one panel per spw, antennas in colour (the explorer has the weblog's per-antenna pages):
                # per antenna, a 27-antenna VLA table made 54 figures and 5,600 of the page's Bokeh models
                p = builder(ct, antennas=ants, **({"iterate": "spw"} if title == "gains" else {}))
                parts.append(_note(n + (f" — antennas {', '.join(ants)} only (size bound)" if ants else "")))
                parts.append(p.layout)
            return column(parts)

        out.append((title, _safe(title, make)))
    return out


def build_report(
    delivery: Any,
    output: str | os.PathLike = "report.html",
    *,
    progress: bool = True,
    max_points: int = MAX_POINTS,
    processes: int | None = None,
) -> Path:
    """Write the standalone HTML report of a delivery (or path) and return its path.

    One tab per EB (overview, Tsys, bandpass, gains) and one QA tab per member OUS; BokehJS inlined. The EB tabs
    are built and serialised in ``processes`` forked worker processes (default: one per CPU, up to one per EB,
    when this process runs no other thread: the ``almaview report`` command; else, e.g. in a notebook's kernel,
    here); the page is the same either way.

    Examples
    --------
    >>> build_report(av.open_delivery("2023.1.01234.S"), "report.html")   # doctest: +SKIP
    """
    with _local_dask():
        return _write_report(delivery, output, progress=progress, max_points=max_points, processes=processes)


def _local_dask() -> Any:
    """Dask's threaded scheduler, named, when no dask.distributed client can exist in this process (distributed not
    imported): what dask picks anyway for the report's arrays, without importing distributed to look for a client
    (~0.3 s, a twentieth of ``almaview report``). With distributed imported (a notebook with a Client), or a
    scheduler set in dask's config, dask's own choice."""
    import sys
    from contextlib import nullcontext

    import dask

    if "distributed" in sys.modules or dask.config.get("scheduler", None) is not None:  # (a user's choice stands)
        return nullcontext()
    import dask.threaded

    return dask.config.set(scheduler=dask.threaded.get)  # the function: a name makes dask look for distributed


def _processes(n_ebs: int, asked: int | None) -> int:
    """How many worker processes build the EB tabs (1: none, built here). Forked, so only where fork is safe: on
    Linux (macOS's system libraries are not fork-safe), in a process running no other thread (a thread holding a
    lock at the fork would leave it held in the worker)."""
    import sys
    import threading

    if asked is not None:
        return max(1, min(asked, n_ebs))
    if n_ebs < 2 or threading.active_count() > 1 or not sys.platform.startswith("linux"):
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # (not on Linux)
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, n_ebs))


def _page_tab(title: str, label: str, layout: Any) -> Any:
    """A tab of the page, serialised: fewer models (shared axis models and filters, glyph copies made in the page),
    stretched to the page's width, then written (:func:`~almaview.report_page.tab_doc`)."""
    from .plots._common import compact_models, references, stretch_width
    from .plots._construction import quick_models
    from .report_page import tab_doc

    with quick_models():
        models = references(layout)  # one walk for the three
        compact_models(layout, models)
        stretch_width(layout, models)
        return tab_doc(title, label, layout, models)  # (compact_models dropped copies: the same BokehJS bundles)


def _eb_tab(eb: Any, max_points: int, title: str) -> Any:
    """One EB's tab (its sections as inner tabs), built and serialised."""
    from bokeh.models import TabPanel, Tabs

    from .plots._construction import quick_models

    with quick_models():  # the panels' models built without the defaults Bokeh would build and drop
        sections = report_panels(eb, max_points=max_points)
        inner = (
            Tabs(tabs=[TabPanel(child=lay, title=t) for t, lay in sections])
            if sections
            else _note("nothing to show for this EB")
        )
    return _page_tab(title, f"EB {eb.uid}", inner)


#: what the forked workers build: (EBs, max_points, page title), set by the parent just before it forks them
_JOB: list[tuple[list, int, str]] = []
#: each worker's Bokeh model ids start at (EB index + 1) x this: unique in the page, as one process makes them
_ID_BLOCK = 1_000_000


def _worker_tab(k: int) -> tuple[int, Any]:
    """In a forked worker: EB ``k``'s tab. Dask computes in the worker's own thread (one worker per CPU already)."""
    import dask
    import dask.local
    from bokeh.util import serialization

    if isinstance(getattr(serialization, "_simple_id", None), int):  # Bokeh's simple ids: p1, p2... per process
        serialization._simple_id = max(serialization._simple_id, (k + 1) * _ID_BLOCK)
    ebs, max_points, title = _JOB[0]
    with dask.config.set(scheduler=dask.local.get_sync):
        return k, _eb_tab(ebs[k], max_points, title)


def _before_fork() -> None:
    """Import what every EB's tab uses once, here, before the workers are forked (each would import it again)."""
    import bokeh.core.json_encoder  # noqa: F401
    import bokeh.document  # noqa: F401
    import bokeh.embed.bundle  # noqa: F401
    import bokeh.layouts  # noqa: F401
    import bokeh.models  # noqa: F401
    import bokeh.plotting  # noqa: F401

    from .io import caltable, ms  # noqa: F401
    from .plots import caltables, overview  # noqa: F401


def _write_report(
    delivery: Any, output: str | os.PathLike, *, progress: bool, max_points: int, processes: int | None
) -> Path:
    from .delivery import open_delivery
    from .delivery.model import Delivery
    from .plots.weblog_qa import qa_stages
    from .widgets.sources import ebs_of

    d = delivery if isinstance(delivery, Delivery) else open_delivery(delivery)
    ebs = ebs_of(d)
    title = f"almaview report — {d.project_code or os.path.basename(d.root)}"
    steps = len(ebs) + len(d.mous) + 1  # + the page itself (its QA tabs serialised, the page written)
    eb_tabs: list[Any] = [None] * len(ebs)
    qa_tabs: list[tuple[str, Any]] = []
    n = _processes(len(ebs), processes)  # (before the progress bar: its monitor is a thread)
    with ExitStack() as stack:
        results: Any = None
        if n > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            _before_fork()
            _JOB[:] = [(ebs, max_points, title)]
            stack.callback(_JOB.clear)
            # (an executor, not a Pool: a worker that dies, e.g. in a C library, fails the report, a Pool would wait)
            pool = stack.enter_context(ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")))
            results = (f.result() for f in as_completed([pool.submit(_worker_tab, k) for k in range(len(ebs))]))
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = stack.enter_context(tqdm(total=steps, desc="almaview report", unit="part"))

        def done() -> None:
            if bar is not None:
                bar.update()

        def qa() -> None:  # (here while the workers build the EB tabs)
            from .plots._construction import quick_models

            for m in d.mous:
                if bar is not None:
                    bar.set_postfix_str(f"QA {m.uid}")
                if m.qa.aqua is not None or m.qa.weblog_archives:
                    with quick_models():
                        qa = _safe("QA", lambda m=m: qa_stages(m.qa.aqua, m.weblog, pages=stage_pages(m.weblog)).layout)
                    qa_tabs.append((f"QA {m.uid}", _page_tab(title, f"QA {m.uid}", qa)))
                done()

        if results is not None:
            qa()
            if bar is not None:
                bar.set_postfix_str(f"{len(ebs)} EBs in {n} processes")
            for k, tab in results:
                eb_tabs[k] = tab
                done()
        else:
            for k, eb in enumerate(ebs):
                if bar is not None:
                    bar.set_postfix_str(eb.uid)
                eb_tabs[k] = _eb_tab(eb, max_points, title)
                done()
            qa()
        if bar is not None:
            bar.set_postfix_str("writing the page")
        out = _write_page(d, output, title, eb_tabs, qa_tabs)
        done()
        return out


def _write_page(
    d: Any, output: str | os.PathLike, title: str, eb_tabs: list[Any], qa_tabs: list[tuple[str, Any]]
) -> Path:
    from .plots._common import column
    from .report_page import tabbed_page_html

    from .delivery.summary import _array_words

    members = "".join(
        f"<li>member OUS {html.escape(m.uid)}: {html.escape(_array_words(m.array))}"
        f" ({len(m.ebs)} EB{'s' if len(m.ebs) != 1 else ''})</li>"
        for m in d.mous
    )
    from .delivery.status import group_product_lines

    members += "".join(f"<li>{html.escape(line)}</li>" for line in group_product_lines(d))
    head = (
        f"<h2>{html.escape(title)}</h2><p>{html.escape(d.title or '')}"
        f"{' — PI ' + html.escape(d.pi_name) if d.pi_name else ''}</p><ul>{members}</ul>"
    )
    tabs = [*eb_tabs, *(tab for _, tab in qa_tabs)]
    if not tabs:
        tabs = [_page_tab(title, "delivery", column([_note("no EBs in this delivery")]))]
    page = tabbed_page_html(title, head, tabs)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out

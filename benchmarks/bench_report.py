"""What :func:`almaview.plots._common.compact_models` saves the report: the same page (gains panels of a synthetic
43-antenna, 4-spw phase table, one figure per antenna as the weblog draws it and one per spw as the report does)
serialised to a standalone HTML document with and without it, same process, same data; model counts and
file_html time, reported as ratios (> 1: compact is faster / smaller).

    python benchmarks/bench_report.py

On the shared 2-core machine (load ~7) on 2026-12-02, after the plot grids share their filters (10edb14): models
3767 plain, 2873 compact (ratio 1.31); compact + file_html 14.2 s vs 13.4 s (ratio 1.06: the walk costs about what
it saves here; this page is data-heavy, 10.6 MB); HTML 10.60 vs 10.48 MB. On the demo's report the larger saving is
the gains per spw (one figure per spw, not per antenna): 18,555 -> 7,229 models with compact_models.

The whole demo report (``almaview report``), alternated with 6c579ae in one shell on 2026-12-02 (load 4.0-4.5 on
2 cores): 16.3 / 16.6 CPU s before, 13.0 / 14.0 CPU s after the serialiser that skips defaults unread and the
once-per-class model walk (report._serializer, plots._common.references); with the slot grids' int8 codes the file
is 10.5 -> 8.4 MB and 7,415 -> 7,209 models. The rest is mostly building the ~1,000 per-entry renderers (glyph,
renderer, view, legend item: ~3 ms each in Bokeh) and ~90 figures: the 10 s target needs fewer models.

Then the same page built with and without :func:`almaview.plots._construction.quick_models` (Bokeh models made
without the default models Bokeh builds and drops, per-class facts taken once): model constructions and build time,
alternated, as ratios (> 1: quick is faster). The whole demo report before/after is in RESULTS-report.md.
"""

from __future__ import annotations

import time

from bench_plots_grid import phase_table


def _page(ct):
    from almaview.plots import caltables as pc
    from almaview.plots._common import column

    return column([pc.gains(ct, iterate="antenna").layout, pc.gains(ct, iterate="spw").layout])


def main() -> None:
    from bokeh.embed import file_html
    from bokeh.resources import CDN

    from almaview.plots._common import compact_models

    ct = phase_table()
    out = {}
    for name in ("plain", "compact", "plain", "compact"):  # alternated: the machine's load hits both alike
        page = _page(ct)
        t0 = time.perf_counter()
        if name == "compact":
            compact_models(page)
        n = len(page.references())
        html = file_html(page, CDN, title="bench")
        dt = time.perf_counter() - t0
        best = out.get(name)
        if best is None or dt < best[1]:
            out[name] = (n, dt, len(html))
    (n0, t0, b0), (n1, t1, b1) = out["plain"], out["compact"]
    print(f"models: {n0} plain, {n1} compact (ratio {n0 / n1:.2f})")
    print(f"compact + file_html: {1e3 * t0:.0f} ms plain, {1e3 * t1:.0f} ms compact (ratio {t0 / t1:.2f})")
    print(f"HTML: {b0 / 1e6:.2f} MB plain, {b1 / 1e6:.2f} MB compact (ratio {b0 / b1:.2f})")
    construction(ct)


def construction(ct) -> None:
    """Build the page with Bokeh's own construction and with quick_models, alternated; counts and best times."""
    from contextlib import nullcontext

    from bokeh.model import Model

    from almaview.plots._construction import quick_models

    made = [0]
    real = Model.__init__

    def counting(self, *a, **k):
        made[0] += 1
        real(self, *a, **k)

    best: dict[str, tuple[int, float]] = {}
    Model.__init__ = counting
    try:
        for name in ("bokeh", "quick", "bokeh", "quick"):
            made[0] = 0
            t0 = time.process_time()
            with quick_models() if name == "quick" else nullcontext():
                _page(ct)
            dt = time.process_time() - t0
            if name not in best or dt < best[name][1]:
                best[name] = (made[0], dt)
    finally:
        Model.__init__ = real
    (n0, t0), (n1, t1) = best["bokeh"], best["quick"]
    print(f"models constructed: {n0} Bokeh's construction, {n1} quick_models (ratio {n0 / n1:.2f})")
    print(f"build CPU: {1e3 * t0:.0f} ms Bokeh's construction, {1e3 * t1:.0f} ms quick_models (ratio {t0 / t1:.2f})")


if __name__ == "__main__":
    main()

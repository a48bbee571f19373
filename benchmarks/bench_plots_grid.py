"""Cost of the weblog-faithful caltable grids: building a gains panel with one figure per antenna (the weblog's
hifa_timegaincal page, per-category renderers and legends) against one figure for all (iterate='none'), and
serialising each to a standalone HTML document (what a notebook or report ships), same process, same data.

A synthetic 43-antenna, 4-spw phase table (ALMA 12-m scale; 240 solutions per antenna and spw) built as the
DataTree :func:`almaview.open_caltable` returns; reported as ratios to the single-figure baseline.

    python benchmarks/bench_plots_grid.py

On the shared 2-core machine (load ~18) on 2026-12-02: build 1405 ms (none) vs 6582 ms (per antenna), ratio 4.7;
standalone HTML 1576 ms vs 12783 ms, ratio 8.1.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import xarray as xr


def phase_table(n_ant: int = 43, n_spw: int = 4, n_time: int = 240) -> xr.DataTree:
    rng = np.random.default_rng(0)
    times = pd.date_range("2024-05-01T03:00", periods=n_time, freq="10s").values
    nodes = {"/": xr.Dataset(attrs={"viscal": "G Jones", "caltable": "bench.gpcal.tbl", "eb": "uid___A002_Xbench"})}
    for s in range(n_spw):
        ph = np.cumsum(rng.normal(0, 3, (n_time, n_ant, 2)), axis=0)
        g = np.exp(1j * np.radians(ph)).astype(np.complex64)
        nodes[f"spw_{s}"] = xr.Dataset(
            {
                "gain": (("time", "antenna_name", "receptor"), g),
                "flag": (("time", "antenna_name", "receptor"), np.zeros(g.shape, bool)),
            },
            coords={
                "time": times,
                "antenna_name": [f"DA{41 + i}" for i in range(n_ant)],
                "receptor": ["X", "Y"],
                "field_name": ("time", np.array(["J1625-2527"] * n_time, dtype=object)),
                "scan_number": ("time", np.repeat(np.arange(n_time // 20), 20)),
            },
        )
    return xr.DataTree.from_dict(nodes)


def _time(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    from bokeh.embed import file_html
    from bokeh.resources import CDN

    import almaview as av

    ct = phase_table()
    base = _time(lambda: av.plots.gains(ct, iterate="none"))
    per_ant = _time(lambda: av.plots.gains(ct, iterate="antenna"))
    one, grid = av.plots.gains(ct, iterate="none"), av.plots.gains(ct, iterate="antenna")
    h_base = _time(lambda: file_html(one.layout, CDN), 1)
    h_grid = _time(lambda: file_html(grid.layout, CDN), 1)
    print(
        f"build  iterate=none {base * 1e3:7.0f} ms   iterate=antenna {per_ant * 1e3:7.0f} ms   "
        f"ratio {per_ant / base:5.2f}"
    )
    print(
        f"html   iterate=none {h_base * 1e3:7.0f} ms   iterate=antenna {h_grid * 1e3:7.0f} ms   "
        f"ratio {h_grid / h_base:5.2f}"
    )


if __name__ == "__main__":
    main()

"""Explorer selection changes, kernel side: how long from ``select(...)`` to the new data in the panel's sources.

Usage: python benchmarks/bench_explorer.py [DELIVERY_OR_MS] [--changes 8] [--json OUT]

Without an argument it uses the demo delivery (``almaview.demo.build()``, in the almaview cache). For each tab it
changes the selection ``--changes`` times (antennas on the visibilities tab; spws, then antennas, on the calibration
tabs) and records the time until the panel holds the new data (``Explorer.wait()`` for background reads). The
baseline, in the same process and on the same selection, is what a script does without the explorer: the
builder called from scratch (``av.analysis.reduce_visibilities`` + ``av.plots.amp_phase`` for visibilities,
``av.plots.tsys``/``gains`` on the opened caltable). Printed: medians (ms) and the ratio explorer / baseline.

The page's share (the patch's trip to the browser and the redraw) is measured by the browser test
``tests/browser/test_explorer_lab.py`` (it prints control -> data-in-the-page times).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _median_ms(values: list[float]) -> float:
    return 1e3 * statistics.median(values)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", nargs="?")
    ap.add_argument("--changes", type=int, default=8)
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    import pandas as pd

    import almaview as av

    source = args.source or av.demo.build(progress=False)
    obj = av.open_delivery(source) if not (Path(source) / "table.dat").is_file() else source
    ex = av.explore(obj)
    out: dict = {"source": str(source), "eb": ex.eb}
    try:
        names = list(ex.controls["antennas"].options)
        spws = [v for _, v in ex.controls["spw"].options]

        # visibilities: antenna changes (the spw's reduction is cached: the change filters it, in place)
        ex.show("visibilities")
        ex.wait()
        times, base = [], []
        for k in range(args.changes):
            ant = names[k % len(names)]
            t0 = time.perf_counter()
            ex.select(antennas=[ant])
            ex.wait()
            times.append(time.perf_counter() - t0)
            sel = ex.selection
            t0 = time.perf_counter()
            table = pd.concat(
                [
                    av.analysis.reduce_visibilities(
                        ex.vis()[f"spw_{s}"].ds,
                        column=sel["column"],
                        x=sel["x"],
                        antennas=[ant],
                        time_bin_s=sel["time_bin_s"],
                    )
                    for s in sel["spws"]
                ],
                ignore_index=True,
            )
            av.plots.amp_phase(table, x=sel["x"], colour_by=sel["colour_by"])
            base.append(time.perf_counter() - t0)
        out["visibilities antenna change"] = {
            "explorer_ms": _median_ms(times),
            "script_ms": _median_ms(base),
            "ratio": statistics.median(times) / statistics.median(base),
        }
        ex.select(antennas=[])

        # calibration tabs: spw and antenna changes. The first selection that needs more figures or legend entries
        # than the panel has builds it once with room for the whole table ("rebuild"); every later change fills
        # the figures in place (Panel.grids, plots/slots.py). The baseline is the builder called from scratch.
        for tab, builder in (("tsys", av.plots.tsys), ("bandpass", av.plots.bandpass), ("gains", av.plots.gains)):
            ex.select(spw=spws[:1], antennas=[])
            ex.show(tab)
            path = ex._panel_table.get(tab)
            ct = av.open_caltable(path) if path is not None else None
            t0 = time.perf_counter()
            ex.select(spw=spws)  # room for every spw: the one rebuild
            rebuild = time.perf_counter() - t0
            for key, choices in (("spw", [[s] for s in spws]), ("antennas", [[a] for a in names] + [names[:3]])):
                times, base = [], []
                for k in range(args.changes):
                    want = choices[k % len(choices)]
                    t0 = time.perf_counter()
                    ex.select(**{key: want})
                    times.append(time.perf_counter() - t0)
                    if ct is None:
                        continue
                    sel = ex.selection
                    t0 = time.perf_counter()
                    builder(ct, spws=sel["spws"], antennas=sel["antennas"])
                    base.append(time.perf_counter() - t0)
                row = {"explorer_ms": _median_ms(times), "max_ms": 1e3 * max(times), "rebuild_ms": 1e3 * rebuild}
                if base:
                    row.update(script_ms=_median_ms(base), ratio=statistics.median(times) / statistics.median(base))
                out[f"{tab} {key} change"] = row
            ex.select(spw=spws[:1], antennas=[])
    finally:
        ex.close()
    for k, v in out.items():
        print(f"{k}: {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()

"""Single-dish reads: open_ms on a Total Power MS vs raw python-casacore, in the same process.

    python benchmarks/bench_singledish.py SCRATCH_DIR [--n-antennas 3] [--map-size 72]

Builds a TP EB with CASA into SCRATCH_DIR (cached; :func:`almaview.sampledata.build_tp_eb`), then times
(1) opening (metadata + index), then reading every spw's SPECTRUM of the opened tree, against one getcol of
FLOAT_DATA per data description with python-casacore (the baseline), and (2) one antenna's spectra at the
ON integrations (what the TP panels read) against a casacore query. Prints the ratios.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scratch", type=Path)
    ap.add_argument("--n-antennas", type=int, default=3)
    ap.add_argument("--map-size", type=float, default=72.0)
    args = ap.parse_args()

    import almaview as av
    from casacore import tables

    tp = av.sampledata.build_tp_eb(
        args.scratch / f"tp_{args.n_antennas}_{args.map_size:g}",
        n_antennas=args.n_antennas,
        map_size_arcsec=args.map_size,
    )
    ms = str(tp.ms)

    def raw_all():
        with tables.table(ms, ack=False) as t:
            for d in np.unique(t.getcol("DATA_DESC_ID")):
                sub = t.query(f"DATA_DESC_ID=={d}")
                sub.getcol("FLOAT_DATA")
                sub.close()

    opened = av.open_ms(ms)

    def almaview_open():
        av.open_ms(ms)

    def almaview_all():
        tree = opened
        for name in tree.children:
            if name.startswith("spw_"):
                tree[name].ds.SPECTRUM.values

    def raw_on():
        with tables.table(ms, ack=False) as t, tables.table(ms + "/STATE", ack=False) as st:
            on = [i for i, m in enumerate(st.getcol("OBS_MODE")) if m == "OBSERVE_TARGET#ON_SOURCE"]
            sub = t.query(f"DATA_DESC_ID==0 && ANTENNA1==0 && STATE_ID in {on}")
            sub.getcol("FLOAT_DATA")
            sub.close()

    def almaview_on():
        ds = opened["spw_0"].ds
        on = np.flatnonzero(ds.intents.values == "OBSERVE_TARGET#ON_SOURCE")
        ds.SPECTRUM.isel(antenna_name=0, time=on).values

    with tables.table(ms, ack=False) as t:
        nrows = t.nrows()
    print(f"open_ms (metadata, index, pointing): {best(almaview_open) * 1e3:.1f} ms")
    for name, a, b in (("all spectra", almaview_all, raw_all), ("one antenna ON", almaview_on, raw_on)):
        ta, tb = best(a), best(b)
        print(
            f"{name}: almaview {ta * 1e3:.1f} ms, python-casacore {tb * 1e3:.1f} ms, ratio {ta / tb:.2f} ({nrows} rows)"
        )


if __name__ == "__main__":
    main()

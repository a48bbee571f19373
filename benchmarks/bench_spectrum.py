"""ms_spectrum (the continuum editor's target spectrum) against a raw python-casacore read + numpy, same process.

    python benchmarks/bench_spectrum.py [MS ...] [--field IRAS16293-2422] [--spw 0] [--column data]

Default MSs: the demo delivery's first EB (``av.demo.build()``) and ``bench-data/alma_eb_large/*.ms``.
The baseline reads the same rows (TaQL FIELD_ID/DATA_DESC_ID selection) in ~96 MB row blocks with ``getcol`` of
the data column, FLAG and WEIGHT, and reduces them with numpy as ms_spectrum does (weighted vector and scalar
average, parallel hands). Each method runs twice, alternating; the second (warm page cache) time is reported.
The ratio is raw_time / almaview_time (> 1: almaview is faster).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def raw_spectrum(ms: str, field: str, spw: int, column: str, chunk_bytes: float = 96 * 2**20) -> np.ndarray:
    from casacore import tables

    with tables.table(f"{ms}/FIELD", ack=False) as f:
        fid = list(f.getcol("NAME")).index(field)
    with tables.table(f"{ms}/DATA_DESCRIPTION", ack=False) as d:
        ddid = list(d.getcol("SPECTRAL_WINDOW_ID")).index(spw)
    with tables.table(f"{ms}/SPECTRAL_WINDOW", ack=False) as s:
        nchan = int(s.getcell("NUM_CHAN", spw))
    swv = swa = sw = None
    with tables.table(ms, ack=False) as t:
        q = t.query(f"FIELD_ID=={fid} && DATA_DESC_ID=={ddid}")
        per = max(1, int(chunk_bytes // (nchan * 2 * 8)))
        for start in range(0, q.nrows(), per):
            n = min(per, q.nrows() - start)
            v, fl, w = q.getcol(column, start, n), q.getcol("FLAG", start, n), q.getcol("WEIGHT", start, n)
            ww = np.where(fl, 0.0, w[:, None, :])
            parts = ((ww * v).sum(axis=(0, 2)), (ww * np.abs(v)).sum(axis=(0, 2)), ww.sum(axis=(0, 2)))
            swv, swa, sw = parts if swv is None else (swv + parts[0], swa + parts[1], sw + parts[2])
        q.close()
    return np.abs(swv / sw)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ms", nargs="*")
    ap.add_argument("--field", default="IRAS16293-2422")
    ap.add_argument("--spw", type=int, default=0)
    ap.add_argument("--column", default=None, help="corrected/data (default: corrected when present)")
    args = ap.parse_args()
    import almaview as av
    from almaview.imaging import ms_spectrum

    paths = args.ms or [
        av.open_delivery(av.demo.build(progress=False)).ebs[0].calibrated_ms,
        *map(str, sorted((REPO / "bench-data" / "alma_eb_large").glob("*.ms"))),
    ]
    for ms in paths:
        has_corrected = "CORRECTED_DATA" in av.open_ms(ms).attrs["data_columns"]
        word = args.column or ("corrected" if has_corrected else "data")
        col = {"corrected": "CORRECTED_DATA", "data": "DATA"}[word]
        times: dict[str, list[float]] = {"raw": [], "almaview": []}
        for _ in range(2):
            t0 = time.perf_counter()
            raw = raw_spectrum(ms, args.field, args.spw, col)
            times["raw"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            got = ms_spectrum(ms, field=args.field, spw=args.spw, column=word)  # includes open_ms
            times["almaview"].append(time.perf_counter() - t0)
        np.testing.assert_allclose(got["amplitude"], raw, rtol=1e-4)
        r, a = times["raw"][-1], times["almaview"][-1]
        print(
            f"{Path(ms).name}  spw {args.spw} ({len(got)} ch, {word}): raw casacore+numpy {r:.2f} s, "
            f"ms_spectrum {a:.2f} s (open included), ratio raw/almaview {r / a:.2f}; first runs "
            f"{times['raw'][0]:.2f} / {times['almaview'][0]:.2f} s"
        )


if __name__ == "__main__":
    main()

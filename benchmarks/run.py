"""almaview benchmarks: open time and the channel-averaged amplitude of one spw, against baselines
run in the same process (raw python-casacore getcol of the same rows, dask-ms, xradio).

Usage: python benchmarks/run.py [--data DIR] [--spw N] [--skip chunks,dask-ms,xradio,distributed,memory]

The data set is a >= 1 GB ALMA-like MS (43 antennas, a 1920-channel spw) simulated with CASA by
``almaview.sampledata`` once and cached in ``bench-data/``. Figures are printed as a table and
written to ``bench-data/results.json``; throughput ratios are raw_time / almaview_time (> 1:
almaview is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def timed(fn, repeat: int = 1):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def raw_channel_mean(ms: str, rows: np.ndarray, nchan: int, chunk_bytes: float = 96 * 2**20) -> np.ndarray:
    """The baseline: python-casacore getcol of the same rows, in ~96 MB row blocks, numpy mean over channels."""
    from casacore import tables

    per_row = max(1, int(chunk_bytes // (nchan * 2 * 8)))
    out = []
    with tables.table(ms, ack=False) as t:
        for start in range(0, len(rows), per_row):
            block = rows[start : start + per_row]
            # the spw's rows form one contiguous-by-step run per integration; selectrows reads just them
            sub = t.selectrows(block)
            out.append(np.abs(sub.getcol("DATA")).mean(axis=1))
            sub.close()
    return np.concatenate(out)


def alternate(fa, fb, repeat: int = 3):
    """Time two functions alternately (a, b, a, b, ...): on a shared machine both see the same load.
    Returns (median a, median b, last a result, last b result)."""
    ta, tb, ra, rb = [], [], None, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        ra = fa()
        ta.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rb = fb()
        tb.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb), ra, rb


def chunk_overhead(ms: str, spw: int, repeat: int = 3) -> dict:
    """What one dask chunk costs beyond its read: a narrow spw read one integration per chunk
    (single-threaded), against python-casacore reading the same rows integration by integration."""
    from casacore import tables

    import almaview as av
    from almaview.io.ms import spw_rows

    rows = spw_rows(ms, spw)
    with tables.table(ms, ack=False) as t:
        times = t.getcol("TIME")[rows]
    starts = np.flatnonzero(np.r_[True, times[1:] != times[:-1]])
    blocks = np.split(rows, starts[1:])

    def raw():
        out = []
        with tables.table(ms, ack=False) as t:
            for block in blocks:
                sub = t.selectrows(block)
                out.append(np.abs(sub.getcol("DATA")).mean(axis=1))
                sub.close()
        return out

    def almaview():
        ds = av.open_ms(ms, chunks={"time": 1})[f"spw_{spw}"].ds
        return abs(ds.VISIBILITY).mean("frequency").compute(scheduler="synchronous")

    raw(), almaview()  # warm
    t_raw, t_av, _, amp = alternate(raw, almaview, repeat)
    nchunks = len(amp.chunks[0]) if amp.chunks else len(blocks)
    return {
        "chunk_overhead_spw": spw,
        "chunk_overhead_chunks": len(blocks),
        "chunk_overhead_raw_s": t_raw,
        "chunk_overhead_almaview_s": t_av,
        "chunk_overhead_ms_per_chunk": 1e3 * (t_av - t_raw) / max(nchunks, 1),
    }


def read_overhead(ms: str, spw: int, repeat: int = 5) -> dict:
    """What almaview adds to one read, without any reduction: the spw's backend array read one
    integration at a time (table handle, lock, row lookup, scatter) against python-casacore
    getcol of the same rows into a preallocated array (getcolnp)."""
    from casacore import tables

    from almaview.io.ms import build_tree

    arr = build_tree(ms)[f"spw_{spw}"].ds.VISIBILITY.variable._data.array
    nt, nb, nc, npol = arr.shape
    bl, ch, pol = np.arange(nb), np.arange(nc), np.arange(npol)
    from almaview.io.ms import spw_rows

    rows = spw_rows(ms, spw)
    with tables.table(ms, ack=False) as t:
        times = t.getcol("TIME")[rows]
    starts = np.flatnonzero(np.r_[True, times[1:] != times[:-1]])
    blocks = np.split(rows, starts[1:])

    def raw():
        with tables.table(ms, ack=False) as t:
            for block in blocks:
                sub = t.selectrows(block)
                out = np.empty((len(block), nc, npol), np.complex64)
                sub.getcolnp("DATA", out)
                sub.close()

    def almaview():
        for i in range(nt):
            arr.read(np.array([i]), bl, ch, pol)

    raw(), almaview()
    t_raw, t_av, _, _ = alternate(raw, almaview, repeat)
    return {
        "read_overhead_reads": nt,
        "read_overhead_raw_s": t_raw,
        "read_overhead_almaview_s": t_av,
        "read_overhead_ms_per_read": 1e3 * (t_av - t_raw) / nt,
    }


def almaview_channel_mean(ms: str, node: str):
    import almaview as av

    ds = av.open_ms(ms)[node].ds
    return abs(ds.VISIBILITY).mean("frequency").compute()


def peak_memory_child(ms: str, node: str) -> float:
    """Peak RSS (MB) of a fresh process reducing the spw (bounded by the chunk budget, not the spw size)."""
    code = (
        "import resource, almaview as av\n"
        f"ds = av.open_ms({ms!r})[{node!r}].ds\n"
        "abs(ds.VISIBILITY).mean('frequency').compute()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _cpu_seconds() -> float:
    """CPU seconds (user + system) this process has used so far (all its threads)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def distributed_channel_mean(ms: str, node: str, repeat: int = 3):
    """Wall time (median of ``repeat``) of the reduction on a 2-process LocalCluster, and the CPU seconds each
    worker spent per run (the busier worker's CPU time is what the wall time would be on two idle cores)."""
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        import almaview as av

        client.run(lambda: __import__("almaview.io.ms"))  # warm the workers' imports
        ds = av.open_ms(ms)[node].ds
        amp = abs(ds.VISIBILITY).mean("frequency")
        amp.compute()  # warm-up: workers' first table open
        walls, cpus = [], []
        for _ in range(repeat):
            before = client.run(_cpu_seconds)
            t0 = time.perf_counter()
            amp.compute()
            walls.append(time.perf_counter() - t0)
            after = client.run(_cpu_seconds)
            cpus.append(sorted(after[w] - before[w] for w in after))
        return statistics.median(walls), [statistics.median(c[i] for c in cpus) for i in range(len(cpus[0]))]


def daskms_channel_mean(ms: str, ddid: int):
    from daskms import xds_from_ms

    def run():
        xds = xds_from_ms(ms, columns=["DATA"], group_cols=["DATA_DESC_ID"], chunks={"row": 3000})
        ds = next(x for x in xds if x.attrs["DATA_DESC_ID"] == ddid)
        return abs(ds.DATA).mean("chan").compute()

    return timed(run, repeat=2)


def xradio_channel_mean(ms: str, nchan: int):
    """xradio's lazy MSv2 -> MSv4 view (open_msv2): open, then the same reduction over the spw's partitions."""
    from xradio.measurement_set import open_msv2

    t0 = time.perf_counter()
    ps = open_msv2(ms)
    t_open = time.perf_counter() - t0
    t0 = time.perf_counter()
    for node in ps.children.values():
        xds = node.ds
        if "VISIBILITY" in xds and xds.sizes.get("frequency") == nchan:
            abs(xds.VISIBILITY).mean("frequency").compute()
    return t_open, time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(REPO / "bench-data"))
    p.add_argument("--spw", type=int, default=0)
    p.add_argument("--skip", default="", help="comma list of: chunks, distributed, dask-ms, xradio, memory")
    p.add_argument("--chunk-spw", type=int, default=2, help="the narrow spw of the chunk-overhead measurement")
    p.add_argument("--repeat", type=int, default=3, help="timed repetitions of each path (median)")
    args = p.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    os.environ.setdefault("ALMAVIEW_CACHE_DIR", str(Path(args.data) / "cache"))

    from almaview import sampledata
    from almaview.io.ms import spw_rows

    eb = sampledata.build_alma_eb(Path(args.data) / "alma_eb_large", scale="large", calibrate=False)
    ms = str(eb.ms)
    node = f"spw_{args.spw}"
    nchan = eb.spws[args.spw]
    size_gb = sum(f.stat().st_size for f in Path(ms).rglob("*") if f.is_file()) / 1e9
    res: dict = {
        "ms": Path(ms).name,
        "ms_size_gb": round(size_gb, 2),
        "antennas": len(eb.antennas),
        "spw": args.spw,
        "nchan": nchan,
    }

    import almaview as av

    t_open, tree = timed(lambda: av.open_ms(ms), repeat=5)
    res["open_ms_s"] = t_open
    ds = tree[node].ds
    res["spw_data_gb"] = ds.VISIBILITY.nbytes / 1e9
    rows = spw_rows(ms, args.spw)
    res["spw_rows"] = int(len(rows))

    # Warm both paths once (page cache, imports), then time them alternately.
    res["load_average_start"] = os.getloadavg()[0]
    raw_channel_mean(ms, rows[: len(rows) // 10], nchan)
    almaview_channel_mean(ms, node)
    c0 = _cpu_seconds()
    raw = raw_channel_mean(ms, rows, nchan)
    res["raw_getcol_cpu_s"] = _cpu_seconds() - c0  # one thread: on an idle core its wall time
    t_raw, t_av, raw, amp = alternate(
        lambda: raw_channel_mean(ms, rows, nchan), lambda: almaview_channel_mean(ms, node), repeat=args.repeat
    )
    # Same numbers from both paths (NaN cells are grid holes with no row).
    got = np.sort(amp.values[np.isfinite(amp.values)].ravel())
    np.testing.assert_allclose(got, np.sort(raw.ravel()), rtol=1e-5)
    res.update(
        raw_getcol_s=t_raw,
        almaview_s=t_av,
        ratio_single_process=t_raw / t_av,
        throughput_gb_s=res["spw_data_gb"] / t_av,
    )

    if "chunks" not in skip:
        res.update(read_overhead(ms, args.chunk_spw))
        res.update(chunk_overhead(ms, args.chunk_spw))
    if "distributed" not in skip:
        t_dist, worker_cpu = distributed_channel_mean(ms, node, repeat=args.repeat)
        res.update(
            almaview_distributed_2proc_s=t_dist,
            ratio_distributed=t_raw / t_dist,
            distributed_worker_cpu_s=worker_cpu,
            # what the ratio would be on two idle cores: raw's CPU time over the busier worker's CPU time
            ratio_distributed_cpu=res["raw_getcol_cpu_s"] / max(worker_cpu),
        )
    if "memory" not in skip:
        res["peak_rss_mb_reducing_spw"] = peak_memory_child(ms, node)
    if "dask-ms" not in skip:
        try:
            t_dm, _ = daskms_channel_mean(ms, int(ds.attrs.get("data_description_id", args.spw)))
            res.update(daskms_s=t_dm, ratio_vs_daskms=t_dm / t_av)
        except ImportError as err:
            res["daskms"] = f"not installed ({err})"
    if "xradio" not in skip:
        try:
            t_open_x, t_x = xradio_channel_mean(ms, nchan)
            res.update(xradio_open_msv2_s=t_open_x, xradio_s=t_x, ratio_vs_xradio=t_x / t_av)
        except ImportError as err:
            res["xradio"] = f"not installed ({err})"
        except Exception as err:  # record, do not hide, a failing third-party conversion
            res["xradio"] = f"failed: {type(err).__name__}: {err}"

    res["load_average_end"] = os.getloadavg()[0]
    width = max(len(k) for k in res)
    for k, v in res.items():
        print(f"{k:<{width}}  {v:.3f}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    (Path(args.data) / "results.json").write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The archive client against the archive stand-in (tests/archive/standin.py, in a process of its own).

    python benchmarks/bench_archive.py [--repeat 3] [--throttle 20e6]

- listing a member OUS (``archive.files``: DataLink through astroquery, the tars expanded): median time (goal < 2 s);
- download throughput of one raw ASDM tar (~117 MB): ``archive.fetch`` vs ``curl`` fetching the same URL in the
  same run, alternating ``--repeat`` times; ratio = curl_time / almaview_time of the best and of the median runs
  (goal >= 0.9; on a loaded two-core machine single runs vary by +-50 %: use --repeat 7 or more);
- ``parallel=2`` vs ``parallel=1`` on the two raw tars, once as fast as loopback goes and once with a
  per-connection limit (``--throttle`` bytes/s, as an archive mirror's per-stream rate); ratio = t1 / t2.
The stand-in serves the demo delivery (``almaview.demo.build()``, cached).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MOUS = "uid___A001_X3571_X8a"


def standin(throttle: float | None = None) -> tuple[subprocess.Popen, str]:
    argv = [sys.executable, str(REPO / "tests" / "archive" / "standin.py")]
    if throttle:
        argv += ["--throttle", str(throttle)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests")]))
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise SystemExit(f"the stand-in did not start: {url!r}")
    return proc, url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--throttle", type=float, default=20e6, help="bytes/s per connection for the parallel run")
    args = ap.parse_args()
    from almaview import archive

    results: dict = {}
    proc, url = standin()
    work = Path(tempfile.mkdtemp(prefix="almaview-bench-archive-"))
    try:
        archive.files(MOUS, archive_url=url)  # warm: imports, the stand-in's first answers
        times = []
        for _ in range(max(args.repeat, 5)):
            t0 = time.perf_counter()
            table = archive.files(MOUS, archive_url=url)
            times.append(time.perf_counter() - t0)
        results["listing_s"] = statistics.median(times)
        raw = table[(table.kind == "raw") & table.within.isna()].sort_values("name")
        one = raw.iloc[0]
        ours, curls = [], []
        for i in range(args.repeat):
            target = work / f"curl{i}"
            t0 = time.perf_counter()
            subprocess.run(["curl", "-sS", "-o", str(target), one.url], check=True)
            curls.append(time.perf_counter() - t0)
            assert target.stat().st_size == one["size"]
            target.unlink()
            dest = work / f"ours{i}"
            t0 = time.perf_counter()
            archive.fetch(MOUS, what=("raw",), ebs=[one.eb], dest=dest, archive_url=url, listing=table, progress=False)
            ours.append(time.perf_counter() - t0)
            assert (dest / one["name"]).stat().st_size == one["size"]
            shutil.rmtree(dest)
        mb = one["size"] / 1e6
        results.update(
            file_mb=mb,
            curl_s=min(curls),
            almaview_s=min(ours),
            curl_mb_s=mb / min(curls),
            almaview_mb_s=mb / min(ours),
            throughput_ratio_best=min(curls) / min(ours),
            throughput_ratio_median=statistics.median(curls) / statistics.median(ours),
        )
    finally:
        proc.terminate()
        proc.wait()
    for label, throttle in (("loopback", None), (f"throttled {args.throttle / 1e6:.0f} MB/s", args.throttle)):
        proc, url = standin(throttle)
        try:
            table = archive.files(MOUS, archive_url=url)
            t = {}
            for parallel in (1, 2):
                dest = work / f"p{parallel}"
                t0 = time.perf_counter()
                archive.fetch(
                    MOUS, what=("raw",), dest=dest, archive_url=url, listing=table, parallel=parallel, progress=False
                )
                t[parallel] = time.perf_counter() - t0
                shutil.rmtree(dest)
            results[f"parallel ({label})"] = {"parallel1_s": t[1], "parallel2_s": t[2], "ratio": t[1] / t[2]}
        finally:
            proc.terminate()
            proc.wait()
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

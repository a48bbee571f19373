"""Re-imaging panel timings on the demo delivery (headless): panel build (first uv coverage read), the
predicted-beam update after a robust change (cached coverage), and "run" -> comparison shown for the
demo continuum (the pipeline's call: 2 EBs, 128x128, niter 200).

Usage: python benchmarks/bench_reimage.py SCRATCH [--niter N] [--skip-run]

SCRATCH is the output folder of the tclean run (outside the repository and the delivery). The demo
delivery is built once in almaview's cache (``almaview demo``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scratch", type=Path)
    ap.add_argument("--niter", type=int, default=None, help="niter of the run (default: the pipeline's)")
    ap.add_argument("--skip-run", action="store_true")
    args = ap.parse_args(argv)

    import almaview as av
    from almaview.widgets.reimage import ReimagePanel

    d = av.open_delivery(av.demo.build(progress=False))
    t0 = time.perf_counter()
    panel = ReimagePanel(d, kind="cont", output=str(args.scratch / "reimaged"), poll_interval=0.2)
    out: dict = {"panel_build_s": time.perf_counter() - t0}
    updates = []
    for r in (-2.0, -1.0, -0.5, 0.0, 1.0, 2.0, 0.5):
        panel.controls["robust"].value = r
        updates.append(panel.timings["update"])
    out["robust_update_median_s"] = statistics.median(updates)
    out["robust_update_max_s"] = max(updates)
    panel.controls["uvtaper"].value = "1arcsec"
    out["uvtaper_update_s"] = panel.timings["update"]
    if not args.skip_run:
        if args.niter is not None:
            panel.controls["niter"].value = args.niter
        panel.controls["run"].click()
        state = panel.wait(timeout=3600)
        out["run_state"] = state
        out["run_to_comparison_s"] = panel.timings.get("run_to_comparison")
        out["major_cycles"] = panel.run.major_cycles
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``almaview report DELIVERY -o report.html``: the standalone interactive HTML report (see :mod:`almaview.report`).

Cheap to import (the CLI imports it to register the subcommand); the work is in :func:`run`.
"""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``report`` subcommand.

    Examples
    --------
    >>> p = argparse.ArgumentParser(); sub = p.add_subparsers(dest="command")
    >>> _ = add_parser(sub)
    >>> p.parse_args(["report", "2023.1.01234.S", "-o", "r.html"]).output
    'r.html'
    """
    p = subparsers.add_parser(
        "report",
        help="write a standalone interactive HTML report (overview, calibration, QA per EB)",
        description="Write one self-contained HTML file (BokehJS inlined: no kernel, no network) with the "
        "overview, Tsys, bandpass and gain panels of every EB and the QA stage list of every member OUS.",
    )
    p.add_argument(
        "delivery", metavar="DELIVERY", help="delivery directory (or a directory inside it, or the tar folder)"
    )
    p.add_argument("-o", "--output", default="report.html", help="output HTML file (default: report.html)")
    p.add_argument(
        "--max-points",
        type=int,
        default=None,
        help="thin panels above this many points (default: 40000) to bound the file size",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    """Build the report; print its path and size. Returns the exit code."""
    from .report import MAX_POINTS, build_report

    out = build_report(
        args.delivery, args.output, progress=not args.no_progress, max_points=args.max_points or MAX_POINTS
    )
    print(f"{out} ({out.stat().st_size / 1e6:.1f} MB)", file=sys.stdout)
    return 0

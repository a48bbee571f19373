"""``almaview restore DELIVERY [--eb UID ...] [--workdir DIR] [--engine ...] [--split] [--plan-only] [--json]``.

Prints the plan (requirements, verdict per EB, commands); without ``--plan-only``
runs it with a progress bar and prints the result. Exit code 0 when every EB
that could run is restored and verified (or nothing needed doing), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``restore`` subcommand.

    Examples
    --------
    >>> import argparse
    >>> sub = argparse.ArgumentParser().add_subparsers()
    >>> add_parser(sub).prog.endswith("restore")
    True
    """
    p = subparsers.add_parser(
        "restore",
        help="rebuild calibrated MSs from raw ASDMs and the delivered calibration",
        description="Plan and run the restore of calibrated data (scriptForPI with a suitable CASA, or the modular "
        "route with the pip casatasks): checks CASA, raw data, disk and memory first; resumable; "
        "verifies each MS against flux.csv.",
    )
    p.add_argument("delivery", metavar="DELIVERY", help="the delivery (project directory or any directory inside it)")
    p.add_argument(
        "--eb", action="append", metavar="UID", help="restore this EB only (uid or unique suffix; repeat for several)"
    )
    p.add_argument("--workdir", metavar="DIR", help="where to build the MSs (default: almaview's cache)")
    p.add_argument(
        "--in-delivery",
        action="store_true",
        help="run scriptForPI inside the delivery's script/ directory, as ALMA documents it",
    )
    p.add_argument("--engine", choices=("auto", "modular", "scriptforpi"), default="auto")
    p.add_argument("--split", action="store_true", help="also split the calibrated data (<EB>.ms.split.cal)")
    p.add_argument("--plan-only", action="store_true", help="print the plan and stop")
    p.add_argument("--json", action="store_true", help="print the plan (and result) as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``almaview restore`` (see :func:`add_parser`)."""
    from . import plan as make_plan
    from . import run as run_plan

    p = make_plan(
        args.delivery,
        ebs=args.eb,
        workdir=args.workdir,
        engine=args.engine,
        split=args.split,
        in_delivery=args.in_delivery,
    )
    if args.json:
        out = {"plan": p.to_dict()}
    else:
        print(repr(p))
    if args.plan_only:
        if args.json:
            json.dump(out, sys.stdout, indent=1, default=str)
            sys.stdout.write("\n")
        return 0
    result = run_plan(p, progress=not args.no_progress)
    if args.json:
        out["result"] = [dict(uid=r.uid, status=r.status, ms=r.ms, message=r.message) for r in result.results]
        json.dump(out, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        print(repr(result))
    return 0 if result.ok else 1

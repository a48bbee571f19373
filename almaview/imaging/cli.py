"""``almaview tclean DELIVERY`` (the exact re-imaging call, and a run) and ``almaview beam DELIVERY_OR_MS``
(predicted beam and sensitivity over robust values and tapers).

Cheap to import (the CLI imports it to register the subcommands); the work is in :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

_TCLEAN_EXAMPLE = """examples:
  almaview tclean 2023.1.01234.S --kind cont --robust -0.5 --nsigma 3
  almaview tclean 2023.1.01234.S --kind cube --uvtaper 1arcsec --niter 1000 --run reimaging/

Prints the pipeline's hif_makeimages tclean call (from the member's casa_commands.log; heuristics when there is
none) with your choices, as it can be pasted into CASA, after '#' lines with the predicted beam and rms.
The predicted rms is the delivered image's measured rms scaled by the relative sensitivity of the new weighting
over the pipeline's (both predicted from the uv coverage on the call's cell and imsize)."""

_BEAM_EXAMPLE = """examples:
  almaview beam 2023.1.01234.S --field IRAS16293-2422
  almaview beam calibrated/uid___A002_X1.ms --field IRAS16293-2422 --spw 1,2,3 --robust -1 0 0.5 2 \\
      --uvtaper none 1arcsec --cell 0.25arcsec --imsize 128 --json

One row per robust x taper: beam FWHM major/minor (arcsec), PA (deg) and the point-source noise relative to
natural weighting. For a delivery, the cell and imsize default to the pipeline's call for the field."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``tclean`` and ``beam`` subcommands.

    Examples
    --------
    >>> p = argparse.ArgumentParser(); sub = p.add_subparsers(dest="command")
    >>> add_parser(sub)
    >>> p.parse_args(["tclean", "2023.1.01234.S", "--robust", "-0.5"]).robust
    -0.5
    >>> p.parse_args(["beam", "x.ms", "--field", "F", "--robust", "-1", "natural"]).robust
    ['-1', 'natural']
    """
    fmt = argparse.RawDescriptionHelpFormatter
    t = subparsers.add_parser(
        "tclean",
        help="print (and run) the tclean call to re-image a delivery with other choices",
        description="Build the tclean call to re-image a delivery: the pipeline's call for the member OUS with "
        "your weighting, taper, iterations and continuum ranges.",
        epilog=_TCLEAN_EXAMPLE,
        formatter_class=fmt,
    )
    t.add_argument("delivery", metavar="DELIVERY", help="delivery directory (or a directory inside it)")
    t.add_argument("--kind", choices=("cont", "cube"), default="cont", help="continuum or cube (default: cont)")
    t.add_argument("--field", default=None, help="field name (default: the field of the delivered image)")
    t.add_argument("--spw", default=None, help="spw selection of the pipeline call to start from (e.g. 1,2,3)")
    t.add_argument("--robust", type=_robust, default=None, help="Briggs robust in [-2, 2], or natural/uniform")
    t.add_argument("--uvtaper", default=None, help="Gaussian uv taper FWHM, e.g. 1arcsec ('' for none)")
    t.add_argument("--niter", type=int, default=None, help="maximum clean iterations")
    t.add_argument(
        "--nsigma",
        type=float,
        default=None,
        help="threshold = NSIGMA x predicted rms (default: keep the pipeline's threshold)",
    )
    t.add_argument(
        "--contdat",
        default=None,
        metavar="FILE",
        help="a cont.dat whose ranges become the spw selection (e.g. one written by the editor)",
    )
    t.add_argument("--imagename", default=None, help="image name (default: field.spw.kind.robust...)")
    t.add_argument(
        "--run",
        default=None,
        metavar="OUTDIR",
        help="run tclean into OUTDIR (never inside the delivery) and print the products",
    )
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(_run=run)

    b = subparsers.add_parser(
        "beam",
        help="predict the beam and sensitivity over robust values and tapers",
        description="Predict the synthesized beam and the sensitivity relative to natural weighting from the "
        "uv coverage (no imaging).",
        epilog=_BEAM_EXAMPLE,
        formatter_class=fmt,
    )
    b.add_argument("path", metavar="DELIVERY_OR_MS", help="a delivery directory or a measurement set")
    b.add_argument("--field", required=True, help="field name (or id)")
    b.add_argument("--spw", default=None, help="spw selection, e.g. 1,2,3 (default: the pipeline's, or all)")
    b.add_argument(
        "--robust",
        nargs="+",
        default=["-2", "-1", "-0.5", "0", "0.5", "1", "2"],
        help="robust values (numbers, natural, uniform; default: -2 -1 -0.5 0 0.5 1 2)",
    )
    b.add_argument("--uvtaper", nargs="+", default=["none"], help="tapers, e.g. none 1arcsec 2arcsec")
    b.add_argument("--cell", default=None, help="cell, e.g. 0.25arcsec (default: pipeline's or heuristics)")
    b.add_argument("--imsize", type=int, default=None, help="image size in pixels")
    b.add_argument("--json", action="store_true", help="print the table as JSON records (for machines)")
    b.set_defaults(_run=run)


def _robust(text: str) -> Any:
    if text in ("natural", "uniform"):
        return text
    try:
        return float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number in [-2, 2], natural or uniform") from err


def run(args: argparse.Namespace) -> int:
    """Run ``tclean`` or ``beam``; returns the exit code."""
    return _beam(args) if args.command == "beam" else _tclean(args)


def _tclean(args: argparse.Namespace) -> int:
    from .contdat import read_cont_dat
    from .tclean import reimaging_plan, run_tclean

    plan = reimaging_plan(args.delivery, kind=args.kind, field=args.field, spw=args.spw)
    choices: dict[str, Any] = {}
    if args.niter is not None:
        choices["niter"] = args.niter
    if args.imagename:
        choices["imagename"] = args.imagename
    if args.contdat:
        choices["contdat"] = read_cont_dat(args.contdat)
    params = plan.parameters(robust=args.robust, uvtaper=args.uvtaper, nsigma=args.nsigma, **choices)
    out = plan.check_output(args.run) if args.run else None
    prediction = plan.predict(robust=args.robust, uvtaper=args.uvtaper)
    print(f"# member OUS {plan.member.uid}, field {plan.field}, {plan.kind}; parameters from {params.origin}")
    print(f"# {prediction.summary()}")
    print(params.call())
    sys.stdout.flush()
    if out is not None:
        tclean_run = run_tclean(params, out, progress=not args.no_progress)
        for suffix, path in sorted(tclean_run.products.items()):
            print(f"{suffix}\t{path}")
    return 0


def _beam(args: argparse.Namespace) -> int:
    from .beam import sweep

    robust = [_robust(r) for r in args.robust]
    tapers = [None if t.lower() in ("none", "0", "") else t for t in args.uvtaper]
    vis, cell, imsize, spw = _beam_inputs(args)
    table = sweep(
        vis, field=args.field, spw=spw, robust=robust, uvtaper=tapers, cell=cell, imsize=imsize, progress=False
    )
    if args.json:
        json.dump(json.loads(table.to_json(orient="records")), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(
            f"# field {args.field}, spw {spw or 'all'}, cell {table.cell_arcsec.iloc[0]:g} arcsec, "
            f"imsize {int(table.imsize.iloc[0])}; {len(vis)} MS"
        )
        print(table.drop(columns=["cell_arcsec", "imsize"]).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


def _beam_inputs(args: argparse.Namespace) -> tuple[list[str], Any, Any, Any]:
    """(MS paths, cell, imsize, spw) for ``almaview beam``: an MS as given; a delivery's member MSs and the
    pipeline's cell/imsize/spw for the field when the user gave none."""
    from ..errors import PathNotFound

    p = Path(args.path)
    if not p.exists():
        raise PathNotFound(p, "does not exist (expected a delivery directory or a measurement set)")
    if (p / "table.dat").is_file():
        return [str(p)], args.cell, args.imsize, args.spw
    from .tclean import reimaging_plan

    plan = reimaging_plan(str(p), kind="cont", field=args.field, spw=args.spw)
    cell = args.cell if args.cell is not None else (plan.base.params.get("cell") if args.imsize is None else None)
    imsize = args.imsize if args.imsize is not None else (plan.base.params.get("imsize") if args.cell is None else None)
    return plan.vis, cell, imsize, args.spw or plan.spw

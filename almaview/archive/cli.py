"""``almaview search`` and ``almaview fetch``: the archive from the command line.

Exit codes (as every almaview command): 0 done, 1 an almaview error (one line
on stderr, no traceback), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys

#: the parts fetch knows (as almaview.archive.download.KINDS)
KINDS = ("readme", "auxiliary", "product", "raw", "documentation")


def _what(text: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in parts if p not in KINDS]
    if bad or not parts:
        raise argparse.ArgumentTypeError(f"--what takes a comma-separated list of {', '.join(KINDS)}; got {text!r}")
    return parts


def add_parser(sub) -> None:
    """Register ``search`` and ``fetch`` on the ``almaview`` command's subparsers.

    Examples
    --------
    >>> import argparse
    >>> p = argparse.ArgumentParser(); add_parser(p.add_subparsers(dest="command"))
    >>> p.parse_args(["fetch", "2017.1.01185.S", "--what", "readme,auxiliary"]).what
    ('readme', 'auxiliary')
    """
    s = sub.add_parser(
        "search",
        help="find member OUSes in the ALMA archive (project code, source, band)",
        description="Search the ALMA archive: one line per member OUS.",
    )
    which = s.add_mutually_exclusive_group(required=True)
    which.add_argument("--project", metavar="CODE", help="project code, e.g. 2017.1.01185.S")
    which.add_argument("--source", metavar="NAME", help="target name as the archive spells it")
    s.add_argument("--band", metavar="N", type=int, action="append", help="ALMA band (repeat for several)")
    s.add_argument(
        "--archive-url", metavar="URL", help="archive mirror (default: $ALMAVIEW_ARCHIVE_URL, else astroquery's)"
    )
    s.add_argument("--json", action="store_true", help="print the rows as JSON")
    f = sub.add_parser(
        "fetch",
        help="list or download a project's / member OUS's files from the ALMA archive",
        description="Download from the ALMA archive into a folder `almaview info` reads as it is. "
        "Resumes cut transfers; skips complete files.",
    )
    f.add_argument("ident", metavar="IDENT", help="project code, member OUS uid or EB uid")
    f.add_argument("--list", action="store_true", help="only list the files (name, kind, size)")
    f.add_argument(
        "--what",
        type=_what,
        default=("readme", "auxiliary", "product"),
        help="parts to fetch, comma-separated: readme,auxiliary,product,raw,documentation "
        "(default: readme,auxiliary,product)",
    )
    f.add_argument(
        "--eb", metavar="UID", nargs="+", action="extend", help="these EBs' raw ASDM tars (implies raw in --what)"
    )
    f.add_argument("--dest", metavar="DIR", help="destination folder (default: ./<project code>)")
    f.add_argument("--parallel", metavar="N", type=int, default=2, help="files fetched at once (default 2)")
    f.add_argument(
        "--archive-url", metavar="URL", help="archive mirror (default: $ALMAVIEW_ARCHIVE_URL, else astroquery's)"
    )
    f.add_argument("--json", action="store_true", help="print the listing / the result as JSON")
    f.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    """Run ``almaview search`` or ``almaview fetch``; return the exit code.

    Examples
    --------
    >>> from almaview.cli import main
    >>> main(["fetch", "2017.1.01185.S", "--list"])       # doctest: +SKIP
    0
    """
    from . import download, listing, query

    if args.command == "search":
        t = query.search(project=args.project, source=args.source, band=args.band, archive_url=args.archive_url)
        if args.json:
            json.dump(json.loads(t.to_json(orient="records", date_format="iso")), sys.stdout, indent=1)
            sys.stdout.write("\n")
        elif len(t) == 0:
            print("no member OUS found", file=sys.stderr)
        else:
            cols = ["project", "mous", "targets", "bands", "array", "resolution_arcsec", "release_date", "public"]
            print(t[cols].to_string(index=False))
        return 0
    table = listing.files(args.ident, archive_url=args.archive_url)
    if args.list:
        if args.json:
            json.dump(json.loads(table.to_json(orient="records")), sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            top = table[table["within"].isna()]
            for r in top.itertuples():
                size = "?" if r.size is None or str(r.size) == "<NA>" else f"{int(r.size):>14,d}"
                print(f"{r.kind:<13} {size} {r.name}")
            print(
                f"{len(top)} files, {int(top['size'].fillna(0).sum()):,d} bytes "
                f"({int(top[top.kind != 'raw']['size'].fillna(0).sum()):,d} without raw)"
            )
        return 0
    if args.eb and "raw" not in args.what:
        args.what = tuple(args.what) + ("raw",)  # --eb names raw data: fetch it
    chosen = download.select(table, args.what, args.eb)
    folder = download.fetch(
        args.ident,
        what=args.what,
        ebs=args.eb,
        dest=args.dest,
        archive_url=args.archive_url,
        parallel=args.parallel,
        progress=not args.no_progress,
        listing=table,
    )
    if args.json:
        json.dump({"folder": str(folder), "files": [str(folder / n) for n in chosen["name"]]}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(folder)
    return 0

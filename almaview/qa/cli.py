"""``almaview qa DELIVERY [--markdown out.md]``: the re-derived QA, exit 3 when a criterion fails.

Exit codes: 0 no criterion fails (warnings allowed), 3 at least one fails, 1 an almaview error
(from the caller), 2 bad usage.
"""

from __future__ import annotations

import argparse

EXIT_FAIL = 3


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``qa`` subcommand to an argparse subparsers object.

    Examples
    --------
    >>> p = argparse.ArgumentParser(); sub = p.add_subparsers(dest="command")
    >>> _ = add_parser(sub)
    >>> p.parse_args(["qa", "x", "--markdown", "o.md"]).markdown
    'o.md'
    """
    qa = subparsers.add_parser(
        "qa",
        help="re-derive the QA2 criteria from the delivered data (exit 3 if one fails)",
        description="Judge a delivery on ALMA's QA2 criteria (Tsys, gains, flux scale, phase transfer, bandpass, "
        "images, data volume) from its own tables and images, and optionally write a QA3-request "
        "draft with evidence plots.",
        epilog="Exit status: 0 when no criterion fails (warnings allowed), 3 when at least one fails, "
        "1 when the delivery cannot be read.",
    )
    qa.add_argument("path", metavar="DELIVERY", help="delivery directory (or a directory inside it, or the tar folder)")
    qa.add_argument("--markdown", metavar="OUT.md", help="write a QA3-request draft (PNG evidence beside it)")
    return qa


def run(args: argparse.Namespace) -> int:
    """Run ``almaview qa``: print the report, write the markdown if asked, return the exit code."""
    from .check import check

    report = check(args.path)
    print(repr(report))
    if getattr(args, "markdown", None):
        out = report.to_markdown(args.markdown)
        print(f"QA3-request draft: {out}")
    return EXIT_FAIL if report.failures else 0

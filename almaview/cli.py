"""The ``almaview`` command: ``almaview info PATH [--json]``, ``almaview demo [DIR]``, and the
subcommands the other layers contribute (``report``, ``restore``, ``qa``, ``tclean``...): each such module has
``add_parser(subparsers)`` and ``run(args) -> int``.

Exit codes: 0 success, 1 an almaview error (one line on stderr naming the
path), 2 bad usage (argparse).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

from .errors import AlmaviewError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="almaview", description="Explore ALMA delivered data.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    info = sub.add_parser(
        "info",
        help="summarise a delivery (project, PI, OUSes, EBs, fields, images, QA)",
        description="Print a summary of an ALMA delivery: the project directory, any directory "
        "inside it, or the folder holding the archive's tar files.",
    )
    info.add_argument("path", metavar="PATH", help="delivery directory (or a directory inside it, or the tar folder)")
    info.add_argument("--json", action="store_true", help="print the model as JSON (for machines)")
    info.add_argument("--no-ms", action="store_true", help="do not open calibrated MSs for fields/spws")
    demo = sub.add_parser("demo", help="build the demo delivery", description="Build almaview's demo ALMA delivery.")
    demo.add_argument(
        "dir",
        metavar="DIR",
        nargs="?",
        default=None,
        help="where to build it (default: almaview's cache directory; it is reused once built)",
    )
    for module in _extensions():
        before = set(sub.choices)
        module.add_parser(sub)
        for name in set(sub.choices) - before:
            sub.choices[name].set_defaults(_run=module.run)
    return p


#: Modules that add a subcommand: ``add_parser(subparsers)`` registers it, ``run(args)`` runs it.
EXTENSION_MODULES = (
    "almaview.report_cli",
    "almaview.restore.cli",
    "almaview.qa.cli",
    "almaview.imaging.cli",
    "almaview.archive.cli",
)


def _extensions() -> list:
    found = []
    for name in EXTENSION_MODULES:
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as err:
            if err.name is None or not name.startswith(err.name):
                raise
    return found


def _info(args: argparse.Namespace) -> int:
    from .delivery import open_delivery

    d = open_delivery(args.path, read_ms=not args.no_ms)
    if args.json:
        json.dump(d.to_dict(), sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        print(_printable(repr(d)))
    return 0


def _demo(args: argparse.Namespace) -> int:
    try:
        demo = importlib.import_module("almaview.demo")
    except ModuleNotFoundError as err:
        if err.name not in ("almaview.demo",):
            raise
        print("almaview demo: the demo builder (almaview.demo) is not available in this installation", file=sys.stderr)
        return 1
    if not callable(getattr(demo, "build", None)):
        print(
            "almaview demo: the demo builder (almaview.demo.build) is not available in this installation",
            file=sys.stderr,
        )
        return 1
    out = demo.build(args.dir)
    print(out if out is not None else args.dir)
    return 0


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in "\n\t"}


def _printable(text: str) -> str:
    """Escape control characters (a file name may carry terminal escape sequences) and lone surrogates."""
    return text.translate(_CONTROL).encode("utf-8", "backslashreplace").decode("utf-8")


def _one_line(text: str) -> str:
    return " ".join(_printable(text).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Examples
    --------
    >>> main(["info", "/no/such/dir"])     # doctest: +SKIP
    1
    """
    args = _parser().parse_args(argv)
    handler = getattr(args, "_run", None) or {"info": _info, "demo": _demo}[args.command]
    try:
        return handler(args)
    except AlmaviewError as err:
        print(_one_line(f"almaview {args.command}: {type(err).__name__}: {err}"), file=sys.stderr)
        return 1
    except OSError as err:  # the file system said no (permissions, a full disk): still one line, no traceback
        where = f"{err.filename!r}: " if getattr(err, "filename", None) else ""
        print(
            _one_line(f"almaview {args.command}: {type(err).__name__}: {where}{err.strerror or err}"), file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Run one almaview function in this (child) process: ``python -m almaview._isolated`` reads
a pickled ``("module:function", args, kwargs)`` from stdin. Used by :func:`almaview.casa.run_isolated`."""

from __future__ import annotations

import importlib
import pickle
import sys


def main() -> int:
    target, args, kwargs = pickle.loads(sys.stdin.buffer.read())
    module, _, name = target.partition(":")
    getattr(importlib.import_module(module), name)(*args, **kwargs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

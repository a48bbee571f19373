"""``python -m almaview``: the same command line as ``almaview``."""

import sys

from .cli import main

sys.exit(main())

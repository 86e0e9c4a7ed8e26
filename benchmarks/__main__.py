"""``python -m benchmarks`` (``./dev bench``): see :mod:`benchmarks.cli` and docs/benchmarks.md."""

from __future__ import annotations

import sys

from benchmarks.cli import main

if __name__ == "__main__":
    sys.exit(main())

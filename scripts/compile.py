"""Compile the pure modules of ``stream.compiled.MODULES`` with mypyc, in place.

``make compile`` runs it (``make setup`` and ``make test`` do too); it needs a C compiler
and mypy (a dev dependency). The builds land beside their sources and are not tracked.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["FLOORPULSE_SKIP_FRESH_CHECK"] = "1"  # old builds are about to be replaced

from mypyc.build import mypycify  # noqa: E402
from setuptools import setup  # noqa: E402

from stream.compiled import MODULES  # noqa: E402

if __name__ == "__main__":
    os.chdir(ROOT)
    setup(
        name="floorpulse-compiled",
        packages=[],
        ext_modules=mypycify(list(MODULES), opt_level="3", group_name="stream.native"),
        script_args=["-q", "build_ext", "--inplace", "--build-temp", "build/mypyc"],
    )

"""Compile the pure modules of ``stream.compiled.MODULES`` with mypyc, in place.

``make compile`` runs it (``make setup`` and ``make test`` do too); it needs a C compiler
and mypy (a dev dependency). The builds land beside their sources and are not tracked.

``--check`` compiles nothing: it fails unless every module imports from a fresh build (the
Dockerfile runs it, so that an image never ships its modules as plain Python).
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from mypyc.build import mypycify
from setuptools import setup

ROOT = Path(__file__).resolve().parent.parent


def check() -> int:
    """0 if every module of ``stream.compiled.MODULES`` imports from a fresh build."""
    sys.path.insert(0, str(ROOT))
    from stream.compiled import MODULES, interpreted  # refuses stale builds

    missing = interpreted()
    if missing:
        print(f"not compiled: {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"{len(MODULES)} modules compiled")
    return 0


def compile_modules() -> None:
    os.chdir(ROOT)
    # The list, read without importing ``stream`` (which refuses the stale builds that this
    # replaces).
    compiled = runpy.run_path(str(ROOT / "stream" / "compiled.py"))
    modules = compiled["MODULES"]
    setup(
        name="floorpulse-compiled",
        packages=[],
        ext_modules=mypycify(list(modules), opt_level="3", group_name="stream.native"),
        script_args=["-q", "build_ext", "--inplace", "--build-temp", "build/mypyc"],
    )
    # An unchanged module's build is copied with its old time: mark every build as made now,
    # which is what the freshness check compares with its source.
    for source in modules:
        for build in compiled["builds"](source):
            os.utime(build)


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        raise SystemExit(check())
    compile_modules()

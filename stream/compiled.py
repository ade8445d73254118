"""The pure modules that ``make compile`` compiles to C with mypyc (docs/performance.md,
"Sixth round"): the same source, type-checked and compiled, about 1.4x faster on the
worker's per-event path. The sources stay the one truth: without a build (``make clean``,
no compiler) Python runs them as they are, and the tests are the same for both.

A compiled module is an extension (``.so``) beside its source, which Python imports in its
place. One older than its source would run old code, so importing ``stream`` refuses that
(:func:`check_fresh`): rebuild with ``make compile``, or remove the builds with ``make
clean``.
"""

from __future__ import annotations

import importlib
import importlib.machinery
from pathlib import Path

# Pure logic only (no Faust, Kafka, Redis or pydantic models): mypyc compiles these as a
# group. Classes defined here cannot be subclassed by interpreted code.
MODULES = (
    "stream/metrics/definitions.py",
    "stream/metrics/facts.py",
    "stream/metrics/partition.py",
    "stream/metrics/merge.py",
    "stream/qa/contact.py",
    "stream/qa/signals.py",
    "stream/wfm/adherence.py",
    "stream/wfm/state.py",
    "stream/wfm/snapshot.py",
    "stream/wfm/intraday.py",
    "stream/wfm/erlang.py",
    "stream/partitioner.py",
    "stream/sentiment/vader.py",
)

ROOT = Path(__file__).resolve().parent.parent


def builds(source: str, root: Path = ROOT) -> list[Path]:
    """The compiled builds of ``source`` (a path in :data:`MODULES`) that Python would load."""
    path = root / source
    candidates = (path.with_name(path.stem + suffix)
                  for suffix in importlib.machinery.EXTENSION_SUFFIXES)
    return [build for build in candidates if build.exists()]


def module_name(source: str) -> str:
    """The dotted name of ``source`` (a path in :data:`MODULES`)."""
    return source.removesuffix(".py").replace("/", ".")


def interpreted(modules: tuple[str, ...] = MODULES) -> list[str]:
    """The modules that import as Python source, not as a compiled build."""
    return [source for source in modules
            if not str(importlib.import_module(module_name(source)).__file__).endswith(
                tuple(importlib.machinery.EXTENSION_SUFFIXES))]


def stale(modules: tuple[str, ...] = MODULES, root: Path = ROOT) -> list[str]:
    """The modules whose compiled build is older than their source."""
    return [source for source in modules
            for build in builds(source, root)
            if build.stat().st_mtime < (root / source).stat().st_mtime]


def check_fresh() -> None:
    found = stale()
    if found:
        raise ImportError(
            f"compiled builds older than their sources: {', '.join(found)}; "
            "rebuild them with `make compile` (or remove them with `make clean`)")

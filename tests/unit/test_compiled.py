"""The modules compiled with mypyc (stream/compiled.py): loaded when built, and never older
than their sources."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
from pathlib import Path

import pytest

from stream.compiled import MODULES, stale

EXTENSION = importlib.machinery.EXTENSION_SUFFIXES[0]


def _module_name(source: str) -> str:
    return source.removesuffix(".py").replace("/", ".")


def test_a_build_older_than_its_source_is_found_stale(tmp_path: Path) -> None:
    source = tmp_path / "pkg" / "mod.py"
    source.parent.mkdir()
    source.write_text("X = 1\n")
    build = source.with_name("mod" + EXTENSION)
    build.write_bytes(b"")
    os.utime(build, (1_000, 1_000))
    os.utime(source, (2_000, 2_000))
    assert stale(("pkg/mod.py",), tmp_path) == ["pkg/mod.py"]
    os.utime(build, (3_000, 3_000))
    assert stale(("pkg/mod.py",), tmp_path) == []


def test_a_source_without_a_build_is_not_stale(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("X = 1\n")
    assert stale(("mod.py",), tmp_path) == []


@pytest.mark.skipif(not os.environ.get("FLOORPULSE_EXPECT_COMPILED"),
                    reason="`make test` sets FLOORPULSE_EXPECT_COMPILED after `make compile`")
@pytest.mark.parametrize("source", MODULES)
def test_make_test_runs_the_compiled_modules(source: str) -> None:
    module = importlib.import_module(_module_name(source))
    assert str(module.__file__).endswith(EXTENSION), module.__file__

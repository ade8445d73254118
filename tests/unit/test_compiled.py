"""The modules compiled with mypyc (stream/compiled.py): loaded when built, and never older
than their sources."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
from pathlib import Path

import pytest

from stream.compiled import MODULES, interpreted, stale

EXTENSION = importlib.machinery.EXTENSION_SUFFIXES[0]


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
    assert interpreted((source,)) == []


# Made for every event or contact evaluated, or for every agent at every publication: their
# __init__ (and __eq__) are written out, because the ones a dataclass generates stay
# interpreted under mypyc.
HOT_CLASSES = (
    ("stream.metrics.partition", "Contribution", ("__init__", "__eq__")),
    ("stream.metrics.facts", "Leg", ("__init__", "__eq__")),
    ("stream.metrics.facts", "Segment", ("__init__", "__eq__")),
    ("stream.metrics.facts", "ContactFacts", ("__init__", "__eq__")),
    ("stream.qa.signals", "ContactSignals", ("__init__",)),
    ("stream.metrics.merge", "AgentToday", ("__init__",)),
    ("stream.wfm.adherence", "Adherence", ("__init__",)),
    ("stream.wfm.adherence", "Tally", ("__init__",)),
    ("stream.wfm.adherence", "Fold", ("__init__",)),
)


@pytest.mark.skipif(not os.environ.get("FLOORPULSE_EXPECT_COMPILED"),
                    reason="`make test` sets FLOORPULSE_EXPECT_COMPILED after `make compile`")
@pytest.mark.parametrize(("module", "name", "methods"), HOT_CLASSES,
                         ids=[name for _, name, _ in HOT_CLASSES])
def test_the_hot_classes_construct_and_compare_in_compiled_code(
        module: str, name: str, methods: tuple[str, ...]) -> None:
    cls = getattr(importlib.import_module(module), name)
    for method in methods:
        assert not hasattr(cls.__dict__[method], "__code__"), f"{name}.{method} is interpreted"


def test_the_hot_classes_keep_value_equality() -> None:
    from stream.metrics.facts import ContactFacts, Leg, Segment
    from stream.metrics.partition import Contribution

    assert Leg(1, 2, "a") == Leg(1, 2, "a") and Leg(1) != Leg(2)
    assert Segment(1, held={5}) == Segment(1, held={5}) and Segment(1) != Segment(1, held={5})
    assert ContactFacts({"q": Leg(1)}, last_ts=3) == ContactFacts({"q": Leg(1)}, last_ts=3)
    assert ContactFacts({"q": Leg(1)}) != ContactFacts({"q": Leg(2)})
    one = Contribution((("q", 1, (1, 0)),), (), (), ())
    assert one == Contribution((("q", 1, (1, 0)),), (), (), ()) and one != Contribution(
        (), (), (), ())

"""The garbage collector's young generation: short live, long while the worker is behind."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from stream.app import GC_YOUNG_THRESHOLD, GC_YOUNG_THRESHOLD_BEHIND, collect_young_gc


@pytest.fixture
def kept_threshold() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


@pytest.mark.usefixtures("kept_threshold")
def test_a_worker_behind_collects_young_objects_less_often_and_live_again_as_before() -> None:
    gc.set_threshold(700, 7, 9)
    collect_young_gc(behind=True)
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD_BEHIND, 7, 9)
    collect_young_gc(behind=False)
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 7, 9)
    assert GC_YOUNG_THRESHOLD < GC_YOUNG_THRESHOLD_BEHIND

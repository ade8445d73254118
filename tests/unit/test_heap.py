"""Giving the C heap's free memory back (stream/heap.py): rate-limited in wall time, a no-op
without glibc, and called by the processor after an expiry only."""

from __future__ import annotations

import ctypes
from typing import Any

import pytest

from stream import heap
from stream.agents.process_events import EXPIRE_EVERY_MS, EventProcessor
from stream.heap import HeapTrimmer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_trims_at_most_once_per_interval() -> None:
    clock, trims = Clock(), []
    trimmer = HeapTrimmer(5.0, trim=lambda: trims.append(clock.now), clock=clock)
    assert trimmer.maybe_trim()  # the first call trims
    for step in (1.0, 2.0, 1.9):  # 4.9 s after it
        clock.now += step
        assert not trimmer.maybe_trim()
    clock.now += 0.1
    assert trimmer.maybe_trim()
    assert not trimmer.maybe_trim()
    clock.now += 60
    assert trimmer.maybe_trim()
    assert trims == [100.0, 105.0, 165.0]
    assert trimmer.calls == 3


def test_interval_runs_from_the_end_of_the_last_trim() -> None:
    clock = Clock()

    def slow_trim() -> None:
        clock.now += 2.0

    trimmer = HeapTrimmer(5.0, trim=slow_trim, clock=clock)
    assert trimmer.maybe_trim()
    assert trimmer.seconds == pytest.approx(2.0)
    clock.now += 4.0  # 6 s after the start of the trim, 4 after its end
    assert not trimmer.maybe_trim()


def test_no_op_without_malloc_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoTrim:  # a C library without malloc_trim (musl, macOS)
        def __init__(self, name: object) -> None:
            pass

    monkeypatch.setattr(ctypes, "CDLL", NoTrim)
    assert heap.glibc_malloc_trim() is None
    trimmer = HeapTrimmer()
    assert not trimmer.maybe_trim()
    assert trimmer.calls == 0

    def no_library(name: object) -> None:
        raise OSError("no C library")

    monkeypatch.setattr(ctypes, "CDLL", no_library)
    assert heap.glibc_malloc_trim() is None


def test_glibc_trim_runs_where_there_is_glibc() -> None:
    if not hasattr(ctypes.CDLL(None), "malloc_trim"):
        pytest.skip("no glibc")
    trim = heap.glibc_malloc_trim()
    assert trim is not None
    assert trim() in (0, 1)  # 1: memory was released


class State:
    """What the processor's expiry reads of a partition's state."""

    def __init__(self) -> None:
        self.any_clock = 0

    def expire(self) -> tuple[list[Any], list[Any]]:
        return [], []


def test_processor_trims_after_an_expiry_only() -> None:
    trims: list[int] = []
    processor = EventProcessor(State, None, None, None)  # type: ignore[arg-type]
    processor.trimmer = HeapTrimmer(0.0, trim=lambda: trims.append(1))
    state = processor.state(0)
    processor._expire(due_only=True)  # stream time 0: not due
    assert trims == []
    state.any_clock = EXPIRE_EVERY_MS
    processor._expire(due_only=True)
    assert trims == [1]
    state.any_clock += EXPIRE_EVERY_MS - 1
    processor._expire(due_only=True)  # not due again yet
    assert trims == [1]
    processor._expire()  # every partition, as after a restore
    assert trims == [1, 1]
    processor.trimmer = None
    processor._expire()
    assert trims == [1, 1]

"""Recorded streams for the integration tests, made by the simulator and then disturbed as
real feeds are: some events late or out of order, some sent twice."""

from __future__ import annotations

import gc
import random
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import orjson

from producers.simulator import default_config, simulate

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def disorder(events: list[dict[str, object]], seed: int, moved: float = 0.05,
             duplicated: float = 0.01, reach: int = 40) -> list[dict[str, object]]:
    """``moved`` of the events swapped with one up to ``reach`` places later (so some come
    late, some early), and ``duplicated`` of them sent again somewhere near."""
    rng = random.Random(seed)
    out = events[:]
    for i in range(len(out)):
        if rng.random() < moved:
            j = min(len(out) - 1, i + rng.randint(1, reach))
            out[i], out[j] = out[j], out[i]
    # Each copy goes in before the event at its position (copies at one position: the
    # later-drawn first), in one pass: inserting into a list of millions one by one took
    # seconds.
    copies: dict[int, list[dict[str, object]]] = {}
    for i, e in enumerate(out):
        if rng.random() < duplicated:
            copies.setdefault(min(len(out), i + rng.randint(0, reach)), []).append(e)
    result: list[dict[str, object]] = []
    for i in range(len(out) + 1):
        if i in copies:
            result.extend(reversed(copies[i]))
        if i < len(out):
            result.append(out[i])
    return result


def write_stream(path: Path, hours: float, agents: int, seed: int,
                 moved: float = 0.05, duplicated: float = 0.01,
                 transcripts: bool = True) -> int:
    """A simulated, disturbed stream as JSONL; returns the number of lines. ``transcripts``:
    voice calls carry their transcript segments (a third of a day's events)."""
    config = replace(default_config(hours=hours, seed=seed, start=START, agents=agents),
                     transcripts=transcripts)
    gc.disable()  # millions of live dicts: each full collection would walk them all
    try:
        events = disorder(list(simulate(config)), seed, moved, duplicated)
        with path.open("wb") as fh:  # in slices: fresh memory for millions of lines is slow
            for i in range(0, len(events), 10_000):
                fh.write(b"".join(orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE)
                                  for e in events[i:i + 10_000]))
    finally:
        gc.enable()
    return len(events)

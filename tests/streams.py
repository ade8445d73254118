"""Recorded streams for the integration tests, made by the simulator and then disturbed as
real feeds are: some events late or out of order, some sent twice."""

from __future__ import annotations

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
    dupes = [(min(len(out), i + rng.randint(0, reach)), e)
             for i, e in enumerate(out) if rng.random() < duplicated]
    for pos, event in sorted(dupes, key=lambda p: -p[0]):
        out.insert(pos, event)
    return out


def write_stream(path: Path, hours: float, agents: int, seed: int,
                 moved: float = 0.05, duplicated: float = 0.01,
                 transcripts: bool = True) -> int:
    """A simulated, disturbed stream as JSONL; returns the number of lines. ``transcripts``:
    voice calls carry their transcript segments (a third of a day's events)."""
    config = replace(default_config(hours=hours, seed=seed, start=START, agents=agents),
                     transcripts=transcripts)
    events = list(simulate(config))
    lines = [orjson.dumps(e) for e in disorder(events, seed, moved, duplicated)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return len(lines)

"""Exact figures through crashes and rebalances, on the real broker, workers and Redis.

A worker killed with SIGKILL in the middle of a replay, then started again, and two workers
with a rebalance in the middle, must end with the same intervals as the batch report of the
same file (which equals an uninterrupted run): nothing lost, nothing counted twice.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest

from producers.replay import replay, wait_for_marker
from stream.intervals import read_intervals
from stream.kafka import EventSender
from stream.progress import progress_totals
from stream.report import read_events, report_rows
from tests.conftest import redis_client, wait_until
from tests.streams import write_stream

pytestmark = pytest.mark.integration


def strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without their open/closed status (it depends on when you look)."""
    return [{k: v for k, v in row.items() if k != "status"} for row in rows]


def processed(settings: Any) -> int:
    values = redis_client(settings).hgetall(settings.progress_key).values()
    return progress_totals(values)["processed"]


def finish(settings: Any) -> None:
    """Markers on every partition; returns once the workers have processed everything."""
    sender = EventSender(settings)
    try:
        marker = sender.send_markers()
    finally:
        sender.close()
    wait_for_marker(settings, marker, settings.topic_partitions, timeout_s=240)


@pytest.fixture(scope="module")
def day_stream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten hours of a 120-agent center (about 90,000 events), disturbed."""
    path = tmp_path_factory.mktemp("streams") / "day.jsonl"
    write_stream(path, hours=10, agents=120, seed=21)
    return path


def _explain(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    """On a mismatch, print the first differing rows (pytest shows it on failure)."""
    if got == want:
        return
    print(f"rows: got {len(got)}, want {len(want)}")
    keyed = {(r["queue"], r["interval_start"]): r for r in want}
    shown = 0
    for row in got:
        other = keyed.pop((row["queue"], row["interval_start"]), None)
        if other != row and shown < 5:
            shown += 1
            diff = {k: (row.get(k), (other or {}).get(k)) for k in row
                    if other is None or row.get(k) != other.get(k)}
            print(row["queue"], row["interval_start"], diff)
    for key in list(keyed)[:5]:
        print("missing", key)


def expected(path: Path, settings: Any) -> tuple[list[dict[str, Any]], int]:
    events = list(read_events(path))
    return strip(report_rows(events, settings)), len(events)


def test_a_worker_killed_mid_replay_restarts_with_exact_figures(
        make_settings: Any, start_worker: Any, day_stream: Path) -> None:
    settings = make_settings(batch_max=500)
    rows, total = expected(day_stream, settings)
    first = start_worker(settings)
    # Paced (ten hours in about 60 s), so that the kill lands mid-stream however fast the
    # worker is.
    sending = threading.Thread(
        target=replay, args=(day_stream, settings), kwargs={"speed": 600.0, "progress": None})
    sending.start()
    wait_until(lambda: processed(settings) >= total * 0.3, timeout=120, interval=0.05)
    assert processed(settings) < total * 0.9, "the kill must land mid-stream"
    assert first.proc is not None
    first.proc.kill()  # SIGKILL: no flush, no commit, no goodbye
    first.proc.wait()
    start_worker(settings)
    sending.join()
    finish(settings)

    got = strip(read_intervals(settings))
    _explain(got, rows)
    assert got == rows
    assert processed(settings) == total  # counted once, though some were processed twice


def rebuilt_partitions(worker: Any) -> list[list[int]]:
    """The partition sets a worker rebuilt its state for, in order."""
    found = re.findall(r"state rebuilt for partitions \[([0-9, ]*)\]", worker.log_tail(10**7))
    return [[int(p) for p in group.split(",") if p.strip()] for group in found]


@pytest.mark.parametrize("per_message", [500, 1], ids=["batched", "one-event-a-message"])
def test_two_workers_and_a_rebalance_keep_figures_exact(
        make_settings: Any, start_worker: Any, day_stream: Path, per_message: int) -> None:
    """Batched, and one event a message: the events topic's messages wait in the worker's
    inbox (stream/inbox.py), which the rebalance must clear without losing any."""
    settings = make_settings(batch_max=500)
    rows, total = expected(day_stream, settings)
    first = start_worker(settings)
    # Paced (ten hours in about 40 s), so that the second worker joins mid-stream.
    sending = threading.Thread(
        target=replay, args=(day_stream, settings),
        kwargs={"speed": 900.0, "progress": None, "batch_max": per_message})
    sending.start()
    wait_until(lambda: processed(settings) >= total * 0.2, timeout=120, interval=0.05)
    second = start_worker(settings)  # joins the group: partitions move mid-stream
    sending.join()
    assert processed(settings) < total, "the rebalance must land mid-stream"
    finish(settings)

    got = strip(read_intervals(settings))
    _explain(got, rows)
    assert got == rows
    assert processed(settings) == total
    # The first worker gave partitions away; the second took some over from the changelog.
    assert any(0 < len(group) < settings.topic_partitions for group in rebuilt_partitions(first))
    assert any(group for group in rebuilt_partitions(second))

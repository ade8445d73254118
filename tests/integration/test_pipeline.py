"""The live pipeline on real parts: recorded streams through the embedded broker, a real
worker process and Redis; figures read back and checked against an independent reference."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer

from producers.replay import replay
from tests import reference
from tests.conftest import redis_client

pytestmark = pytest.mark.integration

DATA = Path(__file__).parent.parent / "data"


def read_snapshot(settings: Any, tenant: str = "default") -> dict[str, Any]:
    raw = redis_client(settings).get(settings.snapshot_key(tenant))
    assert raw is not None, "no snapshot published"
    snapshot: dict[str, Any] = orjson.loads(raw)
    return snapshot


def cli(settings: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env()}
    return subprocess.run([sys.executable, "-m", "stream.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=True)


def test_recorded_day_figures_equal_an_independent_computation(
        make_settings: Any, start_worker: Any) -> None:
    path = DATA / "day_small.jsonl"
    events = reference.read_valid_events(path)
    assert len(events) >= 1000
    settings = make_settings()
    start_worker(settings)
    replay(path, settings, speed=None, wait=True, wait_timeout_s=120, progress=None)

    snapshot = read_snapshot(settings)
    assert snapshot["processed"] == len(events)
    expected = reference.day_figures(events)
    assert set(snapshot["queues"]) >= set(expected)
    for queue, figures in expected.items():
        got = {k: snapshot["queues"][queue][k] for k in figures}
        assert got == figures, queue
    waiting = reference.waiting_now(events)
    for queue, q in snapshot["queues"].items():
        assert q["waiting"] == waiting.get(queue, 0), queue
    unique_ids = {e["event_id"] for e in events}
    assert snapshot["processed"] == len(events) >= len(unique_ids)
    assert snapshot["dead_letters"] == 0

    # Agents: the latest state event by event time is the state shown.
    latest: dict[str, tuple[str, str]] = {}
    for e in events:
        if e["type"] == "agent.state":
            key = (e["ts"], e["event_id"])
            if e["agent_id"] not in latest or key > latest[e["agent_id"]][0]:
                latest[e["agent_id"]] = (key, e["state"])  # type: ignore[assignment]
    assert {a: s for a, (_, s) in latest.items()} == {
        a: v["state"] for a, v in snapshot["agents"].items()}

    # `floorpulse metrics --json` prints the documented shape from Redis.
    printed = json.loads(cli(settings, "metrics", "--json").stdout)
    for key in ("queues", "agents", "dead_letters"):
        assert key in printed
    sample = next(iter(printed["queues"].values()))
    for key in ("waiting", "longest_wait_s", "offered", "answered", "abandoned",
                "service_level", "asa_s", "aht_s", "abandon_rate"):
        assert key in sample
    agent = next(iter(printed["agents"].values()))
    for key in ("state", "reason", "since", "handled"):
        assert key in agent


def test_malformed_lines_are_dead_lettered_with_reasons_and_good_events_still_count(
        make_settings: Any, start_worker: Any) -> None:
    path = DATA / "bad_lines.jsonl"
    settings = make_settings()
    start_worker(settings)
    sent = replay(path, settings, speed=None, wait=True, wait_timeout_s=120, progress=None)
    assert sent == len(path.read_bytes().splitlines())

    consumer = KafkaConsumer(settings.topic_dead_letters,
                             bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000)
    records = [orjson.loads(m.value) for m in consumer]
    consumer.close()
    reasons = [r["reason"] for r in records]
    assert any(r.startswith("not JSON") for r in reasons)
    assert "unknown event type 'contact.teleported'" in reasons
    assert "missing field 'queue'" in reasons
    assert sum(r.startswith("bad timestamp") for r in reasons) == 2  # text, and no offset
    assert any("'state'" in r for r in reasons)
    assert reasons.count("an event must be a JSON object") == 3  # the array [1, 2, 3]
    assert all(("raw" in r) or ("raw_base64" in r) for r in records)
    assert any(r["raw"] == "this is not json" for r in records)

    snapshot = read_snapshot(settings)
    assert snapshot["dead_letters"] == len(records) == 10
    good = reference.read_valid_events(path)
    good = [e for e in good if not str(e["event_id"]).startswith("x")]
    assert snapshot["processed"] == len(good) == 400
    expected = reference.day_figures(good)
    for queue, figures in expected.items():
        assert {k: snapshot["queues"][queue][k] for k in figures} == figures


def test_the_intervals_and_report_commands_give_the_same_rows(
        make_settings: Any, start_worker: Any) -> None:
    """`floorpulse intervals` (from Redis, closed and open rows marked) with its queue and
    time filters, as JSON and CSV, equals `floorpulse report` of the same recorded file."""
    path = DATA / "day_small.jsonl"
    settings = make_settings()
    start_worker(settings)
    replay(path, settings, speed=None, wait=True, wait_timeout_s=120, progress=None)

    report = json.loads(cli(settings, "report", str(path), "--json").stdout)
    queue = report[0]["queue"]
    starts = sorted(r["interval_start"] for r in report if r["queue"] == queue)
    lo, hi = starts[2], starts[-2]  # --from inclusive, --to exclusive
    want = [r for r in report if r["queue"] == queue and lo <= r["interval_start"] < hi]
    got = json.loads(cli(settings, "intervals", "--queue", queue, "--from", lo, "--to", hi,
                         "--json").stdout)
    assert len(got) == len(want) >= 2
    assert {r["status"] for r in got} <= {"closed", "open"}
    strip = ("status",)
    assert ([{k: v for k, v in r.items() if k not in strip} for r in got]
            == [{k: v for k, v in r.items() if k not in strip} for r in want])
    for row in got:  # every row carries the fields the issue names, with the offset
        for key in ("queue", "interval_start", "offered", "answered", "abandoned",
                    "answered_within_threshold", "handled", "asa_s", "aht_s",
                    "service_level", "abandon_rate", "peak_waiting"):
            assert key in row
        assert row["interval_start"].endswith("+00:00")

    lines = cli(settings, "intervals", "--queue", queue, "--from", lo, "--to", hi,
                "--csv").stdout.splitlines()
    header = lines[0].split(",")
    assert len(lines) == len(got) + 1
    assert {"queue", "interval_start", "status", "service_level", "peak_waiting"} <= set(header)
    assert [line.split(",")[header.index("interval_start")] for line in lines[1:]] == [
        r["interval_start"] for r in got]

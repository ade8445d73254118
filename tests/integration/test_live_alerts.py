"""Alerts raised by the real worker from events (docs/alerts.md, "Live evaluation"): the
same transitions at the same stream times as the backtest of the same recorded file, on the
alerts topic and in Redis, for the contact center's rules and for workforce management's
(adherence, staffing now and next, volume over forecast); an acknowledgement added as the
gateway adds it; a worker killed and started again keeps its open alerts and their
acknowledgement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from gateway.access import Grant
from gateway.alerts import AckRequest, ack_fields
from producers.replay import replay
from stream.settings import QueueSettings
from tests.alerts import (
    ALERTING_START,
    WFM_HUDDLE,
    AlertsTopic,
    alerting_stream,
    expected,
    open_alerts,
    send,
    still_open,
    wfm_alerting_stream,
    write_jsonl,
)
from tests.conftest import redis_client, wait_until

Json = dict[str, Any]
BREAK = "break-too-long"


def replay_and_compare(settings: Any, start_worker: Any, events: list[Json], want: list[Json],
                       path: Path) -> None:
    """Start a worker, replay ``events`` from ``path``: the alerts topic holds ``want``,
    and the alerts open in Redis are the ones ``want`` leaves open."""
    topic = AlertsTopic(settings)
    start_worker(settings)
    replay(write_jsonl(path, events), settings, wait=True, wait_timeout_s=60, progress=None)
    try:
        assert topic.read(len(want)) == want
    finally:
        topic.close()
    wait_until(lambda: open_alerts(settings) == still_open(want), timeout=10)


def test_the_worker_raises_and_clears_what_the_backtest_does_for_a_recorded_file(
        make_settings: Any, start_worker: Any, tmp_path: Path) -> None:
    # One partition, events in file order: the worker applies them in the backtest's order.
    # The file is from 2026-11-23: no window, or its instants would be history.
    settings = make_settings(topic_partitions=1, alerts_live_window_s=0)
    events = alerting_stream()
    want = expected(events, settings)
    assert {t["rule_id"] for t in want} >= {"contacts-waiting-high", "longest-wait-high", BREAK}
    replay_and_compare(settings, start_worker, events, want, tmp_path / "alerting.jsonl")
    # Open in Redis: what the backtest leaves open (the service level, still under target).
    assert [t["rule_id"] for t in still_open(want).values()] == ["service-level-under-target"]


def test_the_worker_raises_the_adherence_and_staffing_alerts_the_backtest_does(
        make_settings: Any, start_worker: Any, tmp_path: Path) -> None:
    # The recorded WFM morning with an unscheduled meeting (tests/alerts.py): schedules and
    # a forecast, agents out of adherence, too few agents now and next, volume over forecast.
    settings = make_settings(topic_partitions=1, alerts_live_window_s=0,
                             queues={"billing": QueueSettings(sl_threshold_s=20,
                                                              sl_target=0.8)})
    events = wfm_alerting_stream()
    want = expected(events, settings)
    raised = [(t["rule_id"], t["scope"]["agent"] or t["scope"]["queue"])
              for t in want if t["state"] == "raised"]
    assert raised == [("agents-short-next-interval", "billing"),
                      ("agent-out-of-adherence", "a8"), ("agents-short-now", "billing"),
                      *(("agent-out-of-adherence", agent) for agent in WFM_HUDDLE),
                      ("volume-over-forecast", "billing")]
    replay_and_compare(settings, start_worker, events, want, tmp_path / "wfm.jsonl")
    # Open in Redis: the staffing gap of the next interval and the volume over forecast.
    assert sorted(t["rule_id"] for t in still_open(want).values()) == [
        "agents-short-next-interval", "volume-over-forecast"]


def test_an_acknowledgement_and_a_restart_keep_the_alert_until_it_clears_once(
        make_settings: Any, start_worker: Any) -> None:
    settings = make_settings(topic_partitions=1, alerts_live_window_s=0)
    events = alerting_stream()
    back = next(i for i, e in enumerate(events)
                if e.get("agent_id") == "ana" and e.get("state") == "available")
    # Before the agent is back from her break: one more event at 1000 s closes the
    # instants up to it, so her break alert is raised (at 910 s).
    nudge = {"type": "agent.state", "event_id": "nudge", "tenant": "default", "agent_id": "bo",
             "state": "acw", "ts": f"{ALERTING_START.date()}T09:16:40.000Z"}
    first, second = [*events[:back], nudge], events[back:]
    r = redis_client(settings)
    channel = r.pubsub()
    channel.subscribe(settings.alerts_channel("default"))
    topic = AlertsTopic(settings)
    try:
        worker = start_worker(settings)
        send(settings, first)

        def break_alert() -> Json | None:
            return next((a for a in open_alerts(settings).values() if a["rule_id"] == BREAK),
                        None)

        wait_until(lambda: break_alert() is not None, timeout=60)
        raised = break_alert()
        assert raised is not None and raised["state"] == "raised"
        # As the gateway does for a supervisor who clicks "acknowledge".
        fields = ack_fields(Grant("sam", "supervisor"),
                            AckRequest("default", raised["alert_id"], "on it"), 1_800_000_000_000)
        r.xadd(settings.alert_acks_stream, fields)  # type: ignore[arg-type]
        r.xadd(settings.alert_acks_stream, fields)  # twice: the second is a no-op
        wait_until(lambda: (break_alert() or {}).get("state") == "acknowledged", timeout=10)
        acked = break_alert()
        assert acked is not None
        assert (acked["acknowledged_by"], acked["comment"], acked["acknowledged_at"]) == (
            "sam", "on it", "2027-01-15T08:00:00.000+00:00")
        # Once the broker has every transition, nothing is left to send again.
        wait_until(lambda: any(t["state"] == "acknowledged" for t in topic.read(1, 1)), 10)
        wait_until(lambda: not orjson.loads(
            r.get(settings.alert_engine_key("default")) or b"{}").get("outbox"), timeout=10)

        worker.proc.kill()  # SIGKILL: no goodbye
        worker.proc.wait()
        start_worker(settings)
        send(settings, second)
        wait_until(lambda: break_alert() is None, timeout=60)

        want = expected(events, settings)
        records = topic.read(len(want) + 1)
        # Every transition once, as the backtest has them; the clear carries who
        # acknowledged the alert before the restart.
        assert [t for t in records if t["state"] != "acknowledged"] == [
            {**t, "acknowledged_at": acked["acknowledged_at"], "acknowledged_by": "sam",
             "comment": "on it"}
            if t["alert_id"] == acked["alert_id"] and t["state"] == "cleared" else t
            for t in want]
        assert [t for t in records if t["state"] == "acknowledged"] == [acked]
        # The channel carried the same transitions, in the same order.
        published = []
        while (message := channel.get_message(timeout=1.0)) is not None:
            if message["type"] == "message":
                published.append(orjson.loads(message["data"]))
        assert published == records
    finally:
        channel.close()
        topic.close()

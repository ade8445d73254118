"""The QA queue through the live pipeline: a replayed stream with chats, transcripts, holds,
transfers and a repeat customer, through the real broker, worker process and Redis; QA
actions as the gateway records them; a worker restart that must neither re-add nor reset
a reviewed item; the queue rebuilt from the QA topic after Redis lost it; QA's actions from
the page's WebSocket through the real gateway (and other roles refused); and the
supervisors' live alert while a flagged customer is still on the contact."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from producers.replay import replay
from stream.embedded import free_port
from tests.alerts import AlertsTopic, expected, open_alerts, send
from tests.conftest import RunningGateway, changelog_ends, redis_client, wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
XSS = '<img src=x onerror="alert(1)">'


def event(n: int, kind: str, second: float, contact: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"e{n}", "type": kind, "ts": (T0 + timedelta(seconds=second)).isoformat(),
            "contact_id": contact, **fields}


def conversation_stream() -> list[dict[str, Any]]:
    """c-chat: a chat that turns sour and asks for a supervisor (in progress at the end);
    c-voice: a call with a long hold and two transfers, transcribed; c-calm: a calm chat;
    c-first / c-again: one customer twice in an hour, unhappy the second time."""
    rows: list[tuple[str, float, str, dict[str, Any]]] = [
        ("contact.queued", 0, "c-chat", {"queue": "chat", "channel": "chat"}),
        ("contact.answered", 20, "c-chat", {"queue": "chat", "agent_id": "a1"}),
        ("chat.message", 25, "c-chat", {"sender": "customer",
                                        "text": "Hi, my internet keeps dropping."}),
        ("chat.message", 40, "c-chat", {"sender": "agent", "text": "Sorry, let me check."}),
        ("chat.message", 90, "c-chat", {"sender": "customer",
                                        "text": "third hour on hold, still no answer"}),
        ("chat.message", 120, "c-chat", {"sender": "customer",
                                         "text": f"I want a supervisor {XSS}"}),
        ("contact.queued", 0, "c-voice", {"queue": "support"}),
        ("contact.answered", 10, "c-voice", {"queue": "support", "agent_id": "a2"}),
        ("transcript.segment", 15, "c-voice", {"speaker": "customer",
                                               "text": "hello yes I am calling about my bill"}),
        ("contact.held", 30, "c-voice", {"agent_id": "a2"}),
        ("contact.resumed", 450, "c-voice", {"agent_id": "a2"}),
        ("contact.transferred", 500, "c-voice", {"agent_id": "a2", "to_queue": "billing"}),
        ("contact.answered", 520, "c-voice", {"queue": "billing", "agent_id": "a3"}),
        ("contact.transferred", 600, "c-voice", {"agent_id": "a3", "to_agent": "a4"}),
        ("transcript.segment", 610, "c-voice", {"speaker": "customer",
                                                "text": "this is the third person I talk to"}),
        ("contact.ended", 700, "c-voice", {"agent_id": "a4"}),
        ("contact.wrapped", 720, "c-voice", {"agent_id": "a4"}),
        ("contact.queued", 0, "c-calm", {"queue": "chat", "channel": "chat"}),
        ("chat.message", 5, "c-calm", {"sender": "customer",
                                       "text": "Great, that fixed it, thanks!"}),
        ("contact.queued", 0, "c-first", {"queue": "billing", "customer_id": "cust-9"}),
        ("contact.abandoned", 10, "c-first", {"queue": "billing"}),
        ("contact.queued", 1800, "c-again", {"queue": "chat", "channel": "chat",
                                             "customer_id": "cust-9"}),
        ("chat.message", 1805, "c-again", {"sender": "customer",
                                           "text": "I already called, nobody fixed it. Useless."}),
    ]
    events = [event(n, kind, sec, contact, **fields)
              for n, (kind, sec, contact, fields) in enumerate(rows)]
    # The repeat arrives first and the earlier contact last; one line twice.
    events.sort(key=lambda e: e["contact_id"] != "c-again")
    return [*events, events[3]]


def qa_items(settings: Any) -> dict[str, dict[str, Any]]:
    raw = redis_client(settings).hgetall(settings.qa_key("default"))
    return {k.decode(): orjson.loads(v) for k, v in raw.items()}


def rules(item: dict[str, Any]) -> set[str]:
    return {r["rule"] for r in item.get("reasons", [])}


def record_action(settings: Any, contact: str, action: str, who: str = "quinn") -> None:
    """As the gateway does (gateway/server.py, record_qa_action)."""
    redis_client(settings).xadd(settings.qa_actions_stream, {
        "tenant": "default", "contact_id": contact, "action": action, "who": who,
        "role": "qa", "note": "", "at_ms": str(int(time.time() * 1000))})


def test_a_replayed_stream_fills_the_qa_queue_and_reviews_survive_a_restart(
        make_settings: Any, start_worker: Any, tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in conversation_stream()))
    settings = make_settings()
    worker = start_worker(settings)
    replay(path, settings, speed=None, wait=True, wait_timeout_s=120, progress=None)

    expected = {"c-chat": {"escalation", "low-sentiment"},
                "c-voice": {"long-hold", "many-transfers"},
                "c-first": set(),  # abandoned after 10 s: no flag
                "c-again": {"repeat-customer-unhappy"}}

    def settled() -> bool:
        items = qa_items(settings)
        return all(rules(items.get(c, {})) >= want for c, want in expected.items() if want)

    wait_until(settled, timeout=60)
    items = qa_items(settings)
    assert set(items) == {"c-chat", "c-voice", "c-again"}  # c-calm and c-first not flagged

    # Both tables' changelogs end on a lone record, so the embedded broker reports their
    # true ends: a recovery reads up to exactly there, and one interrupted by another
    # rebalance cannot have read past the end reported next (Faust's ConsistencyError).
    for table in ("partition_state", "customer_to_contacts"):
        ends = changelog_ends(settings, table)
        assert ends and all(reported == after for reported, after in ends.values()), (
            table, ends)
    chat = items["c-chat"]
    assert chat["status"] == "open" and chat["in_progress"] is True
    escalation = next(r for r in chat["reasons"] if r["rule"] == "escalation")
    assert [e["text"] for e in escalation["evidence"]] == [
        f"I want a supervisor {XSS}"]
    assert [m["text"] for m in chat["messages"]][:2] == [
        "Hi, my internet keeps dropping.", "third hour on hold, still no answer"]
    assert items["c-again"]["repeat"] == {"previous_contact": "c-first", "gap_s": 1800.0}
    voice = items["c-voice"]
    assert voice["in_progress"] is False and voice["transfers"] == 2 and voice["hold_s"] == 420
    # newest first: by the contact's stream time when it was flagged
    index = redis_client(settings).zrevrange(settings.qa_index_key("default"), 0, -1)
    by_time = sorted(items, key=lambda c: items[c]["flagged_at_ms"], reverse=True)
    assert [c.decode() for c in index] == by_time and by_time[0] == "c-again"

    # The snapshot lists the flagged contact still in progress (the alert rules read it).
    def flagged_in_progress() -> dict[str, Any]:
        raw = redis_client(settings).get(settings.snapshot_key("default"))
        return dict(orjson.loads(raw).get("flagged_contacts") or {}) if raw else {}

    wait_until(lambda: set(flagged_in_progress()) == {"c-chat", "c-again"}, timeout=10)
    assert flagged_in_progress()["c-chat"]["agent"] == "a1"

    # QA claims and reviews c-chat; someone else's review of a claimed item is refused.
    record_action(settings, "c-chat", "claim")
    record_action(settings, "c-chat", "review", who="rae")
    record_action(settings, "c-chat", "review")
    record_action(settings, "c-voice", "dismiss")
    wait_until(lambda: qa_items(settings)["c-chat"]["status"] == "reviewed"
               and qa_items(settings)["c-voice"]["status"] == "dismissed", timeout=30)
    reviewed = qa_items(settings)["c-chat"]
    assert reviewed["reviewed_by"] == "quinn"
    assert [h["action"] for h in reviewed["history"]] == ["claim", "review"]

    # Restart: the same stream again (replayed twice), and more for c-chat.
    worker.stop()
    start_worker(settings)
    later = tmp_path / "later.jsonl"
    later.write_bytes(orjson.dumps(event(
        99, "chat.message", 200, "c-chat", sender="customer",
        text="I will cancel my account and file a formal complaint")) + b"\n")
    replay(path, settings, speed=None, wait=True, wait_timeout_s=120, progress=None)
    replay(later, settings, speed=None, wait=True, wait_timeout_s=120, progress=None)
    wait_until(lambda: any(m["text"].startswith("I will cancel")
                           for m in qa_items(settings)["c-chat"]["messages"]), timeout=30)
    after = qa_items(settings)
    assert set(after) == {"c-chat", "c-voice", "c-again"}
    assert after["c-chat"]["status"] == "reviewed" and after["c-chat"]["reviewed_by"] == "quinn"
    assert after["c-voice"]["status"] == "dismissed"
    assert [h["action"] for h in after["c-chat"]["history"]] == ["claim", "review"]


def flagged_in_progress(settings: Any) -> dict[str, Any]:
    """The snapshot's flagged contacts still in progress (docs/live-state.md)."""
    raw = redis_client(settings).get(settings.snapshot_key("default"))
    return dict(orjson.loads(raw).get("flagged_contacts") or {}) if raw else {}


def test_supervisors_get_a_live_alert_while_a_flagged_customer_is_on_the_contact(
        make_settings: Any, start_worker: Any) -> None:
    # A chat that turns to an escalation while the agent is still with the customer, then
    # ends. Sent in steps, each once the worker has evaluated the flags of the one before
    # (it does so after each batch, the backtest after each event): then the instants see
    # the same flags live as in the backtest. The day is 2026-11-23: no live window.
    settings = make_settings(topic_partitions=1, alerts_live_window_s=0)
    steps = [
        [{"event_id": "e0", "type": "agent.state", "ts": T0.isoformat(), "agent_id": "a1",
          "state": "available", "team": "Blue", "queues": ["chat"]},
         event(1, "contact.queued", 0, "c-sour", queue="chat", channel="chat"),
         event(2, "contact.answered", 20, "c-sour", queue="chat", agent_id="a1"),
         event(3, "chat.message", 25, "c-sour", sender="customer",
               text="Hi, my internet keeps dropping."),
         event(4, "chat.message", 90, "c-sour", sender="customer",
               text="This is useless, I want to speak to a supervisor")],
        [event(5, "chat.message", 150, "c-sour", sender="agent",
               text="I am getting my supervisor now."),
         event(6, "contact.ended", 200, "c-sour", agent_id="a1")],
        [event(7, "contact.wrapped", 230, "c-sour", agent_id="a1")],
    ]
    events = [e for step in steps for e in step]
    want = expected(events, settings)
    flagged = [(t["state"], t["at"][11:19], t["scope"]["agent"], t["scope"]["reason"])
               for t in want if t["rule_id"] == "flagged-customer-on-contact"]
    assert flagged == [("raised", "09:01:30", "a1", "c-sour"),
                       ("cleared", "09:03:20", "a1", "c-sour")]
    assert [t for t in want if t["rule_id"] == "flagged-customer-on-contact"] == want
    topic = AlertsTopic(settings)
    start_worker(settings)
    try:
        send(settings, steps[0])
        wait_until(lambda: "c-sour" in flagged_in_progress(settings), timeout=60)
        send(settings, steps[1])
        # Raised while the customer is still there, for supervisors, with the contact.
        wait_until(lambda: len(open_alerts(settings)) == 1, timeout=30)
        (alert,) = open_alerts(settings).values()
        assert alert == want[0] and alert["audience"] == ["supervisor"]
        assert alert["message"] == "a1 (Blue) is with a flagged customer (contact c-sour)"
        # The contact ended: no longer in progress; the next instant clears the alert.
        wait_until(lambda: flagged_in_progress(settings) == {}, timeout=30)
        assert len(open_alerts(settings)) == 1
        send(settings, steps[2])
        wait_until(lambda: open_alerts(settings) == {}, timeout=30)
        assert topic.read(len(want)) == want
    finally:
        topic.close()


async def next_message(ws: ClientConnection, kind: str, timeout: float = 10.0,
                       where: Any = None) -> dict[str, Any]:
    """The next message of type ``kind`` (for which ``where`` holds); others are skipped."""
    deadline = time.monotonic() + timeout
    while True:
        message: dict[str, Any] = orjson.loads(
            await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic())))
        if message["type"] == kind and (where is None or where(message)):
            return message


async def act(ws: ClientConnection, action: str, contact: str) -> None:
    await ws.send(orjson.dumps({"type": "qa_action", "action": action,
                                "contact_id": contact}).decode())


def item_is(contact: str, status: str) -> Any:
    return lambda m: m["item"]["contact_id"] == contact and m["item"]["status"] == status


async def test_qa_acts_on_the_queue_over_the_websocket_and_other_roles_are_refused(
        make_settings: Any, start_worker: Any, tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in conversation_stream()))
    settings = make_settings(http_port=free_port(), client_update_interval_s=0.1, tokens={
        "tok-qa": {"name": "quinn", "role": "qa"}, "tok-qa2": {"name": "rae", "role": "qa"},
        "tok-sup": {"name": "sam", "role": "supervisor"},
        "tok-viewer": {"name": "val", "role": "viewer"}})
    start_worker(settings)
    replay(path, settings, speed=None, wait=True, wait_timeout_s=120, progress=None)
    wait_until(lambda: set(qa_items(settings)) == {"c-chat", "c-voice", "c-again"}, timeout=60)
    gateway = RunningGateway(settings)
    await gateway.start()
    try:
        async with connect(gateway.ws_url + "?token=tok-qa") as quinn, \
                connect(gateway.ws_url + "?token=tok-qa2") as rae, \
                connect(gateway.ws_url + "?token=tok-sup") as sup, \
                connect(gateway.ws_url + "?token=tok-viewer") as viewer:
            queue = await next_message(quinn, "qa_queue")
            assert {i["contact_id"]: i["status"] for i in queue["items"]} == {
                "c-chat": "open", "c-voice": "open", "c-again": "open"}
            await next_message(rae, "qa_queue")

            # claim: recorded by the gateway, relayed and folded by the worker, and the
            # changed item comes back to every QA client
            await act(quinn, "claim", "c-chat")
            assert await next_message(quinn, "qa_action_sent") == {
                "type": "qa_action_sent", "tenant": "default", "contact_id": "c-chat",
                "action": "claim"}
            claimed = await next_message(quinn, "qa_item", where=item_is("c-chat", "claimed"))
            assert claimed["item"]["claimed_by"] == "quinn"
            await next_message(rae, "qa_item", where=item_is("c-chat", "claimed"))
            # another QA member may not review what quinn claimed
            await act(rae, "review", "c-chat")
            refusal = await next_message(rae, "error")
            assert refusal["message"] == "qa_action: claimed by quinn"

            await act(quinn, "review", "c-chat")
            reviewed = await next_message(quinn, "qa_item", where=item_is("c-chat", "reviewed"))
            assert reviewed["item"]["reviewed_by"] == "quinn"
            assert [h["action"] for h in reviewed["item"]["history"]] == ["claim", "review"]
            await act(quinn, "dismiss", "c-voice")
            dismissed = await next_message(quinn, "qa_item",
                                           where=item_is("c-voice", "dismissed"))
            assert dismissed["item"]["dismissed_by"] == "quinn"

            # a supervisor and a viewer may not act on the queue
            for ws in (sup, viewer):
                await act(ws, "claim", "c-again")
                message = await next_message(ws, "error")
                assert message["message"] == (
                    "qa_action: only the qa and admin roles act on the QA queue")
    finally:
        await gateway.stop()
    r = redis_client(settings)
    assert r.xlen(settings.qa_actions_stream) == 3  # quinn's three; nothing of the others
    statuses = {c: i["status"] for c, i in qa_items(settings).items()}
    assert statuses == {"c-chat": "reviewed", "c-voice": "dismissed", "c-again": "open"}


def test_qa_rebuild_gives_the_queue_back_from_the_topic_after_redis_lost_it(
        make_settings: Any, start_worker: Any, tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in conversation_stream()))
    settings = make_settings()
    start_worker(settings)
    replay(path, settings, speed=None, wait=True, wait_timeout_s=120, progress=None)
    wait_until(lambda: set(qa_items(settings)) == {"c-chat", "c-voice", "c-again"}, timeout=60)
    record_action(settings, "c-chat", "claim")
    record_action(settings, "c-chat", "release")
    record_action(settings, "c-chat", "claim", who="rae")
    record_action(settings, "c-chat", "review", who="quinn")  # refused: rae claimed it
    record_action(settings, "c-chat", "review", who="rae")
    record_action(settings, "c-voice", "dismiss")
    record_action(settings, "c-again", "claim")
    wait_until(lambda: {c: i["status"] for c, i in qa_items(settings).items()} == {
        "c-chat": "reviewed", "c-voice": "dismissed", "c-again": "claimed"}, timeout=30)
    r = redis_client(settings)
    before = qa_items(settings)
    index = r.zrevrange(settings.qa_index_key("default"), 0, -1, withscores=True)
    assert before["c-chat"]["reviewed_by"] == "rae" and len(index) == 3

    # Redis loses the queue (the worker goes on running); the command folds the topic again.
    r.delete(settings.qa_key("default"), settings.qa_index_key("default"))
    assert qa_items(settings) == {}
    done = subprocess.run([sys.executable, "-m", "stream.cli", "qa-rebuild"],
                          env={**os.environ, **settings.to_env()}, capture_output=True,
                          timeout=120, check=True)
    assert b"QA queue rebuilt: 3 items of 1 tenant(s)" in done.stderr, done.stderr
    assert qa_items(settings) == before
    assert r.zrevrange(settings.qa_index_key("default"), 0, -1, withscores=True) == index

    # The worker folds what comes next into the rebuilt queue.
    record_action(settings, "c-again", "review")
    wait_until(lambda: qa_items(settings)["c-again"]["status"] == "reviewed", timeout=30)
    assert [h["action"] for h in qa_items(settings)["c-again"]["history"]] == [
        "claim", "review"]


async def test_a_batch_of_qa_events_folds_in_order_and_skips_only_what_it_cannot_fold(
        make_settings: Any) -> None:
    """The worker folds the QA topic a batch at a time (one transaction per tenant): events
    of one item apply in their order within the batch, a refused action is told on the
    channel, and an event that is not a QA event is skipped without losing the others."""
    import redis.asyncio as aioredis

    from stream.qa.worker import QaQueueStore

    settings = make_settings()
    client = aioredis.from_url(settings.redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe(settings.qa_channel("default"))
    store = QaQueueStore(settings, client)

    def action(n: int, contact: str, name: str, who: str, tenant: str = "default") -> Any:
        return {"kind": "action", "tenant": tenant, "contact_id": contact, "action": name,
                "who": who, "role": "qa", "action_id": f"1700000000000-{n}", "at_ms": n}

    flag = {"kind": "flag", "tenant": "default", "contact_id": "c1", "at_ms": 1,
            "content": {"reasons": [{"rule": "escalation"}]}}
    await store.apply([
        flag,
        action(1, "c1", "claim", "rae"),
        {"kind": "nonsense", "tenant": "default", "contact_id": "c1"},  # skipped
        action(2, "c1", "review", "quinn"),  # refused: rae has it
        action(3, "c1", "review", "rae"),
        {"kind": "flag", "tenant": "other", "contact_id": "c9", "at_ms": 5, "content": {}},
        {"contact_id": "c1"},  # no tenant: skipped
    ])
    items = qa_items(settings)
    assert list(items) == ["c1"]
    assert (items["c1"]["status"], items["c1"]["reviewed_by"]) == ("reviewed", "rae")
    assert [h["action"] for h in items["c1"]["history"]] == ["claim", "review"]
    assert redis_client(settings).hexists(settings.qa_key("other"), "c9")
    assert (store.skipped, store.refused) == (2, 1)
    told = []
    deadline = time.monotonic() + 5
    while "qa_refused" not in told and time.monotonic() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if message is not None:
            told.append(orjson.loads(message["data"])["type"])
    assert told.count("qa_refused") == 1 and "qa_item" in told

    await store.apply([action(1, "c1", "claim", "rae")])  # folded before: nothing changes
    assert qa_items(settings) == items
    await pubsub.aclose()
    await client.aclose()

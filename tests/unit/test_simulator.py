"""The contact-center simulator: deterministic, valid, consistent and realistic enough."""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from producers.simulator import (
    DEFAULT_START,
    SimConfig,
    default_config,
    simulate,
    write_jsonl,
)
from stream.events import EVENT_ADAPTER

Events = list[dict[str, object]]
TEXT_CHANNELS = {"chat", "sms", "social"}


def ts(event: dict[str, object]) -> float:
    return datetime.fromisoformat(str(event["ts"])).timestamp()


@pytest.fixture(scope="module")
def day() -> Events:
    """The default day: 40 agents, 08:00-16:00 UTC, seed 1."""
    return list(simulate(default_config()))


def test_same_seed_same_events_and_other_seed_differs(day: Events) -> None:
    assert list(simulate(default_config())) == day
    other = list(simulate(default_config(seed=2)))
    assert other != day
    assert {e["event_id"] for e in other}.isdisjoint({e["event_id"] for e in day})


def test_every_event_validates_and_ids_are_unique(day: Events) -> None:
    for event in day:
        EVENT_ADAPTER.validate_python(event)
    ids = [e["event_id"] for e in day]
    assert len(set(ids)) == len(ids)
    assert all(e["tenant"] == "default" for e in day)


def test_json_ready_with_ms_timestamps(day: Events) -> None:
    assert orjson.loads(orjson.dumps(day)) == day
    assert json.loads(json.dumps(day[:500])) == day[:500]
    for event in day[:200]:
        stamp = str(event["ts"])
        assert stamp.endswith("Z") and len(stamp) == len("2026-11-23T08:00:00.000Z")
    assert day[0]["ts"] == "2026-11-23T08:00:00.000Z"


def test_event_time_never_goes_back(day: Events) -> None:
    times = [ts(e) for e in day]
    assert all(a <= b for a, b in itertools.pairwise(times))


def test_contact_lifecycle_order(day: Events) -> None:
    """Per leg (contact, queue): queued, then one outcome. Per segment (contact, agent):
    answered <= held < resumed <= ended <= wrapped, and all of them are there."""
    queued: dict[tuple[object, object], float] = {}
    outcome: dict[tuple[object, object], str] = {}
    seg: dict[tuple[object, object], dict[str, float]] = defaultdict(dict)
    for e in day:
        kind, t = e["type"], ts(e)
        cid = e.get("contact_id")
        if kind == "contact.queued":
            assert (cid, e["queue"]) not in queued, "queued twice in one queue"
            queued[(cid, e["queue"])] = t
        elif kind in ("contact.answered", "contact.abandoned"):
            leg = (cid, e["queue"])
            assert leg in queued and queued[leg] <= t
            assert leg not in outcome, "two outcomes for one leg"
            outcome[leg] = kind
            if kind == "contact.answered":
                assert (cid, e["agent_id"]) not in seg, "one agent answered a contact twice"
                seg[(cid, e["agent_id"])]["answered"] = t
        elif kind in ("contact.held", "contact.resumed", "contact.ended", "contact.wrapped",
                      "contact.transferred"):
            s = seg[(cid, e["agent_id"])]
            assert "answered" in s, f"{kind} before answered"
            s[kind.split(".")[1]] = t
    assert set(outcome) == set(queued), "every leg has an outcome by the end of the stream"
    for s in seg.values():
        assert s["answered"] <= s["ended"] <= s["wrapped"]
        if "held" in s:
            assert s["answered"] <= s["held"] < s["resumed"] <= s["ended"]
        if "transferred" in s:
            assert s["transferred"] == s["ended"]


def test_transfer_requeues_in_the_target_queue_at_once(day: Events) -> None:
    transfers = [i for i, e in enumerate(day) if e["type"] == "contact.transferred"]
    assert transfers
    for i in transfers:
        e = day[i]
        ended, requeued = day[i + 1], day[i + 3]  # i + 2 is the agent going to ACW
        assert ended["type"] == "contact.ended" and ended["agent_id"] == e["agent_id"]
        assert requeued["type"] == "contact.queued" and requeued["queue"] == e["to_queue"]
        assert requeued["contact_id"] == e["contact_id"] and requeued["ts"] == e["ts"]


def test_agent_states_follow_the_contacts(day: Events) -> None:
    """Answered only by an available agent, who is on_contact until ended, then in ACW
    until wrapped; every agent.state names the agent, team and queues."""
    state: dict[object, object] = {}
    talking: dict[object, object] = {}  # agent -> contact in talk
    wrapping: dict[object, object] = {}  # agent -> contact in ACW
    skills: dict[object, list[str]] = {}
    for i, e in enumerate(day):
        kind = e["type"]
        if kind == "agent.state":
            agent = e["agent_id"]
            assert e["name"] and e["team"] and e["queues"]
            skills[agent] = list(e["queues"])  # type: ignore[call-overload]
            if agent in talking:
                assert e["state"] == "on_contact" and state.get(agent) != "on_contact"
            elif agent in wrapping:
                assert e["state"] == "acw"
            state[agent] = e["state"]
        elif kind == "contact.answered":
            agent = e["agent_id"]
            assert state.get(agent) == "available"
            assert e["queue"] in skills[agent], "answered by an agent not skilled for it"
            assert agent not in talking and agent not in wrapping
            nxt = day[i + 1]
            assert nxt["type"] == "agent.state" and nxt["agent_id"] == agent
            assert nxt["state"] == "on_contact" and nxt["ts"] == e["ts"]
            talking[agent] = e["contact_id"]
        elif kind in ("contact.held", "contact.resumed"):
            assert talking.get(e["agent_id"]) == e["contact_id"]
        elif kind == "contact.ended":
            agent = e["agent_id"]
            assert talking.pop(agent) == e["contact_id"]
            wrapping[agent] = e["contact_id"]
        elif kind == "contact.wrapped":
            agent = e["agent_id"]
            assert wrapping.pop(agent) == e["contact_id"] and state[agent] == "acw"
    assert not talking and not wrapping


def test_every_shift_starts_and_ends_inside_the_default_day(day: Events) -> None:
    seq: dict[object, list[object]] = defaultdict(list)
    for e in day:
        if e["type"] == "agent.state":
            seq[e["agent_id"]].append(e["state"])
    assert len(seq) == 40
    worked = [s for s in seq.values() if "available" in s]
    assert len(worked) >= 35  # a few may be off sick
    for states in seq.values():
        assert states[0] == "logged_out" and states[-1] == "logged_out"
    teams = {e["team"] for e in day if e["type"] == "agent.state"}
    assert 3 <= len(teams) <= 4
    names = {e["name"] for e in day if e["type"] == "agent.state"}
    assert len(names) == 40


def test_breaks_lunches_and_staggered_logins(day: Events) -> None:
    reasons = Counter(
        e.get("reason") for e in day if e["type"] == "agent.state" and e["state"] == "aux"
    )
    assert reasons["break"] >= 40 and reasons["lunch"] >= 20
    assert set(reasons) <= {"break", "lunch", "meeting", "training"}
    logins: dict[object, float] = {}
    for e in day:
        if e["type"] == "agent.state" and e["state"] == "available":
            logins.setdefault(e["agent_id"], ts(e))
    assert max(logins.values()) - min(logins.values()) >= 3600  # not everyone at 08:00


def test_arrivals_vary_by_hour(day: Events) -> None:
    per_hour = Counter(
        str(e["ts"])[11:13] for e in day if e["type"] == "contact.queued"
        and str(e["ts"]) < "2026-11-23T16"
    )
    assert len(per_hour) == 8
    assert max(per_hour.values()) > 1.5 * min(per_hour.values())
    assert per_hour.most_common(1)[0][0] in ("10", "11", "12", "13")


def test_realistic_day_figures(day: Events) -> None:
    queued: dict[tuple[object, object], float] = {}
    offered = answered_in_sl = abandoned = 0
    for e in day:
        if e["type"] == "contact.queued":
            queued[(e["contact_id"], e["queue"])] = ts(e)
            offered += 1
        elif e["type"] == "contact.answered":
            answered_in_sl += ts(e) - queued[(e["contact_id"], e["queue"])] <= 20
        elif e["type"] == "contact.abandoned":
            abandoned += 1
    contacts = len({cid for cid, _ in queued})
    assert 2000 <= contacts <= 4000
    assert 0.6 <= answered_in_sl / offered <= 0.95
    assert 0.005 <= abandoned / offered <= 0.1
    queues = Counter(q for _, q in queued)
    assert set(queues) == {"billing", "sales", "support", "chat"}
    customers = Counter(
        e["customer_id"] for e in day if e["type"] == "contact.queued"
    )
    assert sum(1 for n in customers.values() if n > 1) >= 50  # some call again


def test_chat_messages_belong_to_text_contacts_in_their_lifetime(day: Events) -> None:
    channel: dict[object, object] = {}
    first: dict[object, float] = {}
    last: dict[object, float] = {}
    senders: Counter[object] = Counter()
    for e in day:
        cid = e.get("contact_id")
        if e["type"] == "contact.queued":
            channel[cid] = e["channel"]
            first.setdefault(cid, ts(e))
        elif e["type"] in ("contact.ended", "contact.abandoned"):
            last[cid] = ts(e)
        elif e["type"] == "chat.message":
            assert channel[cid] in TEXT_CHANNELS
            assert first[cid] <= ts(e)
            assert cid not in last, "message after the contact ended"
            assert e["text"]
            senders[e["sender"]] += 1
    assert senders["customer"] > 500 and senders["agent"] > 500 and senders["bot"] > 100
    voice = [c for c, ch in channel.items() if ch == "voice"]
    assert len(voice) > len(channel) // 2


def test_holds_happen_on_voice_only(day: Events) -> None:
    channel = {e["contact_id"]: e["channel"] for e in day if e["type"] == "contact.queued"}
    held = [e["contact_id"] for e in day if e["type"] == "contact.held"]
    assert len(held) > 50
    assert all(channel[c] == "voice" for c in held)


def test_default_day_is_fast() -> None:
    began = time.perf_counter()
    count = sum(1 for _ in simulate(default_config(seed=3)))
    assert count > 10_000
    assert time.perf_counter() - began < 2.0


def test_multi_day_run_with_a_zone_and_a_tenant() -> None:
    start = datetime(2026, 11, 27, 7, 30, tzinfo=ZoneInfo("Europe/Berlin"))  # Friday
    config = default_config(hours=60, agents=12, seed=5, start=start, tenant="acme")
    assert (config.open_hour, config.close_hour) == (8.0, 20.0)
    events = list(simulate(config))
    times = [ts(e) for e in events]
    assert all(a <= b for a, b in itertools.pairwise(times))
    assert times[0] == start.timestamp()
    for e in events:
        EVENT_ADAPTER.validate_python(e)
    assert all(e["tenant"] == "acme" and str(e["event_id"]).startswith("sim-acme-5-")
               for e in events)
    by_day = Counter(
        datetime.fromisoformat(str(e["ts"])).astimezone(start.tzinfo).date().isoformat()
        for e in events if e["type"] == "contact.queued"
    )
    # Friday from 08:00, a quieter Saturday, Sunday until 19:30 (quieter still).
    assert by_day["2026-11-27"] > by_day["2026-11-28"] > by_day["2026-11-29"] > 0
    first_contact = min(t for t, e in zip(times, events, strict=True)
                        if e["type"] == "contact.queued")
    assert first_contact >= datetime(2026, 11, 27, 8, tzinfo=start.tzinfo).timestamp()


def test_write_jsonl_round_trip(tmp_path: Path) -> None:
    config = default_config(hours=1, agents=8)
    path = tmp_path / "sim.jsonl"
    count = write_jsonl(simulate(config), path)
    lines = path.read_bytes().splitlines()
    assert count == len(lines) > 0
    assert [orjson.loads(line) for line in lines] == list(simulate(config))


def test_config_is_checked() -> None:
    base = default_config()
    with pytest.raises(ValueError, match="aware"):
        replace(base, start=datetime(2026, 11, 23, 8))  # noqa: DTZ001
    with pytest.raises(ValueError, match="transfer target"):
        SimConfig(
            queues=(replace(base.queues[0], transfer_to=("nowhere",)),), teams=base.teams,
        )
    with pytest.raises(ValueError, match="unknown queue"):
        SimConfig(queues=base.queues[3:], teams=base.teams)  # chat only
    assert base.start == DEFAULT_START == datetime(2026, 11, 23, 8, tzinfo=UTC)

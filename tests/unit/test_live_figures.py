"""The pure figure engine (partition state + merge) on small, hand-computed sequences."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from stream.events import EVENT_ADAPTER, Event
from stream.metrics.definitions import (
    IN_PROGRESS,
    INTERVAL_MS,
    N_COUNTERS,
    Calendar,
    QueueRule,
    to_ms,
)
from stream.metrics.facts import AgentFacts, ContactFacts, Mark
from stream.metrics.merge import Merged, closed_until, diff_snapshots, snapshot
from stream.metrics.partition import PartitionState, PartitionView

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
_ids = itertools.count()


def ev(kind: str, at: float, **fields: object) -> Event:
    """An event ``at`` seconds after 09:00 UTC."""
    ts = (T0 + timedelta(seconds=at)).isoformat()
    body = {"type": kind, "event_id": f"e{next(_ids)}", "ts": ts, **fields}
    return EVENT_ADAPTER.validate_python(body)


class Live:
    """One partition, with the merged snapshot of its view. A wrapper, not a subclass:
    PartitionState may be compiled (stream/compiled.py), and compiled classes take no
    interpreted subclasses."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.partition = PartitionState(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.partition, name)

    def snapshot(self, tenant: str) -> dict[str, object]:
        p = self.partition
        return snapshot(tenant, [p.view(tenant)], p.calendar, p.queue_rule,
                        p.lateness_ms, p.rolling_minutes)


def state(rule: QueueRule | None = None, zone: str = "UTC", lateness: float = 7200) -> Live:
    fixed = rule or QueueRule(sl_threshold_s=20)
    return Live(Calendar(ZoneInfo(zone)), lambda _q: fixed, lateness)


def answered_call(cid: str, queue: str, agent: str, queued: float, wait: float,
                  talk: float, acw: float) -> list[Event]:
    a = queued + wait
    return [
        ev("contact.queued", queued, contact_id=cid, queue=queue, channel="voice"),
        ev("contact.answered", a, contact_id=cid, queue=queue, agent_id=agent),
        ev("contact.ended", a + talk, contact_id=cid, agent_id=agent),
        ev("contact.wrapped", a + talk + acw, contact_id=cid, agent_id=agent),
    ]


def abandoned_call(cid: str, queue: str, queued: float, after: float) -> list[Event]:
    return [
        ev("contact.queued", queued, contact_id=cid, queue=queue, channel="voice"),
        ev("contact.abandoned", queued + after, contact_id=cid, queue=queue),
    ]


def day_events() -> list[Event]:
    """Billing: 3 answered (waits 10, 30, 20 s), 1 abandoned, 1 still waiting."""
    return [
        *answered_call("c1", "billing", "a1", 0, 10, 100, 20),
        *answered_call("c2", "billing", "a2", 60, 30, 200, 40),
        *answered_call("c3", "billing", "a1", 400, 20, 60, 0),
        *abandoned_call("c4", "billing", 500, 45),
        ev("contact.queued", 900, contact_id="c5", queue="billing", channel="voice"),
        ev("agent.state", 1000, agent_id="a1", state="available", team="Blue",
           name="Ana", queues=["billing"]),
    ]


def billing(live: Live) -> dict[str, object]:
    queues = live.snapshot("default")["queues"]
    assert isinstance(queues, dict)
    figures = queues["billing"]
    assert isinstance(figures, dict)
    return figures


def test_queue_figures_match_hand_computed_values() -> None:
    live = state()
    live.apply_all(day_events())
    q = billing(live)
    assert q["offered"] == 5
    assert q["answered"] == 3
    assert q["abandoned"] == 1
    assert q["answered_within_threshold"] == 2  # waits 10 and 20 (<= 20 s); 30 is late
    assert q["service_level"] == round(2 / 5, 4)
    assert q["asa_s"] == round((10 + 30 + 20) / 3, 3)
    assert q["handled"] == 3
    assert q["aht_s"] == round((120 + 240 + 60) / 3, 3)  # talk + ACW
    assert q["abandon_rate"] == round(1 / 5, 4)
    assert q["waiting"] == 1
    assert q["longest_wait_s"] == 100.0  # stream time 1000 s, queued at 900 s
    assert q["agents"] == {"available": 1, "on_contact": 0, "acw": 0, "aux": 0, "logged_out": 0}


def test_any_arrival_order_gives_the_same_figures() -> None:
    events = day_events()
    expected = state()
    expected.apply_all(events)
    rng = random.Random(7)
    for _ in range(25):
        shuffled = events[:]
        rng.shuffle(shuffled)
        live = state()
        live.apply_all(shuffled)
        assert live.snapshot("default") == expected.snapshot("default")


def test_duplicated_events_count_once() -> None:
    events = day_events()
    expected = state()
    expected.apply_all(events)
    live = state()
    live.apply_all(events + events[::2] + events)
    assert live.snapshot("default") == expected.snapshot("default")


def test_answer_arriving_before_queued_is_not_counted_until_queued() -> None:
    live = state()
    call = answered_call("c1", "billing", "a1", 0, 5, 50, 5)
    live.apply_all(call[1:])
    assert "billing" not in live.snapshot("default")["queues"]  # type: ignore[operator]
    live.apply(call[0])
    q = billing(live)
    assert (q["offered"], q["answered"], q["handled"], q["waiting"]) == (1, 1, 1, 0)


def test_a_contact_waiting_less_than_the_threshold_is_not_judged_yet() -> None:
    live = state()
    live.apply(ev("contact.queued", 0, contact_id="c1", queue="billing", channel="voice"))
    q = billing(live)
    assert (q["offered"], q["judged"]) == (1, 0)
    assert q["service_level"] is None  # no service-level event yet
    assert q["asa_s"] is None and q["aht_s"] is None
    live.apply(ev("agent.state", 25, agent_id="a1", state="available"))
    q = billing(live)
    assert (q["judged"], q["service_level"]) == (1, 0.0)  # waited 25 s > 20 s


def test_threshold_is_inclusive_and_per_queue() -> None:
    rules = {"billing": QueueRule(sl_threshold_s=30), "sales": QueueRule(sl_threshold_s=10)}
    live = Live(Calendar(ZoneInfo("UTC")), lambda q: rules[q])
    live.apply_all(answered_call("c1", "billing", "a1", 0, 30, 10, 0))
    live.apply_all(answered_call("c2", "sales", "a1", 0, 30, 10, 0))
    queues = live.snapshot("default")["queues"]
    assert queues["billing"]["service_level"] == 1.0  # type: ignore[index]
    assert queues["sales"]["service_level"] == 0.0  # type: ignore[index]


def test_today_is_the_centers_day_and_yesterday_drops_off() -> None:
    # 23:50 New York on the 21st is 04:50 UTC on the 22nd.
    live = state(zone="America/New_York")
    ny_2350 = (datetime(2026, 11, 22, 4, 50, tzinfo=UTC) - T0).total_seconds()
    live.apply(ev("agent.state", ny_2350 - 60, agent_id="a1", state="available"))
    live.apply_all(answered_call("late", "billing", "a1", ny_2350, 5, 60, 0))
    assert billing(live)["offered"] == 1
    assert live.snapshot("default")["day"] == "2026-11-21"
    # 00:10 New York on the 22nd: a new day; yesterday's contact no longer counts today.
    live.apply_all(answered_call("next", "billing", "a1", ny_2350 + 1200, 5, 60, 0))
    snap = live.snapshot("default")
    assert snap["day"] == "2026-11-22"
    assert billing(live)["offered"] == 1
    assert snap["agents"]["a1"]["handled"] == 1  # type: ignore[index]


def test_a_contact_belongs_to_the_interval_it_was_queued_in() -> None:
    live = state()
    # Queued at 09:14:55, answered at 09:15:10: it belongs to 09:00-09:15.
    live.apply_all(answered_call("c1", "billing", "a1", 895, 15, 60, 0))
    by_interval = live.intervals[("default", "billing")]
    assert list(by_interval) == [int(T0.timestamp()) * 1000]


def test_events_later_than_the_allowed_lateness_are_refused() -> None:
    live = state(lateness=600)
    live.apply(ev("contact.queued", 5000, contact_id="c1", queue="billing", channel="voice"))
    late = ev("contact.queued", 4000, contact_id="c2", queue="billing", channel="voice")
    on_time = ev("contact.queued", 4500, contact_id="c3", queue="billing", channel="voice")
    assert live.apply_all([late, on_time]) == [late]
    assert billing(live)["offered"] == 2


def test_agent_state_latest_event_time_wins() -> None:
    live = state()
    live.apply(ev("agent.state", 50, agent_id="a1", state="aux", reason="break"))
    live.apply(ev("agent.state", 10, agent_id="a1", state="available"))
    agent = live.snapshot("default")["agents"]["a1"]  # type: ignore[index]
    assert (agent["state"], agent["reason"]) == ("aux", "break")
    assert agent["since_epoch"] == T0.timestamp() + 50
    live.apply(ev("agent.state", 30, agent_id="a1", state="on_contact"))
    snap = live.snapshot("default")
    agent = snap["agents"]["a1"]  # type: ignore[index]
    # 10-30 available, 30-50 on contact; then aux (neither busy nor idle).
    assert (agent["busy_s"], agent["idle_s"], agent["occupancy"]) == (20.0, 20.0, 0.5)


def test_transfer_to_a_queue_offers_the_contact_there_too() -> None:
    live = state()
    live.apply_all([
        *answered_call("c1", "billing", "a1", 0, 5, 30, 10)[:2],
        ev("contact.transferred", 60, contact_id="c1", agent_id="a1", to_queue="sales"),
        ev("contact.wrapped", 70, contact_id="c1", agent_id="a1"),
        ev("contact.answered", 80, contact_id="c1", queue="sales", agent_id="a2"),
    ])
    queues = live.snapshot("default")["queues"]
    assert queues["billing"]["handled"] == 1  # type: ignore[index]
    assert queues["billing"]["aht_s"] == 65.0  # type: ignore[index]
    assert queues["sales"]["offered"] == 1  # type: ignore[index]
    assert queues["sales"]["asa_s"] == 20.0  # type: ignore[index]


def stored(records: tuple[list[object] | None, list[tuple[int, list[Mark]]]]
           ) -> tuple[list[object] | None, dict[int, list[list[object]]]]:
    """An agent's records (``take_records``) as the changelog gives them back: JSON, hours
    without marks deleted."""
    profile, hours = records
    return orjson.loads(orjson.dumps(profile)), {
        hour: orjson.loads(orjson.dumps(marks)) for hour, marks in hours if marks}


def test_an_agents_records_written_as_they_change_restore_the_same_agent() -> None:
    """Each take writes the profile if it changed and only the hours whose marks changed;
    the records so kept, trimmed hours deleted, load back the agent exactly."""
    live = state(lateness=600)
    store: dict[int, list[list[object]]] = {}
    profile: list[object] | None = None
    written: list[int] = []
    states = ["available", "on_contact", "acw", "available", "aux", "available"]
    times = [i * 1500 for i in range(12)]  # 25 minutes apart: five hours
    random.Random(3).shuffle(times)  # late and early marks move hours already written
    for n, at in enumerate(times):
        live.apply(ev("agent.state", at, agent_id="a1", state=states[n % len(states)],
                      name="Ana" if n == 0 else None, team="Blue" if n == 5 else None))
        if n % 3 == 2 or n == len(times) - 1:
            agent = live.agents[("default", "a1")]
            changed, hours = agent.take_records()
            profile = changed if changed is not None else profile
            for hour, marks in hours:
                written.append(hour)
                if marks:
                    store[hour] = orjson.loads(orjson.dumps(marks))
                else:
                    store.pop(hour, None)
    agent = live.agents[("default", "a1")]
    assert agent.take_records() == (None, [])  # nothing changed since the last take
    assert len(written) < len(times)  # hours, not marks; an hour is rewritten only if touched
    restored = AgentFacts.load(profile, store)
    assert (restored.timeline, restored.profile()) == (agent.timeline, agent.profile())
    assert (restored.name, restored.team) == ("Ana", "Blue")

    agent.trim(agent.timeline[-1][0] + 1)  # all but the last mark go (the state at the cutoff)
    _, hours = agent.take_records()
    for hour, marks in hours:
        if marks:
            store[hour] = orjson.loads(orjson.dumps(marks))
        else:
            store.pop(hour)
    assert AgentFacts.load(profile, store).timeline == agent.timeline == agent.timeline[-1:]
    assert len(store) == 1


def test_a_restored_agent_keeps_where_its_profile_came_from() -> None:
    """A later event with the same name moves the time the name was taken from; a restore
    must know it, or an older event with another name would win after it."""
    live = state()
    live.apply(ev("agent.state", 10, event_id="x1", agent_id="a1", state="available",
                  name="Ana"))
    live.apply(ev("agent.state", 30, event_id="x2", agent_id="a1", state="aux", name="Ana"))
    agent = live.agents[("default", "a1")]
    restored = state()
    restored.load_agent("default", "a1", AgentFacts.load(*stored(agent.take_records())))
    older = ev("agent.state", 20, event_id="x3", agent_id="a1", state="available", name="Anna")
    live.apply(older)
    restored.apply(older)
    assert restored.agents[("default", "a1")].name == live.agents[("default", "a1")].name == "Ana"


def test_facts_survive_a_dump_and_load_round_trip() -> None:
    live = state()
    live.apply_all(day_events())
    restored = state()
    for (tenant, cid), facts in live.contacts.items():
        restored.load_contact(tenant, cid, ContactFacts.load(facts.dump()))
    for (tenant, aid), agent in live.agents.items():
        restored.load_agent(tenant, aid, AgentFacts.load(*stored(agent.take_records())))
    assert restored.snapshot("default") == live.snapshot("default")


def test_expiry_archives_finished_contacts_but_keeps_figures() -> None:
    live = state(lateness=600)
    live.apply_all(day_events())
    live.apply(ev("contact.answered", 1001, contact_id="c5", queue="billing", agent_id="a2"))
    before = billing(live)
    live.apply(ev("agent.state", 3000, agent_id="a9", state="available"))
    archived, forgotten = live.expire()
    keys = {key for key, _ in archived}
    assert ("default", "c1") in keys and ("default", "c5") not in keys  # c5 not wrapped
    assert ("default", "c1") not in live.contacts and not forgotten
    after = billing(live)
    assert {k: after[k] for k in ("offered", "answered", "handled")} == {
        k: before[k] for k in ("offered", "answered", "handled")}


def test_a_contact_is_archived_once_beyond_the_lateness_and_an_unfinished_one_a_day_later(
) -> None:
    """"Before the horizon" is strict: a contact whose last event is exactly the lateness
    behind stream time can still be changed by an event on time, and stays."""
    live = state(lateness=600)
    live.apply_all(answered_call("done", "billing", "a1", 0, 10, 90, 30))  # last at 130 s
    live.apply_all(answered_call("open", "billing", "a2", 0, 10, 90, 30)[:2])  # at 10 s

    def archived_at(now_s: float) -> set[str]:
        live.apply(ev("agent.state", now_s, agent_id="a9", state="available"))
        return {contact for (_, contact), _ in live.expire()[0]}

    assert archived_at(130 + 600) == set()
    assert archived_at(130 + 600.001) == {"done"}
    assert archived_at(10 + 600 + 86_400) == set()
    assert archived_at(10 + 600 + 86_400.001) == {"open"}


def test_expiry_keeps_intervals_until_they_are_written_out_as_closed() -> None:
    """A partition days ahead of the slowest one (a fast replay) must not prune intervals
    that the publisher has not closed yet: their rows would never be written."""
    live = state(lateness=600)
    live.apply_all(day_events())
    live.apply(ev("agent.state", 5 * 86_400, agent_id="a9", state="available"))
    live.expire()
    starts = set(live.intervals[("default", "billing")])
    assert starts and live.archived  # contacts archived, their intervals kept
    live.written_until["default"] = max(starts) + INTERVAL_MS  # now closed and written out
    live.expire()
    assert not live.intervals[("default", "billing")]
    # nor are their archive records needed any more, but c5's: lost while waiting, it
    # counts as waiting for a day after it was queued (peaks of later intervals)
    assert set(live.archived) == {("default", "c5")}
    live.written_until["default"] = to_ms(T0 + timedelta(days=5))
    live.expire()
    assert not live.archived


def center_day(day: int) -> list[Event]:
    """A day of calls, 08:00-20:00, a call every 20 minutes (and one lost while waiting)."""
    events = [e for i in range(36) for e in answered_call(
        f"d{day}c{i}", "billing", f"a{i % 3}", day * 86_400 - 3600 + i * 1200, 15, 240, 30)]
    return [*events, ev("contact.queued", day * 86_400 + 600, contact_id=f"d{day}lost",
                        queue="billing", channel="voice")]


def run_days(live: Live, days: int) -> list[int]:
    """Feed ``days`` days, expiring after each event, intervals closed and written out as
    the stream time less the lateness passes them; the number of archived contacts held at
    the end of each day."""
    held = []
    for day in range(days):
        for event in center_day(day):
            live.apply(event)
            live.written_until["default"] = live.clock["default"] - live.lateness_ms - INTERVAL_MS
            live.expire()
        live.apply(ev("agent.state", day * 86_400 + 14 * 3600, agent_id="a9", state="available"))
        live.written_until["default"] = live.clock["default"] - live.lateness_ms - INTERVAL_MS
        live.expire()
        held.append(len(live.archived))
    return held


def test_a_week_holds_no_more_archived_contacts_or_marks_than_a_day_and_its_lateness(
        ) -> None:
    """Archived contributions go once no view, closing or restore needs them: the day
    views show and what is not yet written out as closed; a week holds what a day does."""
    live = state(lateness=7200)
    held = run_days(live, 7)
    assert held[1] == held[6]  # flat after the first day
    assert held[6] <= 36 + 2  # a day's contacts, and the lost ones still waiting spans
    assert len(live.intervals[("default", "billing")]) <= 96 + 8  # a day and the lateness
    # an agent's marks: today's, and the last before it (the state at the day's start)
    assert [mark[0] for mark in live.agents[("default", "a9")].timeline] == [
        to_ms(T0 + timedelta(days=day, hours=14)) for day in (5, 6)]


def test_expiry_forgets_every_archived_contribution_views_no_longer_need_restored_ones_too(
        ) -> None:
    """Expiry reads the archived contributions only when one of them may be old enough to
    go (their least instant is kept): after every expiry none is older than what views
    keep, whether it was archived here or loaded by a restore; an archived contact leaves
    nothing behind, not even a contribution of nothing."""
    live = state(lateness=7200)
    live.apply(ev("contact.ended", 100, contact_id="orphan", agent_id="a1"))  # no leg
    records: dict[tuple[str, str], list[object]] = {}  # what the changelog holds
    at_day_end = []
    ever: set[tuple[str, str]] = set()
    for day in range(3):
        for event in center_day(day):
            live.apply(event)
            live.written_until["default"] = live.clock["default"] - live.lateness_ms - INTERVAL_MS
            archived, forgotten = live.expire()
            records.update(archived)
            ever.update(key for key, _ in archived)
            for key in forgotten:
                del records[key]
            keep_from = live.keep_from("default")
            assert all(until >= keep_from for until in live.archived.values())
        at_day_end.append(dict(records))
    assert set(live.archived) == set(records)
    assert ("default", "orphan") in ever
    assert not set(live.contributions) - set(live.contacts)
    # The records of the end of the first day, loaded by a restore at the end of the third:
    # those the live state has forgotten since go at the restore's first expiry.
    restored = state(lateness=7200)
    for (tenant, cid), record in at_day_end[0].items():
        restored.load_archived(tenant, cid, orjson.loads(orjson.dumps(record)))
    restored.set_clocks(orjson.loads(orjson.dumps(live.clocks())))
    restored.written_until.update(live.written_until)  # the wrapped state's own
    _, forgotten = restored.expire()
    assert forgotten and set(forgotten) == set(at_day_end[0]) - set(live.archived)
    assert set(restored.archived) == set(at_day_end[0]) & set(live.archived)


def test_a_restore_after_days_of_forgetting_gives_the_same_figures() -> None:
    live = state(lateness=7200)
    records: dict[tuple[str, str], list[object] | None] = {}  # what the changelog holds
    for day in range(4):
        for event in center_day(day):
            live.apply(event)
        live.apply(ev("agent.state", day * 86_400 + 14 * 3600, agent_id="a9", state="available"))
        live.written_until["default"] = live.clock["default"] - live.lateness_ms - INTERVAL_MS
        archived, forgotten = live.expire()
        records.update((key, record) for key, record in archived)
        for key in forgotten:
            records[key] = None
    restored = state(lateness=7200)
    for (tenant, cid), record in records.items():
        if record is not None:
            restored.load_archived(tenant, cid, orjson.loads(orjson.dumps(record)))
    for (tenant, cid), facts in live.contacts.items():
        restored.load_contact(tenant, cid, ContactFacts.load(facts.dump()))
    for (tenant, aid), agent in live.agents.items():
        restored.load_agent(tenant, aid, AgentFacts.load(*stored(agent.take_records())))
    restored.set_clocks(orjson.loads(orjson.dumps(live.clocks())))
    restored.written_until = dict(live.written_until)
    restored.expire()
    assert restored.view("default").to_json() == live.view("default").to_json()
    assert restored.snapshot("default") == live.snapshot("default")


def test_a_restore_from_facts_and_archive_records_gives_the_same_figures() -> None:
    live = state(lateness=600)
    live.apply_all(day_events())
    live.apply(ev("contact.answered", 1001, contact_id="c5", queue="billing", agent_id="a2"))
    live.apply(ev("agent.state", 3000, agent_id="a9", state="available"))
    archived, _ = live.expire()
    assert archived
    restored = state(lateness=600)
    for (tenant, cid), record in archived:
        restored.load_archived(tenant, cid, orjson.loads(orjson.dumps(record)))
    for (tenant, cid), facts in live.contacts.items():
        restored.load_contact(tenant, cid, ContactFacts.load(orjson.loads(
            orjson.dumps(facts.dump()))))
    for (tenant, aid), agent in live.agents.items():
        restored.load_agent(tenant, aid, AgentFacts.load(*stored(agent.take_records())))
    restored.set_clocks(orjson.loads(orjson.dumps(live.clocks())))
    assert restored.view("default").to_json() == live.view("default").to_json()
    assert restored.snapshot("default") == live.snapshot("default")


def test_a_view_from_an_instant_holds_the_samples_from_its_first_interval_on() -> None:
    """The 10-s samples of waiting legs go with the intervals a view holds: from its first
    one on (the peaks of earlier intervals come from rows already closed)."""
    live = state()
    live.apply_all([*abandoned_call("c1", "billing", 0, 40 * 60),  # 09:00 to 09:40
                    *abandoned_call("c2", "billing", 35 * 60, 60)])  # 09:35 to 09:36
    whole = live.view("default")
    assert min(whole.intervals["billing"]) == to_ms(T0)
    assert min(whole.samples["billing"]) == to_ms(T0)
    later = live.view("default", since=to_ms(T0) + INTERVAL_MS)  # from 09:15
    first = min(later.intervals["billing"])
    assert first == to_ms(T0) + 2 * INTERVAL_MS  # 09:30, c2's
    assert later.samples["billing"] == {
        instant: count for instant, count in whole.samples["billing"].items()
        if instant >= first}
    assert later.samples["billing"] and later.samples["billing"] != whole.samples["billing"]


def test_a_view_read_back_from_its_json_is_the_same_view_with_string_keys_on_the_wire(
) -> None:
    """What the publisher stores for the other workers (``dumps``) and what they read
    (``from_json``): every section, instants and days as JSON strings."""
    live = state()
    live.apply_all(day_events())
    live.apply(ev("agent.state", 1500, agent_id="a1", state="on_contact", team="Blue",
                  queues=["billing"]))
    view = live.view("default")
    assert view.intervals and view.samples and view.settle and view.minutes
    assert view.waiting and view.agents and view.agent_time and view.handled
    wire = orjson.loads(view.dumps())
    assert PartitionView.from_json(wire) == view
    for section in ("intervals", "samples", "settle", "minutes", "agent_time", "handled"):
        for by_key in wire[section].values():
            assert by_key and all(key == str(int(key)) for key in by_key), section
    assert wire["clock"] == view.clock and wire["agents"] == view.agents


def test_restored_stream_time_comes_from_the_progress_record_not_the_facts() -> None:
    live = state()
    live.apply_all(day_events())
    stored = orjson.loads(orjson.dumps(live.clocks()))
    live.apply(ev("contact.queued", 5000, contact_id="c77", queue="billing", channel="voice"))
    restored = state()
    for (tenant, cid), facts in live.contacts.items():  # facts of a batch cut short
        restored.load_contact(tenant, cid, ContactFacts.load(facts.dump()))
    restored.set_clocks(stored)
    assert restored.effective_clock("default") == stored[1]["default"]
    assert restored.effective_clock("default") < live.effective_clock("default")  # type: ignore[operator]


@pytest.mark.parametrize("section", ["queues", "agents"])
def test_diff_holds_only_changed_entries(section: str) -> None:
    live = state()
    live.apply_all(day_events())
    old = live.snapshot("default")
    live.apply(ev("contact.queued", 1001, contact_id="c9", queue="sales", channel="chat"))
    update = diff_snapshots(old, live.snapshot("default"))
    if section == "queues":
        assert set(update["queues"]) == {"billing", "sales"}  # type: ignore[arg-type]
    else:
        assert update["agents"] == {}


@pytest.mark.parametrize(("zone", "day_start", "date_", "first", "hours"), [
    ("Europe/Berlin", "02:30", "2026-03-29", "2026-03-29T03:00:00+02:00", 23.5),  # skipped
    ("Europe/Berlin", "02:30", "2026-10-25", "2026-10-25T02:30:00+02:00", 25.0),  # repeated
    ("America/Sao_Paulo", "00:00", "2018-11-04", "2018-11-04T01:00:00-02:00", 23.0),
])
def test_a_day_start_skipped_by_dst_begins_at_the_first_local_time_after_it(
        zone: str, day_start: str, date_: str, first: str, hours: float) -> None:
    center = Calendar(ZoneInfo(zone), time.fromisoformat(day_start))
    day = date.fromisoformat(date_).toordinal()
    start, end = center.day_bounds(day)
    assert center.iso(start) == first
    assert (end - start) / 3_600_000 == hours
    assert center.day_of(start) == day and center.day_of(start - INTERVAL_MS) == day - 1
    assert center.day_of(end - INTERVAL_MS) == day and center.day_of(end) == day + 1


def test_a_calendars_iso_times_are_those_of_datetime_kept_or_not() -> None:
    # Kept for the next turn, at most ISO_KEPT of them: beyond, it starts again.
    from datetime import datetime

    from stream.metrics.definitions import ISO_KEPT

    center = Calendar(ZoneInfo("America/New_York"))
    times = [1_790_000_000_000 + i * 997_000 for i in range(ISO_KEPT + 500)]  # across DST too
    for ms in [*times, *times[:700]]:
        want = datetime.fromtimestamp(ms / 1000, ZoneInfo("America/New_York")).isoformat()
        assert center.iso(ms) == want
    assert len(center._iso) <= ISO_KEPT


@pytest.mark.parametrize("day_start", ["00:00", "10:00"])
def test_a_snapshot_with_the_closed_rows_kept_equals_one_computed_from_scratch(
        day_start: str) -> None:
    """The publisher keeps each closed interval's row from one snapshot to the next; every
    snapshot of a simulated morning (schedules and forecasts too; also with the day
    starting at 10:00, across the day's start) equals the one computed without that store,
    and the store does hold rows."""
    from dataclasses import replace

    from producers.simulator import default_config, simulate
    from stream.report import new_partition_state, queue_rules, wfm_rules
    from stream.settings import Settings

    settings = Settings(allowed_lateness_s=120, day_start=day_start)
    config = replace(default_config(hours=4, seed=7, agents=30,
                                    start=datetime(2026, 10, 5, 8, tzinfo=UTC)),
                     transcripts=False, chat_messages=False)
    live = new_partition_state(settings)
    kept: dict[tuple[str, int], dict[str, object]] = {}
    rules, wfm = queue_rules(settings), wfm_rules(settings)
    compared = 0
    for n, raw in enumerate(simulate(config), 1):
        live.apply(EVENT_ADAPTER.validate_python(raw))
        if n % 500:
            continue
        views = [live.view("default")]
        with_store = snapshot("default", views, live.calendar, rules, live.lateness_ms,
                              settings.rolling_minutes, wfm=wfm, closed_rows=kept)
        assert with_store == snapshot("default", views, live.calendar, rules,
                                      live.lateness_ms, settings.rolling_minutes, wfm=wfm)
        compared += 1
    assert compared > 10
    assert len(kept) > 20 and all(row["status"] == "closed" for row in kept.values())


def test_an_agents_day_figures_start_again_at_the_day_start_though_it_does_not_change(
) -> None:
    """With the day starting at 09:30: a1 on a contact 09:10-09:20 and available since, a2
    available 09:00-09:10 and on a break since. At 09:25 a1 has been busy 600 s and a2
    idle 600 s today; at 09:45, with nothing new from either, neither has been today."""
    calendar = Calendar(ZoneInfo("UTC"), day_start=time(9, 30))
    live = Live(calendar, lambda _q: QueueRule(), 7200)
    profile = {"team": "Blue", "queues": ["billing"]}
    live.apply_all([ev("agent.state", 600, agent_id="a1", state="on_contact", **profile),
                    ev("agent.state", 1200, agent_id="a1", state="available", **profile),
                    ev("agent.state", 0, agent_id="a2", state="available", **profile),
                    ev("agent.state", 600, agent_id="a2", state="aux", reason="break",
                       **profile)])

    def agents(clock_at: float) -> dict[str, Any]:
        live.apply(ev("agent.state", clock_at, agent_id="clock", state="logged_out"))
        entries = live.snapshot("default")["agents"]
        assert isinstance(entries, dict)
        return entries

    at_925 = agents(1500)
    assert at_925["a1"]["busy_s"] == 600 and at_925["a2"]["idle_s"] == 600
    at_945 = agents(2700)  # a new day
    assert at_945["a1"]["busy_s"] == 0 and at_945["a2"]["idle_s"] == 0
    assert at_945["a1"]["since"] == at_925["a1"]["since"]  # the agents did not change


def test_merging_views_adds_their_waiting_samples_and_leaves_the_views_as_they_were() -> None:
    a = PartitionView(clock=1, samples={"billing": {10_000: 2, 20_000: 1}})
    b = PartitionView(clock=1, samples={"billing": {20_000: 3, 30_000: 1}, "sales": {0: 4}})
    merged = Merged([a, b])
    assert merged.samples == {"billing": {10_000: 2, 20_000: 4, 30_000: 1}, "sales": {0: 4}}
    assert a.samples == {"billing": {10_000: 2, 20_000: 1}}
    assert b.samples == {"billing": {20_000: 3, 30_000: 1}, "sales": {0: 4}}


def test_an_interval_closes_once_every_partition_is_past_it_quiet_and_nothing_in_progress(
) -> None:
    """docs/metrics.md, "Closing", on two partitions' views of one queue: the latest event
    time of an interval's contacts is the latest over the partitions, its legs in progress
    are summed, and an interval no partition has a leg in counts as closed."""
    lateness = 60_000
    nine = to_ms(T0)
    starts = [nine + i * INTERVAL_MS for i in range(3)]

    def counters(in_progress: int) -> list[int]:
        values = [0] * N_COUNTERS
        values[IN_PROGRESS] = in_progress
        return values

    def views(settle_a: int, settle_b: int, in_progress_a: int, in_progress_b: int,
              clock: int) -> list[PartitionView]:
        # partition a has the first and third intervals, b the first only
        a = PartitionView(clock=clock, intervals={"billing": {
            starts[0]: counters(in_progress_a), starts[2]: counters(0)}},
            settle={"billing": {starts[0]: settle_a, starts[2]: starts[2]}})
        b = PartitionView(clock=clock + 5_000, intervals={"billing": {
            starts[0]: counters(in_progress_b)}}, settle={"billing": {starts[0]: settle_b}})
        return [a, b]

    end = starts[0] + INTERVAL_MS  # the first interval's end
    past_all = starts[2] + INTERVAL_MS + lateness  # every interval past by the lateness
    # quiet everywhere, nothing in progress: all three close (the second has no leg)
    assert closed_until(views(end, end, 0, 0, past_all), lateness, 2) == starts[2] + INTERVAL_MS
    # a contact of the first interval active later on partition b (the latest of the two)
    late = past_all - lateness + 1
    for settle_a, settle_b in ((end, late), (late, end)):
        assert closed_until(views(settle_a, settle_b, 0, 0, past_all), lateness, 2) == starts[0]
    # one leg in progress on either partition holds it open; -1 and +1 cancel out
    assert closed_until(views(end, end, 1, 0, past_all), lateness, 2) == starts[0]
    assert closed_until(views(end, end, 0, 1, past_all), lateness, 2) == starts[0]
    assert closed_until(views(end, end, 1, -1, past_all), lateness, 2) == starts[2] + INTERVAL_MS
    # the slowest partition's clock decides how far the clock lets intervals close
    slow = starts[1] + INTERVAL_MS + lateness
    assert closed_until(views(end, end, 0, 0, slow), lateness, 2) == starts[1] + INTERVAL_MS
    # what is closed stays closed; and no partition's clock missing
    assert closed_until(views(end, late, 0, 0, past_all), lateness, 2, since=starts[1]) == (
        starts[2] + INTERVAL_MS)
    assert closed_until(views(end, end, 0, 0, past_all), lateness, 3) == 0

"""Real-time adherence on hand-made timelines (docs/metrics.md section 5).

The day: 2026-11-23 (UTC). The agent's schedule: open 09:00-10:00, break 10:00-10:15,
open 10:15-12:00. Figures are read from the merged snapshot, as the page and the alert
rules see them.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from stream.events import EVENT_ADAPTER, Event, SchedulePublished
from stream.metrics.definitions import Calendar, to_ms
from stream.report import report_snapshot, stream_snapshot
from stream.settings import Settings
from stream.wfm.adherence import adherence_at
from stream.wfm.config import WfmRules
from stream.wfm.schedule import ScheduleFacts
from stream.wfm.state import publication

DAY = datetime(2026, 11, 23, tzinfo=UTC)
_ids = itertools.count()


def at(hhmm: str, seconds: float = 0) -> datetime:
    hours, minutes = hhmm.split(":")
    return DAY + timedelta(hours=int(hours), minutes=int(minutes), seconds=seconds)


def ev(kind: str, when: datetime, **fields: object) -> Event:
    body = {"type": kind, "event_id": f"w{next(_ids)}", "ts": when.isoformat(), **fields}
    return EVENT_ADAPTER.validate_python(body)


def schedule(published: datetime, *segments: tuple[str, str, str], agent: str = "a1",
             **extra: object) -> Event:
    return ev("schedule.published", published, agent_id=agent, segments=[
        {"start": at(s).isoformat(), "end": at(e).isoformat(), "activity": a}
        for s, e, a in segments], **extra)


def state(when: datetime, name: str, reason: str | None = None, agent: str = "a1") -> Event:
    fields: dict[str, object] = {"agent_id": agent, "state": name, "team": "Blue",
                                 "queues": ["billing"]}
    if reason is not None:
        fields["reason"] = reason
    return ev("agent.state", when, **fields)


DAY_PLAN = (("09:00", "10:00", "open"), ("10:00", "10:15", "break"),
            ("10:15", "12:00", "open"))
# A lateness of a day: every test event is in time, whatever the order.
SETTINGS = Settings(topic_partitions=1, allowed_lateness_s=86_400)


def figures(events: list[Event], settings: Settings = SETTINGS) -> dict[str, Any]:
    snap = report_snapshot(events, settings)
    return snap["adherence"]  # type: ignore[return-value]


def now_marker(when: datetime) -> Event:
    """An unrelated event that moves the stream time to ``when``."""
    return ev("agent.state", when, agent_id="zz-clock", state="logged_out")


def test_an_agent_who_follows_the_schedule_is_in_adherence_all_day() -> None:
    events = [schedule(at("07:00"), *DAY_PLAN), state(at("09:00"), "available"),
              state(at("10:00"), "aux", "break"), state(at("10:15"), "available"),
              now_marker(at("11:00"))]
    a1 = figures(events)["a1"]
    assert a1["status"] == "in"
    assert a1["scheduled"] == "open"
    # figures up to the last change (10:15), ticking from then on
    assert a1["since_epoch"] == at("10:15").timestamp()
    assert a1["scheduled_s"] == a1["adherent_s"] == 75 * 60
    assert a1["adherence"] == 1.0
    assert a1["ticking"] == {"scheduled": True, "adherent": True, "work_scheduled": True,
                             "worked": True}


def test_a_late_start_of_the_break_counts_from_the_segment_boundary() -> None:
    """On break 2 min late (over the 60-s threshold): 2 min out; back 30 s late (under the
    threshold): not counted."""
    events = [schedule(at("07:00"), *DAY_PLAN), state(at("09:00"), "available"),
              state(at("10:02"), "aux", "break"), state(at("10:15", 30), "available"),
              now_marker(at("11:00"))]
    a1 = figures(events)["a1"]
    assert a1["since_epoch"] == at("10:15", 30).timestamp()
    assert a1["scheduled_s"] == 75 * 60 + 30  # 09:00 to 10:15:30
    assert a1["scheduled_s"] - a1["adherent_s"] == 120
    assert a1["exceptions"] == 1
    # worked 09:00-10:02 and from 10:15:30; scheduled to work 09:00-10:00 and from 10:15
    assert a1["worked_s"] == 62 * 60 and a1["work_scheduled_s"] == 60 * 60 + 30


def test_pure_fold_counts_the_segment_boundaries_exactly() -> None:
    facts = ScheduleFacts()
    published = schedule(at("07:00"), *DAY_PLAN)
    assert isinstance(published, SchedulePublished)
    facts.add(publication(published, Calendar(ZoneInfo("UTC"))))
    lo = to_ms(DAY)
    pieces = facts.pieces(lo, lo + 86_400_000)
    marks = [(to_ms(at("09:00")), "m1", "available", None),
             (to_ms(at("10:02")), "m2", "aux", "break"),
             (to_ms(at("10:15", 30)), "m3", "available", None)]
    fig = adherence_at(pieces, marks, lo, to_ms(at("11:00")), WfmRules())
    assert fig.scheduled_ms == 120 * 60_000
    assert fig.out_ms == 120_000
    assert fig.adherence == round((7200 - 120) / 7200, 4)
    # time worked: 09:00-10:02 and 10:15:30-11:00; scheduled to work: 09-10, 10:15-11
    assert fig.worked_ms == (62 * 60 + 44 * 60 + 30) * 1000
    assert fig.work_scheduled_ms == 105 * 60_000
    assert fig.status == "in"


def test_an_exception_shorter_than_the_threshold_does_not_count() -> None:
    events = [schedule(at("07:00"), *DAY_PLAN), state(at("09:00"), "available"),
              state(at("09:30"), "aux", "personal"), state(at("09:30", 45), "available"),
              now_marker(at("09:45"))]
    a1 = figures(events)["a1"]
    assert a1["adherent_s"] == a1["scheduled_s"] == 30 * 60 + 45
    assert a1["exceptions"] == 0


def test_a_running_exception_is_grace_then_out_then_severe() -> None:
    base = [schedule(at("07:00"), *DAY_PLAN), state(at("09:00"), "available"),
            state(at("09:30"), "aux", "personal")]
    grace = figures([*base, now_marker(at("09:30", 40))])["a1"]
    assert grace["status"] == "grace"
    assert grace["out_since_epoch"] == at("09:30").timestamp()
    out = figures([*base, now_marker(at("09:32"))])["a1"]
    assert out["status"] == "out" and not out["severe"]
    # figures as of the instant the exception reached the threshold: all of it out
    assert out["since_epoch"] == at("09:31").timestamp()
    assert out["scheduled_s"] - out["adherent_s"] == 60
    assert out["ticking"]["scheduled"] and not out["ticking"]["adherent"]
    severe = figures([*base, now_marker(at("09:35"))])["a1"]
    assert severe["severe"] and severe["status"] == "out"


def test_late_reordered_and_repeated_state_events_give_the_same_figures() -> None:
    events = [schedule(at("07:00"), *DAY_PLAN), state(at("09:00", 20), "available"),
              state(at("10:05"), "aux", "break"), state(at("10:14"), "available"),
              state(at("10:40"), "aux", "meeting"), state(at("10:50"), "available"),
              now_marker(at("11:30"))]
    expected = report_snapshot(events, SETTINGS)
    rng = random.Random(3)
    for _ in range(5):
        shuffled = events[:] + rng.sample(events, 3)
        rng.shuffle(shuffled)
        assert stream_snapshot([shuffled], SETTINGS)["adherence"] == expected["adherence"]
        assert stream_snapshot([shuffled], SETTINGS)["teams"] == expected["teams"]


def test_a_republished_schedule_replaces_the_old_one_from_its_publication_on() -> None:
    """v1 (07:00): open all morning. v2 (10:30): training 09:00-10:00 (already past: the
    morning keeps v1), lunch 11:00-12:00. The agent takes lunch at 11:00."""
    v1 = schedule(at("07:00"), ("09:00", "12:00", "open"))
    v2 = schedule(at("10:30"), ("09:00", "10:00", "training"), ("10:00", "11:00", "open"),
                  ("11:00", "12:00", "lunch"))
    timeline = [state(at("09:00"), "available"), state(at("11:00"), "aux", "lunch"),
                now_marker(at("11:30"))]
    only_v1 = figures([v1, *timeline])["a1"]
    assert only_v1["status"] == "out" and only_v1["scheduled"] == "open"
    both = figures([v1, v2, *timeline])["a1"]
    assert both["status"] == "in" and both["scheduled"] == "lunch"
    assert both["adherence"] == 1.0  # 09:00-10:00 judged against v1 (open), not training
    # the order in which the two publications arrive does not matter
    assert figures([v2, v1, *timeline])["a1"] == both


def test_a_schedule_loaded_late_applies_to_the_hours_before_it() -> None:
    late = schedule(at("09:30"), *DAY_PLAN)
    a1 = figures([state(at("09:00"), "aux", "personal"), late, state(at("09:10"), "available"),
                  now_marker(at("09:20"))])["a1"]
    assert a1["scheduled_s"] - a1["adherent_s"] == 600


def test_an_agent_with_no_schedule_is_shown_unscheduled_and_not_rolled_up() -> None:
    events = [schedule(at("07:00"), *DAY_PLAN), state(at("09:00"), "available"),
              state(at("09:00"), "available", agent="a2"), now_marker(at("09:50"))]
    snap = report_snapshot(events, SETTINGS)
    a2 = snap["adherence"]["a2"]  # type: ignore[index]
    assert a2["status"] == "unscheduled" and a2["scheduled"] is None
    assert a2["adherence"] is None and a2["scheduled_s"] == 0
    team = snap["teams"]["Blue"]["adherence"]  # type: ignore[index]
    assert team["scheduled_s"] == 3000 and team["adherence"] == 1.0
    assert team["agents"] == {"in": 1, "grace": 0, "out": 0, "unscheduled": 1}


def test_activities_map_to_states_by_setting() -> None:
    rules = WfmRules(adherence={"open": ("available",), "coaching": ("aux",)})
    assert rules.adherent("open", "available", None)
    assert not rules.adherent("open", "on_contact", None)
    assert rules.adherent("coaching", "aux", "anything")
    # an activity the map does not name: aux with the activity's name as reason
    assert rules.adherent("wellbeing", "aux", "wellbeing")
    assert not rules.adherent("wellbeing", "aux", "break")
    assert not rules.scheduled("off") and not rules.scheduled(None)


def test_the_exception_ends_at_the_instant_the_agent_comes_back() -> None:
    """Figures taken exactly at the state change that ends a long exception."""
    events = [schedule(at("07:00"), *DAY_PLAN), state(at("08:55"), "logged_out"),
              state(at("09:10"), "available")]
    a1 = figures(events)["a1"]
    assert a1["status"] == "in" and a1["out_since_epoch"] is None
    assert (a1["scheduled_s"], a1["adherent_s"], a1["exceptions"]) == (600, 0, 1)


def test_a_view_taken_after_every_event_equals_one_folded_from_scratch() -> None:
    """The partition's view continues an agent's fold when marks were only appended, and
    folds again when one was inserted (late) or dropped, or the schedule was published
    again (its pieces are kept from view to view until then): the same figures either
    way."""
    from stream.report import new_partition_state

    events = [schedule(at("07:00"), *DAY_PLAN), schedule(at("07:00"), *DAY_PLAN, agent="a2")]
    minute = 0
    rng = random.Random(11)
    for agent in ("a1", "a2"):
        for minute in range(0, 180, 7):
            name = rng.choice(["available", "on_contact", "acw", "aux"])
            events.append(state(at("09:00") + timedelta(minutes=minute, seconds=agent == "a2"),
                                name, "break" if name == "aux" else None, agent=agent))
    events.append(schedule(at("10:30"), ("09:00", "10:00", "training"),
                           ("10:00", "11:00", "open"), ("11:00", "12:00", "lunch")))
    events.append(now_marker(at("12:30")))
    for order in ("in order", "shuffled"):
        arrivals = events[:] if order == "in order" else rng.sample(events, len(events))
        live = new_partition_state(SETTINGS)
        for event in arrivals:
            live.apply(event)
            live.view("default")  # folds (or continues) every agent as of now
        fresh = new_partition_state(SETTINGS)
        fresh.apply_all(arrivals)
        assert live.view("default").to_json() == fresh.view("default").to_json(), order

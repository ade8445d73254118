"""The reference (tests/reference.py) on small, hand-computed examples: one or more per
rule of docs/metrics.md, so that the reference itself is known to be right."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stream.events import EVENT_ADAPTER, Event
from stream.settings import QueueSettings, Settings
from tests import reference
from tests.reference import reference_rows, reference_snapshot

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, an interval start
_ids = itertools.count()


def ev(kind: str, at: float | datetime, **fields: object) -> Event:
    """An event ``at`` seconds after 09:00 UTC (or at a given datetime)."""
    when = at if isinstance(at, datetime) else T0 + timedelta(seconds=at)
    event_id = fields.pop("event_id", f"e{next(_ids):06d}")
    body = {"type": kind, "event_id": event_id, "ts": when.isoformat(), **fields}
    return EVENT_ADAPTER.validate_python(body)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def queued(cid: str, at: float | datetime, queue: str = "billing") -> Event:
    return ev("contact.queued", at, contact_id=cid, queue=queue, channel="voice")


def answered(cid: str, at: float | datetime, agent: str, queue: str = "billing") -> Event:
    return ev("contact.answered", at, contact_id=cid, queue=queue, agent_id=agent)


def abandoned(cid: str, at: float | datetime, queue: str = "billing") -> Event:
    return ev("contact.abandoned", at, contact_id=cid, queue=queue)


def by_agent(kind: str, cid: str, at: float | datetime, agent: str) -> Event:
    return ev(kind, at, contact_id=cid, agent_id=agent)


def tick(at: float | datetime) -> Event:
    """An event that only moves stream time."""
    return ev("chat.message", at, contact_id="tick", sender="bot", text="tick")


def agent(agent_id: str, at: float | datetime, state: str, **fields: object) -> Event:
    return ev("agent.state", at, agent_id=agent_id, state=state, **fields)


def config(timezone: str = "UTC", day_start: str = "00:00", rolling_minutes: int = 30,
           **billing: Any) -> Settings:
    return Settings(timezone=timezone, day_start=day_start, rolling_minutes=rolling_minutes,
                    queues={"billing": QueueSettings(**billing)},
                    default_queue=QueueSettings(sl_threshold_s=20))


def rows_by_interval(events: list[Event], settings: Settings,
                     queue: str = "billing") -> dict[str, dict[str, Any]]:
    return {r["interval_start"]: r for r in reference_rows(events, settings)
            if r["queue"] == queue}


def today(events: list[Event], settings: Settings, queue: str = "billing") -> dict[str, Any]:
    figures: dict[str, Any] = reference_snapshot(events, settings)["queues"][queue]
    return figures


# --------------------------------------------------------------------------- service level

def sl_day() -> list[Event]:
    """T = 20 s. Waits: answered 10, 20, 30; abandoned 5, 40; two still waiting (25 s and
    5 s so far at stream time 09:02:05)."""
    return [
        queued("c1", 0), answered("c1", 10, "a1"),
        queued("c2", 10), answered("c2", 30, "a2"),
        queued("c3", 20), answered("c3", 50, "a3"),
        queued("c4", 30), abandoned("c4", 35),
        queued("c5", 25), abandoned("c5", 65),
        queued("c6", 100),
        queued("c7", 120),
        tick(125),
    ]


def test_service_level_variants_with_numbers() -> None:
    q = today(sl_day(), config(sl_threshold_s=20))
    assert q["offered"] == 7
    assert q["answered"] == 3
    assert q["abandoned"] == 2
    assert q["answered_within_threshold"] == 2  # waits 10 and 20 (inclusive)
    assert q["abandoned_within_threshold"] == 1  # wait 5
    assert q["judged"] == 6  # all but c7, which has waited 5 s < T
    assert q["service_levels"] == {
        "abandons_against": round(2 / 6, 4),  # 0.3333
        "abandons_ignored": round(2 / (6 - 1), 4),  # 0.4
        "abandons_for": round((2 + 1) / 6, 4),  # 0.5
        "answered_only": round(2 / 3, 4),  # 0.6667
    }
    assert q["service_level"] == 0.3333  # the default variant
    assert q["abandon_rate"] == round(2 / 7, 4)
    assert q["asa_s"] == 20.0
    assert q["waiting"] == 2
    assert q["longest_wait_s"] == 25.0
    assert q["sl_threshold_s"] == 20.0
    for variant, expected in [("abandons_ignored", 0.4), ("abandons_for", 0.5),
                              ("answered_only", 0.6667)]:
        chosen = today(sl_day(), config(sl_threshold_s=20, sl_definition=variant))
        assert chosen["service_level"] == expected


def test_the_interval_row_carries_the_same_figures() -> None:
    rows = reference_rows(sl_day(), config(sl_threshold_s=20))
    assert [(r["queue"], r["interval_start"], r["interval_end"]) for r in rows] == [
        ("billing", "2026-11-23T09:00:00+00:00", "2026-11-23T09:15:00+00:00")]
    row = rows[0]
    assert row["tenant"] == "default"
    assert "status" not in row
    assert row["service_level"] == 0.3333
    assert row["judged"] == 6
    # At t = 30 s: c3 (20..50), c4 (30..35) and c5 (25..65) wait; c2 was answered at 30.
    assert row["peak_waiting"] == 3


def test_ratios_are_null_without_a_denominator() -> None:
    q = today([queued("c1", 0), tick(5)], config(sl_threshold_s=20))
    assert q["offered"] == 1 and q["judged"] == 0
    assert q["service_level"] is None
    assert q["service_levels"] == dict.fromkeys(reference.SL_VARIANTS)
    assert q["asa_s"] is None and q["aht_s"] is None and q["avg_talk_s"] is None
    assert q["abandon_rate"] == 0.0
    q = today([queued("c1", 0), abandoned("c1", 5), tick(5)],
              config(sl_threshold_s=20))
    # judged 1, abandoned within T 1: abandons_ignored has denominator 0.
    assert q["service_levels"]["abandons_ignored"] is None
    assert q["service_levels"]["abandons_against"] == 0.0
    assert q["service_levels"]["abandons_for"] == 1.0
    assert q["service_levels"]["answered_only"] is None


# --------------------------------------------------------------------------- short abandons

def test_short_abandons_are_removed_from_every_count() -> None:
    events = [
        queued("c1", 0), abandoned("c1", 4.999),  # wait < S: short
        queued("c2", 0), abandoned("c2", 5),  # wait = S: a real abandon
        queued("c3", 0), answered("c3", 10, "a1"),
        queued("c4", 900), abandoned("c4", 901),  # the only leg of 09:15, short
    ]
    settings = config(sl_threshold_s=20, short_abandon_s=5)
    rows = rows_by_interval(events, settings)
    first = rows["2026-11-23T09:00:00+00:00"]
    assert (first["offered"], first["abandoned"], first["short_abandoned"]) == (2, 1, 1)
    assert first["judged"] == 2
    assert first["abandoned_within_threshold"] == 1
    assert first["service_level"] == 0.5
    assert first["abandon_rate"] == 0.5
    assert first["peak_waiting"] == 2  # at t = 0: c2 and c3; c1 is not offered
    # An interval whose only leg is a short abandon still has a row, with nothing offered.
    second = rows["2026-11-23T09:15:00+00:00"]
    assert (second["offered"], second["short_abandoned"], second["judged"]) == (0, 1, 0)
    assert second["service_level"] is None and second["abandon_rate"] is None
    assert second["peak_waiting"] == 0
    q = today(events, settings)
    assert (q["offered"], q["abandoned"], q["short_abandoned"]) == (2, 1, 2)


def test_without_a_short_abandon_threshold_every_abandon_counts() -> None:
    q = today([queued("c1", 0), abandoned("c1", 0)], config(sl_threshold_s=20))
    assert (q["offered"], q["abandoned"], q["short_abandoned"]) == (1, 1, 0)


# --------------------------------------------------------------------------- threshold

def test_the_threshold_is_inclusive_to_the_millisecond() -> None:
    events = [
        queued("c1", 0), answered("c1", 20, "a1"),
        queued("c2", 0), answered("c2", 20.001, "a2"),
        queued("c3", 0), abandoned("c3", 20),
        queued("c4", 0), abandoned("c4", 20.001),
    ]
    q = today(events, config(sl_threshold_s=20))
    assert q["answered_within_threshold"] == 1
    assert q["abandoned_within_threshold"] == 1
    q = today(events, config(sl_threshold_s=20.001))
    assert q["answered_within_threshold"] == 2
    assert q["abandoned_within_threshold"] == 2
    fractional = [queued("c1", 0), answered("c1", 15.5, "a1"),
                  queued("c2", 0), answered("c2", 15.501, "a2")]
    assert today(fractional, config(sl_threshold_s=15.5))["answered_within_threshold"] == 1


def test_a_waiting_leg_is_judged_once_it_has_waited_the_threshold() -> None:
    settings = config(sl_threshold_s=20)
    assert today([queued("c1", 0), tick(19.999)], settings)["judged"] == 0
    q = today([queued("c1", 0), tick(20)], settings)
    assert q["judged"] == 1
    assert q["service_level"] == 0.0
    row = reference_rows([queued("c1", 0), tick(19.999)], settings)[0]
    assert row["judged"] == 0 and row["service_level"] is None


# --------------------------------------------------------------------------- holds, AHT

def test_holds_are_walked_in_time_order_and_clipped_to_the_talk_span() -> None:
    events = [
        # c1: holds 20-30 and 50-55, then a hold still open when the call ends at 80.
        queued("c1", 0), answered("c1", 10, "a1"),
        by_agent("contact.held", "c1", 20, "a1"), by_agent("contact.resumed", "c1", 30, "a1"),
        by_agent("contact.held", "c1", 50, "a1"), by_agent("contact.resumed", "c1", 55, "a1"),
        by_agent("contact.held", "c1", 70, "a1"),
        by_agent("contact.ended", "c1", 80, "a1"), by_agent("contact.wrapped", "c1", 100, "a1"),
        # c2: a stray resume at 40 (before any hold), a hold 60-90 that outlasts the call (70).
        queued("c2", 0), answered("c2", 10, "a2"),
        by_agent("contact.resumed", "c2", 40, "a2"),
        by_agent("contact.held", "c2", 60, "a2"), by_agent("contact.ended", "c2", 70, "a2"),
        by_agent("contact.resumed", "c2", 90, "a2"), by_agent("contact.wrapped", "c2", 100, "a2"),
        # c3: no hold.
        queued("c3", 0), answered("c3", 10, "a3"),
        by_agent("contact.ended", "c3", 20, "a3"), by_agent("contact.wrapped", "c3", 30, "a3"),
        # c4: held, but never wrapped: not handled, so not counted as held.
        queued("c4", 0), answered("c4", 10, "a4"),
        by_agent("contact.held", "c4", 20, "a4"), by_agent("contact.resumed", "c4", 30, "a4"),
    ]
    q = today(events, config(sl_threshold_s=20))
    # c1: hold 10 + 5 + 10 = 25, talk 70 - 25 = 45, ACW 20, handle 90.
    # c2: hold 10 (60..70), talk 60 - 10 = 50, ACW 30, handle 90.
    # c3: hold 0, talk 10, ACW 10, handle 20.
    assert (q["answered"], q["handled"], q["held"]) == (4, 3, 2)
    assert q["avg_hold_s"] == round(35 / 3, 3)
    assert q["avg_talk_s"] == 35.0
    assert q["avg_acw_s"] == 20.0
    assert q["aht_s"] == round(200 / 3, 3)


def test_a_second_held_while_on_hold_and_a_resume_while_not_change_nothing() -> None:
    events = [
        queued("c1", 0), answered("c1", 10, "a1"),
        by_agent("contact.held", "c1", 20, "a1"),
        by_agent("contact.held", "c1", 30, "a1"),  # already on hold: nothing
        by_agent("contact.resumed", "c1", 40, "a1"),
        by_agent("contact.resumed", "c1", 45, "a1"),  # not on hold: nothing
        by_agent("contact.ended", "c1", 60, "a1"), by_agent("contact.wrapped", "c1", 60, "a1"),
    ]
    q = today(events, config())
    assert (q["avg_hold_s"], q["avg_talk_s"], q["avg_acw_s"], q["held"]) == (
        20.0, 30.0, 0.0, 1)


def test_at_equal_times_held_comes_before_resumed() -> None:
    events = [
        queued("c1", 0), answered("c1", 10, "a1"),
        # held and resumed at 20: a hold of 0 s; the resume at 30 finds no hold.
        by_agent("contact.held", "c1", 20, "a1"), by_agent("contact.resumed", "c1", 20, "a1"),
        by_agent("contact.resumed", "c1", 30, "a1"),
        by_agent("contact.ended", "c1", 50, "a1"), by_agent("contact.wrapped", "c1", 50, "a1"),
    ]
    q = today(events, config())
    assert (q["avg_hold_s"], q["held"], q["handled"]) == (0.0, 0, 1)


def test_a_hold_outside_the_talk_span_does_not_count_and_does_not_make_it_held() -> None:
    events = [
        queued("c1", 0), answered("c1", 10, "a1"),
        by_agent("contact.ended", "c1", 30, "a1"),
        by_agent("contact.held", "c1", 35, "a1"), by_agent("contact.resumed", "c1", 40, "a1"),
        by_agent("contact.wrapped", "c1", 50, "a1"),
    ]
    q = today(events, config())
    assert (q["avg_hold_s"], q["avg_talk_s"], q["avg_acw_s"], q["held"]) == (
        0.0, 20.0, 20.0, 0)


def test_without_ended_or_transfer_the_talk_span_ends_at_the_wrap() -> None:
    events = [queued("c1", 0), answered("c1", 10, "a1"),
              by_agent("contact.held", "c1", 20, "a1"),  # still open at the wrap
              by_agent("contact.wrapped", "c1", 50, "a1")]
    q = today(events, config())
    assert (q["avg_talk_s"], q["avg_hold_s"], q["avg_acw_s"], q["held"]) == (
        10.0, 30.0, 0.0, 1)


def test_fractions_of_a_millisecond_are_cut() -> None:
    events = [queued("c1", 0.0009), answered("c1", 10.0001, "a1")]
    assert today(events, config())["asa_s"] == 10.0


def test_without_hold_the_handle_time_is_talk_plus_acw() -> None:
    events = [queued("c1", 0), answered("c1", 5, "a1"),
              by_agent("contact.ended", "c1", 65.25, "a1"),
              by_agent("contact.wrapped", "c1", 70, "a1")]
    q = today(events, config())
    assert (q["avg_talk_s"], q["avg_hold_s"], q["avg_acw_s"], q["aht_s"]) == (
        60.25, 0.0, 4.75, 65.0)


# --------------------------------------------------------------------------- transfers

def test_a_transfer_ends_the_talk_span_and_offers_the_contact_to_the_next_queue() -> None:
    events = [
        # c1: billing -> sales. a1's talk ends at the transfer (70), before its ended (75).
        queued("c1", 0), answered("c1", 10, "a1"),
        by_agent("contact.held", "c1", 20, "a1"), by_agent("contact.resumed", "c1", 25, "a1"),
        ev("contact.transferred", 70, contact_id="c1", agent_id="a1", to_queue="sales"),
        by_agent("contact.ended", "c1", 75, "a1"), by_agent("contact.wrapped", "c1", 90, "a1"),
        answered("c1", 80, "a2", queue="sales"),
        by_agent("contact.ended", "c1", 200, "a2"), by_agent("contact.wrapped", "c1", 210, "a2"),
        # c2: transferred back to the queue it is in: no second leg.
        queued("c2", 0), answered("c2", 5, "a3"),
        ev("contact.transferred", 30, contact_id="c2", agent_id="a3", to_queue="billing"),
        by_agent("contact.wrapped", "c2", 40, "a3"),
        # c3: transferred to an agent: no new leg; a5's work counts for a5 only.
        queued("c3", 0), answered("c3", 5, "a4"),
        ev("contact.transferred", 20, contact_id="c3", agent_id="a4", to_agent="a5"),
        by_agent("contact.ended", "c3", 50, "a5"), by_agent("contact.wrapped", "c3", 60, "a5"),
        agent("a5", 0, "available", queues=["billing"]),
    ]
    snapshot = reference_snapshot(events, config(sl_threshold_s=20))
    billing, sales = snapshot["queues"]["billing"], snapshot["queues"]["sales"]
    assert (billing["offered"], billing["answered"], billing["transferred"]) == (3, 3, 3)
    assert (billing["handled"], billing["held"]) == (2, 1)
    # c1: talk 60 - 5 = 55, hold 5, ACW 20 (handle 80); c2: talk 25, ACW 10 (handle 35).
    assert billing["avg_talk_s"] == 40.0
    assert billing["avg_hold_s"] == 2.5
    assert billing["avg_acw_s"] == 15.0
    assert billing["aht_s"] == 57.5
    assert (sales["offered"], sales["answered"], sales["transferred"]) == (1, 1, 0)
    assert sales["asa_s"] == 10.0  # queued in sales at the transfer (70), answered at 80
    assert sales["aht_s"] == 130.0
    assert snapshot["agents"]["a5"]["handled"] == 1


def test_a_leg_stays_in_its_interval_whatever_happens_later() -> None:
    events = [
        queued("c1", 890), answered("c1", 895, "a1"),
        ev("contact.transferred", 910, contact_id="c1", agent_id="a1", to_queue="sales"),
        by_agent("contact.wrapped", "c1", 2000, "a1"),
    ]
    rows = reference_rows(events, config())
    assert [(r["queue"], r["interval_start"], r["handled"]) for r in rows] == [
        ("billing", "2026-11-23T09:00:00+00:00", 1),
        ("sales", "2026-11-23T09:15:00+00:00", 0),
    ]


# --------------------------------------------------------------------------- peak waiting

def test_peak_waiting_counts_legs_from_earlier_intervals_at_10_second_instants() -> None:
    events = [
        queued("c1", 800),  # 09:13:20, still waiting
        queued("c2", 905), answered("c2", 920, "a1"),
        queued("c3", 910), answered("c3", 940, "a2"),
        tick(945),
    ]
    rows = rows_by_interval(events, config())
    assert rows["2026-11-23T09:00:00+00:00"]["peak_waiting"] == 1
    # At 09:15:10: c1, c2 and c3 (queued exactly then); at 09:15:20 c2 no longer waits.
    assert rows["2026-11-23T09:15:00+00:00"]["peak_waiting"] == 3
    assert today(events, config())["peak_waiting"] == 3


def test_instants_after_stream_time_are_not_sampled() -> None:
    events = [queued("c1", 901), queued("c2", 902), tick(909.999)]
    row = reference_rows(events, config())[0]
    assert row["peak_waiting"] == 0  # only 09:15:00 is sampled, before both arrived
    assert today(events, config())["waiting"] == 2
    events.append(tick(910))
    assert reference_rows(events, config())[0]["peak_waiting"] == 2


# --------------------------------------------------------------------------- days

def test_the_day_starts_at_the_configured_time() -> None:
    settings = config(day_start="06:00")
    events = [
        queued("c1", utc("2026-11-23T05:59:59+00:00")),
        answered("c1", utc("2026-11-23T06:00:05+00:00"), "a1"),
        by_agent("contact.wrapped", "c1", utc("2026-11-23T06:00:30+00:00"), "a1"),
        queued("c0", utc("2026-11-23T05:00:00+00:00")),
        answered("c0", utc("2026-11-23T05:00:05+00:00"), "a1"),
        by_agent("contact.wrapped", "c0", utc("2026-11-23T05:59:00+00:00"), "a1"),
        queued("c2", utc("2026-11-23T06:00:00+00:00")),
        answered("c2", utc("2026-11-23T06:00:10+00:00"), "a1"),
        agent("a1", utc("2026-11-23T05:00:00+00:00"), "available", team="Blue"),
        agent("a1", utc("2026-11-23T06:30:00+00:00"), "on_contact"),
        tick(utc("2026-11-23T07:00:00+00:00")),
    ]
    snapshot = reference_snapshot(events, settings)
    assert snapshot["day"] == "2026-11-23"
    q = snapshot["queues"]["billing"]
    assert (q["offered"], q["answered"], q["asa_s"]) == (1, 1, 10.0)  # c2 only
    a1 = snapshot["agents"]["a1"]
    assert a1["handled"] == 1  # c1 wrapped after 06:00; c0 before
    assert (a1["idle_s"], a1["busy_s"], a1["occupancy"]) == (1800.0, 0.0, 0.0)  # to 06:30
    blue = snapshot["teams"]["Blue"]
    assert (blue["idle_s"], blue["busy_s"], blue["occupancy"]) == (1800.0, 1800.0, 0.5)
    # Just before 06:00 the center is still in the day that began yesterday at 06:00.
    early = [e for e in events if e.ts <= utc("2026-11-23T05:59:59+00:00")]
    snapshot = reference_snapshot(early, settings)
    assert snapshot["day"] == "2026-11-22"
    assert snapshot["queues"]["billing"]["offered"] == 2  # c0 and c1
    assert snapshot["agents"]["a1"]["handled"] == 1  # c0 wrapped at 05:59
    assert snapshot["agents"]["a1"]["idle_s"] == 0.0  # its last change was at 05:00
    assert snapshot["teams"]["Blue"]["idle_s"] == 3599.0


def test_a_day_with_the_clocks_going_back_has_25_hours() -> None:
    # Europe/London, 2026-10-25: 02:00 BST becomes 01:00 GMT at 01:00 UTC.
    settings = config(timezone="Europe/London")
    events = [
        queued("d", utc("2026-10-24T22:50:00+00:00")),  # 23:50 BST on the 24th
        queued("c", utc("2026-10-24T23:10:00+00:00")),  # 00:10 BST on the 25th
        queued("a", utc("2026-10-25T00:30:00+00:00")),  # 01:30 BST
        queued("x", utc("2026-10-25T00:45:00+00:00")),  # 01:45 BST
        queued("b", utc("2026-10-25T01:30:00+00:00")),  # 01:30 GMT
        queued("e", utc("2026-10-25T23:50:00+00:00")),  # 23:50 GMT on the 25th
        agent("a1", utc("2026-10-24T22:00:00+00:00"), "available", team="Blue"),
        tick(utc("2026-10-25T23:55:00+00:00")),
    ]
    rows = reference_rows(events, settings)
    assert [(r["interval_start"], r["interval_end"]) for r in rows] == [
        ("2026-10-24T23:45:00+01:00", "2026-10-25T00:00:00+01:00"),
        ("2026-10-25T00:00:00+01:00", "2026-10-25T00:15:00+01:00"),
        ("2026-10-25T01:30:00+01:00", "2026-10-25T01:45:00+01:00"),
        ("2026-10-25T01:45:00+01:00", "2026-10-25T01:00:00+00:00"),
        ("2026-10-25T01:30:00+00:00", "2026-10-25T01:45:00+00:00"),
        ("2026-10-25T23:45:00+00:00", "2026-10-26T00:00:00+00:00"),
    ]
    snapshot = reference_snapshot(events, settings)
    assert snapshot["day"] == "2026-10-25"  # 23:55 GMT: still the 25th, 24 h 55 min in
    assert snapshot["queues"]["billing"]["offered"] == 5  # all but d
    assert snapshot["teams"]["Blue"]["idle_s"] == 24 * 3600 + 55 * 60


def test_a_day_with_the_clocks_going_forward_has_23_hours() -> None:
    # Europe/London, 2026-03-29: 01:00 GMT becomes 02:00 BST at 01:00 UTC.
    settings = config(timezone="Europe/London")
    events = [
        queued("y", utc("2026-03-28T23:59:59+00:00")),  # 23:59:59 GMT on the 28th
        queued("t", utc("2026-03-29T00:00:00+00:00")),  # 00:00 GMT on the 29th
        agent("a1", utc("2026-03-28T12:00:00+00:00"), "available", team="Blue"),
        tick(utc("2026-03-29T22:59:59+00:00")),  # 23:59:59 BST
    ]
    snapshot = reference_snapshot(events, settings)
    assert snapshot["day"] == "2026-03-29"
    assert snapshot["queues"]["billing"]["offered"] == 1
    assert snapshot["teams"]["Blue"]["idle_s"] == 23 * 3600 - 1
    events.append(tick(utc("2026-03-29T23:00:00+00:00")))  # 00:00 BST on the 30th
    snapshot = reference_snapshot(events, settings)
    assert snapshot["day"] == "2026-03-30"
    assert snapshot["queues"]["billing"]["offered"] == 0
    assert snapshot["teams"]["Blue"]["idle_s"] == 0.0


def test_intervals_follow_a_half_hour_zone() -> None:
    settings = config(timezone="Asia/Kolkata")  # +05:30
    rows = reference_rows([queued("c1", utc("2026-11-23T09:07:00+00:00"))], settings)
    assert (rows[0]["interval_start"], rows[0]["interval_end"]) == (
        "2026-11-23T14:30:00+05:30", "2026-11-23T14:45:00+05:30")


# --------------------------------------------------------------------------- rolling window

def test_the_rolling_window_is_whole_minutes_ending_with_the_current_one() -> None:
    events = [
        queued("c0", 2759.999), abandoned("c0", 2800),  # 09:45:59.999: outside
        queued("c1", 2760), answered("c1", 2770, "a1"),  # 09:46:00: inside
        queued("c2", 4530),  # 10:15:30 (stream time): inside, not yet judged
    ]
    rolling = today(events, config(rolling_minutes=30))["rolling"]
    assert rolling == {"minutes": 30, "offered": 2, "answered": 1, "abandoned": 0,
                       "service_level": 1.0, "asa_s": 10.0, "aht_s": None,
                       "abandon_rate": 0.0}
    rolling = today(events, config(rolling_minutes=1))["rolling"]
    assert (rolling["minutes"], rolling["offered"], rolling["service_level"]) == (1, 1, None)


# --------------------------------------------------------------------------- agents

def test_occupancy_of_agents_up_to_their_last_change_and_of_teams_up_to_now() -> None:
    events = [
        agent("a1", -3600, "available", team="Blue", queues=["billing"]),  # 08:00
        agent("a1", -3000, "on_contact"),  # 08:10
        agent("a1", -2400, "acw"),  # 08:20
        agent("a1", -2100, "aux", reason="break"),  # 08:25
        agent("a1", -1800, "available"),  # 08:30
        agent("a2", -3600, "on_contact", team="Blue", queues=["billing", "sales"]),
        agent("a2", -1800, "logged_out"),
        agent("a3", -3600, "aux", team="Red", reason="meeting"),
        agent("a3", 0, "aux", reason="lunch"),  # 09:00: stream time
    ]
    snapshot = reference_snapshot(events, config())
    a1, a2, a3 = (snapshot["agents"][a] for a in ("a1", "a2", "a3"))
    # An agent's entry counts up to its `since` (a1: 08:30); a team's up to stream time.
    assert (a1["busy_s"], a1["idle_s"], a1["occupancy"]) == (900.0, 600.0, 0.6)
    assert (a2["busy_s"], a2["idle_s"], a2["occupancy"]) == (1800.0, 0.0, 1.0)
    assert (a3["busy_s"], a3["idle_s"], a3["occupancy"]) == (0.0, 0.0, None)
    assert (a3["state"], a3["reason"], a3["since_epoch"]) == ("aux", "lunch", T0.timestamp())
    blue = snapshot["teams"]["Blue"]
    assert (blue["busy_s"], blue["idle_s"], blue["occupancy"]) == (2700.0, 2400.0, 0.5294)
    assert blue["agents"] == {"available": 1, "on_contact": 0, "acw": 0, "aux": 0,
                              "logged_out": 1}
    assert snapshot["teams"]["Red"]["occupancy"] is None
    assert snapshot["queues"]["billing"]["agents"]["available"] == 1
    assert snapshot["queues"]["sales"]["agents"]["logged_out"] == 1
    assert snapshot["queues"]["sales"]["offered"] == 0


def test_latest_agent_state_wins_and_equal_times_go_to_the_larger_event_id() -> None:
    events = [
        agent("a1", 0, "available", team="Blue", name="Ana", queues=["billing"],
              event_id="k1"),
        agent("a1", 60, "aux", reason="break", event_id="k3"),
        agent("a1", 60, "on_contact", event_id="k2"),  # same time, smaller id: runs 0 s
        agent("a1", 30, "acw", team="Red", event_id="k0"),
    ]
    a1 = reference_snapshot(events, config())["agents"]["a1"]
    assert (a1["state"], a1["reason"]) == ("aux", "break")
    assert a1["since_epoch"] == T0.timestamp() + 60
    assert (a1["team"], a1["name"], a1["queues"]) == ("Red", "Ana", ["billing"])
    assert (a1["idle_s"], a1["busy_s"]) == (30.0, 30.0)


# --------------------------------------------------------------------------- facts

def test_duplicates_count_once_and_the_earliest_fact_wins() -> None:
    events = [
        queued("c1", 0), queued("c1", 30),  # two queued events: the earliest counts
        answered("c1", 40, "a2"), answered("c1", 40, "a1"),  # tie: smaller agent id
        answered("c1", 50, "a0"),
        by_agent("contact.wrapped", "c1", 100, "a1"),
        queued("c2", 0), abandoned("c2", 25), abandoned("c2", 10),
    ]
    once = reference_rows(events, config())
    assert reference_rows(events + events[::-1], config()) == once
    row = once[0]
    assert (row["offered"], row["answered"], row["asa_s"]) == (2, 1, 40.0)
    assert row["handled"] == 1  # a1 answered, and a1 wrapped
    assert (row["abandoned"], row["abandoned_within_threshold"]) == (1, 1)  # wait 10


def test_an_answer_before_the_queued_time_has_no_wait_and_wins_over_an_abandon() -> None:
    events = [
        queued("c1", 10), answered("c1", 8, "a1"), abandoned("c1", 5),  # skewed clocks
        answered("c9", 3, "a1"),  # never queued: no leg
    ]
    q = today(events, config())
    assert (q["offered"], q["answered"], q["abandoned"]) == (1, 1, 0)
    assert (q["asa_s"], q["answered_within_threshold"]) == (0.0, 1)
    assert reference_rows(events, config())[0]["peak_waiting"] == 0


def test_tenants_are_separate() -> None:
    events = [queued("c1", 0), ev("contact.queued", 5, contact_id="c1", queue="billing",
                                  tenant="acme")]
    rows = reference_rows(events, config())
    assert [(r["tenant"], r["offered"]) for r in rows] == [("acme", 1), ("default", 1)]
    assert reference_snapshot(events, config(), "acme")["as_of_epoch"] == T0.timestamp() + 5
    assert reference_snapshot(events, config())["as_of_epoch"] == T0.timestamp()


# --------------------------------------------------------------------------- recorded files

def test_the_functions_for_recorded_files(tmp_path: Path) -> None:
    lines = [e.model_dump(mode="json", exclude_none=True) for e in sl_day()]
    path = tmp_path / "day.jsonl"
    path.write_text("\n".join([json.dumps(x) for x in lines]
                              + ["not json", "[1, 2]", '{"type": "contact.queued"}']))
    events = reference.read_valid_events(path)
    assert events == lines
    figures = reference.day_figures(events, thresholds={"billing": 20})
    assert figures == {"billing": {
        "offered": 7, "answered": 3, "abandoned": 2, "answered_within_threshold": 2,
        "handled": 0, "service_level": 0.3333, "asa_s": 20.0, "aht_s": None,
        "abandon_rate": 0.2857}}
    assert reference.waiting_now(events + events) == {"billing": 2}

"""A deliberately plain reference for every figure in docs/metrics.md.

It recomputes everything from scratch, from the whole set of events, with dicts and
loops: no incremental state, no arrival order, no code shared with the streaming path
(``stream/metrics``) or the batch report. It only borrows the event model
(``stream.events``) and the settings (``stream.settings``) as inputs.

Numeric conventions (so that results compare bit for bit):
- event time in integer milliseconds since the epoch (floored);
- every time sum in integer ms; ratios ``round(num / den, 4)``; averages in seconds
  ``round(total_ms / count / 1000, 3)``; single durations ``round(ms / 1000, 3)``;
- thresholds T and S (seconds, floats) compared in ms: ``wait <= T * 1000``,
  ``wait < S * 1000``.

Entry points: :func:`reference_rows` (one row per tenant, queue and 15-minute interval)
and :func:`reference_snapshot` (a tenant's live figures). :func:`read_valid_events`,
:func:`day_figures` and :func:`waiting_now` serve the integration tests on recorded files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from stream.events import (
    EVENT_ADAPTER,
    AgentState,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactHeld,
    ContactQueued,
    ContactResumed,
    ContactTransferred,
    ContactWrapped,
    Event,
)
from stream.settings import QueueSettings, Settings

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE_MS = 60_000
INTERVAL_MS = 15 * MINUTE_MS
SAMPLE_MS = 10_000
STATES: tuple[str, ...] = ("available", "on_contact", "acw", "aux", "logged_out")
BUSY_STATES: tuple[str, ...] = ("on_contact", "acw")
IDLE_STATES: tuple[str, ...] = ("available",)
SL_VARIANTS: tuple[str, ...] = (
    "abandons_against", "abandons_ignored", "abandons_for", "answered_only")

# The figure keys of an interval row (and of today's figures in a snapshot).
FIGURE_KEYS: tuple[str, ...] = (
    "offered", "answered", "abandoned", "short_abandoned", "answered_within_threshold",
    "abandoned_within_threshold", "judged", "handled", "transferred", "held",
    "asa_s", "aht_s", "avg_talk_s", "avg_hold_s", "avg_acw_s",
    "service_level", "service_levels", "abandon_rate", "peak_waiting", "sl_threshold_s",
)
ROLLING_KEYS: tuple[str, ...] = (
    "minutes", "offered", "answered", "abandoned", "service_level", "asa_s", "aht_s",
    "abandon_rate",
)
AGENT_KEYS: tuple[str, ...] = (
    "state", "reason", "since_epoch", "handled", "team", "name", "queues",
    "busy_s", "idle_s", "occupancy",
)


# --------------------------------------------------------------------------- numbers

def to_ms(ts: datetime) -> int:
    """Event time in integer milliseconds since the epoch (floored)."""
    return (ts - EPOCH) // timedelta(milliseconds=1)


def iso(ms: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, zone).isoformat()


def ratio(num: int, den: int) -> float | None:
    return None if den == 0 else round(num / den, 4)


def average_s(total_ms: int, count: int) -> float | None:
    return None if count == 0 else round(total_ms / count / 1000, 3)


def seconds(ms: int) -> float:
    return round(ms / 1000, 3)


def interval_start(ms: int) -> int:
    return ms // INTERVAL_MS * INTERVAL_MS


# --------------------------------------------------------------------------- settings

def queue_rule(settings: Settings, queue: str) -> QueueSettings:
    return settings.queues.get(queue, settings.default_queue)


def threshold_ms(rule: QueueSettings) -> float:
    return rule.sl_threshold_s * 1000


def short_abandon_ms(rule: QueueSettings) -> float:
    return rule.short_abandon_s * 1000


def sl_definition(rule: QueueSettings) -> str:
    return str(rule.sl_definition)


def day_start_of(settings: Settings) -> time:
    hours, minutes = settings.day_start.split(":")
    return time(int(hours), int(minutes))


def rolling_minutes(settings: Settings) -> int:
    return settings.rolling_minutes


def day_start_ms(day: date, start: time, zone: ZoneInfo) -> int:
    """The instant the center's day ``day`` starts (wall time ``start`` in ``zone``)."""
    return to_ms(datetime.combine(day, start, tzinfo=zone))


def day_holding(now_ms: int, settings: Settings) -> tuple[date, int, int]:
    """The center's day that holds ``now_ms``: (its date, its start, the next day's start)."""
    zone = ZoneInfo(settings.timezone)
    start = day_start_of(settings)
    local_date = datetime.fromtimestamp(now_ms / 1000, zone).date()
    for day in (local_date - timedelta(days=1), local_date, local_date + timedelta(days=1)):
        begin = day_start_ms(day, start, zone)
        end = day_start_ms(day + timedelta(days=1), start, zone)
        if begin <= now_ms < end:
            return day, begin, end
    raise AssertionError("no day holds the stream time")  # pragma: no cover


# --------------------------------------------------------------------------- events

def unique_events(events: Iterable[Event]) -> list[Event]:
    """The first event of each event_id (the same id twice is the same event)."""
    seen: dict[str, Event] = {}
    for event in events:
        if event.event_id not in seen:
            seen[event.event_id] = event
    return list(seen.values())


def tenants_of(events: list[Event]) -> list[str]:
    return sorted({e.tenant for e in events})


def stream_time_ms(events: list[Event], tenant: str) -> int | None:
    times = [to_ms(e.ts) for e in events if e.tenant == tenant]
    return max(times) if times else None


def earliest(table: dict[Any, Any], key: Any, value: Any) -> None:
    if key not in table or value < table[key]:
        table[key] = value


@dataclass
class Leg:
    """One contact's time in one queue, with everything the figures need."""

    contact: str
    queue: str
    queued_ms: int
    outcome: str  # "answered" | "abandoned" | "waiting"
    outcome_ms: int | None  # answer or abandon time; None while waiting
    wait_ms: int | None  # None while waiting
    agent: str | None
    short: bool
    handled: bool
    talk_ms: int
    hold_ms: int
    acw_ms: int
    transferred: bool
    held: bool  # handled, and a hold overlaps the talk span for a positive time

    def waits_at(self, t_ms: int) -> bool:
        """Waiting at ``t``: queued, no outcome yet, and (without any outcome) for less than
        a day: a leg left waiting a day is taken as lost."""
        if self.outcome_ms is None:
            return self.queued_ms <= t_ms < self.queued_ms + 86_400_000
        return self.queued_ms <= t_ms < self.outcome_ms


@dataclass
class Facts:
    """Every fact of one tenant, each "earliest time wins" (holds: sets of times)."""

    queued: dict[tuple[str, str], int]
    answers: dict[tuple[str, str], tuple[int, str]]
    abandons: dict[tuple[str, str], int]
    ended: dict[tuple[str, str], int]
    transfers: dict[tuple[str, str], int]
    wraps: dict[tuple[str, str], int]
    helds: dict[tuple[str, str], set[int]]
    resumes: dict[tuple[str, str], set[int]]
    agent_events: dict[str, list[AgentState]]


def collect_facts(events: list[Event], tenant: str) -> Facts:
    facts = Facts({}, {}, {}, {}, {}, {}, {}, {}, {})
    for e in events:
        if e.tenant != tenant:
            continue
        ms = to_ms(e.ts)
        if isinstance(e, ContactQueued):
            earliest(facts.queued, (e.contact_id, e.queue), ms)
        elif isinstance(e, ContactAnswered):
            earliest(facts.answers, (e.contact_id, e.queue), (ms, e.agent_id))
        elif isinstance(e, ContactAbandoned):
            earliest(facts.abandons, (e.contact_id, e.queue), ms)
        elif isinstance(e, ContactTransferred):
            earliest(facts.transfers, (e.contact_id, e.agent_id), ms)
            if e.to_queue is not None:
                earliest(facts.queued, (e.contact_id, e.to_queue), ms)
        elif isinstance(e, ContactEnded):
            earliest(facts.ended, (e.contact_id, e.agent_id), ms)
        elif isinstance(e, ContactWrapped):
            earliest(facts.wraps, (e.contact_id, e.agent_id), ms)
        elif isinstance(e, ContactHeld):
            facts.helds.setdefault((e.contact_id, e.agent_id), set()).add(ms)
        elif isinstance(e, ContactResumed):
            facts.resumes.setdefault((e.contact_id, e.agent_id), set()).add(ms)
        elif isinstance(e, AgentState):
            facts.agent_events.setdefault(e.agent_id, []).append(e)
    for evs in facts.agent_events.values():
        evs.sort(key=lambda a: (to_ms(a.ts), a.event_id))
    return facts


def holds_of(helds: set[int], resumes: set[int]) -> list[tuple[int, int | None]]:
    """Walk the held and resumed times in order (at equal times held first): a held while
    not on hold starts a hold, a resumed while on hold ends it, the others change nothing.
    An open hold has no end (None)."""
    marks = sorted([(t, 0) for t in helds] + [(t, 1) for t in resumes])
    found: list[tuple[int, int | None]] = []
    start: int | None = None
    for t, kind in marks:
        if kind == 0 and start is None:
            start = t
        elif kind == 1 and start is not None:
            found.append((start, t))
            start = None
    if start is not None:
        found.append((start, None))
    return found


def clipped_holds(helds: set[int], resumes: set[int], start: int, end: int) -> list[int]:
    """The length of each hold inside the talk span [start, end]; open holds end at end."""
    return [max(0, min(end if stop is None else stop, end) - max(h, start))
            for h, stop in holds_of(helds, resumes)]


def build_legs(facts: Facts, settings: Settings) -> list[Leg]:
    legs: list[Leg] = []
    for (contact, queue), queued_ms in sorted(facts.queued.items()):
        rule = queue_rule(settings, queue)
        key = (contact, queue)
        leg = Leg(contact, queue, queued_ms, "waiting", None, None, None, False, False,
                  0, 0, 0, False, False)
        if key in facts.answers:
            answer_ms, agent = facts.answers[key]
            leg.outcome, leg.outcome_ms, leg.agent = "answered", answer_ms, agent
            leg.wait_ms = max(0, answer_ms - queued_ms)
            seg = (contact, agent)
            leg.transferred = seg in facts.transfers
            if seg in facts.wraps:
                leg.handled = True
                segment_end = max(answer_ms, facts.wraps[seg])
                ends = [t for t in (facts.ended.get(seg), facts.transfers.get(seg))
                        if t is not None]
                talk_end = min(ends) if ends else segment_end
                talk_end = min(max(talk_end, answer_ms), segment_end)
                holds = clipped_holds(facts.helds.get(seg, set()),
                                      facts.resumes.get(seg, set()), answer_ms, talk_end)
                leg.hold_ms = sum(holds)
                leg.held = any(h > 0 for h in holds)
                leg.talk_ms = talk_end - answer_ms - leg.hold_ms
                leg.acw_ms = segment_end - talk_end
        elif key in facts.abandons:
            abandon_ms = facts.abandons[key]
            leg.outcome, leg.outcome_ms = "abandoned", abandon_ms
            leg.wait_ms = max(0, abandon_ms - queued_ms)
            leg.short = leg.wait_ms < short_abandon_ms(rule)
        legs.append(leg)
    return legs


# --------------------------------------------------------------------------- figures

def judged(leg: Leg, now_ms: int, t_ms: float) -> bool:
    if leg.short:
        return False
    if leg.outcome != "waiting":
        return True
    return now_ms - leg.queued_ms >= t_ms


def figures(legs: list[Leg], rule: QueueSettings, now_ms: int) -> dict[str, Any]:
    """The queue figures of docs/metrics.md section 2 over ``legs`` (one period)."""
    t_ms = threshold_ms(rule)
    offered = [leg for leg in legs if not leg.short]
    answered = [leg for leg in offered if leg.outcome == "answered"]
    abandoned = [leg for leg in offered if leg.outcome == "abandoned"]
    handled = [leg for leg in answered if leg.handled]
    answered_within = sum(1 for leg in answered if leg.wait_ms is not None
                          and leg.wait_ms <= t_ms)
    abandoned_within = sum(1 for leg in abandoned if leg.wait_ms is not None
                           and leg.wait_ms <= t_ms)
    n_judged = sum(1 for leg in offered if judged(leg, now_ms, t_ms))
    levels: dict[str, float | None] = {
        "abandons_against": ratio(answered_within, n_judged),
        "abandons_ignored": ratio(answered_within, n_judged - abandoned_within),
        "abandons_for": ratio(answered_within + abandoned_within, n_judged),
        "answered_only": ratio(answered_within, len(answered)),
    }
    total_wait = sum(leg.wait_ms or 0 for leg in answered)
    talk = sum(leg.talk_ms for leg in handled)
    hold = sum(leg.hold_ms for leg in handled)
    acw = sum(leg.acw_ms for leg in handled)
    return {
        "offered": len(offered),
        "answered": len(answered),
        "abandoned": len(abandoned),
        "short_abandoned": sum(1 for leg in legs if leg.short),
        "answered_within_threshold": answered_within,
        "abandoned_within_threshold": abandoned_within,
        "judged": n_judged,
        "handled": len(handled),
        "transferred": sum(1 for leg in offered if leg.transferred),
        "held": sum(1 for leg in handled if leg.held),
        "asa_s": average_s(total_wait, len(answered)),
        "aht_s": average_s(talk + hold + acw, len(handled)),
        "avg_talk_s": average_s(talk, len(handled)),
        "avg_hold_s": average_s(hold, len(handled)),
        "avg_acw_s": average_s(acw, len(handled)),
        "service_level": levels[sl_definition(rule)],
        "service_levels": levels,
        "abandon_rate": ratio(len(abandoned), len(offered)),
        "sl_threshold_s": float(rule.sl_threshold_s),
    }


def peak_waiting(queue_legs: list[Leg], start_ms: int, now_ms: int) -> int:
    """Most legs of the queue waiting at the instants start + 10k s of the interval that
    are not after stream time (short abandons are not offered, so they never wait)."""
    peak = 0
    for k in range(INTERVAL_MS // SAMPLE_MS):
        t = start_ms + k * SAMPLE_MS
        if t > now_ms:
            break
        peak = max(peak, sum(1 for leg in queue_legs if not leg.short and leg.waits_at(t)))
    return peak


@dataclass
class TenantModel:
    tenant: str
    now_ms: int
    facts: Facts
    legs: list[Leg]


def tenant_model(events: list[Event], tenant: str, settings: Settings) -> TenantModel | None:
    now_ms = stream_time_ms(events, tenant)
    if now_ms is None:
        return None
    facts = collect_facts(events, tenant)
    return TenantModel(tenant, now_ms, facts, build_legs(facts, settings))


def interval_rows(model: TenantModel, settings: Settings) -> list[dict[str, Any]]:
    zone = ZoneInfo(settings.timezone)
    groups: dict[tuple[str, int], list[Leg]] = {}
    for leg in model.legs:
        groups.setdefault((leg.queue, interval_start(leg.queued_ms)), []).append(leg)
    rows = []
    for (queue, start), legs in sorted(groups.items()):
        queue_legs = [leg for leg in model.legs if leg.queue == queue]
        row: dict[str, Any] = {
            "tenant": model.tenant,
            "queue": queue,
            "interval_start": iso(start, zone),
            "interval_end": iso(start + INTERVAL_MS, zone),
            "interval_start_ms": start,
        }
        row.update(figures(legs, queue_rule(settings, queue), model.now_ms))
        row["peak_waiting"] = peak_waiting(queue_legs, start, model.now_ms)
        rows.append(row)
    return rows


def reference_rows(events: Iterable[Event], settings: Settings) -> list[dict[str, Any]]:
    """One row per (tenant, queue, interval) with at least one leg queued in it, sorted by
    tenant, queue and interval start (as an instant), without ``status``."""
    unique = unique_events(events)
    rows: list[dict[str, Any]] = []
    for tenant in tenants_of(unique):
        model = tenant_model(unique, tenant, settings)
        assert model is not None
        rows.extend(interval_rows(model, settings))
    for row in rows:
        del row["interval_start_ms"]
    return rows


# --------------------------------------------------------------------------- agents

def latest_value(evs: list[AgentState], field: str) -> Any:
    value = None
    for e in evs:  # sorted by (ts, event_id)
        if getattr(e, field) is not None:
            value = getattr(e, field)
    return value


def time_in_states(evs: list[AgentState], begin: int, end: int) -> dict[str, int]:
    """ms spent in each state within [begin, end): each state event runs to the next one
    (by event time), the last one to ``end``."""
    spent = dict.fromkeys(STATES, 0)
    for i, e in enumerate(evs):
        start = to_ms(e.ts)
        stop = to_ms(evs[i + 1].ts) if i + 1 < len(evs) else end
        spent[e.state] += max(0, min(stop, end) - max(start, begin))
    return spent


def busy_idle_ms(evs: list[AgentState], begin: int, end: int) -> tuple[int, int]:
    spent = time_in_states(evs, begin, end)
    return sum(spent[s] for s in BUSY_STATES), sum(spent[s] for s in IDLE_STATES)


def agent_figures(facts: Facts, now_ms: int, today: tuple[int, int]
                  ) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[int, int]]]:
    """Agents' figures (busy and idle up to ``since``: the entry changes only when the
    agent does), and each agent's busy and idle up to stream time (for teams)."""
    begin, end = today
    agents: dict[str, dict[str, Any]] = {}
    busy_idle_now: dict[str, tuple[int, int]] = {}
    for agent, evs in sorted(facts.agent_events.items()):
        last = evs[-1]
        since_ms = to_ms(last.ts)
        busy, idle = busy_idle_ms(evs, begin, min(end, since_ms))
        busy_idle_now[agent] = busy_idle_ms(evs, begin, min(end, now_ms))
        queues = latest_value(evs, "queues")
        agents[agent] = {
            "state": last.state,
            "reason": last.reason,
            "since_epoch": since_ms / 1000,
            "handled": sum(1 for (_c, a), wrap in facts.wraps.items()
                           if a == agent and begin <= wrap < end),
            "team": latest_value(evs, "team"),
            "name": latest_value(evs, "name"),
            "queues": list(queues) if queues is not None else [],
            "busy_s": seconds(busy),
            "idle_s": seconds(idle),
            "occupancy": ratio(busy, busy + idle),
        }
    return agents, busy_idle_now


def count_states(names: Iterable[str], agents: dict[str, dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for name in names:
        counts[agents[name]["state"]] += 1
    return counts


# --------------------------------------------------------------------------- snapshot

def reference_snapshot(events: Iterable[Event], settings: Settings,
                       tenant: str = "default") -> dict[str, Any]:
    """A tenant's live figures: today's per-queue figures plus now and rolling figures,
    agents and teams (docs/metrics.md sections 2 and 3)."""
    unique = unique_events(events)
    model = tenant_model(unique, tenant, settings)
    if model is None:
        return {"tenant": tenant, "as_of_epoch": None, "day": None,
                "timezone": settings.timezone, "queues": {}, "agents": {}, "teams": {}}
    now_ms = model.now_ms
    day, begin, end = day_holding(now_ms, settings)
    agents, busy_idle_now = agent_figures(model.facts, now_ms, (begin, end))

    rows = interval_rows(model, settings)
    queue_names = {leg.queue for leg in model.legs}
    for a in agents.values():
        queue_names.update(a["queues"])

    minutes = rolling_minutes(settings)
    window_start = now_ms // MINUTE_MS * MINUTE_MS - (minutes - 1) * MINUTE_MS
    queues: dict[str, dict[str, Any]] = {}
    for queue in sorted(queue_names):
        rule = queue_rule(settings, queue)
        legs = [leg for leg in model.legs if leg.queue == queue]
        today_legs = [leg for leg in legs if begin <= leg.queued_ms < end]
        entry = figures(today_legs, rule, now_ms)
        entry["peak_waiting"] = max(
            (r["peak_waiting"] for r in rows
             if r["queue"] == queue and begin <= r["interval_start_ms"] < end), default=0)
        waiting = [leg for leg in legs if leg.outcome == "waiting" and leg.waits_at(now_ms)]
        entry["waiting"] = len(waiting)
        entry["longest_wait_s"] = (
            seconds(now_ms - min(leg.queued_ms for leg in waiting)) if waiting else 0.0)
        window = figures([leg for leg in legs if window_start <= leg.queued_ms], rule, now_ms)
        entry["rolling"] = {"minutes": minutes, **{k: window[k] for k in ROLLING_KEYS[1:]}}
        entry["agents"] = count_states(
            [a for a, fig in agents.items() if queue in fig["queues"]], agents)
        queues[queue] = entry

    teams: dict[str, dict[str, Any]] = {}
    for team in sorted({a["team"] for a in agents.values() if a["team"] is not None}):
        members = [a for a, fig in agents.items() if fig["team"] == team]
        busy = sum(busy_idle_now[a][0] for a in members)
        idle = sum(busy_idle_now[a][1] for a in members)
        teams[team] = {"agents": count_states(members, agents), "busy_s": seconds(busy),
                       "idle_s": seconds(idle), "occupancy": ratio(busy, busy + idle)}

    return {
        "tenant": tenant,
        "as_of_epoch": now_ms / 1000,
        "day": day.isoformat(),
        "timezone": settings.timezone,
        "queues": queues,
        "agents": agents,
        "teams": teams,
    }


# --------------------------------------------------------------------------- recorded files

def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def to_events(events: Iterable[dict[str, object]]) -> list[Event]:
    out = []
    for obj in events:
        try:
            out.append(EVENT_ADAPTER.validate_python(obj))
        except ValidationError:
            continue
    return out


def read_valid_events(path: Path) -> list[dict[str, object]]:
    """Lines that are valid canonical events, as dicts (the others are the worker's dead
    letters and do not count)."""
    events: list[dict[str, object]] = []
    for line in path.read_text().splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        try:
            EVENT_ADAPTER.validate_python(obj)
        except ValidationError:
            continue
        events.append(obj)
    return events


LEGACY_KEYS: tuple[str, ...] = (
    "offered", "answered", "abandoned", "answered_within_threshold", "handled",
    "service_level", "asa_s", "aht_s", "abandon_rate",
)


def day_figures(events: list[dict[str, object]], zone: str = "UTC",
                thresholds: dict[str, float] | None = None,
                default_threshold: float = 20.0) -> dict[str, dict[str, object]]:
    """Per queue with legs queued today (tenant ``default``, day start 00:00): today's
    main figures, by :func:`reference_snapshot`."""
    settings = Settings(
        timezone=zone,
        queues={q: QueueSettings(sl_threshold_s=t) for q, t in (thresholds or {}).items()},
        default_queue=QueueSettings(sl_threshold_s=default_threshold),
    )
    valid = to_events(events)
    snapshot = reference_snapshot(valid, settings, "default")
    model = tenant_model(unique_events(valid), "default", settings)
    if model is None:
        return {}
    _day, begin, end = day_holding(model.now_ms, settings)
    today_queues = {leg.queue for leg in model.legs if begin <= leg.queued_ms < end}
    return {q: {k: snapshot["queues"][q][k] for k in LEGACY_KEYS}
            for q in sorted(today_queues)}


def waiting_now(events: list[dict[str, object]]) -> dict[str, int]:
    """Legs waiting now (neither answered nor abandoned), per queue, over all tenants."""
    valid = unique_events(to_events(events))
    counts: dict[str, int] = {}
    for tenant in tenants_of(valid):
        settings = Settings()
        for leg in build_legs(collect_facts(valid, tenant), settings):
            if leg.outcome == "waiting":
                counts[leg.queue] = counts.get(leg.queue, 0) + 1
    return counts

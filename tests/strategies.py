"""Hypothesis strategies: contact-center histories, and ways of delivering them.

A *history* is a set of events (each once) with the settings they are judged by: a few
queues, agents and contacts; each contact follows a realistic course (queued, then
answered / abandoned / still waiting, holds, ended or transferred, wrapped), clustered
around day starts and DST changes so that intervals, days and the rolling window are
crossed. Only cases that docs/metrics.md decides are generated (see the report of the
reference for the ones it leaves open).

A *delivery* is how the worker may see that history: events on 1-4 partitions (every
event of one contact, or of one agent, on one partition, by ``event_key``), duplicated at
random, and shuffled with a bounded delay so that no event arrives more than the allowed
lateness behind what its partition has already seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from stream.events import EVENT_ADAPTER, Event, event_key
from stream.settings import QueueSettings, Settings

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
QUEUES: tuple[str, ...] = ("billing", "sales", "support")
AGENTS: tuple[str, ...] = ("a1", "a2", "a3", "a4", "a5")
TEAMS: tuple[str, ...] = ("Blue", "Red")
TENANTS: tuple[str, ...] = ("default", "acme")
ZONES: tuple[str, ...] = (
    "UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Adelaide")
# Dates with a DST change in one of the zones above, and an ordinary one.
DATES: tuple[date, ...] = (
    date(2026, 3, 8), date(2026, 3, 29), date(2026, 4, 5), date(2026, 10, 4),
    date(2026, 10, 25), date(2026, 11, 1), date(2026, 11, 23))
DAY_STARTS: tuple[str, ...] = ("00:00", "06:00", "05:45")
VARIANTS: tuple[str, ...] = (
    "abandons_against", "abandons_ignored", "abandons_for", "answered_only")
SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE


def to_ms(ts: datetime) -> int:
    return (ts - EPOCH) // timedelta(milliseconds=1)


def describe(event: Event) -> str:
    """One short line per event, for failure reports."""
    fields = event.model_dump(mode="json", exclude_none=True,
                              exclude={"event_id", "ts", "type", "channel", "text", "name"})
    if fields.get("tenant") == "default":
        del fields["tenant"]
    body = " ".join(f"{k}={v}" for k, v in fields.items())
    return f"{event.event_id} {event.ts.astimezone(UTC).isoformat()} {event.type} {body}"


def describe_settings(settings: Settings) -> str:
    rules = {q: (r.sl_threshold_s, r.short_abandon_s, r.sl_definition)
             for q, r in settings.queues.items()}
    return (f"timezone={settings.timezone} day_start={settings.day_start} "
            f"rolling_minutes={settings.rolling_minutes} "
            f"allowed_lateness_s={settings.allowed_lateness_s} queues(T, S, SL)={rules} "
            f"default T={settings.default_queue.sl_threshold_s}")


@dataclass(frozen=True)
class History:
    settings: Settings
    events: tuple[Event, ...]  # each event once
    tenants: tuple[str, ...]

    def __repr__(self) -> str:
        ordered = sorted(self.events, key=lambda e: (to_ms(e.ts), e.event_id))
        lines = "\n  ".join(describe(e) for e in ordered)
        return f"History({describe_settings(self.settings)}\n  {lines})"


@dataclass(frozen=True)
class Delivery:
    arrivals: tuple[tuple[Event, ...], ...]  # per partition, in arrival order
    batch: tuple[Event, ...]  # every delivered copy, in event-time order

    def __repr__(self) -> str:
        parts = "\n  ".join(f"partition {n}: {[e.event_id for e in p]}"
                            for n, p in enumerate(self.arrivals))
        return f"Delivery(\n  {parts})"


@dataclass(frozen=True)
class Scenario:
    history: History
    delivery: Delivery

    def __repr__(self) -> str:
        return f"{self.history!r}\n{self.delivery!r}"


# --------------------------------------------------------------------------- settings

@st.composite
def settings_strategy(draw: st.DrawFn) -> Settings:
    queues: dict[str, QueueSettings] = {}
    for queue in QUEUES:
        if queue == "support" and draw(st.booleans()):
            continue  # judged by the default rule
        queues[queue] = QueueSettings(
            sl_threshold_s=draw(st.sampled_from([10.0, 20.0, 30.0, 15.5])),
            short_abandon_s=draw(st.sampled_from([0.0, 0.0, 5.0, 2.5])),
            sl_definition=draw(st.sampled_from(VARIANTS)),
        )
    return Settings(
        timezone=draw(st.sampled_from(ZONES)),
        day_start=draw(st.sampled_from(DAY_STARTS)),
        rolling_minutes=draw(st.sampled_from([1, 15, 30, 60])),
        allowed_lateness_s=draw(st.sampled_from([600.0, 3600.0, 7200.0])),
        queues=queues,
        default_queue=QueueSettings(sl_threshold_s=20.0),
    )


def day_start_ms(settings: Settings, day: date) -> int:
    hours, minutes = settings.day_start.split(":")
    start = datetime.combine(day, time(int(hours), int(minutes)), tzinfo=ZoneInfo(
        settings.timezone))
    return to_ms(start)


# --------------------------------------------------------------------------- histories

@dataclass
class Builder:
    """Collects raw events (dicts) of one history; ids are given at the end."""

    draw: st.DrawFn
    settings: Settings
    anchors: list[int]
    raw: list[dict[str, Any]] = field(default_factory=list)
    tenant: str = "default"

    def add(self, kind: str, ms: int, **fields: Any) -> None:
        self.raw.append({"type": kind, "ms": ms, "tenant": self.tenant, **fields})

    def jitter(self) -> int:
        return self.draw(st.sampled_from([0, 0, 0, 0, 1, 500, 999]))

    def instant(self, spread_s: int = 40 * 60) -> int:
        anchor = self.draw(st.sampled_from(self.anchors))
        return anchor + self.draw(st.integers(-spread_s, spread_s)) * SECOND + self.jitter()

    def wait(self, queue: str) -> int:
        rule = self.settings.queue(queue)
        t = round(rule.sl_threshold_s * SECOND)
        s = round(rule.short_abandon_s * SECOND)
        special = [0, t, t - 1, t + 1, s, s - 1, s + 1]
        return self.draw(st.one_of(
            st.sampled_from([w for w in special if w >= 0]),
            st.integers(0, 240).map(lambda x: x * SECOND),
        )) + self.draw(st.sampled_from([0, 0, 0, 1, 999]))


def contact(b: Builder, cid: str) -> None:
    queue = b.draw(st.sampled_from(QUEUES))
    tq = b.instant()
    b.add("contact.queued", tq, contact_id=cid, queue=queue,
          channel=b.draw(st.sampled_from(["voice", "chat"])))
    used: set[str] = set()
    leg(b, cid, queue, tq, used, depth=0)
    for _ in range(b.draw(st.integers(0, 1))):
        b.add("chat.message", tq + b.draw(st.integers(0, 600)) * SECOND,
              contact_id=cid, sender="customer", text="hello")
    if b.draw(st.integers(0, 9)) == 0:  # an answer for a queue the contact never entered
        b.add("contact.answered", tq + b.wait(queue), contact_id=cid, queue="overflow",
              agent_id=b.draw(st.sampled_from(AGENTS)))


def leg(b: Builder, cid: str, queue: str, tq: int, used: set[str], depth: int) -> None:
    """A leg queued at ``tq`` (its queued event, or the transfer, is already added)."""
    if b.draw(st.integers(0, 7)) == 0:  # a second, later queued event: the earliest counts
        later = b.draw(st.one_of(st.integers(0, 60), st.integers(0, 1200))) * SECOND
        b.add("contact.queued", tq + later + b.jitter(), contact_id=cid, queue=queue,
              channel="voice")
    outcome = b.draw(st.sampled_from(
        ["answered", "answered", "answered", "abandoned", "abandoned", "waiting", "both",
         "skewed"]))
    free = [a for a in AGENTS if a not in used]
    if outcome in ("answered", "both", "skewed") and free:
        # "skewed": the answer's clock is behind the queue's, so the wait is 0.
        ta = tq - b.draw(st.integers(1, 3000)) if outcome == "skewed" else tq + b.wait(queue)
        agent = b.draw(st.sampled_from(free))
        used.add(agent)
        b.add("contact.answered", ta, contact_id=cid, queue=queue, agent_id=agent)
        winner = agent
        others = [a for a in free if a != agent]
        if others and b.draw(st.integers(0, 5)) == 0:  # a competing answer, same or later
            other = b.draw(st.sampled_from(others))
            used.add(other)
            later = b.draw(st.sampled_from([0, 0, 1, 5 * SECOND]))
            b.add("contact.answered", ta + later, contact_id=cid, queue=queue, agent_id=other)
            if later == 0:
                winner = min(agent, other)
        if outcome == "both":  # a contradicting abandon, before or after the answer
            b.add("contact.abandoned", tq + b.draw(st.integers(0, 60)) * SECOND,
                  contact_id=cid, queue=queue)
        segment(b, cid, winner, ta, used, depth)
    elif outcome in ("abandoned", "both", "skewed"):
        ta = tq + b.wait(queue)
        b.add("contact.abandoned", ta, contact_id=cid, queue=queue)
        if b.draw(st.integers(0, 5)) == 0:  # a second, later abandon
            b.add("contact.abandoned", ta + b.draw(st.integers(0, 30)) * SECOND,
                  contact_id=cid, queue=queue)


def segment(b: Builder, cid: str, agent: str, ta: int, used: set[str], depth: int) -> None:
    """The answering agent's talk (with holds), end or transfer, and wrap."""
    te = ta + b.draw(st.integers(0, 400)) * SECOND + b.jitter()
    if b.draw(st.integers(0, 3)) == 0:
        # Any marks: double holds, resumes without a hold, equal times, marks outside the
        # talk span (the walk in docs/metrics.md decides them all).
        span = (te - ta) // SECOND
        for _ in range(b.draw(st.integers(1, 5))):
            kind = b.draw(st.sampled_from(["contact.held", "contact.resumed"]))
            at = ta + b.draw(st.integers(-10, span + 30)) * SECOND
            b.add(kind, at, contact_id=cid, agent_id=agent)
    else:
        cursor, first = ta, True
        for _ in range(b.draw(st.integers(0, 3))):
            h = cursor + b.draw(st.integers(0 if first else 1, 60 * SECOND))
            first = False
            if h >= te:
                break
            b.add("contact.held", h, contact_id=cid, agent_id=agent)
            r = h + b.draw(st.integers(1, 90)) * SECOND
            if b.draw(st.integers(0, 4)) == 0:
                break  # a hold still open when the talk ends
            b.add("contact.resumed", r, contact_id=cid, agent_id=agent)
            cursor = r
    end = b.draw(st.sampled_from(
        ["ended", "ended", "to_queue", "to_queue_and_ended", "to_agent", "silent"]))
    last = te
    if end in ("ended", "silent"):
        if end == "ended" or b.draw(st.booleans()):
            b.add("contact.ended", te, contact_id=cid, agent_id=agent)
        else:
            return  # neither ended nor wrapped yet: answered, not handled
    elif end in ("to_queue", "to_queue_and_ended"):
        to_queue = b.draw(st.sampled_from(QUEUES))
        b.add("contact.transferred", te, contact_id=cid, agent_id=agent, to_queue=to_queue)
        if end == "to_queue_and_ended":
            last = te + b.draw(st.sampled_from([0, 1, 3 * SECOND]))
            b.add("contact.ended", last, contact_id=cid, agent_id=agent)
        if depth < 2:
            leg(b, cid, to_queue, te, used, depth + 1)
    else:
        free = [a for a in AGENTS if a not in used]
        if free:
            target = b.draw(st.sampled_from(free))
            used.add(target)
            b.add("contact.transferred", te, contact_id=cid, agent_id=agent, to_agent=target)
            done = te + b.draw(st.integers(1, 300)) * SECOND
            b.add("contact.ended", done, contact_id=cid, agent_id=target)
            if b.draw(st.booleans()):
                b.add("contact.wrapped", done + b.draw(st.integers(0, 60)) * SECOND,
                      contact_id=cid, agent_id=target)
        else:
            b.add("contact.ended", te, contact_id=cid, agent_id=agent)
    if b.draw(st.integers(0, 6)) > 0:
        b.add("contact.wrapped", last + b.draw(st.integers(0, 120)) * SECOND + b.jitter(),
              contact_id=cid, agent_id=agent)


def agent_states(b: Builder, agent: str) -> None:
    times = sorted(b.instant(3 * 3600) for _ in range(b.draw(st.integers(1, 5))))
    for i, ms in enumerate(times):
        state = b.draw(st.sampled_from(["available", "available", "on_contact", "acw", "aux",
                                        "logged_out"]))
        fields: dict[str, Any] = {"agent_id": agent, "state": state}
        if state == "aux":
            fields["reason"] = b.draw(st.sampled_from(["break", "lunch"]))
        if i == 0:
            fields["queues"] = b.draw(st.lists(st.sampled_from(QUEUES), unique=True,
                                               max_size=3))
            team = b.draw(st.sampled_from([*TEAMS, None]))
            if team is not None:
                fields["team"] = team
            fields["name"] = f"Agent {agent}"
        else:
            change = b.draw(st.integers(0, 5))
            if change == 0:
                fields["team"] = b.draw(st.sampled_from(TEAMS))
            elif change == 1:
                fields["queues"] = b.draw(st.lists(st.sampled_from(QUEUES), unique=True,
                                                   max_size=3))
        b.add("agent.state", ms, **fields)
        if b.draw(st.integers(0, 7)) == 0:  # another state at the very same time
            b.add("agent.state", ms, agent_id=agent, state=b.draw(st.sampled_from(
                ["available", "on_contact", "aux"])))


@st.composite
def histories(draw: st.DrawFn) -> History:
    settings = draw(settings_strategy())
    day = draw(st.sampled_from(DATES))
    start = day_start_ms(settings, day)
    anchors = [start, start + 2 * HOUR, day_start_ms(settings, day + timedelta(days=1))]
    b = Builder(draw, settings, anchors)
    tenants = TENANTS[: draw(st.integers(1, 2))]
    for t, tenant in enumerate(tenants):
        b.tenant = tenant
        for agent in AGENTS[: draw(st.integers(0 if t else 1, len(AGENTS)))]:
            agent_states(b, agent)
        for n in range(draw(st.integers(0 if t else 1, 8 if t == 0 else 3))):
            contact(b, f"c{n}")
    order = draw(st.permutations(range(len(b.raw))))
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))  # the offset the times are written in
    events = []
    for n, raw in zip(order, b.raw, strict=True):
        body = dict(raw)
        ms = body.pop("ms")
        body["ts"] = (EPOCH + timedelta(milliseconds=ms)).astimezone(zone).isoformat()
        body["event_id"] = f"ev{n}"
        events.append(EVENT_ADAPTER.validate_python(body))
    return History(settings, tuple(events), tenants)


# --------------------------------------------------------------------------- deliveries

@st.composite
def deliveries(draw: st.DrawFn, history: History) -> Delivery:
    rnd = draw(st.randoms(use_true_random=False))
    partitions = draw(st.integers(1, 4))
    lateness_ms = int(history.settings.allowed_lateness_s * 1000)
    max_delay = draw(st.sampled_from([0, 1000, lateness_ms // 4, lateness_ms]))
    duplicate_p = draw(st.sampled_from([0.0, 0.1, 0.3]))
    where: dict[bytes, int] = {}
    for e in history.events:
        where.setdefault(event_key(e), rnd.randrange(partitions))
    copies: list[Event] = []
    for e in history.events:
        copies.append(e)
        while rnd.random() < duplicate_p:
            copies.append(e)  # the same event again (same id, same content)
    keyed = [(to_ms(e.ts) + rnd.randint(0, max_delay), rnd.random(), e) for e in copies]
    keyed.sort(key=lambda k: (k[0], k[1]))
    arrivals: list[list[Event]] = [[] for _ in range(partitions)]
    for _at, _tie, e in keyed:
        arrivals[where[event_key(e)]].append(e)
    batch = sorted(copies, key=lambda e: to_ms(e.ts))
    return Delivery(tuple(tuple(p) for p in arrivals), tuple(batch))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    history = draw(histories())
    return Scenario(history, draw(deliveries(history)))

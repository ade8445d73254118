"""Per-contact and per-agent facts: what the events say, kept so that order and repetition
do not matter.

Every fact is set-like: the earliest time wins (``min``), holds are sets of times, an agent's
timeline is a set of (time, event id, state): so applying the same event twice, or a
contact's events in any order, gives the same facts. Figures are pure functions of facts
(:mod:`stream.metrics.partition`), which is what makes them exact under late, reordered and
duplicated events and after a crash replays a batch.

Times are integer milliseconds. Facts serialise to plain lists for the worker's changelog
tables: a contact as one record (``dump`` / ``load``), an agent as a profile record and a
record per hour of marks (``take_records`` / ``load``).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Final

from stream.events import (
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


def _min(current: int | None, ts: int) -> int:
    return ts if current is None or ts < current else current


# The classes below write out ``__init__`` (and ``__eq__``) instead of having the dataclass
# generate them: generated methods stay interpreted under mypyc, written ones are compiled
# (docs/performance.md, "Eighth round"). The dataclass still gives them a ``__repr__``.


@dataclass(slots=True)
class Leg:
    """The contact's time in one queue: offered there once, with one outcome."""

    queued: int | None
    answered: int | None
    agent: str | None  # the agent whose answer was first
    abandoned: int | None

    def __init__(self, queued: int | None = None, answered: int | None = None,
                 agent: str | None = None, abandoned: int | None = None) -> None:
        self.queued = queued
        self.answered = answered
        self.agent = agent
        self.abandoned = abandoned

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Leg):
            return NotImplemented
        return (self.queued == other.queued and self.answered == other.answered
                and self.agent == other.agent and self.abandoned == other.abandoned)

    @property
    def waiting(self) -> bool:
        return self.queued is not None and self.answered is None and self.abandoned is None

    @property
    def outcome(self) -> int | None:
        return self.answered if self.answered is not None else self.abandoned


@dataclass(slots=True)
class Segment:
    """One agent's handling of the contact: talk (+ hold), then ACW until wrapped."""

    start: int | None  # answered, or transferred in to this agent
    ended: int | None
    transferred: int | None  # this agent transferred the contact on
    wrapped: int | None
    held: set[int]
    resumed: set[int]

    def __init__(self, start: int | None = None, ended: int | None = None,
                 transferred: int | None = None, wrapped: int | None = None,
                 held: set[int] | None = None, resumed: set[int] | None = None) -> None:
        self.start = start
        self.ended = ended
        self.transferred = transferred
        self.wrapped = wrapped
        self.held = set() if held is None else held
        self.resumed = set() if resumed is None else resumed

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Segment):
            return NotImplemented
        return (self.start == other.start and self.ended == other.ended
                and self.transferred == other.transferred and self.wrapped == other.wrapped
                and self.held == other.held and self.resumed == other.resumed)

    def talk_end(self) -> int | None:
        """End of the talk span: the earliest of ended and transferred (else the wrap)."""
        ended, transferred = self.ended, self.transferred
        if ended is None:
            return self.wrapped if transferred is None else transferred
        return ended if transferred is None or ended <= transferred else transferred

    def holds(self) -> list[tuple[int, int | None]]:
        """Hold spans by walking held/resumed in time order (held first at equal times)."""
        spans: list[tuple[int, int | None]] = []
        if not self.held:  # most segments: never held
            return spans
        marks = sorted([(t, 0) for t in self.held] + [(t, 1) for t in self.resumed])
        start: int | None = None
        for t, kind in marks:
            if kind == 0 and start is None:
                start = t
            elif kind == 1 and start is not None:
                spans.append((start, t))
                start = None
        if start is not None:
            spans.append((start, None))
        return spans


@dataclass(slots=True)
class ContactFacts:
    legs: dict[str, Leg]
    segments: dict[str, Segment]
    last_ts: int  # latest event time seen for the contact (for expiry)

    def __init__(self, legs: dict[str, Leg] | None = None,
                 segments: dict[str, Segment] | None = None, last_ts: int = 0) -> None:
        self.legs = {} if legs is None else legs
        self.segments = {} if segments is None else segments
        self.last_ts = last_ts

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ContactFacts):
            return NotImplemented
        return (self.legs == other.legs and self.segments == other.segments
                and self.last_ts == other.last_ts)

    def leg(self, queue: str) -> Leg:
        leg = self.legs.get(queue)
        if leg is None:
            leg = self.legs[queue] = Leg()
        return leg

    def segment(self, agent: str) -> Segment:
        seg = self.segments.get(agent)
        if seg is None:
            seg = self.segments[agent] = Segment()
        return seg

    @property
    def complete(self) -> bool:
        """Every leg has an outcome and every segment is wrapped."""
        return all(not leg.waiting for leg in self.legs.values()) and all(
            seg.wrapped is not None for seg in self.segments.values()
        )

    def apply(self, event: Event, ts: int) -> bool:
        """Record what ``event`` says. Idempotent; order-independent. Returns whether any
        leg or segment changed (``last_ts`` aside): if not, neither did the contribution.
        The event's class is compared, not ``isinstance``: the event classes have none
        below them, and a pydantic model's metaclass makes each ``isinstance`` a call."""
        if ts > self.last_ts:
            self.last_ts = ts
        if type(event) is ContactQueued:
            leg = self.legs.get(event.queue)
            if leg is None:
                self.legs[event.queue] = Leg(queued=ts)
                return True
            if leg.queued is None or ts < leg.queued:
                leg.queued = ts
                return True
            return False
        if type(event) is ContactAnswered:
            changed = False
            leg = self.legs.get(event.queue)
            if leg is None:
                leg = self.legs[event.queue] = Leg()
            if leg.answered is None or ts < leg.answered or (
                ts == leg.answered and leg.agent is not None and event.agent_id < leg.agent
            ):
                leg.answered = ts
                leg.agent = event.agent_id
                changed = True
            seg = self.segments.get(event.agent_id)
            if seg is None:
                self.segments[event.agent_id] = Segment(start=ts)
                return True
            if seg.start is None or ts < seg.start:
                seg.start = ts
                return True
            return changed
        if type(event) is ContactAbandoned:
            leg = self.legs.get(event.queue)
            if leg is None:
                self.legs[event.queue] = Leg(abandoned=ts)
                return True
            if leg.abandoned is None or ts < leg.abandoned:
                leg.abandoned = ts
                return True
            return False
        if type(event) is ContactEnded:
            seg = self.segments.get(event.agent_id)
            if seg is None:
                self.segments[event.agent_id] = Segment(ended=ts)
                return True
            if seg.ended is None or ts < seg.ended:
                seg.ended = ts
                return True
            return False
        if type(event) is ContactWrapped:
            seg = self.segments.get(event.agent_id)
            if seg is None:
                self.segments[event.agent_id] = Segment(wrapped=ts)
                return True
            if seg.wrapped is None or ts < seg.wrapped:
                seg.wrapped = ts
                return True
            return False
        if type(event) is ContactHeld or type(event) is ContactResumed:
            seg = self.segment(event.agent_id)
            marks = seg.held if type(event) is ContactHeld else seg.resumed
            if ts in marks:
                return False
            marks.add(ts)
            return True
        if type(event) is ContactTransferred:
            seg = self.segment(event.agent_id)
            before = (seg.transferred, len(self.legs), len(self.segments))
            seg.transferred = _min(seg.transferred, ts)
            changed = before[0] != seg.transferred
            if event.to_queue is not None:
                leg = self.leg(event.to_queue)
                changed |= leg.queued is None or ts < leg.queued
                leg.queued = _min(leg.queued, ts)
            if event.to_agent is not None:
                to = self.segment(event.to_agent)
                changed |= to.start is None or ts < to.start
                to.start = _min(to.start, ts)
            return changed or before[1:] != (len(self.legs), len(self.segments))
        # chat / transcript: no contact-figure facts.
        return False

    def dump(self) -> list[object]:
        return [
            self.last_ts,
            {q: [g.queued, g.answered, g.agent, g.abandoned] for q, g in self.legs.items()},
            {a: [s.start, s.ended, s.transferred, s.wrapped, sorted(s.held), sorted(s.resumed)]
             for a, s in self.segments.items()},
        ]

    @classmethod
    def load(cls, data: list[object]) -> ContactFacts:
        last_ts, legs, segments = data
        assert isinstance(legs, dict) and isinstance(segments, dict)
        return cls(
            legs={q: Leg(*v) for q, v in legs.items()},
            segments={a: Segment(v[0], v[1], v[2], v[3], set(v[4]), set(v[5]))
                      for a, v in segments.items()},
            last_ts=int(last_ts),  # type: ignore[call-overload]
        )


# One entry of an agent's timeline: (time, event id, state, reason)
Mark = tuple[int, str, str, str | None]

# An agent's marks are stored by the hour of event time, a record an hour: a batch rewrites
# the hours it touched (usually the last), not the whole day's timeline.
HOUR_MS: Final = 3_600_000


def _after(ts: int, event_id: str, other_ts: int, other_id: str) -> bool:
    """``(ts, event_id) > (other_ts, other_id)``, without building the tuples."""
    return ts > other_ts or (ts == other_ts and event_id > other_id)


def _at(value: object) -> tuple[int, str]:
    assert isinstance(value, list)
    return int(value[0]), str(value[1])


@dataclass(slots=True)
class AgentFacts:
    """The agent's state timeline (by event time; ties by event id) and who they are."""

    timeline: list[Mark] = field(default_factory=list)
    name: str | None = None
    team: str | None = None
    queues: tuple[str, ...] = ()
    # (time, event id) of the event each of name / team / queues was taken from
    name_at: tuple[int, str] = (-1, "")
    team_at: tuple[int, str] = (-1, "")
    queues_at: tuple[int, str] = (-1, "")
    # what changed since the last ``take_records``: the hours of marks, and the profile
    dirty_hours: set[int] = field(default_factory=set)
    profile_dirty: bool = False

    @property
    def current(self) -> Mark:
        return self.timeline[-1] if self.timeline else (0, "", "logged_out", None)

    def insert(self, event: AgentState, ts: int) -> int | None:
        """Add the state change; returns its position, or None if it was already there."""
        event_id = event.event_id  # an event's fields are read once: each read is a lookup
        mark: Mark = (ts, event_id, event.state, event.reason)
        timeline = self.timeline
        last = timeline[-1] if timeline else None
        if last is None or _after(ts, event_id, last[0], last[1]):
            timeline.append(mark)  # in order: the usual
            self.dirty_hours.add(ts // HOUR_MS)
            return len(timeline) - 1
        i = bisect.bisect_left(timeline, mark[:2], key=lambda m: m[:2])
        if i < len(self.timeline) and self.timeline[i][:2] == mark[:2]:
            return None
        self.timeline.insert(i, mark)
        self.dirty_hours.add(ts // HOUR_MS)
        return i

    def apply_profile(self, event: AgentState, ts: int) -> bool:
        """Each of name / team / queues comes from the latest event (by time, then event
        id) that carries it, whatever the arrival order; returns whether any changed."""
        name, team, queues = event.name, event.team, event.queues
        if name is None and team is None and queues is None:
            return False
        event_id = event.event_id
        changed = False
        if name is not None and _after(ts, event_id, self.name_at[0], self.name_at[1]):
            changed |= name != self.name
            self.name, self.name_at = name, (ts, event_id)
            self.profile_dirty = True
        if team is not None and _after(ts, event_id, self.team_at[0], self.team_at[1]):
            changed |= team != self.team
            self.team, self.team_at = team, (ts, event_id)
            self.profile_dirty = True
        if queues is not None and _after(ts, event_id, self.queues_at[0], self.queues_at[1]):
            changed |= queues != self.queues
            self.queues, self.queues_at = queues, (ts, event_id)
            self.profile_dirty = True
        return changed

    def trim(self, cutoff: int) -> bool:
        """Drop the marks before ``cutoff`` but the last of them (the state at the cutoff);
        returns whether any went."""
        timeline = self.timeline
        keep = 0
        while keep + 1 < len(timeline) and timeline[keep + 1][0] < cutoff:
            keep += 1
        if not keep:
            return False
        self.dirty_hours.update(m[0] // HOUR_MS for m in timeline[:keep + 1])
        del timeline[:keep]
        return True

    # ------------------------------------------------------------- records
    def profile(self) -> list[object]:
        return [self.name, self.team, list(self.queues),
                list(self.name_at), list(self.team_at), list(self.queues_at)]

    def marks(self, hour: int) -> list[Mark]:
        """The marks of one hour of event time, as stored (each an array in JSON)."""
        timeline = self.timeline
        # A mark (t, ...) sorts at or after the 1-tuple (t,): no key function to call
        start: tuple[int] = (hour * HOUR_MS,)
        end: tuple[int] = ((hour + 1) * HOUR_MS,)
        lo = bisect.bisect_left(timeline, start)
        hi = bisect.bisect_left(timeline, end, lo)
        return timeline[lo:hi]

    def take_records(self) -> tuple[list[object] | None, list[tuple[int, list[Mark]]]]:
        """What changed since the last call: the profile (None if it did not) and
        ``(hour, marks)`` of every hour whose marks did (no marks: delete its record)."""
        profile = self.profile() if self.profile_dirty else None
        hours = [(hour, self.marks(hour)) for hour in sorted(self.dirty_hours)]
        self.profile_dirty = False
        self.dirty_hours.clear()
        return profile, hours

    @classmethod
    def load(cls, profile: list[object] | None,
             hours: dict[int, list[list[object]]]) -> AgentFacts:
        """From the stored profile (None if never written) and marks by hour."""
        facts = cls(timeline=[
            (int(m[0]), str(m[1]), str(m[2]), None if m[3] is None else str(m[3]))  # type: ignore[call-overload]
            for hour in sorted(hours) for m in hours[hour]])
        if profile is not None:
            name, team, queues, name_at, team_at, queues_at = profile
            assert isinstance(queues, list)
            facts.name, facts.team, facts.queues = name, team, tuple(queues)  # type: ignore[assignment]
            facts.name_at, facts.team_at = _at(name_at), _at(team_at)
            facts.queues_at = _at(queues_at)
        return facts

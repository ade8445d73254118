"""Per-contact and per-agent facts: what the events say, kept so that order and repetition
do not matter.

Every fact is set-like: the earliest time wins (``min``), ties are broken by a stable rule,
so applying the same event twice, or a contact's events in any order, gives the same facts.
Figures are pure functions of facts (see :mod:`stream.metrics.live`), which is what makes
them exact under late, reordered and duplicated events and after a crash replays a batch.

Facts serialise to plain lists (:meth:`ContactFacts.dump` / :meth:`ContactFacts.load`) for the
worker's changelog table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stream.events import (
    AgentState,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactQueued,
    ContactTransferred,
    ContactWrapped,
    Event,
)


def _min(current: float | None, ts: float) -> float:
    return ts if current is None or ts < current else current


@dataclass(slots=True)
class Leg:
    """The contact's time in one queue: offered there once, with one outcome."""

    queued: float | None = None
    answered: float | None = None
    agent: str | None = None  # the agent whose answer was first
    abandoned: float | None = None

    @property
    def waiting(self) -> bool:
        return self.queued is not None and self.answered is None and self.abandoned is None


@dataclass(slots=True)
class Segment:
    """One agent's handling of the contact: talk (+ hold), then ACW until wrapped."""

    start: float | None = None  # answered, or transferred in to this agent
    ended: float | None = None  # ended, or transferred on by this agent
    wrapped: float | None = None


@dataclass(slots=True)
class ContactFacts:
    legs: dict[str, Leg] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)
    last_ts: float = 0.0  # latest event time seen for the contact (for expiry)

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

    def apply(self, event: Event, ts: float) -> None:
        """Record what ``event`` says. Idempotent; order-independent."""
        if ts > self.last_ts:
            self.last_ts = ts
        if isinstance(event, ContactQueued):
            leg = self.leg(event.queue)
            leg.queued = _min(leg.queued, ts)
        elif isinstance(event, ContactAnswered):
            leg = self.leg(event.queue)
            if leg.answered is None or ts < leg.answered or (
                ts == leg.answered and leg.agent is not None and event.agent_id < leg.agent
            ):
                leg.answered = ts
                leg.agent = event.agent_id
            seg = self.segment(event.agent_id)
            seg.start = _min(seg.start, ts)
        elif isinstance(event, ContactAbandoned):
            leg = self.leg(event.queue)
            leg.abandoned = _min(leg.abandoned, ts)
        elif isinstance(event, ContactEnded):
            seg = self.segment(event.agent_id)
            seg.ended = _min(seg.ended, ts)
        elif isinstance(event, ContactWrapped):
            seg = self.segment(event.agent_id)
            seg.wrapped = _min(seg.wrapped, ts)
        elif isinstance(event, ContactTransferred):
            seg = self.segment(event.agent_id)
            seg.ended = _min(seg.ended, ts)
            if event.to_queue is not None:
                leg = self.leg(event.to_queue)
                leg.queued = _min(leg.queued, ts)
            if event.to_agent is not None:
                to = self.segment(event.to_agent)
                to.start = _min(to.start, ts)
        # held / resumed / chat / transcript: no contact-figure facts yet.

    def dump(self) -> list[object]:
        return [
            self.last_ts,
            {q: [g.queued, g.answered, g.agent, g.abandoned] for q, g in self.legs.items()},
            {a: [s.start, s.ended, s.wrapped] for a, s in self.segments.items()},
        ]

    @classmethod
    def load(cls, data: list[object]) -> ContactFacts:
        last_ts, legs, segments = data
        assert isinstance(legs, dict) and isinstance(segments, dict)
        return cls(
            legs={q: Leg(*v) for q, v in legs.items()},
            segments={a: Segment(*v) for a, v in segments.items()},
            last_ts=float(last_ts),  # type: ignore[arg-type]
        )


@dataclass(slots=True)
class AgentFacts:
    """The agent's latest state (by event time; ties by event id) and who they are."""

    state: str = "logged_out"
    reason: str | None = None
    since: float = 0.0
    event_id: str = ""
    name: str | None = None
    team: str | None = None
    queues: tuple[str, ...] = ()
    profile_ts: float = 0.0  # event time of the name/team/queues kept

    def apply(self, event: AgentState, ts: float) -> bool:
        """Record the state event; returns whether anything shown changed."""
        changed = False
        if ts > self.since or (ts == self.since and event.event_id > self.event_id):
            self.state, self.reason = event.state, event.reason
            self.since, self.event_id = ts, event.event_id
            changed = True
        if ts >= self.profile_ts:
            if event.name is not None and event.name != self.name:
                self.name, changed = event.name, True
            if event.team is not None and event.team != self.team:
                self.team, changed = event.team, True
            if event.queues is not None and event.queues != self.queues:
                self.queues, changed = event.queues, True
            self.profile_ts = ts
        return changed

    def dump(self) -> list[object]:
        return [self.state, self.reason, self.since, self.event_id, self.name, self.team,
                list(self.queues), self.profile_ts]

    @classmethod
    def load(cls, data: list[object]) -> AgentFacts:
        state, reason, since, event_id, name, team, queues, profile_ts = data
        return cls(
            state=str(state), reason=reason, since=float(since),  # type: ignore[arg-type]
            event_id=str(event_id), name=name, team=team,  # type: ignore[arg-type]
            queues=tuple(queues), profile_ts=float(profile_ts),  # type: ignore[arg-type]
        )

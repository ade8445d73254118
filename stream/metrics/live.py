"""Live figures from facts: the pure core of the worker (no Faust, Kafka or Redis).

``LiveState.apply(event)`` records an event's facts; every figure is a sum of per-contact
*contributions*, and a contribution is a pure function of that contact's facts. When an
event changes a contact's facts, its old contribution is taken out of the sums and the new
one put in. So a duplicate (same facts) changes nothing, and any arrival order of the same
events ends with the same facts and the same sums. See docs/metrics.md for the definitions.

Interval rule: a contact's figures belong to the 15-minute interval in which it was queued
(its arrival), in the center's time zone; "today" is the sum of today's intervals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from stream.events import AGENT_STATES, AgentState, Event
from stream.metrics.facts import AgentFacts, ContactFacts, Leg

INTERVAL_S = 900
# Positions in an interval's figure vector.
OFFERED, ANSWERED, ABANDONED, WITHIN, WAIT_SUM, HANDLED, HANDLE_SUM = range(7)
N_FIGURES = 7

Vector = tuple[float, ...]
# (queue, interval start) -> vector, and (agent, day ordinal) -> handled
Contribution = tuple[list[tuple[str, int, Vector]], list[tuple[str, int]]]


@dataclass(frozen=True, slots=True)
class QueueRule:
    sl_threshold_s: float = 20.0
    sl_target: float = 0.80
    amber_band: float = 0.10


def ratio(num: float, den: float, digits: int = 4) -> float | None:
    return round(num / den, digits) if den else None


def interval_start(ts: float) -> int:
    """Start (epoch s) of the 15-minute interval holding ``ts``.

    Every real time zone's UTC offset is a whole number of quarter hours, so UTC quarter
    hours are the center's quarter hours too.
    """
    return int(ts // INTERVAL_S) * INTERVAL_S


class LiveState:
    """Facts and live figures for every tenant on the partitions this worker owns."""

    def __init__(
        self,
        zone: tzinfo,
        queue_rule: Callable[[str], QueueRule],
        allowed_lateness_s: float = 7200.0,
    ) -> None:
        self.zone = zone
        self.queue_rule = queue_rule
        self.allowed_lateness_s = allowed_lateness_s
        self.contacts: dict[tuple[str, str], ContactFacts] = {}
        self.agents: dict[tuple[str, str], AgentFacts] = {}
        # (tenant, queue) -> interval start -> figure vector
        self.intervals: dict[tuple[str, str], dict[int, list[float]]] = {}
        # (tenant, queue) -> contact id -> queued time, for contacts waiting now
        self.waiting: dict[tuple[str, str], dict[str, float]] = {}
        # (tenant, agent) -> day ordinal -> contacts wrapped that day
        self.handled: dict[tuple[str, str], dict[int, int]] = {}
        # Latest event time seen per tenant (what the page shows as "now") and per
        # (tenant, source partition): lateness is judged against the partition's own
        # clock, because partitions are consumed at different paces.
        self.stream_time: dict[str, float] = {}
        self.partition_time: dict[tuple[str, int], float] = {}
        self.tenant_queues: dict[str, set[str]] = {}
        self.tenant_agents: dict[str, set[str]] = {}
        self.dirty_contacts: set[tuple[str, str]] = set()
        self.dirty_agents: set[tuple[str, str]] = set()
        self.dirty_tenants: set[str] = set()
        self._day_cache: dict[int, int] = {}

    # ------------------------------------------------------------------ time
    def day_of(self, ts: float) -> int:
        """Day ordinal (center's zone) of the interval holding ``ts``."""
        start = interval_start(ts)
        day = self._day_cache.get(start)
        if day is None:
            day = datetime.fromtimestamp(start, self.zone).toordinal()
            if len(self._day_cache) > 50_000:
                self._day_cache.clear()
            self._day_cache[start] = day
        return day

    def day_bounds(self, day: int) -> tuple[float, float]:
        """[start, end) epoch seconds of a day in the center's zone (23 or 25 h on DST days)."""
        d = date.fromordinal(day)
        start = datetime.combine(d, time(), self.zone)
        end = datetime.combine(d + timedelta(days=1), time(), self.zone)
        return start.timestamp(), end.timestamp()

    def is_late(self, tenant: str, ts: float, partition: int = 0) -> bool:
        now = self.partition_time.get((tenant, partition))
        return now is not None and ts < now - self.allowed_lateness_s

    def _advance(self, tenant: str, partition: int, ts: float) -> None:
        key = (tenant, partition)
        if ts > self.partition_time.get(key, 0.0):
            self.partition_time[key] = ts
        if ts > self.stream_time.get(tenant, 0.0):
            self.stream_time[tenant] = ts

    # ----------------------------------------------------------------- apply
    def apply(self, event: Event, partition: int = 0) -> bool:
        """Apply one valid event from a source partition. Returns False (and changes
        nothing) when the event is older than the allowed lateness behind the latest event
        time seen on that partition."""
        ts = event.ts.timestamp()
        tenant = event.tenant
        if self.is_late(tenant, ts, partition):
            return False
        self._advance(tenant, partition, ts)
        self.dirty_tenants.add(tenant)
        if isinstance(event, AgentState):
            key = (tenant, event.agent_id)
            agent = self.agents.get(key)
            if agent is None:
                agent = self.agents[key] = AgentFacts()
                self.tenant_agents.setdefault(tenant, set()).add(event.agent_id)
            before = agent.queues
            if agent.apply(event, ts):
                self.dirty_agents.add(key)
                if agent.queues != before:
                    self.tenant_queues.setdefault(tenant, set()).update(agent.queues)
            return True
        ckey = (tenant, event.contact_id)
        facts = self.contacts.get(ckey)
        if facts is None:
            facts = self.contacts[ckey] = ContactFacts()
        before_c = self._contribution(facts)
        before_w = self._waiting_of(facts)
        facts.apply(event, ts)
        after_c = self._contribution(facts)
        if after_c != before_c:
            self._add(tenant, before_c, -1)
            self._add(tenant, after_c, 1)
        after_w = self._waiting_of(facts)
        if after_w != before_w:
            self._set_waiting(tenant, event.contact_id, before_w, after_w)
        self.dirty_contacts.add(ckey)
        return True

    def apply_all(self, events: Iterable[Event], partition: int = 0) -> list[Event]:
        """Apply events in order; returns the ones refused as too late."""
        return [e for e in events if not self.apply(e, partition)]

    # --------------------------------------------------------- contributions
    def _leg_vector(self, queue: str, leg: Leg, facts: ContactFacts) -> Vector:
        assert leg.queued is not None
        if leg.answered is not None:
            wait = max(0.0, leg.answered - leg.queued)
            within = 1.0 if wait <= self.queue_rule(queue).sl_threshold_s else 0.0
            handled = handle = 0.0
            seg = facts.segments.get(leg.agent) if leg.agent is not None else None
            if seg is not None and seg.wrapped is not None:
                handled, handle = 1.0, max(0.0, seg.wrapped - leg.answered)
            return (1.0, 1.0, 0.0, within, wait, handled, handle)
        if leg.abandoned is not None:
            return (1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0)
        return (1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    def _contribution(self, facts: ContactFacts) -> Contribution:
        legs = [
            (queue, interval_start(leg.queued), self._leg_vector(queue, leg, facts))
            for queue, leg in facts.legs.items()
            if leg.queued is not None
        ]
        wraps = [
            (agent, self.day_of(seg.wrapped))
            for agent, seg in facts.segments.items()
            if seg.wrapped is not None and seg.start is not None
        ]
        return legs, wraps

    def _add(self, tenant: str, contribution: Contribution, sign: int) -> None:
        legs, wraps = contribution
        for queue, start, vector in legs:
            qkey = (tenant, queue)
            by_interval = self.intervals.get(qkey)
            if by_interval is None:
                by_interval = self.intervals[qkey] = {}
                self.tenant_queues.setdefault(tenant, set()).add(queue)
            figures = by_interval.get(start)
            if figures is None:
                figures = by_interval[start] = [0.0] * N_FIGURES
            for i, value in enumerate(vector):
                if value:
                    figures[i] += sign * value
        for agent, day in wraps:
            per_day = self.handled.setdefault((tenant, agent), {})
            per_day[day] = per_day.get(day, 0) + sign

    @staticmethod
    def _waiting_of(facts: ContactFacts) -> list[tuple[str, float]]:
        return [(q, leg.queued) for q, leg in facts.legs.items() if leg.waiting]  # type: ignore[misc]

    def _set_waiting(
        self, tenant: str, contact_id: str,
        before: list[tuple[str, float]], after: list[tuple[str, float]],
    ) -> None:
        for queue, _ in before:
            self.waiting.get((tenant, queue), {}).pop(contact_id, None)
        for queue, queued in after:
            self.waiting.setdefault((tenant, queue), {})[contact_id] = queued
            self.tenant_queues.setdefault(tenant, set()).add(queue)

    # ---------------------------------------------------------------- restore
    def load_contact(self, tenant: str, contact_id: str, facts: ContactFacts,
                     partition: int = 0) -> None:
        """Put back a contact's facts (restore from the changelog) and its figures."""
        key = (tenant, contact_id)
        old = self.contacts.get(key)
        if old is not None:
            self._add(tenant, self._contribution(old), -1)
            self._set_waiting(tenant, contact_id, self._waiting_of(old), [])
        self.contacts[key] = facts
        self._add(tenant, self._contribution(facts), 1)
        self._set_waiting(tenant, contact_id, [], self._waiting_of(facts))
        self._advance(tenant, partition, facts.last_ts)
        self.dirty_tenants.add(tenant)

    def load_agent(self, tenant: str, agent_id: str, facts: AgentFacts,
                   partition: int = 0) -> None:
        self.agents[(tenant, agent_id)] = facts
        self.tenant_agents.setdefault(tenant, set()).add(agent_id)
        self.tenant_queues.setdefault(tenant, set()).update(facts.queues)
        self._advance(tenant, partition, facts.since)
        self.dirty_tenants.add(tenant)

    # ----------------------------------------------------------------- expiry
    def expire(self) -> list[tuple[str, str]]:
        """Forget contacts that no event within the allowed lateness can change any more:
        complete ones last touched before the lateness horizon, and any contact untouched
        for a day beyond it. Their figures stay in the interval sums. Returns their keys."""
        # The slowest partition's clock: no partition can still accept an older event.
        slowest: dict[str, float] = {}
        for (tenant, _), ts in self.partition_time.items():
            slowest[tenant] = min(ts, slowest.get(tenant, ts))
        gone: list[tuple[str, str]] = []
        for key, facts in self.contacts.items():
            horizon = slowest.get(key[0], 0.0) - self.allowed_lateness_s
            if facts.last_ts < horizon - 86_400 or (facts.complete and facts.last_ts < horizon):
                gone.append(key)
        for key in gone:
            facts = self.contacts.pop(key)
            self._set_waiting(key[0], key[1], self._waiting_of(facts), [])
        keep_from = {t: now - 2 * 86_400 - self.allowed_lateness_s
                     for t, now in self.stream_time.items()}
        for (tenant, _), by_interval in self.intervals.items():
            for start in [s for s in by_interval if s < keep_from[tenant]]:
                del by_interval[start]
        return gone

    # --------------------------------------------------------------- figures
    def tenants(self) -> Iterator[str]:
        return iter(self.stream_time)

    def snapshot(self, tenant: str) -> dict[str, object]:
        """The tenant's live figures (docs/live-state.md), as of its stream time."""
        now = self.stream_time.get(tenant, 0.0)
        today = self.day_of(now)
        day_start, day_end = self.day_bounds(today)
        queue_names = sorted(self.tenant_queues.get(tenant, ()))
        agent_counts: dict[str, dict[str, int]] = {
            q: dict.fromkeys(AGENT_STATES, 0) for q in queue_names}
        team_counts: dict[str, dict[str, int]] = {}
        agents: dict[str, object] = {}
        for agent_id in sorted(self.tenant_agents.get(tenant, ())):
            facts = self.agents[(tenant, agent_id)]
            for queue in facts.queues:
                agent_counts[queue][facts.state] += 1
            if facts.team is not None:
                team = team_counts.setdefault(facts.team, dict.fromkeys(AGENT_STATES, 0))
                team[facts.state] += 1
            agents[agent_id] = {
                "name": facts.name or agent_id,
                "state": facts.state,
                "reason": facts.reason,
                "since": _iso(facts.since, self.zone),
                "since_epoch": facts.since,
                "handled": self.handled.get((tenant, agent_id), {}).get(today, 0),
                "team": facts.team,
                "queues": list(facts.queues),
            }
        queues: dict[str, object] = {}
        for queue in queue_names:
            sums = [0.0] * N_FIGURES
            for start, figures in self.intervals.get((tenant, queue), {}).items():
                if day_start <= start < day_end:
                    for i in range(N_FIGURES):
                        sums[i] += figures[i]
            waiting = self.waiting.get((tenant, queue), {})
            oldest = min(waiting.values()) if waiting else None
            rule = self.queue_rule(queue)
            offered, answered = sums[OFFERED], sums[ANSWERED]
            queues[queue] = {
                "waiting": len(waiting),
                "longest_wait_s": round(max(0.0, now - oldest), 3) if oldest is not None else 0.0,
                "oldest_queued_epoch": oldest,
                "offered": int(offered),
                "answered": int(answered),
                "abandoned": int(sums[ABANDONED]),
                "answered_within_threshold": int(sums[WITHIN]),
                "handled": int(sums[HANDLED]),
                "service_level": ratio(sums[WITHIN], offered),
                "sl_threshold_s": rule.sl_threshold_s,
                "sl_target": rule.sl_target,
                "sl_amber": round(max(0.0, rule.sl_target - rule.amber_band), 4),
                "asa_s": ratio(sums[WAIT_SUM], answered, 3),
                "aht_s": ratio(sums[HANDLE_SUM], sums[HANDLED], 3),
                "abandon_rate": ratio(sums[ABANDONED], offered),
                "agents": agent_counts[queue],
            }
        return {
            "tenant": tenant,
            "as_of": _iso(now, self.zone),
            "as_of_epoch": now,
            "day": date.fromordinal(today).isoformat(),
            "timezone": str(self.zone),
            "queues": queues,
            "teams": {team: {"agents": counts} for team, counts in sorted(team_counts.items())},
            "agents": agents,
        }


def _iso(ts: float, zone: tzinfo) -> str:
    return datetime.fromtimestamp(ts, zone).isoformat()


SECTIONS = ("queues", "teams", "agents")


def diff_snapshots(old: dict[str, object] | None, new: dict[str, object]) -> dict[str, object]:
    """An update (docs/live-state.md): scalars, changed entries, removed names."""
    update = {k: v for k, v in new.items() if k not in SECTIONS}
    removed: dict[str, list[str]] = {}
    for section in SECTIONS:
        new_entries = new.get(section, {})
        old_entries = (old or {}).get(section, {})
        assert isinstance(new_entries, dict) and isinstance(old_entries, dict)
        update[section] = {k: v for k, v in new_entries.items() if old_entries.get(k) != v}
        removed[section] = [k for k in old_entries if k not in new_entries]
    update["removed"] = removed
    return update

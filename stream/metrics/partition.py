"""The state of one source partition: facts, and the sums derived from them.

``PartitionState.apply(event)`` records an event's facts. Every sum is a sum of per-contact
(or per-agent-span) *contributions*, and a contribution is a pure function of facts: when
an event changes a contact's facts, its old contribution is taken out of the sums and the
new one put in. So a duplicate (same facts) changes nothing, and any arrival order of the
same events ends with the same facts and the same sums.

A partition's sums are *partial*: :mod:`stream.metrics.merge` adds the views of all
partitions (in memory, or read back from Redis when another worker owns them) into the
figures of docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import orjson

from stream.events import AgentState, Event, ForecastPublished, SchedulePublished
from stream.metrics.definitions import (
    ABANDONED,
    ABANDONED_WITHIN,
    ACW_MS,
    ANSWERED,
    DAY_MS,
    HANDLE_MS,
    HANDLED,
    HELD,
    HOLD_MS,
    IN_PROGRESS,
    MAX_WAIT_MS,
    MINUTE_MS,
    N_COUNTERS,
    NEVER,
    OFFERED,
    SAMPLE_MS,
    SHORT_ABANDONED,
    TALK_MS,
    TRANSFERRED,
    WAIT_MS,
    WITHIN,
    Calendar,
    Counters,
    QueueRule,
    interval_start,
    minute_start,
    to_ms,
)
from stream.metrics.facts import AgentFacts, ContactFacts, Leg
from stream.wfm.config import WfmRules
from stream.wfm.state import WfmPartition

if TYPE_CHECKING:
    from stream.qa.contact import ContactQaStore

BUSY_STATES: Final = frozenset({"on_contact", "acw"})

Vector = tuple[int, ...]


LATE: Final = "late"
CLOSED: Final = "closed"


@dataclass(slots=True)
class Contribution:
    """What one contact adds to the sums; never changed once made (an event makes a new
    one). ``__init__`` and ``__eq__`` are written out, not generated, so that mypyc
    compiles them (docs/performance.md, "Eighth round")."""

    legs: tuple[tuple[str, int, Vector], ...]  # (queue, queued, counters)
    spans: tuple[tuple[str, int, int], ...]  # (queue, queued, outcome): waited, resolved
    wraps: tuple[tuple[str, int], ...]  # (agent, day of wrap)
    waiting: tuple[tuple[str, int], ...]  # (queue, queued) of legs waiting now

    def __init__(self, legs: tuple[tuple[str, int, Vector], ...],
                 spans: tuple[tuple[str, int, int], ...], wraps: tuple[tuple[str, int], ...],
                 waiting: tuple[tuple[str, int], ...]) -> None:
        self.legs = legs
        self.spans = spans
        self.wraps = wraps
        self.waiting = waiting

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Contribution):
            return NotImplemented
        return (self.legs == other.legs and self.spans == other.spans
                and self.wraps == other.wraps and self.waiting == other.waiting)


EMPTY: Final = Contribution((), (), (), ())


def archive_record(contribution: Contribution, lost: Sequence[tuple[str, int, int]],
                   last_ts: int) -> list[object]:
    """What stays of an archived contact: its contribution (JSON-ready, tagged), its
    waiting spans with the ``lost`` ones (:func:`lost_spans`). A leg still in progress when
    it is archived no longer holds its interval open. Tuples are arrays in JSON: they are
    not copied into lists."""
    legs: list[object] = []
    for queue, queued, vector in contribution.legs:
        if vector[IN_PROGRESS]:
            counts = list(vector)
            counts[IN_PROGRESS] = 0
            legs.append([queue, queued, counts])
        else:
            legs.append([queue, queued, vector])
    spans: list[object] = [*contribution.spans, *lost]
    return ["archived", last_ts, legs, spans, list(contribution.wraps)]


def lost_spans(contribution: Contribution) -> list[tuple[str, int, int]]:
    """A leg still waiting counts as waiting for ``MAX_WAIT_MS``, and only contacts quiet
    for longer are archived in progress: that time, kept as a span, keeps the peaks."""
    return [(queue, queued, queued + MAX_WAIT_MS) for queue, queued in contribution.waiting]


def last_effect(spans: Iterable[tuple[str, int, int]], last_ts: int) -> int:
    """The latest instant an archived contact counts in: its last event, or the end of a
    waiting span (a leg lost while waiting counts until ``MAX_WAIT_MS`` after it was
    queued, which can be later)."""
    latest = last_ts
    for _, _, outcome in spans:
        if outcome > latest:
            latest = outcome
    return latest


def is_archive_record(value: object) -> bool:
    return isinstance(value, list) and bool(value) and value[0] == "archived"


def from_archive_record(record: list[object]) -> tuple[Contribution, int]:
    _, last_ts, legs, spans, wraps = record
    return Contribution(
        tuple((str(q), int(t), tuple(v)) for q, t, v in legs),  # type: ignore[attr-defined]
        tuple((str(q), int(t), int(o)) for q, t, o in spans),  # type: ignore[attr-defined]
        tuple((str(a), int(d)) for a, d in wraps),  # type: ignore[attr-defined]
        (),
    ), int(last_ts)  # type: ignore[call-overload]


def _touches(facts: ContactFacts, closed: int) -> bool:
    return any(leg.queued is not None and interval_start(leg.queued) < closed
               for leg in facts.legs.values())


def _changes_closed(before: Contribution, after: Contribution, closed: int) -> bool:
    """Whether going from ``before`` to ``after`` changes any interval before ``closed``."""
    old = {(q, interval_start(t)): v for q, t, v in before.legs if interval_start(t) < closed}
    new = {(q, interval_start(t)): v for q, t, v in after.legs if interval_start(t) < closed}
    if old != new:
        return True
    old_spans = {s for s in before.spans if interval_start(s[1]) < closed}
    return old_spans != {s for s in after.spans if interval_start(s[1]) < closed}


def _bump_in(table: dict[tuple[str, str], dict[int, Counters]], qkey: tuple[str, str],
             period: int, changes: list[tuple[int, int]]) -> bool:
    """Add ``changes`` to the queue's counters of ``period`` in ``table``; returns whether
    the queue was new to the table."""
    new = False
    by_period = table.get(qkey)
    if by_period is None:
        by_period = table[qkey] = {}
        new = True
    counters = by_period.get(period)
    if counters is None:
        counters = by_period[period] = [0] * N_COUNTERS
    for i, change in changes:
        counters[i] += change
    return new


def _differences(was: Vector, now: Vector) -> list[tuple[int, int]]:
    """(counter, amount) pairs that turn ``was`` into ``now``."""
    changes = []
    for i in range(N_COUNTERS):
        change = now[i] - was[i]
        if change:
            changes.append((i, change))
    return changes


def leg_vector(leg: Leg, facts: ContactFacts, rule: QueueRule) -> Vector:
    """A leg's counters (docs/metrics.md, section 1)."""
    assert leg.queued is not None
    v = [0] * N_COUNTERS
    if leg.answered is not None:
        answered = leg.answered
        wait = max(0, answered - leg.queued)
        v[OFFERED] = v[ANSWERED] = 1
        v[WITHIN] = 1 if wait <= rule.threshold_ms else 0
        v[WAIT_MS] = wait
        seg = facts.segments.get(leg.agent) if leg.agent is not None else None
        if seg is None:
            v[IN_PROGRESS] = 1
        else:
            if seg.transferred is not None:
                v[TRANSFERRED] = 1
            if seg.wrapped is None:
                v[IN_PROGRESS] = 1
            else:
                wrapped = max(answered, seg.wrapped)
                end = seg.talk_end()
                end = wrapped if end is None else max(answered, min(end, wrapped))
                hold = held = 0
                for start, stop in seg.holds():
                    lo, hi = max(start, answered), min(end if stop is None else stop, end)
                    if hi > lo:
                        hold += hi - lo
                        held = 1
                v[HANDLED] = 1
                v[HANDLE_MS] = wrapped - answered
                v[HOLD_MS] = hold
                v[TALK_MS] = end - answered - hold
                v[ACW_MS] = wrapped - end
                v[HELD] = held
    elif leg.abandoned is not None:
        wait = max(0, leg.abandoned - leg.queued)
        if wait < rule.short_ms:
            v[SHORT_ABANDONED] = 1
        else:
            v[OFFERED] = v[ABANDONED] = 1
            v[ABANDONED_WITHIN] = 1 if wait <= rule.threshold_ms else 0
    else:
        v[OFFERED] = v[IN_PROGRESS] = 1
    return tuple(v)


class PartitionState:
    """Facts and partial sums for every tenant on one source partition."""

    def __init__(self, calendar: Calendar, queue_rule: Callable[[str], QueueRule],
                 allowed_lateness_s: float = 7200.0, rolling_minutes: int = 30,
                 wfm_rules: WfmRules | None = None, qa: ContactQaStore | None = None) -> None:
        self.calendar = calendar
        self.queue_rule = queue_rule
        self.rules: dict[str, QueueRule] = {}  # queue_rule's, kept: a lookup, not a call
        self.lateness_ms = int(allowed_lateness_s * 1000)
        self.rolling_minutes = rolling_minutes
        self.contacts: dict[tuple[str, str], ContactFacts] = {}
        # each contact's contribution to the sums now (a function of its facts, kept so an
        # event computes only the new one)
        self.contributions: dict[tuple[str, str], Contribution] = {}
        self.agents: dict[tuple[str, str], AgentFacts] = {}
        self.clock: dict[str, int] = {}  # tenant -> latest event time on this partition
        self.any_clock: int | None = None  # latest event time of any tenant
        # (tenant, queue) -> period start -> counters
        self.intervals: dict[tuple[str, str], dict[int, Counters]] = {}
        self.minutes: dict[tuple[str, str], dict[int, Counters]] = {}
        # (tenant, queue) -> 10-s instant -> resolved legs waiting at that instant
        self.samples: dict[tuple[str, str], dict[int, int]] = {}
        # (tenant, queue) -> interval start -> latest event time of any of its contacts
        # (only grows: a conservative bound for closing the interval)
        self.settle: dict[tuple[str, str], dict[int, int]] = {}
        # tenant -> intervals starting before this are closed: nothing may change them
        self.closed_until: dict[str, int] = {}
        # tenant -> intervals starting before this are closed and their rows written out (the
        # publisher sets it); only those may be pruned, whatever this partition's own clock
        # says (in a fast replay the partitions' clocks can be days apart, and closing waits
        # for the slowest)
        self.written_until: dict[str, int] = {}
        # (tenant, queue) -> contact id -> queued time, for legs waiting now
        self.waiting: dict[tuple[str, str], dict[str, int]] = {}
        # (tenant, agent) -> day -> contacts wrapped / [busy ms, idle ms]
        self.handled: dict[tuple[str, str], dict[int, int]] = {}
        self.agent_time: dict[tuple[str, str], dict[int, list[int]]] = {}
        self.tenant_queues: dict[str, set[str]] = {}
        self.dirty_contacts: set[tuple[str, str]] = set()
        self.dirty_agents: set[tuple[str, str]] = set()
        self.dirty_tenants: set[str] = set()
        # (tenant, contact id) -> the latest instant it counts in (``last_effect``), of
        # contacts archived (sums only)
        self.archived: dict[tuple[str, str], int] = {}
        # No value in ``archived`` is below this: while every tenant keeps from no later,
        # expiry has nothing to forget and need not look at each of them
        self.archived_floor = NEVER
        # published schedules and forecasts (stream/wfm)
        self.wfm = WfmPartition(calendar, wfm_rules or WfmRules())
        # Sentiment and QA flags of the partition's contacts (stream/qa/contact.py), if on
        self.qa = qa

    # ----------------------------------------------------------------- apply
    def effective_clock(self, tenant: str) -> int | None:
        """The partition's stream time for the tenant; for a tenant it has not seen yet, the
        partition's stream time over all tenants (so a quiet tenant cannot reopen intervals
        that the partition has closed)."""
        return self.clock.get(tenant, self.any_clock)

    def is_late(self, tenant: str, ts: int) -> bool:
        now = self.effective_clock(tenant)
        return now is not None and ts < now - self.lateness_ms

    def _tick(self, tenant: str, ts: int) -> None:
        if ts > self.clock.get(tenant, -1):
            self.clock[tenant] = ts
        if self.any_clock is None or ts > self.any_clock:
            self.any_clock = ts

    def refusal(self, event: Event, ts: int | None = None) -> str | None:
        """Apply one valid event; returns None, or why it was refused (and nothing changed):
        ``late`` (more than the allowed lateness behind this partition's stream time) or
        ``closed`` (it would change an interval already closed). ``ts``: ``to_ms`` of the
        event's time, if the caller has it already."""
        if ts is None:
            ts = to_ms(event.ts)
        tenant = event.tenant
        now = self.clock.get(tenant, self.any_clock)  # effective_clock, inlined: hot path
        if now is not None and ts < now - self.lateness_ms:
            return LATE
        if type(event) is AgentState:  # the class, not isinstance (ContactFacts.apply)
            self._tick(tenant, ts)
            self.dirty_tenants.add(tenant)
            self._apply_agent(tenant, event, ts)
            return None
        if type(event) is SchedulePublished or type(event) is ForecastPublished:
            self._tick(tenant, ts)
            self.dirty_tenants.add(tenant)
            self.wfm.apply(event, ts)
            return None
        # A contact event (the class tests above do not narrow the union for mypy).
        ckey = (tenant, event.contact_id)  # type: ignore[union-attr]
        facts = self.contacts.get(ckey)
        if facts is None:
            facts = self.contacts[ckey] = ContactFacts()
            before = EMPTY
        else:
            before = self.contributions.get(ckey, EMPTY)
        closed = self.closed_until.get(tenant, 0)
        kept = facts.dump() if closed and _touches(facts, closed) else None
        last_ts = facts.last_ts
        if facts.apply(event, ts):
            after = self._contribution(facts)
            if kept is not None and _changes_closed(before, after, closed):
                self.contacts[ckey] = ContactFacts.load(kept)
                return CLOSED
            self.contributions[ckey] = after
            if after != before:
                self._change(tenant, before, after)
            if after.waiting != before.waiting:
                self._set_waiting(tenant, ckey[1], before.waiting, after.waiting)
        else:
            after = before  # the same facts (a duplicate, a chat line): the same sums
        self._tick(tenant, ts)  # always: a restore's stream time catches up with its facts
        self.dirty_tenants.add(tenant)
        if self.qa is not None:  # every customer line, whatever it does to the figures
            self.qa.observe(tenant, event, ts)
        if after is before and facts.last_ts == last_ts:
            return None  # nothing for the changelog either
        for queue, queued, _ in after.legs:
            self._settle(tenant, queue, queued, facts.last_ts)
        self.dirty_contacts.add(ckey)
        return None

    def apply(self, event: Event) -> bool:
        """Apply one valid event; False if it was refused (see :meth:`refusal`)."""
        return self.refusal(event) is None

    def apply_all(self, events: Iterable[Event]) -> list[Event]:
        """Apply events in order; returns the ones refused."""
        return [e for e in events if not self.apply(e)]

    def _settle(self, tenant: str, queue: str, queued: int, last_ts: int) -> None:
        by_start = self.settle.setdefault((tenant, queue), {})
        start = interval_start(queued)
        if last_ts > by_start.get(start, -1):
            by_start[start] = last_ts

    # ---------------------------------------------------------------- agents
    def _apply_agent(self, tenant: str, event: AgentState, ts: int) -> None:
        key = (tenant, event.agent_id)
        agent = self.agents.get(key)
        if agent is None:
            agent = self.agents[key] = AgentFacts()
        changed = agent.apply_profile(event, ts)
        if changed:
            self.tenant_queues.setdefault(tenant, set()).update(agent.queues)
        timeline = agent.timeline
        i = agent.insert(event, ts)
        if i is not None:
            if 0 < i < len(timeline) - 1:  # it splits the span of the previous mark
                self._span(key, timeline[i - 1], timeline[i + 1][0], -1)
            if i > 0:
                self._span(key, timeline[i - 1], ts, 1)
            if i < len(timeline) - 1:
                self._span(key, timeline[i], timeline[i + 1][0], 1)
            changed = True
        if changed:
            self.dirty_agents.add(key)

    def _span(self, key: tuple[str, str], mark: tuple[int, str, str, str | None], end: int,
              sign: int) -> None:
        """Add (or take out) the time from ``mark`` to ``end`` in its state, per day."""
        state = mark[2]
        slot = 0 if state in BUSY_STATES else 1 if state == "available" else -1
        if slot < 0:
            return
        start = mark[0]
        per_day = self.agent_time.setdefault(key, {})
        while start < end:
            day = self.calendar.day_of(start)
            stop = min(end, self.calendar.day_bounds(day)[1])
            sums = per_day.get(day)
            if sums is None:
                sums = per_day[day] = [0, 0]
            sums[slot] += sign * (stop - start)
            start = stop

    # --------------------------------------------------------- contributions
    def _contribution(self, facts: ContactFacts) -> Contribution:
        legs = []
        spans = []
        waiting = []
        for queue, leg in facts.legs.items():
            queued = leg.queued
            if queued is None:
                continue
            rule = self.rules.get(queue)
            if rule is None:
                rule = self.rules[queue] = self.queue_rule(queue)
            vector = leg_vector(leg, facts, rule)
            legs.append((queue, queued, vector))
            outcome = leg.outcome
            if outcome is not None:
                if not vector[SHORT_ABANDONED]:  # short abandons count nowhere, peaks included
                    spans.append((queue, queued, outcome))
            else:
                waiting.append((queue, queued))
        wraps = tuple(
            (agent, self.calendar.day_of(seg.wrapped))
            for agent, seg in facts.segments.items()
            if seg.wrapped is not None and seg.start is not None
        )
        if not legs and not wraps:
            return EMPTY
        return Contribution(tuple(legs), tuple(spans), wraps, tuple(waiting))

    def _change(self, tenant: str, before: Contribution, after: Contribution) -> None:
        """Replace ``before`` by ``after`` in the sums, touching only the legs and spans that
        differ (most events change one leg, or none of its counters)."""
        old_legs, new_legs = before.legs, after.legs
        if (len(old_legs) == 1 and len(new_legs) == 1 and old_legs[0][0] == new_legs[0][0]
                and old_legs[0][1] == new_legs[0][1]):
            # the usual: one leg, the same queue and queued time; its counters may differ
            queue, queued, vector = new_legs[0]
            changes = _differences(old_legs[0][2], vector)
            if changes:
                self._bump(tenant, queue, queued, changes)
        elif old_legs != new_legs:
            old = {(queue, queued): vector for queue, queued, vector in old_legs}
            for queue, queued, vector in new_legs:
                was = old.pop((queue, queued), None)
                if was is None:
                    self._bump(tenant, queue, queued,
                               [(i, value) for i, value in enumerate(vector) if value])
                elif was != vector:  # the leg's counters changed: add the difference only
                    self._bump(tenant, queue, queued, _differences(was, vector))
            for (queue, queued), vector in old.items():
                self._bump(tenant, queue, queued,
                           [(i, -value) for i, value in enumerate(vector) if value])
        old_spans, new_spans = before.spans, after.spans
        if old_spans != new_spans:
            self._add_spans(tenant, [span for span in old_spans if span not in new_spans], -1)
            self._add_spans(tenant, [span for span in new_spans if span not in old_spans], 1)
        if before.wraps != after.wraps:
            self._add_wraps(tenant, before.wraps, -1)
            self._add_wraps(tenant, after.wraps, 1)

    def _add(self, tenant: str, contribution: Contribution, sign: int) -> None:
        self._add_legs(tenant, contribution.legs, sign)
        self._add_spans(tenant, contribution.spans, sign)
        self._add_wraps(tenant, contribution.wraps, sign)

    def _add_legs(self, tenant: str, legs: Iterable[tuple[str, int, Vector]],
                  sign: int) -> None:
        for queue, queued, vector in legs:
            self._bump(tenant, queue, queued,
                       [(i, sign * value) for i, value in enumerate(vector) if value])

    def _bump(self, tenant: str, queue: str, queued: int,
              changes: list[tuple[int, int]]) -> None:
        """Add ``changes`` ((counter, amount) pairs) to the leg's interval and minute."""
        qkey = (tenant, queue)
        # the two tables one after the other, not through a tuple of pairs: no boxing
        new = _bump_in(self.intervals, qkey, interval_start(queued), changes)
        if _bump_in(self.minutes, qkey, minute_start(queued), changes) or new:
            self.tenant_queues.setdefault(tenant, set()).add(queue)

    def _add_spans(self, tenant: str, spans: Iterable[tuple[str, int, int]], sign: int) -> None:
        for queue, queued, outcome in spans:
            qkey = (tenant, queue)
            samples = self.samples.get(qkey)
            if samples is None:
                samples = self.samples[qkey] = {}
            instant = -(-queued // SAMPLE_MS) * SAMPLE_MS  # first instant >= queued
            while instant < outcome:
                count = samples.get(instant, 0) + sign
                if count:
                    samples[instant] = count
                else:
                    del samples[instant]
                instant += SAMPLE_MS

    def _add_wraps(self, tenant: str, wraps: Iterable[tuple[str, int]], sign: int) -> None:
        for agent, day in wraps:
            per_day = self.handled.setdefault((tenant, agent), {})
            per_day[day] = per_day.get(day, 0) + sign

    def _set_waiting(self, tenant: str, contact_id: str,
                     before: Iterable[tuple[str, int]], after: Iterable[tuple[str, int]]) -> None:
        for queue, _ in before:
            self.waiting.get((tenant, queue), {}).pop(contact_id, None)
        for queue, queued in after:
            self.waiting.setdefault((tenant, queue), {})[contact_id] = queued
            self.tenant_queues.setdefault(tenant, set()).add(queue)

    # ---------------------------------------------------------------- restore
    def load_contact(self, tenant: str, contact_id: str, facts: ContactFacts) -> None:
        """Put back a contact's facts (restore from the changelog) and its sums."""
        key = (tenant, contact_id)
        old = self.contacts.get(key)
        if old is not None:
            before = self.contributions.get(key, EMPTY)
            self._add(tenant, before, -1)
            self._set_waiting(tenant, contact_id, before.waiting, [])
        self.contacts[key] = facts
        after = self.contributions[key] = self._contribution(facts)
        self._add(tenant, after, 1)
        self._set_waiting(tenant, contact_id, [], after.waiting)
        for queue, queued, _ in after.legs:
            self._settle(tenant, queue, queued, facts.last_ts)
        self._tick(tenant, facts.last_ts)
        self.dirty_tenants.add(tenant)

    def load_agent(self, tenant: str, agent_id: str, facts: AgentFacts) -> None:
        key = (tenant, agent_id)
        self.agents[key] = facts
        self.tenant_queues.setdefault(tenant, set()).update(facts.queues)
        for mark, following in zip(facts.timeline, facts.timeline[1:], strict=False):
            self._span(key, mark, following[0], 1)
        if facts.timeline:
            self._tick(tenant, facts.current[0])
        self.dirty_tenants.add(tenant)

    # ----------------------------------------------------------------- expiry
    def expire(self) -> tuple[list[tuple[tuple[str, str], list[object]]], list[tuple[str, str]]]:
        """Forget what no event within the allowed lateness can change any more.

        A complete contact last touched before the lateness horizon (or any contact untouched
        for a day beyond it) is *archived*: its facts are dropped and only its contribution
        is kept, in the changelog, so a restore adds back exactly the sums it made. Archived
        contributions, old periods and old agent marks go once they are older than anything
        a view shows. Returns ``(archived, forgotten)``: the keys with the archive record to
        store in place of their facts, and the keys whose record can be deleted."""
        due: list[tuple[str, str]] = []
        for key, facts in self.contacts.items():
            horizon = self.clock.get(key[0], 0) - self.lateness_ms
            # Most contacts are recent: their time is compared before their legs are read.
            if facts.last_ts < horizon and (facts.complete or facts.last_ts < horizon - DAY_MS):
                due.append(key)
        archived: list[tuple[tuple[str, str], list[object]]] = []
        for key in due:
            tenant = key[0]
            facts = self.contacts.pop(key)
            contribution = self.contributions.pop(key, EMPTY)
            lost = lost_spans(contribution)
            self._set_waiting(tenant, key[1], contribution.waiting, [])
            self._add_spans(tenant, lost, 1)
            # A contact archived while still in progress no longer holds its interval open.
            for queue, queued, vector in contribution.legs:
                if vector[IN_PROGRESS]:
                    start = interval_start(queued)
                    counters = self.intervals.get((tenant, queue), {}).get(start)
                    if counters is not None:
                        counters[IN_PROGRESS] -= 1
            archived.append((key, archive_record(contribution, lost, facts.last_ts)))
            self._archive(key, last_effect(lost, last_effect(contribution.spans, facts.last_ts)))
        keep_from = {tenant: self.keep_from(tenant) for tenant in self.clock}
        forgotten: list[tuple[str, str]] = []
        if self.archived_floor < max(keep_from.values(), default=0):
            forgotten = [key for key, until in self.archived.items()
                         if until < keep_from.get(key[0], 0)]
            for key in forgotten:
                del self.archived[key]
            self.archived_floor = min(self.archived.values(), default=NEVER)
        # An agent's marks before the day views show go, but the last of them (the state at
        # the day's start); an event within the lateness is later, and finds the mark it
        # follows.
        day_start = {tenant: self.calendar.day_bounds(self.today(tenant))[0]
                     for tenant in self.clock}
        for (tenant, agent_id), agent in self.agents.items():
            if agent.trim(day_start.get(tenant, 0)):
                self.dirty_agents.add((tenant, agent_id))
        self.prune()
        return archived, forgotten

    def today(self, tenant: str) -> int:
        """The day views show (the snapshot's "today"), at the earliest: the day of the
        stream time less the lateness (the partitions' clocks differ; the snapshot's day is
        that of the latest)."""
        return self.calendar.day_of(max(0, self.clock.get(tenant, 0) - self.lateness_ms))

    def keep_from(self, tenant: str) -> int:
        """Periods from this instant on are kept, and the archived contributions that count
        in them: the day views show, and every interval not yet written out as closed.
        Nothing a view, a closing or a restore needs is older."""
        today = self.calendar.day_bounds(self.today(tenant))[0]
        return min(today, self.written_until.get(tenant, 0))

    def prune(self) -> None:
        """Drop what nothing needs any more: periods before :meth:`keep_from`, per-day
        sums of days before the one views show, the rolling minutes beyond the lateness."""
        for tenant, now in self.clock.items():
            oldest = self.keep_from(tenant)
            oldest_day = self.today(tenant)
            recent = now - self.lateness_ms - (self.rolling_minutes + 1) * MINUTE_MS
            for table, keep_from in ((self.intervals, oldest), (self.minutes, recent)):
                for (t, _), by_period in table.items():
                    if t == tenant:
                        for start in [s for s in by_period if s < keep_from]:
                            del by_period[start]
            for (t, _), samples in self.samples.items():
                if t == tenant:
                    for instant in [i for i in samples if i < oldest]:
                        del samples[instant]
            for (t, _), settle in self.settle.items():
                if t == tenant:
                    for start in [s for s in settle if s < oldest]:
                        del settle[start]
            for days in (self.handled, self.agent_time):
                for (t, _), per_day in days.items():
                    if t == tenant:
                        for day in [d for d in per_day if d < oldest_day]:
                            del per_day[day]
            self.wfm.forget_before(tenant, self.calendar.day_bounds(oldest_day)[0])

    def _archive(self, key: tuple[str, str], until: int) -> None:
        self.archived[key] = until
        if until < self.archived_floor:
            self.archived_floor = until

    def load_archived(self, tenant: str, contact_id: str, record: list[object]) -> None:
        """Put back an archived contact's sums (restore from the changelog)."""
        contribution, last_ts = from_archive_record(record)
        self._archive((tenant, contact_id), last_effect(contribution.spans, last_ts))
        self._add(tenant, contribution, 1)
        for queue, queued, _ in contribution.legs:
            self._settle(tenant, queue, queued, last_ts)
        self.dirty_tenants.add(tenant)

    # ---------------------------------------------------------------- clocks
    def clocks(self) -> list[object]:
        """The stream time, as stored with a partition's progress."""
        return [self.any_clock, self.clock]

    def set_clocks(self, stored: list[object]) -> None:
        """Set the stream time back to a stored one (the facts of a batch that was written
        only in part may be ahead of it)."""
        any_clock, clock = stored
        self.any_clock = any_clock if isinstance(any_clock, int) else None
        self.clock = {str(t): int(v) for t, v in clock.items()} if isinstance(clock, dict) else {}

    # ------------------------------------------------------------------ views
    def tenants(self) -> list[str]:
        return list(self.clock)

    def view(self, tenant: str, since: int | None = None) -> PartitionView:
        """What this partition contributes to the tenant's figures: intervals from
        ``since`` (None: all it holds), everything needed for the live snapshot."""
        clock = self.effective_clock(tenant) or 0
        recent = minute_start(clock) - self.rolling_minutes * MINUTE_MS
        view = PartitionView(clock=clock)
        for queue in self.tenant_queues.get(tenant, ()):
            qkey = (tenant, queue)
            intervals = {s: list(c) for s, c in self.intervals.get(qkey, {}).items()
                         if since is None or s >= since}
            if intervals:
                view.intervals[queue] = intervals
            # The 10-s samples from the first interval on: usually every one the queue holds
            # (a day's worth), copied at once then.
            held = self.samples.get(qkey)
            samples: dict[int, int] = {}
            if held and intervals:
                first = min(intervals)
                samples = (dict(held) if min(held) >= first
                           else {i: n for i, n in held.items() if i >= first})
            if samples:
                view.samples[queue] = samples
            settle = {s: t for s, t in self.settle.get(qkey, {}).items() if s in intervals}
            if settle:
                view.settle[queue] = settle
            minutes = {m: list(c) for m, c in self.minutes.get(qkey, {}).items() if m > recent}
            if minutes:
                view.minutes[queue] = minutes
            waiting = sorted(self.waiting.get(qkey, {}).values())
            if waiting:
                view.waiting[queue] = waiting
        for (t, agent_id), agent in self.agents.items():
            if t != tenant:
                continue
            since_ms, _, state, reason = agent.current
            view.agents[agent_id] = [state, reason, since_ms, agent.name, agent.team,
                                     list(agent.queues)]
            if (t, agent_id) in self.agent_time:
                view.agent_time[agent_id] = {d: list(v) for d, v in
                                             self.agent_time[(t, agent_id)].items()}
        for (t, agent_id), per_day in self.handled.items():
            if t == tenant and per_day:
                view.handled[agent_id] = dict(per_day)
        view.wfm = self.wfm.view(tenant, self.agents, clock)
        if self.qa is not None:
            view.flagged = self.qa.live_view(tenant)
        return view


@dataclass(slots=True)
class PartitionView:
    """One partition's contribution to a tenant's figures (plain data; JSON round-trips)."""

    clock: int
    intervals: dict[str, dict[int, Counters]] = field(default_factory=dict)
    samples: dict[str, dict[int, int]] = field(default_factory=dict)
    settle: dict[str, dict[int, int]] = field(default_factory=dict)
    minutes: dict[str, dict[int, Counters]] = field(default_factory=dict)
    waiting: dict[str, list[int]] = field(default_factory=dict)
    # agent id -> [state, reason, since, name, team, queues]
    agents: dict[str, list[object]] = field(default_factory=dict)
    agent_time: dict[str, dict[int, list[int]]] = field(default_factory=dict)
    handled: dict[str, dict[int, int]] = field(default_factory=dict)
    # schedules in force and adherence folds per agent, forecasts per queue (stream/wfm)
    wfm: dict[str, object] = field(default_factory=dict)
    # contact id -> flagged contact in progress (stream/qa/contact.py, ``live``)
    flagged: dict[str, dict[str, object]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """The view as plain data, its instants and days as int keys: :meth:`dumps` writes
        them as JSON strings, :meth:`from_json` reads them back."""
        return {
            "clock": self.clock,
            "intervals": self.intervals,
            "samples": self.samples,
            "settle": self.settle,
            "minutes": self.minutes,
            "waiting": self.waiting,
            "agents": self.agents,
            "agent_time": self.agent_time,
            "handled": self.handled,
            "wfm": self.wfm,
            "flagged": self.flagged,
        }

    def dumps(self) -> bytes:
        """The view's JSON (what the publisher stores in Redis for the other workers)."""
        return orjson.dumps(self.to_json(), option=orjson.OPT_NON_STR_KEYS)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> PartitionView:
        def ints(d: object) -> dict[int, object]:
            assert isinstance(d, dict)
            return {int(k): v for k, v in d.items()}

        def nested(name: str) -> dict[str, dict[int, object]]:
            section = data.get(name) or {}
            assert isinstance(section, dict)
            return {k: ints(v) for k, v in section.items()}

        return cls(
            clock=int(data["clock"]),  # type: ignore[call-overload]
            intervals=nested("intervals"),  # type: ignore[arg-type]
            samples=nested("samples"),  # type: ignore[arg-type]
            settle=nested("settle"),  # type: ignore[arg-type]
            minutes=nested("minutes"),  # type: ignore[arg-type]
            waiting=data.get("waiting") or {},  # type: ignore[arg-type]
            agents=data.get("agents") or {},  # type: ignore[arg-type]
            agent_time=nested("agent_time"),  # type: ignore[arg-type]
            handled=nested("handled"),  # type: ignore[arg-type]
            wfm=data.get("wfm") or {},  # type: ignore[arg-type]
            flagged=data.get("flagged") or {},  # type: ignore[arg-type]
        )

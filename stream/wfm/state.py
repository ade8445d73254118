"""A partition's workforce-management facts: published schedules (on the partition of
their agent) and forecasts (on the partition of their queue), and what the partition's
view carries of them (docs/metrics.md section 5, "Where the figures are computed").

The view carries, per agent, today's schedule in force and the agent's day folded up to
its latest state change (:class:`stream.wfm.adherence.Tally`); the snapshot continues the
fold to the stream time with the agent's current state. Per queue it carries today's
forecast. Facts are stored in the partition's changelog under their own keys
(``{tenant}|schedule|{agent}``, ``{tenant}|forecast|{queue}``), so a restore puts them
back exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import orjson

from stream.events import ForecastPublished, SchedulePublished
from stream.metrics.definitions import Calendar, to_ms
from stream.metrics.facts import AgentFacts, Mark
from stream.wfm.adherence import Fold, Tally, fold_more
from stream.wfm.config import WfmRules
from stream.wfm.schedule import ForecastFacts, Piece, Publication, ScheduleFacts

SCHEDULE: Final = "schedule"
FORECAST: Final = "forecast"
KINDS: Final = (SCHEDULE, FORECAST)


def publication(event: SchedulePublished, calendar: Calendar) -> Publication:
    """The event as a fact; a range not given is the center's days the segments touch."""
    segments = tuple(sorted((to_ms(s.start), to_ms(s.end), s.activity) for s in event.segments))
    if event.covers_from is not None:
        lo = to_ms(event.covers_from)
    else:
        lo = calendar.day_bounds(calendar.day_of(segments[0][0]))[0]
    if event.covers_to is not None:
        hi = to_ms(event.covers_to)
    else:
        hi = calendar.day_bounds(calendar.day_of(max(e for _, e, _ in segments) - 1))[1]
    return Publication(to_ms(event.ts), event.event_id, lo, hi, segments)


def fact_key(kind: str, tenant: str, ident: str) -> bytes:
    return f"{tenant}|{kind}|{ident}".encode()


class WfmPartition:
    """Schedules and forecasts of one partition, and their part of its view."""

    def __init__(self, calendar: Calendar, rules: WfmRules) -> None:
        self.calendar = calendar
        self.rules = rules
        self.schedules: dict[tuple[str, str], ScheduleFacts] = {}
        self.forecasts: dict[tuple[str, str], ForecastFacts] = {}
        self.dirty: set[tuple[str, str, str]] = set()  # (kind, tenant, id) to store
        # (tenant, agent) -> (cache key, view entry): the fold is redone only on change
        self._folds: dict[tuple[str, str], tuple[object, dict[str, object] | None]] = {}
        # (tenant, agent) -> (day, revision, marks folded, last of them, the fold): a day
        # whose timeline only grew is continued from where it was, not folded again
        self._partial: dict[tuple[str, str], tuple[int, int, int, object, Fold]] = {}
        self._revision: dict[tuple[str, str], int] = {}
        # (tenant, agent) -> ((day, revision), the schedule's pieces of that day)
        self._pieces: dict[tuple[str, str], tuple[tuple[int, int], list[Piece]]] = {}

    # ------------------------------------------------------------------ apply
    def apply(self, event: SchedulePublished | ForecastPublished, ts: int) -> None:
        tenant = event.tenant
        if isinstance(event, SchedulePublished):
            key = (tenant, event.agent_id)
            facts = self.schedules.get(key)
            if facts is None:
                facts = self.schedules[key] = ScheduleFacts()
            if facts.add(publication(event, self.calendar)):
                self._revision[key] = self._revision.get(key, 0) + 1
                self.dirty.add((SCHEDULE, tenant, event.agent_id))
            return
        qkey = (tenant, event.queue)
        forecast = self.forecasts.get(qkey)
        if forecast is None:
            forecast = self.forecasts[qkey] = ForecastFacts()
        changed = False
        for interval in event.intervals:
            changed |= forecast.put(to_ms(interval.start),
                                    (ts, event.event_id, interval.volume, interval.aht_s))
        if changed:
            self.dirty.add((FORECAST, tenant, event.queue))

    # ---------------------------------------------------------------- persist
    def take_dirty(self) -> list[tuple[bytes, bytes | None]]:
        """(changelog key, stored value) of every fact changed since the last call."""
        out: list[tuple[bytes, bytes | None]] = []
        for kind, tenant, ident in self.dirty:
            facts: ScheduleFacts | ForecastFacts | None = (
                self.schedules.get((tenant, ident)) if kind == SCHEDULE
                else self.forecasts.get((tenant, ident)))
            value = orjson.dumps(facts.dump()) if facts is not None else None
            out.append((fact_key(kind, tenant, ident), value))
        self.dirty.clear()
        return out

    def load(self, kind: str, tenant: str, ident: str, data: list[object]) -> None:
        if kind == SCHEDULE:
            self.schedules[(tenant, ident)] = ScheduleFacts.load(data)
            self._revision[(tenant, ident)] = self._revision.get((tenant, ident), 0) + 1
        else:
            self.forecasts[(tenant, ident)] = ForecastFacts.load(data)

    def forget_before(self, tenant: str, t: int) -> None:
        """Drop what covers nothing at or after ``t`` (kept facts are stored again)."""
        for (ten, agent), facts in list(self.schedules.items()):
            if ten == tenant and facts.forget_before(t):
                self._revision[(ten, agent)] = self._revision.get((ten, agent), 0) + 1
                if facts.publications:
                    self.dirty.add((SCHEDULE, ten, agent))
                else:
                    del self.schedules[(ten, agent)]
                    self._pieces.pop((ten, agent), None)
                    self.dirty.add((SCHEDULE, ten, agent))
        for (ten, queue), forecast in list(self.forecasts.items()):
            if ten == tenant and forecast.forget_before(t):
                if not forecast.intervals:
                    del self.forecasts[(ten, queue)]
                self.dirty.add((FORECAST, ten, queue))

    # ------------------------------------------------------------------- view
    def view(self, tenant: str, agents: Mapping[tuple[str, str], AgentFacts],
             clock: int) -> dict[str, object]:
        """This partition's part of the tenant's WFM figures, for the day of ``clock``."""
        day = self.calendar.day_of(clock)
        lo, hi = self.calendar.day_bounds(day)
        names = {a for (t, a) in self.schedules if t == tenant}
        names.update(a for (t, a) in agents if t == tenant)
        entries: dict[str, object] = {}
        for agent_id in names:
            key = (tenant, agent_id)
            entry = self._fold(key, agents.get(key), day, lo, hi, clock)
            if entry is not None:
                entries[agent_id] = entry
        forecasts: dict[str, object] = {}
        for (t, queue), forecast in self.forecasts.items():
            if t != tenant:
                continue
            today = {str(s): [v[2], v[3]] for s, v in forecast.intervals.items() if lo <= s < hi}
            if today:
                forecasts[queue] = today
        if not entries and not forecasts:
            return {}
        return {"day": day, "agents": entries, "forecasts": forecasts}

    def _fold(self, key: tuple[str, str], agent: AgentFacts | None, day: int, lo: int,
              hi: int, clock: int) -> dict[str, object] | None:
        timeline = agent.timeline if agent is not None else []
        last = timeline[-1][:2] if timeline else None
        cache_key = (day, len(timeline), last, self._revision.get(key, 0))
        cached = self._folds.get(key)
        if cached is not None and cached[0] == cache_key:
            return cached[1]
        schedule = self.schedules.get(key)
        pieces = self._day_pieces(key, schedule, day, lo, hi) if schedule is not None else []
        scheduled = [[s, e, a] for s, e, a in pieces if a is not None]
        entry: dict[str, object] | None
        if not scheduled and not (timeline and timeline[-1][0] >= lo):
            entry = None  # nothing today: no schedule, no state change
            if timeline and timeline[-1][2] != "logged_out":
                entry = {"pieces": [], "tally": None}  # working since before today
        else:
            upto = max(lo, min(timeline[-1][0], clock)) if timeline else lo
            fold = self._continued(key, timeline, day, upto)
            fold = fold_more(fold or Fold(Tally(lo)), pieces, timeline, lo, upto, self.rules)
            if timeline:
                self._partial[key] = (day, self._revision.get(key, 0), len(timeline),
                                      timeline[-1], fold)
            entry = {"pieces": scheduled, "tally": fold.tally.dump()}
        self._folds[key] = (cache_key, entry)
        return entry

    def _day_pieces(self, key: tuple[str, str], schedule: ScheduleFacts, day: int, lo: int,
                    hi: int) -> list[Piece]:
        """The agent's schedule in force over the day [lo, hi), computed again only when the
        day or the agent's publications (its revision) change, not with every state change
        the agent makes (read only: callers share the list)."""
        stamp = (day, self._revision.get(key, 0))
        cached = self._pieces.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        pieces = schedule.pieces(lo, hi)
        self._pieces[key] = (stamp, pieces)
        return pieces

    def _continued(self, key: tuple[str, str], timeline: list[Mark], day: int,
                   upto: int) -> Fold | None:
        """The agent's fold of ``day`` so far, if its marks since were only appended (the
        last mark folded is still at its place: nothing inserted or dropped before it)."""
        partial = self._partial.get(key)
        if partial is None:
            return None
        p_day, revision, count, last, fold = partial
        if (p_day != day or revision != self._revision.get(key, 0) or count > len(timeline)
                or timeline[count - 1] != last or fold.tally.at > upto):
            del self._partial[key]
            return None
        return fold


__all__ = ["FORECAST", "KINDS", "SCHEDULE", "WfmPartition", "fact_key"]

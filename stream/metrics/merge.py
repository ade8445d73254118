"""Figures from partition views: the live snapshot and the interval rows.

Pure functions: the worker merges the views of its own partitions (from memory) with those
of partitions other workers own (read back from Redis); the batch report merges one view.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from stream.events import AGENT_STATES
from stream.metrics.definitions import (
    IN_PROGRESS,
    INTERVAL_MS,
    MAX_WAIT_MS,
    MINUTE_MS,
    N_COUNTERS,
    SAMPLE_MS,
    Calendar,
    Counters,
    QueueRule,
    add_into,
    interval_start,
    minute_start,
    queue_figures,
    ratio,
    seconds,
)
from stream.metrics.partition import BUSY_STATES, PartitionView
from stream.wfm.config import WfmRules
from stream.wfm.snapshot import WfmBoard, wfm_sections

Rules = Callable[[str], QueueRule]


class Merged:
    """The views of one tenant added up."""

    def __init__(self, views: Sequence[PartitionView], partitions: int | None = None) -> None:
        """``partitions``: how many source partitions there are; until every one of them
        has a stream time, no interval is closed."""
        self.views = [v for v in views if v.clock or v.intervals or v.agents]
        self.now = max((v.clock for v in self.views), default=0)
        clocks = [v.clock for v in self.views if v.clock]
        complete = partitions is None or len(clocks) >= partitions
        self.slowest = min(clocks) if clocks and complete else 0
        self.intervals: dict[str, dict[int, Counters]] = {}
        self.samples: dict[str, dict[int, int]] = {}
        self.settle: dict[str, dict[int, int]] = {}
        self.waiting: dict[str, list[int]] = {}
        for view in self.views:
            for queue, by_start in view.intervals.items():
                mine = self.intervals.setdefault(queue, {})
                for start, counters in by_start.items():
                    total = mine.get(start)
                    if total is None:
                        total = mine[start] = [0] * N_COUNTERS
                    add_into(total, counters)
            for queue, samples in view.samples.items():
                mine_s = self.samples.get(queue)
                if mine_s is None:  # the first view with the queue: copied at once
                    self.samples[queue] = dict(samples)
                    continue
                for instant, count in samples.items():
                    mine_s[instant] = mine_s.get(instant, 0) + count
            for queue, settle in view.settle.items():
                mine_t = self.settle.setdefault(queue, {})
                for start, last in settle.items():
                    mine_t[start] = max(last, mine_t.get(start, last))
            for queue, waiting in view.waiting.items():
                self.waiting.setdefault(queue, []).extend(waiting)
        for waiting in self.waiting.values():
            waiting.sort()

    def queues(self) -> set[str]:
        names = set(self.intervals) | set(self.waiting)
        for view in self.views:
            for agent in view.agents.values():
                names.update(agent[5])  # type: ignore[arg-type]
        return names

    def not_judged(self, queue: str, rule: QueueRule, lo: int, hi: int,
                   by: Callable[[int], int] = interval_start) -> int:
        """Waiting legs queued in [lo, hi) (by their period start) that have waited less
        than the threshold: no service-level event yet."""
        return sum(1 for q in self.waiting.get(queue, ())
                   if lo <= by(q) < hi and self.now - q < rule.threshold_ms)

    def peak(self, queue: str, start: int) -> int:
        """Most legs waiting at any 10-s instant of the interval up to stream time."""
        samples = self.samples.get(queue, {})
        waiting = self.waiting.get(queue, [])
        peak = 0
        instant = start
        end = min(start + INTERVAL_MS, self.now + 1)
        while instant < end:
            count = (samples.get(instant, 0) + bisect.bisect_right(waiting, instant)
                     - bisect.bisect_right(waiting, instant - MAX_WAIT_MS))
            if count > peak:
                peak = count
            instant += SAMPLE_MS
        return peak

    def closed(self, queue: str, start: int, lateness_ms: int) -> bool:
        """Whether the interval is closed (:func:`interval_closed`); one with no leg has
        none in progress and no contact to wait for."""
        counters = self.intervals.get(queue, {}).get(start)
        if counters is None:
            return interval_closed(start, 0, 0, self.slowest, lateness_ms)
        return interval_closed(start, counters[IN_PROGRESS],
                               self.settle.get(queue, {}).get(start, 0), self.slowest,
                               lateness_ms)

    def row(self, tenant: str, queue: str, start: int, rule: QueueRule, calendar: Calendar,
            lateness_ms: int) -> dict[str, object]:
        counters = self.intervals.get(queue, {}).get(start) or [0] * N_COUNTERS
        closed = self.closed(queue, start, lateness_ms)
        return {
            "tenant": tenant,
            "queue": queue,
            "interval_start": calendar.iso(start),
            "interval_end": calendar.iso(start + INTERVAL_MS),
            "status": "closed" if closed else "open",
            **queue_figures(counters, self.not_judged(queue, rule, start, start + 1), rule),
            "peak_waiting": self.peak(queue, start),
        }


def interval_closed(start: int, in_progress: int, last_event: int, slowest: int,
                    lateness_ms: int) -> bool:
    """docs/metrics.md, "Closing": the interval from ``start`` is closed once every
    partition is past its end by the lateness (``slowest``: the slowest one's stream time),
    none of its legs is in progress, and every contact of it has been quiet for the
    lateness (``last_event``: the latest event time of any of them)."""
    return (slowest >= start + INTERVAL_MS + lateness_ms and not in_progress
            and last_event + lateness_ms <= slowest)


def closed_until(views: Sequence[PartitionView], lateness_ms: int,
                 partitions: int | None = None, since: int = 0) -> int:
    """Intervals starting before this (ms) are closed: no event can change them any more.
    Never goes back before ``since`` (what was closed stays closed).

    The views are not added up: only the intervals the slowest partition's clock lets
    close, from ``since`` on, are read (at most a few per queue; an interval closes about
    ``lateness_ms`` after its contacts go quiet, so most publishing turns find one that
    could close by the clock and cannot)."""
    clocks = [v.clock for v in views if v.clock]
    if not clocks or (partitions is not None and len(clocks) < partitions):
        return since
    slowest = min(clocks)
    until = interval_start(max(0, slowest - lateness_ms))
    if until <= since:
        return since
    # For the intervals in [since, until) only, over the views: the legs in progress
    # (summed) and the latest event time of their contacts.
    in_progress: dict[tuple[str, int], int] = {}
    settled: dict[tuple[str, int], int] = {}
    for view in views:
        for queue, by_start in view.intervals.items():
            for start, counters in by_start.items():
                if since <= start < until:
                    key = (queue, start)
                    in_progress[key] = in_progress.get(key, 0) + counters[IN_PROGRESS]
        for queue, settle in view.settle.items():
            for start, last in settle.items():
                if since <= start < until:
                    key = (queue, start)
                    settled[key] = max(last, settled.get(key, last))
    for key, count in in_progress.items():
        start = key[1]
        if start < until and not interval_closed(start, count, settled.get(key, 0), slowest,
                                                 lateness_ms):
            until = start
    return max(since, until)


def interval_rows(tenant: str, views: Sequence[PartitionView], calendar: Calendar,
                  rules: Rules, lateness_ms: int, start_from: int | None = None,
                  start_to: int | None = None,
                  partitions: int | None = None) -> list[dict[str, object]]:
    """One row per queue and interval with at least one leg, in order."""
    merged = Merged(views, partitions)
    rows = []
    for queue in sorted(merged.intervals):
        rule = rules(queue)
        for start in sorted(merged.intervals[queue]):
            if (start_from is not None and start < start_from) or (
                    start_to is not None and start >= start_to):
                continue
            if not any(merged.intervals[queue][start]):
                continue  # every leg it had was queued earlier after all
            rows.append(merged.row(tenant, queue, start, rule, calendar, lateness_ms))
    return rows


def snapshot(tenant: str, views: Sequence[PartitionView], calendar: Calendar, rules: Rules,
             lateness_ms: int, rolling_minutes: int,
             partitions: int | None = None, wfm: WfmRules | None = None,
             closed_rows: dict[tuple[str, int], dict[str, object]] | None = None,
             wfm_board: WfmBoard | None = None) -> dict[str, object]:
    """The tenant's live figures (docs/live-state.md), as of its stream time. ``wfm``: the
    workforce-management settings (default: the defaults).

    ``closed_rows``: the caller's store of the tenant's closed interval rows, kept from one
    call to the next (a closed interval's row never changes: docs/metrics.md, "Closing"),
    so that a snapshot computes only the open intervals' rows; the rows of earlier days
    are dropped from it. ``wfm_board``: the caller's store of the tenant's WFM sums, kept
    the same way (stream/wfm/snapshot.py, :class:`WfmBoard`)."""
    merged = Merged(views, partitions)
    now = merged.now
    today = calendar.day_of(now)
    day_start, day_end = calendar.day_bounds(today)
    if closed_rows is not None:
        for key in [key for key in closed_rows if key[1] < day_start]:
            del closed_rows[key]
    window_from = minute_start(now) - (rolling_minutes - 1) * MINUTE_MS
    queue_names = sorted(merged.queues())

    agents_by_queue: dict[str, dict[str, int]] = {
        q: dict.fromkeys(AGENT_STATES, 0) for q in queue_names}
    team_states: dict[str, dict[str, int]] = {}
    team_time: dict[str, list[int]] = {}
    agents: dict[str, object] = {}
    for a in sorted(_agents(merged.views, today, day_start, now), key=lambda a: a.agent_id):
        for queue in a.queues:
            agents_by_queue[queue][a.state] += 1
        if a.team is not None:
            team_states.setdefault(a.team, dict.fromkeys(AGENT_STATES, 0))[a.state] += 1
            add_into(team_time.setdefault(a.team, [0, 0]), (a.busy, a.idle))
        agents[a.agent_id] = {
            "name": a.name, "state": a.state, "reason": a.reason,
            "since": calendar.iso(a.since), "since_epoch": a.since / 1000,
            "handled": a.handled, "team": a.team, "queues": a.queues,
            # Up to `since`: the current state's time is added where it ticks (the page),
            # so that an agent's entry changes only when the agent does.
            "busy_s": seconds(a.closed_busy), "idle_s": seconds(a.closed_idle),
            "occupancy": ratio(a.closed_busy, a.closed_busy + a.closed_idle),
        }

    queues: dict[str, object] = {}
    intervals: dict[str, object] = {}
    windows: dict[str, Counters] = {}
    for queue in queue_names:
        rule = rules(queue)
        by_start = merged.intervals.get(queue, {})
        day = [0] * N_COUNTERS
        for start, counters in by_start.items():
            if day_start <= start < day_end:
                add_into(day, counters)
        window = [0] * N_COUNTERS
        for view in merged.views:
            for minute, counters in view.minutes.get(queue, {}).items():
                if minute >= window_from:
                    add_into(window, counters)
        windows[queue] = window
        waiting = [q for q in merged.waiting.get(queue, []) if now - q < MAX_WAIT_MS]
        figures = queue_figures(day, merged.not_judged(queue, rule, day_start, day_end), rule)
        rolling = queue_figures(
            window, merged.not_judged(queue, rule, window_from, now + 1, minute_start), rule)
        queues[queue] = {
            "waiting": len(waiting),
            "longest_wait_s": seconds(max(0, now - waiting[0])) if waiting else 0.0,
            "oldest_queued_epoch": waiting[0] / 1000 if waiting else None,
            **figures,
            "sl_definition": rule.sl_definition,
            "sl_target": rule.sl_target,
            "sl_amber": round(max(0.0, rule.sl_target - rule.amber_band), 4),
            "short_abandon_s": rule.short_abandon_s,
            "rolling": {"minutes": rolling_minutes, **{k: rolling[k] for k in (
                "offered", "answered", "abandoned", "service_level", "asa_s", "aht_s",
                "abandon_rate")}},
            "agents": agents_by_queue[queue],
        }
        rows = []
        for start in range(day_start, min(day_end, interval_start(now) + 1), INTERVAL_MS):
            row = closed_rows.get((queue, start)) if closed_rows is not None else None
            if row is None:
                row = merged.row(tenant, queue, start, rule, calendar, lateness_ms)
                if closed_rows is not None and row["status"] == "closed":
                    closed_rows[queue, start] = row
            rows.append(row)
        intervals[queue] = {"rows": rows}
        queues[queue]["peak_waiting"] = max(  # type: ignore[index]
            (int(r["peak_waiting"]) for r in rows  # type: ignore[call-overload]
             if r["offered"] or r["short_abandoned"]), default=0)

    rules_wfm = wfm or WfmRules()
    adherence, intraday, team_adherence = wfm_sections(
        merged.views, agents, windows, merged.intervals, queue_names, rules,  # type: ignore[arg-type]
        rules_wfm, today, day_start, day_end, now, rolling_minutes * MINUTE_MS, wfm_board)
    return {
        "tenant": tenant,
        "as_of": calendar.iso(now),
        "as_of_epoch": now / 1000,
        "day": date.fromordinal(today).isoformat(),
        "timezone": str(calendar.zone),
        "day_start": calendar.day_start.strftime("%H:%M"),
        "queues": queues,
        "teams": {team: {"agents": counts, "busy_s": seconds(team_time[team][0]),
                         "idle_s": seconds(team_time[team][1]),
                         "occupancy": ratio(team_time[team][0], sum(team_time[team])),
                         **({"adherence": team_adherence[team]} if team in team_adherence
                            else {})}
                  for team, counts in sorted(team_states.items())},
        "agents": agents,
        "intervals": intervals,
        "adherence": adherence,
        "intraday": intraday,
        "adherence_thresholds": {"exception_s": rules_wfm.exception_ms / 1000,
                                 "severe_s": rules_wfm.severe_ms / 1000},
        # flagged contacts still in progress (stream/qa/live.py), for the alert rules
        "flagged_contacts": {contact: entry for view in merged.views
                             for contact, entry in sorted(view.flagged.items())},
    }


@dataclass(slots=True)
class AgentToday:
    """One agent's day in a snapshot (made for every agent at every publication; never
    changed once made). ``__init__`` is written out so that mypyc compiles it."""

    agent_id: str
    state: str
    reason: str | None
    since: int
    name: str | None
    team: str | None
    queues: list[str]
    closed_busy: int  # ms today until `since`
    closed_idle: int
    busy: int  # ms today, the current state's time up to stream time included
    idle: int
    handled: int  # contacts wrapped today

    def __init__(self, agent_id: str, state: str, reason: str | None, since: int,
                 name: str | None, team: str | None, queues: list[str], closed_busy: int,
                 closed_idle: int, busy: int, idle: int, handled: int) -> None:
        self.agent_id = agent_id
        self.state = state
        self.reason = reason
        self.since = since
        self.name = name
        self.team = team
        self.queues = queues
        self.closed_busy = closed_busy
        self.closed_idle = closed_idle
        self.busy = busy
        self.idle = idle
        self.handled = handled


def _agents(views: Iterable[PartitionView], today: int, day_start: int,
            now: int) -> Iterable[AgentToday]:
    handled: dict[str, int] = {}
    time_today: dict[str, list[int]] = {}
    for view in views:
        for agent_id, per_day in view.handled.items():
            handled[agent_id] = handled.get(agent_id, 0) + per_day.get(today, 0)
        for agent_id, days in view.agent_time.items():
            add_into(time_today.setdefault(agent_id, [0, 0]), days.get(today, (0, 0)))
    for view in views:
        for agent_id, (state, reason, since, name, team, queues) in view.agents.items():
            closed_busy, closed_idle = busy, idle = time_today.get(agent_id, (0, 0))
            open_from = max(int(since), day_start)  # type: ignore[call-overload]
            if now > open_from:
                if state in BUSY_STATES:
                    busy += now - open_from
                elif state == "available":
                    idle += now - open_from
            yield AgentToday(agent_id, str(state), reason, int(since),  # type: ignore[arg-type, call-overload]
                             name, team, list(queues),  # type: ignore[arg-type, call-overload]
                             closed_busy, closed_idle, busy, idle, handled.get(agent_id, 0))


SECTIONS: Final = ("queues", "teams", "agents", "intervals", "adherence", "intraday")


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

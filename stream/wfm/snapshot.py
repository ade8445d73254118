"""The snapshot's workforce-management sections, from the partitions' views
(docs/live-state.md: ``adherence``, ``intraday``, and ``teams[t].adherence``).

Pure: called by :func:`stream.metrics.merge.snapshot` with the views and the figures it
has already merged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Final

from stream.metrics.definitions import (
    HANDLE_MS,
    HANDLED,
    INTERVAL_MS,
    NEVER,
    OFFERED,
    Counters,
    QueueRule,
    interval_start,
)
from stream.metrics.partition import PartitionView
from stream.wfm.adherence import (
    GRACE,
    IN,
    OUT,
    UNSCHEDULED,
    Adherence,
    Tally,
    activity_at,
    advance,
    finish,
)
from stream.wfm.config import STAFFED_STATES, WfmRules
from stream.wfm.intraday import QueueDay, intraday
from stream.wfm.schedule import Piece

STATUSES: Final = (IN, GRACE, OUT, UNSCHEDULED)
COUNTS_AT: Final = 8  # a group's sums: four figures, their four rates, then the status counts
# An agent as its snapshot entry has it: state, reason, queues, team, name.
AgentInfo = tuple[str, str | None, tuple[str, ...], str | None, str | None]


def _seconds(ms: int) -> int:
    return ms // 1000


def agent_adherence(pieces: Sequence[Piece], tally: Tally, state: str, reason: str | None,
                    now: int, rules: WfmRules) -> tuple[Adherence, Adherence, Tally]:
    """The agent's figures at ``now``, the same at the last instant they changed course
    (``since``: a state change, a schedule boundary, an exception reaching the threshold),
    and the tally at ``now``. From ``since`` to ``now`` each figure grows at a constant
    rate, which is how the page ticks them (docs/live-state.md)."""
    full = tally.copy()
    advance(full, pieces, state, reason, now, rules)
    at_now = finish(full, pieces, state, reason, rules)
    since = tally.at
    for start, end, _ in pieces:
        for t in (start, end):
            if since < t <= now:
                since = t
    if at_now.status == OUT and at_now.out_since is not None:
        crossed = at_now.out_since + rules.exception_ms
        if since < crossed <= now:
            since = crossed
    part = tally.copy()
    advance(part, pieces, state, reason, since, rules)
    return at_now, finish(part, pieces, state, reason, rules), full


class AgentTurn:
    """One agent's part of the WFM sections, computed at ``at`` from ``entry`` (the view's)
    and ``info`` (state, reason, queues, team, name), and what it adds to the sums.

    From ``at`` until ``until`` (exclusive) nothing in it changes course (no schedule
    boundary, no interval boundary while staffed, no exception reaching the threshold or
    turning severe): the listed entry (``out``) stays the same object, each figure grows at
    its ``rates`` (0 or 1 ms a ms) and, while ``growing``, the staffed time of the interval
    of ``at`` grows with the time. ``sums``: the figures less rate x ``at``, the rates and a
    count of the status, as the groups add them."""

    entry: object
    info: AgentInfo
    at: int
    until: int
    out: dict[str, object] | None
    sums: list[int]
    staffed: dict[int, int]
    growing: bool
    work: tuple[tuple[int, int], ...]
    seen: int

    def __init__(self, entry: object,
                 info: AgentInfo,
                 at: int, until: int, out: dict[str, object] | None, sums: list[int],
                 staffed: dict[int, int], growing: bool, work: tuple[tuple[int, int], ...],
                 seen: int) -> None:
        self.entry = entry
        self.info = info
        self.at = at
        self.until = until
        self.out = out
        self.sums = sums
        self.staffed = staffed
        self.growing = growing
        self.work = work
        self.seen = seen

    def holds(self, entry: object,
              info: AgentInfo,
              now: int) -> bool:
        """Whether it is still the agent's part at ``now``."""
        return (self.at <= now < self.until and self.info == info
                and (self.entry is entry or self.entry == entry))


class WfmBoard:
    """The caller's store of one tenant's WFM sums, kept from one snapshot to the next, so
    that a publishing turn recomputes only the agents whose part changed (an event, a
    boundary, a threshold) and reads every sum at ``now`` without a loop over the agents.

    Holds each agent's :class:`AgentTurn` and their sums: per group (queue or team) the
    adherence sums, per queue the staffed and planned time by interval, the agents staffed
    now, the members. A snapshot with a new board computes every agent: the same figures
    (tests/unit/test_wfm_board.py)."""

    key: tuple[object, int, int] | None  # (rules, day, day start)
    turn: int
    agents: dict[str, AgentTurn]
    extra: list[AgentTurn]  # an agent met twice in a turn: its second part, for that turn
    groups: dict[tuple[str, str], list[int]]
    staffed: dict[str, dict[int, int]]
    growth: dict[str, list[int]]  # queue -> [agents growing, minus the sum of their at]
    planned: dict[str, dict[int, int]]
    staffed_now: dict[str, int]
    members: dict[str, int]

    def __init__(self) -> None:
        self.key = None
        self.turn = 0
        self.clear()

    def clear(self) -> None:
        self.agents = {}
        self.extra = []
        self.groups = {}
        self.staffed = {}
        self.growth = {}
        self.planned = {}
        self.staffed_now = {}
        self.members = {}

    def begin(self, rules: WfmRules, today: int, day_start: int) -> None:
        """Start a turn; a new day or new rules start from nothing."""
        key = (rules, today, day_start)
        if key != self.key:
            self.clear()
            self.key = key
        self.turn += 1
        for part in self.extra:
            self.add(part, -1)
        self.extra = []

    def end(self) -> None:
        """Drop the agents not met this turn."""
        turn = self.turn
        gone = [agent_id for agent_id, part in self.agents.items() if part.seen != turn]
        for agent_id in gone:
            self.add(self.agents.pop(agent_id), -1)

    def put(self, agent_id: str, part: AgentTurn) -> None:
        old = self.agents.get(agent_id)
        if old is not None and old.seen == self.turn:  # met twice: kept for this turn only
            self.extra.append(part)
        else:
            if old is not None:
                self.add(old, -1)
            self.agents[agent_id] = part
        self.add(part, 1)

    def add(self, part: AgentTurn, sign: int) -> None:
        """Add ``part`` to the sums (``sign`` 1) or take it out (-1)."""
        state, _, queues, team, _ = part.info
        staffed_now = state in STAFFED_STATES
        for queue in queues:
            self.members[queue] = self.members.get(queue, 0) + sign
            if not self.members[queue]:
                del self.members[queue]
            if part.staffed:
                _add_by_slot(self.staffed.setdefault(queue, {}), part.staffed.items(), sign)
            if part.growing:
                growth = self.growth.setdefault(queue, [0, 0])
                growth[0] += sign
                growth[1] -= sign * part.at
            if part.work:
                _add_by_slot(self.planned.setdefault(queue, {}), part.work, sign)
            if staffed_now:
                self.staffed_now[queue] = self.staffed_now.get(queue, 0) + sign
        if part.out is not None:  # listed: counted in its queues' and team's adherence
            names = [("queue", q) for q in queues] + ([("team", str(team))] if team else [])
            for name in names:
                sums = self.groups.get(name)
                if sums is None:
                    sums = self.groups[name] = [0] * len(part.sums)
                for i, value in enumerate(part.sums):
                    sums[i] += sign * value
                if not any(sums[COUNTS_AT:]):  # no member left
                    del self.groups[name]

    def staffed_ms(self, queue: str, now: int) -> dict[int, int]:
        """The queue's staffed time by interval at ``now``."""
        by_slot = dict(self.staffed.get(queue) or {})
        growth = self.growth.get(queue)
        if growth is not None:
            grown = growth[0] * now + growth[1]
            if grown:
                slot = interval_start(now)
                by_slot[slot] = by_slot.get(slot, 0) + grown
        return by_slot

    def group(self, name: tuple[str, str], now: int) -> list[int] | None:
        """The group's adherence sums at ``now``: four figures, then the status counts."""
        sums = self.groups.get(name)
        if sums is None:
            return None
        return [sums[i] + sums[4 + i] * now for i in range(4)] + sums[COUNTS_AT:]


def _add_by_slot(into: dict[int, int], items: Iterable[tuple[int, int]], sign: int) -> None:
    for slot, ms in items:
        value = into.get(slot, 0) + sign * ms
        if value:
            into[slot] = value
        else:
            del into[slot]


def agent_turn(entry: Mapping[str, Any],
               info: AgentInfo,
               rules: WfmRules, day_start: int, now: int, seen: int) -> AgentTurn:
    """The agent's part at ``now`` (see :class:`AgentTurn`)."""
    state, reason, queues, team, name = info
    pieces: list[Piece] = [(int(s), int(e), str(a)) for s, e, a in entry["pieces"]]
    raw = entry["tally"]
    tally = Tally.load(raw) if raw is not None else Tally(day_start)
    at_now, at_since, full = agent_adherence(pieces, tally, state, reason, now, rules)
    piece = activity_at(pieces, now)
    activity = piece[2] if piece is not None else None
    work = _work_by_slot(tuple((start, end) for start, end, act in pieces
                               if rules.is_work(act)))
    staffed_now = state in STAFFED_STATES
    worked = any(rules.adherent(a, state, reason) for a in rules.work_activities)
    scheduled = rules.scheduled(activity)
    # Until when the figures grow linearly (see AgentTurn).
    if now < tally.at:  # the view is ahead of the tenant's clock: figures at tally.at
        rates = (0, 0, 0, 0)
        growing = False
        until = tally.at
    else:
        rates = (int(scheduled), int(scheduled and at_now.status in (IN, GRACE)),
                 int(scheduled and rules.is_work(activity)), int(worked))
        growing = staffed_now
        until = _next_boundary(pieces, now)
        if growing:
            until = min(until, interval_start(now) + INTERVAL_MS)
        if at_now.status == GRACE and at_now.out_since is not None:
            until = min(until, at_now.out_since + rules.exception_ms)
    severe = (at_now.status == OUT and at_now.out_since is not None
              and now - at_now.out_since >= rules.severe_ms)
    if at_now.status == OUT and at_now.out_since is not None and not severe:
        until = min(until, at_now.out_since + rules.severe_ms)
    out: dict[str, object] | None = None
    if pieces or state != "logged_out":
        out = {
            "name": name,
            "team": team, "queues": list(queues),
            "scheduled": activity,
            "scheduled_until_epoch": piece[1] / 1000 if piece is not None else None,
            "next": _next_activity(pieces, now),
            "state": state, "reason": reason,
            "status": at_since.status,
            "out_since_epoch": (at_since.out_since / 1000
                                if at_since.out_since is not None else None),
            "severe": severe,
            # figures as of `since_epoch`; `ticking` says which grow from then on
            "since_epoch": at_since.at / 1000,
            "scheduled_s": _seconds(at_since.scheduled_ms),
            "adherent_s": _seconds(at_since.adherent_ms),
            "work_scheduled_s": _seconds(at_since.work_scheduled_ms),
            "worked_s": _seconds(at_since.worked_ms),
            "adherence": at_since.adherence,
            "conformance": at_since.conformance,
            "exceptions": at_since.exceptions,
            "ticking": {
                "scheduled": scheduled,
                "adherent": scheduled and at_since.status in (IN, GRACE),
                "work_scheduled": rules.is_work(activity),
                "worked": worked,
            },
        }
    figures = (at_now.scheduled_ms, at_now.adherent_ms, at_now.work_scheduled_ms,
               at_now.worked_ms)
    sums = [figures[i] - rates[i] * now for i in range(4)] + list(rates) + [
        int(at_now.status == status) for status in STATUSES]
    return AgentTurn(entry, info, now, until, out, sums, full.staffed, growing, work, seen)


def _next_boundary(pieces: Sequence[Piece], now: int) -> int:
    """The first start or end of a piece after ``now`` (or never)."""
    for start, end, _ in pieces:
        if start > now:
            return start
        if end > now:
            return end
    return NEVER


def wfm_sections(views: Sequence[PartitionView], agents: Mapping[str, Mapping[str, Any]],
                 windows: Mapping[str, Counters], intervals: Mapping[str, Mapping[int, Counters]],
                 queue_names: Iterable[str], rule_of: Callable[[str], QueueRule],
                 rules: WfmRules, today: int, day_start: int, day_end: int, now: int,
                 rolling_ms: int, board: WfmBoard | None = None,
                 ) -> tuple[dict[str, object], dict[str, object], dict[str, dict[str, object]]]:
    """``(adherence, intraday, team roll-ups)``. ``agents``: the snapshot's agent entries;
    ``board``: the caller's :class:`WfmBoard` for the tenant, kept from one call to the next
    (without: every agent is computed)."""
    board = board if board is not None else WfmBoard()
    board.begin(rules, today, day_start)
    turn = board.turn
    adherence: dict[str, object] = {}
    forecasts: dict[str, dict[int, tuple[float, float]]] = {}

    for view in views:
        wfm = view.wfm
        if not wfm or wfm.get("day") != today:
            continue
        for queue, by_start in (wfm.get("forecasts") or {}).items():  # type: ignore[attr-defined]
            mine = forecasts.setdefault(queue, {})
            for start, (volume, aht) in by_start.items():
                mine[int(start)] = (float(volume), float(aht))
        for agent_id, entry in (wfm.get("agents") or {}).items():  # type: ignore[attr-defined]
            found = agents.get(agent_id)
            info: AgentInfo = (
                (str(found["state"]), found.get("reason"), tuple(found.get("queues") or ()),
                 found.get("team"), found.get("name")) if found
                else ("logged_out", None, (), None, None))
            part = board.agents.get(agent_id)
            if part is None or part.seen == turn or not part.holds(entry, info, now):
                part = agent_turn(entry, info, rules, day_start, now, turn)
                board.put(agent_id, part)
            else:
                part.seen = turn
            if part.out is not None:
                adherence[agent_id] = part.out
    board.end()

    teams: dict[str, dict[str, object]] = {}
    for kind, name in board.groups:
        if kind == "team":
            teams[name] = _rollup(board.group((kind, name), now) or [])
    sections: dict[str, object] = {}
    for queue in sorted(queue_names):
        if queue not in forecasts and queue not in board.members:
            continue
        window = windows.get(queue) or []
        day = QueueDay(
            counters={s: c for s, c in intervals.get(queue, {}).items()
                      if day_start <= s < day_end},
            forecast=forecasts.get(queue, {}),
            planned_ms=board.planned.get(queue) or {},
            staffed_ms=board.staffed_ms(queue, now),
            staffed_now=board.staffed_now.get(queue, 0),
            rolling=((window[OFFERED], window[HANDLED], window[HANDLE_MS]) if window
                     else (0, 0, 0)),
            rolling_ms=rolling_ms,
        )
        entry = intraday(day, rule_of(queue), now, day_start, day_end, rules.max_occupancy)
        queue_sums = board.group(("queue", queue), now)
        entry["adherence"] = _rollup(queue_sums) if queue_sums else None
        sections[queue] = entry
    return adherence, sections, teams


@lru_cache(maxsize=65_536)
def _work_by_slot(spans: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    """An agent's scheduled work time by interval: ``(slot, ms)``. Kept: a schedule is the
    same turn after turn (publishing asks for every agent's at every turn)."""
    by_slot: dict[int, int] = {}
    for start, end in spans:
        t = start
        while t < end:
            slot = interval_start(t)
            stop = min(end, slot + INTERVAL_MS)
            by_slot[slot] = by_slot.get(slot, 0) + stop - t
            t = stop
    return tuple(by_slot.items())


def _next_activity(pieces: Sequence[Piece], now: int) -> dict[str, object] | None:
    for start, _, activity in pieces:
        if start > now:
            return {"activity": activity, "start_epoch": start / 1000}
    return None


def _rollup(sums: list[int]) -> dict[str, object]:
    scheduled, adherent, work_scheduled, worked = sums[:4]
    return {
        "adherence": round(adherent / scheduled, 4) if scheduled else None,
        "conformance": round(worked / work_scheduled, 4) if work_scheduled else None,
        "scheduled_s": _seconds(scheduled), "adherent_s": _seconds(adherent),
        "agents": dict(zip(STATUSES, sums[4:], strict=True)),
    }

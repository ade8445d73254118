"""The snapshot's workforce-management sections, from the partitions' views
(docs/live-state.md: ``adherence``, ``intraday``, and ``teams[t].adherence``).

Pure: called by :func:`stream.metrics.merge.snapshot` with the views and the figures it
has already merged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from stream.metrics.definitions import (
    HANDLE_MS,
    HANDLED,
    INTERVAL_MS,
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

STATUSES = (IN, GRACE, OUT, UNSCHEDULED)


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


def wfm_sections(views: Sequence[PartitionView], agents: Mapping[str, Mapping[str, Any]],
                 windows: Mapping[str, Counters], intervals: Mapping[str, Mapping[int, Counters]],
                 queue_names: Iterable[str], rule_of: Callable[[str], QueueRule],
                 rules: WfmRules, today: int, day_start: int, day_end: int, now: int,
                 rolling_ms: int) -> tuple[dict[str, object], dict[str, object],
                                           dict[str, dict[str, object]]]:
    """``(adherence, intraday, team roll-ups)``. ``agents``: the snapshot's agent entries."""
    adherence: dict[str, object] = {}
    forecasts: dict[str, dict[int, tuple[float, float]]] = {}
    planned: dict[str, dict[int, int]] = {}
    staffed: dict[str, dict[int, int]] = {}
    staffed_now: dict[str, int] = {}
    groups: dict[tuple[str, str], list[int]] = {}  # (kind, name) -> sums and counts

    for view in views:
        wfm = view.wfm
        if not wfm or wfm.get("day") != today:
            continue
        for queue, by_start in (wfm.get("forecasts") or {}).items():  # type: ignore[attr-defined]
            mine = forecasts.setdefault(queue, {})
            for start, (volume, aht) in by_start.items():
                mine[int(start)] = (float(volume), float(aht))
        for agent_id, entry in (wfm.get("agents") or {}).items():  # type: ignore[attr-defined]
            info = agents.get(agent_id)
            state = str(info["state"]) if info else "logged_out"
            reason = info.get("reason") if info else None
            queues: list[str] = list(info.get("queues") or []) if info else []
            team = info.get("team") if info else None
            pieces: list[Piece] = [(int(s), int(e), str(a)) for s, e, a in entry["pieces"]]
            raw = entry["tally"]
            tally = Tally.load(raw) if raw is not None else Tally(day_start)
            at_now, at_since, full = agent_adherence(pieces, tally, state, reason, now, rules)
            piece = activity_at(pieces, now)
            activity = piece[2] if piece is not None else None
            work = _work_by_slot(tuple((start, end) for start, end, act in pieces
                                       if rules.is_work(act)))
            for queue in queues:
                by_slot = staffed.setdefault(queue, {})
                for slot, ms in full.staffed.items():
                    by_slot[slot] = by_slot.get(slot, 0) + ms
                plan = planned.setdefault(queue, {})
                for slot, ms in work:
                    plan[slot] = plan.get(slot, 0) + ms
                if state in STAFFED_STATES:
                    staffed_now[queue] = staffed_now.get(queue, 0) + 1
            if not pieces and state == "logged_out":
                continue
            severe = (at_now.status == OUT and at_now.out_since is not None
                      and now - at_now.out_since >= rules.severe_ms)
            adherence[agent_id] = {
                "name": info.get("name") if info else None,
                "team": team, "queues": queues,
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
                    "scheduled": rules.scheduled(activity),
                    "adherent": rules.scheduled(activity) and at_since.status in (IN, GRACE),
                    "work_scheduled": rules.is_work(activity),
                    "worked": any(rules.adherent(a, state, reason)
                                  for a in rules.work_activities),
                },
            }
            names = [("queue", q) for q in queues] + ([("team", str(team))] if team else [])
            for name in names:
                sums = groups.setdefault(name, [0] * (4 + len(STATUSES)))
                sums[0] += at_now.scheduled_ms
                sums[1] += at_now.adherent_ms
                sums[2] += at_now.work_scheduled_ms
                sums[3] += at_now.worked_ms
                sums[4 + STATUSES.index(at_now.status)] += 1

    teams = {name: _rollup(sums) for (kind, name), sums in groups.items() if kind == "team"}
    sections: dict[str, object] = {}
    for queue in sorted(queue_names):
        if queue not in forecasts and queue not in planned:
            continue
        window = windows.get(queue) or []
        day = QueueDay(
            counters={s: c for s, c in intervals.get(queue, {}).items()
                      if day_start <= s < day_end},
            forecast=forecasts.get(queue, {}),
            planned_ms=planned.get(queue, {}),
            staffed_ms=staffed.get(queue, {}),
            staffed_now=staffed_now.get(queue, 0),
            rolling=((window[OFFERED], window[HANDLED], window[HANDLE_MS]) if window
                     else (0, 0, 0)),
            rolling_ms=rolling_ms,
        )
        entry = intraday(day, rule_of(queue), now, day_start, day_end, rules.max_occupancy)
        queue_sums = groups.get(("queue", queue))
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

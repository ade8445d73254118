"""Real-time adherence of one agent: a fold over the schedule in force and the agent's
state timeline (docs/metrics.md section 5).

Over [day start, now), time is cut into stretches where both the scheduled activity and
the agent's state are constant. A stretch is

- *not scheduled* when no activity, or an off activity, is scheduled: it counts nowhere;
- *in adherence* when the agent's state (and aux reason) is one the activity maps to;
- otherwise *out of adherence*.

An *exception* is a maximal run of consecutive out-of-adherence scheduled time; it ends at
the first stretch in adherence or not scheduled. An exception shorter than the exception
threshold counts as in adherence (a late click, a short bathroom break); a longer one counts
whole. The exception still running now counts as in adherence while it is shorter than the
threshold (status ``grace``), whole once it is not (status ``out``).

- adherence = time in adherence ÷ scheduled time;
- conformance = time worked ÷ time scheduled to work, where time worked is time in a
  state of a work activity (available, on contact, ACW by default) at any time of the day,
  and time scheduled to work is time in work activities (``open``).

The fold is a pure function of the set of schedule publications and the set of state
marks, so late, reordered and repeated events give the same figures. It can be stopped at
any time t (a :class:`Tally`) and continued later, which is how a partition's view carries
an agent's day up to its last state change and the snapshot adds the time since.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stream.metrics.definitions import INTERVAL_MS, interval_start
from stream.wfm.config import STAFFED_STATES, WfmRules
from stream.wfm.schedule import Piece

IN, GRACE, OUT, UNSCHEDULED = "in", "grace", "out", "unscheduled"


@dataclass(slots=True)
class Tally:
    """An agent's day folded up to ``at``; ``run_start``: the exception running at ``at``
    (its time is not yet in ``adherent_ms``)."""

    at: int
    scheduled_ms: int
    adherent_ms: int
    work_scheduled_ms: int
    worked_ms: int
    run_start: int | None
    exceptions: int  # exceptions that counted (at least the threshold), ended
    staffed: dict[int, int]  # interval start -> ms staffed

    def __init__(self, at: int, scheduled_ms: int = 0, adherent_ms: int = 0,
                 work_scheduled_ms: int = 0, worked_ms: int = 0, run_start: int | None = None,
                 exceptions: int = 0, staffed: dict[int, int] | None = None) -> None:
        # written out, not generated, so that mypyc compiles it (copied at every publication)
        self.at = at
        self.scheduled_ms = scheduled_ms
        self.adherent_ms = adherent_ms
        self.work_scheduled_ms = work_scheduled_ms
        self.worked_ms = worked_ms
        self.run_start = run_start
        self.exceptions = exceptions
        self.staffed = {} if staffed is None else staffed

    def dump(self) -> list[object]:
        return [self.at, self.scheduled_ms, self.adherent_ms, self.work_scheduled_ms,
                self.worked_ms, self.run_start, self.exceptions,
                {str(k): v for k, v in self.staffed.items()}]

    @classmethod
    def load(cls, data: Sequence[object]) -> Tally:
        at, scheduled, adherent, work_scheduled, worked, run_start, exceptions, staffed = data
        assert isinstance(staffed, dict)
        return cls(int(at), int(scheduled), int(adherent), int(work_scheduled),  # type: ignore[call-overload]
                   int(worked), None if run_start is None else int(run_start),  # type: ignore[call-overload]
                   int(exceptions), {int(k): int(v) for k, v in staffed.items()})  # type: ignore[call-overload]

    def copy(self) -> Tally:
        return Tally(self.at, self.scheduled_ms, self.adherent_ms, self.work_scheduled_ms,
                     self.worked_ms, self.run_start, self.exceptions, dict(self.staffed))


def _close_run(tally: Tally, at: int, rules: WfmRules) -> None:
    if tally.run_start is not None:
        length = at - tally.run_start
        if length < rules.exception_ms:
            tally.adherent_ms += length
        else:
            tally.exceptions += 1
        tally.run_start = None


def advance(tally: Tally, pieces: Sequence[Piece], state: str, reason: str | None,
            end: int, rules: WfmRules) -> None:
    """Fold [tally.at, end) with the agent in ``state`` throughout."""
    start = tally.at
    if end <= start:
        return
    staffed = state in STAFFED_STATES
    worked = any(rules.adherent(a, state, reason) for a in rules.work_activities)
    if staffed:
        t = start
        while t < end:
            slot = interval_start(t)
            stop = min(end, slot + INTERVAL_MS)
            tally.staffed[slot] = tally.staffed.get(slot, 0) + stop - t
            t = stop
    if worked:
        tally.worked_ms += end - start
    for p_start, p_end, activity in _clip(pieces, start, end):
        length = p_end - p_start
        if not rules.scheduled(activity):
            _close_run(tally, p_start, rules)
            continue
        assert activity is not None
        tally.scheduled_ms += length
        if rules.is_work(activity):
            tally.work_scheduled_ms += length
        if rules.adherent(activity, state, reason):
            _close_run(tally, p_start, rules)
            tally.adherent_ms += length
        elif tally.run_start is None:
            tally.run_start = p_start
    tally.at = end


def _clip(pieces: Sequence[Piece], lo: int, hi: int) -> Iterable[Piece]:
    """The pieces over [lo, hi), with unscheduled gaps filled in."""
    t = lo
    for start, end, activity in pieces:
        if end <= t:
            continue
        if start >= hi:
            break
        if start > t:
            yield (t, start, None)
            t = start
        stop = min(end, hi)
        yield (t, stop, activity)
        t = stop
        if t >= hi:
            return
    if t < hi:
        yield (t, hi, None)


# (time, event id, state, reason): stream.metrics.facts.Mark
Mark = tuple[int, str, str, str | None]


@dataclass(slots=True)
class Fold:
    """A day folded up to ``tally.at``: the state (and reason) there, and the index of the
    first mark not folded yet. :func:`fold_more` continues it with later marks."""

    tally: Tally
    state: str
    reason: str | None
    next_mark: int

    def __init__(self, tally: Tally, state: str = "logged_out", reason: str | None = None,
                 next_mark: int = 0) -> None:
        self.tally = tally
        self.state = state
        self.reason = reason
        self.next_mark = next_mark


def fold_more(fold: Fold, pieces: Sequence[Piece], marks: Sequence[Mark], lo: int, hi: int,
              rules: WfmRules) -> Fold:
    """Continue ``fold`` (in place) with ``marks[fold.next_mark:]`` up to ``hi``. The
    result is that of :func:`fold_day` over ``marks`` as long as the marks before
    ``fold.next_mark`` are those the fold has seen and ``hi`` is not before ``tally.at``."""
    tally, state, reason = fold.tally, fold.state, fold.reason
    index = fold.next_mark
    count = len(marks)
    while index < count:
        ts, _, mark_state, mark_reason = marks[index]
        if ts > lo:
            if ts >= hi:
                break
            advance(tally, pieces, state, reason, ts, rules)
        state, reason = mark_state, mark_reason
        index += 1
    advance(tally, pieces, state, reason, hi, rules)
    fold.state, fold.reason, fold.next_mark = state, reason, index
    return fold


def fold_day(pieces: Sequence[Piece], marks: Sequence[Mark], lo: int, hi: int,
             rules: WfmRules) -> tuple[Tally, str, str | None]:
    """The agent's day from ``lo`` folded up to ``hi``; returns the tally and the state
    (and reason) at ``hi``. Before its first mark an agent is logged out."""
    fold = fold_more(Fold(Tally(lo)), pieces, marks, lo, hi, rules)
    return fold.tally, fold.state, fold.reason


def activity_at(pieces: Sequence[Piece], t: int) -> Piece | None:
    for piece in pieces:
        if piece[0] <= t < piece[1]:
            return piece
    return None


@dataclass(slots=True)
class Adherence:
    """An agent's figures at ``at`` (a finished tally; never changed once made). Made for
    every agent at every publication: ``__init__`` is written out so that mypyc compiles
    it."""

    at: int
    status: str  # in, grace, out, unscheduled
    out_since: int | None  # start of the exception running now
    scheduled_ms: int
    adherent_ms: int
    work_scheduled_ms: int
    worked_ms: int
    exceptions: int

    def __init__(self, at: int, status: str, out_since: int | None, scheduled_ms: int,
                 adherent_ms: int, work_scheduled_ms: int, worked_ms: int,
                 exceptions: int) -> None:
        self.at = at
        self.status = status
        self.out_since = out_since
        self.scheduled_ms = scheduled_ms
        self.adherent_ms = adherent_ms
        self.work_scheduled_ms = work_scheduled_ms
        self.worked_ms = worked_ms
        self.exceptions = exceptions

    @property
    def adherence(self) -> float | None:
        return round(self.adherent_ms / self.scheduled_ms, 4) if self.scheduled_ms else None

    @property
    def conformance(self) -> float | None:
        return (round(self.worked_ms / self.work_scheduled_ms, 4)
                if self.work_scheduled_ms else None)

    @property
    def out_ms(self) -> int:
        return self.scheduled_ms - self.adherent_ms


def finish(tally: Tally, pieces: Sequence[Piece], state: str, reason: str | None,
           rules: WfmRules) -> Adherence:
    """The figures at ``tally.at``, the running exception judged by its length so far."""
    now = tally.at
    adherent = tally.adherent_ms
    exceptions = tally.exceptions
    out_since = tally.run_start
    piece = activity_at(pieces, now)
    activity = piece[2] if piece is not None else None
    scheduled = rules.scheduled(activity)
    adherent_now = activity is not None and scheduled and rules.adherent(activity, state,
                                                                         reason)
    if out_since is not None and (adherent_now or not scheduled):
        # the exception ends at this very instant (a state change, a schedule boundary)
        if now - out_since < rules.exception_ms:
            adherent += now - out_since
        else:
            exceptions += 1
        out_since = None
    if out_since is not None:
        if now - out_since < rules.exception_ms:
            adherent += now - out_since
            status = GRACE
        else:
            status = OUT
            exceptions += 1
    elif not scheduled:
        status = UNSCHEDULED
    elif adherent_now:
        status = IN
    else:
        status, out_since = GRACE, now
    return Adherence(now, status, out_since, tally.scheduled_ms, adherent,
                     tally.work_scheduled_ms, tally.worked_ms, exceptions)


def adherence_at(pieces: Sequence[Piece], marks: Sequence[Mark], lo: int, now: int,
                 rules: WfmRules) -> Adherence:
    """An agent's figures at ``now`` for the day that starts at ``lo``."""
    tally, state, reason = fold_day(pieces, marks, lo, now, rules)
    return finish(tally, pieces, state, reason, rules)

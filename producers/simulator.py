"""A deterministic contact-center simulator: canonical events, no broker.

``simulate(config)`` runs a discrete-event simulation of a multi-skill contact center and
yields canonical event dicts (see ``stream.events``) in event-time order, JSON-ready::

    for event in simulate(default_config(hours=8, seed=7)):
        ...
    write_jsonl(simulate(default_config()), Path("day.jsonl"))

What is modelled
----------------
- Arrivals per queue are a non-homogeneous Poisson process (thinning) whose rate follows an
  intraday curve (morning ramp, lunch peak, afternoon) scaled per weekday; the center only
  takes contacts between ``open_hour`` and ``close_hour`` (in the zone of ``start``).
- Contacts wait in their queue (FIFO) until an agent skilled for it is free; a free agent
  takes the contact that has waited longest in any of its queues, and an arriving contact
  goes to the longest-idle available skilled agent. Each contact has a patience (lognormal)
  and abandons when its wait exceeds it; some who abandon call again a few minutes later,
  and some customers are repeat callers.
- Talk time is lognormal (times a per-agent speed), some voice contacts are put on hold,
  some are transferred to another queue, after-contact work (ACW) is lognormal.
- Agents (named, in teams, skilled for 1-3 queues) work staggered shifts chosen greedily to
  follow the demand curve, take two 15-minute breaks and a 30-60 minute lunch, now and then
  a meeting or training, and log out at shift end (after finishing their contact). A break
  that falls due during a contact starts when the contact is wrapped.
- Chat, SMS and social contacts carry a few ``chat.message`` lines from built-in templates
  (about one customer in five writes in a negative tone, more after a long wait).

Event order and consistency
---------------------------
Per contact: ``contact.queued`` <= ``contact.answered`` | ``contact.abandoned``;
``answered`` <= ``held`` < ``resumed`` < ``ended`` <= ``wrapped``. A transfer emits, at one
instant, ``contact.transferred`` (with ``to_queue``), then the first agent's
``contact.ended``, then ``contact.queued`` in the new queue; the first agent's ACW ends with
``contact.wrapped``. A contact is never handled twice by one agent nor queued twice in one
queue. Every ``contact.answered`` is followed at the same instant by the agent's
``agent.state`` ``on_contact`` (the agent was ``available`` before), ``contact.ended`` by
``acw``, ``contact.wrapped`` by the next state. Every ``agent.state`` carries ``name``,
``team`` and ``queues``. At the start every agent is announced ``logged_out`` (the roster).

Arrivals stop at ``start + hours``; contacts in progress then run to completion (the stream
may run a little past the end), agents whose shift is over log out.

The same config (and seed) gives the same events, ids included: the simulation uses one
``random.Random(seed)`` and no wall clock.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

import orjson

from producers import simulator_text as text

Channel = Literal["voice", "chat", "email", "sms", "social"]
EventDict = dict[str, object]

DEFAULT_START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # a Monday
TEXT_CHANNELS: frozenset[str] = frozenset({"chat", "sms", "social"})

# Relative contact volume by hour of the center's day (linear in between); 1.0 = peak.
DEFAULT_INTRADAY: tuple[tuple[float, float], ...] = (
    (0.0, 0.03), (6.0, 0.08), (7.0, 0.2), (8.0, 0.32), (9.0, 0.68), (10.0, 0.88),
    (11.0, 0.97), (12.0, 1.0), (13.0, 0.9), (14.0, 0.78), (15.0, 0.8), (16.0, 0.7),
    (17.0, 0.58), (18.0, 0.42), (19.0, 0.28), (20.0, 0.16), (22.0, 0.07), (24.0, 0.03),
)
# Monday .. Sunday volume factors.
DEFAULT_WEEKDAY_FACTORS: tuple[float, ...] = (1.0, 0.94, 0.92, 0.92, 0.86, 0.42, 0.3)


@dataclass(frozen=True)
class QueueSpec:
    """One queue: its channel mix, volume at the daily peak and time parameters."""

    name: str
    channels: tuple[tuple[Channel, float], ...] = (("voice", 1.0),)
    peak_per_hour: float = 100.0
    talk_median_s: float = 240.0
    talk_sigma: float = 0.6
    acw_median_s: float = 30.0
    acw_sigma: float = 0.5
    patience_median_s: float = 120.0
    patience_sigma: float = 1.0
    hold_prob: float = 0.15
    hold_median_s: float = 40.0
    transfer_prob: float = 0.0
    transfer_to: tuple[str, ...] = ()
    sl_threshold_s: float = 20.0  # for reporting: answered within this is "in service level"

    @property
    def mean_handle_s(self) -> float:
        """Expected talk + ACW (lognormal means), ignoring holds."""
        return self.talk_median_s * math.exp(self.talk_sigma**2 / 2) + (
            self.acw_median_s * math.exp(self.acw_sigma**2 / 2)
        )


@dataclass(frozen=True)
class TeamSpec:
    """A team: the queue its agents mainly serve and the ones some are cross-skilled for."""

    name: str
    primary: str
    secondary: tuple[str, ...] = ()


@dataclass(frozen=True)
class SimConfig:
    """Everything the simulation depends on; the same config gives the same events.

    Hours of the day (``open_hour``, ``close_hour``, ``intraday``) are local to the zone of
    ``start``. Arrivals per queue are ``peak_per_hour`` x intraday factor x weekday factor.
    """

    queues: tuple[QueueSpec, ...]
    teams: tuple[TeamSpec, ...]
    agents: int = 40
    tenant: str = "default"
    start: datetime = DEFAULT_START
    hours: float = 8.0
    seed: int = 1
    open_hour: float = 8.0  # the center takes contacts from here ...
    close_hour: float = 16.0  # ... to here, each day, in the zone of ``start``
    shift_hours: float = 7.5  # full-time shift, lunch included
    part_time_share: float = 0.2
    part_time_hours: float = 5.0
    intraday: tuple[tuple[float, float], ...] = DEFAULT_INTRADAY
    weekday_factors: tuple[float, ...] = DEFAULT_WEEKDAY_FACTORS
    weekend_staffing: float = 0.55  # share of agents on Saturdays (Sundays: by volume)
    absence_rate: float = 0.03  # chance an agent is off sick on a given day
    extra_skill_probs: tuple[float, float] = (0.45, 0.15)  # P(>= 1 extra queue), P(2 extra)
    repeat_rate: float = 0.06  # share of contacts from a recent customer
    retry_after_abandon: float = 0.3  # share of abandoning customers who try again
    meeting_rate: float = 0.12  # chance per agent-day of a meeting or a training
    negative_rate: float = 0.18  # share of text contacts in a negative tone
    chat_messages: bool = True
    # Publish each day's schedules and forecasts (docs/metrics.md section 5), with some
    # agents out of adherence and some intervals over forecast (see _publish_plans).
    wfm: bool = True
    # Voice calls carry transcript.segment lines (speech-to-text), some of them unhappy.
    transcripts: bool = True
    escalation_rate: float = 0.3  # share of unhappy customers who ask for more
    long_hold_prob: float = 0.03  # voice contacts put on a long hold (5 to 15 minutes)
    second_transfer_prob: float = 0.25  # a transferred contact transferred again

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError("start must be an aware datetime")
        if self.agents < 1:
            raise ValueError("agents must be >= 1")
        if not self.hours > 0:
            raise ValueError("hours must be > 0")
        if not 0 <= self.open_hour < self.close_hour <= 24:
            raise ValueError("need 0 <= open_hour < close_hour <= 24")
        if len(self.weekday_factors) != 7:
            raise ValueError("weekday_factors needs 7 values, Monday first")
        names = [q.name for q in self.queues]
        if not names or len(set(names)) != len(names):
            raise ValueError("queue names must be unique and there must be at least one")
        for q in self.queues:
            for target in q.transfer_to:
                if target not in names or target == q.name:
                    raise ValueError(f"queue {q.name!r}: bad transfer target {target!r}")
        if not self.teams:
            raise ValueError("need at least one team")
        for t in self.teams:
            for qn in (t.primary, *t.secondary):
                if qn not in names:
                    raise ValueError(f"team {t.name!r}: unknown queue {qn!r}")
        if not self.intraday or self.intraday[0][0] > 0 or self.intraday[-1][0] < 24:
            raise ValueError("intraday must cover hours 0 to 24")


DEFAULT_QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec(
        "billing", peak_per_hour=112, talk_median_s=170, acw_median_s=25,
        patience_median_s=130, hold_prob=0.18, transfer_prob=0.05,
        transfer_to=("support", "sales"),
    ),
    QueueSpec(
        "sales", peak_per_hour=72, talk_median_s=190, acw_median_s=30,
        patience_median_s=115, hold_prob=0.1, transfer_prob=0.03, transfer_to=("billing",),
    ),
    QueueSpec(
        "support", peak_per_hour=92, talk_median_s=220, talk_sigma=0.65, acw_median_s=35,
        patience_median_s=160, hold_prob=0.25, hold_median_s=45, transfer_prob=0.05,
        transfer_to=("billing",),
    ),
    QueueSpec(
        "chat", channels=(("chat", 0.75), ("sms", 0.1), ("social", 0.15)),
        peak_per_hour=56, talk_median_s=250, talk_sigma=0.55, acw_median_s=15,
        patience_median_s=240, hold_prob=0.0,
    ),
)

DEFAULT_TEAMS: tuple[TeamSpec, ...] = (
    TeamSpec("Accounts", "billing", ("support", "sales")),
    TeamSpec("Sales", "sales", ("billing", "chat")),
    TeamSpec("Tech Support", "support", ("billing", "chat")),
    TeamSpec("Digital", "chat", ("sales", "support")),
)


def default_config(
    *,
    hours: float = 8,
    seed: int = 1,
    start: datetime | None = None,
    agents: int = 40,
    tenant: str = "default",
) -> SimConfig:
    """The demo center: 4 queues, 4 teams, 40 agents.

    For runs of up to 16 hours within one day the center's opening hours are the simulated
    window (so every shift starts and ends inside it); other runs get a 08:00-20:00 center. Volumes
    follow the staffing: they are tuned for 40 agents over 08:00-16:00 (service level around
    80 %) and scaled by agent-hours per unit of demand for other rosters and hours, with the
    square-root rule for pooling (a big center runs at higher occupancy).
    """
    start = DEFAULT_START if start is None else start
    local = start.timetz()
    open_hour = local.hour + local.minute / 60 + local.second / 3600
    if hours <= 16 and open_hour + hours <= 24:
        close_hour = open_hour + hours
    else:
        open_hour, close_hour = 8.0, 20.0
    scale = _volume_scale(agents, open_hour, close_hour) / _volume_scale(40, 8.0, 16.0)
    queues = tuple(replace(q, peak_per_hour=q.peak_per_hour * scale) for q in DEFAULT_QUEUES)
    return SimConfig(
        queues=queues, teams=DEFAULT_TEAMS, agents=agents, tenant=tenant, start=start,
        hours=hours, seed=seed, open_hour=open_hour, close_hour=close_hour,
    )


def _volume_scale(agents: int, open_hour: float, close_hour: float) -> float:
    """Productive agent-hours a day per unit of relative demand over the open hours."""
    defaults = SimConfig(queues=DEFAULT_QUEUES, teams=DEFAULT_TEAMS)
    window = close_hour - open_hour
    per_agent = (1 - defaults.part_time_share) * min(defaults.shift_hours, window) + (
        defaults.part_time_share * min(defaults.part_time_hours, window)
    )
    profile = _profile_table(DEFAULT_INTRADAY)
    first, last = round(open_hour * 60), round(close_hour * 60)
    demand = sum(profile[first:last]) / 60 or 1e-9
    # Bigger pools run at higher occupancy for the same service level (square-root rule).
    pooled = max(0.2 * agents, agents - 1.8 * math.sqrt(agents))
    return pooled * per_agent / demand


# --- runtime state --------------------------------------------------------------------

_WAITING, _TALKING, _DONE = 0, 1, 2
_LOGGED_OUT, _AVAILABLE, _ON_CONTACT, _ACW, _AUX = (
    "logged_out", "available", "on_contact", "acw", "aux",
)

# Simulation event kinds (heap entries are (t_ms, seq, kind, a, b)).
_ARRIVAL, _RETRY, _ABANDON, _SEG_END, _WRAP, _AUX_DUE, _AUX_END, _SHIFT_START, _SHIFT_END, \
    _DAY = range(10)


class _Contact:
    __slots__ = (
        "cid", "queue", "channel", "customer", "queued_ms", "status", "negative",
        "transfers", "last_agent", "intent", "visited",
    )

    def __init__(
        self, cid: str, queue: int, channel: str, customer: str, queued_ms: int,
        negative: bool, intent: int,
    ) -> None:
        self.cid = cid
        self.queue = queue
        self.channel = channel
        self.customer = customer
        self.queued_ms = queued_ms
        self.status = _WAITING
        self.visited = {queue}  # a contact is queued at most once in each queue
        self.negative = negative
        self.transfers = 0
        self.last_agent = -1
        self.intent = intent


class _Agent:
    __slots__ = (
        "idx", "agent_id", "name", "first", "team", "queues", "qidx", "speed",
        "shift_offset_min", "shift_len_min", "part_time", "phase", "weekend_draw", "state",
        "pending_aux", "logout_pending",
        "aux_token", "on_shift",
    )

    def __init__(
        self, idx: int, name: str, team: str, qidx: tuple[int, ...], queue_names: list[str],
        speed: float, weekend_draw: float, part_time: bool,
    ) -> None:
        self.idx = idx
        self.agent_id = f"agent-{idx + 1:04d}"
        self.name = name
        self.first = name.split(" ", 1)[0]
        self.team = team
        self.qidx = qidx
        self.queues = [queue_names[i] for i in qidx]
        self.speed = speed
        self.shift_offset_min = 0
        self.shift_len_min = 0
        self.part_time = part_time
        self.phase = 0.0
        self.weekend_draw = weekend_draw  # works a weekend day if below that day's share
        self.state = _LOGGED_OUT
        self.pending_aux: deque[tuple[str, int]] = deque()
        self.logout_pending = False
        self.aux_token = 0
        self.on_shift = False


@dataclass
class _Queue:
    spec: QueueSpec
    idx: int
    channels: list[str]
    channel_weights: list[float]
    talk_mu: float
    acw_mu: float
    patience_mu: float
    hold_mu: float
    transfer_to: list[int]
    waiting: deque[_Contact] = field(default_factory=deque)
    available: OrderedDict[int, None] = field(default_factory=OrderedDict)
    day: int = 0  # arrival process: index of the day it is in


@dataclass(frozen=True)
class _Day:
    open_ms: int
    close_ms: int
    midnight_ms: int
    weekday: int


def _profile_table(points: tuple[tuple[float, float], ...]) -> list[float]:
    """Relative volume per minute of the day (1440 values), linear between points."""
    pts = sorted(points)
    table: list[float] = []
    j = 0
    for minute in range(1440):
        h = (minute + 0.5) / 60
        while j + 1 < len(pts) - 1 and pts[j + 1][0] <= h:
            j += 1
        (h0, v0), (h1, v1) = pts[j], pts[j + 1]
        frac = 0.0 if h1 == h0 else (h - h0) / (h1 - h0)
        table.append(max(0.0, v0 + (v1 - v0) * frac))
    return table


def _presence(slots: int) -> list[float]:
    """Expected share of each 15-minute slot of a shift not spent in a break or lunch."""
    out = []
    for k in range(slots):
        rel = (k + 0.5) / slots
        w = 1.0
        if slots >= 12 and 0.2 <= rel < 0.34:
            w -= 0.15  # first break
        if slots >= 22:
            if 0.36 <= rel < 0.72:
                w -= 0.3  # lunch
            if 0.74 <= rel < 0.88:
                w -= 0.15  # second break
        out.append(w)
    return out


class _Formatter:
    """ISO 8601 UTC timestamps with ms, cached per second (calls come in time order)."""

    __slots__ = ("_sec", "_prefix")

    def __init__(self) -> None:
        self._sec = -1
        self._prefix = ""

    def __call__(self, ms: int) -> str:
        sec, rem = divmod(ms, 1000)
        if sec != self._sec:
            self._sec = sec
            self._prefix = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._prefix}.{rem:03d}Z"


class _Simulation:
    def __init__(self, config: SimConfig) -> None:
        self.cfg = config
        self.rng = random.Random(config.seed)
        self.tenant = config.tenant
        prefix = "sim" if config.tenant == "default" else f"sim-{config.tenant}"
        self.prefix = f"{prefix}-{config.seed}"
        self.start_ms = round(config.start.timestamp() * 1000)
        self.end_ms = self.start_ms + round(config.hours * 3_600_000)
        self.wfm_rng = random.Random(config.seed * 7919 + 17)  # published plans only
        self.profile = _profile_table(config.intraday)
        self.profile_max = max(self.profile) or 1.0
        self.heap: list[tuple[int, int, int, object, object]] = []
        self.out: list[tuple[int, int, EventDict]] = []
        self.seq = 0
        self.n_contacts = 0
        self.n_customers = 0
        self.active = 0  # contacts not yet over (waiting or talking)
        self.pending_wraps = 0  # agents in ACW
        self.recent_customers: deque[str] = deque(maxlen=2000)
        names = [q.name for q in config.queues]
        self.queues = [self._make_queue(i, q, names) for i, q in enumerate(config.queues)]
        self.days = self._make_days()
        self.agents = self._make_roster(names)
        self._plan_shifts()

    # --- setup ---------------------------------------------------------------------

    def _make_queue(self, idx: int, q: QueueSpec, names: list[str]) -> _Queue:
        chans: list[str] = [c for c, _ in q.channels] or ["voice"]
        weights = [w for _, w in q.channels] or [1.0]
        return _Queue(
            spec=q, idx=idx, channels=chans, channel_weights=weights,
            talk_mu=math.log(max(q.talk_median_s, 1.0) * 1000),
            acw_mu=math.log(max(q.acw_median_s, 0.5) * 1000),
            patience_mu=math.log(max(q.patience_median_s, 1.0) * 1000),
            hold_mu=math.log(max(q.hold_median_s, 1.0) * 1000),
            transfer_to=[names.index(t) for t in q.transfer_to],
        )

    def _make_days(self) -> list[_Day]:
        cfg = self.cfg
        tz = cfg.start.tzinfo
        first: date = cfg.start.date()  # the local date in the zone of ``start``
        days: list[_Day] = []
        k = 0
        while True:
            d = first + timedelta(days=k)
            midnight = datetime.combine(d, time(0), tzinfo=tz)
            midnight_ms = round(midnight.timestamp() * 1000)
            if midnight_ms >= self.end_ms:
                break
            days.append(_Day(
                open_ms=midnight_ms + round(cfg.open_hour * 3_600_000),
                close_ms=midnight_ms + round(cfg.close_hour * 3_600_000),
                midnight_ms=midnight_ms,
                weekday=d.weekday(),
            ))
            k += 1
        return days

    def _make_roster(self, queue_names: list[str]) -> list[_Agent]:
        cfg, rng = self.cfg, self.rng
        qindex = {n: i for i, n in enumerate(queue_names)}
        # Team sizes by square-root staffing on the peak workload (Erlangs) of their
        # primary queue, scaled to the roster: small queues get a little more than their share.
        spec = {q.name: q for q in cfg.queues}
        erlangs = [
            spec[t.primary].peak_per_hour * spec[t.primary].mean_handle_s / 3600
            / sum(1 for u in cfg.teams if u.primary == t.primary)
            for t in cfg.teams
        ]
        self.team_erlangs = {t.name: a for t, a in zip(cfg.teams, erlangs, strict=True)}
        work = [max(1e-9, a + math.sqrt(a)) for a in erlangs]
        total = sum(work)
        raw = [cfg.agents * w / total for w in work]
        sizes = [int(r) for r in raw]
        by_rest = sorted(range(len(raw)), key=lambda i: raw[i] - sizes[i], reverse=True)
        for i in by_rest[: cfg.agents - sum(sizes)]:
            sizes[i] += 1
        combos = len(text.FIRST_NAMES) * len(text.LAST_NAMES)
        picks = rng.sample(range(combos), min(cfg.agents, combos))
        p1, p2 = cfg.extra_skill_probs
        agents: list[_Agent] = []
        for t, size in zip(cfg.teams, sizes, strict=True):
            for _ in range(size):
                i = len(agents)
                pick = picks[i] if i < len(picks) else rng.randrange(combos)
                name = (f"{text.FIRST_NAMES[pick // len(text.LAST_NAMES)]} "
                        f"{text.LAST_NAMES[pick % len(text.LAST_NAMES)]}")
                skills = [qindex[t.primary]]
                extra = [qindex[s] for s in t.secondary]
                n_extra = (1 if rng.random() < p1 else 0) + (1 if rng.random() < p2 else 0)
                for s in rng.sample(extra, min(n_extra, len(extra))):
                    skills.append(s)
                speed = rng.lognormvariate(0.0, 0.12)
                weekend = rng.random()
                part_time = rng.random() < cfg.part_time_share
                agents.append(_Agent(
                    i, name, t.name, tuple(skills), queue_names, speed, weekend, part_time,
                ))
        return agents

    def _plan_shifts(self) -> None:
        """Staggered shifts in 15-minute steps, chosen greedily to follow demand.

        Full-timers first (``shift_hours``, or the whole day if it is shorter), then
        part-timers (``part_time_hours``), teams taking turns, each where it covers most of
        the remaining shortfall. The need per slot is square-root staffing per team (quiet
        hours need relatively more than their workload); an agent counts less in the slots
        where their lunch and breaks tend to fall. Lunches and breaks are spread over each
        team by a per-agent phase (see :meth:`_aux_plan`).
        """
        cfg = self.cfg
        window_min = round((cfg.close_hour - cfg.open_hour) * 60)
        slots = max(1, window_min // 15)
        open_min = cfg.open_hour * 60
        demand = [
            self.profile[min(1439, int(open_min + 15 * k + 7))] / self.profile_max
            for k in range(slots)
        ]
        full = min(slots, max(1, round(cfg.shift_hours * 4)))
        part = min(full, max(1, round(cfg.part_time_hours * 4)))
        by_team: dict[str, list[_Agent]] = {}
        for agent in self.agents:
            by_team.setdefault(agent.team, []).append(agent)
        raw = [1e-6] * slots
        for team in by_team:
            peak = self.team_erlangs.get(team, 1.0)
            for k, d in enumerate(demand):
                raw[k] += d * peak + 1.5 * math.sqrt(d * peak)
        golden = (math.sqrt(5) - 1) / 2
        order: list[tuple[bool, int, _Agent]] = []
        for members in by_team.values():
            for rank, agent in enumerate(sorted(members, key=lambda m: m.part_time)):
                agent.phase = (rank * golden) % 1.0
                order.append((agent.part_time, rank, agent))
        order.sort(key=lambda item: (item[0], item[1]))  # full-timers first, teams in turn
        weights = {n: _presence(n) for n in {full, part}}
        capacity = sum(sum(weights[part if p else full]) for p, _, _ in order)
        scale = capacity / sum(raw)
        need = [r * scale for r in raw]
        staffed = [0.0] * slots
        starts: dict[int, int] = {}
        # One greedy pass, then two passes in which each agent moves to its best start
        # given everyone else (coordinate descent on a convex fit).
        for sweep in range(3):
            for part_time, _, agent in order:
                length = part if part_time else full
                presence = weights[length]
                if sweep:
                    for k, w in enumerate(presence, starts[agent.idx]):
                        staffed[k] -= w
                best, best_cost = 0, math.inf
                for start in range(slots - length + 1):
                    # Growth of sum((staffed - need)^2 / need): relative fit, all day long.
                    cost = 0.0
                    for k, w in enumerate(presence, start):
                        cost += w * (2 * (staffed[k] - need[k]) + w) / need[k]
                    if cost < best_cost - 1e-9:
                        best, best_cost = start, cost
                for k, w in enumerate(presence, best):
                    staffed[k] += w
                starts[agent.idx] = best
                agent.shift_offset_min = best * 15
                agent.shift_len_min = length * 15

    # --- plumbing ------------------------------------------------------------------

    def schedule(self, t: int, kind: int, a: object = None, b: object = None) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, a, b))

    def emit(self, t: int, event: EventDict) -> None:
        self.seq += 1
        heapq.heappush(self.out, (t, self.seq, event))

    def _contact_event(self, t: int, kind: str, c: _Contact, **fields: object) -> None:
        ev: EventDict = {
            "event_id": "", "type": kind, "ts": "", "tenant": self.tenant,
            "contact_id": c.cid,
        }
        ev.update(fields)
        self.emit(t, ev)

    def _agent_state(self, t: int, a: _Agent, state: str, reason: str | None = None) -> None:
        a.state = state
        ev: EventDict = {
            "event_id": "", "type": "agent.state", "ts": "", "tenant": self.tenant,
            "agent_id": a.agent_id, "state": state,
        }
        if reason is not None:
            ev["reason"] = reason
        ev["team"] = a.team
        ev["name"] = a.name
        ev["queues"] = list(a.queues)
        self.emit(t, ev)

    def _chat(self, t: int, c: _Contact, sender: str, line: str) -> None:
        self.emit(t, {
            "event_id": "", "type": "chat.message", "ts": "", "tenant": self.tenant,
            "contact_id": c.cid, "sender": sender, "text": line,
        })

    def _fill(self, line: str, agent: _Agent | None = None) -> str:
        if "{" not in line:
            return line
        rng = self.rng
        return line.format(
            order=f"#{rng.randrange(100000, 999999)}",
            amount=f"${rng.choice((5, 10, 15, 20, 25, 40))}.00",
            digits=f"{rng.randrange(10000):04d}",
            agent=agent.first if agent is not None else "your agent",
        )

    # --- arrivals ------------------------------------------------------------------

    def _next_arrival(self, q: _Queue, t: int) -> int | None:
        """The next arrival in ``q`` after ``t`` (thinning), or None if past the end."""
        rng, cfg = self.rng, self.cfg
        days = self.days
        peak_per_ms = q.spec.peak_per_hour / 3_600_000
        while q.day < len(days):
            day = days[q.day]
            t = max(t, day.open_ms, self.start_ms)
            lam_max = peak_per_ms * cfg.weekday_factors[day.weekday] * self.profile_max
            if lam_max <= 0 or t >= day.close_ms:
                q.day += 1
                continue
            t += max(1, round(rng.expovariate(lam_max)))
            if t >= self.end_ms:
                return None
            if t >= day.close_ms:
                q.day += 1
                continue
            minute = min(1439, (t - day.midnight_ms) // 60_000)
            if rng.random() * self.profile_max < self.profile[minute]:
                return t
        return None

    def _on_arrival(self, now: int, q: _Queue) -> None:
        nxt = self._next_arrival(q, now)
        if nxt is not None:
            self.schedule(nxt, _ARRIVAL, q)
        rng = self.rng
        if self.recent_customers and rng.random() < self.cfg.repeat_rate:
            customer = rng.choice(self.recent_customers)
        else:
            self.n_customers += 1
            customer = f"cust-{self.n_customers:06d}"
            self.recent_customers.append(customer)
        if len(q.channels) == 1:
            channel = q.channels[0]
        else:
            channel = rng.choices(q.channels, q.channel_weights)[0]
        self._new_contact(now, q, channel, customer)

    def _new_contact(self, now: int, q: _Queue, channel: str, customer: str) -> None:
        rng = self.rng
        self.n_contacts += 1
        negative = rng.random() < self.cfg.negative_rate
        c = _Contact(
            f"{self.prefix}-c{self.n_contacts}", q.idx, channel, customer, now, negative,
            rng.randrange(len(text.CUSTOMER_OPENERS[1 if negative else 0])),
        )
        self.active += 1
        self._contact_event(
            now, "contact.queued", c, queue=q.spec.name, channel=channel, customer_id=customer,
        )
        if self.cfg.chat_messages and channel in TEXT_CHANNELS:
            if channel == "chat":
                self._chat(now, c, "bot", text.BOT_GREETING)
            line = text.CUSTOMER_OPENERS[1 if negative else 0][c.intent]
            self._chat(now, c, "customer", self._fill(line))
        self._offer(now, c, q, patience_factor=1.0)

    def _offer(self, now: int, c: _Contact, q: _Queue, patience_factor: float) -> None:
        """Route ``c`` (already announced as queued in ``q``) or let it wait."""
        c.queue = q.idx
        c.queued_ms = now
        c.status = _WAITING
        agent_idx = -1
        for idx in q.available:
            if idx != c.last_agent:
                agent_idx = idx
                break
        if agent_idx >= 0:
            self._answer(now, c, self.agents[agent_idx])
            return
        q.waiting.append(c)
        patience = self.rng.lognormvariate(q.patience_mu, q.spec.patience_sigma)
        self.schedule(now + max(1000, round(patience * patience_factor)), _ABANDON, c, q.idx)

    def _on_abandon(self, now: int, c: _Contact, qidx: int) -> None:
        if c.status != _WAITING or c.queue != qidx:
            return
        c.status = _DONE
        self.active -= 1
        q = self.queues[qidx]
        self._contact_event(now, "contact.abandoned", c, queue=q.spec.name)
        # Removed lazily from q.waiting. Some customers try again a few minutes later.
        if c.transfers == 0 and self.rng.random() < self.cfg.retry_after_abandon:
            t = now + round(self.rng.uniform(60, 900) * 1000)
            if t < self.end_ms and self._is_open(t):
                self.schedule(t, _RETRY, q, c)

    def _is_open(self, t: int) -> bool:
        return any(d.open_ms <= t < d.close_ms for d in self.days)

    def _on_retry(self, now: int, q: _Queue, old: _Contact) -> None:
        self._new_contact(now, q, old.channel, old.customer)

    # --- handling ------------------------------------------------------------------

    def _answer(self, now: int, c: _Contact, a: _Agent) -> None:
        rng = self.rng
        q = self.queues[c.queue]
        spec = q.spec
        for qi in a.qidx:
            self.queues[qi].available.pop(a.idx, None)
        c.status = _TALKING
        c.last_agent = a.idx
        self._contact_event(now, "contact.answered", c, queue=spec.name, agent_id=a.agent_id)
        self._agent_state(now, a, _ON_CONTACT)
        talk = max(15_000, round(rng.lognormvariate(q.talk_mu, spec.talk_sigma) * a.speed))
        talk = min(talk, 2 * 3_600_000)
        transfer_to = -1
        if c.transfers == 0 and q.transfer_to and rng.random() < spec.transfer_prob:
            transfer_to = rng.choice(q.transfer_to)
            talk = max(15_000, talk * 3 // 5)
        elif (c.transfers == 1 and (onward := [t for t in q.transfer_to if t not in c.visited])
              and rng.random() < self.cfg.second_transfer_prob):
            transfer_to = rng.choice(onward)  # bounced on again
            talk = max(15_000, talk * 2 // 5)
            c.negative = True
        hold = 0
        if c.channel == "voice" and rng.random() < self.cfg.long_hold_prob:
            hold = rng.randrange(300_000, 900_000)  # a long hold sours the caller
            c.negative = True
            held_at = now + round(talk * rng.uniform(0.25, 0.7))
            self._contact_event(held_at, "contact.held", c, agent_id=a.agent_id)
            self._contact_event(held_at + hold, "contact.resumed", c, agent_id=a.agent_id)
        elif c.channel == "voice" and rng.random() < spec.hold_prob:
            hold = min(600_000, max(5_000, round(rng.lognormvariate(q.hold_mu, 0.6))))
            held_at = now + round(talk * rng.uniform(0.25, 0.7))
            self._contact_event(held_at, "contact.held", c, agent_id=a.agent_id)
            self._contact_event(held_at + hold, "contact.resumed", c, agent_id=a.agent_id)
        end = now + talk + hold
        if self.cfg.chat_messages and c.channel in TEXT_CHANNELS:
            self._script_chat(now, end, c, a)
        elif self.cfg.transcripts and c.channel == "voice":
            self._script_call(now, end, c, a)
        self.schedule(end, _SEG_END, a, (c, transfer_to))

    def _script_call(self, start: int, end: int, c: _Contact, a: _Agent) -> None:
        """A few transcribed utterances between answer and end; unhappy callers complain,
        often without a negative word, and some escalate."""
        rng = self.rng
        if (start - c.queued_ms) > 180_000 and rng.random() < 0.5:
            c.negative = True
        tone = 1 if c.negative else 0
        lines: list[tuple[str, str]] = [("agent", self._fill(text.AGENT_CALL_LINES[0], a))]
        for _ in range(rng.randint(1, 3)):
            lines.append(("customer", self._fill(rng.choice(text.CUSTOMER_CALL_LINES[tone]))))
            lines.append(("agent", self._fill(rng.choice(text.AGENT_CALL_LINES), a)))
        if tone and rng.random() < self.cfg.escalation_rate:
            lines.append(("customer", rng.choice(text.ESCALATIONS).lower()))
        lines.append(("customer", rng.choice(text.CUSTOMER_CALL_LINES[tone])))
        span = end - start
        for i, (speaker, line) in enumerate(lines):
            t = start + max(1, min(span - 1, round(span * (i + 0.5) / len(lines))))
            self.emit(t, {"event_id": "", "type": "transcript.segment", "ts": "",
                          "tenant": self.tenant, "contact_id": c.cid, "speaker": speaker,
                          "text": line})

    def _script_chat(self, start: int, end: int, c: _Contact, a: _Agent) -> None:
        """A few lines between answer and end; a long wait sours the customer."""
        rng = self.rng
        wait_s = (start - c.queued_ms) / 1000
        if wait_s > 120 and rng.random() < 0.5:
            c.negative = True
        tone = 1 if c.negative else 0
        lines: list[tuple[str, str]] = [
            ("agent", self._fill(rng.choice(text.AGENT_GREETINGS), a)),
        ]
        if wait_s > 150:
            lines.append(("customer", text.CUSTOMER_LONG_WAIT.format(minutes=int(wait_s // 60))))
        for _ in range(rng.randint(1, 2)):
            lines.append(("agent", self._fill(rng.choice(text.AGENT_LINES))))
            if tone and rng.random() < 0.3:
                lines.append(("customer",
                              self._fill(rng.choice(text.CUSTOMER_QUIET_COMPLAINTS))))
            else:
                lines.append(("customer", self._fill(rng.choice(text.CUSTOMER_LINES[tone]))))
        if tone and rng.random() < self.cfg.escalation_rate:
            lines.append(("customer", rng.choice(text.ESCALATIONS) + "."))
        lines.append(("agent", rng.choice(text.AGENT_CLOSINGS)))
        lines.append(("customer", rng.choice(text.CUSTOMER_CLOSINGS[tone])))
        span = end - start
        n = len(lines)
        for i, (sender, line) in enumerate(lines):
            # Evenly spread with a little jitter, strictly inside (start, end).
            frac = (i + 0.3 + 0.4 * rng.random()) / n
            t = start + max(1, min(span - 1, round(span * frac)))
            self._chat(t, c, sender, line)

    def _on_segment_end(self, now: int, a: _Agent, payload: tuple[_Contact, int]) -> None:
        c, transfer_to = payload
        q = self.queues[c.queue]
        if transfer_to >= 0:
            target = self.queues[transfer_to]
            self._contact_event(
                now, "contact.transferred", c, agent_id=a.agent_id, to_queue=target.spec.name,
            )
            self._contact_event(now, "contact.ended", c, agent_id=a.agent_id)
            self._agent_state(now, a, _ACW)
            c.transfers += 1
            c.visited.add(transfer_to)
            self._contact_event(
                now, "contact.queued", c, queue=target.spec.name, channel=c.channel,
                customer_id=c.customer,
            )
            self._offer(now, c, target, patience_factor=1.5)
        else:
            self._contact_event(now, "contact.ended", c, agent_id=a.agent_id)
            self._agent_state(now, a, _ACW)
            c.status = _DONE
            self.active -= 1
            self.recent_customers.append(c.customer)
        acw = max(3_000, round(self.rng.lognormvariate(q.acw_mu, q.spec.acw_sigma)))
        self.pending_wraps += 1
        self.schedule(now + min(acw, 900_000), _WRAP, a, c)

    def _on_wrap(self, now: int, a: _Agent, c: _Contact) -> None:
        self.pending_wraps -= 1
        self._contact_event(now, "contact.wrapped", c, agent_id=a.agent_id)
        self._next_state(now, a)

    def _next_state(self, now: int, a: _Agent) -> None:
        """After ACW or an aux: log out, start a pending aux, or become available."""
        if a.logout_pending:
            a.logout_pending = False
            a.on_shift = False
            a.pending_aux.clear()
            self._agent_state(now, a, _LOGGED_OUT)
        elif a.pending_aux:
            reason, dur = a.pending_aux.popleft()
            self._start_aux(now, a, reason, dur)
        else:
            self._become_available(now, a)

    def _become_available(self, now: int, a: _Agent) -> None:
        self._agent_state(now, a, _AVAILABLE)
        best: _Contact | None = None
        best_q: _Queue | None = None
        for qi in a.qidx:
            q = self.queues[qi]
            w = q.waiting
            while w and w[0].status != _WAITING:
                w.popleft()
            for c in w:
                if c.status == _WAITING and c.last_agent != a.idx:
                    if best is None or c.queued_ms < best.queued_ms:
                        best, best_q = c, q
                    break
        if best is not None and best_q is not None:
            best_q.waiting.remove(best)
            self._answer(now, best, a)
            return
        for qi in a.qidx:
            self.queues[qi].available[a.idx] = None

    def _start_aux(self, now: int, a: _Agent, reason: str, dur: int) -> None:
        for qi in a.qidx:
            self.queues[qi].available.pop(a.idx, None)
        a.aux_token += 1
        self._agent_state(now, a, _AUX, reason)
        self.schedule(now + dur, _AUX_END, a, a.aux_token)

    def _on_aux_due(self, now: int, a: _Agent, plan: tuple[str, int]) -> None:
        if not a.on_shift:
            return
        if a.state == _AVAILABLE:
            self._start_aux(now, a, *plan)
        else:  # busy or already in an aux: starts when that is over
            a.pending_aux.append(plan)

    def _on_aux_end(self, now: int, a: _Agent, token: int) -> None:
        if a.state == _AUX and a.aux_token == token:
            self._next_state(now, a)

    # --- shifts --------------------------------------------------------------------

    def _on_day(self, now: int, k: int) -> None:
        cfg, rng = self.cfg, self.rng
        day = self.days[k]
        share = 1.0
        if day.weekday >= 5:
            factors = cfg.weekday_factors
            share = cfg.weekend_staffing * min(1.0, factors[day.weekday] / (factors[5] or 1.0))
        shifts: list[tuple[_Agent, int, int, list[tuple[int, tuple[str, int]]]]] = []
        for a in self.agents:
            if a.weekend_draw >= share:
                continue
            s = day.open_ms + a.shift_offset_min * 60_000
            e = s + a.shift_len_min * 60_000
            if rng.random() < cfg.absence_rate:
                # off sick: still on the published schedule (an unplanned absence)
                if not (e <= max(now, self.start_ms) or s >= self.end_ms):
                    shifts.append((a, s, e, []))
                continue
            if e <= max(now, self.start_ms) or s >= self.end_ms:
                continue
            login = s + round(rng.uniform(-6, 2) * 60_000)  # most log in a little early
            self.schedule(max(login, now), _SHIFT_START, a)
            self.schedule(e, _SHIFT_END, a)
            aux = self._aux_plan(s, e, a.phase)
            for t, plan in aux:
                if t > now:
                    self.schedule(t, _AUX_DUE, a, plan)
            shifts.append((a, s, e, aux))
        if cfg.wfm:
            self._publish_plans(now, day, shifts)
        if k + 1 < len(self.days):
            nxt = self.days[k + 1]
            self.schedule(nxt.midnight_ms, _DAY, k + 1)

    def _publish_plans(self, now: int, day: _Day,
                       shifts: list[tuple[_Agent, int, int, list[tuple[int, tuple[str, int]]]]],
                       ) -> None:
        """The day's published plans, at ``now``: a ``schedule.published`` per agent on shift
        (open, with the planned breaks, lunch, meetings on a 5-minute grid) and a
        ``forecast.published`` per queue (the expected arrivals per 15-minute interval,
        AHT = the queue's mean handle time).

        Drawn from a random source of their own, so the contacts and agent states are those
        of the same config without plans. About one agent-day in eight has one break or
        lunch scheduled 15 minutes before the agent takes it (out of adherence, severe
        past 5 minutes by default), and sick agents stay scheduled; about one interval in
        seven is forecast at 75 % of what is expected (over forecast by a third)."""
        rng = self.wfm_rng
        grid = 5 * 60_000
        day_tag = datetime.fromtimestamp(day.midnight_ms / 1000, UTC).strftime("%Y%m%d")
        fmt = _Formatter()
        for a, s, e, aux in shifts:
            segments: list[tuple[int, int, str]] = []
            shifted = rng.random() < 0.125 and bool(aux)
            which = rng.randrange(len(aux)) if aux else -1
            t = s
            for i, (due, (reason, dur)) in enumerate(aux):
                start = round(due / grid) * grid - (15 * 60_000 if shifted and i == which else 0)
                start = max(start, t)
                end = min(e, start + dur)
                if end <= start:
                    continue
                if start > t:
                    segments.append((t, start, "open"))
                segments.append((start, end, reason))
                t = end
            if t < e:
                segments.append((t, e, "open"))
            self.emit(now, {
                "event_id": f"{self.prefix}-schedule-{a.agent_id}-{day_tag}", "ts": "",
                "type": "schedule.published", "tenant": self.tenant, "agent_id": a.agent_id,
                "segments": [{"start": fmt(x), "end": fmt(y), "activity": act}
                             for x, y, act in segments]})
        cfg = self.cfg
        factor = cfg.weekday_factors[day.weekday]
        for q in self.queues:
            per_minute = q.spec.peak_per_hour / 60 * factor
            intervals = []
            for start in range(day.open_ms, day.close_ms, 15 * 60_000):
                first = (start - day.midnight_ms) // 60_000
                expected = sum(self.profile[min(1439, m)] for m in range(first, first + 15))
                volume = per_minute * expected * (0.75 if rng.random() < 0.15 else 1.0)
                intervals.append({"start": fmt(start), "volume": round(volume, 2),
                                  "aht_s": round(q.spec.mean_handle_s, 1)})
            if intervals:
                self.emit(now, {
                    "event_id": f"{self.prefix}-forecast-{q.spec.name}-{day_tag}", "ts": "",
                    "type": "forecast.published", "tenant": self.tenant,
                    "queue": q.spec.name, "intervals": intervals})

    def _aux_plan(self, s: int, e: int, phase: float) -> list[tuple[int, tuple[str, int]]]:
        """Breaks, lunch and the odd meeting for one shift, as (due time, (reason, ms)).

        ``phase`` in [0, 1) spreads a team's lunches and breaks over the day.
        """
        rng = self.rng
        length = e - s
        hour = 3_600_000
        wobble = 10 * 60_000
        other = (phase + 0.5) % 1.0
        plan: list[tuple[int, tuple[str, int]]] = []
        if length >= 3 * hour:
            t1 = s + round(length * (0.2 + 0.12 * other) + rng.uniform(-wobble, wobble))
            plan.append((t1, ("break", 15 * 60_000)))
        if length >= 5.5 * hour:
            lunch = rng.choice((30, 30, 45, 45, 60)) * 60_000
            tl = s + round(length * (0.42 + 0.26 * phase) - lunch / 2)
            plan.append((tl + round(rng.uniform(-wobble, wobble)), ("lunch", lunch)))
            t2 = s + round(length * (0.76 + 0.1 * other) + rng.uniform(-wobble, wobble))
            plan.append((t2, ("break", 15 * 60_000)))
        if length >= 4 * hour and rng.random() < self.cfg.meeting_rate:
            reason = rng.choice(("meeting", "meeting", "training"))
            dur = (30 if reason == "meeting" else rng.choice((45, 60))) * 60_000
            tm = s + round(rng.uniform(0.15, 0.8) * length)
            plan.append((tm, (reason, dur)))
        plan.sort()
        return plan

    def _on_shift_start(self, now: int, a: _Agent) -> None:
        a.on_shift = True
        a.logout_pending = False
        a.pending_aux.clear()
        self._become_available(now, a)

    def _on_shift_end(self, now: int, a: _Agent) -> None:
        if not a.on_shift:
            return
        if a.state in (_AVAILABLE, _AUX):
            for qi in a.qidx:
                self.queues[qi].available.pop(a.idx, None)
            a.on_shift = False
            a.pending_aux.clear()
            a.aux_token += 1
            self._agent_state(now, a, _LOGGED_OUT)
        else:
            a.logout_pending = True

    # --- the loop ------------------------------------------------------------------

    def run(self) -> Iterator[EventDict]:
        start = self.start_ms
        for agent in self.agents:  # the roster
            self._agent_state(start, agent, _LOGGED_OUT)
        if self.days:
            self.schedule(start, _DAY, 0)
        for q in self.queues:
            t = self._next_arrival(q, start)
            if t is not None:
                self.schedule(t, _ARRIVAL, q)
        heap, out = self.heap, self.out
        fmt = _Formatter()
        prefix = self.prefix
        n = 0
        pop = heapq.heappop
        handlers: dict[int, Callable[..., None]] = {
            _ARRIVAL: self._on_arrival,
            _RETRY: self._on_retry,
            _ABANDON: self._on_abandon,
            _SEG_END: self._on_segment_end,
            _WRAP: self._on_wrap,
            _AUX_DUE: self._on_aux_due,
            _AUX_END: self._on_aux_end,
            _SHIFT_START: self._on_shift_start,
            _SHIFT_END: self._on_shift_end,
            _DAY: self._on_day,
        }
        end = self.end_ms
        while heap:
            t = heap[0][0]
            if t > end and self.active == 0 and self.pending_wraps == 0:
                break
            while out and out[0][0] <= t:
                ms, _, ev = pop(out)
                if not ev["event_id"]:  # published plans come with their own ids
                    ev["event_id"] = f"{prefix}-{n}"
                    n += 1
                ev["ts"] = fmt(ms)
                yield ev
            _, _, kind, a, b = pop(heap)
            if b is None:
                handlers[kind](t, a)
            else:
                handlers[kind](t, a, b)
        while out:
            ms, _, ev = pop(out)
            if not ev["event_id"]:
                ev["event_id"] = f"{prefix}-{n}"
                n += 1
            ev["ts"] = fmt(ms)
            yield ev


def simulate(config: SimConfig) -> Iterator[EventDict]:
    """Canonical event dicts of the simulated center, in event-time order (a generator)."""
    return _Simulation(config).run()


def write_jsonl(events: Iterable[EventDict], path: Path) -> int:
    """Write ``events`` as JSON lines to ``path``; returns how many were written."""
    count = 0
    dumps = orjson.dumps
    opt = orjson.OPT_APPEND_NEWLINE
    with path.open("wb") as fh:
        for event in events:
            fh.write(dumps(event, option=opt))
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    """``python -m producers.simulator --hours 8 --seed 1 --out day.jsonl``"""
    parser = argparse.ArgumentParser(description="Simulate a contact center to JSONL.")
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--tenant", default="default")
    parser.add_argument("--start", type=datetime.fromisoformat, default=None,
                        help="aware ISO 8601 start (default 2026-11-23T08:00Z)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    config = default_config(
        hours=args.hours, seed=args.seed, start=args.start, agents=args.agents,
        tenant=args.tenant,
    )
    count = write_jsonl(simulate(config), args.out)
    print(f"{count} events -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

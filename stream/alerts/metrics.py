"""What alert rules can watch: a registry of metrics read from the live snapshot.

A metric is a name (``queue.service_level``), the level of its scopes (tenant, queue, team,
agent), a unit, and an *extractor*: a pure function ``(snapshot, now_ms) -> readings``,
one :class:`Reading` per scope that has the figure. The snapshot is the plain dict of
:func:`stream.metrics.merge.snapshot` (docs/live-state.md); ``now_ms`` is the stream time
of the evaluation, so durations (longest wait, time in aux) tick between events as they
do on the page.

Later features (adherence, staffing, sentiment) add metrics with :func:`register`; the
rules file can name any registered metric. A metric registered after rules were loaded is
not known to those rules: register at import time of the feature's module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

Level = Literal["tenant", "queue", "team", "agent"]
Unit = Literal["count", "seconds", "ratio"]
SCOPE_FIELDS = ("tenant", "queue", "team", "agent", "reason")
LEVEL_FIELDS: dict[Level, tuple[str, ...]] = {
    "tenant": ("tenant",),
    "queue": ("tenant", "queue"),
    "team": ("tenant", "team"),
    # An agent's scope carries its team (to filter by team) and, in aux, the aux reason, so
    # that each reason can have its own limit.
    "agent": ("tenant", "team", "agent", "reason"),
}


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a figure applies: always a tenant, then what the metric's level adds."""

    tenant: str
    queue: str | None = None
    team: str | None = None
    agent: str | None = None
    reason: str | None = None

    def sort_key(self) -> tuple[str, ...]:
        return tuple("" if v is None else v for v in self.values())

    def values(self) -> tuple[str | None, ...]:
        return (self.tenant, self.queue, self.team, self.agent, self.reason)

    def label(self) -> str:
        """``tenant=default,queue=billing``: the fields that are set, in a fixed order."""
        return ",".join(f"{name}={value}" for name, value in zip(SCOPE_FIELDS, self.values(),
                                                                 strict=True)
                        if value is not None)

    def to_json(self) -> dict[str, str | None]:
        return dict(zip(SCOPE_FIELDS, self.values(), strict=True))

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Scope:
        def text(name: str) -> str | None:
            value = data.get(name)
            return None if value is None else str(value)

        return cls(str(data["tenant"]), text("queue"), text("team"), text("agent"),
                   text("reason"))


class Reading(NamedTuple):
    """One scope's figure. ``value`` None: undefined now (a ratio over nothing).
    ``target``: the scope's own target for the figure (a queue's service-level target),
    which a rule can use as its threshold. ``volume``: how many contacts a ratio or mean
    is over, which a rule's ``min_volume`` can require."""

    scope: Scope
    value: float | None
    target: float | None = None
    volume: int | None = None


Snapshot = Mapping[str, Any]
Extractor = Callable[[Snapshot, int], Iterable[Reading]]


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    level: Level
    unit: Unit
    extract: Extractor
    description: str
    has_target: bool = False
    has_volume: bool = False

    @property
    def scope_fields(self) -> tuple[str, ...]:
        return LEVEL_FIELDS[self.level]

    def bounds(self) -> tuple[float, float] | None:
        """Thresholds derived from a target are kept within these."""
        return (0.0, 1.0) if self.unit == "ratio" else None


METRICS: dict[str, Metric] = {}


def register(metric: Metric, replace: bool = False) -> Metric:
    """Add a metric to the registry (an error if the name is taken, unless ``replace``)."""
    if metric.name in METRICS and not replace:
        raise ValueError(f"metric {metric.name!r} is already registered")
    METRICS[metric.name] = metric
    return metric


def get_metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}") from None


# ----------------------------------------------------------------- reading a snapshot
def _entries(snapshot: Snapshot, section: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    entries = snapshot.get(section) or {}
    for name in sorted(entries):
        entry = entries[name]
        if isinstance(entry, Mapping):
            yield str(name), entry


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _count(value: object) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _tenant(snapshot: Snapshot) -> str:
    return str(snapshot.get("tenant") or "default")


def _since_ms(epoch_s: object) -> int | None:
    number = _number(epoch_s)
    return None if number is None else round(number * 1000)


def _longest_wait_s(entry: Mapping[str, Any], now_ms: int) -> float:
    """Stream time of the evaluation minus the earliest queued time of the waiting legs
    (the snapshot's ``longest_wait_s`` is as of its own stream time; this ticks on)."""
    oldest = _since_ms(entry.get("oldest_queued_epoch"))
    if not entry.get("waiting") or oldest is None:
        return 0.0
    return max(0, now_ms - oldest) / 1000


def queue_figure(figure: str, rolling: bool = False, target: str | None = None,
                 volume: str | None = None) -> Extractor:
    """An extractor for a per-queue figure of the snapshot (``rolling``: of its rolling
    window, ``queues[q].rolling``). ``target`` / ``volume`` name the entry's fields that
    hold the queue's target for the figure and the count it is over."""

    def extract(snapshot: Snapshot, now_ms: int) -> Iterator[Reading]:
        tenant = _tenant(snapshot)
        for queue, entry in _entries(snapshot, "queues"):
            figures = entry.get("rolling") if rolling else entry
            if not isinstance(figures, Mapping):
                continue
            yield Reading(Scope(tenant, queue=queue), _number(figures.get(figure)),
                          _number(entry.get(target)) if target else None,
                          _count(figures.get(volume)) if volume else None)

    return extract


def _queue_waiting(snapshot: Snapshot, now_ms: int) -> Iterator[Reading]:
    tenant = _tenant(snapshot)
    for queue, entry in _entries(snapshot, "queues"):
        yield Reading(Scope(tenant, queue=queue), float(_count(entry.get("waiting")) or 0))


def _queue_longest_wait(snapshot: Snapshot, now_ms: int) -> Iterator[Reading]:
    tenant = _tenant(snapshot)
    for queue, entry in _entries(snapshot, "queues"):
        yield Reading(Scope(tenant, queue=queue), _longest_wait_s(entry, now_ms))


def agents_in(state: str, section: Literal["queues", "teams"]) -> Extractor:
    """Agents in ``state`` per queue (agents skilled for it) or per team."""

    def extract(snapshot: Snapshot, now_ms: int) -> Iterator[Reading]:
        tenant = _tenant(snapshot)
        for name, entry in _entries(snapshot, section):
            counts = entry.get("agents")
            value = _count(counts.get(state)) if isinstance(counts, Mapping) else None
            scope = Scope(tenant, queue=name) if section == "queues" else Scope(tenant, team=name)
            yield Reading(scope, float(value or 0))

    return extract


def _team_occupancy(snapshot: Snapshot, now_ms: int) -> Iterator[Reading]:
    tenant = _tenant(snapshot)
    for team, entry in _entries(snapshot, "teams"):
        yield Reading(Scope(tenant, team=team), _number(entry.get("occupancy")))


def _tenant_waiting(snapshot: Snapshot, now_ms: int) -> Iterator[Reading]:
    total = sum(_count(entry.get("waiting")) or 0 for _, entry in _entries(snapshot, "queues"))
    yield Reading(Scope(_tenant(snapshot)), float(total))


def _tenant_longest_wait(snapshot: Snapshot, now_ms: int) -> Iterator[Reading]:
    longest = max((_longest_wait_s(entry, now_ms) for _, entry in _entries(snapshot, "queues")),
                  default=0.0)
    yield Reading(Scope(_tenant(snapshot)), longest)


def time_in_state(state: str) -> Extractor:
    """Seconds each agent now in ``state`` has been in it (stream time − ``since``). Agents
    in other states have no reading, so an alert on one clears when the agent moves on."""

    def extract(snapshot: Snapshot, now_ms: int) -> Iterator[Reading]:
        tenant = _tenant(snapshot)
        for agent, entry in _entries(snapshot, "agents"):
            if entry.get("state") != state:
                continue
            since = _since_ms(entry.get("since_epoch"))
            if since is None:
                continue
            team = entry.get("team")
            reason = entry.get("reason")
            scope = Scope(tenant, team=None if team is None else str(team), agent=agent,
                          reason=None if reason is None else str(reason))
            yield Reading(scope, max(0, now_ms - since) / 1000)

    return extract


for _metric in (
    Metric("tenant.waiting", "tenant", "count", _tenant_waiting,
           "contacts waiting now in all the tenant's queues"),
    Metric("tenant.longest_wait_s", "tenant", "seconds", _tenant_longest_wait,
           "the longest wait now over all the tenant's queues"),
    Metric("queue.waiting", "queue", "count", _queue_waiting, "contacts waiting now"),
    Metric("queue.longest_wait_s", "queue", "seconds", _queue_longest_wait,
           "stream time minus the earliest queued time of the contacts waiting now"),
    Metric("queue.service_level", "queue", "ratio",
           queue_figure("service_level", target="sl_target", volume="judged"),
           "today's service level (the queue's definition); target: the queue's sl_target",
           has_target=True, has_volume=True),
    Metric("queue.abandon_rate", "queue", "ratio",
           queue_figure("abandon_rate", volume="offered"),
           "today's abandoned ÷ offered", has_volume=True),
    Metric("queue.asa_s", "queue", "seconds", queue_figure("asa_s", volume="answered"),
           "today's average speed of answer", has_volume=True),
    Metric("queue.aht_s", "queue", "seconds", queue_figure("aht_s", volume="handled"),
           "today's average handle time", has_volume=True),
    Metric("queue.service_level_rolling", "queue", "ratio",
           queue_figure("service_level", rolling=True, target="sl_target", volume="offered"),
           "service level over the rolling window (FLOORPULSE_ROLLING_MINUTES)",
           has_target=True, has_volume=True),
    Metric("queue.abandon_rate_rolling", "queue", "ratio",
           queue_figure("abandon_rate", rolling=True, volume="offered"),
           "abandon rate over the rolling window (FLOORPULSE_ROLLING_MINUTES)",
           has_volume=True),
    Metric("queue.asa_s_rolling", "queue", "seconds",
           queue_figure("asa_s", rolling=True, volume="answered"),
           "average speed of answer over the rolling window", has_volume=True),
    Metric("queue.offered_rolling", "queue", "count", queue_figure("offered", rolling=True),
           "contacts offered in the rolling window"),
    Metric("queue.agents_available", "queue", "count", agents_in("available", "queues"),
           "agents skilled for the queue who are available now"),
    Metric("queue.agents_aux", "queue", "count", agents_in("aux", "queues"),
           "agents skilled for the queue who are in aux now"),
    Metric("team.agents_available", "team", "count", agents_in("available", "teams"),
           "agents of the team who are available now"),
    Metric("team.agents_aux", "team", "count", agents_in("aux", "teams"),
           "agents of the team who are in aux now"),
    Metric("team.occupancy", "team", "ratio", _team_occupancy, "today's team occupancy"),
    Metric("agent.aux_duration_s", "agent", "seconds", time_in_state("aux"),
           "seconds the agent has been in aux (scope: with the aux reason)"),
    Metric("agent.acw_duration_s", "agent", "seconds", time_in_state("acw"),
           "seconds the agent has been in after-contact work"),
):
    register(_metric)


# ------------------------------------------------------- workforce management (stream/wfm)
def _out_of_adherence(snapshot: Snapshot, now_ms: int) -> Iterator[Reading]:
    """Seconds of the exception each agent out of adherence is in (up to ``now_ms``); the
    target is the severe threshold. Agents in adherence have no reading."""
    tenant = _tenant(snapshot)
    thresholds = snapshot.get("adherence_thresholds")
    severe = _number(thresholds.get("severe_s")) if isinstance(thresholds, Mapping) else None
    for agent, entry in _entries(snapshot, "adherence"):
        if entry.get("status") not in ("out", "grace"):
            continue
        since = _since_ms(entry.get("out_since_epoch"))
        if since is None:
            continue
        team = entry.get("team")
        yield Reading(Scope(tenant, team=None if team is None else str(team), agent=agent),
                      max(0, now_ms - since) / 1000, severe)


def intraday_figure(path: tuple[str, ...], negate: bool = False,
                    volume: str | None = None) -> Extractor:
    """A per-queue figure of the snapshot's ``intraday`` section (``path`` into its entry)."""

    def extract(snapshot: Snapshot, now_ms: int) -> Iterator[Reading]:
        tenant = _tenant(snapshot)
        for queue, entry in _entries(snapshot, "intraday"):
            value: Any = entry
            for key in path:
                value = value.get(key) if isinstance(value, Mapping) else None
            number = _number(value)
            if number is not None and negate:
                number = -number
            yield Reading(Scope(tenant, queue=queue), number, None,
                          _count(entry.get(volume)) if volume else None)

    return extract


for _metric in (
    Metric("agent.out_of_adherence_s", "agent", "seconds", _out_of_adherence,
           "seconds the agent has been out of adherence with the published schedule; "
           "target: the severe threshold (FLOORPULSE_WFM severe_threshold_s)",
           has_target=True),
    Metric("queue.agents_short", "queue", "count",
           intraday_figure(("now", "gap"), negate=True),
           "agents Erlang C needs now (rolling arrival rate and AHT, the queue's service-level "
           "target) minus agents staffed now; negative: more than needed"),
    Metric("queue.agents_short_next", "queue", "count",
           intraday_figure(("next", "gap"), negate=True),
           "agents Erlang C needs for the next interval (re-forecast) minus agents scheduled "
           "to work in it"),
    Metric("queue.volume_vs_forecast", "queue", "ratio",
           intraday_figure(("volume_ratio",), volume="offered_so_far"),
           "contacts offered today ÷ forecast so far (the current interval pro rata)",
           has_volume=True),
):
    register(_metric)

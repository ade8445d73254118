"""The batch path: the same figures from recorded events, without Kafka or Redis.

``floorpulse report FILE`` uses :func:`report_rows`: the events are split over the
settings' partitions by key, as ``floorpulse replay`` sends them, and each partition applies
its events in file order. So an event is judged late against the stream time of its own
partition, as in the live pipeline, and the report equals the live intervals for the same
file and partition count, refusals included (an event half a day late on one partition may
be in time on another). :func:`stream_rows` runs the streaming model in process for a given
arrival order per partition, which the property tests compare with the batch path and an
independent reference.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from stream.events import Event, decode_message, event_key
from stream.metrics.definitions import SL_VARIANTS, Calendar, QueueRule
from stream.metrics.merge import interval_rows, snapshot
from stream.metrics.partition import PartitionState, PartitionView
from stream.partitioner import partition_for
from stream.qa.flags import FlagRule
from stream.settings import Settings
from stream.wfm.config import WfmRules


def queue_rules(settings: Settings) -> Callable[[str], QueueRule]:
    """The per-queue rules of the settings, cached by queue name."""
    rules: dict[str, QueueRule] = {}

    def rule(queue: str) -> QueueRule:
        found = rules.get(queue)
        if found is None:
            q = settings.queue(queue)
            found = rules[queue] = QueueRule(q.sl_threshold_s, q.sl_target, q.amber_band,
                                             q.short_abandon_s, q.sl_definition)
        return found

    return rule


def calendar(settings: Settings) -> Calendar:
    return Calendar(settings.zone, settings.day_start_time)


def wfm_rules(settings: Settings) -> WfmRules:
    return WfmRules.from_settings(settings.wfm)


def new_partition_state(settings: Settings, cal: Calendar | None = None,
                        flags: Sequence[FlagRule] | None = None) -> PartitionState:
    """A partition's state; with ``flags`` (QA flag rules) it also scores customer messages
    and flags contacts (stream/qa/contact.py)."""
    qa = None
    if flags is not None:
        from stream.qa.contact import ContactQaStore  # loads the scorer only when used

        qa = ContactQaStore(settings.sentiment, flags)
    return PartitionState(cal or calendar(settings), queue_rules(settings),
                          settings.allowed_lateness_s, settings.rolling_minutes,
                          wfm_rules(settings), qa)


def _states(arrivals: Sequence[Iterable[Event]], settings: Settings) -> list[PartitionState]:
    cal = calendar(settings)
    states = []
    for events in arrivals:
        state = new_partition_state(settings, cal)
        state.apply_all(events)
        states.append(state)
    return states


def _partitioned_states(events: Iterable[Event], settings: Settings) -> list[PartitionState]:
    cal = calendar(settings)
    count = settings.topic_partitions
    states = [new_partition_state(settings, cal) for _ in range(count)]
    for event in events:
        states[partition_for(event_key(event), count)].apply(event)
    return states


def _views(states: Sequence[PartitionState], tenant: str) -> list[PartitionView]:
    return [s.view(tenant) for s in states if tenant in s.clock]


def _rows(states: Sequence[PartitionState], settings: Settings) -> list[dict[str, object]]:
    tenants = sorted({t for s in states for t in s.tenants()})
    rows: list[dict[str, object]] = []
    for tenant in tenants:
        rows.extend(interval_rows(tenant, _views(states, tenant), calendar(settings),
                                  queue_rules(settings), int(settings.allowed_lateness_s * 1000)))
    return rows


def report_rows(events: Iterable[Event], settings: Settings) -> list[dict[str, object]]:
    """Interval rows of a recorded stream, partitioned as the live pipeline is."""
    return _rows(_partitioned_states(events, settings), settings)


def stream_rows(arrivals: Sequence[Sequence[Event]], settings: Settings,
                ) -> list[dict[str, object]]:
    """Interval rows as the streaming path computes them: ``arrivals[p]`` is the arrival
    order on partition p."""
    return _rows(_states(arrivals, settings), settings)


def _snapshot(states: Sequence[PartitionState], settings: Settings,
              tenant: str) -> dict[str, object]:
    return snapshot(tenant, _views(states, tenant), calendar(settings), queue_rules(settings),
                    int(settings.allowed_lateness_s * 1000), settings.rolling_minutes,
                    wfm=wfm_rules(settings))


def report_snapshot(events: Iterable[Event], settings: Settings,
                    tenant: str = "default") -> dict[str, object]:
    return _snapshot(_partitioned_states(events, settings), settings, tenant)


def stream_snapshot(arrivals: Sequence[Sequence[Event]], settings: Settings,
                    tenant: str = "default") -> dict[str, object]:
    return _snapshot(_states(arrivals, settings), settings, tenant)


def read_events(path: Path) -> Iterator[Event]:
    """Valid events of a JSONL file, in file order (invalid lines are skipped here; the live
    pipeline dead-letters them)."""
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                events, _ = decode_message(line)
                yield from events


# ------------------------------------------------------------------- output
ROW_FIELDS = (
    "tenant", "queue", "interval_start", "interval_end", "status", "offered", "answered",
    "abandoned", "short_abandoned", "answered_within_threshold", "abandoned_within_threshold",
    "judged", "handled", "transferred", "held", "service_level", "asa_s", "aht_s",
    "avg_talk_s", "avg_hold_s", "avg_acw_s", "abandon_rate", "peak_waiting", "sl_threshold_s",
)


def rows_csv(rows: Iterable[dict[str, object]]) -> str:
    """CSV with one column per figure; the service-level variants as ``sl_<variant>``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*ROW_FIELDS, *(f"sl_{v}" for v in SL_VARIANTS)])
    for row in rows:
        levels = row.get("service_levels") or {}
        assert isinstance(levels, dict)
        writer.writerow([_cell(row.get(f)) for f in ROW_FIELDS] +
                        [_cell(levels.get(v)) for v in SL_VARIANTS])
    return out.getvalue()


def rows_table(rows: Iterable[dict[str, object]]) -> str:
    """A readable table for the terminal."""
    lines = [f"{'queue':<12}{'interval':<27}{'st':<4}{'offer':>6}{'answ':>6}{'aband':>6}"
             f"{'SL':>6}{'ASA':>7}{'AHT':>7}{'ab%':>6}{'peak':>5}"]
    for r in rows:
        lines.append(
            f"{r['queue']!s:<12}{r['interval_start']!s:<27}{str(r['status'])[0]:<4}"
            f"{r['offered']:>6}{r['answered']:>6}{r['abandoned']:>6}"
            f"{_pct(r['service_level']):>6}{_num(r['asa_s']):>7}{_num(r['aht_s']):>7}"
            f"{_pct(r['abandon_rate']):>6}{r['peak_waiting']:>5}")
    return "\n".join(lines) + "\n"


def _cell(value: object) -> object:
    return "" if value is None else value


def _pct(value: object) -> str:
    return "—" if value is None else f"{float(value) * 100:.0f}%"  # type: ignore[arg-type]


def _num(value: object) -> str:
    return "—" if value is None else f"{float(value):.0f}"  # type: ignore[arg-type]

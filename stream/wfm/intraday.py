"""Intraday: today's actual against forecast per queue, agents needed against staffed, a
re-forecast of the rest of the day and where a service-level drop comes from
(docs/metrics.md section 5). Pure functions of merged figures; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from stream.metrics.definitions import (
    HANDLE_MS,
    HANDLED,
    INTERVAL_MS,
    OFFERED,
    Counters,
    QueueRule,
    interval_start,
    queue_figures,
)
from stream.wfm import erlang

INTERVAL_S: Final = INTERVAL_MS / 1000


@dataclass(frozen=True, slots=True)
class QueueDay:
    """What the intraday figures of one queue are computed from (times in ms).

    ``forecast``: interval start -> (volume, AHT s); ``planned_ms`` / ``staffed_ms``:
    interval start -> agent time scheduled to work / staffed (available, on contact, ACW)
    by the agents skilled for the queue; ``staffed_now``: such agents staffed now;
    ``rolling``: (offered, handled, handle ms) of the rolling window, ``rolling_ms`` its
    length."""

    counters: Mapping[int, Counters]
    forecast: Mapping[int, tuple[float, float]]
    planned_ms: Mapping[int, int]
    staffed_ms: Mapping[int, int]
    staffed_now: int
    rolling: tuple[int, int, int]
    rolling_ms: int


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _aht(counters: Counters | None) -> float | None:
    if not counters or not counters[HANDLED]:
        return None
    return counters[HANDLE_MS] / counters[HANDLED] / 1000


def needed(volume: float, aht_s: float | None, rule: QueueRule,
           max_occupancy: float = 1.0) -> int | None:
    """Agents needed for ``volume`` contacts in one interval (None without an AHT)."""
    if aht_s is None or aht_s <= 0:
        return None
    return erlang.agents_needed(volume / INTERVAL_S, aht_s, rule.sl_threshold_s,
                                rule.sl_target, max_occupancy)


def intraday(day: QueueDay, rule: QueueRule, now: int, day_start: int, day_end: int,
             max_occupancy: float = 1.0) -> dict[str, object]:
    """The queue's intraday entry (docs/live-state.md, ``intraday``)."""
    current = interval_start(now)
    nxt = current + INTERVAL_MS
    elapsed = (now - current) / INTERVAL_MS  # share of the current interval gone

    # Actual against forecast so far: whole intervals before the current one, and the
    # current one pro rata.
    forecast_so_far = 0.0
    offered_so_far = 0
    f_handle = 0.0  # forecast AHT × actual handled, for the AHT ratio
    a_handle_ms = 0
    handled = 0
    for start in range(day_start, min(day_end, current + INTERVAL_MS), INTERVAL_MS):
        counters = day.counters.get(start)
        fc = day.forecast.get(start)
        if fc is None:
            continue
        share = elapsed if start == current else 1.0
        forecast_so_far += fc[0] * share
        if counters:
            offered_so_far += counters[OFFERED]
            if counters[HANDLED]:
                handled += counters[HANDLED]
                a_handle_ms += counters[HANDLE_MS]
                f_handle += fc[1] * counters[HANDLED]
    volume_ratio = offered_so_far / forecast_so_far if forecast_so_far > 0 else None
    aht_ratio = (a_handle_ms / 1000) / f_handle if f_handle > 0 else None

    rows: list[dict[str, object]] = []
    weights = 0.0
    drops = [0.0, 0.0, 0.0, 0.0, 0.0]  # plan, volume, aht, staffing, other
    for start in range(day_start, day_end, INTERVAL_MS):
        counters = day.counters.get(start)
        fc = day.forecast.get(start)
        if (counters is None and fc is None and start not in day.planned_ms
                and start not in day.staffed_ms):
            continue
        offered = counters[OFFERED] if counters else 0
        f_volume: float | None = fc[0] if fc is not None else None
        f_aht: float | None = fc[1] if fc is not None else None
        span = INTERVAL_MS if start < current else max(1, now - current)
        planned = day.planned_ms.get(start, 0) / INTERVAL_MS
        staffed = (day.staffed_ms.get(start, 0) / span) if start <= current else None
        row: dict[str, object] = {
            "start_epoch": start / 1000,
            "forecast_volume": _r(f_volume),
            "forecast_aht_s": _r(f_aht, 1),
            "actual_volume": offered if start <= current else None,
            "actual_aht_s": _r(_aht(counters), 1),
            "required": needed(fc[0], fc[1], rule, max_occupancy) if fc else None,
            "planned": _r(planned),
            "staffed": _r(staffed),
        }
        if start >= current and fc is not None and volume_ratio is not None:
            re_volume = fc[0] * volume_ratio
            re_aht = fc[1] * aht_ratio if aht_ratio is not None else fc[1]
            row["reforecast_volume"] = _r(re_volume)
            row["reforecast_required"] = needed(re_volume, re_aht, rule, max_occupancy)
        if start < current and fc is not None and offered:
            parts = _breakdown(fc, counters, planned, staffed or 0.0, rule)
            if parts is not None:
                row["sl_plan"] = _r(parts[0], 4)
                for i, value in enumerate(parts):
                    drops[i] += value * offered
                weights += offered
        rows.append(row)

    rate_s = min(day.rolling_ms, max(1, now - day_start)) / 1000
    offered_rolling, handled_rolling, handle_ms_rolling = day.rolling
    aht_now = (handle_ms_rolling / handled_rolling / 1000 if handled_rolling
               else aht_ratio_fallback(day, current))
    required_now = (erlang.agents_needed(offered_rolling / rate_s, aht_now,
                                         rule.sl_threshold_s, rule.sl_target, max_occupancy)
                    if aht_now else None)
    next_fc = day.forecast.get(nxt)
    required_next = None
    if next_fc is not None:
        volume = next_fc[0] * (volume_ratio if volume_ratio is not None else 1.0)
        aht = next_fc[1] * (aht_ratio if aht_ratio is not None else 1.0)
        required_next = needed(volume, aht, rule, max_occupancy)
    planned_next = day.planned_ms.get(nxt, 0) / INTERVAL_MS
    breakdown = None
    if weights:
        plan, vol, aht_part, staff, other = (d / weights for d in drops)
        breakdown = {"sl_plan": _r(plan, 4), "volume_over_forecast": _r(vol, 4),
                     "aht_over_forecast": _r(aht_part, 4),
                     "staffing_under_plan": _r(staff, 4), "other": _r(other, 4),
                     "sl_actual": _r(plan - vol - aht_part - staff - other, 4)}
    return {
        "interval_start_epoch": current / 1000,
        "volume_ratio": _r(volume_ratio, 4),
        "aht_ratio": _r(aht_ratio, 4),
        "forecast_so_far": _r(forecast_so_far),
        "offered_so_far": offered_so_far,
        "now": {"rate_per_h": _r(offered_rolling / rate_s * 3600, 1),
                "aht_s": _r(aht_now, 1), "required": required_now,
                "staffed": day.staffed_now,
                "gap": None if required_now is None else day.staffed_now - required_now},
        "next": {"start_epoch": nxt / 1000, "required": required_next,
                 "planned": _r(planned_next),
                 "gap": None if required_next is None else _r(planned_next - required_next)},
        "breakdown": breakdown,
        "rows": rows,
    }


def aht_ratio_fallback(day: QueueDay, current: int) -> float | None:
    """AHT when the rolling window has no handled contact: the current interval's
    forecast AHT."""
    fc = day.forecast.get(current)
    return fc[1] if fc is not None else None


def _breakdown(fc: tuple[float, float], counters: Counters | None, planned: float,
               staffed: float, rule: QueueRule) -> tuple[float, ...] | None:
    """An interval's service level under plan, and how much of the drop to the actual one
    each cause explains, substituting one actual for its planned value at a time:
    volume, then AHT, then staffing; ``other`` is what the model does not explain."""
    if counters is None or not counters[OFFERED]:
        return None
    f_volume, f_aht = fc
    a_volume = counters[OFFERED]
    a_aht = _aht(counters) or f_aht
    t = rule.sl_threshold_s
    sl_plan = erlang.service_level_fractional(planned, f_volume / INTERVAL_S, f_aht, t)
    sl_volume = erlang.service_level_fractional(planned, a_volume / INTERVAL_S, f_aht, t)
    sl_aht = erlang.service_level_fractional(planned, a_volume / INTERVAL_S, a_aht, t)
    sl_staff = erlang.service_level_fractional(staffed, a_volume / INTERVAL_S, a_aht, t)
    actual = queue_figures(counters, 0, rule)["service_level"]
    if not isinstance(actual, float | int):
        return None
    return (sl_plan, sl_plan - sl_volume, sl_volume - sl_aht, sl_aht - sl_staff,
            sl_staff - float(actual))

"""The definitions of docs/metrics.md, in one place: the per-leg counters, the service-level
variants, the derived figures, and the center's calendar (intervals, days, minutes).

All times are integer milliseconds since the epoch, so every sum is exact and independent of
the order in which it was added up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Final

INTERVAL_MS: Final = 900_000
MINUTE_MS: Final = 60_000
DAY_MS: Final = 86_400_000
SAMPLE_MS: Final = 10_000  # peak waiting is sampled at every 10 s
NEVER: Final = 1 << 60  # an instant (ms) later than any: "not yet", "none"
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS: Final = timedelta(milliseconds=1)

# Positions in a counter vector (one per leg; summed per interval, minute and day). Final
# literals: compiled code (stream/compiled.py) uses them as constants, not global lookups.
OFFERED: Final = 0
ANSWERED: Final = 1
ABANDONED: Final = 2
SHORT_ABANDONED: Final = 3
WITHIN: Final = 4
ABANDONED_WITHIN: Final = 5
WAIT_MS: Final = 6
HANDLED: Final = 7
HANDLE_MS: Final = 8
TALK_MS: Final = 9
HOLD_MS: Final = 10
ACW_MS: Final = 11
TRANSFERRED: Final = 12
HELD: Final = 13
IN_PROGRESS: Final = 14
N_COUNTERS: Final = 15  # IN_PROGRESS: legs waiting, or answered and not yet wrapped
COUNT_NAMES: Final = {
    "offered": OFFERED, "answered": ANSWERED, "abandoned": ABANDONED,
    "short_abandoned": SHORT_ABANDONED, "answered_within_threshold": WITHIN,
    "abandoned_within_threshold": ABANDONED_WITHIN, "handled": HANDLED,
    "transferred": TRANSFERRED, "held": HELD,
}
SL_VARIANTS: Final = ("abandons_against", "abandons_ignored", "abandons_for", "answered_only")

Counters = list[int]
# A leg still without answer or abandon this long after it was queued is taken as lost (its
# outcome event will not come): it no longer counts as waiting (docs/metrics.md).
MAX_WAIT_MS: Final = 86_400_000


class _Zone:
    """The last fixed-offset time zone :func:`to_ms` met and its offset in microseconds, as
    one tuple (replaced whole, never torn): the events of a message share one ``tzinfo``."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: tuple[tzinfo | None, int] = (None, 0)


_ZONE: Final = _Zone()
_EPOCH_DAY: Final = EPOCH.toordinal()
_ONE_US: Final = timedelta(microseconds=1)


def to_ms(ts: datetime) -> int:
    """Event time in whole milliseconds since the epoch (fractions cut): exactly
    ``(ts - EPOCH) // 1 ms``, from the fields and the zone's offset, without the two
    ``timedelta`` that takes (an event's time is read once per event)."""
    zone = ts.tzinfo
    last = _ZONE.last
    if zone is not last[0] or zone is None:
        fixed = zone.utcoffset(None) if zone is not None else None
        if fixed is None:  # naive (the subtraction refuses it), or a date-dependent offset
            return (ts - EPOCH) // _ONE_MS
        last = _ZONE.last = (zone, fixed // _ONE_US)
    local_us = (((ts.toordinal() - _EPOCH_DAY) * 86_400 + ts.hour * 3_600 + ts.minute * 60
                 + ts.second) * 1_000_000 + ts.microsecond)
    return (local_us - last[1]) // 1_000


def ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def mean_s(total_ms: int, count: int) -> float | None:
    return round(total_ms / count / 1000, 3) if count else None


def seconds(ms: int) -> float:
    return round(ms / 1000, 3)


@dataclass(frozen=True, slots=True)
class QueueRule:
    sl_threshold_s: float = 20.0
    sl_target: float = 0.80
    amber_band: float = 0.10
    short_abandon_s: float = 0.0
    sl_definition: str = "abandons_against"

    @property
    def threshold_ms(self) -> float:
        return self.sl_threshold_s * 1000

    @property
    def short_ms(self) -> float:
        return self.short_abandon_s * 1000


def service_levels(c: Sequence[int], judged: int) -> dict[str, float | None]:
    """The four service-level variants (docs/metrics.md, "Service-level variants")."""
    return {
        "abandons_against": ratio(c[WITHIN], judged),
        "abandons_ignored": ratio(c[WITHIN], judged - c[ABANDONED_WITHIN]),
        "abandons_for": ratio(c[WITHIN] + c[ABANDONED_WITHIN], judged),
        "answered_only": ratio(c[WITHIN], c[ANSWERED]),
    }


def queue_figures(c: Sequence[int], not_judged: int, rule: QueueRule) -> dict[str, object]:
    """Figures of one period (interval, day, rolling window) from its summed counters and
    the number of its legs still waiting and not yet judged."""
    judged = c[OFFERED] - not_judged
    levels = service_levels(c, judged)
    handled = c[HANDLED]
    figures: dict[str, object] = {name: c[i] for name, i in COUNT_NAMES.items()}
    figures.update({
        "judged": judged,
        "service_level": levels[rule.sl_definition],
        "service_levels": levels,
        "asa_s": mean_s(c[WAIT_MS], c[ANSWERED]),
        "aht_s": mean_s(c[HANDLE_MS], handled),
        "avg_talk_s": mean_s(c[TALK_MS], handled),
        "avg_hold_s": mean_s(c[HOLD_MS], handled),
        "avg_acw_s": mean_s(c[ACW_MS], handled),
        "abandon_rate": ratio(c[ABANDONED], c[OFFERED]),
        "sl_threshold_s": rule.sl_threshold_s,
    })
    return figures


def add_into(total: Counters, c: Sequence[int], sign: int = 1) -> None:
    for i, value in enumerate(c):
        if value:
            total[i] += sign * value


ISO_KEPT: Final = 8192  # times kept in ISO form by a calendar (each agent's since, open intervals)


class Calendar:
    """The center's calendar: zone and day start (a multiple of 15 minutes)."""

    def __init__(self, zone: tzinfo, day_start: time = time(0)) -> None:
        if (day_start.minute % 15) or day_start.second or day_start.microsecond:
            raise ValueError("the day start must be a multiple of 15 minutes")
        self.zone = zone
        self.day_start = day_start
        self._offset = timedelta(hours=day_start.hour, minutes=day_start.minute)
        self._day_of_interval: dict[int, int] = {}
        self._bounds: dict[int, tuple[int, int]] = {}
        self._iso: dict[int, str] = {}  # a publishing turn asks again for most of them

    def day_of(self, ms: int) -> int:
        """Day ordinal: the calendar date on which the center's day holding ``ms`` starts."""
        start = ms - ms % INTERVAL_MS
        day = self._day_of_interval.get(start)
        if day is None:
            local = datetime.fromtimestamp(start / 1000, self.zone) - self._offset
            day = local.date().toordinal()
            if len(self._day_of_interval) > 100_000:
                self._day_of_interval.clear()
            self._day_of_interval[start] = day
        return day

    def day_bounds(self, day: int) -> tuple[int, int]:
        """[start, end) in ms of a center day (23 or 25 hours on DST days)."""
        bounds = self._bounds.get(day)
        if bounds is None:
            bounds = self._bounds[day] = (self._day_start_ms(day), self._day_start_ms(day + 1))
        return bounds

    def _day_start_ms(self, day: int) -> int:
        """The first instant of the day. A day start that the clocks skip (a DST gap) is
        met at the first local time after it, which is where :meth:`day_of` changes day."""
        local = datetime.combine(date.fromordinal(day), self.day_start)
        early = to_ms(local.replace(tzinfo=self.zone, fold=1))
        late = to_ms(local.replace(tzinfo=self.zone, fold=0))
        start = min(early, late)
        while start < max(early, late) and self.day_of(start) < day:
            start += INTERVAL_MS
        return start

    def iso(self, ms: int) -> str:
        """``ms`` in ISO form, in the center's zone. Kept: every publishing turn writes each
        agent's ``since`` and each open interval's bounds again (at most ``ISO_KEPT``
        kept: then they start again)."""
        found = self._iso.get(ms)
        if found is None:
            if len(self._iso) >= ISO_KEPT:
                self._iso.clear()
            found = self._iso[ms] = datetime.fromtimestamp(ms / 1000, self.zone).isoformat()
        return found


def interval_start(ms: int) -> int:
    return ms - ms % INTERVAL_MS


def minute_start(ms: int) -> int:
    return ms - ms % MINUTE_MS

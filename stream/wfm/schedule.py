"""Published schedules and forecasts as facts: sets, so that order and repetition do not
matter (docs/metrics.md section 5).

A schedule *publication* is one ``schedule.published`` event: an agent's segments over the
range it covers (by default the center's days its segments touch). Publications are kept
as a set keyed by (publication time, event id). The schedule in force at time t is the
segments of one publication covering t:

- the latest publication (by publication time, then event id) published at or before t;
- if none covering t was published by then (a schedule loaded late), the first one
  published.

So a schedule re-published during the day replaces the old one from its publication on,
and the hours before keep the schedule that was in force then. A publication with no
segment over a range says the agent is not scheduled there.

A forecast is a value per (queue, interval): the ``forecast.published`` event with the
latest publication time (then event id) that names the interval wins.

Times are integer milliseconds.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

# (start, end, activity)
Segment = tuple[int, int, str]
# (start, end, activity or None: not scheduled)
Piece = tuple[int, int, str | None]


@dataclass(frozen=True, slots=True)
class Publication:
    published: int
    event_id: str
    covers_from: int
    covers_to: int
    segments: tuple[Segment, ...]  # sorted, not overlapping

    @property
    def order(self) -> tuple[int, str]:
        return (self.published, self.event_id)

    def covers(self, t: int) -> bool:
        return self.covers_from <= t < self.covers_to

    def activity_at(self, t: int) -> str | None:
        i = bisect.bisect_right(self.segments, t, key=lambda s: s[0]) - 1
        if i >= 0 and self.segments[i][0] <= t < self.segments[i][1]:
            return self.segments[i][2]
        return None

    def dump(self) -> list[object]:
        return [self.published, self.event_id, self.covers_from, self.covers_to,
                [list(s) for s in self.segments]]

    @classmethod
    def load(cls, data: list[object]) -> Publication:
        published, event_id, lo, hi, segments = data
        assert isinstance(segments, list)
        return cls(int(published), str(event_id), int(lo), int(hi),  # type: ignore[call-overload]
                   tuple((int(s[0]), int(s[1]), str(s[2])) for s in segments))


@dataclass(slots=True)
class ScheduleFacts:
    """One agent's publications."""

    publications: dict[tuple[int, str], Publication] = field(default_factory=dict)

    def add(self, publication: Publication) -> bool:
        """Record a publication; False if it was there already."""
        if publication.order in self.publications:
            return False
        self.publications[publication.order] = publication
        return True

    def in_force(self, t: int) -> Publication | None:
        """The publication whose schedule is in force at ``t``."""
        best: Publication | None = None
        first: Publication | None = None
        for pub in self.publications.values():
            if not pub.covers(t):
                continue
            if pub.published <= t and (best is None or pub.order > best.order):
                best = pub
            if first is None or pub.order < first.order:
                first = pub
        return best if best is not None else first

    def pieces(self, lo: int, hi: int) -> list[Piece]:
        """The schedule in force over [lo, hi): consecutive pieces, equal neighbours merged."""
        if hi <= lo:
            return []
        cuts = {lo, hi}
        for pub in self.publications.values():
            for t in (pub.published, pub.covers_from, pub.covers_to):
                if lo < t < hi:
                    cuts.add(t)
            for start, end, _ in pub.segments:
                if lo < start < hi:
                    cuts.add(start)
                if lo < end < hi:
                    cuts.add(end)
        bounds = sorted(cuts)
        pieces: list[Piece] = []
        for start, end in zip(bounds, bounds[1:], strict=False):
            found = self.in_force(start)
            activity = found.activity_at(start) if found is not None else None
            if pieces and pieces[-1][2] == activity and pieces[-1][1] == start:
                pieces[-1] = (pieces[-1][0], end, activity)
            else:
                pieces.append((start, end, activity))
        return pieces

    def forget_before(self, t: int) -> bool:
        """Drop publications that cover nothing at or after ``t``; whether any went."""
        old = [k for k, p in self.publications.items() if p.covers_to <= t]
        for k in old:
            del self.publications[k]
        return bool(old)

    def dump(self) -> list[object]:
        return [p.dump() for _, p in sorted(self.publications.items())]

    @classmethod
    def load(cls, data: list[object]) -> ScheduleFacts:
        facts = cls()
        for item in data:
            assert isinstance(item, list)
            facts.add(Publication.load(item))
        return facts


# (publication time, event id, volume, AHT seconds)
ForecastValue = tuple[int, str, float, float]


@dataclass(slots=True)
class ForecastFacts:
    """One queue's forecast: interval start -> the latest published value."""

    intervals: dict[int, ForecastValue] = field(default_factory=dict)

    def put(self, start: int, value: ForecastValue) -> bool:
        """Keep ``value`` if it is the latest publication for the interval."""
        old = self.intervals.get(start)
        if old is not None and old[:2] >= value[:2]:
            return False
        self.intervals[start] = value
        return True

    def forget_before(self, t: int) -> bool:
        old = [s for s in self.intervals if s < t]
        for s in old:
            del self.intervals[s]
        return bool(old)

    def dump(self) -> list[object]:
        return [[s, *v] for s, v in sorted(self.intervals.items())]

    @classmethod
    def load(cls, data: list[object]) -> ForecastFacts:
        facts = cls()
        for item in data:
            assert isinstance(item, list)
            start, published, event_id, volume, aht = item
            facts.intervals[int(start)] = (int(published), str(event_id), float(volume),
                                           float(aht))
        return facts

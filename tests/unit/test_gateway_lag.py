"""The gateway's push-lag histogram (gateway/lag.py): whole milliseconds rounded up, and
the lags of a period as the difference of two readings, with nearest-rank percentiles
computed here independently from the lags themselves."""

from __future__ import annotations

import math
import random

import pytest

from gateway.lag import MAX_LAG_MS, PushLag, lag_between


def nearest_rank(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def test_a_lag_counts_in_its_millisecond_rounded_up() -> None:
    lags = PushLag()
    for seconds in (0.0, 0.0002, 0.001, 0.0011, 0.0999, -0.5, 3600.0):
        lags.record(seconds)
    assert lags.reading() == {"0": 2, "1": 2, "2": 1, "100": 1, str(MAX_LAG_MS): 1}
    assert lags.count == 7


def test_the_lags_between_two_readings_are_those_recorded_in_between() -> None:
    rng = random.Random(4)
    lags = PushLag()
    earlier = [rng.randint(0, 400) for _ in range(500)]
    for ms in earlier:
        lags.record(ms / 1000)
    before = lags.reading()
    later = [rng.randint(20, 900) for _ in range(1_000)]
    for ms in later:
        lags.record((ms - 0.5) / 1000)  # rounded up to ms
    period = lag_between(before, lags.reading())
    assert period == {"count": 1000.0, "p50": float(nearest_rank(later, 50)),
                      "p99": float(nearest_rank(later, 99)), "max": float(max(later))}


def test_no_lag_in_a_period_gives_nan_percentiles() -> None:
    lags = PushLag()
    lags.record(0.01)
    reading = lags.reading()
    period = lag_between(reading, reading)
    assert period["count"] == 0
    assert all(math.isnan(period[name]) for name in ("p50", "p99", "max"))


@pytest.mark.parametrize("count", [1, 2, 99, 100, 101])
def test_percentiles_are_nearest_rank(count: int) -> None:
    lags = PushLag()
    values = list(range(1, count + 1))
    for ms in values:
        lags.record(ms / 1000 - 1e-6)
    period = lag_between({}, lags.reading())
    assert period["p50"] == nearest_rank(values, 50)
    assert period["p99"] == nearest_rank(values, 99)

"""When a client's sender sends (gateway/pacing.py): due, held, tolerance, grace, answers;
and, replayed over a stream of publication arrivals, which publications a client gets."""

from __future__ import annotations

import math
import random

import pytest

from gateway.pacing import (
    WAKE_LATENESS_SHARE,
    SendDecision,
    publications_per_send,
    send_decision,
    tolerance_for,
    wake_decision,
)

INTERVAL = 0.25
TOLERANCE = 0.025
GRACE = 0.125
PUBLISH = 0.125


@pytest.mark.parametrize(("now", "answer_now", "expected"), [
    # elapsed >= interval: due, at once
    (10.25, False, SendDecision(True, 10.25)),
    (10.9, False, SendDecision(True, 10.9)),
    # within the tolerance of the interval: due
    (10.23, False, SendDecision(True, 10.23)),
    (10.226, False, SendDecision(True, 10.226)),
    # earlier: held until the due time + grace at the latest
    (10.224, False, SendDecision(False, 10.375)),
    (10.125, False, SendDecision(False, 10.375)),
    (10.001, False, SendDecision(False, 10.375)),
    # an answer owed goes at once, whenever
    (10.001, True, SendDecision(True, 10.001)),
    (10.125, True, SendDecision(True, 10.125)),
])
def test_due_held_tolerance_and_answers(now: float, answer_now: bool,
                                        expected: SendDecision) -> None:
    decision = send_decision(now, 10.0, INTERVAL, TOLERANCE, GRACE, answer_now=answer_now)
    assert decision.send_now == expected.send_now
    assert decision.hold_until == pytest.approx(expected.hold_until)


def test_a_held_change_goes_at_the_latest_at_due_time_plus_grace() -> None:
    # nothing later came: when the sender wakes at the deadline, it sends
    assert send_decision(10.375, 10.0, INTERVAL, TOLERANCE, GRACE).send_now
    assert send_decision(10.5, 10.0, INTERVAL, TOLERANCE, GRACE).send_now
    # a zero tolerance and grace is the plain interval
    assert not send_decision(10.2499, 10.0, INTERVAL, 0.0, 0.0).send_now
    assert send_decision(10.25, 10.0, INTERVAL, 0.0, 0.0).send_now


def test_the_first_send_is_due_and_the_interval_is_the_callers() -> None:
    assert send_decision(0.0, -math.inf, INTERVAL, TOLERANCE, GRACE).send_now
    # a re-subscription with another interval: the next decision uses it
    assert not send_decision(10.3, 10.0, 0.5, tolerance_for(0.5), GRACE).send_now
    assert send_decision(10.3, 10.0, 0.1, tolerance_for(0.1), GRACE).send_now


@pytest.mark.parametrize(("interval", "publish", "every"), [
    (0.25, 0.125, 2), (0.08, 0.125, 1), (0.125, 0.125, 1), (0.5, 0.125, 4), (0.3, 0.125, 3),
    (0.25, 0.1, 3), (0.1, 0.1, 1), (5.0, 0.125, 36),
])
def test_publications_per_send(interval: float, publish: float, every: int) -> None:
    assert publications_per_send(interval, publish) == every
    # and the sender does so, publications on time
    arrivals = [100.0 + i * publish for i in range(every * 4 + 1)]
    assert [index for _, index in replay(arrivals, interval)] == list(
        range(0, every * 4 + 1, every))


def test_tolerance_is_a_tenth_of_the_interval() -> None:
    assert tolerance_for(0.25) == pytest.approx(0.025)
    assert tolerance_for(0.08) == pytest.approx(0.008)
    assert tolerance_for(5.0) == pytest.approx(0.5)


# --- replayed over arrivals -------------------------------------------------------------------


def replay(arrivals: list[float], interval: float,
           grace: float = GRACE) -> list[tuple[float, int]]:
    """What the sender does with publications arriving at ``arrivals``: its sends, each as
    (time, index of the latest publication in it)."""
    sends: list[tuple[float, int]] = []
    last_send = -math.inf
    held_until: float | None = None
    for index, arrival in enumerate(arrivals):
        if held_until is not None and held_until <= arrival:  # the deadline came first
            sends.append((held_until, index - 1))
            last_send, held_until = held_until, None
        decision = send_decision(arrival, last_send, interval, tolerance_for(interval), grace)
        if decision.send_now:
            sends.append((arrival, index))
            last_send, held_until = arrival, None
        else:
            held_until = decision.hold_until
    if held_until is not None:
        sends.append((held_until, len(arrivals) - 1))
    return sends


def jittered(count: int, every: float = PUBLISH, jitter: float = 0.015,
             seed: int = 4) -> list[float]:
    """Publications every ``every`` s, start to start, each arriving up to ``jitter`` late."""
    rng = random.Random(seed)
    return [100.0 + i * every + rng.uniform(0, jitter) for i in range(count)]


def test_a_default_client_gets_every_second_publication_as_it_arrives() -> None:
    arrivals = jittered(81)  # 10 s
    sends = replay(arrivals, INTERVAL)
    assert [index for _, index in sends] == list(range(0, 81, 2))
    # each send is the arrival of the publication it carries: no wait at all
    assert all(at == arrivals[index] for at, index in sends)


def test_publications_a_little_early_still_give_every_second_one() -> None:
    # the one after a late one comes early: 0.25 s apart, less up to 20 ms
    arrivals = [100.0 + i * PUBLISH + (0.02 if i % 4 == 0 else 0.0) for i in range(41)]
    assert [index for _, index in replay(arrivals, INTERVAL)] == list(range(0, 41, 2))
    # without the tolerance those would go to every third
    no_tolerance = []
    last_send = -math.inf
    for index, arrival in enumerate(arrivals):
        if send_decision(arrival, last_send, INTERVAL, 0.0, GRACE).send_now:
            no_tolerance.append(index)
            last_send = arrival
    assert no_tolerance != list(range(0, 41, 2))


def test_a_fast_client_gets_every_publication_and_a_slow_one_every_nth() -> None:
    arrivals = jittered(41)
    assert [index for _, index in replay(arrivals, 0.08)] == list(range(41))
    assert [index for _, index in replay(arrivals, 0.5)] == list(range(0, 41, 4))
    # in between two multiples: the first publication past the interval (every third)
    # (the last one, 40, held until its deadline: nothing comes after it)
    assert [index for _, index in replay(arrivals, 0.3)] == [*range(0, 41, 3), 40]


def test_the_last_change_of_a_burst_goes_at_due_time_plus_grace() -> None:
    # a send at 100.0, then one change 0.1 s later and nothing after it
    sends = replay([100.0, 100.1], INTERVAL)
    assert sends == [(100.0, 0), (pytest.approx(100.0 + INTERVAL + GRACE), 1)]


def test_a_missing_publication_delays_a_send_by_the_grace_at_most() -> None:
    arrivals = [100.0, 100.125, 100.5, 100.625, 100.75]  # the one of 100.25 (and .375) lost
    sends = replay(arrivals, INTERVAL)
    assert sends[1] == (pytest.approx(100.375), 1)  # held 100.125 goes at due + grace
    # then the sends are aligned with the publications again: 100.5 is held (0.125 s after
    # the last send), 100.625 goes as it arrives, 100.75 is the last and waits its deadline
    assert sends[2:] == [(100.625, 3), (pytest.approx(100.625 + INTERVAL + GRACE), 4)]


# --- woken only when due ----------------------------------------------------------------------


def replay_waking_only_when_due(arrivals: list[float], interval: float,
                                grace: float = GRACE) -> tuple[list[tuple[float, int]], int]:
    """The same sender when a publication wakes it only if ``wake_decision`` says so (the
    gateway's ``ClientSession.on_publication``), and a publication that leaves it asleep
    arms a deadline instead: its sends, and how many times it was woken."""
    sends: list[tuple[float, int]] = []
    wakeups = 0
    last_send = -math.inf
    deadline: float | None = None
    tolerance = tolerance_for(interval)
    for index, arrival in enumerate(arrivals):
        if deadline is not None and deadline <= arrival:  # woken by the deadline: sends
            wakeups += 1
            sends.append((deadline, index - 1))
            last_send, deadline = deadline, None
        if not wake_decision(arrival, last_send, interval, tolerance, grace,
                             lateness=grace * WAKE_LATENESS_SHARE).send_now:
            if deadline is None:
                deadline = send_decision(arrival, last_send, interval, tolerance,
                                         grace).hold_until
            continue
        wakeups += 1  # woken: the sender decides, as when every publication woke it
        decision = send_decision(arrival, last_send, interval, tolerance, grace)
        if decision.send_now:
            sends.append((arrival, index))
            last_send, deadline = arrival, None
        elif deadline is None:
            deadline = decision.hold_until
    if deadline is not None:
        wakeups += 1
        sends.append((deadline, len(arrivals) - 1))
    return sends, wakeups


@pytest.mark.parametrize("interval", [0.08, 0.25, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("seed", range(4))
def test_waking_only_when_it_may_be_due_sends_the_same(interval: float, seed: int) -> None:
    rng = random.Random(seed)
    arrivals = jittered(200, jitter=0.03, seed=seed)
    # and a few publications lost (a quiet feed, a late worker): deadlines come first
    arrivals = [at for at in arrivals if rng.random() > 0.1]
    sends, wakeups = replay_waking_only_when_due(arrivals, interval)
    assert sends == replay(arrivals, interval)
    assert len(sends) <= wakeups
    if interval >= 0.25:  # waking on every publication: len(arrivals) wake-ups and more
        assert wakeups < len(arrivals) * 0.7
    if interval in (0.25, 0.5):  # a multiple of the publish interval: about one a send
        assert wakeups <= len(sends) * 1.2 + 2


def test_a_publication_wakes_a_sender_that_may_be_due_once_it_runs() -> None:
    lateness = GRACE * WAKE_LATENESS_SHARE
    # one publication after a send: asleep, until the deadline at the latest
    assert wake_decision(10.125, 10.0, INTERVAL, TOLERANCE, GRACE,
                         lateness=lateness) == SendDecision(False, 10.375)
    # the next one, even a little early, or the sender's last send late in its burst
    assert wake_decision(10.25, 10.0, INTERVAL, TOLERANCE, GRACE, lateness=lateness).send_now
    assert wake_decision(10.25, 10.04, INTERVAL, TOLERANCE, GRACE, lateness=lateness).send_now
    assert wake_decision(10.2, 10.0, INTERVAL, TOLERANCE, GRACE, lateness=lateness).send_now
    # a sender that runs up to ``lateness`` late decides to hold whatever was left asleep
    for now in (10.1, 10.13, 10.16):
        if not wake_decision(now, 10.0, INTERVAL, TOLERANCE, GRACE, lateness=lateness).send_now:
            assert not send_decision(now + lateness, 10.0, INTERVAL, TOLERANCE,
                                     GRACE).send_now

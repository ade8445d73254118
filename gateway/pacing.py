"""When a client is sent what is pending: sends aligned to the worker's publications.

No I/O here. The client's sender (``ClientSession.run_sender`` in :mod:`gateway.server`)
asks :func:`send_decision` each time it is woken with something new pending for the
client (a publication merged into its feed, an alert, ...) and waits as told. A
publication wakes it only when it may be due (:func:`wake_decision`, asked by the
gateway's fan-out, ``ClientSession.on_publication``); otherwise the sender sleeps on, and
is woken at the latest at ``hold_until``.

The rule, for a client with update interval ``I`` (its ``interval_s``) whose last send
started at ``L``, when something is pending at ``now``:

- an answer the client is owed (a new subscription's snapshot, a reply, the closing error)
  goes at once;
- so does anything once the interval has elapsed: ``now - L >= I - tolerance``;
- anything earlier is *held*: it goes with the first later change that comes once the
  interval has elapsed, so that a send carries the freshest publication the moment it
  arrives, and at the latest at ``L + I + grace``, so that the last change of a burst (a
  feed that went quiet) is not held for long.

The gateway's grace is the worker's ``publish_interval_s``: while the feed is live, the
next publication comes within one publish interval of the due time, and a send waits for
it rather than go out just before it with older data; when none has come by then, the
feed is quiet (or the worker is late) and what is held goes.

The tolerance (:func:`tolerance_for`, a tenth of the client's interval) absorbs the jitter
of the publications: the worker spaces its turns start to start, but each turn's write to
Redis, and its arrival here, comes a little earlier or later than the one before. Without
it, a 0.25-s client with publications every 0.125 s would get every second publication
only when the later one is not even a millisecond early, and every third one otherwise.
A tenth lets a client be sent at most about 11 % more often than it asked, and at the
default interval (0.25 s) it is 25 ms, several times the usual spread of the arrivals.
"""

from __future__ import annotations

import math
from typing import NamedTuple

TOLERANCE_SHARE = 0.1  # of the client's interval
# How late after a publication's arrival a woken sender may run, for the fan-out's
# decision (wake_decision), as a share of the grace (the publish interval).
WAKE_LATENESS_SHARE = 0.5


class SendDecision(NamedTuple):
    """Send what is pending now, or hold it until ``hold_until`` at the latest (unless a
    later change that is due, or an answer owed, comes first)."""

    send_now: bool
    hold_until: float  # monotonic clock; ``now`` when ``send_now``


def tolerance_for(interval_s: float) -> float:
    """How much earlier than its interval a client may be sent a publication."""
    return interval_s * TOLERANCE_SHARE


def send_decision(now: float, last_send: float, interval: float, tolerance: float,
                  grace: float, *, answer_now: bool = False) -> SendDecision:
    """When to send what is pending for a client at ``now`` (seconds, monotonic clock).

    ``last_send``: when the client's last send started (``-math.inf`` before the first);
    ``interval``: the client's update interval; ``tolerance``: how much earlier than the
    interval a send is due; ``grace``: how long past the due time a change is held at most;
    ``answer_now``: the client is owed an answer.
    """
    hold_until = last_send + interval + grace
    if answer_now or now - last_send >= interval - tolerance or now >= hold_until:
        return SendDecision(True, now)
    return SendDecision(False, hold_until)


def wake_decision(now: float, last_send: float, interval: float, tolerance: float,
                  grace: float, *, lateness: float) -> SendDecision:
    """Whether a publication arriving at ``now`` is to wake the client's sender
    (``send_now``), or leave it asleep until ``hold_until`` (unless a later change wakes it).

    The sender decides when it runs (:func:`send_decision` at its own time, which is
    later than the arrival by its place among the senders the publication wakes: tens of
    milliseconds for the last of hundreds), and its last send started as late in its own
    burst. So a publication leaves a sender asleep only if the sender would hold it even
    running ``lateness`` after the arrival: the decision is then the sender's own for any
    run time up to that, since a send only becomes due as time passes. With the default
    intervals (publications every 0.125 s, clients 0.25 s, lateness half a publish
    interval) that is every publication a client is not sent.
    """
    return send_decision(now + lateness, last_send, interval, tolerance, grace)


def publications_per_send(interval_s: float, publish_interval_s: float) -> int:
    """One send every how many publications, for a client of ``interval_s`` when the
    publications come on time every ``publish_interval_s``: the first one at or past the
    interval less the tolerance (0.25 and 0.125 s: every second one; 0.08 s: each one)."""
    due = interval_s - tolerance_for(interval_s)
    return max(1, math.ceil(due / publish_interval_s - 1e-9))

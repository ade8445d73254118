"""Erlang C: the queue of docs/metrics.md section 5 ("Intraday") as an M/M/N system.

Arrivals are Poisson at ``rate`` contacts per second, handle times exponential with mean
``aht_s``, ``agents`` agents serve one FIFO queue and nobody abandons. With the offered
traffic A = rate × AHT (Erlangs) and N > A agents:

- probability of waiting ``P(W > 0) = C(N, A)``, the Erlang C formula, computed through the
  Erlang B recursion ``B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1))``,
  ``C = N·B(N) / (N − A·(1 − B(N)))`` (no factorials: exact to float precision for any N);
- service level ``SL(T) = 1 − C · exp(−(N − A) · T / AHT)``;
- average speed of answer ``ASA = C · AHT / (N − A)``;
- occupancy ``A / N``.

With N ≤ A the queue grows without bound: C = 1, SL = 0, ASA infinite.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Final

MAX_AGENTS: Final = 10_000
# Publishing computes the same figures turn after turn (a forecast interval's required
# agents, the service level of a staffing level): pure functions of their arguments, kept.
CACHED: Final = 65_536


def traffic(rate_per_s: float, aht_s: float) -> float:
    """Offered traffic in Erlangs."""
    return max(0.0, rate_per_s) * max(0.0, aht_s)


def erlang_b(agents: int, erlangs: float) -> float:
    """Blocking probability of ``agents`` servers offered ``erlangs`` (no queue)."""
    b = 1.0
    for k in range(1, agents + 1):
        b = erlangs * b / (k + erlangs * b)
    return b


def erlang_c(agents: int, erlangs: float) -> float:
    """Probability that a contact waits at all."""
    if erlangs <= 0:
        return 0.0
    if agents <= erlangs:
        return 1.0
    b = erlang_b(agents, erlangs)
    return agents * b / (agents - erlangs * (1 - b))


@lru_cache(maxsize=CACHED)
def service_level(agents: int, rate_per_s: float, aht_s: float, threshold_s: float) -> float:
    """Share of contacts answered within ``threshold_s``."""
    a = traffic(rate_per_s, aht_s)
    if a <= 0:
        return 1.0
    if agents <= a:
        return 0.0
    c = erlang_c(agents, a)
    return max(0.0, 1.0 - c * math.exp(-(agents - a) * threshold_s / aht_s))


def asa_s(agents: int, rate_per_s: float, aht_s: float) -> float:
    """Average speed of answer (seconds); infinite when the queue grows without bound."""
    a = traffic(rate_per_s, aht_s)
    if a <= 0:
        return 0.0
    if agents <= a:
        return math.inf
    return erlang_c(agents, a) * aht_s / (agents - a)


@lru_cache(maxsize=CACHED)
def agents_needed(rate_per_s: float, aht_s: float, threshold_s: float, target: float,
                  max_occupancy: float = 1.0) -> int:
    """The fewest agents whose service level within ``threshold_s`` reaches ``target``
    (and whose occupancy A / N is at most ``max_occupancy``). 0 when nothing is offered.

    :func:`service_level` of N, N + 1, ... until it reaches the target, with the Erlang B
    recursion carried from one N to the next (the same operations in the same order, so
    the same floats, in O(N) rather than O(N²))."""
    a = traffic(rate_per_s, aht_s)
    if a <= 0:
        return 0
    n = max(1, math.floor(a) + 1)
    if max_occupancy < 1.0:
        n = max(n, math.ceil(a / max_occupancy))
    b = 1.0
    for k in range(1, min(n, MAX_AGENTS)):
        b = a * b / (k + a * b)
    while n < MAX_AGENTS:
        b = a * b / (n + a * b)  # B(n)
        c = n * b / (n - a * (1 - b))  # C(n): n > a here
        if max(0.0, 1.0 - c * math.exp(-(n - a) * threshold_s / aht_s)) >= target:
            return n
        n += 1
    return MAX_AGENTS


def service_level_fractional(agents: float, rate_per_s: float, aht_s: float,
                             threshold_s: float) -> float:
    """:func:`service_level` for an average number of agents (an interval's staffed time ÷
    its length): linear between the whole numbers around it."""
    low = math.floor(agents)
    sl_low = service_level(low, rate_per_s, aht_s, threshold_s) if low > 0 else 0.0
    if agents == low:
        return sl_low
    sl_high = service_level(low + 1, rate_per_s, aht_s, threshold_s)
    return sl_low + (agents - low) * (sl_high - sl_low)

"""Erlang C against published values and an independent textbook computation."""

from __future__ import annotations

import math

import pytest

from stream.wfm import erlang


def erlang_c_by_factorials(n: int, a: float) -> float:
    """The textbook form, term by term: (A^N/N! · N/(N−A)) ÷ (Σ_{k<N} A^k/k! + that)."""
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


# Call Centre Helper, "Erlang C Formula – Made Simple With an Easy Worked Example"
# (callcentrehelper.com): 100 calls in 30 minutes, AHT 180 s, 80 % within 20 s.
# Traffic 10 Erlangs; with 11 agents the probability of waiting is 68.21 % and the service
# level 39 %; 14 agents are needed (raw, before shrinkage), with an ASA of 7.8 s and an
# occupancy of 71.4 %.
RATE = 100 / 1800
AHT = 180.0


def test_the_classic_worked_example() -> None:
    assert erlang.traffic(RATE, AHT) == pytest.approx(10.0)
    assert erlang.erlang_c(11, 10.0) == pytest.approx(0.6821, abs=5e-5)
    assert erlang.service_level(11, RATE, AHT, 20) == pytest.approx(0.39, abs=5e-3)
    assert erlang.agents_needed(RATE, AHT, 20, 0.80) == 14
    assert erlang.asa_s(14, RATE, AHT) == pytest.approx(7.8, abs=0.05)
    assert erlang.traffic(RATE, AHT) / 14 == pytest.approx(0.714, abs=5e-4)


def test_service_level_grows_with_agents_and_crosses_the_target_at_the_answer() -> None:
    levels = [erlang.service_level(n, RATE, AHT, 20) for n in range(10, 17)]
    assert levels == sorted(levels)
    assert levels[0] == 0.0  # N = A: the queue grows without bound
    assert levels[3] < 0.80 <= levels[4]  # 13 agents short, 14 enough


@pytest.mark.parametrize(("n", "a"), [(2, 1.5), (11, 10.0), (25, 20.0), (60, 55.5),
                                      (120, 100.0)])
def test_the_recursion_equals_the_factorial_form(n: int, a: float) -> None:
    assert erlang.erlang_c(n, a) == pytest.approx(erlang_c_by_factorials(n, a), rel=1e-9)


def test_edge_cases() -> None:
    assert erlang.agents_needed(0.0, 180, 20, 0.8) == 0
    assert erlang.service_level(0, 0.0, 180, 20) == 1.0
    assert erlang.asa_s(5, 1.0, 10.0) == math.inf
    # an occupancy cap raises the answer when it binds: 10 Erlangs at most 0.6 busy
    assert erlang.agents_needed(RATE, AHT, 20, 0.8, max_occupancy=0.6) == 17
    # fractional agents: between the whole numbers around them
    low, high = (erlang.service_level(n, RATE, AHT, 20) for n in (12, 13))
    assert erlang.service_level_fractional(12.5, RATE, AHT, 20) == pytest.approx(
        (low + high) / 2)


def _fewest_by_definition(rate: float, aht: float, threshold: float, target: float,
                          max_occupancy: float) -> int:
    """The definition, searched the slow way: the first N above the traffic (and within the
    occupancy) whose service level reaches the target."""
    a = erlang.traffic(rate, aht)
    if a <= 0:
        return 0
    n = 1
    while n <= a or n < a / max_occupancy or (
            erlang.service_level(n, rate, aht, threshold) < target):
        n += 1
    return n


@pytest.mark.parametrize("max_occupancy", [1.0, 0.85])
def test_agents_needed_is_the_fewest_agents_whose_service_level_reaches_the_target(
        max_occupancy: float) -> None:
    for rate in (0.001, 0.02, 0.1, 0.5, 1.7, 4.0):
        for aht in (30.0, 180.0, 420.0):
            for threshold, target in ((20.0, 0.8), (60.0, 0.9), (10.0, 0.95)):
                assert erlang.agents_needed(rate, aht, threshold, target, max_occupancy) == (
                    _fewest_by_definition(rate, aht, threshold, target, max_occupancy)), (
                    rate, aht, threshold, target)

"""How often the worker publishes: its interval live, fewer turns while it catches up (the
processor found messages waiting whenever it asked: it hardly waited)."""

from __future__ import annotations

import pytest

from stream.publisher import BEHIND_WAIT_SHARE, PUBLISH_SHARE, turn_spacing


def test_live_turns_keep_the_interval_however_long_they_compute() -> None:
    # the processor waited for messages 40 % of the last 0.125 s (its batch window and more)
    assert turn_spacing(0.125, turn_s=0.08, waited_s=0.05, period_s=0.125) == 0.125


def test_while_the_processor_is_behind_turns_take_at_most_their_share() -> None:
    spacing = turn_spacing(0.1, turn_s=0.08, waited_s=0.0, period_s=1.0)
    assert spacing == pytest.approx(0.08 / PUBLISH_SHARE)
    assert spacing > 0.1


def test_a_cheap_turn_keeps_the_interval_even_behind() -> None:
    assert turn_spacing(0.25, turn_s=0.01, waited_s=0.0, period_s=1.0) == 0.25


def test_behind_means_waiting_less_than_the_share() -> None:
    at = BEHIND_WAIT_SHARE * 2.0
    assert turn_spacing(0.1, 0.5, at, 2.0) == 0.1
    assert turn_spacing(0.1, 0.5, at - 0.01, 2.0) == pytest.approx(0.5 / PUBLISH_SHARE)
    assert turn_spacing(0.1, 0.5, 0.0, 0.0) == 0.1  # the first turn

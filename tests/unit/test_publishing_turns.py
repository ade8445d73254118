"""How often the worker publishes: its interval live, fewer turns while it catches up (what
it has still to process would take it more than a second at its pace)."""

from __future__ import annotations

import pytest

from stream.progress import totals_with
from stream.publisher import BEHIND_BACKLOG_S, PUBLISH_SHARE, is_behind, turn_spacing


def test_live_turns_keep_the_interval_however_long_they_compute() -> None:
    assert turn_spacing(0.125, turn_s=0.08, behind=False) == 0.125


def test_while_the_worker_is_behind_turns_take_at_most_their_share() -> None:
    spacing = turn_spacing(0.1, turn_s=0.08, behind=True)
    assert spacing == pytest.approx(0.08 / PUBLISH_SHARE)
    assert spacing > 0.1


def test_a_cheap_turn_keeps_the_interval_even_behind() -> None:
    assert turn_spacing(0.25, turn_s=0.01, behind=True) == 0.25


def test_live_traffic_is_not_behind_a_catch_up_is() -> None:
    # live at 5k events/s, one event a message: ~375 messages in flight, 625 taken a turn
    assert not is_behind(backlog=375, taken=625, period_s=0.125)
    # batched, live: a few messages a partition
    assert not is_behind(backlog=8, taken=24, period_s=0.125)
    # a replay: 2,000 messages of 500 events at 60 messages a second
    assert is_behind(backlog=2000, taken=90, period_s=1.5)


def test_behind_means_more_than_a_second_of_backlog_at_the_last_pace() -> None:
    pace = 100 / 0.5  # messages a second
    at = round(BEHIND_BACKLOG_S * pace)
    assert not is_behind(at, 100, 0.5)
    assert is_behind(at + 1, 100, 0.5)
    assert is_behind(5, 0, 0.5)  # a backlog and nothing taken
    assert not is_behind(0, 0, 0.5)  # nothing to read
    assert not is_behind(50, 0, 0.0)  # the first turn


def test_a_turns_totals_count_its_own_partitions_as_it_has_them_and_the_others_as_stored() -> None:
    stored = {b"0": b"10,1", b"1": b"20,2"}
    assert totals_with(stored, {1: (25, 3), 2: (5, 0)}) == {"processed": 40, "dead_letters": 4}

"""The gateway's pure logic: update merge, gap detection, subscriptions (and the update
interval a client asks for), subscription filters, coalescing."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from gateway.state import (
    MAX_UPDATE_INTERVAL_S,
    Change,
    Feed,
    Outcome,
    SubscribeRequest,
    Subscription,
    TenantState,
    apply_to_snapshot,
    check_update_interval,
    coalesce,
    diff_snapshots,
    empty_removed,
)
from stream.settings import Settings

Json = dict[str, Any]


def queue(waiting: int, answered: int = 0) -> Json:
    return {"waiting": waiting, "answered": answered, "service_level": None}


def agent(name: str, queues: list[str], team: str, state: str = "available") -> Json:
    return {"name": name, "state": state, "queues": queues, "team": team, "handled": 0}


def intervals(*offered: int) -> Json:
    """An ``intervals`` entry: one row per 15 minutes from 09:00 (the last one open)."""
    rows = []
    for i, count in enumerate(offered):
        start = f"2026-11-22T09:{15 * i:02d}:00+00:00"
        rows.append({"interval_start": start, "offered": count,
                     "status": "open" if i == len(offered) - 1 else "closed"})
    return {"rows": rows}


def snapshot(seq: int = 1) -> Json:
    return {
        "tenant": "default", "seq": seq, "as_of_epoch": 100.0, "dead_letters": 0,
        "queues": {"billing": queue(1), "sales": queue(2)},
        "intervals": {"billing": intervals(4, 2), "sales": intervals(7)},
        "teams": {"Blue": {"agents": {"available": 1}}, "Red": {"agents": {"available": 1}}},
        "agents": {
            "a1": agent("Ana", ["billing"], "Blue"),
            "a2": agent("Bo", ["sales"], "Red"),
            "a3": agent("Cy", ["billing", "sales"], "Red"),
        },
        # workforce management: adherence by agent, intraday by queue
        "adherence": {name: {"team": entry["team"], "queues": entry["queues"], "status": "in"}
                      for name, entry in (("a1", agent("Ana", ["billing"], "Blue")),
                                          ("a2", agent("Bo", ["sales"], "Red")))},
        "intraday": {"billing": {"volume_ratio": 1.1}, "sales": {"volume_ratio": 0.9}},
    }


def update(seq: int, **fields: Any) -> Json:
    base: Json = {"tenant": "default", "seq": seq, "as_of_epoch": 100.0 + seq,
                  "queues": {}, "teams": {}, "agents": {}, "intervals": {},
                  "removed": empty_removed()}
    base.update(fields)
    return base


# --- merging updates into the state -------------------------------------------------------


def test_update_replaces_entries_whole_deletes_removed_and_takes_scalars() -> None:
    state = TenantState.from_snapshot(snapshot(), "default")
    outcome, change = state.apply(update(
        2, queues={"billing": {"waiting": 5}}, dead_letters=3,
        intervals={"billing": intervals(4, 3)},
        removed={"queues": ["sales"], "teams": [], "agents": ["a2"], "intervals": ["sales"]}))
    assert outcome is Outcome.APPLIED and change is not None
    assert state.snapshot["queues"] == {"billing": {"waiting": 5}}  # entry-level replace
    assert state.snapshot["intervals"] == {"billing": intervals(4, 3)}
    assert set(state.snapshot["agents"]) == {"a1", "a3"}
    assert state.snapshot["dead_letters"] == 3 and state.seq == 2
    assert state.snapshot["as_of_epoch"] == 102.0
    assert change.previous_agents == {"a2": snapshot()["agents"]["a2"]}


@pytest.mark.parametrize(("seq", "expected"), [
    (1, Outcome.STALE), (0, Outcome.STALE), (3, Outcome.GAP), (9, Outcome.GAP),
])
def test_only_the_next_seq_applies(seq: int, expected: Outcome) -> None:
    state = TenantState.from_snapshot(snapshot(seq=1), "default")
    before = copy.deepcopy(state.snapshot)
    outcome, change = state.apply(update(seq, queues={"billing": queue(9)}))
    assert (outcome, change) == (expected, None)
    assert state.snapshot == before


def test_force_applies_after_a_gap_that_the_snapshot_cannot_close() -> None:
    state = TenantState.from_snapshot(snapshot(seq=1), "default")
    outcome, _ = state.apply(update(7, queues={"billing": queue(9)}), force=True)
    assert outcome is Outcome.APPLIED
    assert state.seq == 7 and state.snapshot["queues"]["billing"]["waiting"] == 9


def test_update_without_integer_seq_is_rejected() -> None:
    state = TenantState.from_snapshot(snapshot(), "default")
    with pytest.raises(ValueError, match="seq"):
        state.apply({"queues": {}})
    with pytest.raises(ValueError, match="seq"):
        state.apply({"seq": True})


def test_replace_yields_the_difference_as_an_update() -> None:
    state = TenantState.from_snapshot(snapshot(seq=1), "default")
    newer = snapshot(seq=5)
    newer["queues"]["billing"] = queue(7)
    newer["intervals"]["billing"] = intervals(4, 2, 1)
    del newer["intervals"]["sales"]
    del newer["agents"]["a2"]
    change = state.replace(newer)
    assert change.update["queues"] == {"billing": queue(7)}
    assert change.update["intervals"] == {"billing": intervals(4, 2, 1)}
    assert change.update["removed"]["intervals"] == ["sales"]
    assert change.update["removed"]["agents"] == ["a2"]
    assert change.update["agents"] == {} and change.update["seq"] == 5
    assert change.previous_agents["a2"] == snapshot()["agents"]["a2"]
    assert state.snapshot == newer


def test_diff_then_apply_reproduces_the_new_snapshot() -> None:
    old, new = snapshot(seq=1), snapshot(seq=3)
    new["agents"]["a4"] = agent("Di", ["sales"], "Blue")
    new["teams"].pop("Red")
    new["intervals"]["sales"] = intervals(7, 1)
    new["intervals"]["retention"] = intervals(0)
    assert apply_to_snapshot(old, diff_snapshots(old, new)) == new


# --- subscriptions ----------------------------------------------------------------------


MIN_S = 0.05  # the gateway's client_min_update_interval_s, as a test sets it


def from_query(query: str) -> SubscribeRequest:
    return SubscribeRequest.from_query(query, min_interval_s=MIN_S)


def from_message(message: Json) -> SubscribeRequest:
    return SubscribeRequest.from_message(message, min_interval_s=MIN_S)


def test_subscription_from_query() -> None:
    sub = from_query("tenant=acme&queues=billing,sales&teams=Team%20Blue").subscription
    assert sub == Subscription("acme", frozenset({"billing", "sales"}), frozenset({"Team Blue"}))
    assert from_query("") == SubscribeRequest(Subscription("default"))
    assert from_query("queues=") == SubscribeRequest(Subscription("default"))


@pytest.mark.parametrize("message", [
    {"type": "subscribe", "tenant": 5},
    {"type": "subscribe", "queues": "billing"},
    {"type": "subscribe", "teams": [1]},
    {"type": "subscribe", "tenant": "../etc"},
    {"type": "subscribe", "queues": [f"q{i}" for i in range(1001)]},
])
def test_malformed_subscribe_is_a_value_error(message: Json) -> None:
    with pytest.raises(ValueError):
        from_message(message)


def test_without_an_interval_the_request_leaves_it_to_the_gateway() -> None:
    assert from_message({"type": "subscribe"}).interval_s is None
    assert from_message({"type": "subscribe", "interval_s": None}).interval_s is None
    assert from_query("tenant=default").interval_s is None
    assert from_query("interval_s=").interval_s is None
    assert from_query("interval_s=%20").interval_s is None


@pytest.mark.parametrize(("query", "message", "expected"), [
    ("interval_s=0.1", {"interval_s": 0.1}, 0.1),
    ("interval_s=2", {"interval_s": 2}, 2.0),
    ("interval_s=0.05", {"interval_s": 0.05}, MIN_S),  # the bounds are allowed
    ("interval_s=5", {"interval_s": 5}, MAX_UPDATE_INTERVAL_S),
    ("interval_s=1e-1", {"interval_s": 1e-1}, 0.1),
    ("interval_s=9&interval_s=0.5", {"interval_s": 0.5}, 0.5),  # the last one, as tenant
])
def test_an_interval_reads_the_same_from_the_url_and_the_message(
        query: str, message: Json, expected: float) -> None:
    by_url, by_message = from_query(query), from_message({"type": "subscribe", **message})
    assert by_url.interval_s == by_message.interval_s == expected
    assert isinstance(by_url.interval_s, float) and isinstance(by_message.interval_s, float)
    assert by_url.subscription == by_message.subscription == Subscription()


@pytest.mark.parametrize("value", [0.01, 0.0499, 0, -1, 5.01, 60, "inf", "nan", "-inf"])
def test_an_interval_out_of_range_is_refused_not_clamped(value: float | str) -> None:
    for ask in (lambda: from_query(f"interval_s={value}"),
                lambda: from_message({"type": "subscribe", "interval_s": float(value)})):
        with pytest.raises(ValueError, match=r"interval_s must be a number of seconds from "
                                             r"0\.05 to 5"):
            ask()


@pytest.mark.parametrize("query", ["interval_s=fast", "interval_s=0,1", "interval_s=100ms",
                                   "interval_s=0x10"])
def test_an_interval_in_the_url_that_is_not_a_number_is_refused(query: str) -> None:
    with pytest.raises(ValueError, match="interval_s must be a number"):
        from_query(query)


@pytest.mark.parametrize("value", ["0.1", True, [0.1], {"s": 0.1}])
def test_an_interval_in_a_message_must_be_a_json_number(value: object) -> None:
    with pytest.raises(ValueError, match="interval_s must be a number"):
        from_message({"type": "subscribe", "interval_s": value})


def test_the_shortest_interval_is_the_callers() -> None:
    assert SubscribeRequest.from_query("interval_s=0.02", min_interval_s=0.01).interval_s == 0.02
    with pytest.raises(ValueError, match="from 0.2 to 5"):
        SubscribeRequest.from_message({"interval_s": 0.1}, min_interval_s=0.2)
    assert check_update_interval(0.1, 0.05, max_s=0.1) == 0.1
    with pytest.raises(ValueError, match="from 0.05 to 0.1"):
        check_update_interval(0.2, 0.05, max_s=0.1)


def test_interval_settings_defaults_env_and_the_default_within_the_shortest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert (settings.publish_interval_s, settings.client_update_interval_s,
            settings.client_min_update_interval_s) == (0.125, 0.25, 0.05)
    monkeypatch.setenv("FLOORPULSE_CLIENT_MIN_UPDATE_INTERVAL_S", "0.02")
    assert Settings().client_min_update_interval_s == 0.02
    with pytest.raises(ValidationError, match="client_update_interval_s must be at least"):
        Settings(client_update_interval_s=0.1, client_min_update_interval_s=0.2)


def test_no_filter_shows_everything() -> None:
    assert Subscription().filter_snapshot(snapshot()) == snapshot()


@pytest.mark.parametrize(("queues", "teams", "shown_queues", "shown_teams", "shown_agents"), [
    ({"billing"}, set(), {"billing"}, {"Blue", "Red"}, {"a1", "a3"}),
    ({"sales"}, set(), {"sales"}, {"Blue", "Red"}, {"a2", "a3"}),
    (set(), {"Blue"}, {"billing", "sales"}, {"Blue"}, {"a1"}),
    ({"sales"}, {"Blue"}, {"sales"}, {"Blue"}, {"a1", "a2", "a3"}),
    ({"nowhere"}, set(), set(), {"Blue", "Red"}, set()),
])
def test_filter_snapshot(queues: set[str], teams: set[str], shown_queues: set[str],
                         shown_teams: set[str], shown_agents: set[str]) -> None:
    view = Subscription("default", frozenset(queues), frozenset(teams)).filter_snapshot(snapshot())
    assert set(view["queues"]) == shown_queues
    assert set(view["intervals"]) == shown_queues  # a queue's intervals go with the queue
    assert set(view["teams"]) == shown_teams
    assert set(view["agents"]) == shown_agents
    assert set(view["adherence"]) == shown_agents - {"a3"}  # a3 has no adherence entry
    assert set(view["intraday"]) == shown_queues
    assert view["seq"] == 1 and view["as_of_epoch"] == 100.0


def test_filter_change_removes_an_agent_that_stops_matching() -> None:
    state = TenantState.from_snapshot(snapshot(), "default")
    sub = Subscription("default", frozenset({"billing"}))
    _, change = state.apply(update(
        2, queues={"sales": queue(4), "billing": queue(3)},
        agents={"a1": agent("Ana", ["sales"], "Blue"),  # re-skilled away from billing
                "a2": agent("Bo", ["sales"], "Red", "aux")},  # never shown
        removed={"queues": ["sales"], "teams": [], "agents": ["a3"]}))
    assert change is not None
    view = sub.filter_change(change)
    assert view["queues"] == {"billing": queue(3)}
    assert view["agents"] == {}
    assert sorted(view["removed"]["agents"]) == ["a1", "a3"]
    assert view["removed"]["queues"] == []
    assert view["seq"] == 2


def test_filter_change_shows_intervals_iff_their_queue_is_shown() -> None:
    state = TenantState.from_snapshot(snapshot(), "default")
    _, change = state.apply(update(
        2, intervals={"billing": intervals(4, 2, 5), "sales": intervals(8)},
        removed={"queues": [], "teams": [], "agents": [], "intervals": ["sales", "billing"]}))
    assert change is not None
    view = Subscription("default", frozenset({"sales"})).filter_change(change)
    assert view["intervals"] == {"sales": intervals(8)}
    assert view["removed"]["intervals"] == ["sales"]
    by_team = Subscription("default", teams=frozenset({"Blue"})).filter_change(change)
    assert set(by_team["intervals"]) == {"billing", "sales"}  # no queue filter: all queues
    assert Subscription().filter_change(change) is change.update


def test_filter_change_adds_an_agent_that_starts_matching() -> None:
    state = TenantState.from_snapshot(snapshot(), "default")
    moved = agent("Bo", ["sales", "billing"], "Red")
    _, change = state.apply(update(2, agents={"a2": moved}))
    assert change is not None
    view = Subscription("default", frozenset({"billing"})).filter_change(change)
    assert view["agents"] == {"a2": moved} and view["removed"]["agents"] == []


# --- coalescing ---------------------------------------------------------------------------


def test_coalesce_equals_applying_in_turn() -> None:
    updates = [
        update(2, queues={"billing": queue(2)}),
        update(3, agents={"a1": agent("Ana", ["billing"], "Blue", "aux")},
               removed={"queues": ["sales"], "teams": [], "agents": []}),
        update(4, queues={"sales": queue(8)}, removed={"queues": [], "teams": [],
                                                       "agents": ["a2"]}),
        update(5, agents={"a2": agent("Bo", ["sales"], "Red", "acw")}, dead_letters=4),
        update(6, intervals={"billing": intervals(4, 2, 1)},
               removed={"queues": [], "teams": [], "agents": [], "intervals": ["sales"]}),
        update(7, intervals={"billing": intervals(4, 2, 3), "sales": intervals(9)}),
        update(8, removed={"queues": [], "teams": [], "agents": [], "intervals": ["billing"]}),
    ]
    originals = copy.deepcopy(updates)
    stepwise = snapshot()
    pending = None
    for item in updates:
        stepwise = apply_to_snapshot(stepwise, item)
        pending = coalesce(pending, item)
    assert pending is not None
    assert updates == originals  # inputs untouched
    assert apply_to_snapshot(snapshot(), pending) == stepwise
    # a name is never both an entry and a removal
    for kind in ("queues", "teams", "agents", "intervals"):
        assert not set(pending[kind]) & set(pending["removed"][kind])
    assert pending["seq"] == 8 and pending["dead_letters"] == 4
    assert pending["intervals"] == {"sales": intervals(9)}
    assert pending["removed"]["intervals"] == ["billing"]


def test_coalesce_keeps_a_removal_of_a_re_added_then_removed_name() -> None:
    pending = coalesce(None, update(2, queues={"x": queue(1)}))
    pending = coalesce(pending, update(3, removed={"queues": ["x"], "teams": [],
                                                   "agents": []}))
    assert pending["queues"] == {} and pending["removed"]["queues"] == ["x"]


def test_change_defaults() -> None:
    change = Change({"seq": 1})
    assert change.previous_agents == {}


# --- feeds: one per subscription, shared by its clients ------------------------------------


def feed_updates() -> list[Json]:
    return [
        update(2, queues={"billing": queue(2)}),
        update(3, agents={"a1": agent("Ana", ["billing"], "Blue", "aux")}),
        update(4, queues={"sales": queue(8)}, removed={"queues": [], "teams": [],
                                                       "agents": ["a2"]}),
        update(5, agents={"a3": agent("Cy", ["sales"], "Red", "acw")}),
    ]


def test_a_feed_brings_a_client_from_any_version_to_the_state_of_now() -> None:
    subscription = Subscription(queues=frozenset({"billing"}))
    feed = Feed(subscription)
    state = TenantState.from_snapshot(snapshot(), "default")
    seen = [subscription.filter_snapshot(state.snapshot)]  # what a client holds per version
    for item in feed_updates():
        _, change = state.apply(item)
        assert change is not None
        feed.push(change)
        seen.append(subscription.filter_snapshot(state.snapshot))
    assert feed.version == 4
    assert feed.update_since(4) == b""
    for version in range(4):
        message = feed.update_since(version)
        assert message is not None
        decoded = orjson.loads(message)
        assert decoded["type"] == "update" and decoded["tenant"] == "default"
        assert apply_to_snapshot(seen[version], decoded["data"]) == seen[4]
    # every client at the same version gets the very same bytes (encoded once)
    assert feed.update_since(1) is feed.update_since(1)


def test_a_feed_sends_a_client_too_far_behind_to_a_snapshot() -> None:
    feed = Feed(Subscription(), history=2)
    state = TenantState.from_snapshot(snapshot(), "default")
    for item in feed_updates():
        _, change = state.apply(item)
        assert change is not None
        feed.push(change)
    assert feed.update_since(2) is not None
    assert feed.update_since(1) is None
    message = orjson.loads(feed.snapshot(lambda sub: sub.filter_snapshot(state.snapshot)))
    assert message["type"] == "snapshot" and message["data"]["seq"] == 5
    # the snapshot is built once per version, then a new change invalidates it
    first = feed.snapshot(lambda sub: {"seq": -1})
    assert orjson.loads(first)["data"]["seq"] == 5
    _, change = state.apply(update(6))
    assert change is not None
    feed.push(change)
    assert orjson.loads(feed.snapshot(lambda sub: {"seq": -1}))["data"]["seq"] == -1

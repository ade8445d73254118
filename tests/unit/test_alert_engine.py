"""The alert engine on plain figure sequences: thresholds, for-durations both ways,
hysteresis, one open alert per rule and scope, acknowledgement, and state round trips."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from stream.alerts.engine import (
    AlertEngine,
    AlertTransition,
    AlreadyAcknowledged,
    UnknownAlert,
    alert_id,
)
from stream.alerts.metrics import Scope
from stream.alerts.rules import Rule, default_rules

T0 = 1_795_420_800_000  # 2026-11-23T08:00:00Z
STEP = 10_000


def rule(**fields: Any) -> Rule:
    body: dict[str, Any] = {"id": "waiting-high", "metric": "queue.waiting", "op": ">",
                            "threshold": 10, "message": "{queue}: {value:g} waiting"}
    return Rule.model_validate(body | fields)


def queues(tenant: str = "default", **entries: dict[str, Any]) -> dict[str, Any]:
    return {"tenant": tenant, "queues": entries, "teams": {}, "agents": {}}


def waiting(n: float | None, queue: str = "billing", tenant: str = "default") -> dict[str, Any]:
    """``n`` as both the waiting contacts and the ASA (which can be undefined)."""
    return queues(tenant, **{queue: {"waiting": n, "asa_s": n}})


def run(engine: AlertEngine, values: Sequence[float | None], start: int = 0,
        ) -> list[tuple[str, int, float | None]]:
    """Evaluate values at 10-s steps; (state, step, value) per transition."""
    out = []
    for i, value in enumerate(values):
        for t in engine.evaluate(waiting(value), T0 + (start + i) * STEP):
            out.append((t.state, (t.at_ms - T0) // STEP, t.value))
    return out


# ------------------------------------------------------------------ thresholds and for
@pytest.mark.parametrize(("fields", "values", "expected"), [
    # No for: raise at the first breach, clear at the first value back.
    ({}, [5, 11, 12, 10, 9], [("raised", 1, 11), ("cleared", 3, 10)]),
    # > is strict, >= is not.
    ({}, [10, 10], []),
    ({"op": ">="}, [10, 9], [("raised", 0, 10), ("cleared", 1, 9)]),
    # for 30 s: the condition must hold at 4 evaluations 30 s apart.
    ({"for": "30s"}, [11, 11, 11, 11, 11], [("raised", 3, 11)]),
    ({"for": "30s"}, [11, 11, 11, 9, 11, 11, 11, 11], [("raised", 7, 11)]),
    # clear_for defaults to for.
    ({"for": "20s"}, [11, 11, 11, 5, 5, 11, 5, 5, 5],
     [("raised", 2, 11), ("cleared", 8, 5)]),
    ({"for": "20s", "clear_for": 0}, [11, 11, 11, 5], [("raised", 2, 11), ("cleared", 3, 5)]),
    # Below: < with a clear threshold above.
    ({"op": "<", "threshold": 3, "clear_threshold": 5}, [4, 2, 3, 4, 5],
     [("raised", 1, 2), ("cleared", 4, 5)]),
    # An undefined value never raises, and counts towards clearing.
    ({"metric": "queue.asa_s"}, [None, 11, None], [("raised", 1, 11), ("cleared", 2, None)]),
    ({"metric": "queue.asa_s", "for": "10s"}, [11, None, 11, 11], [("raised", 3, 11)]),
])
def test_transitions_on_a_figure_sequence(fields: dict[str, Any], values: list[float | None],
                                          expected: list[tuple[str, int, float]]) -> None:
    assert run(AlertEngine([rule(**fields)]), values) == expected


def test_hysteresis_keeps_the_alert_open_between_the_thresholds() -> None:
    engine = AlertEngine([rule(clear_threshold=6)])
    assert run(engine, [11, 10, 8, 7, 9, 6, 11]) == [
        ("raised", 0, 11), ("cleared", 5, 6), ("raised", 6, 11)]


def test_a_noisy_figure_around_the_threshold_does_not_flap() -> None:
    noisy = [9, 11, 10, 12, 9, 11, 10, 11, 9, 12] * 6  # crosses the threshold every step
    assert len(run(AlertEngine([rule()]), noisy)) > 20  # without protection: flapping
    steady = AlertEngine([rule(clear_threshold=6)])
    assert run(steady, noisy + [5]) == [("raised", 1, 11), ("cleared", 60, 5)]
    patient = AlertEngine([rule(**{"for": "30s"})])
    assert run(patient, noisy) == []


def test_one_open_alert_per_rule_and_scope() -> None:
    engine = AlertEngine([rule()])
    transitions = []
    for i in range(100):
        transitions += engine.evaluate(queues(billing={"waiting": 20}, sales={"waiting": 20}),
                                       T0 + i * STEP)
    assert [(t.state, t.scope.queue) for t in transitions] == [
        ("raised", "billing"), ("raised", "sales")]
    assert len(engine.open_alerts()) == 2
    cleared = engine.evaluate(queues(billing={"waiting": 0}, sales={"waiting": 20}),
                              T0 + 100 * STEP)
    assert [(t.state, t.scope.queue) for t in cleared] == [("cleared", "billing")]
    again = engine.evaluate(queues(billing={"waiting": 20}, sales={"waiting": 20}),
                            T0 + 101 * STEP)
    assert [(t.state, t.scope.queue) for t in again] == [("raised", "billing")]
    assert again[0].alert_id != transitions[0].alert_id


def test_a_scope_that_goes_away_clears_after_clear_for() -> None:
    engine = AlertEngine([rule(clear_for="20s")])
    assert [t.state for t in engine.evaluate(waiting(20), T0)] == ["raised"]
    assert engine.evaluate(queues(), T0 + STEP) == []
    assert engine.evaluate(queues(), T0 + 2 * STEP) == []
    (cleared,) = engine.evaluate(queues(), T0 + 3 * STEP)
    assert (cleared.state, cleared.value, cleared.held_since_ms) == ("cleared", None, T0 + STEP)


def test_scope_filters_limit_the_rule() -> None:
    engine = AlertEngine([rule(scope={"queues": ["sales"]})])
    out = engine.evaluate(queues(billing={"waiting": 20}, sales={"waiting": 20}), T0)
    assert [t.scope for t in out] == [Scope("default", queue="sales")]


def test_evaluating_an_instant_again_changes_nothing() -> None:
    engine = AlertEngine([rule()])
    assert len(engine.evaluate(waiting(20), T0)) == 1
    assert engine.evaluate(waiting(0), T0) == []
    assert engine.evaluate(waiting(0), T0 - STEP) == []
    assert [t.state for t in engine.evaluate(waiting(0), T0 + STEP)] == ["cleared"]


def test_tenants_are_evaluated_apart() -> None:
    engine = AlertEngine([rule()])
    assert len(engine.evaluate(waiting(20, tenant="a"), T0)) == 1
    assert len(engine.evaluate(waiting(20, tenant="b"), T0)) == 1  # same instant, other tenant
    # Tenant b's snapshot does not have tenant a's queue, which stays open.
    assert engine.evaluate(queues("b", other={"waiting": 0}), T0 + STEP)[0].scope.tenant == "b"
    assert [a.scope.tenant for a in engine.open_alerts()] == ["a"]
    assert engine.open_alerts("b") == []


# ---------------------------------------------------------------- targets and volumes
def sl(level: float | None, target: float = 0.8, judged: int = 100) -> dict[str, Any]:
    return {"service_level": level, "sl_target": target, "judged": judged, "waiting": 0}


def test_a_target_threshold_is_each_queue_own_target() -> None:
    engine = AlertEngine([rule(id="sl", metric="queue.service_level", op="<", threshold="target",
                               clear_threshold="target + 0.05",
                               message="{queue} {value_text} < {threshold_text}")])
    out = engine.evaluate(queues(billing=sl(0.85, target=0.9), sales=sl(0.85, target=0.8)), T0)
    assert [(t.scope.queue, t.threshold, t.clear_threshold, t.message) for t in out] == [
        ("billing", 0.9, 0.95, "billing 85% < 90%")]
    assert out[0].condition == "queue.service_level < target (0.9)"
    assert engine.evaluate(queues(billing=sl(0.92, target=0.9)), T0 + STEP) == []
    assert [t.state for t in engine.evaluate(queues(billing=sl(0.95, target=0.9)),
                                             T0 + 2 * STEP)] == ["cleared"]


def test_min_volume_makes_a_thin_figure_undefined() -> None:
    engine = AlertEngine([rule(id="sl", metric="queue.service_level", op="<", threshold=0.8,
                               min_volume=10, message="{queue}")])
    assert engine.evaluate(queues(billing=sl(0.0, judged=3)), T0) == []
    assert [t.state for t in engine.evaluate(queues(billing=sl(0.5, judged=10)),
                                             T0 + STEP)] == ["raised"]
    assert [t.state for t in engine.evaluate(queues(billing=sl(0.5, judged=9)),
                                             T0 + 2 * STEP)] == ["cleared"]


def test_worst_value_follows_the_direction_of_the_rule() -> None:
    engine = AlertEngine([rule()])
    run(engine, [11, 30, 12])
    (alert,) = engine.open_alerts()
    assert (alert.value, alert.worst_value) == (12, 30)


# -------------------------------------------------------------------------- aux limits
def agents(now_ms: int, **entries: tuple[str, str | None, int]) -> dict[str, Any]:
    """Agents as (state, reason, since as ms before ``now_ms``)."""
    return {"tenant": "default", "queues": {}, "teams": {}, "agents": {
        agent: {"state": state, "reason": reason, "since_epoch": (now_ms - ago) / 1000,
                "team": "Blue"}
        for agent, (state, reason, ago) in entries.items()}}


def test_each_aux_reason_has_its_own_limit() -> None:
    engine = AlertEngine([r for r in default_rules() if r.metric == "agent.aux_duration_s"])
    minute = 60_000
    now = T0 + 16 * minute
    out = engine.evaluate(agents(now, ana=("aux", "break", 16 * minute),
                                 bo=("aux", "lunch", 16 * minute),
                                 cy=("aux", "meeting", 90 * minute),
                                 di=("available", None, 16 * minute)), now)
    assert [(t.rule_id, t.scope.agent, t.value, t.message) for t in out] == [
        ("break-too-long", "ana", 960.0, "ana (Blue) on break for 16 min (allowed 15 min)")]
    assert out[0].scope == Scope("default", team="Blue", agent="ana", reason="break")
    # An hour and a minute into lunch; ana is still on break (no second alert).
    now += 45 * minute
    out = engine.evaluate(agents(now, ana=("aux", "break", 61 * minute),
                                 bo=("aux", "lunch", 61 * minute)), now)
    assert [(t.rule_id, t.scope.agent) for t in out] == [("lunch-too-long", "bo")]
    # ana goes from break to lunch: the break alert clears; lunch starts from 0.
    now += STEP
    out = engine.evaluate(agents(now, ana=("aux", "lunch", 0),
                                 bo=("aux", "lunch", 61 * minute + STEP)), now)
    assert [(t.state, t.rule_id, t.scope.agent) for t in out] == [
        ("cleared", "break-too-long", "ana")]
    # bo is back: cleared.
    now += STEP
    out = engine.evaluate(agents(now, ana=("aux", "lunch", STEP), bo=("available", None, 0)),
                          now)
    assert [(t.state, t.rule_id, t.scope.agent) for t in out] == [
        ("cleared", "lunch-too-long", "bo")]


def test_time_in_aux_ticks_with_stream_time_between_snapshots() -> None:
    engine = AlertEngine([r for r in default_rules() if r.id == "break-too-long"])
    snapshot = agents(T0, ana=("aux", "break", 0))  # the same figures, evaluated later
    assert engine.evaluate(snapshot, T0 + 900_000) == []
    (raised,) = engine.evaluate(snapshot, T0 + 900_000 + STEP)
    assert raised.value == 910.0


# -------------------------------------------------------------------------- lifecycle
def test_acknowledge_an_open_alert_once() -> None:
    engine = AlertEngine([rule()])
    (raised,) = engine.evaluate(waiting(20), T0)
    assert raised.alert_id == alert_id("waiting-high", Scope("default", queue="billing"), T0)
    assert raised.alert_id == "waiting-high/tenant=default,queue=billing/1795420800000"
    ack = engine.acknowledge(raised.alert_id, "sam", "calling in the backup team", T0 + 5_000)
    assert (ack.state, ack.at_ms, ack.acknowledged_by, ack.comment, ack.acknowledged_at_ms) == (
        "acknowledged", T0 + 5_000, "sam", "calling in the backup team", T0 + 5_000)
    assert (ack.alert_id, ack.raised_at_ms, ack.message) == (
        raised.alert_id, raised.raised_at_ms, raised.message)
    with pytest.raises(AlreadyAcknowledged, match="acknowledged by sam"):
        engine.acknowledge(raised.alert_id, "kim", None, T0 + 6_000)
    assert engine.open_alerts() == [ack]
    (cleared,) = engine.evaluate(waiting(0), T0 + STEP)
    assert (cleared.state, cleared.acknowledged_by, cleared.cleared_at_ms) == (
        "cleared", "sam", T0 + STEP)
    with pytest.raises(UnknownAlert):
        engine.acknowledge(raised.alert_id, "kim", None, T0 + 2 * STEP)


def test_acknowledge_needs_an_open_alert_and_a_person() -> None:
    engine = AlertEngine([rule(**{"for": "1m"})])
    engine.evaluate(waiting(20), T0)  # pending, not raised
    with pytest.raises(UnknownAlert):
        engine.acknowledge("waiting-high/tenant=default,queue=billing/1795420800000", "sam",
                           None, T0)
    (raised,) = engine.evaluate(waiting(20), T0 + 60_000)
    with pytest.raises(ValueError, match="who"):
        engine.acknowledge(raised.alert_id, " ", None, T0)


def test_transition_json_shape_and_round_trip() -> None:
    engine = AlertEngine([rule(severity="critical", audience=["supervisor", "wfm"])])
    (raised,) = engine.evaluate(waiting(20), T0)
    ack = engine.acknowledge(raised.alert_id, "sam", None, T0 + 1)
    data = orjson.loads(orjson.dumps(ack.to_json()))
    assert data == {
        "type": "alert", "state": "acknowledged", "at": "2026-11-23T08:00:00.001+00:00",
        "at_ms": T0 + 1, "alert_id": raised.alert_id, "rule_id": "waiting-high",
        "metric": "queue.waiting", "severity": "critical", "audience": ["supervisor", "wfm"],
        "scope": {"tenant": "default", "queue": "billing", "team": None, "agent": None,
                  "reason": None},
        "value": 20.0, "worst_value": 20.0, "threshold": 10.0, "clear_threshold": 10.0,
        "condition": "queue.waiting > 10", "message": "billing: 20 waiting",
        "held_since": "2026-11-23T08:00:00.000+00:00",
        "raised_at": "2026-11-23T08:00:00.000+00:00",
        "acknowledged_at": "2026-11-23T08:00:00.001+00:00", "acknowledged_by": "sam",
        "comment": None, "cleared_at": None,
    }
    assert AlertTransition.from_json(data) == ack


# ------------------------------------------------------------------------------ state
def test_dump_and_load_continue_exactly_where_they_stopped() -> None:
    rules = [rule(clear_threshold=6, **{"for": "30s"}),
             rule(id="aux", metric="agent.aux_duration_s", threshold=60, message="{agent}")]
    values = [11, 11, 12, 15, 14, 9, 7, 8, 5, 5, 5, 5, 11, 11]
    whole = AlertEngine(rules)
    expected = run(whole, values)
    assert expected == [("raised", 3, 15), ("cleared", 11, 5)]
    for cut in range(1, len(values)):
        first = AlertEngine(rules)
        before = run(first, values[:cut])
        first.evaluate(agents(T0, ana=("aux", "break", 120_000)), T0)
        saved = orjson.loads(orjson.dumps(first.dump()))
        second = AlertEngine(rules)
        second.load(saved)
        assert second.dump() == saved
        assert before + run(second, values[cut:], start=cut) == expected


def test_load_clears_alerts_whose_rule_is_gone() -> None:
    old = AlertEngine([rule(), rule(id="other", message="x")])
    old.evaluate(waiting(20), T0)
    new = AlertEngine([rule()])
    new.load(old.dump())
    assert len(new.open_alerts()) == 2
    out = new.evaluate(waiting(20), T0 + STEP)
    assert [(t.state, t.rule_id) for t in out] == [("cleared", "other")]
    assert [a.rule_id for a in new.open_alerts()] == ["waiting-high"]


def test_load_refuses_an_unknown_state_version() -> None:
    with pytest.raises(ValueError, match="version"):
        AlertEngine([]).load({"version": 99})


def test_rule_ids_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        AlertEngine([rule(), rule()])

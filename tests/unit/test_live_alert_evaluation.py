"""Live evaluation (stream/alerts/live.py): events applied one by one with the rules
evaluated just before each, as the worker does, raise and clear what the backtest does;
the state survives a restart; acknowledgements; the window on the wall clock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import pytest

from stream.alerts.backtest import backtest
from stream.alerts.engine import AlertTransition, AlreadyAcknowledged, UnknownAlert
from stream.alerts.live import LiveAlerts
from stream.alerts.rules import default_rules
from stream.events import EVENT_ADAPTER, Event
from stream.metrics.definitions import to_ms
from stream.metrics.merge import snapshot
from stream.metrics.partition import PartitionState
from stream.report import calendar, new_partition_state, queue_rules
from stream.settings import Settings
from tests.alerts import ALERTING_START, alerting_stream

SETTINGS = Settings(topic_partitions=1)
T0_MS = int(ALERTING_START.timestamp() * 1000)


def events(tenant: str = "default") -> list[Event]:
    return [EVENT_ADAPTER.validate_python(e) for e in alerting_stream(tenant=tenant)]


class Worker:
    """One partition's state and the live alerts over it, as the worker holds them."""

    def __init__(self, window_ms: int | None = None, now_s: float = 0.0) -> None:
        self.state: PartitionState = new_partition_state(SETTINGS, calendar(SETTINGS))
        self.snapshots = 0
        self.now_s = now_s
        self.live = self.new_live(window_ms)

    def new_live(self, window_ms: int | None = None) -> LiveAlerts:
        return LiveAlerts(default_rules(), self.figures, window_ms=window_ms,
                          clock=lambda: self.now_s)

    def figures(self, tenant: str) -> dict[str, object]:
        self.snapshots += 1
        return snapshot(tenant, [self.state.view(tenant)], calendar(SETTINGS),
                        queue_rules(SETTINGS), int(SETTINGS.allowed_lateness_s * 1000),
                        SETTINGS.rolling_minutes)

    def apply(self, stream: Iterable[Event]) -> list[AlertTransition]:
        for event in stream:
            ts = to_ms(event.ts)
            self.live.before(event.tenant, ts)
            if self.state.refusal(event, ts) is None:
                self.live.applied(event.tenant, ts)
        return self.live.take()[0]


def key(t: AlertTransition, tenant: bool = True) -> tuple[str, str, str, float]:
    scope = t.scope.label() if tenant else t.scope.label().partition(",")[2]
    return (t.state, t.rule_id, scope, (t.at_ms - T0_MS) / 1000)


def test_events_applied_one_by_one_raise_and_clear_what_the_backtest_does() -> None:
    stream = events()
    expected = backtest(stream, default_rules(), SETTINGS)
    assert {t.rule_id for t in expected} >= {
        "contacts-waiting-high", "longest-wait-high", "break-too-long"}
    # The last event (1205.5 s) is later than the last instant (1200 s): the worker has
    # evaluated every instant the backtest does.
    assert Worker().apply(stream) == expected
    assert [key(t) for t in expected if t.rule_id == "break-too-long"] == [
        ("raised", "break-too-long", "tenant=default,team=Blue,agent=ana,reason=break", 910),
        ("cleared", "break-too-long", "tenant=default,team=Blue,agent=ana,reason=break", 1200)]


def test_the_figures_are_read_once_per_event_that_closes_instants() -> None:
    worker = Worker()
    stream = events()
    worker.apply(stream)
    # Every event that is the first after an instant closes instants: one per distinct
    # (ts - 1 ms) // 10 s among the events after the first.
    closing = len({int((e.ts - ALERTING_START).total_seconds() * 1000 - 1) // 10_000
                   for e in stream[1:]})
    assert worker.snapshots == closing
    # The stretch from 400 s to 1200 s has no events: its 80 instants, one snapshot.
    assert worker.live.evaluated == 121  # instants 0 s .. 1200 s


def test_a_restart_from_the_stored_state_changes_nothing() -> None:
    stream = events()
    expected = backtest(stream, default_rules(), SETTINGS)
    for cut in (20, 30, len(stream) - 2):  # waiting alert open; both open; break open
        worker = Worker()
        before = worker.apply(stream[:cut])
        stored = {t: worker.live.state(t) for t in worker.live.tenants()}
        worker.live = worker.new_live()  # a new process: the partition state is restored
        for tenant, state in stored.items():  # from the changelog, the alerts from Redis
            worker.live.restore(tenant, state)
        assert before + worker.apply(stream[cut:]) == expected


def test_an_acknowledgement_is_a_transition_kept_across_a_restart() -> None:
    worker = Worker()
    stream = events()
    cut = next(i for i, e in enumerate(stream)
               if e.ts >= ALERTING_START + timedelta(seconds=1200))
    worker.apply(stream[:cut])
    worker.live.evaluate_until("default", T0_MS + 1_000_000)  # stream time at 1000 s
    raised = [t for t in worker.live.take()[0] if t.rule_id == "break-too-long"]
    assert [t.state for t in raised] == ["raised"]
    alert_id = raised[0].alert_id
    with pytest.raises(UnknownAlert):
        worker.live.acknowledge("default", "no-such-alert", "sam", None, 1)
    with pytest.raises(UnknownAlert):
        worker.live.acknowledge("acme", alert_id, "sam", None, 1)
    ack = worker.live.acknowledge("default", alert_id, "sam", "on it", T0_MS + 950_000)
    transitions, changed = worker.live.take()
    assert transitions == [ack] and changed == {"default"}
    assert (ack.state, ack.acknowledged_by, ack.comment) == ("acknowledged", "sam", "on it")
    with pytest.raises(AlreadyAcknowledged):
        worker.live.acknowledge("default", alert_id, "kim", None, T0_MS + 960_000)

    stored = worker.live.state("default")
    worker.live = worker.new_live()
    worker.live.restore("default", stored)
    assert ack in worker.live.open_alerts("default")
    cleared = [t for t in worker.apply(stream[cut:]) if t.rule_id == "break-too-long"]
    assert [(t.state, t.alert_id, t.acknowledged_by, t.comment) for t in cleared] == [
        ("cleared", alert_id, "sam", "on it")]


def test_instants_older_than_the_window_are_not_evaluated() -> None:
    stream = events()
    expected = backtest(stream, default_rules(), SETTINGS)
    # The wall clock at 1300 s, a window of 500 s: instants before 800 s are history.
    worker = Worker(window_ms=500_000, now_s=(T0_MS + 1_300_000) / 1000)
    transitions = worker.apply(stream)
    assert worker.live.skipped == 80 and worker.live.evaluated == 41
    break_alert = "tenant=default,team=Blue,agent=ana,reason=break"
    assert [key(t) for t in transitions] == [
        ("raised", "break-too-long", break_alert, 910),
        # Below target since 500 s, but first seen at 800 s: raised 5 min after that.
        ("raised", "service-level-under-target", "tenant=default,queue=billing", 1100),
        ("cleared", "break-too-long", break_alert, 1200)]
    # Without a window, or with the wall clock near the stream: every instant.
    assert Worker(window_ms=1_000_000, now_s=(T0_MS + 400_000) / 1000).apply(stream) == expected


def test_instants_later_than_the_window_are_not_evaluated() -> None:
    stream = events()
    expected = backtest(stream, default_rules(), SETTINGS)
    # The wall clock at 300 s, a window of 500 s: instants after 800 s are not live.
    worker = Worker(window_ms=500_000, now_s=(T0_MS + 300_000) / 1000)
    transitions = worker.apply(stream)
    assert worker.live.evaluated == 81 and worker.live.skipped > 0
    assert transitions == [t for t in expected if t.at_ms <= T0_MS + 800_000]


def test_a_refused_event_does_not_start_its_tenant() -> None:
    worker = Worker()
    worker.apply(events())
    late = EVENT_ADAPTER.validate_python({
        "type": "contact.queued", "event_id": "late", "tenant": "acme", "contact_id": "x",
        "queue": "billing", "ts": (ALERTING_START - timedelta(hours=3)).isoformat()})
    assert worker.apply([late]) == []
    assert "acme" not in worker.live.tenants()


def test_tenants_are_evaluated_on_their_own_stream_time() -> None:
    worker = Worker()
    mixed = [e for pair in zip(events(), events("acme"), strict=True) for e in pair]
    transitions = worker.apply(mixed)
    for tenant in ("default", "acme"):
        assert [key(t, tenant=False) for t in transitions if t.scope.tenant == tenant] == [
            key(t, tenant=False) for t in backtest(events(), default_rules(), SETTINGS)]


def test_an_evaluation_that_fails_is_logged_when_safe_and_raised_otherwise(
        caplog: pytest.LogCaptureFixture) -> None:
    def broken(tenant: str) -> dict[str, object]:
        raise RuntimeError("no figures")

    stream = events()
    first, last = stream[0], stream[-1]
    strict = LiveAlerts(default_rules(), broken)
    strict.applied(first.tenant, to_ms(first.ts))
    with pytest.raises(RuntimeError):
        strict.before(last.tenant, to_ms(last.ts))
    safe = LiveAlerts(default_rules(), broken, safe=True)
    safe.applied(first.tenant, to_ms(first.ts))
    safe.before(last.tenant, to_ms(last.ts))
    assert safe.errors == 1 and "not evaluated" in caplog.text

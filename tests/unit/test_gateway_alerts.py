"""Gateway alerts: open alerts, who sees which, acknowledgement checks; webhook bodies."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.access import Grant
from gateway.alerts import (
    AckRequest,
    OpenAlerts,
    ack_fields,
    check_transition,
    ordered,
    refuse_ack,
    visible,
)
from gateway.state import Subscription
from gateway.webhooks import (
    DeliveryError,
    RetryableError,
    body_for,
    check_status,
    endpoint_label,
    matches,
    slack_text,
)
from stream.settings import WebhookSettings

Json = dict[str, Any]

AGENTS = {"a1": {"queues": ["billing"], "team": "Blue"},
          "a2": {"queues": ["sales"], "team": "Red"}}


def alert(alert_id: str = "r/1", state: str = "raised", severity: str = "warning",
          audience: tuple[str, ...] = ("supervisor",), queue: str | None = None,
          team: str | None = None, agent: str | None = None, tenant: str = "default",
          **fields: Any) -> Json:
    data: Json = {
        "type": "alert", "state": state, "alert_id": alert_id, "rule_id": "r",
        "metric": "queue.waiting", "severity": severity, "audience": list(audience),
        "scope": {"tenant": tenant, "queue": queue, "team": team, "agent": agent,
                  "reason": None},
        "value": 12.0, "threshold": 10.0, "condition": "queue.waiting >= 10",
        "message": "billing: 12 waiting", "raised_at": "2026-11-23T08:00:00.000+00:00",
        "acknowledged_by": None, "comment": None,
    }
    data.update(fields)
    return data


def test_check_transition() -> None:
    assert check_transition(alert(), "default")["alert_id"] == "r/1"
    for bad, why in [([], "JSON object"), (alert(state="gone"), "not an alert"),
                     (alert(alert_id=""), "alert_id"), (alert(tenant="acme"), "scope.tenant"),
                     ({**alert(), "audience": "qa"}, "audience")]:
        with pytest.raises(ValueError, match=why):
            check_transition(bad, "default")


def test_open_alerts_follow_transitions_and_order_by_severity() -> None:
    alerts = OpenAlerts()
    alerts.apply(alert("a", severity="info", raised_at="2026-11-23T09:00:00Z"))
    alerts.apply(alert("b", severity="critical", raised_at="2026-11-23T07:00:00Z"))
    alerts.apply(alert("c", severity="critical", raised_at="2026-11-23T08:00:00Z"))
    alerts.apply(alert("a", state="acknowledged", severity="info", acknowledged_by="sam"))
    assert alerts.get("a")["acknowledged_by"] == "sam"  # type: ignore[index]
    alerts.apply(alert("b", state="cleared"))
    assert [a["alert_id"] for a in ordered(alerts.values())] == ["c", "a"]


@pytest.mark.parametrize(("grant", "subscription", "scope", "seen"), [
    # audience
    (Grant("q", "qa"), Subscription(), {"queue": "billing"}, False),
    (Grant("q", "qa"), Subscription(), {"queue": "billing", "audience": ("qa",)}, True),
    (Grant("v", "viewer"), Subscription(), {"queue": "billing"}, False),
    (Grant("a", "admin"), Subscription(), {"queue": "billing", "audience": ("qa",)}, True),
    # tenant
    (Grant("s", "supervisor"), Subscription("acme"), {"queue": "billing"}, False),
    (Grant("s", "supervisor", tenants=frozenset({"acme"})), Subscription(),
     {"queue": "billing"}, False),
    # the subscription's queues and teams
    (Grant("s", "supervisor"), Subscription(queues=frozenset({"sales"})),
     {"queue": "billing"}, False),
    (Grant("s", "supervisor"), Subscription(queues=frozenset({"billing"})),
     {"queue": "billing"}, True),
    (Grant("s", "supervisor"), Subscription(queues=frozenset({"billing"})),
     {"agent": "a1", "team": "Blue"}, True),
    (Grant("s", "supervisor"), Subscription(queues=frozenset({"billing"})),
     {"agent": "a2", "team": "Red"}, False),
    (Grant("s", "supervisor"), Subscription(teams=frozenset({"Red"})),
     {"agent": "gone", "team": "Red"}, True),  # not in the state: by its team
    (Grant("s", "supervisor"), Subscription(teams=frozenset({"Red"})),
     {"team": "Blue"}, False),
    (Grant("s", "supervisor"), Subscription(queues=frozenset({"sales"})), {}, True),
    # a token limited to queues: no team or tenant-wide alerts
    (Grant("s", "supervisor", queues=frozenset({"billing"})), None, {"queue": "billing"}, True),
    (Grant("s", "supervisor", queues=frozenset({"billing"})), None, {"queue": "sales"}, False),
    (Grant("s", "supervisor", queues=frozenset({"billing"})), None, {"team": "Blue"}, False),
    (Grant("s", "supervisor", queues=frozenset({"billing"})), None, {}, False),
    (Grant("s", "supervisor", queues=frozenset({"billing"})), None,
     {"agent": "a1", "team": "Blue"}, True),
])
def test_visible(grant: Grant, subscription: Subscription | None, scope: Json,
                 seen: bool) -> None:
    subscription = subscription or grant.restrict(Subscription())
    fields = dict(scope)
    audience = fields.pop("audience", ("supervisor",))
    assert visible(alert(audience=audience, **fields), grant, subscription, AGENTS) is seen


def test_ack_request_and_fields() -> None:
    request = AckRequest.from_message({"alert_id": "r/1", "comment": "  on it "}, "default")
    assert request == AckRequest("default", "r/1", "on it")
    assert ack_fields(Grant("sam", "supervisor"), request, 1234) == {
        "tenant": "default", "alert_id": "r/1", "who": "sam", "role": "supervisor",
        "comment": "on it", "at_ms": "1234"}
    for bad, why in [({"alert_id": 5}, "alert_id"), ({"alert_id": "x", "tenant": "a/b"},
                     "tenant"), ({"alert_id": "x", "comment": "c" * 501}, "comment")]:
        with pytest.raises(ValueError, match=why):
            AckRequest.from_message(bad, "default")


@pytest.mark.parametrize(("grant", "the_alert", "why"), [
    (Grant("v", "viewer"), alert(), "role 'viewer' may not acknowledge"),
    (Grant("q", "qa"), alert(), "this alert is for supervisor"),
    (Grant("s", "supervisor", tenants=frozenset({"acme"})), alert(), "tenant 'default'"),
    (Grant("s", "supervisor"), None, "no open alert 'r/1'"),
    (Grant("s", "supervisor", queues=frozenset({"sales"})), alert(queue="billing"),
     "outside the queues"),
    (Grant("s", "supervisor"), alert(state="acknowledged", acknowledged_by="bo"),
     "already acknowledged by bo"),
    (Grant("s", "supervisor"), alert(queue="billing"), None),
    (Grant("a", "admin"), alert(audience=("qa",)), None),
])
def test_refuse_ack(grant: Grant, the_alert: Json | None, why: str | None) -> None:
    refusal = refuse_ack(grant, AckRequest("default", "r/1", ""), the_alert, AGENTS)
    assert refusal is None if why is None else why in (refusal or ""), refusal


def test_webhook_filters_and_bodies() -> None:
    hook = WebhookSettings(url="https://hooks.example.com/T0/B1/secret", format="slack",
                           audiences=("wfm",), min_severity="warning", tenants=("default",))
    assert matches(hook, alert(audience=("supervisor", "wfm")))
    assert not matches(hook, alert(audience=("supervisor",)))
    assert not matches(hook, alert(audience=("wfm",), severity="info"))
    assert not matches(hook, alert(audience=("wfm",), tenant="acme"))
    assert matches(WebhookSettings(url="http://x"), alert(severity="info", audience=("qa",)))

    acked = alert(state="acknowledged", severity="critical", queue="billing",
                  acknowledged_by="sam", comment="calling in help")
    text = slack_text(acked)
    assert text.startswith(":red_circle: CRITICAL acknowledged: billing: 12 waiting "
                           "(acknowledged by sam: calling in help)")
    assert "queue.waiting >= 10" in text and "queue billing" in text
    assert orjson.loads(body_for(hook, acked)) == {"text": text}
    assert orjson.loads(body_for(WebhookSettings(url="http://x"), acked)) == acked
    assert endpoint_label(hook.url) == "https://hooks.example.com"
    assert endpoint_label("http://user:pw@10.0.0.1:8080/p?q=1") == "http://10.0.0.1:8080"


def test_which_answers_are_retried() -> None:
    check_status(200)
    check_status(204)
    for status in (408, 429, 500, 503):
        with pytest.raises(RetryableError):
            check_status(status)
    for status in (301, 400, 404):
        with pytest.raises(DeliveryError) as raised:
            check_status(status)
        assert not isinstance(raised.value, RetryableError)

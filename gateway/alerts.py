"""The gateway's alerts: each tenant's open alerts, who may see them, and acknowledgements.

No I/O here. An alert is its latest transition event as the worker publishes it
(``AlertTransition.to_json()``, docs/alerts.md section 4): ``state``, ``alert_id``,
``severity``, ``audience``, ``scope`` {tenant, queue, team, agent, reason}, ...

A client sees an alert when its role is in the alert's audience (:class:`gateway.access.Grant`)
and the alert's scope is in what the client is shown (:class:`gateway.state.Subscription`):

- an agent's alert: the agent is shown (skilled for a shown queue or in a shown team);
- a queue's alert: the queue is shown;
- a team's alert: the team is shown (never to a token limited to queues);
- a tenant's alert (no queue, team or agent): to every client of the tenant, except one
  whose token is limited to queues.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.access import Grant
from gateway.state import TENANT_RE, Json, Subscription

STATES = ("raised", "acknowledged", "cleared")
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
MAX_ALERT_ID = 512
MAX_COMMENT = 500


def check_transition(transition: Any, tenant: str) -> Json:
    """The transition if it has the fields the gateway relies on; ``ValueError`` otherwise."""
    if not isinstance(transition, dict):
        raise ValueError("not a JSON object")
    if transition.get("type") != "alert" or transition.get("state") not in STATES:
        raise ValueError("not an alert transition (type 'alert', state raised / "
                         "acknowledged / cleared)")
    alert_id = transition.get("alert_id")
    if not isinstance(alert_id, str) or not alert_id:
        raise ValueError("alert_id missing")
    scope = transition.get("scope")
    if not isinstance(scope, dict) or scope.get("tenant") != tenant:
        raise ValueError(f"scope.tenant is not the channel's tenant {tenant!r}")
    if not isinstance(transition.get("audience"), list):
        raise ValueError("audience must be a list")
    return transition


def severity_rank(alert: Mapping[str, Any]) -> int:
    return SEVERITY_RANK.get(str(alert.get("severity")), -1)


def ordered(alerts: list[Json]) -> list[Json]:
    """Most severe first, then the latest raised first."""
    by_time = sorted(alerts, key=lambda a: str(a.get("raised_at") or ""), reverse=True)
    return sorted(by_time, key=severity_rank, reverse=True)


class OpenAlerts:
    """One tenant's open alerts: alert id -> latest transition."""

    def __init__(self, alerts: Mapping[str, Json] | None = None) -> None:
        self.by_id: dict[str, Json] = dict(alerts or {})

    def apply(self, transition: Json) -> None:
        if transition["state"] == "cleared":
            self.by_id.pop(transition["alert_id"], None)
        else:
            self.by_id[transition["alert_id"]] = transition

    def get(self, alert_id: str) -> Json | None:
        return self.by_id.get(alert_id)

    def values(self) -> list[Json]:
        return list(self.by_id.values())


def visible(alert: Mapping[str, Any], grant: Grant, subscription: Subscription,
            agents: Mapping[str, Any]) -> bool:
    """Whether a client with ``grant`` and ``subscription`` sees ``alert``.

    ``agents`` are the tenant's agent entries (to tell the queues an agent is skilled for).
    """
    audience = alert.get("audience")
    if not grant.sees_alerts or not isinstance(audience, list) or not grant.allows_audience(
            audience):
        return False
    scope = alert.get("scope")
    if not isinstance(scope, dict) or scope.get("tenant") != subscription.tenant:
        return False
    if not grant.allows_tenant(subscription.tenant):
        return False
    queue, team, agent = scope.get("queue"), scope.get("team"), scope.get("agent")
    if isinstance(agent, str):
        entry = agents.get(agent)
        if not isinstance(entry, dict):
            entry = {"team": team}
        return subscription.shows_agent(entry)
    if isinstance(queue, str):
        return subscription.shows_queue(queue)
    if isinstance(team, str):
        return subscription.shows_team(team)
    return not subscription.limited


# ---------------------------------------------------------------------------------------------
# Acknowledgements


@dataclass(frozen=True)
class AckRequest:
    """A client's ``{"type": "ack", "tenant", "alert_id", "comment"?}``."""

    tenant: str
    alert_id: str
    comment: str

    @classmethod
    def from_message(cls, message: Mapping[str, Any], default_tenant: str) -> AckRequest:
        tenant = message.get("tenant", default_tenant)
        if not isinstance(tenant, str) or not TENANT_RE.match(tenant):
            raise ValueError("ack: tenant must be a tenant name")
        alert_id = message.get("alert_id")
        if not isinstance(alert_id, str) or not 0 < len(alert_id) <= MAX_ALERT_ID:
            raise ValueError("ack: alert_id must be a non-empty string")
        comment = message.get("comment")
        if comment is None:
            comment = ""
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
            raise ValueError(f"ack: comment must be a string of at most {MAX_COMMENT} characters")
        return cls(tenant, alert_id, comment.strip())


def refuse_ack(grant: Grant, request: AckRequest, alert: Json | None,
               agents: Mapping[str, Any]) -> str | None:
    """Why ``grant`` may not acknowledge ``alert`` (``None``: it may)."""
    if not grant.can_acknowledge:
        return f"ack: the role {grant.role!r} may not acknowledge alerts"
    if not grant.allows_tenant(request.tenant):
        return f"ack: tenant {request.tenant!r} is not allowed for this token"
    if alert is None:
        return f"ack: no open alert {request.alert_id!r} in tenant {request.tenant!r}"
    audience = alert.get("audience")
    if not isinstance(audience, list):
        audience = []
    if not grant.allows_audience(audience):
        return (f"ack: this alert is for {', '.join(map(str, audience))}; the role "
                f"{grant.role!r} may not acknowledge it")
    if not visible(alert, grant, grant.restrict(Subscription(request.tenant)), agents):
        return "ack: this alert is outside the queues of this token"
    if alert.get("state") == "acknowledged":
        return f"ack: already acknowledged by {alert.get('acknowledged_by')}"
    return None


def ack_fields(grant: Grant, request: AckRequest, at_ms: int) -> dict[str, str]:
    """The fields XADDed to ``settings.alert_acks_stream`` for the worker."""
    return {"tenant": request.tenant, "alert_id": request.alert_id, "who": grant.name,
            "role": grant.role, "comment": request.comment, "at_ms": str(at_ms)}

"""The gateway's QA queue: each tenant's items, who sees them, and QA's actions.

No I/O here; :mod:`gateway.server` reads Redis and sends. An item is what the worker keeps
in Redis (stream/qa/queue.py): ``contact_id``, ``status``, ``reasons``, ``messages``, ...

- Who sees the queue: the ``qa`` and ``admin`` roles (a token limited to queues sees the
  items of those queues only). They get ``{"type": "qa_queue", "tenant", "items"}`` (newest
  first, at most :data:`MAX_ITEMS`) after the snapshot, then ``{"type": "qa_item", "item"}``
  for each change.
- What they do: ``{"type": "qa_action", "action": "claim" | "release" | "review" |
  "dismiss", "contact_id", "note"?, "tenant"?}``. The gateway checks it against the item it
  holds (:func:`stream.qa.queue.refuse_action`) and XADDs it to the QA actions stream; the
  worker puts it on the QA topic and the fold decides (first come, first served); the
  client gets ``qa_action_sent``, then the item as changed, or an ``error`` if the fold
  refused it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.access import Grant
from gateway.state import TENANT_RE, Json
from stream.qa.queue import ACTIONS, MAX_NOTE, refuse_action

QA_ROLES = frozenset({"qa", "admin"})
MAX_ITEMS = 200
MAX_CONTACT_ID = 256


def sees_qa(grant: Grant) -> bool:
    return grant.role in QA_ROLES


def item_visible(item: Mapping[str, Any], grant: Grant) -> bool:
    if not sees_qa(grant):
        return False
    return grant.queues is None or item.get("queue") in grant.queues


def newest_first(items: Iterable[Json]) -> list[Json]:
    return sorted(items, key=lambda i: (int(i.get("flagged_at_ms") or 0),
                                        str(i.get("contact_id"))), reverse=True)


@dataclass
class QaItems:
    """One tenant's QA queue as the gateway holds it."""

    by_contact: dict[str, Json] = field(default_factory=dict)

    def apply(self, item: Json) -> None:
        self.by_contact[str(item["contact_id"])] = item

    def listing(self, grant: Grant) -> list[Json]:
        return newest_first(i for i in self.by_contact.values()
                            if item_visible(i, grant))[:MAX_ITEMS]


def check_item(item: Any, tenant: str) -> Json:
    if not isinstance(item, dict) or not isinstance(item.get("contact_id"), str):
        raise ValueError("not a QA item")
    if item.get("tenant") != tenant:
        raise ValueError(f"QA item of another tenant than {tenant!r}")
    return item


@dataclass(frozen=True)
class QaActionRequest:
    tenant: str
    contact_id: str
    action: str
    note: str | None

    @classmethod
    def from_message(cls, message: Mapping[str, Any], default_tenant: str) -> QaActionRequest:
        tenant = message.get("tenant", default_tenant)
        if not isinstance(tenant, str) or not TENANT_RE.match(tenant):
            raise ValueError("qa_action: bad tenant")
        contact = message.get("contact_id")
        if not isinstance(contact, str) or not contact or len(contact) > MAX_CONTACT_ID:
            raise ValueError("qa_action: contact_id must be a non-empty string")
        action = message.get("action")
        if action not in ACTIONS:
            raise ValueError(f"qa_action: action must be one of {', '.join(ACTIONS)}")
        note = message.get("note")
        if note is not None and not isinstance(note, str):
            raise ValueError("qa_action: note must be a string")
        return cls(tenant, contact, str(action), (note or "")[:MAX_NOTE] or None)


def refuse_qa_action(grant: Grant, request: QaActionRequest, item: Json | None) -> str | None:
    if not sees_qa(grant):
        return "qa_action: only the qa and admin roles act on the QA queue"
    if not grant.allows_tenant(request.tenant):
        return f"qa_action: tenant {request.tenant!r} is not allowed for this token"
    if item is not None and not item_visible(item, grant):
        item = None
    refusal = refuse_action(item, request.action, grant.name, grant.role)
    return None if refusal is None else f"qa_action: {refusal}"


def qa_action_fields(grant: Grant, request: QaActionRequest, at_ms: int) -> dict[str, str]:
    """The QA actions stream entry (stream/settings.py ``qa_actions_stream``)."""
    return {"tenant": request.tenant, "contact_id": request.contact_id,
            "action": request.action, "who": grant.name, "role": grant.role,
            "note": request.note or "", "at_ms": str(at_ms)}

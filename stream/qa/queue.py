"""The QA queue: flagged contacts and what QA did with them, folded from the QA topic.

Every change to the queue is an event on the QA topic (``FLOORPULSE_TOPIC_QA``, keyed by
``tenant|contact``, so one item's events are in order on one partition):

- ``{"kind": "flag", "tenant", "contact_id", "at_ms", "content"}`` from the worker: the
  contact was flagged, or its content changed (reasons, excerpt, trend);
- ``{"kind": "action", "tenant", "contact_id", "action", "who", "role", "note", "at_ms",
  "action_id"}`` from QA on the page (relayed from the gateway): ``claim``, ``release``,
  ``review`` or ``dismiss``.

:func:`fold` applies one event to an item (a plain dict, as stored in Redis) and is
idempotent, so events delivered again after a restart change nothing:

- a ``flag`` event replaces the content only when it is not older than the content held
  (by the contact's stream time ``at_ms``), and never touches the status: a restarted worker
  cannot re-add or reset a reviewed item;
- an ``action`` applies once: actions carry increasing ids (the Redis stream entry ids), and
  one at or below the item's ``last_action`` is ignored.

Statuses and actions::

    open ──claim──> claimed ──review──> reviewed
     │  <─release──    │
     └──review / dismiss┴──dismiss──> dismissed

Only the one who claimed an item (or an admin) may release or review it while it is
claimed; reviewed and dismissed are final. Refused actions return the reason and leave
the item as it was (but their id is remembered).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Status = Literal["open", "claimed", "reviewed", "dismissed"]
ACTIONS = ("claim", "release", "review", "dismiss")
FINAL = ("reviewed", "dismissed")
MAX_NOTE = 500
MAX_HISTORY = 50

Item = dict[str, Any]


def action_order(action_id: str) -> tuple[int, int]:
    """Redis stream ids (``1700000000000-3``) in their order."""
    ms, _, seq = action_id.partition("-")
    return int(ms), int(seq or 0)


def new_item(tenant: str, contact_id: str) -> Item:
    return {"tenant": tenant, "contact_id": contact_id, "status": "open", "content_at_ms": None,
            "claimed_by": None, "claimed_at_ms": None, "reviewed_by": None,
            "reviewed_at_ms": None, "dismissed_by": None, "dismissed_at_ms": None,
            "note": None, "last_action": None, "history": []}


def refuse_action(item: Mapping[str, Any] | None, action: str, who: str,
                  role: str) -> str | None:
    """Why ``who`` may not do ``action`` on the item now (None: allowed)."""
    if action not in ACTIONS:
        return f"unknown action {action!r} (claim, release, review, dismiss)"
    if role not in ("qa", "admin"):
        return "only the qa and admin roles act on the QA queue"
    if item is None:
        return "no such item in the QA queue"
    status = item.get("status")
    if status in FINAL:
        return f"the item is already {status} (by {item.get(f'{status}_by')})"
    claimed_by = item.get("claimed_by") if status == "claimed" else None
    if action == "claim" and claimed_by is not None:
        return f"already claimed by {claimed_by}"
    if action == "release" and status != "claimed":
        return "the item is not claimed"
    if (action in ("release", "review") and claimed_by is not None and claimed_by != who
            and role != "admin"):
        return f"claimed by {claimed_by}"
    return None


def fold(item: Item | None, event: Mapping[str, Any]) -> tuple[Item | None, str | None]:
    """Apply one QA topic event. Returns the item (None if there is none, e.g. an action on
    an unknown contact) and why an action was refused (None if it was applied or ignored)."""
    kind = event.get("kind")
    tenant, contact_id = str(event["tenant"]), str(event["contact_id"])
    if kind == "flag":
        current = new_item(tenant, contact_id) if item is None else dict(item)
        at_ms = int(event.get("at_ms") or 0)
        held = current.get("content_at_ms")
        if held is None or at_ms >= held:
            content = dict(event.get("content") or {})
            content.pop("status", None)
            current.update(content)
            current["content_at_ms"] = at_ms
        return current, None
    if kind != "action":
        raise ValueError(f"unknown QA event kind {kind!r}")
    action_id = str(event["action_id"])
    if item is None:
        return None, "no such item in the QA queue"
    last = item.get("last_action")
    if last is not None and action_order(action_id) <= action_order(str(last)):
        return item, None  # applied (or refused) before
    current = dict(item)
    current["last_action"] = action_id
    action, who, role = str(event["action"]), str(event["who"]), str(event.get("role"))
    refusal = refuse_action(item, action, who, role)
    if refusal is not None:
        return current, refusal
    at_ms = int(event["at_ms"])
    note = event.get("note")
    if action == "claim":
        current.update(status="claimed", claimed_by=who, claimed_at_ms=at_ms)
    elif action == "release":
        current.update(status="open", claimed_by=None, claimed_at_ms=None)
    elif action == "review":
        current.update(status="reviewed", reviewed_by=who, reviewed_at_ms=at_ms)
    else:
        current.update(status="dismissed", dismissed_by=who, dismissed_at_ms=at_ms)
    if note:
        current["note"] = str(note)[:MAX_NOTE]
    history = [*current.get("history", []), {"action": action, "who": who, "role": role,
                                             "at_ms": at_ms, "note": note or None}]
    current["history"] = history[-MAX_HISTORY:]
    return current, None

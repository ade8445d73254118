"""Repeat customers: the same customer's contacts, which may be on any partition.

Contacts are keyed (and partitioned) by contact, so one customer's contacts are spread over
the partitions. The worker sends every ``contact.queued`` that carries a ``customer_id`` to
an internal topic keyed by tenant and customer; one agent keeps, per customer, the contacts
of the repeat window in a table (:class:`CustomerContacts`), and for each contact whose
*previous contact* (the latest one of the same customer queued before it, within the window)
is new or nearer, sends a repeat signal back to the contact's own partition of the events
topic (docs/sentiment.md, "Repeat customers"). Whatever order the contacts arrive in, each
ends with the same previous contact: adding contacts can only bring a nearer one, and the
contact keeps the nearest it was told of.

Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stream.qa.signals import Repeat


@dataclass(slots=True)
class CustomerContacts:
    """One customer's contacts: contact id -> first queued time (ms)."""

    contacts: dict[str, int] = field(default_factory=dict)

    def _previous(self, contact: str, window_ms: int) -> Repeat | None:
        queued = self.contacts[contact]
        before = [(ts, cid) for cid, ts in self.contacts.items()
                  if (ts, cid) < (queued, contact) and queued - ts <= window_ms]
        if not before:
            return None
        ts, cid = max(before)
        return Repeat(cid, ts, queued)

    def add(self, contact: str, queued_ms: int, window_ms: int) -> list[tuple[str, Repeat]]:
        """Take one contact; returns ``(contact, repeat)`` for each contact whose previous
        contact is new or changed (the signals to send)."""
        old = self.contacts.get(contact)
        if old is not None and old <= queued_ms:
            return []
        if old is None and all((ts, cid) < (queued_ms, contact)
                               for cid, ts in self.contacts.items()):
            # The usual case, a contact later than all the customer's others: it changes
            # no other contact's previous one, only its own can be new.
            self.contacts[contact] = queued_ms
            mine = self._previous(contact, window_ms)
            return [] if mine is None else [(contact, mine)]
        before = {cid: self._previous(cid, window_ms) for cid in self.contacts}
        self.contacts[contact] = queued_ms
        out = []
        for cid in sorted(self.contacts):
            now = self._previous(cid, window_ms)
            if now is not None and now != before.get(cid):
                out.append((cid, now))
        return out

    def prune(self, keep_after_ms: int) -> bool:
        """Forget contacts queued before ``keep_after_ms``; whether any went."""
        old = [cid for cid, ts in self.contacts.items() if ts < keep_after_ms]
        for cid in old:
            del self.contacts[cid]
        return bool(old)

    def dump(self) -> dict[str, int]:
        return dict(self.contacts)

    @classmethod
    def load(cls, data: Mapping[str, Any] | None) -> CustomerContacts:
        return cls({str(k): int(v) for k, v in (data or {}).items()})

    @staticmethod
    def latest(data: Mapping[str, Any]) -> int:
        """The latest queued time of a stored value (as :meth:`dump` writes it), without
        building the contacts: a sweep reads every customer of a partition."""
        return max(data.values(), default=0)


def repeat_message(tenant: str, contact: str, repeat: Repeat) -> dict[str, object]:
    """The signal's value (JSON), sent to the contact's partition of the events topic."""
    return {"tenant": tenant, "contact_id": contact,
            "previous_contact": repeat.previous_contact,
            "previous_queued_ms": repeat.previous_queued_ms, "queued_ms": repeat.queued_ms}

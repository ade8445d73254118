"""The QA side of one source partition: each contact's conversation, repeat and flags.

Pure state, no I/O; the worker (:mod:`stream.qa.worker`) persists it and sends what it
returns. :class:`ContactQaStore` is fed every event the partition applies
(:meth:`~ContactQaStore.observe`): customer ``chat.message`` / ``transcript.segment`` lines
are scored into the contact's :class:`ConversationSentiment`; any contact event marks the
contact for evaluation. After a batch, :meth:`~ContactQaStore.evaluate` runs the flag rules
on each marked contact and returns the QA events to publish:

- a contact whose rules first hold is *flagged*; the flag rules that held stay raised (a
  later message that lifts the mood does not take a flag back: QA decides);
- a flagged contact whose content changes (a new message, a new reason, the contact ends)
  is sent again, so the QA queue shows the latest excerpt and trend.

Bounded: a contact keeps at most ``keep_first + window`` customer messages; contacts with
no customer message, no repeat and no flag hold no state here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from stream.events import ChatMessage, ContactQueued, Event, TranscriptSegment
from stream.metrics.facts import ContactFacts
from stream.qa.flags import FlagRule, RaisedFlag, evaluate
from stream.qa.signals import ContactSignals, Repeat, contact_signals
from stream.sentiment.config import SentimentSettings
from stream.sentiment.conversation import ConversationSentiment

DUMP_VERSION: Final = 1
ContactKey = tuple[str, str]  # (tenant, contact id)


@dataclass(slots=True)
class ContactQa:
    conversation: ConversationSentiment
    repeat: Repeat | None = None
    raised: dict[str, dict[str, Any]] = field(default_factory=dict)  # rule id -> flag JSON
    flagged_ms: int | None = None  # the contact's stream time when first flagged
    sent: bytes = b""  # fingerprint of the content last sent (sent again only on change)

    def dump(self) -> dict[str, object]:
        repeat = self.repeat
        return {
            "v": DUMP_VERSION,
            "conversation": self.conversation.dump(),
            "repeat": None if repeat is None else [repeat.previous_contact,
                                                   repeat.previous_queued_ms,
                                                   repeat.queued_ms],
            "raised": self.raised,
            "flagged_ms": self.flagged_ms,
            "sent": self.sent.decode(),
        }

    @classmethod
    def load(cls, data: Mapping[str, Any], settings: SentimentSettings) -> ContactQa:
        if data.get("v") != DUMP_VERSION:
            raise ValueError(f"unknown contact QA version: {data.get('v')!r}")
        repeat = data.get("repeat")
        return cls(
            ConversationSentiment.load(data["conversation"], settings),
            None if repeat is None else Repeat(str(repeat[0]), int(repeat[1]), int(repeat[2])),
            dict(data.get("raised") or {}),
            data.get("flagged_ms"),
            str(data.get("sent") or "").encode(),
        )


def repeat_signal(data: Mapping[str, Any]) -> tuple[ContactKey, Repeat]:
    """A repeat signal (docs/sentiment.md, "Repeat customers"): whose, and of which contact;
    ``ValueError`` when it is not one."""
    try:
        key = (str(data["tenant"]), str(data["contact_id"]))
        repeat = Repeat(str(data["previous_contact"]), int(data["previous_queued_ms"]),
                        int(data["queued_ms"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a repeat signal: {exc!r}") from None
    return key, repeat


def _closer(old: Repeat | None, new: Repeat) -> bool:
    """Whether ``new`` names a later previous contact than ``old`` (the nearest wins)."""
    if old is None:
        return True
    return (new.previous_queued_ms, new.previous_contact) > (old.previous_queued_ms,
                                                             old.previous_contact)


class ContactQaStore:
    """QA state of the contacts of one partition (see the module docstring)."""

    def __init__(self, settings: SentimentSettings, flags: Sequence[FlagRule]) -> None:
        self.settings = settings
        self.flags = list(flags)
        # The rules a contact without customer messages can meet: a condition on the
        # customer's words never holds without them (tests/unit/test_qa.py).
        self.telephony_flags = [rule for rule in self.flags if not rule.language]
        self.contacts: dict[ContactKey, ContactQa] = {}
        self.pending: set[ContactKey] = set()  # to evaluate after the batch
        self.dirty: set[ContactKey] = set()  # to persist
        self.customers: list[tuple[str, str, str, int]] = []  # (tenant, customer, contact, ms)
        # flagged contacts in progress: key -> the snapshot's flagged_contacts entry
        self.live: dict[ContactKey, dict[str, object]] = {}
        self._empty = ConversationSentiment(settings)

    # --------------------------------------------------------------- events
    def _entry(self, key: ContactKey) -> ContactQa:
        qa = self.contacts.get(key)
        if qa is None:
            qa = self.contacts[key] = ContactQa(ConversationSentiment(self.settings))
        return qa

    def observe(self, tenant: str, event: Event, ts: int) -> None:
        """An event the partition applied (any contact event; agent events are not given)."""
        key = (tenant, event.contact_id)  # type: ignore[union-attr]
        # The event's class, not isinstance (ContactFacts.apply says why).
        if type(event) is ChatMessage:
            self._heard(key, event.event_id, ts, event.sender, event.text)
            return
        if type(event) is TranscriptSegment:
            self._heard(key, event.event_id, ts, event.speaker, event.text)
            return
        if type(event) is ContactQueued and event.customer_id is not None:
            self.customers.append((tenant, event.customer_id, event.contact_id, ts))
        if self.flags:
            self.pending.add(key)

    def _heard(self, key: ContactKey, event_id: str, ts: int, sender: str, text: str) -> None:
        """A line of a conversation: the customer's are scored."""
        if sender != "customer":
            return
        if self._entry(key).conversation.add(event_id, ts, sender, text):
            self.dirty.add(key)
            self.pending.add(key)

    def take_customers(self) -> list[tuple[str, str, str, int]]:
        """Contacts queued with a customer id since the last call (for the repeat index)."""
        found, self.customers = self.customers, []
        return found

    def apply_repeat(self, key: ContactKey, repeat: Repeat) -> None:
        qa = self._entry(key)
        if _closer(qa.repeat, repeat):
            qa.repeat = repeat
            self.dirty.add(key)
            self.pending.add(key)

    # ----------------------------------------------------------- evaluation
    def signals(self, key: ContactKey, facts: ContactFacts | None) -> ContactSignals:
        qa = self.contacts.get(key)
        if qa is None:
            return contact_signals(facts, self._empty)
        return contact_signals(facts, qa.conversation, qa.repeat)

    def evaluate(self, facts_of: Mapping[ContactKey, ContactFacts]
                 ) -> tuple[list[dict[str, object]], set[str]]:
        """Run the flag rules on the contacts changed since the last call. Returns the QA
        events (``kind: flag``) to send, and the tenants whose live flagged contacts changed."""
        out: list[dict[str, object]] = []
        tenants: set[str] = set()
        for key in sorted(self.pending):
            facts = facts_of.get(key)
            signals = self.signals(key, facts)
            raised = [flag for rule in (self.flags if signals.messages else self.telephony_flags)
                      if (flag := evaluate(rule, signals, self.settings)) is not None]
            qa = self.contacts.get(key)
            if qa is None and not raised:
                continue
            if qa is None:
                qa = self._entry(key)
            for flag in raised:
                qa.raised[flag.rule_id] = flag.to_json()
            if not qa.raised:
                continue
            at_ms = facts.last_ts if facts is not None and facts.last_ts else max(
                (m.ts_ms for m in qa.conversation.messages), default=0)
            if qa.flagged_ms is None:
                qa.flagged_ms = at_ms
            content = item_content(key, qa, signals, raised)
            fingerprint = _fingerprint(content)
            if fingerprint != qa.sent:
                qa.sent = fingerprint
                out.append({"kind": "flag", "tenant": key[0], "contact_id": key[1],
                            "at_ms": at_ms, "content": content})
            self.dirty.add(key)
            if self._set_live(key, qa, signals):
                tenants.add(key[0])
        for key in self.pending:
            if key not in facts_of and key in self.contacts:
                # No facts: archived before a repeat signal came for it (a catch-up: the
                # repeat-customer agent runs behind the events). Evaluated and sent; nothing
                # more can come for it, so nothing to keep.
                del self.contacts[key]
                self.dirty.discard(key)
                self.live.pop(key, None)
        self.pending.clear()
        return out, tenants

    def _set_live(self, key: ContactKey, qa: ContactQa, signals: ContactSignals) -> bool:
        entry: dict[str, object] | None = None
        if qa.raised and signals.in_progress:
            entry = {"queue": signals.queue, "agent": signals.agent,
                     "reasons": sorted(qa.raised),
                     "flagged_epoch": (qa.flagged_ms or 0) / 1000}
        if entry == self.live.get(key):
            return False
        if entry is None:
            del self.live[key]
        else:
            self.live[key] = entry
        return True

    def live_view(self, tenant: str) -> dict[str, dict[str, object]]:
        """The flagged contacts in progress of one tenant (the view's ``flagged``)."""
        return {cid: dict(entry) for (t, cid), entry in self.live.items() if t == tenant}

    # --------------------------------------------------------------- restore
    def load(self, tenant: str, contact_id: str, data: Mapping[str, Any]) -> None:
        self.contacts[(tenant, contact_id)] = ContactQa.load(data, self.settings)

    def restore_live(self, facts_of: Mapping[ContactKey, ContactFacts]) -> None:
        """After a restore: the live flagged contacts, from the loaded state (nothing sent)."""
        self.live.clear()
        for key, qa in self.contacts.items():
            if qa.raised:
                self._set_live(key, qa, self.signals(key, facts_of.get(key)))
        self.dirty.clear()
        self.pending.clear()

    def forget(self, keys: Iterable[ContactKey],
               facts_of: Mapping[ContactKey, ContactFacts] | None = None) -> list[ContactKey]:
        """Drop archived contacts, and (given the partition's facts) the QA state of
        contacts that have no facts, evaluated already: a repeat signal that came after its
        contact was archived (a catch-up: the repeat-customer agent runs behind the events)
        left one, which no archiving would drop. Returns those that had QA state (to
        delete)."""
        keys = list(keys)
        if facts_of is not None:
            keys.extend(key for key in self.contacts
                        if key not in facts_of and key not in self.pending
                        and key not in self.dirty)
        dropped = []
        for key in keys:
            self.live.pop(key, None)
            self.pending.discard(key)
            self.dirty.discard(key)
            if self.contacts.pop(key, None) is not None:
                dropped.append(key)
        return dropped


def item_content(key: ContactKey, qa: ContactQa, signals: ContactSignals,
                 raised_now: Sequence[RaisedFlag]) -> dict[str, object]:
    """What the QA queue shows of a flagged contact (docs/sentiment.md, "QA queue")."""
    repeat = qa.repeat
    return {
        "contact_id": key[1],
        "flagged_at_ms": qa.flagged_ms,
        "queue": signals.queue,
        "agent": signals.agent,
        "in_progress": signals.in_progress,
        "reasons": [qa.raised[rule] for rule in sorted(qa.raised)],
        "holding": sorted(flag.rule_id for flag in raised_now),
        "rolling_score": None if signals.rolling_score is None else round(signals.rolling_score,
                                                                          4),
        "trend": None if signals.trend is None else round(signals.trend, 4),
        "messages": [{"event_id": m.event_id, "ts_ms": m.ts_ms, "score": round(m.score, 4),
                      "text": m.text} for m in qa.conversation.messages],
        "hold_s": signals.hold_s,
        "transfers": signals.transfers,
        "abandoned_wait_s": signals.abandoned_wait_s,
        "repeat": None if repeat is None else {"previous_contact": repeat.previous_contact,
                                               "gap_s": repeat.gap_s},
    }


def _fingerprint(content: Mapping[str, object]) -> bytes:
    return hashlib.blake2b(orjson.dumps(content, option=orjson.OPT_SORT_KEYS),
                           digest_size=12).hexdigest().encode()

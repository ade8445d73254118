"""Sentiment of one contact, from its customer messages: rolling score, trend and flags.

Pure state, no I/O. Only customer messages count (agent and bot lines are ignored). The
state is bounded: of the customer messages in (time, event id) order it keeps the first N
(``keep_first``) and the last K (``window``) and drops the ones between, so a long chat
costs no more than a short one.

The state depends only on the set of messages added, not on the order they arrived in, and a
message added twice (same event id) counts once:

- messages are kept sorted by ``(ts_ms, event_id)``;
- a message whose event id is kept already is ignored;
- past N + K messages the one at position N (the middle) is dropped. The kept messages are
  then always the N smallest and the K largest of every message seen, whatever the order;
  and a repeat of a dropped message sorts between them, lands at position N and is
  dropped again.

An event id names one message: two messages with one id and different times or texts are
not expected (the first one kept wins).

Figures (``None`` without customer messages):

- rolling score: mean of the last K scores;
- trend: mean of the last m scores minus the mean of the first m, m = min(K, n // 2), so
  the two windows never overlap (``None`` below two messages);
- flags (:meth:`ConversationSentiment.flags`): ``low_sentiment`` when at least
  ``min_messages`` messages are kept and the rolling score is negative
  (:func:`~stream.sentiment.scoring.is_negative`); ``sharp_drop`` when the trend is at or
  below ``-sharp_drop``; ``escalation_phrase``, one per configured phrase found in the last K
  messages. Each flag carries the messages that triggered it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from stream.sentiment.config import SentimentSettings
from stream.sentiment.scoring import (
    MAX_SCORED_CHARS,
    escalation_phrases,
    is_negative,
    score,
)

CUSTOMER = "customer"
DUMP_VERSION = 1
FlagReason = Literal["low_sentiment", "sharp_drop", "escalation_phrase"]


@dataclass(frozen=True, slots=True, order=True)
class CustomerMessage:
    """One scored customer message; ordered by (ts_ms, event_id)."""

    ts_ms: int
    event_id: str
    score: float
    text: str  # the scored part (at most MAX_SCORED_CHARS)
    # The configured escalation phrases in ``text``, found once when it is added.
    phrases: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class Flag:
    """Why a contact needs a look, with the messages that show it.

    value: the rolling score (low_sentiment), the trend (sharp_drop), None otherwise.
    phrase: the configured escalation phrase found (escalation_phrase only).
    """

    reason: FlagReason
    evidence: tuple[CustomerMessage, ...]
    value: float | None = None
    phrase: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "reason": self.reason,
            "value": self.value,
            "phrase": self.phrase,
            "evidence": [{"event_id": m.event_id, "ts_ms": m.ts_ms, "score": m.score,
                          "text": m.text} for m in self.evidence],
        }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


class ConversationSentiment:
    """The customer side of one contact (see the module docstring)."""

    __slots__ = ("settings", "_messages")

    def __init__(self, settings: SentimentSettings | None = None) -> None:
        self.settings = settings if settings is not None else SentimentSettings()
        self._messages: list[CustomerMessage] = []

    def add(self, event_id: str, ts_ms: int, sender: str, text: str,
            message_score: float | None = None) -> bool:
        """Take one message of the contact (a ``chat.message`` sender or a
        ``transcript.segment`` speaker); returns whether the state changed.

        ``message_score`` is the message's score if it was computed already (otherwise it
        is scored here).
        """
        if sender != CUSTOMER:
            return False
        kept = self._messages
        for other in kept:
            if other.event_id == event_id:
                return False
        text = text[:MAX_SCORED_CHARS]
        settings = self.settings
        value = score(text) if message_score is None else message_score
        message = CustomerMessage(ts_ms, event_id, value, text, tuple(
            escalation_phrases(text, settings.escalation_phrases)))
        # Where ``insort`` puts it: no kept message has its event id, so (ts_ms, event_id)
        # orders it against each. Lines mostly come in order: looked for from the end.
        at = len(kept)
        while at:
            last = kept[at - 1]
            if last.ts_ms < ts_ms or (last.ts_ms == ts_ms and last.event_id < event_id):
                break
            at -= 1
        kept.insert(at, message)
        keep_first = settings.keep_first
        if len(kept) > keep_first + settings.window:
            return kept.pop(keep_first) is not message
        return True

    @property
    def messages(self) -> tuple[CustomerMessage, ...]:
        """The kept customer messages in (ts_ms, event_id) order."""
        return tuple(self._messages)

    def _recent(self) -> list[CustomerMessage]:
        return self._messages[-self.settings.window:]

    def rolling_score(self) -> float | None:
        if not self._messages:
            return None
        return _mean([m.score for m in self._recent()])

    def _trend_windows(self) -> tuple[list[CustomerMessage], list[CustomerMessage]] | None:
        size = min(self.settings.window, len(self._messages) // 2)
        if size == 0:
            return None
        return self._messages[:size], self._messages[-size:]

    def trend(self) -> float | None:
        """Mean of the recent window minus mean of the start window (negative: worse)."""
        windows = self._trend_windows()
        if windows is None:
            return None
        start, recent = windows
        return _mean([m.score for m in recent]) - _mean([m.score for m in start])

    def flags(self) -> list[Flag]:
        """The contact's current flags: low_sentiment, sharp_drop, then escalation phrases
        in the order they were first said."""
        settings = self.settings
        threshold = settings.negative_threshold  # (a pydantic field: read once)
        found: list[Flag] = []
        rolling = self.rolling_score()
        if (rolling is not None and len(self._messages) >= settings.min_messages
                and is_negative(rolling, threshold)):
            evidence = tuple(m for m in self._recent() if is_negative(m.score, threshold))
            found.append(Flag("low_sentiment", evidence, value=rolling))
        windows = self._trend_windows()
        if windows is not None:
            start, recent = windows
            start_mean = _mean([m.score for m in start])
            change = _mean([m.score for m in recent]) - start_mean
            if change <= -settings.sharp_drop:
                evidence = tuple(m for m in recent if m.score < start_mean)
                found.append(Flag("sharp_drop", evidence, value=change))
        said: dict[str, list[CustomerMessage]] = {}
        for message in self._recent():
            for phrase in message.phrases:
                said.setdefault(phrase, []).append(message)
        found.extend(Flag("escalation_phrase", tuple(messages), phrase=phrase)
                     for phrase, messages in said.items())
        return found

    def dump(self) -> dict[str, object]:
        """Plain JSON-able state, for a table's changelog."""
        return {
            "v": DUMP_VERSION,
            "messages": [[m.ts_ms, m.event_id, m.score, m.text] for m in self._messages],
        }

    @classmethod
    def load(cls, data: Mapping[str, object],
             settings: SentimentSettings | None = None) -> ConversationSentiment:
        """The state :meth:`dump` wrote (kept scores are reused, bounds are the new
        settings'); raises ``ValueError`` on anything else."""
        if data.get("v") != DUMP_VERSION:
            raise ValueError(f"unknown conversation sentiment version: {data.get('v')!r}")
        rows = data.get("messages")
        if not isinstance(rows, list):
            raise ValueError("conversation sentiment: 'messages' must be a list")
        state = cls(settings)
        for row in rows:
            if not (isinstance(row, list) and len(row) == 4):
                raise ValueError(f"conversation sentiment: bad message {row!r}")
            ts_ms, event_id, value, text = row
            if (not isinstance(ts_ms, int) or isinstance(ts_ms, bool)
                    or not isinstance(event_id, str) or not isinstance(text, str)
                    or not isinstance(value, int | float) or isinstance(value, bool)):
                raise ValueError(f"conversation sentiment: bad message {row!r}")
            state.add(event_id, ts_ms, CUSTOMER, text, float(value))
        return state

"""What the QA flag rules look at: one contact's signals, from its facts and its customer's
words.

Pure, no I/O. :func:`contact_signals` reads a contact's :class:`ContactFacts` (telephony:
holds, transfers, abandons), its :class:`ConversationSentiment` (language) and what is known
of the same customer's other contacts (a repeat), and returns :class:`ContactSignals`. Every
figure is a function of the facts and the kept messages, so the arrival order of the
contact's events does not change it.

Telephony figures (times in ms, as in the facts):

- ``hold_s``: total hold time over the contact's segments; a hold still open counts up to
  the end of the agent's talk, or else up to the contact's latest event;
- ``transfers``: how many agents transferred the contact on;
- ``abandoned_wait_s``: the longest wait of a leg the customer abandoned;
- ``repeat_gap_s``: seconds since the same customer's previous contact (queued to queued),
  when one is known within the repeat window;
- ``in_progress``: a leg still waiting, or an agent still talking with the customer.
"""

from __future__ import annotations

from dataclasses import dataclass

from stream.metrics.facts import ContactFacts
from stream.sentiment.conversation import ConversationSentiment, CustomerMessage, Flag
from stream.sentiment.scoring import is_negative


@dataclass(frozen=True, slots=True)
class Repeat:
    """The same customer's previous contact: its id and when it was queued."""

    previous_contact: str
    previous_queued_ms: int
    queued_ms: int

    @property
    def gap_s(self) -> float:
        return (self.queued_ms - self.previous_queued_ms) / 1000


@dataclass(slots=True, eq=False)
class ContactSignals:
    """What the flag rules read of a contact (never changed once made). ``__init__`` is
    written out so that mypyc compiles it (made for every contact evaluated)."""

    messages: int  # customer messages kept (at most keep_first + window)
    rolling_score: float | None
    trend: float | None
    language: tuple[Flag, ...]  # ConversationSentiment.flags()
    negative: tuple[CustomerMessage, ...]  # negative customer messages of the last K
    recent: tuple[CustomerMessage, ...]  # the last K customer messages
    hold_s: float
    transfers: int
    abandoned_wait_s: float | None
    repeat: Repeat | None
    in_progress: bool
    queue: str | None  # the queue of the contact's latest leg
    agent: str | None  # the agent talking with the customer now (or last)

    def __init__(self, *, messages: int, rolling_score: float | None, trend: float | None,
                 language: tuple[Flag, ...], negative: tuple[CustomerMessage, ...],
                 recent: tuple[CustomerMessage, ...], hold_s: float, transfers: int,
                 abandoned_wait_s: float | None, repeat: Repeat | None, in_progress: bool,
                 queue: str | None, agent: str | None) -> None:
        self.messages = messages
        self.rolling_score = rolling_score
        self.trend = trend
        self.language = language
        self.negative = negative
        self.recent = recent
        self.hold_s = hold_s
        self.transfers = transfers
        self.abandoned_wait_s = abandoned_wait_s
        self.repeat = repeat
        self.in_progress = in_progress
        self.queue = queue
        self.agent = agent

    def flag(self, reason: str) -> Flag | None:
        return next((f for f in self.language if f.reason == reason), None)

    def phrases(self) -> tuple[Flag, ...]:
        return tuple(f for f in self.language if f.reason == "escalation_phrase")


def hold_ms(facts: ContactFacts) -> int:
    total = 0
    for seg in facts.segments.values():
        talk_end = seg.talk_end()
        for start, stop in seg.holds():
            end = stop if stop is not None else (talk_end if talk_end is not None
                                                 else facts.last_ts)
            if talk_end is not None:
                end = min(end, talk_end)
            total += max(0, end - start)
    return total


def in_progress(facts: ContactFacts) -> bool:
    if any(leg.waiting for leg in facts.legs.values()):
        return True
    return any(seg.start is not None and seg.talk_end() is None
               for seg in facts.segments.values())


def current_queue(facts: ContactFacts) -> str | None:
    """The queue of the latest queued leg (ties: the greatest name)."""
    best: str | None = None
    best_at = 0
    for queue, leg in facts.legs.items():
        at = leg.queued
        if at is not None and (best is None or at > best_at or (at == best_at and queue > best)):
            best, best_at = queue, at
    return best


def current_agent(facts: ContactFacts) -> str | None:
    """The agent of the latest started segment, one still talking first (ties: the greatest
    name)."""
    best: str | None = None
    best_open = False
    best_start = 0
    for agent, seg in facts.segments.items():
        start = seg.start
        if start is None:
            continue
        talking = seg.talk_end() is None
        if (best is None or (talking and not best_open)
                or (talking == best_open and (start > best_start
                                              or (start == best_start and agent > best)))):
            best, best_open, best_start = agent, talking, start
    return best


def contact_signals(facts: ContactFacts | None, conversation: ConversationSentiment,
                    repeat: Repeat | None = None) -> ContactSignals:
    messages = conversation.messages
    rolling: float | None = None
    trend: float | None = None
    language: tuple[Flag, ...] = ()
    recent: tuple[CustomerMessage, ...] = ()
    negative: tuple[CustomerMessage, ...] = ()
    if messages:  # else (most voice contacts): no line to score, no flag of language
        settings = conversation.settings
        recent = messages[-settings.window:]
        threshold = settings.negative_threshold  # (a pydantic field: read once)
        negative = tuple(m for m in recent if is_negative(m.score, threshold))
        rolling, trend = conversation.rolling_score(), conversation.trend()
        language = tuple(conversation.flags())
    if facts is None:
        facts = ContactFacts()
    abandoned = [leg.abandoned - leg.queued for leg in facts.legs.values()
                 if leg.abandoned is not None and leg.queued is not None]
    return ContactSignals(
        messages=len(messages),
        rolling_score=rolling,
        trend=trend,
        language=language,
        negative=negative,
        recent=recent,
        hold_s=hold_ms(facts) / 1000,
        transfers=sum(1 for seg in facts.segments.values() if seg.transferred is not None),
        abandoned_wait_s=max(abandoned) / 1000 if abandoned else None,
        repeat=repeat,
        in_progress=in_progress(facts),
        queue=current_queue(facts),
        agent=current_agent(facts),
    )

"""QA flag rules: when a contact needs a human, and why.

A flag rule (``[[flag]]`` in the alert rules file, docs/sentiment.md "Flag rules") names
conditions on a contact's signals (:mod:`stream.qa.signals`); the contact is flagged when all
of them hold. A condition is a signal's name alone, with the threshold of the settings
(``FLOORPULSE_SENTIMENT``), or ``name op number`` with its own::

    when = ["long_hold", "negative"]          # held > long_hold_s, and unhappy words
    when = ["hold_s > 600"]                   # held more than 10 minutes
    when = ["escalation_phrase"]

Names (the settings' threshold in brackets):

    low_sentiment       rolling score of the last K messages <= negative_threshold
                        (with at least min_messages messages)
    sharp_drop          trend <= -sharp_drop
    escalation_phrase   a configured escalation phrase in the last K messages
    negative            at least one negative message among the last K
    long_hold           hold_s > long_hold_s
    many_transfers      transfers >= many_transfers
    long_wait_abandon   abandoned_wait_s >= long_wait_abandon_s
    repeat_customer     repeat_gap_h <= repeat_within_h
    rolling_score, trend, hold_s, transfers, abandoned_wait_s, repeat_gap_h   with op and number

:func:`evaluate` returns a :class:`RaisedFlag` (reason text, evidence) or None. Pure.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    field_validator,
)

from stream.alerts.templates import check_placeholders
from stream.sentiment.config import SentimentSettings

if TYPE_CHECKING:  # at run time this module loads no scorer: the rules file is read without it
    from stream.qa.signals import ContactSignals
    from stream.sentiment.conversation import CustomerMessage

Op = Literal["<", "<=", ">", ">="]
BOOLEAN_SIGNALS = ("low_sentiment", "sharp_drop", "escalation_phrase", "negative",
                   "long_hold", "many_transfers", "long_wait_abandon", "repeat_customer")
NUMERIC_SIGNALS = ("rolling_score", "trend", "hold_s", "transfers", "abandoned_wait_s",
                   "repeat_gap_h")
LANGUAGE_SIGNALS = frozenset({"low_sentiment", "sharp_drop", "escalation_phrase", "negative",
                              "rolling_score", "trend"})
MESSAGE_FIELDS = ("rule", "rolling_score", "trend", "hold", "transfers", "abandoned_wait",
                  "repeat_gap", "previous_contact", "phrases")

_CONDITION = re.compile(r"^\s*([a-z_]+)\s*(?:(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*)?$")


@dataclass(frozen=True, slots=True)
class Condition:
    signal: str
    op: Op | None = None
    threshold: float | None = None

    def text(self) -> str:
        if self.op is None:
            return self.signal
        return f"{self.signal} {self.op} {self.threshold:g}"


def parse_condition(value: object) -> Condition:
    if isinstance(value, Condition):
        return value
    if not isinstance(value, str) or not (match := _CONDITION.match(value)):
        raise ValueError(f"a condition is a signal's name, or 'name op number' "
                         f"(e.g. 'hold_s > 600'); got {value!r}")
    name, op, number = match.groups()
    if op is None:
        if name not in BOOLEAN_SIGNALS:
            hint = (f"; {name!r} needs an operator and a number" if name in NUMERIC_SIGNALS
                    else "")
            raise ValueError(f"unknown signal {name!r}{hint}; known: "
                             f"{', '.join(BOOLEAN_SIGNALS)}")
        return Condition(name)
    if name not in NUMERIC_SIGNALS:
        raise ValueError(f"{name!r} takes no number; signals with a number: "
                         f"{', '.join(NUMERIC_SIGNALS)}")
    return Condition(name, op, float(number))  # type: ignore[arg-type]


ConditionField = Annotated[Condition, PlainValidator(parse_condition)]


class FlagRule(BaseModel):
    """One ``[[flag]]`` table."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    when: tuple[ConditionField, ...] = Field(min_length=1)
    message: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    description: str = ""

    @field_validator("message")
    @classmethod
    def _template(cls, value: str) -> str:
        check_placeholders(value, MESSAGE_FIELDS, "flag messages")
        return value

    @property
    def language(self) -> bool:
        """Whether the rule looks at the customer's words (else telephony only)."""
        return any(c.signal in LANGUAGE_SIGNALS for c in self.when)


@dataclass(frozen=True, slots=True)
class RaisedFlag:
    """A flag rule that holds for a contact: the reason as a person reads it, and the
    customer messages (and telephony facts) that show it."""

    rule_id: str
    reason: str
    conditions: tuple[str, ...]
    evidence: tuple[CustomerMessage, ...]
    facts: tuple[str, ...]  # telephony evidence ("held 7 min 30 s in total")

    def to_json(self) -> dict[str, object]:
        return {"rule": self.rule_id, "reason": self.reason, "conditions": list(self.conditions),
                "evidence": [{"event_id": m.event_id, "ts_ms": m.ts_ms,
                              "score": round(m.score, 4), "text": m.text}
                             for m in self.evidence],
                "facts": list(self.facts)}


def _breaches(value: float | None, op: str, threshold: float) -> bool:
    if value is None:
        return False
    return {"<": value < threshold, "<=": value <= threshold, ">": value > threshold,
            ">=": value >= threshold}[op]


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def _check(condition: Condition, s: ContactSignals, settings: SentimentSettings
           ) -> tuple[bool, tuple[CustomerMessage, ...], str | None]:
    """(holds, evidence messages, telephony fact)."""
    name, op, threshold = condition.signal, condition.op, condition.threshold
    if name == "low_sentiment":
        flag = s.flag("low_sentiment")
        return flag is not None, flag.evidence if flag else (), None
    if name == "sharp_drop":
        flag = s.flag("sharp_drop")
        return flag is not None, flag.evidence if flag else (), None
    if name == "escalation_phrase":
        said = s.phrases()
        return bool(said), tuple(m for f in said for m in f.evidence), None
    if name == "negative":
        return bool(s.negative), s.negative, None
    if name == "rolling_score":
        assert op is not None and threshold is not None
        holds = s.messages >= settings.min_messages and _breaches(s.rolling_score, op,
                                                                  threshold)
        return holds, s.negative if holds else (), None
    if name == "trend":
        assert op is not None and threshold is not None
        return _breaches(s.trend, op, threshold), (), None
    if name in ("long_hold", "hold_s"):
        holds = (s.hold_s > settings.long_hold_s if op is None
                 else _breaches(s.hold_s, op, threshold or 0.0))
        return holds, (), f"held {_duration(s.hold_s)} in total" if holds else None
    if name in ("many_transfers", "transfers"):
        holds = (s.transfers >= settings.many_transfers if op is None
                 else _breaches(s.transfers, op, threshold or 0.0))
        return holds, (), f"transferred {s.transfers} times" if holds else None
    if name in ("long_wait_abandon", "abandoned_wait_s"):
        wait = s.abandoned_wait_s
        holds = wait is not None and (wait >= settings.long_wait_abandon_s if op is None
                                      else _breaches(wait, op, threshold or 0.0))
        return holds, (), f"abandoned after waiting {_duration(wait or 0)}" if holds else None
    if name in ("repeat_customer", "repeat_gap_h"):
        repeat = s.repeat
        gap_h = None if repeat is None else repeat.gap_s / 3600
        holds = gap_h is not None and (gap_h <= settings.repeat_within_h if op is None
                                       else _breaches(gap_h, op, threshold or 0.0))
        fact = (f"same customer {_duration(repeat.gap_s)} after contact "
                f"{repeat.previous_contact}" if holds and repeat is not None else None)
        return holds, (), fact
    raise ValueError(f"unknown signal {name!r}")


class _Blank(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        return "—" if value is None else format(value, format_spec)


def message_fields(rule_id: str, s: ContactSignals) -> Mapping[str, object]:
    repeat = s.repeat
    return {
        "rule": rule_id,
        "rolling_score": None if s.rolling_score is None else round(s.rolling_score, 2),
        "trend": None if s.trend is None else round(s.trend, 2),
        "hold": _duration(s.hold_s),
        "transfers": s.transfers,
        "abandoned_wait": None if s.abandoned_wait_s is None else _duration(s.abandoned_wait_s),
        "repeat_gap": None if repeat is None else _duration(repeat.gap_s),
        "previous_contact": None if repeat is None else repeat.previous_contact,
        "phrases": ", ".join(f"'{f.phrase}'" for f in s.phrases()) or None,
    }


def evaluate(rule: FlagRule, signals: ContactSignals,
             settings: SentimentSettings) -> RaisedFlag | None:
    evidence: dict[str, CustomerMessage] = {}
    facts: list[str] = []
    for condition in rule.when:
        holds, messages, fact = _check(condition, signals, settings)
        if not holds:
            return None
        for message in messages:
            evidence.setdefault(message.event_id, message)
        if fact is not None:
            facts.append(fact)
    reason = _Blank().vformat(rule.message, (), dict(message_fields(rule.id, signals)))
    return RaisedFlag(rule.id, reason, tuple(c.text() for c in rule.when),
                      tuple(sorted(evidence.values())), tuple(facts))

"""The sentiment flags' settings: part of the one settings object
(``FLOORPULSE_SENTIMENT='{"negative_threshold": -0.2}'``), kept apart from the scorer so that
reading settings does not load VADER."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_ESCALATION_PHRASES: tuple[str, ...] = (
    "supervisor",
    "manager",
    "escalate",
    "cancel",
    "cancel my account",
    "close my account",
    "cancel my subscription",
    "complaint",
    "formal complaint",
    "lawyer",
    "attorney",
    "legal action",
    "sue",
    "ombudsman",
    "regulator",
    "chargeback",
    "better business bureau",
    "switch provider",
)


class SentimentSettings(BaseModel):
    """Thresholds of the sentiment flags .

    negative_threshold: a score at or below it is negative (chosen on the dev set, see
        docs/sentiment.md); the rolling score of a contact is judged against it too.
    window: K, the rolling score is the mean of the last K customer messages.
    keep_first: N (at least K), customer messages kept from the start of a contact; the
        trend compares the first K of them with the last K.
    min_messages: fewest customer messages before a low rolling score is flagged.
    sharp_drop: a trend (recent mean minus start mean) at or below ``-sharp_drop`` flags.
    escalation_phrases: matched case-insensitively on whole words in the last K customer
        messages ("cancel" matches "I will cancel", not "my flight was cancelled").

    Telephony thresholds of the QA flags (docs/sentiment.md, "Flags"; a flag rule can
    override each with its own number):

    long_hold_s: a contact held longer than this in total is a long hold.
    many_transfers: this many transfers or more.
    long_wait_abandon_s: a customer who abandoned after waiting at least this long.
    repeat_within_h: the same customer contacting again within this many hours.
    """

    model_config = ConfigDict(frozen=True)

    negative_threshold: float = Field(default=-0.05, ge=-1.0, le=1.0)
    window: int = Field(default=5, ge=1)
    keep_first: int = Field(default=5, ge=1)
    min_messages: int = Field(default=2, ge=1)
    sharp_drop: float = Field(default=0.5, gt=0.0, le=2.0)
    escalation_phrases: tuple[str, ...] = DEFAULT_ESCALATION_PHRASES
    long_hold_s: float = Field(default=300.0, gt=0)
    many_transfers: int = Field(default=2, ge=1)
    long_wait_abandon_s: float = Field(default=120.0, gt=0)
    repeat_within_h: float = Field(default=24.0, gt=0, le=24 * 7)

    @field_validator("keep_first")
    @classmethod
    def _keeps_a_window(cls, value: int, info: object) -> int:
        window = getattr(info, "data", {}).get("window", 1)
        if value < window:
            raise ValueError("keep_first must be at least window")
        return value

    @field_validator("escalation_phrases")
    @classmethod
    def _no_blank_phrase(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not phrase.strip() for phrase in value):
            raise ValueError("escalation phrases must not be blank")
        return value

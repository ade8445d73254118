"""The canonical event model: one pydantic tagged union on ``type``.

Every producer, the worker and the batch tools read and write events through this module;
``docs/events.schema.json`` is exported from it (``floorpulse schema``).

A Kafka message value carries one event (a JSON object) or many (a JSON array of objects).
:func:`decode_message` turns a value into valid events plus one :class:`Rejected` per
invalid item, each with a reason a person can act on; nothing is dropped silently.
"""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=256)]
# Tenants name Kafka keys and Redis keys, so they are restricted to a safe alphabet.
TenantName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
Text = Annotated[str, StringConstraints(max_length=20_000)]
Channel = Literal["voice", "chat", "email", "sms", "social"]
AgentStateName = Literal["logged_out", "available", "on_contact", "acw", "aux"]
AGENT_STATES: tuple[AgentStateName, ...] = ("available", "on_contact", "acw", "aux", "logged_out")
DEFAULT_TENANT = "default"


class _Event(BaseModel):
    """Fields common to every event."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=False)

    event_id: NonEmpty
    ts: AwareDatetime
    tenant: TenantName = DEFAULT_TENANT


class ContactQueued(_Event):
    """The contact entered a queue: it is offered there."""

    type: Literal["contact.queued"]
    contact_id: NonEmpty
    queue: NonEmpty
    channel: Channel = "voice"
    customer_id: NonEmpty | None = None


class ContactAnswered(_Event):
    """An agent connected; wait = this ts - queued ts."""

    type: Literal["contact.answered"]
    contact_id: NonEmpty
    queue: NonEmpty
    agent_id: NonEmpty


class ContactAbandoned(_Event):
    """The customer left the queue before an agent connected."""

    type: Literal["contact.abandoned"]
    contact_id: NonEmpty
    queue: NonEmpty


class ContactTransferred(_Event):
    """Handed on by ``agent_id``; a transfer to a queue queues the contact there again."""

    type: Literal["contact.transferred"]
    contact_id: NonEmpty
    agent_id: NonEmpty
    to_queue: NonEmpty | None = None
    to_agent: NonEmpty | None = None


class ContactHeld(_Event):
    type: Literal["contact.held"]
    contact_id: NonEmpty
    agent_id: NonEmpty


class ContactResumed(_Event):
    type: Literal["contact.resumed"]
    contact_id: NonEmpty
    agent_id: NonEmpty


class ContactEnded(_Event):
    """Conversation over; after-contact work (ACW) may follow."""

    type: Literal["contact.ended"]
    contact_id: NonEmpty
    agent_id: NonEmpty


class ContactWrapped(_Event):
    """ACW finished; handle time = talk + hold + ACW."""

    type: Literal["contact.wrapped"]
    contact_id: NonEmpty
    agent_id: NonEmpty


class AgentState(_Event):
    """The agent's state from ``ts`` on.

    Extensions to the first contract (all optional): ``name`` (display name), ``queues``
    (the queues the agent is skilled for; agents are counted on those queues' tiles).
    """

    type: Literal["agent.state"]
    agent_id: NonEmpty
    state: AgentStateName
    reason: NonEmpty | None = None
    team: NonEmpty | None = None
    name: NonEmpty | None = None
    queues: tuple[NonEmpty, ...] | None = None


class ChatMessage(_Event):
    type: Literal["chat.message"]
    contact_id: NonEmpty
    sender: Literal["customer", "agent", "bot"]
    text: Text


class TranscriptSegment(_Event):
    type: Literal["transcript.segment"]
    contact_id: NonEmpty
    speaker: Literal["customer", "agent"]
    text: Text


# ------------------------------------------------------------ workforce management
# docs/metrics.md section 5. Not contact or agent activity: published plans.


class ScheduleSegment(BaseModel):
    """One stretch of an agent's schedule: ``activity`` (open, break, lunch, meeting,
    training, off, or any other name) from ``start`` to ``end``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    start: AwareDatetime
    end: AwareDatetime
    activity: NonEmpty

    @model_validator(mode="after")
    def _ordered(self) -> ScheduleSegment:
        if self.end <= self.start:
            raise ValueError("a segment must end after it starts")
        return self


class SchedulePublished(_Event):
    """An agent's schedule as published at ``ts``; it replaces the schedules published
    before it over the range it covers, from ``ts`` on. The range is
    [``covers_from``, ``covers_to``), by default the center's days the segments touch."""

    type: Literal["schedule.published"]
    agent_id: NonEmpty
    segments: tuple[ScheduleSegment, ...] = Field(default=(), max_length=2000)
    covers_from: AwareDatetime | None = None
    covers_to: AwareDatetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SchedulePublished:
        if not self.segments and (self.covers_from is None or self.covers_to is None):
            raise ValueError("a schedule without segments needs covers_from and covers_to")
        if (self.covers_from is not None and self.covers_to is not None
                and self.covers_to <= self.covers_from):
            raise ValueError("covers_to must be after covers_from")
        ordered = sorted(self.segments, key=lambda s: s.start)
        for before, after in zip(ordered, ordered[1:], strict=False):
            if after.start < before.end:
                raise ValueError(f"segments overlap at {after.start.isoformat()}")
        return self


class ForecastInterval(BaseModel):
    """The forecast of one 15-minute interval (``start`` on the quarter hour)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    start: AwareDatetime
    volume: float = Field(ge=0, le=1_000_000)
    aht_s: float = Field(gt=0, le=86_400)

    @model_validator(mode="after")
    def _on_grid(self) -> ForecastInterval:
        if self.start.minute % 15 or self.start.second or self.start.microsecond:
            raise ValueError("an interval starts on the quarter hour (:00, :15, :30, :45)")
        return self


class ForecastPublished(_Event):
    """A queue's forecast as published at ``ts``: per interval, the latest one wins."""

    type: Literal["forecast.published"]
    queue: NonEmpty
    intervals: tuple[ForecastInterval, ...] = Field(min_length=1, max_length=5000)


WfmEvent = SchedulePublished | ForecastPublished

ContactEvent = (
    ContactQueued
    | ContactAnswered
    | ContactAbandoned
    | ContactTransferred
    | ContactHeld
    | ContactResumed
    | ContactEnded
    | ContactWrapped
)
Event = Annotated[
    ContactEvent | AgentState | ChatMessage | TranscriptSegment | WfmEvent,
    Field(discriminator="type"),
]
EVENT_TYPES: tuple[str, ...] = (
    "contact.queued",
    "contact.answered",
    "contact.abandoned",
    "contact.transferred",
    "contact.held",
    "contact.resumed",
    "contact.ended",
    "contact.wrapped",
    "agent.state",
    "chat.message",
    "transcript.segment",
    "schedule.published",
    "forecast.published",
)

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENTS_ADAPTER: TypeAdapter[list[Event]] = TypeAdapter(list[Event])


class Rejected(BaseModel):
    """An input that is not a valid event, bound for the dead-letter topic."""

    model_config = ConfigDict(frozen=True)

    reason: str
    raw: bytes
    index: int | None = None  # position in a JSON array value, if it came from one


def describe_error(exc: ValidationError) -> str:
    """One line a person can act on, e.g. ``missing field 'queue'``."""
    err = exc.errors(include_url=False)[0]
    kind = err["type"]
    loc = [str(part) for part in err["loc"]]
    # Drop the union tag (the type name) that pydantic puts first in the location.
    if loc and loc[0] in EVENT_TYPES:
        loc = loc[1:]
    field = ".".join(loc)
    if kind == "union_tag_invalid":
        tag = err.get("ctx", {}).get("tag", "?")
        return f"unknown event type {tag!r}"
    if kind == "union_tag_not_found":
        return "missing field 'type'"
    if kind == "missing":
        return f"missing field {field!r}"
    if field == "ts" or field.endswith(".ts"):
        return f"bad timestamp in 'ts': {err['msg']}"
    if not loc and kind in ("model_type", "model_attributes_type", "dict_type"):
        return "an event must be a JSON object"
    return f"invalid field {field!r}: {err['msg']}"


def _reject_item(item: object, index: int | None) -> Rejected | Event:
    try:
        return EVENT_ADAPTER.validate_python(item)
    except ValidationError as exc:
        raw = orjson.dumps(item) if index is not None else b""
        return Rejected(reason=describe_error(exc), raw=raw, index=index)


def decode_message(value: bytes | None) -> tuple[list[Event], list[Rejected]]:
    """Decode one Kafka message value into events and rejects.

    A JSON array is validated as a whole first (the fast path); if any item is bad,
    each item is validated on its own so that the good ones still count.
    """
    if not value:
        return [], [Rejected(reason="empty message", raw=value or b"")]
    first = value.lstrip()[:1]
    try:
        if first == b"[":
            return EVENTS_ADAPTER.validate_json(value), []
        return [EVENT_ADAPTER.validate_json(value)], []
    except ValidationError as exc:
        if first != b"[":
            return [], [Rejected(reason=_top_level_reason(value, exc), raw=value)]
    try:
        items = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return [], [Rejected(reason=f"not JSON: {exc}", raw=value)]
    events: list[Event] = []
    rejects: list[Rejected] = []
    for i, item in enumerate(items):
        out = _reject_item(item, i)
        if isinstance(out, Rejected):
            rejects.append(out)
        else:
            events.append(out)
    return events, rejects


def _top_level_reason(value: bytes, exc: ValidationError) -> str:
    if exc.errors(include_url=False)[0]["type"] == "json_invalid":
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError as jexc:
            return f"not JSON: {jexc}"
        return "not JSON"
    return describe_error(exc)


def encode_events(events: list[Event] | list[dict[str, object]]) -> bytes:
    """One message value carrying many events (a JSON array)."""
    return orjson.dumps(
        [e.model_dump(mode="json", exclude_none=True) if isinstance(e, BaseModel) else e
         for e in events]
    )


def contact_key(tenant: str, contact_id: str) -> bytes:
    return f"{tenant}|contact|{contact_id}".encode()


def agent_key(tenant: str, agent_id: str) -> bytes:
    return f"{tenant}|agent|{agent_id}".encode()


def queue_key(tenant: str, queue: str) -> bytes:
    """Forecasts: by tenant and queue."""
    return f"{tenant}|queue|{queue}".encode()


def split_key(key: bytes) -> tuple[str, str, str]:
    """``(tenant, "contact" | "agent" | "queue", id)`` from a message key."""
    tenant, kind, ident = key.decode().split("|", 2)
    return tenant, kind, ident


def event_key(event: Event) -> bytes:
    """The Kafka message key: every event of one contact, or of one agent, shares a key.

    Contact, chat and transcript events are keyed by tenant and contact, so all the facts
    of a contact meet on one partition; agent events by tenant and agent. A published
    schedule goes with its agent's events; a forecast is keyed by tenant and queue.
    """
    if isinstance(event, AgentState | SchedulePublished):
        return agent_key(event.tenant, event.agent_id)
    if isinstance(event, ForecastPublished):
        return queue_key(event.tenant, event.queue)
    return contact_key(event.tenant, event.contact_id)


def raw_key(obj: dict[str, object]) -> bytes | None:
    """The key for an undecoded event dict (what replay sends before validation)."""
    tenant = str(obj.get("tenant") or DEFAULT_TENANT)
    if obj.get("type") in ("agent.state", "schedule.published") and obj.get("agent_id"):
        return agent_key(tenant, str(obj["agent_id"]))
    if obj.get("type") == "forecast.published" and obj.get("queue"):
        return queue_key(tenant, str(obj["queue"]))
    if obj.get("contact_id"):
        return contact_key(tenant, str(obj["contact_id"]))
    return None


def json_schema() -> dict[str, object]:
    """The JSON Schema of one event (exported to docs/events.schema.json)."""
    schema = EVENT_ADAPTER.json_schema()
    schema["title"] = "floorpulse canonical event"
    return schema

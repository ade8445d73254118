"""Decoding Kafka message values into canonical events, and the reasons for rejects."""

from __future__ import annotations

import typing

import orjson
import pytest

from stream.events import (
    EVENT_TYPES,
    ContactQueued,
    Event,
    decode_message,
    encode_events,
    event_key,
    json_schema,
    raw_key,
)

QUEUED = {"type": "contact.queued", "event_id": "e1", "ts": "2026-11-22T09:15:03.250Z",
          "contact_id": "c1", "queue": "billing", "channel": "chat"}
STATE = {"type": "agent.state", "event_id": "e2", "ts": "2026-11-22T09:15:04+01:00",
         "agent_id": "a1", "state": "aux", "reason": "lunch", "team": "Blue"}


def test_a_single_event_object_decodes() -> None:
    events, rejects = decode_message(orjson.dumps(QUEUED))
    assert rejects == []
    (event,) = events
    assert isinstance(event, ContactQueued)
    assert event.tenant == "default"
    assert event.ts.timestamp() == pytest.approx(1795338903.25)


def test_an_array_carries_many_events() -> None:
    events, rejects = decode_message(orjson.dumps([QUEUED, STATE]))
    assert [e.type for e in events] == ["contact.queued", "agent.state"]
    assert rejects == []


def test_one_bad_item_in_an_array_does_not_lose_the_good_ones() -> None:
    bad = {**QUEUED, "event_id": "e9", "queue": None}
    events, rejects = decode_message(orjson.dumps([QUEUED, bad, STATE]))
    assert [e.event_id for e in events] == ["e1", "e2"]
    (reject,) = rejects
    assert reject.index == 1
    assert orjson.loads(reject.raw)["event_id"] == "e9"
    assert "queue" in reject.reason


@pytest.mark.parametrize(("value", "reason"), [
    (b"not json", "not JSON"),
    (b"", "empty message"),
    (orjson.dumps({**QUEUED, "type": "contact.beamed"}), "unknown event type 'contact.beamed'"),
    (orjson.dumps({k: v for k, v in QUEUED.items() if k != "type"}), "missing field 'type'"),
    (orjson.dumps({k: v for k, v in QUEUED.items() if k != "queue"}), "missing field 'queue'"),
    (orjson.dumps({**QUEUED, "ts": "noon"}), "bad timestamp in 'ts'"),
    (orjson.dumps({**QUEUED, "ts": "2026-11-22T09:15:03"}), "bad timestamp in 'ts'"),
    (orjson.dumps({**QUEUED, "channel": "fax"}), "invalid field 'channel'"),
    (orjson.dumps({**STATE, "state": "asleep"}), "invalid field 'state'"),
    (orjson.dumps({**STATE, "tenant": "a|b"}), "invalid field 'tenant'"),
    (b"42", "an event must be a JSON object"),
])
def test_invalid_input_is_rejected_with_a_reason(value: bytes, reason: str) -> None:
    events, rejects = decode_message(value)
    assert events == []
    (reject,) = rejects
    assert reject.reason.startswith(reason)
    assert reject.raw == value


def test_unknown_extra_fields_are_ignored_for_forward_compatibility() -> None:
    events, rejects = decode_message(orjson.dumps({**QUEUED, "sip_call_id": "xyz"}))
    assert len(events) == 1 and rejects == []


def test_events_of_one_contact_share_a_key_whatever_their_form() -> None:
    events, _ = decode_message(orjson.dumps([QUEUED, STATE]))
    assert event_key(events[0]) == raw_key(QUEUED) == b"default|contact|c1"
    assert event_key(events[1]) == raw_key(STATE) == b"default|agent|a1"
    assert raw_key({"type": "contact.queued"}) is None


def test_encoded_events_decode_to_the_same_events() -> None:
    events, _ = decode_message(orjson.dumps([QUEUED, STATE]))
    again, rejects = decode_message(encode_events(events))
    assert again == events and rejects == []


def test_the_json_schema_names_every_event_type() -> None:
    text = orjson.dumps(json_schema()).decode()
    for kind in ("contact.queued", "contact.wrapped", "agent.state", "chat.message",
                 "transcript.segment"):
        assert kind in text


def test_no_event_class_has_a_subclass_so_the_class_of_an_event_tells_its_type() -> None:
    # The hot path compares an event's class (``type(event) is ContactQueued``) instead of
    # isinstance, which a pydantic model's metaclass turns into a call.
    classes = typing.get_args(typing.get_args(Event)[0])
    assert len(classes) == len(EVENT_TYPES)
    for cls in classes:
        assert cls.__subclasses__() == [], cls

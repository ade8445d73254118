"""QA flags on hand-made contacts, the flag rules in the rules file, the repeat-customer
index and the QA queue's fold: pure logic, no broker or Redis."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from stream.alerts.backtest import backtest
from stream.alerts.rules import RuleFileError, default_config, parse_config
from stream.events import EVENT_ADAPTER, Event
from stream.metrics.facts import ContactFacts, Leg, Segment
from stream.qa.customers import CustomerContacts
from stream.qa.flags import (
    BOOLEAN_SIGNALS,
    LANGUAGE_SIGNALS,
    Condition,
    FlagRule,
    evaluate,
)
from stream.qa.queue import fold
from stream.qa.signals import Repeat, contact_signals, current_agent, current_queue
from stream.report import new_partition_state
from stream.sentiment.conversation import ConversationSentiment
from stream.settings import Settings

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FLAGS = default_config().flags


def ev(kind: str, second: float, contact: str = "c1", **fields: Any) -> Event:
    ts = (T0 + timedelta(seconds=second)).isoformat()
    return EVENT_ADAPTER.validate_python({
        "event_id": f"{contact}-{kind}-{second}-{fields.get('text', '')[:12]}",
        "type": kind, "ts": ts, "contact_id": contact, **fields})


def say(second: float, text: str, contact: str = "c1", who: str = "customer") -> Event:
    return ev("chat.message", second, contact, sender=who, text=text)


def run(events: list[Event]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Apply events to one partition with the default flags; the last content sent per
    contact and the live flagged contacts."""
    state = new_partition_state(Settings(), flags=FLAGS)
    assert state.qa is not None
    sent: dict[str, Any] = {}
    for event in events:
        state.apply(event)
        for out in state.qa.evaluate(state.contacts)[0]:
            sent[str(out["contact_id"])] = out["content"]
    return sent, [state.qa.live_view("default")]


def reasons(content: dict[str, Any]) -> list[str]:
    return [r["rule"] for r in content["reasons"]]


def test_escalation_and_unhappy_customer_are_flagged_with_the_messages_that_show_it() -> None:
    events = [
        ev("contact.queued", 0, queue="billing", channel="chat"),
        ev("contact.answered", 30, queue="billing", agent_id="a1"),
        say(31, "Hi, I think I was charged twice for my last order."),
        say(40, "Let me check that for you.", who="agent"),
        say(60, "third hour on hold, still no answer"),
        say(70, "I want to speak to a supervisor right now"),
    ]
    sent, (live,) = run(events)
    content = sent["c1"]
    assert set(reasons(content)) >= {"escalation", "low-sentiment"}
    escalation = next(r for r in content["reasons"] if r["rule"] == "escalation")
    assert escalation["reason"] == "Escalation: the customer said 'supervisor'"
    assert [e["text"] for e in escalation["evidence"]] == [
        "I want to speak to a supervisor right now"]
    low = next(r for r in content["reasons"] if r["rule"] == "low-sentiment")
    # the complaint with no negative word is evidence of the low score
    assert "third hour on hold, still no answer" in [e["text"] for e in low["evidence"]]
    assert [m["text"] for m in content["messages"]][0].startswith("Hi, I think")
    assert all(m["text"] != "Let me check that for you." for m in content["messages"])
    assert content["in_progress"] is True and content["agent"] == "a1"
    assert live["c1"]["agent"] == "a1" and "escalation" in live["c1"]["reasons"]


def test_a_calm_customer_is_not_flagged() -> None:
    sent, (live,) = run([
        ev("contact.queued", 0, queue="sales", channel="chat"),
        say(5, "How do I upgrade my plan?"),
        say(20, "Great, that's what I needed. Thanks!"),
    ])
    assert sent == {} and live == {}


def test_telephony_signals_flag_long_holds_transfers_and_long_abandons() -> None:
    events = [
        ev("contact.queued", 0, "v1", queue="support"),
        ev("contact.answered", 10, "v1", queue="support", agent_id="a1"),
        ev("contact.held", 20, "v1", agent_id="a1"),
        ev("contact.resumed", 20 + 400, "v1", agent_id="a1"),
        ev("contact.transferred", 500, "v1", agent_id="a1", to_queue="billing"),
        ev("contact.answered", 510, "v1", queue="billing", agent_id="a2"),
        ev("contact.transferred", 600, "v1", agent_id="a2", to_agent="a3"),
        ev("contact.queued", 0, "v2", queue="support"),
        ev("contact.abandoned", 150, "v2", queue="support"),
        ev("contact.queued", 0, "v3", queue="support"),
        ev("contact.abandoned", 30, "v3", queue="support"),
    ]
    sent, _ = run(events)
    assert set(reasons(sent["v1"])) == {"long-hold", "many-transfers"}
    hold = next(r for r in sent["v1"]["reasons"] if r["rule"] == "long-hold")
    assert hold["reason"] == "On hold 6 min 40 s in total"
    assert hold["facts"] == ["held 6 min 40 s in total"]
    assert reasons(sent["v2"]) == ["abandoned-after-long-wait"]
    assert sent["v2"]["in_progress"] is False
    assert "v3" not in sent  # 30 s is no long wait


def test_flags_do_not_depend_on_arrival_order_or_duplicates() -> None:
    events = [
        ev("contact.queued", 0, queue="billing", channel="chat"),
        say(10, "My internet keeps dropping in the evening."),
        say(20, "This is taking way too long."),
        say(30, "I've explained this twice already, I will cancel"),
        say(40, "still not fixed?!"),
    ]
    want, _ = run(events)
    for order in itertools.islice(itertools.permutations(events), 0, 120, 7):
        got, _ = run([*order, order[2]])
        assert reasons(got["c1"]) == reasons(want["c1"])
        assert got["c1"]["messages"] == want["c1"]["messages"]
        assert got["c1"]["rolling_score"] == want["c1"]["rolling_score"]


def test_a_repeat_customer_is_flagged_only_when_unhappy_too() -> None:
    state = new_partition_state(Settings(), flags=FLAGS)
    assert state.qa is not None
    from stream.qa.signals import Repeat
    for event in (ev("contact.queued", 0, "r1", queue="billing", channel="chat"),
                  say(5, "Hello, can you tell me where my order is?", "r1")):
        state.apply(event)
    state.qa.apply_repeat(("default", "r1"), Repeat("r0", 0, 3_600_000))
    assert state.qa.evaluate(state.contacts)[0] == []
    state.apply(say(30, "I already gave you that information. Terrible.", "r1"))
    (out,) = state.qa.evaluate(state.contacts)[0]
    content: Any = out["content"]
    assert "repeat-customer-unhappy" in reasons(content)
    assert content["repeat"] == {"previous_contact": "r0", "gap_s": 3600.0}


def test_the_state_of_a_contact_survives_dump_and_load_without_sending_again() -> None:
    state = new_partition_state(Settings(), flags=FLAGS)
    assert state.qa is not None
    for event in (ev("contact.queued", 0, queue="billing", channel="chat"),
                  ev("contact.answered", 5, queue="billing", agent_id="a1"),
                  say(10, "I want to cancel my account, this is a joke")):
        state.apply(event)
    assert len(state.qa.evaluate(state.contacts)[0]) == 1
    dumped = {key: qa.dump() for key, qa in state.qa.contacts.items()}
    other = new_partition_state(Settings(), flags=FLAGS)
    assert other.qa is not None
    for (tenant, contact), data in dumped.items():
        other.qa.load(tenant, contact, data)
    other.contacts = state.contacts
    other.qa.restore_live(other.contacts)
    assert other.qa.live_view("default") == state.qa.live_view("default")
    other.apply(say(10, "I want to cancel my account, this is a joke"))  # replayed: no news
    assert other.qa.evaluate(other.contacts)[0] == []


def test_qa_state_left_by_a_repeat_signal_after_its_contact_was_archived_goes_at_expiry(
        ) -> None:
    """In a catch-up the repeat-customer agent runs behind the events: a signal can come
    for a contact already archived. It is evaluated, and then nothing of it is kept (it
    was kept for ever)."""
    from stream.qa.contact import ContactQa
    from stream.qa.signals import Repeat
    from stream.qa.worker import QaFlags, qa_key
    from stream.sentiment.conversation import ConversationSentiment
    state = new_partition_state(Settings(), flags=FLAGS)
    assert state.qa is not None
    for event in (ev("contact.queued", 0, "r1", queue="billing", channel="chat"),
                  ev("contact.answered", 5, "r1", queue="billing", agent_id="a1"),
                  say(10, "Where is my order?", "r1"),
                  ev("contact.ended", 60, "r1", agent_id="a1"),
                  ev("contact.wrapped", 90, "r1", agent_id="a1"),
                  ev("contact.queued", 3 * 3600, "r2", queue="billing", channel="chat")):
        state.apply(event)
    state.qa.evaluate(state.contacts)
    state.qa.dirty.clear()  # persisted
    deleted: list[bytes] = []
    archived, _ = state.expire()
    assert ("default", "r1") in {key for key, _ in archived}
    QaFlags.forget(0, state, [key for key, _ in archived], lambda _p, key: deleted.append(key))
    assert ("default", "r1") not in state.qa.contacts and deleted == [qa_key("default", "r1")]

    state.qa.apply_repeat(("default", "r1"), Repeat("r0", 0, 0))  # late
    assert ("default", "r1") in state.qa.contacts
    state.qa.evaluate(state.contacts)  # evaluated, then nothing kept: no facts
    assert ("default", "r1") not in state.qa.contacts and not state.qa.dirty

    # Such state stored by an earlier version comes back with a restore: dropped and
    # deleted at the next expiry.
    other = new_partition_state(Settings(), flags=FLAGS)
    assert other.qa is not None
    orphan = ContactQa(ConversationSentiment(), Repeat("r0", 0, 0))
    other.qa.load("default", "r1", orjson.loads(orjson.dumps(orphan.dump())))
    QaFlags.forget(0, other, [], lambda _p, key: deleted.append(key))
    assert not other.qa.contacts
    assert deleted == [qa_key("default", "r1")] * 2


# ---------------------------------------------------------------------- rules file
FLAG_FILE = """
[[flag]]
id = "long-hold-unhappy"
when = ["hold_s > 600", "negative"]
message = "Held {hold} and unhappy"

[[flag]]
id = "bad"
when = ["hold_s", "mood < 3"]
message = "{nonsense}"
"""


def test_flag_rules_are_read_from_the_rules_file_with_line_and_field_errors() -> None:
    with pytest.raises(RuleFileError) as caught:
        parse_config(FLAG_FILE, "rules.toml")
    text = str(caught.value)
    assert "rules.toml:9: flag 'bad', field 'when[0]': " in text
    assert "'hold_s' needs an operator and a number" in text
    assert "field 'when[1]'" in text and "unknown" in text
    assert "rules.toml:10: flag 'bad', field 'message': unknown placeholder {nonsense}" in text
    good = parse_config(FLAG_FILE.split("[[flag]]\nid = \"bad\"")[0], "rules.toml")
    (rule,) = good.flags
    assert [c.text() for c in rule.when] == ["hold_s > 600", "negative"]
    assert good.rules == []


def test_the_default_flag_thresholds_come_from_the_sentiment_settings() -> None:
    settings = Settings(sentiment={"long_hold_s": 1000})  # type: ignore[arg-type]
    state = new_partition_state(settings, flags=FLAGS)
    assert state.qa is not None
    for event in (ev("contact.queued", 0, queue="s"),
                  ev("contact.answered", 1, queue="s", agent_id="a"),
                  ev("contact.held", 2, agent_id="a"), ev("contact.resumed", 402, agent_id="a")):
        state.apply(event)
    assert state.qa.evaluate(state.contacts)[0] == []


# ------------------------------------------------------------------ repeat customers
def test_the_repeat_index_finds_the_previous_contact_in_any_order() -> None:
    day = 86_400_000
    contacts = [("k1", 0), ("k2", 3_600_000), ("k3", 2 * day), ("k4", 2 * day + 60_000)]
    want = {"k2": ("k1", 0), "k4": ("k3", 2 * day)}
    for order in itertools.permutations(contacts):
        index = CustomerContacts()
        told: dict[str, tuple[str, int]] = {}
        for contact, ts in order:
            for cid, repeat in index.add(contact, ts, day):
                # a contact keeps the nearest previous contact it is told of
                mine = told.get(cid)
                if mine is None or repeat.previous_queued_ms > mine[1]:
                    told[cid] = (repeat.previous_contact, repeat.previous_queued_ms)
        assert told == want


def previous_contacts(contacts: dict[str, int], window_ms: int) -> dict[str, Repeat]:
    """Each contact's previous contact, from scratch: the latest of the customer's other
    contacts queued before it (ties by contact id), within the window."""
    out = {}
    for cid, queued in contacts.items():
        before = [(ts, other) for other, ts in contacts.items()
                  if (ts, other) < (queued, cid) and queued - ts <= window_ms]
        if before:
            ts, other = max(before)
            out[cid] = Repeat(other, ts, queued)
    return out


@given(st.lists(st.tuples(st.sampled_from("abcdefg"), st.integers(0, 12)), max_size=25),
       st.integers(0, 6))
@hyp_settings(max_examples=400, deadline=None)
def test_each_added_contact_signals_exactly_the_previous_contacts_it_changes(
        adds: list[tuple[str, int]], window: int) -> None:
    """In order, out of order, again, or at the same time as another: the contacts kept are
    each one's first queued time, and the signals are the contacts whose previous contact
    is new or different, in contact order."""
    index = CustomerContacts()
    kept: dict[str, int] = {}
    for contact, ts in adds:
        was = previous_contacts(kept, window)
        kept[contact] = min(ts, kept.get(contact, ts))
        now = previous_contacts(kept, window)
        want = [(cid, now[cid]) for cid in sorted(now) if now[cid] != was.get(cid)]
        assert index.add(contact, ts, window) == want
        assert index.contacts == kept


def test_a_batchs_repeat_signals_go_as_one_message_per_partition_and_apply_as_sent_alone(
) -> None:
    from stream.qa.worker import QaFlags, index_customers, signal_messages
    day = 86_400_000
    table: dict[bytes, bytes] = {}
    message = orjson.dumps([["default", f"cust-{i % 3}", f"c{i}", i * 60_000]
                            for i in range(12)])
    signals, _ = index_customers(message, table.get, table.__setitem__, day, 60_000, 4)
    assert len(signals) == 9  # every contact but each customer's first
    messages = signal_messages(signals)
    assert sorted(p for p, _, _ in messages) == sorted({p for p, _, _ in signals})
    assert all(key is None for _, key, _ in messages)
    batched = new_partition_state(Settings(), flags=FLAGS)
    alone = new_partition_state(Settings(), flags=FLAGS)
    for _, _, value in messages:
        assert QaFlags.apply_signals(batched, value) == []
    for _, _, value in signals:  # one signal a message, as written before
        assert QaFlags.apply_signals(alone, value) == []
    assert batched.qa is not None and alone.qa is not None
    repeats = {key: qa.repeat for key, qa in batched.qa.contacts.items()}
    assert repeats == {key: qa.repeat for key, qa in alone.qa.contacts.items()}
    assert repeats[("default", "c7")] == Repeat("c4", 4 * 60_000, 7 * 60_000)


def test_a_bad_repeat_signal_is_refused_with_its_reason_and_the_others_still_apply() -> None:
    from stream.qa.worker import QaFlags
    state = new_partition_state(Settings(), flags=FLAGS)
    good = {"tenant": "default", "contact_id": "c2", "previous_contact": "c1",
            "previous_queued_ms": 1, "queued_ms": 5}
    refused = QaFlags.apply_signals(state, orjson.dumps([{"tenant": "default"}, good, 7]))
    assert [(r.index, r.raw) for r in refused] == [(0, b'{"tenant":"default"}'), (2, b"7")]
    assert all(r.reason.startswith("bad repeat signal: ") for r in refused)
    assert "contact_id" in refused[0].reason
    assert state.qa is not None
    assert state.qa.contacts[("default", "c2")].repeat == Repeat("c1", 1, 5)
    [whole] = QaFlags.apply_signals(state, b"{not json")
    assert whole.index is None and whole.raw == b"{not json"
    assert whole.reason.startswith("bad repeat signal: ")


# ----------------------------------------------------------------------- QA queue
def flag_event(at_ms: int, **content: Any) -> dict[str, Any]:
    return {"kind": "flag", "tenant": "default", "contact_id": "c1", "at_ms": at_ms,
            "content": {"flagged_at_ms": 1, "reasons": [], **content}}


def action(action_id: str, action: str, who: str = "quinn", role: str = "qa") -> dict[str, Any]:
    return {"kind": "action", "tenant": "default", "contact_id": "c1", "action": action,
            "who": who, "role": role, "at_ms": 5, "action_id": action_id, "note": None}


def test_the_queue_claims_reviews_and_never_resets_a_reviewed_item() -> None:
    item, _ = fold(None, flag_event(10, rolling_score=-0.5))
    assert item is not None and item["status"] == "open"
    item, refused = fold(item, action("1-0", "claim"))
    assert refused is None and item is not None
    assert (item["status"], item["claimed_by"]) == ("claimed", "quinn")
    same, refused = fold(item, action("1-0", "claim"))  # delivered again: nothing
    assert same == item and refused is None
    other, refused = fold(item, action("2-0", "review", who="rae"))
    assert refused == "claimed by quinn" and other is not None
    assert other["status"] == "claimed"
    item, refused = fold(other, action("3-0", "review"))
    assert refused is None and item is not None and item["status"] == "reviewed"
    # a restarted worker sends the flag again, even an older one: the status stays
    again, _ = fold(item, flag_event(10, rolling_score=-0.5))
    old, _ = fold(again, flag_event(5, rolling_score=0.9))
    assert old is not None and old["status"] == "reviewed" and old["rolling_score"] == -0.5
    newer, _ = fold(old, flag_event(20, rolling_score=-0.7))
    assert newer is not None and newer["rolling_score"] == -0.7
    assert newer["status"] == "reviewed" and newer["reviewed_by"] == "quinn"
    _, refused = fold(newer, action("4-0", "dismiss"))
    assert refused == "the item is already reviewed (by quinn)"
    _, refused = fold(None, action("5-0", "claim"))
    assert refused == "no such item in the QA queue"
    _, refused = fold(newer, action("6-0", "claim", who="vic", role="viewer"))
    assert refused == "only the qa and admin roles act on the QA queue"


# ------------------------------------------------------------------- live alert
def test_supervisors_get_an_alert_while_a_flagged_contact_is_in_progress() -> None:
    events = [
        EVENT_ADAPTER.validate_python({"event_id": "a1-s", "type": "agent.state",
                                       "ts": T0.isoformat(), "agent_id": "a1",
                                       "state": "available", "team": "Blue"}),
        ev("contact.queued", 1, queue="billing", channel="chat"),
        ev("contact.answered", 5, queue="billing", agent_id="a1"),
        say(20, "This is ridiculous, I want a supervisor"),
        say(200, "ok"),
        ev("contact.ended", 300, agent_id="a1"),
        ev("contact.wrapped", 330, agent_id="a1"),
        ev("contact.queued", 400, "c9", queue="billing"),
    ]
    config = default_config()
    rule = next(r for r in config.rules if r.id == "flagged-customer-on-contact")
    transitions = backtest(events, [rule], Settings(), flags=config.flags)
    assert [(t.state, t.scope.agent, t.scope.reason) for t in transitions] == [
        ("raised", "a1", "c1"), ("cleared", "a1", "c1")]
    raised, cleared = transitions
    assert raised.message == "a1 (Blue) is with a flagged customer (contact c1)"
    assert raised.audience == ("supervisor",)
    # evaluated every 10 s of stream time: the instant of the message, and of the end
    assert raised.at_ms == int((T0 + timedelta(seconds=20)).timestamp() * 1000)
    assert cleared.at_ms == int((T0 + timedelta(seconds=300)).timestamp() * 1000)


# ---------------------------------------------------------------------- simulator
def test_the_simulator_gives_the_demo_flags_to_show() -> None:
    from collections import Counter

    from producers.simulator import default_config as sim_config
    from producers.simulator import simulate

    events = list(simulate(sim_config(agents=30, hours=4, seed=3)))
    kinds = Counter(e["type"] for e in events)
    assert kinds["transcript.segment"] > 1000 and kinds["chat.message"] > 200
    customers = Counter(e["customer_id"] for e in events
                        if e["type"] == "contact.queued" and "customer_id" in e)
    assert any(n > 1 for n in customers.values())
    state = new_partition_state(Settings(), flags=FLAGS)
    assert state.qa is not None
    for e in events:
        state.apply(EVENT_ADAPTER.validate_python(e))
    flagged = Counter(r["rule"] for out in state.qa.evaluate(state.contacts)[0]
                      for r in out["content"]["reasons"])  # type: ignore[attr-defined]
    for rule in ("low-sentiment", "escalation", "long-hold", "many-transfers"):
        assert flagged[rule] > 0, rule
    quiet = [e["text"] for e in events if e["type"] == "transcript.segment"
             and e["text"] == "third hour on hold still no answer"]
    assert quiet


def test_the_customer_table_forgets_customers_no_coming_contact_can_find() -> None:
    """A message of queued contacts updates each customer's entry; customers whose latest
    contact is older than the stream time less the repeat window and the lateness are
    swept, the others kept (else the table holds every customer ever seen)."""
    import orjson

    from stream.qa.worker import index_customers, stale_customers

    hour = 3_600_000
    table: dict[bytes, bytes] = {}
    message = orjson.dumps([["t", "ann", "c1", 1 * hour], ["t", "bob", "c2", 2 * hour],
                            ["t", "ann", "c3", 30 * hour]])
    signals, latest = index_customers(message, table.get, table.__setitem__,
                                      window_ms=24 * hour, lateness_ms=2 * hour, partitions=4)
    assert latest == 30 * hour and signals == []  # ann came back 29 h later: no repeat
    assert set(table) == {b"t|ann", b"t|bob"}
    now = 30 * hour
    stale = stale_customers(table.items(), now - 24 * hour - 2 * hour)
    assert stale == [b"t|bob"]  # ann's latest (30 h) may still be someone's previous
    assert stale_customers(table.items(), 31 * hour) == [b"t|ann", b"t|bob"]


@hyp_settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(signal=st.sampled_from(sorted(LANGUAGE_SIGNALS)),
       op=st.sampled_from(["<", "<=", ">", ">="]),
       threshold=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
       min_messages=st.integers(min_value=1, max_value=5),
       repeat=st.none() | st.builds(Repeat, st.just("c0"), st.integers(0, 10**6),
                                     st.integers(10**6, 10**7)))
def test_no_condition_on_the_customers_words_holds_for_a_contact_without_their_messages(
        signal: str, op: str, threshold: float, min_messages: int,
        repeat: Repeat | None) -> None:
    # What lets the worker skip the rules on the customer's words for a contact without
    # customer messages (ContactQaStore.telephony_flags).
    sentiment = Settings().sentiment.model_copy(update={"min_messages": min_messages})
    condition = (Condition(signal) if signal in BOOLEAN_SIGNALS
                 else Condition(signal, op, threshold))  # type: ignore[arg-type]
    signals = contact_signals(None, ConversationSentiment(sentiment), repeat)
    assert signals.messages == 0
    assert evaluate(FlagRule(id="r", when=(condition,), message="m"), signals,
                    sentiment) is None
    assert FlagRule(id="r", when=(condition,), message="m").language


def test_only_the_rules_on_telephony_are_read_for_a_contact_without_customer_messages(
) -> None:
    state = new_partition_state(Settings(), flags=FLAGS)
    assert state.qa is not None
    assert [r.id for r in state.qa.telephony_flags] == [
        "long-hold", "many-transfers", "abandoned-after-long-wait"]


_times = st.one_of(st.none(), st.integers(0, 6))  # few values: ties are common


@st.composite
def contact_facts(draw: st.DrawFn) -> ContactFacts:
    names = ["a", "b", "c"]
    legs = {q: Leg(queued=draw(_times)) for q in draw(st.lists(st.sampled_from(names),
                                                                   unique=True))}
    segments = {
        agent: Segment(start=draw(_times), ended=draw(_times), transferred=draw(_times),
                       wrapped=draw(_times), held=draw(st.sets(st.integers(0, 6), max_size=3)),
                       resumed=draw(st.sets(st.integers(0, 6), max_size=3)))
        for agent in draw(st.lists(st.sampled_from(names), unique=True))}
    return ContactFacts(legs, segments, last_ts=draw(st.integers(0, 8)))


def _hold_spans(held: set[int], resumed: set[int]) -> list[tuple[int, int | None]]:
    """Hold spans, walked in time order (a hold first at equal times)."""
    spans: list[tuple[int, int | None]] = []
    start: int | None = None
    for t, kind in sorted([(t, 0) for t in held] + [(t, 1) for t in resumed]):
        if kind == 0 and start is None:
            start = t
        elif kind == 1 and start is not None:
            spans.append((start, t))
            start = None
    return [*spans, (start, None)] if start is not None else spans


@hyp_settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(contact_facts())
def test_a_contacts_current_queue_agent_talk_end_and_holds_follow_their_definitions(
        facts: ContactFacts) -> None:
    """The QA signals' telephony facts, each against its definition written out plainly:
    the queue of the latest queued leg, the agent of the latest started segment (one still
    talking first), ties to the greatest name; the talk ends at the earliest of ended and
    transferred, else at the wrap; holds pair each hold with the next resume."""
    for seg in facts.segments.values():
        ends = [t for t in (seg.ended, seg.transferred) if t is not None]
        assert seg.talk_end() == (min(ends) if ends else seg.wrapped)
        assert seg.holds() == _hold_spans(seg.held, seg.resumed)
    legs = [(leg.queued, queue) for queue, leg in facts.legs.items() if leg.queued is not None]
    assert current_queue(facts) == (max(legs)[1] if legs else None)
    segs = [(seg.talk_end() is None, seg.start, agent)
            for agent, seg in facts.segments.items() if seg.start is not None]
    assert current_agent(facts) == (max(segs)[2] if segs else None)

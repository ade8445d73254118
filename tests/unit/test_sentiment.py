"""Sentiment scoring, escalation phrases and per-contact sentiment state, on hand-made
messages; the quality targets on the dev set when it is there."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.sentiment.config import SentimentSettings
from stream.sentiment.conversation import ConversationSentiment, CustomerMessage
from stream.sentiment.evaluate import DEFAULT_CSV, confusion, read_labelled, scored
from stream.sentiment.evaluate import main as evaluate_main
from stream.sentiment.scoring import (
    MAX_SCORED_CHARS,
    cues,
    escalation_phrases,
    is_negative,
    score,
)

THRESHOLD = SentimentSettings().negative_threshold

# --- scoring -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "third hour on hold, still no answer",
    "still waiting for my refund",
    "flight delayed again",
    "no one picks up",
    "I was charged twice for my order",
    "my package never arrived",
    "I have been on hold for 45 minutes",
    "why is my flight canceled?!",
    "can't log in to my account since Monday",
    "transferred three times and nobody knows anything",
    "thanks for nothing",
    "this is the 4th time I call about the same bill",
    "where is my refund",
    "the app is down again",
])
def test_complaints_without_strong_negative_words_score_negative(text: str) -> None:
    assert is_negative(score(text), THRESHOLD), (text, score(text), cues(text))


@pytest.mark.parametrize("text", [
    "Can you help me change my seat please?",
    "What time does the store open?",
    "I'd like to add a bag to my booking",
    "Great service, the agent was lovely",
    "no problem, thanks for the quick response",
    "Thanks so much, that fixed it!",
    "can you tell me the baggage allowance for my flight",
    "ok sure, I will wait",
])
def test_requests_and_thanks_are_not_negative(text: str) -> None:
    assert not is_negative(score(text), THRESHOLD), (text, score(text), cues(text))


@pytest.mark.parametrize("negated, plain", [
    ("the flight was not delayed", "the flight was delayed"),
    ("I was not on hold long", "I was on hold long"),
    ("my bag is not lost", "my bag is lost"),
    ("the app hasn't crashed", "the app crashed"),
])
def test_a_negation_takes_back_a_complaint(negated: str, plain: str) -> None:
    assert not is_negative(score(negated), THRESHOLD)
    assert is_negative(score(plain), THRESHOLD)


def test_cues_add_to_vader_in_its_own_units() -> None:
    assert cues("still waiting, third hour on hold") == [
        "still_waiting", "ordinal_attempt", "on_hold"]
    assert score("on hold") < 0 < score("thank you")
    assert score("on hold for 2 hours, charged twice, nobody answers") < score("on hold")


def test_curly_apostrophes_read_like_straight_ones() -> None:
    assert score("I can\u2019t log in") == score("I can't log in")


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_score_is_within_bounds(text: str) -> None:
    assert -1.0 <= score(text) <= 1.0


def test_only_the_start_of_a_long_message_is_read() -> None:
    head = "fine " * (MAX_SCORED_CHARS // 5)
    assert score(head + "awful terrible on hold charged twice") == score(head)


def test_is_negative_includes_the_threshold() -> None:
    assert is_negative(-0.3, -0.3)
    assert not is_negative(-0.29, -0.3)


@pytest.mark.parametrize("bad", [
    {"negative_threshold": -1.5},
    {"window": 0},
    {"window": 5, "keep_first": 4},
    {"min_messages": 0},
    {"sharp_drop": 0.0},
    {"escalation_phrases": ("supervisor", " ")},
])
def test_settings_refuse_impossible_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SentimentSettings(**bad)  # type: ignore[arg-type]


# --- escalation phrases --------------------------------------------------------------------------

PHRASES = ("supervisor", "cancel", "cancel my account", "complaint", "lawyer", "won't pay")


@pytest.mark.parametrize("text, found", [
    ("Get me a SUPERVISOR now", ["supervisor"]),
    ("I will cancel", ["cancel"]),
    ("my flight was cancelled", []),
    ("what is the cancellation fee", []),
    ("the supervisors are busy", []),
    ("I want to cancel   my\naccount", ["cancel my account"]),
    ("my lawyer will hear about this complaint", ["lawyer", "complaint"]),
    ("lawyer, lawyer, LAWYER", ["lawyer"]),
    ("I won\u2019t pay this", ["won't pay"]),
    ("nothing to see here", []),
])
def test_escalation_phrases_match_whole_words(text: str, found: list[str]) -> None:
    assert escalation_phrases(text, PHRASES) == found


_PHRASE_WORDS = tuple({word for phrase in PHRASES for word in phrase.split()}) + (
    "SUPERVISOR", "Cancel", "MY", "x", "supervisors", "cancel's", "9", "_")


@given(st.lists(st.sampled_from(_PHRASE_WORDS), max_size=12),
       st.lists(st.sampled_from((" ", "  ", ", ", "\n", "-", "!", "")), min_size=12,
                max_size=12),
       st.sampled_from(("as is", "upper", "title", "swap")))
@settings(max_examples=600, deadline=None)
def test_ascii_text_finds_the_phrases_the_case_insensitive_pattern_finds(
        words: list[str], seps: list[str], case: str) -> None:
    """ASCII text is matched lowercased, case-sensitively, by the grouped alternation; what
    it finds is what the case-insensitive pattern of the phrases finds."""
    from stream.sentiment.scoring import _escalation_patterns
    text = "".join(word + sep for word, sep in zip(words, seps, strict=False))
    text = {"upper": text.upper(), "title": text.title(), "swap": text.swapcase()}.get(
        case, text)
    pattern, lowered, keys = _escalation_patterns(PHRASES)
    assert lowered is not None
    expected = []
    for match in pattern.finditer(text):
        phrase = keys[" ".join(match.group().lower().split())]
        if phrase not in expected:
            expected.append(phrase)
    assert escalation_phrases(text, PHRASES) == expected


def test_non_ascii_phrases_are_matched_case_insensitively_only() -> None:
    from stream.sentiment.scoring import _escalation_patterns
    phrases = ("STRAẞE", "supervisor")
    assert _escalation_patterns(phrases)[1] is None
    assert escalation_phrases("the Straße and a SUPERVISOR", phrases) == ["STRAẞE",
                                                                           "supervisor"]


def test_no_escalation_phrases_configured_finds_nothing() -> None:
    assert escalation_phrases("supervisor", ()) == []


# --- conversation ---------------------------------------------------------------------------------

SMALL = SentimentSettings(negative_threshold=-0.2, window=2, keep_first=2, min_messages=2,
                          sharp_drop=0.5, escalation_phrases=PHRASES)


def conversation(*messages: tuple[str, int, float, str],
                 config: SentimentSettings = SMALL) -> ConversationSentiment:
    """Customer messages as (event_id, ts_ms, score, text)."""
    state = ConversationSentiment(config)
    for event_id, ts_ms, value, text in messages:
        state.add(event_id, ts_ms, "customer", text, value)
    return state


def test_only_customer_messages_count() -> None:
    state = ConversationSentiment(SMALL)
    assert not state.add("a1", 1, "agent", "I will transfer you to my supervisor")
    assert not state.add("b1", 2, "bot", "terrible awful horrible")
    assert state.add("c1", 3, "customer", "hello")
    assert [m.event_id for m in state.messages] == ["c1"]
    assert state.flags() == []


def test_messages_without_figures_give_none() -> None:
    state = ConversationSentiment(SMALL)
    assert state.rolling_score() is None
    assert state.trend() is None
    state.add("c1", 1, "customer", "hi", 0.5)
    assert state.rolling_score() == 0.5
    assert state.trend() is None


def test_rolling_score_is_the_mean_of_the_last_k_and_trend_compares_ends() -> None:
    state = conversation(("m1", 1, 0.6, "a"), ("m2", 2, 0.4, "b"), ("m3", 3, 0.0, "c"),
                         ("m4", 4, -0.2, "d"), ("m5", 5, -0.6, "e"))
    assert [m.event_id for m in state.messages] == ["m1", "m2", "m4", "m5"]
    assert state.rolling_score() == pytest.approx(-0.4)
    assert state.trend() == pytest.approx(-0.4 - 0.5)


def test_trend_windows_never_overlap() -> None:
    state = conversation(("m1", 1, 0.5, "a"), ("m2", 2, 0.1, "b"), ("m3", 3, -0.3, "c"))
    assert state.trend() == pytest.approx(-0.3 - 0.5)  # m = 3 // 2 = 1


def test_low_sentiment_flags_with_the_negative_messages_as_evidence() -> None:
    state = conversation(("m1", 1, 0.1, "hello"), ("m2", 2, 0.3, "thanks"))
    assert state.flags() == []
    state.add("m3", 3, "customer", "still on hold", -0.8)
    [flag] = [f for f in state.flags() if f.reason == "low_sentiment"]
    assert flag.value == pytest.approx((0.3 - 0.8) / 2)
    assert [m.event_id for m in flag.evidence] == ["m3"]
    assert flag.evidence[0].ts_ms == 3 and flag.evidence[0].text == "still on hold"


def test_low_sentiment_waits_for_min_messages() -> None:
    single = conversation(("m1", 1, -0.9, "awful"))
    assert single.flags() == []
    single.add("m2", 2, "customer", "really awful", -0.9)
    assert [f.reason for f in single.flags()] == ["low_sentiment"]


def test_sharp_drop_flags_with_the_messages_that_fell() -> None:
    state = conversation(("m1", 1, 0.8, "great thanks"), ("m2", 2, 0.6, "lovely"),
                         ("m3", 3, 0.1, "hmm"), ("m4", 4, 0.0, "ok"))
    [flag] = state.flags()
    assert flag.reason == "sharp_drop"
    assert flag.value == pytest.approx(0.05 - 0.7)
    assert [m.event_id for m in flag.evidence] == ["m3", "m4"]


def test_a_small_drop_is_not_flagged() -> None:
    state = conversation(("m1", 1, 0.5, "a"), ("m2", 2, 0.1, "b"))
    assert state.trend() == pytest.approx(-0.4)
    assert state.flags() == []


def test_escalation_phrases_in_the_last_k_are_flagged_per_phrase() -> None:
    state = conversation(
        ("m1", 1, 0.0, "I want a supervisor"),  # falls out of the last K
        ("m2", 2, 0.0, "hello"),
        ("m3", 3, 0.0, "I will cancel my account and call my lawyer"),
        ("m4", 4, 0.0, "my LAWYER knows"),
        config=SentimentSettings(window=2, keep_first=2, escalation_phrases=PHRASES),
    )
    flags = state.flags()
    assert [(f.reason, f.phrase) for f in flags] == [
        ("escalation_phrase", "cancel my account"), ("escalation_phrase", "lawyer")]
    assert [m.event_id for m in flags[1].evidence] == ["m3", "m4"]
    assert flags[1].as_dict()["evidence"] == [
        {"event_id": "m3", "ts_ms": 3, "score": 0.0,
         "text": "I will cancel my account and call my lawyer"},
        {"event_id": "m4", "ts_ms": 4, "score": 0.0, "text": "my LAWYER knows"},
    ]


MESSAGES = [
    ("m1", 10, 0.7, "hi"), ("m2", 20, 0.2, "my bill"), ("m3", 20, -0.1, "charged twice"),
    ("m4", 30, -0.5, "supervisor please"), ("m5", 40, -0.8, "I will cancel"),
    ("m6", 50, 0.1, "ok"), ("m7", 60, -0.9, "lawyer"),
]


def test_arrival_order_and_repeats_do_not_change_the_state() -> None:
    expected = conversation(*MESSAGES).dump()
    shuffle = random.Random(7)
    for _ in range(200):
        arrivals = MESSAGES + shuffle.sample(MESSAGES, 3)
        shuffle.shuffle(arrivals)
        assert conversation(*arrivals).dump() == expected


def test_every_order_of_a_small_conversation_gives_the_same_flags() -> None:
    results = {orjson.dumps([f.as_dict() for f in conversation(*order).flags()])
               for order in itertools.permutations(MESSAGES[:6])}
    assert len(results) == 1


@given(st.lists(st.sampled_from(MESSAGES), min_size=1, max_size=20), st.randoms())
@settings(max_examples=200, deadline=None)
def test_the_state_is_a_function_of_the_set_of_messages(
        arrivals: list[tuple[str, int, float, str]], rnd: random.Random) -> None:
    shuffled = list(arrivals)
    rnd.shuffle(shuffled)
    distinct = sorted(set(arrivals), key=lambda m: (m[1], m[0]))
    assert conversation(*shuffled).dump() == conversation(*distinct).dump()


def test_a_repeated_message_changes_nothing() -> None:
    state = conversation(*MESSAGES)
    before = state.dump()
    for event_id, ts_ms, value, text in MESSAGES:  # m3, m4 were dropped: they must stay so
        assert not state.add(event_id, ts_ms, "customer", text, value)
    assert state.dump() == before


def test_the_kept_messages_are_the_first_n_and_last_k() -> None:
    state = conversation(*MESSAGES, config=SentimentSettings(window=2, keep_first=3))
    assert [m.event_id for m in state.messages] == ["m1", "m2", "m3", "m6", "m7"]


def test_a_message_is_scored_when_no_score_is_given() -> None:
    state = ConversationSentiment(SMALL)
    state.add("m1", 1, "customer", "still waiting for my refund")
    assert state.messages[0].score == score("still waiting for my refund")


def test_dump_and_load_round_trip_through_json() -> None:
    state = conversation(*MESSAGES)
    restored = ConversationSentiment.load(orjson.loads(orjson.dumps(state.dump())), SMALL)
    assert restored.messages == state.messages
    assert restored.flags() == state.flags()
    assert restored.dump() == state.dump()


def test_load_applies_the_new_bounds() -> None:
    wide = conversation(*MESSAGES, config=SentimentSettings(window=5, keep_first=5))
    narrow = ConversationSentiment.load(wide.dump(), SMALL)
    assert [m.event_id for m in narrow.messages] == ["m1", "m2", "m6", "m7"]


@pytest.mark.parametrize("data", [
    {"v": 99, "messages": []},
    {"v": 1},
    {"v": 1, "messages": [[1, "m1", 0.1]]},
    {"v": 1, "messages": [["1", "m1", 0.1, "x"]]},
    {"v": 1, "messages": [[1, "m1", True, "x"]]},
])
def test_load_refuses_what_dump_did_not_write(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ConversationSentiment.load(data)


def test_customer_message_orders_by_time_then_event_id() -> None:
    assert CustomerMessage(1, "b", 0.0, "") < CustomerMessage(2, "a", 0.0, "")
    assert CustomerMessage(1, "a", 0.9, "") < CustomerMessage(1, "b", -0.9, "")


# --- quality on the dev set --------------------------------------------------------------------


@pytest.mark.skipif(not DEFAULT_CSV.is_file(), reason="sentiment dev set not present")
def test_negative_flag_meets_the_quality_targets_on_the_dev_set() -> None:
    rows = read_labelled(DEFAULT_CSV)
    result = confusion(scored(text for text, _ in rows), [label for _, label in rows],
                       THRESHOLD)
    assert result.precision >= 0.85
    assert result.f1 >= 0.70


def test_confusion_counts_negative_as_the_flagged_class() -> None:
    result = confusion([-0.9, -0.9, 0.4, 0.1, -0.5], ["negative", "neutral", "negative",
                                                      "positive", "negative"], -0.05)
    assert (result.true_pos, result.false_pos, result.false_neg, result.true_neg) == (2, 1, 1, 1)
    assert result.precision == pytest.approx(2 / 3)
    assert result.recall == pytest.approx(2 / 3)
    assert result.f1 == pytest.approx(2 / 3)


def test_evaluate_without_the_csv_says_so_and_succeeds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluate_main([str(tmp_path / "absent.csv")]) == 0
    assert "not found" in capsys.readouterr().out


def test_evaluate_prints_the_figures_of_a_labelled_csv(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "labelled.csv"
    path.write_text("text,label\nstill waiting for my refund,negative\n"
                    "thank you so much,positive\nwhat time do you open,neutral\n")
    assert evaluate_main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "3 messages, 1 labelled negative" in out
    assert "precision 1.000  recall 1.000  F1 1.000  (tp 1, fp 0, fn 0, tn 2)" in out


# Words of the cues and around them, so that generated texts meet cues, near-misses
# ("unhappy", "holding"), negations and the "?!" ending often.
_CUE_WORDS = (
    "still", "on", "hold", "waiting", "not", "no", "never", "charged", "twice", "my", "bag",
    "lost", "flight", "delayed", "why", "is", "the", "app", "down", "again", "transferred",
    "me", "around", "refund", "money", "back", "hung", "up", "#epicfail", "fail", "wasn't",
    "can't", "really", "?", "!", "?!", "...", "holding", "unhappy", "stillness", "3rd",
    "time", "calling", "where's", "what's", "point", "speak", "to", "a", "human", "'",
)


def _texts_of_the_simulator() -> list[str]:
    from producers import simulator_text
    texts: list[str] = []
    for name in dir(simulator_text):
        value = getattr(simulator_text, name)
        if name.isupper() and isinstance(value, tuple):
            for item in value:
                texts.extend(item if isinstance(item, tuple) else (item,))
    return [text for text in texts if isinstance(text, str)]


def _named_cues(text: str) -> list[tuple[int, int, str | None]]:
    """Where the cue pattern with its named alternatives matches, and which one."""
    from stream.sentiment.scoring import _APOSTROPHES, _CUE_PATTERN
    lowered = text.lower().translate(_APOSTROPHES)
    return [(m.start(), m.end(), m.lastgroup) for m in _CUE_PATTERN.finditer(lowered)]


def _scanned_cues(text: str) -> list[tuple[int, int, str | None]]:
    from stream.sentiment.scoring import _APOSTROPHES, _CUE_PATTERN, _CUE_SCAN
    lowered = text.lower().translate(_APOSTROPHES)
    out = []
    for m in _CUE_SCAN.finditer(lowered):
        named = _CUE_PATTERN.match(lowered, m.start())
        assert named is not None and named.end() == m.end()
        out.append((m.start(), m.end(), named.lastgroup))
    return out


def test_the_unnamed_cue_scan_finds_what_the_named_pattern_finds_in_the_simulators_texts(
) -> None:
    texts = _texts_of_the_simulator()
    assert len(texts) > 100
    found = 0
    for text in texts:
        assert _scanned_cues(text) == _named_cues(text), text
        found += len(_named_cues(text))
    assert found > 20  # the texts do meet cues (34 matches)


@given(st.lists(st.sampled_from(_CUE_WORDS), max_size=14),
       st.sampled_from((" ", "  ", ", ", "-", "")))
@settings(max_examples=400, deadline=None)
def test_the_unnamed_cue_scan_finds_what_the_named_pattern_finds(words: list[str],
                                                                 sep: str) -> None:
    text = sep.join(words)
    assert _scanned_cues(text) == _named_cues(text)

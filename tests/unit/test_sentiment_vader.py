"""stream.sentiment.vader computes vaderSentiment's compound score to the digit.

vaderSentiment itself is the oracle: every text is scored by both, with floorpulse's domain
lexicon and with VADER's own. The vocabulary below makes every rule fire: boosters before
sentiment words (capitalised or not), negations one to three words before, "no", "least",
"kind of", "never so", "without doubt", the special idioms, "but" with equal values on both
sides, punctuation emphasis, emojis, and curly apostrophes.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
)

from stream.sentiment.scoring import _ANALYZER, vader_compound
from stream.sentiment.vader import Vader

_PLAIN = SentimentIntensityAnalyzer()
_PLAIN_FAST = Vader(_PLAIN)

_SENTIMENT_WORDS = (
    "good", "bad", "great", "awful", "terrible", "love", "hate", "happy", "sad", "worst",
    "best", "nice", "horrible", "delayed", "canceled", "stranded", "outage", "please",
    "help", "like", "doubt", "kind", "no", "yes", "ok", "sux", "lol", ":)", ":(", ":D",
)
_VOCABULARY = (
    *_SENTIMENT_WORDS, *[word for word in BOOSTER_DICT if " " not in word][::3],
    *NEGATE[::4], "never", "not", "isn't", "don't", "wasn’t", "without", "least", "at",
    "very", "so", "this", "of", "or", "nor", "but", "BUT", "GOOD", "BAD", "VERY", "NOT",
    *(word for phrase in SPECIAL_CASES for word in phrase.split()), "kind", "sort", "just",
    "enough", "the", "my", "flight", "is", "was", "it", "😁", "💘", "😡", "!", "!!", "?",
    "??", "????", "...", ",", "-", "'",
)
_SEPARATORS = (" ", " ", " ", "  ", ", ", "! ", "? ", ". ", "", "\t", "\n")


def _compare(text: str) -> None:
    assert Vader(_ANALYZER).compound(text) == _ANALYZER.polarity_scores(text)["compound"]
    assert vader_compound(text) == _ANALYZER.polarity_scores(text)["compound"]
    assert _PLAIN_FAST.compound(text) == _PLAIN.polarity_scores(text)["compound"]


@pytest.mark.parametrize("text", [
    "",
    "   ",
    "!!!",
    "good",
    "The book was good.",
    "VADER is VERY SMART, handsome, and FUNNY!!!",
    "VADER is not smart, handsome, nor funny.",
    "At least it isn't a horrible book.",
    "The book was only kind of good.",
    "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "Today only kinda sux! But I'll get by, lol",
    "Make sure you :) or :D today!",
    "Catch utf-8 emoji such as 💘 and 💋 and 😁",
    "Not bad at all",
    "Sentiment analysis has never been this good!",
    "With VADER, sentiment analysis is the shit!",
    "On the other hand, VADER is quite bad ass",
    "Without a doubt, excellent idea.",
    "Roger Dodger is one of the least compelling variations on this theme.",
    "Roger Dodger is at least compelling as a variation on the theme.",
    "no good no bad no good but good good bad",
    "good good good but bad bad good",
    "no problem at all, yeah right",
    "still waiting for my refund",
    "I was charged twice?! Unbelievable!!!!!",
    "please help, my flight was canceled and I’m stranded",
    "this is the kiss of death for my trip",
    "I am not very happy?? at all???",
    "it was never so good",
    "the flight was never this bad",
    "it is without doubt good",
    "the very least good",
    "at least good",
    "we got least good",
    "this is the kiss of death",
    "to be honest: the bus stop",
])
def test_the_compound_score_is_vaders_on_its_own_examples_and_ours(text: str) -> None:
    _compare(text)


@given(st.lists(st.tuples(st.sampled_from(_VOCABULARY), st.sampled_from(_SEPARATORS)),
                max_size=16),
       st.sampled_from(("as is", "upper", "title")))
@settings(max_examples=1500, deadline=None)
def test_the_compound_score_is_vaders_for_texts_that_meet_every_rule(
        words: list[tuple[str, str]], case: str) -> None:
    text = "".join(word + sep for word, sep in words)
    if case == "upper":
        text = text.upper()
    elif case == "title":
        text = text.title()
    _compare(text)


@given(st.text(max_size=80))
@settings(max_examples=500, deadline=None)
def test_the_compound_score_is_vaders_for_any_text(text: str) -> None:
    _compare(text)


def test_the_examples_meet_the_rules_that_change_a_score() -> None:
    """The rules the comparisons rely on do change VADER's score (else comparing would
    prove nothing for them)."""
    plain = _PLAIN.polarity_scores
    assert plain("good but bad")["compound"] != plain("good and bad")["compound"]
    assert plain("not good")["compound"] != plain("xyz good")["compound"]
    assert plain("very good")["compound"] != plain("xyz good")["compound"]
    assert plain("least good")["compound"] != plain("xyz good")["compound"]
    assert plain("no way good")["compound"] != plain("xyz way good")["compound"]
    assert plain("good!!")["compound"] != plain("good")["compound"]
    assert plain("GOOD day")["compound"] != plain("good day")["compound"]
    assert plain("😁")["compound"] != 0.0
    assert plain("it was the shit")["compound"] != plain("it was the good")["compound"]

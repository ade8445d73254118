"""stream.sentiment.dispatch: an alternation grouped by first character finds what the plain
alternation finds, at the same places, with the same spans."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.sentiment.dispatch import alternation
from stream.sentiment.scoring import CUES

# Alternatives that share prefixes, where order decides ("no" before "nobody"), with classes
# and literals starting the same places, optional and repeated starts, nullable branches,
# lazy and possessive repeats, and assertions after the first character.
_CASES: tuple[tuple[str, ...], ...] = (
    ("no", "not", "nobody", "no\\s+one"),
    ("nobody", "no", "not"),
    ("a", "ab", "abc"),
    ("abc", "ab", "a"),
    ("\\d+th", "2nd", "\\d+\\s*(?:h|hours?)", "3rd"),
    ("(?:very\\s+)?bad", "(?:so|very)\\s+good", "v\\w*"),
    ("(?:a|)b", "(?:x|ab)c", "b+"),
    ("a+?b", "a*c", "a{2,3}d"),
    ("[\\w']++\\s*+(?:\\?+\\s*!+|!+\\s*\\?+)", "why\\s+not", "w\\w+"),
    ("no\\b", "not(?=\\s)", "n(?!o)\\w+", "(?:x|y)(?<=y)z"),
    ("[^a\\s]b", "ab", ".c"),
    ("(?:still|been|keep)\\s+(?:[\\w'-]+\\s+)?waiting", "still", "been"),
    ("a*+ab", "c"),  # possessive: never gives back (so "a*+ab" matches nothing)
    ("a?a", "b"),  # greedy: "aa" before "a"
    ("(?:a|)ab?", "x"),  # a branch that can be empty, in order: "aab" before "a"
    ("a*+b", "x"),  # nothing to repeat: what follows
    ("a{0,2}b", "x"),  # a bounded repeat
    ("(?:a|ab|x)c?", "y"),  # in order: "a" before "abc"
)
_ALPHABET = "abcdnotwhysvrlkepixz237  ?!'-"


def _plain(alternatives: tuple[str, ...]) -> str:
    return "(?:" + "|".join(f"(?:{alternative})" for alternative in alternatives) + ")"


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [match.span() for match in pattern.finditer(text)]


@pytest.mark.parametrize("alternatives", _CASES)
def test_every_case_is_grouped_by_first_character(alternatives: tuple[str, ...]) -> None:
    assert alternation(alternatives) != _plain(alternatives)


# Texts where the cases differ from wrong groupings (each found a broken derivative).
_TEXTS = (
    "ab", "aab", "abc", "aa", "a", "aaab c", "b bb ab xc abc", "nobody not no one, non",
    "2nd 23th 7th 3 hours 33h 2", "very bad so good vbad", "why not? what?! w wx",
    "no not nobody n x yz", "ab cb .c ac", "still waiting been there keep on waiting",
)


@pytest.mark.parametrize("alternatives", _CASES)
@pytest.mark.parametrize("text", _TEXTS)
def test_the_grouped_alternation_finds_the_plain_ones_matches_in_these_texts(
        alternatives: tuple[str, ...], text: str) -> None:
    for before, after in (("", ""), (r"(?<![\w'])", r"(?![\w'])")):
        grouped = re.compile(before + alternation(alternatives) + after)
        plain = re.compile(before + _plain(alternatives) + after)
        assert _spans(grouped, text) == _spans(plain, text)


@given(st.sampled_from(_CASES), st.text(alphabet=_ALPHABET, max_size=40),
       st.sampled_from(("", r"(?<![\w'])")), st.sampled_from(("", r"(?![\w'])")))
@settings(max_examples=3000, deadline=None)
def test_the_grouped_alternation_finds_the_plain_ones_matches(
        alternatives: tuple[str, ...], text: str, before: str, after: str) -> None:
    grouped = re.compile(before + alternation(alternatives) + after)
    plain = re.compile(before + _plain(alternatives) + after)
    assert _spans(grouped, text) == _spans(plain, text)


def test_the_complaint_cues_are_grouped() -> None:
    """Else the cue scan would quietly be the plain alternation, four times the work."""
    patterns = [pattern for _, _, _, pattern in CUES]
    grouped = alternation(patterns)
    assert grouped != _plain(tuple(patterns))
    first = patterns[0][0]  # the first cue starts with a letter: the first group is its
    assert grouped.startswith(f"(?:{first}(?:")


@pytest.mark.parametrize("alternatives", [
    ("(a)b", "c"),  # a capturing group
    ("(?i:a)b", "c"),  # flags
    ("(?<=x)a", "b"),  # an assertion before the first character
    ("a*", "b"),  # a match can be empty
    ("(?:a?)*b", "c"),  # a repeat of what can be empty
])
def test_what_it_cannot_derive_stays_the_plain_alternation(
        alternatives: tuple[str, ...]) -> None:
    assert alternation(alternatives) == _plain(alternatives)


def test_alternatives_that_all_start_with_a_class_stay_as_they_are() -> None:
    alternatives = ("\\d+x", "[ab]c")
    grouped = alternation(alternatives)
    assert grouped == _plain(alternatives)
    assert _spans(re.compile(grouped), "ac 12x b") == [(0, 2), (3, 6)]

"""VADER's compound score, computed the way vaderSentiment computes it, in one pass.

vaderSentiment's ``polarity_scores`` rebuilds the message one character at a time to replace
emojis, lowercases every word of the message again for each rule it checks at a sentiment
word (up to seven lists of all the words for each of them), and computes the positive,
negative and neutral proportions, which floorpulse does not use. :class:`Vader` computes
the same compound score with each word split, stripped and lowercased once, emojis replaced
only in a message that has a non-ASCII character, and the rules applied only at the words
the lexicon scores (the others score 0 whatever their neighbours are).

The result is vaderSentiment's to the last digit: the rules below are its rules, in its
order, with its arithmetic, over its own tables (booster words, negations, special cases,
and the lexicon and emojis of the analyzer it is built from); tests compare the two on every
kind of message (tests/unit/test_sentiment_vader.py).
"""

from __future__ import annotations

import string
from typing import Any, Final

from vaderSentiment import vaderSentiment as _vader

# vaderSentiment's tables and constants, typed (its values are ints or floats; an int and
# the float of the same value give the same sums and products).
BOOSTER_DICT: Final[dict[str, float]] = {k: float(v) for k, v in _vader.BOOSTER_DICT.items()}
SPECIAL_CASES: Final[dict[str, float]] = {k: float(v) for k, v in _vader.SPECIAL_CASES.items()}
NEGATIONS: Final[frozenset[str]] = frozenset(_vader.NEGATE)
C_INCR: Final[float] = float(_vader.C_INCR)
N_SCALAR: Final[float] = float(_vader.N_SCALAR)
_PUNCTUATION: Final = string.punctuation


class Vader:
    """The compound score of a vaderSentiment ``SentimentIntensityAnalyzer``, read from the
    analyzer's own lexicon and emoji dictionaries (shared, not copied)."""

    __slots__ = ("ascii_emojis", "emojis", "lexicon")

    def __init__(self, analyzer: Any) -> None:
        self.lexicon: dict[str, float] = analyzer.lexicon
        self.emojis: dict[str, str] = analyzer.emojis
        # VADER's emojis are all outside ASCII, so an ASCII message has none to replace.
        self.ascii_emojis = any(emoji.isascii() for emoji in self.emojis)

    def compound(self, text: str) -> float:
        """``analyzer.polarity_scores(text)["compound"]``."""
        if self.ascii_emojis or not text.isascii():
            text = _describe_emojis(text, self.emojis)
        text = text.strip()
        words: list[str] = []
        for token in text.split():
            stripped = token.strip(_PUNCTUATION)
            words.append(token if len(stripped) <= 2 else stripped)
        count = len(words)
        if count == 0:
            return 0.0
        lower = [word.lower() for word in words]
        capitals = 0
        for word in words:
            if word.isupper():
                capitals += 1
        cap_differs = 0 < count - capitals < count
        lexicon = self.lexicon
        sentiments: list[float] = []
        for i in range(count):
            low = lower[i]
            if low in BOOSTER_DICT or (i < count - 1 and low == "kind" and lower[i + 1] == "of"):
                sentiments.append(0)
                continue
            value = lexicon.get(low)
            if value is None:
                sentiments.append(0)
            else:
                sentiments.append(self._valence(words, lower, i, value, cap_differs))
        if "but" in lower:
            _but_check(sentiments, lower.index("but"))
        total = float(sum(sentiments))
        emphasis = _punctuation_emphasis(text)
        if total > 0:
            total += emphasis
        elif total < 0:
            total -= emphasis
        return round(float(_vader.normalize(total)), 4)

    def _valence(self, words: list[str], lower: list[str], i: int, value: float,
                 cap_differs: bool) -> float:
        """VADER's ``sentiment_valence`` for a word of the lexicon (``value``)."""
        lexicon = self.lexicon
        count = len(words)
        valence = value
        if lower[i] == "no" and i != count - 1 and lower[i + 1] in lexicon:
            valence = 0.0
        if ((i > 0 and lower[i - 1] == "no") or (i > 1 and lower[i - 2] == "no")
                or (i > 2 and lower[i - 3] == "no" and lower[i - 1] in ("or", "nor"))):
            valence = value * N_SCALAR
        if cap_differs and words[i].isupper():
            if valence > 0:
                valence += C_INCR
            else:
                valence -= C_INCR
        for start in range(3):
            before = i - (start + 1)
            if i > start and lower[before] not in lexicon:
                scalar = _scalar(words[before], lower[before], valence, cap_differs)
                if start == 1 and scalar != 0:
                    scalar = scalar * 0.95
                if start == 2 and scalar != 0:
                    scalar = scalar * 0.9
                valence = valence + scalar
                valence = _negation_check(valence, lower, start, i)
                if start == 2:
                    valence = _special_idioms_check(valence, lower, i)
        # VADER's ``_least_check``
        if i > 1 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
            if lower[i - 2] != "at" and lower[i - 2] != "very":
                valence = valence * N_SCALAR
        elif i > 0 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
            valence = valence * N_SCALAR
        return valence


def _describe_emojis(text: str, emojis: dict[str, str]) -> str:
    """VADER's first step: each emoji replaced by its description, after a space unless one
    comes before it."""
    parts: list[str] = []
    after_space = True
    for char in text:
        description = emojis.get(char)
        if description is not None:
            if not after_space:
                parts.append(" ")
            parts.append(description)
            after_space = False
        else:
            parts.append(char)
            after_space = char == " "
    return "".join(parts)


def _scalar(word: str, low: str, valence: float, cap_differs: bool) -> float:
    """VADER's ``scalar_inc_dec``: how a booster word before a sentiment word moves it."""
    scalar = BOOSTER_DICT.get(low)
    if scalar is None:
        return 0.0
    if valence < 0:
        scalar *= -1
    if cap_differs and word.isupper():
        if valence > 0:
            scalar += C_INCR
        else:
            scalar -= C_INCR
    return scalar


def _negated(low: str) -> bool:
    """VADER's ``negated`` of one (lowercased) word."""
    low = low.lower()
    return low in NEGATIONS or "n't" in low


def _negation_check(valence: float, lower: list[str], start: int, i: int) -> float:
    """VADER's ``_negation_check``."""
    if start == 0:
        if _negated(lower[i - 1]):
            valence = valence * N_SCALAR
    elif start == 1:
        if lower[i - 2] == "never" and (lower[i - 1] == "so" or lower[i - 1] == "this"):
            valence = valence * 1.25
        elif lower[i - 2] == "without" and lower[i - 1] == "doubt":
            pass
        elif _negated(lower[i - 2]):
            valence = valence * N_SCALAR
    else:
        if ((lower[i - 3] == "never" and (lower[i - 2] == "so" or lower[i - 2] == "this"))
                or (lower[i - 1] == "so" or lower[i - 1] == "this")):
            valence = valence * 1.25
        elif lower[i - 3] == "without" and (lower[i - 2] == "doubt" or lower[i - 1] == "doubt"):
            pass
        elif _negated(lower[i - 3]):
            valence = valence * N_SCALAR
    return valence


def _special_idioms_check(valence: float, lower: list[str], i: int) -> float:
    """VADER's ``_special_idioms_check`` (``i`` >= 3)."""
    zero, one, two, three = lower[i], lower[i - 1], lower[i - 2], lower[i - 3]
    onezero = f"{one} {zero}"
    twoonezero = f"{two} {one} {zero}"
    twoone = f"{two} {one}"
    threetwoone = f"{three} {two} {one}"
    threetwo = f"{three} {two}"
    for sequence in (onezero, twoonezero, twoone, threetwoone, threetwo):
        special = SPECIAL_CASES.get(sequence)
        if special is not None:
            valence = special
            break
    count = len(lower)
    if count - 1 > i:
        special = SPECIAL_CASES.get(f"{zero} {lower[i + 1]}")
        if special is not None:
            valence = special
    if count - 1 > i + 1:
        special = SPECIAL_CASES.get(f"{zero} {lower[i + 1]} {lower[i + 2]}")
        if special is not None:
            valence = special
    for n_gram in (threetwoone, threetwo, twoone):
        booster = BOOSTER_DICT.get(n_gram)
        if booster is not None:
            valence = valence + booster
    return valence


def _but_check(sentiments: list[float], but_at: int) -> None:
    """VADER's ``_but_check``, as it is: each value's position is the first position holding
    an equal value (``list.index``), so equal values before and after the "but" are scaled
    as VADER scales them."""
    for sentiment in sentiments:
        at = sentiments.index(sentiment)
        if at < but_at:
            sentiments.pop(at)
            sentiments.insert(at, sentiment * 0.5)
        elif at > but_at:
            sentiments.pop(at)
            sentiments.insert(at, sentiment * 1.5)


def _punctuation_emphasis(text: str) -> float:
    """VADER's ``_punctuation_emphasis``: up to four "!", and two or more "?"."""
    exclamations = text.count("!")
    if exclamations > 4:
        exclamations = 4
    questions = text.count("?")
    question_emphasis = 0.0
    if questions > 1:
        question_emphasis = questions * 0.18 if questions <= 3 else 0.96
    return exclamations * 0.292 + question_emphasis

"""An alternation of regular expressions, written so that the engine tries at each place only
the alternatives that can start with the character there.

Python's engine tries the alternatives of ``a1|a2|...|an`` one after the other at every place
it tries the pattern (the complaint cues: about 60 at every word of a message). It skips an
alternative at once only when it starts with a plain character that is not the one there;
most cues start with a group of words, which it enters. :func:`alternation` writes the same
alternation as one group per character that can start a match, ``c(?:d1|d2|...)``, where
``d1, d2, ...`` are what is left of each alternative once that character is read (its
derivative), in the order the engine tries them; the alternatives that can also start with a
class of characters (``\\d``, ``[\\w']``) come last, whole, for the characters no group
starts with. The engine then passes over every group but one on its first character.

The matches are the same, at the same places, with the same spans, and the same alternative
wins (the first that matches, after backtracking into what follows): a derivative keeps the
order in which the engine would try the ways to match. tests/unit/test_sentiment_dispatch.py
compares the two on many texts.

Patterns are read with Python's own parser (``re._parser``; its items are untyped here). What
this module does not know how to derive (a capturing group, flags, a repeat of what can be
empty, an assertion before the first character) leaves the alternation as it was.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from typing import Any

_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

_ONE_CHARACTER = (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN)
_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT)
_CATEGORIES = {_c.CATEGORY_DIGIT: r"\d", _c.CATEGORY_NOT_DIGIT: r"\D",
               _c.CATEGORY_SPACE: r"\s", _c.CATEGORY_NOT_SPACE: r"\S",
               _c.CATEGORY_WORD: r"\w", _c.CATEGORY_NOT_WORD: r"\W"}
_POSITIONS = {_c.AT_BEGINNING: "^", _c.AT_END: "$", _c.AT_BEGINNING_STRING: r"\A",
              _c.AT_END_STRING: r"\Z", _c.AT_BOUNDARY: r"\b", _c.AT_NON_BOUNDARY: r"\B"}

Items = list[Any]  # a parsed pattern: (op, argument) pairs


class Unsupported(ValueError):
    """A pattern this module does not derive."""


def alternation(alternatives: Sequence[str]) -> str:
    """``(?:a1|a2|...)``, grouped by the first character of a match (module docstring)."""
    plain = "(?:" + "|".join(f"(?:{alternative})" for alternative in alternatives) + ")"
    try:
        parsed = [list(_parser.parse(alternative)) for alternative in alternatives]
        starts: list[str] = []  # the characters that start a group, in order of appearance
        others: list[str] = []  # alternatives that can start with a class of characters
        for alternative, items in zip(alternatives, parsed, strict=True):
            if _nullable(items):
                raise Unsupported("a match can be empty")
            firsts = _first(items)
            for op, av in firsts:
                if op is _c.LITERAL and chr(av) not in starts:
                    starts.append(chr(av))
            if any(op is not _c.LITERAL for op, _ in firsts):
                others.append(alternative)
        if not starts:  # every alternative starts with a class: nothing to group by
            return plain
        groups = []
        for char in starts:
            left = [_write(rest) for items in parsed for rest in _derivative(items, char)]
            if left:  # (an empty "(?:)" would match)
                groups.append(re.escape(char) + "(?:" + "|".join(left) + ")")
        if others:
            # Where no group starts: the class-led alternatives, as they are. (Where a group
            # does start, it held them too, and they failed there.)
            starts_class = "[" + "".join(_class_char(ord(char)) for char in starts) + "]"
            groups.append(f"(?!{starts_class})(?:" + "|".join(
                f"(?:{alternative})" for alternative in others) + ")")
    except Unsupported:
        return plain
    return "(?:" + "|".join(groups) + ")"


def _derivative(items: Items, char: str) -> list[Items]:
    """What is left of a match of ``items`` that starts with ``char``: the ways to go on, in
    the order the engine tries them (none if no match starts with it)."""
    if not items:
        return []
    (op, av), rest = items[0], items[1:]
    if op in _ONE_CHARACTER:
        return [rest] if _accepts(op, av, char) else []
    if op is _c.SUBPATTERN:
        return _derivative(_inline(av) + rest, char)
    if op is _c.BRANCH:
        alternatives = [list(alternative) for alternative in av[1]]
        if any(_nullable(alternative) for alternative in alternatives):
            return [way for alternative in alternatives
                    for way in _derivative(alternative + rest, char)]
        inner = [way for alternative in alternatives for way in _derivative(alternative, char)]
        if not inner:
            return []
        if len(inner) == 1:
            return [inner[0] + rest]
        return [[(_c.BRANCH, (None, inner)), *rest]]
    if op in _REPEATS:
        low, high, sub = av
        sub = list(sub)
        if _nullable(sub):
            raise Unsupported("a repeat of what can be empty")
        if high == 0:
            return _derivative(rest, char)
        if op is _c.POSSESSIVE_REPEAT:
            # It never gives back: if it can read ``char`` it does.
            if len(sub) != 1 or sub[0][0] not in _ONE_CHARACTER:
                raise Unsupported("a possessive repeat of more than one character")
            if _accepts(sub[0][0], sub[0][1], char):
                again = [(op, (max(low - 1, 0), _less(high), sub))]
                return [again + rest]
            return [] if low > 0 else _derivative(rest, char)
        again = [] if high == 1 else [(op, (max(low - 1, 0), _less(high), sub))]
        once = [way + again + rest for way in _derivative(sub, char)]
        if low > 0:
            return once
        skip = _derivative(rest, char)
        return once + skip if op is _c.MAX_REPEAT else skip + once
    raise Unsupported(f"{op} before the first character")


def _first(items: Items) -> Items:
    """The one-character items a match of ``items`` can start with (if ``items`` can match
    the empty string: and those of what follows)."""
    found: Items = []
    for op, av in items:
        if op in _ONE_CHARACTER:
            found.append((op, av))
            return found
        if op is _c.SUBPATTERN:
            sub = _inline(av)
            found.extend(_first(sub))
            if not _nullable(sub):
                return found
        elif op is _c.BRANCH:
            alternatives = [list(alternative) for alternative in av[1]]
            for alternative in alternatives:
                found.extend(_first(alternative))
            if not any(_nullable(alternative) for alternative in alternatives):
                return found
        elif op in _REPEATS:
            found.extend(_first(list(av[2])))
            if av[0] > 0:
                return found
        else:
            raise Unsupported(f"{op} before the first character")
    return found  # ``items`` can be empty: what follows them can start a match too


def _nullable(items: Items) -> bool:
    """Whether ``items`` can match the empty string."""
    for op, av in items:
        if op in _ONE_CHARACTER:
            return False
        if op is _c.SUBPATTERN:
            if not _nullable(_inline(av)):
                return False
        elif op is _c.BRANCH:
            if not any(_nullable(list(alternative)) for alternative in av[1]):
                return False
        elif op in _REPEATS:
            if av[0] > 0 and not _nullable(list(av[2])):
                return False
        else:
            raise Unsupported(f"{op} before the first character")
    return True


def _inline(av: Any) -> Items:
    group, add_flags, del_flags, sub = av
    if group is not None or add_flags or del_flags:
        raise Unsupported("a capturing group or flags")
    return list(sub)


def _less(high: int) -> int:
    return int(high) if high == _c.MAXREPEAT else int(high) - 1


def _accepts(op: Any, av: Any, char: str) -> bool:
    """Whether a one-character item matches ``char``."""
    if op is _c.LITERAL:
        return chr(av) == char
    flags = re.DOTALL if op is _c.ANY else 0
    return re.fullmatch(_write([(op, av)]), char, flags) is not None


def _write(items: Items) -> str:
    """Parsed items written back as a pattern."""
    out = []
    for op, av in items:
        if op is _c.LITERAL:
            out.append(re.escape(chr(av)))
        elif op is _c.NOT_LITERAL:
            out.append("[^" + _class_char(av) + "]")
        elif op is _c.ANY:
            out.append(".")
        elif op is _c.IN:
            out.append(_write_class(av))
        elif op is _c.BRANCH:
            out.append("(?:" + "|".join(_write(list(alternative)) for alternative in av[1])
                       + ")")
        elif op is _c.SUBPATTERN:
            out.append("(?:" + _write(_inline(av)) + ")")
        elif op in _REPEATS:
            low, high, sub = av
            bound = f"{{{low},}}" if high == _c.MAXREPEAT else f"{{{low},{high}}}"
            mode = {_c.MIN_REPEAT: "?", _c.POSSESSIVE_REPEAT: "+"}.get(op, "")
            out.append("(?:" + _write(list(sub)) + ")" + bound + mode)
        elif op is _c.AT and av in _POSITIONS:
            out.append(_POSITIONS[av])
        elif op is _c.ASSERT or op is _c.ASSERT_NOT:
            direction, sub = av
            out.append("(?" + ("<" if direction < 0 else "") + ("=" if op is _c.ASSERT else "!")
                       + _write(list(sub)) + ")")
        elif op is _c.ATOMIC_GROUP:
            out.append("(?>" + _write(list(av)) + ")")
        else:
            raise Unsupported(str(op))
    return "".join(out)


def _write_class(items: Items) -> str:
    parts = []
    for op, av in items:
        if op is _c.NEGATE:
            parts.append("^")
        elif op is _c.LITERAL:
            parts.append(_class_char(av))
        elif op is _c.RANGE:
            parts.append(_class_char(av[0]) + "-" + _class_char(av[1]))
        elif op is _c.CATEGORY and av in _CATEGORIES:
            parts.append(_CATEGORIES[av])
        else:
            raise Unsupported(str(op))
    return "[" + "".join(parts) + "]"


def _class_char(code: int) -> str:
    char = chr(code)
    return "\\" + char if char in "\\]^-[" else char

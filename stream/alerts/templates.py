"""Message templates of alert and flag rules: which placeholders a template names."""

from __future__ import annotations

import string
from collections.abc import Sequence


def check_placeholders(template: str, allowed: Sequence[str], whose: str) -> None:
    """Raise ``ValueError`` if ``template`` is not a format string or names a placeholder
    not in ``allowed`` (listed in the error, in the given order, as ``whose`` can use)."""
    try:
        names = [n for _, n, _, _ in string.Formatter().parse(template) if n is not None]
    except ValueError as exc:
        raise ValueError(f"bad template: {exc}") from None
    for name in names:
        if name not in allowed:
            raise ValueError(f"unknown placeholder {{{name}}}; {whose} can use "
                             f"{', '.join('{' + n + '}' for n in allowed)}")

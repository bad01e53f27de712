"""A document's regular expressions (an input's ``pattern``, a canary's ``regex``) matched against
outside text (an operator's answer, a model's reply) in bounded time.

Python's ``re`` has no time limit: ``^(a+)+$`` against ``'a' * 40 + '!'`` backtracks for ever.
The ``regex`` package (V0 mode: the syntax ``re`` takes) matches with a ``timeout``; a match that
takes longer raises :class:`PatternTooSlow`, which says so in one line. aiir's own fixed patterns
stay with ``re``.
"""

from __future__ import annotations

import functools

import regex

MATCH_SECONDS = 1.0
"""How long one match of a document's pattern may take."""


class PatternTooSlow(ValueError):
    """Matching a document's pattern took longer than :data:`MATCH_SECONDS`."""

    def __init__(self, pattern: str) -> None:
        shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
        super().__init__(
            f"the pattern {shown!r} took too long to match (over {MATCH_SECONDS:g} s): "
            "simplify it (nested quantifiers such as (a+)+ backtrack without end)"
        )
        self.pattern = pattern


@functools.lru_cache(maxsize=256)
def compiled(pattern: str) -> regex.Pattern[str]:
    """``pattern`` compiled with Python ``re``'s syntax (``regex`` V0); raises ``regex.error``."""
    return regex.compile(pattern, flags=regex.V0)


def fullmatch(pattern: str, text: str) -> bool:
    """Whether all of ``text`` matches ``pattern``; :class:`PatternTooSlow` past the time limit."""
    try:
        return compiled(pattern).fullmatch(text, timeout=MATCH_SECONDS) is not None
    except TimeoutError:
        raise PatternTooSlow(pattern) from None


def search(pattern: str, text: str) -> regex.Match[str] | None:
    """The first match of ``pattern`` in ``text``; :class:`PatternTooSlow` past the time limit."""
    try:
        return compiled(pattern).search(text, timeout=MATCH_SECONDS)
    except TimeoutError:
        raise PatternTooSlow(pattern) from None

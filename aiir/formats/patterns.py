"""A document's regular expressions (an input's ``pattern``, a canary's ``regex``) matched against
outside text (an operator's answer, a model's reply) in bounded time.

Python's ``re`` has no time limit: ``^(a+)+$`` against ``'a' * 40 + '!'`` backtracks for ever.
The ``regex`` package (V0 mode: the syntax ``re`` takes) matches with a ``timeout``; a match that
takes longer raises :class:`PatternTooSlow`, which says so in one line. aiir's own fixed patterns
stay with ``re``.
"""

from __future__ import annotations

import functools
import importlib
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import regex

# ``regex`` (~7 ms to import, a thirtieth of ``aiir validate ONE.yaml``) is imported when a
# document's pattern is first compiled, not when a module that may compile one is imported.

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
    import regex

    return regex.compile(pattern, flags=regex.V0)


def invalid(pattern: str) -> str | None:
    """What is wrong with ``pattern`` as a document's regular expression, or None: it must
    compile with Python ``re`` and with what matches it at run time (``regex`` V0)."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    import regex

    try:
        compiled(pattern)
    except regex.error as exc:
        return str(exc)
    return None


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


def nested_quantifier(pattern: str) -> bool:
    """Whether ``pattern`` repeats without bound a group that is itself only an unbounded repeat,
    as in ``(a+)+`` or ``(?:\\w*)*$``: the shape that backtracks exponentially on a near miss.
    Other shapes (``(\\d+\\.)+``) are left alone: this is a warning, so it must not cry wolf."""
    try:
        tree = importlib.import_module("re._parser").parse(pattern)
    except Exception:  # an invalid pattern is the validator's error, not this warning's
        return False
    constants = importlib.import_module("re._constants")
    repeats = {constants.MAX_REPEAT, constants.MIN_REPEAT}
    subpattern, unbounded = constants.SUBPATTERN, constants.MAXREPEAT

    def only_repeat(body: Any) -> bool:
        while len(body) == 1 and body[0][0] is subpattern:
            body = body[0][1][3]
        return len(body) == 1 and body[0][0] in repeats and body[0][1][1] is unbounded

    def nested(items: Any) -> bool:
        for op, av in items:
            if op in repeats and av[1] is unbounded and only_repeat(av[2]):
                return True
            if any(nested(part) for part in _parts(av)):
                return True
        return False

    def _parts(av: Any) -> list[Any]:
        found: list[Any] = []
        for piece in av if isinstance(av, tuple | list) else (av,):
            if type(piece).__name__ == "SubPattern":
                found.append(piece)
            elif isinstance(piece, tuple | list):
                found.extend(_parts(piece))
        return found

    return nested(tree)

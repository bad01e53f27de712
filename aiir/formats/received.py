"""JSON received from outside aiir (a gateway's reply, a model's output, a trace store's spans, a
service's answer), read so that whatever it holds can be judged, journaled and shown.

Three things :func:`json.loads` lets through would break what comes after it. Nesting deep enough
to exhaust Python's stack (``[[[[…]]]]`` a few thousand levels down raises ``RecursionError``, and
a few hundred levels still does in the recursive code that masks, encodes or shows the value) is
refused like any text that is not JSON (:class:`NotJson`, a ``ValueError``). A ``\\ud800`` escape,
a lone surrogate that no UTF-8 file can hold, is read as U+FFFD, the replacement character a bad
byte of UTF-8 is read as. ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON, though Python reads
and writes them: journaled as numbers, they made the journal's lines and the ``--json`` views text
that strict readers (jq, PostgreSQL's jsonb) refuse; they are read as the strings they are spelt.
An object that names a key twice is not JSON aiir judges: which one counts depends on the reader.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 100  # levels of arrays and objects; real replies nest a dozen at most
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATES = re.compile("[\ud800-\udfff]")


class NotJson(ValueError):
    """Text that is not JSON aiir can hold (not JSON at all, or nested too deeply)."""


def loads(text: str | bytes | bytearray) -> Any:
    """``json.loads(text)``, nested at most :data:`MAX_DEPTH` levels, lone surrogates replaced,
    ``NaN`` and the infinities read as strings, no key twice in one object.

    Raises ``ValueError`` (:class:`json.JSONDecodeError` or :class:`NotJson`) as
    :func:`json.loads` does for text that is not JSON."""
    try:
        value = json.loads(text, parse_constant=str, object_pairs_hook=_object)
    except RecursionError:
        raise NotJson(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    if _brackets(text) > MAX_DEPTH and _too_deep(value):
        raise NotJson(f"JSON nested deeper than {MAX_DEPTH} levels")
    if _has_surrogate_escape(text):
        value = _replaced(value)
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object, unless it names a key twice: readers disagree on which one counts (Python
    keeps the last, others the first), so a check passed on one could fail on the other."""
    value = dict(pairs)
    if len(value) != len(pairs):
        keys = [key for key, _ in pairs]
        twice = next(key for index, key in enumerate(keys) if key in keys[:index])
        raise NotJson(f"JSON names the key {twice!r} twice in one object")
    return value


def _brackets(text: str | bytes | bytearray) -> int:
    """How many arrays and objects ``text`` opens at most: above the depth it can reach."""
    if isinstance(text, str):
        return text.count("[") + text.count("{")
    return text.count(b"[") + text.count(b"{")


def _has_surrogate_escape(text: str | bytes | bytearray) -> bool:
    if isinstance(text, str):
        return "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None
    return b"\\u" in text and _SURROGATE_ESCAPE_BYTES.search(text) is not None


def _too_deep(value: Any) -> bool:
    """Whether ``value`` nests more than :data:`MAX_DEPTH` levels (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def without_surrogates(text: str) -> str:
    """``text`` with each lone surrogate (``\\ud800``, or ``\\udcff`` from a bad byte read with
    ``surrogateescape``) as U+FFFD: text any UTF-8 file or terminal can hold."""
    return _SURROGATES.sub("\ufffd", text)


def _replaced(value: Any) -> Any:
    if isinstance(value, str):
        return without_surrogates(value)
    if isinstance(value, dict):
        return {without_surrogates(k): _replaced(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v) for v in value]
    return value

"""Text a template computes from a secret is a secret too.

The masks know every spelling a secret takes on the wire (:mod:`aiir.redact`), but a template
may make one of its own: ``{{ env.API_KEY | upper }}``, ``| reverse``, ``| replace('-', '')``,
``[:-1]``, ``| list | join(',')``, ``'x' ~ env.API_KEY``. No list of filters is ever complete
(Jinja2 has dozens, and they compose), so the template is rendered a second time with each
secret it reads replaced by a stand-in that differs from it in every letter and digit (and in
either case), and what differs between the two renderings is what was computed from the secret:
it is declared (:func:`aiir.redact.derive`), and every masker of the command masks it from then
on, in the journal, on the screen, in evidence and in what a server echoes back. The text itself
is returned as it was made: a request still sends what its template says (``Authorization:
Bearer {{ env.KEY }}``), only what is shown or kept is masked.

The second rendering is made only when a template reads a namespace holding a declared secret
(``env``, ``vars``, ``inputs``): most templates read none, and cost nothing more.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from aiir.redact import MIN_RUN, MIN_SECRET, declared_secrets, derive

_MATCHED = 8192  # characters of two renderings a matcher compares, at most

# The namespaces a secret reaches a template by: a declared variable, a value set from one, a
# called runbook's input given one. Answers are typed in (an attacker's key must stay in them).
TAINTED = ("env", "vars", "inputs")


class Replaced(Mapping[str, Any]):
    """``base`` with the entry ``key`` replaced by ``value``; the others read from ``base`` only
    when asked for."""

    def __init__(self, base: Mapping[str, Any], key: str, value: Any) -> None:
        self.base, self.key, self.value = base, key, value

    def __getitem__(self, key: str) -> Any:
        return self.value if key == self.key else self.base[key]

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self.base), self.key: None})

    def __len__(self) -> int:
        return len(self.base) + (self.key not in self.base)


def stand_in(secret: str) -> str:
    """``secret`` with every letter and digit changed (ROT13, digits by 5, any other letter for
    ``ж``): no character of it, in either case, is where it was; separators stay, so the text
    keeps its shape."""
    rotated = secret.translate(_ROTATED)
    if rotated == secret:  # no letter nor digit (a password of punctuation): change that
        return secret.translate(_PUNCTUATION)
    if rotated.isascii():
        return rotated
    return _OTHER_LETTER.sub(lambda m: "ф" if m[0] in "жЖ" else "ж", rotated)  # ключ: жжжж


_LOWER = "abcdefghijklmnopqrstuvwxyz"
_PUNCTUATION = str.maketrans(string.punctuation, string.punctuation[1:] + string.punctuation[0])
_OTHER_LETTER = re.compile(r"[^\W\d_A-Za-z]")  # a letter that is not ASCII
_ROTATED = str.maketrans(
    _LOWER + _LOWER.upper() + "0123456789",
    _LOWER[13:] + _LOWER[:13] + (_LOWER[13:] + _LOWER[:13]).upper() + "5678901234",
)


def stand_ins(source: str, context: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``context`` with each declared secret ``source`` may read replaced by its stand-in; None
    when it reads none (the common case: no second rendering)."""
    secrets = declared_secrets()
    if not secrets:
        return None
    replaced: Mapping[str, Any] = context
    for namespace in TAINTED:
        if namespace not in source:
            continue
        values = context.get(namespace)
        if not isinstance(values, Mapping):
            continue
        changed = {
            key: stand_in(value)
            for key, value in values.items()
            if isinstance(value, str) and len(value) >= MIN_SECRET and value in secrets
        }
        if changed:
            replaced = Replaced(replaced, namespace, _Overlay(values, changed))
    return None if replaced is context else replaced


class _Overlay(Mapping[str, Any]):
    """``base`` with some entries changed."""

    def __init__(self, base: Mapping[str, Any], changed: Mapping[str, Any]) -> None:
        self.base, self.changed = base, changed

    def __getitem__(self, key: str) -> Any:
        return self.changed[key] if key in self.changed else self.base[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.base)

    def __len__(self) -> int:
        return len(self.base)


def watched(
    source: str, context: Mapping[str, Any], made: Any, again: Callable[[Any], Any]
) -> None:
    """Declare what ``made`` (``source`` rendered or evaluated with ``context``) holds that was
    computed from a secret: ``again(other)`` makes it with the secrets' stand-ins instead."""
    other = stand_ins(source, context)
    if other is None:
        return
    try:
        remade = again(other)
    except Exception:  # a stand-in the template cannot take (``| int``): all of it is secret
        derive(_texts(made))
        return
    derive(differences(made, remade))


def failed(
    source: str,
    context: Mapping[str, Any],
    said: str,
    again: Callable[[Mapping[str, Any]], str | None],
) -> None:
    """Declare what the error ``said`` (of ``source`` with ``context``) quotes of a secret:
    ``again(other)`` says the error with the secrets' stand-ins, or None when there is none."""
    other = stand_ins(source, context)
    if other is None:
        return
    try:
        said_too = again(other)
    except Exception:  # a stand-in the template cannot take: all it quotes is secret
        said_too = None
    derive(differences(said, said_too) if said_too is not None else _quoted(said))


def _quoted(said: str) -> set[str]:
    """What an error quotes (``'…'``): failing for the secret alone, it failed on its value."""
    return {match[1] for match in _QUOTE.finditer(said)} or {said}


_QUOTE = re.compile(r"'([^']*)'")


def differences(made: Any, remade: Any) -> set[str]:
    """The parts of ``made`` that are not in ``remade`` where they are in ``made``: texts
    compared run by run, lists and mappings item by item."""
    if isinstance(made, str):
        return _changed(made, remade) if isinstance(remade, str) else {made}
    if isinstance(made, list | tuple):
        if not isinstance(remade, list | tuple) or len(made) != len(remade):
            return _texts(made)
        return {text for a, b in zip(made, remade, strict=True) for text in differences(a, b)}
    if isinstance(made, Mapping):
        if not isinstance(remade, Mapping):
            return _texts(made)
        return {text for key, value in made.items() for text in differences(value, remade.get(key))}
    return set()


def _texts(made: Any) -> set[str]:
    if isinstance(made, str):
        return {made}
    if isinstance(made, list | tuple):
        return {text for item in made for text in _texts(item)}
    if isinstance(made, Mapping):
        return {text for item in made.values() for text in _texts(item)}
    return set()


def _changed(made: str, remade: str) -> set[str]:
    """The runs of ``made`` that differ from ``remade``, those of one value together (only
    separators between them, which the stand-in keeps: ``-`` in a key, ``,`` of a join), never
    alone: ``marketing`` of ``sk-marketing-agents`` is a word elsewhere. A run shorter than :data:`aiir.redact.MIN_RUN` is dropped by
    :func:`aiir.redact.derive`. Of the same length (most filters keep it), the texts are compared
    place by place: a matcher would pair a letter of the secret with the same letter elsewhere
    in the stand-in, and cut the secret in pieces too short to mask."""
    if made == remade:
        return set()
    # What both begin and end with is the template's own text (a model's long output in it):
    # only what lies between is compared
    start = _shared(made, remade)
    tail = _shared(made[start:][::-1], remade[start:][::-1])
    middle, other = made[start : len(made) - tail], remade[start : len(remade) - tail]
    if len(middle) == len(other):
        runs: list[tuple[int, int]] = []
        for index, (was, now) in enumerate(zip(middle, other, strict=True), start):
            if was == now:
                continue
            if runs and runs[-1][1] == index:
                runs[-1] = (runs[-1][0], index + 1)
            else:
                runs.append((index, index + 1))
    elif len(middle) + len(other) > _MATCHED:  # a matcher's time grows as their product
        runs = [(start, start + len(middle))]
    else:
        matcher = difflib.SequenceMatcher(None, middle, other, autojunk=False)
        runs = [
            (start + i1, start + i2)
            for tag, i1, i2, _, _ in matcher.get_opcodes()
            if tag != "equal"
        ]
        runs = [(a, b) for a, b in runs if b > a]
    joined: list[list[int]] = []
    for a, b in runs:
        if joined and _separators(made[joined[-1][1] : a]):
            joined[-1][1] = b
        else:
            joined.append([a, b])
    return {made[a:b] for a, b in joined}


def _shared(a: str, b: str) -> int:
    """How many characters ``a`` and ``b`` begin with alike (slices compared: a long text is
    not walked character by character)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _separators(gap: str) -> bool:
    """Whether ``gap`` (between two runs computed from a secret) is a separator inside one
    value: a character or two (a matcher's chance pairing), or a few that are no letter or
    digit (which the stand-in keeps as they are)."""
    return len(gap) <= 2 or (len(gap) <= MIN_RUN and not any(c.isalnum() for c in gap))

"""Text made printable: escape sequences (CSI, OSC such as hyperlinks, title changes or
clipboard writes), other control characters, bidirectional overrides, invisible (zero-width and
tag) characters and lone surrogates removed, or escaped in JSON. For everything that shows text
from a model, a user, a runbook or a gateway, on a terminal or in a file read on one
(:mod:`aiir.terminal.inert` prints it as a rich ``Text``, which reads no markup either).
"""

from __future__ import annotations

import re

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, screen clears
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, hyperlinks, clipboard writes
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b.?"  # any other escape
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
# Controls, bidirectional marks, overrides and isolates, invisible characters (zero-width spaces
# and joiners, the word joiner, invisible operators, the byte-order mark, the tag characters that
# smuggle ASCII past a reader) and lone surrogates (a bad byte read with surrogateescape, a \ud800
# escape), which no UTF-8 terminal can print.
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff\ud800-\udfff\U000e0000-\U000e007f]"
)


def plain(text: str) -> str:
    """``text`` without escape sequences, control, bidi or invisible characters."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def json_inert(encoded: str) -> str:
    """JSON text (``ensure_ascii=False``) with the controls JSON leaves raw (DEL, the C1 range
    with its 8-bit CSI, bidi overrides, invisible characters, lone surrogates) written as
    ``\\uXXXX``: the same data, inert on a terminal. JSON escapes the rest of the controls."""
    return _CONTROLS.sub(_json_escape, encoded)


def _json_escape(match: re.Match[str]) -> str:
    """One character as JSON writes it with ``ensure_ascii``: past U+FFFF, a surrogate pair."""
    code = ord(match[0])
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"

"""Hostile text made inert: anything from a model, a user or a gateway is shown through here.

Terminal escape sequences (CSI, OSC such as hyperlinks or title changes), other control characters
and bidirectional overrides are removed; the result is printed as a rich ``Text``, which never
interprets ``[bold]``-style console markup.
"""

from __future__ import annotations

import re

from rich.text import Text

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, screen clears
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, hyperlinks, clipboard writes
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b.?"  # any other escape
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def plain(text: str) -> str:
    """``text`` without escape sequences, control characters or bidi overrides."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def json_inert(encoded: str) -> str:
    """JSON text (``ensure_ascii=False``) with the controls JSON leaves raw (DEL, the C1 range
    with its 8-bit CSI, bidi overrides) written as ``\\uXXXX``: the same data, inert on a
    terminal. JSON escapes the rest of the controls itself."""
    return _CONTROLS.sub(lambda m: f"\\u{ord(m[0]):04x}", encoded)


def inert(text: str, style: str = "") -> Text:
    """A rich Text that shows ``text`` literally: no markup, no escapes."""
    return Text(plain(text), style=style)

"""Text made printable: escape sequences (CSI, OSC such as hyperlinks, title changes or
clipboard writes), other control characters, bidirectional overrides, invisible (zero-width and
tag) characters and lone surrogates removed, or escaped in JSON. For everything that shows text
from a model, a user, a runbook or a gateway, on a terminal or in a file read on one
(:mod:`aiir.terminal.inert` prints it as a rich ``Text``, which reads no markup either).
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # YAML is loaded by the few commands that write it, not by every command
    import yaml

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, screen clears
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, hyperlinks, clipboard writes
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b.?"  # any other escape
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
# Controls, bidirectional marks, overrides and isolates, invisible characters (zero-width spaces
# and joiners, the word joiner, invisible operators, the byte-order mark, the tag characters that
# smuggle ASCII past a reader), lone surrogates (a bad byte read with surrogateescape, a \ud800
# escape) and the noncharacters U+FFFE and U+FFFF: what no terminal shows (nor XML holds).
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff\ufffe\uffff\ud800-\udfff\U000e0000-\U000e007f]"
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


def yaml_text(data: Any) -> str:
    """``data`` as block YAML (keys in order, 100 columns, Unicode as it is), with the characters
    YAML counts as printable but that print as nothing or turn the text around them (bidi
    overrides, zero-width and tag characters, line separators) double-quoted as ``\\uXXXX``
    escapes: the same text when read, inert on a terminal or in an editor."""
    import yaml

    text = yaml.dump(data, Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=100)
    if text.isascii():
        return text
    return "".join(c if c == "\n" or c.isprintable() else _yaml_escape(c) for c in text)


def _yaml_escape(char: str) -> str:
    """A character as a YAML double-quoted escape (outside the line ends YAML writes, such a
    character is only ever inside double quotes: :func:`_dumper` chose them)."""
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


@functools.cache
def _dumper() -> type[yaml.SafeDumper]:
    """A safe dumper that double-quotes a string Python would not print as it is."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = None if value.replace("\n", "").isprintable() else '"'
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, string)
    return Dumper

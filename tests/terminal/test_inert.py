"""What the terminal is given of hostile text: nothing that moves, hides or turns text around."""

from __future__ import annotations

import json

import pytest

from aiir.terminal.inert import inert, json_inert, plain

HIDDEN = {
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "word joiner": "\u2060",
    "byte-order mark": "\ufeff",
    "arabic letter mark": "\u061c",
    "tag character": "\U000e0041",
    "lone surrogate": "\ud800",
    "bad byte read with surrogateescape": "\udcff",
    "right-to-left override": "\u202e",
    "noncharacter (no XML holds it: a JUnit report)": "\uffff",
}


@pytest.mark.parametrize("char", HIDDEN.values(), ids=HIDDEN.keys())
def test_invisible_and_unprintable_characters_are_dropped(char: str) -> None:
    """Zero-width, tag and surrogate characters were printed: an id or a name could hide text,
    and a surrogate made the console's UTF-8 encoding raise."""
    assert plain(f"ad{char}min") == "admin"
    assert inert(f"ad{char}min").plain == "admin"
    assert plain(f"ad{char}min").encode("utf-8")


@pytest.mark.parametrize("char", HIDDEN.values(), ids=HIDDEN.keys())
def test_json_keeps_them_escaped(char: str) -> None:
    encoded = json_inert(json.dumps({"k": f"a{char}b"}, ensure_ascii=False))
    assert char not in encoded
    assert json.loads(encoded) == {"k": f"a{char}b"}


def test_ordinary_text_is_kept() -> None:
    text = "café 中文 \U0001f600 tab\there\nnext line: [bold]x[/] {{ 7*7 }}"
    assert plain(text) == text

"""JSON received from outside: read so that it can be journaled and shown, or refused as not JSON."""

from __future__ import annotations

import json

import pytest

from aiir.formats.received import MAX_DEPTH, NotJson, loads, without_surrogates


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_ordinary_json_reads_as_json_loads_reads_it() -> None:
    text = '{"a": [1, 2.5, "x\\u00e9", {"b": null}], "c": true, "d": "\\ud83d\\ude00"}'
    assert loads(text) == json.loads(text)
    assert loads(text.encode()) == json.loads(text)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 200_000])
def test_json_nested_deeper_than_aiir_holds_is_not_json(depth: int) -> None:
    """200,000 levels raised RecursionError out of the gateway reply's judge: an internal error."""
    with pytest.raises(NotJson, match=f"nested deeper than {MAX_DEPTH} levels"):
        loads(nested(depth))
    with pytest.raises(ValueError, match="nested deeper"):  # a ValueError, as callers expect
        loads(nested(depth).encode())


def test_json_nested_as_deep_as_aiir_holds_reads() -> None:
    assert loads(nested(MAX_DEPTH)) == json.loads(nested(MAX_DEPTH))
    wide = json.dumps([[i] for i in range(1_000)])  # many brackets, shallow
    assert loads(wide) == json.loads(wide)


def test_a_lone_surrogate_reads_as_the_replacement_character() -> None:
    """A "\\ud800" escape read into a saved value made the journal's UTF-8 encoding raise."""
    value = loads(b'{"id": "\\ud800 lone", "\\udcff": ["\\uDC00", "\\ud83d\\ude00"]}')
    assert value == {"id": "\ufffd lone", "\ufffd": ["\ufffd", "\U0001f600"]}
    json.dumps(value, ensure_ascii=False).encode()


def test_without_surrogates_keeps_every_other_character() -> None:
    assert (
        without_surrogates("a\udcffb\ud800c é 中 \U0001f600") == "a\ufffdb\ufffdc é 中 \U0001f600"
    )


def test_nan_and_the_infinities_read_as_the_strings_they_are_spelt() -> None:
    """A gateway's NaN, saved into a var, went into the journal and 'show --json' as NaN: text
    that jq and PostgreSQL's jsonb refuse."""
    value = loads(b'{"id": NaN, "up": Infinity, "down": -Infinity, "n": 1.5}')
    assert value == {"id": "NaN", "up": "Infinity", "down": "-Infinity", "n": 1.5}
    json.dumps(value, allow_nan=False)


def test_an_object_naming_a_key_twice_is_not_json_aiir_judges() -> None:
    """'{"blocked": false, "blocked": true}' passed a check for blocked: true (Python keeps the
    last key; a reader that keeps the first sees false)."""
    with pytest.raises(NotJson, match="JSON names the key 'blocked' twice in one object"):
        loads(b'{"key": "k", "blocked": false, "blocked": true}')
    assert loads(b'[{"a": 1}, {"a": 2}]') == [{"a": 1}, {"a": 2}]  # one key in each object

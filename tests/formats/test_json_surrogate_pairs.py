"""JSON written by ``json.dumps`` (``ensure_ascii``, its default) escapes a character past
U+FFFF as a surrogate pair, ``"\\ud83d\\udd25"``; libyaml refuses that in a double-quoted
scalar, and an answers file made so was "invalid YAML". Such a pair reads as its character; a
lone surrogate escape is still an error at its place, and an escaped backslash is no escape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiir.errors import LoadError
from aiir.formats.loader import load_text
from tests.runs import process_env, run_aiir


def test_a_surrogate_pair_reads_as_its_character() -> None:
    text = json.dumps({"report": "fire 🔥 and 𝄞", "kept": "\\ud83d\\udd25"})
    assert "\\ud83d\\udd25" in text
    document = load_text(text, "answers.json")
    assert document.data == {"report": "fire 🔥 and 𝄞", "kept": "\\ud83d\\udd25"}
    # positions are found in the text as read: the line is right, a column after a pair on its
    # line is 11 characters to the left for each pair before it
    assert document.locate(("kept",)) == (1, 36)


def test_a_lone_surrogate_escape_is_still_an_error() -> None:
    with pytest.raises(LoadError) as raised:
        load_text('{"report": "\\ud83d alone"}', "answers.json")
    assert "invalid Unicode character escape code" in str(raised.value)


def test_an_answers_file_from_json_dumps_is_taken(tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(
        json.dumps({"confirm-injection": "harmful-output", "attacker-key": "sk-🔥-attacker"}),
        encoding="utf-8",
    )
    ran = run_aiir(
        ["run", "prompt-injection", "--sandbox", "--yes", "--answers", str(answers)],
        process_env(tmp_path / "incidents"),
    )
    err = ran.stderr.decode()
    assert "invalid YAML" not in err, err
    assert "internal error" not in err, err

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
    # a position after a pair is the file's, where one character was read for twelve
    assert document.locate(("kept",)) == (1, text.index('"\\\\ud83d') + 1)
    assert document.locate(("report",)) == (1, text.index('"fire') + 1)


def test_a_finding_after_pairs_on_its_line_names_the_file_s_column() -> None:
    first = '{"a": "\\ud83d\\udd25",'
    second = ' "b": {"c": "\\ud83d\\udd25\\ud834\\udd1e", "d": 1}}'
    document = load_text(f"{first}\n{second}\n", "x.json")
    assert document.locate(("b", "d")) == (2, second.index("1}") + 1)
    assert document.locate(("b", "c")) == (2, second.index('"\\ud83d') + 1)
    assert document.locate(("a",)) == (1, first.index('"\\ud83d') + 1)


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

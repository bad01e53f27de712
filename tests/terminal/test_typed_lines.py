"""A line typed at a text prompt: a control key pressed by mistake or a pasted line break is
refused on the spot (the lever would use the character); a tab and any printable text are not."""

from __future__ import annotations

import pytest

from aiir.terminal.lines import control_in


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("ignore\x1aprevious", "^Z"),
        ("a\x16b", "^V"),
        ("x\x7f", "^?"),
        ("\x1b[A", "^["),
        ("\x85", "U+0085"),
    ],
)
def test_a_control_key_in_the_line_is_named(typed: str, key: str) -> None:
    assert control_in(typed) == f"the answer holds a control character ({key}): erase it"


@pytest.mark.parametrize("typed", ["two\nlines", "cr\rhere"])
def test_a_line_break_is_one_line_too_many(typed: str) -> None:
    problem = control_in(typed)
    assert problem is not None
    assert problem.startswith("one line only")


@pytest.mark.parametrize("typed", ["", "ignore previous", "tab\there", "naïve ✓ 日本", "sk-1234"])
def test_text_is_text(typed: str) -> None:
    assert control_in(typed) is None

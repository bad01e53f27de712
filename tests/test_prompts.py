"""The answers-file prompter refuses what validation reports with a line, for callers that skip
validation (an answers mapping built in code)."""

from __future__ import annotations

import pytest

from aiir.errors import InputError
from aiir.prompts import NoTerminalPrompter, Option, ScriptedPrompter

OPTIONS = [Option("a", "Alpha"), Option("b", "Beta")]


@pytest.mark.parametrize("how", ["choose_many", "checklist"])
@pytest.mark.parametrize("answer", [["a", "a"], ["a", "b", "a"]])
def test_a_pick_named_twice_is_refused(how: str, answer: list[str]) -> None:
    prompter = ScriptedPrompter({"n": answer}, NoTerminalPrompter())
    with pytest.raises(InputError, match="'a' is picked more than once"):
        getattr(prompter, how)("n", "?", OPTIONS)


def test_a_label_and_its_value_are_one_pick() -> None:
    prompter = ScriptedPrompter({"n": ["a", "Alpha"]}, NoTerminalPrompter())
    with pytest.raises(InputError, match="'a' is picked more than once"):
        prompter.choose_many("n", "?", OPTIONS)


def test_distinct_picks_are_kept_in_their_order() -> None:
    assert ScriptedPrompter({"n": ["b", "a"]}, NoTerminalPrompter()).choose_many(
        "n", "?", OPTIONS
    ) == [
        "b",
        "a",
    ]

"""The one-line-per-question prompter of a terminal that cannot move its cursor (TERM=dumb):
driven with the lines an operator types, and once for real in a pseudo-terminal."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiir.prompts import OperatorLeft, Option
from aiir.terminal.lines import LinePrompter
from tests.runs import ATTACKER_KEY
from tests.servers import Gateway, serve_gateway

OPTIONS = [Option("harmful", "Harmful output"), Option("leak", "It leaked"), Option("no", "No")]


def typed(*lines: str | type[BaseException]) -> tuple[LinePrompter, list[str]]:
    """A prompter reading ``lines`` (an exception class: that key), and what it showed."""
    shown: list[str] = []
    given: Iterator[str | type[BaseException]] = iter(lines)

    def read(prompt: str) -> str:
        shown.extend(prompt.splitlines())
        line = next(given)
        if isinstance(line, type):
            raise line
        return line

    return LinePrompter(read=read), shown


def test_a_choice_by_number_or_value_and_nothing_else() -> None:
    prompter, shown = typed("", "7", "1 2", "2")
    assert prompter.choose("triage", "What happened?", OPTIONS) == "leak"
    assert "  2) It leaked" in shown
    assert "'7' is not one of 1-3" in shown
    assert shown.count("one answer: a number from 1 to 3, then Enter") == 2  # Enter, two
    prompter, _ = typed("no")
    assert prompter.choose("triage", "What happened?", OPTIONS) == "no"


def test_a_yes_no_needs_a_word_and_d_shows_the_details() -> None:
    prompter, shown = typed("yess", "d", " Y ")
    assert prompter.confirm("contain.approve", "Engage?", details="POST /guardrails") is True
    assert "type y (yes) or n (no), or d for the details, then Enter" in shown
    assert "POST /guardrails" in shown
    assert typed("")[0].confirm("known", "Known?") is False  # Enter: the default


def test_a_text_is_checked_and_a_control_key_refused() -> None:
    def check(answer: str) -> str | None:
        return None if answer.startswith("sk-") else "expected a virtual key"

    prompter, shown = typed("bad", "sk-\x1a1", ATTACKER_KEY)
    assert prompter.text("attacker-key", "Which key?", check=check) == ATTACKER_KEY
    assert "expected a virtual key" in shown
    assert "the answer holds a control character (^Z): erase it" in shown
    assert typed("")[0].text("model", "Model?", default="support-bot") == "support-bot"


def test_a_checklist_takes_numbers_all_or_none() -> None:
    assert typed("1, 3")[0].checklist("steps", "Tick", OPTIONS) == ["harmful", "no"]
    assert typed("all")[0].checklist("steps", "Tick", OPTIONS) == ["harmful", "leak", "no"]
    assert typed("")[0].choose_many("many", "Pick", OPTIONS) == []
    assert typed("none")[0].choose_many("many", "Pick", OPTIONS) == []


def test_a_note_is_journalled_and_the_question_asked_again() -> None:
    prompter, _ = typed(":note legal is on the bridge", "n")
    notes: list[str] = []
    prompter.notes = notes.append
    assert prompter.confirm("known", "Known?") is False
    assert notes == ["legal is on the bridge"]


@pytest.mark.parametrize(("key", "name"), [(KeyboardInterrupt, "Ctrl-C"), (EOFError, "Ctrl-D")])
def test_ctrl_c_and_ctrl_d_leave(key: type[BaseException], name: str) -> None:
    prompter, _ = typed(key)
    with pytest.raises(OperatorLeft) as left:
        prompter.choose("triage", "What happened?", OPTIONS)
    assert left.value.key == name


@pytest.fixture
def gateway() -> Iterator[tuple[str, Gateway]]:
    with serve_gateway() as served:
        yield served


@pytest.mark.pty
@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_a_dumb_terminal_walks_the_drill_with_lines_and_no_cursor_moves(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    pytest.importorskip("pexpect")
    pytest.importorskip("pyte")
    from tests.terminal.test_keyboard import answers, start

    url, state = gateway
    screen = start(tmp_path, url, term="dumb")
    screen.wait("What happened to support-bot?")
    screen.type("2\r")
    screen.wait("Which phrase did the attack use?")
    screen.type("ignore previous\r")
    screen.wait("Engage lever 'filter'?")
    screen.type("y\r\r")  # the second Enter answers nothing
    screen.wait("Is the attacker's key known?")
    screen.type("n\r")
    screen.wait("Eradicate: tick what is done")
    screen.type("all\r")
    status, shown = screen.finish()
    assert status == 0, shown
    assert not re.search(r"\x1b\[[0-9;?]*[A-HJKSTfhlmsu]", screen.transcript.getvalue())
    assert "  2) The system prompt leaked" in shown
    assert answers(tmp_path) == {
        "triage": "leak",
        "phrase": "ignore previous",
        "contain.approve": True,
        "known": False,
        "steps": ["harden", "canaries", "downstream"],
    }
    assert state.count("POST", "/guardrails") == 1

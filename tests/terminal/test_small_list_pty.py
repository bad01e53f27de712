"""A question's list on a small terminal: the node's box, the question and every choice share
the screen, and a choice cut to the width says so.

At 40x10 questionary cut each choice at the terminal's edge with no mark (a cut label read as
whole, and two labels that differ at their end read the same), and a list of five choices
pushed the node's title and text off the top. Now a cut choice ends in "…", the one pointed at
is shown whole, the node's box gives up rows to the list, and a longer list scrolls with a line
saying how many choices are above and below.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import write
from tests.runs import drill, process_env
from tests.terminal.test_keyboard import DOWN, Screen

pytest.importorskip("pexpect")
pytest.importorskip("pyte")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]

QUESTION = "What happened to support-bot?"
TEXT = "Look at the flagged conversations before you answer: which of these is it?"


def runbook(labels: list[str]) -> dict[str, Any]:
    book = drill()
    triage = book["nodes"]["triage"]
    triage["title"] = "Confirm the injection"
    triage["text"] = TEXT
    triage["choices"] = [
        {"label": label, "value": f"c{i}", "next": "phrase"} for i, label in enumerate(labels)
    ]
    return book


def at_the_list(tmp_path: Path, book: dict[str, Any], keys: str = "") -> list[str]:
    path = tmp_path / "drill.yaml"
    write(path, book)
    env = process_env(tmp_path / "incidents", TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
    env.pop("COLUMNS")  # the terminal's own size
    screen = Screen(["run", str(path), "--sandbox"], env, rows=10, cols=40)
    try:
        screen.wait(QUESTION)
        if keys:
            screen.type(keys)
        return screen.lines()
    finally:
        screen.child.terminate(force=True)


FOUR = [
    "Harmful or policy-violating output reached users",
    "The assistant took or offered an action it should refuse",
    "Jailbreak worked but nothing harmful reached users yet",
    "Not an injection (model error, user confusion)",
]


def test_four_long_choices_keep_the_box_title_the_question_and_marked_cuts(
    tmp_path: Path,
) -> None:
    lines = at_the_list(tmp_path, runbook(FOUR))
    shown = "\n".join(lines)
    assert "Confirm the injection" in shown, shown  # the node's box kept its title
    assert "Look at the flagged" in shown, shown  # and the start of its text
    assert QUESTION in shown, shown
    whole = " ".join(line.strip() for line in lines)
    assert f"» {FOUR[0]}" in whole, shown  # the one pointed at, whole
    cut = [line for line in lines if line.startswith("   ") and line.endswith("…")]
    assert len(cut) == 2, shown  # the choices that do not fit say so
    choices = [line for line in lines if line.startswith(("   ", " »"))]
    assert all(len(line) < 40 for line in choices), shown  # none runs into the edge
    assert "↓ 2 more (arrow keys)" in shown, shown  # and the list says what is below it


def test_labels_that_differ_at_their_end_are_told_apart_at_the_pointer(tmp_path: Path) -> None:
    same = "Reroute the support model group to the fallback model"
    lines = at_the_list(tmp_path, runbook([f"{same} A", f"{same} B", "Nothing"]), DOWN)
    shown = " ".join(line.strip() for line in lines)
    assert f"» {same} B" in shown, "\n".join(lines)  # the one pointed at, whole


def test_a_long_list_scrolls_under_the_box_and_says_what_is_off_screen(tmp_path: Path) -> None:
    labels = [f"Option {i}: short" for i in range(9)]
    lines = at_the_list(tmp_path, runbook(labels), DOWN * 6)
    shown = "\n".join(lines)
    assert "Confirm the injection" in shown, shown
    assert QUESTION in shown, shown
    assert "» Option 6: short" in shown, shown  # the pointed choice is on screen
    assert "↓ 3 more" in shown, shown  # 7, 8 and the "add a note" entry below
    assert "more (arrow keys)" in shown, shown
    assert "Option 0" not in shown, shown  # scrolled: the first ones are said to be above


@pytest.mark.parametrize("title", ["緊急フィルター 🚨 攻撃フレーズを遮断する e\u0301 " * 3])
def test_wide_characters_in_a_choice_are_cut_on_a_cell_boundary(tmp_path: Path, title: str) -> None:
    lines = at_the_list(tmp_path, runbook([title, "Nothing at all"]), DOWN)
    shown = "\n".join(lines)
    wide = [line for line in lines if "緊急" in line]
    assert wide, shown
    assert all(line.rstrip().endswith("…") for line in wide), shown

"""An action's and a release's request on a small terminal: the box that says what y sends
stays on the screen with the question, as the lever's box does.

At 40x10 the box before an action node's request (and before a release node's) held the
request in full, indented JSON taller than the screen: its title, the method and the URL
scrolled off the top before "Send this request?" was asked. With a question under it and too
little room, the box now says what the lever's box says (what it sends, to which gateway),
fitted above the question; ``d`` shows the full request. A big terminal keeps the full request.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import write
from tests.runs import drill, only_incident, process_env
from tests.terminal.test_keyboard import ENTER, Screen

pytest.importorskip("pexpect")
pytest.importorskip("pyte")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]


def runbook() -> dict[str, Any]:
    """The drill with an action after the phrase, and a release node after the filter."""
    book = drill()
    nodes = book["nodes"]
    nodes["phrase"]["next"] = "audit"
    nodes["audit"] = {
        "kind": "action",
        "title": "Block the key",
        "request": {"use": "litellm.block_key", "with": {"key": "sk-attacker-123"}},
        "next": "contain",
    }
    nodes["contain"]["next"] = "lift"
    nodes["lift"] = {
        "kind": "release",
        "title": "Lift the filter",
        "lever": "filter",
        "next": "done",
    }
    return book


def walk_to(tmp_path: Path, rows: int, cols: int, release: bool) -> list[str]:
    path = tmp_path / "drill.yaml"
    write(path, runbook())
    env = process_env(tmp_path / "incidents", TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
    env.pop("COLUMNS")  # the terminal's own size
    screen = Screen(["run", str(path), "--sandbox"], env, rows=rows, cols=cols)
    try:
        screen.wait("What happened to support-bot?")
        screen.type(ENTER)
        screen.wait("Which phrase did the attack use?")
        screen.type("ignore previous" + ENTER)
        screen.wait("Send this request?")
        if release:
            screen.type("yes" + ENTER)
            screen.wait("Engage lever 'filter'?")
            screen.type("yes" + ENTER)
            screen.wait("Release lever 'filter'")
        return screen.lines()
    finally:
        screen.child.terminate(force=True)


@pytest.mark.parametrize(("rows", "cols"), [(10, 40), (12, 60)])
def test_the_action_box_title_what_it_sends_and_the_question_share_the_screen(
    tmp_path: Path, rows: int, cols: int
) -> None:
    lines = walk_to(tmp_path, rows, cols, release=False)
    shown = "\n".join(lines)
    assert "Action 'Block the key'" in shown, shown  # the box's title: which action
    assert "Sends: POST" in shown, shown  # what y sends
    assert "Send this request?" in shown, shown
    assert "(y/N/d)" in shown, shown  # and d, for the full request


def test_the_release_box_title_what_it_sends_and_the_question_share_the_screen(
    tmp_path: Path,
) -> None:
    lines = walk_to(tmp_path, 10, 40, release=True)
    shown = "\n".join(lines)
    assert "Release 'filter'" in shown, shown
    assert "Sends: DELETE" in shown or "Sends: POST" in shown, shown
    assert "Release lever 'filter'" in " ".join(line.strip() for line in lines), shown
    assert "(y/N/d)" in shown, shown


def test_a_big_terminal_keeps_the_full_request(tmp_path: Path) -> None:
    shown = "\n".join(walk_to(tmp_path, 30, 100, release=False))
    assert '"method": "POST"' in shown, shown
    assert '"key": "sk-attacker-123"' in shown, shown


@pytest.mark.parametrize(("rows", "cols"), [(10, 40), (24, 80)])
def test_aiir_release_shows_what_y_sends_before_asking(
    tmp_path: Path, rows: int, cols: int
) -> None:
    """``aiir release`` asked "y sends its release now" with nothing on the screen saying what
    it sends: the release's request came only once y was typed."""
    path = tmp_path / "drill.yaml"
    write(path, drill())
    env = process_env(tmp_path / "incidents", TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
    env.pop("COLUMNS")  # the terminal's own size
    walk = Screen(["run", str(path), "--sandbox"], env)
    try:
        walk.wait("What happened to support-bot?")
        walk.type(ENTER)
        walk.wait("Which phrase did the attack use?")
        walk.type("ignore previous" + ENTER)
        walk.wait("Engage lever 'filter'?")
        walk.type("yes" + ENTER)
        walk.wait("Is the attacker's key known?")
        walk.type("\x03")
        walk.finish()
    finally:
        walk.child.terminate(force=True)
    incident = only_incident(tmp_path / "incidents")
    screen = Screen(["release", incident], env, rows=rows, cols=cols)
    try:
        screen.wait("Release lever 'filter'")
        lines = screen.lines()
        screen.type("yes" + ENTER)
        code, seen = screen.finish()
    finally:
        screen.child.terminate(force=True)
    shown = "\n".join(lines)
    assert "Release 'filter'" in shown, shown  # the request's box, above the question
    assert "DELETE" in shown, shown  # what y sends
    assert "(y/N/d)" in shown, shown  # and d shows it in full
    assert code == 0, seen
    assert seen.count("Release 'filter'") == 1, seen  # shown once, not again after y

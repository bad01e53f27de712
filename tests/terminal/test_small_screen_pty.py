"""A lever's question on a small terminal: the box that says what the lever is stays in view.

At 40x10 the lever's box was taller than the screen: its title ("Lever filter · filter") and
what the lever is scrolled off the top before the question was asked, so the operator was
asked to engage something the screen no longer named. The box now fits above the question.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers import write
from tests.runs import drill, process_env
from tests.terminal.test_keyboard import LEVER_QUESTION, Screen, gateway, to_the_lever

pytest.importorskip("pexpect")
pytest.importorskip("pyte")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]

__all__ = ["gateway"]  # the fixture, used by name


def at_the_lever(
    tmp_path: Path, url: str, rows: int, cols: int, runbook: dict[str, object] | None = None
) -> list[str]:
    path = tmp_path / "drill.yaml"
    write(path, runbook or drill())
    env = process_env(tmp_path / "incidents", TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
    env.pop("COLUMNS")  # the terminal's own size
    screen = Screen(["run", str(path), "--gateway", f"gateway={url}"], env, rows=rows, cols=cols)
    try:
        to_the_lever(screen)
        return screen.lines()
    finally:
        screen.child.terminate(force=True)


@pytest.mark.parametrize(("rows", "cols"), [(10, 40), (12, 60), (24, 80)])
def test_the_lever_box_title_and_the_question_share_the_screen(
    tmp_path: Path, gateway: tuple[str, object], rows: int, cols: int
) -> None:
    url, _ = gateway
    lines = at_the_lever(tmp_path, url, rows, cols)
    shown = "\n".join(lines)
    assert "Lever filter · filter" in shown, shown  # the box's title: which lever
    assert "Emergency filter on the attack" in shown, shown  # what the lever is
    assert "Sends: POST" in shown, shown  # what y does
    assert LEVER_QUESTION.split("?")[0] in " ".join(lines), shown  # the question itself
    assert "(y/N/d)" in shown, shown  # and the keys it takes


def test_a_wide_lever_title_keeps_the_small_box_square(
    tmp_path: Path, gateway: tuple[str, object]
) -> None:
    url, _ = gateway
    runbook = drill()
    levers = runbook["levers"]
    assert isinstance(levers, dict)
    levers["filter"]["title"] = "緊急フィルター 🚨 攻撃フレーズを遮断する e\u0301 " * 2
    lines = at_the_lever(tmp_path, url, 10, 40, runbook)
    shown = "\n".join(lines)
    assert "Lever filter · filter" in shown, shown
    assert "緊急フィルター" in shown, shown
    assert "(y/N/d)" in shown, shown
    box = [line for line in lines if line.startswith("│")]
    assert box, shown
    assert all(line.endswith("│") for line in box), shown  # no row pushed out of line

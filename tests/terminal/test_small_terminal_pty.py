"""A lever's question in a 40x10 terminal: what the lever is, what y sends and the question all
stay on the one screen (the framed box wrapped and pushed its title off the top)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers import write
from tests.runs import drill, process_env
from tests.servers import serve_gateway
from tests.terminal.test_keyboard import LEVER_QUESTION, Screen, to_the_lever

pytest.importorskip("pexpect")
pytest.importorskip("pyte")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]


@pytest.mark.parametrize(("rows", "cols"), [(10, 40), (15, 48)])
def test_the_lever_box_fits_a_small_terminal(tmp_path: Path, rows: int, cols: int) -> None:
    path = tmp_path / "drill.yaml"
    write(path, drill())
    env = process_env(tmp_path / "incidents", TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
    env.pop("COLUMNS")  # the terminal's own size
    with serve_gateway() as (url, _):
        screen = Screen(["run", str(path), "--gateway", f"gateway={url}"], env, rows, cols)
        try:
            to_the_lever(screen)
            shown = screen.lines()
        finally:
            screen.child.terminate(force=True)
    text = "\n".join(shown)
    assert "Lever filter" in text, text  # the box's title, naming the lever
    assert "Sends: POST" in text, text
    assert LEVER_QUESTION in " ".join(line.strip() for line in shown), text

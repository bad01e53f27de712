"""``aiir library`` in an 80-column terminal, the first command the README gives after the
install: each entry folded to the width, the title beside (or under) its id, each folder named
once; piped, one line an entry as before (for grep). Its lines were 150 characters of id, title
and site-packages path, hard-wrapped by the terminal mid-word."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from aiir.formats.library import KINDS, shipped
from tests.runs import process_env, strip_ansi
from tests.terminal.test_keyboard import Screen

pytest.importorskip("pexpect")
pytest.importorskip("pyte")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]


@pytest.mark.parametrize("cols", [80, 60])
def test_the_library_fits_the_terminal(tmp_path: Path, cols: int) -> None:
    env = process_env(tmp_path / "incidents", TERM="xterm")
    env.pop("COLUMNS")  # the terminal's own size
    screen = Screen(["library"], env, rows=400, cols=cols)
    status, _ = screen.finish()
    assert status == 0
    lines = strip_ansi(screen.transcript.getvalue()).replace("\r\n", "\n").splitlines()
    assert lines, "nothing shown"
    too_long = [line for line in lines if len(line) > cols]
    assert not too_long, too_long[:3]
    text = "\n".join(lines)
    for kind in KINDS:
        for entry in shipped(kind):
            assert f"  {entry.id}" in text, entry.id  # an id is never cut
            assert f"[{entry.path.name}]" in " ".join(text.split()), entry.path.name
        folders = {entry.path.parent for entry in shipped(kind)}
        for folder in folders:
            relative = os.path.relpath(folder)  # the test runs in the checkout
            shown = folder if relative.startswith("..") else relative
            assert text.count(f"in {shown}/") == 1, folder  # each folder named once

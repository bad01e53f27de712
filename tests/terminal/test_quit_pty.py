"""Ctrl-\\ (SIGQUIT) in a real pseudo-terminal while a lever's request is in flight.

Left to the signal's default, the process died where it stood: no word on screen, the lever
possibly engaged and nobody told, and a shell printing 'Quit (core dumped)'. It now stops as
Ctrl-C does, and says the truth: the lever may be engaged, and how to resume.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runs import strip_ansi
from tests.servers import Gateway, serve_gateway
from tests.terminal.test_in_flight_pty import engage_held
from tests.terminal.test_keyboard import start

pexpect = pytest.importorskip("pexpect")
pytest.importorskip("pyte")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]
CTRL_BACKSLASH = "\x1c"


@pytest.fixture
def gateway() -> Iterator[tuple[str, Gateway]]:
    with serve_gateway() as served:
        yield served


def test_ctrl_backslash_while_the_engage_is_in_flight_stops_and_says_what_may_be_engaged(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    screen = start(tmp_path, url)
    engage_held(screen, state)
    screen.type(CTRL_BACKSLASH)
    time.sleep(0.5)
    state.gate.set()
    screen.child.expect_exact(pexpect.EOF)
    screen.child.close()
    shown = strip_ansi(screen.transcript.getvalue())
    flat = " ".join(shown.split())
    assert screen.child.signalstatus is None, shown  # not killed by the signal
    assert screen.child.exitstatus == 130, shown
    assert "interrupted by the operator (Ctrl-\\)" in flat, shown
    assert "filter (possibly engaged: stopped while its request was in flight)" in flat, shown
    assert "resume with: aiir resume" in flat, shown
    assert "core dumped" not in shown
    assert "Traceback" not in shown

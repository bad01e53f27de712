"""Enter alone at a yes/no takes its default, and the answered line says which.

The answered question stood on screen with nothing after it ('? Engage lever ...? ' and then
'declined'), so a person scrolling back could not tell what their Enter had answered.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import Gateway, serve_gateway
from tests.terminal.test_keyboard import ENTER, start, to_the_lever

pytest.importorskip("pexpect")
pytest.importorskip("pyte")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]


@pytest.fixture
def gateway() -> Iterator[tuple[str, Gateway]]:
    with serve_gateway() as served:
        yield served


def test_enter_alone_at_a_lever_shows_the_default_it_took(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    screen = start(tmp_path, url)
    to_the_lever(screen)
    screen.type(ENTER)
    screen.wait("Is the attacker's key known?")
    lines = screen.lines()
    screen.child.terminate(force=True)
    answered = [line for line in lines if "Engage lever 'filter'?" in line]
    assert answered, "\n".join(lines)
    assert answered[-1].endswith("no (the default)"), "\n".join(lines)
    assert state.count("POST", "/guardrails") == 0


@pytest.mark.parametrize("key", ["\x04", "\x03"], ids=["ctrl-d", "ctrl-c"])
def test_leaving_at_a_yes_no_does_not_show_a_default_taken(
    tmp_path: Path, gateway: tuple[str, Gateway], key: str
) -> None:
    """Ctrl-D or Ctrl-C at a yes/no leaves the walk: the line left on screen said
    'no (the default)', an answer the walk never took (it stopped, and said so below)."""
    url, state = gateway
    screen = start(tmp_path, url)
    to_the_lever(screen)
    screen.type(key)
    status, shown = screen.finish()
    assert status == 130, shown
    assert "(the default)" not in shown, shown
    assert "interrupted by the operator" in " ".join(shown.split()), shown
    assert state.count("POST", "/guardrails") == 0

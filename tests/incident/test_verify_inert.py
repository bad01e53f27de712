"""``aiir verify`` quotes what it found wrong, and a forged line's text is hostile: an event type
written as a terminal escape (``\\x1b]0;…\\x07`` sets the window title, ``\\x1b[2J`` clears the
screen) reached the terminal as it was in the problem 'line 1: TYPE where incident.opened opens
the journal'. Each problem is printed inert."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiir.incident.journal import JOURNAL
from tests.incidents import walked_containment
from tests.support.cli import run_cli


def test_a_forged_event_type_is_shown_inert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    incident = walked_containment(tmp_path)
    journal = incident.directory / JOURNAL
    lines = journal.read_text().splitlines()
    first = json.loads(lines[0])
    first["type"] = "\x1b]0;owned\x07\x1b[2Jforged"
    lines[0] = json.dumps(first)
    journal.write_text("\n".join(lines) + "\n")
    ran = run_cli(capsys, "verify", incident.id, "--incident-dir", str(incident.directory.parent))
    assert ran.status == 1
    assert "forged where incident.opened opens the journal" in ran.err
    assert "\x1b" not in ran.out + ran.err
    assert "\x07" not in ran.out + ran.err

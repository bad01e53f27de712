"""Standard output whose encoding is not UTF-8 (``PYTHONIOENCODING=ascii``, a Latin-1 or C
locale without coercion, a Windows code page). ``aiir show`` stopped half-way with "internal
error" at the first ``·`` of its timeline, ``aiir drill`` at its first ``…``: a pipe or a file
now gets UTF-8 (JSON and exports whole), a terminal shows ``?`` for what it cannot show."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.incidents import walked_containment
from tests.runs import process_env, run_aiir
from tests.terminal.test_keyboard import Screen


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("encoding")
    return root / "incidents", walked_containment(root).id


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "cp1252"])
def test_a_pipe_gets_utf8_whole(incident: tuple[Path, str], encoding: str) -> None:
    incidents, incident_id = incident
    env = process_env(incidents, PYTHONIOENCODING=encoding)
    shown = run_aiir(["show", incident_id], env)
    assert shown.returncode == 0, shown.stderr.decode(errors="replace")
    text = shown.stdout.decode("utf-8")  # not a byte that is not UTF-8
    assert "·" in text  # the timeline's separators, whole
    assert b"internal error" not in shown.stderr
    listed = run_aiir(["library", "--json"], env)
    assert listed.returncode == 0, listed.stderr.decode(errors="replace")
    assert json.loads(listed.stdout.decode("utf-8"))
    drilled = run_aiir(["drill", "prompt-injection-jailbreak"], env)
    assert drilled.returncode == 0, drilled.stderr.decode(errors="replace")
    assert b"passed" in drilled.stdout


@pytest.mark.pty
@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_a_terminal_shows_what_it_can(incident: tuple[Path, str]) -> None:
    pytest.importorskip("pexpect")
    pytest.importorskip("pyte")
    incidents, incident_id = incident
    env = process_env(incidents, PYTHONIOENCODING="ascii", TERM="xterm")
    screen = Screen(["show", incident_id], env, rows=200, cols=80)
    status, _ = screen.finish()
    text = screen.transcript.getvalue()
    assert status == 0, text
    assert "internal error" not in text
    assert "Evidence" in text

"""``enforce_roles`` at a real terminal: a node owned by security is not even asked of the
incident commander; the screen says whom to hand it to, and the walk stops resumably."""

from __future__ import annotations

import copy
import io
import sys
from pathlib import Path

import pytest

from tests.engine.test_roles import RUNBOOK  # the same runbook, walked at a real terminal
from tests.helpers import write
from tests.respond import CONFIG, TEAM, write_workspace
from tests.runs import aiir_command, only_incident, process_env, strip_ansi

pexpect = pytest.importorskip("pexpect")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]


def test_the_incident_commander_is_told_to_hand_off_a_security_node(tmp_path: Path) -> None:
    root = write_workspace(tmp_path / "ws", {**copy.deepcopy(CONFIG), "enforce_roles": True}, TEAM)
    write(root / "rb.yaml", RUNBOOK)
    incidents = tmp_path / "incidents"
    env = process_env(
        incidents,
        TERM="xterm",
        PROMPT_TOOLKIT_NO_CPR="1",
        AIIR_OPERATOR="alex",
        AIIR_WORKSPACE=str(root),
    )
    env.pop("COLUMNS")
    command = aiir_command()
    child = pexpect.spawn(
        command[0],
        [*command[1:], "run", str(root / "rb.yaml")],
        env=env,
        dimensions=(24, 80),
        encoding="utf-8",
        timeout=30,
        use_poll=True,
    )
    transcript = io.StringIO()
    child.logfile_read = transcript
    child.expect_exact("Real?")
    child.send("y\r")
    child.expect_exact(pexpect.EOF)
    child.close()
    screen = " ".join(strip_ansi(transcript.getvalue()).split())
    assert child.exitstatus == 1, screen
    incident = only_incident(incidents)
    assert "Keys rotated?" not in screen  # never asked
    assert "node 'contain' is owned by security" in screen
    assert f"aiir handoff {incident} --to security" in screen
    assert f"resume with: aiir resume {incident}" in screen
    assert "Traceback" not in screen

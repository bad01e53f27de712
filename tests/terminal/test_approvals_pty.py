"""The two-person rule at a real terminal: the walk waits for approvals on a clear screen, a
second person approves from another process with ``aiir approve``, and the lever is engaged once;
the requester cannot approve their own request."""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import pytest

from aiir.incident.journal import verify
from tests.helpers import write
from tests.respond import journal, of_type
from tests.runs import aiir_command, drill, process_env, run_aiir, strip_ansi
from tests.servers import serve_gateway

pexpect = pytest.importorskip("pexpect")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]

DOWN, ENTER = "\x1b[B", "\r"


def _incident_id(incidents: Path) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = [d.name for d in incidents.iterdir()] if incidents.is_dir() else []
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("no incident was opened")


def test_a_walk_waits_for_two_approvals_from_other_terminals_then_engages_once(
    tmp_path: Path,
) -> None:
    runbook = drill()
    runbook["levers"]["filter"]["approve"] = {"min": 2, "timeout": "10m"}
    write(tmp_path / "drill.yaml", runbook)
    incidents = tmp_path / "incidents"
    env = process_env(incidents, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", AIIR_OPERATOR="alice")
    with serve_gateway() as (url, state):
        command = aiir_command()
        args = ["run", str(tmp_path / "drill.yaml"), "--gateway", f"gateway={url}"]
        child = pexpect.spawn(
            command[0],
            [*command[1:], *args],
            env=env,
            dimensions=(40, 160),
            encoding="utf-8",
            timeout=30,
            use_poll=True,
        )
        transcript = io.StringIO()
        child.logfile_read = transcript
        child.expect_exact("What happened to support-bot?")
        child.send(DOWN + ENTER)
        child.expect_exact("Which phrase did the attack use?")
        child.send("ignore previous" + ENTER)
        child.expect_exact("Engage lever 'filter'?")
        child.send("y" + ENTER)
        child.expect_exact("needs 2 approvals before it is engaged")
        incident = _incident_id(incidents)
        child.expect_exact(f"aiir approve {incident} filter")

        own = run_aiir(["approve", incident, "filter"], env)  # alice asked: refused
        assert own.returncode == 2, own.stderr
        assert b"alice asked for this approval" in own.stderr
        assert b"two-person rule" in own.stderr
        assert state.count("POST", "/guardrails") == 0  # still waiting

        bob = run_aiir(["approve", incident, "filter"], {**env, "AIIR_OPERATOR": "bob"})
        assert bob.returncode == 0, bob.stderr
        assert b"(1 of 2 needed)" in bob.stdout
        child.expect_exact("approved by bob (1 of 2)")
        assert state.count("POST", "/guardrails") == 0  # one is not enough
        again = run_aiir(["approve", incident, "filter"], {**env, "AIIR_OPERATOR": "bob"})
        assert again.returncode == 2
        assert b"already answered" in again.stderr

        carol = run_aiir(["approve", incident, "filter"], {**env, "AIIR_OPERATOR": "carol"})
        assert carol.returncode == 0, carol.stderr
        child.expect_exact("approved by bob, carol: engaging")
        child.expect_exact("Is the attacker's key known?")
        child.send("n" + ENTER)
        child.expect_exact("Eradicate: tick what is done")
        child.send(ENTER)
        child.expect_exact(pexpect.EOF)
        child.close()
        screen = strip_ansi(transcript.getvalue())
        assert child.exitstatus == 0, screen
        assert state.count("POST", "/guardrails") == 1  # engaged once

    assert "Asked: anyone but alice" in screen
    assert "Waiting until" in screen
    assert "(10m)" in screen
    assert f'aiir reject {incident} filter --reason "why"' in screen
    events = journal(incidents, incident)
    assert not verify(incidents / incident)
    (requested,) = of_type(events, "approval.requested")
    assert requested["min"] == 2
    granted = [e for e in events if e.type == "approval.granted"]
    assert [(e.operator, e.data["by"]) for e in granted] == [("bob", "bob"), ("carol", "carol")]
    (closed,) = of_type(events, "approval.closed")
    assert (closed["outcome"], closed["approvers"]) == ("approved", ["bob", "carol"])
    types = [e.type for e in events]
    assert types.index("approval.closed") < types.index("lever.intent")

"""A team on one incident, each at a terminal of their own, on one PostgreSQL database: two
workspaces made with ``aiir init`` point their ``store:`` at it. Alice walks the prompt-injection
runbook (the emergency filter needs one approval) at an 80x24 terminal; Bob approves it from the
other workspace; Carol watches the timeline there as it is written. Nothing is shared but the
database: each workspace keeps its own incidents folder."""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from aiir.incident.journal import verify
from aiir.incident.state import load_incident
from tests.runs import aiir_command, run_aiir, strip_ansi

pexpect = pytest.importorskip("pexpect")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.postgres,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]

ENTER = "\r"
LEVER = "emergency-filter"


def _environ(operator: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("AIIR_", "FORCE_COLOR"))}
    return kept | {"TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "AIIR_OPERATOR": operator}


def _workspace(root: Path, database: str) -> Path:
    """``aiir init ROOT``, then the one line a team adds to share its incidents."""
    made = run_aiir(["init", str(root)], _environ("setup"))
    assert made.returncode == 0, made.stderr
    with (root / "aiir.yaml").open("a", encoding="utf-8") as config:
        config.write(f"store: {database}\n")
    return root


def _terminal(args: list[str], cwd: Path, operator: str) -> tuple[Any, io.StringIO]:
    command = aiir_command()
    child = pexpect.spawn(
        command[0],
        [*command[1:], *args],
        cwd=str(cwd),
        env=_environ(operator),
        dimensions=(24, 80),
        encoding="utf-8",
        timeout=60,
        use_poll=True,
    )
    seen = io.StringIO()
    child.logfile_read = seen
    return child, seen


def test_one_walks_one_approves_one_watches_from_two_workspaces_on_one_database(
    database: str, tmp_path: Path
) -> None:
    alice_ws = _workspace(tmp_path / "alice", database)
    bob_ws = _workspace(tmp_path / "bob", database)
    init = run_aiir(["store", "init"], _environ("setup"), cwd=alice_ws)
    assert init.returncode == 0, init.stderr
    runbook = alice_ws / "runbooks" / "prompt-injection.yaml"
    text = runbook.read_text(encoding="utf-8")
    needs_approval = "    kind: filter\n    approve: {min: 1, timeout: 10m}\n"
    runbook.write_text(text.replace("    kind: filter\n", needs_approval, 1), encoding="utf-8")

    walker, walked = _terminal(
        ["run", "runbooks/prompt-injection.yaml", "--sandbox"], alice_ws, "alice"
    )
    watcher = approver = None
    try:
        walker.expect_exact("What does the evidence show?")
        walker.send(ENTER)  # harmful output reached users: SEV1
        walker.expect_exact(f"Engage lever '{LEVER}'?")
        walker.send("y" + ENTER)
        walker.expect(r"aiir approve (INC-[0-9]{8}-[0-9]{6}-[0-9a-f]{4}) " + LEVER)
        incident = walker.match.group(1)

        watcher, watched = _terminal(["watch", incident], bob_ws, "carol")
        watcher.expect_exact("events so far; Ctrl-C to stop")  # then each new one

        approver, approved = _terminal(["approve", incident, LEVER], bob_ws, "bob")
        approver.expect(pexpect.EOF)
        approver.close()
        assert approver.exitstatus == 0, approved.getvalue()
        assert "approved lever 'emergency-filter'" in strip_ansi(approved.getvalue())

        walker.expect_exact("approved by bob")
        watcher.expect_exact("approval.granted")
        watcher.expect_exact("lever.engaged")
        walker.expect_exact("single identifiable virtual key")
        walker.send("n" + ENTER)
        walker.expect_exact("what happens on replay?")
        walker.send(ENTER)  # refused: the filter holds
        walker.expect_exact("tick what is done")
        walker.send("a" + ENTER)
        walker.expect(pexpect.EOF)
        walker.close()
        assert walker.exitstatus == 0, strip_ansi(walked.getvalue())
        watcher.expect_exact("nothing more to watch")
        watcher.expect(pexpect.EOF)
    finally:
        for child in (walker, watcher, approver):
            if child is not None and child.isalive():
                child.terminate(force=True)

    screen = strip_ansi(walked.getvalue())
    assert "Outcome: contained" in screen
    assert "SANDBOX" in screen  # practice, and said so
    assert re.search(r"needs 1 approvals? before it is engaged", screen), screen
    assert "--incident-dir" not in screen  # approvers elsewhere find it in the store
    timeline = strip_ansi(watched.getvalue())
    assert timeline.index("approval.granted") < timeline.index("lever.engaged")

    # Each workspace's own copy, and the store, hold one chain; the lever engaged once, after
    # Bob's approval, under Alice's name.
    listed = run_aiir(["incidents"], _environ("bob"), cwd=bob_ws)
    assert listed.returncode == 0, listed.stderr
    assert incident in listed.stdout.decode()
    checked = run_aiir(["verify", incident], _environ("bob"), cwd=bob_ws)
    assert checked.returncode == 0, checked.stderr
    for workspace in (alice_ws, bob_ws):
        directory = workspace / ".aiir" / "incidents" / incident
        assert verify(directory) == []
    record = load_incident(bob_ws / ".aiir" / "incidents", incident)
    engaged = [e for e in record.events if e.type == "lever.engaged" and e.data["lever"] == LEVER]
    granted = [e for e in record.events if e.type == "approval.granted"]
    assert [e.operator for e in engaged] == ["alice"]
    assert [e.operator for e in granted] == ["bob"]
    assert granted[0].seq < engaged[0].seq
    assert record.outcome == "contained"
    assert (alice_ws / ".aiir" / "incidents" / incident / "journal.jsonl").read_bytes() == (
        bob_ws / ".aiir" / "incidents" / incident / "journal.jsonl"
    ).read_bytes()

"""``aiir watch`` and ``aiir incidents --watch`` at a real 80x24 terminal: an event written by
another process shows within a second, hostile text stays inert, Ctrl-C stops cleanly and the
end of the incident ends the watch, saying so."""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import write
from tests.runs import aiir_command, only_incident, process_env, run_aiir, strip_ansi

pexpect = pytest.importorskip("pexpect")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]

RUNBOOK: dict[str, Any] = {
    "aiir": 1,
    "id": "watched",
    "title": "A runbook someone watches",
    "owner": "security",
    "severity": "SEV2",
    "tags": {"owasp": ["LLM01:2025"]},
    "start": "look",
    "nodes": {
        "look": {
            "kind": "confirm",
            "title": "Look",
            "prompt": "Real?",
            "yes": "more",
            "no": "done",
        },
        "more": {
            "kind": "confirm",
            "title": "More",
            "prompt": "Contained?",
            "yes": "done",
            "no": "done",
        },
        "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
    },
}


def _interrupted(tmp_path: Path) -> tuple[Path, str, dict[str, str]]:
    """An incident stopped at ``more`` (its answer is missing), opened by alice."""
    write(tmp_path / "rb.yaml", RUNBOOK)
    write(tmp_path / "first.yaml", {"look": "yes"})
    incidents = tmp_path / "incidents"
    env = process_env(incidents, TERM="xterm", AIIR_OPERATOR="alice")
    env.pop("COLUMNS")  # the terminal's own width: 80
    ran = run_aiir(["run", str(tmp_path / "rb.yaml"), "-a", str(tmp_path / "first.yaml")], env)
    assert ran.returncode != 0, ran.stdout
    return incidents, only_incident(incidents), env


def _spawn(args: list[str], env: dict[str, str]) -> tuple[Any, io.StringIO]:
    command = aiir_command()
    child = pexpect.spawn(
        command[0],
        [*command[1:], *args],
        env=env,
        dimensions=(24, 80),
        encoding="utf-8",
        timeout=20,
        use_poll=True,
    )
    transcript = io.StringIO()
    child.logfile_read = transcript
    return child, transcript


def _within_a_second(child: Any, text: str) -> float:
    began = time.monotonic()
    child.expect_exact(text, timeout=1.0)
    return time.monotonic() - began


def test_watch_shows_an_event_from_another_process_within_a_second_then_ctrl_c(
    tmp_path: Path,
) -> None:
    _incidents, incident, env = _interrupted(tmp_path)
    child, transcript = _spawn(["watch", incident], env)
    child.expect_exact(f"watching {incident} SEV2")
    child.expect_exact("Ctrl-C to stop")
    noted = run_aiir(["note", incident, "legal-joined"], {**env, "AIIR_OPERATOR": "bob"})
    assert noted.returncode == 0, noted.stderr
    assert _within_a_second(child, "Note by bob: legal-joined") < 1.0
    hostile = run_aiir(
        ["note", incident, "evil \x1b]0;owned\x07 \x1b[2J here"], {**env, "AIIR_OPERATOR": "eve"}
    )
    assert hostile.returncode == 0, hostile.stderr
    _within_a_second(child, "here")
    handed = run_aiir(["handoff", incident, "--to", "carol"], {**env, "AIIR_OPERATOR": "bob"})
    assert handed.returncode == 0, handed.stderr
    _within_a_second(child, "Handed off to carol by bob")
    child.sendintr()
    child.expect_exact(f"stopped watching {incident} (Ctrl-C)")
    child.expect_exact(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    screen = transcript.getvalue()
    assert "\x1b]0;owned" not in screen
    assert "\x1b[2J" not in screen
    assert "Traceback" not in screen
    lines = strip_ansi(screen).splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    (note_line,) = [line for line in lines if "legal-joined" in line]
    assert " bob " in note_line
    assert " note " in note_line
    assert "incident.opened" not in screen  # only what is new, without --from-start


def test_watch_from_the_start_ends_when_the_incident_ends(tmp_path: Path) -> None:
    _incidents, incident, env = _interrupted(tmp_path)
    child, transcript = _spawn(["watch", incident, "--from-start"], env)
    child.expect_exact("incident.opened")
    child.expect_exact("incident.interrupted")
    write(tmp_path / "rest.yaml", {"more": "yes"})
    resumed = run_aiir(
        ["resume", incident, "-a", str(tmp_path / "rest.yaml")], {**env, "AIIR_OPERATOR": "bob"}
    )
    assert resumed.returncode == 0, resumed.stderr
    _within_a_second(child, "Resumed by bob (walked by alice")
    child.expect_exact(f"{incident} ended (resolved): nothing more to watch", timeout=2)
    child.expect_exact(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, strip_ansi(transcript.getvalue())


def test_incidents_watch_redraws_the_open_incidents_when_one_changes(tmp_path: Path) -> None:
    _incidents, incident, env = _interrupted(tmp_path)
    child, transcript = _spawn(["incidents", "--watch"], env)
    child.expect_exact("open incidents under")
    child.expect_exact(incident)
    child.expect_exact("lead alice")
    handed = run_aiir(["handoff", incident, "--to", "bob"], {**env, "AIIR_OPERATOR": "alice"})
    assert handed.returncode == 0, handed.stderr
    child.expect_exact("lead bob", timeout=3)
    child.expect_exact("incident.handed_off")
    write(tmp_path / "rest.yaml", {"more": "yes"})
    resumed = run_aiir(["resume", incident, "-a", str(tmp_path / "rest.yaml")], env)
    assert resumed.returncode == 0, resumed.stderr
    child.expect_exact("no open incidents", timeout=3)
    child.sendintr()
    child.expect_exact("stopped watching the incidents (Ctrl-C)")
    child.expect_exact(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "\x1b[2J" in transcript.getvalue()  # redrawn, not scrolled


def test_watch_of_an_unknown_incident_is_one_clear_line(tmp_path: Path) -> None:
    env = process_env(tmp_path / "incidents")
    ran = run_aiir(["watch", "INC-20260101-000000-dead"], env)
    assert ran.returncode == 2
    assert b"Traceback" not in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1, ran.stderr


def test_one_walks_one_approves_one_watches(tmp_path: Path) -> None:
    """Three terminals on one incident: alice walks and waits for an approval, carol watches,
    alice hands off to bob and bob approves from a third process; both screens show it."""
    from tests.runs import drill
    from tests.servers import serve_gateway

    runbook = drill()
    runbook["levers"]["filter"]["approve"] = {"min": 1, "timeout": "10m"}
    write(tmp_path / "drill.yaml", runbook)
    incidents = tmp_path / "incidents"
    env = process_env(incidents, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", AIIR_OPERATOR="alice")
    env.pop("COLUMNS")
    with serve_gateway() as (url, state):
        walker, walked = _spawn(
            ["run", str(tmp_path / "drill.yaml"), "--gateway", f"gateway={url}"], env
        )
        walker.expect_exact("What happened to support-bot?")
        walker.send("\x1b[B\r")
        walker.expect_exact("Which phrase did the attack use?")
        walker.send("ignore previous\r")
        walker.expect_exact("Engage lever 'filter'?")
        walker.send("y\r")
        walker.expect_exact("needs 1 approval before it is engaged")
        incident = only_incident(incidents)
        watcher, watched = _spawn(["watch", incident], {**env, "AIIR_OPERATOR": "carol"})
        watcher.expect_exact("Ctrl-C to stop")
        handed = run_aiir(["handoff", incident, "--to", "bob"], env)
        assert handed.returncode == 0, handed.stderr
        walker.expect_exact("handed off to bob by alice")
        _within_a_second(watcher, "Handed off to bob by alice")
        approved = run_aiir(["approve", incident, "filter"], {**env, "AIIR_OPERATOR": "bob"})
        assert approved.returncode == 0, approved.stderr
        walker.expect_exact("approved by bob: engaging")
        _within_a_second(watcher, "Lever filter approved by bob")
        walker.expect_exact("Is the attacker's key known?")
        walker.send("n\r")
        walker.expect_exact("Eradicate: tick what is done")
        walker.send("\r")
        walker.expect_exact(pexpect.EOF)
        watcher.expect_exact(f"{incident} ended (contained): nothing more to watch", timeout=5)
        watcher.expect_exact(pexpect.EOF)
        assert state.count("POST", "/guardrails") == 1
    lines = strip_ansi(watched.getvalue()).splitlines()
    assert any(" bob " in line and "approval.granted" in line for line in lines), lines
    assert "Traceback" not in walked.getvalue()

"""Hand-offs and who is recorded: ``aiir handoff ID --to ROLE|PERSON`` journals who leads now
(beside a walker too), every side event carries the operator who wrote it, and ``aiir resume``
by another responder from another workspace goes on where the walk stopped, naming them."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest

from aiir.incident.journal import JOURNAL, Journal
from aiir.incident.lock import IncidentLock
from tests.helpers import confirm_runbook, write
from tests.respond import OPERATOR, aiir, journal, no_terminal, of_type, write_workspace
from tests.runs import aiir_command, process_env
from tests.support.clock import START

Capture = pytest.CaptureFixture[str]

RUNBOOK: dict[str, Any] = confirm_runbook(
    "handed", "A runbook walked by two responders", "Contained?", "security"
)


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    no_terminal(monkeypatch)


def _interrupted(tmp_path: Path, capsys: Capture, runbook: dict[str, Any] | None = None) -> Path:
    """An incident stopped at ``contain``: the answers file answers only ``look``."""
    write(tmp_path / "rb.yaml", copy.deepcopy(runbook or RUNBOOK))
    write(tmp_path / "first.yaml", {"look": "yes"})
    incidents = tmp_path / "inc"
    ran = aiir(
        capsys,
        "run",
        str(tmp_path / "rb.yaml"),
        "-a",
        str(tmp_path / "first.yaml"),
        "--incident-dir",
        str(incidents),
    )
    assert ran.status != 0, ran.out
    (folder,) = incidents.iterdir()
    return folder


def test_a_handoff_records_who_leads_now_and_who_handed_off(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _interrupted(tmp_path, capsys)
    monkeypatch.setenv("AIIR_WORKSPACE", str(write_workspace(tmp_path / "ws")))
    where = ["--incident-dir", str(folder.parent)]
    ran = aiir(capsys, "handoff", folder.name, "--to", "security", "--note", "key rotation", *where)
    assert ran.status == 0, ran.err
    assert f"handed off from {OPERATOR} to security (on call: sam) by {OPERATOR}" in ran.out
    last = journal(folder.parent, folder.name)[-1]
    assert (last.type, last.operator) == ("incident.handed_off", OPERATOR)
    assert last.data == {"to": "security", "from": OPERATOR, "by": OPERATOR, "note": "key rotation"}
    shown = aiir(capsys, "show", folder.name, *where).out
    assert "lead security" in shown
    assert f"Handed off to security by {OPERATOR} (was {OPERATOR}): key rotation" in shown
    listed = aiir(capsys, "incidents", "--json", *where).out
    assert '"lead": "security"' in listed
    monkeypatch.setenv("AIIR_OPERATOR", "sam")
    again = aiir(capsys, "handoff", folder.name, "--to", "alex", *where)
    assert again.status == 0, again.err
    assert "handed off from security to alex by sam" in again.out
    assert journal(folder.parent, folder.name)[-1].operator == "sam"
    assert aiir(capsys, "verify", folder.name, *where).status == 0


def test_a_handoff_to_someone_the_roster_does_not_know_is_refused(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _interrupted(tmp_path, capsys)
    monkeypatch.setenv("AIIR_WORKSPACE", str(write_workspace(tmp_path / "ws")))
    where = ["--incident-dir", str(folder.parent)]
    assert aiir(capsys, "handoff", folder.name, "--to", "security", *where).status == 0
    before = (folder / JOURNAL).read_bytes()
    ran = aiir(capsys, "handoff", folder.name, "--to", "securty", *where)
    assert ran.status == 2
    assert "--to 'securty': not a role or person in the team roster (did you mean 'security'?)" in (
        ran.err
    )
    assert "Traceback" not in ran.err
    same = aiir(capsys, "handoff", folder.name, "--to", "security", *where)
    assert same.status == 2
    assert "security leads it already; nothing was recorded" in same.err
    assert (folder / JOURNAL).read_bytes() == before


def test_an_ended_incident_is_not_handed_off(tmp_path: Path, capsys: Capture) -> None:
    folder = _interrupted(tmp_path, capsys)
    write(tmp_path / "rest.yaml", {"contain": "yes"})
    where = ["--incident-dir", str(folder.parent)]
    assert (
        aiir(capsys, "resume", folder.name, "-a", str(tmp_path / "rest.yaml"), *where).status == 0
    )
    ran = aiir(capsys, "handoff", folder.name, "--to", "sam", *where)
    assert ran.status == 2
    assert "already ended (resolved); nobody leads it now" in ran.err


def test_a_handoff_joins_a_walker_s_chain_and_carries_its_operator(
    tmp_path: Path, capsys: Capture
) -> None:
    """A walker holds the incident; ``aiir handoff`` from another process goes in beside it."""
    folder = _interrupted(tmp_path, capsys)
    lock = IncidentLock(folder, folder.name, "walker", START.isoformat())
    lock.acquire()
    walker = Journal(folder, "walker", lambda: "2026-11-27T03:15:02.000Z", lambda t: t, lock=lock)
    try:
        walker.load()
        env = {**process_env(folder.parent), "AIIR_OPERATOR": "alex"}
        done = subprocess.run(
            [*aiir_command(), "handoff", folder.name, "--to", "sam"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        walker.write("reminder", {"what": "after the hand-off"})
        (taken,) = walker.take_foreign()
    finally:
        walker.close()
    assert (taken.type, taken.operator, taken.data["to"]) == ("incident.handed_off", "alex", "sam")
    events = journal(folder.parent, folder.name)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_resume_by_another_responder_from_another_workspace_records_them(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _interrupted(tmp_path, capsys)
    elsewhere = write_workspace(tmp_path / "bobs-laptop")
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("AIIR_OPERATOR", "bob")
    write(tmp_path / "rest.yaml", {"contain": "yes"})
    ran = aiir(
        capsys,
        "resume",
        folder.name,
        "-a",
        str(tmp_path / "rest.yaml"),
        "--incident-dir",
        str(folder.parent),
    )
    assert ran.status == 0, ran.err
    assert f"resumed by bob; {OPERATOR} walked it before; {OPERATOR} leads" in ran.out
    assert f"aiir handoff {folder.name} --to bob" in ran.out
    events = journal(folder.parent, folder.name)
    (resumed,) = [e for e in events if e.type == "incident.resumed"]
    assert resumed.operator == "bob"
    assert resumed.data["by"] == "bob"
    assert resumed.data["after"] == OPERATOR
    after = events[events.index(resumed) :]
    assert {e.operator for e in after} == {"bob"}
    assert of_type(after, "answer")[0]["node"] == "contain"
    assert [e.operator for e in events if e.type == "answer"] == [OPERATOR, "bob"]
    shown = aiir(capsys, "show", folder.name, "--incident-dir", str(folder.parent)).out
    assert f"Resumed by bob (walked by {OPERATOR} before)" in shown


def test_watch_of_an_ended_incident_says_so_and_a_forged_journal_is_marked(
    tmp_path: Path, capsys: Capture
) -> None:
    folder = _interrupted(tmp_path, capsys)
    write(tmp_path / "rest.yaml", {"contain": "yes"})
    where = ["--incident-dir", str(folder.parent)]
    assert (
        aiir(capsys, "resume", folder.name, "-a", str(tmp_path / "rest.yaml"), *where).status == 0
    )
    ran = aiir(capsys, "watch", folder.name, "--from-start", *where)
    assert ran.status == 0, ran.err
    assert "incident.opened" in ran.out
    assert ran.out.rstrip().endswith(f"{folder.name} ended (resolved): nothing more to watch")
    assert "UNVERIFIED" not in ran.out
    path = folder / JOURNAL
    path.write_text(path.read_text().replace('"Real?"', '"Forged?"', 1).replace("Look", "Lo0k", 1))
    forged = aiir(capsys, "watch", folder.name, *where)
    assert forged.status == 0
    assert forged.out.startswith("UNVERIFIED: this journal does not verify")

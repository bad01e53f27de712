"""``enforce_roles: true``: a node owned by a role is answered only by someone the team roster
gives that role; anyone else is stopped (resumably, nothing answered) and told to hand it off.
A workspace that enforces roles and has a role nobody holds is a finding at the role's line."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import confirm_runbook, write
from tests.respond import CONFIG, TEAM, aiir, journal, no_terminal, of_type, write_workspace

Capture = pytest.CaptureFixture[str]

RUNBOOK: dict[str, Any] = confirm_runbook(
    "owned", "A runbook with a node security owns", "Keys rotated?", "security"
)


def _workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, enforce: bool) -> Path:
    config = {**copy.deepcopy(CONFIG), "enforce_roles": enforce}
    team = copy.deepcopy(TEAM)
    team["roles"]["legal-compliance"]["people"] = ["kim"]  # every role held
    root = write_workspace(tmp_path / "ws", config, team)
    no_terminal(monkeypatch, root)
    write(tmp_path / "rb.yaml", RUNBOOK)
    write(tmp_path / "answers.yaml", {"look": "yes", "contain": "yes"})
    return tmp_path / "inc"


def _run(capsys: Capture, tmp_path: Path, incidents: Path) -> Any:
    rb, answers = str(tmp_path / "rb.yaml"), str(tmp_path / "answers.yaml")
    return aiir(capsys, "run", rb, "-a", answers, "--incident-dir", str(incidents))


def test_a_node_owned_by_a_role_is_refused_to_others_until_handed_off(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    incidents = _workspace(tmp_path, monkeypatch, enforce=True)
    monkeypatch.setenv("AIIR_OPERATOR", "alex")  # incident-commander and mlops, not security
    ran = _run(capsys, tmp_path, incidents)
    assert ran.status == 1, ran.err
    (folder,) = incidents.iterdir()
    incident = folder.name
    assert (
        "node 'contain' is owned by security: the team roster gives alex incident-commander, "
        "mlops, not security; hand it off "
        f"(aiir handoff {incident} --to security) and let them go on (aiir resume {incident})"
    ) in ran.err
    assert "Traceback" not in ran.err
    events = journal(incidents, incident)
    assert [a["node"] for a in of_type(events, "answer")] == ["look"]  # contain not answered
    assert events[-1].type == "incident.interrupted"

    where = ["--incident-dir", str(incidents)]
    answers = ["-a", str(tmp_path / "answers.yaml")]
    again = aiir(capsys, "resume", incident, *answers, *where)  # alex again: refused again
    assert again.status == 1
    assert "is owned by security" in again.err
    handed = aiir(capsys, "handoff", incident, "--to", "security", *where)
    assert handed.status == 0, handed.err
    monkeypatch.setenv("AIIR_OPERATOR", "sam")  # security
    done = aiir(capsys, "resume", incident, *answers, *where)
    assert done.status == 0, done.err
    events = journal(incidents, incident)
    answered = [(e.data["node"], e.operator) for e in events if e.type == "answer"]
    assert answered == [("look", "alex"), ("contain", "sam")]
    assert of_type(events, "incident.ended")[0]["outcome"] == "resolved"


@pytest.mark.postgres
def test_on_the_shared_store_the_hand_off_and_the_owner_s_resume_come_from_other_machines(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch, database: str
) -> None:
    from aiir.incident.postgres import PostgresStore

    PostgresStore(database).migrate()
    alex_machine = _workspace(tmp_path, monkeypatch, enforce=True)
    monkeypatch.setenv("AIIR_STORE", database)
    monkeypatch.setenv("AIIR_OPERATOR", "alex")
    assert _run(capsys, tmp_path, alex_machine).status == 1  # contain is security's
    (incident,) = PostgresStore(database).ids()
    kim_machine, sam_machine = tmp_path / "kim", tmp_path / "sam"
    monkeypatch.setenv("AIIR_OPERATOR", "kim")
    handed = aiir(
        capsys, "handoff", incident, "--to", "security", "--incident-dir", str(kim_machine)
    )
    assert handed.status == 0, handed.err
    monkeypatch.setenv("AIIR_OPERATOR", "sam")
    answers = ["-a", str(tmp_path / "answers.yaml")]
    done = aiir(capsys, "resume", incident, *answers, "--incident-dir", str(sam_machine))
    assert done.status == 0, done.err
    checked = aiir(capsys, "verify", incident, "--incident-dir", str(alex_machine))
    assert checked.status == 0, checked.err
    events = journal(alex_machine, incident)  # alex's copy, brought up to the store
    answered = [(e.data["node"], e.operator) for e in events if e.type == "answer"]
    assert answered == [("look", "alex"), ("contain", "sam")]
    (handoff,) = [e for e in events if e.type == "incident.handed_off"]
    assert handoff.operator == "kim"
    assert of_type(events, "incident.ended")[0]["outcome"] == "resolved"


def test_without_enforce_roles_anyone_answers(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    incidents = _workspace(tmp_path, monkeypatch, enforce=False)
    monkeypatch.setenv("AIIR_OPERATOR", "alex")
    assert _run(capsys, tmp_path, incidents).status == 0


def test_a_role_nobody_holds_is_a_finding_at_its_line_when_roles_are_enforced(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_workspace(tmp_path / "ws", {**CONFIG, "enforce_roles": True})  # legal: nobody
    no_terminal(monkeypatch, root)
    ran = aiir(capsys, "validate", str(root / "aiir.yaml"))
    assert ran.status == 2, ran.out + ran.err
    lines = (root / "team.yaml").read_text().splitlines()
    number = next(i for i, line in enumerate(lines, 1) if line.strip() == "legal-compliance:")
    said = ran.out + ran.err
    assert f"team.yaml:{number}:" in said
    assert "nobody holds role 'legal-compliance'" in said
    assert "aiir.yaml:" in said
    held = aiir(capsys, "validate", str(write_workspace(tmp_path / "ok", CONFIG) / "aiir.yaml"))
    assert held.status == 0, held.out + held.err  # not enforced: no finding


def test_enforce_roles_without_a_roster_is_a_finding_at_its_line(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_workspace(tmp_path / "ws", {**CONFIG, "enforce_roles": True})
    (root / "team.yaml").unlink()
    no_terminal(monkeypatch, root)
    ran = aiir(capsys, "validate", str(root / "aiir.yaml"))
    assert ran.status == 2
    number = next(
        i
        for i, line in enumerate((root / "aiir.yaml").read_text().splitlines(), 1)
        if line.startswith("enforce_roles:")
    )
    assert f"aiir.yaml:{number}:" in ran.out + ran.err
    assert "enforce_roles: true needs a team roster" in ran.out + ran.err


def test_a_node_owned_by_a_role_the_roster_lacks_is_a_finding_when_roles_are_enforced(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _workspace(tmp_path, monkeypatch, enforce=True)
    runbook = copy.deepcopy(RUNBOOK)
    runbook["nodes"]["contain"]["owner"] = "securty"
    text = write(tmp_path / "rb.yaml", runbook)
    ran = aiir(capsys, "validate", str(tmp_path / "rb.yaml"))
    assert ran.status == 2
    number = next(i for i, line in enumerate(text.splitlines(), 1) if "securty" in line)
    said = ran.out + ran.err
    assert f"rb.yaml:{number}:" in said
    assert "owner 'securty' is not a role or person of the team roster" in said
    assert "(did you mean 'security'?)" in said
    _workspace(tmp_path, monkeypatch, enforce=False)
    write(tmp_path / "rb.yaml", runbook)
    assert aiir(capsys, "validate", str(tmp_path / "rb.yaml")).status == 0  # not enforced


TASKS: dict[str, Any] = {
    "aiir": 1,
    "id": "parallel",
    "title": "Work in parallel by role",
    "owner": "security",
    "severity": "SEV2",
    "tags": {"owasp": ["LLM01:2025"]},
    "start": "work",
    "nodes": {
        "work": {
            "kind": "tasks",
            "title": "Contain in parallel",
            "complete_when": "all",
            "tasks": [
                {"id": "ship", "title": "Ship the filter", "owner": "mlops"},
                {"id": "rotate", "title": "Rotate the keys", "owner": "security"},
            ],
            "next": "done",
        },
        "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
    },
}


def test_a_task_is_marked_only_by_someone_holding_its_owner_role(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    incidents = _workspace(tmp_path, monkeypatch, enforce=True)
    write(tmp_path / "tasks.yaml", TASKS)
    monkeypatch.setenv("AIIR_OPERATOR", "alex")  # mlops, not security
    write(tmp_path / "all.yaml", {"work": "all"})
    where = ["--incident-dir", str(incidents)]
    refused = aiir(
        capsys, "run", str(tmp_path / "tasks.yaml"), "-a", str(tmp_path / "all.yaml"), *where
    )
    assert refused.status == 1
    assert "task 'rotate' is owned by security: the team roster gives alex" in refused.err
    (folder,) = incidents.iterdir()
    marked = [(d["task"], d["by"]) for d in of_type(journal(incidents, folder.name), "task.done")]
    assert marked == [("ship", "alex")]  # the mlops task went in; the security one did not
    monkeypatch.setenv("AIIR_OPERATOR", "sam")  # security
    write(tmp_path / "rotate.yaml", {"work": ["rotate"]})
    done = aiir(capsys, "resume", folder.name, "-a", str(tmp_path / "rotate.yaml"), *where)
    assert done.status == 0, done.err
    events = journal(incidents, folder.name)
    marks = [(e.data["task"], e.data["by"], e.operator) for e in events if e.type == "task.done"]
    assert marks == [("ship", "alex", "alex"), ("rotate", "sam", "sam")]  # each line its writer

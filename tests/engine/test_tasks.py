"""Work in parallel by role: a ``tasks`` node's tasks, each with an owner role from the team file,
are marked done in any order (at a real terminal, from an answers file, in a drill), each as a
``task.done`` event of its own with who, the role's on-call, when and a note; the walk goes on
once ``complete_when`` holds, a resumed incident remembers what was done, and ``aiir show`` and
the post-mortem say who did what and when."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from aiir.exercises.drill import run_drill
from aiir.incident.events import EventType
from aiir.incident.journal import Event, chain_hash, verify
from aiir.incident.state import Incident, list_incidents, load_incident
from aiir.incident.store import FileStore
from aiir.timestamps import iso
from aiir.validate.scenarios import prepare
from tests.helpers import where, write
from tests.runs import only_incident, process_env, run_aiir, strip_ansi

ROOT = Path(__file__).resolve().parents[2]

TEAM = {
    "aiir": 1,
    "team": "ai-team",
    "people": {
        "alex": {"name": "Alex Example", "slack": "@alex"},
        "sam": {"name": "Sam Example", "slack": "@sam"},
        "kim": {"name": "Kim Example", "slack": "@kim"},
    },
    "roles": {
        "incident-commander": {"on_call": "alex", "people": ["alex"]},
        "security": {"on_call": "sam", "people": ["sam"]},
        "platform": {"on_call": "kim", "people": ["kim"]},
        "communications": {"on_call": "sam", "people": ["sam"]},
    },
}


def runbook(complete_when: Any = "all") -> dict[str, Any]:
    return {
        "aiir": 1,
        "id": "parallel-demo",
        "title": "Parallel demo",
        "owner": "security",
        "severity": "SEV2",
        "start": "work",
        "nodes": {
            "work": {
                "kind": "tasks",
                "title": "Contain in parallel",
                "owner": "incident-commander",
                "complete_when": complete_when,
                "tasks": [
                    {"id": "rotate", "title": "Rotate the keys", "owner": "security"},
                    {
                        "id": "notify",
                        "title": "Tell the agent owner",
                        "owner": "communications",
                        "steps": ["Find the owner in the inventory", "Call them"],
                    },
                    {"id": "logs", "title": "Pull the gateway logs", "owner": "platform"},
                ],
                "next": "done",
            },
            "done": {"kind": "end", "title": "Done", "outcome": "resolved"},
        },
    }


def workspace(tmp_path: Path, rb: dict[str, Any] | None = None) -> tuple[Path, dict[str, str]]:
    """A workspace with a team file, the runbook in it, and the environment of a run there."""
    write(tmp_path / "aiir.yaml", {"aiir": 1, "workspace": "demo"})
    write(tmp_path / "team.yaml", TEAM)
    path = tmp_path / "rb.yaml"
    write(path, rb or runbook())
    return path, process_env(tmp_path / "incidents", AIIR_WORKSPACE=str(tmp_path))


def incident_of(tmp_path: Path) -> Incident:
    incidents = tmp_path / "incidents"
    return load_incident(incidents, only_incident(incidents))


def done(incident: Incident) -> list[dict[str, Any]]:
    return [e.data for e in incident.events if e.type == EventType.TASK_DONE]


def test_an_answers_file_marks_tasks_done_with_notes_and_the_roles_on_call(
    tmp_path: Path,
) -> None:
    path, env = workspace(tmp_path)
    write(
        tmp_path / "answers.yaml",
        {"work": {"logs": "3 days pulled", "rotate": None, "notify": "called"}},
    )
    ran = run_aiir(["run", str(path), "--answers", str(tmp_path / "answers.yaml")], env)
    assert ran.returncode == 0, ran.stderr.decode()
    incident = incident_of(tmp_path)
    assert [(d["task"], d["note"], d["on_call"], d["by"]) for d in done(incident)] == [
        ("logs", "3 days pulled", "platform: Kim Example @kim", "tester"),
        ("rotate", "", "security: Sam Example @sam", "tester"),
        ("notify", "called", "communications: Sam Example @sam", "tester"),
    ]
    complete = [e.data for e in incident.events if e.type == EventType.TASKS_COMPLETE]
    assert complete == [
        {
            "runbook": "parallel-demo",
            "node": "work",
            "done": ["rotate", "notify", "logs"],
            "needed": 3,
        }
    ]
    assert incident.outcome == "resolved"

    shown = run_aiir(["show", incident.id], env)
    out = strip_ansi(shown.stdout.decode())
    assert "Tasks" in out
    assert "work/logs: Pull the gateway logs" in out
    assert "platform: Kim Example @kim" in out
    assert "3 days pulled" in out
    assert (
        "Task work/logs done: Pull the gateway logs (platform: Kim Example @kim), marked by tester: 3 days pulled"
        in " ".join(out.split())
    )

    as_json = json.loads(run_aiir(["show", incident.id, "--json"], env).stdout)
    assert [(t["task"], t["on_call"], t["by"], t["note"]) for t in as_json["tasks"]] == [
        ("logs", "platform: Kim Example @kim", "tester", "3 days pulled"),
        ("rotate", "security: Sam Example @sam", "tester", ""),
        ("notify", "communications: Sam Example @sam", "tester", "called"),
    ]

    report = run_aiir(["report", incident.id], env).stdout.decode()
    assert "## Work by role" in report
    row = next(line for line in report.splitlines() if "`work/notify`" in line)
    assert row.startswith(
        "| Tell the agent owner (`work/notify`) | communications: Sam Example @sam | "
    )
    assert row.endswith("| tester | called |")
    assert (
        "Task work/rotate done: Rotate the keys (security: Sam Example @sam), marked by tester"
        in report
    )


def test_at_least_goes_on_once_enough_are_done(tmp_path: Path) -> None:
    path, env = workspace(tmp_path, runbook({"at_least": 2}))
    write(tmp_path / "answers.yaml", {"work": ["notify", "logs"]})
    ran = run_aiir(["run", str(path), "--answers", str(tmp_path / "answers.yaml")], env)
    assert ran.returncode == 0, ran.stderr.decode()
    out = strip_ansi(ran.stdout.decode())
    assert "at least 2 needed to go on" in out
    assert "2 of 3 tasks done: going on" in out
    incident = incident_of(tmp_path)
    assert [d["task"] for d in done(incident)] == ["notify", "logs"]
    assert incident.outcome == "resolved"


def test_a_walk_without_enough_stops_and_a_resume_remembers_what_was_done(
    tmp_path: Path,
) -> None:
    path, env = workspace(tmp_path)
    write(tmp_path / "first.yaml", {"work": {"logs": "pulled"}})
    ran = run_aiir(["run", str(path), "--answers", str(tmp_path / "first.yaml")], env)
    assert ran.returncode == 2
    err = strip_ansi(ran.stderr.decode())
    assert (
        "work: 1 task(s) done, 3 needed, and there is no terminal: answer "
        "`work: [rotate, notify]` (or `all`, or task: note) in --answers"
    ) in err
    assert "Traceback" not in err
    incident_id = only_incident(tmp_path / "incidents")

    write(tmp_path / "rest.yaml", {"work": "all"})  # all: the one already done is not marked again
    resumed = run_aiir(["resume", incident_id, "--answers", str(tmp_path / "rest.yaml")], env)
    assert resumed.returncode == 0, resumed.stderr.decode()
    out = strip_ansi(resumed.stdout.decode())
    assert "1 of 3 done; all needed to go on" in out
    assert "[x] logs: Pull the gateway logs (platform: Kim Example @kim) done" in out
    incident = incident_of(tmp_path)
    assert [(d["task"], d["note"]) for d in done(incident)] == [
        ("logs", "pulled"),
        ("rotate", ""),
        ("notify", ""),
    ]
    assert incident.outcome == "resolved"


def test_a_task_marked_by_another_responder_through_the_store_counts_on_resume(
    tmp_path: Path,
) -> None:
    """A ``task.done`` is complete in itself: appended by someone else (here through the store
    interface, as a second machine would), the walk takes it as done without being told."""
    path, env = workspace(tmp_path)
    write(tmp_path / "first.yaml", {"work": ["logs"]})
    assert (
        run_aiir(["run", str(path), "--answers", str(tmp_path / "first.yaml")], env).returncode == 2
    )
    incidents = tmp_path / "incidents"
    incident_id = only_incident(incidents)
    store = FileStore(incidents)
    head = store.read(incident_id).events[-1]
    body: dict[str, Any] = {
        "seq": head.seq + 1,
        "ts": iso(dt.datetime.now(dt.UTC)),
        "type": EventType.TASK_DONE,
        "operator": "bo",
        "step": None,
        "data": {
            "runbook": "parallel-demo",
            "node": "work",
            "task": "rotate",
            "title": "Rotate the keys",
            "owner": "security",
            "on_call": "security: Sam Example @sam",
            "by": "bo",
            "note": "rotated from the other laptop",
            "via": "store",
        },
        "prev": head.hash,
    }
    lease = store.lease(incident_id, "bo", body["ts"])
    store.append(incident_id, Event(**body, hash=chain_hash(body)), lease=lease)
    lease.release()

    write(tmp_path / "rest.yaml", {"work": ["notify"]})
    resumed = run_aiir(["resume", incident_id, "--answers", str(tmp_path / "rest.yaml")], env)
    assert resumed.returncode == 0, resumed.stderr.decode()
    incident = incident_of(tmp_path)
    assert [(d["task"], d["by"]) for d in done(incident)] == [
        ("logs", "tester"),
        ("rotate", "bo"),
        ("notify", "tester"),
    ]
    assert incident.outcome == "resolved"
    assert verify(incidents / incident_id) == []


def test_an_answers_file_naming_an_unknown_task_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    path, env = workspace(tmp_path)
    write(tmp_path / "answers.yaml", {"work": ["logs", "rotat"]})  # the list starts on line 2
    ran = run_aiir(["run", str(path), "--answers", str(tmp_path / "answers.yaml")], env)
    assert ran.returncode == 2
    assert strip_ansi(ran.stderr.decode()).strip() == (
        f"aiir: {tmp_path / 'answers.yaml'}:2:1: error: work: unknown task(s) rotat "
        "(tasks: rotate, notify, logs)"
    )
    assert not (tmp_path / "incidents").exists() or list_incidents(tmp_path / "incidents") == []


# --- validation ---------------------------------------------------------------------------------


def test_duplicate_task_ids_and_unknown_roles_are_errors_on_their_lines(tmp_path: Path) -> None:
    rb = runbook({"at_least": 4})
    tasks = rb["nodes"]["work"]["tasks"]
    tasks[2]["id"] = "rotate"
    tasks[1]["owner"] = "secrity"
    path, env = workspace(tmp_path, rb)
    text = path.read_text(encoding="utf-8")
    ran = run_aiir(["validate", str(path)], env)
    assert ran.returncode == 2
    second = text.index("id: rotate", text.index("id: rotate") + 1)
    dup_at = f"{text[:second].count(chr(10)) + 1}:11"
    roles = "alex, communications, incident-commander, kim, platform, sam, security"
    assert strip_ansi(ran.stderr.decode()).splitlines() == [
        f"{path}:{where(text, 'at_least: 4', '4')}: error: nodes.work.complete_when.at_least: "
        "at_least 4 can never hold: the node has 3 task(s)",
        f"{path}:{where(text, 'owner: secrity', 'secrity')}: error: nodes.work.tasks[1].owner: "
        f"'secrity' is not a role in the team file (did you mean 'security'?); roles: {roles}",
        f"{path}:{dup_at}: error: nodes.work.tasks[2].id: task id 'rotate' is used twice in "
        "this node (first at tasks[0])",
        "3 error(s), 0 warning(s) in 1 file(s)",
    ]
    write(tmp_path / "answers.yaml", {"work": "all"})
    run = run_aiir(["run", str(path), "--answers", str(tmp_path / "answers.yaml")], env)
    assert run.returncode == 2
    assert "3 errors" in run.stderr.decode()
    assert not (tmp_path / "incidents").exists()


def test_without_a_team_file_an_unknown_role_is_a_warning_against_the_standard_roster(
    tmp_path: Path,
) -> None:
    rb = runbook()
    rb["nodes"]["work"]["tasks"][0]["owner"] = "secops"
    path = tmp_path / "rb.yaml"
    write(path, rb)
    env = process_env(tmp_path / "incidents", AIIR_WORKSPACE=str(tmp_path / "nowhere"))
    ran = run_aiir(["validate", str(path)], env)  # a workspace that does not load: no team
    assert ran.returncode == 0
    out = strip_ansi(ran.stdout.decode() + ran.stderr.decode())
    assert (
        "warning: nodes.work.tasks[0].owner: 'secops' is not a role in the standard roster "
        "(no team file)"
    ) in out
    strict = run_aiir(["validate", "--strict", str(path)], env)
    assert strict.returncode == 2


# --- a drill -------------------------------------------------------------------------------------


def test_the_excessive_agency_drill_marks_its_damage_tasks_out_of_order(tmp_path: Path) -> None:
    result = run_drill(prepare(ROOT / "examples" / "drills" / "excessive-agency.yaml"), tmp_path)
    assert result.ok, result.error or [g for g in result.groups if not g.ok]
    assert result.incident is not None
    marked = [(d["node"], d["task"], d["owner"]) for d in done(result.incident)]
    assert marked == [
        ("damage", "restore", "platform"),
        ("damage", "quantify", "ml-engineering"),
        ("damage", "refunds", "incident-commander"),
    ]
    notes = {d["task"]: d["note"] for d in done(result.incident)}
    assert notes["quantify"] == "48,000 EUR over 212 budget changes; no message was sent"


# --- at a real terminal --------------------------------------------------------------------------


@pytest.mark.pty
@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_one_operator_marks_tasks_done_out_of_order_at_a_terminal(tmp_path: Path) -> None:
    pytest.importorskip("pexpect")
    pytest.importorskip("pyte")
    from tests.terminal.test_keyboard import DOWN, ENTER, Screen

    path, env = workspace(tmp_path)
    env.update(TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
    env.pop("COLUMNS")
    screen = Screen(["run", str(path)], env)
    screen.wait("Which task is done?")
    shown = "\n".join(screen.lines())
    assert "Pull the gateway logs (platform: Kim Example @kim)" in shown  # on one 80x24 screen
    screen.type(DOWN + DOWN)  # the last task first
    screen.wait("Pull the gateway logs")
    screen.type(ENTER)
    screen.wait("Note on 'logs'")
    screen.type("three days" + ENTER)
    screen.wait("1 of 3 needed done. Which task is done?")
    screen.type(DOWN)  # open now: rotate, notify; notify next
    screen.wait("Tell the agent owner")
    screen.type(ENTER)
    screen.wait("Note on 'notify'")
    screen.type(ENTER)  # no note
    screen.wait("2 of 3 needed done. Which task is done?")
    screen.type(ENTER)
    screen.wait("Note on 'rotate'")
    screen.type("rotated at 06:10" + ENTER)
    status, transcript = screen.finish()
    assert status == 0, transcript[-2000:]
    assert "3 of 3 tasks done: going on" in transcript
    incident = incident_of(tmp_path)
    assert [(d["task"], d["note"], d["via"]) for d in done(incident)] == [
        ("logs", "three days", "terminal"),
        ("notify", "", "terminal"),
        ("rotate", "rotated at 06:10", "terminal"),
    ]
    assert incident.outcome == "resolved"


def test_a_tasks_node_is_drawn_with_what_it_needs_and_by_whom(tmp_path: Path) -> None:
    path, env = workspace(tmp_path, runbook({"at_least": 2}))
    tree = run_aiir(["graph", str(path)], env).stdout.decode()
    assert (
        "└─ work: TASKS 2 of 3 by security, communications, platform: Contain in parallel  "
        "(incident-commander)"
    ) in tree
    mermaid = run_aiir(["graph", str(path), "--format", "mermaid"], env).stdout.decode()
    assert '  n_work[/"work: TASKS 2 of 3 by security, communications, platform: ' in mermaid
    dot = run_aiir(["graph", str(path), "--format", "dot"], env).stdout.decode()
    assert '"work" [shape=tab, ' in dot

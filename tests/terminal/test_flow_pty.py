"""At the keyboard, in a real pseudo-terminal: a loop's bound is a decision point (one more lap,
leave by an exit, stop), and a multi-select question takes several answers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from aiir.incident.events import EventType
from tests.engine.test_loops import looping
from tests.helpers import write
from tests.respond import journal, of_type
from tests.runs import only_incident, process_env
from tests.terminal.test_keyboard import DOWN, ENTER, Screen

pytest.importorskip("pexpect")
pytest.importorskip("pyte")

pytestmark = [
    pytest.mark.pty,
    pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX"),
]
SPACE = " "


def start(tmp_path: Path, runbook: dict[str, Any]) -> tuple[Screen, Path]:
    path = tmp_path / "runbook.yaml"
    write(path, runbook)
    incidents = tmp_path / "incidents"
    env = process_env(incidents, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
    env.pop("COLUMNS")
    return Screen(["run", str(path)], env), incidents


def events(incidents: Path, kind: str) -> list[dict[str, Any]]:
    return of_type(journal(incidents, only_incident(incidents)), kind)


def test_at_a_loops_bound_the_operator_goes_round_once_more_then_leaves(tmp_path: Path) -> None:
    runbook = looping(max_visits=2)
    runbook["nodes"]["mitigate"] = {
        "kind": "set",
        "title": "Count the laps",
        "values": {"laps": "(vars.laps | default(0)) + 1"},
        "next": "secured",
    }
    screen, incidents = start(tmp_path, runbook)
    for lap in (1, 2):
        screen.wait("Is the attack secured?")
        screen.type("n" + ENTER)
        screen.wait(f"set laps = {lap}")  # the answer taken (its echo repeats the question)
    screen.wait("node 'secured' reached its limit of 2 visits. What now?")
    shown = "\n".join(screen.lines())
    assert "Go round once more" in shown
    assert "Leave the loop: go to 'closed', the exit of 'secured' (yes)" in shown
    assert "Stop the walk here" in shown
    screen.type(ENTER)  # once more
    screen.wait("Is the attack secured?")
    screen.type("n" + ENTER)
    screen.wait("node 'secured' reached its limit of 3 visits. What now?")
    screen.type(DOWN + ENTER)  # leave by the exit
    status, transcript = screen.finish()
    assert status == 0, transcript
    decisions = [(e["limit"], e["decision"]) for e in events(incidents, EventType.LIMIT_REACHED)]
    assert decisions == [(2, "lap"), (3, "exit:closed")]
    assert [e["values"] for e in events(incidents, EventType.VALUES_SET)] == [
        {"laps": 1},
        {"laps": 2},
        {"laps": 3},
    ]
    [ended] = events(incidents, EventType.INCIDENT_ENDED)
    assert ended["outcome"] == "mitigated"


def test_a_multiselect_takes_several_answers_at_the_keyboard(tmp_path: Path) -> None:
    runbook = {
        "aiir": 1,
        "id": "classes",
        "title": "Classify",
        "owner": "security",
        "severity": "SEV3",
        "start": "classes",
        "nodes": {
            "classes": {
                "kind": "multiselect",
                "title": "What happened?",
                "prompt": "Which classes apply?",
                "choices": [
                    {"label": "Data leaked", "value": "data", "severity": "SEV2"},
                    {"label": "Tool abused", "value": "tool"},
                    {"label": "Model stolen", "value": "model", "severity": "SEV1"},
                ],
                "next": "done",
            },
            "done": {
                "kind": "end",
                "title": "Done",
                "outcome": "resolved",
                "summary": "{{ answers.classes | join(', ') }}",
            },
        },
    }
    screen, incidents = start(tmp_path, runbook)
    screen.wait("Which classes apply?")
    screen.type(SPACE + DOWN + DOWN + SPACE)
    screen.type(ENTER)
    status, transcript = screen.finish()
    assert status == 0, transcript
    [answer] = events(incidents, EventType.ANSWER)
    assert answer["value"] == ["data", "model"]
    [ended] = events(incidents, EventType.INCIDENT_ENDED)
    assert ended["summary"] == "data, model"
    assert [e["to"] for e in events(incidents, EventType.SEVERITY_CHANGED)] == ["SEV1"]

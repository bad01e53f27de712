"""Bounded loops: a loop answered from a script ends at its bound with a clear failure (the old
hang: a scripted `no` went round forever), answers files give one answer per visit, a drill of a
looping runbook finishes, and the bound is journalled."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from aiir.exercises.drill import run_drill
from aiir.incident.events import EventType
from aiir.validate.scenarios import prepare
from tests.helpers import write
from tests.respond import aiir, freeze, incident_id, journal, no_terminal, of_type
from tests.support.clock import FakeClock

Capture = pytest.CaptureFixture[str]


def looping(max_visits: int | None = None) -> dict[str, Any]:
    """Mitigate, then ask whether the attack is secured; no: mitigate again."""
    secured: dict[str, Any] = {
        "kind": "confirm",
        "title": "Secured?",
        "prompt": "Is the attack secured?",
        "yes": "closed",
        "no": "mitigate",
    }
    if max_visits is not None:
        secured["max_visits"] = max_visits
    return {
        "aiir": 1,
        "id": "secure-loop",
        "title": "Keep mitigating until secured",
        "owner": "security",
        "severity": "SEV2",
        "start": "secured",
        "nodes": {
            "secured": secured,
            "mitigate": {
                "kind": "checklist",
                "title": "Mitigate",
                "items": [{"id": "block", "text": "Block the source"}],
                "next": "secured",
            },
            "closed": {"kind": "end", "title": "Secured", "outcome": "mitigated"},
        },
    }


@pytest.fixture
def incidents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    no_terminal(monkeypatch)
    freeze(monkeypatch, FakeClock())
    root = tmp_path / "incidents"
    monkeypatch.setenv("AIIR_INCIDENT_DIR", str(root))
    return root


def run(capsys: Capture, tmp_path: Path, runbook: dict[str, Any], answers: Any) -> Any:
    write(tmp_path / "loop.yaml", runbook)
    write(tmp_path / "answers.yaml", answers)
    return aiir(
        capsys, "run", str(tmp_path / "loop.yaml"), "--answers", str(tmp_path / "answers.yaml")
    )


def test_a_scripted_no_stops_at_the_default_bound_quickly(
    capsys: Capture, tmp_path: Path, incidents: Path
) -> None:
    began = time.monotonic()
    ran = run(capsys, tmp_path, looping(), {"secured": "no", "mitigate": "all"})
    assert time.monotonic() - began < 20
    assert ran.status == 1
    assert "node 'secured' reached its limit of 5 visits" in ran.out + ran.err
    events = journal(incidents, incident_id())
    assert len(of_type(events, EventType.NODE_ENTERED)) == 10  # 5 laps, not thousands
    [limit] = of_type(events, EventType.LIMIT_REACHED)
    assert limit | {"runbook": "secure-loop"} == {
        "runbook": "secure-loop",
        "node": "secured",
        "visits": 5,
        "limit": 5,
        "decision": "stop",
    }
    [ended] = of_type(events, EventType.INCIDENT_ENDED)
    assert ended["outcome"] == "failed"
    assert ended["summary"] == "node 'secured' reached its limit of 5 visits"


def test_a_node_states_its_own_bound(capsys: Capture, tmp_path: Path, incidents: Path) -> None:
    ran = run(capsys, tmp_path, looping(max_visits=2), {"secured": "no", "mitigate": "all"})
    assert ran.status == 1
    assert "node 'secured' reached its limit of 2 visits" in ran.out + ran.err


def test_an_answers_file_answers_each_visit_in_turn(
    capsys: Capture, tmp_path: Path, incidents: Path
) -> None:
    answers = {"secured": ["no", "no", "yes"], "mitigate": [["block"], [], "all"]}
    ran = run(capsys, tmp_path, looping(), answers)
    assert ran.status == 0, ran.out + ran.err
    events = journal(incidents, incident_id())
    given = [(a["node"], a["value"]) for a in of_type(events, EventType.ANSWER)]
    assert given == [
        ("secured", False),
        ("mitigate", ["block"]),
        ("secured", False),
        ("mitigate", []),
        ("secured", True),
    ]
    assert of_type(events, EventType.INCIDENT_ENDED)[0]["outcome"] == "mitigated"


def test_answers_used_up_name_the_key_and_the_visit(
    capsys: Capture, tmp_path: Path, incidents: Path
) -> None:
    ran = run(capsys, tmp_path, looping(), {"secured": ["no", "no"], "mitigate": "all"})
    assert ran.status == 2
    assert "the 2 answers to 'secured' in the answers are used up" in ran.err
    assert "add one for visit 3" in ran.err


def test_a_bad_answer_in_a_list_is_named_by_its_place(
    capsys: Capture, tmp_path: Path, incidents: Path
) -> None:
    ran = run(capsys, tmp_path, looping(), {"secured": ["no", "maybe"], "mitigate": "all"})
    assert ran.status == 2
    assert "answers.yaml:3" in ran.err
    assert "'maybe' is not yes or no" in ran.err
    assert not incidents.exists() or not any(incidents.iterdir())


def test_a_drill_of_a_looping_runbook_finishes(tmp_path: Path) -> None:
    write(tmp_path / "secure-loop.yaml", looping())
    scenario = {
        "aiir": 1,
        "scenario": "keeps-failing",
        "title": "The attack is never secured",
        "runbook": "secure-loop.yaml",
        "answers": {"secured": "no", "mitigate": "all"},
        "expect": {"outcome": "failed"},
    }
    write(tmp_path / "drill.yaml", scenario)
    began = time.monotonic()
    result = run_drill(prepare(tmp_path / "drill.yaml"), tmp_path / "incidents")
    assert time.monotonic() - began < 20
    assert result.error is None, result.transcript
    assert all(g.ok for g in result.groups), result.transcript
    assert "node 'secured' reached its limit of 5 visits" in result.transcript


def test_max_visits_is_checked_by_the_schema(capsys: Capture, tmp_path: Path) -> None:
    write(tmp_path / "loop.yaml", looping(max_visits=0))
    ran = aiir(capsys, "validate", str(tmp_path / "loop.yaml"))
    assert ran.status != 0
    assert "max_visits" in ran.out + ran.err


def test_a_resume_takes_up_the_list_at_the_visit_where_it_stopped(
    capsys: Capture, tmp_path: Path, incidents: Path
) -> None:
    ran = run(capsys, tmp_path, looping(), {"secured": ["no", "no"], "mitigate": "all"})
    assert ran.status == 2
    write(tmp_path / "more.yaml", {"secured": ["no", "no", "yes"], "mitigate": "all"})
    ran = aiir(capsys, "resume", incident_id(), "--answers", str(tmp_path / "more.yaml"))
    assert ran.status == 0, ran.out + ran.err
    events = journal(incidents, incident_id())
    given = [a["value"] for a in of_type(events, EventType.ANSWER) if a["node"] == "secured"]
    assert given == [False, False, True]  # the first two replayed, not asked again
    assert of_type(events, EventType.INCIDENT_ENDED)[0]["outcome"] == "mitigated"


def test_a_bound_on_a_node_no_cycle_returns_to_is_a_warning(
    capsys: Capture, tmp_path: Path
) -> None:
    runbook = looping()
    runbook["nodes"]["closed"]["max_visits"] = 2
    write(tmp_path / "loop.yaml", runbook)
    ran = aiir(capsys, "validate", str(tmp_path / "loop.yaml"))
    assert ran.status == 0
    assert "warning: nodes.closed.max_visits: max_visits bounds nothing here" in ran.out + ran.err

"""Set nodes compute values from expressions (bare, as ``when:``), kept as ``vars.<name>`` for
later branches and messages; a multi-select question takes several answers, from an answers file
as a list (and a list of lists for a node met in a loop)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aiir.incident.events import EventType
from tests.helpers import write
from tests.respond import aiir, freeze, incident_id, journal, no_terminal, of_type
from tests.support.clock import FakeClock

Capture = pytest.CaptureFixture[str]


def scoring() -> dict[str, Any]:
    """AWS's rule: three or more signs of tool abuse make it a P1."""
    return {
        "aiir": 1,
        "id": "scoring",
        "title": "Score the signs",
        "owner": "security",
        "severity": "SEV3",
        "start": "signs",
        "nodes": {
            "signs": {
                "kind": "multiselect",
                "title": "Signs of tool abuse",
                "prompt": "Which signs do you see?",
                "choices": [
                    {"label": "Unusual tool calls", "value": "tools"},
                    {"label": "Data left the account", "value": "exfil", "severity": "SEV2"},
                    {
                        "label": "Credentials used from a new place",
                        "value": "creds",
                        "classify": ["cybersecurity-breach"],
                    },
                    {"label": "Guardrail alerts", "value": "guardrail"},
                ],
                "next": "score",
            },
            "score": {
                "kind": "set",
                "title": "Priority",
                "values": {
                    "signs": "answers.signs | length",
                    "priority": "'P1' if vars.signs >= 3 else 'P3'",
                },
                "next": "route",
            },
            "route": {
                "kind": "branch",
                "title": "By priority",
                "cases": [{"when": "vars.priority == 'P1'", "next": "page"}],
                "default": "queue",
            },
            "page": {
                "kind": "end",
                "title": "Page",
                "outcome": "escalated",
                "summary": "{{ vars.priority }}: {{ vars.signs }} signs ({{ answers.signs | join(', ') }})",
            },
            "queue": {"kind": "end", "title": "Queue", "outcome": "resolved"},
        },
    }


@pytest.fixture
def incidents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    no_terminal(monkeypatch)
    freeze(monkeypatch, FakeClock())
    monkeypatch.setenv("AIIR_INCIDENT_DIR", str(tmp_path / "incidents"))
    return tmp_path / "incidents"


def run(capsys: Capture, tmp_path: Path, answers: Any, runbook: Any = None) -> Any:
    write(tmp_path / "scoring.yaml", runbook or scoring())
    write(tmp_path / "answers.yaml", answers)
    return aiir(
        capsys, "run", str(tmp_path / "scoring.yaml"), "--answers", str(tmp_path / "answers.yaml")
    )


def test_three_signs_make_a_p1(capsys: Capture, tmp_path: Path, incidents: Path) -> None:
    ran = run(capsys, tmp_path, {"signs": ["tools", "creds", "exfil"]})
    assert ran.status == 0, ran.out + ran.err
    assert "set signs = 3, priority = 'P1'" in ran.out
    events = journal(incidents, incident_id())
    [values] = of_type(events, EventType.VALUES_SET)
    assert values["values"] == {"signs": 3, "priority": "P1"}
    [ended] = of_type(events, EventType.INCIDENT_ENDED)
    assert ended["summary"] == "P1: 3 signs (tools, exfil, creds)"  # in the question's order
    assert [e["to"] for e in of_type(events, EventType.SEVERITY_CHANGED)] == ["SEV2"]
    assert of_type(events, EventType.CLASSIFIED)[0]["facts"] == ["cybersecurity-breach"]


def test_fewer_signs_take_the_other_way(capsys: Capture, tmp_path: Path, incidents: Path) -> None:
    ran = run(capsys, tmp_path, {"signs": "guardrail"})
    assert ran.status == 0, ran.out + ran.err
    events = journal(incidents, incident_id())
    assert of_type(events, EventType.VALUES_SET)[0]["values"] == {"signs": 1, "priority": "P3"}
    assert of_type(events, EventType.INCIDENT_ENDED)[0]["outcome"] == "resolved"


def test_no_sign_at_all_is_an_answer(capsys: Capture, tmp_path: Path, incidents: Path) -> None:
    ran = run(capsys, tmp_path, {"signs": []})
    assert ran.status == 0, ran.out + ran.err
    events = journal(incidents, incident_id())
    assert of_type(events, EventType.ANSWER)[0]["value"] == []


def test_an_unknown_choice_is_named_before_anything_runs(
    capsys: Capture, tmp_path: Path, incidents: Path
) -> None:
    ran = run(capsys, tmp_path, {"signs": ["tools", "smoke"]})
    assert ran.status == 2
    assert "answers.yaml:2:1: error: signs:" in ran.err
    assert "'smoke' is not one of its choices (tools, exfil, creds, guardrail)" in ran.err
    assert not incidents.exists()


@pytest.mark.parametrize("picks", [["tools", "tools"], ["tools", "creds", "Tools"]])
def test_a_choice_picked_twice_is_named_before_anything_runs(
    capsys: Capture, tmp_path: Path, incidents: Path, picks: list[str]
) -> None:
    """Twice by value, or once by value and once by label: a slip in the answers that would
    otherwise count one sign twice."""
    runbook = scoring()
    runbook["nodes"]["signs"]["choices"][0]["label"] = "Tools"
    ran = run(capsys, tmp_path, {"signs": picks}, runbook)
    assert ran.status == 2
    assert "answers.yaml:2:1: error: signs: 'tools' is picked more than once" in ran.err
    assert not incidents.exists()


def test_an_expression_in_braces_is_refused_with_the_way_to_write_it(
    capsys: Capture, tmp_path: Path
) -> None:
    runbook = scoring()
    runbook["nodes"]["score"]["values"]["signs"] = "{{ answers.signs | length }}"
    write(tmp_path / "scoring.yaml", runbook)
    ran = aiir(capsys, "validate", str(tmp_path / "scoring.yaml"))
    assert ran.status == 2
    assert "nodes.score.values.signs: an expression is written bare, without {{ }}" in ran.err


def test_a_value_nothing_sets_is_named(capsys: Capture, tmp_path: Path) -> None:
    runbook = scoring()
    runbook["nodes"]["route"]["cases"][0]["when"] = "vars.prio == 'P1'"
    write(tmp_path / "scoring.yaml", runbook)
    ran = aiir(capsys, "validate", str(tmp_path / "scoring.yaml"))
    assert "'vars.prio' is not defined: no request saves it ('save:') and no set node" in ran.err

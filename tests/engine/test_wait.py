"""Wait nodes: poll a request until its expectation holds, against a real loopback server whose
answer changes after some polls; the deadline's path; a drill waits on the drill's clock."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from aiir.exercises.drill import run_drill
from aiir.incident.events import EventType
from aiir.validate.scenarios import prepare
from tests.helpers import write
from tests.receiver import Answer, Receiver
from tests.respond import aiir, incident_id, journal, of_type
from tests.support.clock import FakeClock

Capture = pytest.CaptureFixture[str]
PENDING = Answer(
    200, json.dumps({"state": "pending"}).encode(), {"content-type": "application/json"}
)
READY = Answer(200, json.dumps({"state": "ready"}).encode(), {"content-type": "application/json"})


def waiting(url: str, deadline: str = "5m") -> dict[str, Any]:
    return {
        "aiir": 1,
        "id": "wait-for-test",
        "title": "Lift the block only after the end-to-end test passes",
        "owner": "security",
        "severity": "SEV2",
        "gateways": {"gateway": {"profile": "http", "url": url}},
        "start": "e2e",
        "nodes": {
            "e2e": {
                "kind": "wait",
                "title": "End-to-end test passes",
                "request": {
                    "method": "GET",
                    "path": "/e2e",
                    "expect": {"json": {"state": "ready"}},
                },
                "interval": "30s",
                "deadline": deadline,
                "next": "passed",
                "on_timeout": "late",
            },
            "passed": {"kind": "end", "title": "Passed", "outcome": "resolved"},
            "late": {"kind": "end", "title": "Still failing", "outcome": "escalated"},
        },
    }


def test_it_polls_until_the_answer_changes(
    capsys: Capture, tmp_path: Path, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.queue("/e2e", PENDING, PENDING, PENDING, READY)
    write(tmp_path / "wait.yaml", waiting(receiver.url))
    ran = aiir(capsys, "run", str(tmp_path / "wait.yaml"))
    assert ran.status == 0, ran.out + ran.err
    assert len(receiver.to("/e2e")) == 4
    assert clock.slept == [30.0, 30.0, 30.0]  # the walk's clock, never a real sleep
    assert "poll 1: not yet" in ran.out
    assert "held after 4 poll(s), 1m 30s" in ran.out
    events = journal(tmp_path / "incidents", incident_id())
    [started] = of_type(events, EventType.WAIT_STARTED)
    assert (started["interval"], started["deadline"]) == ("30s", "5m")
    [ended] = of_type(events, EventType.WAIT_ENDED)
    assert (ended["ok"], ended["polls"], ended["waited_s"]) == (True, 4, 90)
    assert of_type(events, EventType.INCIDENT_ENDED)[0]["outcome"] == "resolved"


def test_at_the_deadline_it_takes_on_timeout(
    capsys: Capture, tmp_path: Path, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.queue("/e2e", *[PENDING] * 20)
    write(tmp_path / "wait.yaml", waiting(receiver.url, deadline="2m"))
    ran = aiir(capsys, "run", str(tmp_path / "wait.yaml"))
    assert ran.status == 0, ran.out + ran.err
    assert len(receiver.to("/e2e")) == 5  # at 0, 30s, 1m, 1m 30s and the deadline
    assert "did not hold by the deadline (2m) after 5 poll(s)" in ran.out
    events = journal(tmp_path / "incidents", incident_id())
    [ended] = of_type(events, EventType.WAIT_ENDED)
    assert (ended["ok"], ended["timed_out"], ended["polls"]) == (False, True, 5)
    assert of_type(events, EventType.INCIDENT_ENDED)[0]["outcome"] == "escalated"


def test_without_on_timeout_an_unattended_walk_stops_failed(
    capsys: Capture, tmp_path: Path, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.queue("/e2e", *[PENDING] * 20)
    runbook = waiting(receiver.url, deadline="1m")
    del runbook["nodes"]["e2e"]["on_timeout"]
    del runbook["nodes"]["late"]
    write(tmp_path / "wait.yaml", runbook)
    ran = aiir(capsys, "run", str(tmp_path / "wait.yaml"))
    assert ran.status == 1
    assert "Wait 'End-to-end test passes': the deadline (1m) passed" in ran.out


def test_a_drill_waits_on_the_drill_clock(tmp_path: Path) -> None:
    runbook = waiting("https://gateway.example")
    runbook["gateways"]["gateway"]["profile"] = "litellm"
    runbook["nodes"]["e2e"]["request"] = {
        "method": "GET",
        "path": "/health/liveliness",
        "expect": {"body_contains": ["never says this"]},
    }
    runbook["nodes"]["e2e"].update(interval="10m", deadline="48h")
    write(tmp_path / "wait-for-test.yaml", runbook)
    scenario = {
        "aiir": 1,
        "scenario": "never-passes",
        "title": "The end-to-end test never passes",
        "runbook": "wait-for-test.yaml",
        "expect": {"path": ["e2e", "late"], "outcome": "escalated"},
    }
    write(tmp_path / "drill.yaml", scenario)
    began = time.monotonic()
    result = run_drill(prepare(tmp_path / "drill.yaml"), tmp_path / "incidents")
    assert time.monotonic() - began < 30  # 289 polls over 48 h of drill time
    assert result.error is None, result.transcript
    assert all(g.ok for g in result.groups), result.transcript
    assert "after 289 poll(s)" in result.transcript

"""Release nodes: a lever engaged earlier in the walk is released as a step, its verify probe
checking that it no longer holds; truthful when it was never engaged, when the release fails,
and when the release was answered but the lever still holds. Against a real loopback gateway
and the simulated one."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiir.incident.events import EventType
from aiir.incident.state import load_incident
from tests.helpers import write
from tests.respond import aiir, freeze, incident_id, journal, no_terminal, of_type
from tests.runs import ATTACKER_KEY, MASTER_KEY, drill
from tests.servers import Fault, Gateway, serve_gateway
from tests.support.clock import FakeClock

Capture = pytest.CaptureFixture[str]


def releasing() -> dict[str, Any]:
    """Block the attacker's key, then lift the block as the runbook's recovery step."""
    runbook = drill()
    runbook.update(id="lift", start="known")
    runbook["levers"] = {"block-key": copy.deepcopy(runbook["levers"]["block-key"])}
    nodes = runbook["nodes"]
    runbook["nodes"] = {
        "known": {**nodes["known"], "no": "lift"},
        "attacker-key": nodes["attacker-key"],
        "block": {**nodes["block"], "next": "lift"},
        "lift": {
            "kind": "release",
            "title": "Lift the block",
            "lever": "block-key",
            "next": "restored",
            "on_failure": "stuck",
        },
        "restored": {"kind": "end", "title": "Restored", "outcome": "resolved"},
        "stuck": {"kind": "end", "title": "Still blocked", "outcome": "escalated"},
    }
    return runbook


@pytest.fixture
def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Gateway]]:
    no_terminal(monkeypatch)
    freeze(monkeypatch, FakeClock())
    monkeypatch.setenv("AIIR_INCIDENT_DIR", str(tmp_path / "incidents"))
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    with serve_gateway() as served:
        yield served


def run(capsys: Capture, tmp_path: Path, *args: str, known: bool = True) -> Any:
    write(tmp_path / "lift.yaml", releasing())
    answers = {"known": known, "attacker-key": ATTACKER_KEY}
    write(tmp_path / "answers.yaml", answers if known else {"known": False})
    return aiir(
        capsys,
        "run",
        str(tmp_path / "lift.yaml"),
        "--answers",
        str(tmp_path / "answers.yaml"),
        "--yes",
        *args,
    )


def released(tmp_path: Path) -> list[dict[str, Any]]:
    return of_type(journal(tmp_path / "incidents", incident_id()), EventType.LEVER_RELEASED)


def test_a_release_step_undoes_the_lever_and_its_probe_confirms(
    capsys: Capture, tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    ran = run(capsys, tmp_path, "--gateway", f"gateway={url}")
    assert ran.status == 0, ran.out + ran.err
    assert state.blocked == set()
    assert state.count("POST", "/key/unblock") == 1
    [event] = released(tmp_path)
    assert (event["node"], event["ok"], event["still_in_effect"]) == ("lift", True, False)
    assert "released, and its verify probe no longer passes" in ran.out
    incident = load_incident(tmp_path / "incidents", incident_id())
    assert [r.state for r in incident.levers] == ["released"]
    assert incident.needs_release() == []


def test_a_failed_release_is_said_and_takes_on_failure(
    capsys: Capture, tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    state.faults.append(Fault("/key/unblock", status=403, body=b'{"error": "not allowed"}'))
    ran = run(capsys, tmp_path, "--gateway", f"gateway={url}")
    assert ran.status == 0, ran.out + ran.err
    assert state.blocked == {ATTACKER_KEY}
    [event] = released(tmp_path)
    assert event["ok"] is False
    incident = load_incident(tmp_path / "incidents", incident_id())
    assert incident.outcome == "escalated"
    assert [r.lever for r in incident.needs_release()] == ["block-key"]


def test_a_release_that_took_effect_though_its_reply_failed_is_released(
    capsys: Capture, tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    """A release done twice (its first try's line lost with a killed process) is refused the
    second time; a proxy may fail its reply after acting. The probe says it is not in effect."""
    url, state = gateway
    fault = Fault("/key/unblock", status=404, body=b'{"error": "not blocked"}', applied=True)
    state.faults.append(fault)
    ran = run(capsys, tmp_path, "--gateway", f"gateway={url}")
    assert ran.status == 0, ran.out + ran.err
    assert state.blocked == set()
    [event] = released(tmp_path)
    assert (event["ok"], event["still_in_effect"], event["confirmed_by_verify"]) == (
        True,
        False,
        True,
    )
    assert "the verify probe no longer passes: the lever is not in effect" in " ".join(
        ran.out.split()
    )
    incident = load_incident(tmp_path / "incidents", incident_id())
    assert incident.outcome == "resolved"
    assert incident.needs_release() == []


def test_a_release_answered_but_not_in_effect_is_not_called_released(
    capsys: Capture, tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    state.faults.append(Fault("/key/unblock", status=200, body=b'{"unblocked": true}'))
    ran = run(capsys, tmp_path, "--gateway", f"gateway={url}")
    assert state.blocked == {ATTACKER_KEY}  # the gateway said yes and did nothing
    [event] = released(tmp_path)
    assert (event["ok"], event["still_in_effect"]) == (False, True)
    assert "the verify probe still shows the lever in effect" in ran.out
    incident = load_incident(tmp_path / "incidents", incident_id())
    assert incident.outcome == "escalated"
    assert [r.lever for r in incident.needs_release()] == ["block-key"]


def test_a_lever_never_engaged_is_not_released(
    capsys: Capture, tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    ran = run(capsys, tmp_path, "--gateway", f"gateway={url}", known=False)
    assert ran.status == 0, ran.out + ran.err
    assert "lever 'block-key' was not engaged in this walk: not released" in ran.out
    assert state.count("POST", "/key/unblock") == 0
    assert released(tmp_path) == []


def test_a_release_step_in_a_sandbox_walk(
    capsys: Capture, tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    _, state = gateway
    ran = run(capsys, tmp_path, "--sandbox")
    assert ran.status == 0, ran.out + ran.err
    assert state.calls == []  # the simulated gateway only
    [event] = released(tmp_path)
    assert (event["ok"], event["still_in_effect"]) == (True, False)
    incident = load_incident(tmp_path / "incidents", incident_id())
    assert [r.state for r in incident.levers] == ["released"]


@pytest.mark.parametrize(
    ("change", "finding"),
    [
        (lambda r: r["nodes"]["lift"].update(lever="nope"), "'nope' is not a declared lever"),
        (
            lambda r: r["levers"]["block-key"].pop("release"),
            "lever 'block-key' has no 'release' request",
        ),
        (
            lambda r: r["nodes"]["known"].update(yes="lift"),
            "no lever node of this runbook engages 'block-key'",
        ),
    ],
)
def test_validate_names_a_release_step_that_cannot_work(
    capsys: Capture, tmp_path: Path, change: Any, finding: str
) -> None:
    runbook = releasing()
    change(runbook)
    if runbook["nodes"]["known"]["yes"] == "lift":
        del runbook["nodes"]["attacker-key"], runbook["nodes"]["block"]
    write(tmp_path / "lift.yaml", runbook)
    ran = aiir(capsys, "validate", str(tmp_path / "lift.yaml"))
    assert finding in ran.out + ran.err
    assert "lift.yaml:" in ran.out + ran.err


def test_a_resume_after_a_release_step_does_not_release_again(
    capsys: Capture, tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    runbook = releasing()
    runbook["nodes"]["lift"]["next"] = "check"
    runbook["nodes"]["check"] = {
        "kind": "confirm",
        "title": "Traffic normal?",
        "prompt": "Is the traffic normal again?",
        "yes": "restored",
        "no": "stuck",
    }
    write(tmp_path / "lift.yaml", runbook)
    write(tmp_path / "answers.yaml", {"known": True, "attacker-key": ATTACKER_KEY})
    args = ["--answers", str(tmp_path / "answers.yaml"), "--yes"]
    ran = aiir(capsys, "run", str(tmp_path / "lift.yaml"), "--gateway", f"gateway={url}", *args)
    assert ran.status == 2  # stopped at 'check', after the release
    assert state.count("POST", "/key/unblock") == 1
    write(tmp_path / "more.yaml", {"known": True, "attacker-key": ATTACKER_KEY, "check": True})
    ran = aiir(capsys, "resume", incident_id(), "--answers", str(tmp_path / "more.yaml"))
    assert ran.status == 0, ran.out + ran.err
    assert state.count("POST", "/key/unblock") == 1
    assert state.count("POST", "/key/block") == 1
    assert len(released(tmp_path)) == 1

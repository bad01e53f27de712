"""The two-person rule: a lever with ``approve: {min, roles, timeout}`` is engaged only once other
people approved it (``aiir approve``); a rejection (``aiir reject --reason``) or the timeout stops
it like a failed lever; drills and practice answers may supply the approvals."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiir.incident.journal import verify
from tests.helpers import write
from tests.respond import TEAM, aiir, journal, no_terminal, of_type, write_workspace
from tests.runs import DRILL_ANSWERS, MASTER_KEY, aiir_command, drill, process_env, run_aiir
from tests.servers import Gateway, serve_gateway

Capture = pytest.CaptureFixture[str]


@pytest.fixture
def gateway() -> Iterator[tuple[str, Gateway]]:
    with serve_gateway() as served:
        yield served


def _runbook(tmp_path: Path, **approve: Any) -> Path:
    runbook = drill()
    runbook["levers"]["filter"]["approve"] = approve or {"min": 1}
    write(tmp_path / "rb.yaml", runbook)
    return tmp_path / "rb.yaml"


def _answers(tmp_path: Path, **more: Any) -> Path:
    write(tmp_path / "answers.yaml", {**DRILL_ANSWERS, "known": "no", **more})
    return tmp_path / "answers.yaml"


def _requested(incidents: Path, timeout: float = 30) -> str:
    """The id of the incident once its walk asks for approval (read from its journal)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for folder in incidents.iterdir() if incidents.is_dir() else []:
            journal_file = folder / "journal.jsonl"
            if journal_file.is_file() and b"approval.requested" in journal_file.read_bytes():
                return folder.name
        time.sleep(0.05)
    raise AssertionError("the walk never asked for approval")


def test_a_rejection_with_its_reason_stops_the_lever_and_the_walk_takes_its_decision(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    incidents = tmp_path / "inc"
    env = process_env(incidents, AIIR_OPERATOR="alice")
    answers = _answers(tmp_path, **{"contain.approve": "yes", "contain.on_failure": "skip"})
    walker = subprocess.Popen(
        [
            *aiir_command(),
            "run",
            str(_runbook(tmp_path, min=2)),
            "-a",
            str(answers),
            "--gateway",
            f"gateway={url}",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        incident = _requested(incidents)
        no_reason = run_aiir(
            ["reject", incident, "filter", "--reason", "  "], env | {"AIIR_OPERATOR": "bob"}
        )
        assert no_reason.returncode == 2
        assert b"say why" in no_reason.stderr
        bob = {**env, "AIIR_OPERATOR": "bob"}
        ran = run_aiir(
            ["reject", incident, "filter", "--reason", "wrong phrase: it blocks refunds"], bob
        )
        assert ran.returncode == 0, ran.stderr
        assert b"it will not be engaged" in ran.stdout
        out, err = walker.communicate(timeout=60)
    finally:
        walker.kill()
    assert walker.returncode == 1, err  # skipped on: no lever in effect, not contained
    screen = out.decode()
    assert "bob rejected it: wrong phrase: it blocks refunds" in screen
    assert "Outcome: not-contained" in screen
    assert "Lever 'filter': rejected by bob: wrong phrase: it blocks refunds" in screen
    assert state.count("POST", "/guardrails") == 0
    events = journal(incidents, incident)
    (rejected,) = [e for e in events if e.type == "approval.rejected"]
    assert (rejected.operator, rejected.data["reason"]) == (
        "bob",
        "wrong phrase: it blocks refunds",
    )
    (closed,) = of_type(events, "approval.closed")
    assert closed["outcome"] == "rejected"
    assert not of_type(events, "lever.intent")
    late = run_aiir(["approve", incident, "filter"], {**env, "AIIR_OPERATOR": "carol"})
    assert late.returncode == 2
    assert b"no approval of it is pending" in late.stderr


def test_nobody_approving_in_time_is_journalled_as_a_timeout_and_nothing_is_engaged(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch, gateway: tuple[str, Gateway]
) -> None:
    """On the test's clock, which the walk's sleeps move: fifteen minutes pass at once."""
    from tests.respond import freeze
    from tests.support.clock import FakeClock

    no_terminal(monkeypatch)
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    clock = FakeClock()
    freeze(monkeypatch, clock)
    url, state = gateway
    incidents = tmp_path / "inc"
    answers = _answers(tmp_path, **{"contain.approve": "yes"})
    ran = aiir(
        capsys,
        "run",
        str(_runbook(tmp_path, min=1, timeout="15m")),
        "-a",
        str(answers),
        "--gateway",
        f"gateway={url}",
        "--incident-dir",
        str(incidents),
    )
    assert ran.status == 1, ran.err  # no decision answer: aborted, as a failed lever
    assert "Lever 'filter': timed out with 0 of 1 approvals" in ran.out
    (incident,) = [d.name for d in incidents.iterdir()]
    events = journal(incidents, incident)
    (closed,) = of_type(events, "approval.closed")
    assert closed["outcome"] == "timed-out"
    assert state.count("POST", "/guardrails") == 0
    assert not of_type(events, "lever.intent")
    assert sum(clock.slept) == pytest.approx(15 * 60)


def test_only_approvers_the_roster_gives_the_role_count(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    url, state = gateway
    workspace = write_workspace(tmp_path / "ws")
    incidents = tmp_path / "inc"
    env = process_env(incidents, AIIR_OPERATOR="alex", AIIR_WORKSPACE=str(workspace))
    answers = _answers(tmp_path, **{"contain.approve": "yes"})
    runbook = _runbook(tmp_path, min=1, roles=["security"])
    walker = subprocess.Popen(
        [*aiir_command(), "run", str(runbook), "-a", str(answers), "--gateway", f"gateway={url}"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        incident = _requested(incidents)
        kim = run_aiir(["approve", incident, "filter"], {**env, "AIIR_OPERATOR": "kim"})
        assert kim.returncode == 2
        assert (
            b"only security may approve; the team roster gives kim data-science, ml-engineering"
            in kim.stderr
        )
        sam = run_aiir(["approve", incident, "filter"], {**env, "AIIR_OPERATOR": "sam"})
        assert sam.returncode == 0, sam.stderr
        out, err = walker.communicate(timeout=60)
    finally:
        walker.kill()
    assert walker.returncode == 0, err
    assert (
        "people the team roster gives security (security: Sam Example @sam), not alex"
        in out.decode()
    )
    assert state.count("POST", "/guardrails") == 1
    (granted,) = of_type(journal(incidents, incident), "approval.granted")
    assert granted["roles"] == ["communications", "incident-commander", "security"]
    assert not verify(incidents / incident)


def test_answers_approve_only_in_practice(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch, gateway: tuple[str, Gateway]
) -> None:
    no_terminal(monkeypatch)
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    url, _ = gateway
    incidents = tmp_path / "inc"
    runbook = _runbook(tmp_path, min=2)
    answers = _answers(tmp_path, **{"contain.approvals": ["bob", "carol"]})
    real = aiir(
        capsys,
        "run",
        str(runbook),
        "-a",
        str(answers),
        "--gateway",
        f"gateway={url}",
        "--yes",
        "--incident-dir",
        str(incidents),
    )
    assert real.status == 2
    assert "contain.approvals: approvals from answers count only in practice" in real.err
    assert not incidents.exists()  # nothing was opened
    sandbox = aiir(
        capsys,
        "run",
        str(runbook),
        "-a",
        str(answers),
        "--sandbox",
        "--yes",
        "--incident-dir",
        str(incidents),
    )
    assert sandbox.status == 0, sandbox.err
    (incident,) = [d.name for d in incidents.iterdir()]
    events = journal(incidents, incident)
    granted = [e for e in events if e.type == "approval.granted"]
    assert [(e.data["by"], e.data["via"]) for e in granted] == [
        ("bob", "answers"),
        ("carol", "answers"),
    ]
    assert of_type(events, "approval.closed")[0]["outcome"] == "approved"
    assert (
        "Lever filter approved by bob (from the answers)"
        in aiir(capsys, "show", incident, "--incident-dir", str(incidents)).out
    )


def test_a_drill_scenario_supplies_the_approvals(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_terminal(monkeypatch)
    _runbook(tmp_path, min=2)
    answers: dict[str, Any] = {**DRILL_ANSWERS, "known": "no"}
    scenario: dict[str, Any] = {
        "aiir": 1,
        "scenario": "approved-filter",
        "title": "Two people approve the filter",
        "runbook": "rb.yaml",
        "answers": {**answers, "contain.approvals": ["bob", {"by": "carol"}]},
        "expect": {"levers": {"engaged": ["filter"]}},
    }
    write(tmp_path / "drill.yaml", scenario)
    ran = aiir(
        capsys, "drill", str(tmp_path / "drill.yaml"), "--incident-dir", str(tmp_path / "inc")
    )
    assert ran.status == 0, ran.out + ran.err
    rejecting = {
        **scenario,
        "answers": {
            **answers,
            "contain.approvals": [{"by": "bob", "reject": "not now"}],
        },
    }
    rejecting["expect"] = {"levers": {"engaged": []}}
    write(tmp_path / "reject.yaml", rejecting)
    ran = aiir(
        capsys, "drill", str(tmp_path / "reject.yaml"), "--incident-dir", str(tmp_path / "inc")
    )
    assert ran.status == 0, ran.out + ran.err
    both = [journal(tmp_path / "inc", d.name) for d in (tmp_path / "inc").iterdir()]
    (approved,) = [j for j in both if not of_type(j, "approval.rejected")]
    (rejected,) = [j for j in both if of_type(j, "approval.rejected")]
    assert [e["by"] for e in of_type(approved, "approval.granted")] == ["bob", "carol"]
    assert of_type(approved, "lever.engaged")[0]["ok"] is True
    (closed,) = of_type(rejected, "approval.closed")
    assert (closed["outcome"], closed["reason"]) == ("rejected", "rejected by bob: not now")
    assert not of_type(rejected, "lever.intent")


def test_an_approver_role_the_roster_lacks_and_a_minimum_of_zero_are_refused(
    tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = write_workspace(tmp_path / "ws", team=TEAM)
    no_terminal(monkeypatch, workspace)
    ran = aiir(capsys, "validate", str(_runbook(tmp_path, min=1, roles=["securty"])))
    assert ran.status == 2
    assert (
        "approver role 'securty' is not a role in the team file (did you mean 'security'"
        in ran.out + ran.err
    )
    ran = aiir(capsys, "validate", str(_runbook(tmp_path, min=0)))
    assert ran.status == 2
    assert "min" in ran.out + ran.err


def test_an_approval_after_a_rejection_is_refused_not_promised(
    tmp_path: Path, gateway: tuple[str, Gateway]
) -> None:
    """A rejection decides the request even before the walker closes it (the walker was killed
    waiting, or has not polled yet): an approval after it would be told "the walk engages it
    once enough approve", which it never will."""
    url, state = gateway
    incidents = tmp_path / "inc"
    env = process_env(incidents, AIIR_OPERATOR="alice")
    answers = _answers(tmp_path, **{"contain.approve": "yes", "contain.on_failure": "skip"})
    walker = subprocess.Popen(
        [
            *aiir_command(),
            "run",
            str(_runbook(tmp_path, min=2)),
            *("-a", str(answers), "--gateway", f"gateway={url}"),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        incident = _requested(incidents)
    finally:
        walker.kill()  # killed while it waits: nobody closes the request
        walker.wait()
    bob = run_aiir(
        ["reject", incident, "filter", "--reason", "blocks refunds"], env | {"AIIR_OPERATOR": "bob"}
    )
    assert bob.returncode == 0, bob.stderr
    carol = run_aiir(["approve", incident, "filter"], env | {"AIIR_OPERATOR": "carol"})
    assert carol.returncode == 2
    assert carol.stderr.decode() == (
        f"aiir: {incident} lever 'filter': bob rejected it (blocks refunds): it will not be "
        "engaged; nothing was recorded\n"
    )
    assert b"engages it" not in carol.stdout
    assert not of_type(journal(incidents, incident), "approval.granted")
    assert verify(incidents / incident) == []
    assert state.count("POST", "/guardrails") == 0

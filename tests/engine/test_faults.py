"""Gateway faults during a walk: handled, bounded in time, journalled, and offered to the operator.

Faults come from the loopback gateway in :mod:`tests.servers` (a real socket, a real HTTP client).
Sleeps for backoff and ``Retry-After`` go to a recording clock, so a test never waits for them;
timeouts are bounded by the request's own ``timeout``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from aiir.cli import main
from aiir.errors import ExitStatus
from aiir.incident.journal import JOURNAL, verify
from aiir.outbound.gateway import MAX_BODY
from aiir.respond.session import RunResult, start
from tests.incidents import (
    ANSWERS,
    MASTER_KEY,
    RecordingPrompter,
    SleepRecorder,
    containment_runbook,
    environment,
    fault_runbook,
    screen,
    write_answers,
    write_runbook,
)
from tests.servers import Fault, Gateway, serve_gateway

TIMEOUT = 0.3  # seconds, on every request of the fault runbook
STALL = 6.0  # seconds a stalled reply takes: far beyond TIMEOUT, so only a timeout ends it
BIG = 10 * 1024 * 1024
BIG_JSON = b'{"guardrail_id": "g-9", "blocked": true, "pad": "' + b"x" * BIG + b'"}'
TOO_LARGE = f"response of {len(BIG_JSON)} bytes is over the {MAX_BODY} kept: too large to check"
BACKOFF = [0.5, 1.0]  # two retries after the first attempt

# Where each kind of step sends its request, the event that carries its result, its node.
PATH = {"lever": "/guardrails", "action": "/key/block"}
EVENT = {"lever": "lever.engaged", "action": "action.result"}
NODE = {"lever": "contain", "action": "audit"}


@dataclass(frozen=True)
class Case:
    """A fault, and what the journal must say about the request it hit."""

    fault: Callable[[str], Fault] | None  # None: nothing listens on the gateway's port
    status: int | None
    reason: dict[str, str]  # by step kind: the exact reason (or its start, for "refused")
    sleeps: list[float] = field(default_factory=list)
    attempts: int = 3


def both(reason: str) -> dict[str, str]:
    return {"lever": reason, "action": reason}


PROBED = " (the verify probe shows it did not take effect)"


def probed(reason: str) -> dict[str, str]:
    """A failure after which the request may still have taken effect: a lever is probed."""
    return {"lever": reason + PROBED, "action": reason}


CASES = {
    "500": Case(
        lambda p: Fault(p, 500, times=3), 500, probed("status 500, expected 200: injected"), BACKOFF
    ),
    "503": Case(
        lambda p: Fault(p, 503, b"Service Unavailable", times=3),
        503,
        both("status 503, expected 200: Service Unavailable"),
        BACKOFF,
    ),
    "429-retry-after": Case(
        lambda p: Fault(p, 429, headers={"Retry-After": "7"}, times=3),
        429,
        both("status 429, expected 200: injected"),
        [7.0, 7.0],
    ),
    "429-retry-after-capped": Case(
        lambda p: Fault(p, 429, headers={"Retry-After": "3600"}, times=3),
        429,
        both("status 429, expected 200: injected"),
        [30.0, 30.0],
    ),
    "timeout": Case(
        lambda p: Fault(p, 200, delay=STALL, times=3),
        None,
        probed(f"timed out after {TIMEOUT}s"),
        BACKOFF,
    ),
    "refused": Case(None, None, both("connection failed: "), BACKOFF),
    "invalid-json": Case(
        lambda p: Fault(p, 200, b"<html>Bad gateway</html>", times=3),
        200,
        {
            "lever": "response has no 'guardrail_id' to save as 'guardrail_id'" + PROBED,
            "action": "blocked is None, expected True",
        },
        attempts=1,
    ),
    "10mb-body": Case(lambda p: Fault(p, 200, BIG_JSON), 200, probed(TOO_LARGE), attempts=1),
}
KINDS = [
    pytest.param(name, kind, id=f"{name}-{kind}")
    for name in CASES
    for kind in ("lever", "action")
    if not (name == "refused" and kind == "action")  # a closed port fails the lever first
]


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def arm(case: Case, kind: str, url: str, state: Gateway) -> str:
    """The gateway URL for a case: the server with its fault armed, or a port nobody listens on."""
    if case.fault is None:
        return closed_port_url()
    state.faults.append(case.fault(PATH[kind]))
    return url


def walk(
    tmp_path: Path,
    url: str,
    prompter: RecordingPrompter,
    clock: SleepRecorder,
    runbook: Path | None = None,
) -> tuple[RunResult, str, float]:
    """Walk a runbook (the fault runbook by default); the result, the screen, the seconds taken."""
    path = runbook or write_runbook(tmp_path, fault_runbook(timeout=TIMEOUT))
    with environment(tmp_path / "incidents", url, prompter, clock) as env:
        began = time.monotonic()
        result = start(path, env)
        return result, " ".join(screen(env).split()), time.monotonic() - began


def journal_line_sizes(result: RunResult) -> list[int]:
    return [len(line) for line in (result.incident.directory / JOURNAL).read_bytes().splitlines()]


# --- every fault, on a lever and on an action ----------------------------------------------------


@pytest.mark.parametrize(("name", "kind"), KINDS)
def test_a_fault_is_handled_journalled_and_offered_to_the_operator(
    name: str, kind: str, tmp_path: Path
) -> None:
    case = CASES[name]
    prompter, clock = RecordingPrompter(), SleepRecorder()
    with serve_gateway() as (url, state):
        result, shown, seconds = walk(tmp_path, arm(case, kind, url, state), prompter, clock)

    assert seconds < STALL  # bounded by the request timeout (three tries), and no real sleeping
    event = next(e for e in result.incident.events if e.type == EVENT[kind])
    reply = event.data["reply"]
    # An action's POST that may have taken effect (a 500, a timeout) is not sent again unseen.
    blind_once = kind == "action" and bool(reply.get("uncertain"))
    assert clock.sleeps == ([] if blind_once else case.sleeps)
    assert (event.data["ok"], reply["status"], reply["attempts"]) == (
        False,
        case.status,
        1 if blind_once else case.attempts,
    )
    assert reply["reason"].startswith(case.reason[kind])
    if name != "refused":
        assert reply["reason"] == case.reason[kind]
    # offered: the failure decision is asked; with no terminal and no answer, the walk aborts
    assert prompter.asked == [f"{NODE[kind]}.on_failure"]
    assert f"no terminal and no `{NODE[kind]}.on_failure` answer: aborting" in shown
    assert result.ended is not None
    assert result.ended.outcome == "failed"
    assert result.exit_status == ExitStatus.FAILED
    assert max(journal_line_sizes(result)) < 16_384  # a 10 MB body is never journalled whole
    assert verify(result.incident.directory) == []


@pytest.mark.parametrize("name", list(CASES))
def test_a_fault_through_the_cli_exits_1_without_a_traceback(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``aiir run`` with no terminal: the real console, the real clock (no retries, so no sleep)."""
    case = CASES[name]
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    runbook = write_runbook(tmp_path, fault_runbook(timeout=TIMEOUT, retries=0))
    with serve_gateway() as (url, state):
        args = ["run", str(runbook), "--gateway", f"gw={arm(case, 'lever', url, state)}", "--yes"]
        status = main([*args, "--incident-dir", str(tmp_path / "incidents")])
    captured = capsys.readouterr()
    output = " ".join((captured.out + captured.err).split())
    assert status == 1
    assert "Traceback" not in output
    assert "internal error" not in output
    assert case.reason["lever"] in output
    assert "no terminal and no `contain.on_failure` answer: aborting" in output
    assert "Outcome: failed" in output


# --- faults that clear -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "sleeps"),
    [
        (Fault("/guardrails", 503), [0.5]),
        (Fault("/guardrails", 429, headers={"Retry-After": "7"}), [7.0]),
        (
            Fault("/guardrails", 429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
            [0.5],
        ),
        (Fault("/guardrails", 200, delay=STALL), [0.5]),
    ],
    ids=["503", "429-retry-after", "429-retry-after-date", "timeout"],
)
def test_a_fault_that_clears_is_retried_without_asking(
    fault: Fault, sleeps: list[float], tmp_path: Path
) -> None:
    prompter, clock = RecordingPrompter(), SleepRecorder()
    with serve_gateway() as (url, state):
        state.faults.append(fault)
        result, _, _ = walk(tmp_path, url, prompter, clock)
        assert state.count("POST", "/guardrails") == 2
    assert clock.sleeps == sleeps
    assert prompter.asked == []
    engaged = next(e for e in result.incident.events if e.type == "lever.engaged")
    assert (engaged.data["ok"], engaged.data["reply"]["attempts"]) == (True, 2)
    assert [r.state for r in result.incident.levers] == ["verified"]
    assert result.exit_status == ExitStatus.OK


@pytest.mark.parametrize(
    "fault",
    [
        Fault("/guardrails", 200, delay=STALL, applied=True),
        Fault("/guardrails", 503, applied=True),
    ],
    ids=["timeout", "503"],
)
def test_a_failed_try_that_took_effect_is_not_engaged_again(fault: Fault, tmp_path: Path) -> None:
    """The gateway applied the engage but the reply failed: the probe sees it before a retry."""
    prompter, clock = RecordingPrompter(), SleepRecorder()
    with serve_gateway() as (url, state):
        state.faults.append(fault)
        result, shown, _ = walk(tmp_path, url, prompter, clock)
        assert state.count("POST", "/guardrails") == 1
        assert len(state.guardrails) == 1
    engaged = next(e for e in result.incident.events if e.type == "lever.engaged")
    assert (engaged.data["confirmed_by_verify"], engaged.data["lost"]) == (True, ["guardrail_id"])
    assert engaged.data["reply"]["attempts"] == 1
    assert "guardrail_id unknown; its release may need doing by hand" in shown
    assert [r.state for r in result.incident.levers] == ["verified"]
    assert prompter.asked == []
    assert clock.sleeps == [0.5]


# --- what the operator decides ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decision", "outcome", "sent", "guardrails"),
    [
        ("retry", "contained", 4, 1),  # three failed attempts, then one more that works
        ("skip", "contained", 3, 1),
        ("release", "aborted", 3, 0),  # the engaged filter is rolled back
        ("abort", "failed", 3, 1),  # levers stay as they are
    ],
)
def test_the_operators_decision_after_a_failed_action(
    decision: str, outcome: str, sent: int, guardrails: int, tmp_path: Path
) -> None:
    prompter, clock = RecordingPrompter({"audit.on_failure": decision}), SleepRecorder()
    with serve_gateway() as (url, state):
        # a 503 says the request was not taken, so the POST is retried before the operator is asked
        state.faults.append(Fault("/key/block", 503, times=3))
        result, _, _ = walk(tmp_path, url, prompter, clock)
        assert state.count("POST", "/key/block") == sent
        assert len(state.guardrails) == guardrails
    assert prompter.asked == ["audit.on_failure"]
    assert result.ended is not None
    assert result.ended.outcome == outcome
    assert result.exit_status == (ExitStatus.OK if outcome == "contained" else ExitStatus.FAILED)
    answers = [e.data for e in result.incident.events if e.type == "answer"]
    decided = [(a["key"], a["value"]) for a in answers if a["key"].endswith(".on_failure")]
    assert decided == [("audit.on_failure", decision)]
    assert verify(result.incident.directory) == []


def test_a_decision_from_an_answers_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    runbook = write_runbook(tmp_path, fault_runbook(timeout=TIMEOUT, retries=0))
    answers = write_answers(tmp_path, {"contain.on_failure": "skip"})
    with serve_gateway() as (url, state):
        state.faults.append(Fault("/guardrails", 503))
        args = ["run", str(runbook), "--answers", str(answers), "--gateway", f"gw={url}", "--yes"]
        status = main([*args, "--incident-dir", str(tmp_path / "incidents")])
        assert state.count("POST", "/key/block") == 1  # skipped on to the action
    # skipped, the lever holds nothing: the end's "contained" is not borne out, and it says so
    assert status == 1
    out = capsys.readouterr().out
    assert "Outcome: not-contained" in out
    assert "no lever is proven in effect (filter failed)" in out


# --- a huge capture ----------------------------------------------------------------------------------


def test_a_10_mb_capture_is_stored_cut_and_says_so(tmp_path: Path) -> None:
    prompter, clock = RecordingPrompter(ANSWERS), SleepRecorder()
    runbook = write_runbook(tmp_path, containment_runbook())
    with serve_gateway() as (url, state):
        state.faults.append(Fault("/spend/logs", 200, b"[" + b" " * BIG + b"]"))
        result, _, seconds = walk(tmp_path, url, prompter, clock, runbook)
    assert seconds < 10
    stored = next(e for e in result.incident.events if e.type == "capture.stored")
    evidence = stored.data["evidence"]
    assert (evidence["bytes"], evidence["truncated"]) == (BIG + 2, True)
    assert (result.incident.directory / evidence["file"]).stat().st_size == MAX_BODY
    assert max(journal_line_sizes(result)) < 16_384
    assert verify(result.incident.directory) == []
    assert result.exit_status == ExitStatus.OK


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (Fault("/key/block", 200, delay=STALL, times=3), "may have taken effect: timed out"),
        (Fault("/key/block", drop=True, times=3), "may have taken effect: connection lost"),
        (Fault("/key/block", 400, b'{"error": "bad key"}', times=3), "failed"),
    ],
    ids=["timeout", "dropped", "refused"],
)
def test_an_action_with_no_answer_is_said_to_maybe_have_taken_effect(
    fault: Fault, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refusal is a failure; a request that went out and got no answer may have been done."""
    prompter, clock = RecordingPrompter({"audit.on_failure": "skip"}), SleepRecorder()
    with serve_gateway() as (url, state):
        state.faults.append(fault)
        result, shown, _ = walk(tmp_path, url, prompter, clock)
    assert f"Action 'Block the key' {said}" in shown
    if said != "failed":
        assert "Action 'Block the key' failed" not in shown
    incidents = tmp_path / "incidents"
    capsys.readouterr()
    assert main(["report", result.incident.id, "--incident-dir", str(incidents)]) in (0, None)
    report = " ".join(capsys.readouterr().out.split())
    maybe = "Action audit: FAILED, it may have taken effect"
    assert (maybe in report) is (said != "failed"), report

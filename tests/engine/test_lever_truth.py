"""A lever is reported as what it is: engaged, failed or unknown, and never engaged twice.

The loopback gateway applies the engage and then answers badly: 200 with a body that is not
JSON while the lever saves a value from it, an answer after the timeout of the last try, a
connection dropped once the request has arrived, a reply dripping a byte at a time. Whenever the
effect of the last try is unknown, the verify probe decides; without one the state is
``unknown``, shown as possibly engaged and released on request.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from aiir.cli import main
from aiir.respond.session import RunResult, release, start
from tests.incidents import (
    MASTER_KEY,
    RecordingPrompter,
    environment,
    fault_runbook,
    screen,
    write_runbook,
)
from tests.servers import Fault, serve_gateway

TIMEOUT = 0.5


def one_lever(*, verify: bool = True, retries: int = 0) -> dict[str, Any]:
    """The fault runbook's filter lever alone (it saves guardrail_id from the engage reply)."""
    runbook = fault_runbook(timeout=TIMEOUT, retries=retries)
    runbook["nodes"] = {
        "contain": {"kind": "lever", "title": "Filter", "lever": "filter", "next": "done"},
        "done": {"kind": "end", "title": "Contained", "outcome": "contained"},
    }
    if not verify:
        del runbook["levers"]["filter"]["verify"]
    return runbook


def walk(
    tmp_path: Path, url: str, runbook: dict[str, Any], answers: dict[str, Any] | None = None
) -> RunResult:
    path = write_runbook(tmp_path, runbook)
    with environment(tmp_path / "incidents", url, RecordingPrompter(answers)) as env:
        return start(path, env)


def the_lever(result: RunResult) -> tuple[str, str]:
    (record,) = result.incident.levers
    return record.state, record.verdict


FAULTS = {
    "not-json-while-saving": Fault("/guardrails", 200, b"<html>ok</html>", applied=True),
    "answered-after-the-timeout": Fault("/guardrails", 200, delay=2 * TIMEOUT, applied=True),
    "connection-dropped-after-the-request": Fault("/guardrails", drop=True, applied=True),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_lever_that_took_effect_is_engaged_not_failed(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    with serve_gateway() as (url, state):
        state.faults.append(FAULTS[name])
        result = walk(tmp_path, url, one_lever())
        assert state.count("POST", "/guardrails") == 1
        assert the_lever(result)[0] == "verified"
        engaged = next(e for e in result.incident.events if e.type == "lever.engaged")
        assert engaged.data["confirmed_by_verify"] is True
        assert engaged.data["lost"] == ["guardrail_id"]  # the release needs it: said so
        assert result.ended is not None
        assert result.ended.outcome == "contained"
        # listed for release; the release cannot be built without the lost id: said, with
        # the request to make by hand, and the exit status says a lever is still engaged
        incidents = str(tmp_path / "incidents")
        status = main(["release", result.incident.id, "--yes", "--incident-dir", incidents])
    out = capsys.readouterr()
    shown = " ".join((out.out + out.err).split())
    assert status == 1
    assert "release request could not be built" in shown
    assert "undo it on the gateway by hand: DELETE" in shown
    assert "still engaged: filter" in shown
    assert "internal error" not in shown


def test_a_dropped_engage_that_did_not_take_effect_is_failed(tmp_path: Path) -> None:
    with serve_gateway() as (url, state):
        state.faults.append(Fault("/guardrails", drop=True, applied=False))
        result = walk(tmp_path, url, one_lever())
    state_, verdict = the_lever(result)
    assert state_ == "failed"
    assert "the verify probe shows it did not take effect" in verdict
    assert result.incident.needs_release() == []


def test_without_a_probe_the_state_is_unknown_possibly_engaged_and_released_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    runbook = one_lever(verify=False)
    runbook["levers"]["filter"]["release"] = {  # a release that needs nothing from the reply
        "method": "POST",
        "path": "/key/unblock",
        "json": {"key": "sk-attacker-0001"},
    }
    with serve_gateway() as (url, state):
        state.faults.append(Fault("/guardrails", drop=True, applied=True))
        result = walk(tmp_path, url, runbook, {"contain.on_failure": "skip"})
        assert the_lever(result)[0] == "unknown"
        assert "no verify probe to tell" in the_lever(result)[1]
        assert result.ended is not None
        assert result.ended.outcome == "not-contained"  # possibly engaged proves nothing
        incidents = str(tmp_path / "incidents")
        assert main(["show", result.incident.id, "--incident-dir", incidents]) in (0, None)
        shown = " ".join(capsys.readouterr().out.split())
        assert "unknown" in shown
        status = main(["release", result.incident.id, "--yes", "--incident-dir", incidents])
        assert status == 0
        assert state.count("POST", "/key/unblock") == 1
        assert state.count("POST", "/guardrails") == 1


def test_retry_over_an_unknown_state_probes_first_and_never_sends_twice(tmp_path: Path) -> None:
    with serve_gateway() as (url, state):
        # the engage takes effect and its connection drops; the first probe gets no answer
        # either (unknown), the second finds the filter in place: "retry" sends nothing
        state.faults.append(Fault("/guardrails", drop=True, applied=True))
        state.faults.append(Fault("/v1/chat/completions", drop=True))
        result = walk(tmp_path, url, one_lever(), {"contain.on_failure": "retry"})
        assert state.count("POST", "/guardrails") == 1
    states = [r.state for r in result.incident.levers]
    assert states == ["superseded", "verified"]
    assert result.ended is not None
    assert result.ended.outcome == "contained"


def test_a_dripping_reply_is_cut_at_the_requests_deadline(tmp_path: Path) -> None:
    with serve_gateway() as (url, state):
        body = b'{"guardrail_id": "g-1", "padding": "' + b"x" * 40 + b'"}'
        state.faults.append(Fault("/guardrails", 200, body, drip=0.5, applied=False))
        began = time.monotonic()
        result = walk(tmp_path, url, one_lever())
        took = time.monotonic() - began
    engaged = next(e for e in result.incident.events if e.type == "lever.engaged")
    assert engaged.data["reply"]["reason"].startswith(f"timed out after {TIMEOUT:g}s")
    assert took < 20  # the reply alone would take 30 s: the deadline holds the whole exchange


def test_a_long_retry_after_is_announced_when_there_is_no_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-master-test-0123456789")
    monkeypatch.setattr("aiir.environment.has_terminal", lambda: False)
    runbook = write_runbook(tmp_path, one_lever(retries=1))
    with serve_gateway() as (url, state):
        state.faults.append(Fault("/guardrails", 429, headers={"Retry-After": "1"}))
        args = ["run", str(runbook), "--gateway", f"gw={url}", "--yes"]
        main([*args, "--incident-dir", str(tmp_path / "incidents")])
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "status 429, expected 200: injected; waiting 1s as the gateway asked (Retry-After)" in out
    )
    assert "then try 2 of 2" in out


def test_release_goes_on_past_a_lever_it_cannot_release(tmp_path: Path) -> None:
    """Two levers; the newest cannot be released (its id was lost): the older one still is."""
    runbook = fault_runbook(timeout=TIMEOUT, retries=0)
    runbook["levers"]["block"] = {
        "title": "Block the key",
        "kind": "block",
        "engage": {"method": "POST", "path": "/key/block", "json": {"key": "sk-a-0001"}},
        "release": {"method": "POST", "path": "/key/unblock", "json": {"key": "sk-a-0001"}},
    }
    runbook["nodes"] = {
        "block": {"kind": "lever", "title": "Block", "lever": "block", "next": "contain"},
        "contain": {"kind": "lever", "title": "Filter", "lever": "filter", "next": "done"},
        "done": {"kind": "end", "title": "Contained", "outcome": "contained"},
    }
    runbook["start"] = "block"
    with serve_gateway() as (url, state):
        state.faults.append(Fault("/guardrails", 200, b"not json", applied=True))
        result = walk(tmp_path, url, runbook)
        with environment(tmp_path / "incidents", url, RecordingPrompter()) as env:
            after = release(result.incident.id, env)
        assert state.count("POST", "/key/unblock") == 1
    assert [(r.lever, r.state) for r in after.levers] == [
        ("block", "released"),
        ("filter", "verified"),
    ]


def test_a_probe_between_tries_finds_the_lever_in_place_and_ends_the_retries(
    tmp_path: Path,
) -> None:
    """The first try fails with a 500 yet took effect: the probe before the retry says so."""
    with serve_gateway() as (url, state):
        state.faults.append(Fault("/guardrails", 500, applied=True, times=1))
        result = walk(tmp_path, url, one_lever(retries=2))
        assert state.count("POST", "/guardrails") == 1  # probed before the retry: in place
    assert the_lever(result)[0] == "verified"


NO_ANSWER = {
    "500": Fault("/guardrails", 500, applied=True),
    "dropped": Fault("/guardrails", drop=True, applied=True),
    "timed-out": Fault("/guardrails", 200, delay=2 * TIMEOUT, applied=True),
}


@pytest.mark.parametrize("name", list(NO_ANSWER))
def test_without_a_probe_a_try_that_may_have_taken_effect_is_not_sent_again(
    name: str, tmp_path: Path
) -> None:
    """Retries left, no verify probe: a second engage could apply the lever twice (a second
    guardrail), so the walk stops at the first and says the state is unknown."""
    with serve_gateway() as (url, state):
        state.faults.append(NO_ANSWER[name])
        result = walk(
            tmp_path, url, one_lever(verify=False, retries=2), {"contain.on_failure": "skip"}
        )
        assert state.count("POST", "/guardrails") == 1
    state_, verdict = the_lever(result)
    assert state_ == "unknown"
    assert "no verify probe to tell" in verdict


def test_a_probe_that_cannot_tell_between_tries_stops_the_retries(tmp_path: Path) -> None:
    """The engage took effect and dropped; the probe before the retry gets no answer either:
    the engage is not sent again on a guess, and the lever's state is unknown."""
    with serve_gateway() as (url, state):
        state.faults.append(Fault("/guardrails", drop=True, applied=True))
        state.faults.append(Fault("/v1/chat/completions", drop=True, times=2))
        result = walk(tmp_path, url, one_lever(retries=2), {"contain.on_failure": "skip"})
        assert state.count("POST", "/guardrails") == 1
    state_, verdict = the_lever(result)
    assert state_ == "unknown"
    assert "the verify probe cannot tell" in verdict


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Fault("/v1/chat/completions", drop=True, times=3), id="probe-dropped"),
        pytest.param(Fault("/v1/chat/completions", 500, times=3), id="probe-500"),
    ],
)
def test_a_verify_probe_with_no_answer_leaves_the_lever_engaged_unverified(
    fault: Fault, tmp_path: Path
) -> None:
    """The engage said yes; its probe got no answer: that is no verdict, not "NOT effective"."""
    with serve_gateway() as (url, state):
        state.faults.append(fault)
        result = walk(tmp_path, url, one_lever(), {"contain.on_failure": "skip"})
    state_, verdict = the_lever(result)
    assert state_ == "engaged"
    assert verdict.startswith("engaged, not verified: cannot verify: the verify probe got ")
    assert "NOT effective" not in verdict
    assert result.ended is not None
    assert result.ended.outcome == "not-contained"  # engaged, not proven: not contained


@pytest.mark.parametrize("applied", [True, False], ids=["took-effect", "did-not"])
def test_a_release_whose_answer_was_lost_is_settled_by_the_verify_probe(
    applied: bool, tmp_path: Path
) -> None:
    """The release's connection drops once it is sent. Taken effect: the probe no longer passes,
    the lever is released (not 'release failed' over a guardrail that is gone). Not taken: the
    probe still passes and the release is sent again."""
    with serve_gateway() as (url, state):
        result = walk(tmp_path, url, one_lever(retries=2))
        assert the_lever(result)[0] == "verified"
        state.faults.append(Fault("/guardrails/g-1", drop=True, applied=applied))
        with environment(tmp_path / "incidents", url, RecordingPrompter()) as env:
            after = release(result.incident.id, env)
        assert state.guardrails == {}
        assert state.count("DELETE", "/guardrails/g-1") == (1 if applied else 2)
    (record,) = after.levers
    assert (record.state, record.verdict) == ("released", "released")
    lines = (after.directory / "journal.jsonl").read_text().splitlines()
    released = next(e for e in map(json.loads, lines) if e["type"] == "lever.released")
    assert released["data"]["ok"] is True
    if applied:
        assert released["data"]["reply"]["reason"].endswith(
            "; the verify probe no longer passes: released"
        )


def test_the_wait_before_a_retry_says_the_probe_comes_first(tmp_path: Path) -> None:
    """After a try that may have taken effect, the note says the probe runs before the retry
    (the retry may never come: the probe may find the lever in place)."""
    with serve_gateway() as (url, state):
        state.faults.append(Fault("/guardrails", 500, times=2))
        path = write_runbook(tmp_path, one_lever(retries=2))
        with environment(tmp_path / "incidents", url, RecordingPrompter()) as env:
            result = start(path, env)
            shown = " ".join(screen(env).split())
        assert state.count("POST", "/guardrails") == 3  # the probe said: not in effect
    assert the_lever(result)[0] == "verified"
    assert "waiting 1s before retrying, then checking whether it took effect before try 3 of 3" in (
        shown
    )


def test_an_unanswered_probe_asks_the_operator_and_a_retry_probes_before_engaging(
    tmp_path: Path,
) -> None:
    """Engaged, its probe without an answer: not proven, so the operator is asked. "retry"
    probes first; the lever is in place, so nothing is engaged a second time."""
    prompter = RecordingPrompter({"contain.on_failure": "retry"})
    with serve_gateway() as (url, state):
        state.faults.append(Fault("/v1/chat/completions", drop=True, times=3))
        path = write_runbook(tmp_path, one_lever())
        with environment(tmp_path / "incidents", url, prompter) as env:
            result = start(path, env)
        assert state.count("POST", "/guardrails") == 1
    assert "contain.on_failure" in prompter.asked
    assert [r.state for r in result.incident.levers] == ["superseded", "verified"]
    assert result.ended is not None
    assert result.ended.outcome == "contained"

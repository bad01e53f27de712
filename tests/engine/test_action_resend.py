"""An action whose request went out and got no answer may have taken effect: a POST or PATCH is
not sent again unseen (the operator, an answers file or the runbook's on_failure decides), while
a request the runbook calls ``idempotent`` (or a GET, PUT, DELETE) is retried as before.

Real loopback gateway (tests.servers) counting the requests that arrive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aiir.incident.journal import verify
from aiir.respond.session import start
from tests.incidents import (
    RecordingPrompter,
    SleepRecorder,
    environment,
    fault_runbook,
    screen,
    write_runbook,
)
from tests.servers import Fault, serve_gateway

TIMEOUT = 0.3
STALL = 3.0


def _walk(tmp_path: Path, fault: Fault, answer: str, **options: Any) -> tuple[Any, str, int]:
    prompter, clock = RecordingPrompter({"audit.on_failure": answer}), SleepRecorder()
    path = write_runbook(tmp_path, fault_runbook(timeout=TIMEOUT, **options))
    with serve_gateway() as (url, state):
        state.faults.append(fault)
        with environment(tmp_path / "incidents", url, prompter, clock) as env:
            result = start(path, env)
            shown = " ".join(screen(env).split())
        return result, shown, state.count("POST", "/key/block")


@pytest.mark.parametrize(
    "fault",
    [
        Fault("/key/block", 500, times=1),
        Fault("/key/block", 502, times=1),
        Fault("/key/block", 504, times=1),
        Fault("/key/block", drop=True, times=1),
        Fault("/key/block", 200, delay=STALL, times=1),
    ],
    ids=["500", "502", "504", "dropped", "timeout"],
)
def test_a_post_with_a_lost_answer_is_sent_once_and_the_operator_is_told(
    fault: Fault, tmp_path: Path
) -> None:
    result, shown, sent = _walk(tmp_path, fault, "skip")
    assert sent == 1  # not re-sent blind: it may have blocked the key already
    assert "Action 'Block the key' may have taken effect" in shown
    event = next(e for e in result.incident.events if e.type == "action.result")
    assert event.data["ok"] is False
    assert event.data["reply"]["uncertain"] is True
    assert event.data["reply"]["attempts"] == 1
    assert result.ended is not None
    assert result.ended.outcome == "contained"
    assert verify(result.incident.directory) == []


def test_the_operator_choosing_retry_sends_it_once_more(tmp_path: Path) -> None:
    result, _, sent = _walk(tmp_path, Fault("/key/block", 500, times=1), "retry")
    assert sent == 2  # the first (lost) try, then the one the operator asked for
    assert result.ended is not None
    assert result.ended.outcome == "contained"


def test_an_idempotent_request_is_retried_after_a_lost_answer(tmp_path: Path) -> None:
    result, _, sent = _walk(tmp_path, Fault("/key/block", 500, times=1), "abort", idempotent=True)
    assert sent == 2  # 500, then the automatic retry that succeeds
    assert result.ended is not None
    assert result.ended.outcome == "contained"


def test_a_post_refused_with_503_is_still_retried(tmp_path: Path) -> None:
    """A 503 says the request was not taken: retrying cannot do it twice."""
    result, _, sent = _walk(tmp_path, Fault("/key/block", 503, times=1), "abort")
    assert sent == 2
    assert result.ended is not None
    assert result.ended.outcome == "contained"

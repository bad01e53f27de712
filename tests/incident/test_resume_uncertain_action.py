"""Killed after an action's POST got a 500 (it may have taken effect) was journalled, before the
operator decided: the resume asks again with the same truth on screen ("may have taken effect"),
never a plain "failed", and sends nothing again unless the operator says retry."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.incident.test_resume_kill import (  # noqa: F401 (fixtures used by name)
    APPEND,
    fork_server,
    gateway,
    kill_and_resume,
    reference_walk,
)
from tests.incidents import ANSWERS, fault_runbook
from tests.servers import Fault, Gateway


@pytest.mark.parametrize(("decision", "sends"), [("skip", 1), ("retry", 2)])
def test_a_resumed_uncertain_action_is_said_to_maybe_have_taken_effect(
    decision: str,
    sends: int,
    tmp_path: Path,
    gateway: tuple[str, Gateway],  # noqa: F811
) -> None:
    url, state = gateway
    runbook = fault_runbook()
    answers = {k: v for k, v in ANSWERS.items() if k in runbook["nodes"]}
    after_result = reference_walk(runbook, answers).events.index("action.result") + 1
    answers["audit.on_failure"] = decision
    state.faults.append(Fault("/key/block", 500, times=1))
    incident, resumed = kill_and_resume(tmp_path, url, (APPEND, after_result), runbook, answers)
    shown = " ".join(resumed.stdout.split())
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Action 'Block the key' may have taken effect: status 500" in shown
    assert "Action 'Block the key' failed" not in shown
    assert state.count("POST", "/key/block") == sends
    assert incident.outcome == "contained"

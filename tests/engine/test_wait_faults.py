"""A wait node whose gateway fails mid-way (a dropped connection, a 500, a drip past the timeout):
each failed poll is "not yet", never "held"; the wait goes on to its deadline, and the journal
says how it ended. Real loopback receiver (tests.receiver) counting the polls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aiir.incident.events import EventType
from tests.engine.test_wait import PENDING, READY, waiting
from tests.helpers import write
from tests.receiver import Answer, Receiver
from tests.respond import aiir, incident_id, journal, of_type
from tests.support.clock import FakeClock

Capture = pytest.CaptureFixture[str]
DROPPED = Answer(200, b"", drop=True)
BROKEN = Answer(500, b'{"error": "upstream"}', {"content-type": "application/json"})
# ready, but the body drips far past the poll's timeout: not proof that it held
DRIPPED = Answer(200, b'{"state": "ready"}', {"content-type": "application/json"}, drip=0.5)


def _runbook(url: str, deadline: str) -> dict[str, Any]:
    runbook = waiting(url, deadline)
    request = runbook["nodes"]["e2e"]["request"]
    request.update({"timeout": 1, "retries": 0})
    return runbook


def test_failed_polls_are_not_yet_and_the_wait_holds_once_ready(
    capsys: Capture, tmp_path: Path, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.queue("/e2e", PENDING, DROPPED, BROKEN, READY)
    write(tmp_path / "wait.yaml", _runbook(receiver.url, "5m"))
    ran = aiir(capsys, "run", str(tmp_path / "wait.yaml"))
    assert ran.status == 0, ran.out + ran.err
    assert len(receiver.to("/e2e")) == 4
    assert "held after 4 poll(s)" in ran.out
    events = journal(tmp_path / "incidents", incident_id())
    [ended] = of_type(events, EventType.WAIT_ENDED)
    assert (ended["ok"], ended["polls"]) == (True, 4)


def test_a_gateway_that_stops_answering_ends_at_the_deadline_not_held(
    capsys: Capture, tmp_path: Path, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.queue("/e2e", PENDING, DRIPPED, *[DROPPED] * 20)
    write(tmp_path / "wait.yaml", _runbook(receiver.url, "1m"))
    ran = aiir(capsys, "run", str(tmp_path / "wait.yaml"))
    assert ran.status == 0, ran.out + ran.err
    assert "held after" not in ran.out
    assert "did not hold by the deadline (1m)" in ran.out
    events = journal(tmp_path / "incidents", incident_id())
    [ended] = of_type(events, EventType.WAIT_ENDED)
    assert (ended["ok"], ended["timed_out"]) == (False, True)
    assert of_type(events, EventType.INCIDENT_ENDED)[0]["outcome"] == "escalated"

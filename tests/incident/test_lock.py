"""The incident lock on its own, and incident directories made exclusively.

The lock between real processes (racing resumes, a holder killed with SIGKILL) is proved in
``tests/incident/test_resume_kill.py``; here one process takes it twice, which ``flock`` refuses alike.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from pathlib import Path

import pytest

from aiir.incident.journal import JOURNAL, read_events, verify
from aiir.incident.lock import LOCK, IncidentLock, IncidentLocked
from aiir.incident.state import new_incident
from aiir.respond.session import start
from tests.incidents import (
    ANSWERS,
    RecordingPrompter,
    containment_runbook,
    environment,
    write_runbook,
)
from tests.servers import serve_gateway
from tests.support.clock import FakeClock

SINCE = "2026-11-27T03:15:00.000Z"
NOW = dt.datetime(2026, 11, 27, 3, 15, 2, tzinfo=dt.UTC)


def test_a_held_lock_is_refused_naming_its_holder(tmp_path: Path) -> None:
    with IncidentLock(tmp_path, "INC-1", "alice", SINCE):
        second = IncidentLock(tmp_path, "INC-1", "bob", SINCE)
        with pytest.raises(IncidentLocked) as refused:
            second.acquire()
    assert str(refused.value) == (
        f"incident INC-1 is being walked by alice (pid {os.getpid()} on host "
        f"{socket.gethostname()}) since {SINCE}: wait for it or stop it"
    )
    assert refused.value.exit_status == 2
    assert not second.held


def test_a_clean_release_leaves_no_name_and_the_next_holder_takes_over_nothing(
    tmp_path: Path,
) -> None:
    with IncidentLock(tmp_path, "INC-1", "alice", SINCE):
        held = json.loads((tmp_path / LOCK).read_bytes())
        assert held == {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "operator": "alice",
            "since": SINCE,
            "doing": "walked",
        }
    assert (tmp_path / LOCK).read_bytes() == b""
    with IncidentLock(tmp_path, "INC-1", "bob", SINCE) as again:
        assert again.taken_over is None


def test_a_name_left_behind_is_a_walker_that_died_and_is_taken_over(tmp_path: Path) -> None:
    dead = {"pid": 2**22 + 17, "host": socket.gethostname(), "operator": "eve", "since": SINCE}
    (tmp_path / LOCK).write_text(json.dumps(dead))
    with IncidentLock(tmp_path, "INC-1", "bob", SINCE) as lock:
        assert lock.taken_over is not None
        assert (
            lock.taken_over.describe()
            == f"eve (pid {dead['pid']} on host {dead['host']}) since {SINCE}"
        )
        assert json.loads((tmp_path / LOCK).read_bytes())["operator"] == "bob"


@pytest.fixture
def same_draw(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every id drawn in the same second, the random part twice the same, then another."""
    draws = ["a3f9", "a3f9", "a3f9", "77c1"]
    drawn: list[str] = []

    def token_hex(_: int) -> str:
        drawn.append(draws[min(len(drawn), len(draws) - 1)])
        return drawn[-1]

    monkeypatch.setattr("aiir.incident.state.secrets.token_hex", token_hex)
    return drawn


def test_a_taken_id_is_drawn_again(tmp_path: Path, same_draw: list[str]) -> None:
    first, first_dir = new_incident(tmp_path, NOW)
    second, second_dir = new_incident(tmp_path, NOW)
    assert (first, second) == ("INC-20261127-031502-a3f9", "INC-20261127-031502-77c1")
    assert first_dir != second_dir
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first, second])


def test_two_incidents_opened_in_the_same_second_never_share_a_directory(
    tmp_path: Path, same_draw: list[str]
) -> None:
    runbook = write_runbook(tmp_path, containment_runbook())
    incidents = tmp_path / "incidents"
    opened = []
    with serve_gateway() as (url, _):
        for _ in range(2):
            prompter = RecordingPrompter(ANSWERS)
            with environment(incidents, url, prompter) as env:
                env.clock = FakeClock(NOW, sleeps_move=False)
                opened.append(start(runbook, env).incident)
    assert [i.id for i in opened] == ["INC-20261127-031502-a3f9", "INC-20261127-031502-77c1"]
    for incident in opened:
        events, problems = read_events(incident.directory / JOURNAL)
        assert problems == []
        assert events[0].data["id"] == incident.id
        assert verify(incident.directory) == []

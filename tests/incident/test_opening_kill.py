"""``aiir run`` killed with SIGKILL while it opens an incident, before the incident exists.

An incident is opened under ``.opening`` and moved into place with its first journal line
(:mod:`aiir.incident.opening`). A kill before that line leaves no incident behind, so nothing is
listed as tampered; a kill between the line and the move leaves an incident that was opened,
moved into place by the next open and resumed like any other.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiir.incident.journal import verify
from aiir.incident.opening import OPENING, staged_incident
from tests.forkserver import ForkServer
from tests.incidents import (
    ANSWERS,
    MASTER_KEY,
    containment_runbook,
    write_answers,
    write_runbook,
)
from tests.servers import serve_gateway

AFTER_SNAPSHOT = ("aiir.incident.journal.Journal._store", 1)  # the runbook copy kept
AFTER_LOCK = ("aiir.incident.lock.IncidentLock.acquire", 1)  # the folder made and locked
AFTER_FIRST_LINE = ("aiir.incident.journal.Journal._write", 1)  # written, not yet moved


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    forks = ForkServer(tmp_path_factory.mktemp("fork-server"))
    yield forks
    forks.close()


def _environ(incidents: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "AIIR_INCIDENT_DIR": str(incidents),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }


def _incidents(path: Path) -> list[str]:
    return sorted(d.name for d in path.iterdir() if not d.name.startswith("."))


def _run(server: ForkServer, tmp_path: Path, url: str, kill: tuple[str, int] | None) -> int | None:
    runbook = write_runbook(tmp_path, containment_runbook())
    answers = write_answers(tmp_path, ANSWERS)
    argv = ["run", str(runbook), "--gateway", f"gw={url}", "--answers", str(answers), "--yes"]
    incidents = tmp_path / "incidents"
    return server.run(argv, _environ(incidents), cwd=tmp_path, kill=kill).returncode


def _age(folder: Path) -> None:
    old = time.time() - 3600
    for entry in folder.iterdir():
        os.utime(entry, (old, old))


@pytest.mark.parametrize("kill", [AFTER_LOCK, AFTER_SNAPSHOT], ids=["after-lock", "after-copy"])
def test_a_walk_killed_before_its_first_line_leaves_no_incident(
    server: ForkServer, tmp_path: Path, kill: tuple[str, int]
) -> None:
    incidents = tmp_path / "incidents"
    with serve_gateway() as (url, gateway):
        assert _run(server, tmp_path, url, kill) == -signal.SIGKILL
        assert gateway.calls == []
        assert _incidents(incidents) == []  # no folder with a runbook copy and no journal
        listed = server.run(["incidents"], _environ(incidents), cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert "TAMPERED" not in listed.stdout + listed.stderr
        (left,) = (incidents / OPENING).iterdir()

        _age(incidents / OPENING)  # long dead: the next open clears what it left
        assert _run(server, tmp_path, url, None) == 0
    assert not left.exists()
    (incident,) = _incidents(incidents)
    assert verify(incidents / incident) == []
    assert not (incidents / OPENING).exists()  # removed once no incident is opening


def test_an_opening_still_taking_its_lock_is_not_cleared(
    server: ForkServer, tmp_path: Path
) -> None:
    incidents = tmp_path / "incidents"
    with serve_gateway() as (url, _):
        assert _run(server, tmp_path, url, AFTER_SNAPSHOT) == -signal.SIGKILL
        (left,) = (incidents / OPENING).iterdir()
        assert _run(server, tmp_path, url, None) == 0  # it is too young to tell from one starting
    assert left.exists()
    assert len(_incidents(incidents)) == 1


def test_a_walk_killed_after_its_first_line_is_moved_into_place_and_resumes(
    server: ForkServer, tmp_path: Path
) -> None:
    incidents = tmp_path / "incidents"
    with serve_gateway() as (url, gateway):
        assert _run(server, tmp_path, url, AFTER_FIRST_LINE) == -signal.SIGKILL
        (left,) = (incidents / OPENING).iterdir()
        assert _run(server, tmp_path, url, None) == 0  # its lock is free: it was opened
        assert left.name in _incidents(incidents)
        assert verify(incidents / left.name) == []
        resumed = server.run(
            ["resume", left.name, "--answers", str(tmp_path / "answers.yaml"), "--yes"],
            _environ(incidents),
            cwd=tmp_path,
        )
        assert resumed.returncode == 0, resumed.stderr
    assert len(_incidents(incidents)) == 2
    assert gateway.count("POST", "/guardrails") == 2  # one a walk: each lever once


def test_an_id_an_incident_has_is_drawn_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    draws = iter(["a3f9", "a3f9", "77c1"])
    monkeypatch.setattr("aiir.incident.state.secrets.token_hex", lambda _: next(draws))
    now = dt.datetime(2026, 11, 27, 3, 15, 2, tzinfo=dt.UTC)
    (tmp_path / "INC-20261127-031502-a3f9").mkdir()  # an incident opened in the same second
    (tmp_path / "INC-20261127-031502-a3f9" / "journal.jsonl").write_bytes(b"{}\n")
    first, staged = staged_incident(tmp_path, now)
    assert first == "INC-20261127-031502-77c1"
    assert staged == tmp_path / OPENING / first

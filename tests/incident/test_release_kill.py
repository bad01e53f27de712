"""``aiir release`` killed with SIGKILL right after each release request, then run again.

The release went out and took effect; only its ``lever.released`` line died with the process. The
second ``aiir release`` sends it again, and a release that is not idempotent (a guardrail deleted
by its id) is refused the second time. The lever's verify probe tells the truth: it no longer
passes, so the lever is released, not "still engaged". Real processes, a real SIGKILL, a real
loopback gateway (see ``tests/incident/test_resume_kill.py`` for the walk's kill points).
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiir.incident.journal import verify
from aiir.incident.state import load_incident
from tests.forkserver import ForkServer
from tests.incidents import ANSWERS, MASTER_KEY, containment_runbook, write_answers, write_runbook
from tests.servers import Gateway, serve_gateway

SEND = "aiir.outbound.sending.Sender.send"
RELEASES = [
    ("DELETE", "/fallback/support-bot"),
    ("POST", "/key/unblock"),
    ("DELETE", "/guardrails/g-1"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    forks = ForkServer(tmp_path_factory.mktemp("fork-server"))
    yield forks
    forks.close()


def walked(server: ForkServer, tmp_path: Path, url: str) -> tuple[Path, str]:
    """The containment runbook walked to its end: three levers engaged and verified."""
    path = write_runbook(tmp_path, containment_runbook())
    flags = ["--answers", str(write_answers(tmp_path, ANSWERS)), "--yes"]
    incidents = tmp_path / "incidents"
    done = aiir(server, ["run", str(path), "--gateway", f"gw={url}", *flags], incidents)
    assert done.returncode == 0, done.stdout + done.stderr
    (directory,) = incidents.iterdir()
    return incidents, directory.name


def aiir(
    server: ForkServer, args: list[str], incidents: Path, kill: tuple[str, int] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "AIIR_INCIDENT_DIR": str(incidents),
        "NO_COLOR": "1",
        "COLUMNS": "120",
    }
    return server.run(args, environ, cwd=incidents.parent, kill=kill)


@pytest.mark.parametrize("nth", range(1, len(RELEASES) + 1))
def test_a_release_killed_after_its_request_is_released_when_run_again(
    nth: int, server: ForkServer, tmp_path: Path
) -> None:
    with serve_gateway() as (url, gateway):
        incidents, incident_id = walked(server, tmp_path, url)
        before = len(gateway.calls)
        killed = aiir(server, ["release", incident_id, "--yes"], incidents, (SEND, nth))
        assert killed.returncode == -signal.SIGKILL
        sent = [(m, p) for m, p, _, _ in gateway.calls[before:]]
        assert sent == RELEASES[:nth]
        again = aiir(server, ["release", incident_id, "--yes"], incidents)
    out = again.stdout + again.stderr
    assert again.returncode == 0, out
    assert "still engaged" not in out
    assert "Traceback" not in out
    assert_released(gateway, incidents, incident_id)
    if nth == len(RELEASES):  # the guardrail's second DELETE is refused: its probe settles it
        assert "the verify probe no longer passes: the lever is not in effect" in " ".join(
            out.split()
        )


def assert_released(gateway: Gateway, incidents: Path, incident_id: str) -> None:
    assert (gateway.guardrails, gateway.blocked, gateway.fallbacks) == ({}, set(), {})
    incident = load_incident(incidents, incident_id)
    assert [(r.lever, r.state) for r in incident.levers] == [
        ("filter", "released"),
        ("block", "released"),
        ("reroute", "released"),
    ]
    assert incident.needs_release() == []
    assert verify(incident.directory) == []


def test_a_release_after_a_line_cut_short_sets_it_aside_and_releases(
    server: ForkServer, tmp_path: Path
) -> None:
    """The walker died writing a line (a SIGKILL stops a write of more than a page between
    pages): ``aiir release`` sets the unfinished line aside and releases every lever."""
    with serve_gateway() as (url, gateway):
        incidents, incident_id = walked(server, tmp_path, url)
        journal = incidents / incident_id / "journal.jsonl"
        size = journal.stat().st_size
        with open(journal, "ab") as appended:
            appended.write(b'{"data":{"text":"' + "é".encode() * 3000)
        released = aiir(server, ["release", incident_id, "--yes"], incidents)
    out = released.stdout + released.stderr
    assert released.returncode == 0, out
    assert "the journal's last line was cut short" in " ".join(out.split())
    assert (incidents / incident_id / "evidence" / f"journal-cut-at-{size}.part").is_file()
    assert_released(gateway, incidents, incident_id)

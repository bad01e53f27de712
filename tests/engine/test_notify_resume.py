"""A walker killed (SIGKILL) while a message is on its way, then resumed: the message is not
posted twice unless the operator says so.

Slack and Teams webhooks have no idempotency key: a resume that finds a message's
``notify.intent`` without its ``notify.sent`` says it may have been delivered and sends it again
only on the operator's word (``NODE.resend``). PagerDuty (its dedup key) and a webhook (the same
``Idempotency-Key``) are sent again as one. The receiver is a real loopback server living in the
test's process, so it counts arrivals across the killed process and its resume.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiir.incident.events import EventType
from aiir.incident.journal import verify
from aiir.incident.state import Incident, load_incident
from tests.forkserver import ForkServer
from tests.helpers import write
from tests.incidents import write_answers, write_runbook
from tests.receiver import Answer, Received, Receiver, serve_receiver

PATHS = {
    "slack": "/services/T000/B000/notifysecret",
    "teams": "/workflows/abc/triggers/manual/run",
    "webhook": "/hooks/aiir",
    "pagerduty": "/v2/enqueue",
}
SENDERS = {
    "slack": "slack",
    "teams": "teams",
    "webhook": "webhook",
    "pagerduty": "trigger",
}
WORKSPACE = {
    "aiir": 1,
    "workspace": "acme",
    "channels": {
        "slack": {"webhook_env": "T_SLACK"},
        "teams": {"webhook_env": "T_TEAMS"},
        "webhook": {"url_env": "T_HOOK"},
        "pagerduty": {"routing_key_env": "T_PD"},
    },
}


def runbook(channel: str) -> dict[str, Any]:
    return {
        "aiir": 1,
        "id": "tell",
        "title": "Tell the team",
        "owner": "security",
        "severity": "SEV2",
        "tags": {"owasp": ["LLM01:2025"]},
        "start": "tell",
        "nodes": {
            "tell": {
                "kind": "notify",
                "title": "Tell the team",
                "channel": channel,
                "message": "We are on it.",
                "next": "done",
            },
            "done": {"kind": "end", "title": "Done", "outcome": "false-positive"},
        },
    }


@pytest.fixture(scope="module")
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    server = ForkServer(tmp_path_factory.mktemp("fork-server"))
    yield server
    server.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as served:
        yield served


def _environ(root: Path, receiver: Receiver) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("AIIR_")}
    return {
        **kept,
        "AIIR_INCIDENT_DIR": str(root / "incidents"),
        "AIIR_PAGERDUTY_URL": receiver.url + PATHS["pagerduty"],
        "T_SLACK": receiver.url + PATHS["slack"],
        "T_TEAMS": receiver.url + PATHS["teams"],
        "T_HOOK": receiver.url + PATHS["webhook"],
        "T_PD": "R0UT1NGKEY0123456789abcdef012345",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }


def _setup(root: Path, channel: str) -> Path:
    write(root / "aiir.yaml", WORKSPACE)
    return write_runbook(root, runbook(channel))


def _only(root: Path) -> Incident:
    (directory,) = (root / "incidents").iterdir()
    return load_incident(directory.parent, directory.name)


def _posts(receiver: Receiver, channel: str) -> list[Received]:
    sent = receiver.to(PATHS[channel])
    if channel == "pagerduty":  # the resolve at the end is not the page
        return [r for r in sent if r.json().get("event_action") == "trigger"]
    return sent


def _killed_after_arrival(
    server: ForkServer, root: Path, receiver: Receiver, channel: str
) -> subprocess.CompletedProcess[str]:
    """``aiir run`` killed right after the receiver answered, before ``notify.sent``."""
    path = _setup(root, channel)
    target = f"aiir.outbound.notify.Notifier.{SENDERS[channel]}"
    killed = server.run(
        ["run", str(path), "--yes"], _environ(root, receiver), cwd=root, kill=(target, 1)
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert len(_posts(receiver, channel)) == 1
    types = [e.type for e in _only(root).events]
    assert EventType.NOTIFY_INTENT in types
    assert EventType.NOTIFY_SENT not in types
    return killed


def _resume(
    server: ForkServer, root: Path, receiver: Receiver, *extra: str
) -> subprocess.CompletedProcess[str]:
    incident = _only(root)
    return server.run(["resume", incident.id, "--yes", *extra], _environ(root, receiver), cwd=root)


@pytest.mark.parametrize("channel", ["slack", "teams"])
def test_a_post_that_arrived_before_the_kill_is_not_posted_again_on_resume(
    fork_server: ForkServer, tmp_path: Path, receiver: Receiver, channel: str
) -> None:
    _killed_after_arrival(fork_server, tmp_path, receiver, channel)
    resumed = _resume(fork_server, tmp_path, receiver)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert len(_posts(receiver, channel)) == 1
    assert "may have been delivered" in resumed.stdout
    assert "✓ sent" not in resumed.stdout
    incident = _only(tmp_path)
    (sent,) = [e for e in incident.events if e.type == EventType.NOTIFY_SENT]
    assert sent.data["ok"] is False
    assert sent.data["uncertain"] is True
    assert incident.outcome == "false-positive"
    assert verify(incident.directory) == []
    shown = fork_server.run(["show", incident.id], _environ(tmp_path, receiver), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Sending message to " + channel in shown.stdout
    assert "may have been" in shown.stdout
    # A second resume of the ended incident sends nothing either.
    _resume(fork_server, tmp_path, receiver)
    assert len(_posts(receiver, channel)) == 1


def test_the_operator_may_choose_to_send_it_again(
    fork_server: ForkServer, tmp_path: Path, receiver: Receiver
) -> None:
    _killed_after_arrival(fork_server, tmp_path, receiver, "slack")
    answers = write_answers(tmp_path, {"tell.resend": "yes"})
    resumed = _resume(fork_server, tmp_path, receiver, "--answers", str(answers))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert len(_posts(receiver, "slack")) == 2
    assert "✓ sent to slack" in resumed.stdout
    incident = _only(tmp_path)
    (sent,) = [e for e in incident.events if e.type == EventType.NOTIFY_SENT]
    assert sent.data["ok"] is True
    resend = [e for e in incident.events if e.type == EventType.ANSWER]
    assert [e.data["key"] for e in resend] == ["tell.resend"]
    assert verify(incident.directory) == []


def test_an_answer_no_is_kept_as_may_have_been_delivered(
    fork_server: ForkServer, tmp_path: Path, receiver: Receiver
) -> None:
    _killed_after_arrival(fork_server, tmp_path, receiver, "teams")
    answers = write_answers(tmp_path, {"tell.resend": "no"})
    resumed = _resume(fork_server, tmp_path, receiver, "--answers", str(answers))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert len(_posts(receiver, "teams")) == 1
    assert "may have been delivered" in resumed.stdout


@pytest.mark.parametrize("channel", ["webhook", "pagerduty"])
def test_a_message_with_an_idempotency_key_is_sent_again_with_the_same_key(
    fork_server: ForkServer, tmp_path: Path, receiver: Receiver, channel: str
) -> None:
    _killed_after_arrival(fork_server, tmp_path, receiver, channel)
    resumed = _resume(fork_server, tmp_path, receiver)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    first, again = _posts(receiver, channel)
    if channel == "webhook":
        key = first.headers["idempotency-key"]
        assert key
        assert again.headers["idempotency-key"] == key
    else:
        assert first.json()["dedup_key"] == again.json()["dedup_key"]
    # The same message, byte for byte (its journal anchor too): a receiver that checks a
    # repeated key against the body it first came with takes it as the same request.
    assert again.body == first.body
    assert f"✓ sent to {channel}" in resumed.stdout
    assert verify(_only(tmp_path).directory) == []


def test_a_post_in_flight_when_the_walker_dies_is_not_posted_again(
    fork_server: ForkServer, tmp_path: Path, receiver: Receiver
) -> None:
    """The receiver has the request and is still answering it (a byte at a time) when the
    walker is killed: the message may well be in the channel."""
    path = _setup(tmp_path, "slack")
    receiver.queue(PATHS["slack"], Answer(200, b"ok" * 20, {"content-type": "text/html"}, drip=0.2))
    walker = subprocess.Popen(
        [sys.executable, "-m", "aiir", "run", str(path), "--yes"],
        env=_environ(tmp_path, receiver),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not receiver.to(PATHS["slack"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert receiver.to(PATHS["slack"]), "the post never arrived"
    finally:
        walker.kill()
        walker.wait(timeout=10)
    resumed = _resume(fork_server, tmp_path, receiver)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert len(_posts(receiver, "slack")) == 1
    assert "may have been delivered" in resumed.stdout
    assert verify(_only(tmp_path).directory) == []


@pytest.mark.parametrize("channel", ["slack", "webhook"])
def test_a_practice_walk_killed_while_sending_sends_nothing_real_on_resume(
    fork_server: ForkServer, tmp_path: Path, receiver: Receiver, channel: str
) -> None:
    """Every real channel variable set: the sandbox walk and its resume reach none of them."""
    path = _setup(tmp_path, channel)
    environ = _environ(tmp_path, receiver)
    target = f"aiir.outbound.notify.Notifier.{SENDERS[channel]}"
    argv = ["run", str(path), "--sandbox", "--yes"]
    killed = fork_server.run(argv, environ, cwd=tmp_path, kill=(target, 1))
    assert killed.returncode == -9, killed.stdout + killed.stderr
    resumed = _resume(fork_server, tmp_path, receiver)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert receiver.requests == []
    assert f"{channel} (sandbox)" in resumed.stdout
    incident = _only(tmp_path)
    notify = {EventType.NOTIFY_INTENT, EventType.NOTIFY_SENT}
    assert all(e.data.get("simulated") for e in incident.events if e.type in notify)
    assert verify(incident.directory) == []

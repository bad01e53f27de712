"""``aiir report --file-actions`` killed (SIGKILL) between Jira's answer and its ``ticket.filed``
line: the next run does not file the follow-up a second time unseen.

The receiver lives in the test's process, so it counts the issues made across the killed run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiir.incident.chain import verify
from tests.forkserver import ForkServer
from tests.outbound.test_jira import CANARY, ID, ISSUE, report, setup, walk
from tests.receiver import Receiver, serve_receiver
from tests.respond import journal as events_of
from tests.respond import of_type


@pytest.fixture(scope="module")
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    server = ForkServer(tmp_path_factory.mktemp("fork-server"))
    yield server
    server.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as running:
        yield running


def test_a_follow_up_jira_made_before_the_kill_is_not_filed_again_unseen(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
    fork_server: ForkServer,
) -> None:
    root = setup(tmp_path, monkeypatch, receiver, channel="record")
    assert walk(capsys, root).status == 0
    incidents = root / "incidents"
    argv = ["report", ID, "--incident-dir", str(incidents), "--file-actions"]
    target = ("aiir.outbound.notify.Notifier.jira_issue", 1)
    killed = fork_server.run(argv, dict(os.environ), cwd=root, kill=target)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert len(receiver.to(ISSUE)) == 1  # Jira made it; the journal does not say so yet

    again = report(capsys, root, "--file-actions")
    assert again.status == 1, again.out + again.err
    assert len(receiver.to(ISSUE)) == 1  # not filed twice
    first = again.err.splitlines()[0]
    assert first.startswith("not filed: aiir stopped while filing it, and Jira may have made it")
    assert f"look for label aiir-{ID}" in first
    assert first.endswith(CANARY)
    events = events_of(incidents, ID)
    (maybe,) = of_type(events, "ticket.filed")
    assert maybe["uncertain"] is True
    assert verify(incidents / ID) == []
    shown = report(capsys, root)
    assert shown.status == 0, shown.err

    # Once looked for (and not found), the next run files it.
    third = report(capsys, root, "--file-actions")
    assert third.status == 0, third.err
    assert len(receiver.to(ISSUE)) == 2

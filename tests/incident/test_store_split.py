"""A network split on the shared store: ONE walker is cut off from PostgreSQL (a TCP proxy on
127.0.0.1 that is its only way to the database, cut mid-walk) while another responder, connecting
directly, takes the incident over once the lease expired and engages every lever. Real
processes, a real server, a loopback gateway counting every request.

The cut-off walker cannot learn that its lease was taken. Past the lease it must not send on its
own: it asks (No by default), ``--yes`` does not answer, an answers file only by naming
``NODE.send_offline``; with nobody to ask it sends nothing, says so and journals it."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from aiir.incident.journal import read_events
from aiir.incident.postgres import PostgresStore
from tests.incident.test_shared_walk import (
    LEVER_PATHS,
    SEND,
    _environ,
    assert_intact_in_a_fresh_copy,
    engagements,
    only_incident,
)
from tests.incident.test_store_fencing import (
    NOTIFIER,
    PAUSING,
    paging_walk,
    paused_walker,
    take_over,
)
from tests.incidents import ANSWERS, containment_runbook, write_answers, write_runbook
from tests.servers import Gateway, serve_gateway
from tests.support.splitproxy import SplitProxy, split_proxy

pytestmark = pytest.mark.postgres

FILTER_ENGAGE = 2  # the capture's request, then the filter's engage: paused before it
APPROVE = "aiir.engine.walk.Walk.approve"
FILTER_APPROVAL = 1  # the walk's first approval: the filter's (answered by --yes)


@pytest.fixture
def gateway() -> Iterator[tuple[str, Gateway]]:
    with serve_gateway() as served:
        yield served


@pytest.fixture
def store(database: str, tmp_path: Path) -> Iterator[PostgresStore]:
    made = PostgresStore(database, tmp_path / "observer")
    made.migrate()
    yield made
    made.close()


@pytest.fixture
def proxy(database: str) -> Iterator[SplitProxy]:
    parts = urlsplit(database)
    assert parts.hostname is not None
    assert parts.port is not None
    with split_proxy((parts.hostname, parts.port)) as made:
        yield made


def _silent(directory: Path) -> list[dict[str, Any]]:
    events, problems = read_events(directory / "journal.jsonl")
    assert not problems, problems
    return [dict(e.data) for e in events if e.type == "store.silent"]


def _walk(
    tmp_path: Path, gateway_url: str, answers: dict[str, Any] = ANSWERS
) -> tuple[Path, list[str], Path]:
    """The containment runbook, its flags (``answers``, ``--yes``, the loopback gateway) and
    the first walker's incidents folder, made."""
    path = write_runbook(tmp_path, containment_runbook())
    flags = [
        "--answers",
        str(write_answers(tmp_path, answers)),
        "--yes",
        "--gateway",
        f"gw={gateway_url}",
    ]
    ana = tmp_path / "ana" / "incidents"
    ana.mkdir(parents=True)
    return path, flags, ana


def _split_then_taken_over(
    proxy: SplitProxy, store: PostgresStore, flags: list[str], tmp_path: Path, pid: int, ana: Path
) -> str:
    """The walker, stopped before the filter's engage, is cut off from the store; the other
    responder takes the incident over (directly) once the lease expired and walks it to the
    end; the walker is let go on."""
    incident_id = only_incident(ana)
    proxy.cut()
    take_over(incident_id, flags, store.url, tmp_path)
    os.kill(pid, signal.SIGCONT)
    return incident_id


def test_a_walker_cut_off_past_its_lease_with_nobody_to_ask_sends_nothing(
    store: PostgresStore,
    proxy: SplitProxy,
    gateway: tuple[str, Gateway],
    tmp_path: Path,
) -> None:
    url, state = gateway
    path, flags, ana = _walk(tmp_path, url)  # --yes: no answer
    through = proxy.url(store.url)
    walker = paused_walker(["run", str(path), *flags], through, ana, APPROVE, FILTER_APPROVAL)
    walker.wait(FILTER_APPROVAL)
    assert state.count("POST", "/guardrails") == 0
    try:
        incident_id = _split_then_taken_over(proxy, store, flags, tmp_path, walker.process.pid, ana)
        assert engagements(state) == dict.fromkeys(LEVER_PATHS, 1)
    finally:
        out, err = walker.finished()
    assert engagements(state) == dict.fromkeys(LEVER_PATHS, 1), out + err  # nothing sent again
    assert walker.process.returncode == 1, out + err
    assert "Traceback" not in out + err
    for said in (
        "not sent",
        "has not answered for",
        "the lease is 2 s",
        "filter.send_offline: yes",
    ):
        assert said in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert "filter (possibly engaged" not in out, out  # not sent: it left no intent in flight
    (decision,) = _silent(ana / incident_id)
    assert (decision["send"], decision["node"], decision["lease"]) == (False, "filter", 2)
    assert decision["silent"] > 2, decision
    assert "no terminal" in decision["by"]

    # Resumed on its machine from its outbox, still cut off: the store has not answered since
    # this walk began, so its first request (the filter's probe) is asked about, not sent.
    resumed = subprocess.run(
        [sys.executable, "-m", "aiir", "resume", incident_id, *flags, "--incident-dir", str(ana)],
        env=_environ(through, "ana"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=ana.parent,
        timeout=120,
        check=False,
    )
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    assert "has not answered since this walk began" in resumed.stderr, resumed.stderr
    assert engagements(state) == dict.fromkeys(LEVER_PATHS, 1)
    assert [d["send"] for d in _silent(ana / incident_id)] == [False, False]
    proxy.mend()
    incident = assert_intact_in_a_fresh_copy(store, tmp_path, incident_id)
    assert incident.outcome == "contained"  # the successor's record stands


def test_a_walker_cut_off_past_its_lease_sends_only_what_the_answers_file_names(
    store: PostgresStore,
    proxy: SplitProxy,
    gateway: tuple[str, Gateway],
    tmp_path: Path,
) -> None:
    url, state = gateway
    path, flags, ana = _walk(tmp_path, url, {**ANSWERS, "filter.send_offline": True})
    through = proxy.url(store.url)
    walker = paused_walker(["run", str(path), *flags], through, ana, SEND, FILTER_ENGAGE)
    walker.wait(FILTER_ENGAGE)
    try:
        incident_id = _split_then_taken_over(proxy, store, flags, tmp_path, walker.process.pid, ana)
    finally:
        out, err = walker.finished()
    # The filter: the successor's engage, and the one the answers file told this walker to send;
    # the key block (not named) is not sent a second time.
    assert engagements(state) == {"/guardrails": 2, "/key/block": 1, "/fallback": 1}, out + err
    assert "sent without the store's word, as the answers file (filter.send_offline)" in out
    assert walker.process.returncode == 1, out + err
    assert "Traceback" not in out + err
    assert "block.send_offline: yes" in err, err
    decisions = _silent(ana / incident_id)
    assert [(d["node"], d["send"]) for d in decisions] == [("filter", True), ("block", False)]


def test_a_walker_cut_off_only_briefly_goes_on_as_before(
    store: PostgresStore,
    proxy: SplitProxy,
    gateway: tuple[str, Gateway],
    tmp_path: Path,
) -> None:
    """Within the lease nobody can have taken it: the walk goes on in its outbox, unasked, and
    is taken back to the store once it answers."""
    url, state = gateway
    path, flags, ana = _walk(tmp_path, url)
    through = proxy.url(store.url)
    walker = paused_walker(
        ["run", str(path), *flags],
        through,
        ana,
        SEND,
        FILTER_ENGAGE,
        extra={"AIIR_STORE_LEASE": "60"},
    )
    walker.wait(FILTER_ENGAGE)
    proxy.cut()
    walker.go_on()
    time.sleep(1.0)
    proxy.mend()
    out, err = walker.finished()
    assert walker.process.returncode == 0, out + err
    assert engagements(state) == dict.fromkeys(LEVER_PATHS, 1)
    incident_id = only_incident(ana)
    assert _silent(ana / incident_id) == []


pexpect = pytest.importorskip("pexpect")


@pytest.mark.pty
@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_at_a_terminal_y_enter_in_one_write_sends_and_enter_alone_does_not(
    store: PostgresStore,
    proxy: SplitProxy,
    gateway: tuple[str, Gateway],
    tmp_path: Path,
) -> None:
    url, state = gateway
    path, flags, ana = _walk(tmp_path, url)
    log = tmp_path / "paused"
    env = {
        **_environ(proxy.url(store.url), "ana"),
        "PAUSE_LOG": str(log),
        "TERM": "xterm",
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }
    args = ["-c", PAUSING, SEND, str(FILTER_ENGAGE), "run", str(path), *flags]
    child = pexpect.spawn(
        sys.executable,
        [*args, "--incident-dir", str(ana)],
        cwd=str(tmp_path),
        env=env,
        dimensions=(40, 160),
        encoding="utf-8",
        timeout=90,
        use_poll=True,
    )
    seen = io.StringIO()
    child.logfile_read = seen
    try:
        _stopped(child, log)
        _split_then_taken_over(proxy, store, flags, tmp_path, child.pid, ana)
        child.expect("Send anyway")
        child.send("y\r")  # one write: the y and its Enter
        child.expect("sent without the store's word")
        child.expect("Send anyway")
        child.send("\r")  # Enter alone: the default, No
        child.expect(pexpect.EOF)
    finally:
        if child.isalive():
            os.kill(child.pid, signal.SIGCONT)
            child.terminate(force=True)
    child.close()
    assert child.exitstatus == 1, seen.getvalue()
    assert engagements(state) == {"/guardrails": 2, "/key/block": 1, "/fallback": 1}
    assert "Traceback" not in seen.getvalue()
    assert "block (possibly engaged" not in seen.getvalue()  # it was not sent: no intent left
    decisions = _silent(ana / only_incident(ana))
    assert [(d["node"], d["send"], d["by"]) for d in decisions] == [
        ("filter", True, "ana"),
        ("block", False, "ana"),
    ]


def _stopped(child: Any, log: Path, timeout: float = 120) -> None:
    """Until the walker stopped itself (SIGSTOP) before its request numbered FILTER_ENGAGE."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        said = log.read_text().split() if log.exists() else []
        with open(f"/proc/{child.pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        if str(FILTER_ENGAGE) in said and state == "T":
            return
        if not child.isalive():
            raise AssertionError("the walker ended before the filter's engage")
        child.expect([pexpect.TIMEOUT, pexpect.EOF], timeout=0.05)  # keep the pty drained
    raise AssertionError("the walker never stopped before the filter's engage")


def test_a_walker_whose_packets_are_lost_past_its_lease_sends_nothing_and_does_not_hang(
    store: PostgresStore,
    proxy: SplitProxy,
    gateway: tuple[str, Gateway],
    tmp_path: Path,
) -> None:
    """A blackhole rather than a cut: the walker's connection stays open and nothing comes
    back. Its fence must not wait on it for ever, nor send: it gives the store up, finds the
    lease past, and stops with nothing sent."""
    url, state = gateway
    path, flags, ana = _walk(tmp_path, url)
    through = proxy.url(store.url)
    walker = paused_walker(["run", str(path), *flags], through, ana, APPROVE, FILTER_APPROVAL)
    walker.wait(FILTER_APPROVAL)
    incident_id = only_incident(ana)
    try:
        proxy.stall()
        take_over(incident_id, flags, store.url, tmp_path)
        walker.go_on()
        out, err = walker.process.communicate(timeout=90)
    finally:
        if walker.process.poll() is None:
            walker.process.kill()
            walker.process.communicate()
    assert engagements(state) == dict.fromkeys(LEVER_PATHS, 1), out + err
    assert walker.process.returncode == 1, out + err
    assert "Traceback" not in out + err
    assert "filter.send_offline: yes" in err, err
    assert "no answer within 15 s" in out, out  # why the store was given up, said once


def test_a_walker_cut_off_past_its_lease_before_a_page_does_not_page_again(
    store: PostgresStore,
    proxy: SplitProxy,
    gateway: tuple[str, Gateway],
    tmp_path: Path,
) -> None:
    url, state = gateway
    with paging_walk(tmp_path, url) as walk:
        through = proxy.url(store.url)
        walker = paused_walker(walk.args, through, walk.incidents, NOTIFIER, 1, extra=walk.extra)
        walker.wait(1)
        incident_id = only_incident(walk.incidents)
        ana = walk.incidents
        try:
            proxy.cut()
            take_over(incident_id, walk.flags, store.url, tmp_path, walk.extra)
        finally:
            out, err = walker.finished()
        triggers = walk.triggers()
    assert len(triggers) == 1, out + err  # the successor's page, once
    assert walker.process.returncode == 1, out + err
    assert "Traceback" not in out + err
    assert "pagerduty: not sent" in err, err
    assert "sent this message" in err, err
    assert "page.send_offline: yes" in err, err
    events, _ = read_events(ana / incident_id / "journal.jsonl")
    assert "notify.intent" not in [e.type for e in events]  # nothing was on its way
    assert engagements(state) == dict.fromkeys(LEVER_PATHS, 1)

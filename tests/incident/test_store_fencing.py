"""A walker on the shared store paused (SIGSTOP) past its lease while another responder takes the
incident over, then let go on (SIGCONT): real processes, a real PostgreSQL server, a loopback
gateway counting every request. The paused walker's next request is refused BEFORE anything is
sent (its lease is checked with the database first), so each lever is engaged exactly once
across both, and the team's record stays intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aiir.cli import main
from aiir.incident.postgres import PostgresStore
from tests.incident.test_shared_walk import (
    LEASE,
    LEVER_PATHS,
    _environ,
    assert_intact_in_a_fresh_copy,
    engagements,
    only_incident,
)
from tests.incidents import ANSWERS, containment_runbook, write_answers, write_runbook
from tests.receiver import serve_receiver
from tests.respond import write_workspace
from tests.servers import Fault, Gateway, serve_gateway
from tests.support.postgres import Server

pytestmark = pytest.mark.postgres

# The CLI with ``module.Class.method`` patched to stop the process (SIGSTOP) right before its
# calls numbered in PAUSES, as a laptop whose lid closes at that instant.
PAUSING = r"""
import os, signal, sys
from importlib import import_module
target, pauses = sys.argv[1], {int(n) for n in sys.argv[2].split(",")}
module, owner, name = target.rsplit(".", 2)
cls = getattr(import_module(module), owner)
original = getattr(cls, name)
calls = [0]
def pausing(*args, **kwargs):
    calls[0] += 1
    if calls[0] in pauses:
        with open(os.environ["PAUSE_LOG"], "a") as log:
            log.write(f"{calls[0]}\n")
        os.kill(os.getpid(), signal.SIGSTOP)
    return original(*args, **kwargs)
setattr(cls, name, pausing)
from aiir.cli import main
sys.exit(main(sys.argv[3:]))
"""


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


@dataclass
class Paused:
    """A walker that stops itself (SIGSTOP) before chosen calls; ``wait(n)`` returns once it
    is stopped at the call numbered ``n``, ``go_on()`` lets it go on (SIGCONT)."""

    process: subprocess.Popen[str]
    log: Path

    def wait(self, number: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            said = self.log.read_text().split() if self.log.exists() else []
            if str(number) in said and _state(self.process.pid) == "T":
                return
            if self.process.poll() is not None:
                raise AssertionError(f"the walker ended: {self.process.communicate()}")
            time.sleep(0.02)
        raise AssertionError(f"the walker never stopped at call {number}")

    def go_on(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def finished(self) -> tuple[str, str]:
        self.go_on()
        return self.process.communicate(timeout=120)


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def paused_walker(
    args: list[str],
    store: str,
    incidents: Path,
    target: str,
    *pauses: int,
    extra: dict[str, str] | None = None,
) -> Paused:
    """``aiir ARGS`` stopping itself before the calls of ``target`` numbered ``pauses``."""
    numbers = ",".join(str(n) for n in pauses)
    log = incidents.parent / "paused"
    process = subprocess.Popen(
        [sys.executable, "-c", PAUSING, target, numbers, *args, "--incident-dir", str(incidents)],
        env={**_environ(store, "ana"), "PAUSE_LOG": str(log), **(extra or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=incidents.parent,
    )
    return Paused(process, log)


def take_over(
    incident_id: str,
    flags: list[str],
    url: str,
    tmp_path: Path,
    extra: dict[str, str] | None = None,
) -> None:
    """Another responder's resume, on a machine of its own, once the walker's lease expired."""
    time.sleep(float(LEASE) + 1.0)  # nobody renews the paused walker's lease
    bo = tmp_path / "bo" / "incidents"
    bo.mkdir(parents=True)
    taker = subprocess.Popen(
        [sys.executable, "-m", "aiir", "resume", incident_id, *flags, "--incident-dir", str(bo)],
        env={**_environ(url, "bo"), **(extra or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=bo.parent,
    )
    _, err = taker.communicate(timeout=120)
    assert taker.returncode == 0, err


SEND = "aiir.outbound.sending.Sender.send"
PUT_FILE = "aiir.incident.postgres.PostgresStore.put_file"
NOTIFIER = "aiir.engine.walk.Walk.notifier"


def test_a_walker_paused_before_a_lever_and_taken_over_sends_nothing_when_it_wakes(
    store: PostgresStore, gateway: tuple[str, Gateway], tmp_path: Path
) -> None:
    url, state = gateway
    path = write_runbook(tmp_path, containment_runbook())
    answers = write_answers(tmp_path, ANSWERS)
    flags = ["--answers", str(answers), "--yes", "--gateway", f"gw={url}"]
    ana = tmp_path / "ana" / "incidents"
    ana.mkdir(parents=True)
    sends_to_filter = 2  # the capture's request, then the filter's engage: paused before it
    walker = paused_walker(["run", str(path), *flags], store.url, ana, SEND, sends_to_filter)
    walker.wait(sends_to_filter)
    assert state.count("POST", "/guardrails") == 0
    incident_id = only_incident(ana)
    try:
        take_over(incident_id, flags, store.url, tmp_path)
        assert engagements(state) == dict.fromkeys(LEVER_PATHS, 1)
    finally:
        out, err = walker.finished()
    assert engagements(state) == dict.fromkeys(LEVER_PATHS, 1), out + err  # nothing sent again
    assert walker.process.returncode in (1, 2), out + err
    assert "lease" in err, err
    assert "not sent" in err, err
    assert "Traceback" not in err
    incident = assert_intact_in_a_fresh_copy(store, tmp_path, incident_id)
    assert incident.outcome == "contained"


def test_a_walker_paused_before_its_evidence_reached_the_store_does_not_overwrite_its_successors(
    store: PostgresStore, gateway: tuple[str, Gateway], tmp_path: Path
) -> None:
    """The capture's reply is in, its file not yet kept, when the walker stops; its successor
    captures again (the logs read differently now) and walks on. The first, woken, must not
    replace the file the successor's journal vouches for."""
    url, state = gateway
    path = write_runbook(tmp_path, containment_runbook())
    flags = ["--answers", str(write_answers(tmp_path, ANSWERS)), "--yes", "--gateway", f"gw={url}"]
    ana = tmp_path / "ana" / "incidents"
    ana.mkdir(parents=True)
    evidence_file = 2  # the runbook's copy, then the capture's file
    walker = paused_walker(["run", str(path), *flags], store.url, ana, PUT_FILE, evidence_file)
    walker.wait(evidence_file)
    incident_id = only_incident(ana)
    later = b'[{"request_id": "r2", "messages": [{"role": "user", "content": "later"}]}]'
    state.faults.append(Fault(path="/spend/logs", status=200, body=later))
    try:
        take_over(incident_id, flags, store.url, tmp_path)
    finally:
        out, err = walker.finished()
    assert walker.process.returncode in (1, 2), out + err
    assert "lease" in err, err
    assert "Traceback" not in err
    incident = assert_intact_in_a_fresh_copy(store, tmp_path, incident_id)
    assert incident.outcome == "contained"
    assert engagements(state) == dict.fromkeys(LEVER_PATHS, 1)


def test_a_walker_gone_offline_and_taken_over_when_the_store_is_back_sends_nothing_more(
    own_server: Server, gateway: tuple[str, Gateway], tmp_path: Path
) -> None:
    """The store stops answering mid-walk: the walker goes on in its outbox (as designed) and
    engages the filter; it stops (asleep) before the next lever. The store comes back and
    another responder takes the incident over once the lease expired. Woken, the first must
    not engage the key block a second time: the store answers again and says its lease is
    gone."""
    url, state = gateway
    dsn = own_server.dsn()
    assert main(["store", "init", "--store", dsn]) == 0
    path = write_runbook(tmp_path, containment_runbook())
    flags = ["--answers", str(write_answers(tmp_path, ANSWERS)), "--yes", "--gateway", f"gw={url}"]
    ana = tmp_path / "ana" / "incidents"
    ana.mkdir(parents=True)
    filter_engage, block_engage = 2, 4  # capture, filter engage, filter verify, block engage
    walker = paused_walker(["run", str(path), *flags], dsn, ana, SEND, filter_engage, block_engage)
    try:
        walker.wait(filter_engage)
        incident_id = only_incident(ana)
        own_server.stop()
        walker.go_on()
        walker.wait(block_engage)
        assert state.count("POST", "/guardrails") == 1  # engaged while the store was away
        own_server.start()
        take_over(incident_id, flags, dsn, tmp_path)
        assert engagements(state) == dict.fromkeys(LEVER_PATHS, 1)  # the filter probed
    finally:
        out, err = walker.finished()
    assert engagements(state) == dict.fromkeys(LEVER_PATHS, 1), out + err
    assert walker.process.returncode in (1, 2), out + err
    assert "does not answer" in out
    assert "lease" in err, err
    assert "not sent" in err, err
    assert "Traceback" not in err


@dataclass
class PagingWalk:
    """The containment runbook walked with a PagerDuty page, against a loopback receiver."""

    args: list[str]  # aiir run RUNBOOK and its flags
    flags: list[str]
    incidents: Path  # the first walker's incidents folder
    extra: dict[str, str]  # its variables: the workspace, the receiver, the routing key
    receiver: Any

    def triggers(self) -> list[Any]:
        """The pages that reached PagerDuty (acknowledgements and resolutions left out)."""
        sent = self.receiver.to("/v2/enqueue")
        return [r for r in sent if r.json().get("event_action") == "trigger"]


@contextmanager
def paging_walk(tmp_path: Path, gateway_url: str) -> Iterator[PagingWalk]:
    config = {"aiir": 1, "workspace": "w", "channels": {"pagerduty": {"routing_key_env": "PD"}}}
    workspace = write_workspace(tmp_path / "ws", config)
    path = write_runbook(tmp_path, containment_runbook())
    answers = write_answers(tmp_path, ANSWERS)
    flags = ["--answers", str(answers), "--yes", "--gateway", f"gw={gateway_url}"]
    incidents = tmp_path / "ana" / "incidents"
    incidents.mkdir(parents=True)
    with serve_receiver() as receiver:
        extra = {
            "AIIR_WORKSPACE": str(workspace),
            "AIIR_PAGERDUTY_URL": f"{receiver.url}/v2/enqueue",
            "PD": "routing-key-0123456789abcdef0123",
        }
        yield PagingWalk(["run", str(path), *flags], flags, incidents, extra, receiver)


def test_a_walker_paused_before_a_page_and_taken_over_does_not_page_again(
    store: PostgresStore, gateway: tuple[str, Gateway], tmp_path: Path
) -> None:
    url, state = gateway
    with paging_walk(tmp_path, url) as walk:
        page = 1  # the walk's one message
        walker = paused_walker(
            walk.args, store.url, walk.incidents, NOTIFIER, page, extra=walk.extra
        )
        walker.wait(page)
        incident_id = only_incident(walk.incidents)
        try:
            take_over(incident_id, walk.flags, store.url, tmp_path, walk.extra)
        finally:
            out, err = walker.finished()
        triggers = walk.triggers()
    assert len(triggers) == 1, out + err  # the successor's page, once
    assert walker.process.returncode in (1, 2), out + err
    assert "lease" in err, err
    assert "Traceback" not in err
    assert engagements(state) == dict.fromkeys(LEVER_PATHS, 1)


def test_a_walker_paused_while_it_waits_for_approval_and_taken_over_stops_waiting(
    store: PostgresStore, gateway: tuple[str, Gateway], tmp_path: Path
) -> None:
    """Woken, it must not wait on for an approval as if it still walked the incident (its
    screen said so for the rest of the 15 minutes): it says its lease was lost and stops."""
    from tests.helpers import write
    from tests.runs import DRILL_ANSWERS, aiir_command, drill, process_env

    url, state = gateway
    runbook = drill()
    runbook["levers"]["filter"]["approve"] = {"min": 1}
    write(tmp_path / "rb.yaml", runbook)
    answers = tmp_path / "answers.yaml"
    write(answers, {**DRILL_ANSWERS, "known": "no", "contain.approve": "yes"})

    def machine(name: str, operator: str) -> dict[str, str]:
        folder = tmp_path / name / "incidents"
        folder.mkdir(parents=True, exist_ok=True)
        return process_env(
            folder, AIIR_OPERATOR=operator, AIIR_STORE=store.url, AIIR_STORE_LEASE=LEASE
        )

    def aiir(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*aiir_command(), *args, "-a", str(answers), "--gateway", f"gateway={url}"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    walker = aiir(machine("a", "alice"), "run", str(tmp_path / "rb.yaml"))
    taker: subprocess.Popen[str] | None = None
    try:
        incident_id = _asked(store, "approval.requested")
        os.kill(walker.pid, signal.SIGSTOP)
        time.sleep(float(LEASE) + 1.0)
        taker = aiir(machine("b", "bob"), "resume", incident_id)
        _asked(store, "incident.resumed")  # the successor waits on for the same approval
        os.kill(walker.pid, signal.SIGCONT)
        out, err = walker.communicate(timeout=60)
        assert walker.returncode == 1, out + err
        assert "lease" in err, err
        assert "Traceback" not in err
        approve = [*aiir_command(), "approve", incident_id, "filter"]
        done = subprocess.run(
            approve, env=machine("c", "carol"), capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        _, err = taker.communicate(timeout=120)
        assert taker.returncode == 0, err
    finally:
        if walker.poll() is None:
            os.kill(walker.pid, signal.SIGCONT)
            walker.kill()
        if taker is not None:
            taker.kill()
    assert state.count("POST", "/guardrails") == 1


def _asked(store: PostgresStore, event_type: str, timeout: float = 120) -> str:
    """The store's incident once one of its rows is an ``event_type`` event."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for incident_id in store.ids():
            if any(e.type == event_type for e in store.changes(incident_id, 0)):
                return incident_id
        time.sleep(0.1)
    raise AssertionError(f"no {event_type} in the store")

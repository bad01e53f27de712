"""A walk whose store went away and came back while the walk went on (a real PostgreSQL server,
real processes): it is taken back to the store, so an approval another responder gives there
reaches it. Before, the walker stayed in its outbox for good and waited out its approval's
deadline while the approver was told "the walk engages it once enough approve"."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiir.incident.postgres import PostgresStore
from tests.helpers import write
from tests.incident.test_shared_walk import assert_intact_in_a_fresh_copy
from tests.runs import DRILL_ANSWERS, aiir_command, drill, process_env
from tests.servers import Gateway, serve_gateway
from tests.support.postgres import Server

pytestmark = pytest.mark.postgres


@pytest.fixture
def gateway() -> Iterator[tuple[str, Gateway]]:
    with serve_gateway() as served:
        yield served


def _requested(store: PostgresStore, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for incident_id in store.ids():
            if any(e.type == "approval.requested" for e in store.changes(incident_id, 0)):
                return incident_id
        time.sleep(0.1)
    raise AssertionError("no approval was asked for")


def test_an_approval_given_once_the_store_is_back_reaches_the_walker_that_went_offline(
    own_server: Server, gateway: tuple[str, Gateway], tmp_path: Path
) -> None:
    url, state = gateway
    dsn = own_server.dsn()
    store = PostgresStore(dsn, tmp_path / "observer")
    store.migrate()
    runbook = drill()
    runbook["levers"]["filter"]["approve"] = {"min": 1}
    write(tmp_path / "rb.yaml", runbook)
    write(tmp_path / "answers.yaml", {**DRILL_ANSWERS, "known": "no", "contain.approve": "yes"})

    def machine(name: str, operator: str) -> dict[str, str]:
        folder = tmp_path / name / "incidents"
        folder.mkdir(parents=True, exist_ok=True)
        return process_env(folder, AIIR_OPERATOR=operator, AIIR_STORE=dsn, AIIR_STORE_LEASE="2")

    args = ["run", str(tmp_path / "rb.yaml"), "-a", str(tmp_path / "answers.yaml")]
    walker = subprocess.Popen(
        [*aiir_command(), *args, "--gateway", f"gateway={url}"],
        env=machine("a", "alice"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        incident = _requested(store)
        store.close()
        own_server.stop()
        time.sleep(3.0)  # the walker, polling for approvals, finds the store gone
        own_server.start()
        approve = [*aiir_command(), "approve", incident, "filter"]
        bob = machine("b", "bob")
        ran = subprocess.run(
            approve, env=bob, capture_output=True, text=True, timeout=120, check=False
        )
        assert ran.returncode == 0, ran.stderr
        out, err = walker.communicate(timeout=120)
    finally:
        walker.kill()
    assert walker.returncode == 0, out + err
    assert "does not answer" in out
    assert "answers again" in out
    assert "approved by bob" in out
    assert state.count("POST", "/guardrails") == 1
    record = assert_intact_in_a_fresh_copy(store, tmp_path, incident)
    assert [e.operator for e in record.events if e.type == "approval.granted"] == ["bob"]
    assert record.outcome is not None
    store.close()


def test_a_walk_taken_back_to_the_store_uploads_its_outbox_intact(
    own_server: Server, gateway: tuple[str, Gateway], tmp_path: Path
) -> None:
    """The store stops at the filter and is back before the key block: the lines written in
    between are uploaded, the rest goes to the store; a fresh copy reads the same bytes."""
    from aiir.cli import main
    from tests.incident.test_shared_walk import LEVER_PATHS, engagements, only_incident
    from tests.incident.test_store_fencing import SEND, paused_walker
    from tests.incidents import ANSWERS, containment_runbook, write_answers, write_runbook

    url, state = gateway
    dsn = own_server.dsn()
    assert main(["store", "init", "--store", dsn]) == 0
    path = write_runbook(tmp_path, containment_runbook())
    flags = ["--answers", str(write_answers(tmp_path, ANSWERS)), "--yes", "--gateway", f"gw={url}"]
    ana = tmp_path / "ana" / "incidents"
    ana.mkdir(parents=True)
    filter_engage, block_engage = 2, 4
    walker = paused_walker(["run", str(path), *flags], dsn, ana, SEND, filter_engage, block_engage)
    try:
        walker.wait(filter_engage)
        own_server.stop()
        walker.go_on()
        walker.wait(block_engage)
        own_server.start()
        time.sleep(1.5)  # past the walk's first try again
    finally:
        out, err = walker.finished()
    assert walker.process.returncode == 0, out + err
    assert "does not answer" in out
    assert "answers again" in out
    assert "0 event(s) uploaded" not in out
    assert engagements(state) == dict.fromkeys(LEVER_PATHS, 1)
    incident_id = only_incident(ana)
    store = PostgresStore(dsn, tmp_path / "observer")
    try:
        record = assert_intact_in_a_fresh_copy(store, tmp_path, incident_id)
    finally:
        store.close()
    assert record.outcome == "contained"
    assert (ana / incident_id / "journal.jsonl").read_bytes() == (
        tmp_path / "auditor" / incident_id / "journal.jsonl"
    ).read_bytes()
    assert main(["verify", incident_id, "--incident-dir", str(ana), "--store", dsn]) == 0

"""The incident store's contract on both implementations, the files and PostgreSQL (a real server,
``tests/support/postgres.py``): one lease per incident, compare-and-append on the hash chain, files by
content, a change feed, the listing."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiir.errors import InputError
from aiir.incident.events import EventType
from aiir.incident.journal import GENESIS, Event, JournalConflict, chain_hash, verify
from aiir.incident.lock import IncidentLocked
from aiir.incident.postgres import PostgresStore
from aiir.incident.store import FileStore, IncidentStore

NOW = dt.datetime(2026, 12, 2, 9, 30, tzinfo=dt.UTC)
RUNBOOK = b"aiir: 1\nid: demo\n"


def event(seq: int, prev: str, type_: str, data: dict[str, Any]) -> Event:
    body: dict[str, Any] = {
        "seq": seq,
        "ts": "2026-12-02T09:30:00.000Z",
        "type": type_,
        "operator": "ana",
        "step": None,
        "data": data,
        "prev": prev,
    }
    return Event(**body, hash=chain_hash(body))


@pytest.fixture(params=["files", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IncidentStore]:
    """Each store the contract holds for: the files under ``tmp_path``, a database of its own."""
    if request.param == "files":
        yield FileStore(tmp_path)
        return
    postgres = PostgresStore(request.getfixturevalue("database"), tmp_path, lease_seconds=5)
    postgres.migrate()
    yield postgres
    postgres.close()


def opened(digest: str) -> Event:
    data = {"runbook": "demo", "snapshot": "runbooks/demo.yaml", "snapshot_sha256": digest}
    return event(1, GENESIS, EventType.INCIDENT_OPENED, data)


def test_a_walk_through_the_store_verifies_as_a_journal(
    store: IncidentStore, tmp_path: Path
) -> None:
    incident_id = store.create(NOW)
    digest = store.put_file(incident_id, "runbooks/demo.yaml", RUNBOOK)
    assert digest == hashlib.sha256(RUNBOOK).hexdigest()
    lease = store.lease(incident_id, "ana", "2026-12-02T09:30:00Z")
    first = opened(digest)
    store.append(incident_id, first, lease=lease)
    second = event(2, first.hash, EventType.INCIDENT_INTERRUPTED, {"reason": "test"})
    store.append(incident_id, second, lease=lease)
    lease.release()

    incident = store.read(incident_id)
    assert incident.problems == []
    assert incident.directory == tmp_path / incident_id
    assert verify(incident.directory) == []  # the rows are the journal's lines, byte for byte
    assert [e.seq for e in store.changes(incident_id, after=1)] == [2]
    assert store.read_file(incident_id, "runbooks/demo.yaml") == RUNBOOK
    assert store.ids() == [incident_id]


def test_one_lease_per_incident(store: IncidentStore) -> None:
    incident_id = store.create(NOW)
    held = store.lease(incident_id, "ana", "2026-12-02T09:30:00Z")
    with pytest.raises(IncidentLocked, match="being walked by ana"):
        store.lease(incident_id, "bo", "2026-12-02T09:31:00Z")
    held.release()
    store.lease(incident_id, "bo", "2026-12-02T09:31:00Z").release()


def test_an_append_off_the_head_or_without_the_lease_is_refused(store: IncidentStore) -> None:
    incident_id = store.create(NOW)
    digest = store.put_file(incident_id, "runbooks/demo.yaml", RUNBOOK)
    lease = store.lease(incident_id, "ana", "2026-12-02T09:30:00Z")
    first = opened(digest)
    store.append(incident_id, first, lease=lease)
    with pytest.raises(JournalConflict, match="the head is 1, not 0"):
        store.append(incident_id, opened(digest), lease=lease)  # a second seq 1: a fork
    stale = event(2, GENESIS, EventType.INCIDENT_INTERRUPTED, {"reason": "x"})
    with pytest.raises(JournalConflict, match="another writer got there first"):
        store.append(incident_id, stale, lease=lease)  # right seq, wrong prev
    lease.release()
    later = event(2, first.hash, EventType.INCIDENT_INTERRUPTED, {"reason": "x"})
    with pytest.raises(JournalConflict, match="no lease held"):
        store.append(incident_id, later, lease=lease)
    assert [e.seq for e in store.changes(incident_id, after=0)] == [1]


def test_files_stay_inside_the_incident(store: IncidentStore) -> None:
    incident_id = store.create(NOW)
    for relative in ("../escape", "evidence/../../x", "notes/a.txt", "evidence"):
        with pytest.raises(InputError, match="not a file in an incident's"):
            store.put_file(incident_id, relative, b"x")


def test_wait_returns_when_a_line_is_appended_and_by_its_timeout_otherwise(
    store: IncidentStore,
) -> None:
    import threading
    import time

    incident_id = store.create(NOW)
    digest = store.put_file(incident_id, "runbooks/demo.yaml", RUNBOOK)
    lease = store.lease(incident_id, "ana", "2026-12-02T09:30:00Z")
    first = opened(digest)
    store.append(incident_id, first, lease=lease)
    began = time.monotonic()
    assert store.wait(incident_id, after=1, timeout=0.3) is False  # nothing after 1
    assert 0.3 <= time.monotonic() - began < 2
    assert store.wait(incident_id, after=0, timeout=5) is True  # line 1 is there already
    second = event(2, first.hash, EventType.INCIDENT_INTERRUPTED, {"reason": "test"})
    later = threading.Timer(0.2, lambda: store.append(incident_id, second, lease=lease))
    began = time.monotonic()
    later.start()
    try:
        assert store.wait(incident_id, after=1, timeout=10) is True
        assert time.monotonic() - began < 2
    finally:
        later.join()
        lease.release()
    assert [e.seq for e in store.changes(incident_id, after=1)] == [2]

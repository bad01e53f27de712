"""The incident store's contract on its first implementation, the files: one lease per incident,
compare-and-append on the hash chain, files by content, a change feed, the listing."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest

from aiir.errors import InputError
from aiir.incident.events import EventType
from aiir.incident.journal import GENESIS, Event, JournalConflict, chain_hash, verify
from aiir.incident.lock import IncidentLocked
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


def opened(digest: str) -> Event:
    data = {"runbook": "demo", "snapshot": "runbooks/demo.yaml", "snapshot_sha256": digest}
    return event(1, GENESIS, EventType.INCIDENT_OPENED, data)


def test_a_walk_through_the_store_verifies_as_a_journal(tmp_path: Path) -> None:
    store: IncidentStore = FileStore(tmp_path)
    incident_id = store.create(NOW)
    digest = store.put_file(incident_id, "runbooks/demo.yaml", RUNBOOK)
    assert digest == hashlib.sha256(RUNBOOK).hexdigest()
    lease = store.lease(incident_id, "ana", "2026-12-02T09:30:00Z")
    first = opened(digest)
    store.append(incident_id, first, lease=lease)
    second = event(2, first.hash, EventType.INCIDENT_INTERRUPTED, {"reason": "test"})
    store.append(incident_id, second, lease=lease)
    lease.release()

    assert verify(tmp_path / incident_id) == []
    assert [e.seq for e in store.changes(incident_id, after=1)] == [2]
    assert store.read(incident_id).problems == []
    assert store.read_file(incident_id, "runbooks/demo.yaml") == RUNBOOK
    assert store.ids() == [incident_id]


def test_one_lease_per_incident(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    incident_id = store.create(NOW)
    held = store.lease(incident_id, "ana", "2026-12-02T09:30:00Z")
    with pytest.raises(IncidentLocked, match="being walked by ana"):
        store.lease(incident_id, "bo", "2026-12-02T09:31:00Z")
    held.release()
    store.lease(incident_id, "bo", "2026-12-02T09:31:00Z").release()


def test_an_append_off_the_head_or_without_the_lease_is_refused(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
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


def test_files_stay_inside_the_incident(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    incident_id = store.create(NOW)
    for relative in ("../escape", "evidence/../../x", "notes/a.txt", "evidence"):
        with pytest.raises(InputError, match="not a file in an incident's"):
            store.put_file(incident_id, relative, b"x")


def test_wait_returns_when_a_line_is_appended_and_by_its_timeout_otherwise(
    tmp_path: Path,
) -> None:
    import threading
    import time

    store: IncidentStore = FileStore(tmp_path)
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

"""What the PostgreSQL store guarantees beyond the contract both stores keep (test_store.py), on
a real server: the fencing token (an append under a lost lease is refused in its own
transaction), the takeover of an expired lease naming whom it took over from, a lever engaged
once per step, and migrations applied once."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiir.incident.events import EventType
from aiir.incident.journal import GENESIS, Event, JournalConflict, chain_hash
from aiir.incident.lock import IncidentLocked
from aiir.incident.postgres import PostgresStore, migrations

pytestmark = pytest.mark.postgres

NOW = dt.datetime(2026, 12, 2, 9, 30, tzinfo=dt.UTC)


def event(seq: int, prev: str, type_: str, data: dict[str, Any], step: int | None = None) -> Event:
    body: dict[str, Any] = {
        "seq": seq,
        "ts": "2026-12-02T09:30:00.000Z",
        "type": type_,
        "operator": "ana",
        "step": step,
        "data": data,
        "prev": prev,
    }
    return Event(**body, hash=chain_hash(body))


@pytest.fixture
def stores(database: str, tmp_path: Path) -> Iterator[tuple[PostgresStore, PostgresStore]]:
    """Two responders' stores on one database (two connections, as two machines have), with a
    one-second lease."""
    first = PostgresStore(database, tmp_path / "a", lease_seconds=1.0)
    second = PostgresStore(database, tmp_path / "b", lease_seconds=1.0)
    first.migrate()
    yield first, second
    first.close()
    second.close()


def test_an_append_under_a_lease_that_expired_and_was_taken_over_is_refused(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    ana, bo = stores
    incident_id = ana.create(NOW)
    paused = ana.lease(incident_id, "ana", "2026-12-02T09:30:00Z")
    paused._stop.set()  # a walker paused (a laptop lid closed): its heartbeat stops
    with pytest.raises(IncidentLocked, match="being walked by ana"):
        bo.lease(incident_id, "bo", "2026-12-02T09:30:01Z")
    time.sleep(1.3)
    successor = bo.lease(incident_id, "bo", "2026-12-02T09:30:02Z")
    assert successor.token > paused.token
    assert successor.taken_over is not None
    assert successor.taken_over.operator == "ana"

    first = event(1, GENESIS, EventType.INCIDENT_INTERRUPTED, {"reason": "late"})
    assert paused.held  # it does not know yet: the database refuses it
    with pytest.raises(JournalConflict, match=r"lease \(token 1\) is no longer held"):
        ana.append(incident_id, first, lease=paused)
    assert ana.changes(incident_id, after=0) == []
    bo.append(incident_id, first, lease=successor)
    assert [e.seq for e in ana.changes(incident_id, after=0)] == [1]
    successor.release()


def test_the_heartbeat_keeps_a_lease_past_its_expiry(
    stores: tuple[PostgresStore, PostgresStore],
) -> None:
    ana, bo = stores
    incident_id = ana.create(NOW)
    lease = ana.lease(incident_id, "ana", "2026-12-02T09:30:00Z")
    time.sleep(2.0)
    with pytest.raises(IncidentLocked):
        bo.lease(incident_id, "bo", "2026-12-02T09:30:02Z")
    ana.append(
        incident_id, event(1, GENESIS, EventType.INCIDENT_INTERRUPTED, {"r": 1}), lease=lease
    )
    lease.release()
    bo.lease(incident_id, "bo", "2026-12-02T09:30:03Z").release()  # free at once once released


def test_a_lever_is_engaged_once_per_step(stores: tuple[PostgresStore, PostgresStore]) -> None:
    ana, _ = stores
    incident_id = ana.create(NOW)
    lease = ana.lease(incident_id, "ana", "2026-12-02T09:30:00Z")
    first = event(1, GENESIS, EventType.INCIDENT_INTERRUPTED, {"reason": "x"})
    ana.append(incident_id, first, lease=lease)
    engaged = event(2, first.hash, EventType.LEVER_ENGAGED, {"lever": "kill-switch"}, step=3)
    ana.append(incident_id, engaged, lease=lease)
    again = event(3, engaged.hash, EventType.LEVER_ENGAGED, {"lever": "kill-switch"}, step=3)
    with pytest.raises(JournalConflict, match="step 3 is recorded already"):
        ana.append(incident_id, again, lease=lease)
    assert ana.engagements(incident_id) == [(3, "kill-switch")]
    assert [e.seq for e in ana.changes(incident_id, after=0)] == [1, 2]  # nothing half-written
    lease.release()


def test_migrations_are_applied_once(database: str, tmp_path: Path) -> None:
    store = PostgresStore(database, tmp_path)
    try:
        assert store.version() == 0
        assert store.migrate() == [name for _, name, _ in migrations()]
        assert store.migrate() == []
        assert store.version() == migrations()[-1][0]
    finally:
        store.close()


def test_a_note_from_another_machine_is_taken_into_the_walkers_chain(
    stores: tuple[PostgresStore, PostgresStore], tmp_path: Path
) -> None:
    from aiir.incident.journal import JOURNAL, Journal, verify
    from aiir.incident.replica import Replica, SideWriter, pull

    ana, bo = stores
    ana.lease_seconds = bo.lease_seconds = 30.0
    incident_id = ana.create(NOW)
    walker_dir, other_dir = tmp_path / "a" / incident_id, tmp_path / "b" / incident_id
    lease = ana.lease(incident_id, "ana", "2026-12-02T09:30:00Z")
    walker = Journal(
        walker_dir, "ana", lambda: "2026-12-02T09:30:00.000Z", str,
        upstream=Replica(ana, walker_dir, lease),
    )  # fmt: skip
    relative, digest = walker.store_snapshot("demo", b"aiir: 1\nid: demo\n")
    opened = {"runbook": "demo", "snapshot": relative, "snapshot_sha256": digest}
    walker.write(EventType.INCIDENT_OPENED, opened)
    pull(bo, tmp_path / "b", incident_id)
    side = Journal(
        other_dir, "bo", lambda: "2026-12-02T09:30:01.000Z", str,
        upstream=SideWriter(bo, other_dir),
    )  # fmt: skip
    side.load()
    side.append(EventType.NOTE, {"text": "seen from another machine", "by": "bo"})
    later = walker.append(EventType.INCIDENT_INTERRUPTED, {"reason": "after the note"})
    assert later.seq == 3
    assert [e.type for e in walker.take_foreign()] == ["note"]
    walker.close()
    rows = b"".join(line for _, _, line in ana.lines(incident_id, 1))
    assert (walker_dir / JOURNAL).read_bytes() == rows
    assert verify(walker_dir) == []


@pytest.mark.parametrize("forged", ["../../../../escaped", "/tmp/escaped-abs", "evidence/../../x"])
def test_a_file_row_named_outside_the_incident_is_refused_not_written(
    stores: tuple[PostgresStore, PostgresStore], tmp_path: Path, forged: str
) -> None:
    """Whoever can write the store's rows must not write a reader's files: a pull names the
    row and copies nothing."""
    from aiir.incident.replica import pull

    ana, ben = stores
    incident_id = ana.create(NOW)
    lease = ana.lease(incident_id, "ana", "2026-12-02T09:30:00Z")
    ana.append(
        incident_id, event(1, GENESIS, EventType.INCIDENT_INTERRUPTED, {"r": 1}), lease=lease
    )
    lease.release()
    target = forged.replace("/tmp/", str(tmp_path) + "/") if forged.startswith("/") else forged
    with ana.session() as db:
        db.execute(
            "INSERT INTO files (incident, path, sha256, content) VALUES (%s, %s, %s, %s)",
            (incident_id, target, "0" * 64, b"planted"),
        )
    root = tmp_path / "reader" / "deep" / "er" / "incidents"
    with pytest.raises(JournalConflict, match="outside the incident's evidence/ and runbooks/"):
        pull(ben, root, incident_id)
    planted = [p for p in tmp_path.rglob("*") if p.is_file() and p.read_bytes() == b"planted"]
    assert planted == []

"""Where incidents are kept: one interface that owns an incident's layout (its journal, evidence,
runbook snapshots, the walker's lock, the listing), and today's files as its first implementation.

The interface is the seam for a shared store (team mode): a database keeps the same incidents
behind the same calls. What any implementation must guarantee:

- **One writer.** :meth:`IncidentStore.lease` gives one walker the right to append to an
  incident, or refuses naming the holder. A lease carries a *fencing token* that only grows: an
  append presents its lease, and a store refuses an append whose token is older than the newest
  lease granted, so a walker that lost its lease (paused, partitioned) can never write after its
  successor. Files: the token is the kernel's ``flock``, which dies with its holder; a database:
  a counter bumped in the same transaction that grants the lease, and a lease that expires unless
  renewed.
- **Compare-and-append.** :meth:`IncidentStore.append` adds the event whose ``seq`` is one past the
  head and whose ``prev`` is the head's hash, or refuses (:class:`JournalConflict`): the hash chain
  never forks, and no sequence number is used twice. In a database: a unique ``(incident, seq)``
  and the fencing check in one transaction.
- **Files by content.** :meth:`IncidentStore.put_file` keeps evidence and runbook copies under a
  relative path and returns the SHA-256 the event that vouches for them records.
- **A change feed.** :meth:`IncidentStore.changes` returns the events after a sequence number, in
  order, and :meth:`IncidentStore.wait` blocks until there may be some (a reader such as
  ``aiir watch`` calls one after the other): the files poll the journal's size; a database
  pushes (PostgreSQL: ``LISTEN``/``NOTIFY``). ``wait`` may return early (a spurious wake-up
  costs one ``changes``), never late: it returns by its timeout at the latest.

The files meet it, and so does the shared store on PostgreSQL
(:class:`aiir.incident.postgres.PostgresStore`). The walk itself writes through
:class:`aiir.incident.journal.Journal` over the files, with the shared store as the journal's
upstream when one is chosen (:mod:`aiir.incident.replica`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from aiir.errors import InputError
from aiir.incident.events import EVIDENCE_DIR, SNAPSHOT_DIR
from aiir.incident.journal import (
    GENESIS,
    JOURNAL,
    Event,
    JournalConflict,
    canonical,
    read_events,
)
from aiir.incident.lock import Holder, IncidentLock
from aiir.incident.state import Incident, check_id, new_incident, read_incident

FOLDERS = (EVIDENCE_DIR, SNAPSHOT_DIR)


def kept_path(relative: str) -> bool:
    """Whether ``relative`` names a file an incident keeps: inside its evidence/ or runbooks/,
    never out of them (no ``..``, no absolute path, no backslash). A name read back from a
    shared store is checked too: whoever can write its rows must not write a reader's files."""
    parts = PurePosixPath(relative).parts
    return len(parts) >= 2 and parts[0] in FOLDERS and ".." not in parts and "\\" not in relative


POLL = 0.05  # seconds between looks at a journal's size while waiting for its next line


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _size_through(path: Path, seq: int) -> int:
    """The bytes of the journal's first ``seq`` lines (all of it, when it has no more)."""
    if seq <= 0:
        return 0
    size = 0
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            size += len(line)
            if number >= seq:
                break
    return size


class Lease(Protocol):
    """The right to append to one incident, while :attr:`held`."""

    incident_id: str
    token: int  # fencing: larger for every lease granted on the incident

    @property
    def held(self) -> bool: ...

    @property
    def taken_over(self) -> Holder | None:
        """The holder before this one, when it died holding the lease."""
        ...

    def release(self) -> None: ...


class IncidentStore(Protocol):
    """Incidents, each a journal of events plus the files its events vouch for."""

    def create(self, now: dt.datetime) -> str:
        """A new incident's id, reserved (two incidents opened at once never share one)."""
        ...

    def ids(self) -> list[str]:
        """Every incident, newest first."""
        ...

    def read(self, incident_id: str) -> Incident:
        """The incident rebuilt from its journal, with every problem verification finds."""
        ...

    def lease(self, incident_id: str, operator: str, since: str) -> Lease:
        """The walker's lease, or :class:`aiir.incident.lock.IncidentLocked` naming its holder."""
        ...

    def append(self, incident_id: str, event: Event, *, lease: Lease) -> None:
        """Add ``event`` at the head, under ``lease`` (see the module's contract)."""
        ...

    def put_file(self, incident_id: str, relative: str, content: bytes) -> str:
        """Keep a file of the incident (``evidence/...``, ``runbooks/...``); its SHA-256."""
        ...

    def read_file(self, incident_id: str, relative: str) -> bytes: ...

    def changes(self, incident_id: str, after: int) -> list[Event]:
        """The events whose ``seq`` is greater than ``after``, in order."""
        ...

    def wait(self, incident_id: str, after: int, timeout: float) -> bool:
        """Block until an event after ``after`` may have been appended (True) or ``timeout``
        seconds have passed (False)."""
        ...


def line_of(event: Event) -> bytes:
    """An event as one journal line: its body in canonical JSON, the hash joined last."""
    return canonical(event.body())[:-1] + b',"hash":"' + event.hash.encode() + b'"}\n'


@dataclass
class FileLease:
    """A lease on the files: the incident's ``flock``. The kernel drops it when its process ends,
    so a newer lease can only exist once this one is gone: the lock is its own fence."""

    lock: IncidentLock
    incident_id: str
    token: int = 1

    @property
    def held(self) -> bool:
        return self.lock.held

    @property
    def taken_over(self) -> Holder | None:
        return self.lock.taken_over

    def release(self) -> None:
        self.lock.release()


class FileStore:
    """Incidents as directories under ``root``: ``journal.jsonl``, ``evidence/``, ``runbooks/``
    and the ``lock`` file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sizes: dict[str, tuple[int, int]] = {}  # incident -> (seq, journal bytes through it)

    def directory(self, incident_id: str) -> Path:
        return self.root / check_id(incident_id)

    def create(self, now: dt.datetime) -> str:
        return new_incident(self.root, now)[0]

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            (d.name for d in self.root.iterdir() if (d / JOURNAL).is_file()), reverse=True
        )

    def read(self, incident_id: str) -> Incident:
        return read_incident(self.directory(incident_id), incident_id)

    def lease(self, incident_id: str, operator: str, since: str) -> FileLease:
        lock = IncidentLock(self.directory(incident_id), incident_id, operator, since)
        lock.acquire()
        return FileLease(lock, incident_id)

    def append(self, incident_id: str, event: Event, *, lease: Lease) -> None:
        if lease.incident_id != incident_id or not lease.held:
            raise JournalConflict(f"incident {incident_id}: no lease held: nothing was appended")
        path = self.directory(incident_id) / JOURNAL
        events, _ = read_events(path) if path.exists() else ([], [])
        head_seq, head_hash = (events[-1].seq, events[-1].hash) if events else (0, GENESIS)
        if event.seq != head_seq + 1 or event.prev != head_hash:
            raise JournalConflict(
                f"{path}: the head is {head_seq}, not {event.seq - 1}: another writer got there "
                "first; nothing was appended"
            )
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as out:
            out.write(line_of(event))
            out.flush()
            os.fsync(out.fileno())

    def put_file(self, incident_id: str, relative: str, content: bytes) -> str:
        if not kept_path(relative):
            raise InputError(f"{relative!r}: not a file in an incident's evidence/ or runbooks/")
        target = self.directory(incident_id) / relative
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        with os.fdopen(os.open(target, flags, 0o600), "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        return hashlib.sha256(content).hexdigest()

    def read_file(self, incident_id: str, relative: str) -> bytes:
        return (self.directory(incident_id) / relative).read_bytes()

    def changes(self, incident_id: str, after: int) -> list[Event]:
        events, _ = read_events(self.directory(incident_id) / JOURNAL)
        return [e for e in events if e.seq > after]

    def wait(self, incident_id: str, after: int, timeout: float) -> bool:
        """Polls the journal's size: a line appended after ``after`` makes it grow. The size
        ``after`` ends at is learnt from the file itself, once per incident and sequence."""
        path = self.directory(incident_id) / JOURNAL
        known = self._sizes.get(incident_id)
        if known is None or known[0] != after:
            known = (after, _size_through(path, after))
            self._sizes[incident_id] = known
        deadline = time.monotonic() + timeout
        while True:
            if _size(path) > known[1]:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(POLL, left))

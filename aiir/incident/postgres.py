"""The shared incident store on PostgreSQL: the :class:`~aiir.incident.store.IncidentStore`
contract kept by a database that several responders' machines reach with one URL.

- Events are rows, one per journal line and byte for byte the line a journal file holds, under
  a unique ``(incident, seq)``: the SHA-256 chain is the same, so ``aiir verify`` and anchors work
  unchanged on a copy of the rows.
- An append is one statement (its own transaction): it moves the incident's head only if the
  presented lease's fencing token is the newest, is still held and unexpired, and the event is
  ``head + 1`` with the head's hash as ``prev``; else nothing is written.
- A ``lever.engaged`` event also records its engagement in ``engagements`` under a unique
  ``(incident, step)`` in that same statement: two walkers racing record it once.
- A lease expires unless renewed: :class:`PostgresLease` renews it from a thread (its
  heartbeat). A walker that died holding it is taken over once it has expired, and the one that
  takes over is told whom it took over from (the resume then probes before it re-sends).
- A side event (a note, an approval, a hand-off) goes in without the lease, compare-and-append
  on the head only (:meth:`PostgresStore.append_side`); a walker whose append finds the head
  moved is told so (:class:`~aiir.incident.journal.HeadMoved`), takes the new lines in and
  appends again.
- Each row written ``NOTIFY``s ``aiir_events`` (a trigger): :meth:`PostgresStore.wait` listens.

psycopg is imported only here, and only when a ``postgresql://`` store is used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiir.errors import InputError
from aiir.incident.deadline import answered_within
from aiir.incident.events import EventType
from aiir.incident.journal import (
    JOURNAL,
    SIDE_EVENTS,
    Event,
    HeadMoved,
    JournalConflict,
)
from aiir.incident.lock import Holder, IncidentLocked
from aiir.incident.state import Incident, check_id, new_incident_id, read_incident
from aiir.incident.store import kept_path, line_of
from aiir.incident.store_rows import Row, Synced, checked
from aiir.incident.store_url import masked_url, url_passwords
from aiir.redact import declare, scrub

if TYPE_CHECKING:
    import psycopg

LEASE_SECONDS = 30.0
CONNECT_TIMEOUT = 5
CHANNEL = "aiir_events"  # NOTIFY'd by the events table's trigger: "<incident> <seq>"
_NEW_ID_TRIES = 20
_ENGAGED = str(EventType.LEVER_ENGAGED)


class StoreUnavailable(InputError):
    """The database does not answer (down, unreachable, starting or stopping): one line, exit 2
    where it is needed; a walk goes on in its local outbox."""


class StoreRefused(InputError):
    """The database answers and turns this aiir away (a wrong password, a role or database that
    does not exist, no pg_hba.conf entry): the URL is wrong, one line, exit 2, nothing started."""


# What a server that answered says when it refuses the login itself (not a passing state such
# as starting up or too many clients): the URL or the server's set-up must change first.
_REFUSALS = (
    "authentication failed",
    "does not exist",
    "no pg_hba.conf entry",
    "permission denied",
    "not permitted to log in",
)


class StoreNotReady(InputError):
    """The database answers but has no (or an older) incident schema: ``aiir store init``."""


def migrations() -> list[tuple[int, str, str]]:
    """The schema's migrations, in order: (version, name, SQL)."""
    found = []
    for entry in resources.files("aiir.incident").joinpath("migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


@dataclass
class PostgresLease:
    """The walker's lease on one incident: a fencing token, renewed by a heartbeat thread until
    released. ``held`` turns false once a renewal finds the lease gone (expired and taken)."""

    store: PostgresStore
    incident_id: str
    token: int
    taken_over: Holder | None = None
    renewed_at: float = field(default_factory=time.monotonic)  # see renewed()
    _released: bool = False
    _lost: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _beat: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return not (self._released or self._lost)

    def lose(self) -> None:
        self._lost = True

    def renewed(self, asked_at: float) -> None:
        """A renewal asked at ``asked_at`` (monotonic) confirmed: held until + lease_seconds."""
        self.renewed_at = max(self.renewed_at, asked_at)

    def start_heartbeat(self) -> None:
        self._beat = threading.Thread(target=self._renewing, daemon=True, name="aiir-lease")
        self._beat.start()

    def _renewing(self) -> None:
        interval = max(self.store.lease_seconds / 3, 0.05)
        connection: psycopg.Connection[Any] | None = None
        while not self._stop.wait(interval):
            try:
                asked = time.monotonic()
                if connection is None or connection.closed:
                    connection = self.store.connect()
                with answered_within(connection, self.store.deadline):
                    held = self.store.renew(connection, self.incident_id, self.token)
                if not held:
                    self._lost = True
                    return
                self.renewed(asked)
            except Exception:  # the database away, a broken connection: anew at the next beat
                if connection is not None:
                    with suppress(Exception):
                        connection.close()
                connection = None
        if connection is not None:
            connection.close()

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        if not self._lost:
            with suppress(StoreUnavailable, StoreRefused):  # the lease expires by itself
                self.store.release(self.incident_id, self.token)


class PostgresStore:
    """Incidents in a PostgreSQL database (``url``); ``mirror`` is the local folder reads are
    laid out in (a journal file per incident, as :class:`~aiir.incident.store.FileStore` keeps
    them), so every reader of journal files reads the rows unchanged."""

    def __init__(
        self, url: str, mirror: Path | None = None, *, lease_seconds: float = LEASE_SECONDS
    ) -> None:
        self.url = url
        self.shown = masked_url(url)
        try:
            import psycopg  # noqa: F401 - present, or one line saying how to get it
        except ImportError:
            raise InputError(
                f"the incident store {self.shown} is PostgreSQL, and its client is not "
                "installed: pip install 'aiir-runbooks[postgresql]'"
            ) from None
        declare(url_passwords(url))
        self.mirror = mirror
        self.lease_seconds = lease_seconds
        self.deadline: float | None = None  # seconds a statement may go unanswered (a walk's)
        self._connection: psycopg.Connection[Any] | None = None
        self._listener: psycopg.Connection[Any] | None = None

    # --- connecting ----------------------------------------------------------------------

    def connect(self) -> psycopg.Connection[Any]:
        import psycopg

        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        except (psycopg.Error, UnicodeError) as exc:  # UnicodeError: a host such as ?host=a..b
            reason = " ".join(str(exc).split()) or type(exc).__name__
            if "FATAL:" in reason and any(r in reason for r in _REFUSALS):
                raise StoreRefused(
                    scrub(f"the incident store {self.shown} refused the connection: {reason}")
                ) from None
            raise StoreUnavailable(self._down(exc)) from None

    def _down(self, exc: BaseException | str) -> str:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return scrub(f"the incident store {self.shown} does not answer: {reason}")

    @contextmanager
    def session(self) -> Iterator[psycopg.Connection[Any]]:
        """This store's connection (made again after the database went away); a database that
        does not answer is :class:`StoreUnavailable`, never a traceback."""
        import psycopg

        if self._connection is None or self._connection.closed or self._connection.broken:
            self._connection = self.connect()
        try:
            with answered_within(self._connection, self.deadline) as watch:
                yield self._connection
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self.close()
            raise StoreUnavailable(self._down(watch.why(str(exc)))) from None
        except psycopg.errors.UndefinedTable:
            raise StoreNotReady(
                f"the incident store {self.shown} has no incident schema: run `aiir store init`"
            ) from None

    def close(self) -> None:
        for connection in (self._connection, self._listener):
            if connection is not None:
                connection.close()
        self._connection = self._listener = None

    # --- the schema ----------------------------------------------------------------------

    def version(self) -> int:
        """The schema version applied (0: none)."""
        with self.session() as db:
            exists = db.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
            if not exists or not exists[0]:
                return 0
            row = db.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
            return int(row[0]) if row else 0

    def migrate(self) -> list[str]:
        """Apply the migrations not applied yet, each in its own transaction, under an advisory
        lock (two `aiir store init` at once apply each once); the names applied."""
        applied = []
        with self.session() as db:
            db.execute("SELECT pg_advisory_lock(hashtext('aiir.schema_migrations'))")
            try:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                    "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                done = {r[0] for r in db.execute("SELECT version FROM schema_migrations")}
                for version, name, sql in migrations():
                    if version in done:
                        continue
                    with db.transaction():
                        db.execute(sql.encode())
                        db.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                            (version, name),
                        )
                    applied.append(name)
            finally:
                db.execute("SELECT pg_advisory_unlock(hashtext('aiir.schema_migrations'))")
        return applied

    def ready(self) -> None:
        """Refuse a database whose schema is missing or older than this aiir's."""
        latest = migrations()[-1][0]
        have = self.version()
        if have < latest:
            raise StoreNotReady(
                f"the incident store {self.shown} has schema version {have}, this aiir needs "
                f"{latest}: run `aiir store init`"
            )

    # --- the contract --------------------------------------------------------------------

    def create(self, now: dt.datetime) -> str:
        for _ in range(_NEW_ID_TRIES):
            incident_id = new_incident_id(now)
            if self.register(incident_id):
                return incident_id
        raise InputError(f"no free incident id for {now:%Y-%m-%d %H:%M:%S}; try again")

    def register(self, incident_id: str) -> bool:
        """Reserve an id chosen elsewhere; False when the store has it already."""
        with self.session() as db:
            row = db.execute(
                "INSERT INTO incidents (id) VALUES (%s) ON CONFLICT DO NOTHING RETURNING id",
                (check_id(incident_id),),
            ).fetchone()
        return row is not None

    def ids(self) -> list[str]:
        with self.session() as db:
            rows = db.execute("SELECT id FROM incidents WHERE head_seq > 0 ORDER BY id DESC")
            return [r[0] for r in rows]

    def heads(self) -> dict[str, tuple[int, str]]:
        """Every incident's head: (seq, hash)."""
        with self.session() as db:
            rows = db.execute("SELECT id, head_seq, head_hash FROM incidents WHERE head_seq > 0")
            return {r[0]: (int(r[1]), r[2]) for r in rows}

    def read(self, incident_id: str) -> Incident:
        """The incident as its rows say, laid out afresh in the mirror folder and read there (a
        copy holding lines the store has not got, an outbox, is read as it is, never replaced)."""
        directory = self._mirror() / check_id(incident_id)
        journal = directory / JOURNAL
        if journal.is_file() and journal.stat().st_size != Synced.of(directory).size:
            return read_incident(directory, incident_id)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for relative in self.file_digests(incident_id):
            target = directory / relative
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            target.write_bytes(self.read_file(incident_id, relative))
        rows = self.lines(incident_id, 1)
        lines = b"".join(line for _, _, line in rows)
        (directory / JOURNAL).write_bytes(lines)
        if rows:
            Synced(rows[-1][0], rows[-1][1], len(lines)).save(directory)
        return read_incident(directory, incident_id)

    def _mirror(self) -> Path:
        if self.mirror is None:
            import tempfile

            self.mirror = Path(tempfile.mkdtemp(prefix="aiir-mirror-"))
        return self.mirror

    def lease(self, incident_id: str, operator: str, since: str) -> PostgresLease:
        holder = Holder(os.getpid(), socket.gethostname(), operator, since)
        asked = time.monotonic()
        with self.session() as db, db.transaction():
            row = db.execute(
                "SELECT lease_holder, lease_expires > now() FROM incidents WHERE id = %s "
                "FOR UPDATE",
                (check_id(incident_id),),
            ).fetchone()
            if row is None:
                raise InputError(
                    f"no incident {incident_id!r} in the store {self.shown} (one started on the "
                    f"files is uploaded with `aiir store push {incident_id}`)"
                )
            before = Holder.parse(json.dumps(row[0]).encode()) if row[0] else None
            if before is not None and row[1]:
                raise IncidentLocked(
                    f"incident {incident_id} is being walked by {before.describe()}: wait for "
                    "it or stop it (its lease expires unless it renews it)"
                )
            token = db.execute(
                "UPDATE incidents SET lease_token = lease_token + 1, lease_holder = %s, "
                "lease_expires = now() + make_interval(secs => %s) WHERE id = %s "
                "RETURNING lease_token",
                (json.dumps(asdict(holder)), self.lease_seconds, incident_id),
            ).fetchone()
        assert token is not None
        lease = PostgresLease(self, incident_id, int(token[0]), before, renewed_at=asked)
        lease.start_heartbeat()
        return lease

    def renew(self, connection: psycopg.Connection[Any], incident_id: str, token: int) -> bool:
        """Push the lease's expiry on; False when it is no longer this token's."""
        import psycopg

        try:
            done = connection.execute(
                "UPDATE incidents SET lease_expires = now() + make_interval(secs => %s) "
                "WHERE id = %s AND lease_token = %s AND lease_holder IS NOT NULL",
                (self.lease_seconds, incident_id, token),
            )
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise StoreUnavailable(self._down(exc)) from None
        return done.rowcount == 1

    def release(self, incident_id: str, token: int) -> None:
        with self.session() as db:
            db.execute(
                "UPDATE incidents SET lease_holder = NULL, lease_expires = NULL "
                "WHERE id = %s AND lease_token = %s",
                (incident_id, token),
            )

    def append(self, incident_id: str, event: Event, *, lease: Any) -> None:
        if lease.incident_id != incident_id or not lease.held:
            raise JournalConflict(f"incident {incident_id}: no lease held: nothing was appended")
        self.append_line(incident_id, event, line_of(event), int(lease.token))

    def append_line(self, incident_id: str, event: Event, line: bytes, token: int) -> None:
        """The append of :meth:`append` with the line's bytes as the journal file holds them."""
        import psycopg

        engaged = event.type == _ENGAGED and event.step is not None
        params = {
            "id": incident_id,
            "seq": event.seq,
            "prev": event.prev,
            "hash": event.hash,
            "token": token,
            "type": event.type,
            "operator": event.operator,
            "line": line,
            "step": event.step,
            "lever": str(event.data.get("lever", "")) if engaged else "",
            "engaged": engaged,
        }
        try:
            with self.session() as db:
                written = db.execute(_APPEND, params).rowcount
        except psycopg.errors.UniqueViolation:
            raise JournalConflict(
                f"incident {incident_id}: step {event.step} is recorded already (a lever is "
                "engaged once); nothing was appended"
            ) from None
        if written != 1:
            raise self._refusal(incident_id, event, token)

    def append_side(self, incident_id: str, event: Event, line: bytes) -> None:
        """A side event (a note, an approval, a hand-off) appended beside the walker, without
        its lease: compare-and-append on the head only, as the files' append lock allows."""
        if event.type not in SIDE_EVENTS:
            raise JournalConflict(
                f"incident {incident_id}: {event.type} is written by the walker only; nothing "
                "was appended"
            )
        params = {"id": incident_id, "seq": event.seq, "prev": event.prev, "hash": event.hash}
        params |= {"type": event.type, "operator": event.operator, "line": line}
        with self.session() as db:
            written = db.execute(_SIDE, params).rowcount
        if written != 1:
            raise HeadMoved(
                f"incident {incident_id}: another responder wrote to it at the same moment; "
                "nothing was appended: try again"
            )

    def _refusal(self, incident_id: str, event: Event, token: int) -> JournalConflict:
        """Why an append was refused: a lost lease, or (:class:`HeadMoved`) a moved head."""
        with self.session() as db:
            row = db.execute(
                "SELECT lease_token, lease_holder IS NOT NULL AND lease_expires > now(), "
                "head_seq, head_hash FROM incidents WHERE id = %s",
                (incident_id,),
            ).fetchone()
        if row is None:
            return JournalConflict(
                f"no incident {incident_id!r} in {self.shown}: nothing was appended"
            )
        newest, live, head_seq = int(row[0]), bool(row[1]), int(row[2])
        if newest != token or not live:
            return JournalConflict(
                f"incident {incident_id}: this walker's lease (token {token}) is no longer "
                f"held (the newest is {newest}): another walker may have taken over; nothing "
                "was appended"
            )
        return HeadMoved(
            f"incident {incident_id}: the head is {head_seq}, not {event.seq - 1}: another "
            "writer got there first; nothing was appended"
        )

    def put_file(
        self, incident_id: str, relative: str, content: bytes, token: int | None = None
    ) -> str:
        """Keep a file; under a lease (``token``) only while that lease is the newest and held,
        as an append: a walker that lost its lease never replaces its successor's evidence."""
        if not kept_path(relative):
            raise InputError(f"{relative!r}: not a file in an incident's evidence/ or runbooks/")
        digest = hashlib.sha256(content).hexdigest()
        params = {"id": check_id(incident_id), "path": relative, "sha": digest}
        with self.session() as db:
            kept = db.execute(_FILE, params | {"content": content, "token": token}).rowcount
        if kept != 1 and token is None:
            raise InputError(f"no incident {incident_id!r} in {self.shown}: {relative} not kept")
        if kept != 1:
            raise JournalConflict(
                f"incident {incident_id}: this walker's lease (token {token}) on the store "
                f"{self.shown} is no longer held: another walker may have taken over; "
                f"{relative} was not kept there, nothing was appended"
            )
        return digest

    def read_file(self, incident_id: str, relative: str) -> bytes:
        with self.session() as db:
            row = db.execute(
                "SELECT content FROM files WHERE incident = %s AND path = %s",
                (incident_id, relative),
            ).fetchone()
        if row is None:
            raise InputError(f"incident {incident_id}: no file {relative} in {self.shown}")
        return bytes(row[0])

    def file_digests(self, incident_id: str) -> dict[str, str]:
        with self.session() as db:
            rows = db.execute("SELECT path, sha256 FROM files WHERE incident = %s", (incident_id,))
            return {r[0]: r[1] for r in rows}

    def lines(self, incident_id: str, after: int, known: int = 0) -> list[Row]:
        """The journal lines from ``after`` on (``after`` itself included, to check it): (seq,
        hash, line), read in one snapshot with the head the incidents table names, which they
        must reach (``known``: a line read from this store before); else
        :class:`~aiir.incident.store_rows.StoreLostRows`. An unknown incident has none."""
        with self.session() as db:
            found = db.execute(_LINES, (after, incident_id)).fetchall()
        if not found:
            return []
        head = (int(found[0][0]), str(found[0][1]))
        rows = [(int(r[2]), r[3], bytes(r[4])) for r in found if r[2] is not None]
        return checked(incident_id, self.shown, head, rows, after, known)

    def changes(self, incident_id: str, after: int) -> list[Event]:
        return [Event(**json.loads(line)) for seq, _, line in self.lines(incident_id, after + 1)]

    def head(self, incident_id: str) -> int:
        """The incident's last sequence number (0: none yet)."""
        with self.session() as db:
            row = db.execute(
                "SELECT head_seq FROM incidents WHERE id = %s", (check_id(incident_id),)
            ).fetchone()
        return int(row[0]) if row else 0

    def wait(self, incident_id: str, after: int, timeout: float) -> bool:
        """Pushed, not polled: a connection of its own ``LISTEN``s to the events table's
        trigger from the first call on, so a row written between the look at the head and the
        wait is not missed (its notification is queued)."""
        import psycopg

        deadline = time.monotonic() + timeout
        try:
            listener = self._listening()
            if self.head(incident_id) > after:
                return True
            while (left := deadline - time.monotonic()) > 0:
                for note in listener.notifies(timeout=left, stop_after=1):
                    name, _, seq = note.payload.partition(" ")
                    if name == incident_id and int(seq) > after:
                        return True
            return False
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self._listener = None
            raise StoreUnavailable(self._down(exc)) from None

    def _listening(self) -> psycopg.Connection[Any]:
        if self._listener is None or self._listener.closed or self._listener.broken:
            self._listener = self.connect()
            self._listener.execute(f"LISTEN {CHANNEL}")
        return self._listener

    def engagements(self, incident_id: str) -> list[tuple[int, str]]:
        """The levers engaged on an incident: (step, lever)."""
        with self.session() as db:
            rows = db.execute(
                "SELECT step, lever FROM engagements WHERE incident = %s ORDER BY step",
                (incident_id,),
            )
            return [(int(r[0]), r[1]) for r in rows]


# One statement, so one transaction: the fencing check, compare-and-append on the head, the
# lever's engagement under its unique key, and the row.
_APPEND = """
WITH head AS (
    UPDATE incidents SET head_seq = %(seq)s, head_hash = %(hash)s
    WHERE id = %(id)s AND lease_token = %(token)s AND lease_holder IS NOT NULL
      AND lease_expires > now() AND head_seq = %(seq)s - 1 AND head_hash = %(prev)s
    RETURNING id
), engaged AS (
    INSERT INTO engagements (incident, step, lever, seq, lease_token)
    SELECT id, %(step)s, %(lever)s, %(seq)s, %(token)s FROM head WHERE %(engaged)s
)
INSERT INTO events (incident, seq, type, operator, prev, hash, line)
SELECT id, %(seq)s, %(type)s, %(operator)s, %(prev)s, %(hash)s, %(line)s FROM head
"""

_FILE = """
INSERT INTO files (incident, path, sha256, content)
SELECT id, %(path)s, %(sha)s, %(content)s FROM incidents WHERE id = %(id)s
  AND (%(token)s::bigint IS NULL OR (lease_token = %(token)s AND lease_holder IS NOT NULL
       AND lease_expires > now()))
ON CONFLICT (incident, path) DO UPDATE SET sha256 = excluded.sha256, content = excluded.content
"""

_LINES = """
SELECT i.head_seq, i.head_hash, e.seq, e.hash, e.line FROM incidents i
LEFT JOIN events e ON e.incident = i.id AND e.seq >= %s WHERE i.id = %s ORDER BY e.seq
"""

_SIDE = """
WITH head AS (
    UPDATE incidents SET head_seq = %(seq)s, head_hash = %(hash)s
    WHERE id = %(id)s AND head_seq = %(seq)s - 1 AND head_hash = %(prev)s
    RETURNING id
)
INSERT INTO events (incident, seq, type, operator, prev, hash, line)
SELECT id, %(seq)s, %(type)s, %(operator)s, %(prev)s, %(hash)s, %(line)s FROM head
"""

"""The local copy of a shared store's incidents: what lets every reader of journal files read an
incident kept in a database, and the walk go on when the database is down.

Each incident the store holds is laid out in the local incidents folder exactly as the file store
keeps it (``journal.jsonl`` with the rows' bytes, ``evidence/``, ``runbooks/``), with a small
``store.json`` saying how far that copy agrees with the store (the sequence number, hash and
journal size last known to be in it). Lines after that point were written while the store did
not answer: the *outbox*, uploaded by :func:`push` with their chain intact. A walk writes through
a :class:`Replica`: each event goes to the store first (under the lease, compare-and-append), then
to the local journal; when the store stops answering, the walk is told once and goes on locally.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from aiir.errors import InputError, shown
from aiir.incident.events import file_refs
from aiir.incident.fencing import LeaseInDoubt
from aiir.incident.journal import JOURNAL, Event, JournalConflict, read_events
from aiir.incident.lock import Holder
from aiir.incident.postgres import (
    PostgresLease,
    PostgresStore,
    StoreRefused,
    StoreUnavailable,
)
from aiir.incident.store import kept_path, line_of
from aiir.incident.store_rows import StoreLostRows, Synced
from aiir.incident.store_url import is_postgres, masked_url
from aiir.validate.urls import host_can_exist


def outbox(directory: Path) -> bool:
    """The local journal holds lines the store has not got."""
    journal = directory / JOURNAL
    return journal.is_file() and journal.stat().st_size != Synced.of(directory).size


def pull(store: PostgresStore, root: Path, incident_id: str) -> int:
    """Bring the local copy of one incident up to the store's head; the lines added. A copy with
    an outbox is left as it is when the store moved on too (they have forked: named)."""
    directory = root / incident_id
    synced = Synced.of(directory)
    if outbox(directory):
        synced = agreed(store, directory, synced)
    rows = store.lines(incident_id, max(synced.seq, 1), known=synced.seq)
    if synced.seq > 0:
        if not rows or rows[0][0] != synced.seq or rows[0][1] != synced.hash:
            raise JournalConflict(
                f"incident {incident_id}: the local copy in {directory} and the store "
                f"{store.shown} disagree at line {synced.seq}; nothing was copied"
            )
        rows = rows[1:]
    if not rows:
        return 0
    if outbox(directory):
        raise JournalConflict(
            f"incident {incident_id}: {directory} holds lines the store has not got, and the "
            f"store {store.shown} has lines after them: the two have forked; nothing was copied"
        )
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fetch_files(store, directory, incident_id)  # before the lines that vouch for them
    data = b"".join(line for _, _, line in rows)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    with os.fdopen(os.open(directory / JOURNAL, flags, 0o600), "ab") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    Synced(rows[-1][0], rows[-1][1], synced.size + len(data)).save(directory)
    return len(rows)


def agreed(store: PostgresStore, directory: Path, synced: Synced) -> Synced:
    """The mark moved past the local lines after it that the store holds too, byte for byte (a
    walker writes the store first and moves the mark only now and then): what is left after it
    is the outbox, lines the store has not got."""
    events, _ = read_events(directory / JOURNAL)
    local = [e for e in events if e.seq > synced.seq]
    rows = store.lines(directory.name, synced.seq + 1, known=synced.seq)
    seq, digest, size = synced.seq, synced.hash, synced.size
    for event, (row_seq, row_hash, line) in zip(local, rows, strict=False):
        if event.seq != row_seq or event.hash != row_hash:
            break
        seq, digest, size = row_seq, row_hash, size + len(line)
    moved = Synced(seq, digest, size)
    if moved != synced:
        moved.save(directory)
    return moved


def disagreements(store: PostgresStore, directory: Path) -> tuple[list[str], int]:
    """Where the local copy of an incident differs from the store's rows, line by line: the
    problems (a line changed on either side), and how many lines only the local copy holds
    (an outbox not pushed yet: no problem, if its chain holds). Rows the store lost (its head
    names a line it no longer holds) are a problem, never lines to push."""
    try:
        rows = store.lines(directory.name, 1, known=Synced.of(directory).seq)
    except StoreLostRows as exc:
        return [str(exc)], 0
    with open(directory / JOURNAL, "rb") as handle:
        local = handle.read().splitlines(keepends=True)
    problems = [
        f"line {seq}: differs from the store {store.shown}'s row (changed here or there)"
        for (seq, _, row), mine in zip(rows, local, strict=False)
        if row != mine
    ]
    if len(rows) > len(local):
        problems.append(
            f"lines {len(local) + 1} to {len(rows)} of the store {store.shown} are missing here"
        )
    return problems, max(len(local) - len(rows), 0)


def fetch_files(store: PostgresStore, directory: Path, incident_id: str) -> None:
    from aiir.incident.journal import sha256_file

    for relative, digest in store.file_digests(incident_id).items():
        if not kept_path(relative):  # a forged row: its name leads out of the incident
            raise JournalConflict(
                f"incident {incident_id}: the store {store.shown} names a file {relative!r} "
                "outside the incident's evidence/ and runbooks/ (a row written by hand?); "
                "nothing was copied"
            )
        target = directory / relative
        if target.is_file() and sha256_file(target) == digest:
            continue
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        with os.fdopen(os.open(target, flags, 0o600), "wb") as out:
            out.write(store.read_file(incident_id, relative))


def pull_all(store: PostgresStore, root: Path) -> list[str]:
    """Every incident of the store copied up to its head (only those that moved are read); the
    problems found, one per incident that could not be copied."""
    problems = []
    for incident_id, (seq, digest) in store.heads().items():
        synced = Synced.of(root / incident_id)
        if synced.seq == seq and synced.hash == digest:
            continue
        try:
            pull(store, root, incident_id)
        except JournalConflict as exc:
            problems.append(str(exc))
    return problems


def push(store: PostgresStore, root: Path, incident_id: str, operator: str, since: str) -> int:
    """Upload the lines of a local journal the store has not got (an outbox, or an incident
    started locally), under a lease, each compare-and-appended with its chain intact; how many."""
    directory = root / incident_id
    if not (directory / JOURNAL).is_file():
        raise InputError(f"{shown(str(directory))}: no incident {incident_id} here to push")
    store.register(incident_id)
    lease = store.lease(incident_id, operator, since)
    try:
        return upload(store, directory, lease.token)
    finally:
        lease.release()


def upload(store: PostgresStore, directory: Path, token: int) -> int:
    """The local journal's lines after the store's head, uploaded under the lease ``token``
    (files first); how many. The two must agree up to the store's head."""
    incident_id = directory.name
    events, problems = read_events(directory / JOURNAL)
    if problems:
        raise JournalConflict(
            f"{directory / JOURNAL}: {problems[0]}: a journal that does not verify is not pushed"
        )
    rows = store.lines(incident_id, 1)
    for (seq, digest, _), event in zip(rows, events, strict=False):
        if event.seq != seq or event.hash != digest:
            raise JournalConflict(
                f"incident {incident_id}: the store {store.shown} and {directory} differ at "
                f"line {seq}: they have forked; nothing was pushed"
            )
    head = len(rows)
    if head > len(events):
        raise JournalConflict(
            f"incident {incident_id}: the store {store.shown} has {head} lines, {directory} "
            f"only {len(events)}: nothing to push"
        )
    put_files(store, directory, events[head:], token)
    for event in events[head:]:
        store.append_line(incident_id, event, line_of(event), token)
    if events:
        size = (directory / JOURNAL).stat().st_size
        Synced(events[-1].seq, events[-1].hash, size).save(directory)
    return len(events) - head


def put_files(store: PostgresStore, directory: Path, events: list[Event], token: int) -> None:
    kept = store.file_digests(directory.name)
    for event in events:
        for _, relative, digest in file_refs(event.data):
            if kept.get(relative) != digest:
                content = (directory / relative).read_bytes()
                kept[relative] = store.put_file(directory.name, relative, content, token)


REJOIN_FIRST, REJOIN_LAST = 1.0, 30.0  # seconds between tries of a store gone away, doubling
ANSWER_WITHIN = 15.0  # seconds a walk's statement may go unanswered (at least the lease)


class Replica:
    """A walk's writes to the shared store (:class:`aiir.incident.journal.Upstream`): each file
    and event goes there first (under the lease), then to the local journal. Once the store
    stops answering, the walk is told once (``down``, or kept for :meth:`tell`) and goes on in
    the local journal: the outbox."""

    def __init__(self, store: PostgresStore, directory: Path, lease: PostgresLease | None) -> None:
        self.store = store
        self.directory = directory
        self.incident_id = directory.name
        self.lease = lease
        # Lost packets (a blackhole) fail a statement instead of holding the walk for ever.
        store.deadline = max(store.lease_seconds, ANSWER_WITHIN)
        self.offline = False
        self.down: Callable[[str], None] | None = None
        self.untold: list[str] = []
        self.mark: Synced | None = None  # how far the local journal agrees with the store
        self._retry_at, self._retry_every = 0.0, REJOIN_FIRST  # a store gone away: when next

    @classmethod
    def unreachable(cls, store: PostgresStore, directory: Path, exc: StoreUnavailable) -> Replica:
        """A walk whose store did not answer when it began: all of it goes to the local outbox
        (no lease was taken, so none is held), and the walk is told so once."""
        replica = cls(store, directory, None)
        replica._gone(exc)
        store.close()
        return replica

    @property
    def taken_over(self) -> Holder | None:
        return self.lease.taken_over if self.lease is not None else None

    def tell(self, down: Callable[[str], None]) -> None:
        """Say what happened to the store through ``down`` from now on (and what was kept)."""
        self.down = down
        for message in self.untold:
            down(message)
        self.untold = []

    def put_file(self, relative: str, content: bytes) -> None:
        if self.offline:
            return
        if self.lease is None or not self.lease.held:
            raise self._lost("the file was not kept")
        try:
            self.store.put_file(self.incident_id, relative, content, self.lease.token)
        except (StoreUnavailable, StoreRefused) as exc:  # mid-walk, either one is the store away
            self._gone(exc)

    def append(self, event: Event, line: bytes) -> None:
        """Into the store, or :class:`JournalConflict` (nothing to be written locally either)."""
        if self.offline:
            self._rejoin()
        if self.lease is not None and not self.lease.held:  # offline too: another walks it
            raise self._lost("nothing was appended")
        if self.offline:
            return
        if self.lease is None:
            raise self._lost("nothing was appended")
        try:
            self.store.append_line(self.incident_id, event, line, self.lease.token)
        except (StoreUnavailable, StoreRefused) as exc:  # mid-walk, either one is the store away
            self._gone(exc)

    def fence(self) -> None:
        """Before each request to a gateway: the lease renewed in the database under its token,
        or the walk stopped here (:class:`JournalConflict`), nothing sent. A walker paused past
        its lease (a laptop asleep) while another took over wakes to this, not to a second
        engage; so does one gone on in its outbox, once the store answers again. A store that
        does not answer is the outbox, as for an append, while the lease cannot have expired
        yet; past it (a network split: others may reach the store, take the incident over and
        send this very request) :class:`LeaseInDoubt`, for the walk to ask before it sends."""
        if self.lease is None:
            if self.offline:
                # Begun while the store did not answer: no lease was ever granted. An incident
                # the store never had is nobody else's; one it had may be walked there now.
                if Synced.of(self.directory).seq > 0:
                    raise LeaseInDoubt(self.store.shown, None, self.store.lease_seconds)
                return
            raise self._lost("the request was not sent")
        if self.offline:
            self._rejoin()  # the store back: the lease renewed (or found lost) there
            if self.offline and self.lease.held:
                self._within_lease()
                return
        if self.lease.held:
            asked = time.monotonic()
            try:
                with self.store.session() as db:
                    if self.store.renew(db, self.incident_id, self.lease.token):
                        self.lease.renewed(asked)
                        return
            except (StoreUnavailable, StoreRefused) as exc:
                self._gone(exc)
                self._within_lease()
                return
            self.lease.lose()
        raise self._lost("the request was not sent, nothing was appended")

    def _within_lease(self) -> None:
        """The store does not answer: the lease renewed last less than its length ago cannot
        be another's yet; else :class:`LeaseInDoubt`."""
        assert self.lease is not None
        silent = time.monotonic() - self.lease.renewed_at
        if silent >= self.store.lease_seconds:
            raise LeaseInDoubt(self.store.shown, silent, self.store.lease_seconds)

    def _lost(self, what: str) -> JournalConflict:
        return JournalConflict(
            f"incident {self.incident_id}: this walker's lease on the store {self.store.shown} "
            f"was lost (it expired and another walker may have taken over): {what}"
        )

    def written(self, event: Event, size: int) -> None:
        """The local journal has the event too (``size`` its new length). The mark is kept in
        memory and written when the walk stops or the store goes away: a mark left behind by a
        walker that was killed is moved on by :func:`agreed`."""
        if not self.offline:
            self.mark = Synced(event.seq, event.hash, size)

    def fetch(self, head: Event | None) -> None:
        """Others' side events the store has after ``head``, added to the local journal (the
        journal then takes them into its chain, checking each). A walker waiting for others
        (approvals) whose lease was lost meanwhile stops waiting here."""
        if self.lease is not None and not self.lease.held:
            raise self._lost("this walk stops here, nothing was sent")
        if self.offline:
            self._rejoin()
        if not self.offline:
            try:
                _add_rows(self.store, self.directory, head)
            except (StoreUnavailable, StoreRefused) as exc:
                self._gone(exc)

    def _rejoin(self) -> None:
        """A walk gone on in its outbox taken back to the store once it answers again (tried
        now and then, less often while it does not): the lease renewed under its token (a
        lease another walker took meanwhile is lost: :attr:`held` turns false), the outbox
        uploaded with its chain; from then on each write goes there first again. An outbox
        the store cannot take (side events reached it meanwhile: the two have forked) stays
        local, for `aiir store push` to name."""
        now = time.monotonic()
        if self.lease is None or not self.lease.held or now < self._retry_at:
            return
        self._retry_at = now + self._retry_every
        self._retry_every = min(self._retry_every * 2, REJOIN_LAST)
        try:
            with self.store.session() as db:
                if not self.store.renew(db, self.incident_id, self.lease.token):
                    self.lease.lose()
                    return
            self.lease.renewed(now)
            sent = (
                upload(self.store, self.directory, self.lease.token)
                if outbox(self.directory)
                else 0
            )
        except (StoreUnavailable, StoreRefused):
            return
        except JournalConflict as exc:
            self._retry_at = float("inf")  # forked: nothing will change that during this walk
            self._say(f"{exc}; the walk goes on in the local outbox journal")
            return
        self.offline, self._retry_every = False, REJOIN_FIRST
        self._say(
            f"the incident store {self.store.shown} answers again: {sent} event(s) uploaded "
            "from the local outbox; the walk goes on on the store"
        )

    def _say(self, message: str) -> None:
        if self.down is None:
            self.untold.append(message)
        else:
            self.down(message)

    def _save_mark(self) -> None:
        if self.mark is not None:
            self.mark.save(self.directory)
            self.mark = None

    def _gone(self, exc: StoreUnavailable | StoreRefused) -> None:
        self.offline = True
        self._save_mark()  # the last line both have: the outbox starts after it
        message = (
            f"{exc}; the walk goes on in the local outbox journal {self.directory / JOURNAL}, "
            "taken back to the store if it answers again during the walk; else upload it once "
            f"the store is back with `aiir store push {self.incident_id}`"
        )
        self._retry_at = time.monotonic() + self._retry_every
        self._say(message)

    def close(self) -> None:
        self._save_mark()
        if self.lease is not None:
            self.lease.release()
        self.store.close()


def _add_rows(store: PostgresStore, directory: Path, head: Event | None) -> None:
    rows = store.lines(directory.name, (head.seq if head else 0) + 1)
    if rows:
        fetch_files(store, directory, directory.name)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        with os.fdopen(os.open(directory / JOURNAL, flags, 0o600), "ab") as out:
            out.write(b"".join(line for _, _, line in rows))
            out.flush()
            os.fsync(out.fileno())


class SideWriter:
    """The upstream of a side event written beside the walker (a note, an approval, a
    hand-off): into the store without the walker's lease, compare-and-append on the head."""

    def __init__(self, store: PostgresStore, directory: Path) -> None:
        self.store = store
        self.directory = directory

    def put_file(self, relative: str, content: bytes) -> None:
        self.store.put_file(self.directory.name, relative, content)

    def append(self, event: Event, line: bytes) -> None:
        self.store.append_side(self.directory.name, event, line)

    def written(self, event: Event, size: int) -> None:
        pass  # the mark is moved on at the next pull (see `agreed`)

    def fence(self) -> None:
        pass  # a side writer sends nothing to a gateway

    def fetch(self, head: Event | None) -> None:
        _add_rows(self.store, self.directory, head)

    def pull(self) -> None:
        """The local copy up to the store's head (under the journal's append lock, so a walker
        on this machine is never between its store and its local line)."""
        pull(self.store, self.directory.parent, self.directory.name)

    def close(self) -> None:
        self.store.close()


def shared_store(url: str, where: str, root: Path) -> PostgresStore:
    """The store a ``postgresql://`` URL names (chosen by ``where``: the flag, the variable, the
    workspace file), its local copy under ``root``; any other URL is one line naming it."""
    shown = masked_url(url)
    if not is_postgres(url):
        raise InputError(
            f"{where} {shown!r}: not an incident store: expected a postgresql:// URL "
            "(or nothing, for the files)"
        )
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError as exc:
        why = (  # the error quotes what it took for the port: a password's first part
            "what follows the host is not a port number: a '/', '?', '#' or '@' inside a "
            "password must be percent-encoded (%2F, %3F, %23, %40)"
            if "cast" in str(exc) and "@" in url
            else str(exc)
        )
        raise InputError(f"{where} {shown!r}: not a valid URL ({why})") from None
    for host in parts.netloc.rpartition("@")[2].split(","):  # libpq takes h1:5432,h2:5433
        name = urlsplit(f"//{host}").hostname if host else None
        if name and not host_can_exist(name):
            raise InputError(
                f"{where} {shown!r}: its host is no name a host can have (an empty label, as "
                "in a..b, or one over 63)"
            )
    return PostgresStore(url, root)

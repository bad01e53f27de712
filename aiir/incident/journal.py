"""The incident journal: append-only JSON Lines, fsync'd per event, SHA-256 chained.

Each line is one event: ``seq``, ``ts`` (UTC), ``type``, ``operator``, ``step`` (the engine step it
belongs to, if any), ``data``, ``prev`` (the previous line's hash) and ``hash`` (SHA-256 over
``prev`` and the canonical JSON of the rest). Editing, removing, inserting or reordering a line
breaks the chain at that line; evidence files are named in the journal with their SHA-256, so a
changed file is detected too, and so are the runbook copies the incident walks (their SHA-256 is in
``incident.opened`` and ``call.entered``). Each line is written with one ``write`` on an
``O_APPEND`` descriptor and fsync'd; a walker killed while writing a line longer than a page
can leave its first pages only, which a resume sets aside (see :meth:`Journal.load`).

A chain alone cannot tell lines cut from its end, or lines forged onto it, from an incident that
simply stopped there. An *anchor* (``SEQ:HASH`` of the head, printed at the end of each walk and
carried by the Slack update) kept outside the journal settles that: ``verify`` checks every
anchor given, and names the lines no anchor covers.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from aiir.errors import AiirError
from aiir.formats.received import without_surrogates
from aiir.incident import payloads
from aiir.incident.chain import (
    _CANONICAL,
    APPENDING,
    EVIDENCE,
    GENESIS,
    JOURNAL,
    MAX_LINE,
    Anchor,
    Event,
    JournalBroken,
    Reading,
    _event,
    _line_at,
    _split,
    anchor_of,
    anchor_problems,
    canonical,
    chain_hash,
    file_problems,
    parse_events,
    read_checked,
    read_events,
    sha256_file,
    short_anchor,
    verify,
    verify_reading,
)
from aiir.incident.events import (
    EVIDENCE_DIR,
    SNAPSHOT_DIR,
    EventType,
    EvidenceRef,
    shape_problem,
)
from aiir.redact import mask_data

if TYPE_CHECKING:
    from aiir.incident.lock import IncidentLock
    from aiir.incident.writing import Writes

# The lines and their chain live in aiir.incident.chain; imported from here as ever.
__all__ = [
    "APPENDING",
    "EVIDENCE",
    "GENESIS",
    "HEAD_TRIES",
    "JOURNAL",
    "MAX_LINE",
    "SIDE_EVENTS",
    "Anchor",
    "Event",
    "HeadMoved",
    "Journal",
    "JournalBroken",
    "JournalConflict",
    "Reading",
    "Upstream",
    "anchor_of",
    "anchor_problems",
    "canonical",
    "chain_hash",
    "file_problems",
    "parse_events",
    "read_checked",
    "read_events",
    "sha256_file",
    "short_anchor",
    "verify",
    "verify_reading",
]


# Events another process may append while a walker holds the incident (``aiir note``,
# ``aiir approve``, ``aiir reject``, ``aiir handoff``): the walker takes them into its chain
# before its next event (or while it waits for approvals) instead of refusing to go on.
SIDE_EVENTS = frozenset(
    {
        EventType.NOTE,
        EventType.APPROVAL_GRANTED,
        EventType.APPROVAL_REJECTED,
        EventType.INCIDENT_HANDED_OFF,
    }
)


class JournalConflict(AiirError):
    """Someone else wrote to the journal since this process read it: appending would fork it."""


HEAD_TRIES = 5  # appends tried while other machines' side events keep reaching the store first


class HeadMoved(JournalConflict):
    """A shared store's head moved past the one this event follows (a side event from another
    machine): the writer takes the new lines in and tries again."""


class Upstream(Protocol):
    """Where a journal's writes go first when the incident is kept in a shared store (see
    :class:`aiir.incident.replica.Replica`): a file before the event that vouches for it, an
    event before its local line (refused: :class:`JournalConflict`, and nothing is written)."""

    def put_file(self, relative: str, content: bytes) -> None: ...

    def append(self, event: Event, line: bytes) -> None: ...

    def written(self, event: Event, size: int) -> None: ...

    def fence(self) -> None:
        """Before a request leaves for a gateway: refused (:class:`JournalConflict`) once this
        writer may no longer act on the incident (its lease lost), so nothing is sent."""

    def fetch(self, head: Event | None) -> None:
        """Add to the local journal the store's lines after ``head`` (others' side events)."""
        ...

    def close(self) -> None: ...


class Journal:
    """Appends events for one incident; ``scrub`` masks secrets before anything is written.
    With an ``upstream`` (a shared store), each write goes there first, then to the files."""

    def __init__(
        self,
        directory: Path,
        operator: str,
        now: Callable[[], str],
        scrub: Callable[[str], str],
        *,
        persist: bool = True,
        lock: IncidentLock | None = None,
        upstream: Upstream | None = None,
        home: Path | None = None,
    ) -> None:
        self.directory = directory
        self.home = home  # where a new incident's folder goes once its first line is written
        self.upstream = upstream
        self.operator = operator
        self.now = now
        self.scrub = scrub
        self.persist = persist
        self.lock = lock  # held while this journal is open; released by close()
        self.events: list[Event] = []  # appended by this process (a loaded journal's: replay)
        self.foreign: list[Event] = []  # side events others appended, not yet taken in
        self.head: Event | None = None
        self.last_step = 0  # the newest step of a loaded journal (the walk replays up to it)
        self._steps: dict[int, list[int]] = {}  # step -> where its lines start, when loaded
        self._fd: int | None = None
        self._size = 0  # bytes of the file this journal has read or written
        self._appending = False  # this journal holds the append lock now
        self._lock_fd: int | None = None  # the append lock's file, open from the first append
        self._file = os.path.join(directory, JOURNAL)  # stat before each append: no Path made
        self.cut: CutLine | None = None  # a line its writer did not finish, set aside
        self._untold: CutLine | None = None  # set aside while walking: its note is to write

    @property
    def path(self) -> Path:
        return self.directory / JOURNAL

    @property
    def evidence_dir(self) -> Path:
        return self.directory / EVIDENCE

    def load(
        self, each: Callable[[Event], None] = lambda event: None, *, mend: bool = False
    ) -> None:
        """Read an existing journal and check it (chain, evidence, runbook copies) before
        appending to it, in one pass that gives ``each`` every event and keeps none: only
        where each step's lines are, for :meth:`recorded`. With ``mend`` (a walker holding the
        incident), a last line its writer did not finish is set aside (:attr:`cut`)."""
        reading = Reading()
        checked = read_checked(self.path, reading, files=self.directory, settle=not self._appending)
        for event in checked:
            if event.step is not None:
                self._steps.setdefault(event.step, []).append(reading.offset)
            each(event)
        problems = reading.all_problems
        if problems and not (mend and self._set_aside(reading)):
            raise JournalBroken(f"{self.path}: {problems[0]}; refusing to continue this incident")
        self.head, self._size = reading.head, reading.size
        self.last_step = max(self._steps, default=0)

    def _set_aside(self, reading: Reading) -> bool:
        """The journal's last line, when its writer did not finish it (killed mid-``write``: a
        line longer than a page can be cut short) and it is all that is wrong: it is no event,
        and its bytes are moved out of the journal into the incident's evidence folder (kept,
        with their hash in :attr:`cut`, for the caller to say and to journal), so the incident
        can go on. Under the append lock: no writer is mid-line then."""
        line = f"line {reading.lines}: "
        if (
            not reading.unfinished
            or reading.head is None
            or reading.file_problems
            or not all(problem.startswith(line) for problem in reading.problems)
            or self.upstream is not None
        ):
            return False
        with self.appending(), open(self.path, "r+b") as handle:
            handle.seek(reading.last_start)
            tail = handle.read()
            if b"\n" in tail:  # written meanwhile: not a line cut short after all
                return False
            if reading.offset == reading.last_start:  # a whole event, all but its end: ended
                handle.seek(0, os.SEEK_END)
                handle.write(b"\n")
                handle.flush()
                os.fsync(handle.fileno())
                reading.size += 1
                return True
            relative, digest = self._store(
                f"{EVIDENCE}/journal-cut-at-{reading.last_start}.part", tail
            )
            handle.truncate(reading.last_start)
            os.fsync(handle.fileno())
        self.cut = CutLine(relative, digest, len(tail))
        reading.size = reading.last_start
        return True

    def cut_said_in(self, exc: BaseException) -> None:
        """An error that stops a walker's command after its load set a cut line aside says it
        too: the journal changed (a file moved out of it, a note) though nothing else was done."""
        if isinstance(exc, AiirError) and self.cut is not None:
            exc.args = (f"{exc} (before that, {self.cut.set_aside()}, and a note says so)",)

    def recorded(self, step: int) -> list[Event]:
        """The events the loaded journal holds for ``step``, read again from the file (checked
        when it was loaded; the walker's lock keeps other aiir processes from writing it)."""
        where = self._steps.get(step)
        if not where:
            return []
        with open(self.path, "rb") as handle:
            return [Event(**json.loads(_line_at(handle, offset))) for offset in where]

    def anchor(self) -> str:
        """``SEQ:HASH`` of the head: kept elsewhere, it proves later that nothing was cut or
        added after it (``aiir verify ID --anchor SEQ:HASH``)."""
        return anchor_of([self.head] if self.head else [])

    if TYPE_CHECKING:  # to mypy, each event type takes its own record (aiir.incident.writing)
        append: Writes[Event]
    else:

        def append(self, type_, data, *, step=None):
            return self.write(type_, data, step=step)

    def write(self, type_: str, data: Mapping[str, Any], *, step: int | None = None) -> Event:
        """Write one event durably and return it: under the append lock, after taking in the
        side events (notes) another process appended, so the chain never forks. This is
        :meth:`append` for any type, unchecked: writers call ``append``."""
        with self.appending():
            self._take_in()
            self._tell_cut()
            for _ in range(HEAD_TRIES - 1):
                try:
                    return self._append(type_, data, step)
                except HeadMoved:  # a side event reached the shared store first: take it in
                    self._take_in(fetch=True)
            return self._append(type_, data, step)

    def catch_up(self) -> list[Event]:
        """The side events others appended since this journal last read or wrote, taken into
        its chain now (a walker waiting for approvals reads them without appending)."""
        with self.appending():
            self._take_in(fetch=True)
        return self.take_foreign()

    def take_foreign(self) -> list[Event]:
        """The side events taken in since the last call, for the caller to fold in."""
        taken, self.foreign = self.foreign, []
        return taken

    def appending(self) -> _AppendLock:
        """The append lock: held only for one append (and the read before it), by every
        process that writes this journal."""
        return _AppendLock(self)

    def _take_in(self, *, fetch: bool = False) -> None:
        """Side events another process appended since this journal last read or wrote: only the
        bytes after those it knows are read, and each line must follow the head in the chain.
        With ``fetch``, a shared store's new lines are added to the file first."""
        if not self.persist:
            return
        if fetch and self.upstream is not None:
            self.upstream.fetch(self.head)
        try:  # one stat an append, where Path.is_file and Path.stat made two
            found = os.stat(self._file)
        except OSError:
            return
        if not stat.S_ISREG(found.st_mode) or found.st_size == self._size:
            return
        if found.st_size - self._size > MAX_LINE:  # no side writer's: _write refuses it
            return
        with open(self.path, "rb") as handle:
            handle.seek(self._size)
            raw = handle.read()
        if not raw.endswith(b"\n") and self._appending and self.upstream is None:
            raw = self._cut_short(raw)  # under the append lock nobody is mid-line: one died
        added = _following(raw, self.head) if raw else None
        if added is None:
            return  # not notes, or not well chained: _write refuses, as it always has
        self.events.extend(added)
        self.foreign.extend(added)
        self.head = added[-1]
        self._size += len(raw)

    def _cut_short(self, raw: bytes) -> bytes:
        """A side writer (a note's) killed in the middle of its line left its first pages: the
        unfinished line is set aside as a walker's load does (:meth:`_set_aside`), and told in
        a note before this journal's next event. The whole lines before it are returned."""
        whole = raw[: raw.rfind(b"\n") + 1]
        at, tail = self._size + len(whole), raw[len(whole) :]
        relative, digest = self._store(f"{EVIDENCE}/journal-cut-at-{at}.part", tail)
        with open(self.path, "r+b") as handle:
            handle.truncate(at)
            os.fsync(handle.fileno())
        self.cut = self._untold = CutLine(relative, digest, len(tail))
        return whole

    def _tell_cut(self) -> None:
        """The note saying a line was set aside, written first and folded like a side event."""
        if self._untold is None:
            return
        told, self._untold = self._untold, None
        said = told.note(self.operator)
        self.foreign.append(self._append(EventType.NOTE, said, None))

    def _append(self, type_: str, data: Mapping[str, Any], step: int | None) -> Event:
        prev = self.head.hash if self.head else GENESIS
        clean = mask_data(data, self.scrub)  # string by string: JSON text hides escaped forms
        body = {
            "seq": (self.head.seq if self.head else 0) + 1,
            "ts": self.now(),
            "type": type_,
            "operator": self.operator,
            "step": step,
            "data": clean,
            "prev": prev,
        }
        try:
            encoded = canonical(body)
        except UnicodeEncodeError:  # a lone surrogate: a bad byte typed, a \ud800 received
            body = mask_data(body, without_surrogates)
            encoded = canonical(body)
        event = Event(**body, hash=hashlib.sha256(encoded).hexdigest())
        if self.persist:  # the hash joins the line last; readers do not depend on key order
            line = encoded[:-1] + b',"hash":"' + event.hash.encode() + b'"}\n'
            if len(line) >= MAX_LINE:  # more than any reader takes: it would end the journal
                raise AiirError(
                    f"{self.path}: a {type_} event of {len(line) // (1024 * 1024)} MiB is more "
                    f"than a journal line holds ({MAX_LINE // (1024 * 1024)} MiB); it was not kept"
                )
            if self.upstream is not None:
                self.upstream.append(event, line)
            self._write(line)
            if self.home is not None:
                self._settle(self.home)
            if self.upstream is not None:
                self.upstream.written(event, self._size)
        self.events.append(event)
        self.head = event
        return event

    def store_evidence(self, name: str, content: bytes) -> tuple[str, str]:
        """Write an evidence file beside the journal; returns (relative path, sha256)."""
        return self._store(f"{EVIDENCE}/{name}", content)

    def store_snapshot(self, runbook_id: str, content: bytes) -> tuple[str, str]:
        """Keep a copy of a runbook walked (unless one is kept already); returns (relative
        path, sha256 of the copy), for the event that vouches for it."""
        relative = f"{SNAPSHOT_DIR}/{runbook_id}.yaml"
        target = self.directory / relative
        if self.persist and target.exists():
            return relative, sha256_file(target)
        return self._store(relative, content, whole=True)

    def _store(self, relative: str, content: bytes, *, whole: bool = False) -> tuple[str, str]:
        """Write a file of the incident. ``whole``: written beside it, then renamed into place,
        so a process killed while writing it never leaves part of it under its name (a runbook
        copy found there is taken as it is by the next walker)."""
        digest = hashlib.sha256(content).hexdigest()
        if self.persist:  # private as the journal: it holds user prompts and key hashes
            target = self.directory / relative
            _private_folder(target.parent)
            written = target.with_name(f".{target.name}.part") if whole else target
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
            with os.fdopen(os.open(written, flags, 0o600), "wb") as handle:
                if stat.S_IMODE(os.fstat(handle.fileno()).st_mode) != 0o600:
                    os.fchmod(handle.fileno(), 0o600)  # a file that was there keeps no wider mode
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            if whole:
                os.replace(written, target)
            if self.upstream is not None:
                self.upstream.put_file(relative, content)
        return relative, digest

    def _write(self, line: bytes) -> None:
        if self._fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        size = os.fstat(self._fd).st_size
        if size != self._size:  # another writer: a line now would fork the chain
            raise JournalConflict(
                f"{self.path}: another process wrote to this journal while this one was walking "
                f"it ({size - self._size:+d} bytes); nothing was appended, and no sequence number "
                "was used twice"
            )
        try:
            written = os.write(self._fd, line)
            if written != len(line):  # a full disk takes part of the line, then nothing
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(self._fd)
        except OSError as exc:  # the part written is taken back: no line is left unfinished
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
            raise AiirError(
                f"{self.path}: cannot write the journal ({exc.strerror or exc}); this event was "
                f"not kept: make room, then aiir resume {self.directory.name}"
            ) from None
        self._size += written

    def _settle(self, home: Path) -> None:
        """A new incident's folder, its first line written, renamed into place (see
        :mod:`aiir.incident.opening`): the open files and the lock go with it."""
        try:
            os.rename(self.directory, home)  # refused if an incident is there already
        except OSError as exc:
            raise AiirError(
                f"{home}: cannot open the incident there ({exc.strerror}); it is kept in "
                f"{self.directory}"
            ) from None
        for folder in (home.parent, self.directory.parent):
            with contextlib.suppress(OSError):
                fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        with contextlib.suppress(OSError):
            self.directory.parent.rmdir()  # .opening, if no other incident is opening
        self.directory, self.home = home, None
        self._file = os.path.join(home, JOURNAL)
        if self.lock is not None:
            self.lock.path = home / self.lock.path.name

    def close(self) -> None:
        """Close the journal and let go of the incident's lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        if self.lock is not None:
            self.lock.release()
        if self.upstream is not None:
            self.upstream.close()


@dataclass(frozen=True)
class CutLine:
    """The bytes of a journal line its writer did not finish, set aside: where, and their hash."""

    file: str
    sha256: str
    bytes: int

    def note(self, operator: str) -> payloads.Note:
        """The note that says so, naming the set-aside file as its evidence (so that it is
        vouched for, as every file beside the journal is)."""
        evidence = EvidenceRef(self.file, self.sha256, self.bytes).data()
        return payloads.Note(text=f"aiir: {self.said()}", by=operator, evidence=evidence)

    def said(self) -> str:
        return f"{self.set_aside()}, and the incident goes on from the line before"

    def set_aside(self) -> str:
        """What was done, said on its own when nothing goes on (a resume refused after it)."""
        return (
            f"the journal's last line was cut short (its writer died while writing it): its "
            f"{self.bytes} bytes are set aside in {self.file} (sha256 {self.sha256[:16]}...)"
        )


def no_journal(directory: Path) -> str | None:
    """Why an incident's folder has no journal to read: ``""`` when it has one, None when the
    folder is no incident's (nothing of one is in it)."""
    journal = directory / JOURNAL
    if journal.is_file():
        return ""
    if journal.exists() or journal.is_symlink():
        return f"{journal}: not a file: the incident's journal was replaced"
    kept = (directory / EVIDENCE_DIR, directory / SNAPSHOT_DIR)
    if any(d.is_dir() and any(d.iterdir()) for d in kept):
        return (
            f"{journal}: missing, though the incident's evidence or runbook copy is there (the "
            "journal was deleted, or its walk stopped before writing its first line)"
        )
    return None


def _private_folder(folder: Path) -> None:
    """``folder`` made if missing, and made private (0700) if it is not: asked with a stat,
    since a mode set again is still an inode written, for every evidence file (bench.engine)."""
    try:
        found = os.stat(folder)
    except FileNotFoundError:
        found = None
    if found is None or not stat.S_ISDIR(found.st_mode):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # not a folder: this says so
        folder.chmod(0o700)
    elif stat.S_IMODE(found.st_mode) != 0o700:
        folder.chmod(0o700)


class _AppendLock:
    """:meth:`Journal.appending`: a class, not a generator, since every event takes it
    (bench.engine). Held already (a note reads and appends under one hold), or nothing to lock
    (a dry run, no directory yet): entered without locking."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.fd: int | None = None  # flocked by this hold

    def __enter__(self) -> None:
        journal = self.journal
        if journal._appending or not journal.persist:
            return
        if journal._lock_fd is None:  # opened once, kept until close: flocked for each append
            if not journal.directory.is_dir():
                return
            flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
            journal._lock_fd = os.open(journal.directory / APPENDING, flags, 0o600)
        fcntl.flock(journal._lock_fd, fcntl.LOCK_EX)
        journal._appending = True
        self.fd = journal._lock_fd

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            self.journal._appending = False
            fcntl.flock(self.fd, fcntl.LOCK_UN)


def _following(raw: bytes, head: Event | None) -> list[Event] | None:
    """The side events in ``raw`` (lines appended after ``head``), each intact and chained on
    from the one before; None when any line is not such an event."""
    prev, seq = (head.hash, head.seq) if head else (GENESIS, 0)
    found: list[Event] = []
    for line in _split(raw):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            return None
        if not line.endswith(b"\n") or shape_problem(record, prev) is not None:
            return None
        digest = record.pop("hash")
        event = _event(record, digest)
        intact = hashlib.sha256(_CANONICAL.encode(record).encode()).hexdigest() == digest
        chained = event.seq == seq + 1 and event.prev == prev
        if not (intact and chained) or event.type not in SIDE_EVENTS:
            return None
        prev, seq = digest, event.seq
        found.append(event)
    return found or None

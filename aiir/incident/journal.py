"""The incident journal: append-only JSON Lines, fsync'd per event, SHA-256 chained.

Each line is one event: ``seq``, ``ts`` (UTC), ``type``, ``operator``, ``step`` (the engine step it
belongs to, if any), ``data``, ``prev`` (the previous line's hash) and ``hash`` (SHA-256 over
``prev`` and the canonical JSON of the rest). Editing, removing, inserting or reordering a line
breaks the chain at that line; evidence files are named in the journal with their SHA-256, so a
changed file is detected too, and so are the runbook copies the incident walks (their SHA-256 is in
``incident.opened`` and ``call.entered``). Each line is written with one ``write`` on an
``O_APPEND`` descriptor and fsync'd, so an interruption never leaves half an event behind.

A chain alone cannot tell lines cut from its end, or lines forged onto it, from an incident that
simply stopped there. An *anchor* (``SEQ:HASH`` of the head, printed at the end of each walk and
carried by the Slack update) kept outside the journal settles that: ``verify`` checks every
anchor given, and names the lines no anchor covers.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, Protocol

from aiir.errors import AiirError, InputError
from aiir.incident.events import SNAPSHOT_DIR, EventType, file_refs, shape_problem
from aiir.redact import mask_data

if TYPE_CHECKING:
    from aiir.incident.lock import IncidentLock

GENESIS = "0" * 64
JOURNAL = "journal.jsonl"
EVIDENCE = "evidence"
APPENDING = "append.lock"  # held for one append by every writer: the walker and a note's
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


class JournalBroken(AiirError):
    """The journal's chain does not verify; nothing may be appended or replayed."""


class JournalConflict(AiirError):
    """Someone else wrote to the journal since this process read it: appending would fork it."""


HEAD_TRIES = 5  # appends tried while other machines' side events keep reaching the store first


class HeadMoved(JournalConflict):
    """A shared store's head moved past the one this event follows (a side event from another
    machine): the writer takes the new lines in and tries again."""


_ANCHOR = re.compile(r"(\d{1,12}):([0-9a-f]{16,64})\Z")


@dataclass(frozen=True)
class Anchor:
    """``SEQ:HASH`` of a journal's head, kept outside it; a hash prefix of 16+ digits will do."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str, where: str) -> Anchor:
        match = _ANCHOR.match(text.strip().lower())
        if not match or int(match[1]) < 1:
            shown = text.strip()[:100]
            raise InputError(
                f"{where} {shown!r}: not an anchor; expected SEQ:HASH as printed at the end of a "
                "walk (e.g. 42:3f9c...)"
            )
        return cls(int(match[1]), match[2])


class Event(NamedTuple):
    """One journal line (a named tuple: read by the hundred thousand, it is made cheaply)."""

    seq: int
    ts: str
    type: str
    operator: str
    step: int | None
    data: dict[str, Any]
    prev: str
    hash: str

    def body(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "type": self.type,
            "operator": self.operator,
            "step": self.step,
            "data": self.data,
            "prev": self.prev,
        }


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _encoder() -> Callable[[Any], str]:
    """``_CANONICAL.encode``, with the C encoder it makes for each value made once instead
    (bench.engine: every event is encoded). It is made without the check for circular data,
    which an event's body cannot hold: it is masked (copied) or parsed from JSON first."""
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)  # not in the type stubs
    if make is None:  # pragma: no cover - CPython has the C encoder
        return _CANONICAL.encode
    iterencode = make(
        None, _CANONICAL.default, encoder.encode_basestring, None, ":", ",", True, False, True
    )
    return lambda value: "".join(iterencode(value, 0))


_ENCODE = _encoder()


def canonical(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes an event's hash is taken over."""
    return _ENCODE(value).encode()


def chain_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


class Upstream(Protocol):
    """Where a journal's writes go first when the incident is kept in a shared store (see
    :class:`aiir.incident.replica.Replica`): a file before the event that vouches for it, an
    event before its local line (refused: :class:`JournalConflict`, and nothing is written)."""

    def put_file(self, relative: str, content: bytes) -> None: ...

    def append(self, event: Event, line: bytes) -> None: ...

    def written(self, event: Event, size: int) -> None: ...

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
    ) -> None:
        self.directory = directory
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

    @property
    def path(self) -> Path:
        return self.directory / JOURNAL

    @property
    def evidence_dir(self) -> Path:
        return self.directory / EVIDENCE

    def load(self, each: Callable[[Event], None] = lambda event: None) -> None:
        """Read an existing journal and check it (chain, evidence, runbook copies) before
        appending to it, in one pass that gives ``each`` every event and keeps none: only
        where each step's lines are, for :meth:`recorded`."""
        reading = Reading()
        for event in read_checked(self.path, reading, files=self.directory):
            if event.step is not None:
                self._steps.setdefault(event.step, []).append(reading.offset)
            each(event)
        problems = reading.all_problems
        if problems:
            raise JournalBroken(f"{self.path}: {problems[0]}; refusing to continue this incident")
        self.head, self._size = reading.head, reading.size
        self.last_step = max(self._steps, default=0)

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

    def append(self, type_: str, data: dict[str, Any], *, step: int | None = None) -> Event:
        """Write one event durably and return it: under the append lock, after taking in the
        side events (notes) another process appended, so the chain never forks."""
        with self.appending():
            self._take_in()
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
        with open(self.path, "rb") as handle:
            handle.seek(self._size)
            raw = handle.read()
        added = _following(raw, self.head)
        if added is None:
            return  # not notes, or not well chained: _write refuses, as it always has
        self.events.extend(added)
        self.foreign.extend(added)
        self.head = added[-1]
        self._size += len(raw)

    def _append(self, type_: str, data: dict[str, Any], step: int | None) -> Event:
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
        encoded = canonical(body)
        event = Event(**body, hash=hashlib.sha256(encoded).hexdigest())
        if self.persist:  # the hash joins the line last; readers do not depend on key order
            line = encoded[:-1] + b',"hash":"' + event.hash.encode() + b'"}\n'
            if self.upstream is not None:
                self.upstream.append(event, line)
            self._write(line)
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
        return self._store(relative, content)

    def _store(self, relative: str, content: bytes) -> tuple[str, str]:
        digest = hashlib.sha256(content).hexdigest()
        if self.persist:  # private as the journal: it holds user prompts and key hashes
            target = self.directory / relative
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            target.parent.chmod(0o700)
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
            with os.fdopen(os.open(target, flags, 0o600), "wb") as handle:
                os.fchmod(handle.fileno(), 0o600)  # a file that was there keeps no wider mode
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
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
        written = os.write(self._fd, line)
        if written != len(line):  # pragma: no cover - regular files take the whole line
            raise OSError(f"short write to {self.path}")
        os.fsync(self._fd)
        self._size += written

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


def anchor_of(events: Sequence[Event]) -> str:
    """``SEQ:HASH`` of the last event (``0:`` and the genesis hash for an empty journal)."""
    return f"{events[-1].seq}:{events[-1].hash}" if events else f"0:{GENESIS}"


def short_anchor(anchor: str) -> str:
    """``SEQ:`` and the hash's first 16 digits: short enough for a chat line or a page, still an
    anchor ``aiir verify --anchor`` takes."""
    seq, _, digest = anchor.partition(":")
    return f"{seq}:{digest[:16]}"


@dataclass
class Reading:
    """What one pass over a journal has found so far: its problems by line (shape, order,
    chain), the files its events vouch for that are missing or changed, its head and its
    length. Nothing else is kept: a reader folds the events as they go by."""

    problems: list[str] = field(default_factory=list)
    file_problems: list[str] = field(default_factory=list)
    head: Event | None = None
    offset: int = 0  # where the line of the event just given starts
    size: int = 0  # bytes read

    @property
    def all_problems(self) -> list[str]:
        """The line problems first, then the files' (the order ``verify`` names them in)."""
        empty = ["the journal has no events"] if self.head is None and not self.problems else []
        return self.problems + empty + self.file_problems

    @property
    def anchor(self) -> str:
        return anchor_of([self.head] if self.head is not None else [])


def read_checked(path: Path, reading: Reading, *, files: Path | None = None) -> Iterator[Event]:
    """A journal's events, one line at a time, each checked (shape, order, chain) before it is
    given; the problems go into ``reading``. With ``files`` (the incident's directory), every
    evidence file and runbook copy an event names is checked as well. Nothing is kept."""
    if not path.is_file():
        raise InputError(f"{path}: no journal here")
    return _checked_lines(_lines(path), reading, files)


def parse_events(raw: bytes) -> tuple[list[Event], list[str]]:
    """The events of a journal's bytes, checked line by line: shape, order and chain."""
    reading = Reading()
    events = list(_checked_lines(_split(raw), reading, None))
    return events, reading.all_problems


def read_events(path: Path) -> tuple[list[Event], list[str]]:
    """Parse and verify a journal: its events and every problem found, by line."""
    reading = Reading()
    events = list(read_checked(path, reading))
    return events, reading.all_problems


def _lines(path: Path) -> Iterator[bytes]:
    """Lines ending in ``\\n`` (only: the canonical JSON of an event never holds a raw one)."""
    with open(path, "rb", buffering=1 << 16) as handle:
        yield from handle


def _line_at(handle: BinaryIO, offset: int) -> bytes:
    handle.seek(offset)
    return handle.readline()


def _split(raw: bytes) -> Iterator[bytes]:
    """The lines of ``raw`` as :func:`_lines` reads them from a file."""
    start = 0
    while start < len(raw):
        end = raw.find(b"\n", start)
        end = len(raw) if end < 0 else end + 1
        yield raw[start:end]
        start = end


def _checked_lines(lines: Iterator[bytes], reading: Reading, files: Path | None) -> Iterator[Event]:
    """A line that is not an aiir event is left out (with its problem); the chain is followed
    through it by its own ``hash`` when it has one, so one bad line is one problem."""
    problems, sha256, encode = reading.problems, hashlib.sha256, _CANONICAL.encode
    prev, expected, offset = GENESIS, 1, 0
    for number, line in enumerate(lines, start=1):
        start, offset = offset, offset + len(line)
        record, odd = _parsed(line, number, problems, prev)
        if odd is not None:
            problems.append(f"line {number}: not {odd}")
            if isinstance(record, dict) and isinstance(record.get("hash"), str):
                prev = record["hash"]
            expected += 1
            continue
        digest = record.pop("hash")
        try:
            body = encode(record).encode()
        except ValueError:  # a lone surrogate: JSON can spell it, UTF-8 cannot
            problems.append(f"line {number}: not an aiir event (text that is not valid Unicode)")
            prev, expected = digest, expected + 1
            continue
        event = _event(record, digest)
        intact = sha256(body).hexdigest() == digest
        if not (intact and event.seq == expected and event.prev == prev) or (number == 1) != (
            event.type == _OPENED
        ):
            problems += _order_problems(number, event, expected, prev, intact)
        if files is not None and ("evidence" in event.data or "snapshot" in event.data):
            reading.file_problems += file_problems(files, (event,))
        prev, expected = digest, event.seq + 1
        reading.head, reading.offset, reading.size = event, start, offset
        yield event
    reading.size = offset


_OPENED = str(EventType.INCIDENT_OPENED)


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


def _event(record: dict[str, Any], digest: str) -> Event:
    """The event of a line whose shape was checked (built as its tuple: read by the hundred
    thousand, ``Event(**record)`` would cost a third of the check)."""
    fields = (record["seq"], record["ts"], record["type"], record["operator"], record["step"])
    return _new(Event, (*fields, record["data"], record["prev"], digest))


_new: Callable[[type[Event], tuple[Any, ...]], Event] = tuple.__new__
_DECODE = json.JSONDecoder().decode


def _parsed(line: bytes, number: int, problems: list[str], prev: str) -> tuple[Any, str | None]:
    """A line as JSON, and why it is not an aiir event (None when it is one)."""
    if not line.endswith(b"\n"):
        problems.append(f"line {number}: incomplete (no end of line): the write was cut short")
    try:  # as json.loads reads UTF-8 bytes, without its guess at the encoding
        record = _DECODE(line.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError) as exc:
        return None, f"a journal event ({type(exc).__name__})"
    odd = shape_problem(record, prev)
    return record, None if odd is None else f"an aiir event ({odd})"


def _order_problems(number: int, event: Event, expected: int, prev: str, intact: bool) -> list[str]:
    """What is wrong with a well-formed line's place in the journal."""
    problems = []
    if event.seq != expected:  # against the line before, so one removal is one problem
        problems.append(
            f"line {number}: sequence number {event.seq} where {expected} was expected "
            "(a line was removed, inserted or reordered)"
        )
    if not intact:
        problems.append(f"line {number}: content does not match its hash (the line was edited)")
    elif event.prev != prev:
        problems.append(
            f"line {number}: does not follow line {number - 1} in the hash chain "
            "(a line was removed, inserted or reordered)"
        )
    if (number == 1) != (event.type == _OPENED):
        problems.append(
            f"line {number}: {event.type} where "
            + ("incident.opened opens the journal" if number == 1 else "the incident is open")
        )
    return problems


def file_problems(directory: Path, events: Iterable[Event]) -> list[str]:
    """Every evidence file and runbook copy the events vouch for, missing or changed."""
    problems = []
    for event in events:
        for what, relative, digest in file_refs(event.data):
            target = directory / relative
            if not target.is_file():
                problems.append(f"{what} {relative}: missing (named on line {event.seq})")
            elif sha256_file(target) != digest:
                problems.append(
                    f"{what} {relative}: SHA-256 differs from line {event.seq} (changed)"
                )
    return problems


def anchor_problems(events: Sequence[Event], anchors: Iterable[Anchor]) -> list[str]:
    """Anchors that do not match, and the lines after the newest one (which it cannot vouch for)."""
    problems = []
    given = sorted(set(anchors), key=lambda a: a.seq)
    by_seq = {e.seq: e for e in events}
    head = events[-1].seq if events else 0
    for anchor in given:
        event = by_seq.get(anchor.seq)
        if event is None:
            problems.append(
                f"anchor {anchor}: the journal has no line {anchor.seq} (its last is line "
                f"{head}): lines were cut from its end"
            )
        elif not event.hash.startswith(anchor.hash):
            problems.append(
                f"anchor {anchor}: line {anchor.seq} has hash {event.hash[:16]}..., not the "
                f"anchored one: the journal was changed at or before line {anchor.seq}"
            )
    if given and head > given[-1].seq:
        first, last = given[-1].seq + 1, head
        lines = f"line {first}" if first == last else f"lines {first}-{last}"
        problems.append(
            f"{lines}: not covered by the newest anchor given ({given[-1]}): they may have been "
            "added after it; pass the newest anchor you have (each walk prints one at its end)"
        )
    return problems


def verify(directory: Path, anchors: Iterable[Anchor] = ()) -> list[str]:
    """Every problem with an incident's journal chain, evidence files, runbook copies and the
    anchors given; empty when intact."""
    return verify_reading(directory, anchors)[0]


def verify_reading(directory: Path, anchors: Iterable[Anchor] = ()) -> tuple[list[str], Reading]:
    """:func:`verify` in one pass over the journal, keeping only the hashes of the anchored
    lines: its problems, and the reading (its head, for the anchor to keep)."""
    given = set(anchors)
    wanted = {a.seq for a in given}
    anchored: dict[int, Event] = {}
    reading = Reading()
    for event in read_checked(directory / JOURNAL, reading, files=directory):
        if event.seq in wanted:
            anchored[event.seq] = event
    head = [reading.head] if reading.head is not None else []
    found = list(anchored.values()) + head
    return reading.all_problems + anchor_problems(found, given), reading

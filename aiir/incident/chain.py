"""A journal's lines and their chain: the event record, the canonical JSON that is hashed, and
reading a journal back, each line checked (its shape, its place in the chain, the files it names)
and anchors compared. :mod:`aiir.incident.journal` writes what this reads."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from aiir.errors import AiirError, InputError
from aiir.incident.checks import Check, utc_time
from aiir.incident.events import (
    EVIDENCE_DIR,
    FILE_KEYS,
    SNAPSHOT_DIR,
    EventType,
    file_refs,
    shape_problem,
    value_checks,
)

GENESIS = "0" * 64
JOURNAL = "journal.jsonl"
EVIDENCE = "evidence"
APPENDING = "append.lock"  # held for one append by every writer: the walker and a note's
# A reader that meets a last line with no end waits this long for the append in progress.
SETTLE = 5.0
# The longest line aiir writes and reads (an event is kilobytes: replies are excerpts, files are
# evidence). A longer one (a huge sparse file) is named, and nothing after it is read.
MAX_LINE = 64 * 1024 * 1024
_SETTLE_PAUSE = 0.005


class JournalBroken(AiirError):
    """The journal's chain does not verify; nothing may be appended or replayed."""


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
    lines: int = 0  # lines read
    last_start: int = 0  # where the last line starts
    unfinished: bool = False  # the last line has no end (its write was cut short)

    @property
    def all_problems(self) -> list[str]:
        """The line problems first, then the files' (the order ``verify`` names them in)."""
        empty = ["the journal has no events"] if self.head is None and not self.problems else []
        return self.problems + empty + self.file_problems

    @property
    def anchor(self) -> str:
        return anchor_of([self.head] if self.head is not None else [])


def read_checked(
    path: Path, reading: Reading, *, files: Path | None = None, settle: bool = True
) -> Iterator[Event]:
    """A journal's events, one line at a time, each checked (shape, order, chain) before it is
    given; the problems go into ``reading``. With ``files`` (the incident's directory), every
    evidence file and runbook copy an event names is checked as well. Nothing is kept.

    A last line with no end may be one being written now (a note, or the walker's next event,
    written while this reads): with ``settle``, the append in progress is waited for (its
    writer holds the append lock) and the rest of the line read, so a journal being written is
    never called damaged. A reader holding the append lock itself passes ``settle=False``."""
    if not path.is_file():
        raise InputError(f"{path}: no journal here")
    if files is not None and path.is_symlink():  # aiir writes the file itself, never a link
        reading.file_problems.append(
            f"{path.name}: a symbolic link, not the journal itself (a copy of the incident leaves "
            "it out, and it can be changed from elsewhere)"
        )
    elif files is not None and path.stat().st_nlink > 1:
        reading.file_problems.append(f"{path.name}: {HARD_LINK}")
    return _checked_lines(_lines(path, settle), reading, files)


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


class _Overlong(bytes):
    """The first :data:`MAX_LINE` bytes of a line longer than that: its reading stops there."""


def _lines(path: Path, settle: bool = True) -> Iterator[bytes]:
    """Lines ending in ``\\n`` (only: the canonical JSON of an event never holds a raw one),
    each read up to :data:`MAX_LINE` bytes; a longer one is given as :class:`_Overlong`."""
    with open(path, "rb", buffering=1 << 16) as handle:
        for read in iter(functools.partial(handle.readline, MAX_LINE), b""):
            line = read
            if not line.endswith(b"\n"):
                if settle and len(line) < MAX_LINE:
                    line += _rest_of_line(handle, path.parent / APPENDING, MAX_LINE - len(line))
                if len(line) >= MAX_LINE and handle.read(1):
                    line = _Overlong(line)
            yield line


def _rest_of_line(handle: BinaryIO, lock: Path, most: int) -> bytes:
    """The rest of a line being appended now: read once the append in progress is done (the
    append lock can be had), or after :data:`SETTLE` seconds; nothing when it was cut short."""
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # no writer has ever locked it (or it cannot be read): nothing to wait for
        return handle.readline(most)
    try:
        deadline = time.monotonic() + SETTLE
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(_SETTLE_PAUSE)
            except OSError:
                break
        return handle.readline(most)
    finally:
        os.close(fd)  # drops the shared lock, if it was had


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
        event = _as_written(line, prev, expected)
        if number == 1 and files is not None:
            problems += _opened_elsewhere(files, event or _parsed_quietly(line))
        if event is not None and (number == 1) == (event.type == _OPENED):
            if files is not None and not FILE_KEYS.isdisjoint(event.data):
                reading.file_problems += file_problems(files, (event,))
            prev, expected = event.hash, expected + 1
            reading.head, reading.offset, reading.size = event, start, offset
            yield event
            continue
        if type(line) is _Overlong:  # nothing after it is read: it may run on for gigabytes
            problems.append(
                f"line {number}: longer than {MAX_LINE // (1024 * 1024)} MiB, far more than an "
                "aiir event: not an event, and the journal is not read past it"
            )
            reading.size, reading.lines, reading.last_start = offset, number, start
            return
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
        if files is not None and not FILE_KEYS.isdisjoint(event.data):
            reading.file_problems += file_problems(files, (event,))
        prev, expected = digest, event.seq + 1
        reading.head, reading.offset, reading.size = event, start, offset
        yield event
    reading.size = offset
    if offset:
        reading.lines, reading.last_start = number, start
        reading.unfinished = not line.endswith(b"\n")


_OPENED = str(EventType.INCIDENT_OPENED)


def _opened_elsewhere(directory: Path, opened: Any) -> list[str]:
    """An incident is kept in the folder named by its id, which its first line holds: another
    id there is a folder renamed, or another incident's journal copied in (whole, it chains)."""
    data = opened.data if isinstance(opened, Event) else None
    if isinstance(opened, dict) and isinstance(opened.get("data"), dict):
        data = opened["data"]
    found = data.get("id") if isinstance(data, dict) else None
    if not isinstance(found, str) or found == directory.name:
        return []
    return [
        f"line 1: opens incident {found[:80]!r}, not {directory.name!r}, the folder it is in "
        "(the folder was renamed, or another incident's journal was copied in)"
    ]


def _parsed_quietly(line: bytes) -> Any:
    try:
        return _DECODE(line.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError):
        return None


def _as_written(line: bytes, prev: str, seq: int) -> Event | None:
    """The event of a line as aiir writes it, numbered ``seq`` and chained on from ``prev``,
    checked at the cost of its values (the keys and types of a shape seen before are not checked
    again); None for any other line, which the full check then reads and names."""
    try:  # a line not even shaped like an object of objects fails here, and goes the long way
        record = _DECODE(line.decode("utf-8", "surrogatepass"))
        data = record["data"]
        shape = (
            record["type"],
            *record,
            *map(type, record.values()),
            *data,
            *map(type, data.values()),
        )
        checks = _SHAPES.get(shape, _UNSEEN)
    except (ValueError, RecursionError, KeyError, TypeError, AttributeError):
        return None
    if checks is _UNSEEN:
        checks = _learn(shape, record)
    if (
        checks is None
        or record["prev"] != prev
        or record["seq"] != seq
        or not line.endswith(b"\n")
        or not utc_time(record["ts"])
    ):
        return None
    for key, check in checks:
        if check(data[key]) is not None:
            return None
    digest = record.pop("hash")
    try:
        body = _ENCODE(record).encode()
    except (ValueError, RecursionError):
        return None
    if hashlib.sha256(body).hexdigest() != digest:  # so the hash is 64 lowercase hex digits
        return None
    if line != b'%s,"hash":"%s"}\n' % (body[:-1], digest.encode()):
        return None  # not the bytes aiir writes (a key twice, spaces, CRLF): the long way names it
    return _event(record, digest)


Checks = tuple[tuple[str, Check], ...]
_UNSEEN: Checks = (("", shape_problem),)  # told apart by identity: not a shape's checks
# A line's shape (its type; its keys, then the type of each value; its data's keys, then theirs)
# -> value_checks of it. A journal aiir writes has a few dozen shapes; a forged one may have a
# shape a line, so only so many are kept, each of keys of 4,096 characters at most.
_SHAPES: dict[tuple[Any, ...], Checks | None] = {}
_SHAPES_KEPT = 512


def _learn(shape: tuple[Any, ...], record: dict[str, Any]) -> Checks | None:
    checks = value_checks(record)
    if len(_SHAPES) < _SHAPES_KEPT and sum(len(k) for k in shape if type(k) is str) <= 4096:
        _SHAPES[shape] = checks
    return checks


def _event(record: dict[str, Any], digest: str) -> Event:
    """The event of a line whose shape was checked (built as its tuple: read by the hundred
    thousand, ``Event(**record)`` would cost a third of the check)."""
    return _new(Event, (*_FIELDS(record), digest))


_new: Callable[[type[Event], tuple[Any, ...]], Event] = tuple.__new__
_FIELDS = itemgetter(*Event._fields[:-1])  # all but the hash, in the event's order
_DECODE = json.JSONDecoder().decode


def _parsed(line: bytes, number: int, problems: list[str], prev: str) -> tuple[Any, str | None]:
    """A line as JSON, and why it is not an aiir event (None when it is one)."""
    if not line.endswith(b"\n"):
        problems.append(f"line {number}: incomplete (no end of line): the write was cut short")
    try:  # as json.loads reads UTF-8 bytes, without its guess at the encoding
        text = line.decode("utf-8", "surrogatepass")
        record = _DECODE_ONCE(text)
    except _KeyTwice as exc:  # the chain is followed through it all the same: one problem
        twice = f"the key {exc.key[:40]!r} twice in one object: readers would disagree on its value"
        return _DECODE(text), f"a journal event ({twice})"
    except (ValueError, RecursionError) as exc:
        return None, f"a journal event ({type(exc).__name__})"
    odd = shape_problem(record, prev)
    if odd is None and line.strip() != line.removesuffix(b"\n"):
        problems.append(  # JSON allows it, its hash does not cover it: aiir never writes it
            f"line {number}: white space or a carriage return around its event (the line was "
            "edited)"
        )
    return record, None if odd is None else f"an aiir event ({odd})"


class _KeyTwice(ValueError):
    """A JSON object naming one key twice: one reader takes the first value, another the last,
    and the hash covers only the one Python keeps."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _KeyTwice(key)
            seen.add(key)
    return record


_DECODE_ONCE = json.JSONDecoder(object_pairs_hook=_once).decode


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
            odd = _not_kept(directory, relative)
            if odd is not None:
                problems.append(f"{what} {relative}: {odd} (named on line {event.seq})")
            elif sha256_file(target) != digest:
                problems.append(
                    f"{what} {relative}: SHA-256 differs from line {event.seq} (changed)"
                )
    return problems


def _not_kept(directory: Path, relative: str) -> str | None:
    """Why ``relative`` is not a file kept in ``directory`` as aiir keeps one (a regular file,
    reached through folders of the incident, no symbolic link on the way: a link leaves the file
    out of a copy of the incident, and lets it be changed from elsewhere), or None."""
    parts, target, mode, links = relative.split("/"), directory, 0, 1
    for depth, part in enumerate(parts, start=1):
        target = target / part
        try:
            mode, links = (found := os.lstat(target)).st_mode, found.st_nlink
        except FileNotFoundError:
            return "missing"
        except OSError as exc:
            return f"unreadable ({exc.strerror})"
        if stat.S_ISLNK(mode) and depth == len(parts):
            return "a symbolic link, not the file itself"
        if stat.S_ISLNK(mode):
            return f"in {'/'.join(parts[:depth])}/, a symbolic link, not a folder of the incident"
        if depth < len(parts) and not stat.S_ISDIR(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "a file")
            return f"in {'/'.join(parts[:depth])}/, not a folder ({kind})"
    if not stat.S_ISREG(mode):
        return f"not a file ({_KINDS.get(stat.S_IFMT(mode), 'not a regular file')})"
    if links > 1:
        return HARD_LINK
    return None if os.access(target, os.R_OK) else "unreadable (no permission to read it)"


# aiir makes each file it keeps with one name: a second one lets a write through it change the file
HARD_LINK = "a hard link, one file under two names (a write through the other name changes it)"
_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFREG: "a file", stat.S_IFIFO: "a named pipe"}
_KINDS |= {stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device"}


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
    named: set[str] = set()
    reading = Reading()
    for event in read_checked(directory / JOURNAL, reading, files=directory):
        if event.seq in wanted:
            anchored[event.seq] = event
        if not FILE_KEYS.isdisjoint(event.data):
            named.update(relative for _, relative, _ in file_refs(event.data))
    head = [reading.head] if reading.head is not None else []
    found = list(anchored.values()) + head
    added = [] if reading.problems or reading.head is None else unnamed_files(directory, named)
    return reading.all_problems + added + anchor_problems(found, given), reading


def unnamed_files(directory: Path, named: set[str]) -> list[str]:
    """The files in the incident's ``evidence/`` and ``runbooks/`` that no line vouches for:
    added, or written by a walk stopped before the line naming it (a resumed walk names it)."""
    problems = []
    for folder in (EVIDENCE_DIR, SNAPSHOT_DIR):
        for root, dirnames, filenames in os.walk(directory / folder):  # links are not followed
            dirnames.sort()
            for name in sorted(filenames) + [d for d in dirnames if os.path.islink(Path(root, d))]:
                relative = Path(root, name).relative_to(directory).as_posix()
                if relative not in named:
                    problems.append(
                        f"{relative}: named by no line of the journal (added; or written by a "
                        "walk stopped before the line that names it: aiir resume writes that line)"
                    )
    return problems

"""The incident journal: append-only JSON Lines, fsync'd per event, SHA-256 chained.

Each line is one event: ``seq``, ``ts`` (UTC), ``type``, ``operator``, ``step`` (the engine step it
belongs to, if any), ``data``, ``prev`` (the previous line's hash) and ``hash`` (SHA-256 over
``prev`` and the canonical JSON of the rest). Editing, removing, inserting or reordering a line
breaks the chain at that line; evidence files are named in the journal with their SHA-256, so a
changed file is detected too. Each line is written with one ``write`` on an ``O_APPEND``
descriptor and fsync'd, so an interruption never leaves half an event behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiir.errors import AiirError, InputError

GENESIS = "0" * 64
JOURNAL = "journal.jsonl"
EVIDENCE = "evidence"


class JournalBroken(AiirError):
    """The journal's chain does not verify; nothing may be appended or replayed."""


@dataclass(frozen=True)
class Event:
    """One journal line."""

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


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


class Journal:
    """Appends events for one incident; ``scrub`` masks secrets before anything is written."""

    def __init__(
        self,
        directory: Path,
        operator: str,
        now: Callable[[], str],
        scrub: Callable[[str], str],
        *,
        persist: bool = True,
    ) -> None:
        self.directory = directory
        self.operator = operator
        self.now = now
        self.scrub = scrub
        self.persist = persist
        self.events: list[Event] = []
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return self.directory / JOURNAL

    @property
    def evidence_dir(self) -> Path:
        return self.directory / EVIDENCE

    def load(self) -> None:
        """Read an existing journal and check its chain before appending to it."""
        events, problems = read_events(self.path)
        if problems:
            raise JournalBroken(f"{self.path}: {problems[0]}; refusing to continue this incident")
        self.events = events

    def append(self, type_: str, data: dict[str, Any], *, step: int | None = None) -> Event:
        """Write one event durably and return it."""
        prev = self.events[-1].hash if self.events else GENESIS
        clean = json.loads(self.scrub(json.dumps(data, ensure_ascii=False, default=str)))
        body = {
            "seq": len(self.events) + 1,
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
            self._write(encoded[:-1] + b',"hash":"' + event.hash.encode() + b'"}\n')
        self.events.append(event)
        return event

    def store_evidence(self, name: str, content: bytes) -> tuple[str, str]:
        """Write an evidence file beside the journal; returns (relative path, sha256)."""
        digest = hashlib.sha256(content).hexdigest()
        relative = f"{EVIDENCE}/{name}"
        if self.persist:
            self.evidence_dir.mkdir(parents=True, exist_ok=True)
            target = self.directory / relative
            with open(target, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        return relative, digest

    def _write(self, line: bytes) -> None:
        if self._fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        written = os.write(self._fd, line)
        if written != len(line):  # pragma: no cover - regular files take the whole line
            raise OSError(f"short write to {self.path}")
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as handle:
        yield from enumerate(handle, start=1)


def read_events(path: Path) -> tuple[list[Event], list[str]]:
    """Parse and verify a journal: its events and every problem found, by line."""
    if not path.is_file():
        raise InputError(f"{path}: no journal here")
    events: list[Event] = []
    problems: list[str] = []
    prev = GENESIS
    for number, raw in _lines(path):
        if not raw.endswith(b"\n"):
            problems.append(f"line {number}: incomplete (no end of line): the write was cut short")
        try:
            record = json.loads(raw)
            event = Event(**record)
        except (ValueError, TypeError) as exc:
            problems.append(f"line {number}: not a journal event ({type(exc).__name__})")
            continue
        expected = events[-1].seq + 1 if events else 1
        if event.seq != expected:  # against the line before, so one removal is one problem
            problems.append(
                f"line {number}: sequence number {event.seq} where {expected} was expected "
                "(a line was removed, inserted or reordered)"
            )
        if chain_hash(event.body()) != event.hash:
            problems.append(f"line {number}: content does not match its hash (the line was edited)")
        elif event.prev != prev:
            problems.append(
                f"line {number}: does not follow line {number - 1} in the hash chain "
                "(a line was removed, inserted or reordered)"
            )
        prev = event.hash
        events.append(event)
    if not events and not problems:
        problems.append("the journal has no events")
    return events, problems


def verify(directory: Path) -> list[str]:
    """Every problem with an incident's journal chain and evidence files; empty when intact."""
    events, problems = read_events(directory / JOURNAL)
    for event in events:
        for item in _evidence_refs(event):
            target = directory / item["file"]
            if not target.is_file():
                problems.append(f"evidence {item['file']}: missing (named on line {event.seq})")
            elif sha256_file(target) != item["sha256"]:
                problems.append(
                    f"evidence {item['file']}: SHA-256 differs from line {event.seq} (changed)"
                )
    return problems


def _evidence_refs(event: Event) -> list[dict[str, Any]]:
    evidence = event.data.get("evidence")
    if isinstance(evidence, dict) and "file" in evidence and "sha256" in evidence:
        return [evidence]
    return []

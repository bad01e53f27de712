"""The fast path of reading a journal (``chain._as_written``: a line as aiir writes it, the keys
and types of a shape seen before not checked again) against the full check of every line: over
a real incident's journal and thousands of mutations of it (bytes changed, values of another
type, keys added or dropped, lines written non-canonically, with their hash recomputed or not,
the chain after them mended or not), both readings find the same events and the same problems."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiir.incident import chain
from aiir.incident.checks import types_taken
from aiir.incident.events import EventType, _data_checks
from aiir.incident.journal import GENESIS, JOURNAL, Event, Reading, canonical
from aiir.incident.state import Incident
from tests.incidents import (
    walked_containment,
)

CASES = 1500


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Incident:
    """One complete incident (answers, levers, captures and their evidence files)."""
    return walked_containment(tmp_path_factory.mktemp("fast-path"))


@pytest.fixture
def directory(finished: Incident, tmp_path: Path) -> Path:
    copy = tmp_path / finished.id
    shutil.copytree(finished.directory, copy)
    return copy


def reading_of(lines: list[bytes], files: Path, *, fast: bool) -> tuple[Any, ...]:
    """Everything one pass finds: the events given, the problems, the head, the sizes."""
    reading = Reading()
    original = chain._as_written
    if not fast:
        chain._as_written = lambda line, prev, seq: None
    try:
        events = list(chain._checked_lines(iter(lines), reading, files))
    finally:
        chain._as_written = original
    return events, reading.problems, reading.file_problems, reading.head, reading.size


def same_either_way(lines: list[bytes], files: Path) -> None:
    slow = reading_of(lines, files, fast=False)
    chain._SHAPES.clear()
    assert reading_of(lines, files, fast=True) == slow  # shapes learned on the way
    assert reading_of(lines, files, fast=True) == slow  # shapes known


def test_every_line_aiir_writes_takes_the_fast_path(directory: Path) -> None:
    lines = (directory / JOURNAL).read_bytes().splitlines(keepends=True)
    prev, given = GENESIS, []
    for seq, line in enumerate(lines, start=1):
        event = chain._as_written(line, prev, seq)
        assert isinstance(event, Event), line
        given.append(event)
        prev = event.hash
    assert reading_of(lines, directory, fast=False)[0] == given
    same_either_way(lines, directory)


def test_the_fast_path_refuses_what_the_full_check_refuses(directory: Path) -> None:
    lines = (directory / JOURNAL).read_bytes().splitlines(keepends=True)
    (directory / "evidence" / "planted").write_bytes(b"not vouched for")
    for mutated in mutations(lines, random.Random(20261204)):
        same_either_way(mutated, directory)


def mutations(lines: list[bytes], rng: random.Random) -> Iterator[list[bytes]]:
    """Journals each one mutation away from ``lines``, at a line chosen at random."""
    for case in range(CASES):
        at = rng.randrange(len(lines))
        changed = list(lines)
        if case % 4 == 0:
            changed[at] = byte_mutation(changed[at], rng)
        else:
            record = json.loads(changed[at])
            record.pop("hash")
            value_mutation(record, rng)
            how = rng.choice(["stale hash", "canonical", "own bytes", "mended chain"])
            changed[at] = written(record, how, rng, stale=json.loads(lines[at])["hash"])
            if how == "mended chain":
                changed[at:] = mended(changed[at:], rng)
        yield changed
    yield [*lines[:-1], lines[-1].rstrip(b"\n")]
    yield [lines[1], lines[0], *lines[2:]]
    yield lines[1:]
    yield renumbered(lines[1:])  # no opening line first
    yield renumbered([*lines[:3], lines[0], *lines[3:]])  # a second one


def byte_mutation(line: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(line))
    choice = rng.randrange(5)
    if choice == 0:
        return line[:at] + bytes([rng.randrange(256)]) + line[at + 1 :]
    if choice == 1:
        return line[:at] + line[at + 1 :]
    if choice == 2:
        return line[:at] + line[at : at + 1] * 2 + line[at + 1 :]
    if choice == 3:
        return line[:at] + rng.choice([b" ", b"\\u0041", b"\xed\xa0\x80", b"\\ud800"]) + line[at:]
    return rng.choice([b"[]\n", b'"x"\n', b"null\n", b"{}\n", b"{\n", b"\n"])


ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.5,
    2**70,
    "",
    "x",
    "0" * 64,
    "A" * 64,
    [],
    ["x"],
    [1],
    {},
    {"saved": 1},
    {"saved": {}},
    {"file": "evidence/planted", "sha256": "0" * 64},
    {"file": "../outside", "sha256": "0" * 64},
    {"file": "evidence/x", "sha256": "0" * 64, "bytes": True},
    "evidence/planted",
    "runbooks/../x",
    "2026-13-01T00:00:00Z",
    "2026-11-27T03:15:02Z",
    "2026-11-27T03:15:02.123+00:00",
    "2026-11-27T03:15:02ZZ",
    "2026-11-27T03:15:02",
    "\ud800",
    "incident.opened",
    "note",
    "forged.type",
]


def value_mutation(record: dict[str, Any], rng: random.Random) -> None:
    """One key of the record, of its data or deeper, given an odd value, dropped or added."""
    holder: Any = record
    while isinstance(holder, dict) and holder and rng.random() < 0.6:
        inner = [v for v in holder.values() if isinstance(v, dict) and v]
        if not inner:
            break
        holder = rng.choice(inner)
    if not isinstance(holder, dict) or not holder:
        holder = record
    key = rng.choice(sorted(holder))
    choice = rng.randrange(6)
    if choice == 0:
        del holder[key]
    elif choice == 1:
        holder[rng.choice(["hash", "extra", "saved", "evidence", key + "_"])] = rng.choice(
            ODD_VALUES
        )
    elif choice == 2 and key in ("seq", "step"):
        holder[key] = holder[key] + rng.choice([-1, 1]) if holder[key] is not None else 0
    else:
        holder[key] = rng.choice(ODD_VALUES)


def written(record: dict[str, Any], how: str, rng: random.Random, stale: str) -> bytes:
    """The line of ``record``: its hash the old one, recomputed over the canonical JSON, or over
    a non-canonical spelling's own bytes (spaces, unsorted keys, escapes), as a forger might."""
    try:
        body = canonical(record)
    except ValueError:  # a lone surrogate
        body = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
        how = "stale hash"
    if how == "stale hash":
        return body[:-1] + b',"hash":"' + stale.encode() + b'"}\n'
    if how == "own bytes":
        body = rng.choice(
            [
                json.dumps(record).encode(),
                json.dumps(record, sort_keys=True, separators=(",", ":")).encode(),
                json.dumps(record, sort_keys=True, separators=(",", ": ")).encode(),
                json.dumps(dict(reversed(record.items())), separators=(",", ":")).encode(),
                body.replace(b":", b": ", 1),
                body.replace(b'"seq":', b'"seq":-0', 1) if b'"seq":0,' in body else body,
                body.replace(b"a", b"\\u0061", 1),
            ]
        )
    return body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'


def mended(lines: list[bytes], rng: random.Random) -> list[bytes]:
    """``lines`` chained on again from the first (which keeps its own hash): a forger's rewrite
    of the rest of the journal, each line's ``prev`` the hash of the one before."""
    out = [lines[0]]
    try:
        prev = json.loads(lines[0])["hash"]
    except (ValueError, KeyError, TypeError):
        return lines
    for line in lines[1:]:
        record = json.loads(line)
        record.pop("hash")
        record["prev"] = prev
        body = canonical(record)
        prev = hashlib.sha256(body).hexdigest()
        out.append(body[:-1] + b',"hash":"' + prev.encode() + b'"}\n')
    if rng.random() < 0.5:
        out = out[:1] + out[2:]  # and a line left out of the middle
    return out


def renumbered(lines: list[bytes]) -> list[bytes]:
    """``lines`` numbered and chained again from the first, each well formed and intact."""
    prev, out = GENESIS, []
    for seq, line in enumerate(lines, start=1):
        record = json.loads(line)
        record.pop("hash")
        record["seq"], record["prev"] = seq, prev
        body = canonical(record)
        prev = hashlib.sha256(body).hexdigest()
        out.append(body[:-1] + b',"hash":"' + prev.encode() + b'"}\n')
    return out


def test_a_check_said_to_take_types_passes_exactly_the_json_values_of_those_types() -> None:
    samples: list[Any] = [None, True, False, 0, 7, -1.5, "", "x", [], ["x"], {}, {"k": 1}]
    checks = {c for t in EventType for c in _data_checks(t)[1].values()}
    by_type = [c for c in checks if types_taken(c) is not None]
    assert by_type  # the plain kinds: a string, a flag, a number, an object...
    for check in by_type:
        taken = types_taken(check)
        assert taken is not None
        for value in samples:
            assert (check(value) is None) == (type(value) in taken), (check, value)
